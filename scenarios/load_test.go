package scenarios_test

import (
	"path/filepath"
	"testing"

	"github.com/refreshmock/refreshmock/internal/golden"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

// mustSpec loads the embedded Refresh Token document.
func mustSpec(tb testing.TB) *spec.Spec {
	tb.Helper()
	sp, err := spec.Default()
	if err != nil {
		tb.Fatalf("spec.Default() error = %v", err)
	}
	return sp
}

// mustEmbedded loads the shipped scenarios and fails on any diagnostic.
func mustEmbedded(tb testing.TB) *scenarios.Set {
	tb.Helper()
	set, diags := scenarios.Load(mustSpec(tb), scenarios.Embedded())
	if set == nil || len(diags) > 0 {
		tb.Fatalf("Load(Embedded()) diagnostics:\n%v", diags)
	}
	return set
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(tb testing.TB, name, got string) {
	tb.Helper()
	golden.Check(tb, filepath.Join("testdata", name), got)
}

func TestEmbeddedLoadsWithoutDiagnostics(t *testing.T) {
	t.Parallel()
	set := mustEmbedded(t)
	if got, want := len(set.Files()), 3; got != want {
		t.Errorf("files = %d (%v), want %d", got, set.Files(), want)
	}
	if set.Default("refresh_token") == nil {
		t.Errorf("refresh_token has no default scenario")
	}
	for _, name := range set.Names() {
		if _, ok := set.Get(name); !ok {
			t.Errorf("Get(%q) not found though Names lists it", name)
		}
	}
}

func TestEveryDocumentedStatusHasAShippedScenario(t *testing.T) {
	t.Parallel()
	set := mustEmbedded(t)
	op, _ := set.Spec().Operation("refresh_token")
	scripted := map[int][]string{}
	for _, sc := range set.ForOperation("refresh_token") {
		scripted[sc.Response.Status] = append(scripted[sc.Response.Status], sc.Name)
	}
	if got, want := len(op.Statuses()), 12; got != want {
		t.Errorf("documented statuses = %d, want %d", got, want)
	}
	for _, st := range op.Statuses() {
		if len(scripted[st]) == 0 {
			t.Errorf("documented status %d has no shipped scenario", st)
		}
	}
}

func TestShippedRefreshSpecificScenarios(t *testing.T) {
	t.Parallel()
	set := mustEmbedded(t)
	tests := []struct {
		name   string
		status int
		code   string
	}{
		{"refresh-success", 200, ""},
		{"refresh-missing-token", 401, "refresh_token_missing"},
		{"refresh-expired-token", 401, "refresh_token_expired"},
		{"refresh-reused-token", 401, "refresh_token_reused"},
		{"malformed-json", 400, "malformed_json"},
		{"wrong-type-in-body", 422, "validation_error"},
		{"user-revoked", 403, "user_revoked"},
		{"organization-not-found", 404, "organization_not_found"},
		{"token-already-used", 409, "token_already_used"},
		{"rate-limited", 429, "rate_limited"},
		{"upgrade-required", 426, "upgrade_required"},
		{"bad-gateway", 502, "bad_gateway"},
		{"gateway-timeout", 504, "gateway_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc, ok := set.Get(tc.name)
			if !ok {
				t.Fatalf("scenario %q is not shipped", tc.name)
			}
			if got := sc.Response.Status; got != tc.status {
				t.Errorf("status = %d, want %d", got, tc.status)
			}
			out, err := sc.Render(scenarios.SampleData())
			if err != nil {
				t.Fatalf("Render() error = %v", err)
			}
			if tc.code != "" {
				if got := gjsonString(out.Body, "code"); got != tc.code {
					t.Errorf("code = %q, want %q", got, tc.code)
				}
			}
		})
	}
	rl, _ := set.Get("rate-limited")
	if got := rl.Response.Headers["Retry-After"]; got == "" {
		t.Errorf("rate-limited has no Retry-After header")
	}
}

func TestCoverage(t *testing.T) {
	t.Parallel()
	sp := mustSpec(t)
	set := mustEmbedded(t)
	cov := set.Coverage()
	if got, want := len(cov.Operations), 1; got != want {
		t.Fatalf("operations = %d, want %d", got, want)
	}
	oc := cov.Operations[0]
	byStatus := map[int]scenarios.StatusCoverage{}
	for _, st := range oc.Statuses {
		byStatus[st.Status] = st
	}
	if got := len(cov.Unscripted()); got != 0 {
		t.Errorf("Unscripted() = %v, want none", cov.Unscripted())
	}
	if ws := cov.Warnings(sp.Name()); len(ws) != 0 {
		t.Errorf("Warnings() = %v, want none", ws)
	}
	if diff := cmp.Diff([]string{"refresh-success"}, byStatus[200].Scenarios); diff != "" {
		t.Errorf("200 scenarios (-want +got):\n%s", diff)
	}
	// refresh-success's second step provokes a 401 by reusing a token.
	if !contains(byStatus[401].Conform, "refresh-success") {
		t.Errorf("401 conform = %v, want it to list refresh-success", byStatus[401].Conform)
	}
	// refresh-reused-token has no conform section.
	if contains(byStatus[401].Conform, "refresh-reused-token") {
		t.Errorf("401 conform = %v, must not list refresh-reused-token (no conform section)", byStatus[401].Conform)
	}

	// One file alone: every other documented status is a warning.
	src := scenarios.Source{Name: "one.yaml", Data: []byte(`name: only-429
operation: refresh_token
response:
  status: 429
  headers: {Retry-After: "1"}
  body: {status: 429, message: Slow down., code: rate_limited}
conform:
  steps:
    - request: {cookies: {refresh_token: rt_test_429_rate_limited}}
      expect: {status: [429, 401]}
`)}
	one, diags := scenarios.Load(sp, []scenarios.Source{src})
	if one == nil {
		t.Fatalf("Load() diagnostics:\n%v", diags)
	}
	cov = one.Coverage()
	if diff := cmp.Diff(map[string][]int{"refresh_token": {200, 400, 401, 403, 404, 409, 422, 426, 500, 502, 504}}, cov.Unscripted()); diff != "" {
		t.Errorf("Unscripted() (-want +got):\n%s", diff)
	}
	ws := cov.Warnings("spec.yaml")
	if got, want := len(ws), 11; got != want {
		t.Fatalf("Warnings() = %d, want %d", got, want)
	}
	for _, w := range ws {
		if w.Severity != scenarios.SevWarning || w.Rule != scenarios.RuleStatusUnscripted || w.Pos.File != "spec.yaml" || w.Pos.Line == 0 {
			t.Errorf("warning %+v: want severity warning, rule %s, a line in spec.yaml", w, scenarios.RuleStatusUnscripted)
		}
	}
	for _, st := range cov.Operations[0].Statuses {
		switch st.Status {
		case 429:
			if diff := cmp.Diff([]string{"only-429"}, st.Conform); diff != "" {
				t.Errorf("429 conform (-want +got):\n%s", diff)
			}
		case 401:
			if diff := cmp.Diff([]string{"only-429"}, st.Conform); diff != "" {
				t.Errorf("401 conform (-want +got):\n%s", diff)
			}
			if st.Scripted() {
				t.Errorf("401 is scripted by %v, want nothing", st.Scenarios)
			}
		}
	}
}

func TestCoverageOfUndocumentedStatus(t *testing.T) {
	t.Parallel()
	sp := mustSpec(t)
	src := scenarios.Source{Name: "teapot.yaml", Data: []byte(`name: teapot
operation: refresh_token
response:
  status: 418
  allow_undocumented_status: true
`)}
	set, diags := scenarios.Load(sp, []scenarios.Source{src})
	if set == nil {
		t.Fatalf("Load() diagnostics:\n%v", diags)
	}
	statuses := set.Coverage().Operations[0].Statuses
	last := statuses[len(statuses)-1]
	if last.Status != 418 || last.Documented || !contains(last.Scenarios, "teapot") {
		t.Errorf("last status = %+v, want undocumented 418 scripted by teapot, after the documented ones", last)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func gjsonString(body []byte, path string) string { return gjson.GetBytes(body, path).String() }
