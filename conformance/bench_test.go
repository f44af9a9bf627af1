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
		// Every live token is single-use: a fresh pool each run.
		var pool []string
		for _, v := range []string{"REFRESH_TOKEN", conformance.VarRace, conformance.VarQuery, conformance.VarMethod, conformance.VarBody, "pool"} {
			tok := fmt.Sprintf("rt_bench_%s_%06d", strings.ToLower(v), i)
			ti.seed(tok)
			if v == "pool" {
				pool = append(pool, tok)
				continue
			}
			cfg.Vars[v] = tok
		}
		cfg.Vars[conformance.VarPool] = strings.Join(pool, ",")
		rep, err := conformance.Run(context.Background(), cfg)
		if err != nil || !rep.OK() {
			b.Fatalf("run: %v\n%s", err, findingsText(rep))
		}
	}
}
