package conformance_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/conformance"
)

// BenchmarkCheckResponse validates one recorded response against the whole
// spec and every runner check (target: under 100µs).
func BenchmarkCheckResponse(b *testing.B) {
	sp := mustSpec(b)
	op, _ := sp.Operation("refresh_token")
	cases := map[string]conformance.CheckInput{
		"200": {Status: 200, Header: okHeader(), Body: []byte(strings.Replace(validBody, "%s", jwtFor(b, 900), 1)), Expected: []int{200}},
		"401": {Status: 401, Header: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"status":401,"message":"The refresh token has expired.","code":"refresh_token_expired"}`), Expected: []int{401}},
	}
	for _, name := range []string{"200", "401"} {
		in := cases[name]
		in.Method, in.Path, in.TokenCookies, in.SentTokens = "POST", "/auth/refresh", []string{"refresh_token"}, []string{"rt_sent_123456"}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if fs := conformance.CheckResponse(sp, op, in); len(fs) != 0 {
					b.Fatalf("findings: %v", fs)
				}
			}
		})
	}
}

// BenchmarkSuite runs the whole default suite (shipped scenarios,
// negative cases, flows) against the defect-free test implementation on
// loopback. Each iteration uses fresh tokens.
func BenchmarkSuite(b *testing.B) {
	cfg, ti := testConfig(b)
	cfg.OversizedBody = 0 // the default 2 MiB, as a real run sends
	cfg.Strict = false
	i := 0
	for b.Loop() {
		i++
		main, race := fmt.Sprintf("rt_bench_main_%06d", i), fmt.Sprintf("rt_bench_race_%06d", i)
		ti.seed(main, race)
		cfg.Vars["REFRESH_TOKEN"], cfg.Vars[conformance.VarRace] = main, race
		rep, err := conformance.Run(context.Background(), cfg)
		if err != nil || !rep.OK() {
			b.Fatalf("run: %v\n%s", err, findingsText(rep))
		}
	}
}
