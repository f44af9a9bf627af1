package mockserver

// The mock's request path as it was before the decision core (respond),
// kept only for TestCoreMatchesOldPath until the old path is deleted.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

// responseOld is a rendered scenario ready to write.
type responseOld struct {
	status  int
	header  http.Header
	cookies []string // Set-Cookie values
	body    []byte
}

// serveOperationOld answers one request to an operation: read and check the
// request, look up its refresh token, select a scenario, renderOld and write
// it. Each step is a plain function.
func (s *Server) serveOperationOld(c *gin.Context, op *spec.Operation) {
	start := time.Now()
	snap := s.snap.Load()
	r := c.Request
	ent := Entry{Operation: op.ID}

	body, rej := readBody(r, s.cfg.MaxBody)
	if rej == nil {
		rej = s.checkRequestOld(r, op, body)
	}
	if rej != nil {
		s.rejectOld(c, op, start, ent, rej)
		return
	}
	rel, _ := s.relPath(r.URL.Path)
	req := &scenarios.RequestData{
		Method:  r.Method,
		Path:    rel,
		Headers: r.Header,
		Cookies: cookieMap(r),
		Query:   query(r),
		Body:    body,
	}
	token := presentedToken(req)
	state, fam := s.store.observe(token)
	sessions := sessionKeys(req, fam)
	s.store.sawSessions(sessions, fam)
	ent.TokenState, ent.Family = state, fam
	if len(sessions) > 0 {
		ent.Session = sessions[0]
	}
	sel, err := snap.sel.Select(scenarios.Query{
		Operation: op.ID,
		Request:   req,
		Token:     state,
		Armed: func() *scenarios.Scenario {
			return s.store.popArmed(op.ID, sessions, snap.set.Get)
		},
	})
	var out *responseOld
	if err == nil && sel.Scenario != nil {
		// Only a scenario chosen by its match rules or as the default must
		// rotate the very token it was chosen for; one named by the request
		// or armed may start a new family.
		strict := sel.Rule == scenarios.RuleMatch || sel.Rule == scenarios.RuleDefault
		out, err = s.renderOld(sel.Scenario, req, token, strict)
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
					out, err = s.renderOld(sel.Scenario, req, token, false)
				}
			}
		}
	}
	if errors.Is(err, scenarios.ErrSelect) {
		msg := strings.TrimPrefix(err.Error(), scenarios.ErrSelect.Error()+": ")
		s.rejectOld(c, op, start, ent, &rejection{status: http.StatusBadRequest, code: "invalid_request", message: msg, rule: "select_error"})
		return
	}
	ent.Scenario, ent.Rule, ent.Why = sel.Name(), string(sel.Rule), sel.Why
	if len(body) > memoMaxBody {
		ent.Rejected = sel.Rejections() // do not keep a large body for later
	} else {
		ent.explain = sel.Rejections
	}
	h := c.Writer.Header()
	h["X-Mock-Scenario-Used"] = snap.headerValue(sel.Name())
	h["X-Mock-Rule"] = ruleValue(sel.Rule)

	if sel.Scenario == nil && err == nil {
		b, err := s.exampleOld(op, sel.Example)
		if err != nil {
			s.rejectOld(c, op, start, ent, &rejection{status: http.StatusInternalServerError, code: "internal_server_error", message: err.Error(), rule: "error"})
			return
		}
		if b != nil {
			c.Data(sel.Example, "application/json", b)
		} else {
			c.Status(sel.Example)
			c.Writer.WriteHeaderNow()
		}
		s.finish(c, start, ent)
		return
	}
	if err != nil {
		s.log.Error("render scenario", "scenario", sel.Scenario.Name, "err", err)
		ent.Why += "; rendering failed: " + err.Error()
		s.rejectOld(c, op, start, ent, &rejection{status: http.StatusInternalServerError, code: "internal_server_error", message: "scenario " + sel.Scenario.Name + " failed to render; see the mock's log", rule: ent.Rule})
		return
	}
	resp := &sel.Scenario.Response
	if !wait(r, resp.Delay) {
		ent.Why += "; the client went away during the delay"
		ent.Fault = "client_gone"
		s.finishStatus(c, start, ent, 0)
		return
	}
	if resp.Fault != "" {
		ent.Fault = resp.Fault
		s.finishStatus(c, start, ent, out.status)
		s.faultOld(c, resp.Fault, out)
		return
	}
	out.writeOld(c.Writer)
	s.finish(c, start, ent)
}

// checkRequestOld checks the media type, then (unless validation is off)
// that JSON parses and that the request validates against the spec. All
// three are pure functions of the request, so the outcome for a request
// seen before comes from the memo.
func (s *Server) checkRequestOld(r *http.Request, op *spec.Operation, body []byte) *rejection {
	if s.cfg.NoValidateRequests {
		return s.checkMediaTypeOld(r, op, body)
	}
	rel, _ := s.relPath(r.URL.Path)
	if s.memo == nil {
		return s.checkUncachedOld(r, op, rel, body)
	}
	kb := keyPool.Get().(*[]byte)
	defer keyPool.Put(kb)
	var ok bool
	*kb, ok = appendMemoKeyOld((*kb)[:0], r, rel, body)
	if !ok {
		return s.checkUncachedOld(r, op, rel, body)
	}
	if rej, hit := s.memo.get(*kb); hit {
		return rej
	}
	rej := s.checkUncachedOld(r, op, rel, body)
	s.memo.put(*kb, rej)
	return rej
}

// checkUncachedOld is checkRequestOld without the memo.
func (s *Server) checkUncachedOld(r *http.Request, op *spec.Operation, rel string, body []byte) *rejection {
	if rej := s.checkMediaTypeOld(r, op, body); rej != nil {
		return rej
	}
	if len(body) > 0 && op.RequestBody != nil && len(op.RequestBody.ContentTypes) > 0 &&
		spec.IsJSON(mediaType(r.Header.Get("Content-Type"))) && !json.Valid(body) {
		return &rejection{status: http.StatusBadRequest, code: "malformed_json", rule: "validation",
			message: "the request body is not valid JSON: " + jsonError(body)}
	}
	return s.validateOld(r, rel, body)
}

// checkMediaTypeOld checks that a body comes as a media type the operation
// accepts.
func (s *Server) checkMediaTypeOld(r *http.Request, op *spec.Operation, body []byte) *rejection {
	if len(body) == 0 || op.RequestBody == nil || len(op.RequestBody.ContentTypes) == 0 {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	mt := mediaType(ct)
	if mt != "" && slices.ContainsFunc(op.RequestBody.ContentTypes, func(want string) bool {
		return strings.EqualFold(mediaType(want), mt)
	}) {
		return nil
	}
	if ct == "" {
		ct = "none"
	}
	return &rejection{status: http.StatusBadRequest, code: "unsupported_media_type", rule: "validation",
		message: fmt.Sprintf("the request body must be sent as %s, got Content-Type %s", strings.Join(op.RequestBody.ContentTypes, " or "), ct)}
}

// validateOld runs the spec's request validator.
func (s *Server) validateOld(r *http.Request, rel string, body []byte) *rejection {
	vr := r.WithContext(r.Context())
	u := *r.URL
	u.Path, u.RawPath = rel, ""
	vr.URL = &u
	if body != nil {
		vr.Body = io.NopCloser(bytes.NewReader(body))
		vr.ContentLength = int64(len(body))
	} else {
		vr.Body = http.NoBody
	}
	vs := s.cfg.Spec.ValidateRequest(vr)
	if len(vs) == 0 {
		return nil
	}
	for _, v := range vs {
		if v.Rule == spec.RuleRequestJSON {
			return &rejection{status: http.StatusBadRequest, code: "malformed_json", rule: "validation", message: "the request body is not valid JSON"}
		}
	}
	ds := detailsOld(vs)
	msg := "the request does not validate against the spec: " + ds[0].Msg
	if len(ds) > 1 {
		msg += fmt.Sprintf(" (and %d more; see details)", len(ds)-1)
	}
	return &rejection{status: http.StatusUnprocessableEntity, code: "validation_error", rule: "validation", message: msg, details: ds}
}

// detailsOld turns validator findings into the envelope's details.
func detailsOld(vs []spec.Violation) []detail {
	out := make([]detail, 0, len(vs))
	for _, v := range vs {
		d := detail{Msg: v.Message, Type: detailTypeOld(v)}
		if v.Reason != "" {
			d.Msg = v.Reason
		}
		switch v.In {
		case "cookie", "header", "query", "path":
			d.Loc = []any{v.In, v.Field}
		default:
			d.Loc = append([]any{"body"}, fieldPath(v.Field)...)
		}
		out = append(out, d)
	}
	return out
}

// detailTypeOld names the kind of finding, in the style of the detailsOld the
// API documents (missing, string_type, string_too_short, value_error).
func detailTypeOld(v spec.Violation) string {
	reason := v.Reason
	switch {
	case strings.HasPrefix(reason, "missing propert"):
		return "missing"
	case strings.HasPrefix(reason, "minLength"):
		return "string_too_short"
	case strings.HasPrefix(reason, "maxLength"):
		return "string_too_long"
	case strings.HasPrefix(reason, "got ") && strings.Contains(reason, ", want "):
		want := reason[strings.LastIndex(reason, ", want ")+len(", want "):]
		if i := strings.LastIndex(want, " "); i >= 0 {
			want = want[i+1:] // "null or string" -> string
		}
		return want + "_type"
	case strings.HasPrefix(reason, "value must be one of"), strings.HasPrefix(reason, "enum"):
		return "enum"
	case strings.Contains(reason, "pattern"):
		return "string_pattern_mismatch"
	}
	return "value_error"
}

// rejectOld answers with the error envelope at a status the operation
// documents.
func (s *Server) rejectOld(c *gin.Context, op *spec.Operation, start time.Time, ent Entry, rej *rejection) {
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
	s.writeEnvelopeOld(c, status, code, rej.message, ds)
	s.finish(c, start, ent)
}

// writeEnvelopeOld writes the canonical error envelope.
func (s *Server) writeEnvelopeOld(c *gin.Context, status int, code, message string, ds []detail) {
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
	c.Header("Cache-Control", "no-store")
	c.Data(status, "application/json", b)
}

// exampleOld returns the spec's exampleOld body for a documented status, cached.
func (s *Server) exampleOld(op *spec.Operation, status int) ([]byte, error) {
	key := op.ID + " " + strconv.Itoa(status)
	if b, ok := s.examples.Load(key); ok {
		return b.([]byte), nil
	}
	b, err := s.cfg.Spec.Example(op, status)
	if err != nil {
		return nil, fmt.Errorf("example for %s %d: %w", op.ID, status, err)
	}
	s.examples.Store(key, b)
	return b, nil
}

// renderOld renders the scenario for the request. A rotating scenario first
// rotates the presented refresh token; the new tokens reach templates as
// .Token and the new refresh token is set as the refresh_token cookie
// (unless the scenario scripts that cookie itself).
func (s *Server) renderOld(sc *scenarios.Scenario, req *scenarios.RequestData, token string, strict bool) (*responseOld, error) {
	data := &scenarios.RenderData{Request: *req, Now: s.store.now()}
	if sc.Response.Rotate {
		td, err := s.store.rotate(token, strict)
		if err != nil {
			return nil, err
		}
		data.Token = td
	}
	out, err := sc.Render(data)
	if err != nil {
		return nil, err
	}
	resp := &responseOld{status: out.Status, header: out.Header, body: out.Body}
	scriptsRefresh := false
	for _, rc := range out.Cookies {
		resp.cookies = append(resp.cookies, s.setCookie(rc.Spec, rc.Value).String())
		scriptsRefresh = scriptsRefresh || rc.Spec.Name == RefreshCookie
	}
	if sc.Response.Rotate {
		if !scriptsRefresh {
			resp.cookies = append(resp.cookies, s.refreshCookie(data.Token.Refresh))
		}
		if resp.header.Get("Cache-Control") == "" {
			resp.header.Set("Cache-Control", "no-store")
		}
		resp.header["Pragma"] = noCache
	}
	return resp, nil
}

// faultOld breaks the connection as scripted: connection_reset closes it with
// an RST (SO_LINGER 0), empty_reply closes it without a byte, and
// truncated_body sends the headers and half of the body it announces.
// Without a hijackable connection (HTTP/2) it aborts the stream.
func (s *Server) faultOld(c *gin.Context, kind string, resp *responseOld) {
	hj, ok := c.Writer.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	switch kind {
	case "connection_reset":
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	case "truncated_body":
		writeTruncatedOld(buf.Writer, c.Writer.Header(), resp)
	}
}

func writeTruncatedOld(w *bufio.Writer, base http.Header, resp *responseOld) {
	h := base.Clone()
	for k, vs := range resp.header {
		h[k] = vs
	}
	for _, c := range resp.cookies {
		if c != "" {
			h.Add("Set-Cookie", c)
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	h.Set("Connection", "close")
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", resp.status, http.StatusText(resp.status))
	_ = h.Write(w)
	_, _ = w.WriteString("\r\n")
	_, _ = w.Write(resp.body[:len(resp.body)/2])
	_ = w.Flush()
}

// writeOld writes the responseOld; each cookie gets its own Set-Cookie header.
func (resp *responseOld) writeOld(w gin.ResponseWriter) {
	h := w.Header()
	for k, vs := range resp.header {
		h[k] = vs
	}
	for _, c := range resp.cookies {
		if c != "" {
			h["Set-Cookie"] = append(h["Set-Cookie"], c)
		}
	}
	if resp.body != nil {
		h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	}
	w.WriteHeader(resp.status)
	w.WriteHeaderNow()
	if resp.body != nil {
		_, _ = w.Write(resp.body)
	}
}

// appendMemoKeyOld appends what identifies a request for validation to b,
// or returns false when it should not be remembered (a large body or
// large headers).
func appendMemoKeyOld(b []byte, r *http.Request, rel string, body []byte) ([]byte, bool) {
	if len(body) > memoMaxBody || len(rel)+len(r.URL.RawQuery) > memoMaxKey {
		return b, false
	}
	var arr [16]string
	keys := arr[:0]
	n := len(r.Method) + len(rel) + len(r.URL.RawQuery) + len(body) + 8
	for k, vs := range r.Header {
		keys = append(keys, k)
		n += len(k) + 2
		for _, v := range vs {
			n += len(v) + 1
		}
	}
	if n > memoMaxKey {
		return b, false
	}
	slices.Sort(keys)
	b = slices.Grow(b, n)
	b = append(b, r.Method...)
	b = append(b, 0)
	b = append(b, rel...)
	b = append(b, '?')
	b = append(b, r.URL.RawQuery...)
	b = append(b, 0)
	for _, k := range keys {
		b = append(b, k...)
		b = append(b, ':')
		for _, v := range r.Header[k] {
			b = append(b, v...)
			b = append(b, 0)
		}
		b = append(b, '\n')
	}
	b = append(b, 0)
	return append(b, body...), true
}

// oldEngine is buildEngine with the old request path.
func oldEngine(s *Server) *gin.Engine {
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = false
	e.ContextWithFallback = true
	e.Use(s.recovery, s.corsMiddleware)
	for _, op := range s.cfg.Spec.Operations() {
		e.Handle(op.Method, s.cfg.BasePath+ginPath(op.Path), func(c *gin.Context) { s.serveOperationOld(c, op) })
	}
	s.controlRoutes(e)
	e.NoRoute(s.noRoute)
	return e
}

// randomValue finds what differs between two runs of the same requests:
// issued refresh tokens, family ids, subjects, JWTs and UUIDs.
var randomValue = regexp.MustCompile(`rt_[A-Za-z0-9_-]{32}|fam_[A-Za-z0-9_-]{12}|user_[A-Za-z0-9_-]{8}|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// diffSide is one server of the differential test.
type diffSide struct {
	s       *Server
	ts      *httptest.Server
	names   map[string]string // random value -> placeholder
	issued  []string          // refresh tokens it set, in order
	control *http.Client
}

func (d *diffSide) normalize(s string) string {
	return randomValue.ReplaceAllStringFunc(s, func(v string) string {
		if p, ok := d.names[v]; ok {
			return p
		}
		p := fmt.Sprintf("<random#%d>", len(d.names)+1)
		d.names[v] = p
		return p
	})
}

// diffStep is one request of the differential test. Token picks a refresh
// token the side issued: "last", "prev" (the one before), or a literal.
type diffStep struct {
	name    string
	c       call
	token   string
	control string // a control API call before the request: "METHOD PATH BODY"
}

// exchange sends the step and returns everything observable about the
// answer, normalized: status, headers, body (or the transport error) and
// the journal entry.
func (d *diffSide) exchange(t *testing.T, st diffStep) string {
	t.Helper()
	var b strings.Builder
	if st.control != "" {
		method, rest, _ := strings.Cut(st.control, " ")
		path, body, _ := strings.Cut(rest, " ")
		req, _ := http.NewRequest(method, d.ts.URL+path, strings.NewReader(body))
		resp, err := d.control.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		cb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&b, "control %d %s\n", resp.StatusCode, d.normalize(string(cb)))
	}
	c := st.c
	tok := st.token
	switch tok {
	case "last":
		tok = d.issued[len(d.issued)-1]
	case "prev":
		tok = d.issued[len(d.issued)-2]
	}
	if tok != "" {
		c.cookies = map[string]string{RefreshCookie: tok}
	}
	req := c.request(t, d.ts.URL)
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fmt.Fprintf(&b, "transport error\n")
	} else {
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Header.Del("Date")
		if cl := resp.Header.Get("Content-Length"); cl == strconv.Itoa(len(body)) {
			resp.Header.Del("Content-Length") // net/http adds it when the handler does not
		}
		var hb bytes.Buffer
		_ = resp.Header.Write(&hb)
		fmt.Fprintf(&b, "%d read error %v\n%s\n%s\n", resp.StatusCode, rerr != nil, d.normalize(hb.String()), d.normalize(string(body)))
		for _, ck := range resp.Cookies() {
			if ck.Name == RefreshCookie && ck.Value != "" {
				d.issued = append(d.issued, ck.Value)
			}
		}
	}
	e := d.s.journal.last(1)[0]
	e.Seq, e.Time, e.LatencyMS = 0, time.Time{}, 0
	jb, _ := json.Marshal(e)
	fmt.Fprintf(&b, "journal %s\n", d.normalize(string(jb)))
	return b.String()
}

// TestCoreMatchesOldPath sends the same requests, in the same order, to
// the mock with the decision core and with the old request path, and
// requires the same answers and journal entries (random tokens aside).
func TestCoreMatchesOldPath(t *testing.T) {
	set := mustCoreSet(t)
	newSide := func(old bool) *diffSide {
		s := mustServer(t, Config{Scenarios: set, MaxBody: 512})
		if old {
			s.engine = oldEngine(s)
		}
		return &diffSide{s: s, ts: mustListen(t, s), names: map[string]string{}, control: &http.Client{}}
	}
	oldSide, newSide2 := newSide(true), newSide(false)

	steps := []diffStep{
		{name: "seed token", token: DefaultSeedToken},
		{name: "rotate again", token: "last"},
		{name: "reuse the rotated-away token", token: "prev"},
		{name: "the family is revoked", token: "last"},
		{name: "no token"},
		{name: "unknown token", token: "rt_unknown"},
		{name: "token in the body", c: call{body: `{"refresh_token":"rt_seed_dev"}`}},
		{name: "null token", c: call{body: `{"refresh_token":null}`}},
		{name: "empty object", c: call{body: `{}`}},
		{name: "wrong type", c: call{body: `{"refresh_token":5}`}},
		{name: "too short", c: call{body: `{"refresh_token":""}`}},
		{name: "not an object", c: call{body: `[1,2]`}},
		{name: "malformed", c: call{body: `{"refresh_token": `}},
		{name: "garbage", c: call{body: "\x00\xff{{"}},
		{name: "text/plain", c: call{body: `{"refresh_token":"x"}`, header: map[string]string{"Content-Type": "text/plain"}}},
		{name: "too large", c: call{body: `{"refresh_token":"` + strings.Repeat("x", 600) + `"}`}},
		{name: "extra field", c: call{body: `{"refresh_token":"rt_x","extra":1}`}},
		{name: "query", c: call{path: "/auth/refresh?b=2&a=1"}},
		{name: "unknown scenario", c: call{header: map[string]string{"X-Mock-Scenario": "refresh-sucess"}}},
		{name: "prefer 418", c: call{header: map[string]string{"Prefer": "code=418"}}},
		{name: "prefer garbage", c: call{header: map[string]string{"Prefer": "code=abc"}}},
		{name: "prefer 200 body and cookie", token: "rt_x", c: call{body: `{"refresh_token":"rt_x"}`, header: map[string]string{"Prefer": "code=200"}}},
		{name: "prefer 401 body and cookie", token: "rt_x", c: call{body: `{"refresh_token":"rt_x"}`, header: map[string]string{"Prefer": "code=401"}}},
		{name: "prefer example", c: call{header: map[string]string{"Prefer": "example=refresh-success"}}},
		{name: "scenario and prefer disagree", c: call{header: map[string]string{"X-Mock-Scenario": "refresh-success", "Prefer": "code=401"}}},
		{name: "render failure", c: call{header: map[string]string{"X-Boom": "1"}}},
		{name: "delay", c: call{header: map[string]string{"X-Mock-Scenario": "core-slow"}}},
		{name: "fault", c: call{header: map[string]string{"X-Mock-Scenario": "core-cut"}}},
		{name: "armed for everyone", control: `POST /__mock/arm {"scenario":"internal-error"}`},
		{name: "armed for a session, other client", control: `POST /__mock/arm {"scenario":"bad-gateway","session":"dev-a"}`},
		{name: "armed for a session", c: call{header: map[string]string{"X-Mock-Session": "dev-a"}}},
		{name: "issue a token", control: `POST /__mock/tokens {"subject":"user_x"}`, token: DefaultSeedToken},
		{name: "advance past the refresh TTL", control: `POST /__mock/clock/advance {"by":"800h"}`, token: "last"},
		{name: "reset", control: `POST /__mock/reset`, token: DefaultSeedToken},
	}
	for _, sc := range set.All() {
		steps = append(steps, diffStep{name: "X-Mock-Scenario " + sc.Name, token: "rt_x", c: call{body: `{"refresh_token":"rt_x"}`, header: map[string]string{"X-Mock-Scenario": sc.Name}}})
	}
	for _, tok := range regexp.MustCompile(`rt_test_[a-z0-9_]+`).FindAllString(string(mustEmbeddedYAML(t)), -1) {
		steps = append(steps, diffStep{name: "test token " + tok, token: tok}, diffStep{name: "test token in body " + tok, c: call{body: `{"refresh_token":"` + tok + `"}`}})
	}
	for _, st := range steps {
		got, want := newSide2.exchange(t, st), oldSide.exchange(t, st)
		if got != want {
			t.Errorf("%s: the core answers\n%s\nthe old path answered\n%s", st.name, got, want)
		}
	}
}

func mustEmbeddedYAML(tb testing.TB) []byte {
	var all []byte
	for _, src := range scenarios.Embedded() {
		all = append(all, src.Data...)
	}
	return all
}
