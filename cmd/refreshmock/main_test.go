package main

import (
	"slices"
	"strings"
	"testing"
)

// TestHelpGoesToStdout: every way of asking for help prints it on stdout
// and exits 0, so that `refreshmock lint --help | grep strict` works.
func TestHelpGoesToStdout(t *testing.T) {
	t.Parallel()
	type form struct {
		args []string
		want string // stdout starts with it
	}
	const top = "refreshmock: a mock server and a conformance runner"
	forms := []form{{[]string{"--help"}, top}, {[]string{"-h"}, top}, {[]string{"-help"}, top}, {[]string{"help"}, top}}
	names := make([]string, 0, len(commands()))
	for name := range commands() {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		want := "Usage: refreshmock " + name
		for _, args := range [][]string{{"help", name}, {"--help", name}, {name, "--help"}, {name, "-h"}, {name, "-help"}} {
			forms = append(forms, form{args, want})
		}
	}
	forms = append(forms,
		form{[]string{"lint", "--strict", "scenarios/", "--help"}, "Usage: refreshmock lint"},
		form{[]string{"scenarios", "export", "--help"}, "Usage: refreshmock scenarios"},
		form{[]string{"conform", "--target", "http://127.0.0.1:1", "-h"}, "Usage: refreshmock conform"},
	)
	for _, f := range forms {
		t.Run(strings.Join(f.args, " "), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, f.args...)
			if code != exitOK {
				t.Errorf("exit %d, want %d", code, exitOK)
			}
			if !strings.HasPrefix(stdout, f.want) {
				t.Errorf("stdout starts %q, want %q", firstLine(stdout), f.want)
			}
			if f.want != top && !strings.Contains(stdout, "\nExamples:\n") {
				t.Errorf("stdout has no Examples: section:\n%s", stdout)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
		})
	}
}

// TestUsageErrorsGoToStderr: a mistake in the arguments is one line on
// stderr (with a "did you mean" where one is near, and a pointer to the
// command's --help) and exit 2; nothing goes to stdout.
func TestUsageErrorsGoToStderr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		stderr string // the whole of stderr, or its start when it ends in "..."
	}{
		{"no command", nil, "refreshmock: a mock server and a conformance runner..."},
		{"unknown command", []string{"lnit"}, "refreshmock: unknown command \"lnit\" (did you mean lint?); see refreshmock --help\n"},
		{"unknown command far from any", []string{"frobnicate"}, "refreshmock: unknown command \"frobnicate\"; see refreshmock --help\n"},
		{"help for an unknown command", []string{"help", "srve"}, "refreshmock: unknown command \"srve\" (did you mean serve?); see refreshmock --help\n"},
		{"mistyped flag", []string{"lint", "--strcit"}, "refreshmock lint: flag provided but not defined: -strcit (did you mean --strict?); see refreshmock lint --help\n"},
		{"bad flag value", []string{"serve", "--access-ttl", "soon"}, "refreshmock serve: invalid value \"soon\" for flag -access-ttl: parse error; see refreshmock serve --help\n"},
		{"lint format", []string{"lint", "--format", "xml"}, "refreshmock lint: --format \"xml\": use text or json; see refreshmock lint --help\n"},
		{"serve argument", []string{"serve", "extra"}, "refreshmock serve: unexpected arguments [\"extra\"]; see refreshmock serve --help\n"},
		{"serve log format", []string{"serve", "--log-format", "xml"}, "refreshmock serve: --log-format \"xml\": use text or json; see refreshmock serve --help\n"},
		{"serve journal size", []string{"serve", "--journal-size", "200000"}, "refreshmock serve: --journal-size 200000: use 1 to 100000 entries; see refreshmock serve --help\n"},
		{"conform timeout", []string{"conform", "--timeout", "0s"}, "refreshmock conform: --timeout 0s: give a positive duration such as 10s; see refreshmock conform --help\n"},
		{"conform argument", []string{"conform", "extra"}, "refreshmock conform: unexpected argument \"extra\"; see refreshmock conform --help\n"},
		{"new without status", []string{"new"}, "refreshmock new: --status is required, e.g. --status 429; see refreshmock new --help\n"},
		{"new argument", []string{"new", "--status", "200", "out.yaml"}, "refreshmock new: unexpected argument \"out.yaml\"; write to a file with -o; see refreshmock new --help\n"},
		{"scenarios alone", []string{"scenarios"}, "refreshmock scenarios: missing subcommand: use refreshmock scenarios export DIR; see refreshmock scenarios --help\n"},
		{"scenarios unknown subcommand", []string{"scenarios", "list"}, "refreshmock scenarios: unknown subcommand \"list\"; use: refreshmock scenarios export DIR; see refreshmock scenarios --help\n"},
		{"version argument", []string{"version", "x"}, "refreshmock version: unexpected argument \"x\"; see refreshmock version --help\n"},
		// A problem with what the arguments name is said alone: --help
		// would not help.
		{"missing file", []string{"lint", "testdata/lint/does-not-exist"}, "refreshmock lint: read scenarios: stat testdata/lint/does-not-exist: no such file or directory\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if prefix, ok := strings.CutSuffix(tc.stderr, "..."); ok {
				if !strings.HasPrefix(stderr, prefix) {
					t.Errorf("stderr = %q, want it to start with %q", stderr, prefix)
				}
			} else if stderr != tc.stderr {
				t.Errorf("stderr = %q\nwant     %q", stderr, tc.stderr)
			}
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
