package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

const lintHelp = `Usage: refreshmock lint [flags] [DIR|FILE...]

Validates scenario files against the scenario format, the OpenAPI spec and
the error-envelope rules, then prints a coverage table: for each documented
status, the scenarios that script it and the ones whose conform section
provokes it. Every problem of every file is reported, sorted, as
file:line:col: field: message [rule].

With no DIR or FILE, lints the shipped (embedded) scenarios. A directory
means its *.yaml and *.yml files (not recursive). Your files are linted
together, on top of the shipped scenarios, as serve --scenarios loads them:
names must be unique across your files, a scenario of yours with a shipped
one's name replaces it, and the coverage table counts both.
--no-builtin-scenarios lints your files alone.

A documented status that no scenario scripts is a warning; --strict turns
warnings into failures.

--format json prints one document: {"spec", "files", "scenarios", "strict",
"diagnostics": [{"pos": {"file", "line", "col"}, "severity", "field",
"message", "rule"}], "shipped_files", "overrides": [{"name", "shipped",
"by", "default"}], "coverage": {"operations": [{"operation", "method",
"path", "statuses": [{"status", "description", "documented", "scenarios",
"conform"}]}]} (null when a file has errors), "errors", "warnings", "ok"}.

Exit codes: 0 clean, 1 errors (or warnings with --strict), 2 usage or
configuration error (bad flag, unreadable spec, missing path).

Examples:
  refreshmock lint
  refreshmock lint scenarios/
  refreshmock lint --strict my-scenarios/ extra.yaml
  refreshmock lint --no-builtin-scenarios my-scenarios/
  refreshmock lint --spec other-api.yaml --format json scenarios/
`

// lintReport is the result of a lint run; --format json prints it as is,
// so its shape is a stable, machine-readable contract.
type lintReport struct {
	Spec  string   `json:"spec"`
	Files []string `json:"files"`
	// Shipped lists the shipped files loaded under the user's files (empty
	// when linting the shipped set itself, or --no-builtin-scenarios).
	Shipped []string `json:"shipped_files"`
	// Overrides lists the shipped scenarios the user's files replaced.
	Overrides   []scenarios.Override  `json:"overrides"`
	Scenarios   int                   `json:"scenarios"`
	Strict      bool                  `json:"strict"`
	Diagnostics scenarios.Diagnostics `json:"diagnostics"`
	// Coverage is null when a file has errors: the set does not load.
	Coverage *scenarios.Coverage `json:"coverage"`
	Errors   int                 `json:"errors"`
	Warnings int                 `json:"warnings"`
	// OK is false when the exit code is 1.
	OK bool `json:"ok"`
}

func runLint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lint", lintHelp, stdout)
	specPath := fs.String("spec", "", "OpenAPI document `FILE` to lint against (default: the embedded Refresh Token spec)")
	strict := fs.Bool("strict", false, "treat warnings (such as an unscripted status) as failures")
	format := fs.String("format", "text", "output `format`: text or json")
	noBuiltin := fs.Bool("no-builtin-scenarios", false, "lint your files alone, without the shipped scenarios under them")
	maxFile := serveSizeFlag(scenarios.DefaultMaxFileSize)
	fs.Var(&maxFile, "max-scenario-file", "largest scenario file read, e.g. 1MiB or 262144")
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("--format %q: use text or json", *format)
	}
	sp, err := lintLoadSpec(*specPath)
	if err != nil {
		return usageCause(err)
	}
	var builtin, user []scenarios.Source
	var readDiags scenarios.Diagnostics
	switch {
	case len(paths) == 0 && *noBuiltin:
		return usagef("--no-builtin-scenarios leaves nothing to lint; name your files or directories")
	case len(paths) == 0:
		user = scenarios.Embedded()
	default:
		if user, readDiags, err = scenarios.ReadFiles(paths, int64(maxFile)); err != nil {
			return usageCause(err)
		}
		if len(user) == 0 && len(readDiags) == 0 {
			return usageCause(fmt.Errorf("no scenario files (*.yaml, *.yml) in %s", strings.Join(paths, ", ")))
		}
		if !*noBuiltin {
			builtin = scenarios.Embedded()
		}
	}
	rep, err := lint(ctx, sp, builtin, user, readDiags, *strict)
	if err != nil {
		return err // interrupted
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	default:
		writeLintText(stdout, rep)
	}
	if !rep.OK {
		return errFindings
	}
	return nil
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, and returns the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// lintLoadSpec loads the document named by --spec, or the embedded one.
func lintLoadSpec(path string) (*spec.Spec, error) {
	if path == "" {
		return spec.Default()
	}
	return spec.LoadFile(path)
}

// lint loads the user's sources on top of the builtin ones against sp and
// gathers every diagnostic (readDiags, the files that could not be read,
// first) and the coverage. Its error is ctx's, when loading was
// interrupted.
func lint(ctx context.Context, sp *spec.Spec, builtin, user []scenarios.Source, readDiags scenarios.Diagnostics, strict bool) (*lintReport, error) {
	rep := &lintReport{Spec: sp.Name(), Files: []string{}, Shipped: []string{}, Overrides: []scenarios.Override{}, Strict: strict}
	for _, s := range user {
		rep.Files = append(rep.Files, s.Name)
	}
	for _, d := range readDiags {
		rep.Files = append(rep.Files, d.Pos.File)
	}
	var set *scenarios.Set
	var diags scenarios.Diagnostics
	if len(readDiags.Errors()) == 0 {
		var err error
		set, diags, err = scenarios.LoadCombined(ctx, sp, builtin, user)
		if ctx.Err() != nil {
			return nil, err
		}
	}
	rep.Diagnostics = append(append(scenarios.Diagnostics{}, readDiags...), diags...)
	rep.Diagnostics.Sort()
	if set != nil {
		for _, f := range set.Files() {
			for _, b := range builtin {
				if b.Name == f {
					rep.Shipped = append(rep.Shipped, f)
				}
			}
		}
		rep.Overrides = append(rep.Overrides, set.Overrides()...)
		rep.Scenarios = len(set.All())
		rep.Coverage = set.Coverage()
		rep.Diagnostics = append(rep.Diagnostics, rep.Coverage.Warnings(sp.Name())...)
	}
	rep.Errors = len(rep.Diagnostics.Errors())
	rep.Warnings = len(rep.Diagnostics.Warnings())
	rep.OK = rep.Errors == 0 && (!strict || rep.Warnings == 0)
	return rep, nil
}

func writeLintText(w io.Writer, rep *lintReport) {
	for _, d := range rep.Diagnostics {
		fmt.Fprintln(w, d.String())
	}
	if len(rep.Diagnostics) > 0 {
		fmt.Fprintln(w)
	}
	for _, o := range rep.Overrides {
		fmt.Fprintln(w, o.String())
	}
	if len(rep.Overrides) > 0 {
		fmt.Fprintln(w)
	}
	if rep.Coverage == nil {
		fmt.Fprintf(w, "coverage: not computed; fix the errors above first\n")
	}
	if rep.Coverage != nil {
		for i, oc := range rep.Coverage.Operations {
			if i > 0 {
				fmt.Fprintln(w)
			}
			documented, scripted := 0, 0
			for _, st := range oc.Statuses {
				if st.Documented {
					documented++
					if st.Scripted() {
						scripted++
					}
				}
			}
			fmt.Fprintf(w, "coverage of %s (%s %s): %d of %d documented statuses scripted\n", oc.Operation, oc.Method, oc.Path, scripted, documented)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  STATUS\tDESCRIPTION\tSCENARIOS\tCONFORM")
			for _, st := range oc.Statuses {
				desc := st.Description
				if !st.Documented {
					desc = "(undocumented)"
				}
				scen := wrapNames(st.Scenarios, lintColumnWidth)
				if !st.Scripted() {
					scen = []string{"- (warning: nothing scripts it)"}
				}
				conf := wrapNames(st.Conform, lintColumnWidth)
				if len(conf) == 0 {
					conf = []string{"-"}
				}
				for i := range max(len(scen), len(conf)) {
					status, d, sl, cl := "", "", "", ""
					if i == 0 {
						status, d = strconv.Itoa(st.Status), desc
					}
					if i < len(scen) {
						sl = scen[i]
					}
					if i < len(conf) {
						cl = conf[i]
					}
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", status, d, sl, cl)
				}
			}
			_ = tw.Flush()
		}
	}
	verdict := "ok"
	if !rep.OK {
		verdict = "FAIL"
		if rep.Errors == 0 {
			verdict += " (--strict: warnings fail)"
		}
	}
	loaded := plural(len(rep.Files), "file")
	if len(rep.Shipped) > 0 {
		loaded += " and " + plural(len(rep.Shipped), "shipped file")
	}
	if rep.Coverage != nil {
		loaded = plural(rep.Scenarios, "scenario") + " in " + loaded
	}
	fmt.Fprintf(w, "\n%s: %s, %s, %s\n", verdict, loaded, plural(rep.Errors, "error"), plural(rep.Warnings, "warning"))
}

// lintColumnWidth is where the coverage table wraps its lists of names.
const lintColumnWidth = 44

// wrapNames joins names with ", " into lines of at most width characters
// (a longer name gets a line of its own).
func wrapNames(names []string, width int) []string {
	var lines []string
	cur := ""
	for i, n := range names {
		item := n
		if i < len(names)-1 {
			item += ","
		}
		switch {
		case cur == "":
			cur = item
		case len(cur)+1+len(item) <= width:
			cur += " " + item
		default:
			lines = append(lines, cur)
			cur = item
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
