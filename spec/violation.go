package spec

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// convert turns the validator's errors into violations, one per schema
// failure, in a stable order.
func (s *Spec) convert(errs []*vErrors.ValidationError, response bool, body []byte, pointer string) []Violation {
	var out []Violation
	for _, e := range errs {
		if e == nil {
			continue
		}
		base := Violation{
			Rule:        ruleFor(e, response),
			Message:     e.Message,
			Reason:      e.Reason,
			SpecLine:    e.SpecLine,
			SpecCol:     e.SpecCol,
			HowToFix:    e.HowToFix,
			SpecPointer: pointer,
		}
		if e.ParameterName != "" {
			base.Field = e.ParameterName
		}
		if len(e.SchemaValidationErrors) == 0 {
			out = append(out, base)
			continue
		}
		for _, f := range e.SchemaValidationErrors {
			v := base
			v.Reason = f.Reason
			if f.Reason != "" {
				v.Message = e.Message + ": " + f.Reason
			}
			if f.FieldPath != "" {
				v.Field = f.FieldPath
				v.In = "body"
				if val, ok := ValueAt(body, f.FieldPath); ok {
					v.Value = val
				}
			} else if len(f.InstancePath) > 0 {
				v.Field = "$." + strings.Join(f.InstancePath, ".")
			}
			switch {
			case strings.HasPrefix(f.KeywordLocation, "/paths/"):
				v.SpecPointer = f.KeywordLocation
			case f.KeywordLocation != "":
				v.SpecPointer = strings.TrimSuffix(pointer, "/") + f.KeywordLocation
			}
			if f.Line > 0 && v.SpecLine == 0 {
				v.SpecLine, v.SpecCol = f.Line, f.Column
			}
			out = append(out, v)
		}
	}
	sortViolations(out)
	return out
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
	ptr := ""
	if op, _ := s.Route(req.Method, req.URL.Path); op != nil {
		ptr = op.Pointer() + "/requestBody"
	}
	return s.convert(errs, false, body, ptr)
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
	ptr := ""
	if op, _ := s.Route(req.Method, req.URL.Path); op != nil {
		ptr = op.Pointer() + "/responses/" + strconv.Itoa(status)
	}
	return s.convert(errs, true, body, ptr)
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
