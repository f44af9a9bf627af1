package mockserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// armClock is a test's settable real clock.
func armClock(t *testing.T) (*fakeClock, func(time.Duration)) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return clk, func(d time.Duration) {
		clk.mu.Lock()
		clk.t = clk.t.Add(d)
		clk.mu.Unlock()
	}
}

func decodeJSON[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

// TestArmRequestChecks: what POST /__mock/arm accepts and refuses, and
// what it answers.
func TestArmRequestChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		status    int
		want      string // in the error, or the armed entry's applies_to
		remaining int
		ttl       time.Duration
	}{
		{"count left out is 1", `{"scenario":"rate-limited"}`, 200, "everyone", 1, 10 * time.Minute},
		{"count 0 is refused", `{"scenario":"rate-limited","count":0}`, 400, "count 0 is out of range; use 1 to 1000000", 0, 0},
		{"negative count", `{"scenario":"rate-limited","count":-3}`, 400, "count -3 is out of range", 0, 0},
		{"count above the cap", `{"scenario":"rate-limited","count":1000001}`, 400, "out of range", 0, 0},
		{"count 5 for a session", `{"scenario":"rate-limited","count":5,"session":" tab-1 "}`, 200, "tab-1", 5, 10 * time.Minute},
		{"ttl", `{"scenario":"rate-limited","ttl":"30s"}`, 200, "everyone", 1, 30 * time.Second},
		{"ttl at the cap", `{"scenario":"rate-limited","ttl":"24h"}`, 200, "everyone", 1, 24 * time.Hour},
		{"ttl above the cap", `{"scenario":"rate-limited","ttl":"25h"}`, 400, "ttl 25h0m0s is out of range; use 1s to 24h", 0, 0},
		{"ttl below a second", `{"scenario":"rate-limited","ttl":"10ms"}`, 400, "out of range", 0, 0},
		{"ttl zero", `{"scenario":"rate-limited","ttl":"0s"}`, 400, "not a positive duration", 0, 0},
		{"ttl not a duration", `{"scenario":"rate-limited","ttl":"ten minutes"}`, 400, "not a positive duration", 0, 0},
		{"ttl as a number", `{"scenario":"rate-limited","ttl":600}`, 400, "not the expected JSON", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mustServer(t, Config{})
			r := call{path: "/__mock/arm", body: tc.body}.serve(t, s)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != http.StatusOK {
				if !strings.Contains(string(r.body), tc.want) {
					t.Errorf("error %s, want it to mention %q", r.body, tc.want)
				}
				if n := s.store.armed.len(); n != 0 {
					t.Errorf("%d entries armed by a refused arm", n)
				}
				return
			}
			resp := decodeJSON[ArmResponse](t, r)
			e := resp.Armed
			if e.AppliesTo != tc.want || e.Remaining != tc.remaining || e.ExpiresAt.Sub(e.ArmedAt) != tc.ttl {
				t.Errorf("armed %+v, want applies_to %q, remaining %d, ttl %s", e, tc.want, tc.remaining, tc.ttl)
			}
			if resp.Matches == "" || len(resp.Queue) != 1 {
				t.Errorf("response %s: want matches and a queue of one", r.body)
			}
		})
	}
}

// TestArmExpires: an armed entry is dropped after its ttl of wall-clock
// time, and advancing the mock clock does not expire it.
func TestArmExpires(t *testing.T) {
	t.Parallel()
	clk, wait := armClock(t)
	s := mustServer(t, Config{Now: clk.Now})
	if r := (call{path: "/__mock/arm", body: `{"scenario":"rate-limited","count":3,"ttl":"1m"}`}).serve(t, s); r.status != 200 {
		t.Fatalf("arm: %d %s", r.status, r.body)
	}
	if r := (call{path: "/__mock/clock/advance", body: `{"by":"720h"}`}).serve(t, s); r.status != 200 {
		t.Fatalf("advance: %d %s", r.status, r.body)
	}
	rule := func() string { return call{}.serve(t, s).header.Get("X-Mock-Rule") }
	if got := rule(); got != "armed" {
		t.Fatalf("after a mock-clock advance of 30 days: rule %s, want armed (wall-clock expiry)", got)
	}
	wait(59 * time.Second)
	if got := rule(); got != "armed" {
		t.Fatalf("after 59s: rule %s, want armed", got)
	}
	wait(time.Second)
	if got := rule(); got != "match" {
		t.Errorf("after the 1m ttl: rule %s, want match (expired)", got)
	}
	h := decodeJSON[Health](t, call{method: http.MethodGet, path: "/__mock/health"}.serve(t, s))
	if h.Armed != 0 || len(h.PendingArms) != 0 {
		t.Errorf("health after expiry: armed %d, pending %+v", h.Armed, h.PendingArms)
	}
}

// TestArmSessionDiscoverable: health lists pending arms with their session
// and the sessions requests carried; an arm for a session no request
// carried warns and lists those seen.
func TestArmSessionDiscoverable(t *testing.T) {
	t.Parallel()
	s := mustServer(t, Config{})
	call{header: map[string]string{"X-Mock-Session": "alice"}}.serve(t, s)
	call{cookies: map[string]string{"mock_session": "bob"}}.serve(t, s)
	call{header: map[string]string{"X-Mock-Session": strings.Repeat("x", maxSession+1)}}.serve(t, s)

	ok := decodeJSON[ArmResponse](t, call{path: "/__mock/arm", body: `{"scenario":"internal-error","session":"alice"}`}.serve(t, s))
	if ok.Warning != "" || ok.Armed.AppliesTo != "alice" || !strings.Contains(ok.Matches, `"X-Mock-Session: alice"`) {
		t.Errorf("arm for a session seen: %+v", ok)
	}
	typo := decodeJSON[ArmResponse](t, call{path: "/__mock/arm", body: `{"scenario":"internal-error","session":"alcie"}`}.serve(t, s))
	if !strings.Contains(typo.Warning, `no request has carried session "alcie"`) || !strings.Contains(typo.Warning, `"alice"`) ||
		!strings.Contains(typo.Warning, `"bob"`) || len(typo.SessionsSeen) != 2 {
		t.Errorf("arm for a mistyped session: warning %q, sessions seen %+v", typo.Warning, typo.SessionsSeen)
	}
	all := decodeJSON[ArmResponse](t, call{path: "/__mock/arm", body: `{"scenario":"rate-limited","count":2}`}.serve(t, s))
	if all.Armed.AppliesTo != everyone || all.Warning != "" || !strings.Contains(all.Matches, "every refresh_token request") {
		t.Errorf("arm for everyone: %+v", all)
	}

	// A refresh token given as the session stands for its family.
	iss := decodeJSON[issued](t, call{path: "/__mock/tokens"}.serve(t, s))
	fam := decodeJSON[ArmResponse](t, call{path: "/__mock/arm", body: `{"scenario":"internal-error","session":"` + iss.RefreshToken + `"}`}.serve(t, s))
	if fam.Armed.AppliesTo != iss.Family || fam.Warning != "" || !strings.Contains(fam.Matches, "family "+iss.Family) {
		t.Errorf("arm for a refresh token: %+v", fam)
	}

	h := decodeJSON[Health](t, call{method: http.MethodGet, path: "/__mock/health"}.serve(t, s))
	var got []string
	for _, e := range h.PendingArms {
		got = append(got, e.Scenario+"@"+e.AppliesTo)
	}
	want := "internal-error@alice internal-error@alcie rate-limited@everyone internal-error@" + iss.Family
	if strings.Join(got, " ") != want || h.Armed != 4 {
		t.Errorf("health pending arms = %v (armed %d), want %s", got, h.Armed, want)
	}
	var seen []string
	for _, ss := range h.SessionsSeen {
		seen = append(seen, ss.Session)
	}
	if len(seen) != 2 || !strings.Contains(strings.Join(seen, " "), "alice") || !strings.Contains(strings.Join(seen, " "), "bob") {
		t.Errorf("health sessions seen = %v, want alice and bob (not the over-long one, not families)", seen)
	}
}

// TestSessionsSeenBounded: the remembered sessions stay at
// maxSeenSessions, forgetting the least recently seen.
func TestSessionsSeenBounded(t *testing.T) {
	t.Parallel()
	clk, wait := armClock(t)
	st := newStore(clk.Now, "", time.Minute, time.Hour)
	for i := range 3 * maxSeenSessions {
		wait(time.Millisecond)
		st.sawSessions([]string{"s" + strings.Repeat("x", i%200) + string(rune('a'+i%26))}, "")
	}
	wait(time.Millisecond)
	st.sawSessions([]string{"last", "fam_1"}, "fam_1")
	seen := st.sessionsSeen()
	if len(seen) != maxSeenSessions || seen[0].Session != "last" {
		t.Fatalf("%d sessions seen, first %q; want %d, first \"last\"", len(seen), seen[0].Session, maxSeenSessions)
	}
	for _, ss := range seen {
		if ss.Session == "fam_1" {
			t.Errorf("the request's family was remembered as a session")
		}
	}
}

// TestArmWords: the arm answer's words, without HTTP: who an entry applies
// to, and a warning only for a session given by name and never seen.
func TestArmWords(t *testing.T) {
	t.Parallel()
	until := time.Date(2026, 3, 1, 12, 10, 0, 0, time.UTC)
	entry := func(session string) armedEntry {
		return armedEntry{Scenario: "server-error", Operation: "refreshToken", Remaining: 2, Session: session, ExpiresAt: until}
	}
	tests := []struct {
		name          string
		e             armedEntry
		given         string
		unseen        []seenSession
		matches, warn []string // substrings; warn nil means no warning
	}{
		{name: "everyone", e: entry(""), matches: []string{"every refreshToken request that names no scenario", "2 times", "until 2026-03-01T12:10:00Z"}},
		{name: "token stands for family", e: entry("fam-7"), given: "rt_abc",
			matches: []string{"refresh token of family fam-7", "stands for its family"}},
		{name: "seen session", e: entry("tab-1"), given: " tab-1 ",
			matches: []string{`"X-Mock-Session: tab-1"`, `"mock_session=tab-1"`}},
		{name: "unseen, none seen", e: entry("tab-1"), given: "tab-1", unseen: []seenSession{},
			matches: []string{"tab-1"}, warn: []string{`session "tab-1"`, "no request carried any session yet", "check the spelling"}},
		{name: "unseen, others seen", e: entry("tab-1"), given: "tab-1", unseen: []seenSession{{Session: "tab-2"}, {Session: "tab 3"}},
			matches: []string{"tab-1"}, warn: []string{`sessions seen: "tab-2", "tab 3"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			matches, warn := armWords(tt.e, tt.given, tt.unseen)
			for _, want := range tt.matches {
				if !strings.Contains(matches, want) {
					t.Errorf("matches %q lacks %q", matches, want)
				}
			}
			if tt.warn == nil && warn != "" {
				t.Errorf("unexpected warning %q", warn)
			}
			for _, want := range tt.warn {
				if !strings.Contains(warn, want) {
					t.Errorf("warning %q lacks %q", warn, want)
				}
			}
		})
	}
}
