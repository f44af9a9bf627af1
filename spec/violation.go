package spec

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pb33f/jsonschema/v6"
	"github.com/pb33f/jsonschema/v6/kind"
	"github.com/pb33f/libopenapi-validator/content"
	vErrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
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
	// Kind says, as data, what kind of check failed (KindMissing,
	// KindType, ...), for findings of the OpenAPI validator; empty for the
	// envelope rules. It is derived from the validator's structured
	// fields (the failing schema keyword), never from its prose.
	Kind Kind `json:"kind,omitempty"`
	// Want is what the failed check wanted, when that is one value: the
	// JSON type for KindType (null left out of a nullable type), the
	// limit for the length and range kinds, the pattern, the format.
	Want string `json:"want,omitempty"`
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

	// nullBranch marks the failure of the null alternative of a nullable
	// type (type: [X, "null"] split by oneOf), noise when X failed deeper.
	nullBranch bool
}

// SpecificFix is HowToFix unless it is the validator's generic advice for
// any schema failure ("Ensure that the object being submitted, matches
// the schema correctly"), which says nothing a message does not.
func (v Violation) SpecificFix() string {
	if v.HowToFix == vErrors.HowToFixInvalidSchema {
		return ""
	}
	return v.HowToFix
}

// Kind is the kind of check a value failed.
type Kind string

// The kinds of Violation.Kind.
const (
	KindMissing       Kind = "missing"        // a required property, parameter or header is absent
	KindType          Kind = "type"           // the value has another JSON type (Want: the type)
	KindTooShort      Kind = "too-short"      // minLength (Want: the minimum)
	KindTooLong       Kind = "too-long"       // maxLength (Want: the maximum)
	KindPattern       Kind = "pattern"        // pattern (Want: the pattern)
	KindEnum          Kind = "enum"           // enum
	KindConst         Kind = "const"          // const
	KindFormat        Kind = "format"         // format (Want: the format)
	KindTooSmall      Kind = "too-small"      // minimum or exclusiveMinimum (Want: the limit)
	KindTooLarge      Kind = "too-large"      // maximum or exclusiveMaximum (Want: the limit)
	KindTooFew        Kind = "too-few"        // minItems or minProperties (Want: the minimum)
	KindTooMany       Kind = "too-many"       // maxItems or maxProperties (Want: the maximum)
	KindUnexpected    Kind = "unexpected"     // additionalProperties or unevaluatedProperties
	KindNoAlternative Kind = "no-alternative" // oneOf, anyOf or not
	KindMalformed     Kind = "malformed"      // the body could not be decoded (JSON syntax)
	KindContentType   Kind = "content-type"   // an undocumented content type
	KindStatus        Kind = "status"         // an undocumented response status
	KindNoOperation   Kind = "no-operation"   // the path or method is not in the document
	KindOther         Kind = "other"          // any other schema keyword
)

// keywordKinds maps the JSON Schema keyword that failed to its kind.
var keywordKinds = map[string]Kind{
	"required": KindMissing, "dependentRequired": KindMissing,
	"type":      KindType,
	"minLength": KindTooShort, "maxLength": KindTooLong,
	"pattern": KindPattern, "enum": KindEnum, "const": KindConst, "format": KindFormat,
	"minimum": KindTooSmall, "exclusiveMinimum": KindTooSmall,
	"maximum": KindTooLarge, "exclusiveMaximum": KindTooLarge,
	"minItems": KindTooFew, "minProperties": KindTooFew,
	"maxItems": KindTooMany, "maxProperties": KindTooMany,
	"additionalProperties": KindUnexpected, "unevaluatedProperties": KindUnexpected,
	"oneOf": KindNoAlternative, "anyOf": KindNoAlternative, "not": KindNoAlternative,
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
		if undecodable(e) {
			return RuleRequestJSON
		}
		return RuleRequestBody
	case e.ValidationType == "response" && e.ValidationSubType == "statusCode":
		return RuleResponseStatus
	case e.ValidationType == "response" && e.ValidationSubType == "contentType":
		return RuleResponseType
	case e.ValidationType == "response" && (e.ValidationSubType == "header" || e.ValidationSubType == "headers" || e.ParameterName != ""):
		return RuleResponseHeader
	case e.ValidationType == "response" || e.ValidationType == "schema" && response:
		return RuleResponseBody
	case e.ValidationType == "header":
		return RuleResponseHeader
	}
	return RuleOther
}

// undecodable says that the validator could not decode a body: a body
// finding with the validator's failure context and no schema failure.
func undecodable(e *vErrors.ValidationError) bool {
	_, ok := e.Context.(*content.FailureContext)
	return ok && len(e.SchemaValidationErrors) == 0
}

// errorKind is the kind of a finding without schema failures, from the
// validator's validation type and subtype.
func errorKind(e *vErrors.ValidationError) Kind {
	switch {
	case undecodable(e):
		return KindMalformed
	case e.ValidationSubType == "contentType":
		return KindContentType
	case e.ValidationSubType == "statusCode":
		return KindStatus
	case e.ValidationType == "path":
		return KindNoOperation
	}
	return ""
}

// failureKind is the kind of a schema failure: the keyword at the end of
// its keyword location, with what the keyword wanted from the schema
// library's error kind when the failure carries it (unit).
func failureKind(f *vErrors.SchemaValidationFailure, unit *jsonschema.OutputUnit) (k Kind, want string, nullBranch bool) {
	kw := f.KeywordLocation[strings.LastIndexByte(f.KeywordLocation, '/')+1:]
	k, ok := keywordKinds[kw]
	if !ok {
		k = KindOther
	}
	if unit == nil || unit.Error == nil {
		return k, "", false
	}
	switch ek := unit.Error.Kind.(type) {
	case *kind.Type:
		types := slices.DeleteFunc(slices.Clone(ek.Want), func(t string) bool { return t == "null" })
		return k, strings.Join(types, " or "), len(types) == 0
	case *kind.MinLength:
		return k, strconv.Itoa(ek.Want), false
	case *kind.MaxLength:
		return k, strconv.Itoa(ek.Want), false
	case *kind.Pattern:
		return k, ek.Want, false
	case *kind.Format:
		return k, ek.Want, false
	case *kind.MinItems:
		return k, strconv.Itoa(ek.Want), false
	case *kind.MaxItems:
		return k, strconv.Itoa(ek.Want), false
	case *kind.Minimum:
		return k, ek.Want.RatString(), false
	case *kind.Maximum:
		return k, ek.Want.RatString(), false
	case *kind.ExclusiveMinimum:
		return k, ek.Want.RatString(), false
	case *kind.ExclusiveMaximum:
		return k, ek.Want.RatString(), false
	}
	return k, "", false
}

// outputUnits finds the schema library's output unit behind each schema
// failure: the flattened units of the failure's original error, matched on
// keyword and instance location (the fields the validator copied from
// them). The flattening of one original error is done once.
type outputUnits map[*jsonschema.ValidationError][]jsonschema.OutputUnit

func (u outputUnits) find(f *vErrors.SchemaValidationFailure) *jsonschema.OutputUnit {
	orig := f.OriginalJsonSchemaError
	if orig == nil {
		return nil
	}
	units, ok := u[orig]
	if !ok {
		units = helpers.FlattenSchemaOutputErrors(orig.DetailedOutput())
		u[orig] = units
	}
	inst := "/" + strings.Join(escapeSegments(f.InstancePath), "/")
	if len(f.InstancePath) == 0 {
		inst = ""
	}
	for i := range units {
		if units[i].KeywordLocation == f.KeywordLocation && units[i].InstanceLocation == inst {
			return &units[i]
		}
	}
	return nil
}

func escapeSegments(segs []string) []string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = escapePointer(s)
	}
	return out
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
	units := outputUnits{}
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
			Kind:        errorKind(e),
		}
		if base.Rule == RuleResponseType && src.op != nil {
			base.Message = responseTypeMessage(src)
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
			unit := units.find(f)
			v.Kind, v.Want, v.nullBranch = failureKind(f, unit)
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
			if missing := missingProperties(unit); len(missing) > 0 {
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
		if v.nullBranch && v.Field != "" {
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
func responseTypeMessage(src source) string {
	ct := "none"
	if src.value != nil {
		if v, ok := src.value("header", "Content-Type"); ok && v != "" {
			ct = v
		}
	}
	return fmt.Sprintf("the %d response of %s %s has content type '%s', which the spec does not document for it",
		src.status, src.op.Method, src.op.Path, ct)
}

// missingProperties returns the names of the missing properties of a
// failed "required".
func missingProperties(unit *jsonschema.OutputUnit) []string {
	if unit == nil || unit.Error == nil {
		return nil
	}
	if r, ok := unit.Error.Kind.(*kind.Required); ok {
		return r.Missing
	}
	return nil
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
