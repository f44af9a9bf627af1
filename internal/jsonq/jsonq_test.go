package jsonq

import (
	"encoding/json"
	"testing"
)

// FuzzAppend: Append is json.Marshal for every string.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "rt_abc-DEF.123~", `a"b`, `a\b`, "<&>", "\x00\x1f\x7f", "é", "\u2028", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Append([]byte("x"), s)
		if err != nil || string(got) != "x"+string(want) {
			t.Fatalf("Append(%q) = %q, %v; want x%s", s, got, err, want)
		}
	})
}
