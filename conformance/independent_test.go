package conformance_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/conformance"
	"github.com/refreshmock/refreshmock/internal/refimpl"
	"github.com/refreshmock/refreshmock/spec"
)

// independentConfig is the default suite (shipped scenarios, embedded
// spec, no --strict) against an implementation, with a pool of live tokens
// the documented way: five of a user with an organization and one of a
// user without.
func independentConfig(tb testing.TB, impl *refimpl.Server) conformance.Config {
	tb.Helper()
	srv := httptest.NewServer(impl)
	tb.Cleanup(srv.Close)
	var pool []string
	for range 5 {
		pool = append(pool, impl.Mint(refimpl.UserWithOrg))
	}
	pool = append(pool, impl.Mint(refimpl.UserNoOrg))
	sp := mustSpec(tb)
	return conformance.Config{Target: srv.URL, Spec: sp, Scenarios: mustScenarios(tb, sp),
		Vars: map[string]string{conformance.VarPool: strings.Join(pool, ",")}}
}

// TestIndependentImplementations: two implementations written from the
// spec alone, with their own codes and free choices, pass the default
// suite; each of their defective variants fails it with the check that
// names the defect.
func TestIndependentImplementations(t *testing.T) {
	t.Parallel()
	impls := map[string]func(...refimpl.Defect) *refimpl.Server{"alpha": refimpl.NewAlpha, "beta": refimpl.NewBeta}
	for name, newImpl := range impls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rep, err := conformance.Run(context.Background(), independentConfig(t, newImpl()))
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Summary.Errors > 0 {
				t.Fatalf("correct implementation %s fails (summary %+v):\n%s", name, rep.Summary, findingsText(rep))
			}
			for _, c := range rep.Cases {
				if c.Kind != conformance.KindScenario && c.Outcome == conformance.Skip {
					t.Errorf("%s: case %s skipped (%s) although the pool had tokens for it", name, c.ID, c.SkipReason)
				}
			}
			var pools int
			for _, c := range rep.Cases {
				if strings.HasPrefix(c.ID, "pool/") {
					pools++
				}
			}
			if pools != 1 {
				t.Errorf("%s: %d pool/N cases, want 1 (six tokens, five drawn by the flows and the rotation scenario)", name, pools)
			}
			// A case with a drawn token says which item of the pool its
			// ${REFRESH_TOKEN} was, so that its curl can be reproduced.
			for _, c := range rep.Cases {
				if c.ID != "flow/race" {
					continue
				}
				if !slices.ContainsFunc(c.Notes, func(n string) bool {
					return strings.HasPrefix(n, conformance.VarRace+" is item ") && strings.Contains(n, "sha256:") && strings.Contains(n, "cut -d, -f")
				}) {
					t.Errorf("%s: flow/race notes %q do not say which pool item %s was", name, c.Notes, conformance.VarRace)
				}
			}
			t.Logf("%s: %+v", name, rep.Summary)
		})
	}
	defects := []struct {
		defect refimpl.Defect
		check  string
	}{
		{refimpl.BodyTokenIgnored, conformance.CheckBodyTokenIgnored},
		{refimpl.NullRejected, conformance.CheckValidBodyRejected},
		{refimpl.InvalidIs401, conformance.CheckInvalidBodyStatus},
		{refimpl.ReuseAccepted, conformance.CheckRotationReuse},
		{refimpl.QueryAccepted, conformance.CheckQueryTokenAccepted},
		{refimpl.AnyMethod, conformance.CheckUndocumentedMethodOK},
		{refimpl.NoAllow, conformance.CheckAllowMissing},
		{refimpl.CodeUnstable, conformance.CheckCodeStable},
		{refimpl.NoOrgBreaks, spec.RuleResponseBody},
		{refimpl.Race, conformance.CheckRaceMultipleSuccess},
		{refimpl.WrongTypeIs500, conformance.CheckNegativeNotRejected},
		{refimpl.EnvelopeStatus, spec.RuleEnvelopeStatus},
	}
	for name, newImpl := range impls {
		for _, d := range defects {
			t.Run(name+"/"+string(d.defect), func(t *testing.T) {
				t.Parallel()
				rep, err := conformance.Run(context.Background(), independentConfig(t, newImpl(d.defect)))
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK() {
					t.Errorf("%s with defect %s passes (exit 0); want exit 1", name, d.defect)
				}
				if got := checksOf(rep); !slices.Contains(got, d.check) {
					t.Errorf("%s with defect %s: checks = %v, want %s among them\n%s", name, d.defect, got, d.check, findingsText(rep))
				}
			})
		}
	}
}

// TestSpecGroundedCatalog: a code outside x-error-codes is a warning with
// the embedded spec (the catalogue is the mock's), an error with the
// user's own --spec carrying x-error-codes.
func TestSpecGroundedCatalog(t *testing.T) {
	t.Parallel()
	for _, user := range []bool{false, true} {
		cfg := independentConfig(t, refimpl.NewAlpha())
		cfg.UserSpec = user
		cfg.Only = []string{"negative/no-token"}
		rep, err := conformance.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var sev conformance.Severity
		for _, c := range rep.Cases {
			for _, f := range c.Findings {
				if f.Check == spec.RuleEnvelopeCode {
					sev = f.Severity
				}
			}
		}
		want := conformance.SevWarn
		if user {
			want = conformance.SevError
		}
		if sev != want || rep.OK() == user {
			t.Errorf("UserSpec=%v: envelope-code-in-catalog severity %q, OK %v; want %q, OK %v", user, sev, rep.OK(), want, !user)
		}
	}
}

// TestNoSilentPasses: flows without their token are skipped and named,
// never passed; a token that is not live fails flow-precondition; an
// empty variable counts as unset.
func TestNoSilentPasses(t *testing.T) {
	t.Parallel()
	impl := refimpl.NewAlpha()
	srv := httptest.NewServer(impl)
	t.Cleanup(srv.Close)
	used := impl.Mint(refimpl.UserWithOrg)
	sp := mustSpec(t)
	// Use the token up first.
	warm := conformance.Config{Target: srv.URL, Spec: sp, Only: []string{"pool"}, Vars: map[string]string{conformance.VarPool: used}}
	if rep, err := conformance.Run(context.Background(), warm); err != nil || !rep.OK() {
		t.Fatalf("using the token up: %v", err)
	}
	tests := []struct {
		name    string
		vars    map[string]string
		outcome conformance.Outcome
		check   string
		skip    string
	}{
		{"race, unset", nil, conformance.Skip, "", "needs RACE_REFRESH_TOKEN"},
		{"race, empty", map[string]string{conformance.VarRace: " "}, conformance.Skip, "", "set but empty"},
		{"race, used up", map[string]string{conformance.VarRace: used}, conformance.Fail, conformance.CheckFlowPrecondition, ""},
		{"race, mistyped", map[string]string{conformance.VarRace: "rt_typo"}, conformance.Fail, conformance.CheckFlowPrecondition, ""},
		{"query, unset", nil, conformance.Skip, "", "needs QUERY_REFRESH_TOKEN"},
		{"query, used up", map[string]string{conformance.VarQuery: used}, conformance.Fail, conformance.CheckFlowPrecondition, ""},
		{"method, used up", map[string]string{conformance.VarMethod: used}, conformance.Fail, conformance.CheckFlowPrecondition, ""},
		{"body, used up", map[string]string{conformance.VarBody: used}, conformance.Fail, conformance.CheckFlowPrecondition, ""},
	}
	ids := map[string]string{"race": "flow/race", "query": "flow/query-token", "method": "flow/undocumented-method", "body": "flow/body-token"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := ids[strings.TrimSuffix(strings.Fields(tc.name)[0], ",")]
			cfg := conformance.Config{Target: srv.URL, Spec: sp, Only: []string{id}, Vars: tc.vars}
			rep, err := conformance.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			c := rep.Cases[0]
			if c.Outcome != tc.outcome {
				t.Fatalf("%s: outcome %s, want %s\n%s", id, c.Outcome, tc.outcome, findingsText(rep))
			}
			if tc.check != "" && !slices.Contains(checksOf(rep), tc.check) {
				t.Errorf("%s: checks %v, want %s", id, checksOf(rep), tc.check)
			}
			if tc.skip != "" && !strings.Contains(c.SkipReason, tc.skip) {
				t.Errorf("%s: skip reason %q, want it to say %q", id, c.SkipReason, tc.skip)
			}
			if tc.outcome == conformance.Skip && rep.OK() != true {
				t.Errorf("%s: a skipped case failed the run", id)
			}
		})
	}
}
