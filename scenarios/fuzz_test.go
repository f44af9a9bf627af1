package scenarios_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/refreshmock/refreshmock/scenarios"
)

// Templates run with text/template, whose execution time is unbounded by
// design ({{ range 1000000000000 }} loops for hours). Scenario files are
// trusted configuration, so the fuzz targets skip inputs that loop.
func loops(s []byte) bool { return bytes.Contains(s, []byte("range")) }

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
	f.Fuzz(func(t *testing.T, data []byte) {
		if loops(data) {
			t.Skip("templates that loop are out of scope")
		}
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
			if _, err := sc.Render(scenarios.SampleData()); err != nil {
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
	for _, s := range seeds {
		f.Add(s, "rt_x", "ios/1", []byte(`{"refresh_token":"rt_x","a":{"b":[1,2]}}`))
	}
	f.Fuzz(func(t *testing.T, tmpl, cookie, header string, body []byte) {
		if loops([]byte(tmpl)) {
			t.Skip("templates that loop are out of scope")
		}
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
		_, _ = sc.Render(d) // errors are fine; panics are not
	})
}

// jsonQuote writes s as a JSON string, which YAML reads as a double-quoted
// scalar.
func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
