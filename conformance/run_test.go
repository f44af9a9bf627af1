package conformance_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/conformance"
	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

func mustSpec(tb testing.TB) *spec.Spec {
	tb.Helper()
	sp, err := spec.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return sp
}

func mustScenarios(tb testing.TB, sp *spec.Spec) *scenarios.Set {
	tb.Helper()
	set, diags := scenarios.Load(sp, scenarios.Embedded())
	if set == nil {
		tb.Fatalf("load shipped scenarios: %v", diags)
	}
	return set
}

// Live tokens seeded into each test implementation.
const (
	tokMain   = "rt_testimpl_main_token_0100"
	tokRace   = "rt_testimpl_race_token_0200"
	tokQuery  = "rt_testimpl_query_token_0300"
	tokMethod = "rt_testimpl_method_token_0400"
	tokBody   = "rt_testimpl_body_token_0600"
)

// testConfig runs the shipped scenarios against a fresh test
// implementation with the given defects.
func testConfig(tb testing.TB, defects ...defect) (conformance.Config, *testImpl) {
	tb.Helper()
	srv, ti := newTestImpl(tb, defects...)
	ti.seed(tokMain, tokRace, tokQuery, tokMethod, tokBody, tokNoOrg)
	sp := mustSpec(tb)
	return conformance.Config{
		Target:    srv.URL,
		Spec:      sp,
		Scenarios: mustScenarios(tb, sp),
		Vars: map[string]string{
			"REFRESH_TOKEN":              tokMain,
			"EXPIRED_REFRESH_TOKEN":      tokExpired,
			"RATE_LIMITED_REFRESH_TOKEN": tokRateLimit,
			"SERVER_ERROR_REFRESH_TOKEN": tokServerErr,
			conformance.VarRace:          tokRace,
			conformance.VarQuery:         tokQuery,
			conformance.VarMethod:        tokMethod,
			conformance.VarBody:          tokBody,
			conformance.VarPool:          tokNoOrg,
		},
		Strict:        true,
		OversizedBody: 128 << 10,
		Concurrency:   4,
	}, ti
}

func mustRun(tb testing.TB, cfg conformance.Config) *conformance.Report {
	tb.Helper()
	rep, err := conformance.Run(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Run: %v", err)
	}
	return rep
}

func checksOf(rep *conformance.Report) []string {
	var out []string
	for _, c := range rep.Cases {
		for _, f := range c.Findings {
			if !slices.Contains(out, f.Check) {
				out = append(out, f.Check)
			}
		}
	}
	slices.Sort(out)
	return out
}

func findingsText(rep *conformance.Report) string {
	var b strings.Builder
	for _, c := range rep.Cases {
		for _, f := range c.Findings {
			b.WriteString(c.ID + ": " + f.String() + "\n")
		}
	}
	return b.String()
}

func TestDefectFreePasses(t *testing.T) {
	t.Parallel()
	cfg, _ := testConfig(t)
	rep := mustRun(t, cfg)
	if !rep.OK() || rep.Summary.Errors+rep.Summary.Warnings != 0 {
		t.Fatalf("the defect-free implementation fails (summary %+v):\n%s", rep.Summary, findingsText(rep))
	}
	if rep.Summary.Passed == 0 || rep.Summary.Failed != 0 {
		t.Errorf("summary = %+v, want passes and no failure", rep.Summary)
	}
}
