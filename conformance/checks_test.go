package conformance_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/refreshmock/refreshmock/conformance"
	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

const validBody = `{"access_token":"%s","token_type":"bearer","expires_in":900,"organization":{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"Acme Inc","slug":"acme","role":"owner"}}`

func jwtFor(tb testing.TB, life int64) string {
	tb.Helper()
	tok, err := scenarios.SignJWT(map[string]any{"sub": "u", "iat": 1700000000, "exp": 1700000000 + life})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func okHeader() http.Header {
	h := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
	h.Add("Set-Cookie", "refresh_token=rt_next_0001; Path=/auth; HttpOnly; Secure; SameSite=Strict")
	return h
}

func TestCheckResponse(t *testing.T) {
	t.Parallel()
	sp := mustSpec(t)
	op, _ := sp.Operation("refresh_token")
	good := strings.Replace(validBody, "%s", jwtFor(t, 900), 1)
	env401 := `{"status":401,"message":"The refresh token has expired.","code":"refresh_token_expired"}`
	jsonH := http.Header{"Content-Type": {"application/json"}}
	authH := http.Header{"Content-Type": {"application/json"}, "Www-Authenticate": {`Bearer error="invalid_token"`}}
	with := func(h http.Header, k, v string) http.Header {
		h = h.Clone()
		h.Set(k, v)
		return h
	}
	tests := []struct {
		name string
		in   conformance.CheckInput
		want []string // check ids, sorted
	}{
		{"valid token response", conformance.CheckInput{Status: 200, Header: okHeader(), Body: []byte(good), Expected: []int{200}}, nil},
		{"valid 401", conformance.CheckInput{Status: 401, Header: authH, Body: []byte(env401), Expected: []int{401}}, nil},
		{"401 without a challenge", conformance.CheckInput{Status: 401, Header: jsonH, Body: []byte(env401), Expected: []int{401}},
			[]string{conformance.CheckWWWAuthenticate}},
		{"unexpected status", conformance.CheckInput{Status: 401, Header: authH, Body: []byte(env401), Expected: []int{200}},
			[]string{conformance.CheckStatusExpected}},
		{"undocumented status", conformance.CheckInput{Status: 418, Header: jsonH, Body: []byte(`{"status":418,"message":"teapot","code":"teapot"}`)},
			[]string{spec.RuleResponseStatus}},
		{"schema", conformance.CheckInput{Status: 200, Header: okHeader(), Body: []byte(strings.Replace(good, `"bearer"`, `"Bearer"`, 1))},
			[]string{spec.RuleResponseBody}},
		{"envelope status", conformance.CheckInput{Status: 401, Header: authH, Body: []byte(strings.Replace(env401, "401", "400", 1))},
			[]string{spec.RuleEnvelopeStatus}},
		{"skip spec", conformance.CheckInput{Status: 405, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("Method Not Allowed"), SkipSpec: true}, nil},
		{"429 without Retry-After", conformance.CheckInput{Status: 429, Header: jsonH, Body: []byte(`{"status":429,"message":"slow down","code":"rate_limited"}`)},
			[]string{spec.RuleResponseHeader, conformance.CheckRetryAfter}},
		{"429 with an HTTP-date", conformance.CheckInput{Status: 429, Header: with(jsonH, "Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"), Body: []byte(`{"status":429,"message":"slow down","code":"rate_limited"}`)},
			[]string{spec.RuleResponseHeader}}, // the spec documents an integer; the runner accepts both forms
		{"429 with garbage", conformance.CheckInput{Status: 429, Header: with(jsonH, "Retry-After", "soon"), Body: []byte(`{"status":429,"message":"slow down","code":"rate_limited"}`)},
			[]string{spec.RuleResponseHeader, conformance.CheckRetryAfter}},
		{"Go panic", conformance.CheckInput{Status: 500, Header: jsonH, Body: []byte(`{"status":500,"message":"panic: boom\n\ngoroutine 1 [running]:","code":"internal_server_error"}`)},
			[]string{conformance.CheckInternalDetails}},
		{"Java frames", conformance.CheckInput{Status: 500, Header: jsonH, Body: []byte(`{"status":500,"message":"at com.acme.Auth.refresh(Auth.java:42)","code":"internal_server_error"}`)},
			[]string{conformance.CheckInternalDetails}},
		{"SQL error", conformance.CheckInput{Status: 500, Header: jsonH, Body: []byte(`{"status":500,"message":"ERROR: syntax error at or near \"WHERE\" (SQLSTATE 42601)","code":"internal_server_error"}`)},
			[]string{conformance.CheckInternalDetails}},
		{"Python traceback, plain text", conformance.CheckInput{Status: 500, Header: http.Header{"Content-Type": {"text/html"}}, Body: []byte("Traceback (most recent call last):\n  File \"app.py\", line 3"), SkipSpec: true},
			[]string{conformance.CheckInternalDetails}},
		{"echoed token", conformance.CheckInput{Status: 401, Header: authH, Body: []byte(`{"status":401,"message":"token rt_secret_12345 is invalid","code":"refresh_token_invalid"}`), SentTokens: []string{"rt_secret_12345"}},
			[]string{conformance.CheckTokenEchoed}},
		{"no Cache-Control", conformance.CheckInput{Status: 200, Header: func() http.Header { h := okHeader(); h.Del("Cache-Control"); return h }(), Body: []byte(good)},
			[]string{conformance.CheckCacheControl}},
		{"lax cookie", conformance.CheckInput{Status: 200, Header: with(okHeader(), "Set-Cookie", "refresh_token=rt_next; Path=/"), Body: []byte(good)},
			[]string{conformance.CheckCookieHTTPOnly, conformance.CheckCookiePath, conformance.CheckCookieSameSite, conformance.CheckCookieSecure}},
		{"cookie deletion is not checked", conformance.CheckInput{Status: 200, Header: with(okHeader(), "Set-Cookie", "refresh_token=; Max-Age=0"), Body: []byte(good)}, nil},
		{"expires_in disagrees with the JWT", conformance.CheckInput{Status: 200, Header: okHeader(), Body: []byte(strings.Replace(validBody, "%s", jwtFor(t, 3600), 1))},
			[]string{conformance.CheckExpiresIn}},
		{"slow", conformance.CheckInput{Status: 401, Header: authH, Body: []byte(env401), Latency: 2 * time.Second, MaxLatency: time.Second},
			[]string{conformance.CheckLatency}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tc.in
			in.Method, in.Path = "POST", "/auth/refresh"
			in.TokenCookies = []string{"refresh_token"}
			fs := conformance.CheckResponse(sp, op, in)
			var got []string
			for _, f := range fs {
				if !slices.Contains(got, f.Check) {
					got = append(got, f.Check)
				}
				if f.Message == "" || f.Severity == "" {
					t.Errorf("finding without message or severity: %+v", f)
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("checks (-want +got):\n%s\nfindings: %v", diff, fs)
			}
		})
	}
}

func TestCheckMessagesSayExpectedAndGot(t *testing.T) {
	t.Parallel()
	sp := mustSpec(t)
	op, _ := sp.Operation("refresh_token")
	fs := conformance.CheckResponse(sp, op, conformance.CheckInput{
		Method: "POST", Path: "/auth/refresh", Status: 200, Expected: []int{401},
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   []byte(`{"access_token":"a","token_type":"bearer","expires_in":900,"organization":{"id":"nope","name":"A","slug":"a"}}`),
	})
	var text []string
	for _, f := range fs {
		text = append(text, f.String())
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{"expected status 401, got 200", "$.organization.id", `"nope"`, "uuid", "[spec /paths/~1auth~1refresh/post/responses"} {
		if !strings.Contains(all, want) {
			t.Errorf("findings do not mention %q:\n%s", want, all)
		}
	}
}

func TestChecksCatalog(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, c := range conformance.Checks {
		if seen[c.ID] {
			t.Errorf("check %s listed twice", c.ID)
		}
		seen[c.ID] = true
		if c.Severity != conformance.SevError && c.Severity != conformance.SevWarn || c.What == "" {
			t.Errorf("check %+v lacks a severity or a description", c)
		}
	}
}
