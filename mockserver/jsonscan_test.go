package mockserver

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestScanJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		malformed bool
		msg       string // part of the message; "" for no problem
		loc       []any
	}{
		{"plain", `{"refresh_token":"rt_x"}`, false, "", nil},
		{"same key in sibling objects", `[{"a":1},{"a":2}]`, false, "", nil},
		{"same key at two depths", `{"a":{"a":1}}`, false, "", nil},
		{"big but finite", `{"n":1.7976931348623157e308}`, false, "", nil},
		{"underflow is zero", `{"n":1e-999999}`, false, "", nil},
		{"duplicate at the top", `{"refresh_token":5,"refresh_token":"rt_x"}`, true, `duplicate key "refresh_token" in body`, nil},
		{"duplicate nested", `{"l":[1,{"k":1,"k":2}]}`, true, `duplicate key "k" in body.l[1]`, nil},
		{"duplicate after a nested object", `{"a":{"b":1},"a":2}`, true, `duplicate key "a" in body (send`, nil},
		{"invalid UTF-8 in a string", "{\"refresh_token\":\"rt_\xff\"}", true, "invalid UTF-8 at byte 21", nil},
		{"overlong encoding", "{\"a\":\"\xc0\xaf\"}", true, "invalid UTF-8 at byte 6", nil},
		{"number beyond float64", `{"refresh_token":1e999999999}`, false, "body.refresh_token: the number 1e999999999", []any{"body", "refresh_token"}},
		{"number in an array", `{"l":[0,-1e400]}`, false, "body.l[1]:", []any{"body", "l", 1}},
		{"top-level number", `1e400`, false, "body: the number", []any{"body"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := scanJSON([]byte(tc.body))
			if tc.msg == "" {
				if p != nil {
					t.Fatalf("scanJSON(%q) = %+v, want nil", tc.body, p)
				}
				return
			}
			if p == nil {
				t.Fatalf("scanJSON(%q) = nil, want a problem with %q", tc.body, tc.msg)
			}
			if p.malformed != tc.malformed || !strings.Contains(p.msg, tc.msg) {
				t.Errorf("scanJSON(%q) = malformed %v %q, want malformed %v and %q", tc.body, p.malformed, p.msg, tc.malformed, tc.msg)
			}
			if tc.loc != nil && !reflect.DeepEqual(p.loc, tc.loc) {
				t.Errorf("loc = %v, want %v", p.loc, tc.loc)
			}
		})
	}
}

// FuzzScanJSON: any body json.Valid accepts scans without a panic, and a
// problem it finds has a message and answers 400 or 422.
func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{`{"refresh_token":"rt_x"}`, `{"a":1,"a":2}`, `{"l":[1,{"k":[{}],"k":2}]}`, "\"\xff\"", `[1e999]`, `{"":{"":{"":1}},"":0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		p := scanJSON(body)
		if p == nil {
			return
		}
		if p.msg == "" {
			t.Fatalf("a problem without a message for %q", body)
		}
		if rej := p.rejection(); rej.status != 400 && rej.status != 422 {
			t.Fatalf("status %d for %q", rej.status, body)
		}
	})
}
