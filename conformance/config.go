package conformance

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

// ErrConfig is wrapped by errors about how the runner was configured
// (exit code 2).
var ErrConfig = errors.New("configuration")

// ErrSetup is wrapped when the setup file's steps failed, so the suite did
// not run (exit code 2).
var ErrSetup = errors.New("setup failed")

// ErrUnreachable is wrapped when the target cannot be reached at all
// (exit code 2).
var ErrUnreachable = errors.New("target unreachable")

// Defaults.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultConcurrency      = 4
	DefaultMaxResponseBytes = 1 << 20
	DefaultOversizedBody    = 2 << 20
	DefaultRaceRequests     = 8
	// DefaultDeadline bounds a whole run (--deadline).
	DefaultDeadline = 5 * time.Minute
	// DefaultInflightBytes bounds the response bodies held in memory at
	// once, whatever --concurrency and --race-requests say.
	DefaultInflightBytes = 32 << 20
)

// Caps on the runner's numeric options.
const (
	MaxConcurrency        = 256
	MaxRaceRequests       = 256
	MaxResponseBytesLimit = 64 << 20
	MaxOversizedBody      = 64 << 20
)

// Variables the built-in flows read.
const (
	VarRace   = "RACE_REFRESH_TOKEN"
	VarQuery  = "QUERY_REFRESH_TOKEN"
	VarMethod = "METHOD_REFRESH_TOKEN"
	VarBody   = "BODY_REFRESH_TOKEN"
	// VarRefresh is the live token of the shipped rotation scenario.
	VarRefresh = "REFRESH_TOKEN"
	// VarPool is a comma-separated pool of live refresh tokens: the
	// variables of PoolVars that are not set one by one are drawn from it,
	// one token per variable, and each token left over is refreshed once
	// by a pool/N case.
	VarPool = "REFRESH_TOKENS"
)

// PoolVars are the variables drawn from REFRESH_TOKENS when a case that
// will run needs them and they are not set, in this order.
var PoolVars = []string{VarRefresh, VarRace, VarQuery, VarMethod, VarBody}

// ParsePool splits a REFRESH_TOKENS value: comma-separated, blanks and
// repeats dropped (a token is used by one case only).
func ParsePool(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// Config configures a run.
type Config struct {
	// Target is the base URL of the implementation under test, e.g.
	// https://staging.example.com or http://127.0.0.1:8080/api. Spec paths
	// are appended to its path.
	Target string
	Spec   *spec.Spec
	// UserSpec says Spec is the user's own document (--spec), not the
	// embedded one: its x-error-codes catalogue then binds the target.
	UserSpec bool
	// Severity overrides the catalogue's severity of individual checks.
	Severity map[string]Severity
	// Setup, when set, runs before the suite; its captures fill the
	// variables that are not set (e.g. REFRESH_TOKENS from a sign-in).
	Setup *scenarios.Setup
	// Scenarios are the scenarios whose conform sections become cases (nil:
	// none).
	Scenarios *scenarios.Set
	// Operation is the operationId the generated cases and flows exercise;
	// empty means the spec's only operation, or refresh_token.
	Operation string
	// Vars are the variables the cases may use (already merged from flags,
	// environment and files; see Vars).
	Vars map[string]string
	// Header and Cookies are sent with every request (cookies named like
	// the operation's cookie parameters are left out of negative cases
	// and flows, which choose their own).
	Header  http.Header
	Cookies []*http.Cookie
	// Timeout bounds each request (connect, TLS, headers, body).
	Timeout     time.Duration
	Concurrency int
	// Only and Skip select cases by id: an exact id, a prefix followed by
	// "/" (e.g. "negative"), or a path.Match pattern ("scenario/test-*").
	Only, Skip []string
	Insecure   bool
	CAFile     string
	Strict     bool
	// MaxLatency, when set, is a per-response latency budget.
	MaxLatency time.Duration
	// MinCoverage, when set, fails the run below that coverage of
	// documented statuses.
	MinCoverage *MinCoverage
	// MaxResponseBytes caps each response body.
	MaxResponseBytes int64
	// InflightBytes bounds the response bodies held in memory at once
	// (default DefaultInflightBytes): with 1 MiB bodies, at most 32
	// responses are read and checked at the same time, whatever
	// Concurrency and RaceRequests say.
	InflightBytes int64
	// OversizedBody is the size of the oversized-body negative case.
	OversizedBody int
	// RaceRequests is the number of parallel requests of the race flow.
	RaceRequests int
	// Logger receives one debug line per request (redacted); nil is silent.
	Logger *slog.Logger
	// Progress, when set, is called as each case finishes (from one
	// goroutine at a time) with the number done and the total.
	Progress func(done, total int, c CaseResult)
	// Redactor, when set, is used (and taught) instead of a new one, so
	// that the caller can redact its own output with what the run learnt.
	Redactor *Redactor
}

func (c *Config) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.OversizedBody <= 0 {
		c.OversizedBody = DefaultOversizedBody
	}
	if c.RaceRequests <= 0 {
		c.RaceRequests = DefaultRaceRequests
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Redactor == nil {
		c.Redactor = NewRedactor()
	}
}

// parseTarget checks the target URL.
func parseTarget(target string) (*url.URL, error) {
	if target == "" {
		return nil, fmt.Errorf("%w: --target is required (e.g. --target https://staging.example.com)", ErrConfig)
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("%w: --target %q: %w", ErrConfig, target, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%w: --target %q: give an absolute http:// or https:// URL", ErrConfig, target)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: --target: credentials in the URL are not supported; use --header 'Authorization: ...'", ErrConfig)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: --target %q: a base URL takes no query or fragment", ErrConfig, target)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// VarSources says where variables come from, in order of precedence.
type VarSources struct {
	// Flags are --var K=V values.
	Flags map[string]string
	// Files are --vars files, already parsed, later files winning.
	Files []map[string]string
	// Env looks up the environment (os.LookupEnv when nil).
	Env func(string) (string, bool)
}

// Lookup resolves a variable: --var first, then REFRESHMOCK_VAR_NAME in the
// environment, then NAME in the environment, then the --vars files (the
// last file that sets it).
func (s VarSources) Lookup(name string) (string, bool) {
	if v, ok := s.Flags[name]; ok {
		return v, true
	}
	env := s.Env
	if env == nil {
		env = os.LookupEnv
	}
	if v, ok := env("REFRESHMOCK_VAR_" + name); ok {
		return v, true
	}
	if v, ok := env(name); ok {
		return v, true
	}
	for i := len(s.Files) - 1; i >= 0; i-- {
		if v, ok := s.Files[i][name]; ok {
			return v, true
		}
	}
	return "", false
}

// Resolve returns the values of the named variables that are set.
func (s VarSources) Resolve(names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		if v, ok := s.Lookup(n); ok {
			out[n] = v
		}
	}
	return out
}

// NeededVars lists every variable the scenarios' conform sections and the
// built-in flows may use.
func NeededVars(set *scenarios.Set) []string {
	seen := map[string]bool{VarRace: true, VarQuery: true, VarMethod: true, VarBody: true, VarPool: true, VarRefresh: true}
	out := []string{VarBody, VarMethod, VarQuery, VarRace, VarRefresh, VarPool}
	if set != nil {
		for _, sc := range set.All() {
			if sc.Conform == nil {
				continue
			}
			for _, v := range sc.Conform.Vars {
				if !seen[v] {
					seen[v] = true
					out = append(out, v)
				}
			}
		}
	}
	return out
}
