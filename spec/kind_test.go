package spec_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/refreshmock/refreshmock/spec"
)

// TestViolationKind: every finding of the validator says as data which
// check failed and what it wanted, so that no caller parses the
// validator's English.
func TestViolationKind(t *testing.T) {
	t.Parallel()
	s := mustDefault(t)
	op := mustOperation(t, s, "refresh_token")
	type want struct {
		field string
		kind  spec.Kind
		want  string
	}
	org := `"organization":{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"Acme","slug":"acme"}`
	tests := []struct {
		name string
		// request: a request body; otherwise a response of status.
		request string
		status  int
		ct      string
		body    string
		want    []want
	}{
		{name: "wrong type of a nullable string", request: `{"refresh_token":5}`, want: []want{{"$.refresh_token", spec.KindType, "string"}}},
		{name: "array instead of a string", request: `{"refresh_token":[1]}`, want: []want{{"$.refresh_token", spec.KindType, "string"}}},
		{name: "too short", request: `{"refresh_token":""}`, want: []want{{"$.refresh_token", spec.KindTooShort, "1"}}},
		{name: "not an object", request: `[1,2]`, want: []want{{"", spec.KindType, "object"}}},
		{name: "does not parse", request: `{"refresh_token":`, want: []want{{"", spec.KindMalformed, ""}}},
		{name: "missing properties", status: 200, body: `{"token_type":"bearer","organization":null}`, want: []want{
			{"$.access_token", spec.KindMissing, ""}, {"$.expires_in", spec.KindMissing, ""}}},
		{name: "minimum", status: 200, body: `{"access_token":"a","token_type":"bearer","expires_in":0,` + org + `}`, want: []want{{"$.expires_in", spec.KindTooSmall, "1"}}},
		{name: "enum", status: 200, body: `{"access_token":"a","token_type":"mac","expires_in":1,` + org + `}`, want: []want{{"$.token_type", spec.KindEnum, ""}}},
		{name: "pattern", status: 200, body: `{"access_token":"a","token_type":"bearer","expires_in":1,"organization":{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"A","slug":"A B"}}`,
			want: []want{{"$.organization.slug", spec.KindPattern, "^[a-z0-9][a-z0-9-]*$"}}},
		{name: "format", status: 200, body: `{"access_token":"a","token_type":"bearer","expires_in":1,"organization":{"id":"nope","name":"A","slug":"a"}}`,
			want: []want{{"$.organization.id", spec.KindFormat, "uuid"}}},
		{name: "missing required header", status: 429, body: `{"status":429,"message":"slow down","code":"rate_limited"}`, want: []want{{"Retry-After", spec.KindMissing, ""}}},
		{name: "undocumented content type", status: 200, ct: "text/html", body: `<p>`, want: []want{{"", spec.KindContentType, ""}}},
		{name: "undocumented status", status: 418, body: `{}`, want: []want{{"", spec.KindStatus, ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var vs []spec.Violation
			if tc.request != "" {
				req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/auth/refresh", bytes.NewReader([]byte(tc.request)))
				req.Header.Set("Content-Type", "application/json")
				vs = s.ValidateRequest(req)
			} else {
				ct := tc.ct
				if ct == "" {
					ct = "application/json"
				}
				vs = s.ValidateResponse(spec.SampleRequest(op), tc.status, http.Header{"Content-Type": {ct}}, []byte(tc.body))
			}
			var got []want
			for _, v := range vs {
				got = append(got, want{v.Field, v.Kind, v.Want})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("findings %+v, want %+v\n%v", got, tc.want, vs)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("finding %d: %+v, want %+v (%s)", i, got[i], tc.want[i], vs[i])
				}
			}
		})
	}
}
