package scenarios_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/scenarios"
)

// TestVersionOperators: lt, lte, gt and gte compare versions (or plain
// numbers) component by component; a value that is not a version does not
// match, and the journal says why.
func TestVersionOperators(t *testing.T) {
	t.Parallel()
	set := mustLoadYAML(t, `
name: old-client
operation: refresh_token
match:
  headers:
    X-Client-Version: {lt: "2.0"}
response:
  status: 426
  body: {status: 426, message: Upgrade., code: upgrade_required}
`)
	sc, _ := set.Get("old-client")
	tests := []struct {
		version string
		present bool
		want    bool
		why     string
	}{
		{"1.9", true, true, ""},
		{"1.10.3", true, true, ""},
		{"v1.99", true, true, ""},
		{"2.0.0-beta.1", true, true, ""}, // a prerelease comes before its release
		{"2", true, false, `got "2", want < "2.0"`},
		{"2.0.0", true, false, `got "2.0.0", want < "2.0"`},
		{"10.0", true, false, `got "10.0", want < "2.0"`},
		{"two", true, false, `got "two", want < "2.0"`},
		{"", false, false, `absent, want < "2.0"`},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.present {
			h.Set("X-Client-Version", tc.version)
		}
		r := sc.Match.Eval(request(nil, h, "", ""), scenarios.TokenInvalid)
		if r.OK != tc.want || (!r.OK && !strings.Contains(r.Reason, tc.why)) {
			t.Errorf("%q: ok %v (%s), want %v (%s)", tc.version, r.OK, r.Reason, tc.want, tc.why)
		}
	}
	for _, tc := range []struct {
		op, operand, value string
		want               bool
	}{
		{"lte", "2.0", "2.0.0", true}, {"lte", "2.0", "2.0.1", false},
		{"gt", "1.4.2", "1.4.10", true}, {"gt", "1.4.2", "1.4.2", false},
		{"gte", "3", "3.0.0", true}, {"gte", "3", "2.99", false},
		{"gte", "1.0.0-rc.2", "1.0.0-rc.10", false}, // prereleases compare as text
	} {
		s := mustLoadYAML(t, "name: c\noperation: refresh_token\nmatch: {headers: {V: {"+tc.op+": \""+tc.operand+"\"}}}\n"+
			"response: {status: 426, body: {status: 426, message: U., code: upgrade_required}}\n")
		c, _ := s.Get("c")
		h := http.Header{"V": {tc.value}}
		if got := c.Match.Eval(request(nil, h, "", ""), "").OK; got != tc.want {
			t.Errorf("%s %s on %s = %v, want %v", tc.op, tc.operand, tc.value, got, tc.want)
		}
	}
}

// TestOperatorLint: an operand an operator cannot use is a lint error at
// the operand's line and column.
func TestOperatorLint(t *testing.T) {
	t.Parallel()
	const head = "name: x\noperation: refresh_token\n"
	const ok = "response: {status: 426, body: {status: 426, message: U., code: upgrade_required}}\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"version that does not parse", head + "match: {headers: {V: {lt: two}}}\n" + ok,
			`t.yaml:3:27: match.headers.V.lt: "two" is not a version or a number`},
		{"version with junk", head + "match:\n  headers:\n    V: {gte: \"1.2.x\"}\n" + ok,
			`t.yaml:5:14: match.headers.V.gte: "1.2.x" is not a version or a number`},
		{"regex that does not compile", head + "match: {cookies: {a: {regex: '(['}}}\n" + ok,
			`t.yaml:3:30: match.cookies.a.regex: regular expression does not compile`},
		{"present not a bool", head + "match: {query: {a: {present: maybe}}}\n" + ok,
			`t.yaml:3:30: match.query.a.present: "maybe" is not true or false`},
		{"unknown operator", head + "match: {query: {a: {below: 2}}}\n" + ok,
			`t.yaml:3:21: match.query.a.below: unknown operator "below"`},
		{"two operators", head + "match: {query: {a: {lt: 2, gt: 1}}}\n" + ok,
			`t.yaml:3:20: match.query.a: a condition takes exactly one of equals, prefix, contains, regex, present, lt, lte, gt, gte; got 2`},
		{"empty prefix", head + "match: {query: {a: {prefix: ''}}}\n" + ok,
			`t.yaml:3:29: match.query.a.prefix: empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, diags := scenarios.Load(mustSpec(t), []scenarios.Source{{Name: "t.yaml", Data: []byte(tc.yaml)}})
			if set != nil {
				t.Fatalf("loaded; want %s", tc.want)
			}
			found := false
			for _, d := range diags {
				found = found || strings.HasPrefix(d.String(), tc.want)
			}
			if !found {
				t.Errorf("diagnostics:\n%v\nwant one starting with %s", diags, tc.want)
			}
		})
	}
}
