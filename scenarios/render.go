package scenarios

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sync"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/refreshmock/refreshmock/internal/jwt"
	"github.com/tidwall/gjson"
)

// RenderData is what templates see. Templates use its fields and methods
// ({{ .Cookie "refresh_token" }}, {{ .Body "refresh_token" }},
// {{ .Now.Unix }}, {{ .Token.Access }}) and the functions in FuncNames.
type RenderData struct {
	Request RequestData
	// Now is the mock clock's time.
	Now time.Time
	// Token holds the tokens the mock issued for this request when the
	// scenario rotates.
	Token TokenData
	// Vars are extra values, e.g. from the control API.
	Vars map[string]string
}

// RequestData is the request as templates and match rules see it.
type RequestData struct {
	Method  string
	Path    string
	Headers http.Header
	Cookies map[string]string
	Query   url.Values
	Body    []byte
}

// TokenData describes tokens issued by rotation.
type TokenData struct {
	Access    string
	Refresh   string
	ExpiresIn int
	Subject   string
	Family    string
}

// Cookie returns the request cookie's value, or "".
func (d *RenderData) Cookie(name string) string { return d.Request.Cookies[name] }

// Header returns the request header's first value, or "".
func (d *RenderData) Header(name string) string { return d.Request.Headers.Get(name) }

// Query returns the query parameter's first value, or "".
func (d *RenderData) Query(name string) string { return d.Request.Query.Get(name) }

// Body returns the request JSON body's value at a gjson path as a string,
// or "".
func (d *RenderData) Body(path string) string { return gjson.GetBytes(d.Request.Body, path).String() }

// Var returns a variable, or "".
func (d *RenderData) Var(name string) string { return d.Vars[name] }

// JWTKey signs the mock's JWT-shaped tokens (HS256). They are test tokens:
// the key is public on purpose.
var JWTKey = jwt.Key

// FuncNames lists the template functions, for documentation and the JSON
// Schema.
var FuncNames = []string{"json", "uuid", "jwt", "dict", "unix", "rfc3339", "add", "default"}

// jsonFunc is the template function json. It writes any value as JSON:
// {{ json (.Cookie "x") }} gives a quoted string, safe inside a JSON body.
// The fast path calls it directly.
func jsonFunc(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

var funcs = template.FuncMap{
	"json": jsonFunc,
	"uuid": NewUUID,
	// jwt signs a claims mapping: {{ jwt (dict "sub" "u1" "exp" (unix .Now)) }}.
	"jwt": func(claims map[string]any) (string, error) { return SignJWT(claims) },
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict needs key-value pairs, got %d arguments", len(kv))
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	"unix":    func(t time.Time) int64 { return t.Unix() },
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	// add sums two integers of any Go integer type, so that
	// {{ add (unix .Now) 900 }} and {{ add .Token.ExpiresIn 60 }} both work.
	"add": func(a, b any) (int64, error) {
		x, err := toInt64(a)
		if err != nil {
			return 0, err
		}
		y, err := toInt64(b)
		if err != nil {
			return 0, err
		}
		return x + y, nil
	},
	"default": func(def, v string) string {
		if v == "" {
			return def
		}
		return v
	},
	// printf replaces text/template's own, bounding widths (budget.go).
	"printf": boundedPrintf,
	// The step counter parseTemplate inserts; each render binds its own.
	tickFunc: func() (string, error) { return "", nil },
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	}
	return 0, fmt.Errorf("add: %v (%T) is not an integer", v, v)
}

// parseTemplate parses a scenario template and compiles its fast path when
// it has one.
func parseTemplate(name, text string) (*tmpl, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() { // with those it {{define}}s
		if tt.Tree == nil {
			continue
		}
		if err := checkRanges(tt.Tree, tt.Tree.Root); err != nil {
			return nil, err
		}
	}
	if err := checkRecursion(t); err != nil {
		return nil, fmt.Errorf("template: %s: %w", name, err)
	}
	out := &tmpl{Template: t, fast: compileFast(t, renderDataType)}
	out.counted = instrument(t)
	return out, nil
}

// maxRange is the most iterations a template may ask for with a constant:
// the mock renders on every request.
const maxRange = 10_000

// checkRanges refuses {{ range N }} with a constant N over maxRange, in
// the form of a parse error (template: name:line:col: ...).
func checkRanges(tree *parse.Tree, n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkRanges(tree, c); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		if p := n.Pipe; p != nil && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1 {
			if num, ok := p.Cmds[0].Args[0].(*parse.NumberNode); ok && num.IsInt && num.Int64 > maxRange {
				loc, _ := tree.ErrorContext(n)
				return fmt.Errorf("template: %s: range over %d iterations; use at most %d, the mock renders on every request", loc, num.Int64, maxRange)
			}
		}
		return checkBranches(tree, &n.BranchNode)
	case *parse.IfNode:
		return checkBranches(tree, &n.BranchNode)
	case *parse.WithNode:
		return checkBranches(tree, &n.BranchNode)
	}
	return nil
}

func checkBranches(tree *parse.Tree, b *parse.BranchNode) error {
	if err := checkRanges(tree, b.List); err != nil {
		return err
	}
	return checkRanges(tree, b.ElseList)
}

// hasAction reports whether text holds a template action at all.
func hasAction(text string) bool { return bytes.Contains([]byte(text), []byte("{{")) }

// NewUUID returns a random version 4 UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// SignJWT returns an HS256 JWT (header.payload.signature) of claims, signed
// with JWTKey (internal/jwt, the module's one JWT implementation).
func SignJWT(claims map[string]any) (string, error) { return jwt.SignClaims(claims) }

// Rendered is a response ready to write.
type Rendered struct {
	Status int
	// Header may be shared with other renders of the scenario: clone it
	// before changing it.
	Header  http.Header
	Cookies []RenderedCookie
	Body    []byte
}

// RenderedCookie is a scripted cookie with its value rendered. Attributes
// the scenario leaves unset are the server's to choose.
type RenderedCookie struct {
	Value string
	Spec  *Cookie
}

// Render produces the scenario's response for one request. It is safe for
// concurrent use. It is RenderContext without a request to watch.
func (s *Scenario) Render(data *RenderData) (*Rendered, error) {
	return s.RenderContext(context.Background(), data)
}

// RenderContext produces the scenario's response for one request, within
// the render budget (MaxRendered bytes per template, MaxRenderSteps loop
// iterations and template calls, MaxRenderTime): going over it, or ctx
// (the request's) being done, stops the render with an error wrapping
// ErrRenderBudget. It is safe for concurrent use.
func (s *Scenario) RenderContext(ctx context.Context, data *RenderData) (*Rendered, error) {
	out := new(Rendered)
	if err := s.render(newBudget(ctx, MaxRenderTime), data, out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// RenderInto is RenderContext for a caller that renders on every request
// and recycles what it can: it fills out instead of allocating a Rendered,
// and writes a body_template's output to body (after resetting it), which
// out.Body then aliases until body is reset or reused (a nil body: the
// output is copied out, as with RenderContext). A literal body is shared
// read-only, as with RenderContext. The render's clock starts at the first
// template that needs text/template: the compiled ones cannot loop. It is
// safe for concurrent use with distinct out and body.
func (s *Scenario) RenderInto(ctx context.Context, data *RenderData, out *Rendered, body *bytes.Buffer) error {
	// The budget lives on this frame: only a template that needs
	// text/template (tmpl.execute) copies it to the heap, and its clock
	// starts then (compiled templates cannot loop).
	b := budget{ctx: ctx, limit: MaxRenderTime}
	return s.render(&b, data, out, body)
}

// renderAtLoad renders with the load-time budget (loadRenderTime).
func (s *Scenario) renderAtLoad(data *RenderData) (*Rendered, error) {
	out := new(Rendered)
	if err := s.render(newBudget(context.Background(), loadRenderTime), data, out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// render fills out. A body_template renders into body, or into a pooled
// buffer copied out exactly when body is nil.
func (s *Scenario) render(b *budget, data *RenderData, out *Rendered, body *bytes.Buffer) error {
	r := &s.Response
	*out = Rendered{Status: r.Status, Header: r.sharedHeader}
	if out.Header == nil {
		out.Header = make(http.Header, len(r.Headers)+4)
		for k, vs := range r.staticHeader {
			// Built at load time and shared read-only.
			out.Header[k] = vs
		}
		for name, t := range r.headerTpl {
			val, err := execute(t, data, b)
			if err != nil {
				return fmt.Errorf("scenario %s: header %s: %w", s.Name, name, err)
			}
			out.Header.Set(name, val)
		}
		r.finishHeader(out.Header)
	}
	for i := range r.Cookies {
		c := &r.Cookies[i]
		val := c.Value
		if c.valueTpl != nil {
			var err error
			if val, err = execute(c.valueTpl, data, b); err != nil {
				return fmt.Errorf("scenario %s: cookie %s: %w", s.Name, c.Name, err)
			}
		}
		out.Cookies = append(out.Cookies, RenderedCookie{Value: val, Spec: c})
	}
	switch {
	case r.bodyTmpl != nil && body != nil:
		if err := r.bodyTmpl.execute(body, data, b); err != nil {
			return fmt.Errorf("scenario %s: body_template: %w", s.Name, err)
		}
		out.Body = body.Bytes()
	case r.bodyTmpl != nil:
		rendered, err := executeBytes(r.bodyTmpl, data, b)
		if err != nil {
			return fmt.Errorf("scenario %s: body_template: %w", s.Name, err)
		}
		out.Body = rendered
	case r.bodyJSON != nil:
		out.Body = r.bodyJSON
	}
	return nil
}

// finishHeader adds what every rendering of the response carries besides
// its scripted headers: the body's Content-Type, and for a rotating
// response Cache-Control: no-store (unless scripted) and Pragma: no-cache.
func (r *Response) finishHeader(h http.Header) {
	if r.bodyTmpl != nil || r.bodyJSON != nil {
		h["Content-Type"] = r.contentType
	}
	if r.Rotate {
		if h.Get("Cache-Control") == "" {
			h["Cache-Control"] = noStore
		}
		h["Pragma"] = noCache
	}
}

// noStore and noCache are shared header values of rotating responses.
var (
	noStore = []string{"no-store"}
	noCache = []string{"no-cache"}
)

// renderBufs recycles template output buffers: rendering runs on every
// request of the mock, and a fresh bytes.Buffer grows several times.
var renderBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf keeps buffers grown by a large render out of the pool.
const maxPooledBuf = 64 << 10

func execute(t *tmpl, data *RenderData, b *budget) (string, error) {
	buf := renderBufs.Get().(*bytes.Buffer)
	defer putRenderBuf(buf)
	if err := t.execute(buf, data, b); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// executeBytes renders t into a pooled buffer and returns an exact copy.
func executeBytes(t *tmpl, data *RenderData, b *budget) ([]byte, error) {
	buf := renderBufs.Get().(*bytes.Buffer)
	defer putRenderBuf(buf)
	if err := t.execute(buf, data, b); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

func putRenderBuf(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBuf {
		renderBufs.Put(buf)
	}
}

// execute renders t into buf, through its fast path when it has one. A
// failing fast path is run again with text/template, so that errors are
// text/template's own.
func (t *tmpl) execute(buf *bytes.Buffer, data *RenderData, b *budget) error {
	buf.Reset()
	if t.fast != nil && data != nil {
		if t.fast.execute(buf, reflect.ValueOf(data).Elem()) == nil {
			return nil
		}
		buf.Reset()
	}
	if err := b.ctx.Err(); err != nil {
		return fmt.Errorf("%w: the request went away (%w)", ErrRenderBudget, err)
	}
	// text/template keeps the writer and the tick function: they get a
	// copy of the budget (on the heap), whose counts come back when it is
	// done, so that the caller's (RenderInto's, on its stack) never escapes.
	if b.deadline.IsZero() {
		b.deadline = time.Now().Add(b.limit)
	}
	hb := *b
	err := t.executeText(buf, data, &hb)
	*b = hb
	return err
}

// executeText renders t into buf with text/template, within b.
func (t *tmpl) executeText(buf *bytes.Buffer, data *RenderData, b *budget) error {
	w := &cappedWriter{buf: buf, left: MaxRendered, b: b}
	if !t.counted {
		return cleanBudgetError(t.Template.Execute(w, data))
	}
	// A template with loops or template calls counts its steps against
	// this render's budget, through a clone bound to it, and runs on at
	// most half the CPUs (heavy), so that renders that go over their
	// budget cannot take every core from the other requests.
	if err := b.acquire(); err != nil {
		return err
	}
	defer b.release()
	c, err := t.Template.Clone()
	if err != nil {
		return err
	}
	return cleanBudgetError(c.Funcs(template.FuncMap{tickFunc: b.tick}).Execute(w, data))
}

// cappedWriter writes to buf until left bytes are used up, and looks at
// the render's clock and request as it goes.
type cappedWriter struct {
	buf  *bytes.Buffer
	left int
	b    *budget
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, errTooLarge
	}
	if err := w.b.wrote(); err != nil {
		return 0, err
	}
	w.left -= len(p)
	return w.buf.Write(p)
}

// SampleData is the request used to check templates at load time.
func SampleData() *RenderData {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	access, _ := SignJWT(map[string]any{"sub": "user_sample", "iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix()})
	return &RenderData{
		Request: RequestData{
			Method:  http.MethodPost,
			Path:    "/auth/refresh",
			Headers: http.Header{"Content-Type": {"application/json"}},
			Cookies: map[string]string{"refresh_token": "rt_sample"},
			Query:   url.Values{},
			Body:    []byte(`{"refresh_token":"rt_sample"}`),
		},
		Now:   now,
		Token: TokenData{Access: access, Refresh: "rt_sample_next", ExpiresIn: 900, Subject: "user_sample", Family: "fam_sample"},
		Vars:  map[string]string{},
	}
}
