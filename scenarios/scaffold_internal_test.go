package scenarios

import "testing"

func TestSlugAndEnvName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, slug, env string }{
		{"Rate limited", "rate-limited", "Rate_limited"},
		{"Internal server error", "internal-server-error", "Internal_server_error"},
		{"  --Weird (chars)! ", "weird-chars", "Weird_chars"},
		{"refresh_token", "refresh-token", "refresh_token"},
	}
	for _, tc := range tests {
		if got := slugify(tc.in); got != tc.slug {
			t.Errorf("slugify(%q) = %q, want %q", tc.in, got, tc.slug)
		}
		if got := envName(tc.in); got != tc.env {
			t.Errorf("envName(%q) = %q, want %q", tc.in, got, tc.env)
		}
	}
}

func TestScaffoldKeepsStringsStrings(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"30", "true", "null", "1.5", "~", "- x", "a: b", "#c", ""} {
		if !plainWouldChange(s) {
			t.Errorf("plainWouldChange(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"no-store", "rate_limited", "Acme Inc"} {
		if plainWouldChange(s) {
			t.Errorf("plainWouldChange(%q) = true, want false", s)
		}
	}
}
