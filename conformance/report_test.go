package conformance_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/internal/golden"

	"github.com/refreshmock/refreshmock/conformance"
)

// goldenRun runs a fixed configuration one case at a time against the
// test implementation with a few defects, and returns the text output
// (progress lines and the report) and the report, with timings zeroed and
// the target's port replaced, so that the output is stable.
func goldenRun(t *testing.T) (string, *conformance.Report, string) {
	t.Helper()
	cfg, _ := testConfig(t, defEnvelopeCode, defNoCacheControl, defSchemaBadUUID, defFamilyKept)
	cfg.Concurrency = 1
	cfg.Skip = []string{"flow/race"} // which parallel request wins is not stable
	var text bytes.Buffer
	cfg.Progress = func(done, total int, c conformance.CaseResult) {
		zeroCase(&c)
		text.WriteString(conformance.ProgressLine(done, total, c, conformance.TextOptions{}) + "\n")
	}
	rep := mustRun(t, cfg)
	rep.Duration = 0
	for i := range rep.Cases {
		zeroCase(&rep.Cases[i])
	}
	if err := conformance.WriteText(&text, rep, conformance.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	return text.String(), rep, cfg.Target
}

func zeroCase(c *conformance.CaseResult) {
	c.Duration = 0
	for i := range c.Exchanges {
		c.Exchanges[i].Latency = 0
	}
}

func checkGolden(t *testing.T, name, got, target string) {
	t.Helper()
	got = strings.ReplaceAll(got, target, "http://127.0.0.1:PORT")
	golden.Check(t, filepath.Join("testdata", name), got)
}

func TestGoldenReports(t *testing.T) {
	t.Parallel()
	text, rep, target := goldenRun(t)
	checkGolden(t, "report.txt", text, target)
	var js, junit bytes.Buffer
	if err := conformance.WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.json", js.String(), target)
	if err := conformance.WriteJUnit(&junit, rep); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.junit.xml", junit.String(), target)
}

// TestRedaction fails if any secret appears in any report or log line:
// variable values, configured header and cookie values, and every token
// the implementation issued (rotated refresh tokens, JWT access tokens),
// including a token an error body echoes.
func TestRedaction(t *testing.T) {
	t.Parallel()
	cfg, ti := testConfig(t, defEchoToken, defNoCacheControl, defReuseAccepted, defFamilyKept)
	const apiKey, session = "s3cr3t-api-key-value", "session-cookie-secret-42"
	cfg.Header = http.Header{"Authorization": {"Bearer " + apiKey}, "X-Client-Version": {"1.2.3"}}
	cfg.Cookies = []*http.Cookie{{Name: "session", Value: session}}
	var logs, progress bytes.Buffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Progress = func(done, total int, c conformance.CaseResult) {
		progress.WriteString(conformance.ProgressLine(done, total, c, conformance.TextOptions{}) + "\n")
	}
	rep, err := conformance.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var text, verbose, js, junit bytes.Buffer
	for _, w := range []error{
		conformance.WriteText(&text, rep, conformance.TextOptions{}),
		conformance.WriteText(&verbose, rep, conformance.TextOptions{Verbose: true, Color: true}),
		conformance.WriteJSON(&js, rep),
		conformance.WriteJUnit(&junit, rep),
	} {
		if w != nil {
			t.Fatal(w)
		}
	}
	secrets := []string{apiKey, session}
	for _, v := range cfg.Vars {
		secrets = append(secrets, v)
	}
	secrets = append(secrets, ti.Issued()...)
	if len(ti.Issued()) < 4 {
		t.Fatalf("the implementation issued %d tokens; the test needs some to look for", len(ti.Issued()))
	}
	outputs := map[string]string{"text": text.String(), "verbose text": verbose.String(), "json": js.String(),
		"junit": junit.String(), "logs": logs.String(), "progress": progress.String()}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("the %s report leaks secret %q", name, s)
			}
		}
	}
	// Fingerprints keep "the same token twice" visible.
	if fp := conformance.Fingerprint(tokMain); !strings.Contains(js.String(), fp) && !strings.Contains(js.String(), "${REFRESH_TOKEN}") {
		t.Errorf("the JSON report shows neither %s nor ${REFRESH_TOKEN} for the main token", fp)
	}
	if !strings.Contains(js.String(), "token-echoed") {
		t.Errorf("the echo defect was not reported; the test would not prove the echoed token is redacted")
	}
}
