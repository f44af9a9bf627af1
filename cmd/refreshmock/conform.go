package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/refreshmock/refreshmock/conformance"
	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

const conformHelp = `Usage: refreshmock conform --target URL [flags]

Runs the conformance suite against a real implementation of the Refresh
Token operation and reports where it departs from the spec, the error
envelope and token-handling practice.

Cases: every scenario with a conform section (skipped, naming the
variable, when a variable it needs is not set); negative cases derived
from the spec (no token, malformed JSON, every wrong JSON type, empty
string, wrong content type, oversized body); flows (rotation and reuse,
RACE_REFRESH_TOKEN for N parallel refreshes, QUERY_REFRESH_TOKEN for a
token in the query string, METHOD_REFRESH_TOKEN for an undocumented
method).

Variables are looked up in this order: --var, env REFRESHMOCK_VAR_NAME,
env NAME, --vars files (the last file that sets it).

Reports: text on stdout (one line per case, then findings with a
reproducing curl, coverage and a summary); --report json FILE and
--report junit FILE, several at once ("-" is stdout). Secrets appear as
sha256:xxxxxxxx fingerprints everywhere.

Exit codes: 0 all pass, 1 violations (or warnings with --strict, or
coverage under --min-coverage), 2 usage, configuration or unreachable
target.

Examples:
  refreshmock conform --target http://127.0.0.1:8080 --vars scenarios/mock.vars
  refreshmock conform --target https://staging.example.com \
      --var REFRESH_TOKEN="$STAGING_REFRESH_TOKEN" --report junit conform.xml
  refreshmock conform --target https://staging.example.com/api --only negative --strict
  refreshmock conform --target https://10.0.0.5:8443 --ca ca.pem --skip flow/race --max-latency 300ms
  refreshmock conform --target http://127.0.0.1:8080 --list
`

// repeated is a repeatable string flag; commas also separate values when
// split is set.
type repeated struct {
	vals  []string
	split bool
}

func (r *repeated) String() string { return strings.Join(r.vals, ",") }
func (r *repeated) Set(v string) error {
	if r.split {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				r.vals = append(r.vals, p)
			}
		}
		return nil
	}
	r.vals = append(r.vals, v)
	return nil
}

// reportFormats are the formats --report writes.
var reportFormats = []string{"json", "junit", "text"}

// reportTarget is one --report FORMAT FILE.
type reportTarget struct{ format, file string }

// joinReportArgs rewrites "--report FORMAT FILE" into "--report=FORMAT=FILE"
// so that the standard flag package can parse it.
func joinReportArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if (a == "--report" || a == "-report") && i+2 < len(args) && !strings.ContainsAny(args[i+1], "=:") {
			out = append(out, a+"="+args[i+1]+"="+args[i+2])
			i += 2
			continue
		}
		out = append(out, a)
	}
	return out
}

func parseReport(v string) (reportTarget, error) {
	format, file, ok := strings.Cut(v, "=")
	if !ok {
		format, file, ok = strings.Cut(v, ":")
	}
	if !ok || file == "" {
		return reportTarget{}, fmt.Errorf("--report %q: give a format and a file, e.g. --report junit conform.xml", v)
	}
	if !slices.Contains(reportFormats, format) {
		return reportTarget{}, fmt.Errorf("--report %q: unknown format %q; use json, junit or text", v, format)
	}
	return reportTarget{format, file}, nil
}

func runConform(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("conform", conformHelp, stdout)
	var (
		target      = fs.String("target", "", "base URL of the implementation under test (required)")
		specFile    = fs.String("spec", "", "OpenAPI document (default: the embedded Refresh Token spec)")
		operation   = fs.String("operation", "", "operationId that generated cases and flows exercise (default: the only one, or refresh_token)")
		timeout     = fs.Duration("timeout", conformance.DefaultTimeout, "deadline of each request (connect, TLS, headers, body)")
		concurrency = fs.Int("concurrency", conformance.DefaultConcurrency, "cases run at once")
		insecure    = fs.Bool("insecure", false, "skip TLS certificate verification (explicit only)")
		caFile      = fs.String("ca", "", "PEM file with CA certificates to trust in addition to the system's")
		strict      = fs.Bool("strict", false, "warnings fail the run too")
		maxLatency  = fs.Duration("max-latency", 0, "latency budget per response, e.g. 300ms (0: none)")
		minCoverage = fs.String("min-coverage", "", "fail when fewer documented statuses were observed: a count (8) or a percentage (75%)")
		maxBytes    = fs.Int64("max-response-bytes", conformance.DefaultMaxResponseBytes, "cap on each response body")
		oversized   = fs.Int("oversized-body", conformance.DefaultOversizedBody, "size in bytes of the oversized-body case")
		raceN       = fs.Int("race-requests", conformance.DefaultRaceRequests, "parallel requests of the race flow")
		deadline    = fs.Duration("deadline", conformance.DefaultDeadline, "deadline of the whole run; when it passes the run stops, writes what it has and exits 2")
		setupFile   = fs.String("setup", "", "setup file: steps run against the target before the suite, whose captures supply variables (e.g. REFRESH_TOKENS from a sign-in); scenarios/mock-setup.yaml for the mock")
		noBuiltin   = fs.Bool("no-builtin-scenarios", false, "leave out the shipped scenarios (--scenarios then gives the only ones)")
		color       = fs.String("color", "auto", "colour the text report: auto, always or never")
		verbose     = fs.Bool("v", false, "log every request (redacted) to stderr and list notes of passing cases")
		list        = fs.Bool("list", false, "list the case ids and exit")
		scenarioDir = &repeated{}
		vars        = &repeated{}
		varsFiles   = &repeated{}
		headers     = &repeated{}
		cookies     = &repeated{}
		only        = &repeated{split: true}
		skip        = &repeated{split: true}
		reports     = &repeated{}
	)
	fs.Var(scenarioDir, "scenarios", "scenario file or directory whose scenarios are added to the shipped ones (repeatable); a scenario with a shipped name replaces it")
	fs.Var(vars, "var", "variable NAME=VALUE (repeatable)")
	fs.Var(varsFiles, "vars", "file of NAME=VALUE lines (repeatable)")
	fs.Var(headers, "header", "header 'Name: value' sent with every request (repeatable)")
	fs.Var(cookies, "cookie", "cookie name=value sent with every request (repeatable)")
	fs.Var(only, "only", "run only these cases: id, prefix (negative) or pattern (scenario/test-*); repeatable or comma-separated")
	fs.Var(skip, "skip", "skip these cases (same forms as --only)")
	fs.Var(reports, "report", "write a report: --report json FILE, --report junit FILE (repeatable; FILE - is stdout)")
	if err := parseFlags(fs, joinReportArgs(args)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}

	switch {
	case *timeout <= 0:
		return usagef("--timeout %s: give a positive duration such as 10s", *timeout)
	case *deadline <= 0:
		return usagef("--deadline %s: give a positive duration such as 5m", *deadline)
	case *timeout > *deadline:
		return usagef("--timeout %s is longer than --deadline %s; a request could never finish in time", *timeout, *deadline)
	case *concurrency < 1 || *concurrency > conformance.MaxConcurrency:
		return usagef("--concurrency %d: give 1 to %d cases at once", *concurrency, conformance.MaxConcurrency)
	case *raceN < 2 || *raceN > conformance.MaxRaceRequests:
		return usagef("--race-requests %d: give 2 to %d parallel requests", *raceN, conformance.MaxRaceRequests)
	case *maxBytes < 1024 || *maxBytes > conformance.MaxResponseBytesLimit:
		return usagef("--max-response-bytes %d: give 1024 to %d bytes", *maxBytes, conformance.MaxResponseBytesLimit)
	case *oversized < 1 || *oversized > conformance.MaxOversizedBody:
		return usagef("--oversized-body %d: give 1 to %d bytes", *oversized, conformance.MaxOversizedBody)
	case *maxLatency < 0:
		return usagef("--max-latency %s: give a positive duration, or 0 for none", *maxLatency)
	}
	sp, err := loadSpec(*specFile)
	if err != nil {
		return usageCause(err)
	}
	set, err := loadScenarioSet(sp, scenarioDir.vals, !*noBuiltin, stderr)
	if err != nil {
		return usageCause(err)
	}
	var setup *scenarios.Setup
	if *setupFile != "" {
		if setup, err = loadSetup(*setupFile); err != nil {
			return usageCause(err)
		}
	}
	flagVars := map[string]string{}
	for _, kv := range vars.vals {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			// The argument may be a bare secret: name it by fingerprint only.
			return usagef("--var %s: give NAME=VALUE", conformance.Fingerprint(kv))
		}
		flagVars[k] = v
	}
	var files []map[string]string
	for _, f := range varsFiles.vals {
		fh, err := os.Open(f)
		if err != nil {
			return usageCause(fmt.Errorf("--vars: %w", err))
		}
		m, err := scenarios.ParseVars(fh, f)
		fh.Close()
		if err != nil {
			return usageCause(err)
		}
		files = append(files, m)
	}
	src := conformance.VarSources{Flags: flagVars, Files: files}
	needed := conformance.NeededVars(set)
	if setup != nil {
		needed = append(needed, setup.Vars...)
	}
	resolved := src.Resolve(needed)
	for _, m := range append(files, flagVars) {
		for k := range m {
			resolved[k], _ = src.Lookup(k)
		}
	}
	hdr := http.Header{}
	for _, h := range headers.vals {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return usagef("--header %s: give 'Name: value'", conformance.Fingerprint(h))
		}
		hdr.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	var cks []*http.Cookie
	for _, c := range cookies.vals {
		parsed, err := http.ParseCookie(c)
		if err != nil || len(parsed) == 0 {
			name, _, _ := strings.Cut(c, "=")
			return usagef("--cookie %q (value %s): give name=value with a valid cookie name and value", strings.TrimSpace(name), conformance.Fingerprint(c))
		}
		cks = append(cks, parsed...)
	}
	var reps []reportTarget
	jsonToStdout := false
	for _, r := range reports.vals {
		rt, err := parseReport(r)
		if err != nil {
			return usageCause(err)
		}
		if rt.file == "-" {
			if rt.format != "json" && rt.format != "junit" && rt.format != "text" {
				return usagef("--report %s -: unknown format", rt.format)
			}
			if slices.ContainsFunc(reps, func(o reportTarget) bool { return o.file == "-" }) {
				return usagef("--report: only one report can go to stdout (-)")
			}
			jsonToStdout = rt.format != "text"
		}
		reps = append(reps, rt)
	}
	// A machine-readable report on stdout keeps stdout pure: the text
	// report and progress go to stderr.
	textOut := stdout
	if jsonToStdout {
		textOut = stderr
	}
	// Report files are opened before the first request, so that a path
	// that cannot be written fails the run at once, not after it.
	reportFiles, err := openReports(reps)
	if err != nil {
		return usageCause(err)
	}
	defer closeReports(reportFiles)
	var minCov *conformance.MinCoverage
	if *minCoverage != "" {
		m, err := conformance.ParseMinCoverage(*minCoverage)
		if err != nil {
			return usageCause(err)
		}
		minCov = &m
	}
	useColor := false
	switch *color {
	case "always":
		useColor = true
	case "never":
	case "auto":
		useColor = isTerminal(stdout) && os.Getenv("NO_COLOR") == ""
	default:
		return usagef("--color %q: use auto, always or never", *color)
	}
	red := conformance.NewRedactor()
	if *insecure {
		fmt.Fprintln(stderr, "refreshmock conform: warning: --insecure: TLS certificates are not verified; anyone on the path can read the tokens this run sends. Use --ca FILE to trust a private CA instead.")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts := conformance.TextOptions{Color: useColor, Verbose: *verbose}
	var mu sync.Mutex
	cfg := conformance.Config{
		Target: *target, Spec: sp, UserSpec: *specFile != "", Scenarios: set, Setup: setup, Operation: *operation, Vars: resolved,
		Header: hdr, Cookies: cks, Timeout: *timeout, Concurrency: *concurrency,
		Only: only.vals, Skip: skip.vals, Insecure: *insecure, CAFile: *caFile, Strict: *strict,
		MaxLatency: *maxLatency, MinCoverage: minCov, MaxResponseBytes: *maxBytes,
		OversizedBody: *oversized, RaceRequests: *raceN, Logger: logger, Redactor: red,
		Progress: func(done, total int, c conformance.CaseResult) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintln(textOut, conformance.ProgressLine(done, total, c, opts))
		},
	}
	if *list {
		ids, err := conformance.CaseIDs(cfg)
		if err != nil {
			return err
		}
		for _, id := range ids {
			fmt.Fprintln(stdout, id)
		}
		return nil
	}
	if *target == "" {
		return usagef("--target is required (e.g. --target https://staging.example.com)")
	}
	start := time.Now()
	runCtx, cancel := context.WithTimeoutCause(ctx, *deadline, fmt.Errorf("the --deadline of %s passed", *deadline))
	defer cancel()
	rep, err := conformance.Run(runCtx, cfg)
	if err != nil && rep == nil {
		return err // configuration or unreachable target: exit 2
	}
	if err != nil && runCtx.Err() != nil {
		err = fmt.Errorf("%w; the reports hold what ran", context.Cause(runCtx))
	}
	logger.Debug("conform finished", "elapsed", time.Since(start), "ok", rep.OK())
	if werr := conformance.WriteText(textOut, rep, opts); werr != nil {
		return fmt.Errorf("write report: %w", werr)
	}
	for i, rt := range reps {
		if werr := writeReport(rt, reportFiles[i], rep, stdout, opts); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err // interrupted, deadline passed or setup failed: exit 2 after writing what was found
	}
	if !rep.OK() {
		return errFindings
	}
	return nil
}

// openReports creates every report file before the run, so that a path
// that cannot be written is an error before the first request. A nil
// entry stands for stdout.
func openReports(reps []reportTarget) ([]*os.File, error) {
	files := make([]*os.File, len(reps))
	for i, rt := range reps {
		if rt.file == "-" {
			continue
		}
		f, err := os.Create(rt.file)
		if err != nil {
			closeReports(files)
			return nil, fmt.Errorf("--report %s: %w (checked before the run: fix the path or the directory's permissions)", rt.format, err)
		}
		files[i] = f
	}
	return files, nil
}

func closeReports(files []*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}

func writeReport(rt reportTarget, f *os.File, rep *conformance.Report, stdout io.Writer, opts conformance.TextOptions) error {
	var w io.Writer = stdout
	if f != nil {
		w = f
	}
	var err error
	switch rt.format {
	case "json":
		err = conformance.WriteJSON(w, rep)
	case "junit":
		err = conformance.WriteJUnit(w, rep)
	default:
		opts.Color = false
		err = conformance.WriteText(w, rep, opts)
	}
	if err == nil && f != nil {
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("--report %s %s: %w", rt.format, rt.file, err)
	}
	return nil
}

// loadSetup reads and checks a --setup file.
func loadSetup(file string) (*scenarios.Setup, error) {
	data, err := readCapped(file, scenarios.MaxSetupBytes)
	if err != nil {
		return nil, fmt.Errorf("--setup: %w", err)
	}
	su, diags := scenarios.LoadSetup(scenarios.Source{Name: file, Data: data})
	if su == nil {
		return nil, fmt.Errorf("--setup %s:\n%s", file, diags.Error())
	}
	return su, nil
}

// readCapped reads a regular file of at most limit bytes.
func readCapped(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", file)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, limit)
	}
	return data, nil
}

func loadSpec(file string) (*spec.Spec, error) {
	if file == "" {
		return spec.Default()
	}
	return spec.LoadFile(file)
}

// loadScenarioSet loads the shipped scenarios (unless builtin is false)
// and adds the scenarios at paths; a scenario of paths with a shipped
// scenario's name replaces it, which is said on stderr.
func loadScenarioSet(sp *spec.Spec, paths []string, builtin bool, stderr io.Writer) (*scenarios.Set, error) {
	var sources []scenarios.Source
	if len(paths) > 0 {
		var err error
		if sources, err = scenarios.ReadPaths(paths...); err != nil {
			return nil, err
		}
	}
	if !builtin && len(sources) == 0 {
		return nil, fmt.Errorf("--no-builtin-scenarios leaves no scenario: add --scenarios DIR")
	}
	if builtin {
		sources = append(scenarios.Embedded(), sources...)
	}
	set, diags := scenarios.Load(sp, sources)
	if set == nil {
		return nil, fmt.Errorf("%w:\n%s", scenarios.ErrInvalid, diags.Error())
	}
	for _, r := range set.Replaced() {
		fmt.Fprintln(stderr, r)
	}
	for _, d := range set.Warnings() {
		fmt.Fprintln(stderr, d.String())
	}
	return set, nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
