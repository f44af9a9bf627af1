// Package refimpl holds two small, independent implementations of the
// Refresh Token operation, written from the spec alone (not from the
// mock), for the conformance runner's tests: a correct runner must pass
// both as they are and fail each of their defective variants.
//
// They differ where the spec leaves the choice to the implementer:
//
//   - Alpha: its own error codes (missing_refresh_token, token_reuse_detected,
//     ...), 400 for JSON that does not parse and 422 with details for a body
//     the schema refuses, opaque (non-JWT) access tokens, the rotated
//     refresh token in an HttpOnly cookie only, 405 with a JSON envelope.
//   - Beta: other codes again (no_session, session_replayed, ...), 400 for
//     every invalid body (no 422), JWT access tokens, the rotated token in
//     the cookie and in the body, users without an organization
//     (organization: null), a framework's text/plain 405 with Allow.
//
// Both offer POST /auth/login {"email", "password"}, which sets a fresh
// refresh-token cookie: what a CI setup file calls to mint tokens.
package refimpl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defect is a way in which an implementation departs from the contract.
type Defect string

// Defects both implementations can switch on. Each is an error-level
// finding for a correct runner.
const (
	BodyTokenIgnored Defect = "body-token-ignored"      // the JSON body's refresh_token is never read
	NullRejected     Defect = "null-token-rejected"     // {"refresh_token": null} answers a validation error
	InvalidIs401     Defect = "invalid-body-401"        // a wrong JSON type answers 401
	ReuseAccepted    Defect = "reuse-accepted"          // a rotated-away token still refreshes
	QueryAccepted    Defect = "query-token-accepted"    // a token in the query string is read
	AnyMethod        Defect = "any-method"              // GET refreshes too
	NoAllow          Defect = "405-without-allow"       // 405 without Allow
	CodeUnstable     Defect = "code-unstable"           // the no-token code changes between requests
	NoOrgBreaks      Defect = "no-org-breaks-schema"    // a user without an organization gets organization: {}
	Race             Defect = "race"                    // parallel refreshes all succeed
	WrongTypeIs500   Defect = "wrong-type-500"          // a wrong JSON type crashes
	EnvelopeStatus   Defect = "envelope-status-differs" // the envelope's status is not the HTTP status
)

// AllDefects lists every defect, for tests.
var AllDefects = []Defect{BodyTokenIgnored, NullRejected, InvalidIs401, ReuseAccepted, QueryAccepted, AnyMethod,
	NoAllow, CodeUnstable, NoOrgBreaks, Race, WrongTypeIs500, EnvelopeStatus}

// Users that POST /auth/login knows: password "ci-password".
const (
	UserWithOrg = "ci@example.test"
	UserNoOrg   = "solo@example.test"
	Password    = "ci-password"
)

// style is what one implementation chose where the spec leaves a choice.
type style struct {
	name          string
	codes         map[string]string // kind -> code
	invalidStatus int               // schema-invalid body
	malformed     int               // JSON that does not parse
	jwtAccess     bool
	tokenInBody   bool
	plain405      bool
	cookiePath    string
	sameSite      http.SameSite
	expiresIn     int
	realm         string
}

var alpha = style{
	name: "alpha",
	codes: map[string]string{"missing": "missing_refresh_token", "invalid": "invalid_refresh_token", "reused": "token_reuse_detected",
		"revoked": "session_revoked", "malformed": "invalid_json", "invalid_body": "request_validation_failed", "content_type": "unsupported_content_type",
		"too_large": "payload_too_large", "method": "method_not_allowed", "missing_alt": "no_credentials", "internal": "internal_error"},
	invalidStatus: 422, malformed: 400, cookiePath: "/auth/refresh", sameSite: http.SameSiteLaxMode, expiresIn: 600, realm: "alpha",
}

var beta = style{
	name: "beta",
	codes: map[string]string{"missing": "no_session", "invalid": "unknown_session", "reused": "session_replayed",
		"revoked": "session_ended", "malformed": "bad_request", "invalid_body": "bad_request", "content_type": "bad_request",
		"too_large": "bad_request", "method": "method_not_allowed", "missing_alt": "unauthenticated", "internal": "server_error"},
	invalidStatus: 400, malformed: 400, jwtAccess: true, tokenInBody: true, plain405: true, cookiePath: "/auth", sameSite: http.SameSiteStrictMode,
	expiresIn: 300, realm: "beta",
}

// NewAlpha returns the alpha implementation with the given defects.
func NewAlpha(defects ...Defect) *Server { return newServer(alpha, defects) }

// NewBeta returns the beta implementation with the given defects.
func NewBeta(defects ...Defect) *Server { return newServer(beta, defects) }

// Server is one implementation: an http.Handler.
type Server struct {
	st      style
	defects map[Defect]bool
	key     []byte

	mu      sync.Mutex
	tokens  map[string]*token
	revoked map[string]bool // families
	seen    map[string]int  // CodeUnstable: how often each request came

	checking map[string]int // Race: requests that have checked a token
}

// raceWindow holds a request between its check and its use of tok until a
// second request has checked the same token (or 500 ms pass), so the Race
// defect shows however late a loaded machine schedules the parallel
// requests.
func (s *Server) raceWindow(tok string) {
	for range 100 {
		s.mu.Lock()
		n := s.checking[tok]
		s.mu.Unlock()
		if n >= 2 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type token struct {
	family, user string
	used         bool
}

func newServer(st style, defects []Defect) *Server {
	s := &Server{st: st, defects: map[Defect]bool{}, tokens: map[string]*token{}, revoked: map[string]bool{}, checking: map[string]int{}, key: []byte("refimpl-" + st.name)}
	for _, d := range defects {
		s.defects[d] = true
	}
	return s
}

// Name is "alpha" or "beta".
func (s *Server) Name() string { return s.st.name }

func (s *Server) has(d Defect) bool { return s.defects[d] }

// Mint issues a fresh refresh token for a user, as a sign-in would.
func (s *Server) Mint(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := randomToken(s.st.name)
	s.tokens[t] = &token{family: randomToken("fam"), user: user}
	return t
}

func randomToken(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

func (s *Server) fail(w http.ResponseWriter, status int, kind, msg string, details any) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error="invalid_token"`, s.st.realm))
	}
	env := map[string]any{"status": status, "code": s.st.codes[kind], "message": msg}
	if s.has(EnvelopeStatus) {
		env["status"] = 418
	}
	if details != nil {
		env["details"] = details
	}
	writeJSON(w, status, env)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// ServeHTTP routes /auth/refresh and /auth/login.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/auth/refresh":
	case "/auth/login":
		s.login(w, r)
		return
	default:
		s.fail(w, http.StatusNotFound, "internal", "No such endpoint.", nil)
		return
	}
	if r.Method != http.MethodPost && !(s.has(AnyMethod) && r.Method == http.MethodGet) {
		if !s.has(NoAllow) {
			w.Header().Set("Allow", http.MethodPost)
		}
		if s.st.plain405 {
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"status": 405, "code": s.st.codes["method"], "message": "Use POST."})
		return
	}
	tok, ok := s.readToken(w, r)
	if !ok {
		return
	}
	s.refresh(w, tok)
}

// readToken reads the request's refresh token (cookie, else JSON body),
// answering the error itself when the request is invalid.
func (s *Server) readToken(w http.ResponseWriter, r *http.Request) (string, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil {
		s.fail(w, http.StatusBadRequest, "too_large", "The request body is too large.", nil)
		return "", false
	}
	tok := ""
	if c, err := r.Cookie("refresh_token"); err == nil {
		tok = c.Value
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			s.fail(w, http.StatusBadRequest, "content_type", "Send application/json.", nil)
			return "", false
		}
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			if s.st.malformed == 422 {
				s.fail(w, 422, "malformed", "The body is not valid JSON.", []any{map[string]any{"loc": []any{"body", 0}, "msg": "JSON decode error", "type": "json_invalid"}})
			} else {
				s.fail(w, s.st.malformed, "malformed", "The body is not valid JSON.", nil)
			}
			return "", false
		}
		v, present := req["refresh_token"]
		switch v := v.(type) {
		case nil:
			if present && s.has(NullRejected) {
				s.invalid(w, "refresh_token must be a string")
				return "", false
			}
		case string:
			if v == "" {
				s.invalid(w, "refresh_token must not be empty")
				return "", false
			}
			if tok == "" && !s.has(BodyTokenIgnored) {
				tok = v
			}
		default:
			switch {
			case s.has(WrongTypeIs500):
				s.fail(w, 500, "internal", "Something went wrong.", nil)
			case s.has(InvalidIs401):
				s.fail(w, 401, "missing", "Sign in again.", nil)
			default:
				s.invalid(w, "refresh_token must be a string")
			}
			return "", false
		}
	}
	if tok == "" && s.has(QueryAccepted) {
		tok = r.URL.Query().Get("refresh_token")
	}
	if tok == "" {
		kind := "missing"
		if s.has(CodeUnstable) {
			// The same request alternates between two codes: counted per
			// request (method, URL, cookies, body), so that requests of
			// other cases running in parallel cannot make a repeat land
			// on the same code.
			key := r.Method + " " + r.URL.String() + "\n" + r.Header.Get("Cookie") + "\n" + string(body)
			s.mu.Lock()
			if s.seen == nil {
				s.seen = map[string]int{}
			}
			s.seen[key]++
			if s.seen[key]%2 == 0 {
				kind = "missing_alt"
			}
			s.mu.Unlock()
		}
		s.fail(w, http.StatusUnauthorized, kind, "No refresh token; sign in again.", nil)
		return "", false
	}
	return tok, true
}

func (s *Server) invalid(w http.ResponseWriter, msg string) {
	var details any
	if s.st.invalidStatus == 422 {
		details = []any{map[string]any{"loc": []any{"body", "refresh_token"}, "msg": msg, "type": "type_error"}}
	}
	s.fail(w, s.st.invalidStatus, "invalid_body", msg, details)
}

func (s *Server) refresh(w http.ResponseWriter, tok string) {
	if !s.has(Race) {
		s.mu.Lock()
		defer s.mu.Unlock()
	} else {
		s.mu.Lock()
	}
	t, ok := s.tokens[tok]
	var used, revoked bool
	if ok {
		used, revoked = t.used, s.revoked[t.family]
	}
	if s.has(Race) {
		s.checking[tok]++
		s.mu.Unlock()
	}
	switch {
	case !ok:
		s.fail(w, http.StatusUnauthorized, "invalid", "This session is not valid; sign in again.", nil)
		return
	case revoked:
		s.fail(w, http.StatusUnauthorized, "revoked", "This session has ended; sign in again.", nil)
		return
	case used && !s.has(ReuseAccepted):
		if s.has(Race) {
			s.mu.Lock()
			defer s.mu.Unlock()
		}
		s.revoked[t.family] = true
		s.fail(w, http.StatusUnauthorized, "reused", "This token was already used; the session has ended.", nil)
		return
	}
	if s.has(Race) {
		s.raceWindow(tok)
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	t.used = true
	next := randomToken(s.st.name)
	s.tokens[next] = &token{family: t.family, user: t.user}
	s.issue(w, next, t.user)
}

// issue writes a 200 with a new access token and the refresh cookie.
func (s *Server) issue(w http.ResponseWriter, refresh, user string) {
	now := time.Now().Unix()
	access := randomToken("at")
	if s.st.jwtAccess {
		access = s.jwt(map[string]any{"sub": user, "iat": now, "exp": now + int64(s.st.expiresIn)})
	}
	var org any = map[string]any{"id": "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "name": "Example Corp", "slug": "example-corp", "role": "member"}
	if user == UserNoOrg {
		org = nil
		if s.has(NoOrgBreaks) {
			org = map[string]any{}
		}
	}
	resp := map[string]any{"access_token": access, "token_type": "bearer", "expires_in": s.st.expiresIn, "organization": org}
	if s.st.tokenInBody {
		resp["refresh_token"] = refresh
	}
	w.Header().Set("Cache-Control", "no-store")
	http.SetCookie(w, &http.Cookie{Name: "refresh_token", Value: refresh, Path: s.st.cookiePath, HttpOnly: true, Secure: true,
		SameSite: s.st.sameSite, MaxAge: 14 * 24 * 3600})
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) jwt(claims map[string]any) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload, _ := json.Marshal(claims)
	msg := head + "." + enc.EncodeToString(payload)
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(m.Sum(nil))
}

// login answers POST /auth/login {"email", "password"} with a fresh
// session: the refresh-token cookie and an access token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct{ Email, Password string }
	if r.Method != http.MethodPost || json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&req) != nil {
		s.fail(w, http.StatusBadRequest, "malformed", "POST {\"email\", \"password\"}.", nil)
		return
	}
	if req.Password != Password || !slices.Contains([]string{UserWithOrg, UserNoOrg}, req.Email) {
		s.fail(w, http.StatusUnauthorized, "invalid", "Wrong email or password.", nil)
		return
	}
	tok := s.Mint(req.Email)
	s.issue(w, tok, req.Email)
}
