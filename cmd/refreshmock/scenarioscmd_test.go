package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScenariosExport: export writes the shipped files and the schema,
// keeps existing files unless --force, and what it writes lints clean on
// top of the shipped set (every scenario replacing its shipped twin).
func TestScenariosExport(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "my-scenarios")
	code, stdout, stderr := runCLI(t, "scenarios", "export", dir)
	if code != exitOK {
		t.Fatalf("export: exit %d, stderr %s", code, stderr)
	}
	for _, name := range []string{"refresh-rotation.yaml", "refresh-test-tokens.yaml", "scenario.schema.json", "mock-setup.yaml", "mock.vars"} {
		if !strings.Contains(stdout, "wrote "+filepath.Join(dir, name)) {
			t.Errorf("stdout lacks %s:\n%s", name, stdout)
		}
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	edited := filepath.Join(dir, "refresh-rotation.yaml")
	if err := os.WriteFile(edited, []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLI(t, "scenarios", "export", dir)
	if data, _ := os.ReadFile(edited); code != exitOK || string(data) != "# mine\n" || !strings.Contains(stdout, "kept "+edited) {
		t.Errorf("a second export overwrote an edited file or did not say so: exit %d\n%s", code, stdout)
	}
	if code, _, _ = runCLI(t, "scenarios", "export", "--force", dir); code != exitOK {
		t.Fatalf("export --force: exit %d", code)
	}
	if data, _ := os.ReadFile(edited); string(data) == "# mine\n" {
		t.Error("--force did not overwrite")
	}
	code, stdout, _ = runCLI(t, "lint", "--strict", dir)
	if code != exitOK || !strings.Contains(stdout, `scenario "refresh-success" at `+edited) || !strings.Contains(stdout, "ok: ") {
		t.Errorf("lint --strict of the exported files: exit %d\n%s", code, stdout)
	}
	for _, args := range [][]string{{"scenarios"}, {"scenarios", "list"}, {"scenarios", "export"}, {"scenarios", "export", "a", "b"}} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
