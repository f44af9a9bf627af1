package conformance

import (
	"encoding/base64"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

func TestRedactor(t *testing.T) {
	t.Parallel()
	r := NewRedactor("rt_secret_value_1", "abc") // too short: ignored
	r.LearnHeader(http.Header{
		"Authorization": {"Bearer api-key-123456"},
		"Cookie":        {"refresh_token=rt_cookie_999; theme=dark-mode"},
		"Set-Cookie":    {"refresh_token=rt_issued_777; Path=/auth; HttpOnly"},
		"X-Api-Token":   {"hdr-token-55555"},
		"X-Trace":       {"trace-not-secret"},
	})
	r.LearnJSON([]byte(`{"access_token":"at_json_4444","nested":{"refresh_token":"rt_json_3333","code":"plain_code"},"list":[{"id_token":"idt_2222"}]}`))
	text := "rt_secret_value_1 api-key-123456 rt_cookie_999 rt_issued_777 hdr-token-55555 at_json_4444 rt_json_3333 idt_2222 " +
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl abc trace-not-secret plain_code"
	got := r.String(text)
	for _, secret := range []string{"rt_secret_value_1", "api-key-123456", "rt_cookie_999", "rt_issued_777", "hdr-token-55555", "at_json_4444", "rt_json_3333", "idt_2222", "eyJhbGci"} {
		if strings.Contains(got, secret) {
			t.Errorf("String leaves %q in %q", secret, got)
		}
	}
	for _, kept := range []string{"abc", "trace-not-secret", "plain_code", Fingerprint("rt_cookie_999")} {
		if !strings.Contains(got, kept) {
			t.Errorf("String(%q) = %q, want %q kept", text, got, kept)
		}
	}
	h := r.Header(http.Header{
		"Authorization": {"Bearer never-seen-before"},
		"Cookie":        {"a=1; refresh_token=zzz"},
		"Set-Cookie":    {"refresh_token=new_value_here; Path=/auth; HttpOnly"},
		"X-Session-Id":  {"sess"},
		"Accept":        {"application/json"},
	})
	want := map[string]string{
		"Authorization": "Bearer " + Fingerprint("never-seen-before"),
		"Cookie":        "a=" + Fingerprint("1") + "; refresh_token=" + Fingerprint("zzz"),
		"Set-Cookie":    "refresh_token=" + Fingerprint("new_value_here") + "; Path=/auth; HttpOnly",
		"X-Session-Id":  Fingerprint("sess"),
		"Accept":        "application/json",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("Header %s = %q, want %q", k, h.Get(k), v)
		}
	}
	if fp := Fingerprint("x"); len(fp) != len("sha256:")+8 || fp != Fingerprint("x") {
		t.Errorf("Fingerprint = %q, want a stable sha256:xxxxxxxx", fp)
	}
}

func TestShellArg(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"TOKEN": "rt_live_1234", "OTHER": "rt_live_1234_longer"}
	tests := []struct{ in, want string }{
		{"plain", "'plain'"},
		{"it's", `'it'\''s'`},
		{"refresh_token=rt_live_1234", `"refresh_token=${TOKEN}"`},
		{"a=rt_live_1234_longer; b=rt_live_1234", `"a=${OTHER}; b=${TOKEN}"`},
		{`{"t":"rt_live_1234","$x":"` + "`cmd`" + `"}`, `"{\"t\":\"${TOKEN}\",\"\$x\":\"` + "\\`cmd\\`" + `\"}"`},
	}
	for _, tc := range tests {
		if got := shellArg(tc.in, vars, identity); got != tc.want {
			t.Errorf("shellArg(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	// The shell gives back the original text.
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to check the quoting with")
	}
	for _, tc := range tests {
		out, err := exec.Command("sh", "-c", "printf %s "+tc.want).Output()
		if err != nil {
			t.Fatal(err)
		}
		if exp := strings.NewReplacer("rt_live_1234_longer", "", "rt_live_1234", "").Replace(tc.in); string(out) != exp {
			t.Errorf("sh -c printf %s = %q, want %q (variables unset)", tc.want, out, exp)
		}
	}
}

// TestRedactorLearn: what LearnHeader and LearnJSON take for a secret, and
// what they leave readable.
func TestRedactorLearn(t *testing.T) {
	t.Parallel()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ci-user:Pa55w0rd-Xy"))
	tests := []struct {
		name         string
		header       http.Header
		json         string
		secret, kept []string
	}{
		{name: "bearer", header: http.Header{"Authorization": {"Bearer tok-Q9x7Zk2m"}},
			secret: []string{"tok-Q9x7Zk2m"}, kept: []string{"Bearer"}},
		{name: "basic", header: http.Header{"Authorization": {basic}},
			secret: []string{"ci-user:Pa55w0rd-Xy", "Pa55w0rd-Xy"}, kept: []string{"Basic"}},
		{name: "scheme-less", header: http.Header{"Authorization": {"rawkey-77Qz"}}, secret: []string{"rawkey-77Qz"}},
		{name: "challenge", header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token", error_description="expired"`}},
			kept: []string{`error="invalid_token"`, "expired"}},
		{name: "token_type", json: `{"access_token":"at-Zq8x1Wm3","token_type":"Bearer","token_type_hint":"refresh_token"}`,
			secret: []string{"at-Zq8x1Wm3"}, kept: []string{"Bearer", "refresh_token"}},
	}
	for _, tc := range tests {
		r := NewRedactor()
		r.LearnHeader(tc.header)
		r.LearnJSON([]byte(tc.json))
		for _, s := range tc.secret {
			if got := r.String("x " + s + " y"); got != "x "+Fingerprint(s)+" y" {
				t.Errorf("%s: String(%q) = %q, want it fingerprinted", tc.name, s, got)
			}
		}
		for _, s := range tc.kept {
			if got := r.String("x " + s + " y"); got != "x "+s+" y" {
				t.Errorf("%s: String(%q) = %q, want it kept", tc.name, s, got)
			}
		}
	}
}

// TestRedactorWordLike: a word-like secret is redacted even inside a longer
// word-like run, including one whose windows all belong to another secret,
// while its word-like fragments in ordinary text stay.
func TestRedactorWordLike(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secrets []string
		text    string
		gone    []string
		kept    []string
	}{
		{"run one longer", []string{"aaaaaaaaaa"}, "aaaaaaaaaaa", []string{"aaaaaaaaaa"}, nil},
		{"windows shared", []string{"aaaaaaaaaab", "aaaaaaaaaa"}, "x aaaaaaaaaaa y", []string{"aaaaaaaaaa"}, nil},
		{"words stay", []string{"rt_test_429_rate_limited"}, "you are rate_limited_now", nil, []string{"rate_limited_now"}},
		{"secret in words", []string{"rt_test_429_rate_limited"}, "xrt_test_429_rate_limitedx", []string{"rt_test_429_rate_limited"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewRedactor(tt.secrets...).String(tt.text)
			for _, s := range tt.gone {
				if strings.Contains(got, s) {
					t.Errorf("String(%q) = %q keeps %q", tt.text, got, s)
				}
			}
			for _, s := range tt.kept {
				if !strings.Contains(got, s) {
					t.Errorf("String(%q) = %q, want %q kept", tt.text, got, s)
				}
			}
		})
	}
}
