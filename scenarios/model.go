package scenarios

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"time"
)

// Scenario is one scripted behaviour of an operation: how the mock picks
// it, the response it scripts, and how a conformance run provokes it on a
// real server. A loaded Scenario is never mutated.
type Scenario struct {
	// Name is unique across the loaded set; clients select a scenario by it
	// (X-Mock-Scenario, Prefer: example=NAME, the control API).
	Name string `yaml:"name" json:"name"`
	// Operation is the operationId the scenario belongs to.
	Operation   string   `yaml:"operation" json:"operation"`
	Description string   `yaml:"description" json:"description,omitempty"`
	Tags        []string `yaml:"tags" json:"tags,omitempty"`
	// Default marks the operation's default response, chosen when no other
	// scenario matches. At most one per operation.
	Default bool `yaml:"default" json:"default,omitempty"`
	// Priority orders match rules: higher first. Ties go to the scenario
	// with more conditions, then to load order.
	Priority int `yaml:"priority" json:"priority,omitempty"`
	// Match says when the mock picks the scenario by itself. A scenario with
	// no match rules is only chosen by name, by Prefer, or as the default.
	Match    *Match   `yaml:"match" json:"match,omitempty"`
	Response Response `yaml:"response" json:"response"`
	Conform  *Conform `yaml:"conform" json:"conform,omitempty"`

	// builtin marks a shipped scenario, which a user scenario of the same
	// name replaces.
	builtin bool

	// Pos is where the scenario starts.
	Pos Pos `yaml:"-" json:"-"`
	pos positions
}

// Match holds match rules. All the given conditions must hold; when Any is
// set, at least one of its alternatives must hold as well.
type Match struct {
	// Cookies, Headers and Query map a name to a condition.
	Cookies map[string]Condition `yaml:"cookies" json:"cookies,omitempty"`
	Headers map[string]Condition `yaml:"headers" json:"headers,omitempty"`
	Query   map[string]Condition `yaml:"query" json:"query,omitempty"`
	// Body maps a gjson path into the JSON request body to a condition.
	Body map[string]Condition `yaml:"body" json:"body,omitempty"`
	// Token matches the state of the presented refresh token as the mock's
	// token store sees it: one of TokenStates.
	Token string `yaml:"token" json:"token,omitempty"`
	// Any lists alternatives, e.g. the same test token in a cookie or in the
	// body.
	Any []Match `yaml:"any" json:"any,omitempty"`
}

// TokenStates are the values Match.Token accepts.
var TokenStates = []string{"valid", "missing", "expired", "reused", "invalid", "revoked"}

// Condition is a test on one string value. In YAML a plain scalar means
// equals; a mapping takes exactly one operator key: equals, prefix,
// contains, regex, present, lt, lte, gt, gte (the operators table in
// operators.go). It is compiled when decoded and immutable after.
type Condition struct {
	// Op is the operator's name.
	Op string
	// Operand is the operator's operand as written ("true" or "false"
	// for present).
	Operand string

	op   *operator
	test func(value string) bool // of a present value
}

// Response is what the mock answers.
type Response struct {
	Status int `yaml:"status" json:"status"`
	// Headers maps a header name to a value; values are templates.
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
	// Cookies are set with one Set-Cookie header each.
	Cookies []Cookie `yaml:"cookies" json:"cookies,omitempty"`
	// Body is a literal JSON value, written in YAML.
	Body any `yaml:"body" json:"body,omitempty"`
	// BodyTemplate is a text/template that renders the body; see Render.
	BodyTemplate string `yaml:"body_template" json:"body_template,omitempty"`
	// ContentType defaults to application/json when there is a body.
	ContentType string `yaml:"content_type" json:"content_type,omitempty"`
	// Rotate asks the mock to rotate the presented refresh token: it issues
	// a new access token and a new refresh token (set as a cookie) and
	// exposes them to templates as .Token. A response that carries tokens
	// is not to be cached (RFC 6749 section 5.1): it gets Cache-Control:
	// no-store unless the scenario sets Cache-Control, and Pragma: no-cache.
	Rotate bool `yaml:"rotate" json:"rotate,omitempty"`
	// Delay before answering: "250ms", or {min: 100ms, max: 2s}.
	Delay *Delay `yaml:"delay" json:"delay,omitempty"`
	// Fault breaks the connection on purpose: one of Faults.
	Fault string `yaml:"fault" json:"fault,omitempty"`
	// AllowUndocumentedStatus opts in to a status the spec does not document.
	AllowUndocumentedStatus bool `yaml:"allow_undocumented_status" json:"allow_undocumented_status,omitempty"`

	bodyJSON  []byte
	bodyTmpl  *tmpl
	headerTpl map[string]*tmpl
	// staticHeader holds the headers without templates under canonical
	// names, and contentType the body's Content-Type value; sharedHeader,
	// when the response has no header templates, is its whole header
	// (finishHeader applied). All are built once at load time and shared,
	// read-only, by every rendered response.
	staticHeader http.Header
	contentType  []string
	sharedHeader http.Header
}

// Faults are the values Response.Fault accepts.
var Faults = []string{"connection_reset", "empty_reply", "truncated_body"}

// Cookie is a Set-Cookie the response carries. Value is a template.
type Cookie struct {
	Name     string `yaml:"name" json:"name"`
	Value    string `yaml:"value" json:"value"`
	Path     string `yaml:"path" json:"path,omitempty"`
	Domain   string `yaml:"domain" json:"domain,omitempty"`
	MaxAge   *int   `yaml:"max_age" json:"max_age,omitempty"`
	HTTPOnly *bool  `yaml:"http_only" json:"http_only,omitempty"`
	Secure   *bool  `yaml:"secure" json:"secure,omitempty"`
	SameSite string `yaml:"same_site" json:"same_site,omitempty"`

	valueTpl *tmpl
}

// Delay is a fixed or random wait before the response.
type Delay struct {
	Min time.Duration `json:"min"`
	Max time.Duration `json:"max"`
}

// Conform says how a conformance run provokes the scenario on a real
// server.
type Conform struct {
	// Vars lists the variables the steps need (e.g. REFRESH_TOKEN). When one
	// is not supplied the case is skipped, naming it.
	Vars  []string `yaml:"vars" json:"vars,omitempty"`
	Steps []Step   `yaml:"steps" json:"steps"`
}

// Step is one request of a conformance case.
type Step struct {
	Name    string  `yaml:"name" json:"name,omitempty"`
	Request Request `yaml:"request" json:"request"`
	Expect  Expect  `yaml:"expect" json:"expect"`
	// Repeat sends the request this many times in a row (0 and 1: once;
	// at most MaxRepeat). Expect applies to the last response; a capture
	// joins the values of every response with commas.
	Repeat int `yaml:"repeat" json:"repeat,omitempty"`
	// Capture maps a variable name to where its value is taken from in this
	// step's response: "cookie:NAME", "header:NAME" or "json:GJSON_PATH".
	Capture map[string]Capture `yaml:"capture" json:"capture,omitempty"`
}

// Request is what a step sends. Strings may hold ${VAR} references.
type Request struct {
	// Method and Path default to the operation's.
	Method  string            `yaml:"method" json:"method,omitempty"`
	Path    string            `yaml:"path" json:"path,omitempty"`
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
	Cookies map[string]string `yaml:"cookies" json:"cookies,omitempty"`
	Query   map[string]string `yaml:"query" json:"query,omitempty"`
	// JSON is a body written in YAML and sent as JSON.
	JSON any `yaml:"json" json:"json,omitempty"`
	// Raw is a body sent as it is (e.g. malformed JSON).
	Raw *string `yaml:"raw" json:"raw,omitempty"`
	// ContentType defaults to application/json when there is a body.
	ContentType string `yaml:"content_type" json:"content_type,omitempty"`
}

// Expect is what the step's response must show.
type Expect struct {
	// Status lists the acceptable statuses; a single number is allowed.
	Status StatusList  `yaml:"status" json:"status"`
	Assert []Assertion `yaml:"assert" json:"assert,omitempty"`
}

// StatusList is one or more statuses.
type StatusList []int

// Assertion checks one gjson path of the JSON response body. Exactly one of
// Equals, Exists, Matches or OneOf is set.
type Assertion struct {
	Path    string `yaml:"path" json:"path"`
	Equals  any    `yaml:"equals" json:"equals,omitempty"`
	Exists  *bool  `yaml:"exists" json:"exists,omitempty"`
	Matches string `yaml:"matches" json:"matches,omitempty"`
	OneOf   []any  `yaml:"one_of" json:"one_of,omitempty"`

	hasEquals bool
	re        *regexp.Regexp
}

// Capture names where a variable's value comes from.
type Capture struct {
	From string `json:"from"` // cookie, header or json
	Name string `json:"name"` // cookie or header name, or gjson path
}

// String renders the capture as written in YAML.
func (c Capture) String() string { return c.From + ":" + c.Name }

// MarshalJSON renders the capture as its YAML shorthand.
func (c Capture) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// Pos is a position in a scenario file.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

// String renders file:line:col, or file:line when the column is unknown.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// positions records where each field of a scenario was written, by dotted
// path ("response.status", "match.cookies.refresh_token").
type positions map[string]Pos

// PosOf returns where the field at a dotted path was written, or the
// nearest enclosing field that was.
func (s *Scenario) PosOf(path string) Pos {
	for p := path; p != ""; {
		if pos, ok := s.pos[p]; ok {
			return pos
		}
		i := lastDot(p)
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return s.Pos
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// BodyJSON returns the literal body as JSON (nil when the scenario has none
// or uses a template).
func (r *Response) BodyJSON() []byte { return r.bodyJSON }

// HasBody reports whether the response has a literal or templated body.
func (r *Response) HasBody() bool { return r.bodyJSON != nil || r.bodyTmpl != nil }

// Templated reports whether the response renders anything per request.
func (r *Response) Templated() bool {
	if r.bodyTmpl != nil {
		return true
	}
	for _, t := range r.headerTpl {
		if t != nil {
			return true
		}
	}
	for _, c := range r.Cookies {
		if c.valueTpl != nil {
			return true
		}
	}
	return false
}
