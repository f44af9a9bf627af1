package mockserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/tidwall/gjson"
)

// TestRequestChecks covers the answers the mock gives by itself: size
// limit, media type, malformed JSON, schema validation, and explicit
// selections that cannot be honoured. All are documented statuses in the
// envelope.
func TestRequestChecks(t *testing.T) {
	t.Parallel()
	sp := mustSpec(t)
	s := mustServer(t, Config{MaxBody: 64})
	ts := mustListen(t, s)
	big := `{"refresh_token":"` + strings.Repeat("x", 100) + `"}`
	tests := []struct {
		name    string
		c       call
		status  int
		code    string
		message string
		loc     []any
	}{
		{"over the size limit", call{body: big}, 400, "request_too_large", "64 B limit", nil},
		{"wrong content type", call{body: `{"refresh_token":"x"}`, header: map[string]string{"Content-Type": "text/plain"}}, 400, "unsupported_media_type", "application/json", nil},
		{"malformed json", call{body: `{"refresh_token": `}, 400, "malformed_json", "not valid JSON", nil},
		{"garbage bytes", call{body: "\x00\xff\xfe{{", header: map[string]string{"Content-Type": "application/json"}}, 400, "malformed_json", "not valid JSON", nil},
		{"wrong type", call{body: `{"refresh_token": 12345}`}, 422, "validation_error", "does not validate", []any{"body", "refresh_token"}},
		{"too short", call{body: `{"refresh_token": ""}`}, 422, "validation_error", "minLength", []any{"body", "refresh_token"}},
		{"not an object", call{body: `[1,2]`}, 422, "validation_error", "want object", []any{"body"}},
		{"duplicate key", call{body: `{"refresh_token":5,"refresh_token":"rt_seed_dev"}`}, 400, "malformed_json", `duplicate key "refresh_token"`, nil},
		{"nested duplicate key", call{body: `{"l":[{"k":1,"k":2}]}`}, 400, "malformed_json", `in body.l[0]`, nil},
		{"invalid UTF-8 in a string", call{body: "{\"refresh_token\":\"rt_\xff\"}"}, 400, "malformed_json", "invalid UTF-8 at byte 21", nil},
		{"number beyond float64", call{body: `{"refresh_token":1e999999999}`}, 422, "validation_error", "beyond a 64-bit float", []any{"body", "refresh_token"}},
		{"unknown scenario", call{header: map[string]string{"X-Mock-Scenario": "nope"}}, 400, "invalid_request", "refresh-success", nil},
		{"impossible prefer", call{header: map[string]string{"Prefer": "code=418"}}, 400, "invalid_request", "documented: 200", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.c.do(t, ts)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tc.status, r.body)
			}
			checkContract(t, sp, r)
			m := r.json(t)
			if m["code"] != tc.code || !strings.Contains(m["message"].(string), tc.message) {
				t.Errorf("code %v message %q; want %s and a message with %q", m["code"], m["message"], tc.code, tc.message)
			}
			if tc.loc != nil {
				ds, _ := m["details"].([]any)
				if len(ds) == 0 {
					t.Fatalf("no details in %s", r.body)
				}
				if got := ds[0].(map[string]any)["loc"]; !equalJSON(got, tc.loc) {
					t.Errorf("details[0].loc = %v, want %v", got, tc.loc)
				}
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestNoValidateRequests(t *testing.T) {
	t.Parallel()
	s := mustServer(t, Config{NoValidateRequests: true})
	r := call{body: `{"refresh_token": 12345}`}.serve(t, s)
	if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "refresh_token_missing") {
		t.Errorf("with validation off a number token is no token: got %d %s", r.status, r.body)
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	s := mustServer(t, Config{BasePath: "/api/"})
	tests := []struct {
		name   string
		c      call
		status int
		allow  string
	}{
		{"under the base path", call{path: "/api/auth/refresh", cookies: map[string]string{"refresh_token": DefaultSeedToken}}, 200, ""},
		{"trailing slash", call{path: "/api/auth/refresh/"}, 401, ""},
		{"without the base path", call{path: "/auth/refresh"}, 404, ""},
		{"wrong method", call{method: http.MethodGet, path: "/api/auth/refresh"}, 404, "POST"},
		{"unknown control endpoint", call{method: http.MethodGet, path: "/__mock/nope"}, 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.serve(t, s)
			if r.status != tc.status || r.header.Get("Allow") != tc.allow {
				t.Errorf("status %d Allow %q, want %d %q; body %s", r.status, r.header.Get("Allow"), tc.status, tc.allow, r.body)
			}
		})
	}
}

// TestArming arms scenarios through the control API: globally for N
// requests, and for one session only.
func TestArming(t *testing.T) {
	t.Parallel()
	s := mustServer(t, Config{})
	ts := mustListen(t, s)
	arm := func(body string) result {
		r := call{path: "/__mock/arm", body: body}.do(t, ts)
		if r.status != http.StatusOK {
			t.Fatalf("arm %s: %d %s", body, r.status, r.body)
		}
		return r
	}
	scenario := func(c call) string {
		r := c.do(t, ts)
		return r.header.Get("X-Mock-Scenario-Used") + "/" + r.header.Get("X-Mock-Rule")
	}
	none := call{}
	arm(`{"scenario":"rate-limited","count":2}`)
	for i, want := range []string{"rate-limited/armed", "rate-limited/armed", "refresh-missing-token/match"} {
		if got := scenario(none); got != want {
			t.Errorf("request %d: %s, want %s", i, got, want)
		}
	}

	// Explicit selection does not use up an armed entry.
	arm(`{"scenario":"internal-error"}`)
	if got := scenario(call{header: map[string]string{"X-Mock-Scenario": "bad-gateway"}}); got != "bad-gateway/explicit" {
		t.Errorf("explicit: %s", got)
	}
	if got := scenario(none); got != "internal-error/armed" {
		t.Errorf("after explicit: %s, want internal-error/armed", got)
	}

	// Scoped to a session: other clients are not disturbed.
	arm(`{"scenario":"user-revoked","session":"tab-2"}`)
	tab1 := call{header: map[string]string{"X-Mock-Session": "tab-1"}}
	tab2 := call{cookies: map[string]string{"mock_session": "tab-2"}}
	if got := scenario(tab1); got != "refresh-missing-token/match" {
		t.Errorf("tab-1: %s", got)
	}
	if got := scenario(tab2); got != "user-revoked/armed" {
		t.Errorf("tab-2: %s", got)
	}

	// Scoped to a refresh-token family, given by one of its tokens.
	var iss issued
	r := call{path: "/__mock/tokens"}.do(t, ts)
	if err := json.Unmarshal(r.body, &iss); err != nil {
		t.Fatal(err)
	}
	arm(`{"scenario":"upgrade-required","session":"` + iss.RefreshToken + `"}`)
	if got := scenario(call{cookies: map[string]string{"refresh_token": DefaultSeedToken}}); got != "refresh-success/match" {
		t.Errorf("other family: %s", got)
	}
	if got := scenario(call{cookies: map[string]string{"refresh_token": iss.RefreshToken}}); got != "upgrade-required/armed" {
		t.Errorf("armed family: %s", got)
	}

	for _, bad := range []struct{ body, want string }{
		{`{"scenario":"nope"}`, "rate-limited"},
		{`{"scenario":"rate-limited","count":-1}`, "out of range"},
		{`{"scenario":"rate-limited","cont":2}`, "unknown field"},
	} {
		r := call{path: "/__mock/arm", body: bad.body}.do(t, ts)
		if r.status < 400 || !strings.Contains(string(r.body), bad.want) {
			t.Errorf("arm %s: %d %s, want an error mentioning %q", bad.body, r.status, r.body, bad.want)
		}
	}

	// The journal says why.
	var j struct{ Entries []Entry }
	r = call{method: http.MethodGet, path: "/__mock/journal?limit=3"}.do(t, ts)
	if err := json.Unmarshal(r.body, &j); err != nil || len(j.Entries) != 3 {
		t.Fatalf("journal: %v %s", err, r.body)
	}
	last := j.Entries[2]
	if last.Scenario != "upgrade-required" || last.Rule != "armed" || last.TokenState != "valid" || last.Family != iss.Family {
		t.Errorf("last journal entry = %+v", last)
	}
	prev := j.Entries[1]
	if prev.Rule != "match" || len(prev.Rejected) == 0 || prev.Rejected[0].Reason == "" {
		t.Errorf("match entry without rejected reasons: %+v", prev)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	s := mustServer(t, Config{})
	tests := []struct {
		name   string
		c      call
		status int
		acao   string
		extra  map[string]string
	}{
		{"preflight from a dev server", call{method: http.MethodOptions, header: map[string]string{
			"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-mock-scenario"}},
			204, "http://localhost:5173", map[string]string{"Access-Control-Allow-Credentials": "true", "Access-Control-Allow-Headers": "content-type,x-mock-scenario", "Access-Control-Allow-Methods": "POST"}},
		{"preflight from elsewhere", call{method: http.MethodOptions, header: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}}, 403, "", nil},
		{"credentialed request", call{header: map[string]string{"Origin": "http://127.0.0.1:3000"}, cookies: map[string]string{"refresh_token": DefaultSeedToken}},
			200, "http://127.0.0.1:3000", map[string]string{"Access-Control-Allow-Credentials": "true", "Access-Control-Expose-Headers": exposedHeaders}},
		{"request from elsewhere gets no CORS", call{header: map[string]string{"Origin": "http://localhost.evil.example"}}, 401, "", nil},
		{"control API has no CORS", call{method: http.MethodOptions, path: "/__mock/arm", header: map[string]string{"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}}, 403, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.serve(t, s)
			if r.status != tc.status || r.header.Get("Access-Control-Allow-Origin") != tc.acao {
				t.Errorf("status %d ACAO %q, want %d %q; body %s", r.status, r.header.Get("Access-Control-Allow-Origin"), tc.status, tc.acao, r.body)
			}
			for k, v := range tc.extra {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestCORSPolicy(t *testing.T) {
	t.Parallel()
	p, err := newCORSPolicy([]string{"http://localhost:*", "https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]bool{
		"http://localhost:5173": true, "http://localhost": true, "http://LOCALHOST:8080": true, "https://app.example.com": true,
		"http://localhost:": false, "http://localhost:80x": false, "https://localhost:5173": false, "http://localhost.evil:1": false,
		"https://app.example.com:444": false, "null": false, "": false,
	} {
		if got := p.allows(origin); got != want {
			t.Errorf("allows(%q) = %v, want %v", origin, got, want)
		}
	}
	if _, err := newCORSPolicy([]string{"localhost:5173"}); err == nil {
		t.Error("an origin without a scheme was accepted")
	}
}

// TestControlAccess checks who may drive the control API.
func TestControlAccess(t *testing.T) {
	t.Parallel()
	open := mustServer(t, Config{})
	locked := mustServer(t, Config{ControlToken: "s3cret"})
	health := func(s *Server, remote, host string, header map[string]string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/__mock/health", nil)
		req.RemoteAddr = remote
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	tests := []struct {
		name   string
		s      *Server
		remote string
		host   string
		header map[string]string
		want   int
	}{
		{"loopback", open, "127.0.0.1:5000", "127.0.0.1:8080", nil, 200},
		{"loopback v6", open, "[::1]:5000", "localhost:8080", nil, 200},
		{"same origin page", open, "127.0.0.1:5000", "localhost:8080", map[string]string{"Origin": "http://localhost:8080"}, 200},
		{"other origin page", open, "127.0.0.1:5000", "localhost:8080", map[string]string{"Origin": "http://localhost:5173"}, 403},
		{"cross-site fetch without Origin", open, "127.0.0.1:5000", "localhost:8080", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"remote client", open, "192.0.2.7:5000", "127.0.0.1:8080", nil, 403},
		{"DNS rebinding", open, "127.0.0.1:5000", "evil.example:8080", nil, 403},
		{"token missing", locked, "127.0.0.1:5000", "127.0.0.1:8080", nil, 401},
		{"token wrong", locked, "192.0.2.7:5000", "mock.lan:8080", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"token right, remote", locked, "192.0.2.7:5000", "mock.lan:8080", map[string]string{"Authorization": "Bearer s3cret"}, 200},
		{"token right, other origin", locked, "192.0.2.7:5000", "mock.lan:8080", map[string]string{"Authorization": "Bearer s3cret", "Origin": "http://localhost:5173"}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := health(tc.s, tc.remote, tc.host, tc.header); got != tc.want {
				t.Errorf("status = %d, want %d", got, tc.want)
			}
		})
	}
}

const reloadGood = `
name: teapot-free
operation: refresh_token
match: {cookies: {refresh_token: rt_reload}}
response:
  status: 403
  body: {status: 403, message: Reloaded., code: access_forbidden}
`

// TestHotReload edits a scenario directory: a good edit takes effect, a bad
// edit is refused with file:line and the last good set keeps serving, a
// removed file disappears.
func TestHotReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "custom.yaml")
	write := func(text string) {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadGood)
	sp := mustSpec(t)
	set, _, err := scenarios.LoadPaths(sp, dir)
	if err != nil {
		t.Fatal(err)
	}
	s := mustServer(t, Config{Scenarios: set, ScenarioPaths: []string{dir}, ScenarioOptions: scenarios.LoadOptions{NoBuiltin: true}})
	ask := func() result { return call{cookies: map[string]string{"refresh_token": "rt_reload"}}.serve(t, s) }
	if r := ask(); r.status != 403 {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	if s.checkReload(context.Background()) {
		t.Error("reloaded without a change")
	}

	write(strings.Replace(reloadGood, "status: 403\n  body: {status: 403, message: Reloaded., code: access_forbidden}", "status: 409\n  body: {status: 409, message: Edited., code: already_exists}", 1))
	if !s.checkReload(context.Background()) {
		t.Fatal("a good edit was not noticed")
	}
	if r := ask(); r.status != 409 {
		t.Errorf("after a good edit: %d %s", r.status, r.body)
	}

	write(reloadGood + "  fault: sometimes\n")
	if !s.checkReload(context.Background()) {
		t.Fatal("a bad edit was not noticed")
	}
	if r := ask(); r.status != 409 {
		t.Errorf("after a bad edit the last good set must keep serving: %d %s", r.status, r.body)
	}
	h := call{method: http.MethodGet, path: "/__mock/health"}.serve(t, s)
	var health Health
	if err := json.Unmarshal(h.body, &health); err != nil {
		t.Fatal(err)
	}
	if health.LastReload.OK || len(health.LastReload.Errors) == 0 || !strings.Contains(health.LastReload.Errors[0], "custom.yaml:") {
		t.Errorf("health does not report the bad edit with file:line: %+v", health.LastReload)
	}
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "sometimes") {
		t.Errorf("Reload() = %v, want the fault problem", err)
	}

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if !s.checkReload(context.Background()) {
		t.Fatal("a removed file was not noticed")
	}
	if r := ask(); r.status != 200 || r.header.Get("X-Mock-Scenario-Used") != "example:200" {
		t.Errorf("with no scenarios left: %d %s %v, want the spec's 200 example", r.status, r.body, r.header)
	}
	if n := len(s.Scenarios().All()); n != 0 {
		t.Errorf("after removing the only file %d scenarios remain", n)
	}
}

const faultYAML = `
name: reset
operation: refresh_token
response: {status: 500, fault: connection_reset, body: {status: 500, message: x, code: internal_server_error}}
---
name: empty
operation: refresh_token
response: {status: 500, fault: empty_reply, body: {status: 500, message: x, code: internal_server_error}}
---
name: truncated
operation: refresh_token
response: {status: 500, fault: truncated_body, body: {status: 500, message: the body is cut in half, code: internal_server_error}}
`

func TestFaults(t *testing.T) {
	t.Parallel()
	set, diags := scenarios.Load(mustSpec(t), []scenarios.Source{{Name: "faults.yaml", Data: []byte(faultYAML)}})
	if set == nil {
		t.Fatal(diags)
	}
	ts := mustListen(t, mustServer(t, Config{Scenarios: set}))
	for _, name := range []string{"reset", "empty", "truncated"} {
		t.Run(name, func(t *testing.T) {
			req := call{header: map[string]string{"X-Mock-Scenario": name}}.request(t, ts.URL)
			tr := &http.Transport{DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if name != "truncated" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got a response %d, want a broken connection", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("truncated: %v", err)
			}
			defer resp.Body.Close()
			_, err = io.ReadAll(resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("reading a truncated body: %v, want unexpected EOF", err)
			}
		})
	}
}

// TestDelayClientGone: a client that gives up during a delay does not
// get an answer, and the journal says so.
func TestDelayClientGone(t *testing.T) {
	t.Parallel()
	set, diags := scenarios.Load(mustSpec(t), []scenarios.Source{{Name: "slow.yaml", Data: []byte(`
name: slow
operation: refresh_token
response: {status: 504, delay: 60s, body: {status: 504, message: x, code: gateway_timeout}}
`)}})
	if set == nil {
		t.Fatal(diags)
	}
	s := mustServer(t, Config{Scenarios: set})
	ts := httptest.NewUnstartedServer(s)
	active := make(chan struct{}, 1)
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateActive {
			active <- struct{}{}
		}
	}
	ts.Start()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(conn, "POST /auth/refresh HTTP/1.1\r\nHost: x\r\nX-Mock-Scenario: slow\r\nContent-Length: 0\r\n\r\n")
	<-active
	_ = conn.Close()
	ts.Close() // waits for the handler, which must return when the client is gone
	j := s.journal.last(1)
	if len(j) != 1 || j[0].Fault != "client_gone" {
		t.Errorf("journal = %+v, want a client_gone entry", j)
	}
}

// TestParallelRefreshOneWinner: of many parallel refreshes with one token,
// exactly one succeeds; the others are answered as reuse (or revoked).
func TestParallelRefreshOneWinner(t *testing.T) {
	t.Parallel()
	s := mustServer(t, Config{})
	const n = 16
	codes := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r := call{cookies: map[string]string{"refresh_token": DefaultSeedToken}}.serve(t, s)
			if r.status == http.StatusOK {
				codes <- "ok"
				return
			}
			codes <- r.json(t)["code"].(string)
		})
	}
	wg.Wait()
	close(codes)
	count := map[string]int{}
	for c := range codes {
		count[c]++
	}
	if count["ok"] != 1 || count["ok"]+count["refresh_token_reused"]+count["refresh_token_revoked"] != n {
		t.Errorf("outcomes %v, want exactly one ok and the rest reused or revoked", count)
	}
}

func TestStoreRotateStale(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	st := newStore(clk.Now, "rt_seed", time.Minute, time.Hour)
	if state, _ := st.observe("rt_seed"); state != "valid" {
		t.Fatalf("seed state %s", state)
	}
	td, err := st.rotate("rt_seed", true)
	if err != nil || td.Family != "fam_seed" {
		t.Fatalf("first rotate: %+v %v", td, err)
	}
	_, err = st.rotate("rt_seed", true)
	var stale *staleTokenError
	if !errors.As(err, &stale) || stale.state != "reused" {
		t.Fatalf("second strict rotate: %v, want stale reused", err)
	}
	if state, _ := st.observe(td.Refresh); state != "revoked" {
		t.Errorf("the family's newest token is %s after the stale rotate, want revoked", state)
	}
	td2, err := st.rotate("rt_seed", false)
	if err != nil || td2.Family == "fam_seed" {
		t.Errorf("non-strict rotate of a used token: %+v %v, want a new family", td2, err)
	}
}

// TestSignAccessMatchesSignJWT: the fast signer uses SignJWT's header and
// key, and its claims decode to what was asked.
func TestSignAccessMatchesSignJWT(t *testing.T) {
	t.Parallel()
	c := accessClaims{Sub: "user_\"x\"", Sid: "fam_1", Iat: 1700000000, Exp: 1700000900, Jti: "j1"}
	got, err := signAccess(c)
	if err != nil {
		t.Fatal(err)
	}
	// SignJWT marshals a map, whose keys encoding/json sorts.
	want, err := scenarios.SignJWT(map[string]any{"exp": c.Exp, "iat": c.Iat, "jti": c.Jti, "sid": c.Sid, "sub": c.Sub})
	if err != nil {
		t.Fatal(err)
	}
	gotParts, wantParts := strings.Split(got, "."), strings.Split(want, ".")
	if gotParts[0] != wantParts[0] {
		t.Errorf("header %s, want %s", gotParts[0], wantParts[0])
	}
	payload, _ := base64.RawURLEncoding.DecodeString(gotParts[1])
	var back accessClaims
	if err := json.Unmarshal(payload, &back); err != nil || back != c {
		t.Errorf("claims decode to %+v (%v), want %+v", back, err, c)
	}
	// Payload key order differs from SignJWT's; check the signature.
	mac := hmac.New(sha256.New, scenarios.JWTKey)
	mac.Write([]byte(gotParts[0] + "." + gotParts[1]))
	if sig := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); sig != gotParts[2] {
		t.Errorf("signature %s, want %s", gotParts[2], sig)
	}
}

// TestContentLength: every body goes out with an exact Content-Length and
// never chunked, whether net/http counts it (a body within its buffer) or
// the mock sets it (a larger body, or a scenario that scripts a wrong
// Content-Length, which is overridden).
func TestContentLength(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("a", 3*netHTTPBuffered)
	yaml := `
name: small
operation: refresh_token
response: {status: 200, body: {access_token: abc, token_type: bearer, expires_in: 1, organization: null}}
---
name: big
operation: refresh_token
response: {status: 200, body: {access_token: ` + big + `, token_type: bearer, expires_in: 1, organization: null}}
---
name: lying
operation: refresh_token
response:
  status: 200
  headers: {Content-Length: "5"}
  body: {access_token: abc, token_type: bearer, expires_in: 1, organization: null}
`
	set, diags := scenarios.Load(mustSpec(t), []scenarios.Source{{Name: "cl.yaml", Data: []byte(yaml)}})
	if set == nil {
		t.Fatalf("load: %v", diags)
	}
	ts := mustListen(t, mustServer(t, Config{Scenarios: set}))
	for _, name := range []string{"small", "big", "lying"} {
		t.Run(name, func(t *testing.T) {
			req := call{header: map[string]string{scenarios.HeaderScenario: name}}.request(t, ts.URL)
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || len(resp.TransferEncoding) != 0 || resp.ContentLength != int64(len(b)) {
				t.Errorf("status %d, Transfer-Encoding %q, Content-Length %d for a body of %d bytes; want 200, none, exact",
					resp.StatusCode, resp.TransferEncoding, resp.ContentLength, len(b))
			}
		})
	}
}

// TestConcurrentRequestsKeepTheirOwn: the recycled request data, cookie
// maps and body buffers never mix two requests up. Parallel clients each
// send a cookie and a header of their own to a scenario that echoes both
// in its body, and to the rotation; every answer must carry its own
// request's values, and every rotation a distinct token. Run under -race
// in CI.
func TestConcurrentRequestsKeepTheirOwn(t *testing.T) {
	t.Parallel()
	yaml := `
name: echo
operation: refresh_token
response:
  status: 401
  body_template: '{"status": 401, "message": "{{ .Cookie "who" }}|{{ .Header "X-Who" }}", "code": "refresh_token_invalid"}'
`
	set, diags := scenarios.Load(mustSpec(t), append(scenarios.Embedded(), scenarios.Source{Name: "echo.yaml", Data: []byte(yaml)}))
	if set == nil {
		t.Fatalf("load: %v", diags)
	}
	ts := mustListen(t, mustServer(t, Config{Scenarios: set}))
	const clients, each = 8, 100
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				who := fmt.Sprintf("c%d-r%d", g, i)
				r := call{header: map[string]string{scenarios.HeaderScenario: "echo", "X-Who": who}, cookies: map[string]string{"who": who}, body: `{"refresh_token":"x"}`}.do(t, ts)
				if got := gjson.GetBytes(r.body, "message").String(); got != who+"|"+who {
					t.Errorf("request %s: message %q, want %s|%s", who, got, who, who)
					return
				}
				r = call{header: map[string]string{scenarios.HeaderScenario: "refresh-success"}, body: `{"refresh_token":"x"}`}.do(t, ts)
				c, ok := r.cookie(RefreshCookie)
				access := gjson.GetBytes(r.body, "access_token").String()
				if r.status != http.StatusOK || !ok || strings.Count(access, ".") != 2 {
					t.Errorf("request %s: rotation answered %d, cookie %v, access_token %q", who, r.status, ok, access)
					return
				}
				mu.Lock()
				dup := seen[c.Value] || seen[access]
				seen[c.Value], seen[access] = true, true
				mu.Unlock()
				if dup {
					t.Errorf("request %s: a token was issued twice", who)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestRecycledRequestKeepsExplanation: a request whose journal entry
// explains near misses keeps its own data, though later requests recycle
// theirs: the explanation, computed when the journal is read, still names
// its cookie's value.
func TestRecycledRequestKeepsExplanation(t *testing.T) {
	t.Parallel()
	yaml := `
name: team-a
operation: refresh_token
match:
  headers: {X-Team: {equals: t}}
  cookies: {who: {equals: a}}
priority: 100
response: {status: 401, body: {status: 401, message: team a, code: refresh_token_invalid}}
`
	set, diags := scenarios.Load(mustSpec(t), append(scenarios.Embedded(), scenarios.Source{Name: "team.yaml", Data: []byte(yaml)}))
	if set == nil {
		t.Fatalf("load: %v", diags)
	}
	s := mustServer(t, Config{Scenarios: set})
	const later = 20
	for i := range later + 1 {
		who := "first-request"
		if i > 0 {
			who = fmt.Sprintf("later-%d", i)
		}
		call{header: map[string]string{"X-Team": "t"}, cookies: map[string]string{"who": who}, body: `{"refresh_token":"x"}`}.serve(t, s)
	}
	var j struct{ Entries []Entry }
	r := call{method: http.MethodGet, path: fmt.Sprintf("/__mock/journal?limit=%d", later+1)}.serve(t, s)
	if err := json.Unmarshal(r.body, &j); err != nil || len(j.Entries) != later+1 {
		t.Fatalf("journal: %v %s", err, r.body)
	}
	first := j.Entries[0]
	var reasons []string
	for _, rej := range first.Rejected {
		reasons = append(reasons, rej.Reason)
	}
	if all := strings.Join(reasons, "; "); !strings.Contains(all, `"first-request"`) {
		t.Errorf("first request's near misses = %q, want them to name its cookie \"first-request\"", all)
	}
}
