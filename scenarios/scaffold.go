package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/refreshmock/refreshmock/spec"
)

// ScaffoldOptions say what Scaffold writes.
type ScaffoldOptions struct {
	// Operation is the operationId; empty means the spec's only operation.
	Operation string
	// Status is the documented status the scenario answers.
	Status int
	// Name is the scenario's name; empty derives one from the operation
	// and the status.
	Name string
	// SchemaRef is the JSON Schema reference of the yaml-language-server
	// modeline; empty means SchemaID.
	SchemaRef string
}

// ErrScaffold is wrapped by Scaffold's errors about its options (an
// unknown operation, an undocumented status, a bad name); their text is
// the message alone.
var ErrScaffold = errors.New("cannot scaffold")

type scaffoldError struct{ msg string }

func (e *scaffoldError) Error() string { return e.msg }
func (e *scaffoldError) Unwrap() error { return ErrScaffold }

func scaffoldErrorf(format string, args ...any) error {
	return &scaffoldError{msg: fmt.Sprintf(format, args...)}
}

// Scaffold writes a scenario file for one documented status of an
// operation: the spec's example as the body (the envelope's code in an
// assertion), a test token to match when the operation takes one, and a
// conform step that provokes it. The result always loads (it is checked
// with Load before it is returned).
func Scaffold(sp *spec.Spec, opts ScaffoldOptions) ([]byte, error) {
	op, err := scaffoldOperation(sp, opts.Operation)
	if err != nil {
		return nil, err
	}
	if !op.Documents(opts.Status) {
		return nil, scaffoldErrorf("status %d is not documented for %s; documented: %s", opts.Status, op.ID, joinInts(op.Statuses()))
	}
	if opts.Name != "" && !namePattern.MatchString(opts.Name) {
		return nil, scaffoldErrorf("name %q: use letters, digits, '-', '_' and '.', starting with a letter or digit", opts.Name)
	}
	ref := opts.SchemaRef
	if ref == "" {
		ref = SchemaID
	}
	data, err := scaffoldYAML(sp, op, opts.Status, opts.Name, ref)
	if err != nil {
		return nil, fmt.Errorf("scaffold %s %d: %w", op.ID, opts.Status, err)
	}
	// Never hand out a scaffold that lint would reject.
	if set, diags := Load(sp, []Source{{Name: "scaffold.yaml", Data: data}}); set == nil {
		return nil, fmt.Errorf("scaffold %s %d does not load:\n%v", op.ID, opts.Status, diags)
	}
	return data, nil
}

// scaffoldOperation picks the operation to scaffold for.
func scaffoldOperation(sp *spec.Spec, id string) (*spec.Operation, error) {
	if id != "" {
		op, ok := sp.Operation(id)
		if !ok {
			return nil, scaffoldErrorf("operation %q: %s has no such operation; it has: %s", id, sp.Name(), strings.Join(sp.OperationIDs(), ", "))
		}
		return op, nil
	}
	ops := sp.Operations()
	switch len(ops) {
	case 0:
		return nil, scaffoldErrorf("%s has no operations", sp.Name())
	case 1:
		return ops[0], nil
	}
	return nil, scaffoldErrorf("%s has %d operations; choose one with --operation: %s", sp.Name(), len(ops), strings.Join(sp.OperationIDs(), ", "))
}

// tokenInput is where the operation takes a token-like value the mock can
// match on and a conformance step can send.
type tokenInput struct {
	cookie string // cookie parameter name, or ""
	body   string // top-level string property of the JSON body, or ""
}

func tokenInputOf(op *spec.Operation) tokenInput {
	var in tokenInput
	for _, p := range op.Parameters {
		if p.In == "cookie" {
			in.cookie = p.Name
			break
		}
	}
	if op.RequestBody == nil {
		return in
	}
	for _, p := range op.RequestBody.Properties {
		if p.Name == in.cookie && hasType(p.Types, "string") {
			in.body = p.Name
			return in
		}
	}
	for _, p := range op.RequestBody.Properties {
		if hasType(p.Types, "string") {
			in.body = p.Name
			return in
		}
	}
	return in
}

func hasType(types []string, t string) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// scaffold builds the YAML of a scenario for op and status.
func scaffoldYAML(sp *spec.Spec, op *spec.Operation, status int, name, schemaRef string) ([]byte, error) {
	resp, _ := op.Response(status)
	slug := slugify(resp.Description)
	if slug == "" {
		slug = "status"
	}
	if name == "" {
		name = strings.ReplaceAll(op.ID, "_", "-") + "-" + strconv.Itoa(status) + "-" + slug
	}
	body, err := sp.Example(op, status)
	if err != nil {
		return nil, err
	}
	var bodyNode *yaml.Node
	code := ""
	if body != nil {
		if bodyNode, err = jsonToNode(body); err != nil {
			return nil, fmt.Errorf("example body: %w", err)
		}
		if resp.Envelope && status >= 400 {
			code = yamlChildValue(bodyNode, "code")
			if status == 422 {
				fixDetailsLoc(bodyNode, op)
			}
			orderKeys(bodyNode, []string{"status", "message", "code", "details"})
		}
	}

	in := tokenInputOf(op)
	token := ""
	varName := ""
	if in.cookie != "" || in.body != "" {
		field := in.cookie
		if field == "" {
			field = in.body
		}
		prefix := "test"
		if strings.Contains(strings.ToLower(field), "refresh") {
			prefix = "rt_test"
		}
		token = fmt.Sprintf("%s_%d_%s", prefix, status, strings.ReplaceAll(slug, "-", "_"))
		varName = strings.ToUpper(strings.ReplaceAll(slug, "-", "_") + "_" + envName(field))
	}

	doc := yamlMap()
	doc.HeadComment = fmt.Sprintf("yaml-language-server: $schema=%s\n\nScaffolded by: refreshmock new --operation %s --status %d\n%s %d (%s) of %s %s.", schemaRef, op.ID, status, statusWord(status), status, resp.Description, op.Method, op.Path)
	addPair(doc, "name", yamlStr(name))
	addPair(doc, "operation", yamlStr(op.ID))
	desc := fmt.Sprintf("Answers %d %s.", status, resp.Description)
	if token != "" {
		desc = fmt.Sprintf("Test token %s answers %d %s.", token, status, resp.Description)
	}
	addPair(doc, "description", yamlStr(desc))
	if token != "" {
		// Test tokens win over broader rules (such as token states).
		addPair(doc, "priority", yamlInt(10))
		anyList := yamlSeq()
		if in.cookie != "" {
			anyList.Content = append(anyList.Content, yamlPair("cookies", yamlPair(in.cookie, yamlStr(token))))
		}
		if in.body != "" {
			anyList.Content = append(anyList.Content, yamlPair("body", yamlPair(in.body, yamlStr(token))))
		}
		m := yamlPair("any", anyList)
		addPair(doc, "match", m)
		doc.Content[len(doc.Content)-2].HeadComment = fmt.Sprintf("The mock picks this scenario when the request carries the test token;\nselect it by name with the header X-Mock-Scenario: %s.", name)
	}
	r := yamlMap()
	addPair(r, "status", yamlInt(status))
	if len(resp.Headers) > 0 {
		h := yamlMap()
		for _, hd := range resp.Headers {
			addPair(h, hd.Name, yamlStr(headerExample(hd)))
		}
		addPair(r, "headers", h)
	}
	if bodyNode != nil {
		addPair(r, "body", bodyNode)
	}
	addPair(doc, "response", r)
	if token == "" {
		doc.Content[len(doc.Content)-2].HeadComment = fmt.Sprintf("No match rules: the mock answers this scenario when it is selected by name,\ne.g. with the header X-Mock-Scenario: %s.", name)
	}
	if token != "" {
		step := yamlMap()
		field := in.cookie
		if field == "" {
			field = in.body
		}
		addPair(step, "name", yamlStr(fmt.Sprintf("a %s the server answers %d for", field, status)))
		req := yamlMap()
		if in.cookie != "" {
			addPair(req, "cookies", yamlPair(in.cookie, yamlStr("${"+varName+"}")))
		} else {
			addPair(req, "json", yamlPair(in.body, yamlStr("${"+varName+"}")))
		}
		addPair(step, "request", req)
		exp := yamlMap()
		addPair(exp, "status", yamlInt(status))
		if a := assertion(bodyNode, code); a != nil {
			addPair(exp, "assert", yamlSeq(a))
		}
		addPair(step, "expect", exp)
		conf := yamlMap()
		addPair(conf, "vars", yamlFlowSeq(yamlStr(varName)))
		addPair(conf, "steps", yamlSeq(step))
		addPair(doc, "conform", conf)
		doc.Content[len(doc.Content)-2].HeadComment = fmt.Sprintf("How 'refreshmock conform' provokes the status on a real server: supply\n%s (a flag, the environment or a vars file) or the case is skipped.", varName)
	}

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	top := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}, HeadComment: doc.HeadComment}
	doc.HeadComment = ""
	if err := enc.Encode(top); err != nil {
		return nil, fmt.Errorf("encode scenario: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode scenario: %w", err)
	}
	return buf.Bytes(), nil
}

func statusWord(status int) string {
	if status < 400 {
		return "Scripts the success response"
	}
	return "Scripts the error response"
}

// assertion checks the code of an error envelope, or that the first
// property of another JSON object body exists.
func assertion(body *yaml.Node, code string) *yaml.Node {
	a := yamlMap()
	switch {
	case code != "":
		addPair(a, "path", yamlStr("code"))
		addPair(a, "equals", yamlStr(code))
	case body != nil && body.Kind == yaml.MappingNode && len(body.Content) >= 2:
		addPair(a, "path", yamlStr(gjsonEscape(body.Content[0].Value)))
		addPair(a, "exists", yamlBool(true))
	default:
		return nil
	}
	return a
}

func gjsonEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, ".", `\.`, "*", `\*`, "?", `\?`).Replace(s)
}

var knownHeaderValues = map[string]string{
	"retry-after":      "30",
	"cache-control":    "no-store",
	"content-language": "en",
	"x-request-id":     "req_0000000000000001",
}

func headerExample(h spec.Header) string {
	if v, ok := knownHeaderValues[strings.ToLower(h.Name)]; ok {
		return v
	}
	switch h.Type {
	case "integer", "number":
		return "1"
	case "boolean":
		return "true"
	}
	return "example"
}

// fixDetailsLoc points the example 422 detail at a real input of the
// operation instead of a placeholder field.
func fixDetailsLoc(body *yaml.Node, op *spec.Operation) {
	var loc []string
	switch {
	case op.RequestBody != nil && len(op.RequestBody.Properties) > 0:
		loc = []string{"body", op.RequestBody.Properties[0].Name}
	case len(op.Parameters) > 0:
		loc = []string{op.Parameters[0].In, op.Parameters[0].Name}
	default:
		return
	}
	details := yamlChild(body, "details")
	if details == nil || details.Kind != yaml.SequenceNode || len(details.Content) == 0 {
		return
	}
	d := details.Content[0]
	if l := yamlChild(d, "loc"); l != nil {
		*l = *yamlFlowSeq(yamlStr(loc[0]), yamlStr(loc[1]))
	}
	if m := yamlChild(d, "msg"); m != nil {
		*m = *yamlStr(fmt.Sprintf("%s is not valid", loc[1]))
	}
	if t := yamlChild(d, "type"); t != nil {
		*t = *yamlStr("value_error")
	}
	orderKeys(d, []string{"loc", "msg", "type"})
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slugify(s string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

func envName(s string) string {
	return strings.Trim(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(s, "_"), "_")
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// jsonToNode parses JSON (which is YAML) into a node tree that keeps the
// key order, in block style.
func jsonToNode(b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("empty JSON")
	}
	n := doc.Content[0]
	blockStyle(n)
	return n, nil
}

func blockStyle(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	if n.Kind == yaml.ScalarNode {
		// Keep strings strings: "30" or "true" must not become a number.
		if n.Tag == "!!str" && plainWouldChange(n.Value) {
			n.Style = yaml.DoubleQuotedStyle
		} else {
			n.Style = 0
		}
		return
	}
	n.Style = 0
	allScalars := n.Kind == yaml.SequenceNode
	for _, c := range n.Content {
		blockStyle(c)
		if c.Kind != yaml.ScalarNode {
			allScalars = false
		}
	}
	// Short lists of scalars (loc: [body, field]) read better inline.
	if allScalars && len(n.Content) > 0 && len(n.Content) <= 4 {
		n.Style = yaml.FlowStyle
	}
}

// plainWouldChange reports whether a string written plain would be read
// back as something else.
func plainWouldChange(s string) bool {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return true
	}
	str, ok := v.(string)
	return !ok || str != s
}

func yamlMap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

func yamlSeq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

func yamlFlowSeq(items ...*yaml.Node) *yaml.Node {
	n := yamlSeq(items...)
	n.Style = yaml.FlowStyle
	return n
}

func yamlStr(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if plainWouldChange(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func yamlInt(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

func yamlBool(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func addPair(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, yamlStr(key), v)
}

func yamlPair(key string, v *yaml.Node) *yaml.Node {
	m := yamlMap()
	addPair(m, key, v)
	return m
}

func yamlChild(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func yamlChildValue(m *yaml.Node, key string) string {
	if n := yamlChild(m, key); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// orderKeys moves the given keys of a mapping to the front, in that order.
func orderKeys(m *yaml.Node, first []string) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	var front, back []*yaml.Node
	for _, k := range first {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == k {
				front = append(front, m.Content[i], m.Content[i+1])
			}
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		isFront := false
		for _, k := range first {
			if m.Content[i].Value == k {
				isFront = true
			}
		}
		if !isFront {
			back = append(back, m.Content[i], m.Content[i+1])
		}
	}
	m.Content = append(front, back...)
}
