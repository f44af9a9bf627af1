package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonProblem is what scanJSON finds wrong with a body that json.Valid
// accepts: bytes that are not UTF-8, an object with a key twice, or a
// number no float64 holds.
type jsonProblem struct {
	malformed bool // 400 malformed_json; otherwise 422 validation_error
	msg       string
	loc       []any // where in the body, for the 422's details
}

// rejection is the envelope answer for the problem.
func (p *jsonProblem) rejection() *rejection {
	if p.malformed {
		return &rejection{status: http.StatusBadRequest, code: "malformed_json", rule: "validation",
			message: "the request body is not valid JSON: " + p.msg}
	}
	return &rejection{status: http.StatusUnprocessableEntity, code: "validation_error", rule: "validation",
		message: "the request does not validate against the spec: " + p.msg,
		details: []detail{{Loc: p.loc, Msg: p.msg, Type: "value_error"}}}
}

// frame is one open object or array while scanning.
type frame struct {
	object bool
	keys   map[string]struct{} // keys seen so far (objects)
	key    string              // the current key (objects)
	index  int                 // the next element's index (arrays)
	want   bool                // objects: the next string is a key
}

// scanJSON reads a body that json.Valid accepts and reports what the
// validator and the token reader would otherwise disagree on: invalid
// UTF-8 (which encoding/json replaces silently), a duplicate key (the
// validator reads the last value, a first-match reader the first) and a
// number beyond float64 (which the validator cannot decode). nil means
// none of them.
func scanJSON(body []byte) *jsonProblem {
	if !utf8.Valid(body) {
		return &jsonProblem{malformed: true, msg: fmt.Sprintf("invalid UTF-8 at byte %d", invalidUTF8At(body))}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil // json.Valid said it parses; the validator reports the rest
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, ok := tok.(string); ok && top != nil && top.object && top.want {
			if _, dup := top.keys[k]; dup {
				return &jsonProblem{malformed: true, msg: fmt.Sprintf("duplicate key %q in %s (send each key once)", cutText(k, 64), locString(stack, false))}
			}
			top.keys[k] = struct{}{}
			top.key, top.want = k, false
			continue
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{object: true, keys: map[string]struct{}{}, want: true})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = pop(stack[:len(stack)-1])
			}
		case json.Number:
			if _, err := strconv.ParseFloat(string(t), 64); err != nil {
				return &jsonProblem{msg: fmt.Sprintf("%s: the number %s is beyond a 64-bit float's range", locString(stack, true), cutText(string(t), 64)),
					loc: locPath(stack)}
			}
			stack = pop(stack)
		default:
			stack = pop(stack)
		}
	}
}

// pop records that the innermost open value got one complete member.
func pop(stack []*frame) []*frame {
	if len(stack) == 0 {
		return stack
	}
	top := stack[len(stack)-1]
	if top.object {
		top.want = true
	} else {
		top.index++
	}
	return stack
}

// locPath is the details loc of the value being read: ["body", "l", 1, "k"].
func locPath(stack []*frame) []any {
	out := []any{"body"}
	for _, f := range stack {
		if f.object {
			out = append(out, f.key)
		} else {
			out = append(out, f.index)
		}
	}
	return out
}

// locString is locPath as text (body.l[1].k); with value false it names
// the innermost open value itself rather than its member being read.
func locString(stack []*frame, value bool) string {
	n := len(stack)
	if !value {
		n--
	}
	var b strings.Builder
	b.WriteString("body")
	for _, f := range stack[:max(n, 0)] {
		if f.object {
			b.WriteString("." + cutText(f.key, 64))
		} else {
			fmt.Fprintf(&b, "[%d]", f.index)
		}
	}
	return b.String()
}

// invalidUTF8At is the byte offset of the first byte that does not begin
// a valid UTF-8 sequence.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}
