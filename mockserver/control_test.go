package mockserver

import (
	"bufio"
	"net"
	"net/http"
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
