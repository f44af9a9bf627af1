// Command refreshmock is a mock server and a conformance runner for the
// Refresh Token API operation. Both halves share one OpenAPI document and
// one scenario model.
//
// Run `refreshmock help` for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/refreshmock/refreshmock/scenarios"
)

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1 // conformance violations, lint errors
	exitUsage    = 2 // bad flags, unreadable spec, unreachable target
)

// errFindings is returned by a subcommand that ran but found problems.
var errFindings = errors.New("findings")

// errUsage wraps errors caused by how the tool was called or configured.
var errUsage = errors.New("usage")

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func commands() map[string]command {
	return map[string]command{
		"version":   {"print the version", runVersion},
		"lint":      {"validate scenario files and show which statuses they cover", runLint},
		"new":       {"scaffold a scenario for a documented status", runNew},
		"serve":     {"serve the mock (Gin) from the spec and the scenarios", runServe},
		"conform":   {"run the conformance suite against a real implementation", runConform},
		"scenarios": {"export the shipped scenario files for editing", runScenarios},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes a subcommand and turns its error into an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c, ok := commands()[args[1]]; ok {
				_ = c.run(ctx, []string{"-h"}, stdout, stdout)
				return exitOK
			}
		}
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-V" || args[0] == "-version" {
		args = []string{"version"}
	}
	c, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "refreshmock: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errFindings):
		return exitFindings
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		// SIGINT or SIGTERM: stop at once, with one line, whatever was
		// running (loading scenarios included).
		fmt.Fprintf(stderr, "refreshmock %s: interrupted\n", args[0])
		return exitUsage
	default:
		if !errors.Is(err, errUsage) || err.Error() != errUsage.Error() {
			fmt.Fprintf(stderr, "refreshmock %s: %v\n", args[0], err)
		}
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `refreshmock: a mock server and a conformance runner for the Refresh Token operation

Usage:
  refreshmock <command> [flags]

Commands:
`)
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprint(w, `  help       show this text, or a command's help: refreshmock help serve

Exit codes: 0 success, 1 findings (violations, lint errors), 2 the tool could not run.
`)
}

// newFlagSet returns a flag set whose usage prints text (with its
// Examples: section) followed by the flags.
func newFlagSet(name, text string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), text)
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; a parse error is a usage error, said in one
// line with a "did you mean" and a pointer to --help, instead of the
// whole usage text that would scroll the mistake away.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	}
	hint := ""
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		best, bestD := "", 4
		fs.VisitAll(func(f *flag.Flag) {
			if d := scenarios.EditDistance(strings.TrimLeft(name, "-"), f.Name); d < bestD {
				best, bestD = f.Name, d
			}
		})
		if best != "" {
			hint = fmt.Sprintf(" (did you mean --%s?)", best)
		}
	}
	fmt.Fprintf(out, "refreshmock %s: %v%s; see refreshmock %s --help\n", fs.Name(), err, hint, fs.Name())
	return errUsage
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", `Usage: refreshmock version

Prints the version of refreshmock.

Examples:
  refreshmock version
`, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "refreshmock %s\n", moduleVersion())
	return nil
}

// moduleVersion is the version set with -ldflags, else the module version
// the binary was built from (v1.2.3 when installed with go install
// ...@v1.2.3), else the VCS revision, else "dev".
func moduleVersion() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return version
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}
