package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"testing"
	"text/template"
	"time"

	"github.com/refreshmock/refreshmock/spec"
)

// mustShipped loads the shipped scenarios and fails on any diagnostic.
func mustShipped(tb testing.TB) *Set {
	tb.Helper()
	sp, err := spec.Default()
	if err != nil {
		tb.Fatalf("spec.Default() error = %v", err)
	}
	set, diags := Load(sp, Embedded())
	if set == nil || len(diags) > 0 {
		tb.Fatalf("Load(Embedded()) diagnostics:\n%v", diags)
	}
	return set
}

// result is one execution's output, or its error's text.
type result struct {
	out, err string
}

func (r result) String() string {
	if r.err != "" {
		return "error " + r.err
	}
	return fmt.Sprintf("%q", r.out)
}

// viaText executes t with text/template alone: the definition of the
// semantics.
func viaText(t *template.Template, data any) result {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return result{err: err.Error()}
	}
	return result{out: buf.String()}
}

// viaFast executes the compiled segments alone.
func viaFast(f *fastTemplate, data any) result {
	var buf bytes.Buffer
	if err := f.execute(&buf, reflect.ValueOf(data).Elem()); err != nil {
		return result{err: err.Error()}
	}
	return result{out: buf.String()}
}

// viaRender executes t the way Render does: the fast path when t has one,
// text/template otherwise.
func viaRender(t *tmpl, data *RenderData) result {
	out, err := execute(t, data, newBudget(context.Background(), MaxRenderTime))
	if err != nil {
		return result{err: err.Error()}
	}
	return result{out: out}
}

// oddData has values that stress printing and JSON escaping.
func oddData() *RenderData {
	d := SampleData()
	d.Request.Method = ""
	d.Request.Path = "/a b/<script>&\u2028\x00"
	d.Token = TokenData{Access: "\"quoted\" \\ <b>&</b> \xff\xfe ünï \u2029", Refresh: "", ExpiresIn: -9223372036854775808, Subject: "\t\n", Family: "{{ .Token.Access }}"}
	return d
}

// shippedTemplates lists every template of the shipped scenarios.
func shippedTemplates(set *Set) map[string]*tmpl {
	all := map[string]*tmpl{}
	for _, sc := range set.All() {
		r := &sc.Response
		if r.bodyTmpl != nil {
			all[sc.Name+": body_template"] = r.bodyTmpl
		}
		for name, t := range r.headerTpl {
			all[sc.Name+": header "+name] = t
		}
		for _, c := range r.Cookies {
			if c.valueTpl != nil {
				all[sc.Name+": cookie "+c.Name] = c.valueTpl
			}
		}
	}
	return all
}

func TestFastTemplateShipped(t *testing.T) {
	t.Parallel()
	all := shippedTemplates(mustShipped(t))
	if len(all) == 0 {
		t.Fatal("the shipped scenarios have no templates")
	}
	for name, tp := range all {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, data := range []*RenderData{SampleData(), oddData()} {
				want := viaText(tp.Template, data)
				if got := viaRender(tp, data); got != want {
					t.Errorf("rendered %v, text/template %v", got, want)
				}
				if tp.fast == nil {
					continue
				}
				if got := viaFast(tp.fast, data); got != want {
					t.Errorf("fast path %v, text/template %v", got, want)
				}
			}
		})
	}
}

// TestFastTemplateRotationCompiled keeps the fast path from silently
// stopping to apply to the body the mock renders on every rotation.
func TestFastTemplateRotationCompiled(t *testing.T) {
	t.Parallel()
	sc, ok := mustShipped(t).Get("refresh-success")
	if !ok {
		t.Fatal("no refresh-success scenario")
	}
	body := sc.Response.bodyTmpl
	if body == nil {
		t.Fatal("refresh-success has no body_template")
	}
	if body.fast == nil {
		t.Fatalf("refresh-success body_template is not compiled:\n%s", sc.Response.BodyTemplate)
	}
	var fields, jsons int
	for _, s := range body.fast.segs {
		if s.index != nil {
			fields++
		}
		if s.json {
			jsons++
		}
	}
	if fields != 2 || jsons != 1 {
		t.Errorf("compiled to %d field reads (%d through json), want 2 (1 through json)", fields, jsons)
	}
}

func TestFastTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		compiled   bool
	}{
		{"empty", ``, true},
		{"text only", `{"a": 1}`, true},
		{"string field", `{{ .Token.Access }}`, true},
		{"int field", `[{{ .Token.ExpiresIn }}]`, true},
		{"json string", `{{ json .Token.Access }}`, true},
		{"json int", `{{ json .Token.ExpiresIn }}`, true},
		{"request fields", `{{ .Request.Method }} {{ .Request.Path }}`, true},
		{"trim markers", "a \n {{- .Token.Subject -}} \n b", true},
		{"comment", `a{{/* note */}}b{{ .Token.Family }}`, true},
		{"define aside", `{{ define "x" }}y{{ end }}z{{ .Token.Refresh }}`, true},
		{"only define", `{{ define "x" }}y{{ end }}`, true},
		{"rotation body", "{\n  \"access_token\": {{ json .Token.Access }},\n  \"expires_in\": {{ .Token.ExpiresIn }}\n}\n", true},

		{"method", `{{ .Cookie "refresh_token" }}`, false},
		{"method without args", `{{ .Cookie }}`, false},
		{"time field", `{{ .Now }}`, false},
		{"time method", `{{ .Now.Unix }}`, false},
		{"function of time", `{{ unix .Now }}`, false},
		{"map", `{{ .Vars }}`, false},
		{"map hop", `{{ .Vars.ORG }}`, false},
		{"json map hop", `{{ json .Vars.ORG }}`, false},
		{"header map", `{{ .Request.Headers }}`, false},
		{"bytes", `{{ .Request.Body }}`, false},
		{"struct", `{{ .Token }}`, false},
		{"json struct", `{{ json .Token }}`, false},
		{"dot", `{{ . }}`, false},
		{"root variable", `{{ $.Token.Access }}`, false},
		{"declaration", `{{ $x := .Token.Access }}{{ $x }}`, false},
		{"pipeline", `{{ .Token.Access | json }}`, false},
		{"parenthesised", `{{ (.Token.Access) }}`, false},
		{"constant", `{{ "x" }}`, false},
		{"if", `{{ if .Token.Access }}x{{ end }}`, false},
		{"with", `{{ with .Token }}{{ .Access }}{{ end }}`, false},
		{"template call", `{{ define "x" }}y{{ end }}{{ template "x" }}`, false},
		{"other function", `{{ default "d" .Token.Access }}`, false},
		{"builtin", `{{ print .Token.Access }}`, false},
		{"mixed", `{{ .Token.Access }}{{ .Cookie "x" }}`, false},
		{"json of two", `{{ json .Token.Access .Token.Refresh }}`, false},
		{"json of nothing", `{{ json }}`, false},
		{"json of dot", `{{ json . }}`, false},
		{"field of string", `{{ .Token.Access.Foo }}`, false},
		{"no such field", `{{ .Token.Nope }}`, false},
		{"unexported", `{{ .Token.access }}`, false},
		{"field with args", `{{ .Request.Method "x" }}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tp, err := parseTemplate(tc.name, tc.text)
			if err != nil {
				t.Fatalf("parseTemplate(%q) error = %v", tc.text, err)
			}
			if got := tp.fast != nil; got != tc.compiled {
				t.Fatalf("compiled = %t, want %t", got, tc.compiled)
			}
			for _, data := range []*RenderData{SampleData(), oddData(), nil} {
				want := viaText(tp.Template, data)
				if got := viaRender(tp, data); got != want {
					t.Errorf("rendered %v, text/template %v", got, want)
				}
				if tp.fast == nil || data == nil {
					continue
				}
				if got := viaFast(tp.fast, data); got != want {
					t.Errorf("fast path %v, text/template %v", got, want)
				}
			}
		})
	}
}

// probe has a field of every kind the compiler must accept or refuse.
type probe struct {
	S     string
	B     bool
	I8    int8
	I64   int64
	U     uint
	U8    uint8
	U64   uint64
	UP    uintptr
	D     time.Duration // has a String method
	N     plainInt      // named: refused, to stay on the safe side
	P     *probeInner   // pointer hop
	A     any           // interface hop
	F     func() string
	Inner probeInner
	probeEmbedded
	lower string
}

type plainInt int

type probeInner struct {
	S string
	B bool
}

type probeEmbedded struct{ X string }

func (*probe) M() string { return "method" }

func TestFastTemplateKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text     string
		compiled bool
	}{
		{`{{ .S }}`, true},
		{`{{ .B }}`, true},
		{`{{ .I8 }}`, true},
		{`{{ .I64 }}`, true},
		{`{{ .U }}`, true},
		{`{{ .U8 }}`, true},
		{`{{ .U64 }}`, true},
		{`{{ .UP }}`, true},
		{`{{ .Inner.S }} {{ .Inner.B }}`, true},
		{`{{ json .S }}{{ json .B }}{{ json .I8 }}{{ json .U64 }}{{ json .UP }}{{ json .Inner.B }}`, true},
		{`{{ .D }}`, false},
		{`{{ json .D }}`, false},
		{`{{ .N }}`, false},
		{`{{ .P.S }}`, false},
		{`{{ .A }}`, false},
		{`{{ .F }}`, false},
		{`{{ .X }}`, false},
		{`{{ .lower }}`, false},
		{`{{ .M }}`, false},
	}
	values := []*probe{
		{},
		{S: "<\"é\xff\">", B: true, I8: -128, I64: -1 << 63, U: 1<<64 - 1, U8: 255, U64: 1<<64 - 1, UP: 1<<64 - 1, D: 1500 * time.Millisecond, N: 7,
			P: &probeInner{S: "p"}, A: 3, F: func() string { return "f" }, Inner: probeInner{S: "in", B: true}, probeEmbedded: probeEmbedded{X: "x"}, lower: "l"},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			t.Parallel()
			tp, err := template.New("probe").Option("missingkey=error").Funcs(funcs).Parse(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			f := compileFast(tp, reflect.TypeFor[probe]())
			if got := f != nil; got != tc.compiled {
				t.Fatalf("compiled = %t, want %t", got, tc.compiled)
			}
			if f == nil {
				return
			}
			for _, v := range values {
				want := viaText(tp, v)
				if want.err != "" {
					t.Fatalf("text/template error on a compiled template: %s", want.err)
				}
				if got := viaFast(f, v); got != want {
					t.Errorf("fast path %v, text/template %v", got, want)
				}
			}
		})
	}
}

// FuzzFastTemplate: whenever a template compiles, the fast path and
// text/template give the same output, or both fail.
func FuzzFastTemplate(f *testing.F) {
	for _, tp := range shippedTemplates(mustShipped(f)) {
		f.Add(tp.Tree.Root.String(), "a.b.c", 900)
	}
	f.Add(`{{ json .Token.Access }}{{ .Request.Method }}`, "\xff<&>\u2028", -1)
	f.Fuzz(func(t *testing.T, text, access string, expiresIn int) {
		tp, err := parseTemplate("fuzz", text)
		if err != nil || tp.fast == nil {
			return
		}
		d := SampleData()
		d.Token.Access = access
		d.Token.ExpiresIn = expiresIn
		want := viaText(tp.Template, d)
		if got := viaFast(tp.fast, d); got != want {
			t.Errorf("template %q: fast path %v, text/template %v", text, got, want)
		}
		if got := viaRender(tp, d); got != want {
			t.Errorf("template %q: rendered %v, text/template %v", text, got, want)
		}
	})
}

// BenchmarkRender renders refresh-success, the body the mock renders on
// every rotation, through the fast path and through text/template.
func BenchmarkRender(b *testing.B) {
	sc, ok := mustShipped(b).Get("refresh-success")
	if !ok {
		b.Fatal("no refresh-success scenario")
	}
	d := SampleData()
	body := sc.Response.bodyTmpl
	for _, bc := range []struct {
		name string
		t    *tmpl
	}{
		{"body/fast", body},
		{"body/text-template", &tmpl{Template: body.Template}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := executeBytes(bc.t, d, newBudget(context.Background(), MaxRenderTime)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("scenario", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sc.Render(d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFieldRead compares reading .Token.Access by a resolved index
// path (what the fast path does) with a direct typed read.
func BenchmarkFieldRead(b *testing.B) {
	d := SampleData()
	index, _, ok := fieldPath(renderDataType, []string{"Token", "Access"})
	if !ok {
		b.Fatal("Token.Access does not resolve")
	}
	var n int
	b.Run("FieldByIndex", func(b *testing.B) {
		for b.Loop() {
			n += len(reflect.ValueOf(d).Elem().FieldByIndex(index).String())
		}
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			n += len(d.Token.Access)
		}
	})
	if n == 0 {
		b.Fatal("read nothing")
	}
}
