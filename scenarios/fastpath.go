package scenarios

import (
	"bytes"
	"reflect"
	"strconv"
	"text/template"
	"text/template/parse"

	"github.com/refreshmock/refreshmock/internal/jsonq"
)

// A compiled fast path for scenario templates.
//
// text/template evaluates {{ .Token.Access }} by looking the names up with
// reflection on every execution and calls template functions through
// reflect.Value.Call. The mock renders the rotation body on every request,
// so templates made only of text and plain field reads are compiled once,
// at parse time, into a list of segments whose field index paths are
// resolved in advance. text/template stays the definition of the
// semantics: anything the compiler does not recognise exactly (methods such
// as .Cookie "x", range, if, variables, other functions, pipelines, fields
// that are not strings, bools or integers) runs through text/template
// unchanged, and so does any execution whose fast path fails, so that
// errors read as text/template words them.

// tmpl is a parsed scenario template and, when it has one, its fast path.
type tmpl struct {
	*template.Template
	fast *fastTemplate // nil: execute with text/template
	// counted: the template has loops or template calls, whose steps
	// count against the render budget (budget.go).
	counted bool
}

// fastTemplate is a template compiled to segments.
type fastTemplate struct {
	segs []segment
}

// segment is literal text, or a field of RenderData written as
// text/template prints it (or through the json function).
type segment struct {
	lit   string
	index []int // field index path from the data; nil for literal text
	kind  reflect.Kind
	json  bool // {{ json .Field }} rather than {{ .Field }}
}

var renderDataType = reflect.TypeFor[RenderData]()

// compileFast compiles t for data of type *root (RenderData in scenarios),
// or returns nil when t needs text/template.
func compileFast(t *template.Template, root reflect.Type) *fastTemplate {
	if t == nil || t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	f := &fastTemplate{}
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			f.segs = append(f.segs, segment{lit: string(n.Text)})
		case *parse.ActionNode:
			seg, ok := compileAction(n.Pipe, root)
			if !ok {
				return nil
			}
			f.segs = append(f.segs, seg)
		default:
			return nil
		}
	}
	return f
}

// compileAction compiles {{ .A.B }} and {{ json .A.B }}.
func compileAction(p *parse.PipeNode, root reflect.Type) (segment, bool) {
	if p == nil || len(p.Decl) > 0 || p.IsAssign || len(p.Cmds) != 1 {
		return segment{}, false
	}
	args := p.Cmds[0].Args
	var field *parse.FieldNode
	var json bool
	switch len(args) {
	case 1:
		field, _ = args[0].(*parse.FieldNode)
	case 2:
		// The template was parsed with funcs, so the identifier json is
		// jsonFunc: templates cannot redefine functions.
		if id, ok := args[0].(*parse.IdentifierNode); ok && id.Ident == "json" {
			field, _ = args[1].(*parse.FieldNode)
			json = true
		}
	}
	if field == nil {
		return segment{}, false
	}
	index, kind, ok := fieldPath(root, field.Ident)
	if !ok {
		return segment{}, false
	}
	return segment{index: index, kind: kind, json: json}, true
}

// fieldPath resolves a chain of field names from root to an index
// path, when text/template would read exactly that field: every step is a
// struct (no pointer, interface or map hops), no step names a method
// (text/template would call it), the field is exported and not promoted
// from an embedded struct, and the final type is a predeclared string,
// bool or integer type, which has no String or Error method, so that
// text/template prints it as fmt.Fprint does.
func fieldPath(root reflect.Type, names []string) ([]int, reflect.Kind, bool) {
	typ := root
	index := make([]int, 0, len(names))
	for _, name := range names {
		if typ.Kind() != reflect.Struct {
			return nil, 0, false
		}
		if _, ok := reflect.PointerTo(typ).MethodByName(name); ok {
			return nil, 0, false
		}
		sf, ok := typ.FieldByName(name)
		if !ok || !sf.IsExported() || len(sf.Index) != 1 {
			return nil, 0, false
		}
		index = append(index, sf.Index[0])
		typ = sf.Type
	}
	if len(index) == 0 || typ.PkgPath() != "" || typ.Name() != typ.Kind().String() {
		return nil, 0, false
	}
	switch typ.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return index, typ.Kind(), true
	}
	return nil, 0, false
}

// execute writes the template's output for the struct root (the value
// the data pointer points to) to buf. On an error buf holds partial output,
// as with text/template.
func (f *fastTemplate) execute(buf *bytes.Buffer, root reflect.Value) error {
	for i := range f.segs {
		s := &f.segs[i]
		if s.index == nil {
			buf.WriteString(s.lit)
			continue
		}
		v := root.FieldByIndex(s.index)
		if s.json && s.kind == reflect.String {
			// What jsonFunc writes, without reflection when plain. The
			// json of a bool or an integer is its text, below.
			out, err := jsonq.Append(buf.AvailableBuffer(), v.String())
			if err != nil {
				return err
			}
			buf.Write(out)
			continue
		}
		switch s.kind {
		case reflect.String:
			buf.WriteString(v.String())
		case reflect.Bool:
			buf.Write(strconv.AppendBool(buf.AvailableBuffer(), v.Bool()))
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			buf.Write(strconv.AppendInt(buf.AvailableBuffer(), v.Int(), 10))
		default: // the unsigned kinds fieldPath accepts
			buf.Write(strconv.AppendUint(buf.AvailableBuffer(), v.Uint(), 10))
		}
	}
	return nil
}
