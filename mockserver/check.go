package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

// check checks the media type, then (unless validation is off) that JSON
// parses and that the request validates against the spec. All three are
// pure functions of the request, so the outcome for a request seen before
// comes from the memo.
func (c *core) check(op *spec.Operation, req *scenarios.RequestData) *rejection {
	if !c.validate {
		return checkMediaType(op, req)
	}
	if c.memo == nil {
		return c.checkUncached(op, req)
	}
	kb := keyPool.Get().(*[]byte)
	defer keyPool.Put(kb)
	var ok bool
	*kb, ok = appendMemoKey((*kb)[:0], req)
	if !ok {
		return c.checkUncached(op, req)
	}
	if rej, hit := c.memo.get(*kb); hit {
		return rej
	}
	rej := c.checkUncached(op, req)
	c.memo.put(*kb, rej)
	return rej
}

// checkUncached is check without the memo.
func (c *core) checkUncached(op *spec.Operation, req *scenarios.RequestData) *rejection {
	if rej := checkMediaType(op, req); rej != nil {
		return rej
	}
	if len(req.Body) > 0 && op.RequestBody != nil && len(op.RequestBody.ContentTypes) > 0 &&
		spec.IsJSON(mediaType(req.Headers.Get("Content-Type"))) {
		if !json.Valid(req.Body) {
			return &rejection{status: http.StatusBadRequest, code: "malformed_json", rule: "validation",
				message: "the request body is not valid JSON: " + jsonError(req.Body)}
		}
		if p := scanJSON(req.Body); p != nil {
			return p.rejection()
		}
	}
	return c.validateRequest(req)
}

// checkMediaType checks that a body comes as a media type the operation
// accepts.
func checkMediaType(op *spec.Operation, req *scenarios.RequestData) *rejection {
	if len(req.Body) == 0 || op.RequestBody == nil || len(op.RequestBody.ContentTypes) == 0 {
		return nil
	}
	ct := req.Headers.Get("Content-Type")
	mt := mediaType(ct)
	if mt != "" && slices.ContainsFunc(op.RequestBody.ContentTypes, func(want string) bool {
		return strings.EqualFold(mediaType(want), mt)
	}) {
		return nil
	}
	if ct == "" {
		ct = "none"
	}
	return &rejection{status: http.StatusBadRequest, code: "unsupported_media_type", rule: "validation",
		message: fmt.Sprintf("the request body must be sent as %s, got Content-Type %s", strings.Join(op.RequestBody.ContentTypes, " or "), ct)}
}

// mediaType is the media type of a Content-Type value without its
// parameters, or "" when the value does not parse.
func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return mt
}

// validateRequest runs the spec's request validator on req, rebuilt as an
// *http.Request (the validator's input) with the path under the base path.
func (c *core) validateRequest(req *scenarios.RequestData) *rejection {
	vr := &http.Request{Method: req.Method, URL: &url.URL{Path: req.Path, RawQuery: rawQuery(req.Query)}, Header: req.Headers, Body: http.NoBody}
	if req.Body != nil {
		vr.Body = io.NopCloser(bytes.NewReader(req.Body))
		vr.ContentLength = int64(len(req.Body))
	}
	vs := c.spec.ValidateRequest(vr)
	if len(vs) == 0 {
		return nil
	}
	for _, v := range vs {
		if v.Rule == spec.RuleRequestJSON {
			return &rejection{status: http.StatusBadRequest, code: "malformed_json", rule: "validation", message: "the request body is not valid JSON"}
		}
	}
	ds := details(vs)
	msg := "the request does not validate against the spec: " + ds[0].Msg
	if len(ds) > 1 {
		msg += fmt.Sprintf(" (and %d more; see details)", len(ds)-1)
	}
	return &rejection{status: http.StatusUnprocessableEntity, code: "validation_error", rule: "validation", message: msg, details: ds}
}

// rawQuery encodes a query (sorted by key), "" for none.
func rawQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	return q.Encode()
}

// jsonError describes where JSON stops parsing.
func jsonError(body []byte) string {
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	if err != nil {
		return err.Error()
	}
	return "it does not parse"
}

// details turns validator findings into the envelope's details.
func details(vs []spec.Violation) []detail {
	out := make([]detail, 0, len(vs))
	for _, v := range vs {
		d := detail{Msg: v.Message, Type: detailType(v)}
		if v.Reason != "" {
			d.Msg = v.Reason
		}
		switch v.In {
		case "cookie", "header", "query", "path":
			d.Loc = []any{v.In, v.Field}
		default:
			d.Loc = append([]any{"body"}, fieldPath(v.Field)...)
		}
		out = append(out, d)
	}
	return out
}

// fieldPath splits $.a.b[0] into ["a", "b", 0].
func fieldPath(f string) []any {
	f = strings.TrimPrefix(strings.TrimPrefix(f, "$"), ".")
	if f == "" {
		return nil
	}
	var out []any
	for part := range strings.SplitSeq(strings.NewReplacer("[", ".", "]", "").Replace(f), ".") {
		if part == "" {
			continue
		}
		if n, err := strconv.Atoi(part); err == nil {
			out = append(out, n)
			continue
		}
		out = append(out, part)
	}
	return out
}

// detailType names the kind of finding in the style of the details the API
// documents (missing, string_type, string_too_short, value_error), from
// the violation's kind.
func detailType(v spec.Violation) string {
	switch v.Kind {
	case spec.KindMissing:
		return "missing"
	case spec.KindTooShort:
		return "string_too_short"
	case spec.KindTooLong:
		return "string_too_long"
	case spec.KindType:
		if v.Want == "" {
			return "value_error"
		}
		want := v.Want
		if i := strings.LastIndexByte(want, ' '); i >= 0 {
			want = want[i+1:] // "integer or string": the last type
		}
		return want + "_type"
	case spec.KindEnum, spec.KindConst:
		return "enum"
	case spec.KindPattern:
		return "string_pattern_mismatch"
	}
	return "value_error"
}
