package mockserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
	"github.com/tidwall/gjson"
)

// Outcome is the mock's answer to one request of an operation, decided by
// respond without HTTP: what to write, how long to wait first, which
// fault to stage instead, and the journal entry.
type Outcome struct {
	Status int
	// Header holds the response's own headers. It may be shared between
	// outcomes: read it, do not change it.
	Header  http.Header
	Cookies []string // Set-Cookie values
	Body    []byte   // nil: no body
	Delay   *scenarios.Delay
	Fault   string // one of scenarios.Faults, or empty
	// Entry is the journal entry, without what the transport adds (time,
	// method, path, status, latency).
	Entry Entry
	// Err is an internal failure the answer stands in for (a scenario
	// that failed to render, a spec example that could not be built), for
	// the log.
	Err error

	// buf is the pooled buffer Body aliases, if any (release).
	buf *bytes.Buffer

	// used and rule are the X-Mock-Scenario-Used and X-Mock-Rule header
	// values, shared as snapshot.headerValue explains; nil when the mock
	// answered before selecting (validation, a failed explicit selection).
	used, rule []string
}

// ClockHeader is on every scenario response while the mock clock is
// advanced: the mock clock's time and its offset from the real clock, e.g.
// "2026-03-01T12:15:00Z; offset=15m0s".
const ClockHeader = "X-Mock-Clock"

// tokenStore is what the decision core asks of the mock's mutable state:
// the mock clock, the state of a presented refresh token, rotation, and
// the armed queue (and the sessions it has seen). *store implements it.
type tokenStore interface {
	clock() (now time.Time, offset time.Duration)
	observe(token string) (state, familyID string)
	rotate(presented string, strict bool) (scenarios.TokenData, error)
	hasArmed() bool
	popArmed(op string, sessions []string, lookup func(string) (*scenarios.Scenario, bool)) *scenarios.Scenario
	sawSessions(sessions []string, family string)
}

// core decides the answer to a request: it checks the request against the
// spec, asks the token store for the presented token's state, selects a
// scenario and renders it. It knows nothing of Gin or connections, so that
// tests call respond directly.
type core struct {
	spec     *spec.Spec
	tokens   tokenStore
	snap     atomic.Pointer[snapshot]
	validate bool
	memo     *validationMemo // nil: off
	examples sync.Map        // "opID status" -> []byte

	cookie     CookieConfig
	refreshTTL time.Duration
	// refreshAttrs is the refresh-token cookie's attributes, rendered once.
	refreshAttrs string
}

// newCore builds the core for a configuration with its defaults applied.
func newCore(cfg *Config, tokens tokenStore) *core {
	c := &core{spec: cfg.Spec, tokens: tokens, validate: !cfg.NoValidateRequests, cookie: cfg.Cookie, refreshTTL: cfg.RefreshTTL}
	if !cfg.NoValidationMemo {
		c.memo = newValidationMemo()
	}
	c.refreshAttrs = c.refreshCookieAttrs()
	return c
}

// respond decides the answer to req, a request routed to op: a rejection
// in the error envelope when the request does not validate or asks for a
// scenario that does not exist, else the selected scenario rendered (or the
// spec's example). ctx is the request's: rendering stops when it is done.
func (c *core) respond(ctx context.Context, op *spec.Operation, req *scenarios.RequestData) Outcome {
	ent := Entry{Operation: op.ID}
	if rej := c.check(op, req); rej != nil {
		return c.reject(op, ent, rej)
	}
	snap := c.snap.Load()
	token := presentedToken(req)
	state, fam := c.tokens.observe(token)
	sessions := sessionKeys(req, fam)
	c.tokens.sawSessions(sessions, fam)
	ent.TokenState, ent.Family = state, fam
	if len(sessions) > 0 {
		ent.Session = sessions[0]
	}
	q := scenarios.Query{Operation: op.ID, Request: req, Token: state}
	if c.tokens.hasArmed() {
		// Only then: the closure costs an allocation.
		q.Armed = func() *scenarios.Scenario { return c.tokens.popArmed(op.ID, sessions, snap.set.Get) }
	}
	sel, err := snap.sel.Select(q)
	var out Outcome
	if err == nil && sel.Scenario != nil {
		// Only a scenario chosen by its match rules or as the default must
		// rotate the very token it was chosen for; one named by the request
		// or armed may start a new family.
		strict := sel.By == scenarios.ByMatch || sel.By == scenarios.ByDefault
		out, err = c.render(ctx, sel.Scenario, req, token, strict)
		if err != nil {
			// Declared here, errors.As's target costs an allocation only
			// when rendering failed.
			var stale *staleTokenError
			if errors.As(err, &stale) {
				// A parallel request rotated the token after observe: answer
				// as for the state it has now (reused, which revoked the
				// family).
				ent.TokenState = stale.state
				sel, err = snap.sel.Select(scenarios.Query{Operation: op.ID, Request: req, Token: stale.state})
				if err == nil && sel.Scenario != nil {
					out, err = c.render(ctx, sel.Scenario, req, token, false)
				}
			}
		}
	}
	if errors.Is(err, scenarios.ErrSelect) {
		msg := strings.TrimPrefix(err.Error(), scenarios.ErrSelect.Error()+": ")
		return c.reject(op, ent, &rejection{status: http.StatusBadRequest, code: "invalid_request", message: msg, rule: "select_error"})
	}
	ent.Scenario, ent.Rule, ent.Why = sel.Name(), string(sel.By), sel.Why
	if state == scenarios.TokenMissing {
		ent.Why += crossSiteCookieHint(req, c.cookie.SameSite)
	}
	switch {
	case sel.NearMisses() == 0:
	case len(req.Body) > memoMaxBody:
		ent.Rejected = sel.Rejections() // do not keep a large body for later
	default:
		ent.explain = sel.Rejections // the method value costs an allocation
	}
	switch {
	case err != nil:
		ent.Why += "; rendering failed: " + err.Error()
		out = c.reject(op, ent, &rejection{status: http.StatusInternalServerError, code: "internal_server_error",
			message: "scenario " + sel.Scenario.Name + " failed to render; see the mock's log", rule: ent.Rule})
		out.Err = fmt.Errorf("render scenario %s: %w", sel.Scenario.Name, err)
	case sel.Scenario == nil:
		out = c.example(op, sel.Example, ent)
	default:
		resp := &sel.Scenario.Response
		out.Delay, out.Fault, out.Entry = resp.Delay, resp.Fault, ent
		out.Entry.Fault = resp.Fault
	}
	out.used, out.rule = snap.headerValue(sel.Name()), ruleValue(sel.By)
	return out
}

// render renders the scenario for the request. A rotating scenario first
// rotates the presented refresh token; the new tokens reach templates as
// .Token and the new refresh token is set as the refresh_token cookie
// (unless the scenario scripts that cookie itself).
func (c *core) render(ctx context.Context, sc *scenarios.Scenario, req *scenarios.RequestData, token string, strict bool) (Outcome, error) {
	now, offset := c.tokens.clock()
	data := renderData.Get().(*scenarios.RenderData)
	*data = scenarios.RenderData{Request: *req, Now: now}
	defer func() {
		*data = scenarios.RenderData{}
		renderData.Put(data)
	}()
	if sc.Response.Rotate {
		td, err := c.tokens.rotate(token, strict)
		if err != nil {
			return Outcome{}, err
		}
		data.Token = td
	}
	var r scenarios.Rendered
	var body *bytes.Buffer
	if sc.Response.BodyTemplate != "" {
		body = bodyBufs.Get().(*bytes.Buffer)
	}
	// Within the render budget; stops when the client goes away.
	if err := sc.RenderInto(ctx, data, &r, body); err != nil {
		putBodyBuf(body)
		return Outcome{}, err
	}
	out := Outcome{Status: r.Status, Header: r.Header, Body: r.Body, buf: body}
	if offset != 0 {
		// r.Header may be shared with other renders.
		out.Header = out.Header.Clone()
		out.Header[ClockHeader] = []string{now.UTC().Format(time.RFC3339) + "; offset=" + offset.String()}
	}
	scriptsRefresh := false
	for _, rc := range r.Cookies {
		out.Cookies = append(out.Cookies, c.setCookie(rc.Spec, rc.Value).String())
		scriptsRefresh = scriptsRefresh || rc.Spec.Name == RefreshCookie
	}
	if sc.Response.Rotate && !scriptsRefresh {
		// Rendering added Cache-Control and Pragma.
		out.Cookies = append(out.Cookies, c.refreshCookie(data.Token.Refresh))
	}
	return out, nil
}

// renderData recycles the data templates see: nothing a render returns
// points into it.
var renderData = sync.Pool{New: func() any { return new(scenarios.RenderData) }}

// bodyBufs recycles the buffers rendered bodies are written to: an
// outcome's Body aliases its buffer until release.
var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody keeps buffers grown by a large body out of the pool.
const maxPooledBody = 64 << 10

func putBodyBuf(b *bytes.Buffer) {
	if b != nil && b.Cap() <= maxPooledBody {
		bodyBufs.Put(b)
	}
}

// release gives the outcome's body buffer back once the body is written;
// the outcome has no body afterwards.
func (o *Outcome) release() {
	if o.buf != nil {
		putBodyBuf(o.buf)
		o.buf, o.Body = nil, nil
	}
}

// rejection is an answer the mock gives by itself, before any scenario:
// the request could not be read or does not validate, or it asked for a
// scenario that does not exist.
type rejection struct {
	status  int
	code    string
	message string
	details []detail
	rule    string // journal rule: validation or select_error
}

// detail is one entry of the envelope's details array.
type detail struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// reject answers with the error envelope at a status the operation
// documents.
func (c *core) reject(op *spec.Operation, ent Entry, rej *rejection) Outcome {
	status := documentedStatus(op, rej.status)
	code := rej.code
	if catalog := op.Catalog(status); len(catalog) > 0 && !slices.Contains(catalog, code) {
		code = catalog[0]
	}
	var ds []detail
	if status == http.StatusUnprocessableEntity {
		ds = rej.details
		if len(ds) == 0 {
			ds = []detail{{Loc: []any{"body"}, Msg: rej.message, Type: "value_error"}}
		}
	}
	if ent.Rule == "" || rej.rule == "validation" || rej.rule == "select_error" {
		ent.Rule = rej.rule
	}
	if ent.Why == "" {
		ent.Why = rej.message
	}
	return envelope(status, code, rej.message, ds, ent)
}

// envelopeHeader is the header of every error envelope, shared read-only.
var envelopeHeader = http.Header{"Cache-Control": {"no-store"}, "Content-Type": {"application/json"}}

// envelope is the canonical error envelope as an outcome.
func envelope(status int, code, message string, ds []detail, ent Entry) Outcome {
	env := struct {
		Status  int      `json:"status"`
		Message string   `json:"message"`
		Code    string   `json:"code"`
		Details []detail `json:"details,omitempty"`
	}{status, message, code, ds}
	b, err := json.Marshal(env)
	if err != nil {
		b = []byte(`{"status":500,"message":"the mock could not encode its error","code":"internal_server_error"}`)
	}
	return Outcome{Status: status, Header: envelopeHeader, Body: b, Entry: ent}
}

// documentedStatus keeps want when op documents it, else picks the
// nearest documented fallback (400 and 422 stand in for each other), so the
// mock never answers a status the spec does not document.
func documentedStatus(op *spec.Operation, want int) int {
	if op == nil || op.Documents(want) || len(op.Responses) == 0 {
		return want
	}
	for _, alt := range []int{http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusInternalServerError} {
		if op.Documents(alt) {
			return alt
		}
	}
	for _, st := range op.Statuses() {
		if st >= 400 {
			return st
		}
	}
	return want
}

// jsonHeader is the header of a spec example, shared read-only.
var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// example answers with the spec's example body for a documented status
// (cached), or with no body when the spec has none.
func (c *core) example(op *spec.Operation, status int, ent Entry) Outcome {
	key := op.ID + " " + strconv.Itoa(status)
	b, ok := c.examples.Load(key)
	if !ok {
		var err error
		if b, err = c.spec.Example(op, status); err != nil {
			err = fmt.Errorf("example for %s %d: %w", op.ID, status, err)
			out := c.reject(op, ent, &rejection{status: http.StatusInternalServerError, code: "internal_server_error", message: err.Error(), rule: "error"})
			out.Err = err
			return out
		}
		c.examples.Store(key, b)
	}
	if body := b.([]byte); body != nil {
		return Outcome{Status: status, Header: jsonHeader, Body: body, Entry: ent}
	}
	return Outcome{Status: status, Entry: ent}
}

// presentedToken is the refresh token from the cookie, or else from the
// JSON body's refresh_token.
func presentedToken(req *scenarios.RequestData) string {
	if t := req.Cookies[RefreshCookie]; t != "" {
		return t
	}
	if len(req.Body) == 0 {
		return ""
	}
	if r := gjson.GetBytes(req.Body, RefreshCookie); r.Type == gjson.String {
		return r.Str
	}
	return ""
}

// sessionKeys lists what scopes armed scenarios to this client: the
// X-Mock-Session header, the mock_session cookie and the refresh-token
// family.
func sessionKeys(req *scenarios.RequestData, family string) []string {
	var out []string
	if v := strings.TrimSpace(req.Headers.Get(SessionHeader)); v != "" {
		out = append(out, v)
	}
	if v := req.Cookies[SessionCookie]; v != "" {
		out = append(out, v)
	}
	if family != "" {
		out = append(out, family)
	}
	return out
}

// setCookie builds a Set-Cookie from a scripted cookie; attributes it
// leaves unset come from the server's cookie configuration.
func (c *core) setCookie(spec *scenarios.Cookie, value string) *http.Cookie {
	cc := c.cookie
	hc := &http.Cookie{Name: spec.Name, Value: value, Path: cc.Path, Domain: cc.Domain, HttpOnly: true, Secure: cc.Secure, SameSite: cc.SameSite}
	if spec.Name == RefreshCookie {
		hc.MaxAge = int(c.refreshTTL / time.Second)
	}
	if spec.Path != "" {
		hc.Path = spec.Path
	}
	if spec.Domain != "" {
		hc.Domain = spec.Domain
	}
	if spec.MaxAge != nil {
		hc.MaxAge = *spec.MaxAge
		if hc.MaxAge == 0 {
			hc.MaxAge = -1 // Max-Age=0: delete the cookie
		}
	}
	if spec.HTTPOnly != nil {
		hc.HttpOnly = *spec.HTTPOnly
	}
	if spec.Secure != nil {
		hc.Secure = *spec.Secure
	}
	switch spec.SameSite {
	case "Strict":
		hc.SameSite = http.SameSiteStrictMode
	case "Lax":
		hc.SameSite = http.SameSiteLaxMode
	case "None":
		hc.SameSite, hc.Secure = http.SameSiteNoneMode, true
	}
	return hc
}

// refreshCookie is the Set-Cookie value of the refresh-token cookie with
// the server's attributes: the same bytes as
// c.setCookie(&scenarios.Cookie{Name: RefreshCookie}, value).String(), built
// from the attributes rendered once (refreshAttrs) when the value needs
// no quoting, as the tokens the store issues never do.
func (c *core) refreshCookie(value string) string {
	if value == "" || !plainCookieValue(value) {
		return c.setCookie(&scenarios.Cookie{Name: RefreshCookie}, value).String()
	}
	return RefreshCookie + "=" + value + c.refreshAttrs
}

// refreshCookieAttrs renders the attributes of the refresh-token cookie
// once: everything after name=value.
func (c *core) refreshCookieAttrs() string {
	const probe = "x"
	line := c.setCookie(&scenarios.Cookie{Name: RefreshCookie}, probe).String()
	return strings.TrimPrefix(line, RefreshCookie+"="+probe)
}

// plainCookieValue says that net/http writes v as is, unquoted: only
// letters, digits and -._~ (a subset of what it accepts).
func plainCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if !plainCookieByte[v[i]] {
			return false
		}
	}
	return true
}

// plainCookieByte marks letters, digits and -._~.
var plainCookieByte = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
	}
	return t
}()
