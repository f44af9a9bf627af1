package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
	"github.com/tidwall/gjson"
)

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

// serveOperation answers one request to an operation: read and check the
// request, look up its refresh token, select a scenario, render and write
// it. Each step is a plain function.
func (s *Server) serveOperation(c *gin.Context, op *spec.Operation) {
	start := time.Now()
	snap := s.snap.Load()
	r := c.Request
	ent := Entry{Operation: op.ID}

	body, rej := readBody(r, s.cfg.MaxBody)
	if rej == nil {
		rej = s.checkRequest(r, op, body)
	}
	if rej != nil {
		s.reject(c, op, start, ent, rej)
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
	var out *response
	if err == nil && sel.Scenario != nil {
		// Only a scenario chosen by its match rules or as the default must
		// rotate the very token it was chosen for; one named by the request
		// or armed may start a new family.
		strict := sel.Rule == scenarios.RuleMatch || sel.Rule == scenarios.RuleDefault
		out, err = s.render(sel.Scenario, req, token, strict)
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
					out, err = s.render(sel.Scenario, req, token, false)
				}
			}
		}
	}
	if errors.Is(err, scenarios.ErrSelect) {
		msg := strings.TrimPrefix(err.Error(), scenarios.ErrSelect.Error()+": ")
		s.reject(c, op, start, ent, &rejection{status: http.StatusBadRequest, code: "invalid_request", message: msg, rule: "select_error"})
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
		b, err := s.example(op, sel.Example)
		if err != nil {
			s.reject(c, op, start, ent, &rejection{status: http.StatusInternalServerError, code: "internal_server_error", message: err.Error(), rule: "error"})
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
		s.reject(c, op, start, ent, &rejection{status: http.StatusInternalServerError, code: "internal_server_error", message: "scenario " + sel.Scenario.Name + " failed to render; see the mock's log", rule: ent.Rule})
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
		s.fault(c, resp.Fault, out)
		return
	}
	out.write(c.Writer)
	s.finish(c, start, ent)
}

// readBody reads the body up to limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, *rejection) {
	tooLarge := func() *rejection {
		return &rejection{status: http.StatusBadRequest, code: "request_too_large", rule: "validation",
			message: fmt.Sprintf("the request body exceeds the %s limit of this mock (--max-body)", byteSize(limit))}
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	var b []byte
	var err error
	if n := r.ContentLength; n > 0 {
		// The size is known and within the limit: one exact allocation
		// instead of io.ReadAll's growing buffer.
		b = make([]byte, n)
		var got int
		got, err = io.ReadFull(r.Body, b)
		b = b[:got]
	} else {
		b, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
	}
	if int64(len(b)) > limit {
		return nil, tooLarge()
	}
	if err != nil {
		return nil, &rejection{status: http.StatusBadRequest, code: "invalid_request", rule: "validation",
			message: "the request body could not be read: " + err.Error()}
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// checkRequest checks the media type, then (unless validation is off)
// that JSON parses and that the request validates against the spec. All
// three are pure functions of the request, so the outcome for a request
// seen before comes from the memo.
func (s *Server) checkRequest(r *http.Request, op *spec.Operation, body []byte) *rejection {
	if s.cfg.NoValidateRequests {
		return s.checkMediaType(r, op, body)
	}
	rel, _ := s.relPath(r.URL.Path)
	if s.memo == nil {
		return s.checkUncached(r, op, rel, body)
	}
	kb := keyPool.Get().(*[]byte)
	defer keyPool.Put(kb)
	var ok bool
	*kb, ok = appendMemoKey((*kb)[:0], r, rel, body)
	if !ok {
		return s.checkUncached(r, op, rel, body)
	}
	if rej, hit := s.memo.get(*kb); hit {
		return rej
	}
	rej := s.checkUncached(r, op, rel, body)
	s.memo.put(*kb, rej)
	return rej
}

// checkUncached is checkRequest without the memo.
func (s *Server) checkUncached(r *http.Request, op *spec.Operation, rel string, body []byte) *rejection {
	if rej := s.checkMediaType(r, op, body); rej != nil {
		return rej
	}
	if len(body) > 0 && op.RequestBody != nil && len(op.RequestBody.ContentTypes) > 0 &&
		spec.IsJSON(mediaType(r.Header.Get("Content-Type"))) && !json.Valid(body) {
		return &rejection{status: http.StatusBadRequest, code: "malformed_json", rule: "validation",
			message: "the request body is not valid JSON: " + jsonError(body)}
	}
	return s.validate(r, rel, body)
}

// checkMediaType checks that a body comes as a media type the operation
// accepts.
func (s *Server) checkMediaType(r *http.Request, op *spec.Operation, body []byte) *rejection {
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

// mediaType is the media type of a Content-Type value without its
// parameters, or "" when the value does not parse.
func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return mt
}

// query is the request's query, nil when it has none (reading a nil
// url.Values is fine and costs no allocation).
func query(r *http.Request) url.Values {
	if r.URL.RawQuery == "" {
		return nil
	}
	return r.URL.Query()
}

// validate runs the spec's request validator.
func (s *Server) validate(r *http.Request, rel string, body []byte) *rejection {
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
	ds := details(vs)
	msg := "the request does not validate against the spec: " + ds[0].Msg
	if len(ds) > 1 {
		msg += fmt.Sprintf(" (and %d more; see details)", len(ds)-1)
	}
	return &rejection{status: http.StatusUnprocessableEntity, code: "validation_error", rule: "validation", message: msg, details: ds}
}

// jsonError describes where JSON stops parsing.
func jsonError(body []byte) string {
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	if err != nil {
		return err.Error()
	}
	return "it does not parse"
}

// details turns validator findings into the envelope's details.
func details(vs []spec.Violation) []detail {
	out := make([]detail, 0, len(vs))
	for _, v := range vs {
		d := detail{Msg: v.Message, Type: detailType(v)}
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

// fieldPath splits $.a.b[0] into ["a", "b", 0].
func fieldPath(f string) []any {
	f = strings.TrimPrefix(strings.TrimPrefix(f, "$"), ".")
	if f == "" {
		return nil
	}
	var out []any
	for part := range strings.SplitSeq(strings.NewReplacer("[", ".", "]", "").Replace(f), ".") {
		if part == "" {
			continue
		}
		if n, err := strconv.Atoi(part); err == nil {
			out = append(out, n)
			continue
		}
		out = append(out, part)
	}
	return out
}

// detailType names the kind of finding, in the style of the details the
// API documents (missing, string_type, string_too_short, value_error).
func detailType(v spec.Violation) string {
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

func cookieMap(r *http.Request) map[string]string {
	cs := r.Cookies()
	if len(cs) == 0 {
		return map[string]string{}
	}
	m := make(map[string]string, len(cs))
	for _, c := range cs {
		if _, dup := m[c.Name]; !dup {
			m[c.Name] = c.Value
		}
	}
	return m
}

// reject answers with the error envelope at a status the operation
// documents.
func (s *Server) reject(c *gin.Context, op *spec.Operation, start time.Time, ent Entry, rej *rejection) {
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
	s.writeEnvelope(c, status, code, rej.message, ds)
	s.finish(c, start, ent)
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

// writeEnvelope writes the canonical error envelope.
func (s *Server) writeEnvelope(c *gin.Context, status int, code, message string, ds []detail) {
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

// example returns the spec's example body for a documented status, cached.
func (s *Server) example(op *spec.Operation, status int) ([]byte, error) {
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

// finish records the journal entry and the log line.
func (s *Server) finish(c *gin.Context, start time.Time, ent Entry) {
	s.finishStatus(c, start, ent, c.Writer.Status())
}

func (s *Server) finishStatus(c *gin.Context, start time.Time, ent Entry, status int) {
	lat := time.Since(start)
	r := c.Request
	ent.Time, ent.Method, ent.Path, ent.Status = start, r.Method, r.URL.Path, status
	ent.LatencyMS = float64(lat.Microseconds()) / 1000
	s.journal.add(ent)
	if s.log.Enabled(r.Context(), slog.LevelInfo) {
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("scenario", ent.Scenario),
			slog.String("rule", ent.Rule),
			slog.Int("status", status),
			slog.Duration("latency", lat),
		)
	}
}
