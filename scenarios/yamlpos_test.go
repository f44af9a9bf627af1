package scenarios

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestYAMLSyntaxPosition: a YAML syntax error is reported at the line and
// column of the mistake (not the start of the enclosing list, not column
// 1), with a hint for the common ones.
func TestYAMLSyntaxPosition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		yaml      string
		line, col int
		hint      string // part of the hint; "" for none expected
	}{
		{"tab for indentation", "scenarios:\n  - name: a\n\tstatus: 200\n", 3, 1, "spaces only"},
		{"tab before a list item", "a: 1\nb:\n\t- x\n", 3, 1, "spaces only"},
		{"indentation matching no parent", "scenarios:\n  - name: a\n    status: 200\n   match: {}\n", 4, 4, "indented 3 spaces"},
		{"indentation under a mapping", "a:\n  b: 1\n c: 2\n", 3, 2, "indented 1 space,"},
		{"list item out of line", "a:\n  - b: 1\n    c: 2\n   - d\n", 4, 4, "indented 3 spaces"},
		{"key after a list", "a:\n  - x\n  y: 1\n", 3, 3, "lines up with no key"},
		{"missing colon", "scenarios:\n  - name: a\n    status 200\n    description: x\n", 3, 5, "a colon and a space"},
		{"unclosed double quote", "scenarios:\n  - name: \"a\n    status: 200\n", 2, 11, "not closed"},
		{"unclosed single quote", "a: 'x\nb: 2\n", 1, 4, "not closed"},
		{"colon in a value, first line", "description: a: b\n", 1, 15, "must be quoted"},
		{"over-indented key", "a: 1\n  b: 2\n", 2, 3, "indented more than the line above"},
		{"value starting with @", "a: 1\nb: @x\n", 2, 4, "quote it"},
		{"backquote", "a: `x`\n", 1, 4, "quote it"},
		{"unknown anchor", "a: 1\nb: *nope\n", 2, 4, "&nope"},
		{"unknown escape", "a: \"\\q\"\n", 1, 5, "backslash"},
		{"unclosed flow list", "a: [1, 2\nb: 3\n", 1, 4, "']'"},
		{"unclosed flow map", "x: 1\na: {x: 1\n", 2, 4, "'}'"},
		{"error in the second document", "a: 1\n---\nb: 1\n  c: 2\n", 4, 3, "indented more"},
		{"flow list closed later, error further down", "a: [1,\n    2]\nb:\n  c: 1\n d: 2\n", 5, 2, "indented 1 space,"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := parseAll([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("%q parses", tc.yaml)
			}
			e := yamlSyntax(context.Background(), []byte(tc.yaml), err)
			if e.line != tc.line || e.col != tc.col {
				t.Errorf("at %d:%d, want %d:%d (%s)", e.line, e.col, tc.line, tc.col, e.message())
			}
			if !strings.Contains(e.hint, tc.hint) {
				t.Errorf("hint %q, want one with %q", e.hint, tc.hint)
			}
			if strings.Contains(e.message(), "yaml:") || lineNumber.MatchString(e.message()) {
				t.Errorf("message %q repeats the parser's prefix or line", e.message())
			}
		})
	}
}

var lineNumber = regexp.MustCompile(`line \d`)

// FuzzYAMLSyntax: for any text the parser refuses, the error lands on a
// line of the file and a column of that line (or just past its end),
// without a panic.
func FuzzYAMLSyntax(f *testing.F) {
	for _, s := range []string{"a:\n\tb: 1\n", "a: [1,\n", "a: 'x\n", "a:\n  - x\n  y: 1\n", "a: *b\n", "---\na: 1\n  b: 2\n", "\"\\q\"", ": : :"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			data = data[:4096]
		}
		err := parseAll(data)
		if err == nil {
			return
		}
		e := yamlSyntax(context.Background(), data, err)
		lines := strings.Split(string(data), "\n")
		if e.line < 1 || e.line > len(lines) {
			t.Fatalf("line %d outside 1..%d for %q", e.line, len(lines), data)
		}
		if e.col < 1 || e.col > len(lines[e.line-1])+1 {
			t.Fatalf("column %d outside line %d (%q) for %q", e.col, e.line, lines[e.line-1], data)
		}
	})
}
