package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/refreshmock/refreshmock/mockserver"
	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

// processStart is when the process started, to report time-to-ready.
var processStart = time.Now()

const serveHelp = `Usage: refreshmock serve [flags]

Serves a mock of every operation of the spec on --addr, answering from the
scenario files: stateful refresh-token rotation with reuse detection, test
tokens (rt_test_<status>_<reason>), request validation, CORS for dev
servers, and a control API under /__mock/ (see the README).

A response is chosen, in order, by: X-Mock-Scenario: NAME or Prefer:
code=N / example=NAME; a scenario armed through POST /__mock/arm; the
scenarios' match rules; the operation's default. Each request logs one line
with the scenario and the rule that chose it.

The seeded refresh token (--seed-token, default rt_seed_dev) is valid from
the start; POST /__mock/tokens issues more, POST /__mock/reset starts over.
The shipped scenarios (rotation, test tokens, the 401 flows; see
refreshmock scenarios export) are always served; --scenarios adds your
files to them, and a scenario of yours with a shipped one's name replaces
it (the log and GET /__mock/scenarios say so). --no-builtin-scenarios
serves your files alone. Scenario files given with --scenarios are
reloaded when they change; an invalid edit is logged with file:line and the
last good set keeps serving.

Examples:
  refreshmock serve
  refreshmock serve --addr 127.0.0.1:9000 --base-path /api --access-ttl 30s
  refreshmock serve --scenarios ./my-scenarios --cors-origin http://localhost:5173
  refreshmock serve --scenarios ./my-scenarios --no-builtin-scenarios
  refreshmock serve --addr 0.0.0.0:8080 --control-token "$(openssl rand -hex 16)"
  curl -i -X POST http://127.0.0.1:8080/auth/refresh --cookie refresh_token=rt_seed_dev
  curl -X POST http://127.0.0.1:8080/__mock/arm -d '{"scenario":"rate-limited","count":1}'
`

// serveListFlag collects a repeatable flag; each value may hold a comma list.
type serveListFlag []string

func (l *serveListFlag) String() string { return strings.Join(*l, ",") }

func (l *serveListFlag) Set(v string) error {
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// serveSizeFlag is a byte count written as 1048576, 1MiB, 512KiB, 1MB or 64KB.
type serveSizeFlag int64

// String writes the size as 1MiB or 512KiB when it is a whole number of
// them, so that --help shows the default once, as it is written.
func (s *serveSizeFlag) String() string {
	n := int64(*s)
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}

func (s *serveSizeFlag) Set(v string) error {
	n, err := parseServeSize(v)
	if err != nil {
		return err
	}
	*s = serveSizeFlag(n)
	return nil
}

func parseServeSize(v string) (int64, error) {
	t := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size such as 1048576, 1MiB or 512KiB", v)
	}
	return n * mult, nil
}

type serveOptions struct {
	spec, addr, basePath, seed, controlToken  string
	accessTTL, refreshTTL, reloadEvery, grace time.Duration
	sameSite, cookieDomain, cookiePath        string
	cookieSecure, noValidate, noBuiltin       bool
	maxScenarioFile                           serveSizeFlag
	scenarioPaths, corsOrigins                serveListFlag
	maxBody                                   serveSizeFlag
	journalSize                               int
	logFormat, logLevel, tlsCert, tlsKey      string
}

// serveGCPercent is the GOGC that serve runs with when GOGC is not set.
const serveGCPercent = 75

// serveMemoryLimit is the soft memory limit (GOMEMLIMIT) that serve runs
// with when GOMEMLIMIT is not set: the Go runtime's memory (heap, stacks)
// is held under it by collecting more often as it nears, never by failing.
// The mock's own bounded state (journal 16 MiB, validation memo 8 MiB,
// token store) fits well inside it; what it cuts is the heap goal's
// overshoot when 1,000 connections arrive at once (README, Limits).
const serveMemoryLimit = 64 << 20

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveHelp, stdout)
	o := serveOptions{maxBody: mockserver.DefaultMaxBody, maxScenarioFile: serveSizeFlag(scenarios.DefaultMaxFileSize)}
	fs.StringVar(&o.spec, "spec", "", "OpenAPI document (default: the embedded Refresh Token spec)")
	fs.Var(&o.scenarioPaths, "scenarios", "scenario file or directory, added to the shipped scenarios (a scenario of yours with a shipped one's name replaces it); repeatable; reloaded when it changes")
	fs.BoolVar(&o.noBuiltin, "no-builtin-scenarios", false, "leave the shipped scenarios out: serve only the --scenarios files")
	fs.Var(&o.maxScenarioFile, "max-scenario-file", "largest scenario file read, e.g. 1MiB or 262144")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on; a non-loopback address needs --control-token")
	fs.StringVar(&o.basePath, "base-path", "", "prefix of every operation path, e.g. /api (the control API stays at /__mock/)")
	fs.StringVar(&o.seed, "seed-token", mockserver.DefaultSeedToken, "refresh token valid from the start and after reset; empty for none")
	fs.DurationVar(&o.accessTTL, "access-ttl", mockserver.DefaultAccessTTL, "lifetime of access tokens (exp, expires_in)")
	fs.DurationVar(&o.refreshTTL, "refresh-ttl", mockserver.DefaultRefreshTTL, "lifetime of refresh tokens on the mock clock (and the cookie's Max-Age)")
	fs.StringVar(&o.sameSite, "cookie-samesite", "Lax", "SameSite of the refresh_token cookie: Lax, Strict or None (None implies Secure)")
	fs.BoolVar(&o.cookieSecure, "cookie-secure", false, "mark the refresh_token cookie Secure (always with TLS)")
	fs.StringVar(&o.cookieDomain, "cookie-domain", "", "Domain of the refresh_token cookie (default: host-only)")
	fs.StringVar(&o.cookiePath, "cookie-path", "", "Path of the refresh_token cookie (default: the refresh operation's folder, /auth, under --base-path)")
	fs.Var(&o.corsOrigins, "cors-origin", "allowed CORS origin, scheme://host[:port], scheme://host:* or *; repeatable or comma-separated (default http://localhost:*,http://127.0.0.1:*)")
	fs.StringVar(&o.controlToken, "control-token", os.Getenv("REFRESHMOCK_CONTROL_TOKEN"), "bearer token the control API requires (env REFRESHMOCK_CONTROL_TOKEN)")
	fs.Var(&o.maxBody, "max-body", "request body limit, e.g. 1MiB or 65536")
	fs.BoolVar(&o.noValidate, "no-validate-requests", false, "do not validate requests against the spec")
	fs.IntVar(&o.journalSize, "journal-size", mockserver.DefaultJournalSize, "requests kept in the journal (GET /__mock/journal)")
	fs.DurationVar(&o.reloadEvery, "reload-interval", mockserver.DefaultReloadInterval, "how often to look for scenario file changes; 0 turns hot reload off")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json (logs go to stderr)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM); needs --tls-key")
	fs.StringVar(&o.tlsKey, "tls-key", "", "private key (PEM) for --tls-cert")
	fs.DurationVar(&o.grace, "shutdown-grace", 10*time.Second, "how long in-flight requests may finish on SIGINT/SIGTERM")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	log, err := newServeLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	cfg, err := o.config(ctx, log)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// A smaller heap for the same work: the GC runs when the heap
		// grew by 75% of the live heap, not 100%. Under the load run this
		// keeps about 1.4 MB off the resident size for about 3% of the
		// throughput (README, Performance). GOGC in the environment wins.
		defer debug.SetGCPercent(debug.SetGCPercent(serveGCPercent))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(serveMemoryLimit))
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return usageCause(fmt.Errorf("listen on %s: %w", o.addr, err))
	}
	defer ln.Close()
	tcp, _ := ln.Addr().(*net.TCPAddr)
	if tcp != nil && !tcp.IP.IsLoopback() && cfg.ControlToken == "" {
		return usagef("%s is not a loopback address; anyone who reaches it could drive the control API: set --control-token (or REFRESHMOCK_CONTROL_TOKEN), or listen on 127.0.0.1", ln.Addr())
	}
	srv, err := mockserver.New(cfg)
	if err != nil {
		return usageCause(err)
	}
	hs := mockserver.NewHTTPServer(srv, slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	scheme, serve := "http", func() error { return hs.Serve(ln) }
	if cfg.TLS {
		scheme, serve = "https", func() error { return hs.ServeTLS(ln, o.tlsCert, o.tlsKey) }
	}
	base := fmt.Sprintf("%s://%s", scheme, ln.Addr())
	log.Info("listening",
		"url", base+cfg.BasePath,
		"control", base+mockserver.ControlPrefix+"/",
		"spec", cfg.Spec.Name(),
		"scenarios", len(cfg.Scenarios.All()),
		"seed_token", cfg.SeedToken,
		"ready_in", time.Since(processStart).Round(time.Microsecond),
	)
	interval := o.reloadEvery
	if interval <= 0 {
		interval = -1
	}
	if err := srv.Run(ctx, hs, serve, o.grace, interval); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// config turns the flags into a mockserver.Config, loading the spec and
// the scenarios. Every scenario problem is written to the log.
func (o *serveOptions) config(ctx context.Context, log *slog.Logger) (mockserver.Config, error) {
	var cfg mockserver.Config
	var sp *spec.Spec
	var err error
	if o.spec == "" {
		sp, err = spec.Default()
	} else {
		sp, err = spec.LoadFile(o.spec)
	}
	if err != nil {
		return cfg, usageCause(err)
	}
	opts := scenarios.LoadOptions{NoBuiltin: o.noBuiltin, MaxFileSize: int64(o.maxScenarioFile)}
	set, diags, err := scenarios.LoadWithBuiltin(ctx, sp, o.scenarioPaths, opts)
	if ctx.Err() != nil {
		return cfg, err
	}
	for _, d := range diags {
		if d.Severity == scenarios.SevError {
			log.Error("invalid scenario", "at", d.Pos.String(), "problem", d.String())
		} else {
			log.Warn("scenario warning", "at", d.Pos.String(), "problem", d.String())
		}
	}
	if err != nil {
		return cfg, usageCause(err)
	}
	mockserver.LogOverrides(log, set)
	sameSite, ok := map[string]http.SameSite{"lax": http.SameSiteLaxMode, "strict": http.SameSiteStrictMode, "none": http.SameSiteNoneMode}[strings.ToLower(o.sameSite)]
	if !ok {
		return cfg, usagef("--cookie-samesite %q: use Lax, Strict or None", o.sameSite)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return cfg, usagef("--tls-cert and --tls-key go together")
	}
	if o.journalSize < 1 || o.journalSize > mockserver.MaxJournalSize {
		return cfg, usagef("--journal-size %d: use 1 to %d entries", o.journalSize, mockserver.MaxJournalSize)
	}
	if o.accessTTL < time.Second {
		return cfg, usagef("--access-ttl %s is under a second; expires_in counts whole seconds", o.accessTTL)
	}
	cfg = mockserver.Config{
		Spec:               sp,
		Scenarios:          set,
		ScenarioPaths:      o.scenarioPaths,
		ScenarioOptions:    opts,
		BasePath:           o.basePath,
		SeedToken:          o.seed,
		AccessTTL:          o.accessTTL,
		RefreshTTL:         o.refreshTTL,
		Cookie:             mockserver.CookieConfig{Path: o.cookiePath, Domain: o.cookieDomain, SameSite: sameSite, Secure: o.cookieSecure},
		TLS:                o.tlsCert != "",
		CORSOrigins:        o.corsOrigins,
		ControlToken:       o.controlToken,
		MaxBody:            int64(o.maxBody),
		NoValidateRequests: o.noValidate,
		JournalSize:        o.journalSize,
		Logger:             log,
	}
	return cfg, nil
}

// newServeLogger builds the slog logger of a subcommand, writing to stderr.
func newServeLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: use text or json", format)
}
