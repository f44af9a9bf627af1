package scenarios_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/refreshmock/refreshmock/scenarios"
)

// mustLoadYAML loads scenario YAML documents against the embedded spec.
func mustLoadYAML(tb testing.TB, yamlText string) *scenarios.Set {
	tb.Helper()
	set, diags := scenarios.Load(mustSpec(tb), []scenarios.Source{{Name: "match_test.yaml", Data: []byte(yamlText)}})
	if set == nil {
		tb.Fatalf("load:\n%v", diags)
	}
	return set
}

func request(cookies map[string]string, header http.Header, query string, body string) *scenarios.RequestData {
	if header == nil {
		header = http.Header{}
	}
	q, _ := url.ParseQuery(query)
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	if cookies == nil {
		cookies = map[string]string{}
	}
	return &scenarios.RequestData{Method: http.MethodPost, Path: "/auth/refresh", Headers: header, Cookies: cookies, Query: q, Body: b}
}

func TestMatchEval(t *testing.T) {
	t.Parallel()
	set := mustLoadYAML(t, `
name: all-kinds
operation: refresh_token
match:
  token: invalid
  cookies:
    refresh_token: {prefix: rt_test_}
  headers:
    X-Client: {regex: '^web/[0-9]+$'}
  query:
    debug: {present: true}
  body:
    device.id: {contains: phone}
response:
  status: 401
  body: {status: 401, message: m, code: refresh_token_invalid}
---
name: alternatives
operation: refresh_token
match:
  any:
    - cookies: {refresh_token: rt_a}
    - body: {refresh_token: rt_a}
response:
  status: 401
  body: {status: 401, message: m, code: refresh_token_invalid}
---
name: absent
operation: refresh_token
match:
  headers:
    Authorization: {present: false}
response:
  status: 401
  body: {status: 401, message: m, code: refresh_token_missing}
`)
	get := func(name string) *scenarios.Scenario {
		sc, ok := set.Get(name)
		if !ok {
			t.Fatalf("no scenario %s", name)
		}
		return sc
	}
	full := request(map[string]string{"refresh_token": "rt_test_x"}, http.Header{"X-Client": {"web/12"}}, "debug=1", `{"device":{"id":"my-phone"}}`)
	tests := []struct {
		name     string
		scenario string
		req      *scenarios.RequestData
		token    string
		ok       bool
		held, of int
		reason   string
	}{
		{"every kind holds", "all-kinds", full, "invalid", true, 5, 5, ""},
		{"token state differs", "all-kinds", full, "valid", false, 4, 5, "token: state is valid, want invalid"},
		{"regex fails", "all-kinds", request(map[string]string{"refresh_token": "rt_test_x"}, http.Header{"X-Client": {"ios/1"}}, "debug=1", `{"device":{"id":"phone"}}`), "invalid", false, 4, 5, `headers.X-Client: got "ios/1", want matching "^web/[0-9]+$"`},
		{"absent cookie", "all-kinds", request(nil, http.Header{"X-Client": {"web/1"}}, "debug", `{"device":{"id":"phone"}}`), "invalid", false, 4, 5, `cookies.refresh_token: absent, want prefix "rt_test_"`},
		{"body path absent", "all-kinds", request(map[string]string{"refresh_token": "rt_test_x"}, http.Header{"X-Client": {"web/1"}}, "debug", `{}`), "invalid", false, 4, 5, `body.device.id: absent, want contains "phone"`},
		{"first alternative", "alternatives", request(map[string]string{"refresh_token": "rt_a"}, nil, "", ""), "invalid", true, 1, 1, ""},
		{"second alternative", "alternatives", request(nil, nil, "", `{"refresh_token":"rt_a"}`), "invalid", true, 1, 1, ""},
		{"no alternative", "alternatives", request(map[string]string{"refresh_token": "rt_b"}, nil, "", ""), "invalid", false, 0, 1, `any: none of 2 alternatives held; nearest: cookies.refresh_token: got "rt_b", want "rt_a"`},
		{"present false holds", "absent", request(nil, nil, "", ""), "missing", true, 1, 1, ""},
		{"present false fails", "absent", request(nil, http.Header{"Authorization": {"x"}}, "", ""), "missing", false, 0, 1, "headers.Authorization: present, want absent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := get(tc.scenario).Match.Eval(tc.req, tc.token)
			want := scenarios.EvalResult{OK: tc.ok, Held: tc.held, Of: tc.of, Reason: tc.reason}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Eval (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMatchConditionsAndString(t *testing.T) {
	t.Parallel()
	set := mustEmbedded(t)
	tests := []struct {
		name, str string
		n         int
	}{
		{"refresh-success", "token=valid", 1},
		{"rate-limited", `any(cookies.refresh_token="rt_test_429_rate_limited" | body.refresh_token="rt_test_429_rate_limited")`, 1},
		{"malformed-json", "", 0},
	}
	for _, tc := range tests {
		sc, _ := set.Get(tc.name)
		if got := sc.Match.String(); got != tc.str {
			t.Errorf("%s: String = %q, want %q", tc.name, got, tc.str)
		}
		if got := sc.Match.Conditions(); got != tc.n {
			t.Errorf("%s: Conditions = %d, want %d", tc.name, got, tc.n)
		}
	}
}

// precedenceYAML has three scenarios that all match a request with cookie
// refresh_token=rt_x: the order must be priority, then conditions, then load
// order.
const precedenceYAML = `
name: first-loaded
operation: refresh_token
match: {cookies: {refresh_token: rt_x}}
response: {status: 401, body: {status: 401, message: m, code: refresh_token_invalid}}
---
name: more-conditions
operation: refresh_token
match: {cookies: {refresh_token: rt_x}, token: invalid}
response: {status: 401, body: {status: 401, message: m, code: refresh_token_invalid}}
---
name: high-priority
operation: refresh_token
priority: 5
match: {cookies: {refresh_token: rt_x}, headers: {X-Prio: "yes"}}
response: {status: 403, body: {status: 403, message: m, code: access_forbidden}}
---
name: same-as-first
operation: refresh_token
match: {cookies: {refresh_token: rt_x}}
response: {status: 409, body: {status: 409, message: m, code: already_exists}}
---
name: fallback
operation: refresh_token
default: true
response: {status: 401, body: {status: 401, message: m, code: authentication_failed}}
`

func TestSelect(t *testing.T) {
	t.Parallel()
	sel := scenarios.NewSelector(mustLoadYAML(t, precedenceYAML))
	if got, want := names(sel.Ordered("refresh_token")), []string{"high-priority", "more-conditions", "first-loaded", "same-as-first", "fallback"}; !cmp.Equal(got, want) {
		t.Errorf("Ordered = %v, want %v", got, want)
	}
	cookie := map[string]string{"refresh_token": "rt_x"}
	armed := func(name string) func() *scenarios.Scenario {
		return func() *scenarios.Scenario { sc, _ := sel.Set().Get(name); return sc }
	}
	tests := []struct {
		name     string
		q        scenarios.Query
		scenario string
		rule     scenarios.SelectedBy
		rejected []string
	}{
		{"priority first", scenarios.Query{Request: request(cookie, http.Header{"X-Prio": {"yes"}}, "", ""), Token: "invalid"}, "high-priority", scenarios.ByMatch, nil},
		{"then more conditions", scenarios.Query{Request: request(cookie, nil, "", ""), Token: "invalid"}, "more-conditions", scenarios.ByMatch, []string{"high-priority"}},
		{"then load order", scenarios.Query{Request: request(cookie, nil, "", ""), Token: "valid"}, "first-loaded", scenarios.ByMatch, []string{"high-priority", "more-conditions"}},
		{"default", scenarios.Query{Request: request(nil, nil, "", ""), Token: "missing"}, "fallback", scenarios.ByDefault, []string{"first-loaded", "same-as-first", "high-priority"}},
		{"armed beats match", scenarios.Query{Request: request(cookie, nil, "", ""), Token: "invalid", Armed: armed("same-as-first")}, "same-as-first", scenarios.ByArmed, nil},
		{"explicit beats armed", scenarios.Query{Request: request(cookie, http.Header{"X-Mock-Scenario": {"fallback"}}, "", ""), Armed: func() *scenarios.Scenario { t.Error("armed consulted for an explicit request"); return nil }}, "fallback", scenarios.ByExplicit, nil},
		{"prefer example", scenarios.Query{Request: request(nil, http.Header{"Prefer": {"example=same-as-first"}}, "", "")}, "same-as-first", scenarios.ByExplicit, nil},
		{"prefer code picks the holding one", scenarios.Query{Request: request(cookie, http.Header{"Prefer": {"code=401"}}, "", ""), Token: "invalid"}, "more-conditions", scenarios.ByExplicit, nil},
		{"prefer code with nothing holding", scenarios.Query{Request: request(nil, http.Header{"Prefer": {"dynamic=true, code=403"}}, "", "")}, "high-priority", scenarios.ByExplicit, nil},
		{"prefer code and a matching name", scenarios.Query{Request: request(nil, http.Header{"Prefer": {"code=409; example=same-as-first"}}, "", "")}, "same-as-first", scenarios.ByExplicit, nil},
		{"prefer code of a spec example", scenarios.Query{Request: request(nil, http.Header{"Prefer": {"code=200"}}, "", "")}, "example:200", scenarios.ByExplicit, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.q.Operation = "refresh_token"
			got, err := sel.Select(tc.q)
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if got.Name() != tc.scenario || got.By != tc.rule {
				t.Errorf("Select = %s by %s, want %s by %s (why: %s)", got.Name(), got.By, tc.scenario, tc.rule, got.Why)
			}
			var rejected []string
			for _, r := range got.Rejections() {
				rejected = append(rejected, r.Scenario)
				if r.Reason == "" {
					t.Errorf("rejection of %s has no reason", r.Scenario)
				}
			}
			if !cmp.Equal(rejected, tc.rejected) {
				t.Errorf("Rejected = %v, want %v", rejected, tc.rejected)
			}
		})
	}
}

func TestSelectErrors(t *testing.T) {
	t.Parallel()
	sel := scenarios.NewSelector(mustEmbedded(t))
	tests := []struct {
		name   string
		header http.Header
		want   []string
	}{
		{"unknown name", http.Header{"X-Mock-Scenario": {"rate-limit"}}, []string{`unknown scenario "rate-limit"`, "did you mean", "rate-limited", "refresh-success"}},
		{"unknown example", http.Header{"Prefer": {"example=nope"}}, []string{`unknown scenario "nope"`, "gateway-timeout"}},
		{"undocumented code", http.Header{"Prefer": {"code=418"}}, []string{"code=418 is not documented", "documented: 200, 400", "refresh-success"}},
		{"not a status", http.Header{"Prefer": {"code=abc"}}, []string{`code="abc" is not an HTTP status`}},
		{"code and name disagree", http.Header{"X-Mock-Scenario": {"rate-limited"}, "Prefer": {"code=401"}}, []string{"code=401", "answers 429"}},
		{"header and prefer disagree", http.Header{"X-Mock-Scenario": {"rate-limited"}, "Prefer": {"example=internal-error"}}, []string{"X-Mock-Scenario names"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := sel.Select(scenarios.Query{Operation: "refresh_token", Request: request(nil, tc.header, "", ""), Token: "missing"})
			if !errors.Is(err, scenarios.ErrSelect) {
				t.Fatalf("err = %v, want ErrSelect", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestSelectShippedTokenStates(t *testing.T) {
	t.Parallel()
	sel := scenarios.NewSelector(mustEmbedded(t))
	want := map[string]string{
		"valid": "refresh-success", "missing": "refresh-missing-token", "invalid": "refresh-invalid-token",
		"expired": "refresh-expired-token", "reused": "refresh-reused-token", "revoked": "refresh-revoked-token",
	}
	for _, state := range scenarios.TokenStates {
		got, err := sel.Select(scenarios.Query{Operation: "refresh_token", Request: request(map[string]string{"refresh_token": "rt_whatever"}, nil, "", ""), Token: state})
		if err != nil || got.Name() != want[state] || got.By != scenarios.ByMatch {
			t.Errorf("token %s: %s by %s (%v), want %s by match", state, got.Name(), got.By, err, want[state])
		}
	}
}

func names(list []*scenarios.Scenario) []string {
	out := make([]string, len(list))
	for i, sc := range list {
		out[i] = sc.Name
	}
	return out
}
