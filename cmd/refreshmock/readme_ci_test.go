package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/internal/refimpl"
	"go.yaml.in/yaml/v3"
)

// readmeBlock returns the README's fenced block of lang that contains
// marker.
func readmeBlock(tb testing.TB, lang, marker string) string {
	tb.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		tb.Fatal(err)
	}
	for _, part := range strings.Split(string(readme), "```"+lang+"\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		if strings.Contains(block, marker) {
			return block
		}
	}
	tb.Fatalf("README.md has no %s block containing %q", lang, marker)
	return ""
}

type workflow struct {
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
			If   string            `yaml:"if"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// TestReadmeCIExample runs the README's GitHub Actions example as written:
// the workflow's shape (pinned actions, checks: write, the URL through
// env), then its setup file and the conformance step's script with bash,
// against two independent correct implementations (exit 0, twice in a row
// against the same server), their defective variants (exit 1) and a fork's
// pull request without the secret (exit 0, token cases skipped by name).
func TestReadmeCIExample(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed; the README's CI script is a bash script")
	}
	var wf workflow
	if err := yaml.Unmarshal([]byte(readmeBlock(t, "yaml", "name: refresh-token-conformance")), &wf); err != nil {
		t.Fatalf("the README's workflow is not YAML: %v", err)
	}
	if wf.Permissions["checks"] != "write" {
		t.Errorf("permissions.checks = %q, want write (the JUnit action publishes a check run)", wf.Permissions["checks"])
	}
	pinned := regexp.MustCompile(`^[\w.-]+/[\w.-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$`)
	var script string
	var env map[string]string
	for _, st := range wf.Jobs["conformance"].Steps {
		if st.Uses != "" && !pinned.MatchString(st.Uses) {
			t.Errorf("action %q is not pinned to a full version or a commit", st.Uses)
		}
		if strings.Contains(st.Run, "refreshmock\" conform") {
			script, env = st.Run, st.Env
		}
		if strings.Contains(st.Run, "${{") {
			t.Errorf("step %q expands ${{ }} inside its script; pass values through env", st.Name)
		}
	}
	if script == "" {
		t.Fatal("the README's workflow has no step running refreshmock conform")
	}
	if !strings.Contains(env["STAGING_URL"], "${{") || !strings.Contains(env["CI_PASSWORD"], "secrets.") {
		t.Errorf("the conformance step's env = %v, want STAGING_URL and CI_PASSWORD from the workflow's vars and secrets", env)
	}
	setup := readmeBlock(t, "yaml", "vars: [CI_PASSWORD]")

	dir := t.TempDir()
	bin := filepath.Join(dir, "refreshmock")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".github"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".github", "refresh-conformance-setup.yaml"), []byte(setup), 0o644); err != nil {
		t.Fatal(err)
	}
	runScript := func(t *testing.T, url, password string) (int, string) {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "RUNNER_TEMP="+dir, "STAGING_URL="+url, "CI_PASSWORD="+password)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String()
	}
	impls := map[string]func(...refimpl.Defect) *refimpl.Server{"alpha": refimpl.NewAlpha, "beta": refimpl.NewBeta}
	for name, newImpl := range impls {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(newImpl())
			t.Cleanup(srv.Close)
			for i := range 2 {
				code, out := runScript(t, srv.URL, refimpl.Password)
				if code != 0 {
					t.Fatalf("run %d against %s exits %d, want 0:\n%s", i+1, name, code, out)
				}
				if strings.Contains(out, "SKIP flow/") || strings.Contains(out, "SKIP pool/") {
					t.Errorf("run %d against %s skipped token cases:\n%s", i+1, name, out)
				}
			}
			for _, f := range []string{"conform-junit.xml", "conform.json"} {
				data, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil || len(data) == 0 {
					t.Errorf("report %s: %v", f, err)
				}
				if bytes.Contains(data, []byte(refimpl.Password)) {
					t.Errorf("report %s contains the CI password", f)
				}
			}
			// A fork's pull request: the secret is empty.
			code, out := runScript(t, srv.URL, "")
			if code != 0 || !strings.Contains(out, "CI_PASSWORD set but empty") {
				t.Errorf("without the secret: exit %d, want 0 with the setup skipped naming CI_PASSWORD:\n%s", code, out)
			}
			var rep struct {
				Summary struct{ Skipped, Failed int } `json:"summary"`
			}
			data, _ := os.ReadFile(filepath.Join(dir, "conform.json"))
			if err := json.Unmarshal(data, &rep); err != nil || rep.Summary.Skipped == 0 || rep.Summary.Failed != 0 {
				t.Errorf("without the secret: summary %+v (%v), want skipped cases and no failure", rep.Summary, err)
			}
		})
		for _, d := range []refimpl.Defect{refimpl.BodyTokenIgnored, refimpl.InvalidIs401, refimpl.Race, refimpl.NoOrgBreaks} {
			t.Run(name+"/"+string(d), func(t *testing.T) {
				srv := httptest.NewServer(newImpl(d))
				t.Cleanup(srv.Close)
				if code, out := runScript(t, srv.URL, refimpl.Password); code != 1 {
					t.Errorf("against %s with defect %s: exit %d, want 1:\n%s", name, d, code, out)
				}
			})
		}
	}
}
