package spec

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/pb33f/libopenapi/renderer"
)

// Example returns a JSON body for a documented response of op: the
// document's example when there is one, otherwise a body generated from the
// schema. For error envelopes the status, code (the first of the catalog) and
// message are set so that the body keeps the envelope rules; a 422 gets a
// details entry. It returns nil, nil when the response has no JSON body.
func (s *Spec) Example(op *Operation, status int) ([]byte, error) {
	resp, ok := op.Response(status)
	if !ok {
		return nil, fmt.Errorf("status %d is not documented for %s; documented: %v", status, op.ID, op.Statuses())
	}
	path := s.model.Paths.PathItems.GetOrZero(op.Path)
	if path == nil {
		return nil, fmt.Errorf("path %s not found", op.Path)
	}
	hop, _ := path.GetOperations().Get(strings.ToLower(op.Method))
	if hop == nil || hop.Responses == nil || hop.Responses.Codes == nil {
		return nil, fmt.Errorf("operation %s has no responses", op.ID)
	}
	r := hop.Responses.Codes.GetOrZero(strconv.Itoa(status))
	if r == nil || r.Content == nil {
		return nil, nil
	}
	var body []byte
	for ct, mt := range r.Content.FromOldest() {
		if !isJSON(ct) {
			continue
		}
		gen := renderer.NewMockGenerator(renderer.JSON)
		gen.SetSeed(1)
		b, err := gen.GenerateMock(mt, "")
		if err != nil {
			return nil, fmt.Errorf("generate example for %s %d: %w", op.ID, status, err)
		}
		body = b
		break
	}
	if body == nil || !resp.Envelope || status < 400 {
		return body, nil
	}
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		return body, nil
	}
	env["status"] = status
	env["message"] = resp.Description
	if env["message"] == "" {
		env["message"] = http.StatusText(status)
	}
	if len(resp.ErrorCodes) > 0 {
		env["code"] = resp.ErrorCodes[0]
	}
	if status == 422 {
		env["details"] = []any{map[string]any{"loc": []any{"body", "field"}, "msg": "Field required", "type": "missing"}}
	} else {
		delete(env, "details")
	}
	return json.MarshalIndent(env, "", "  ")
}
