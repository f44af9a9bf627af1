package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeModeline is the first line of the README's annotated scenario
// example: the yaml-language-server modeline the README tells readers to
// start their files with, as the shipped scenarios (and the copies that
// refreshmock scenarios export writes beside scenario.schema.json) do.
const readmeModeline = "# yaml-language-server: $schema=./scenario.schema.json"

// TestReadmeScenarioExample keeps the README's annotated scenario example
// identical to testdata/readme-example.yaml, and that file lint-clean. Both
// start with a modeline: the README's names the schema beside the file,
// the test file's the schema in this checkout.
func TestReadmeScenarioExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("testdata/readme-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	first, body, _ := strings.Cut(string(example), "\n")
	ref, ok := strings.CutPrefix(first, "# yaml-language-server: $schema=")
	if !ok {
		t.Fatalf("testdata/readme-example.yaml starts with %q, want the yaml-language-server modeline", first)
	}
	if _, err := os.Stat(filepath.Join("testdata", filepath.FromSlash(ref))); err != nil {
		t.Errorf("testdata/readme-example.yaml's modeline names %s, which does not exist from testdata/: %v", ref, err)
	}
	switch {
	case strings.Contains(string(readme), "```yaml\n"+readmeModeline+"\n"+body+"```"):
	case strings.Contains(string(readme), body+"```"):
		t.Errorf("README.md's scenario example does not start with the modeline %q", readmeModeline)
	default:
		t.Errorf("README.md does not contain testdata/readme-example.yaml (after its modeline) at the end of a yaml block; copy it over")
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"lint", "testdata/readme-example.yaml"}, &stdout, &stderr); code != exitOK {
		t.Errorf("lint of the README example exited %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String(), ": error") || !strings.Contains(stdout.String(), "0 errors") {
		t.Errorf("lint of the README example reports errors:\n%s", stdout.String())
	}
}
