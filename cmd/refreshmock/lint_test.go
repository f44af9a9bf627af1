package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/internal/golden"

	"github.com/google/go-cmp/cmp"
)

// runCLI runs the binary's run function in-process and returns its exit
// code, stdout and stderr.
func runCLI(tb testing.TB, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(tb testing.TB, name, got string) {
	tb.Helper()
	golden.Check(tb, filepath.Join("testdata", name), got)
}

func TestLintGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		golden string
		code   int
	}{
		{"shipped set, text", []string{"lint"}, "lint-shipped.golden", exitOK},
		{"shipped set, json", []string{"lint", "--format", "json"}, "lint-shipped.json.golden", exitOK},
		{"one new file on the shipped set passes", []string{"lint", "testdata/lint/one-new"}, "lint-one-new.golden", exitOK},
		{"one new file on the shipped set passes --strict", []string{"lint", "--strict", "testdata/lint/one-new/slow-down.yaml"}, "lint-one-new-strict.golden", exitOK},
		{"flags after paths", []string{"lint", "testdata/lint/one-new", "--strict", "--format=json"}, "lint-one-new-strict.json.golden", exitOK},
		{"one new file alone fails with --strict", []string{"lint", "--strict", "--no-builtin-scenarios", "testdata/lint/one-new/slow-down.yaml"}, "lint-one-new-alone-strict.golden", exitFindings},
		{"a file replaces a shipped scenario", []string{"lint", "--strict", "testdata/lint/override"}, "lint-override.golden", exitOK},
		{"errors, text", []string{"lint", "testdata/lint/broken"}, "lint-broken.golden", exitFindings},
		{"errors, json", []string{"lint", "--format", "json", "testdata/lint/broken"}, "lint-broken.json.golden", exitFindings},
		{"another spec", []string{"lint", "--spec", "../../spec/testdata/petstore.yaml", "testdata/lint/petstore"}, "lint-petstore.golden", exitOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want nothing (reports go to stdout)", stderr)
			}
			checkGolden(t, tc.golden, stdout)
		})
	}
}

func TestLintShippedCoversEveryStatus(t *testing.T) {
	t.Parallel()
	code, stdout, _ := runCLI(t, "lint", "--strict", "--format", "json")
	if code != exitOK {
		t.Fatalf("lint --strict of the shipped set: exit code = %d, want 0:\n%s", code, stdout)
	}
	var rep lintReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("lint --format json is not JSON: %v", err)
	}
	if rep.Coverage == nil || len(rep.Coverage.Operations) != 1 {
		t.Fatalf("coverage = %+v, want one operation", rep.Coverage)
	}
	var covered []int
	for _, st := range rep.Coverage.Operations[0].Statuses {
		if st.Documented && len(st.Scenarios) > 0 {
			covered = append(covered, st.Status)
		}
	}
	want := []int{200, 400, 401, 403, 404, 409, 422, 426, 429, 500, 502, 504}
	if diff := cmp.Diff(want, covered); diff != "" {
		t.Errorf("covered statuses (-want +got):\n%s", diff)
	}
	if !strings.Contains(stdout, `"ok": true`) {
		t.Errorf("report is not ok:\n%s", stdout)
	}
}

func TestLintUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"missing path", []string{"lint", "testdata/lint/does-not-exist"}, "refreshmock lint: read scenarios: stat testdata/lint/does-not-exist: no such file or directory\n"},
		{"directory without scenario files", []string{"lint", "testdata/lint/empty"}, "refreshmock lint: no scenario files (*.yaml, *.yml) in testdata/lint/empty\n"},
		{"unreadable spec", []string{"lint", "--spec", "testdata/lint/no-such-spec.yaml"}, "refreshmock lint: load OpenAPI document: open testdata/lint/no-such-spec.yaml: no such file or directory\n"},
		{"spec that is not OpenAPI", []string{"lint", "--spec", "testdata/lint/one-new/slow-down.yaml"}, "refreshmock lint: "},
		{"unknown format", []string{"lint", "--format", "xml"}, "refreshmock lint: --format \"xml\": use text or json; see refreshmock lint --help\n"},
		{"unknown flag", []string{"lint", "--no-such-flag"}, "refreshmock lint: flag provided but not defined: -no-such-flag; see refreshmock lint --help\n"},
		{"mistyped flag", []string{"lint", "--strcit"}, "refreshmock lint: flag provided but not defined: -strcit (did you mean --strict?); see refreshmock lint --help\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d; stdout:\n%s", code, exitUsage, stdout)
			}
			if !strings.HasPrefix(stderr, tc.stderr) {
				t.Errorf("stderr = %q, want it to start with %q", stderr, tc.stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestLintHelp(t *testing.T) {
	t.Parallel()
	code, stdout, _ := runCLI(t, "help", "lint")
	if code != exitOK {
		t.Errorf("exit code = %d, want 0", code)
	}
	for _, want := range []string{"Usage: refreshmock lint", "Examples:", "-strict", "-format", "-spec"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lint does not mention %q:\n%s", want, stdout)
		}
	}
}

func TestWrapNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		names []string
		width int
		want  []string
	}{
		{nil, 10, nil},
		{[]string{"a"}, 10, []string{"a"}},
		{[]string{"a", "b", "c"}, 10, []string{"a, b, c"}},
		{[]string{"alpha", "beta", "gamma"}, 12, []string{"alpha, beta,", "gamma"}},
		{[]string{"a-very-long-name", "b"}, 5, []string{"a-very-long-name,", "b"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, wrapNames(tc.names, tc.width)); diff != "" {
			t.Errorf("wrapNames(%q, %d) (-want +got):\n%s", tc.names, tc.width, diff)
		}
	}
}
