package mockserver

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// FuzzRequest sends arbitrary methods, paths, headers and bodies through
// the whole engine. It must never panic, a request that routes to the
// operation must get a status the operation documents (or the status of a
// scenario that opts in with allow_undocumented_status), with the envelope
// rules kept for errors, and anything else only 204 (preflight), 403 or 404
// (the control API answers its own statuses).
func FuzzRequest(f *testing.F) {
	seeds := []struct{ method, path, header, value, cookie, body string }{
		{"POST", "/auth/refresh", "Content-Type", "application/json", "rt_seed_dev", `{"refresh_token":"rt_seed_dev"}`},
		{"POST", "/auth/refresh", "Content-Type", "application/json", "", `{"refresh_token": 1}`},
		{"POST", "/auth/refresh", "Content-Type", "application/json", "", `{"refresh_token": `},
		{"POST", "/auth/refresh", "Content-Type", "text/plain", "", "hello"},
		{"POST", "/auth/refresh", "X-Mock-Scenario", "rate-limited", "", ""},
		{"POST", "/auth/refresh", "Prefer", "code=418", "", ""},
		{"POST", "/auth/refresh", "Prefer", "code=422", "", ""},
		{"POST", "/auth/refresh/", "Content-Type", "application/json; charset=utf-8", "rt_test_404_org_not_found", `{}`},
		{"GET", "/auth/refresh", "Origin", "http://localhost:5173", "", ""},
		{"OPTIONS", "/auth/refresh", "Access-Control-Request-Method", "POST", "", ""},
		{"DELETE", "/nope", "", "", "", "\x00\xff"},
		{"POST", "/__mock/arm", "Content-Type", "application/json", "", `{"scenario":"internal-error"}`},
		{"POST", "/auth/refresh", "Cookie", "a=1; refresh_token=rt_test_401_expired; a=2", "rt_test_429_rate_limited", `{"refresh_token":"rt_seed_dev"}`},
		{"POST", "/auth/refresh", "Content-Length", "99999999", "rt_seed_dev", strings.Repeat("x", 5000)},
		{"POST", "/auth/refresh?refresh_token=rt_seed_dev&x=%zz", "X-Mock-Session", "s1", "", `{"refresh_token":"rt_seed_dev","extra":[1,{"a":null}]}`},
		{"PUT", "/auth/refresh", "Content-Type", "application/json", "", `[]`},
		{"POST", "/auth//refresh/../refresh", "Content-Type", "application/x-www-form-urlencoded", "", "refresh_token=rt_seed_dev"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.header, s.value, s.cookie, []byte(s.body))
	}
	srv := mustServer(f, Config{MaxBody: 4096})
	sp := mustSpec(f)
	op, _ := sp.Operation("refresh_token")
	f.Fuzz(func(t *testing.T, method, path, header, value, cookie string, body []byte) {
		if !httpguts.ValidHeaderFieldName(method) || !strings.HasPrefix(path, "/") {
			return
		}
		u, err := url.ParseRequestURI(path)
		if err != nil {
			return
		}
		req := httptest.NewRequest(method, "http://127.0.0.1:8080/", strings.NewReader(string(body)))
		req.URL = u
		req.RequestURI = u.RequestURI()
		req.RemoteAddr = "127.0.0.1:40000"
		if httpguts.ValidHeaderFieldName(header) && httpguts.ValidHeaderFieldValue(value) {
			req.Header.Set(header, value)
		}
		if cookie != "" && httpguts.ValidHeaderFieldValue(cookie) && !strings.ContainsAny(cookie, ";\"") {
			req.Header.Add("Cookie", "refresh_token="+cookie)
		}
		// Keep delays out of the fuzz loop: the delaying scenario is covered
		// elsewhere.
		if strings.Contains(value, "gateway-timeout") || strings.Contains(value, "504") {
			return
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		status := rec.Code
		if isControlPath(u.Path) {
			return
		}
		routed, _, _ := srv.route(method, u.Path)
		preflight := method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" && req.Header.Get("Origin") != ""
		switch {
		case routed != nil && !preflight:
			optIn := false
			if sc, ok := srv.Scenarios().Get(rec.Header().Get("X-Mock-Scenario-Used")); ok {
				optIn = sc.Response.AllowUndocumentedStatus && sc.Response.Status == status
			}
			if !op.Documents(status) && !optIn {
				t.Fatalf("%s %s -> undocumented status %d: %s", method, path, status, rec.Body.Bytes())
			}
			if vs := op.CheckEnvelope(status, rec.Header().Get("Content-Type"), rec.Body.Bytes()); len(vs) > 0 {
				t.Fatalf("%s %s -> %d breaks the envelope: %v", method, path, status, vs)
			}
		default:
			if !slices.Contains([]int{204, 403, 404}, status) {
				t.Fatalf("%s %s (not an operation) -> %d: %s", method, path, status, rec.Body.Bytes())
			}
		}
	})
}

// FuzzCookieMap: cookieMap reads the Cookie header lines (one per line of
// the input) exactly as r.Cookies() does, into a new map or a recycled one.
func FuzzCookieMap(f *testing.F) {
	for _, s := range []string{"", "refresh_token=rt_a", "a=1; b=2;c=\"3\"", " a = 1 ;; a=2", "x=\"\"; y=\"; z=a\\b",
		"bad name=1; ok=é", "a=1\nb=2; a=3", "=v; n=", "\"q\"=1; t=\"a b\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if s != "" {
			r.Header["Cookie"] = strings.Split(s, "\n")
		}
		want := cookieMapOf(r.Cookies())
		if got := cookieMap(r, nil); !maps.Equal(got, want) {
			t.Fatalf("cookieMap(%q) = %q, r.Cookies() gives %q", s, got, want)
		}
		// A recycled map (recycleRequest) gives the same.
		reused := map[string]string{"stale": "1", "a": "old"}
		clear(reused)
		if got := cookieMap(r, reused); !maps.Equal(got, want) {
			t.Fatalf("cookieMap(%q) into a recycled map = %q, r.Cookies() gives %q", s, got, want)
		}
	})
}
