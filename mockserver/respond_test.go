package mockserver

import (
	"net/http"
	"testing"

	"github.com/refreshmock/refreshmock/scenarios"
)

// TestRefreshCookieMatchesNetHTTP pins the refresh cookie built from the
// attributes rendered once to net/http's own Set-Cookie for every cookie
// configuration and for values that need quoting or are refused.
func TestRefreshCookieMatchesNetHTTP(t *testing.T) {
	configs := []struct {
		name string
		cc   CookieConfig
		tls  bool
	}{
		{name: "defaults"},
		{name: "cross-site", cc: CookieConfig{SameSite: http.SameSiteNoneMode, Domain: "example.test", Path: "/"}},
		{name: "strict secure", cc: CookieConfig{SameSite: http.SameSiteStrictMode, Secure: true, Path: "/auth/refresh"}},
		{name: "tls", tls: true},
	}
	values := []string{
		"rt_0123456789abcdefghijABCDEFGHIJ-_xyz",
		"rt_seed_dev",
		"a.b~c",
		"",
		"with space",
		"comma,value",
		`quote"d`,
		"semi;colon",
		"ünicode",
	}
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			s := mustServer(t, Config{Cookie: tc.cc, TLS: tc.tls})
			for _, v := range values {
				want := s.setCookie(&scenarios.Cookie{Name: RefreshCookie}, v).String()
				if got := s.refreshCookie(v); got != want {
					t.Errorf("refreshCookie(%q) = %q, net/http writes %q", v, got, want)
				}
			}
		})
	}
}
