package conformance_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/conformance"
)

// FuzzCheckResponse feeds arbitrary statuses, content types and bodies to
// the response checks: they never panic and every finding names its check,
// severity and message.
func FuzzCheckResponse(f *testing.F) {
	f.Add(200, "application/json", `{"access_token":"a","token_type":"bearer","expires_in":900,"organization":null}`, "")
	f.Add(401, "application/json", `{"status":401,"message":"m","code":"refresh_token_expired"}`, "")
	f.Add(422, "application/json", `{"status":422,"message":"m","code":"validation_error","details":[{"loc":[1],"msg":"","type":""}]}`, "")
	f.Add(429, "text/plain", "panic: x\ngoroutine 1 [running]:", "soon")
	f.Add(500, "application/json", `{"status":"500"`, "")
	f.Add(302, "", "", "")
	sp := mustSpec(f)
	op, _ := sp.Operation("refresh_token")
	f.Fuzz(func(t *testing.T, status int, ct, body, retryAfter string) {
		if status < 100 || status > 599 {
			return
		}
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		for _, fd := range conformance.CheckResponse(sp, op, conformance.CheckInput{
			Method: "POST", Path: "/auth/refresh", Status: status, Header: h, Body: []byte(body),
			Expected: []int{200}, SentTokens: []string{"rt_fuzz_token"}, TokenCookies: []string{"refresh_token"},
		}) {
			if fd.Check == "" || fd.Message == "" || (fd.Severity != conformance.SevError && fd.Severity != conformance.SevWarn) {
				t.Fatalf("incomplete finding %+v", fd)
			}
		}
	})
}

var fingerprints = regexp.MustCompile(`sha256:[0-9a-f]{8}`)

// FuzzRedactor checks that a registered secret never survives redaction,
// whatever text surrounds it.
func FuzzRedactor(f *testing.F) {
	f.Add("rt_secret_1234", "before %s after")
	f.Add("abcd", "%s%s")
	f.Add("sha256:zz", "x %s")
	f.Fuzz(func(t *testing.T, secret, text string) {
		secret = strings.TrimSpace(secret)
		if len(secret) < 4 || strings.HasPrefix(secret, "sha256:") || strings.Contains(secret, "\x00") {
			return
		}
		r := conformance.NewRedactor(secret)
		in := strings.ReplaceAll(text, "%s", secret) + secret
		out := r.String(in)
		// Fingerprints may combine with their neighbours into the secret's
		// letters; blank them before looking.
		if rest := fingerprints.ReplaceAllString(out, "\x00"); strings.Contains(rest, secret) {
			t.Fatalf("String(%q) = %q keeps the secret %q", in, out, secret)
		}
	})
}
