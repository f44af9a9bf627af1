package scenarios_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/refreshmock/refreshmock/scenarios"
)

// mustLoadOne loads YAML text holding scenarios and returns the set.
func mustLoadOne(tb testing.TB, data string) *scenarios.Set {
	tb.Helper()
	set, diags := scenarios.Load(mustSpec(tb), []scenarios.Source{{Name: "t.yaml", Data: []byte(data)}})
	if set == nil {
		tb.Fatalf("Load():\n%v", diags)
	}
	return set
}

func TestDecodeShorthands(t *testing.T) {
	t.Parallel()
	set := mustLoadOne(t, `name: shorthands
operation: refresh_token
match:
  cookies:
    refresh_token: rt_1
  headers:
    X-Client: {prefix: ios/}
    X-Debug: {present: false}
  body:
    user.id: 42
response:
  status: 504
  delay: {min: 100ms, max: 2s}
  body: {status: 504, message: Slow., code: gateway_timeout}
conform:
  vars: [A]
  steps:
    - request: {cookies: {refresh_token: "${A}"}}
      expect: {status: 504}
      capture:
        C: cookie:refresh_token
        H: header:Retry-After
        J: json:organization.id
    - request: {json: {refresh_token: "${C}"}}
      expect: {status: [504, 502]}
---
name: fixed-delay
operation: refresh_token
response:
  status: 504
  delay: 250ms
  body: {status: 504, message: Slow., code: gateway_timeout}
`)
	sc, _ := set.Get("shorthands")
	m := sc.Match
	for _, tc := range []struct {
		name     string
		got      scenarios.Condition
		op, want string
	}{
		{"scalar condition", m.Cookies["refresh_token"], "equals", "rt_1"},
		{"prefix condition", m.Headers["X-Client"], "prefix", "ios/"},
		{"present condition", m.Headers["X-Debug"], "present", "false"},
		{"number condition", m.Body["user.id"], "equals", "42"},
	} {
		if tc.got.Op != tc.op || tc.got.Operand != tc.want {
			t.Errorf("%s = %s %q, want %s %q", tc.name, tc.got.Op, tc.got.Operand, tc.op, tc.want)
		}
	}
	if diff := cmp.Diff(&scenarios.Delay{Min: 100 * time.Millisecond, Max: 2 * time.Second}, sc.Response.Delay); diff != "" {
		t.Errorf("delay range (-want +got):\n%s", diff)
	}
	steps := sc.Conform.Steps
	if diff := cmp.Diff(scenarios.StatusList{504}, steps[0].Expect.Status); diff != "" {
		t.Errorf("status int (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(scenarios.StatusList{504, 502}, steps[1].Expect.Status); diff != "" {
		t.Errorf("status list (-want +got):\n%s", diff)
	}
	wantCap := map[string]scenarios.Capture{
		"C": {From: "cookie", Name: "refresh_token"},
		"H": {From: "header", Name: "Retry-After"},
		"J": {From: "json", Name: "organization.id"},
	}
	if diff := cmp.Diff(wantCap, steps[0].Capture); diff != "" {
		t.Errorf("captures (-want +got):\n%s", diff)
	}
	if got := steps[0].Capture["J"].String(); got != "json:organization.id" {
		t.Errorf("Capture.String() = %q", got)
	}
	fixed, _ := set.Get("fixed-delay")
	if diff := cmp.Diff(&scenarios.Delay{Min: 250 * time.Millisecond, Max: 250 * time.Millisecond}, fixed.Response.Delay); diff != "" {
		t.Errorf("fixed delay (-want +got):\n%s", diff)
	}
}

func TestDecodePositions(t *testing.T) {
	t.Parallel()
	set := mustLoadOne(t, `# a comment

---
name: first
operation: refresh_token
response:
  status: 401
  body:
    status: 401
    message: Expired.
    code: refresh_token_expired
---
---
name: second
operation: refresh_token
response: {status: 500, body: {status: 500, message: Down., code: internal_server_error}}
`)
	if diff := cmp.Diff([]string{"first", "second"}, set.Names()); diff != "" {
		t.Fatalf("names (-want +got):\n%s (empty documents must be skipped)", diff)
	}
	first, _ := set.Get("first")
	tests := []struct {
		path string
		want scenarios.Pos
	}{
		{"", scenarios.Pos{File: "t.yaml", Line: 4, Col: 1}},
		{"name", scenarios.Pos{File: "t.yaml", Line: 4, Col: 1}},
		{"response.status", scenarios.Pos{File: "t.yaml", Line: 7, Col: 3}},
		{"response.body.code", scenarios.Pos{File: "t.yaml", Line: 11, Col: 5}},
		// An unwritten field falls back to the nearest written parent.
		{"response.body.details", scenarios.Pos{File: "t.yaml", Line: 8, Col: 3}},
		{"conform.steps", scenarios.Pos{File: "t.yaml", Line: 4, Col: 1}},
	}
	for _, tc := range tests {
		if got := first.PosOf(tc.path); got != tc.want {
			t.Errorf("PosOf(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	if got, want := first.Pos.String(), "t.yaml:4:1"; got != want {
		t.Errorf("Pos.String() = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		pos  scenarios.Pos
		want string
	}{
		{scenarios.Pos{File: "f"}, "f"},
		{scenarios.Pos{File: "f", Line: 3}, "f:3"},
		{scenarios.Pos{File: "f", Line: 3, Col: 7}, "f:3:7"},
	} {
		if got := tc.pos.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.pos, got, tc.want)
		}
	}
	second, _ := set.Get("second")
	if got := second.PosOf("response.body.code").Line; got != 16 {
		t.Errorf("flow-style position line = %d, want 16", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	const head = "name: x\noperation: refresh_token\n"
	const ok = "response: {status: 500, body: {status: 500, message: Down., code: internal_server_error}}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"duplicate key", head + "name: y\n" + ok, `3:1: name: duplicate field "name"; give it once`},
		{"duplicate map key", head + "match: {cookies: {a: x, a: y}}\n" + ok, `3:25: match.cookies.a: duplicate key "a"; give it once`},
		{"float for int", head + "priority: 1.5\n" + ok, `3:11: priority: expected an integer, got the number 1.5`},
		{"null for string", head + "description:\n" + ok, `3:13: description: expected a string, got null`},
		{"mapping for list", head + "tags: {a: b}\n" + ok, `3:7: tags: expected a list, got a mapping`},
		{"condition list", head + "match: {cookies: {a: [x]}}\n" + ok, `3:22: match.cookies.a: expected a value to equal, or a mapping with one of equals, prefix, contains, regex, present, lt, lte, gt, gte; got a list`},
		{"negative delay", head + "response: {status: 500, delay: -1s, body: {status: 500, message: Down., code: internal_server_error}}\n", `3:32: response.delay: expected a duration such as 250ms or 2s, got "-1s"`},
		{"delay list", head + "response: {status: 500, delay: [1s], body: {status: 500, message: Down., code: internal_server_error}}\n", `3:32: response.delay: expected a duration (250ms) or a mapping {min: 100ms, max: 2s}, got a list`},
		{"capture without name", head + ok + "conform: {steps: [{expect: {status: 500}, capture: {A: 'cookie:'}}]}\n", `4:56: conform.steps[0].capture.A: expected "cookie:NAME", "header:NAME" or "json:PATH", got "cookie:"`},
		{"status list of strings", head + ok + "conform: {steps: [{expect: {status: [five]}}]}\n", `4:38: conform.steps[0].expect.status[0]: expected an integer, got "five"`},
		{"bad name", "name: -x\noperation: refresh_token\n" + ok, `1:1: name: "-x" is not a valid name`},
		{"missing name", "operation: refresh_token\n" + ok, `1:1: name: missing; give the scenario a unique name`},
		{"not a mapping", "- a\n- b\n", `1:1: expected a mapping, got a list`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, diags := scenarios.Load(mustSpec(t), []scenarios.Source{{Name: "t.yaml", Data: []byte(tc.yaml)}})
			if set != nil {
				t.Fatalf("loaded; want an error containing %q", tc.want)
			}
			found := false
			for _, d := range diags {
				if strings.HasPrefix(d.String(), "t.yaml:"+tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("diagnostics:\n%v\nwant one starting with t.yaml:%s", diags, tc.want)
			}
		})
	}
}

func TestDecodeMergeKeys(t *testing.T) {
	t.Parallel()
	set := mustLoadOne(t, `name: merged
operation: refresh_token
match:
  any:
    - &cookie {cookies: {refresh_token: rt_1}, token: valid}
    - <<: *cookie
      token: expired
response:
  <<: [{status: 500}, {status: 502, content_type: application/json}]
  body: {status: 500, message: Down., code: internal_server_error}
`)
	sc, _ := set.Get("merged")
	if got, want := sc.Response.Status, 500; got != want {
		t.Errorf("status = %d, want %d (the first merged mapping wins)", got, want)
	}
	if got, want := sc.Response.ContentType, "application/json"; got != want {
		t.Errorf("content_type = %q, want %q (merged from the second mapping)", got, want)
	}
	alt := sc.Match.Any[1]
	if got := alt.Token; got != "expired" {
		t.Errorf("any[1].token = %q, want expired (explicit keys win over merged ones)", got)
	}
	if got := alt.Cookies["refresh_token"]; got.Op != "equals" || got.Operand != "rt_1" {
		t.Errorf("any[1].cookies.refresh_token = %s %q, want equals rt_1 (merged)", got.Op, got.Operand)
	}
}

// TestDecodeHostileAliases: aliases that contain themselves or expand
// exponentially end in one diagnostic, quickly, instead of exhausting
// memory.
func TestDecodeHostileAliases(t *testing.T) {
	t.Parallel()
	bomb := "name: bomb\noperation: refresh_token\nmatch:\n  any:\n    - &a0 {token: valid}\n"
	for i := 1; i <= 8; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 9), ", ")
		bomb += fmt.Sprintf("    - &a%d {any: [%s]}\n", i, refs)
	}
	bomb += "response: {status: 500, body: {status: 500, message: Down., code: internal_server_error}}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"alias inside its anchor", "name: r\noperation: refresh_token\nmatch: &m\n  any: [*m]\nresponse: {status: 500}\n", "t.yaml:4:9: match.any[0].any[0]: alias *m refers to a node that contains it"},
		{"merge of its own anchor", "name: r\noperation: refresh_token\nresponse: &r\n  <<: *r\n  status: 500\n", "t.yaml:4:7: response: alias *r refers to a node that contains it"},
		{"merge of a scalar", "name: r\noperation: refresh_token\nresponse:\n  <<: 5\n  status: 500\n", "t.yaml:4:7: response.<<: a merge key takes a mapping or a list of mappings, got the integer 5"},
		{"alias bomb", bomb, "the document expands to more than 100000 values"},
		{"merge-key bomb", MergeBomb(11, 8), "the document expands to more than 100000 values"},
		{"merge-key bomb in a list", strings.Replace(MergeBomb(11, 8), "  headers:\n    <<: *a11\n", "  headers:\n    <<: [*a11, *a10]\n", 1), "the document expands to more than 100000 values"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			set, diags, _ := scenarios.LoadContext(ctx, mustSpec(t), []scenarios.Source{{Name: "t.yaml", Data: []byte(tc.yaml)}})
			if ctx.Err() != nil {
				t.Fatal("still loading after 20s")
			}
			if set != nil {
				t.Fatal("loaded; want an error")
			}
			n := 0
			for _, d := range diags {
				if strings.Contains(d.String(), tc.want) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("diagnostics:\n%v\nwant exactly one containing %q", diags, tc.want)
			}
		})
	}
}

// MergeBomb returns an 800-byte scenario file whose response.headers merge
// anchors that merge the previous anchor fan times, depth deep: expanded
// naively, fan^depth keys.
func MergeBomb(depth, fan int) string {
	var b strings.Builder
	b.WriteString("name: bomb\noperation: refresh_token\nx:\n  a0: &a0 {k0: 1}\n")
	for i := 1; i <= depth; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), fan), ", ")
		fmt.Fprintf(&b, "  a%d: &a%d {<<: [%s], k%d: 1}\n", i, i, refs, i)
	}
	fmt.Fprintf(&b, "response:\n  status: 200\n  headers:\n    <<: *a%d\n", depth)
	return b.String()
}

// TestLoadContextCancelled: a cancelled load returns no set and the
// context's error, not a list of diagnostics.
func TestLoadContextCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	set, _, err := scenarios.LoadContext(ctx, mustSpec(t), scenarios.Embedded())
	if set != nil {
		t.Error("a cancelled load returned a set")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
