package scenarios_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/refreshmock/refreshmock/scenarios"
)

// mustTextScenario loads a scenario whose text/plain body is the template
// tmpl, under a status the spec does not document, so that only the
// template itself is checked.
func mustTextScenario(tb testing.TB, tmpl string) *scenarios.Scenario {
	tb.Helper()
	sc, diags := loadTextScenario(tb, tmpl)
	if sc == nil {
		tb.Fatalf("load template %q:\n%v", tmpl, diags)
	}
	return sc
}

func loadTextScenario(tb testing.TB, tmpl string) (*scenarios.Scenario, scenarios.Diagnostics) {
	tb.Helper()
	b, err := json.Marshal(tmpl) // a JSON string is a YAML double-quoted scalar
	if err != nil {
		tb.Fatal(err)
	}
	data := "name: tmpl\noperation: refresh_token\nresponse:\n  status: 299\n  allow_undocumented_status: true\n  content_type: text/plain\n  body_template: " + string(b) + "\n"
	set, diags := scenarios.Load(mustSpec(tb), []scenarios.Source{{Name: "tmpl.yaml", Data: []byte(data)}})
	if set == nil {
		return nil, diags
	}
	sc, _ := set.Get("tmpl")
	return sc, diags
}

func renderText(tb testing.TB, tmpl string, data *scenarios.RenderData) string {
	tb.Helper()
	out, err := mustTextScenario(tb, tmpl).Render(data)
	if err != nil {
		tb.Fatalf("Render(%q) error = %v", tmpl, err)
	}
	return string(out.Body)
}

func testData() *scenarios.RenderData {
	d := scenarios.SampleData()
	d.Request = scenarios.RequestData{
		Method:  http.MethodPost,
		Path:    "/auth/refresh",
		Headers: http.Header{"X-Client": {"ios/2.1"}},
		Cookies: map[string]string{"refresh_token": `rt_"quoted"`},
		Query:   url.Values{"debug": {"1"}},
		Body:    []byte(`{"refresh_token":"rt_body","user":{"id":42}}`),
	}
	d.Vars = map[string]string{"ORG": "acme"}
	return d
}

func TestRenderTemplateFunctions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tmpl, want string
	}{
		{"cookie", `{{ .Cookie "refresh_token" }}`, `rt_"quoted"`},
		{"missing cookie", `[{{ .Cookie "nope" }}]`, `[]`},
		{"header", `{{ .Header "x-client" }}`, `ios/2.1`},
		{"query", `{{ .Query "debug" }}`, `1`},
		{"body path", `{{ .Body "user.id" }}`, `42`},
		{"body string", `{{ .Body "refresh_token" }}`, `rt_body`},
		{"var", `{{ .Var "ORG" }}`, `acme`},
		{"json quotes", `{{ json (.Cookie "refresh_token") }}`, `"rt_\"quoted\""`},
		{"json number", `{{ json 3 }}`, `3`},
		{"now unix", `{{ unix .Now }}`, `1767268800`},
		{"now method", `{{ .Now.Unix }}`, `1767268800`},
		{"rfc3339", `{{ rfc3339 .Now }}`, `2026-01-01T12:00:00Z`},
		{"add", `{{ add .Token.ExpiresIn 100 }}`, `1000`},
		{"default when empty", `{{ default "anon" (.Cookie "nope") }}`, `anon`},
		{"default when set", `{{ default "anon" (.Var "ORG") }}`, `acme`},
		{"dict", `{{ json (dict "a" 1 "b" "x") }}`, `{"a":1,"b":"x"}`},
		{"token", `{{ .Token.Refresh }} {{ .Token.Subject }} {{ .Token.Family }}`, `rt_sample_next user_sample fam_sample`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := renderText(t, tc.tmpl, testData()); got != tc.want {
				t.Errorf("render %s = %q, want %q", tc.tmpl, got, tc.want)
			}
		})
	}
}

func TestRenderUUID(t *testing.T) {
	t.Parallel()
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	got := renderText(t, `{{ uuid }} {{ uuid }}`, testData())
	a, b, _ := strings.Cut(got, " ")
	for _, u := range []string{a, b, scenarios.NewUUID()} {
		if !v4.MatchString(u) {
			t.Errorf("uuid %q is not a version 4 UUID", u)
		}
	}
	if a == b {
		t.Errorf("two uuids are equal: %s", a)
	}
}

func TestRenderTemplateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tmpl, want string
	}{
		{"dict odd arguments", `{{ dict "a" }}`, "dict needs key-value pairs, got 1 arguments"},
		{"dict key not a string", `{{ dict 1 2 }}`, "dict key 1 is not a string"},
		{"unknown field", `{{ .Token.Bearer }}`, "can't evaluate field Bearer"},
		{"unknown function", `{{ sha1 "x" }}`, `function "sha1" not defined`},
		{"add a string", `{{ add "1" 2 }}`, `add: 1 (string) is not an integer`},
		{"range too long", `{{ range 1000000000 }}x{{ end }}`, "range over 1000000000 iterations; use at most 10000"},
		{"range too long, nested", `{{ if true }}{{ with 1 }}{{ range 20000 }}{{ end }}{{ end }}{{ end }}`, "range over 20000 iterations"},
		{"range too long, defined", `{{ define "loop" }}{{ range 99999 }}{{ end }}{{ end }}ok`, "range over 99999 iterations"},
		{"output over the limit", `{{ range 10000 }}{{ printf "%0200d" 0 }}{{ end }}`, "wrote more than 1048576 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc, diags := loadTextScenario(t, tc.tmpl)
			if sc != nil {
				t.Fatalf("template %q loaded; want an error", tc.tmpl)
			}
			diags = diags.Errors()
			if len(diags) != 1 || !strings.Contains(diags[0].Message, tc.want) || diags[0].Field != "response.body_template" {
				t.Errorf("diagnostics = %v, want one on response.body_template containing %q", diags, tc.want)
			}
		})
	}
}

// decodeJWT splits a JWT and decodes its header and claims, checking the
// HS256 signature with scenarios.JWTKey.
func decodeJWT(tb testing.TB, token string) (header, claims map[string]any) {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("JWT %q has %d parts, want 3", token, len(parts))
	}
	enc := base64.RawURLEncoding
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := enc.DecodeString(parts[i])
		if err != nil {
			tb.Fatalf("JWT part %d is not base64url: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			tb.Fatalf("JWT part %d is not JSON: %v", i, err)
		}
	}
	mac := hmac.New(sha256.New, scenarios.JWTKey)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if sig, _ := enc.DecodeString(parts[2]); !hmac.Equal(sig, mac.Sum(nil)) {
		tb.Errorf("JWT signature does not verify with JWTKey")
	}
	return header, claims
}

func TestJWTShape(t *testing.T) {
	t.Parallel()
	d := scenarios.SampleData()
	header, claims := decodeJWT(t, d.Token.Access)
	if diff := cmp.Diff(map[string]any{"alg": "HS256", "typ": "JWT"}, header); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	iat, exp := claims["iat"].(float64), claims["exp"].(float64)
	if claims["sub"] != "user_sample" {
		t.Errorf("sub = %v, want user_sample", claims["sub"])
	}
	if got, want := int64(iat), d.Now.Unix(); got != want {
		t.Errorf("iat = %d, want %d (the mock clock)", got, want)
	}
	if got, want := time.Duration(exp-iat)*time.Second, 15*time.Minute; got != want {
		t.Errorf("exp - iat = %s, want %s", got, want)
	}

	// The jwt template function signs claims built with dict.
	tok := renderText(t, `{{ jwt (dict "sub" "u1" "iat" (unix .Now) "exp" (add (unix .Now) 900)) }}`, testData())
	_, claims = decodeJWT(t, tok)
	if claims["sub"] != "u1" || claims["iat"] != float64(1767268800) || claims["exp"] != float64(1767268800+900) {
		t.Errorf("claims = %v, want sub u1, iat 1767268800 and exp 900s later", claims)
	}

	if _, err := scenarios.SignJWT(map[string]any{"bad": func() {}}); err == nil {
		t.Errorf("SignJWT with claims that are not JSON: no error")
	}
}

func TestRenderResponse(t *testing.T) {
	t.Parallel()
	src := scenarios.Source{Name: "r.yaml", Data: []byte(`name: rotated
operation: refresh_token
response:
  status: 200
  rotate: true
  headers:
    Cache-Control: no-store
    X-Subject: '{{ .Token.Subject }}'
  cookies:
    - name: refresh_token
      value: '{{ .Token.Refresh }}'
      http_only: true
      same_site: Strict
  body_template: |
    {"access_token": {{ json .Token.Access }}, "token_type": "bearer", "expires_in": {{ .Token.ExpiresIn }}, "organization": null}
---
name: literal
operation: refresh_token
response:
  status: 401
  body: {status: 401, message: Expired., code: refresh_token_expired}
---
name: plain
operation: refresh_token
response:
  status: 204
  allow_undocumented_status: true
`)}
	set, diags := scenarios.Load(mustSpec(t), []scenarios.Source{src})
	if set == nil {
		t.Fatalf("Load():\n%v", diags)
	}
	if got := len(diags.Warnings()); got != 1 {
		t.Errorf("warnings = %v, want one for the undocumented 204", diags)
	}
	sc, _ := set.Get("rotated")
	if !sc.Response.Templated() || !sc.Response.HasBody() || sc.Response.BodyJSON() != nil {
		t.Errorf("rotated: Templated, HasBody = %v, %v; BodyJSON = %q; want true, true, nil", sc.Response.Templated(), sc.Response.HasBody(), sc.Response.BodyJSON())
	}
	out, err := sc.Render(testData())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.Header.Get("X-Subject"), "user_sample"; got != want {
		t.Errorf("X-Subject = %q, want %q", got, want)
	}
	if got, want := out.Header.Get("Content-Type"), "application/json"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	if len(out.Cookies) != 1 || out.Cookies[0].Value != "rt_sample_next" || out.Cookies[0].Spec.Name != "refresh_token" {
		t.Errorf("cookies = %+v, want refresh_token=rt_sample_next", out.Cookies)
	}
	var body map[string]any
	if err := json.Unmarshal(out.Body, &body); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, out.Body)
	}
	decodeJWT(t, body["access_token"].(string))

	lit, _ := set.Get("literal")
	if lit.Response.Templated() {
		t.Errorf("literal: Templated() = true")
	}
	out, err = lit.Render(nil) // a literal response needs no data
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out.Body), `{"code":"refresh_token_expired","message":"Expired.","status":401}`; got != want {
		t.Errorf("literal body = %s, want %s", got, want)
	}

	plain, _ := set.Get("plain")
	out, err = plain.Render(nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Body != nil || out.Header.Get("Content-Type") != "" || out.Status != 204 {
		t.Errorf("plain = %+v, want 204 with no body and no Content-Type", out)
	}
}

// TestRenderConcurrent renders one scenario from many goroutines; run
// with -race.
func TestRenderConcurrent(t *testing.T) {
	t.Parallel()
	sc := mustTextScenario(t, `{{ .Cookie "refresh_token" }}-{{ uuid }}`)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 50 {
				d := testData()
				out, err := sc.Render(d)
				if err != nil || !strings.HasPrefix(string(out.Body), `rt_"quoted"-`) {
					t.Errorf("Render() = %q, %v", out.Body, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestRenderSharesNoMutableHeader checks that the header values shared
// between renders (the static headers and the Content-Type, built at load
// time) do not leak changes from one response into the next.
func TestRenderSharesNoMutableHeader(t *testing.T) {
	t.Parallel()
	src := scenarios.Source{Name: "h.yaml", Data: []byte(`name: headers
operation: refresh_token
response:
  status: 401
  headers:
    cache-control: no-store
    X-Static: one
    X-Subject: '{{ .Token.Subject }}'
  body: {status: 401, message: Expired., code: refresh_token_expired}
`)}
	set, diags := scenarios.Load(mustSpec(t), []scenarios.Source{src})
	if set == nil {
		t.Fatalf("Load():\n%v", diags)
	}
	sc, _ := set.Get("headers")
	want := http.Header{
		"Cache-Control": {"no-store"},
		"X-Static":      {"one"},
		"X-Subject":     {"user_sample"},
		"Content-Type":  {"application/json"},
	}
	for i := range 3 {
		out, err := sc.Render(scenarios.SampleData())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, out.Header); diff != "" {
			t.Fatalf("render %d: header (-want +got):\n%s", i, diff)
		}
		// What a caller may do to its response before writing it.
		out.Header.Set("X-Static", "changed")
		out.Header.Add("Cache-Control", "private")
		out.Header.Add("Content-Type", "text/plain")
		out.Header.Del("X-Subject")
	}
}

// TestRenderIntoMatchesRenderContext: RenderInto, with one body buffer
// reused across every render, gives what RenderContext gives, for the
// shipped scenarios and for templates that need text/template (a loop
// that counts steps, and a header template).
func TestRenderIntoMatchesRenderContext(t *testing.T) {
	t.Parallel()
	src := scenarios.Source{Name: "into.yaml", Data: []byte(`name: looped
operation: refresh_token
response:
  status: 401
  headers: {X-Path: '{{ .Request.Path }}'}
  body_template: '{"status": 401, "message": "{{ range $i, $_ := .Request.Headers }}{{ $i }};{{ end }}", "code": "refresh_token_invalid"}'
`)}
	sp := mustSpec(t)
	set, diags := scenarios.Load(sp, append(scenarios.Embedded(), src))
	if set == nil {
		t.Fatalf("Load():\n%v", diags)
	}
	var body bytes.Buffer
	for _, sc := range set.All() {
		data := scenarios.SampleData()
		data.Token = scenarios.TokenData{Access: "a.b.c", Refresh: "rt_x", ExpiresIn: 900, Subject: "user_x", Family: "fam_x"}
		want, err := sc.RenderContext(context.Background(), data)
		if err != nil {
			t.Fatalf("%s: RenderContext: %v", sc.Name, err)
		}
		var got scenarios.Rendered
		if err := sc.RenderInto(context.Background(), data, &got, &body); err != nil {
			t.Fatalf("%s: RenderInto: %v", sc.Name, err)
		}
		if diff := cmp.Diff(want, &got); diff != "" {
			t.Errorf("%s: RenderInto differs from RenderContext (-want +got):\n%s", sc.Name, diff)
		}
	}
}
