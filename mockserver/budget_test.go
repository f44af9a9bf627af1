package mockserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/scenarios"
)

// busterYAML loads (the load-time requests have short headers) but
// costs too much when a request brings a long X-Big header.
const busterYAML = `name: buster
operation: refresh_token
response:
  status: 200
  body_template: |
    {{if gt (len (.Header "X-Big")) 10000}}{{range len (.Header "X-Big")}}{{range 10}}{{end}}{{end}}{{end}}{"access_token": "a", "token_type": "bearer", "expires_in": 60, "organization": null}
`

// TestRenderBudgetAnswers500: a render over its budget answers the error
// envelope's 500 and the journal names the scenario and the budget; the
// shipped scenarios keep answering.
func TestRenderBudgetAnswers500(t *testing.T) {
	t.Parallel()
	set, diags, err := scenarios.LoadCombined(context.Background(), mustSpec(t), scenarios.Embedded(), []scenarios.Source{{Name: "buster.yaml", Data: []byte(busterYAML)}})
	if err != nil {
		t.Fatalf("load: %v\n%v", err, diags)
	}
	s := mustServer(t, Config{Scenarios: set})
	r := call{header: map[string]string{"X-Mock-Scenario": "buster", "X-Big": strings.Repeat("x", 50_000)}}.serve(t, s)
	if got := r.json(t); r.status != 500 || got["code"] != "internal_server_error" || !strings.Contains(got["message"].(string), "buster") {
		t.Errorf("over budget: %d %s; want the 500 envelope naming the scenario", r.status, r.body)
	}
	var j struct{ Entries []Entry }
	if err := json.Unmarshal(call{method: "GET", path: "/__mock/journal"}.serve(t, s).body, &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Entries) == 0 {
		t.Fatal("empty journal")
	}
	e := j.Entries[len(j.Entries)-1]
	if e.Scenario != "buster" || e.Status != 500 || !strings.Contains(e.Why, "render budget exceeded") {
		t.Errorf("journal entry = %+v; want scenario buster, status 500, why naming the render budget", e)
	}
	if r := (call{cookies: map[string]string{"refresh_token": DefaultSeedToken}}).serve(t, s); r.status != 200 {
		t.Errorf("the seeded token after an overrun: %d %s", r.status, r.body)
	}
}
