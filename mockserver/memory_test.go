package mockserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestMemoryFlat serves requests on the rotation path, each one presenting
// the refresh token the previous one was given (so every request issues a
// fresh refresh token and access token, and the store evicts the oldest),
// and checks that the heap in use after GC stays flat once the bounded
// structures are full. The full million runs with REFRESHMOCK_MILLION=1
// (about 30 to 60 s); otherwise 40,000 requests, four times the token
// store's bound.
//
//	REFRESHMOCK_MILLION=1 go test -count=1 -run TestMemoryFlat -v ./mockserver/
func TestMemoryFlat(t *testing.T) {
	total := 40_000
	if os.Getenv("REFRESHMOCK_MILLION") == "1" {
		total = 1_000_000
	} else if testing.Short() {
		total = 3 * maxTokens
	}
	s := mustServer(t, Config{})
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	token := s.store.issue("user_memory").RefreshToken
	body := strings.NewReader("")
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/auth/refresh", body)
	req.RemoteAddr = "127.0.0.1:40000"
	warm := 2 * maxTokens // the store is full and has turned over once
	checkEvery := max((total-warm)/10, 1)
	var base, peak uint64
	for i := range total {
		req.Header = http.Header{"Cookie": {RefreshCookie + "=" + token}}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d: %s", i, rec.Code, rec.Body)
		}
		next := ""
		for _, sc := range rec.Result().Cookies() {
			if sc.Name == RefreshCookie {
				next = sc.Value
			}
		}
		if next == "" || next == token {
			t.Fatalf("request %d: no fresh refresh token (got %q)", i, next)
		}
		token = next
		switch n := i + 1; {
		case n == warm:
			base = heap()
			t.Logf("%8d requests: HeapInuse %.1f MB (baseline)", n, mb(base))
		case n > warm && (n-warm)%checkEvery == 0:
			h := heap()
			peak = max(peak, h)
			t.Logf("%8d requests: HeapInuse %.1f MB", n, mb(h))
		}
	}
	tokens, families, _ := s.store.counts()
	t.Logf("store: %d tokens, %d families; journal %d entries", tokens, families, len(s.journal.last(0)))
	if tokens > maxTokens {
		t.Errorf("store holds %d tokens", tokens)
	}
	// Flat: the heap after GC never grows by more than a quarter of the
	// baseline plus 4 MB (GC and allocator noise) after the warm-up.
	if limit := base + base/4 + 4<<20; peak > limit {
		t.Errorf("heap grew from %.1f MB to %.1f MB (limit %.1f MB)", mb(base), mb(peak), mb(limit))
	}
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// TestAppendClaimsMatchesJSON: the reflection-free claims encoder of the
// rotation path writes what encoding/json writes.
func TestAppendClaimsMatchesJSON(t *testing.T) {
	for _, sub := range []string{"user_ab12", "", `a"b\c`, "<script>&", "ünïcode", "tab\tnl\n\x00", "\u2028", "bad\xffutf8"} {
		c := accessClaims{Sub: sub, Sid: "fam_" + sub, Iat: 1700000000, Exp: -5, Jti: "j"}
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendClaims(nil, c)
		if err != nil || string(got) != string(want) {
			t.Errorf("appendClaims(%q) = %s (%v), want %s", sub, got, err, want)
		}
	}
}
