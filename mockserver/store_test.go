package mockserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/internal/jwt"
)

// control calls the control API in process and decodes its JSON answer.
func control(tb testing.TB, s *Server, method, path, body string) (int, map[string]any) {
	tb.Helper()
	r := call{method: method, path: path, body: body}.serve(tb, s)
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("%s %s: %v: %s", method, path, err, r.body)
	}
	return r.status, m
}

// TestEvictionKeepsLiveTokens: a full store forgets dead tokens (rotated,
// revoked) before valid ones, and health says when valid ones went. The
// issue's case: 20,000 tokens issued, then refreshed newest first; oldest
// first eviction answered 15,000 of them invalid.
func TestEvictionKeepsLiveTokens(t *testing.T) {
	t.Parallel()
	s := mustServer(t, Config{})
	const n = 2 * maxTokens
	toks := make([]string, n)
	for i := range toks {
		toks[i] = s.store.issue("").RefreshToken
	}
	ok := 0
	for i := n - 1; i >= 0; i-- {
		if state, _ := s.store.observe(toks[i]); state != "valid" {
			continue
		}
		if _, err := s.store.rotate(toks[i], true); err != nil {
			t.Fatalf("rotate a valid token: %v", err)
		}
		ok++
	}
	// The first maxTokens were forgotten when the last maxTokens were
	// issued (the seed too); every refresh of a stored one must work.
	if ok != maxTokens {
		t.Errorf("%d of %d refreshes worked, want %d (every token still stored)", ok, n, maxTokens)
	}
	if err := s.store.check(); err != nil {
		t.Fatal(err)
	}
	_, h := control(t, s, http.MethodGet, "/__mock/health", "")
	ts := h["token_store"].(map[string]any)
	if got := ts["live_evicted"].(float64); got != maxTokens+1 {
		t.Errorf("health live_evicted = %v, want %d (the seed and the first issued tokens)", got, maxTokens+1)
	}
	if w, _ := ts["warning"].(string); !strings.Contains(w, "valid refresh tokens were forgotten") {
		t.Errorf("health warning = %q", w)
	}

	// Rotation chains never forget a valid token, however long.
	s2 := mustServer(t, Config{})
	tok := DefaultSeedToken
	for range 3 * maxTokens {
		td, err := s2.store.rotate(tok, true)
		if err != nil {
			t.Fatalf("rotate %s: %v", tok, err)
		}
		tok = td.Refresh
	}
	if h := s2.store.health(); h.LiveEvicted != 0 || h.Evicted != 2*maxTokens+1 || h.Warning != "" {
		t.Errorf("after a long chain: %+v, want %d evicted, none live", h, 2*maxTokens+1)
	}
}

// TestClockBounded: the mock clock's total offset stays within
// MaxClockOffset; advances past it answer 400 and change nothing, so an
// expired token stays expired (three 876000h advances once wrapped the
// clock to 1742 and made it valid again).
func TestClockBounded(t *testing.T) {
	t.Parallel()
	s := mustServer(t, Config{})
	for i, want := range []int{200, 400, 400} {
		st, m := control(t, s, http.MethodPost, "/__mock/clock/advance", `{"by":"876000h"}`)
		if st != want {
			t.Fatalf("advance %d: status %d %v, want %d", i+1, st, m, want)
		}
		if st == 400 && !strings.Contains(m["error"].(string), "the limit is 876000h") {
			t.Errorf("advance %d: error %q does not name the limit", i+1, m["error"])
		}
	}
	if _, off := s.store.clock(); off != MaxClockOffset {
		t.Errorf("offset %s, want %s", off, MaxClockOffset)
	}
	r := call{cookies: map[string]string{RefreshCookie: DefaultSeedToken}}.serve(t, s)
	if r.status != 401 || r.json(t)["code"] != "refresh_token_expired" {
		t.Errorf("seed token 100 years on: %d %s, want 401 refresh_token_expired", r.status, r.body)
	}
	if st, _ := control(t, s, http.MethodPost, "/__mock/reset", ""); st != 200 {
		t.Fatal("reset")
	}
	if _, off := s.store.clock(); off != 0 {
		t.Errorf("offset after reset %s", off)
	}
}

// TestAccessTTLAndClockRule: POST /__mock/config {"access_ttl"} makes the
// next access tokens short-lived without a restart; their iat and exp are
// on the wall clock whatever the mock clock says (the app's expiry logic
// compares them with the browser's clock), and X-Mock-Clock says where the
// mock clock is.
func TestAccessTTLAndClockRule(t *testing.T) {
	t.Parallel()
	wall := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := mustServer(t, Config{})
	refresh := func(tok string) (result, map[string]any) {
		t.Helper()
		r := call{cookies: map[string]string{RefreshCookie: tok}}.serve(t, s)
		if r.status != 200 {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		var claims map[string]any
		payload, err := jwt.Decode(r.json(t)["access_token"].(string))
		if err != nil || json.Unmarshal(payload, &claims) != nil {
			t.Fatalf("access token: %v", err)
		}
		return r, claims
	}
	r, _ := refresh(DefaultSeedToken)
	if r.header.Get(ClockHeader) != "" {
		t.Errorf("X-Mock-Clock %q with the clock not advanced", r.header.Get(ClockHeader))
	}
	if got := r.json(t)["expires_in"]; got != float64(DefaultAccessTTL/time.Second) {
		t.Errorf("expires_in %v before config", got)
	}
	for _, bad := range []string{`{"access_ttl":"0s"}`, `{"access_ttl":"25h"}`, `{"access_ttl":"soon"}`, `{}`} {
		if st, m := control(t, s, http.MethodPost, "/__mock/config", bad); st != 400 {
			t.Errorf("config %s: %d %v, want 400", bad, st, m)
		}
	}
	if st, m := control(t, s, http.MethodPost, "/__mock/config", `{"access_ttl":"30s"}`); st != 200 || m["access_ttl"] != "30s" {
		t.Fatalf("config: %d %v", st, m)
	}
	if st, m := control(t, s, http.MethodPost, "/__mock/clock/advance", `{"by":"15m"}`); st != 200 {
		t.Fatalf("advance: %d %v", st, m)
	}
	tok, _ := r.cookie(RefreshCookie)
	r, claims := refresh(tok.Value)
	if got := r.json(t)["expires_in"]; got != float64(30) {
		t.Errorf("expires_in %v after access_ttl 30s, want 30", got)
	}
	if iat, exp := claims["iat"].(float64), claims["exp"].(float64); iat != float64(wall.Unix()) || exp-iat != 30 {
		t.Errorf("iat %v exp %v, want iat on the wall clock %d and exp 30 s later", iat, exp, wall.Unix())
	}
	if got, want := r.header.Get(ClockHeader), "2026-03-01T12:15:00Z; offset=15m0s"; got != want {
		t.Errorf("X-Mock-Clock %q, want %q", got, want)
	}
	control(t, s, http.MethodPost, "/__mock/reset", "")
	if _, m := control(t, s, http.MethodGet, "/__mock/config", ""); m["access_ttl"] != DefaultAccessTTL.String() {
		t.Errorf("access_ttl after reset %v, want %s", m["access_ttl"], DefaultAccessTTL)
	}
	// The clock header was added to this response's own copy of the
	// scenario's headers (which renders share): gone once the clock is back.
	if r, _ := refresh(DefaultSeedToken); r.header.Get(ClockHeader) != "" || r.header.Get("Pragma") != "no-cache" {
		t.Errorf("after reset: X-Mock-Clock %q, Pragma %q; want none and no-cache", r.header.Get(ClockHeader), r.header.Get("Pragma"))
	}
}
