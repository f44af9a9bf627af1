// Package jsonq appends JSON-quoted strings exactly as encoding/json
// marshals them, without reflection for the common case: the mock quotes
// token strings on every rotation (JWT claims, the json template function).
package jsonq

import "encoding/json"

// Append appends s quoted as json.Marshal(s) would: as is between quotes
// when no byte needs escaping (printable ASCII other than the ones
// encoding/json escapes: quote, backslash, <, >, &), else through
// encoding/json itself.
func Append(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if escaped[s[i]] {
			q, err := json.Marshal(s)
			return append(b, q...), err
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

// escaped marks the bytes encoding/json does not write as is: control
// characters, non-ASCII, DEL, quote, backslash, <, > and &.
var escaped = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&'
	}
	return t
}()
