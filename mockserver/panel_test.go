package mockserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPanelServed: the panel's files are embedded and served behind the
// control API's guard, with headers that keep them out of frames and to
// their own origin.
func TestPanelServed(t *testing.T) {
	t.Parallel()
	open := mustServer(t, Config{})
	locked := mustServer(t, Config{ControlToken: "s3cret"})
	get := func(s *Server, path, remote, host string, header map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr, req.Host = remote, host
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	tests := []struct {
		name         string
		s            *Server
		path         string
		remote, host string
		header       map[string]string
		status       int
		typ          string
	}{
		{"page", open, "/__mock/", "127.0.0.1:5000", "localhost:8080", nil, 200, "text/html; charset=utf-8"},
		{"script", open, "/__mock/panel.js", "127.0.0.1:5000", "localhost:8080", nil, 200, "text/javascript; charset=utf-8"},
		{"style", open, "/__mock/panel.css", "[::1]:5000", "[::1]:8080", nil, 200, "text/css; charset=utf-8"},
		{"without the slash", open, "/__mock", "127.0.0.1:5000", "localhost:8080", nil, 302, ""},
		{"DNS rebinding", open, "/__mock/", "127.0.0.1:5000", "evil.test:8080", nil, 403, ""},
		{"remote client", open, "/__mock/", "192.0.2.7:5000", "localhost:8080", nil, 403, ""},
		{"fetched by another origin", open, "/__mock/", "127.0.0.1:5000", "localhost:8080", map[string]string{"Origin": "http://localhost:5173"}, 403, ""},
		{"framed cross-site", open, "/__mock/", "127.0.0.1:5000", "localhost:8080", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, ""},
		{"token mode: the page, without the token", locked, "/__mock/", "192.0.2.7:5000", "mock.lan:8080", nil, 200, "text/html; charset=utf-8"},
		{"token mode: the API, without the token", locked, "/__mock/health", "192.0.2.7:5000", "mock.lan:8080", nil, 401, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := get(tc.s, tc.path, tc.remote, tc.host, tc.header)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %.200s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != 200 {
				return
			}
			h := rec.Header()
			if h.Get("Content-Type") != tc.typ || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
				h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v", h)
			}
		})
	}
}

// TestPanelUsesPublicAPIOnly: every path the panel's script calls is a
// control API endpoint this server lists.
func TestPanelUsesPublicAPIOnly(t *testing.T) {
	t.Parallel()
	js, err := panelFiles.ReadFile("panel/panel.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"/scenarios"`, `"/arm"`, `"/journal?since="`, `"/clock"`, `"/clock/advance"`, `"/clock/reset"`, `"/tokens"`, `"/reset"`, `"/health"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("panel.js does not call %s", want)
		}
		path := strings.Trim(want, `"`)
		path, _, _ = strings.Cut(path, "?")
		found := false
		for _, e := range controlEndpoints {
			found = found || strings.HasSuffix(e, ControlPrefix+path)
		}
		if !found {
			t.Errorf("panel.js calls %s, which is not in the control API's endpoint list", path)
		}
	}
	if strings.Contains(string(js), "http://") || strings.Contains(string(js), "https://") {
		t.Errorf("panel.js names an absolute URL; it must call its own origin only")
	}
}
