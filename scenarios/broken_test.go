package scenarios_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/scenarios"
)

// mustReadBroken reads every file of testdata/broken.
func mustReadBroken(tb testing.TB) []scenarios.Source {
	tb.Helper()
	srcs, err := scenarios.ReadPaths("testdata/broken")
	if err != nil {
		tb.Fatal(err)
	}
	return srcs
}

// TestBrokenGolden loads every broken file in one run and pins the exact
// text of every diagnostic, with file:line:column, in testdata/broken.golden.
// Each file holds one kind of mistake (several-problems.yaml holds many).
func TestBrokenGolden(t *testing.T) {
	t.Parallel()
	srcs := mustReadBroken(t)
	if len(srcs) < 12 {
		t.Fatalf("testdata/broken has %d files, want at least 12", len(srcs))
	}
	set, diags := scenarios.Load(mustSpec(t), srcs)
	if set != nil {
		t.Fatal("Load() returned a set for broken files")
	}
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	checkGolden(t, "broken.golden", b.String())

	// Every file contributes at least one error (or is named by one, like
	// the first of two duplicate names).
	for _, src := range srcs {
		found := false
		for _, d := range diags.Errors() {
			if d.Pos.File == src.Name || strings.Contains(d.Message, src.Name+":") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no error reported", src.Name)
		}
	}
}

// TestBrokenFilesAlone: each file loaded alone reports the same errors as in
// the combined run (except the duplicate name, which needs both files), so
// no mistake hides another file's.
func TestBrokenFilesAlone(t *testing.T) {
	t.Parallel()
	sp := mustSpec(t)
	srcs := mustReadBroken(t)
	_, all := scenarios.Load(sp, srcs)
	for _, src := range srcs {
		t.Run(filepath.Base(src.Name), func(t *testing.T) {
			t.Parallel()
			_, alone := scenarios.Load(sp, []scenarios.Source{src})
			var want []string
			for _, d := range all {
				if d.Pos.File == src.Name && !strings.Contains(d.Message, "duplicate scenario name") {
					want = append(want, d.String())
				}
			}
			var got []string
			for _, d := range alone {
				got = append(got, d.String())
			}
			if !slices.Equal(got, want) {
				t.Errorf("alone:\n%s\nin the combined run:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestSeveralProblemsAllReported: a file with many mistakes reports every
// one of them in one run, sorted by line and column.
func TestSeveralProblemsAllReported(t *testing.T) {
	t.Parallel()
	srcs, err := scenarios.ReadPaths("testdata/broken/several-problems.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, diags := scenarios.Load(mustSpec(t), srcs)
	wantFields := []string{
		"name",
		"priorty",
		"match.token",
		"match.headers.X-Client",
		"response.headers.Retry-After",
		"response.headers.Retry After",
		"response.delay",
		"response.body.status",
		"response.body.status",
		"response.body.message",
		"response.body.code",
		"response.body.code",
		"conform.steps[0].request.method",
		"conform.steps[0].request.json.refresh_token",
		"conform.steps[0].request.raw",
		"conform.steps[0].expect.status[1]",
		"conform.steps[0].expect.assert[0]",
	}
	var gotFields []string
	for _, d := range diags {
		gotFields = append(gotFields, d.Field)
	}
	if !slices.Equal(gotFields, wantFields) {
		t.Errorf("fields of the diagnostics:\n got %q\nwant %q", gotFields, wantFields)
	}
	sorted := slices.IsSortedFunc(diags, func(a, b scenarios.Diagnostic) int {
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	if !sorted {
		t.Errorf("diagnostics are not sorted by line and column:\n%v", diags)
	}
	for _, d := range diags {
		if d.Pos.Line == 0 || d.Pos.Col == 0 {
			t.Errorf("%v: no line and column", d)
		}
	}
}
