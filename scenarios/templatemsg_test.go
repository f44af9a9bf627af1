package scenarios

import (
	"strings"
	"testing"
)

func TestPlainTypes(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want, not string }{
		{"can't evaluate field Foo in type *scenarios.RenderData", "in the template's data (.), which has .Request, .Now, .Token, .Vars", "scenarios."},
		{"can't evaluate field Bearer in type scenarios.TokenData", "in .Token, which has .Access, .Refresh", "scenarios."},
		{"wrong type for value; expected string; got scenarios.Other", "got a value", "scenarios."},
		{"error calling add: overflow", "error calling add: overflow", "\x00"},
	}
	for _, tc := range tests {
		got := plainTypes(tc.in)
		if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) {
			t.Errorf("plainTypes(%q) = %q, want %q in it and not %q", tc.in, got, tc.want, tc.not)
		}
	}
}

func TestNotJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, out string
		line, col      int
		msg            string
	}{
		{"unquoted value", `{"a": {{ .X }}}`, `{"a": abc}`, 1, 7, "at byte 6 (template line 1): {\"a\": [HERE]abc}; a value a template writes"},
		{"missing comma, third line", "{\n  \"a\": 1\n  \"b\": 2\n}", "{\n  \"a\": 1\n  \"b\": 2\n}", 3, 3, "after object key:value pair at byte 13"},
		{"line shifted by a loop", "{{ range .L }}\n{{ end }}{\"x\": ?}", "\n\n{\"x\": ?}", 2, 0, "(template line 2): \\n\\n{\"x\": [HERE]?}"},
		{"cut short", `{"a": [1, 2`, `{"a": [1, 2`, 1, 12, "unexpected end of JSON input at byte 11"},
		{"no line matches", `{{ .X }}`, "{\n\n!", 0, 0, "[HERE]!"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg, line, col := notJSON(tc.src, []byte(tc.out))
			if line != tc.line || col != tc.col || !strings.Contains(msg, tc.msg) {
				t.Errorf("notJSON = %q, line %d, col %d; want line %d, col %d, a message with %q", msg, line, col, tc.line, tc.col, tc.msg)
			}
		})
	}
}

// FuzzNotJSON: any template text and rendering give a message and a line
// of the template (or 0), without a panic.
func FuzzNotJSON(f *testing.F) {
	f.Add("{\"a\": {{ .X }}}", []byte(`{"a": abc}`))
	f.Add("{\n\"a\": 1\n\"b\": 2}", []byte("{\n\"a\": 1\n\"b\": 2}"))
	f.Add("", []byte("\xff\n{"))
	f.Fuzz(func(t *testing.T, src string, out []byte) {
		msg, line, col := notJSON(src, out)
		if msg == "" || line < 0 || line > strings.Count(src, "\n")+1 || col < 0 {
			t.Fatalf("notJSON(%q, %q) = %q, %d, %d", src, out, msg, line, col)
		}
	})
}
