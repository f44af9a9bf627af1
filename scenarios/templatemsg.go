package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Template errors name Go types (can't evaluate field X in type
// *scenarios.RenderData); a scenario author knows the template's data by
// its fields. dataNames says which part of the data a type is, and what
// it holds.
var dataNames = map[string]struct {
	name string
	typ  reflect.Type
}{
	"RenderData":  {"the template's data (.)", reflect.TypeFor[*RenderData]()},
	"TokenData":   {".Token", reflect.TypeFor[*TokenData]()},
	"RequestData": {".Request", reflect.TypeFor[*RequestData]()},
}

var goDataType = regexp.MustCompile(`(?:in )?(?:type )?\*?scenarios\.(\w+)`)

// plainTypes rewrites the Go type names of the template's data in msg as
// what a template writes.
func plainTypes(msg string) string {
	return goDataType.ReplaceAllStringFunc(msg, func(m string) string {
		sub := goDataType.FindStringSubmatch(m)
		d, ok := dataNames[sub[1]]
		if !ok {
			return "a value"
		}
		prefix := ""
		if strings.HasPrefix(m, "in ") {
			prefix = "in "
		}
		return prefix + d.name + ", which has " + strings.Join(members(d.typ), ", ")
	})
}

// members lists the exported fields and methods of a pointer to a struct
// as a template reaches them (.Name).
func members(t reflect.Type) []string {
	var out []string
	for f := range t.Elem().Fields() {
		if f.IsExported() {
			out = append(out, "."+f.Name)
		}
	}
	for m := range t.Methods() {
		out = append(out, "."+m.Name)
	}
	return out
}

// notJSON explains why out, a body template's rendering, is not JSON: the
// parser's words, the byte offset, the rendered text around it and the
// template line that wrote it (0 when no line of src matches), with a
// hint. col is the offset's column in that line when the line's text up
// to it is what was rendered, else 0.
func notJSON(src string, out []byte) (msg string, line, col int) {
	var v any
	err := json.Unmarshal(out, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return "it does not parse as JSON: " + clipText(string(out), 0, 80), 0, 0
	}
	off := int(min(max(se.Offset-1, 0), int64(len(out))))
	if se.Error() == "unexpected end of JSON input" {
		off = len(out)
	}
	line = templateLineOf(src, out, off)
	if line > 0 {
		start := strings.LastIndexByte(string(out[:off]), '\n') + 1
		if tl := strings.Split(src, "\n")[line-1]; strings.HasPrefix(tl, string(out[start:off])) {
			col = off - start + 1
		}
	}
	where := fmt.Sprintf("at byte %d", off)
	if line > 0 {
		where += fmt.Sprintf(" (template line %d)", line)
	}
	msg = fmt.Sprintf("%s %s: %s", se.Error(), where, clipText(string(out), off, 40))
	if strings.Contains(se.Error(), "looking for beginning of value") && strings.Contains(src, "{{") {
		msg += "; a value a template writes into JSON goes through json, which quotes and escapes it: {{ json .Token.Access }}"
	} else {
		msg += "; check the commas, quotes and brackets there and just before it"
	}
	return msg, line, col
}

// clipText shows s around byte off (at most n bytes on each side) with
// [HERE] at off, cut on rune boundaries.
func clipText(s string, off, n int) string {
	lo, hi := max(off-n, 0), min(off+n, len(s))
	for lo > 0 && !utf8.RuneStart(s[lo]) {
		lo--
	}
	for hi < len(s) && !utf8.RuneStart(s[hi]) {
		hi++
	}
	var b strings.Builder
	if lo > 0 {
		b.WriteString("…")
	}
	b.WriteString(s[lo:off])
	b.WriteString("[HERE]")
	b.WriteString(s[off:hi])
	if hi < len(s) {
		b.WriteString("…")
	}
	return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(b.String())
}

var action = regexp.MustCompile(`{{.*?}}`)

// templateLineOf is the line of the template src whose text wrote the
// output line holding byte off of out: the line with the same number when
// its literal text appears there in order, else the first line that does,
// else 0.
func templateLineOf(src string, out []byte, off int) int {
	outLine := strings.Count(string(out[:off]), "\n")
	start := strings.LastIndexByte(string(out[:off]), '\n') + 1
	end := len(out)
	if i := strings.IndexByte(string(out[off:]), '\n'); i >= 0 {
		end = off + i
	}
	written := string(out[start:end])
	lines := strings.Split(src, "\n")
	wrote := func(tl string) bool {
		pieces := action.Split(tl, -1)
		literal, rest := 0, written
		for _, p := range pieces {
			p = strings.TrimSpace(p)
			i := strings.Index(rest, p)
			if i < 0 {
				return false
			}
			literal += len(p)
			rest = rest[i+len(p):]
		}
		return literal >= 3
	}
	if outLine < len(lines) && wrote(lines[outLine]) {
		return outLine + 1
	}
	for i, tl := range lines {
		if wrote(tl) {
			return i + 1
		}
	}
	return 0
}
