package spec

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	vErrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/tidwall/gjson"
)

// Violation is one finding against the document or the envelope rules.
type Violation struct {
	// Rule is a stable identifier, such as "response-body-schema" or
	// "envelope-status-matches".
	Rule string `json:"rule"`
	// Message says what was expected and what came back.
	Message string `json:"message"`
	// Reason is the validator's detailed reason, when there is one.
	Reason string `json:"reason,omitempty"`
	// Field is the JSON path of the offending value ($.a.b) or the name of
	// the parameter or header.
	Field string `json:"field,omitempty"`
	// Value is the offending value as it came, when known.
	Value string `json:"value,omitempty"`
	// In says where Field lives: body, header, cookie, query or path.
	In string `json:"in,omitempty"`
	// SpecPointer is a JSON pointer into the document (or into the schema
	// keyword that failed).
	SpecPointer string `json:"spec_pointer,omitempty"`
	SpecLine    int    `json:"spec_line,omitempty"`
	SpecCol     int    `json:"spec_col,omitempty"`
	HowToFix    string `json:"how_to_fix,omitempty"`
}

// String renders the violation on one line.
func (v Violation) String() string {
	var b strings.Builder
	b.WriteString(v.Rule)
	b.WriteString(": ")
	b.WriteString(v.Message)
	if v.Field != "" {
		fmt.Fprintf(&b, " (at %s", v.Field)
		if v.Value != "" {
			fmt.Fprintf(&b, " = %s", v.Value)
		}
		b.WriteString(")")
	}
	if v.SpecPointer != "" {
		fmt.Fprintf(&b, " [spec %s", v.SpecPointer)
		if v.SpecLine > 0 {
			fmt.Fprintf(&b, " line %d", v.SpecLine)
		}
		b.WriteString("]")
	}
	return b.String()
}

// Rule identifiers for findings of the OpenAPI validator.
const (
	RuleRequestPath        = "request-path"
	RuleRequestParameter   = "request-parameter"
	RuleRequestBody        = "request-body-schema"
	RuleRequestContentType = "request-content-type"
	RuleRequestJSON        = "request-body-json"
	RuleResponseStatus     = "response-status-documented"
	RuleResponseBody       = "response-body-schema"
	RuleResponseHeader     = "response-header"
	RuleResponseType       = "response-content-type"
	RuleOther              = "openapi"
)

func ruleFor(e *vErrors.ValidationError, response bool) string {
	switch {
	case e.ValidationType == "path":
		return RuleRequestPath
	case e.ValidationType == "parameter":
		return RuleRequestParameter
	case e.ValidationType == "requestBody" && e.ValidationSubType == "contentType":
		return RuleRequestContentType
	case e.ValidationType == "requestBody" || e.ValidationType == "request":
		if e.ValidationSubType == "contentType" {
			return RuleRequestContentType
		}
		if strings.Contains(e.Message, "could not be decoded") {
			return RuleRequestJSON
		}
		return RuleRequestBody
	case e.ValidationType == "response" && e.ValidationSubType == "statusCode":
		return RuleResponseStatus
	case e.ValidationType == "response" && e.ValidationSubType == "contentType":
		return RuleResponseType
	case e.ValidationType == "response" && (e.ValidationSubType == "header" || e.ParameterName != ""):
		return RuleResponseHeader
	case e.ValidationType == "response" || e.ValidationType == "schema" && response:
		if strings.Contains(strings.ToLower(e.Message), "header") {
			return RuleResponseHeader
		}
		return RuleResponseBody
	case e.ValidationType == "header":
		return RuleResponseHeader
	}
	return RuleOther
}

// source describes what was validated, so that findings can be tied to
// the operation, the body and the parameter or header values they concern.
type source struct {
	response bool
	op       *Operation // nil when the request did not route
	status   int        // for responses
	body     []byte
	pointer  string                               // JSON pointer of the validated part
	value    func(in, name string) (string, bool) // a parameter or header value as sent
}

// convert turns the validator's errors into violations, one per schema
// failure (and one per missing required property), in a stable order.
func (s *Spec) convert(errs []*vErrors.ValidationError, src source) []Violation {
	var out []Violation
	for _, e := range errs {
		if e == nil {
			continue
		}
		base := Violation{
			Rule:        ruleFor(e, src.response),
			Message:     e.Message,
			Reason:      e.Reason,
			SpecLine:    e.SpecLine,
			SpecCol:     e.SpecCol,
			HowToFix:    e.HowToFix,
			SpecPointer: src.pointer,
		}
		if base.Rule == RuleResponseType && src.op != nil {
			base.Message = responseTypeMessage(e.Message, src)
		}
		named := base.Rule == RuleRequestParameter || base.Rule == RuleResponseHeader
		if e.ParameterName != "" {
			base.Field = e.ParameterName
		}
		if len(e.SchemaValidationErrors) == 0 {
			if named {
				src.locate(&base, e, nil)
			}
			out = append(out, base)
			continue
		}
		for _, f := range e.SchemaValidationErrors {
			if f == nil {
				continue
			}
			v := base
			v.Reason = f.Reason
			if f.Reason != "" {
				v.Message = e.Message + ": " + f.Reason
			}
			switch {
			case strings.HasPrefix(f.KeywordLocation, "/paths/"):
				v.SpecPointer = src.fixPointer(f.KeywordLocation)
			case f.KeywordLocation != "":
				v.SpecPointer = strings.TrimSuffix(src.pointer, "/") + f.KeywordLocation
			}
			if f.Line > 0 && v.SpecLine == 0 {
				v.SpecLine, v.SpecCol = f.Line, f.Column
			}
			if named {
				src.locate(&v, e, f)
				out = append(out, v)
				continue
			}
			switch {
			case f.FieldPath != "":
				v.Field = f.FieldPath
				v.In = "body"
				if val, ok := ValueAt(src.body, f.FieldPath); ok {
					v.Value = val
				}
			case len(f.InstancePath) > 0:
				v.Field = "$." + strings.Join(f.InstancePath, ".")
			}
			if missing := missingProperties(f.Reason); len(missing) > 0 {
				// One finding per missing property, at the property's path.
				parent := f.FieldPath
				if parent == "" {
					parent = "$"
				}
				for _, name := range missing {
					m := v
					m.Field, m.Value, m.In = parent+"."+name, "", "body"
					m.Reason = "missing property '" + name + "'"
					m.Message = e.Message + ": " + m.Reason
					out = append(out, m)
				}
				continue
			}
			out = append(out, v)
		}
	}
	out = dropNullBranches(out)
	sortViolations(out)
	return out
}

// dropNullBranches removes the "want null" failure of a `oneOf: [X, null]`
// when X itself reported a deeper failure: the null branch is noise then.
func dropNullBranches(vs []Violation) []Violation {
	out := vs[:0]
	for _, v := range vs {
		if strings.HasSuffix(v.Reason, "want null") && v.Field != "" {
			deeper := false
			for _, w := range vs {
				if strings.HasPrefix(w.Field, v.Field+".") || strings.HasPrefix(w.Field, v.Field+"[") {
					deeper = true
					break
				}
			}
			if deeper {
				continue
			}
		}
		out = append(out, v)
	}
	return out
}

// locate fills Field (with the documented spelling of the parameter or
// header), In, Value and SpecPointer of a parameter or header finding.
func (src source) locate(v *Violation, e *vErrors.ValidationError, f *vErrors.SchemaValidationFailure) {
	name := e.ParameterName
	if name == "" && f != nil {
		name = f.FieldName
		if name == "" && len(f.InstancePath) > 0 {
			name = f.InstancePath[0]
		}
	}
	name = strings.TrimPrefix(name, "$.")
	in := "header"
	if !src.response {
		switch e.ValidationSubType {
		case "path", "query", "header", "cookie":
			in = e.ValidationSubType
		default:
			in = ""
		}
	}
	if src.op != nil && name != "" {
		if src.response {
			if r, ok := src.op.Response(src.status); ok {
				for _, h := range r.Headers {
					if strings.EqualFold(h.Name, name) {
						name = h.Name
						if f != nil && !strings.HasPrefix(f.KeywordLocation, "/paths/") {
							v.SpecPointer = r.Pointer + "/headers/" + escapePointer(h.Name) + "/schema" + f.KeywordLocation
						}
					}
				}
			}
		} else if p, ok := src.op.Parameter(in, name); ok {
			name = p.Name
		}
	}
	v.Field, v.In, v.Value = name, in, ""
	if src.value != nil && name != "" {
		if val, ok := src.value(in, name); ok {
			v.Value = Shorten(val, 120)
		}
	}
}

// fixPointer repairs pointers in which the validator left the leading slash
// of the path out of the escaped path (/paths/pets~1{id} for /pets/{id}).
func (src source) fixPointer(ptr string) string {
	if src.op == nil {
		return ptr
	}
	bad := "/paths/" + escapePointer(strings.TrimPrefix(src.op.Path, "/")) + "/"
	if strings.HasPrefix(ptr, bad) {
		return "/paths/" + escapePointer(src.op.Path) + "/" + ptr[len(bad):]
	}
	return ptr
}

// responseTypeMessage says which response of which operation has an
// undocumented content type; the validator's own message reads
// "POST / 500 operation response content type ..." (method / status).
func responseTypeMessage(msg string, src source) string {
	ct := "none"
	if m := quotedName.FindStringSubmatch(msg); m != nil && m[1] != "" {
		ct = m[1]
	}
	return fmt.Sprintf("the %d response of %s %s has content type '%s', which the spec does not document for it",
		src.status, src.op.Method, src.op.Path, ct)
}

var quotedName = regexp.MustCompile(`'((?:[^'\\]|\\.)*)'`)

// missingProperties returns the names listed by a "missing property 'a'" or
// "missing properties 'a', 'b'" reason.
func missingProperties(reason string) []string {
	if !strings.HasPrefix(reason, "missing property ") && !strings.HasPrefix(reason, "missing properties ") {
		return nil
	}
	var names []string
	for _, m := range quotedName.FindAllStringSubmatch(reason, -1) {
		names = append(names, strings.ReplaceAll(m[1], `\'`, "'"))
	}
	return names
}

func sortViolations(vs []Violation) {
	sort.SliceStable(vs, func(i, j int) bool {
		if vs[i].Rule != vs[j].Rule {
			return vs[i].Rule < vs[j].Rule
		}
		if vs[i].Field != vs[j].Field {
			return vs[i].Field < vs[j].Field
		}
		return vs[i].Message < vs[j].Message
	})
}

// ValueAt returns the raw JSON at a JSONPath-like field path ($.a.b[0])
// inside body, shortened to at most 120 bytes.
func ValueAt(body []byte, fieldPath string) (string, bool) {
	p := strings.TrimPrefix(strings.TrimPrefix(fieldPath, "$"), ".")
	if p == "" {
		return "", false
	}
	p = strings.NewReplacer("[", ".", "]", "").Replace(p)
	r := gjson.GetBytes(body, p)
	if !r.Exists() {
		return "", false
	}
	return Shorten(r.Raw, 120), true
}

// Shorten cuts s to at most n bytes, marking the cut.
func Shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ValidateRequest validates a request (path, parameters, body) against the
// document. The request's URL path must be relative to the document's paths
// (any base path removed). The body is read and restored.
func (s *Spec) ValidateRequest(req *http.Request) []Violation {
	body, err := readAndRestore(req)
	if err != nil {
		return []Violation{{Rule: RuleRequestBody, Message: "request body could not be read: " + err.Error()}}
	}
	ok, errs := s.validator.ValidateHttpRequestSync(req)
	restore(req, body)
	if ok {
		return nil
	}
	op, _ := s.Route(req.Method, req.URL.Path)
	src := source{op: op, body: body, value: requestValue(req, op)}
	if op != nil {
		src.pointer = op.Pointer() + "/requestBody"
	}
	return s.convert(errs, src)
}

// ValidateResponse validates a recorded response (status, headers, body) to
// req against the document.
func (s *Spec) ValidateResponse(req *http.Request, status int, header http.Header, body []byte) []Violation {
	resp := &http.Response{
		StatusCode: status,
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header:     header.Clone(),
		Body:       io.NopCloser(bytes.NewReader(body)),
		Request:    req,
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	ok, errs := s.validator.ValidateHttpResponse(req, resp)
	if ok {
		return nil
	}
	src := source{response: true, status: status, body: body, value: func(_, name string) (string, bool) {
		vals := resp.Header.Values(name)
		return strings.Join(vals, ", "), len(vals) > 0
	}}
	if op, _ := s.Route(req.Method, req.URL.Path); op != nil {
		src.op, src.pointer = op, op.Pointer()+"/responses/"+strconv.Itoa(status)
	}
	return s.convert(errs, src)
}

// ValidateScripted validates a response that a scenario scripts for
// operation op, without a real request.
func (s *Spec) ValidateScripted(op *Operation, status int, header http.Header, body []byte) []Violation {
	return s.ValidateResponse(SampleRequest(op), status, header, body)
}

// SampleRequest builds a request that routes to op, with every path
// parameter set to "sample".
func SampleRequest(op *Operation) *http.Request {
	p := paramSegment.ReplaceAllString(op.Path, "sample")
	u := &url.URL{Scheme: "http", Host: "127.0.0.1", Path: p}
	req, _ := http.NewRequest(op.Method, u.String(), http.NoBody)
	return req
}

// requestValue looks up a path, query, header or cookie parameter of req;
// path parameters need the operation req routes to.
func requestValue(req *http.Request, op *Operation) func(in, name string) (string, bool) {
	return func(in, name string) (string, bool) {
		switch in {
		case "path":
			if op == nil {
				return "", false
			}
			tmpl := strings.Split(op.Path, "/")
			got := strings.Split(strings.TrimSuffix(req.URL.Path, "/"), "/")
			for i, seg := range tmpl {
				if seg == "{"+name+"}" && i < len(got) && len(tmpl) == len(got) {
					return got[i], true
				}
			}
			return "", false
		case "query":
			vals, ok := req.URL.Query()[name]
			return strings.Join(vals, ","), ok
		case "header":
			vals := req.Header.Values(name)
			return strings.Join(vals, ", "), len(vals) > 0
		case "cookie":
			c, err := req.Cookie(name)
			if err != nil {
				return "", false
			}
			return c.Value, true
		}
		return "", false
	}
}

func readAndRestore(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	restore(req, b)
	return b, err
}

func restore(req *http.Request, b []byte) {
	if b == nil {
		req.Body = http.NoBody
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
}
