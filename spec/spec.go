package spec

import (
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

//go:embed refresh-token.yaml
var defaultDocument []byte

// DefaultName is the name under which the embedded document is reported.
const DefaultName = "spec/refresh-token.yaml (embedded)"

// ErrLoad is returned, wrapped, when a document cannot be read or built.
var ErrLoad = errors.New("load OpenAPI document")

// Spec is a loaded OpenAPI document with its validator. It is immutable and
// safe for concurrent use.
type Spec struct {
	name      string
	raw       []byte
	model     *v3.Document
	validator validator.Validator
	ops       []*Operation
	byID      map[string]*Operation
}

// Operation describes one operation of the document.
type Operation struct {
	ID          string
	Method      string // upper case
	Path        string // as written in the document, e.g. /pets/{id}
	Summary     string
	Description string
	Parameters  []Parameter
	RequestBody *RequestBody // nil when the operation takes none
	Responses   []Response   // sorted by status; "default" and ranges are not listed
	Line        int          // line of the operation in the document

	pathRE *regexp.Regexp
}

// Parameter is a documented parameter.
type Parameter struct {
	Name     string
	In       string // path, query, header or cookie
	Required bool
}

// RequestBody describes a JSON request body.
type RequestBody struct {
	Required     bool
	ContentTypes []string
	Properties   []Property // top-level properties of the JSON object schema
}

// Property is a top-level property of a request body schema, enough to
// generate wrong values for it.
type Property struct {
	Name      string
	Types     []string // JSON types allowed: string, integer, number, boolean, array, object, null
	MinLength int64    // 0 when unset
	Required  bool
}

// Response is a documented response of an operation.
type Response struct {
	Status       int
	Description  string
	ContentTypes []string
	Headers      []Header
	// ErrorCodes is the catalog from x-error-codes, in document order.
	ErrorCodes []string
	// Envelope reports whether the JSON schema is the error envelope
	// (an object with status, message and code).
	Envelope bool
	Line     int
	Pointer  string // JSON pointer to the response in the document
}

// Header is a documented response header.
type Header struct {
	Name     string
	Required bool
	Type     string
}

// Default returns the embedded Refresh Token document.
func Default() (*Spec, error) {
	return Load(DefaultName, defaultDocument)
}

// DefaultDocument returns a copy of the embedded document's bytes.
func DefaultDocument() []byte { return slices.Clone(defaultDocument) }

// LoadFile reads and loads the document at path.
func LoadFile(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	return Load(path, data)
}

// Load builds a Spec from the bytes of an OpenAPI 3.x document. name is used
// in error messages.
func Load(name string, data []byte) (*Spec, error) {
	doc, err := libopenapi.NewDocument(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrLoad, name, err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.") {
		return nil, fmt.Errorf("%w: %s: OpenAPI version %q is not supported; use 3.0 or 3.1", ErrLoad, name, v)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrLoad, name, err)
	}
	if model == nil {
		return nil, fmt.Errorf("%w: %s: document could not be built", ErrLoad, name)
	}
	v, verrs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(verrs) > 0 {
		return nil, fmt.Errorf("%w: %s: %w", ErrLoad, name, errors.Join(verrs...))
	}
	s := &Spec{name: name, raw: data, model: &model.Model, validator: v, byID: map[string]*Operation{}}
	if err := s.index(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrLoad, name, err)
	}
	return s, nil
}

// Name is the file name the document was loaded from.
func (s *Spec) Name() string { return s.name }

// Raw returns the document's bytes.
func (s *Spec) Raw() []byte { return s.raw }

// Operations lists the operations in path, then method order.
func (s *Spec) Operations() []*Operation { return s.ops }

// Operation returns the operation with the given operationId.
func (s *Spec) Operation(id string) (*Operation, bool) {
	op, ok := s.byID[id]
	return op, ok
}

// OperationIDs lists every operationId, sorted.
func (s *Spec) OperationIDs() []string {
	ids := make([]string, 0, len(s.ops))
	for _, op := range s.ops {
		ids = append(ids, op.ID)
	}
	sort.Strings(ids)
	return ids
}

// Route finds the operation for a method and a request path (without any
// base path). allowed lists the methods documented for the path when the
// path matches but the method does not.
func (s *Spec) Route(method, path string) (op *Operation, allowed []string) {
	for _, o := range s.ops {
		if !o.pathRE.MatchString(path) {
			continue
		}
		if strings.EqualFold(o.Method, method) {
			return o, nil
		}
		allowed = append(allowed, o.Method)
	}
	return nil, allowed
}

// Response returns the documented response for status.
func (o *Operation) Response(status int) (Response, bool) {
	for _, r := range o.Responses {
		if r.Status == status {
			return r, true
		}
	}
	return Response{}, false
}

// Statuses lists the documented statuses in order.
func (o *Operation) Statuses() []int {
	out := make([]int, len(o.Responses))
	for i, r := range o.Responses {
		out[i] = r.Status
	}
	return out
}

// Documents reports whether status is documented for the operation.
func (o *Operation) Documents(status int) bool {
	_, ok := o.Response(status)
	return ok
}

// Parameter returns the parameter of the given location and name.
func (o *Operation) Parameter(in, name string) (Parameter, bool) {
	for _, p := range o.Parameters {
		if p.In == in && strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return Parameter{}, false
}

// Pointer returns the JSON pointer of the operation in the document.
func (o *Operation) Pointer() string {
	return "/paths/" + escapePointer(o.Path) + "/" + strings.ToLower(o.Method)
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

var methodOrder = []string{"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "QUERY"}

func (s *Spec) index() error {
	if s.model.Paths == nil || s.model.Paths.PathItems == nil {
		return nil
	}
	for path, item := range s.model.Paths.PathItems.FromOldest() {
		ops := item.GetOperations()
		if ops == nil {
			continue
		}
		re, err := pathPattern(path)
		if err != nil {
			return err
		}
		for method, op := range ops.FromOldest() {
			o := &Operation{
				ID:          op.OperationId,
				Method:      strings.ToUpper(method),
				Path:        path,
				Summary:     op.Summary,
				Description: op.Description,
				pathRE:      re,
			}
			if o.ID == "" {
				o.ID = strings.ToLower(method) + " " + path
			}
			if low := op.GoLow(); low != nil && low.KeyNode != nil {
				o.Line = low.KeyNode.Line
			}
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				if p == nil {
					continue
				}
				o.Parameters = append(o.Parameters, Parameter{Name: p.Name, In: p.In, Required: p.Required != nil && *p.Required})
			}
			o.RequestBody = requestBody(op.RequestBody)
			o.Responses = responses(o, op)
			if _, dup := s.byID[o.ID]; dup {
				return fmt.Errorf("operationId %q is used twice", o.ID)
			}
			s.byID[o.ID] = o
			s.ops = append(s.ops, o)
		}
	}
	sort.SliceStable(s.ops, func(i, j int) bool {
		a, b := s.ops[i], s.ops[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return slices.Index(methodOrder, a.Method) < slices.Index(methodOrder, b.Method)
	})
	return nil
}

var paramSegment = regexp.MustCompile(`\{[^/{}]+\}`)

func pathPattern(path string) (*regexp.Regexp, error) {
	parts := paramSegment.Split(path, -1)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.Compile("^" + strings.Join(parts, "[^/]+") + "/?$")
}

func requestBody(rb *v3.RequestBody) *RequestBody {
	if rb == nil || rb.Content == nil {
		return nil
	}
	out := &RequestBody{Required: rb.Required != nil && *rb.Required}
	for ct, mt := range rb.Content.FromOldest() {
		out.ContentTypes = append(out.ContentTypes, ct)
		if !isJSON(ct) || mt.Schema == nil || len(out.Properties) > 0 {
			continue
		}
		sch := mt.Schema.Schema()
		if sch == nil || sch.Properties == nil {
			continue
		}
		for name, prop := range sch.Properties.FromOldest() {
			p := Property{Name: name, Required: slices.Contains(sch.Required, name)}
			if ps := prop.Schema(); ps != nil {
				p.Types = schemaTypes(ps)
				if ps.MinLength != nil {
					p.MinLength = *ps.MinLength
				}
			}
			out.Properties = append(out.Properties, p)
		}
	}
	return out
}

// schemaTypes lists the JSON types a schema admits, looking into oneOf and
// anyOf, and nullable for 3.0 documents.
func schemaTypes(s *base.Schema) []string {
	var types []string
	add := func(t string) {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	for _, t := range s.Type {
		add(t)
	}
	for _, group := range [][]*base.SchemaProxy{s.OneOf, s.AnyOf} {
		for _, sp := range group {
			if sub := sp.Schema(); sub != nil {
				for _, t := range schemaTypes(sub) {
					add(t)
				}
			}
		}
	}
	if s.Nullable != nil && *s.Nullable {
		add("null")
	}
	if slices.Contains(types, "number") {
		add("integer")
	}
	return types
}

func responses(o *Operation, op *v3.Operation) []Response {
	if op.Responses == nil || op.Responses.Codes == nil {
		return nil
	}
	var out []Response
	for code, r := range op.Responses.Codes.FromOldest() {
		status, err := strconv.Atoi(code)
		if err != nil {
			continue // ranges such as 4XX are not listed
		}
		resp := Response{
			Status:      status,
			Description: r.Description,
			Pointer:     o.Pointer() + "/responses/" + code,
		}
		if low := r.GoLow(); low != nil && low.KeyNode != nil {
			resp.Line = low.KeyNode.Line
		}
		if r.Content != nil {
			for ct, mt := range r.Content.FromOldest() {
				resp.ContentTypes = append(resp.ContentTypes, ct)
				if isJSON(ct) && mt.Schema != nil {
					resp.Envelope = resp.Envelope || isEnvelope(mt.Schema.Schema())
				}
			}
		}
		if r.Headers != nil {
			for name, h := range r.Headers.FromOldest() {
				hd := Header{Name: name, Required: h.Required}
				if h.Schema != nil {
					if hs := h.Schema.Schema(); hs != nil && len(hs.Type) > 0 {
						hd.Type = hs.Type[0]
					}
				}
				resp.Headers = append(resp.Headers, hd)
			}
		}
		if r.Extensions != nil {
			if node, ok := r.Extensions.Get("x-error-codes"); ok && node != nil {
				var codes map[string]any
				if err := node.Decode(&codes); err == nil {
					// keep document order: walk the mapping's keys
					for i := 0; i+1 < len(node.Content); i += 2 {
						resp.ErrorCodes = append(resp.ErrorCodes, node.Content[i].Value)
					}
				} else {
					var list []string
					if err := node.Decode(&list); err == nil {
						resp.ErrorCodes = list
					}
				}
			}
		}
		out = append(out, resp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Status < out[j].Status })
	return out
}

func isEnvelope(s *base.Schema) bool {
	if s == nil || s.Properties == nil {
		return false
	}
	for _, k := range []string{"status", "message", "code"} {
		if _, ok := s.Properties.Get(k); !ok {
			return false
		}
	}
	return true
}

// isJSON reports whether a media type is JSON (application/json or +json).
func isJSON(ct string) bool {
	mt := strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// IsJSON reports whether a Content-Type names a JSON media type.
func IsJSON(contentType string) bool { return isJSON(contentType) }

// StatusText returns the description of a documented status, or Go's text.
func (o *Operation) StatusText(status int) string {
	if r, ok := o.Response(status); ok && r.Description != "" {
		return r.Description
	}
	return http.StatusText(status)
}
