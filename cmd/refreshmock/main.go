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

// usageError is an error in how refreshmock was called or configured:
// exit 2, said by run in one place, in one line. The one type replaces a
// sentinel, bare returns and a wrapper type; make it with usagef or
// usageCause.
type usageError struct {
	err error
	// help adds a pointer to the command's --help: the mistake is in the
	// arguments themselves.
	help bool
}

func (e *usageError) Error() string { return e.err.Error() }

func (e *usageError) Unwrap() error { return e.err }

// usagef is a mistake in the arguments (a flag, its value, a missing or an
// extra argument): its message, then a pointer to --help. %w wraps a cause.
func usagef(format string, a ...any) error {
	return &usageError{err: fmt.Errorf(format, a...), help: true}
}

// usageCause makes err, a problem with what the arguments name (a spec
// that does not load, a directory without scenarios, an address already
// in use), a usage error said with err's message alone.
func usageCause(err error) error { return &usageError{err: err} }

// writeError says err, the error of command cmd ("" for refreshmock
// itself), on w.
func writeError(w io.Writer, cmd string, err error) {
	prog := strings.TrimSpace("refreshmock " + cmd)
	msg := err.Error()
	if ue, ok := errors.AsType[*usageError](err); ok && ue.help {
		msg += "; see " + prog + " --help"
	}
	fmt.Fprintf(w, "%s: %s\n", prog, msg)
}

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

// run executes a subcommand and turns its error into an exit code. Help,
// asked for in any form, goes to stdout with exit 0; usage errors go to
// stderr with exit 2.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		if len(args) == 1 {
			usage(stdout)
			return exitOK
		}
		args = []string{args[1], "-h"}
	case "--version", "-V", "-version":
		args = []string{"version"}
	}
	c, ok := commands()[args[0]]
	if !ok {
		writeError(stderr, "", unknownCommand(args[0]))
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
		// A usage error, or one that stopped the run (a report that could
		// not be written, an unreachable target): exit 2 either way.
		writeError(stderr, args[0], err)
		return exitUsage
	}
}

// unknownCommand is the usage error for a command name that is not one,
// with the nearest command.
func unknownCommand(name string) error {
	names := make([]string, 0, len(commands()))
	for n := range commands() {
		names = append(names, n)
	}
	if best := closest(name, names); best != "" {
		return usagef("unknown command %q (did you mean %s?)", name, best)
	}
	return usagef("unknown command %q", name)
}

// closest returns the candidate nearest name, if one is within 3 edits.
func closest(name string, candidates []string) string {
	sort.Strings(candidates)
	best, bestD := "", 4
	for _, c := range candidates {
		if d := scenarios.EditDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
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
// Examples: section) followed by the flags, on stdout: help is output
// asked for.
func newFlagSet(name, text string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), text)
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args. -h prints the help and returns flag.ErrHelp; a
// parse error is a usage error with a "did you mean" (run says it in one
// line, instead of the whole usage text that would scroll the mistake
// away).
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
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		var flags []string
		fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f.Name) })
		if best := closest(strings.TrimLeft(name, "-"), flags); best != "" {
			return usagef("%w (did you mean --%s?)", err, best)
		}
	}
	return usagef("%w", err)
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", `Usage: refreshmock version

Prints the version of refreshmock.

Examples:
  refreshmock version
`, stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
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
