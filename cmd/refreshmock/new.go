package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

const newHelp = `Usage: refreshmock new --status N [flags]

Scaffolds a scenario that scripts one documented status of an operation,
from the spec: the body is the spec's example (or one generated from the
schema) with an envelope that keeps the rules (status, a code from the
catalog, details for 422), documented headers get a value (Retry-After for
429), and when the operation takes a token-like input (a cookie parameter,
or a string property of the JSON body) the scenario gets a test token that
makes the mock answer it, and a conform section that provokes the status on
a real server with a token taken from a variable.

The output is checked against the spec before it is written, and passes
'refreshmock lint' as it stands. Edit the message, code and test token to
taste.

Examples:
  refreshmock new --status 429
  refreshmock new --status 401 --name refresh-session-expired -o scenarios/session-expired.yaml
  refreshmock new --spec petstore.yaml --operation createPet --status 422
`

// defaultSchemaRef is where editors find the scenario JSON Schema when the
// scaffold is not written next to a checkout's scenarios/ directory.
const defaultSchemaRef = scenarios.SchemaID

func runNew(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("new", newHelp, stderr)
	status := fs.Int("status", 0, "the documented HTTP `status` to script (required)")
	name := fs.String("name", "", "scenario `name` (default: derived from the operation and the status)")
	opID := fs.String("operation", "", "operationId (default: the spec's only operation)")
	specPath := fs.String("spec", "", "OpenAPI document `FILE` (default: the embedded Refresh Token spec)")
	out := fs.String("o", "", "write to `FILE` instead of stdout")
	force := fs.Bool("force", false, "overwrite the -o file when it exists")
	schemaRef := fs.String("schema", "", "JSON Schema `reference` for the yaml-language-server modeline (default: scenarios/scenario.schema.json relative to -o when it exists, else the published URL)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "refreshmock new: unexpected argument %q; write to a file with -o\n", rest[0])
		return errUsage
	}
	if *status == 0 {
		fmt.Fprintln(stderr, "refreshmock new: --status is required, e.g. --status 429")
		return errUsage
	}
	sp, err := lintLoadSpec(*specPath)
	if err != nil {
		return configError{err}
	}
	op, err := newOperation(sp, *opID)
	if err != nil {
		return configError{err}
	}
	if !op.Documents(*status) {
		return configError{fmt.Errorf("status %d is not documented for %s; documented: %s", *status, op.ID, joinInts(op.Statuses()))}
	}
	if *name != "" && !validScenarioName.MatchString(*name) {
		return configError{fmt.Errorf("--name %q: use letters, digits, '-', '_' and '.', starting with a letter or digit", *name)}
	}
	ref := *schemaRef
	if ref == "" {
		ref = schemaRefFor(*out)
	}
	data, err := scaffold(sp, op, *status, *name, ref)
	if err != nil {
		return fmt.Errorf("scaffold %s %d: %w", op.ID, *status, err)
	}
	// Never hand out a scaffold that lint would reject.
	fileName := *out
	if fileName == "" {
		fileName = "<stdout>"
	}
	if set, diags := scenarios.Load(sp, []scenarios.Source{{Name: fileName, Data: data}}); set == nil {
		fmt.Fprintf(stderr, "refreshmock new: the scaffold does not pass lint:\n%v\n", diags)
		return errFindings
	}
	if *out == "" {
		_, err := stdout.Write(data)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(*out, flags, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return configError{fmt.Errorf("%s exists; choose another -o or pass --force", *out)}
		}
		return configError{fmt.Errorf("write scenario: %w", err)}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write scenario: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write scenario: %w", err)
	}
	fmt.Fprintf(stderr, "wrote %s; check it with: refreshmock lint %s\n", *out, *out)
	return nil
}

var validScenarioName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// newOperation picks the operation to scaffold for.
func newOperation(sp *spec.Spec, id string) (*spec.Operation, error) {
	if id != "" {
		op, ok := sp.Operation(id)
		if !ok {
			return nil, fmt.Errorf("--operation %q: %s has no such operation; it has: %s", id, sp.Name(), strings.Join(sp.OperationIDs(), ", "))
		}
		return op, nil
	}
	ops := sp.Operations()
	switch len(ops) {
	case 0:
		return nil, fmt.Errorf("%s has no operations", sp.Name())
	case 1:
		return ops[0], nil
	}
	return nil, fmt.Errorf("%s has %d operations; choose one with --operation: %s", sp.Name(), len(ops), strings.Join(sp.OperationIDs(), ", "))
}

// schemaRefFor returns the modeline schema reference for a scaffold
// written to out.
func schemaRefFor(out string) string {
	const local = "scenarios/scenario.schema.json"
	if out == "" {
		return defaultSchemaRef
	}
	if _, err := os.Stat(local); err != nil {
		return defaultSchemaRef
	}
	absSchema, err1 := filepath.Abs(local)
	absDir, err2 := filepath.Abs(filepath.Dir(out))
	if err1 != nil || err2 != nil {
		return defaultSchemaRef
	}
	rel, err := filepath.Rel(absDir, absSchema)
	if err != nil {
		return defaultSchemaRef
	}
	rel = filepath.ToSlash(rel)
	if !strings.HasPrefix(rel, ".") {
		rel = "./" + rel
	}
	return rel
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
func scaffold(sp *spec.Spec, op *spec.Operation, status int, name, schemaRef string) ([]byte, error) {
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
			code = mapValue(bodyNode, "code")
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

	doc := mapping()
	doc.HeadComment = fmt.Sprintf("yaml-language-server: $schema=%s\n\nScaffolded by: refreshmock new --operation %s --status %d\n%s %d (%s) of %s %s.", schemaRef, op.ID, status, statusWord(status), status, resp.Description, op.Method, op.Path)
	add(doc, "name", scalar(name))
	add(doc, "operation", scalar(op.ID))
	desc := fmt.Sprintf("Answers %d %s.", status, resp.Description)
	if token != "" {
		desc = fmt.Sprintf("Test token %s answers %d %s.", token, status, resp.Description)
	}
	add(doc, "description", scalar(desc))
	if token != "" {
		// Test tokens win over broader rules (such as token states).
		add(doc, "priority", intScalar(10))
		anyList := seq()
		if in.cookie != "" {
			anyList.Content = append(anyList.Content, pairs("cookies", pairs(in.cookie, scalar(token))))
		}
		if in.body != "" {
			anyList.Content = append(anyList.Content, pairs("body", pairs(in.body, scalar(token))))
		}
		m := pairs("any", anyList)
		add(doc, "match", m)
		doc.Content[len(doc.Content)-2].HeadComment = fmt.Sprintf("The mock picks this scenario when the request carries the test token;\nselect it by name with the header X-Mock-Scenario: %s.", name)
	}
	r := mapping()
	add(r, "status", intScalar(status))
	if len(resp.Headers) > 0 {
		h := mapping()
		for _, hd := range resp.Headers {
			add(h, hd.Name, scalar(headerExample(hd)))
		}
		add(r, "headers", h)
	}
	if bodyNode != nil {
		add(r, "body", bodyNode)
	}
	add(doc, "response", r)
	if token == "" {
		doc.Content[len(doc.Content)-2].HeadComment = fmt.Sprintf("No match rules: the mock answers this scenario when it is selected by name,\ne.g. with the header X-Mock-Scenario: %s.", name)
	}
	if token != "" {
		step := mapping()
		field := in.cookie
		if field == "" {
			field = in.body
		}
		add(step, "name", scalar(fmt.Sprintf("a %s the server answers %d for", field, status)))
		req := mapping()
		if in.cookie != "" {
			add(req, "cookies", pairs(in.cookie, scalar("${"+varName+"}")))
		} else {
			add(req, "json", pairs(in.body, scalar("${"+varName+"}")))
		}
		add(step, "request", req)
		exp := mapping()
		add(exp, "status", intScalar(status))
		if a := assertion(bodyNode, code); a != nil {
			add(exp, "assert", seq(a))
		}
		add(step, "expect", exp)
		conf := mapping()
		add(conf, "vars", flowSeq(scalar(varName)))
		add(conf, "steps", seq(step))
		add(doc, "conform", conf)
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
	a := mapping()
	switch {
	case code != "":
		add(a, "path", scalar("code"))
		add(a, "equals", scalar(code))
	case body != nil && body.Kind == yaml.MappingNode && len(body.Content) >= 2:
		add(a, "path", scalar(gjsonEscape(body.Content[0].Value)))
		add(a, "exists", boolScalar(true))
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
	details := mapNode(body, "details")
	if details == nil || details.Kind != yaml.SequenceNode || len(details.Content) == 0 {
		return
	}
	d := details.Content[0]
	if l := mapNode(d, "loc"); l != nil {
		*l = *flowSeq(scalar(loc[0]), scalar(loc[1]))
	}
	if m := mapNode(d, "msg"); m != nil {
		*m = *scalar(fmt.Sprintf("%s is not valid", loc[1]))
	}
	if t := mapNode(d, "type"); t != nil {
		*t = *scalar("value_error")
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

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

func seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

func flowSeq(items ...*yaml.Node) *yaml.Node {
	n := seq(items...)
	n.Style = yaml.FlowStyle
	return n
}

func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if plainWouldChange(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func intScalar(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

func boolScalar(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, scalar(key), v)
}

func pairs(key string, v *yaml.Node) *yaml.Node {
	m := mapping()
	add(m, key, v)
	return m
}

func mapNode(m *yaml.Node, key string) *yaml.Node {
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

func mapValue(m *yaml.Node, key string) string {
	if n := mapNode(m, key); n != nil && n.Kind == yaml.ScalarNode {
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
