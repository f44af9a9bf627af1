package scenarios_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/refreshmock/refreshmock/scenarios"
)

// budgetBusters are templates that cost too much (seeds: they must end
// in an error within the render budget, not hang the fuzzer).
var budgetBusters = []string{
	`{{range 10000}}{{range 10000}}{{end}}{{end}}`,
	`{{$n := add 5000 5000}}{{range $n}}{{range $n}}{{end}}{{end}}`,
	`{{define "r"}}{{template "r" .}}{{template "r" .}}{{end}}{{template "r" .}}`,
	`{{range len (.Header "X-User")}}{{range len (.Header "X-User")}}{{end}}{{end}}`,
	`{{printf "%0999999999d" 0}}`,
	`{{range 10000}}{{printf "%09000d" 0}}{{end}}`,
	`{{range .Vars}}{{.Nope}}{{end}}`,
}

// FuzzLoad feeds arbitrary bytes to Load as a scenario file: it must never
// panic, report errors with a position in that file, keep diagnostics
// sorted, and a set it returns must render with the sample request.
func FuzzLoad(f *testing.F) {
	sp := mustSpec(f)
	for _, src := range scenarios.Embedded() {
		f.Add(src.Data)
	}
	paths, _ := filepath.Glob("testdata/broken/*.yaml")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(""))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("name: &a x\noperation: *a\nresponse: {status: 200}\n"))
	f.Add([]byte(MergeBomb(11, 8)))
	f.Add([]byte(MergeBomb(3, 2)))
	for _, b := range budgetBusters {
		f.Add([]byte("name: b\noperation: refresh_token\nresponse:\n  status: 500\n  body_template: " + jsonQuote(b+`{"status":500,"message":"x","code":"internal_server_error"}`) + "\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, diags := scenarios.Load(sp, []scenarios.Source{{Name: "fuzz.yaml", Data: data}})
		for i, d := range diags {
			if d.Pos.File != "fuzz.yaml" {
				t.Errorf("diagnostic %v names another file", d)
			}
			if d.Message == "" {
				t.Errorf("diagnostic %v has no message", d)
			}
			if i > 0 && d.Pos.Line < diags[i-1].Pos.Line {
				t.Errorf("diagnostics not sorted:\n%v", diags)
			}
		}
		if set == nil {
			if len(diags.Errors()) == 0 {
				t.Errorf("no set and no errors")
			}
			return
		}
		if len(diags.Errors()) > 0 {
			t.Errorf("a set and errors:\n%v", diags)
		}
		for _, sc := range set.All() {
			// The request's time budget is a tenth of load time's.
			if _, err := sc.Render(scenarios.SampleData()); err != nil && !errors.Is(err, scenarios.ErrRenderBudget) {
				t.Errorf("%s loaded but does not render with the sample request: %v", sc.Name, err)
			}
		}
	})
}

// FuzzRender renders a body template against arbitrary request data: a
// template that loads must never panic while rendering, whatever the
// request.
func FuzzRender(f *testing.F) {
	sp := mustSpec(f)
	seeds := []string{`{{ .Cookie "refresh_token" }}`, `{{ json (.Body "a.b") }}`, `{{ jwt (dict "sub" (.Header "X-User") "exp" (add (unix .Now) 60)) }}`}
	for _, sc := range mustEmbedded(f).All() {
		if sc.Response.BodyTemplate != "" {
			seeds = append(seeds, sc.Response.BodyTemplate)
		}
	}
	paths, _ := filepath.Glob("testdata/broken/template-*.yaml")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var doc struct {
			Response struct {
				BodyTemplate string `yaml:"body_template"`
			} `yaml:"response"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		seeds = append(seeds, doc.Response.BodyTemplate)
	}
	seeds = append(seeds, budgetBusters...)
	for _, s := range seeds {
		f.Add(s, "rt_x", "ios/1", []byte(`{"refresh_token":"rt_x","a":{"b":[1,2]}}`))
	}
	f.Add(`{{range len (.Header "X-User")}}{{range 100}}{{end}}{{end}}`, "", strings.Repeat("x", 1000), []byte(`{}`))
	f.Fuzz(func(t *testing.T, tmpl, cookie, header string, body []byte) {
		src := "name: f\noperation: refresh_token\nresponse:\n  status: 299\n  allow_undocumented_status: true\n  content_type: text/plain\n  body_template: " + jsonQuote(tmpl) + "\n"
		set, _ := scenarios.Load(sp, []scenarios.Source{{Name: "f.yaml", Data: []byte(src)}})
		if set == nil {
			return
		}
		sc, _ := set.Get("f")
		d := scenarios.SampleData()
		d.Request.Cookies["refresh_token"] = cookie
		d.Request.Headers.Set("X-User", header)
		d.Request.Body = body
		// Errors are fine (a budget overrun included); panics and hangs
		// are not.
		_, _ = sc.Render(d)
	})
}

// jsonQuote writes s as a JSON string, which YAML reads as a double-quoted
// scalar.
func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// FuzzLoadSetup: any bytes as a conform setup file load or fail with
// positioned diagnostics, never a panic.
func FuzzLoadSetup(f *testing.F) {
	for _, seed := range []string{
		"steps:\n  - request: {method: POST, path: /__mock/tokens, json: {}}\n    repeat: 6\n    expect: {status: [200, 201]}\n    capture: {REFRESH_TOKENS: json:refresh_token}\n",
		"vars: [P]\nsteps:\n  - request: {json: {p: '${P}'}}\n    expect: {status: 200}\n",
		"steps: [{request: {}, expect: {status: 2000}, repeat: -1}]\n",
		"a: &a [*a]\n", "- 1\n", "", "steps:\n\t- x\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		su, diags := scenarios.LoadSetup(scenarios.Source{Name: "fuzz-setup.yaml", Data: data})
		if su == nil && len(diags.Errors()) == 0 {
			t.Fatalf("no setup and no error for %q", data)
		}
		for _, d := range diags {
			if d.Pos.Line < 1 {
				t.Errorf("diagnostic without a line: %s", d)
			}
		}
	})
}
