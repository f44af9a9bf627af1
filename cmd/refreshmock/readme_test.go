package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestReadmeScenarioExample keeps the README's annotated scenario example
// identical to testdata/readme-example.yaml, and that file lint-clean.
func TestReadmeScenarioExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("testdata/readme-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The README shows the file without its first line (the modeline's
	// relative path differs).
	_, body, _ := strings.Cut(string(example), "\n")
	if !strings.Contains(string(readme), "```yaml\n"+body+"```") {
		t.Errorf("README.md does not contain testdata/readme-example.yaml (without its first line) in a yaml block; copy it over")
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"lint", "testdata/readme-example.yaml"}, &stdout, &stderr); code != exitOK {
		t.Errorf("lint of the README example exited %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String(), ": error") || !strings.Contains(stdout.String(), "0 errors") {
		t.Errorf("lint of the README example reports errors:\n%s", stdout.String())
	}
}
