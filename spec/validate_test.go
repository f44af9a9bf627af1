package spec_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/spec"
)

const validToken = `{
  "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEyMyJ9.c2ln",
  "token_type": "bearer",
  "expires_in": 900,
  "organization": {
    "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "name": "Acme Inc",
    "slug": "acme",
    "role": "owner"
  }
}`

// findViolation returns the violation at field, if any.
func findViolation(vs []spec.Violation, field string) (spec.Violation, bool) {
	for _, v := range vs {
		if v.Field == field {
			return v, true
		}
	}
	return spec.Violation{}, false
}

func TestValidateResponseValid(t *testing.T) {
	t.Parallel()
	s := mustDefault(t)
	op := mustOperation(t, s, "refresh_token")
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
	}{
		{"token", 200, jsonHeader(), validToken},
		{"no organization", 200, jsonHeader(), strings.Replace(validToken, `"organization": {`, `"organization": null, "x": {`, 1)},
		{"without role", 200, jsonHeader(), strings.Replace(validToken, `,
    "role": "owner"`, "", 1)},
		{"charset", 200, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, validToken},
		{"401", 401, jsonHeader(), okEnvelope401},
		{"429 with Retry-After", 429, http.Header{"Content-Type": {"application/json"}, "Retry-After": {"30"}},
			`{"status": 429, "message": "Rate limited", "code": "rate_limited"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if vs := s.ValidateScripted(op, tc.status, tc.header, []byte(tc.body)); len(vs) != 0 {
				t.Errorf("ValidateScripted(%d) = %v, want no violations", tc.status, vs)
			}
			req := httptest.NewRequest("POST", "/auth/refresh", strings.NewReader(`{"refresh_token": "rt"}`))
			req.Header.Set("Content-Type", "application/json")
			if vs := s.ValidateResponse(req, tc.status, tc.header, []byte(tc.body)); len(vs) != 0 {
				t.Errorf("ValidateResponse(%d) = %v, want no violations", tc.status, vs)
			}
		})
	}
}

func TestValidateResponseBody(t *testing.T) {
	t.Parallel()
	s := mustDefault(t)
	op := mustOperation(t, s, "refresh_token")
	tests := []struct {
		name      string
		old, new  string // replaced in validToken
		wantField string
		wantValue string
		wantInMsg string
	}{
		{"empty access_token", `"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEyMyJ9.c2ln"`, `"access_token": ""`,
			"$.access_token", `""`, "minLength"},
		{"token_type Bearer", `"bearer"`, `"Bearer"`, "$.token_type", `"Bearer"`, "bearer"},
		{"expires_in 0", `900`, `0`, "$.expires_in", "0", "minimum"},
		{"expires_in string", `900`, `"900"`, "$.expires_in", `"900"`, "want integer"},
		{"organization.id not a uuid", `"7c9e6679-7425-40de-944b-e07fc1f90ae7"`, `"org_123"`,
			"$.organization.id", `"org_123"`, "uuid"},
		{"slug with upper case", `"acme"`, `"Acme"`, "$.organization.slug", `"Acme"`, "pattern"},
		{"role not in enum", `"owner"`, `"king"`, "$.organization.role", `"king"`, "owner"},
		{"missing access_token", `"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEyMyJ9.c2ln",`, ``,
			"$.access_token", "", "missing property 'access_token'"},
		{"missing organization", `"organization": {`, `"x": {`,
			"$.organization", "", "missing property 'organization'"},
		{"missing organization.slug", `"slug": "acme",`, ``, "$.organization.slug", "", "missing property 'slug'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := strings.Replace(validToken, tc.old, tc.new, 1)
			if body == validToken {
				t.Fatalf("test case does not change the body")
			}
			vs := s.ValidateScripted(op, 200, jsonHeader(), []byte(body))
			if len(vs) == 0 {
				t.Fatalf("ValidateScripted(200, %s) = no violations, want one at %s", body, tc.wantField)
			}
			for _, v := range vs {
				if got, want := v.Rule, spec.RuleResponseBody; got != want {
					t.Errorf("Rule = %q, want %q (%v)", got, want, v)
				}
			}
			v, ok := findViolation(vs, tc.wantField)
			if !ok {
				t.Fatalf("ValidateScripted = %v, want a violation at %s", vs, tc.wantField)
			}
			if got, want := v.Value, tc.wantValue; got != want {
				t.Errorf("Value = %q, want %q", got, want)
			}
			if got, want := v.In, "body"; got != want {
				t.Errorf("In = %q, want %q", got, want)
			}
			if !strings.Contains(v.Message, tc.wantInMsg) {
				t.Errorf("Message = %q, want it to contain %q", v.Message, tc.wantInMsg)
			}
			if !strings.HasPrefix(v.SpecPointer, "/paths/~1auth~1refresh/post/responses/200") {
				t.Errorf("SpecPointer = %q, want it under the 200 response", v.SpecPointer)
			}
			if v.SpecLine <= 0 {
				t.Errorf("SpecLine = %d, want > 0", v.SpecLine)
			}
		})
	}
}

func TestValidateResponseOtherRules(t *testing.T) {
	t.Parallel()
	s := mustDefault(t)
	op := mustOperation(t, s, "refresh_token")
	rateLimited := `{"status": 429, "message": "Rate limited", "code": "rate_limited"}`
	tests := []struct {
		name        string
		status      int
		header      http.Header
		body        string
		wantRule    string
		wantField   string
		wantValue   string
		wantIn      string
		wantPointer string
	}{
		{"429 without Retry-After", 429, jsonHeader(), rateLimited,
			spec.RuleResponseHeader, "Retry-After", "", "header",
			"/paths/~1auth~1refresh/post/responses/429/headers/Retry-After/required"},
		{"429 with Retry-After not a number", 429, http.Header{"Content-Type": {"application/json"}, "Retry-After": {"soon"}}, rateLimited,
			spec.RuleResponseHeader, "Retry-After", "soon", "header",
			"/paths/~1auth~1refresh/post/responses/429/headers/Retry-After/schema/type"},
		{"429 with negative Retry-After", 429, http.Header{"Content-Type": {"application/json"}, "Retry-After": {"-1"}}, rateLimited,
			spec.RuleResponseHeader, "Retry-After", "-1", "header",
			"/paths/~1auth~1refresh/post/responses/429/headers/Retry-After/schema/minimum"},
		{"undocumented 418", 418, jsonHeader(), `{"status": 418, "message": "teapot", "code": "teapot"}`,
			spec.RuleResponseStatus, "", "", "", "/paths/~1auth~1refresh/post/responses/418"},
		{"200 as text/plain", 200, http.Header{"Content-Type": {"text/plain"}}, "token",
			spec.RuleResponseType, "", "", "", "/paths/~1auth~1refresh/post/responses/200"},
		{"401 with a bad envelope", 401, jsonHeader(), `{"status": 401, "message": "", "code": "Bad-Code"}`,
			spec.RuleResponseBody, "$.code", `"Bad-Code"`, "body", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vs := s.ValidateScripted(op, tc.status, tc.header, []byte(tc.body))
			var v spec.Violation
			found := false
			for _, x := range vs {
				if x.Rule == tc.wantRule && x.Field == tc.wantField {
					v, found = x, true
					break
				}
			}
			if !found {
				t.Fatalf("ValidateScripted(%d) = %v, want a %s violation at %q", tc.status, vs, tc.wantRule, tc.wantField)
			}
			if got, want := v.Value, tc.wantValue; got != want {
				t.Errorf("Value = %q, want %q", got, want)
			}
			if got, want := v.In, tc.wantIn; got != want {
				t.Errorf("In = %q, want %q", got, want)
			}
			if tc.wantPointer != "" && v.SpecPointer != tc.wantPointer {
				t.Errorf("SpecPointer = %q, want %q", v.SpecPointer, tc.wantPointer)
			}
			if v.Message == "" {
				t.Errorf("Message is empty")
			}
		})
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	s := mustDefault(t)
	tests := []struct {
		name        string
		contentType string
		body        *string // nil: no body
		wantRule    string  // "" when valid
		wantField   string
		wantValue   string
	}{
		{name: "no body"},
		{name: "token", contentType: "application/json", body: ptr(`{"refresh_token": "rt_123"}`)},
		{name: "null token", contentType: "application/json", body: ptr(`{"refresh_token": null}`)},
		{name: "empty object", contentType: "application/json", body: ptr(`{}`)},
		{name: "token as number", contentType: "application/json", body: ptr(`{"refresh_token": 42}`),
			wantRule: spec.RuleRequestBody, wantField: "$.refresh_token", wantValue: "42"},
		{name: "token as empty string", contentType: "application/json", body: ptr(`{"refresh_token": ""}`),
			wantRule: spec.RuleRequestBody, wantField: "$.refresh_token", wantValue: `""`},
		{name: "token as array", contentType: "application/json", body: ptr(`{"refresh_token": ["rt"]}`),
			wantRule: spec.RuleRequestBody, wantField: "$.refresh_token", wantValue: `["rt"]`},
		{name: "malformed JSON", contentType: "application/json", body: ptr(`{"refresh_token": `),
			wantRule: spec.RuleRequestJSON},
		{name: "text/plain", contentType: "text/plain", body: ptr(`rt_123`),
			wantRule: spec.RuleRequestContentType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader
			if tc.body != nil {
				body = strings.NewReader(*tc.body)
			}
			req := httptest.NewRequest("POST", "/auth/refresh", body)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			vs := s.ValidateRequest(req)
			if tc.wantRule == "" {
				if len(vs) != 0 {
					t.Errorf("ValidateRequest = %v, want no violations", vs)
				}
			} else {
				if len(vs) != 1 {
					t.Fatalf("ValidateRequest = %v, want one %s violation", vs, tc.wantRule)
				}
				v := vs[0]
				if got, want := v.Rule, tc.wantRule; got != want {
					t.Errorf("Rule = %q, want %q", got, want)
				}
				if got, want := v.Field, tc.wantField; got != want {
					t.Errorf("Field = %q, want %q", got, want)
				}
				if got, want := v.Value, tc.wantValue; got != want {
					t.Errorf("Value = %q, want %q", got, want)
				}
				if !strings.HasPrefix(v.SpecPointer, "/paths/~1auth~1refresh/post/requestBody") {
					t.Errorf("SpecPointer = %q, want it under the request body", v.SpecPointer)
				}
			}
			// The body is restored for the next reader.
			if tc.body != nil {
				got, err := io.ReadAll(req.Body)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != *tc.body {
					t.Errorf("body after ValidateRequest = %q, want %q", got, *tc.body)
				}
			}
		})
	}
}

func TestValidatePetstore(t *testing.T) {
	t.Parallel()
	s := mustLoadFile(t, petstoreFile)
	t.Run("responses", func(t *testing.T) {
		t.Parallel()
		show := mustOperation(t, s, "showPetById")
		if vs := s.ValidateScripted(show, 200, jsonHeader(), []byte(`{"id": 1, "name": "Rex", "tag": null}`)); len(vs) != 0 {
			t.Errorf("valid pet: ValidateScripted = %v, want none", vs)
		}
		if vs := s.ValidateScripted(show, 404, jsonHeader(), []byte(`{"error": "no such pet"}`)); len(vs) != 0 {
			t.Errorf("valid error: ValidateScripted = %v, want none", vs)
		}
		vs := s.ValidateScripted(show, 200, jsonHeader(), []byte(`{"id": 0, "name": "Rex"}`))
		v, ok := findViolation(vs, "$.id")
		if !ok || v.Rule != spec.RuleResponseBody || v.Value != "0" {
			t.Errorf("id 0: ValidateScripted = %v, want a %s violation at $.id = 0", vs, spec.RuleResponseBody)
		}
		if got, want := v.SpecPointer, "/paths/~1pets~1{petId}/get/responses/200/properties/id/minimum"; got != want {
			t.Errorf("SpecPointer = %q, want %q", got, want)
		}
		vs = s.ValidateScripted(mustOperation(t, s, "listPets"), 200, jsonHeader(), []byte(`[{"id": 1, "name": "Rex"}, {"id": 2}]`))
		if _, ok := findViolation(vs, "$[1].name"); !ok {
			t.Errorf("list: ValidateScripted = %v, want a violation at $[1].name", vs)
		}
	})

	tests := []struct {
		name                         string
		method, target, body         string
		wantRule                     string
		wantField, wantValue, wantIn string
	}{
		{name: "list", method: "GET", target: "/pets?limit=10"},
		{name: "show", method: "GET", target: "/pets/123"},
		{name: "create", method: "POST", target: "/pets", body: `{"name": "Rex", "tag": null}`},
		{name: "delete", method: "DELETE", target: "/pets/7"},
		{name: "path parameter not an integer", method: "GET", target: "/pets/abc",
			wantRule: spec.RuleRequestParameter, wantField: "petId", wantValue: "abc", wantIn: "path"},
		{name: "path parameter below minimum", method: "DELETE", target: "/pets/0",
			wantRule: spec.RuleRequestParameter, wantField: "petId", wantValue: "0", wantIn: "path"},
		{name: "query parameter out of range", method: "GET", target: "/pets?limit=1000",
			wantRule: spec.RuleRequestParameter, wantField: "limit", wantValue: "1000", wantIn: "query"},
		{name: "name of the wrong type", method: "POST", target: "/pets", body: `{"name": 7}`,
			wantRule: spec.RuleRequestBody, wantField: "$.name", wantValue: "7", wantIn: "body"},
		{name: "name missing", method: "POST", target: "/pets", body: `{"tag": "dog"}`,
			wantRule: spec.RuleRequestBody, wantField: "$.name", wantIn: "body"},
		{name: "body not JSON", method: "POST", target: "/pets", body: `name=Rex`,
			wantRule: spec.RuleRequestJSON},
		{name: "wrong method", method: "PUT", target: "/pets/1", wantRule: spec.RuleRequestPath},
		{name: "unknown path", method: "GET", target: "/owners", wantRule: spec.RuleRequestPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req := httptest.NewRequest(tc.method, tc.target, body)
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			vs := s.ValidateRequest(req)
			if tc.wantRule == "" {
				if len(vs) != 0 {
					t.Errorf("ValidateRequest(%s %s) = %v, want none", tc.method, tc.target, vs)
				}
				return
			}
			if len(vs) != 1 {
				t.Fatalf("ValidateRequest(%s %s) = %v, want one %s violation", tc.method, tc.target, vs, tc.wantRule)
			}
			v := vs[0]
			if got, want := v.Rule, tc.wantRule; got != want {
				t.Errorf("Rule = %q, want %q", got, want)
			}
			if got, want := v.Field, tc.wantField; got != want {
				t.Errorf("Field = %q, want %q", got, want)
			}
			if got, want := v.Value, tc.wantValue; got != want {
				t.Errorf("Value = %q, want %q", got, want)
			}
			if got, want := v.In, tc.wantIn; got != want {
				t.Errorf("In = %q, want %q", got, want)
			}
			if tc.wantIn != "" && !strings.HasPrefix(v.SpecPointer, "/paths/~1pets") {
				t.Errorf("SpecPointer = %q, want it under /paths/~1pets", v.SpecPointer)
			}
		})
	}
}

func TestViolationString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    spec.Violation
		want string
	}{
		{"rule and message", spec.Violation{Rule: "r", Message: "m"}, "r: m"},
		{"field", spec.Violation{Rule: "r", Message: "m", Field: "$.a"}, "r: m (at $.a)"},
		{"field and value", spec.Violation{Rule: "r", Message: "m", Field: "$.a", Value: "1"}, "r: m (at $.a = 1)"},
		{"pointer and line", spec.Violation{Rule: "r", Message: "m", SpecPointer: "/paths/~1a", SpecLine: 7},
			"r: m [spec /paths/~1a line 7]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.v.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValueAt(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a": {"b": [1, {"c": "x"}]}, "long": "` + strings.Repeat("y", 200) + `"}`)
	tests := []struct {
		path   string
		want   string
		wantOK bool
	}{
		{"$.a.b[0]", "1", true},
		{"$.a.b[1].c", `"x"`, true},
		{"$.a.missing", "", false},
		{"$", "", false},
		{"$.long", `"` + strings.Repeat("y", 119) + "…", true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			got, ok := spec.ValueAt(body, tc.path)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("ValueAt(%q) = %q, %v; want %q, %v", tc.path, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func ptr(s string) *string { return &s }
