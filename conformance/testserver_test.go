package conformance_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
)

// defect is a way in which the test implementation departs from the
// contract. The defect-free implementation keeps every rule the runner
// checks, so that each defect alone is what the runner must find.
type defect string

const (
	// envelope
	defEnvelopeStatus    defect = "envelope-status-mismatch" // error body status differs from the HTTP status
	defEnvelopeCode      defect = "envelope-code-unknown"    // 401 code not in the catalog
	defEnvelopePlainText defect = "envelope-plain-text"      // errors as text/plain
	defEnvelopeNo422     defect = "envelope-422-no-details"  // 422 without details
	// schema
	defSchemaNoTokenType defect = "schema-missing-token-type"
	defSchemaBadUUID     defect = "schema-bad-uuid"
	// status
	defMissingIs403         defect = "status-missing-token-403"   // no token answers 403 instead of 401
	defWrongTypeIs500       defect = "status-wrong-type-500"      // wrong JSON type crashes
	defContentTypeUndocumnt defect = "status-content-type-415"    // wrong content type answers 415 (undocumented)
	defOversized500         defect = "robustness-oversized-500"   // oversized body crashes
	defMalformedStack       defect = "robustness-malformed-stack" // malformed JSON answers 500 with a Go panic
	// headers
	defNoCacheControl defect = "header-no-cache-control"
	defNoRetryAfter   defect = "header-no-retry-after"
	defCookieNoHTTP   defect = "header-cookie-not-httponly"
	defCookiePathRoot defect = "header-cookie-path-root"
	defExpiresIn      defect = "header-expires-in-mismatch"
	// security
	defEchoToken     defect = "security-echo-token"
	defStackTrace    defect = "security-stack-trace"
	defQueryToken    defect = "security-query-token"
	defAnyMethod     defect = "security-any-method"
	defCrossRedirect defect = "security-cross-origin-redirect"
	// robustness
	defSlow      defect = "robustness-slow"
	defHugeReply defect = "robustness-huge-response"
	// rotation
	defReuseAccepted defect = "rotation-reuse-accepted"
	defFamilyKept    defect = "rotation-family-kept"
	defNoRotation    defect = "rotation-none"
	defRace          defect = "rotation-race"
	// blind spots of the first runner (issue 9)
	defNoWWWAuth        defect = "header-401-no-www-authenticate"
	defNoAllow          defect = "header-405-no-allow"
	defMethodEnvelope   defect = "envelope-405-bad-json"      // JSON 405 whose envelope status is wrong
	defBodyTokenIgnored defect = "body-token-ignored"         // the JSON body's refresh_token is never read
	defNullRejected     defect = "valid-null-token-rejected"  // {"refresh_token": null} answers 422
	defExtraRejected    defect = "valid-extra-field-rejected" // unknown fields answer 422
	defInvalidIs401     defect = "invalid-body-401"           // a wrong JSON type answers 401, not a validation status
	defCodeUnstable     defect = "envelope-code-unstable"     // the no-token code changes from one request to the next
	defNoOrgBreaksBody  defect = "schema-no-org-user-breaks"  // a user without an organization gets organization: {}
)

// tokNoOrg belongs to a user without an organization.
const tokNoOrg = "rt_testimpl_noorg_user_0500"

// Test tokens of the test implementation.
const (
	tokExpired   = "rt_testimpl_expired_0001"
	tokRateLimit = "rt_testimpl_rate_limited_0002"
	tokServerErr = "rt_testimpl_server_error_0003"
)

type tokenState struct {
	family string
	used   bool
}

// testImpl is a small implementation of POST /auth/refresh written for the
// tests, with switchable defects.
type testImpl struct {
	defects map[defect]bool

	mu       sync.Mutex
	tokens   map[string]*tokenState
	revoked  map[string]bool // families
	issued   []string        // every token and access token handed out
	seq      int
	seen     map[string]int // defCodeUnstable: how often each request came
	redirect string
}

func newTestImpl(tb testing.TB, defects ...defect) (*httptest.Server, *testImpl) {
	tb.Helper()
	ti := &testImpl{defects: map[defect]bool{}, tokens: map[string]*tokenState{}, revoked: map[string]bool{}}
	for _, d := range defects {
		ti.defects[d] = true
	}
	srv := httptest.NewServer(ti)
	tb.Cleanup(srv.Close)
	ti.redirect = "http://localhost.invalid:1" + "/auth/refresh"
	return srv, ti
}

// seed makes tokens valid, each in a family of its own.
func (ti *testImpl) seed(tokens ...string) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	for _, t := range tokens {
		ti.tokens[t] = &tokenState{family: "fam_" + t}
	}
}

// Issued returns every token the implementation handed out.
func (ti *testImpl) Issued() []string {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return append([]string(nil), ti.issued...)
}

func (ti *testImpl) has(d defect) bool { return ti.defects[d] }

func (ti *testImpl) writeErr(w http.ResponseWriter, status int, code, msg string, details any) {
	if ti.has(defEnvelopePlainText) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintln(w, msg)
		return
	}
	if status == http.StatusUnauthorized && !ti.has(defNoWWWAuth) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="testimpl", error="invalid_token"`)
	}
	env := map[string]any{"status": status, "code": code, "message": msg}
	if ti.has(defEnvelopeStatus) {
		env["status"] = 400
	}
	if details != nil && !ti.has(defEnvelopeNo422) {
		env["details"] = details
	}
	ti.writeJSON(w, status, env)
}

func (ti *testImpl) writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	if ti.has(defHugeReply) {
		b = append(b, []byte(strings.Repeat(" ", 64<<10))...)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (ti *testImpl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ti.has(defSlow) {
		time.Sleep(30 * time.Millisecond)
	}
	if ti.has(defCrossRedirect) {
		http.Redirect(w, r, ti.redirect, http.StatusTemporaryRedirect)
		return
	}
	if r.URL.Path != "/auth/refresh" {
		ti.writeErr(w, 404, "not_found", "No such endpoint.", nil)
		return
	}
	if r.Method != http.MethodPost && !ti.has(defAnyMethod) {
		if !ti.has(defNoAllow) {
			w.Header().Set("Allow", "POST")
		}
		if ti.has(defMethodEnvelope) {
			ti.writeJSON(w, 405, map[string]any{"status": 400, "code": "method_not_allowed", "message": "Use POST."})
			return
		}
		ti.writeErr(w, 405, "method_not_allowed", "Use POST.", nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		if ti.has(defOversized500) {
			ti.writeErr(w, 500, "internal_server_error", "An unexpected error occurred.", nil)
			return
		}
		ti.writeErr(w, 400, "request_too_large", "The request body exceeds 64 KiB.", nil)
		return
	}
	token := ""
	if c, err := r.Cookie("refresh_token"); err == nil {
		token = c.Value
	}
	if len(body) > 0 {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			if ti.has(defContentTypeUndocumnt) {
				ti.writeErr(w, 415, "unsupported_media_type", "Send application/json.", nil)
				return
			}
			ti.writeErr(w, 400, "unsupported_media_type", "The request body is not application/json.", nil)
			return
		}
		var req map[string]any
		if ti.has(defExtraRejected) && json.Unmarshal(body, &req) == nil && len(req) > 0 {
			for k := range req {
				if k != "refresh_token" {
					ti.writeErr(w, 422, "validation_error", "Unknown field.",
						[]any{map[string]any{"loc": []any{"body", k}, "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}})
					return
				}
			}
		}
		if err := json.Unmarshal(body, &req); err != nil {
			if ti.has(defMalformedStack) {
				ti.writeErr(w, 500, "internal_server_error", "panic: runtime error: invalid memory address or nil pointer dereference\n\ngoroutine 17 [running]:\nmain.refresh(0x0)\n\t/app/main.go:42 +0x1d", nil)
				return
			}
			ti.writeErr(w, 400, "malformed_json", "The request body is not valid JSON.", nil)
			return
		}
		v, present := req["refresh_token"]
		if ti.has(defBodyTokenIgnored) {
			v = nil
		}
		switch v := v.(type) {
		case nil:
			if present && ti.has(defNullRejected) {
				ti.writeErr(w, 422, "validation_error", "The request did not validate.",
					[]any{map[string]any{"loc": []any{"body", "refresh_token"}, "msg": "Input should be a valid string", "type": "string_type"}})
				return
			}
		case string:
			if v == "" {
				ti.writeErr(w, 422, "validation_error", "The request did not validate.",
					[]any{map[string]any{"loc": []any{"body", "refresh_token"}, "msg": "String should have at least 1 character", "type": "string_too_short"}})
				return
			}
			if token == "" {
				token = v
			}
		default:
			if ti.has(defInvalidIs401) {
				ti.writeErr(w, 401, "refresh_token_missing", "No refresh token was sent; sign in again.", nil)
				return
			}
			if ti.has(defWrongTypeIs500) {
				ti.writeErr(w, 500, "internal_server_error", "An unexpected error occurred.", nil)
				return
			}
			ti.writeErr(w, 422, "validation_error", "The request did not validate.",
				[]any{map[string]any{"loc": []any{"body", "refresh_token"}, "msg": "Input should be a valid string", "type": "string_type"}})
			return
		}
	}
	if token == "" && ti.has(defQueryToken) {
		token = r.URL.Query().Get("refresh_token")
	}
	switch token {
	case "":
		if ti.has(defMissingIs403) {
			ti.writeErr(w, 403, "access_forbidden", "Forbidden.", nil)
			return
		}
		code := "refresh_token_missing"
		if ti.has(defCodeUnstable) {
			// The same request alternates, counted per request so that
			// parallel cases cannot make a repeat land on the same code.
			key := r.Method + " " + r.URL.String() + "\n" + r.Header.Get("Cookie") + "\n" + string(body)
			ti.mu.Lock()
			if ti.seen == nil {
				ti.seen = map[string]int{}
			}
			ti.seen[key]++
			if ti.seen[key]%2 == 0 {
				code = "authentication_failed"
			}
			ti.mu.Unlock()
		}
		ti.writeErr(w, 401, code, "No refresh token was sent; sign in again.", nil)
		return
	case tokExpired:
		ti.writeErr(w, 401, "refresh_token_expired", "The refresh token has expired; sign in again.", nil)
		return
	case tokRateLimit:
		if !ti.has(defNoRetryAfter) {
			w.Header().Set("Retry-After", "30")
		}
		ti.writeErr(w, 429, "rate_limited", "Too many refresh attempts; retry after 30 seconds.", nil)
		return
	case tokServerErr:
		msg := "An unexpected error occurred."
		if ti.has(defStackTrace) {
			msg = "Traceback (most recent call last):\n  File \"/app/auth.py\", line 88, in refresh\nKeyError: 'user'"
		}
		ti.writeErr(w, 500, "internal_server_error", msg, nil)
		return
	}
	ti.refresh(w, token)
}

func (ti *testImpl) refresh(w http.ResponseWriter, token string) {
	if !ti.has(defRace) {
		ti.mu.Lock()
		defer ti.mu.Unlock()
	}
	lock := func() {
		if ti.has(defRace) {
			ti.mu.Lock()
		}
	}
	unlock := func() {
		if ti.has(defRace) {
			ti.mu.Unlock()
		}
	}
	lock()
	st, ok := ti.tokens[token]
	var revoked, used bool
	if ok {
		revoked, used = ti.revoked[st.family], st.used
	}
	unlock()
	switch {
	case !ok:
		msg := "The refresh token is not valid; sign in again."
		if ti.has(defEchoToken) {
			msg = "The refresh token " + token + " is not valid."
		}
		code := "refresh_token_invalid"
		if ti.has(defEnvelopeCode) {
			code = "bad_token"
		}
		ti.writeErr(w, 401, code, msg, nil)
		return
	case revoked:
		ti.writeErr(w, 401, "refresh_token_revoked", "The refresh token was revoked; sign in again.", nil)
		return
	case used && !ti.has(defReuseAccepted):
		if !ti.has(defFamilyKept) {
			lock()
			ti.revoked[st.family] = true
			unlock()
		}
		ti.writeErr(w, 401, "refresh_token_reused", "The refresh token was already used; the session has been revoked.", nil)
		return
	}
	if ti.has(defRace) {
		// Check, then act without holding the lock: every parallel
		// request sees the token unused.
		time.Sleep(30 * time.Millisecond)
	}
	lock()
	st.used = true
	ti.seq++
	next := token
	if !ti.has(defNoRotation) {
		next = fmt.Sprintf("rt_testimpl_rotated_%04d_%s", ti.seq, strings.Repeat("x", 8))
		ti.tokens[next] = &tokenState{family: st.family}
	}
	now := time.Now().Unix()
	access, _ := scenarios.SignJWT(map[string]any{"sub": "user_1", "iat": now, "exp": now + 900})
	ti.issued = append(ti.issued, next, access)
	unlock()

	expires := 900
	if ti.has(defExpiresIn) {
		expires = 3600
	}
	org := map[string]any{"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "name": "Acme Inc", "slug": "acme", "role": "owner"}
	if ti.has(defSchemaBadUUID) {
		org["id"] = "org_123"
	}
	resp := map[string]any{"access_token": access, "token_type": "bearer", "expires_in": expires, "organization": org}
	if st.family == "fam_"+tokNoOrg {
		resp["organization"] = nil
		if ti.has(defNoOrgBreaksBody) {
			resp["organization"] = map[string]any{}
		}
	}
	if ti.has(defSchemaNoTokenType) {
		delete(resp, "token_type")
	}
	if !ti.has(defNoCacheControl) {
		w.Header().Set("Cache-Control", "no-store")
	}
	cookie := &http.Cookie{Name: "refresh_token", Value: next, Path: "/auth", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode, MaxAge: 30 * 24 * 3600}
	if ti.has(defCookieNoHTTP) {
		cookie.HttpOnly = false
	}
	if ti.has(defCookiePathRoot) {
		cookie.Path = "/"
	}
	http.SetCookie(w, cookie)
	ti.writeJSON(w, 200, resp)
}
