package mockserver

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
)

// testToken returns the test token a scenario's match rules look for in
// the refresh_token cookie, if any.
func testToken(sc *scenarios.Scenario) string {
	if sc.Match == nil {
		return ""
	}
	for _, alt := range sc.Match.Any {
		if c, ok := alt.Cookies["refresh_token"]; ok && c.Op == "equals" {
			return c.Operand
		}
	}
	return ""
}

// TestShippedScenariosEndToEnd selects every shipped scenario on a real
// listening server, by name and, for test tokens, through its match rules
// with the token in the cookie and in the body. Every answer must have the
// scripted status, validate against the spec and keep the envelope rules.
func TestShippedScenariosEndToEnd(t *testing.T) {
	sp := mustSpec(t)
	set := mustShipped(t)
	s := mustServer(t, Config{Scenarios: set})
	ts := mustListen(t, s)
	for _, sc := range set.All() {
		calls := map[string]call{
			"explicit": {header: map[string]string{"X-Mock-Scenario": sc.Name}, cookies: map[string]string{"refresh_token": "rt_test_explicit"}},
			"prefer":   {header: map[string]string{"Prefer": "example=" + sc.Name}},
		}
		if tok := testToken(sc); tok != "" {
			calls["cookie"] = call{cookies: map[string]string{"refresh_token": tok}}
			calls["body"] = call{body: `{"refresh_token":"` + tok + `"}`}
		}
		for how, c := range calls {
			t.Run(sc.Name+"/"+how, func(t *testing.T) {
				r := c.do(t, ts)
				if got, want := r.status, sc.Response.Status; got != want {
					t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
				}
				if got := r.header.Get("X-Mock-Scenario-Used"); got != sc.Name {
					t.Errorf("X-Mock-Scenario-Used = %q, want %q", got, sc.Name)
				}
				wantRule := "explicit"
				if how == "cookie" || how == "body" {
					wantRule = "match"
				}
				if got := r.header.Get("X-Mock-Rule"); got != wantRule {
					t.Errorf("X-Mock-Rule = %q, want %q", got, wantRule)
				}
				checkContract(t, sp, r)
				if body, ok := sc.Response.Body.(map[string]any); ok {
					if got := r.json(t)["code"]; got != body["code"] {
						t.Errorf("code = %v, want %v", got, body["code"])
					}
				}
			})
		}
	}
}

func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not header.payload.signature", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("payload: %v", err)
	}
	return m
}

// TestRotationAndReuse walks a refresh-token family through rotation,
// reuse (which revokes the family), expiry on the mock clock, and the
// missing and invalid states.
func TestRotationAndReuse(t *testing.T) {
	sp := mustSpec(t)
	s := mustServer(t, Config{AccessTTL: 30 * time.Second})
	ts := mustListen(t, s)
	cookie := func(tok string) call { return call{cookies: map[string]string{"refresh_token": tok}} }

	first := cookie(DefaultSeedToken).do(t, ts)
	checkContract(t, sp, first)
	if first.status != http.StatusOK {
		t.Fatalf("seed token: status %d, body %s", first.status, first.body)
	}
	rc, ok := first.cookie("refresh_token")
	if !ok {
		t.Fatalf("no refresh_token Set-Cookie in %v", first.header)
	}
	if rc.Value == DefaultSeedToken || !strings.HasPrefix(rc.Value, "rt_") || !rc.HttpOnly || rc.SameSite != http.SameSiteLaxMode || rc.Path != "/auth" || rc.Secure {
		t.Errorf("rotated cookie = %+v; want a new rt_ value, HttpOnly, SameSite=Lax, Path=/auth, not Secure over http", rc)
	}
	if got := first.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	body := first.json(t)
	if got := body["expires_in"]; got != float64(30) {
		t.Errorf("expires_in = %v, want 30 (--access-ttl)", got)
	}
	claims := jwtClaims(t, body["access_token"].(string))
	if claims["sub"] != "user_dev" || claims["exp"].(float64)-claims["iat"].(float64) != 30 {
		t.Errorf("claims = %v, want sub user_dev and exp = iat + 30", claims)
	}

	// The rotated token works once more; the seed is now reused.
	second := cookie(rc.Value).do(t, ts)
	if second.status != http.StatusOK {
		t.Fatalf("rotated token: status %d, body %s", second.status, second.body)
	}
	latest, _ := second.cookie("refresh_token")

	steps := []struct {
		name string
		c    call
		code string
	}{
		{"reuse the seed", cookie(DefaultSeedToken), "refresh_token_reused"},
		{"newest token of the revoked family", cookie(latest.Value), "refresh_token_revoked"},
		{"reuse again, in the body", call{body: `{"refresh_token":"` + DefaultSeedToken + `"}`}, "refresh_token_reused"},
		{"no token", call{}, "refresh_token_missing"},
		{"a token nobody issued", cookie("rt_never_issued"), "refresh_token_invalid"},
	}
	for _, st := range steps {
		r := st.c.do(t, ts)
		checkContract(t, sp, r)
		if got := r.json(t)["code"]; got != st.code {
			t.Errorf("%s: code = %v, want %s (status %d)", st.name, got, st.code, r.status)
		}
	}

	// A fresh family from the control API expires when the clock passes
	// the refresh TTL.
	var iss issued
	ctl := call{path: "/__mock/tokens", body: `{"subject":"user_x"}`}.do(t, ts)
	if err := json.Unmarshal(ctl.body, &iss); err != nil || ctl.status != http.StatusOK {
		t.Fatalf("POST /__mock/tokens: %d %s", ctl.status, ctl.body)
	}
	adv := call{path: "/__mock/clock/advance", body: `{"by":"721h"}`}.do(t, ts)
	if adv.status != http.StatusOK {
		t.Fatalf("advance: %d %s", adv.status, adv.body)
	}
	r := cookie(iss.RefreshToken).do(t, ts)
	checkContract(t, sp, r)
	if got := r.json(t)["code"]; got != "refresh_token_expired" {
		t.Errorf("after advancing past the refresh TTL: code = %v, want refresh_token_expired", got)
	}

	// Reset seeds the starting token again.
	call{path: "/__mock/reset"}.do(t, ts)
	if r := cookie(DefaultSeedToken).do(t, ts); r.status != http.StatusOK {
		t.Errorf("seed after reset: status %d, body %s", r.status, r.body)
	}
}
