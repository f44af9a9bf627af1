package mockserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// controlWrites are the control API's state-changing endpoints, each with
// a body that would change the state if accepted.
var controlWrites = []struct{ method, path, body string }{
	{http.MethodPost, "/__mock/arm", `{"scenario":"internal-error","count":5}`},
	{http.MethodDelete, "/__mock/arm", ""},
	{http.MethodPost, "/__mock/reset", ""},
	{http.MethodPost, "/__mock/clock/advance", `{"by":"720h"}`},
	{http.MethodPost, "/__mock/tokens", `{"subject":"attacker","set_cookie":true}`},
	{http.MethodPost, "/__mock/reload", ""},
}

// mockState is what a control request could change.
type mockState struct {
	tokens, families, armed int
	offset                  string
	seed                    string
}

func stateOf(s *Server) mockState {
	tokens, families, armed := s.store.counts()
	_, off := s.store.clock()
	seed, _ := s.store.observe(DefaultSeedToken)
	return mockState{tokens, families, armed, off.String(), seed}
}

// attack is a request shape a hostile page or network peer can produce.
type attack struct {
	name        string
	remote      string
	host        string
	contentType string
	header      map[string]string
}

// TestControlAPICSRF: a page of another origin cannot drive the control
// API, whatever content type it uses to avoid a preflight (text/plain,
// form, multipart), nor through a preflight; the refused requests change
// nothing and get no CORS headers a browser would honour.
func TestControlAPICSRF(t *testing.T) {
	attacks := []attack{
		{name: "text/plain from evil", contentType: "text/plain", header: map[string]string{"Origin": "http://evil.example"}},
		{name: "form from evil", contentType: "application/x-www-form-urlencoded", header: map[string]string{"Origin": "http://evil.example"}},
		{name: "multipart from evil", contentType: "multipart/form-data; boundary=x", header: map[string]string{"Origin": "http://evil.example"}},
		{name: "json from evil", contentType: "application/json", header: map[string]string{"Origin": "http://evil.example"}},
		{name: "from an allowed CORS origin", contentType: "text/plain", header: map[string]string{"Origin": "http://localhost:5173"}},
		{name: "null origin (sandboxed iframe, file:)", contentType: "text/plain", header: map[string]string{"Origin": "null"}},
		{name: "same host other port", contentType: "text/plain", header: map[string]string{"Origin": "http://127.0.0.1:8081"}},
		{name: "cross-site without Origin", contentType: "text/plain", header: map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{name: "same-site without Origin", contentType: "text/plain", header: map[string]string{"Sec-Fetch-Site": "same-site"}},
	}
	s := mustServer(t, Config{})
	for _, w := range controlWrites {
		for _, a := range attacks {
			t.Run(w.method+" "+w.path+"/"+a.name, func(t *testing.T) {
				before := stateOf(s)
				rec := sendControl(s, w.method, w.path, w.body, a)
				if rec.Code != http.StatusForbidden {
					t.Errorf("status %d, want 403: %s", rec.Code, rec.Body)
				}
				if acao := rec.Header().Get("Access-Control-Allow-Origin"); acao != "" {
					t.Errorf("refused answer carries Access-Control-Allow-Origin %q", acao)
				}
				if sc := rec.Header().Get("Set-Cookie"); sc != "" {
					t.Errorf("refused answer sets a cookie: %s", sc)
				}
				if after := stateOf(s); after != before {
					t.Errorf("refused request changed the mock: %+v -> %+v", before, after)
				}
			})
		}
		t.Run(w.method+" "+w.path+"/preflight", func(t *testing.T) {
			for _, origin := range []string{"http://evil.example", "http://localhost:5173"} {
				pre := attack{header: map[string]string{"Origin": origin, "Access-Control-Request-Method": w.method,
					"Access-Control-Request-Headers": "content-type"}}
				rec := sendControl(s, http.MethodOptions, w.path, "", pre)
				if rec.Code < 400 || rec.Header().Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("preflight from %s: status %d, ACAO %q: a browser would send the request", origin, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
				}
			}
		})
	}
	// The same requests without the hostile headers work: the guard, not
	// the request shape, refused them.
	before := stateOf(s)
	if rec := sendControl(s, http.MethodPost, "/__mock/arm", `{"scenario":"internal-error"}`, attack{contentType: "text/plain"}); rec.Code != http.StatusOK {
		t.Fatalf("arm from a terminal: %d %s", rec.Code, rec.Body)
	}
	if rec := sendControl(s, http.MethodPost, "/__mock/clock/advance", `{"by":"1h"}`,
		attack{contentType: "application/json", header: map[string]string{"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}}); rec.Code != http.StatusOK {
		t.Fatalf("advance from the mock's own origin: %d %s", rec.Code, rec.Body)
	}
	if after := stateOf(s); after.armed != before.armed+1 || after.offset == before.offset {
		t.Errorf("accepted requests had no effect: %+v -> %+v", before, after)
	}
}

// TestControlAPINetwork: without a control token only loopback clients
// naming a loopback host are served (no DNS rebinding); with a token, only
// requests carrying it, from anywhere.
func TestControlAPINetwork(t *testing.T) {
	open := mustServer(t, Config{})
	locked := mustServer(t, Config{ControlToken: "s3cret-token"})
	refusedOpen := []attack{
		{name: "LAN client", remote: "192.168.1.20:5000"},
		{name: "public client", remote: "203.0.113.9:443"},
		{name: "IPv6 client", remote: "[2001:db8::1]:5000"},
		{name: "LAN client naming localhost", remote: "10.0.0.5:5000", host: "localhost:8080"},
		{name: "DNS rebinding", host: "evil.example:8080"},
		{name: "DNS rebinding without port", host: "evil.example"},
		{name: "localhost lookalike", host: "localhost.evil.example:8080"},
		{name: "loopback prefix lookalike", host: "127.0.0.1.evil.example:8080"},
		{name: "LAN address as Host", host: "192.168.1.20:8080"},
		{name: "forwarded-for loopback", remote: "192.168.1.20:5000", header: map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"}},
	}
	refusedLocked := []attack{
		{name: "no token, loopback", header: nil},
		{name: "no token, network", remote: "192.168.1.20:5000", host: "mock.lan:8080"},
		{name: "wrong token", header: map[string]string{"Authorization": "Bearer s3cret-tokex"}},
		{name: "token prefix", header: map[string]string{"Authorization": "Bearer s3cret"}},
		{name: "basic auth", header: map[string]string{"Authorization": "Basic czNjcmV0LXRva2Vu"}},
		{name: "token without scheme", header: map[string]string{"Authorization": "s3cret-token"}},
		{name: "token in a cookie", header: map[string]string{"Cookie": "token=s3cret-token"}},
	}
	for _, tc := range []struct {
		name    string
		s       *Server
		attacks []attack
		status  int
	}{{"no token", open, refusedOpen, http.StatusForbidden}, {"token", locked, refusedLocked, http.StatusUnauthorized}} {
		for _, w := range controlWrites {
			for _, a := range tc.attacks {
				t.Run(tc.name+"/"+w.method+" "+w.path+"/"+a.name, func(t *testing.T) {
					before := stateOf(tc.s)
					a.contentType = "application/json"
					rec := sendControl(tc.s, w.method, w.path, w.body, a)
					if rec.Code != tc.status {
						t.Errorf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
					}
					if after := stateOf(tc.s); after != before {
						t.Errorf("refused request changed the mock: %+v -> %+v", before, after)
					}
				})
			}
		}
		// Reading is refused the same way: the journal holds tokens.
		for _, a := range tc.attacks {
			if rec := sendControl(tc.s, http.MethodGet, "/__mock/journal", "", a); rec.Code != tc.status {
				t.Errorf("%s: GET journal %s: %d, want %d", tc.name, a.name, rec.Code, tc.status)
			}
		}
	}
	// With the token, a network client is served.
	rec := sendControl(locked, http.MethodPost, "/__mock/arm", `{"scenario":"internal-error"}`,
		attack{remote: "192.168.1.20:5000", host: "mock.lan:8080", contentType: "application/json", header: map[string]string{"Authorization": "Bearer s3cret-token"}})
	if rec.Code != http.StatusOK {
		t.Fatalf("arm with the token from the network: %d %s", rec.Code, rec.Body)
	}
	// The mocked API itself stays open to the network: only the control
	// API is guarded.
	rec = sendControl(open, http.MethodPost, "/auth/refresh", `{"refresh_token":"rt_test_429_rate_limited"}`,
		attack{remote: "192.168.1.20:5000", host: "evil.example:8080", contentType: "application/json"})
	if rec.Code != http.StatusTooManyRequests {
		t.Errorf("API from the network: %d %s", rec.Code, rec.Body)
	}
}

// sendControl sends one request in process. Remote and host default to
// loopback.
func sendControl(s *Server, method, path, body string, a attack) *httptest.ResponseRecorder {
	// Origin-form, as a browser or curl sends it: an absolute-form target
	// is refused by the control API.
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = "127.0.0.1:8080"
	req.RemoteAddr = "127.0.0.1:40000"
	if a.remote != "" {
		req.RemoteAddr = a.remote
	}
	if a.host != "" {
		req.Host = a.host
	}
	if a.contentType != "" && body != "" {
		req.Header.Set("Content-Type", a.contentType)
	}
	for k, v := range a.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}
