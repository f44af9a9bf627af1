package mockserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
)

// coreYAML adds scenarios the shipped set lacks: a template that fails for
// one request, a delay and a fault.
const coreYAML = `
name: core-boom
operation: refresh_token
match: {headers: {X-Boom: {equals: "1"}}}
priority: 100
response:
  status: 200
  body_template: '{"access_token": "x{{ if eq (.Header "X-Boom") "1" }}{{ add .Now 1 }}{{ end }}", "token_type": "bearer", "expires_in": 1, "organization": null}'
---
name: core-slow
operation: refresh_token
response: {status: 504, delay: 5ms, body: {status: 504, message: slow, code: gateway_timeout}}
---
name: core-cut
operation: refresh_token
response: {status: 502, fault: truncated_body, body: {status: 502, message: cut, code: bad_gateway}}
`

// mustCoreSet loads the shipped scenarios and coreYAML.
func mustCoreSet(tb testing.TB) *scenarios.Set {
	tb.Helper()
	set, diags := scenarios.Load(mustSpec(tb), append(scenarios.Embedded(), scenarios.Source{Name: "core.yaml", Data: []byte(coreYAML)}))
	if set == nil {
		tb.Fatalf("load scenarios:\n%v", diags)
	}
	return set
}

// fakeTokens is a token store that answers what a test scripts.
type fakeTokens struct {
	states   map[string]string // token -> state; others are invalid
	stale    string            // when set, a strict rotate fails with this state
	armed    string            // a scenario popArmed returns once
	offset   time.Duration     // the mock clock's offset
	observed int               // calls of observe
	rotated  []string          // tokens rotate was asked to rotate
}

func (f *fakeTokens) clock() (time.Time, time.Duration) {
	return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(f.offset), f.offset
}

func (f *fakeTokens) observe(token string) (string, string) {
	f.observed++
	if token == "" {
		return scenarios.TokenMissing, ""
	}
	if st, ok := f.states[token]; ok {
		return st, "fam_fake"
	}
	return scenarios.TokenInvalid, ""
}

func (f *fakeTokens) rotate(token string, strict bool) (scenarios.TokenData, error) {
	if strict && f.stale != "" {
		return scenarios.TokenData{}, &staleTokenError{state: f.stale}
	}
	f.rotated = append(f.rotated, token)
	return scenarios.TokenData{Access: "access.jwt.fake", Refresh: "rt_next", ExpiresIn: 900, Subject: "user_fake", Family: "fam_fake"}, nil
}

func (f *fakeTokens) sawSessions([]string, string) {}

func (f *fakeTokens) hasArmed() bool { return f.armed != "" }

func (f *fakeTokens) popArmed(_ string, _ []string, lookup func(string) (*scenarios.Scenario, bool)) *scenarios.Scenario {
	if f.armed == "" {
		return nil
	}
	sc, _ := lookup(f.armed)
	f.armed = ""
	return sc
}

// TestRespond covers the decision core without HTTP: each request goes
// straight to respond with a scripted token store.
func TestRespond(t *testing.T) {
	t.Parallel()
	set := mustCoreSet(t)
	coreOnly, diags := scenarios.Load(mustSpec(t), []scenarios.Source{{Name: "core.yaml", Data: []byte(coreYAML)}})
	if coreOnly == nil {
		t.Fatal(diags)
	}
	op, _ := mustSpec(t).Operation("refresh_token")
	type want struct {
		status     int
		code       string // the envelope's code, when it is one
		scenario   string // Entry.Scenario
		rule       string // Entry.Rule
		tokenState string
		why        string // a part of Entry.Why
		cookie     string // a part of a Set-Cookie
		header     map[string]string
		observed   bool // the token store was asked
		rotated    bool
		err        bool
		delay      bool
		fault      string
	}
	tests := []struct {
		name     string
		tokens   fakeTokens
		noCheck  bool
		set      *scenarios.Set // default: set
		req      scenarios.RequestData
		want     want
		validate func(t *testing.T, out Outcome)
	}{
		{
			name:   "valid token: the default rotates it",
			tokens: fakeTokens{states: map[string]string{"rt_a": scenarios.TokenValid}},
			req:    reqData(map[string]string{RefreshCookie: "rt_a"}, nil, ""),
			want: want{status: 200, scenario: "refresh-success", rule: "match", tokenState: "valid", observed: true, rotated: true,
				cookie: "refresh_token=rt_next;", header: map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"}},
		},
		{
			name:   "advanced mock clock: X-Mock-Clock on the answer",
			tokens: fakeTokens{states: map[string]string{"rt_a": scenarios.TokenValid}, offset: 15 * time.Minute},
			req:    reqData(map[string]string{RefreshCookie: "rt_a"}, nil, ""),
			want: want{status: 200, scenario: "refresh-success", rule: "match", tokenState: "valid", observed: true, rotated: true,
				cookie: "refresh_token=rt_next;", header: map[string]string{ClockHeader: "2026-03-01T12:15:00Z; offset=15m0s"}},
		},
		{
			name: "test token chosen by its match rules",
			req:  reqData(map[string]string{RefreshCookie: "rt_test_429_rate_limited"}, nil, ""),
			want: want{status: 429, code: "rate_limited", scenario: "rate-limited", rule: "match", tokenState: "invalid", observed: true,
				header: map[string]string{"Retry-After": "30"}},
		},
		{
			name: "Prefer: code=401 with a JSON body and a cookie",
			req:  reqData(map[string]string{RefreshCookie: "rt_x"}, http.Header{"Prefer": {"code=401"}}, `{"refresh_token":"rt_x"}`),
			want: want{status: 401, code: "refresh_token_invalid", scenario: "refresh-invalid-token", rule: "explicit", tokenState: "invalid", observed: true},
		},
		{
			name: "X-Mock-Scenario names a rotating scenario for an unknown token",
			req:  reqData(map[string]string{RefreshCookie: "rt_x"}, http.Header{"X-Mock-Scenario": {"refresh-success"}}, `{"refresh_token":"rt_x"}`),
			want: want{status: 200, scenario: "refresh-success", rule: "explicit", tokenState: "invalid", observed: true, rotated: true, cookie: "refresh_token=rt_next;"},
		},
		{
			name: "unknown scenario: 400 before any selection header",
			req:  reqData(nil, http.Header{"X-Mock-Scenario": {"refresh-sucess"}}, ""),
			want: want{status: 400, code: "invalid_request", rule: "select_error", tokenState: "missing", observed: true, why: `did you mean "refresh-success"`},
			validate: func(t *testing.T, out Outcome) {
				if out.used != nil {
					t.Errorf("X-Mock-Scenario-Used = %v for a failed selection, want none", out.used)
				}
			},
		},
		{
			name: "wrong type in the body: 422 with details, the store is not asked",
			req:  reqData(nil, nil, `{"refresh_token":5}`),
			want: want{status: 422, code: "validation_error", rule: "validation", why: "does not validate"},
			validate: func(t *testing.T, out Outcome) {
				var env struct {
					Details []detail `json:"details"`
				}
				if err := json.Unmarshal(out.Body, &env); err != nil || len(env.Details) != 1 {
					t.Fatalf("details of %s: %v", out.Body, err)
				}
				if d := env.Details[0]; !equalJSON(d.Loc, []any{"body", "refresh_token"}) || d.Type != "string_type" {
					t.Errorf("detail %+v, want loc [body refresh_token] type string_type", d)
				}
			},
		},
		{
			name: "malformed JSON",
			req:  reqData(nil, nil, `{"refresh_token": `),
			want: want{status: 400, code: "malformed_json", rule: "validation"},
		},
		{
			name:    "validation off: the media type is still checked",
			noCheck: true,
			req:     reqData(nil, http.Header{"Content-Type": {"text/plain"}}, `{"refresh_token": 5}`),
			want:    want{status: 400, code: "unsupported_media_type", rule: "validation"},
		},
		{
			name:   "a parallel request rotated the token first: answered as reuse",
			tokens: fakeTokens{states: map[string]string{"rt_a": scenarios.TokenValid}, stale: scenarios.TokenReused},
			req:    reqData(map[string]string{RefreshCookie: "rt_a"}, nil, ""),
			want:   want{status: 401, code: "refresh_token_reused", scenario: "refresh-reused-token", rule: "match", tokenState: "reused", observed: true},
		},
		{
			name:   "armed scenario",
			tokens: fakeTokens{armed: "internal-error"},
			req:    reqData(nil, nil, ""),
			want:   want{status: 500, code: "internal_server_error", scenario: "internal-error", rule: "armed", tokenState: "missing", observed: true},
		},
		{
			name: "render failure: the envelope 500 names the scenario",
			req:  reqData(nil, http.Header{"X-Boom": {"1"}}, ""),
			want: want{status: 500, code: "internal_server_error", scenario: "core-boom", rule: "match", tokenState: "missing", observed: true, err: true,
				why: "rendering failed"},
			validate: func(t *testing.T, out Outcome) {
				if !strings.Contains(string(out.Body), "scenario core-boom failed to render") {
					t.Errorf("body %s does not name the scenario", out.Body)
				}
			},
		},
		{
			name: "Prefer: code=404 without a scenario: the spec's example",
			set:  coreOnly,
			req:  reqData(nil, http.Header{"Prefer": {"code=404"}}, ""),
			want: want{status: 404, code: "not_found", scenario: "example:404", rule: "explicit", tokenState: "missing", observed: true,
				header: map[string]string{"Content-Type": "application/json"}},
		},
		{
			name: "delay and fault are handed to the transport",
			req:  reqData(nil, http.Header{"X-Mock-Scenario": {"core-slow"}}, ""),
			want: want{status: 504, code: "gateway_timeout", scenario: "core-slow", rule: "explicit", tokenState: "missing", observed: true, delay: true},
		},
		{
			name: "fault",
			req:  reqData(nil, http.Header{"X-Mock-Scenario": {"core-cut"}}, ""),
			want: want{status: 502, code: "bad_gateway", scenario: "core-cut", rule: "explicit", tokenState: "missing", observed: true, fault: "truncated_body"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sset := set
			if tc.set != nil {
				sset = tc.set
			}
			cfg := Config{Spec: mustSpec(t), Scenarios: sset, NoValidateRequests: tc.noCheck}
			cfg.defaults()
			tokens := tc.tokens
			c := newCore(&cfg, &tokens)
			c.snap.Store(newSnapshot(sset, time.Time{}))
			req := tc.req
			out := c.respond(t.Context(), op, &req)
			w := tc.want
			if out.Status != w.status {
				t.Fatalf("status = %d, want %d; body %s; entry %+v", out.Status, w.status, out.Body, out.Entry)
			}
			if w.code != "" {
				var env struct{ Code string }
				if err := json.Unmarshal(out.Body, &env); err != nil || env.Code != w.code {
					t.Errorf("code = %q (%v), want %q; body %s", env.Code, err, w.code, out.Body)
				}
			}
			e := out.Entry
			if e.Scenario != w.scenario || e.Rule != w.rule || e.TokenState != w.tokenState || e.Operation != "refresh_token" {
				t.Errorf("entry scenario %q rule %q token %q op %q, want %q %q %q refresh_token", e.Scenario, e.Rule, e.TokenState, e.Operation, w.scenario, w.rule, w.tokenState)
			}
			if !strings.Contains(e.Why, w.why) {
				t.Errorf("why = %q, want it to contain %q", e.Why, w.why)
			}
			if w.scenario != "" && (len(out.used) != 1 || out.used[0] != w.scenario || len(out.rule) != 1 || out.rule[0] != w.rule) {
				t.Errorf("X-Mock-Scenario-Used %v X-Mock-Rule %v, want %s %s", out.used, out.rule, w.scenario, w.rule)
			}
			if got := strings.Join(out.Cookies, "\n"); !strings.Contains(got, w.cookie) || (w.cookie == "") != (got == "") {
				t.Errorf("cookies %q, want one with %q", got, w.cookie)
			}
			for k, v := range w.header {
				if got := out.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if got := tokens.observed > 0; got != w.observed {
				t.Errorf("store asked: %v, want %v", got, w.observed)
			}
			if got := len(tokens.rotated) > 0; got != w.rotated {
				t.Errorf("rotated %v, want rotation %v", tokens.rotated, w.rotated)
			}
			if (out.Err != nil) != w.err {
				t.Errorf("err = %v, want an error: %v", out.Err, w.err)
			}
			if (out.Delay != nil) != w.delay || out.Fault != w.fault || e.Fault != w.fault {
				t.Errorf("delay %v fault %q (entry %q), want delay %v fault %q", out.Delay, out.Fault, e.Fault, w.delay, w.fault)
			}
			if tc.validate != nil {
				tc.validate(t, out)
			}
		})
	}
}

// reqData is a POST to /auth/refresh as serveOperation builds it; a body
// comes as application/json unless header says otherwise.
func reqData(cookies map[string]string, header http.Header, body string) scenarios.RequestData {
	h := http.Header{}
	for k, vs := range header {
		h[k] = vs
	}
	var b []byte
	if body != "" {
		b = []byte(body)
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
	}
	if cookies == nil {
		cookies = map[string]string{}
	}
	var parts []string
	for k, v := range cookies {
		parts = append(parts, k+"="+v)
	}
	if len(parts) > 0 {
		h.Set("Cookie", strings.Join(parts, "; "))
	}
	return scenarios.RequestData{Method: http.MethodPost, Path: "/auth/refresh", Headers: h, Cookies: cookies, Query: url.Values(nil), Body: b}
}
