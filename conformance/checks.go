package conformance

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refreshmock/refreshmock/spec"
	"github.com/tidwall/gjson"
)

// Check ids of the runner's own checks. Spec and envelope findings use the
// rule ids of package spec (response-body-schema, envelope-status-matches,
// ...). The ids are stable: CI configurations refer to them.
const (
	CheckStatusExpected       = "status-expected"
	CheckTransport            = "transport-error"
	CheckResponseTooLarge     = "response-too-large"
	CheckRedirect             = "redirect-cross-origin"
	CheckLatency              = "latency-budget"
	CheckRetryAfter           = "retry-after-valid"
	CheckInternalDetails      = "internal-details-leak"
	CheckCacheControl         = "token-cache-control"
	CheckCookieHTTPOnly       = "cookie-httponly"
	CheckCookieSecure         = "cookie-secure"
	CheckCookieSameSite       = "cookie-samesite"
	CheckCookiePath           = "cookie-path"
	CheckExpiresIn            = "expires-in-jwt"
	CheckTokenEchoed          = "token-echoed"
	CheckAssertion            = "scenario-assertion"
	CheckCapture              = "scenario-capture"
	CheckRotationReuse        = "rotation-reuse-accepted"
	CheckRotationFamily       = "rotation-family-not-revoked"
	CheckRotationNotRotated   = "rotation-not-rotated"
	CheckRaceMultipleSuccess  = "race-multiple-success"
	CheckServerError          = "server-error"
	CheckQueryTokenAccepted   = "query-token-accepted"
	CheckUndocumentedMethodOK = "undocumented-method-accepted"
	CheckAllowMissing         = "method-not-allowed-allow"
	CheckNegativeNotRejected  = "negative-not-rejected"
	CheckInvalidBodyStatus    = "invalid-body-status"
	CheckValidBodyRejected    = "valid-body-rejected"
	CheckBodyTokenIgnored     = "body-token-ignored"
	CheckWWWAuthenticate      = "www-authenticate"
	CheckCodeStable           = "envelope-code-stable"
	CheckFlowPrecondition     = "flow-precondition"
	CheckRunnerPanic          = "runner-panic"
	CheckContentCoding        = "content-coding-accepted"
	CheckBodyDecodable        = "body-decodable"
)

// CheckInfo describes a check: its default severity, what it asserts and
// where that requirement comes from.
type CheckInfo struct {
	ID       string
	Severity Severity
	What     string
	// Ref is the requirement's source: an RFC section, the spec, or
	// "practice" for a recommendation no document makes a MUST.
	Ref string
}

// Checks is the catalogue of every check the runner reports: the one
// place that gives a check its severity. Call sites name only the check;
// [Policy] reads the severity from here (and --strict turns warnings into
// failures when the run is summarised). Spec rules outside this table
// (an unexpected libopenapi finding) are errors.
var Checks = []CheckInfo{
	{CheckStatusExpected, SevError, "the status is the one the case expects", "the case (scenario step or generated case)"},
	{spec.RuleResponseStatus, SevError, "the status is documented for the operation", "spec: responses"},
	{spec.RuleResponseBody, SevError, "the body matches the documented schema (formats asserted)", "spec: response schema"},
	{spec.RuleResponseType, SevError, "the content type is documented", "spec: response content"},
	{spec.RuleResponseHeader, SevError, "documented headers are present and valid", "spec: response headers"},
	{spec.RuleEnvelopeContentType, SevError, "an error body is application/json", "spec: every error response is the ErrorResponse envelope"},
	{spec.RuleEnvelopeJSON, SevError, "an error body is a JSON object", "spec: ErrorResponse"},
	{spec.RuleEnvelopeStatus, SevError, "the envelope's status equals the HTTP status", "spec: ErrorResponse.status is the HTTP status code"},
	{spec.RuleEnvelopeCode, SevWarn, "the envelope's code is listed in x-error-codes for that status (an error only with --spec whose responses carry x-error-codes)", "spec extension x-error-codes"},
	{spec.RuleEnvelopeDetails, SevWarn, "a 422 carries a non-empty details array", "practice: the spec makes details optional"},
	{spec.RuleEnvelopeDetailLoc, SevWarn, "every details[].loc starts with body, cookie, header, query or path", "practice: the spec does not constrain loc"},
	{CheckCodeStable, SevError, "the same request twice gets the same code", "spec: code is a \"stable machine-readable error type\""},
	{CheckTransport, SevError, "a complete response came back in time", "--timeout"},
	{CheckResponseTooLarge, SevError, "the response body stays under the size cap", "--max-response-bytes"},
	{CheckRedirect, SevError, "the target does not redirect to another origin", "credentials stay with the target"},
	{CheckLatency, SevError, "the response came within --max-latency", "--max-latency"},
	{CheckRetryAfter, SevError, "a 429's Retry-After is delay-seconds or an HTTP-date", "RFC 9110 section 10.2.3"},
	{CheckInternalDetails, SevError, "no stack trace, panic or SQL error in the body", "practice (OWASP error handling)"},
	{CheckCacheControl, SevWarn, "a response carrying a token has Cache-Control: no-store", "RFC 6749 section 5.1"},
	{CheckCookieHTTPOnly, SevWarn, "a token cookie is HttpOnly", "practice (RFC 6265 section 4.1.2.6)"},
	{CheckCookieSecure, SevWarn, "a token cookie is Secure", "practice (RFC 6265 section 4.1.2.5)"},
	{CheckCookieSameSite, SevWarn, "a token cookie has SameSite", "practice (RFC 6265bis)"},
	{CheckCookiePath, SevWarn, "a token cookie has a narrow Path (not /)", "practice"},
	{CheckExpiresIn, SevWarn, "expires_in agrees with the access token's exp - iat", "RFC 6749 section 5.1, RFC 7519"},
	{CheckTokenEchoed, SevWarn, "an error body does not echo the token that was sent", "practice"},
	{CheckWWWAuthenticate, SevWarn, "a 401 carries a WWW-Authenticate challenge", "RFC 9110 section 15.5.2 (MUST)"},
	{CheckAssertion, SevError, "a scenario step's assertions hold", "the scenario"},
	{CheckCapture, SevError, "a scenario step's captures are present", "the scenario"},
	{CheckContentCoding, SevWarn, "the body's content coding is one the request accepted (Accept-Encoding: gzip unless a header says otherwise)", "RFC 9110 section 12.5.3 (SHOULD)"},
	{CheckBodyDecodable, SevError, "the body's content coding is one the runner undoes (gzip, deflate), so that the body is checked; a body it cannot read is neither checked nor shown", "the runner (RFC 9110 section 8.4)"},
	{CheckRunnerPanic, SevError, "the runner itself did not fail on the case (a runner bug, reported redacted)", "the runner"},
	{CheckNegativeNotRejected, SevError, "an invalid request is rejected with a documented 4xx", "spec: request schema"},
	{CheckInvalidBodyStatus, SevError, "a body the schema rejects gets a validation status (400 or 422 as documented), not 401/403", "spec: 400 Invalid request, 422 Validation error"},
	{CheckValidBodyRejected, SevError, "a body the schema accepts (null token, extra fields, no body) is not rejected as invalid", "spec: RefreshTokenRequest"},
	{CheckBodyTokenIgnored, SevError, "a live token sent only in the JSON body is accepted", "spec: RefreshTokenRequest.refresh_token, for clients that send no cookie"},
	{CheckRotationReuse, SevError, "a rotated-away refresh token is rejected", "RFC 9700 section 4.14.2"},
	{CheckRotationFamily, SevWarn, "after reuse, the newest token of the family is revoked too", "RFC 9700 section 4.14.2"},
	{CheckRotationNotRotated, SevWarn, "a successful refresh issues a new refresh token", "RFC 9700 section 4.14.2"},
	{CheckRaceMultipleSuccess, SevError, "of parallel refreshes with one token, at most one succeeds", "RFC 9700 section 4.14.2"},
	{CheckServerError, SevError, "no 5xx where the request is the client's fault", "RFC 9110 section 15.6"},
	{CheckQueryTokenAccepted, SevError, "a token in the query string is not accepted", "RFC 6750 section 5.3, RFC 9700 section 4.3"},
	{CheckUndocumentedMethodOK, SevError, "an undocumented method does not succeed", "spec: paths"},
	{CheckAllowMissing, SevError, "a 405 carries an Allow header", "RFC 9110 section 15.5.6 (MUST)"},
	{CheckFlowPrecondition, SevError, "a flow's token was accepted on its first use, so the flow proved something", "the run's inputs"},
}

var checkIndex = func() map[string]CheckInfo {
	m := make(map[string]CheckInfo, len(Checks))
	for _, c := range Checks {
		m[c.ID] = c
	}
	return m
}()

// LookupCheck returns a check's catalogue entry.
func LookupCheck(id string) (CheckInfo, bool) {
	c, ok := checkIndex[id]
	return c, ok
}

// Policy decides the severity of a finding from the catalogue. It is the
// only place severities are decided.
type Policy struct {
	// UserCatalog is set when the spec in use is the user's (--spec) and
	// carries x-error-codes: envelope-code-in-catalog is then an error.
	UserCatalog bool
	// Override sets the severity of individual checks.
	Override map[string]Severity
}

// Severity returns the severity of a check under the policy.
func (p Policy) Severity(check string) Severity {
	if s, ok := p.Override[check]; ok {
		return s
	}
	if check == spec.RuleEnvelopeCode && p.UserCatalog {
		return SevError
	}
	if c, ok := checkIndex[check]; ok {
		return c.Severity
	}
	return SevError
}

// CheckInput is one recorded response with what the case expects of it.
type CheckInput struct {
	Method string
	// Path is the request path relative to the target's base path, so that
	// it matches the spec's paths.
	Path   string
	Status int
	Header http.Header
	Body   []byte
	// Expected lists the acceptable statuses; empty means any.
	Expected []int
	// ExpectedWhy names the expectation in messages, e.g. "a documented 4xx".
	ExpectedWhy string
	// SentTokens are the secrets the request carried (cookie and body
	// values), which an error body must not echo.
	SentTokens []string
	// TokenCookies are the cookie names that carry tokens.
	TokenCookies []string
	Latency      time.Duration
	MaxLatency   time.Duration
	// SkipSpec skips the spec and envelope checks (for requests the spec
	// does not document, such as an undocumented method).
	SkipSpec bool
	// Policy gives each finding its severity.
	Policy Policy
	// Redactor, when set, redacts values before they are shortened for
	// messages (nil: values are shortened as they are).
	Redactor *Redactor
}

// CheckResponse runs every response check against the spec and the
// runner's own rules. It does no I/O. op may be nil when the request does
// not route to a documented operation.
func CheckResponse(sp *spec.Spec, op *spec.Operation, in CheckInput) []Finding {
	var out []Finding
	add := func(f Finding) { out = append(out, f) }
	if len(in.Expected) > 0 && !slices.Contains(in.Expected, in.Status) {
		why := in.ExpectedWhy
		if why == "" {
			why = statusList(in.Expected)
		}
		f := Finding{
			Check:    CheckStatusExpected,
			Message:  fmt.Sprintf("expected status %s, got %d", why, in.Status),
			Expected: statusList(in.Expected), Got: strconv.Itoa(in.Status),
		}
		if op != nil {
			f.SpecPointer = op.Pointer() + "/responses"
		}
		if code := gjson.GetBytes(in.Body, "code"); code.Type == gjson.String {
			f.Message += fmt.Sprintf(" (code %q)", code.Str)
		}
		add(f)
	}
	ct := in.Header.Get("Content-Type")
	if !in.SkipSpec && op != nil {
		req := &http.Request{Method: in.Method, URL: &url.URL{Scheme: "http", Host: "target", Path: in.Path}, Header: http.Header{}}
		for _, v := range sp.ValidateResponse(req, in.Status, in.Header, in.Body) {
			add(fromViolation(v))
		}
		for _, v := range op.CheckEnvelope(in.Status, ct, in.Body) {
			add(fromViolation(v))
		}
	}
	if in.MaxLatency > 0 && in.Latency > in.MaxLatency {
		add(Finding{Check: CheckLatency,
			Message:  fmt.Sprintf("answered in %s, over the --max-latency budget of %s", in.Latency.Round(time.Millisecond), in.MaxLatency),
			Expected: "<= " + in.MaxLatency.String(), Got: in.Latency.Round(time.Millisecond).String()})
	}
	if in.Status == http.StatusTooManyRequests {
		add429(in.Header, in.Redactor, add)
	}
	if f, ok := leak(in.Body); ok {
		add(f)
	}
	if in.Status >= 400 {
		for _, tok := range in.SentTokens {
			// Contains also sees JSON-escaped, percent-encoded, base64 and
			// partial echoes of the token.
			if len(tok) >= 8 && NewRedactor(tok).Contains(string(in.Body)) {
				add(Finding{Check: CheckTokenEchoed, In: "body",
					Message: "the error body echoes the token the request sent (" + Fingerprint(tok) + "); error messages must not repeat credentials",
					Value:   Fingerprint(tok)})
				break
			}
		}
	}
	if in.Status == http.StatusUnauthorized && len(in.Header.Values("WWW-Authenticate")) == 0 {
		add(Finding{Check: CheckWWWAuthenticate, Field: "WWW-Authenticate", In: "header",
			Message:  "a 401 must carry a WWW-Authenticate header with at least one challenge (RFC 9110 section 15.5.2); got none",
			Expected: `a challenge, e.g. WWW-Authenticate: Bearer realm="api", error="invalid_token"`, Got: "absent"})
	}
	if in.Status >= 200 && in.Status < 300 {
		out = append(out, hygiene(in)...)
	}
	for i := range out {
		out[i].Severity = in.Policy.Severity(out[i].Check)
	}
	return out
}

func fromViolation(v spec.Violation) Finding {
	return Finding{
		Check: v.Rule, Message: v.Message,
		Field: v.Field, Value: v.Value, In: v.In,
		SpecPointer: v.SpecPointer, SpecLine: v.SpecLine, HowToFix: v.HowToFix,
	}
}

func statusList(ss []int) string {
	if len(ss) == 1 {
		return strconv.Itoa(ss[0])
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = strconv.Itoa(s)
	}
	return "one of " + strings.Join(parts, ", ")
}

func add429(h http.Header, red *Redactor, add func(Finding)) {
	ra := strings.TrimSpace(h.Get("Retry-After"))
	f := Finding{Check: CheckRetryAfter, Field: "Retry-After", In: "header",
		Expected: "delay-seconds (e.g. 30) or an HTTP-date (RFC 9110 10.2.3)"}
	switch {
	case ra == "":
		f.Message = "a 429 must carry a Retry-After header saying when to retry; got none"
		add(f)
	case isDigits(ra):
		// delay-seconds
	default:
		if _, err := http.ParseTime(ra); err != nil {
			short := red.Shorten(ra, 60)
			f.Message = fmt.Sprintf("Retry-After must be delay-seconds or an HTTP-date, got %q", short)
			f.Value, f.Got = short, short
			add(f)
		}
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// leakPatterns recognise stack traces and internal errors in bodies. A
// pattern runs only when one of its hints (lower case) occurs in the
// lower-cased text, which keeps the common case cheap.
var leakPatterns = []struct {
	what  string
	hints []string
	re    *regexp.Regexp
}{
	{"a Go panic", []string{"panic: ", "goroutine ", "runtime error: ", ".go:"},
		regexp.MustCompile(`panic: |goroutine \d+ \[|runtime error: |\.go:\d+ \+0x`)},
	{"a Python traceback", []string{"traceback (most recent", "file \""},
		regexp.MustCompile(`Traceback \(most recent call last\)|File "[^"]+", line \d+`)},
	{"a Java stack trace", []string{".java:", "exception in thread", "java.lang."},
		regexp.MustCompile(`\bat [\w$.]+\([\w$]+\.java:\d+\)|Exception in thread "|\bjava\.lang\.\w+(Exception|Error)`)},
	{"a .NET stack trace", []string{":line ", "system."},
		regexp.MustCompile(`\bat [\w.<>]+\(.*\) in .+:line \d+|System\.\w+Exception`)},
	{"a Node.js stack trace", []string{"js:"},
		regexp.MustCompile(`\bat .+ \(.+\.[cm]?js:\d+:\d+\)`)},
	{"an SQL error", []string{"sqlstate", "syntax error at or near", "sql syntax", "ora-", "pq: ", "sqlite", "pg::", "psycopg", "violates "},
		regexp.MustCompile(`(?i)SQLSTATE|syntax error at or near|You have an error in your SQL syntax|\bORA-\d{5}\b|\bpq: |sqlite3?\.\w*Error|PG::\w+Error|psycopg2?\.|violates (unique|foreign key|not-null) constraint`)},
}

func leak(body []byte) (Finding, bool) {
	if len(body) == 0 {
		return Finding{}, false
	}
	text := string(body)
	if r := gjson.Parse(text); r.IsObject() {
		// Look at string values (decoded), so that escapes do not hide
		// a trace.
		var sb strings.Builder
		collectText(r, &sb)
		text = sb.String()
	}
	lower := strings.ToLower(text)
	for _, p := range leakPatterns {
		if !slices.ContainsFunc(p.hints, func(h string) bool { return strings.Contains(lower, h) }) {
			continue
		}
		if loc := p.re.FindStringIndex(text); loc != nil {
			start := max(0, loc[0]-20)
			end := min(len(text), loc[1]+40)
			return Finding{Check: CheckInternalDetails, In: "body",
				Message: "the response body reveals internal details (" + p.what + "); answer with the error envelope and log the details server-side",
				Value:   strconv.Quote(text[start:end])}, true
		}
	}
	return Finding{}, false
}

func collectText(r gjson.Result, sb *strings.Builder) {
	switch {
	case r.IsObject() || r.IsArray():
		r.ForEach(func(_, v gjson.Result) bool {
			collectText(v, sb)
			return true
		})
	case r.Type == gjson.String:
		sb.WriteString(r.Str)
		sb.WriteByte('\n')
	}
}

func collectStrings(body []byte, out *[]string) {
	r := gjson.ParseBytes(body)
	var walk func(gjson.Result)
	walk = func(r gjson.Result) {
		switch {
		case r.IsObject() || r.IsArray():
			r.ForEach(func(_, v gjson.Result) bool {
				walk(v)
				return true
			})
		case r.Type == gjson.String:
			*out = append(*out, r.Str)
		}
	}
	walk(r)
}

// isTokenCookie reports whether a cookie carries a token: one of the
// operation's cookie parameters, or a name that says token or session.
func isTokenCookie(name string, known []string) bool {
	if slices.Contains(known, name) {
		return true
	}
	n := strings.ToLower(name)
	return strings.Contains(n, "token") || strings.Contains(n, "session")
}

// hygiene runs the token-hygiene checks on a 2xx response.
func hygiene(in CheckInput) []Finding {
	var out []Finding
	carries := false
	body := gjson.ParseBytes(in.Body)
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if v := body.Get(k); v.Type == gjson.String && v.Str != "" {
			carries = true
		}
	}
	resp := &http.Response{Header: in.Header}
	for _, c := range resp.Cookies() {
		if c.Value == "" || c.MaxAge < 0 || !isTokenCookie(c.Name, in.TokenCookies) {
			continue
		}
		carries = true
		field := "Set-Cookie " + c.Name
		if !c.HttpOnly {
			out = append(out, Finding{Check: CheckCookieHTTPOnly, Field: field, In: "header",
				Message: fmt.Sprintf("cookie %s carries a token but is not HttpOnly; scripts on the page can read it", c.Name), Expected: "HttpOnly", Got: "absent"})
		}
		if !c.Secure {
			out = append(out, Finding{Check: CheckCookieSecure, Field: field, In: "header",
				Message: fmt.Sprintf("cookie %s carries a token but is not Secure; it may travel over plain HTTP (expected on a plain-HTTP loopback target)", c.Name), Expected: "Secure", Got: "absent"})
		}
		if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode {
			out = append(out, Finding{Check: CheckCookieSameSite, Field: field, In: "header",
				Message: fmt.Sprintf("cookie %s carries a token but has no SameSite attribute; set SameSite=Strict or Lax (None only with Secure, for cross-site setups)", c.Name), Expected: "SameSite=Strict|Lax|None", Got: "absent"})
		}
		if c.Path == "" || c.Path == "/" {
			got := c.Path
			if got == "" {
				got = "absent (defaults to the request's directory)"
			}
			out = append(out, Finding{Check: CheckCookiePath, Field: field, In: "header",
				Message:  fmt.Sprintf("cookie %s carries a token but its Path is %s; narrow it to the refresh endpoint (e.g. Path=/auth) so that it is not sent with every request", c.Name, got),
				Expected: "a narrow Path such as /auth", Got: got, Value: c.Path})
		}
	}
	if carries && !strings.Contains(strings.ToLower(in.Header.Get("Cache-Control")), "no-store") {
		got := in.Header.Get("Cache-Control")
		if got == "" {
			got = "absent"
		}
		out = append(out, Finding{Check: CheckCacheControl, Field: "Cache-Control", In: "header",
			Message:  "a response that carries a token must say Cache-Control: no-store (RFC 6749 section 5.1), got " + got,
			Expected: "no-store", Got: got, Value: in.Header.Get("Cache-Control")})
	}
	if f, ok := checkExpiresIn(body); ok {
		out = append(out, f)
	}
	return out
}

// checkExpiresIn compares expires_in with exp - iat of a JWT access token.
func checkExpiresIn(body gjson.Result) (Finding, bool) {
	at, ei := body.Get("access_token"), body.Get("expires_in")
	if at.Type != gjson.String || ei.Type != gjson.Number {
		return Finding{}, false
	}
	claims, ok := jwtClaims(at.Str)
	if !ok {
		return Finding{}, false
	}
	exp, iat := claims.Get("exp"), claims.Get("iat")
	if exp.Type != gjson.Number || iat.Type != gjson.Number {
		return Finding{}, false
	}
	life := exp.Float() - iat.Float()
	tolerance := math.Max(2, life*0.01)
	if math.Abs(ei.Float()-life) <= tolerance {
		return Finding{}, false
	}
	return Finding{Check: CheckExpiresIn, Field: "$.expires_in", In: "body", Value: ei.Raw,
		Message:  fmt.Sprintf("expires_in is %s but the access token lives %g seconds (exp - iat); clients schedule refreshes from expires_in", ei.Raw, life),
		Expected: fmt.Sprintf("%g", life), Got: ei.Raw}, true
}

// jwtClaims decodes the payload of a JWT-shaped string.
func jwtClaims(tok string) (gjson.Result, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return gjson.Result{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil || !json.Valid(payload) {
		return gjson.Result{}, false
	}
	r := gjson.ParseBytes(payload)
	return r, r.IsObject()
}
