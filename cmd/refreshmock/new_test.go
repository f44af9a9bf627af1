package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestNewGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"429 carries Retry-After", []string{"new", "--status", "429"}, "new-429.golden"},
		{"422 carries details", []string{"new", "--status", "422", "--name", "bad-token-format"}, "new-422.golden"},
		{"200 from the schema example", []string{"new", "--status", "200"}, "new-200.golden"},
		{"another spec, body-only input", []string{"new", "--spec", "../../spec/testdata/petstore.yaml", "--operation", "createPet", "--status", "422"}, "new-petstore-422.golden"},
		{"another spec, no token input", []string{"new", "--spec", "../../spec/testdata/petstore.yaml", "--operation", "showPetById", "--status", "404", "--schema", "./scenario.schema.json"}, "new-petstore-404.golden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitOK {
				t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, stderr)
			}
			checkGolden(t, tc.golden, stdout)
		})
	}
}

// TestNewPassesLintForEveryStatus scaffolds every documented status of
// every operation of both specs, and lints each file alone, all of them
// together (with --strict: nothing may be left unscripted) and, for the
// Refresh Token spec, together with the shipped scenarios.
func TestNewPassesLintForEveryStatus(t *testing.T) {
	t.Parallel()
	for _, specFile := range []string{"", "../../spec/testdata/petstore.yaml"} {
		t.Run("spec="+specFile, func(t *testing.T) {
			t.Parallel()
			sp, err := lintLoadSpec(specFile)
			if err != nil {
				t.Fatal(err)
			}
			var specArgs []string
			if specFile != "" {
				specArgs = []string{"--spec", specFile}
			}
			dir := t.TempDir()
			n := 0
			for _, op := range sp.Operations() {
				for _, status := range op.Statuses() {
					n++
					file := filepath.Join(dir, fmt.Sprintf("%s-%d.yaml", op.ID, status))
					args := append([]string{"new", "--operation", op.ID, "--status", strconv.Itoa(status), "-o", file}, specArgs...)
					if code, _, stderr := runCLI(t, args...); code != exitOK {
						t.Fatalf("new %v: exit code = %d, want 0:\n%s", args, code, stderr)
					}
					lintArgs := append([]string{"lint", file}, specArgs...)
					if code, stdout, _ := runCLI(t, lintArgs...); code != exitOK {
						t.Errorf("lint %s: exit code = %d, want 0:\n%s", file, code, stdout)
					}
				}
			}
			if n == 0 {
				t.Fatal("the spec documents no statuses")
			}
			args := append([]string{"lint", "--strict", dir}, specArgs...)
			code, stdout, _ := runCLI(t, args...)
			if code != exitOK {
				t.Errorf("lint --strict of all %d scaffolds: exit code = %d, want 0:\n%s", n, code, stdout)
			}
			if specFile == "" {
				if code, stdout, _ := runCLI(t, "lint", "--strict", "../../scenarios", dir); code != exitOK {
					t.Errorf("lint of the scaffolds with the shipped scenarios: exit code = %d, want 0:\n%s", code, stdout)
				}
			}
		})
	}
}

func TestNewWritesFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "slow.yaml")
	code, stdout, stderr := runCLI(t, "new", "--status", "429", "--name", "slow", "-o", file)
	if code != exitOK || stdout != "" {
		t.Fatalf("exit code = %d, stdout = %q, want 0 and nothing; stderr:\n%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\nname: slow\n") {
		t.Errorf("file does not carry --name:\n%s", data)
	}
	if !strings.HasPrefix(string(data), "# yaml-language-server: $schema=") {
		t.Errorf("file does not start with the yaml-language-server modeline:\n%s", data)
	}
	// A second run must not overwrite it...
	code, _, stderr = runCLI(t, "new", "--status", "400", "-o", file)
	if code != exitUsage || !strings.Contains(stderr, "exists") {
		t.Errorf("second new -o: exit code = %d, stderr = %q; want 2 and a message that the file exists", code, stderr)
	}
	// ...unless forced.
	if code, _, stderr = runCLI(t, "new", "--status", "400", "--force", "-o", file); code != exitOK {
		t.Errorf("new --force: exit code = %d, want 0; stderr:\n%s", code, stderr)
	}
	data, _ = os.ReadFile(file)
	if !strings.Contains(string(data), "status: 400") {
		t.Errorf("--force did not overwrite:\n%s", data)
	}
}

func TestNewSchemaRef(t *testing.T) {
	// Not parallel: it changes the working directory.
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "scenarios", "extra"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "scenarios", "scenario.schema.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	tests := []struct{ out, want string }{
		{"", defaultSchemaRef},
		{"scenarios/new.yaml", "./scenario.schema.json"},
		{"scenarios/extra/new.yaml", "../scenario.schema.json"},
		{"mine.yaml", "./scenarios/scenario.schema.json"},
	}
	for _, tc := range tests {
		if got := schemaRefFor(tc.out); got != tc.want {
			t.Errorf("schemaRefFor(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}

func TestNewUsageErrors(t *testing.T) {
	t.Parallel()
	petstore := "../../spec/testdata/petstore.yaml"
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no status", []string{"new"}, "refreshmock new: --status is required"},
		{"undocumented status", []string{"new", "--status", "418"}, "refreshmock new: status 418 is not documented for refresh_token; documented: 200, 400, 401"},
		{"unknown operation", []string{"new", "--status", "200", "--operation", "nope"}, `refreshmock new: operation "nope": spec/refresh-token.yaml (embedded) has no such operation; it has: refresh_token`},
		{"several operations and none chosen", []string{"new", "--status", "200", "--spec", petstore}, "refreshmock new: " + petstore + " has 4 operations; choose one with --operation"},
		{"bad name", []string{"new", "--status", "200", "--name", "no spaces"}, `refreshmock new: name "no spaces": use letters`},
		{"positional argument", []string{"new", "--status", "200", "out.yaml"}, `refreshmock new: unexpected argument "out.yaml"`},
		{"unreadable spec", []string{"new", "--status", "200", "--spec", "testdata/none.yaml"}, "refreshmock new: load OpenAPI document"},
		{"unwritable output", []string{"new", "--status", "200", "-o", "testdata/no-such-dir/x.yaml"}, "refreshmock new: write scenario"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d", code, exitUsage)
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
