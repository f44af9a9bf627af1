package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML parser reports a syntax error with a line only, and that line
// is where the enclosing construct began (a list two lines up), one off
// for scanner errors, or missing on the first line. yamlSyntax finds the
// line and column a person has to look at, and a hint for the common
// mistakes, from the parser's own verdicts on prefixes of the file.

// maxLocateBytes bounds the bytes yamlSyntax re-parses to place an error;
// past it the parser's own line is reported.
const maxLocateBytes = 8 << 20

var yamlLine = regexp.MustCompile(`^(?:yaml: )?(?:line (\d+): )?`)

// yamlProblem splits the parser's error into its line (0 when it gives
// none) and its words.
func yamlProblem(err error) (int, string) {
	s := err.Error()
	m := yamlLine.FindStringSubmatch(s)
	line, _ := strconv.Atoi(m[1])
	return line, s[len(m[0]):]
}

// syntaxError is a YAML syntax error placed for a person.
type syntaxError struct {
	line, col int
	problem   string // the parser's words
	hint      string // what to do, "" when there is nothing specific
}

func (e syntaxError) message() string {
	msg := "YAML syntax error: " + e.problem
	if e.hint != "" {
		return msg + "; " + e.hint
	}
	return msg
}

// yamlSyntax places the parser's error err in data.
func yamlSyntax(ctx context.Context, data []byte, err error) syntaxError {
	line, problem := yamlProblem(err)
	lines := strings.Split(string(data), "\n")
	e := syntaxError{line: max(line, 1), problem: problem}
	switch {
	case strings.HasPrefix(problem, "could not find expected ':'"):
		// The parser names the line of the would-be key: right as it is.
	default:
		// The first prefix of the file that fails the same way ends at
		// the line to look at.
		from := max(line-1, 1)
		if strings.HasPrefix(problem, "found unexpected end of stream") {
			from = 1 // an unclosed quote anywhere above
		}
		if l, ok := firstFailingLine(ctx, data, problem, from); ok {
			e.line = l
		}
	}
	e.line = min(e.line, len(lines))
	text := lines[e.line-1]
	e.col, e.hint = locate(problem, text, lines[:e.line-1])
	return e
}

// firstFailingLine is the first line n at or after from such that lines
// 1..n of data fail to parse with problem.
func firstFailingLine(ctx context.Context, data []byte, problem string, from int) (int, bool) {
	budget := maxLocateBytes
	end := 0 // the end of line n, its newline included
	for n := 1; end < len(data); n++ {
		if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(data)
		}
		if n < from {
			continue
		}
		if budget -= end; budget < 0 || ctx.Err() != nil {
			return 0, false
		}
		if err := parseAll(data[:end]); err != nil {
			if _, p := yamlProblem(err); p == problem {
				return n, true
			}
		}
	}
	return 0, false
}

// parseAll parses every document of data, returning the first error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// locate gives the column (1-based) on the line text where problem lies,
// and a hint for it; above are the lines before it.
func locate(problem, text string, above []string) (int, string) {
	indent := len(text) - len(strings.TrimLeft(text, " "))
	first := indent + 1
	at := func(i int) int {
		if i < 0 {
			return first
		}
		return i + 1
	}
	if tab := strings.IndexByte(text, '\t'); tab >= 0 && (strings.Contains(problem, "tab character") ||
		tab <= indent && strings.Contains(problem, "cannot start any token")) {
		return tab + 1, "YAML indents with spaces only: replace the tab with spaces"
	}
	prev, prevIndent := previousLine(above)
	switch {
	case strings.HasPrefix(problem, "could not find expected ':'"):
		return first, "a key needs a colon and a space after it (`status: 200`); if the line continues the value above, quote that value"
	case strings.HasPrefix(problem, "mapping values are not allowed"):
		if prev != "" && indent > prevIndent && !strings.HasSuffix(strings.TrimRight(prev, " "), ":") {
			return first, fmt.Sprintf("this line is indented more than the line above (%s), which already has a value: indent it like its siblings, or nest it under a key that ends with ':'", spaces(prevIndent))
		}
		return at(secondColon(text)), "a value that contains ': ' must be quoted, e.g. description: \"a: b\""
	case strings.HasPrefix(problem, "did not find expected key"),
		strings.HasPrefix(problem, "did not find expected '-' indicator"),
		strings.HasPrefix(problem, "did not find expected node content"):
		return first, fmt.Sprintf("this line is indented %s, which lines up with no key or list item above it (the line above is indented %s): indent it exactly like the lines it belongs with", spaces(indent), spaces(prevIndent))
	case strings.HasPrefix(problem, "did not find expected ',' or ']'"):
		return at(strings.LastIndexByte(text, '[')), "a flow list [ ... ] is not closed: add the ']' (and separate its items with commas)"
	case strings.HasPrefix(problem, "did not find expected ',' or '}'"):
		return at(strings.LastIndexByte(text, '{')), "a flow mapping { ... } is not closed: add the '}' (and separate its entries with commas)"
	case strings.HasPrefix(problem, "found unexpected end of stream"):
		return at(strings.IndexAny(text, `"'`)), "a quoted value is not closed: add the closing quote"
	case strings.HasPrefix(problem, "found unknown escape character"):
		return at(strings.IndexByte(text, '\\')), `inside double quotes a backslash starts an escape: use single quotes, or write \\ for a backslash`
	case strings.HasPrefix(problem, "found character that cannot start any token"):
		return at(strings.IndexAny(text, "@`")), "a value cannot start with @ or `: quote it"
	case strings.HasPrefix(problem, "unknown anchor"):
		name := strings.TrimSuffix(strings.TrimPrefix(problem, "unknown anchor '"), "' referenced")
		return at(strings.Index(text, "*"+name)), fmt.Sprintf("define the anchor with &%s before *%s uses it", name, name)
	}
	return first, ""
}

// previousLine is the last line of above that holds more than a comment,
// with its indentation.
func previousLine(above []string) (string, int) {
	for i := len(above) - 1; i >= 0; i-- {
		t := strings.TrimLeft(above[i], " ")
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		return above[i], len(above[i]) - len(t)
	}
	return "", 0
}

// secondColon is the index of the ':' after a key's own "key: " that
// makes a plain value look like a mapping, or -1.
func secondColon(text string) int {
	first := strings.Index(text, ": ")
	if first < 0 {
		return -1
	}
	rest := text[first+2:]
	if i := strings.Index(rest, ":"); i >= 0 {
		return first + 2 + i
	}
	return -1
}

// spaces says n spaces in words.
func spaces(n int) string {
	if n == 1 {
		return "1 space"
	}
	return strconv.Itoa(n) + " spaces"
}
