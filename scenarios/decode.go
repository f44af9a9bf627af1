package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks a yaml.Node against a Go struct, strictly: an unknown key,
// a duplicate key or a value of the wrong kind is a diagnostic with the
// node's line and column, and decoding goes on so that every problem in a
// file is reported in one run. yaml.v3's KnownFields does not reach into
// custom unmarshalers, and reports no column; this does both.
type decoder struct {
	file string
	sink *diagSink
	pos  positions

	// active holds the anchors being expanded, to stop an alias that
	// refers to a node containing it; steps counts decoded values and
	// merged keys, to stop alias and merge-key bombs.
	active    map[*yaml.Node]bool
	steps     int
	exhausted bool

	// ctx cancels decoding (SIGINT while loading); nil never cancels.
	// It is looked at every ctxEvery steps.
	ctx        context.Context
	sinceCheck int
}

// ctxEvery is how many decoding steps go between two looks at the context.
const ctxEvery = 1024

// maxDecodeSteps bounds the values decoded from one YAML document, aliases
// and merge keys expanded. Real scenarios hold a few hundred.
const maxDecodeSteps = 100_000

// tick counts n more values against maxDecodeSteps and reports whether
// decoding may go on. Past the cap, or once the context is done, it
// reports false (the cap once, as a diagnostic at node) and every later
// call reports false too, so that the rest of the document is skipped in
// time linear in its size.
func (d *decoder) tick(node *yaml.Node, field string, n int) bool {
	if d.exhausted {
		return false
	}
	d.steps += n
	if d.steps > maxDecodeSteps {
		d.exhausted = true
		d.errorf(node, field, "the document expands to more than %d values (aliases or merge keys that repeat aliases?); write it out or split it", maxDecodeSteps)
		return false
	}
	if d.ctx != nil {
		if d.sinceCheck += n; d.sinceCheck >= ctxEvery {
			d.sinceCheck = 0
			if d.ctx.Err() != nil {
				d.exhausted = true
				return false
			}
		}
	}
	return true
}

func (d *decoder) at(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	d.sink.errorf(d.at(n), field, format, args...)
	if d.pos != nil && field != "" {
		d.pos[field+"#invalid"] = d.at(n)
	}
}

// invalid reports whether decoding already found the field's value wrong.
func (s *Scenario) invalid(field string) bool {
	_, ok := s.pos[field+"#invalid"]
	return ok
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	anyType      = reflect.TypeFor[any]()
)

// decode fills v (addressable) from n. field is the dotted path for
// messages and positions.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, field string) {
	if !d.tick(n, field, 1) {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if d.active[n.Alias] {
			d.errorf(n, field, "alias *%s refers to a node that contains it; an alias cannot repeat its own anchor", n.Value)
			return
		}
		if d.active == nil {
			d.active = map[*yaml.Node]bool{}
		}
		d.active[n.Alias] = true
		defer delete(d.active, n.Alias)
		n = n.Alias
	}
	if d.pos != nil && field != "" {
		if _, seen := d.pos[field]; !seen {
			d.pos[field] = d.at(n)
		}
	}
	switch p := v.Addr().Interface().(type) {
	case *Condition:
		d.decodeCondition(n, p, field)
		return
	case *Delay:
		d.delay(n, p, field)
		return
	case *StatusList:
		d.statusList(n, p, field)
		return
	case *Capture:
		d.capture(n, p, field)
		return
	}
	if v.Type() == anyType {
		d.anyValue(n, v, field)
		return
	}
	if v.Type() == durationType {
		d.duration(n, v, field)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		nv := reflect.New(v.Type().Elem())
		d.decode(n, nv.Elem(), field)
		v.Set(nv)
	case reflect.Struct:
		d.structValue(n, v, field)
	case reflect.Map:
		d.mapValue(n, v, field)
	case reflect.Slice:
		d.sliceValue(n, v, field)
	case reflect.String, reflect.Int, reflect.Bool:
		d.scalar(n, v, field)
	default:
		d.errorf(n, field, "cannot decode into %s", v.Type())
	}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!int":
			return "the integer " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!float":
			return "the number " + n.Value
		}
		return strconv.Quote(n.Value)
	}
	return "an alias"
}

// fieldsOf lists the yaml keys of a struct type, in declaration order.
func fieldsOf(t reflect.Type) ([]string, map[string]int) {
	var keys []string
	idx := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		keys = append(keys, tag)
		idx[tag] = i
	}
	return keys, idx
}

func (d *decoder) structValue(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "expected a mapping, got %s", kindName(n))
		return
	}
	keys, idx := fieldsOf(v.Type())
	seen := map[string]bool{}
	pairs := d.pairs(n, field)
	for i := 0; i+1 < len(pairs); i += 2 {
		k, val := pairs[i], pairs[i+1]
		sub := join(field, k.Value)
		fi, ok := idx[k.Value]
		if !ok {
			d.errorf(k, sub, "unknown field %q%s; expected one of: %s", k.Value, suggest(k.Value, keys), strings.Join(keys, ", "))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, sub, "duplicate field %q; give it once", k.Value)
			continue
		}
		seen[k.Value] = true
		if d.pos != nil {
			d.pos[sub] = d.at(k)
		}
		d.decode(val, v.Field(fi), sub)
	}
}

// pairs returns the keys and values of a mapping (alternating, like
// yaml.Node.Content) with YAML merge keys expanded: "<<: *base" or
// "<<: [*a, *b]" adds the pairs of those mappings whose keys the mapping
// does not give itself (the first merged mapping wins over later ones).
// Every pair, explicit or merged, counts against maxDecodeSteps: nested
// merges of repeated aliases would otherwise expand exponentially.
func (d *decoder) pairs(n *yaml.Node, field string) []*yaml.Node {
	return d.pairsAt(n, n, field)
}

// pairsAt is pairs; at is the mapping that started the expansion, where a
// diagnostic about its size points.
func (d *decoder) pairsAt(n, at *yaml.Node, field string) []*yaml.Node {
	if !d.tick(at, field, len(n.Content)/2+1) {
		return nil
	}
	var explicit, merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!merge" {
			explicit = append(explicit, k, v)
			continue
		}
		var sources []*yaml.Node
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		} else {
			sources = []*yaml.Node{v}
		}
		for _, src := range sources {
			target := src
			if src.Kind == yaml.AliasNode && src.Alias != nil {
				if d.active[src.Alias] {
					d.errorf(src, field, "alias *%s refers to a node that contains it; an alias cannot repeat its own anchor", src.Value)
					continue
				}
				target = src.Alias
			}
			if target.Kind != yaml.MappingNode {
				d.errorf(src, join(field, "<<"), "a merge key takes a mapping or a list of mappings, got %s", kindName(target))
				continue
			}
			if d.active == nil {
				d.active = map[*yaml.Node]bool{}
			}
			d.active[target] = true
			merged = append(merged, d.pairsAt(target, at, field)...)
			delete(d.active, target)
			if d.exhausted {
				return nil
			}
		}
	}
	if merged == nil {
		return explicit
	}
	given := map[string]bool{}
	for i := 0; i < len(explicit); i += 2 {
		given[explicit[i].Value] = true
	}
	out := explicit
	for i := 0; i+1 < len(merged); i += 2 {
		if k := merged[i]; !given[k.Value] {
			given[k.Value] = true
			out = append(out, k, merged[i+1])
		}
	}
	return out
}

func (d *decoder) mapValue(n *yaml.Node, v reflect.Value, field string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "expected a mapping, got %s", kindName(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]bool{}
	pairs := d.pairs(n, field)
	for i := 0; i+1 < len(pairs); i += 2 {
		k, val := pairs[i], pairs[i+1]
		sub := join(field, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, field, "expected a name as key, got %s", kindName(k))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, sub, "duplicate key %q; give it once", k.Value)
			continue
		}
		seen[k.Value] = true
		if d.pos != nil {
			d.pos[sub] = d.at(k)
		}
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, ev, sub)
		v.SetMapIndex(reflect.ValueOf(k.Value), ev)
	}
}

func (d *decoder) sliceValue(n *yaml.Node, v reflect.Value, field string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "expected a list, got %s", kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, out.Index(i), fmt.Sprintf("%s[%d]", field, i))
	}
	v.Set(out)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, field string) {
	want := map[reflect.Kind]string{reflect.String: "a string", reflect.Int: "an integer", reflect.Bool: "true or false"}[v.Kind()]
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, field, "expected %s, got %s", want, kindName(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		// Numbers and booleans written where a string is expected are taken
		// as written: headers such as Retry-After: 30 read naturally.
		v.SetString(n.Value)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if err != nil || n.Tag != "!!int" {
			d.errorf(n, field, "expected %s, got %s", want, kindName(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		var b bool
		if n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.errorf(n, field, "expected %s, got %s", want, kindName(n))
			return
		}
		v.SetBool(b)
	}
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, field, "expected a duration such as 250ms or 2s, got %s", kindName(n))
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil || dur < 0 {
		d.errorf(n, field, "expected a duration such as 250ms or 2s, got %s", kindName(n))
		return
	}
	v.SetInt(int64(dur))
}

// anyValue decodes a free-form value (a JSON body written in YAML) and
// checks that it converts to JSON.
func (d *decoder) anyValue(n *yaml.Node, v reflect.Value, field string) {
	var x any
	if err := n.Decode(&x); err != nil {
		d.errorf(n, field, "cannot read value: %v", err)
		return
	}
	if _, err := json.Marshal(x); err != nil {
		d.errorf(n, field, "value cannot be written as JSON (keys must be strings): %v", err)
		return
	}
	if x != nil {
		v.Set(reflect.ValueOf(x))
	}
	d.recordTree(n, field)
}

// recordTree records the positions of the keys and items inside a
// free-form value, so that a problem found later in a literal body points
// at the line that wrote it.
func (d *decoder) recordTree(n *yaml.Node, field string) {
	if d.pos == nil {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			sub := join(field, n.Content[i].Value)
			d.pos[sub] = d.at(n.Content[i])
			d.recordTree(n.Content[i+1], sub)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			sub := fmt.Sprintf("%s.%d", field, i)
			d.pos[sub] = d.at(item)
			d.recordTree(item, sub)
		}
	}
}

func (d *decoder) delay(n *yaml.Node, dl *Delay, field string) {
	if n.Kind == yaml.ScalarNode {
		var v time.Duration
		d.duration(n, reflect.ValueOf(&v).Elem(), field)
		dl.Min, dl.Max = v, v
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "expected a duration (250ms) or a mapping {min: 100ms, max: 2s}, got %s", kindName(n))
		return
	}
	var raw struct {
		Min time.Duration `yaml:"min"`
		Max time.Duration `yaml:"max"`
	}
	d.structValue(n, reflect.ValueOf(&raw).Elem(), field)
	dl.Min, dl.Max = raw.Min, raw.Max
}

func (d *decoder) statusList(n *yaml.Node, sl *StatusList, field string) {
	if n.Kind == yaml.ScalarNode {
		var i int
		d.scalar(n, reflect.ValueOf(&i).Elem(), field)
		*sl = StatusList{i}
		return
	}
	var list []int
	d.sliceValue(n, reflect.ValueOf(&list).Elem(), field)
	*sl = list
}

var captureSources = []string{"cookie", "header", "json"}

func (d *decoder) capture(n *yaml.Node, c *Capture, field string) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, field, "expected \"cookie:NAME\", \"header:NAME\" or \"json:PATH\", got %s", kindName(n))
		return
	}
	from, name, ok := strings.Cut(n.Value, ":")
	if !ok || !slices.Contains(captureSources, from) || name == "" {
		d.errorf(n, field, "expected \"cookie:NAME\", \"header:NAME\" or \"json:PATH\", got %q", n.Value)
		return
	}
	c.From, c.Name = from, name
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// suggest returns `; did you mean "x"?` when a known key is close.
func suggest(got string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dist := EditDistance(strings.ToLower(got), k); dist < bestD {
			best, bestD = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// EditDistance is the Levenshtein distance of a and b, for "did you mean"
// hints here and in the CLI.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func reflectValue(sc *Scenario) reflect.Value { return reflect.ValueOf(sc).Elem() }
