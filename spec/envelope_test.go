package spec_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/refreshmock/refreshmock/spec"
)

// envelopeCase is one body checked against one envelope rule.
type envelopeCase struct {
	name        string
	status      int
	contentType string // application/json when empty
	body        string
	pass        bool     // the rule holds
	wantField   string   // Field of the violation
	wantValue   string   // Value of the violation
	wantInMsg   []string // what was expected and what came back
}

// runEnvelopeCases checks every case against rule on refresh_token.
func runEnvelopeCases(t *testing.T, rule string, tests []envelopeCase) {
	t.Helper()
	op := mustOperation(t, mustDefault(t), "refresh_token")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			vs := op.CheckEnvelope(tc.status, ct, []byte(tc.body))
			var got []spec.Violation
			for _, v := range vs {
				if v.Rule == rule {
					got = append(got, v)
				}
			}
			if tc.pass {
				if len(vs) != 0 {
					t.Errorf("CheckEnvelope(%d, %q, %s) = %v, want no violations", tc.status, ct, tc.body, vs)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("CheckEnvelope(%d, %q, %s) = %v, want one %s violation", tc.status, ct, tc.body, vs, rule)
			}
			v := got[0]
			if got, want := v.Field, tc.wantField; got != want {
				t.Errorf("Field = %q, want %q", got, want)
			}
			if got, want := v.Value, tc.wantValue; got != want {
				t.Errorf("Value = %q, want %q", got, want)
			}
			for _, s := range tc.wantInMsg {
				if !strings.Contains(v.Message, s) {
					t.Errorf("Message = %q, want it to contain %q", v.Message, s)
				}
			}
			if v.HowToFix == "" {
				t.Errorf("HowToFix is empty")
			}
			wantPtr := "/paths/~1auth~1refresh/post/responses/" + strconv.Itoa(tc.status)
			if got := v.SpecPointer; got != wantPtr {
				t.Errorf("SpecPointer = %q, want %q", got, wantPtr)
			}
			if r, ok := op.Response(tc.status); ok {
				if got, want := v.SpecLine, r.Line; got != want {
					t.Errorf("SpecLine = %d, want %d (the response's line)", got, want)
				}
			}
		})
	}
}

const okEnvelope401 = `{"status": 401, "message": "The refresh token has expired.", "code": "refresh_token_expired"}`

func TestEnvelopeContentType(t *testing.T) {
	t.Parallel()
	fail := func(name, ct string) envelopeCase {
		return envelopeCase{name: name, status: 401, contentType: ct, body: okEnvelope401,
			wantField: "Content-Type", wantValue: ct,
			wantInMsg: []string{"application/json", `got Content-Type "` + ct + `"`}}
	}
	runEnvelopeCases(t, spec.RuleEnvelopeContentType, []envelopeCase{
		{name: "json", status: 401, contentType: "application/json", body: okEnvelope401, pass: true},
		{name: "json with charset", status: 401, contentType: "application/json; charset=utf-8", body: okEnvelope401, pass: true},
		{name: "json upper case", status: 401, contentType: "Application/JSON", body: okEnvelope401, pass: true},
		fail("text/plain", "text/plain"),
		fail("html", "text/html; charset=utf-8"),
		fail("problem+json", "application/problem+json"),
		fail("unparsable", "application/json;;;="),
		fail("space", " "),
	})
}

func TestEnvelopeContentTypeIn(t *testing.T) {
	t.Parallel()
	op := mustOperation(t, mustDefault(t), "refresh_token")
	vs := op.CheckEnvelope(401, "text/plain", []byte(okEnvelope401))
	if len(vs) != 1 {
		t.Fatalf("CheckEnvelope = %v, want one violation", vs)
	}
	if got, want := vs[0].In, "header"; got != want {
		t.Errorf("In = %q, want %q", got, want)
	}
}

func TestEnvelopeJSON(t *testing.T) {
	t.Parallel()
	fail := func(name, body, gotText string) envelopeCase {
		return envelopeCase{name: name, status: 500, body: body, wantField: "$", wantValue: body,
			wantInMsg: []string{"must be a JSON object", "got " + gotText}}
	}
	runEnvelopeCases(t, spec.RuleEnvelopeJSON, []envelopeCase{
		{name: "object", status: 500, body: `{"status":500,"message":"Internal server error","code":"internal_server_error"}`, pass: true},
		fail("empty", "", "an empty body"),
		fail("text", "Internal Server Error", `text that is not JSON ("Internal Server Error")`),
		fail("truncated", `{"status": 500,`, "text that is not JSON"),
		fail("array", `[{"status":500}]`, "an array"),
		fail("string", `"oops"`, "a string"),
		fail("number", `500`, "a number"),
		fail("boolean", `false`, "a boolean"),
		fail("null", `null`, "null"),
	})
}

func TestEnvelopeJSONStopsEarly(t *testing.T) {
	t.Parallel()
	op := mustOperation(t, mustDefault(t), "refresh_token")
	vs := op.CheckEnvelope(422, "text/html", []byte("<h1>oops</h1>"))
	var rules []string
	for _, v := range vs {
		rules = append(rules, v.Rule)
	}
	want := []string{spec.RuleEnvelopeContentType, spec.RuleEnvelopeJSON}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("rules mismatch (-want +got):\n%s", diff)
	}
}

func TestEnvelopeStatus(t *testing.T) {
	t.Parallel()
	fail := func(name, status, got string) envelopeCase {
		body := `{"message": "Authentication failed", "code": "authentication_failed"` + status + `}`
		return envelopeCase{name: name, status: 401, body: body, wantField: "$.status", wantValue: got,
			wantInMsg: []string{"HTTP status 401", "got " + got}}
	}
	runEnvelopeCases(t, spec.RuleEnvelopeStatus, []envelopeCase{
		{name: "equal", status: 401, body: okEnvelope401, pass: true},
		{name: "equal as float", status: 401, body: `{"status": 401.0, "message": "m", "code": "refresh_token_expired"}`, pass: true},
		fail("other status", `, "status": 400`, "400"),
		fail("string", `, "status": "401"`, `"401"`),
		fail("fraction", `, "status": 401.5`, "401.5"),
		fail("null", `, "status": null`, "null"),
		fail("missing", ``, "nothing (missing)"),
	})
}

func TestEnvelopeCode(t *testing.T) {
	t.Parallel()
	catalog := "refresh_token_expired, refresh_token_reused"
	fail := func(name, code, got string) envelopeCase {
		body := `{"status": 401, "message": "Authentication failed"` + code + `}`
		return envelopeCase{name: name, status: 401, body: body, wantField: "$.code", wantValue: got,
			wantInMsg: []string{"code for 401 must be one of [", catalog, "got " + got}}
	}
	runEnvelopeCases(t, spec.RuleEnvelopeCode, []envelopeCase{
		{name: "in catalog", status: 401, body: okEnvelope401, pass: true},
		{name: "default code", status: 401, body: `{"status": 401, "message": "m", "code": "authentication_failed"}`, pass: true},
		fail("unknown", `, "code": "token_expired"`, `"token_expired"`),
		fail("code of another status", `, "code": "rate_limited"`, `"rate_limited"`),
		fail("upper case", `, "code": "REFRESH_TOKEN_EXPIRED"`, `"REFRESH_TOKEN_EXPIRED"`),
		fail("number", `, "code": 401`, "401"),
		fail("null", `, "code": null`, "null"),
		fail("missing", ``, "nothing (missing)"),
	})
}

func TestEnvelopeDetails(t *testing.T) {
	t.Parallel()
	fail := func(name, details, got string) envelopeCase {
		body := `{"status": 422, "message": "Validation error", "code": "validation_error"` + details + `}`
		return envelopeCase{name: name, status: 422, body: body, wantField: "$.details", wantValue: got,
			wantInMsg: []string{"non-empty details array", "got " + got}}
	}
	runEnvelopeCases(t, spec.RuleEnvelopeDetails, []envelopeCase{
		{name: "one detail", status: 422, pass: true,
			body: `{"status": 422, "message": "Validation error", "code": "validation_error", "details": [{"loc": ["body", "refresh_token"], "msg": "Field required", "type": "missing"}]}`},
		fail("missing", ``, "nothing (missing)"),
		fail("empty", `, "details": []`, "[]"),
		fail("null", `, "details": null`, "null"),
		fail("object", `, "details": {"loc": ["body"]}`, `{"loc": ["body"]}`),
		fail("string", `, "details": "refresh_token is required"`, `"refresh_token is required"`),
	})
}

func TestEnvelopeDetailsOnlyFor422(t *testing.T) {
	t.Parallel()
	op := mustOperation(t, mustDefault(t), "refresh_token")
	if vs := op.CheckEnvelope(400, "application/json", []byte(`{"status": 400, "message": "m", "code": "invalid_request"}`)); len(vs) != 0 {
		t.Errorf("CheckEnvelope(400 without details) = %v, want none", vs)
	}
}

func TestEnvelopeDetailLoc(t *testing.T) {
	t.Parallel()
	const locations = "body, cookie, header, query, path"
	body := func(status int, code, details string) string {
		return `{"status": ` + strconv.Itoa(status) + `, "message": "m", "code": "` + code + `", "details": [` + details + `]}`
	}
	ok := `{"loc": ["body", "refresh_token"], "msg": "m", "type": "t"}`
	fail := func(name, detail, field, got string) envelopeCase {
		return envelopeCase{name: name, status: 422, body: body(422, "validation_error", detail),
			wantField: field, wantValue: got,
			wantInMsg: []string{"loc must start with one of " + locations, "got " + got}}
	}
	tests := []envelopeCase{
		{name: "body", status: 422, body: body(422, "validation_error", ok), pass: true},
		{name: "every location", status: 422, pass: true, body: body(422, "validation_error",
			`{"loc":["cookie","refresh_token"]},{"loc":["header","x"]},{"loc":["query","q",0]},{"loc":["path","id"]}`)},
		{name: "on a 400 too", status: 400, body: body(400, "invalid_request", ok), pass: true},
		fail("unknown location", `{"loc": ["json", "refresh_token"]}`, "$.details[0].loc", `["json", "refresh_token"]`),
		fail("second detail", ok+`, {"loc": ["Body"]}`, "$.details[1].loc", `["Body"]`),
		fail("empty loc", `{"loc": []}`, "$.details[0].loc", "[]"),
		fail("integer first", `{"loc": [0, "body"]}`, "$.details[0].loc", `[0, "body"]`),
		fail("string loc", `{"loc": "body.refresh_token"}`, "$.details[0].loc", `"body.refresh_token"`),
		fail("missing loc", `{"msg": "m"}`, "$.details[0].loc", "nothing (missing)"),
		{name: "on a 400", status: 400, body: body(400, "invalid_request", `{"loc": ["nowhere"]}`),
			wantField: "$.details[0].loc", wantValue: `["nowhere"]`,
			wantInMsg: []string{"details[0].loc must start with one of " + locations, `got ["nowhere"]`}},
	}
	runEnvelopeCases(t, spec.RuleEnvelopeDetailLoc, tests)
}

func TestCheckEnvelopeNotApplicable(t *testing.T) {
	t.Parallel()
	def := mustOperation(t, mustDefault(t), "refresh_token")
	pets := mustLoadFile(t, petstoreFile)
	tests := []struct {
		name   string
		op     *spec.Operation
		status int
	}{
		{"success", def, 200},
		{"redirect", def, 302},
		{"operation without envelope", mustOperation(t, pets, "showPetById"), 404},
		{"undocumented status of an operation without envelope", mustOperation(t, pets, "deletePet"), 500},
		{"documented with another schema", mustOperation(t, pets, "createPet"), 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if vs := tc.op.CheckEnvelope(tc.status, "text/plain", []byte("not json")); vs != nil {
				t.Errorf("CheckEnvelope(%d) = %v, want nil", tc.status, vs)
			}
		})
	}
}

func TestCheckEnvelopePetstore(t *testing.T) {
	t.Parallel()
	op := mustOperation(t, mustLoadFile(t, petstoreFile), "createPet")
	tests := []struct {
		name      string
		status    int
		body      string
		wantRules []string
	}{
		{"valid 422", 422, `{"status":422,"message":"m","code":"name_taken","details":[{"loc":["body","name"]}]}`, nil},
		{"422 code not in catalog", 422, `{"status":422,"message":"m","code":"nope","details":[{"loc":["body","name"]}]}`,
			[]string{spec.RuleEnvelopeCode}},
		{"422 without details", 422, `{"status":422,"message":"m","code":"validation_error"}`,
			[]string{spec.RuleEnvelopeDetails}},
		// An undocumented status of an envelope operation: no catalog, but the
		// other rules apply.
		{"undocumented 500", 500, `{"status":500,"message":"m","code":"anything"}`, nil},
		{"undocumented 500 wrong status", 500, `{"status":400,"message":"m","code":"anything"}`,
			[]string{spec.RuleEnvelopeStatus}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rules []string
			for _, v := range op.CheckEnvelope(tc.status, "application/json", []byte(tc.body)) {
				rules = append(rules, v.Rule)
			}
			if diff := cmp.Diff(tc.wantRules, rules); diff != "" {
				t.Errorf("rules mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRules(t *testing.T) {
	t.Parallel()
	var ids []string
	for _, r := range spec.EnvelopeRules {
		ids = append(ids, r.ID)
		if r.Description == "" {
			t.Errorf("rule %s has no description", r.ID)
		}
	}
	want := []string{
		spec.RuleEnvelopeContentType, spec.RuleEnvelopeJSON, spec.RuleEnvelopeStatus,
		spec.RuleEnvelopeCode, spec.RuleEnvelopeDetails, spec.RuleEnvelopeDetailLoc,
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("Rules mismatch (-want +got):\n%s", diff)
	}
}
