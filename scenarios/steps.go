package scenarios

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// This file holds what a conformance run needs to execute a scenario's
// conform steps: ${VAR} expansion, vars files, assertions and captures.

// ErrVarsFile is wrapped by the errors ParseVars returns.
var ErrVarsFile = errors.New("invalid vars file")

// Lookup returns a variable's value and whether it is set.
type Lookup func(name string) (string, bool)

// Expand replaces every ${NAME} in s by its value. It returns the names
// that lookup does not know, in order of first use, each once; their
// references are left as they are.
func Expand(s string, lookup Lookup) (string, []string) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var missing []string
	out := varPattern.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		if v, ok := lookup(name); ok {
			return v
		}
		if !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
		return ref
	})
	return out, missing
}

// Vars lists the variables a request refers to, sorted.
func (r *Request) Vars() []string { return requestVars(r) }

// Expand returns a copy of r with every ${NAME} replaced, in the method,
// path, content type, header, cookie and query names and values, the raw
// body, and every string (keys included) of the JSON body. It returns the
// names lookup does not know, sorted.
func (r *Request) Expand(lookup Lookup) (Request, []string) {
	var missing []string
	note := func(names []string) {
		for _, n := range names {
			if !slices.Contains(missing, n) {
				missing = append(missing, n)
			}
		}
	}
	str := func(s string) string {
		out, m := Expand(s, lookup)
		note(m)
		return out
	}
	mapOf := func(in map[string]string) map[string]string {
		if in == nil {
			return nil
		}
		out := make(map[string]string, len(in))
		for k, v := range in {
			out[str(k)] = str(v)
		}
		return out
	}
	out := Request{
		Method:      str(r.Method),
		Path:        str(r.Path),
		Headers:     mapOf(r.Headers),
		Cookies:     mapOf(r.Cookies),
		Query:       mapOf(r.Query),
		ContentType: str(r.ContentType),
	}
	if r.Raw != nil {
		raw := str(*r.Raw)
		out.Raw = &raw
	}
	if r.JSON != nil {
		out.JSON = expandValue(r.JSON, str)
	}
	slices.Sort(missing)
	return out, missing
}

// expandValue expands the strings of a decoded YAML or JSON value,
// returning a new value; the input is not modified.
func expandValue(v any, str func(string) string) any {
	switch t := v.(type) {
	case string:
		return str(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[str(k)] = expandValue(e, str)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = expandValue(e, str)
		}
		return out
	default:
		return v
	}
}

// ParseVars reads a vars file: one KEY=VALUE per line. Blank lines and lines
// starting with # are ignored; an optional "export " prefix is allowed; a
// value in matching single or double quotes is unquoted (double quotes
// take Go escapes). name is used in error messages, which give the line.
// Every problem is reported, joined.
func ParseVars(r io.Reader, name string) (map[string]string, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var errs []error
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		key, value, ok := strings.Cut(text, "=")
		key = strings.TrimSpace(key)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: %s:%d: expected KEY=VALUE, got %q", ErrVarsFile, name, line, text))
			continue
		}
		if !varName.MatchString(key) {
			errs = append(errs, fmt.Errorf("%w: %s:%d: %q is not a variable name; use letters, digits and _", ErrVarsFile, name, line, key))
			continue
		}
		value = strings.TrimSpace(value)
		if n := len(value); n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n-1] == value[0] {
			if value[0] == '"' {
				u, err := strconv.Unquote(value)
				if err != nil {
					errs = append(errs, fmt.Errorf("%w: %s:%d: value of %s: %w", ErrVarsFile, name, line, key, err))
					continue
				}
				value = u
			} else {
				value = value[1 : n-1]
			}
		}
		if _, dup := vars[key]; dup {
			errs = append(errs, fmt.Errorf("%w: %s:%d: %s is set twice", ErrVarsFile, name, line, key))
			continue
		}
		vars[key] = value
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("read vars %s: %w", name, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return vars, nil
}

// ErrAssertion is wrapped by the errors Assertion.Check returns.
var ErrAssertion = errors.New("assertion failed")

// Kind names the assertion's test: equals, exists, matches or one_of.
func (a *Assertion) Kind() string {
	switch {
	case a.Exists != nil:
		return "exists"
	case a.Matches != "":
		return "matches"
	case a.OneOf != nil:
		return "one_of"
	default:
		return "equals"
	}
}

// String renders the assertion as it reads in YAML.
func (a *Assertion) String() string {
	switch a.Kind() {
	case "exists":
		return fmt.Sprintf("%s exists: %t", a.Path, *a.Exists)
	case "matches":
		return fmt.Sprintf("%s matches %q", a.Path, a.Matches)
	case "one_of":
		return fmt.Sprintf("%s one_of %s", a.Path, jsonText(a.OneOf))
	default:
		return fmt.Sprintf("%s equals %s", a.Path, jsonText(a.Equals))
	}
}

// Check tests the assertion against a JSON response body. The error says
// the path, what was expected and what came back.
func (a *Assertion) Check(body []byte) error {
	if !gjson.ValidBytes(body) {
		return fmt.Errorf("%w: %s: the response body is not JSON (%s)", ErrAssertion, a.Path, shortText(string(body), 60))
	}
	got := gjson.GetBytes(body, a.Path)
	switch a.Kind() {
	case "exists":
		if got.Exists() != *a.Exists {
			if *a.Exists {
				return fmt.Errorf("%w: %s: expected to exist, got nothing", ErrAssertion, a.Path)
			}
			return fmt.Errorf("%w: %s: expected to be absent, got %s", ErrAssertion, a.Path, shortText(got.Raw, 80))
		}
		return nil
	case "matches":
		re := a.re
		if re == nil {
			var err error
			if re, err = regexp.Compile(a.Matches); err != nil {
				return fmt.Errorf("%w: %s: regular expression %q does not compile: %w", ErrAssertion, a.Path, a.Matches, err)
			}
		}
		if !got.Exists() {
			return fmt.Errorf("%w: %s: expected a value matching %q, got nothing", ErrAssertion, a.Path, a.Matches)
		}
		if got.Type != gjson.String {
			return fmt.Errorf("%w: %s: expected a string matching %q, got %s", ErrAssertion, a.Path, a.Matches, shortText(got.Raw, 80))
		}
		if !re.MatchString(got.Str) {
			return fmt.Errorf("%w: %s: expected a value matching %q, got %s", ErrAssertion, a.Path, a.Matches, shortText(got.Raw, 80))
		}
		return nil
	case "one_of":
		if got.Exists() {
			for _, want := range a.OneOf {
				if jsonEqual(want, got) {
					return nil
				}
			}
		}
		return fmt.Errorf("%w: %s: expected one of %s, got %s", ErrAssertion, a.Path, jsonText(a.OneOf), rawOrNothing(got))
	default:
		if jsonEqual(a.Equals, got) {
			return nil
		}
		return fmt.Errorf("%w: %s: expected %s, got %s", ErrAssertion, a.Path, jsonText(a.Equals), rawOrNothing(got))
	}
}

// jsonEqual compares a value decoded from YAML with a gjson result, as
// JSON values (so 401 equals 401.0, and maps compare by content).
func jsonEqual(want any, got gjson.Result) bool {
	if !got.Exists() {
		return false
	}
	return reflect.DeepEqual(normalize(want), normalize(got.Value()))
}

func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return shortText(string(b), 120)
}

func rawOrNothing(r gjson.Result) string {
	if !r.Exists() {
		return "nothing (missing)"
	}
	return shortText(r.Raw, 80)
}

func shortText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Extract takes the capture's value from a response: the value of a
// Set-Cookie cookie (the last one of that name), the first value of a
// header, or the string form of the JSON value at a gjson path. ok is false
// when the response does not carry it (an empty value counts as absent).
func (c Capture) Extract(header http.Header, body []byte) (value string, ok bool) {
	switch c.From {
	case "cookie":
		return SetCookieValue(header, c.Name)
	case "header":
		v := header.Get(c.Name)
		return v, v != ""
	case "json":
		r := gjson.GetBytes(body, c.Name)
		if !r.Exists() || r.Type == gjson.Null {
			return "", false
		}
		return r.String(), r.String() != ""
	}
	return "", false
}

// SetCookieValue returns the value of the last Set-Cookie of the given
// name in header; ok is false when there is none or its value is empty.
func SetCookieValue(header http.Header, name string) (string, bool) {
	var value string
	for _, c := range (&http.Response{Header: header}).Cookies() {
		if c.Name == name {
			value = c.Value
		}
	}
	return value, value != ""
}

// MaxRepeat caps a conform step's repeat.
const MaxRepeat = 1000

// Times returns how many times the step's request is sent.
func (st *Step) Times() int { return max(1, st.Repeat) }
