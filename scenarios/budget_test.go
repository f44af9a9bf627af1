package scenarios_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
)

// budgetScenario is a scenario whose body_template is tpl (indented).
func budgetScenario(name, tpl string) string {
	return "name: " + name + `
operation: refresh_token
response:
  status: 500
  body_template: |
    ` + strings.ReplaceAll(tpl, "\n", "\n    ") + "\n"
}

// TestRenderBudgetAtLoad: templates that cost too much, or fail inside a
// loop that the sample request leaves empty, are errors at load time
// (lint), each with its line.
func TestRenderBudgetAtLoad(t *testing.T) {
	t.Parallel()
	const env = `{"status":500,"message":"x","code":"internal_server_error"}`
	tests := []struct{ name, tpl, want string }{
		{"nested constant loops", "{{range 10000}}{{range 10000}}{{end}}{{end}}" + env, "t.yaml:6:5: response.body_template: template does not render with a sample request: render budget exceeded: more than 20000 loop iterations and template calls"},
		{"loop over a variable", "{{$n := add 5000 5000}}{{range $n}}{{range $n}}{{end}}{{end}}" + env, "render budget exceeded: more than 20000 loop iterations"},
		{"recursion", `{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}` + env, `template "r" calls itself ("response.body_template" -> "r" -> "r"); scenario templates cannot recurse`},
		{"printf width", `{{printf "%0999999999d" 0}}` + env, "render budget exceeded: printf width or precision 0999999999 is over 10000"},
		{"output", `{{range 10000}}{{printf "%09000d" 0}}{{end}}` + env, "render budget exceeded: the template wrote more than 1048576 bytes"},
		{"error inside a loop the sample leaves empty", "{{range .Vars}}{{.Nope}}{{end}}" + env, "t.yaml:6:5: response.body_template: template does not render with a worst-case request (8 KiB values for every header, cookie, query parameter, body field and variable it names, non-empty loops): executing \"response.body_template\" at <.Nope>: can't evaluate field Nope in type string"},
		{"header length loops", `{{range len (.Header "X-Big")}}{{range 20}}{{end}}{{end}}` + env, "worst-case request (8 KiB values for every header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			set, diags := scenarios.Load(mustSpec(t), []scenarios.Source{{Name: "t.yaml", Data: []byte(budgetScenario("b", tc.tpl))}})
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Load took %s", d)
			}
			if set != nil {
				t.Fatal("loaded; want an error")
			}
			if !strings.Contains(diags.Error(), tc.want) {
				t.Errorf("diagnostics:\n%v\nwant one containing %q", diags, tc.want)
			}
			if strings.Contains(diags.Error(), "_mock_budget_tick") {
				t.Errorf("diagnostics name the hidden tick function:\n%v", diags)
			}
		})
	}
}

// TestRenderBudgetAtRequest: a template that passes load time but is
// costly with this request's input stops within the budget with
// ErrRenderBudget; a request that went away stops it too.
func TestRenderBudgetAtRequest(t *testing.T) {
	t.Parallel()
	set := mustLoadOne(t, budgetScenario("per-request", `{{if gt (len (.Header "X-Big")) 10000}}{{range len (.Header "X-Big")}}{{end}}{{end}}{"status":500,"message":"x","code":"internal_server_error"}`))
	sc, _ := set.Get("per-request")
	big := scenarios.SampleData()
	big.Request.Headers = http.Header{"X-Big": {strings.Repeat("x", 100_000)}}
	start := time.Now()
	_, err := sc.Render(big)
	if !errors.Is(err, scenarios.ErrRenderBudget) {
		t.Errorf("Render with a 100 KB header: err = %v, want ErrRenderBudget", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Render took %s", d)
	}

	slow := mustLoadOne(t, budgetScenario("slow", `{{if gt (len (.Header "X-Big")) 10000}}{{range 10000}}{{$x := jwt (dict "a" (printf "%09999d" 0))}}{{end}}{{end}}{"status":500,"message":"x","code":"internal_server_error"}`))
	sc, _ = slow.Get("slow")
	big.Request.Headers = http.Header{"X-Big": {strings.Repeat("x", 50_000)}}
	start = time.Now()
	_, err = sc.Render(big)
	if !errors.Is(err, scenarios.ErrRenderBudget) || !strings.Contains(err.Error(), "longer than 50ms") {
		t.Errorf("Render of 50,000 JWTs: err = %v, want the time budget", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Render took %s", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sc.RenderContext(ctx, big); !errors.Is(err, scenarios.ErrRenderBudget) || !errors.Is(err, context.Canceled) {
		t.Errorf("RenderContext with a cancelled request: err = %v, want ErrRenderBudget and context.Canceled", err)
	}
}
