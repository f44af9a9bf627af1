package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/conformance"
	"github.com/refreshmock/refreshmock/mockserver"
	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

// explainedWarnings are the warnings the real mock may leave, with why;
// the README's conformance section explains them.
var explainedWarnings = map[string]string{
	// The self-conformance target is plain HTTP on loopback: serve sets
	// Secure only with TLS or --cookie-secure.
	conformance.CheckCookieSecure: "Secure cookie attribute over plain HTTP on loopback",
}

// startMock serves the real mock with the shipped scenarios on a loopback
// listener, as `refreshmock serve` does by default.
func startMock(tb testing.TB) string {
	tb.Helper()
	sp, err := spec.Default()
	if err != nil {
		tb.Fatal(err)
	}
	set, diags := scenarios.Load(sp, scenarios.Embedded())
	if set == nil {
		tb.Fatalf("load shipped scenarios: %v", diags)
	}
	srv, err := mockserver.New(mockserver.Config{Spec: sp, Scenarios: set, SeedToken: mockserver.DefaultSeedToken})
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	return ts.URL
}

// conformArgs runs every shipped scenario with scenarios/mock.vars, and
// the shipped setup file mints a fresh token for each case that refreshes
// (the README's self-conformance command).
func conformArgs(tb testing.TB, base string, extra ...string) []string {
	tb.Helper()
	args := []string{"conform", "--target", base, "--vars", filepath.Join("..", "..", "scenarios", "mock.vars"),
		"--setup", filepath.Join("..", "..", "scenarios", "mock-setup.yaml"), "--color", "never"}
	return append(args, extra...)
}

// TestSelfConformance runs the runner against the real mock: every case
// passes, and the only warnings left are the explained ones.
func TestSelfConformance(t *testing.T) {
	t.Parallel()
	base := startMock(t)
	jsonFile := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), conformArgs(t, base, "--report", "json", jsonFile), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("conform against the mock exits %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep conformance.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Cases) == 0 || rep.Cases[0].ID != "setup" || rep.Cases[0].Outcome != conformance.Pass {
		t.Errorf("the report does not start with a passing setup case: %+v", rep.Cases[:1])
	}
	for _, c := range rep.Cases {
		if c.Outcome == conformance.Skip {
			t.Errorf("case %s skipped (%s); mock.vars and the issued tokens should supply every variable", c.ID, c.SkipReason)
		}
		for _, f := range c.Findings {
			if _, ok := explainedWarnings[f.Check]; f.Severity != conformance.SevWarn || !ok {
				t.Errorf("%s: unexplained finding: %s", c.ID, f.String())
			}
		}
	}
	if rep.Summary.Observed != rep.Summary.Documented {
		var missing []string
		for _, row := range rep.Coverage {
			if !row.Observed {
				missing = append(missing, row.Why)
			}
		}
		t.Errorf("coverage %d of %d documented statuses; not observed: %s", rep.Summary.Observed, rep.Summary.Documented, strings.Join(missing, "; "))
	}
	var shipped []string
	for _, sc := range mustShippedScenarios(t) {
		if sc.Conform != nil {
			shipped = append(shipped, "scenario/"+sc.Name)
		}
	}
	for _, id := range shipped {
		if !slices.ContainsFunc(rep.Cases, func(c conformance.CaseResult) bool { return c.ID == id }) {
			t.Errorf("shipped scenario case %s did not run", id)
		}
	}
	t.Logf("self-conformance: %+v", rep.Summary)
}

// TestSelfConformanceTwice runs the README's self-conformance command twice
// against one running mock with no reset in between: the setup file mints
// fresh tokens each time, so the second run passes like the first.
func TestSelfConformanceTwice(t *testing.T) {
	t.Parallel()
	base := startMock(t)
	for i := range 2 {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), conformArgs(t, base), &stdout, &stderr); code != exitOK {
			t.Fatalf("run %d against the same mock exits %d, want 0\nstdout:\n%s\nstderr:\n%s", i+1, code, stdout.String(), stderr.String())
		}
		if strings.Contains(stdout.String(), "SKIP") {
			t.Errorf("run %d skipped cases:\n%s", i+1, stdout.String())
		}
	}
}

// TestSelfConformanceRace runs the race flow against the real mock
// several times: of parallel refreshes with one token, at most one may
// succeed (a check-then-rotate race in the mock's store once let several
// win, about one run in 30).
func TestSelfConformanceRace(t *testing.T) {
	t.Parallel()
	base := startMock(t)
	var stdout, stderr bytes.Buffer
	for range 5 {
		if code := run(context.Background(), conformArgs(t, base, "--only", "flow/race"), &stdout, &stderr); code != exitOK {
			t.Fatalf("flow/race against the mock exits %d\n%s", code, stdout.String())
		}
	}
}

func mustShippedScenarios(tb testing.TB) []*scenarios.Scenario {
	tb.Helper()
	sp, err := spec.Default()
	if err != nil {
		tb.Fatal(err)
	}
	set, diags := scenarios.Load(sp, scenarios.Embedded())
	if set == nil {
		tb.Fatal(diags)
	}
	return set.All()
}

// BenchmarkSelfConformance runs the whole default suite (the setup, every
// shipped scenario, the negative cases and the flows) against the real
// mock on loopback, through the conform subcommand (target: under 1 s).
func BenchmarkSelfConformance(b *testing.B) {
	base := startMock(b)
	for b.Loop() {
		args := conformArgs(b, base)
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
			b.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
		}
	}
}
