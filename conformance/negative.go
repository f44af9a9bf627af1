package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/refreshmock/refreshmock/spec"
	"github.com/tidwall/gjson"
)

// documented4xx lists the operation's documented client-error statuses.
func documented4xx(op *spec.Operation) []int {
	var out []int
	for _, s := range op.Statuses() {
		if s >= 400 && s < 500 {
			out = append(out, s)
		}
	}
	return out
}

// validationStatuses lists the documented statuses that say "the request
// does not validate": 400 and 422 where the spec documents them, else every
// documented 4xx (a spec without either cannot say more).
func validationStatuses(op *spec.Operation) []int {
	var out []int
	for _, s := range []int{http.StatusBadRequest, http.StatusUnprocessableEntity} {
		if op.Documents(s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return documented4xx(op)
	}
	return out
}

func statusWords(ss []int) string {
	return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(ss)), " or "), "[]")
}

func wrongValues() []struct {
	typ   string
	value any
} {
	return []struct {
		typ   string
		value any
	}{
		{"string", "not-a-number"},
		{"integer", 12345},
		{"number", 1.5},
		{"boolean", true},
		{"array", []any{}},
		{"object", map[string]any{}},
		{"null", nil},
	}
}

// rejectJudge judges a request that must be rejected with one of want:
// accepted (2xx) or crashing the server (5xx) is negative-not-rejected;
// another 4xx is wrong4xx (status-expected when empty).
func rejectJudge(want []int, wrong4xx string) func(int) (Finding, bool) {
	words := statusWords(want)
	return func(status int) (Finding, bool) {
		f := Finding{Step: 1, Expected: words, Got: fmt.Sprint(status)}
		switch {
		case slices.Contains(want, status):
			return Finding{}, false
		case status >= 200 && status < 300:
			f.Check = CheckNegativeNotRejected
			f.Message = fmt.Sprintf("an invalid request was accepted with %d; it must be rejected with %s", status, words)
		case status >= 500:
			f.Check = CheckNegativeNotRejected
			f.Message = fmt.Sprintf("an invalid request made the server fail with %d; it must be rejected with %s", status, words)
		case status >= 400 && wrong4xx != "":
			f.Check = wrong4xx
			f.Message = fmt.Sprintf("a body the schema rejects was answered %d; it must get a validation status (%s), not an authentication or authorization error, so that clients can tell a broken request from an expired session", status, words)
		default:
			f.Check = CheckStatusExpected
			f.Message = fmt.Sprintf("expected status %s, got %d", words, status)
		}
		return f, true
	}
}

// validJudge judges a request whose body the schema accepts but which
// carries no usable token: it must not be rejected as invalid (400/422),
// must not succeed, and must not crash the server.
func validJudge(op *spec.Operation) func(int) (Finding, bool) {
	invalid := validationStatuses(op)
	other := slices.DeleteFunc(documented4xx(op), func(s int) bool { return slices.Contains(invalid, s) })
	return func(status int) (Finding, bool) {
		f := Finding{Step: 1, Expected: "a documented 4xx other than " + statusWords(invalid), Got: fmt.Sprint(status)}
		switch {
		case slices.Contains(invalid, status) && len(other) > 0:
			f.Check = CheckValidBodyRejected
			f.Message = fmt.Sprintf("a body the schema accepts was rejected as invalid with %d; without a usable token the answer is an authentication failure (%s)", status, statusWords(other))
		case status >= 200 && status < 300:
			f.Check = CheckNegativeNotRejected
			f.Message = fmt.Sprintf("a request without a usable token was accepted with %d", status)
		case status >= 500:
			f.Check = CheckServerError
			f.Message = fmt.Sprintf("the server failed with %d on a schema-valid request without a usable token; answer with a 4xx", status)
		case status >= 400 && op.Documents(status):
			return Finding{}, false
		default:
			f.Check = CheckStatusExpected
			f.Message = fmt.Sprintf("expected a documented 4xx, got %d", status)
		}
		return f, true
	}
}

// bodyValid asks the spec whether a JSON body validates as op's request
// (no token cookie).
func (r *runner) bodyValid(op *spec.Operation, body []byte) bool {
	req := spec.SampleRequest(op)
	req.Header = http.Header{"Content-Type": {"application/json"}}
	req.Body = ioNopCloser(body)
	req.ContentLength = int64(len(body))
	for _, v := range r.sp.ValidateRequest(req) {
		if v.In == "body" || strings.HasPrefix(v.Rule, "request-body") {
			return false
		}
	}
	return true
}

// negativeCases derives requests from the spec that must be rejected, and
// schema-valid requests that must not be rejected as invalid:
//
//   - no-token, body.P.null, body.extra-field, body.empty-object: the
//     schema accepts them and they carry no usable token: a documented
//     4xx that is not a validation status (valid-body-rejected);
//   - malformed-json, body.P.TYPE (each JSON type the schema refuses),
//     body.P.empty-string (below minLength): a validation status, 400 or
//     422 as documented (invalid-body-status for 401/403);
//   - wrong-content-type and oversized-body: a documented 4xx.
//
// Each is sent twice (but the oversized body) so that envelope-code-stable
// can compare the codes.
func (r *runner) negativeCases() []caseDef {
	op := r.op
	want := documented4xx(op)
	if len(want) == 0 {
		return nil
	}
	validation := validationStatuses(op)
	ptr := op.Pointer()
	mk := func(id, title, source string, judge func(int) (Finding, bool), twice bool, build func() *outRequest) caseDef {
		return caseDef{id: "negative/" + id, kind: KindNegative, title: title, source: source, expects: want,
			run: func(ctx context.Context, cr *caseRun) {
				n := 1
				if twice {
					n = 2
				}
				var got []*response
				for step := 1; step <= n; step++ {
					j := func(s int) (Finding, bool) {
						f, bad := judge(s)
						f.Step = step
						return f, bad
					}
					resp := cr.exchange(ctx, step, "", build(), expectation{op: op, statuses: want, judge: j})
					if resp == nil {
						return
					}
					got = append(got, resp)
				}
				if len(got) == 2 {
					cr.codeStable(got[0], got[1])
				}
			}}
	}
	body := func(v any, ct string) func() *outRequest {
		return func() *outRequest {
			o := r.baseRequest(op, false)
			b, _ := json.Marshal(v)
			o.Body, o.HasBody, o.ContentType = b, true, ct
			return o
		}
	}
	valid := validJudge(op)
	out := []caseDef{
		mk("no-token", "no token at all: no cookie and no body; the schema allows it, so not a validation error", ptr, valid, true,
			func() *outRequest { return r.baseRequest(op, false) }),
	}
	rb := op.RequestBody
	if rb == nil {
		return out
	}
	src := func(p string) string {
		return ptr + "/requestBody/content/application~1json/schema/properties/" + p
	}
	// Schema-valid boundary bodies, kept only where the spec agrees.
	boundary := func(id, title, source string, v any) {
		b, _ := json.Marshal(v)
		if r.bodyValid(op, b) {
			out = append(out, mk(id, title, source, valid, true, body(v, "application/json")))
		}
	}
	for _, p := range rb.Properties {
		if slices.Contains(p.Types, "null") {
			boundary("body."+p.Name+".null", p.Name+" is null, which the schema allows", src(p.Name), map[string]any{p.Name: nil})
		}
	}
	boundary("body.empty-object", "an empty JSON object, which the schema allows", ptr+"/requestBody", map[string]any{})
	extra := map[string]any{"x_conformance_unknown_field": "ignored"}
	if len(r.tokenFields) > 0 {
		extra[r.tokenFields[0]] = neverIssued
	}
	boundary("body.extra-field", "an unknown extra field next to a token nobody issued; the schema allows extra fields", ptr+"/requestBody", extra)

	first := "x"
	if len(rb.Properties) > 0 {
		first = rb.Properties[0].Name
	}
	invalid := rejectJudge(validation, CheckInvalidBodyStatus)
	out = append(out, mk("malformed-json", "a JSON body that does not parse", ptr+"/requestBody", invalid, true, func() *outRequest {
		o := r.baseRequest(op, false)
		o.Body, o.HasBody, o.ContentType = []byte(`{"`+first+`": `), true, "application/json"
		return o
	}))
	for _, p := range rb.Properties {
		for _, w := range wrongValues() {
			if slices.Contains(p.Types, w.typ) || len(p.Types) == 0 || w.typ == "integer" && slices.Contains(p.Types, "number") {
				continue
			}
			v := map[string]any{p.Name: w.value}
			b, _ := json.Marshal(v)
			if r.bodyValid(op, b) {
				continue // the spec accepts it after all (e.g. a oneOf)
			}
			out = append(out, mk("body."+p.Name+"."+w.typ, fmt.Sprintf("%s is %s, which the schema does not allow (%s)", p.Name, w.typ, strings.Join(p.Types, " or ")), src(p.Name),
				invalid, true, body(v, "application/json")))
		}
		if p.MinLength > 0 && slices.Contains(p.Types, "string") {
			out = append(out, mk("body."+p.Name+".empty-string", fmt.Sprintf("%s is an empty string, below minLength %d", p.Name, p.MinLength), src(p.Name),
				invalid, true, body(map[string]any{p.Name: ""}, "application/json")))
		}
	}
	sample := map[string]any{}
	if len(r.tokenFields) > 0 {
		sample[r.tokenFields[0]] = neverIssued
	}
	out = append(out,
		mk("wrong-content-type", "a JSON body sent as text/plain", ptr+"/requestBody/content", rejectJudge(want, ""), true, body(sample, "text/plain")),
		mk("oversized-body", fmt.Sprintf("a %d-byte body", r.cfg.OversizedBody), ptr+"/requestBody", rejectJudge(want, ""), false, func() *outRequest {
			o := r.baseRequest(op, false)
			pad := max(0, r.cfg.OversizedBody-len(first)-8)
			o.Body, o.HasBody, o.ContentType = []byte(`{"`+first+`": "`+strings.Repeat("a", pad)+`"}`), true, "application/json"
			return o
		}),
	)
	return out
}

// codeStable reports envelope-code-stable when the same request, answered
// twice with the same error status, carried two different codes.
func (cr *caseRun) codeStable(a, b *response) {
	if a.Status != b.Status || a.Status < 400 {
		return
	}
	ca, cb := gjson.GetBytes(a.Body, "code"), gjson.GetBytes(b.Body, "code")
	red := cr.r.red // redact before cutting, so no part of a secret survives the cut
	if ca.Type != gjson.String || cb.Type != gjson.String || ca.Str == cb.Str {
		return
	}
	cr.addFinding(Finding{Check: CheckCodeStable, Step: 2, Field: "$.code", In: "body", Value: red.Shorten(cb.Str, 60),
		Message:  fmt.Sprintf("the same request, answered %d twice, carried code %q the first time and %q the second; code is a stable machine-readable error type", a.Status, red.Shorten(ca.Str, 60), red.Shorten(cb.Str, 60)),
		Expected: red.Shorten(ca.Str, 60), Got: red.Shorten(cb.Str, 60)})
}

func ioNopCloser(b []byte) *nopCloser { return &nopCloser{bytes.NewReader(b)} }

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
