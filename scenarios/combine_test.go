package scenarios_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

const slowDown = `name: slow-down
operation: refresh_token
match:
  headers:
    X-Slow: "1"
response:
  status: 429
  headers: {Retry-After: "5"}
  body: {status: 429, message: Slow down., code: rate_limited}
`

const myRateLimited = `name: rate-limited
operation: refresh_token
response:
  status: 429
  headers: {Retry-After: "120"}
  body: {status: 429, message: Two minutes., code: rate_limited}
`

const myDefault = `name: always-500
operation: refresh_token
default: true
response:
  status: 500
  body: {status: 500, message: Down., code: internal_server_error}
`

// mustDir writes files into a temporary directory and returns it.
func mustDir(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// TestLoadWithBuiltin: --scenarios DIR adds to the shipped scenarios; a
// user scenario with a shipped name replaces it, a user default takes the
// role over, NoBuiltin drops the shipped ones.
func TestLoadWithBuiltin(t *testing.T) {
	t.Parallel()
	sp := mustSpec(t)
	shipped := mustEmbedded(t)
	nShipped := len(shipped.All())
	tests := []struct {
		name      string
		files     map[string]string
		opts      scenarios.LoadOptions
		want      int // scenarios
		overrides []string
		dflt      string
	}{
		{"no files: the shipped set", nil, scenarios.LoadOptions{}, nShipped, nil, "refresh-success"},
		{"a new scenario adds", map[string]string{"a.yaml": slowDown}, scenarios.LoadOptions{}, nShipped + 1, nil, "refresh-success"},
		{"a shipped name replaces", map[string]string{"a.yaml": myRateLimited}, scenarios.LoadOptions{}, nShipped, []string{"rate-limited"}, "refresh-success"},
		{"a default takes over", map[string]string{"a.yaml": myDefault}, scenarios.LoadOptions{}, nShipped + 1, []string{"default:refresh-success"}, "always-500"},
		{"no builtin", map[string]string{"a.yaml": slowDown + "---\n" + myDefault}, scenarios.LoadOptions{NoBuiltin: true}, 2, nil, "always-500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var paths []string
			if tc.files != nil {
				paths = []string{mustDir(t, tc.files)}
			}
			set, diags, err := scenarios.LoadWithBuiltin(t.Context(), sp, paths, tc.opts)
			if err != nil {
				t.Fatalf("LoadWithBuiltin: %v\n%v", err, diags)
			}
			if got := len(set.All()); got != tc.want {
				t.Errorf("scenarios = %d, want %d", got, tc.want)
			}
			var got []string
			for _, o := range set.Overrides() {
				n := o.Name
				if o.Default {
					n = "default:" + n
				}
				if !strings.HasPrefix(o.By.File, os.TempDir()) || !strings.HasPrefix(o.Shipped.File, "scenarios/") {
					t.Errorf("override %v: By should be the user's file, Shipped a shipped one", o)
				}
				got = append(got, n)
			}
			if diff := cmp.Diff(tc.overrides, got); diff != "" {
				t.Errorf("overrides (-want +got):\n%s", diff)
			}
			if d := set.Default("refresh_token"); d == nil || d.Name != tc.dflt {
				t.Errorf("default = %v, want %s", d, tc.dflt)
			}
			if sc, ok := set.Get("rate-limited"); ok {
				mine := tc.overrides != nil && tc.overrides[0] == "rate-limited"
				if got := sc.Response.Headers["Retry-After"] == "120"; got != mine {
					t.Errorf("rate-limited is the user's = %v, want %v", got, mine)
				}
				if set.Shipped("rate-limited") == mine {
					t.Errorf("Shipped(rate-limited) = %v, want %v", !mine, !mine)
				}
			}
		})
	}
}

// TestLoadWithBuiltinOtherSpec: shipped scenarios of operations another
// spec does not have are left out, so --spec needs no extra flag.
func TestLoadWithBuiltinOtherSpec(t *testing.T) {
	t.Parallel()
	sp, err := spec.LoadFile("../spec/testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, diags, err := scenarios.LoadWithBuiltin(t.Context(), sp, nil, scenarios.LoadOptions{})
	if err != nil {
		t.Fatalf("LoadWithBuiltin: %v\n%v", err, diags)
	}
	if n := len(set.All()); n != 0 {
		t.Errorf("scenarios = %d, want 0 (the shipped ones are for refresh_token)", n)
	}
}

// TestReadFilesRefusesIrregularAndLarge: a symlink to /dev/zero, a FIFO,
// a directory named *.yaml and a file over the cap are each one
// diagnostic at the file; the good file beside them is read; nothing
// blocks or reads without end.
func TestReadFilesRefusesIrregularAndLarge(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("FIFOs and /dev/zero are Unix")
	}
	dir := mustDir(t, map[string]string{"good.yaml": slowDown, "big.yaml": strings.Repeat("# padding\n", 200)})
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("good.yaml", filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var srcs []scenarios.Source
	var diags scenarios.Diagnostics
	var err error
	go func() {
		defer close(done)
		srcs, diags, err = scenarios.ReadFiles([]string{dir}, 1000)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFiles still reading after 10s (a FIFO or /dev/zero?)")
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range srcs {
		names = append(names, filepath.Base(s.Name))
	}
	if diff := cmp.Diff([]string{"good.yaml", "link.yaml"}, names); diff != "" {
		t.Errorf("files read (-want +got):\n%s", diff)
	}
	var got []string
	for _, d := range diags {
		got = append(got, strings.TrimPrefix(d.String(), dir+string(filepath.Separator)))
	}
	want := []string{
		"big.yaml: file: larger than 1000 bytes (the scenario file size cap); split it into several files, or raise the cap with --max-scenario-file",
		"fifo.yaml: file: not a regular file (a named pipe); scenario files must be regular files: replace it with one or move it out of the directory",
		"zero.yaml: file: not a regular file (a device), through a symlink to /dev/zero; scenario files must be regular files: replace it with one or move it out of the directory",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	// ReadPaths, LoadWithBuiltin: the same problems are errors.
	if _, err := scenarios.ReadPaths(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadPaths error = %v, want one naming the irregular files", err)
	}
	set, diags, err := scenarios.LoadWithBuiltin(context.Background(), mustSpec(t), []string{dir}, scenarios.LoadOptions{MaxFileSize: 1000})
	if set != nil || !errors.Is(err, scenarios.ErrInvalid) || len(diags.Errors()) != 3 {
		t.Errorf("LoadWithBuiltin = %v, %d errors, %v; want no set, 3 errors, ErrInvalid", set, len(diags.Errors()), err)
	}
}

// TestReadFilesDefaultCap: with no cap given, files up to 1 MiB are read
// and larger ones refused.
func TestReadFilesDefaultCap(t *testing.T) {
	t.Parallel()
	line := "# padding to the cap\n"
	under := strings.Repeat(line, int(scenarios.DefaultMaxFileSize)/len(line))
	dir := mustDir(t, map[string]string{"under.yaml": under, "over.yaml": under + strings.Repeat(line, 2)})
	srcs, diags, err := scenarios.ReadFiles([]string{dir}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 1 || filepath.Base(srcs[0].Name) != "under.yaml" {
		t.Errorf("read %v, want under.yaml only", srcs)
	}
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "larger than 1 MiB") {
		t.Errorf("diagnostics = %v, want over.yaml larger than 1 MiB", diags)
	}
}

// TestNotUTF8AtItsLine: a file that is not UTF-8 is reported at the
// line and column of the first bad byte, not at 1:1.
func TestNotUTF8AtItsLine(t *testing.T) {
	t.Parallel()
	data := "name: latin1\noperation: refresh_token\ndescription: caf\xe9\nresponse: {status: 500}\n"
	_, diags := scenarios.Load(mustSpec(t), []scenarios.Source{{Name: "t.yaml", Data: []byte(data)}})
	want := "t.yaml:3:17: the file is not UTF-8: byte 0xe9 does not start a UTF-8 character; save the file as UTF-8"
	if len(diags) != 1 || diags[0].String() != want {
		t.Errorf("diagnostics:\n%v\nwant:\n%s", diags, want)
	}
}
