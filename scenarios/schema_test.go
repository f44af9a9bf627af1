package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pb33f/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// mustSchema compiles the shipped JSON Schema.
func mustSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		tb.Fatalf("scenario.schema.json is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(SchemaID, doc); err != nil {
		tb.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		tb.Fatalf("compile scenario.schema.json: %v", err)
	}
	return sch
}

// schemaDoc returns the schema as plain JSON values, to walk.
func schemaDoc(tb testing.TB) map[string]any {
	tb.Helper()
	var doc map[string]any
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		tb.Fatal(err)
	}
	return doc
}

// yamlDocs decodes every document of a YAML file into JSON values, as
// yaml-language-server sees them.
func yamlDocs(tb testing.TB, data []byte) []any {
	tb.Helper()
	var out []any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("YAML: %v", err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatalf("YAML document does not convert to JSON: %v", err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, inst)
	}
}

func TestSchemaHeader(t *testing.T) {
	t.Parallel()
	doc := schemaDoc(t)
	if got, want := doc["$schema"], "https://json-schema.org/draft/2020-12/schema"; got != want {
		t.Errorf("$schema = %v, want %v", got, want)
	}
	if got := doc["$id"]; got != SchemaID {
		t.Errorf("$id = %v, want SchemaID %v", got, SchemaID)
	}
	mustSchema(t)
}

// TestSchemaAjvStrict compiles the schema with ajv, the validator many
// editors and tools build on, in strict mode: no union types (anyOf
// instead), every keyword with the type it applies to, every required
// property defined, no unknown keyword or format. It needs npx (Node.js)
// and the npm registry, and skips without npx, or outside CI when npx
// cannot fetch ajv.
func TestSchemaAjvStrict(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping ajv's strict compile of scenario.schema.json (it runs npx)")
	}
	npx, err := exec.LookPath("npx")
	if err != nil {
		t.Skip("npx is not installed: ajv's strict compile of scenario.schema.json needs Node.js and npm (apt-get install nodejs npm)")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "scenario.schema.json")
	if err := os.WriteFile(path, Schema(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npx, "--yes", "-p", "ajv-cli@5.0.0", "-p", "ajv-formats@3.0.1",
		"ajv", "compile", "-c", "ajv-formats", "--spec=draft2020", "--strict=true", "-s", path)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	switch {
	case err == nil && bytes.Contains(out, []byte("is valid")):
	case !bytes.Contains(out, []byte(path)) && os.Getenv("CI") == "":
		// ajv never ran: npx could not install it (offline?).
		t.Skipf("npx could not run ajv (%v); set CI=1 to make this a failure:\n%s", err, out)
	default:
		t.Errorf("ajv --strict=true does not accept scenario.schema.json (%v):\n%s", err, out)
	}
}

func TestShippedScenariosMatchSchema(t *testing.T) {
	t.Parallel()
	sch := mustSchema(t)
	for _, src := range Embedded() {
		t.Run(src.Name, func(t *testing.T) {
			t.Parallel()
			if !bytes.HasPrefix(src.Data, []byte("# yaml-language-server: $schema=./scenario.schema.json\n")) {
				t.Errorf("%s does not start with the yaml-language-server modeline", src.Name)
			}
			docs := yamlDocs(t, src.Data)
			if len(docs) == 0 {
				t.Fatal("no scenarios")
			}
			for i, inst := range docs {
				if err := sch.Validate(inst); err != nil {
					t.Errorf("document %d does not match the schema:\n%v", i+1, err)
				}
			}
		})
	}
}

// TestSchemaFollowsGoTypes walks the yaml tags of Scenario and every type
// it reaches, and compares each struct's keys with the properties of the
// schema object at the same place, both ways.
func TestSchemaFollowsGoTypes(t *testing.T) {
	t.Parallel()
	doc := schemaDoc(t)
	defs, _ := doc["$defs"].(map[string]any)
	w := &schemaWalker{t: t, defs: defs, seen: map[reflect.Type]bool{}}
	w.walk(reflect.TypeFor[Scenario](), doc, "scenario")
	// Every $def is reached from the Go types.
	for name := range defs {
		if !w.usedDefs[name] {
			t.Errorf("$defs/%s is not reached from scenarios.Scenario", name)
		}
	}
}

type schemaWalker struct {
	t        *testing.T
	defs     map[string]any
	seen     map[reflect.Type]bool
	usedDefs map[string]bool
}

// resolve follows $ref.
func (w *schemaWalker) resolve(node map[string]any) map[string]any {
	for {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		name := strings.TrimPrefix(ref, "#/$defs/")
		if w.usedDefs == nil {
			w.usedDefs = map[string]bool{}
		}
		w.usedDefs[name] = true
		next, ok := w.defs[name].(map[string]any)
		if !ok {
			w.t.Errorf("$ref %s does not resolve", ref)
			return map[string]any{}
		}
		node = next
	}
}

// branch returns the oneOf branch that satisfies want, or node itself.
func (w *schemaWalker) branch(node map[string]any, want func(map[string]any) bool) map[string]any {
	node = w.resolve(node)
	if want(node) {
		return node
	}
	alts, _ := node["oneOf"].([]any)
	for _, a := range alts {
		if m, ok := a.(map[string]any); ok {
			if m = w.resolve(m); want(m) {
				return m
			}
		}
	}
	return nil
}

func hasProperties(m map[string]any) bool { _, ok := m["properties"]; return ok }

// allowsType reports whether m's type, or the type of one of its anyOf
// alternatives, is typ.
func allowsType(m map[string]any, typ string) bool {
	switch v := m["type"].(type) {
	case string:
		return v == typ
	case []any:
		for _, x := range v {
			if x == typ {
				return true
			}
		}
	}
	alts, _ := m["anyOf"].([]any)
	for _, a := range alts {
		if am, ok := a.(map[string]any); ok && allowsType(am, typ) {
			return true
		}
	}
	return false
}

func (w *schemaWalker) walk(t reflect.Type, node map[string]any, where string) {
	if node == nil {
		w.t.Errorf("%s: no schema for Go type %s", where, t)
		return
	}
	switch t {
	case reflect.TypeFor[Capture]():
		n := w.branch(node, func(m map[string]any) bool { return allowsType(m, "string") })
		if n == nil || n["pattern"] == nil {
			w.t.Errorf("%s: capture must be a string with a pattern", where)
		}
		return
	case reflect.TypeFor[Condition]():
		w.compareOperators(where, node)
		return
	case reflect.TypeFor[StatusList]():
		if w.branch(node, func(m map[string]any) bool { return allowsType(m, "integer") }) == nil ||
			w.branch(node, func(m map[string]any) bool { return allowsType(m, "array") }) == nil {
			w.t.Errorf("%s: expect.status must take an integer or a list", where)
		}
		return
	case reflect.TypeFor[Delay]():
		if w.branch(node, func(m map[string]any) bool { return allowsType(m, "string") }) == nil {
			w.t.Errorf("%s: delay must take a duration string", where)
		}
		obj := w.branch(node, hasProperties)
		w.compareKeys(where, []string{"min", "max"}, obj)
		return
	case reflect.TypeFor[Condition]():
		if w.branch(node, func(m map[string]any) bool { return allowsType(m, "string") }) == nil {
			w.t.Errorf("%s: condition must take a scalar", where)
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		w.walk(t.Elem(), node, where)
	case reflect.Slice:
		n := w.resolve(node)
		items, _ := n["items"].(map[string]any)
		w.walk(t.Elem(), items, where+"[]")
	case reflect.Map:
		n := w.resolve(node)
		ap, _ := n["additionalProperties"].(map[string]any)
		w.walk(t.Elem(), ap, where+".*")
	case reflect.Struct:
		obj := w.branch(node, hasProperties)
		keys, idx := fieldsOf(t)
		w.compareKeys(where, keys, obj)
		if obj == nil || w.seen[t] {
			return
		}
		w.seen[t] = true
		props, _ := obj["properties"].(map[string]any)
		for _, k := range keys {
			p, _ := props[k].(map[string]any)
			w.walk(t.Field(idx[k]).Type, p, where+"."+k)
		}
	case reflect.String:
		if w.branch(node, func(m map[string]any) bool { return allowsType(m, "string") }) == nil {
			w.t.Errorf("%s: Go string, schema does not allow a string", where)
		}
	case reflect.Int:
		if w.branch(node, func(m map[string]any) bool { return allowsType(m, "integer") }) == nil {
			w.t.Errorf("%s: Go int, schema does not say integer", where)
		}
	case reflect.Bool:
		if w.branch(node, func(m map[string]any) bool { return allowsType(m, "boolean") }) == nil {
			w.t.Errorf("%s: Go bool, schema does not say boolean", where)
		}
	case reflect.Interface:
		if _, typed := w.resolve(node)["type"]; typed {
			w.t.Errorf("%s: a free-form value must not restrict its type", where)
		}
	default:
		w.t.Errorf("%s: Go type %s is not handled by this test", where, t)
	}
}

// compareOperators checks the condition's schema against the operators
// table: the same operators, each with the table's operand schema and
// description, and the scalar shorthand for equals.
func (w *schemaWalker) compareOperators(where string, node map[string]any) {
	def := w.resolve(node)
	if desc, _ := def["description"].(string); !strings.Contains(desc, strings.Join(operatorNames(), ", ")+".") {
		w.t.Errorf("%s: the description %q does not list the operators %s", where, desc, strings.Join(operatorNames(), ", "))
	}
	obj := w.branch(node, hasProperties)
	w.compareKeys(where, operatorNames(), obj)
	if obj == nil {
		return
	}
	props, _ := obj["properties"].(map[string]any)
	for _, op := range operators {
		want := map[string]any{"description": op.doc}
		for k, v := range op.schema {
			want[k] = v
		}
		wantJSON, _ := json.Marshal(want)
		gotJSON, _ := json.Marshal(props[op.name])
		if string(wantJSON) != string(gotJSON) {
			w.t.Errorf("%s.%s: schema %s, the operators table says %s", where, op.name, gotJSON, wantJSON)
		}
	}
	if scalar := w.branch(node, func(m map[string]any) bool { return allowsType(m, "string") && !hasProperties(m) }); scalar == nil {
		w.t.Errorf("%s: no scalar branch (the equals shorthand)", where)
	}
}

func (w *schemaWalker) compareKeys(where string, goKeys []string, obj map[string]any) {
	if obj == nil {
		w.t.Errorf("%s: the schema has no object with properties here", where)
		return
	}
	props, _ := obj["properties"].(map[string]any)
	var schemaKeys []string
	for k := range props {
		schemaKeys = append(schemaKeys, k)
	}
	want := slices.Clone(goKeys)
	sort.Strings(want)
	sort.Strings(schemaKeys)
	if diff := cmp.Diff(want, schemaKeys); diff != "" {
		w.t.Errorf("%s: Go yaml keys (-) and schema properties (+) differ:\n%s", where, diff)
	}
	if ap, ok := obj["additionalProperties"]; !ok || ap != false {
		w.t.Errorf("%s: additionalProperties must be false so editors flag unknown keys", where)
	}
}

func TestSchemaEnumsFollowGo(t *testing.T) {
	t.Parallel()
	doc := schemaDoc(t)
	defs := doc["$defs"].(map[string]any)
	enum := func(def, prop string) []string {
		p := defs[def].(map[string]any)["properties"].(map[string]any)[prop].(map[string]any)
		var out []string
		for _, v := range p["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if diff := cmp.Diff(TokenStates, enum("match", "token")); diff != "" {
		t.Errorf("match.token enum (-Go +schema):\n%s", diff)
	}
	if diff := cmp.Diff(Faults, enum("response", "fault")); diff != "" {
		t.Errorf("response.fault enum (-Go +schema):\n%s", diff)
	}
	if diff := cmp.Diff(sameSites, enum("cookie", "same_site")); diff != "" {
		t.Errorf("cookie.same_site enum (-Go +schema):\n%s", diff)
	}
	var upper []string
	for _, m := range enum("request", "method") {
		if m == strings.ToUpper(m) {
			upper = append(upper, m)
		}
	}
	if diff := cmp.Diff(methods, upper); diff != "" {
		t.Errorf("request.method enum (-Go +schema):\n%s", diff)
	}
	capture := defs["step"].(map[string]any)["properties"].(map[string]any)["capture"].(map[string]any)["additionalProperties"].(map[string]any)["pattern"].(string)
	if want := "^(" + strings.Join(captureSources, "|") + "):.+$"; capture != want {
		t.Errorf("capture pattern = %q, want %q", capture, want)
	}
}

// TestSchemaDescribesEveryField: editors show the description as help, so
// every property and every $def has one.
func TestSchemaDescribesEveryField(t *testing.T) {
	t.Parallel()
	var walk func(node any, where string)
	walk = func(node any, where string) {
		switch n := node.(type) {
		case map[string]any:
			if props, ok := n["properties"].(map[string]any); ok {
				for k, p := range props {
					pm, _ := p.(map[string]any)
					if d, _ := pm["description"].(string); d == "" {
						t.Errorf("%s.%s has no description", where, k)
					}
				}
			}
			for k, v := range n {
				walk(v, where+"/"+k)
			}
		case []any:
			for i, v := range n {
				walk(v, where+"/"+string(rune('0'+i)))
			}
		}
	}
	doc := schemaDoc(t)
	walk(doc, "#")
	for name, d := range doc["$defs"].(map[string]any) {
		if desc, _ := d.(map[string]any)["description"].(string); desc == "" {
			t.Errorf("$defs/%s has no description", name)
		}
	}
}

// TestSchemaAgreesWithLoad: shorthands the loader accepts, the schema
// accepts; shape mistakes the loader rejects, the schema rejects too.
func TestSchemaAgreesWithLoad(t *testing.T) {
	t.Parallel()
	sch := mustSchema(t)
	const head = "name: x\noperation: refresh_token\n"
	tests := []struct {
		name  string
		yaml  string
		valid bool
	}{
		{"minimal", head + "response: {status: 204}", true},
		{"condition scalar", head + "match: {cookies: {refresh_token: abc}}\nresponse: {status: 200}", true},
		{"condition object", head + "match: {headers: {X-A: {prefix: ab}}}\nresponse: {status: 200}", true},
		{"condition number", head + "match: {body: {n: 12}}\nresponse: {status: 200}", true},
		{"condition two operators", head + "match: {headers: {X-A: {prefix: a, contains: b}}}\nresponse: {status: 200}", false},
		{"condition unknown operator", head + "match: {headers: {X-A: {startswith: a}}}\nresponse: {status: 200}", false},
		{"condition lt number", head + "match: {headers: {X-V: {lt: 2}}}\nresponse: {status: 200}", true},
		{"condition gte version", head + "match: {headers: {X-V: {gte: v1.4.2-beta}}}\nresponse: {status: 200}", true},
		{"condition lt word", head + "match: {headers: {X-V: {lt: soon}}}\nresponse: {status: 200}", false},
		{"condition lt boolean", head + "match: {headers: {X-V: {lt: true}}}\nresponse: {status: 200}", false},
		{"condition equals boolean", head + "match: {body: {ok: {equals: true}}}\nresponse: {status: 200}", true},
		{"condition equals list", head + "match: {body: {ok: {equals: [1]}}}\nresponse: {status: 200}", false},
		{"header value number", head + "response: {status: 429, headers: {Retry-After: 30}}", true},
		{"header value list", head + "response: {status: 429, headers: {Retry-After: [30]}}", false},
		{"token state", head + "match: {token: expired}\nresponse: {status: 401}", true},
		{"unknown token state", head + "match: {token: stale}\nresponse: {status: 401}", false},
		{"delay string", head + "response: {status: 200, delay: 250ms}", true},
		{"delay range", head + "response: {status: 200, delay: {min: 100ms, max: 2s}}", true},
		{"delay not a duration", head + "response: {status: 200, delay: soon}", false},
		{"delay number", head + "response: {status: 200, delay: 250}", false},
		{"delay unknown key", head + "response: {status: 200, delay: {min: 1s, max: 2s, jitter: 1s}}", false},
		{"fault", head + "response: {status: 200, fault: empty_reply}", true},
		{"unknown fault", head + "response: {status: 200, fault: explode}", false},
		{"same_site", head + "response: {status: 200, cookies: [{name: a, value: b, same_site: Lax}]}", true},
		{"bad same_site", head + "response: {status: 200, cookies: [{name: a, value: b, same_site: lax}]}", false},
		{"body and body_template", head + "response: {status: 200, body: {}, body_template: '{}'}", false},
		{"status as string", head + "response: {status: '200'}", false},
		{"unknown top-level key", head + "respnse: {status: 200}\nresponse: {status: 200}", false},
		{"unknown response key", head + "response: {status: 200, header: {}}", false},
		{"missing response", head, false},
		{"expect status int", head + "response: {status: 200}\nconform: {steps: [{request: {}, expect: {status: 200}}]}", true},
		{"expect status list", head + "response: {status: 200}\nconform: {steps: [{request: {}, expect: {status: [200, 401]}}]}", true},
		{"expect status empty list", head + "response: {status: 200}\nconform: {steps: [{request: {}, expect: {status: []}}]}", false},
		{"capture", head + "response: {status: 200}\nconform: {steps: [{expect: {status: 200}, capture: {RT: 'cookie:refresh_token', ID: 'json:organization.id'}}]}", true},
		{"bad capture source", head + "response: {status: 200}\nconform: {steps: [{expect: {status: 200}, capture: {RT: 'body:refresh_token'}}]}", false},
		{"bad capture variable", head + "response: {status: 200}\nconform: {steps: [{expect: {status: 200}, capture: {'1x': 'cookie:a'}}]}", false},
		{"assertion with two checks", head + "response: {status: 200}\nconform: {steps: [{expect: {status: 200, assert: [{path: a, exists: true, equals: 1}]}}]}", false},
		{"assertion without a check", head + "response: {status: 200}\nconform: {steps: [{expect: {status: 200, assert: [{path: a}]}}]}", false},
		{"assertion one_of", head + "response: {status: 200}\nconform: {steps: [{expect: {status: 200, assert: [{path: a, one_of: [x, y]}]}}]}", true},
		{"body_template alone", head + "response: {status: 200, body_template: '{}'}", true},
		{"raw alone", head + "response: {status: 200}\nconform: {steps: [{request: {raw: x}, expect: {status: 200}}]}", true},
		{"json and raw", head + "response: {status: 200}\nconform: {steps: [{request: {json: {}, raw: x}, expect: {status: 200}}]}", false},
		{"no steps", head + "response: {status: 200}\nconform: {vars: [A]}", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			docs := yamlDocs(t, []byte(tc.yaml))
			err := sch.Validate(docs[0])
			if got := err == nil; got != tc.valid {
				t.Errorf("schema valid = %v, want %v (error: %v)", got, tc.valid, err)
			}
		})
	}
}
