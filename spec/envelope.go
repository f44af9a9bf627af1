package spec

import (
	"fmt"
	"mime"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
)

// Envelope rule identifiers. They are stable: reports, tests and CI
// configurations refer to them.
const (
	RuleEnvelopeContentType = "envelope-content-type"
	RuleEnvelopeJSON        = "envelope-json-object"
	RuleEnvelopeStatus      = "envelope-status-matches"
	RuleEnvelopeCode        = "envelope-code-in-catalog"
	RuleEnvelopeDetails     = "envelope-422-details"
	RuleEnvelopeDetailLoc   = "envelope-details-loc"
)

// EnvelopeRule describes a check of the error envelope.
type EnvelopeRule struct {
	ID          string
	Description string
}

// EnvelopeRules lists the envelope checks in the order they are evaluated.
var EnvelopeRules = []EnvelopeRule{
	{RuleEnvelopeContentType, "an error body is application/json"},
	{RuleEnvelopeJSON, "an error body is a JSON object"},
	{RuleEnvelopeStatus, "the envelope's status equals the HTTP status"},
	{RuleEnvelopeCode, "the envelope's code is listed in x-error-codes for that status"},
	{RuleEnvelopeDetails, "a 422 carries a non-empty details array"},
	{RuleEnvelopeDetailLoc, "every details[].loc starts with body, cookie, header, query or path"},
}

// Locations are the allowed first elements of a validation detail's loc.
var Locations = []string{"body", "cookie", "header", "query", "path"}

// UsesEnvelope reports whether the operation answers errors with the error
// envelope, so that the envelope rules apply to its 4xx and 5xx responses.
func (o *Operation) UsesEnvelope() bool {
	for _, r := range o.Responses {
		if r.Envelope {
			return true
		}
	}
	return false
}

// Catalog returns the error codes allowed for status (nil when the document
// declares none).
func (o *Operation) Catalog(status int) []string {
	r, _ := o.Response(status)
	return r.ErrorCodes
}

// CheckEnvelope evaluates the envelope rules on an error response of op. It
// returns nil for statuses below 400, for operations that do not use the
// envelope, and for statuses that op documents with another schema (or
// without a body). An undocumented error status of an operation that uses the
// envelope is checked against the envelope rules.
func (o *Operation) CheckEnvelope(status int, contentType string, body []byte) []Violation {
	if status < 400 || !o.UsesEnvelope() {
		return nil
	}
	ptr := o.Pointer() + "/responses/" + fmt.Sprint(status)
	resp, documented := o.Response(status)
	if documented && !resp.Envelope {
		return nil // documented with another shape (or no body): not an envelope
	}
	var out []Violation
	add := func(rule, field, value, msg, fix string) {
		v := Violation{Rule: rule, Field: field, Value: value, Message: msg, HowToFix: fix, SpecPointer: ptr, In: "body"}
		if documented {
			v.SpecLine = resp.Line
		}
		out = append(out, v)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		add(RuleEnvelopeContentType, "Content-Type", contentType,
			fmt.Sprintf("error body must be application/json, got Content-Type %q", contentType),
			"send the error envelope with Content-Type: application/json")
		out[len(out)-1].In = "header"
	}
	if !gjson.ValidBytes(body) || !gjson.ParseBytes(body).IsObject() {
		add(RuleEnvelopeJSON, "$", Shorten(string(body), 80),
			"error body must be a JSON object (the error envelope), got "+describeJSON(body),
			"answer with {\"status\": ..., \"message\": ..., \"code\": ...}")
		return out
	}
	doc := gjson.ParseBytes(body)
	st := doc.Get("status")
	if !st.Exists() || st.Type != gjson.Number || st.Int() != int64(status) || st.Num != float64(st.Int()) {
		add(RuleEnvelopeStatus, "$.status", rawOrMissing(st),
			fmt.Sprintf("envelope status must equal the HTTP status %d, got %s", status, rawOrMissing(st)),
			fmt.Sprintf("set \"status\": %d", status))
	}
	code := doc.Get("code")
	if catalog := resp.ErrorCodes; documented && len(catalog) > 0 {
		if code.Type != gjson.String || !slices.Contains(catalog, code.Str) {
			add(RuleEnvelopeCode, "$.code", rawOrMissing(code),
				fmt.Sprintf("code for %d must be one of [%s], got %s", status, strings.Join(catalog, ", "), rawOrMissing(code)),
				fmt.Sprintf("use a code listed under x-error-codes of response %d, or add it there", status))
		}
	}
	details := doc.Get("details")
	if status == 422 {
		if !details.IsArray() || len(details.Array()) == 0 {
			add(RuleEnvelopeDetails, "$.details", rawOrMissing(details),
				"a 422 must carry a non-empty details array, got "+rawOrMissing(details),
				`add "details": [{"loc": ["body", "field"], "msg": "...", "type": "..."}]`)
		}
	}
	if details.IsArray() {
		for i, d := range details.Array() {
			loc := d.Get("loc")
			first := loc.Get("0")
			if !loc.IsArray() || first.Type != gjson.String || !slices.Contains(Locations, first.Str) {
				add(RuleEnvelopeDetailLoc, fmt.Sprintf("$.details[%d].loc", i), rawOrMissing(loc),
					fmt.Sprintf("details[%d].loc must start with one of %s, got %s", i, strings.Join(Locations, ", "), rawOrMissing(loc)),
					`start loc with where the problem is, e.g. ["body", "refresh_token"]`)
			}
		}
	}
	return out
}

func rawOrMissing(r gjson.Result) string {
	if !r.Exists() {
		return "nothing (missing)"
	}
	return Shorten(r.Raw, 80)
}

func describeJSON(body []byte) string {
	if len(body) == 0 {
		return "an empty body"
	}
	if !gjson.ValidBytes(body) {
		return fmt.Sprintf("text that is not JSON (%q)", Shorten(string(body), 40))
	}
	switch r := gjson.ParseBytes(body); {
	case r.IsArray():
		return "an array"
	case r.Type == gjson.String:
		return "a string"
	case r.Type == gjson.Number:
		return "a number"
	case r.Type == gjson.True || r.Type == gjson.False:
		return "a boolean"
	case r.Type == gjson.Null:
		return "null"
	default:
		return "an object"
	}
}
