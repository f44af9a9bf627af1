package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/internal/refimpl"
)

// counting wraps a handler and counts the requests it sees.
func counting(h http.Handler) (http.Handler, *atomic.Int64) {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	}), &n
}

func TestConformOptions(t *testing.T) {
	t.Parallel()
	h, requests := counting(refimpl.NewAlpha())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badSetup := write("bad-setup.yaml", "steps:\n  - request: {method: FETCH}\n    expect: {status: 2000}\n    repeat: -1\n    bogus: 1\n")
	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string
	}{
		{"timeout zero", []string{"--timeout", "0s"}, exitUsage, "--timeout 0s: give a positive duration"},
		{"deadline negative", []string{"--deadline", "-1s"}, exitUsage, "--deadline -1s"},
		{"timeout over deadline", []string{"--timeout", "10s", "--deadline", "1s"}, exitUsage, "longer than --deadline"},
		{"concurrency zero", []string{"--concurrency", "0"}, exitUsage, "--concurrency 0: give 1 to 256"},
		{"concurrency huge", []string{"--concurrency", "100000"}, exitUsage, "--concurrency 100000"},
		{"race one", []string{"--race-requests", "1"}, exitUsage, "--race-requests 1"},
		{"skip matches nothing", []string{"--skip", "flow/racee"}, exitUsage, `--skip "flow/racee" matches no case`},
		{"report path unwritable", []string{"--report", "json", filepath.Join(dir, "no", "such", "dir", "r.json")}, exitUsage, "checked before the run"},
		{"two reports on stdout", []string{"--report", "json", "-", "--report", "junit", "-"}, exitUsage, "only one report can go to stdout"},
		{"bad setup", []string{"--setup", badSetup}, exitUsage, "bad-setup.yaml:2:"},
		{"missing setup", []string{"--setup", filepath.Join(dir, "none.yaml")}, exitUsage, "--setup"},
		{"no builtin, no scenarios", []string{"--no-builtin-scenarios"}, exitUsage, "leaves no scenario"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := requests.Load()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"conform", "--target", srv.URL}, tc.args...), &stdout, &stderr)
			if code != tc.want || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr.String(), tc.want, tc.wantErr)
			}
			if n := requests.Load() - before; n != 0 {
				t.Errorf("%d requests reached the target; a usage error must stop the run before the first", n)
			}
		})
	}
	t.Run("setup errors name every problem", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		run(context.Background(), []string{"conform", "--target", srv.URL, "--setup", badSetup}, &stdout, &stderr)
		for _, want := range []string{"steps[0].request.method", "steps[0].expect.status[0]", "steps[0].repeat", "bogus"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("setup diagnostics do not mention %s:\n%s", want, stderr.String())
			}
		}
	})
}

// TestConformJSONToStdout: --report json - writes nothing but the JSON
// document to stdout; the text report and progress go to stderr.
func TestConformJSONToStdout(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(refimpl.NewBeta())
	t.Cleanup(srv.Close)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"conform", "--target", srv.URL, "--only", "negative", "--report", "json", "-"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var rep map[string]any
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout.String())
	}
	if dec.More() {
		t.Errorf("stdout holds more than the JSON document")
	}
	if !strings.Contains(stderr.String(), "negative/no-token") {
		t.Errorf("the text report did not go to stderr:\n%s", stderr.String())
	}
}

// TestConformDeadline: past --deadline the run stops, exits 2 and still
// writes its reports.
func TestConformDeadline(t *testing.T) {
	t.Parallel()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
		}
		envelope401(w, r)
	}))
	t.Cleanup(slow.Close)
	report := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"conform", "--target", slow.URL, "--only", "negative", "--concurrency", "1",
		"--timeout", "1s", "--deadline", "1s", "--report", "json", report}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "--deadline of 1s passed") {
		t.Errorf("exit %d, stderr %q; want 2 naming the deadline", code, stderr.String())
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the run took %s past a 1s deadline", el)
	}
	data, err := os.ReadFile(report)
	if err != nil || !json.Valid(data) || !bytes.Contains(data, []byte("interrupted")) {
		t.Errorf("partial report: %v, %d bytes, want valid JSON naming the interrupted cases", err, len(data))
	}
}

// TestConformUserScenarios: --scenarios adds to the shipped set (a step
// may repeat, e.g. a burst that ends in 429), --no-builtin-scenarios
// keeps only the user's.
func TestConformUserScenarios(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%6 == 0 {
			w.Header().Set("Retry-After", "30")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			_, _ = w.Write([]byte(`{"status":429,"code":"slow_down","message":"Too many attempts."}`))
			return
		}
		envelope401(w, r)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	sc := `name: burst-rate-limited
operation: refresh_token
response:
  status: 429
  headers: {Retry-After: "30"}
  body: {status: 429, code: rate_limited, message: Too many refresh attempts.}
conform:
  steps:
    - name: the 6th request in a burst gets 429 with Retry-After
      request: {cookies: {refresh_token: rt_conformance_burst}}
      repeat: 6
      expect: {status: 429}
`
	if err := os.WriteFile(filepath.Join(dir, "burst.yaml"), []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		noBuiltin   bool
		wantShipped bool
	}{{false, true}, {true, false}} {
		args := []string{"conform", "--list", "--scenarios", dir}
		if tc.noBuiltin {
			args = append(args, "--no-builtin-scenarios")
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
			t.Fatalf("--list: exit %d: %s", code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "scenario/burst-rate-limited") || strings.Contains(stdout.String(), "scenario/refresh-success") != tc.wantShipped {
			t.Errorf("no-builtin=%v: cases\n%s", tc.noBuiltin, stdout.String())
		}
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"conform", "--target", srv.URL, "--scenarios", dir, "--only", "scenario/burst-rate-limited", "--color", "never"}, &stdout, &stderr)
	if code != exitOK || !strings.Contains(stdout.String(), "1 passed, 0 failed") || !strings.Contains(stdout.String(), "6 requests") || !strings.Contains(stdout.String(), "429  Rate limited             observed") {
		t.Errorf("burst: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}
