package mockserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestControlTextCaps: every string field of the control API is capped,
// and a refused value is not echoed back whole.
func TestControlTextCaps(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		want   string
	}{
		{"subject at the cap", "/__mock/tokens", `{"subject":"` + long(maxSubject) + `"}`, 200, ""},
		{"subject over the cap", "/__mock/tokens", `{"subject":"` + long(maxSubject+1) + `"}`, 400, "subject is 257 bytes long; use at most 256"},
		{"subject of 60 kB", "/__mock/tokens", `{"subject":"` + long(60<<10) + `"}`, 400, "use at most 256"},
		{"subject with a newline", "/__mock/tokens", `{"subject":"a\nb"}`, 400, "subject has a control character at byte 1"},
		{"session over the cap", "/__mock/arm", `{"scenario":"rate-limited","session":"` + long(maxSession+1) + `"}`, 400, "session is 257 bytes long"},
		{"session with a tab", "/__mock/arm", `{"scenario":"rate-limited","session":"a\tb"}`, 400, "session has a control character"},
		{"scenario over the cap", "/__mock/arm", `{"scenario":"` + long(maxScenarioName+1) + `"}`, 400, "scenario is 129 bytes long; use at most 128"},
		{"scenario at the cap, unknown", "/__mock/arm", `{"scenario":"` + long(maxScenarioName) + `"}`, 404, "unknown scenario"},
		{"ttl over the cap", "/__mock/arm", `{"scenario":"rate-limited","ttl":"` + long(maxDurationText+1) + `"}`, 400, "ttl is 33 bytes long"},
		{"by over the cap", "/__mock/clock/advance", `{"by":"` + strings.Repeat("1", maxDurationText+1) + `"}`, 400, "by is 33 bytes long"},
		{"body over 64 KiB", "/__mock/tokens", `{"subject":"a"}` + strings.Repeat(" ", maxControlBody), 400, "larger than 64 KiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mustServer(t, Config{})
			tokens, _, _ := s.store.counts()
			r := call{path: tc.path, body: tc.body}.serve(t, s)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Fatalf("status %d, body %.300s; want %d mentioning %q", r.status, r.body, tc.status, tc.want)
			}
			if tc.status != 200 {
				if len(r.body) > 2<<10 {
					t.Errorf("the error echoes the input: %d bytes", len(r.body))
				}
				if after, _, _ := s.store.counts(); after != tokens {
					t.Errorf("a refused request changed the token store: %d tokens, had %d", after, tokens)
				}
			}
		})
	}
}

// TestControlAbsoluteForm: a control request whose target is absolute
// (as sent to a proxy) cannot have its Host header checked, since net/http
// drops it: it is refused, whatever the Host. Sent over a real connection,
// as an attacker would.
func TestControlAbsoluteForm(t *testing.T) {
	t.Parallel()
	ts := mustListen(t, mustServer(t, Config{}))
	addr := strings.TrimPrefix(ts.URL, "http://")
	tests := []struct {
		name, target, host string
		want               int
	}{
		{"absolute, foreign Host", "http://127.0.0.1/__mock/reset", "evil.test", 403},
		{"absolute, loopback Host", "http://" + addr + "/__mock/reset", addr, 403},
		{"absolute, foreign target", "http://evil.test/__mock/reset", addr, 403},
		{"origin-form, foreign Host", "/__mock/reset", "evil.test", 403},
		{"origin-form, loopback Host", "/__mock/reset", addr, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := conn.Write([]byte("POST " + tc.target + " HTTP/1.1\r\nHost: " + tc.host + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("POST %s with Host %s: %d, want %d", tc.target, tc.host, resp.StatusCode, tc.want)
			}
		})
	}
}

// TestJournalFilters: since, method, status, scenario and session select
// entries; each entry carries the request's headers and body.
func TestJournalFilters(t *testing.T) {
	t.Parallel()
	s := mustServer(t, Config{})
	call{method: http.MethodOptions, header: map[string]string{"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}}.serve(t, s)
	call{cookies: map[string]string{"refresh_token": "rt_test_429_rate_limited"}}.serve(t, s)
	call{header: map[string]string{"X-Mock-Session": "alice"}, body: `{"refresh_token":"rt_test_502_bad_gateway"}`}.serve(t, s)
	call{body: `{"refresh_token":"` + strings.Repeat("x", journalBodyMax) + `"}`}.serve(t, s)
	type page struct {
		Entries []Entry `json:"entries"`
		LastSeq uint64  `json:"last_seq"`
	}
	get := func(q string) page {
		t.Helper()
		r := call{method: http.MethodGet, path: "/__mock/journal" + q}.serve(t, s)
		if r.status != 200 {
			t.Fatalf("journal%s: %d %s", q, r.status, r.body)
		}
		return decodeJSON[page](t, r)
	}
	seqs := func(p page) string {
		var out []string
		for _, e := range p.Entries {
			out = append(out, e.Method+" "+strconv.Itoa(e.Status))
		}
		return strings.Join(out, ", ")
	}
	tests := []struct{ query, want string }{
		{"", "OPTIONS 204, POST 429, POST 502, POST 401"},
		{"?method=POST", "POST 429, POST 502, POST 401"},
		{"?method=post&limit=1", "POST 401"},
		{"?since=2", "POST 502, POST 401"},
		{"?since=4", ""},
		{"?status=429", "POST 429"},
		{"?scenario=bad-gateway", "POST 502"},
		{"?session=alice", "POST 502"},
	}
	for _, tc := range tests {
		if got := seqs(get(tc.query)); got != tc.want {
			t.Errorf("journal%s = %q, want %q", tc.query, got, tc.want)
		}
	}
	all := get("?method=POST")
	if all.LastSeq != 4 {
		t.Errorf("last_seq = %d, want 4", all.LastSeq)
	}
	e := all.Entries[1]
	if e.Headers.Get("X-Mock-Session") != "alice" || e.Body != `{"refresh_token":"rt_test_502_bad_gateway"}` {
		t.Errorf("entry headers %v body %q: want the request's", e.Headers, e.Body)
	}
	if first := all.Entries[0]; !strings.Contains(first.Headers.Get("Cookie"), "rt_test_429_rate_limited") {
		t.Errorf("cookie header not journaled: %v", first.Headers)
	}
	if b := all.Entries[2].Body; len(b) != journalBodyMax {
		t.Errorf("a long body is kept as %d bytes, want %d", len(b), journalBodyMax)
	}
	for _, bad := range []string{"?since=-1", "?status=abc", "?limit=-2", "?method=" + strings.Repeat("P", maxMethodFilter+1)} {
		if r := (call{method: http.MethodGet, path: "/__mock/journal" + bad}).serve(t, s); r.status != 400 {
			t.Errorf("journal%s: %d, want 400", bad, r.status)
		}
	}
}

// TestKeepHeadersBounded: large request headers are kept cut.
func TestKeepHeadersBounded(t *testing.T) {
	t.Parallel()
	small := http.Header{"A": {"b"}}
	if got, _ := keepHeaders(small); got.Get("A") != "b" {
		t.Fatalf("small headers: %v", got)
	}
	big := http.Header{}
	for i := range 40 {
		big.Set("X-H"+strconv.Itoa(i), strings.Repeat("v", 60<<10))
	}
	kept, counted := keepHeaders(big)
	n := 0
	for k, vs := range kept {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	if n > journalHeadersMax || len(kept) == 0 || counted != n {
		t.Errorf("kept %d header bytes (counted %d) in %d headers, want at most %d and some", n, counted, len(kept), journalHeadersMax)
	}
}

// TestDisarmAndClockReset: DELETE /__mock/arm by scenario or id, and the
// clock going back to real time.
func TestDisarmAndClockReset(t *testing.T) {
	t.Parallel()
	s := mustServer(t, Config{})
	for _, b := range []string{`{"scenario":"rate-limited"}`, `{"scenario":"internal-error"}`, `{"scenario":"rate-limited","session":"bob"}`} {
		if r := (call{path: "/__mock/arm", body: b}).serve(t, s); r.status != 200 {
			t.Fatalf("arm %s: %d %s", b, r.status, r.body)
		}
	}
	type answer struct {
		Disarmed int          `json:"disarmed"`
		Queue    []armedEntry `json:"queue"`
	}
	del := func(q string) answer {
		t.Helper()
		return decodeJSON[answer](t, call{method: http.MethodDelete, path: "/__mock/arm" + q}.serve(t, s))
	}
	if a := del("?scenario=rate-limited"); a.Disarmed != 2 || len(a.Queue) != 1 || a.Queue[0].Scenario != "internal-error" {
		t.Errorf("disarm rate-limited: %+v", a)
	}
	if a := del("?id=99"); a.Disarmed != 0 || len(a.Queue) != 1 {
		t.Errorf("disarm an unknown id: %+v", a)
	}
	if a := del("?id=2"); a.Disarmed != 1 || len(a.Queue) != 0 {
		t.Errorf("disarm id 2: %+v", a)
	}
	if r := (call{method: http.MethodDelete, path: "/__mock/arm?id=x"}).serve(t, s); r.status != 400 {
		t.Errorf("disarm id x: %d", r.status)
	}
	call{path: "/__mock/clock/advance", body: `{"by":"36h"}`}.serve(t, s)
	c := decodeJSON[ClockState](t, call{path: "/__mock/clock/reset"}.serve(t, s))
	if c.Offset != "0s" {
		t.Errorf("offset after the clock reset = %s, want 0s", c.Offset)
	}
}

// TestWhyCrossSiteCookie: a browser request from a cross-site page that
// arrives without the refresh cookie says why in the journal.
func TestWhyCrossSiteCookie(t *testing.T) {
	t.Parallel()
	cross := map[string]string{"Origin": "http://127.0.0.1:5173", "Sec-Fetch-Site": "cross-site"}
	tests := []struct {
		name     string
		cfg      Config
		header   map[string]string
		cookies  map[string]string
		wantHint bool
	}{
		{"cross-site, Lax, no cookie", Config{}, cross, nil, true},
		{"cross-site, Strict, no cookie", Config{Cookie: CookieConfig{SameSite: http.SameSiteStrictMode}}, cross, nil, true},
		{"cross-site, None", Config{Cookie: CookieConfig{SameSite: http.SameSiteNoneMode}}, cross, nil, false},
		{"same-site, no cookie", Config{}, map[string]string{"Origin": "http://localhost:5173", "Sec-Fetch-Site": "same-site"}, nil, false},
		{"no browser headers", Config{}, nil, nil, false},
		{"cross-site with a cookie", Config{}, cross, map[string]string{"refresh_token": "rt_unknown"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mustServer(t, tc.cfg)
			call{header: tc.header, cookies: tc.cookies}.serve(t, s)
			e := s.journal.last(1)[0]
			if got := strings.Contains(e.Why, "cross-site to the mock") && strings.Contains(e.Why, "--cookie-samesite None"); got != tc.wantHint {
				t.Errorf("why = %q; hint %v, want %v", e.Why, got, tc.wantHint)
			}
		})
	}
}

// FuzzControl sends arbitrary methods, targets and bodies to the control
// API and the panel. It must never panic, answer only the control API's
// statuses, and keep error bodies small JSON (a long input is not echoed
// back whole).
func FuzzControl(f *testing.F) {
	seeds := []struct{ method, target, body string }{
		{"POST", "/__mock/arm", `{"scenario":"rate-limited","count":2,"session":"tab-1","ttl":"30s"}`},
		{"POST", "/__mock/arm", `{"scenario":"rate-limited","count":0}`},
		{"POST", "/__mock/arm", `{"scenario":"` + strings.Repeat("a", 300) + `"}`},
		{"DELETE", "/__mock/arm?scenario=rate-limited&id=1", ""},
		{"GET", "/__mock/journal?since=3&method=POST&status=429&scenario=x&session=y&limit=2", ""},
		{"GET", "/__mock/journal?since=-1&status=%zz", ""},
		{"POST", "/__mock/tokens", `{"subject":"a\u0000b","set_cookie":true}`},
		{"POST", "/__mock/clock/advance", `{"by":"1e9h"}`},
		{"POST", "/__mock/clock/reset", ""},
		{"GET", "/__mock/", ""},
		{"GET", "/__mock/health", ""},
		{"POST", "/__mock/reset", "{"},
		{"GET", "/__mock/journal? HTTP/1.0", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, []byte(s.body))
	}
	srv := mustServer(f, Config{})
	allowed := []int{200, 302, 400, 401, 403, 404, 409, 422}
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		if method != "GET" && method != "POST" && method != "DELETE" {
			return
		}
		// A request line cannot carry a space or a control byte in its
		// target: net/http never hands such a target to a handler.
		if strings.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || !isControlPath(u.Path) {
			return
		}
		req := httptest.NewRequest(method, u.RequestURI(), bytes.NewReader(body))
		req.Host, req.RemoteAddr = "127.0.0.1:8080", "127.0.0.1:40000"
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if !slices.Contains(allowed, rec.Code) {
			t.Fatalf("%s %s -> %d: %.300s", method, target, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e controlError
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s %s -> %d with a body that is not {\"error\"}: %.300s", method, target, rec.Code, rec.Body)
			}
			if rec.Body.Len() > 4<<10 {
				t.Fatalf("%s %s -> %d with a %d-byte error", method, target, rec.Code, rec.Body.Len())
			}
		}
	})
}
