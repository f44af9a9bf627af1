package scenarios

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// operator is one test a match condition can make. Every operator is one
// entry of operators: its name (the YAML key), the JSON Schema of its
// operand (scenario.schema.json is tested against it), how it reads its
// operand, how it tests a value, and how it reads in explanations. A new
// operator is one entry.
type operator struct {
	name string
	// doc describes the operator in the schema and the docs.
	doc string
	// schema is the JSON Schema of the operand, without the description.
	schema map[string]any
	// compile checks the operand (the YAML scalar's text) and returns the
	// test of a present value; its error is reported at the operand.
	compile func(operand string) (func(value string) bool, error)
	// explain renders the condition after a value name, e.g. ` prefix "x"`.
	explain func(operand string) string
}

// scalarSchema is the schema of operands written as any YAML scalar:
// scenario.schema.json's $defs/scalar, an anyOf of string, number and
// boolean (a type list would be a union type, which strict validators
// such as ajv refuse).
var scalarSchema = map[string]any{"$ref": "#/$defs/scalar"}

// operators lists the match-condition operators in the order the docs
// give them.
var operators = []*operator{
	{
		name: "equals", doc: "The value must equal this (compared as text).",
		schema:  scalarSchema,
		compile: func(op string) (func(string) bool, error) { return func(v string) bool { return v == op }, nil },
		explain: func(op string) string { return "=" + strconv.Quote(op) },
	},
	{
		name: "prefix", doc: "The value must start with this.",
		schema:  map[string]any{"type": "string", "minLength": 1.0},
		compile: nonEmpty(strings.HasPrefix),
		explain: func(op string) string { return " prefix " + strconv.Quote(op) },
	},
	{
		name: "contains", doc: "The value must contain this.",
		schema:  map[string]any{"type": "string", "minLength": 1.0},
		compile: nonEmpty(strings.Contains),
		explain: func(op string) string { return " contains " + strconv.Quote(op) },
	},
	{
		name: "regex", doc: "The value must match this Go (RE2) regular expression; anchor it with ^ and $ to match the whole value.",
		schema: map[string]any{"type": "string", "minLength": 1.0, "format": "regex"},
		compile: func(op string) (func(string) bool, error) {
			if op == "" {
				return nil, fmt.Errorf("empty; give a regular expression")
			}
			re, err := regexp.Compile(op)
			if err != nil {
				return nil, fmt.Errorf("regular expression does not compile: %w", err)
			}
			return re.MatchString, nil
		},
		explain: func(op string) string { return " matching " + strconv.Quote(op) },
	},
	{
		name: "present", doc: "true: the value must be present; false: it must be absent.",
		schema: map[string]any{"type": "boolean"},
		compile: func(op string) (func(string) bool, error) {
			if _, err := strconv.ParseBool(op); err != nil || (op != "true" && op != "false") {
				return nil, fmt.Errorf("%q is not true or false", op)
			}
			return func(string) bool { return true }, nil
		},
		explain: func(op string) string {
			if op == "true" {
				return " present"
			}
			return " absent"
		},
	},
	versionOperator("lt", "<", "The value must be a version or number below this (dot-separated integers compared in turn: 1.10 > 1.9; a -prerelease sorts before its release)."),
	versionOperator("lte", "<=", "The value must be a version or number at most this (compared as for lt)."),
	versionOperator("gt", ">", "The value must be a version or number above this (compared as for lt)."),
	versionOperator("gte", ">=", "The value must be a version or number at least this (compared as for lt)."),
}

// operatorNames are the YAML keys of operators.
func operatorNames() []string {
	out := make([]string, len(operators))
	for i, op := range operators {
		out[i] = op.name
	}
	return out
}

func lookupOperator(name string) *operator {
	for _, op := range operators {
		if op.name == name {
			return op
		}
	}
	return nil
}

// nonEmpty compiles a string operator that needs a non-empty operand.
func nonEmpty(test func(value, operand string) bool) func(string) (func(string) bool, error) {
	return func(op string) (func(string) bool, error) {
		if op == "" {
			return nil, fmt.Errorf("empty; give the text to look for")
		}
		return func(v string) bool { return test(v, op) }, nil
	}
}

// versionOperator is a comparison of versions (or plain numbers).
func versionOperator(name, sym, doc string) *operator {
	want := map[string]func(int) bool{
		"lt":  func(c int) bool { return c < 0 },
		"lte": func(c int) bool { return c <= 0 },
		"gt":  func(c int) bool { return c > 0 },
		"gte": func(c int) bool { return c >= 0 },
	}[name]
	return &operator{
		name: name, doc: doc,
		schema: map[string]any{"anyOf": []any{
			map[string]any{"type": "string", "pattern": versionPattern},
			map[string]any{"type": "number"},
		}},
		compile: func(op string) (func(string) bool, error) {
			limit, ok := parseVersion(op)
			if !ok {
				return nil, fmt.Errorf("%q is not a version or a number; write it as 2, 2.0 or 1.4.2 (optionally v1.4.2 or 2.0.0-beta)", op)
			}
			return func(v string) bool {
				got, ok := parseVersion(v)
				return ok && want(compareVersions(got, limit))
			}, nil
		},
		explain: func(op string) string { return " " + sym + " " + strconv.Quote(op) },
	}
}

// versionPattern is the JSON Schema pattern of a version operand.
const versionPattern = `^v?[0-9]+(\.[0-9]+)*(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`

var versionRE = regexp.MustCompile(versionPattern)

// version is a parsed version: its numeric components and its
// prerelease (empty for a release).
type version struct {
	nums []uint64
	pre  string
}

// parseVersion reads v1.2.3-pre+build: integers separated by dots, an
// optional leading v, prerelease and build metadata (ignored).
func parseVersion(s string) (version, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 64 || !versionRE.MatchString(s) {
		return version{}, false
	}
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	var v version
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s, v.pre = s[:i], s[i+1:]
	}
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return version{}, false
		}
		v.nums = append(v.nums, n)
	}
	return v, true
}

// compareVersions orders versions component by component (missing ones
// are 0); a prerelease sorts before its release, prereleases by text.
func compareVersions(a, b version) int {
	for i := range max(len(a.nums), len(b.nums)) {
		var x, y uint64
		if i < len(a.nums) {
			x = a.nums[i]
		}
		if i < len(b.nums) {
			y = b.nums[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return strings.Compare(a.pre, b.pre)
}

// newCondition compiles a condition from an operator name and operand.
func newCondition(name, operand string) (Condition, error) {
	op := lookupOperator(name)
	if op == nil {
		return Condition{}, fmt.Errorf("unknown operator %q; expected one of: %s", name, strings.Join(operatorNames(), ", "))
	}
	test, err := op.compile(operand)
	if err != nil {
		return Condition{}, err
	}
	return Condition{Op: name, Operand: operand, op: op, test: test}, nil
}

// Equals is the condition that a value equals s.
func Equals(s string) Condition {
	c, _ := newCondition("equals", s)
	return c
}

// decodeCondition reads a condition: a plain scalar means equals; a
// mapping takes exactly one operator key. Problems are reported at the
// key or operand they concern.
func (d *decoder) decodeCondition(n *yaml.Node, c *Condition, field string) {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		*c = Equals(n.Value)
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "expected a value to equal, or a mapping with one of %s; got %s", strings.Join(operatorNames(), ", "), kindName(n))
		return
	}
	pairs := d.pairs(n, field)
	if len(pairs) != 2 {
		d.errorf(n, field, "a condition takes exactly one of %s; got %d", strings.Join(operatorNames(), ", "), len(pairs)/2)
		return
	}
	k, v := pairs[0], pairs[1]
	sub := join(field, k.Value)
	if d.pos != nil {
		d.pos[sub] = d.at(k)
	}
	if lookupOperator(k.Value) == nil {
		d.errorf(k, sub, "unknown operator %q%s; expected one of: %s", k.Value, suggest(k.Value, operatorNames()), strings.Join(operatorNames(), ", "))
		return
	}
	if v.Kind != yaml.ScalarNode || isNull(v) {
		d.errorf(v, sub, "expected a value, got %s", kindName(v))
		return
	}
	cond, err := newCondition(k.Value, v.Value)
	if err != nil {
		d.errorf(v, sub, "%v", err)
		return
	}
	*c = cond
}

// MarshalJSON writes the condition as its YAML mapping, {"prefix": "x"}.
func (c Condition) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{c.Op: c.Operand})
}
