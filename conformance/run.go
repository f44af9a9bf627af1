package conformance

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
)

// runner holds what every case of a run shares.
type runner struct {
	cfg    *Config
	sp     *spec.Spec
	op     *spec.Operation // the operation generated cases and flows exercise
	base   *url.URL
	client *http.Client
	red    *Redactor
	// tokenCookies and tokenFields are where the operation takes its
	// token: cookie parameters and string properties of the JSON body.
	tokenCookies []string
	tokenFields  []string
	// policy gives every finding its severity (from Checks).
	policy Policy
	// vars are the run's variables: the configured ones and those drawn
	// from the token pool (drawn lists the latter).
	vars  map[string]string
	drawn []string
	// inflight bounds the response bytes held at once: each exchange
	// reserves its body cap (or the whole budget, if smaller) while it
	// reads and checks the body.
	inflight *semaphore.Weighted
	reserve  int64
}

// caseDef is a case before it runs.
type caseDef struct {
	id, kind, title, source string
	// needs are variables that must be set, else the case is skipped.
	needs []string
	// expects lists the statuses the case's steps expect, for the coverage
	// table's explanations.
	expects []int
	run     func(ctx context.Context, cr *caseRun)
}

// Run executes the conformance suite against cfg.Target and returns the
// report. The error wraps ErrConfig or ErrUnreachable when the run could
// not start, or the context's error when it was interrupted (the partial
// report is returned as well).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	r, err := newRunner(&cfg)
	if err != nil {
		return nil, err
	}
	// Keep-alive connections (and their goroutines) do not outlive the run.
	defer r.client.CloseIdleConnections()
	cases, err := r.select_(r.cases())
	if err != nil {
		return nil, err
	}
	if err := preflight(ctx, r.base, r.client.Transport.(*http.Transport).TLSClientConfig, cfg.Timeout); err != nil {
		return nil, err
	}
	start := time.Now()
	var setup []CaseResult
	if cfg.Setup != nil {
		res := r.runSetup(ctx)
		setup = append(setup, res)
		if res.Outcome == Fail {
			rep := &Report{Target: r.base.Redacted(), Spec: r.sp.Name(), Operation: r.op.ID, Cases: setup, Duration: time.Since(start)}
			rep.summarize(cfg.Strict, nil)
			r.red.Report(rep)
			return rep, fmt.Errorf("%w: %s failed, so the suite did not run; see its findings", ErrSetup, cfg.Setup)
		}
	}
	cases = append(cases, r.drawPool(cases)...)
	results := make([]CaseResult, len(cases))
	var (
		mu   sync.Mutex
		done int
	)
	g := new(errgroup.Group)
	g.SetLimit(cfg.Concurrency)
	for i, c := range cases {
		g.Go(func() error {
			results[i] = r.runCase(ctx, c)
			if cfg.Progress != nil {
				mu.Lock()
				done++
				cfg.Progress(done, len(cases), results[i])
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	rep := &Report{
		Target:    r.base.Redacted(),
		Spec:      r.sp.Name(),
		Operation: r.op.ID,
		Cases:     append(setup, results...),
		Duration:  time.Since(start),
	}
	rep.Coverage = r.coverage(cases, results)
	rep.summarize(cfg.Strict, cfg.MinCoverage)
	r.red.Report(rep) // again, with the secrets learnt since each case ended
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("conformance run interrupted: %w", err)
	}
	return rep, nil
}

func newRunner(cfg *Config) (*runner, error) {
	if cfg.Spec == nil {
		return nil, fmt.Errorf("%w: no spec", ErrConfig)
	}
	base, err := parseTarget(cfg.Target)
	if err != nil {
		return nil, err
	}
	op, err := pickOperation(cfg.Spec, cfg.Operation)
	if err != nil {
		return nil, err
	}
	client, _, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, sp: cfg.Spec, op: op, base: base, client: client, red: cfg.Redactor,
		policy: Policy{UserCatalog: cfg.UserSpec && hasCatalog(op), Override: cfg.Severity}}
	for _, p := range op.Parameters {
		if p.In == "cookie" {
			r.tokenCookies = append(r.tokenCookies, p.Name)
		}
	}
	if op.RequestBody != nil {
		for _, p := range op.RequestBody.Properties {
			if slices.Contains(p.Types, "string") {
				r.tokenFields = append(r.tokenFields, p.Name)
			}
		}
	}
	budget := cfg.InflightBytes
	if budget <= 0 {
		budget = DefaultInflightBytes
	}
	r.inflight, r.reserve = semaphore.NewWeighted(budget), min(budget, cfg.MaxResponseBytes)
	r.vars = maps.Clone(cfg.Vars)
	if r.vars == nil {
		r.vars = map[string]string{}
	}
	for k, v := range cfg.Vars {
		r.red.Add(v)
		if k == VarPool {
			r.red.Add(ParsePool(v)...)
		}
	}
	r.red.LearnHeader(cfg.Header)
	for _, c := range cfg.Cookies {
		r.red.Add(c.Value)
	}
	return r, nil
}

func pickOperation(sp *spec.Spec, id string) (*spec.Operation, error) {
	if id != "" {
		op, ok := sp.Operation(id)
		if !ok {
			return nil, fmt.Errorf("%w: --operation %q is not in %s; it has: %s", ErrConfig, id, sp.Name(), strings.Join(sp.OperationIDs(), ", "))
		}
		return op, nil
	}
	ops := sp.Operations()
	if len(ops) == 1 {
		return ops[0], nil
	}
	if op, ok := sp.Operation("refresh_token"); ok {
		return op, nil
	}
	return nil, fmt.Errorf("%w: %s has %d operations; name one with --operation (%s)", ErrConfig, sp.Name(), len(ops), strings.Join(sp.OperationIDs(), ", "))
}

// matchCase reports whether a case id matches an --only/--skip pattern.
func matchCase(id, pattern string) bool {
	if id == pattern || strings.HasPrefix(id, strings.TrimSuffix(pattern, "/")+"/") {
		return true
	}
	ok, _ := path.Match(pattern, id)
	return ok
}

// selected reports whether --only/--skip keep a case.
func (r *runner) selected(id string) bool {
	if len(r.cfg.Only) > 0 && !slices.ContainsFunc(r.cfg.Only, func(p string) bool { return matchCase(id, p) }) {
		return false
	}
	return !slices.ContainsFunc(r.cfg.Skip, func(p string) bool { return matchCase(id, p) })
}

func (r *runner) select_(all []caseDef) ([]caseDef, error) {
	var out []caseDef
	for _, c := range all {
		if r.selected(c.id) {
			out = append(out, c)
		}
	}
	// A pattern that matches nothing is a typo, not a wish: say so.
	for _, flag := range []struct {
		name     string
		patterns []string
	}{{"--only", r.cfg.Only}, {"--skip", r.cfg.Skip}} {
		for _, p := range flag.patterns {
			if !slices.ContainsFunc(all, func(c caseDef) bool { return matchCase(c.id, p) }) && !matchCase("pool/1", p) {
				return nil, fmt.Errorf("%w: %s %q matches no case; the cases are: %s", ErrConfig, flag.name, p, strings.Join(caseIDs(all), ", "))
			}
		}
	}
	if len(out) == 0 && !(len(ParsePool(r.vars[VarPool])) > 0 && r.selected("pool/1")) {
		return nil, fmt.Errorf("%w: --only/--skip leave no case to run; the cases are: %s", ErrConfig, strings.Join(caseIDs(all), ", "))
	}
	return out, nil
}

func caseIDs(cs []caseDef) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.id
	}
	return ids
}

// hasCatalog reports whether any response of op carries x-error-codes.
func hasCatalog(op *spec.Operation) bool {
	return slices.ContainsFunc(op.Responses, func(r spec.Response) bool { return len(r.ErrorCodes) > 0 })
}

// CaseIDs lists the ids of the cases a configuration would run, without
// running them. The target may be empty.
func CaseIDs(cfg Config) ([]string, error) {
	cfg.defaults()
	if cfg.Target == "" {
		cfg.Target = "http://127.0.0.1"
	}
	r, err := newRunner(&cfg)
	if err != nil {
		return nil, err
	}
	cases, err := r.select_(r.cases())
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = c.id
	}
	return ids, nil
}

// caseRun is the state of one running case.
type caseRun struct {
	r   *runner
	mu  sync.Mutex
	res *CaseResult
	// vars are the supplied variables and the values captured so far.
	vars map[string]string
}

func (cr *caseRun) lookup(name string) (string, bool) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	v, ok := cr.vars[name]
	return v, ok
}

func (cr *caseRun) setVar(name, value string) {
	cr.r.red.Add(value)
	cr.r.red.Add(ParsePool(value)...) // a capture of a repeated step joins its values
	cr.mu.Lock()
	cr.vars[name] = value
	cr.mu.Unlock()
}

// addFinding records a finding; its severity comes from the run's policy.
func (cr *caseRun) addFinding(f Finding) {
	f.Severity = cr.r.policy.Severity(f.Check)
	cr.mu.Lock()
	cr.res.Findings = append(cr.res.Findings, f)
	cr.mu.Unlock()
}

func (cr *caseRun) note(format string, args ...any) {
	cr.mu.Lock()
	cr.res.Notes = append(cr.res.Notes, fmt.Sprintf(format, args...))
	cr.mu.Unlock()
}

func (r *runner) runCase(ctx context.Context, c caseDef) CaseResult {
	res := CaseResult{ID: c.id, Kind: c.kind, Title: c.title, Source: c.source}
	var empty []string
	res.Missing, empty = r.unset(c.needs)
	if len(res.Missing) > 0 {
		res.Outcome = Skip
		res.SkipReason = skipReason(res.Missing, empty)
		return res
	}
	vars := maps.Clone(r.vars)
	if err := ctx.Err(); err != nil {
		res.Outcome = Skip
		res.SkipReason = "not run: interrupted"
		return res
	}
	cr := &caseRun{r: r, res: &res, vars: vars}
	for _, n := range c.needs {
		if slices.Contains(r.drawn, n) {
			// The curl lines say ${NAME}: say which pool token that was.
			cr.note("%s", r.poolNote(n))
		}
	}
	start := time.Now()
	func() {
		defer cr.recoverPanic()
		c.run(ctx, cr)
	}()
	res.Duration = time.Since(start)
	r.finish(&res)
	return res
}

// finish orders and redacts a case's result and gives its outcome.
func (r *runner) finish(res *CaseResult) {
	sort.SliceStable(res.Exchanges, func(i, j int) bool { return res.Exchanges[i].Step < res.Exchanges[j].Step })
	for i := range res.Findings {
		res.Findings[i] = r.red.Finding(res.Findings[i])
	}
	for i, n := range res.Notes {
		res.Notes[i] = r.red.String(n)
	}
	sortFindings(res.Findings)
	res.Outcome = Pass
	if e, w := res.Count(); e > 0 || r.cfg.Strict && w > 0 {
		res.Outcome = Fail
	}
}

// runSetup runs the setup file's steps, one after another, before the
// suite. Captured values fill the run's variables that are not set (or are
// empty); a variable set by the user wins.
func (r *runner) runSetup(ctx context.Context) CaseResult {
	su := r.cfg.Setup
	res := CaseResult{ID: "setup", Kind: KindSetup, Title: "setup steps from " + su.File, Source: su.File}
	var empty []string
	res.Missing, empty = r.unset(su.Vars)
	if len(res.Missing) > 0 {
		// As on a fork's pull request, where CI gives no secrets: the
		// setup does not run, and the cases that need its tokens are
		// skipped, naming them; the rest of the suite runs.
		res.Outcome = Skip
		res.SkipReason = skipReason(res.Missing, empty)
		return res
	}
	cr := &caseRun{r: r, res: &res, vars: maps.Clone(r.vars)}
	t0 := time.Now()
	func() {
		defer cr.recoverPanic()
		r.runSteps(ctx, cr, r.op, su.Steps, func(f string) scenarios.Pos { return su.PosOf(strings.TrimPrefix(f, "conform.")) }, true)
	}()
	res.Duration = time.Since(t0)
	for k, v := range cr.vars {
		if _, given := r.vars[k]; strings.TrimSpace(r.vars[k]) == "" && v != "" {
			if !given {
				res.Notes = append(res.Notes, "captured "+k)
			} else {
				res.Notes = append(res.Notes, "captured "+k+" (it was set but empty)")
			}
			r.vars[k] = v
		}
	}
	sort.Strings(res.Notes)
	r.finish(&res)
	return res
}

// unset returns the variables of names that are not set or are empty
// (what CI gives a fork's pull request for a secret), and the empty ones.
func (r *runner) unset(names []string) (missing, empty []string) {
	for _, n := range names {
		v, ok := r.vars[n]
		switch {
		case !ok:
			missing = append(missing, n)
		case strings.TrimSpace(v) == "":
			missing = append(missing, n)
			empty = append(empty, n)
		}
	}
	return missing, empty
}

// skipReason says which variables a skipped case needs, and which of them
// were set but empty.
func skipReason(missing, empty []string) string {
	var unset []string
	for _, n := range missing {
		if !slices.Contains(empty, n) {
			unset = append(unset, n)
		}
	}
	var parts []string
	if len(unset) > 0 {
		parts = append(parts, "needs "+strings.Join(unset, ", ")+" (not set; or add tokens to "+VarPool+")")
	}
	if len(empty) > 0 {
		parts = append(parts, strings.Join(empty, ", ")+" set but empty (as CI gives secrets to forks' pull requests): treated as not set")
	}
	return strings.Join(parts, "; ")
}

// poolNote says which item of REFRESH_TOKENS a drawn variable holds, so
// that a reproducing curl's ${NAME} can be filled: the item's place in the
// comma-separated value (as cut -d, -f counts) and its fingerprint.
func (r *runner) poolNote(name string) string {
	tok := r.vars[name]
	for i, item := range strings.Split(r.vars[VarPool], ",") {
		if strings.TrimSpace(item) == tok {
			return fmt.Sprintf("%s is item %d of %s (%s): to reproduce, %s=\"$(printf %%s \"$%s\" | cut -d, -f%d | tr -d ' ')\"",
				name, i+1, VarPool, Fingerprint(tok), name, VarPool, i+1)
		}
	}
	return fmt.Sprintf("%s was drawn from %s (%s)", name, VarPool, Fingerprint(tok))
}

// drawPool gives the pool variables that the selected cases need, and that
// are not set (or are empty), a token each from REFRESH_TOKENS, in case
// order; it returns a pool/N case for each token left over (those an
// --only/--skip selection keeps).
func (r *runner) drawPool(cases []caseDef) []caseDef {
	pool := ParsePool(r.vars[VarPool])
	if len(pool) == 0 {
		return nil
	}
	for k, v := range r.vars {
		if k != VarPool {
			pool = slices.DeleteFunc(pool, func(t string) bool { return t == v })
		}
	}
	next := 0
	for _, c := range cases {
		for _, n := range c.needs {
			if !slices.Contains(PoolVars, n) || strings.TrimSpace(r.vars[n]) != "" || next >= len(pool) {
				continue
			}
			r.vars[n] = pool[next]
			r.drawn = append(r.drawn, n)
			next++
		}
	}
	var out []caseDef
	for i := next; i < len(pool); i++ {
		c := r.poolCase(i, pool[i])
		if r.selected(c.id) {
			out = append(out, c)
		}
	}
	return out
}

// recoverPanic, deferred around a case's code (and each goroutine it
// starts), turns a panic into a runner-panic finding of that case instead
// of crashing the run. The panic value and the stack may carry secrets
// (a token in a string being parsed): the finding's message is redacted
// with the rest of the case, and the stack is logged redacted.
func (cr *caseRun) recoverPanic() {
	v := recover()
	if v == nil {
		return
	}
	r := cr.r
	msg := r.red.String(fmt.Sprint(v))
	r.cfg.Logger.Error("conform case panicked", "case", cr.res.ID, "panic", msg, "stack", r.red.String(string(debug.Stack())))
	cr.addFinding(Finding{Check: CheckRunnerPanic,
		Message:  "the runner failed on this case: " + msg + "; the case's result is incomplete",
		HowToFix: "a bug in the runner, not in the target: report it with the case id and the -v log"})
}

// expectation is what a case expects of one response.
type expectation struct {
	op       *spec.Operation // nil when the request does not route
	statuses []int
	why      string
	skipSpec bool
	// judge, when set, replaces the generic status-expected check: it
	// returns the finding a status deserves (with the check that names
	// what went wrong), or false when the status is acceptable.
	judge func(status int) (Finding, bool)
	// bare checks the status only (setup steps).
	bare bool
}

// exchange sends one request of a case, records it (redacted), runs every
// check on the response and adds the findings. It returns nil when no
// response came back (a transport-error finding is added).
func (cr *caseRun) exchange(ctx context.Context, step int, name string, o *outRequest, exp expectation) *response {
	r := cr.r
	r.red.LearnHeader(o.Header)
	for _, c := range o.Cookies {
		r.red.Add(c.Value)
	}
	if o.HasBody {
		r.red.LearnJSON(o.Body)
	}
	if err := r.inflight.Acquire(ctx, r.reserve); err != nil {
		cr.mu.Lock()
		cr.res.Exchanges = append(cr.res.Exchanges, Exchange{Step: step, Name: name, Method: o.Method, URL: r.red.String(o.Path), Error: "not sent: the run was interrupted"})
		cr.mu.Unlock()
		return nil
	}
	defer r.inflight.Release(r.reserve)
	resp := r.send(ctx, o)
	if resp.Header != nil {
		r.red.LearnHeader(resp.Header)
		r.red.LearnJSON(resp.Body)
	}
	ex := Exchange{
		Step: step, Name: name, Method: o.Method, URL: r.red.String(resp.URL),
		Expected: exp.statuses, Status: resp.Status, Bytes: len(resp.Body), Latency: resp.Latency,
		Curl: cr.curl(o),
	}
	if resp.Header != nil {
		ex.ContentType = resp.Header.Get("Content-Type")
	}
	if exp.op != nil && !exp.skipSpec {
		ex.Operation = exp.op.ID
	}
	var findings []Finding
	switch {
	case resp.Err != nil && resp.Status == 0:
		ex.Error = describeError(resp.Err, r.cfg.Timeout)
		findings = append(findings, Finding{Check: CheckTransport,
			Message: "no response: " + ex.Error, Expected: exp.why})
	default:
		if resp.Err != nil {
			ex.Error = describeError(resp.Err, r.cfg.Timeout)
			findings = append(findings, Finding{Check: CheckTransport,
				Message: fmt.Sprintf("status %d came back but reading the body failed: %s", resp.Status, ex.Error)})
		}
		if resp.Truncated {
			findings = append(findings, Finding{Check: CheckResponseTooLarge,
				Message:  fmt.Sprintf("the response body is larger than the %d-byte cap; it was cut there", r.cfg.MaxResponseBytes),
				Expected: fmt.Sprintf("<= %d bytes", r.cfg.MaxResponseBytes), Got: "more"})
		}
		findings = append(findings, codingFindings(resp)...)
		if resp.Status >= 300 && resp.Status < 400 {
			if loc := resp.Header.Get("Location"); loc != "" {
				findings = append(findings, Finding{Check: CheckRedirect, Field: "Location", In: "header", Value: r.red.String(loc),
					Message: fmt.Sprintf("the target answered %d with a redirect to %s, which was not followed (another origin, or too many hops); credentials are never sent there", resp.Status, r.red.String(loc))})
			}
		}
		in := CheckInput{
			Method: o.Method, Path: o.Path, Status: resp.Status, Header: resp.Header, Body: resp.Body,
			Expected: exp.statuses, ExpectedWhy: exp.why, SentTokens: o.tokens(), TokenCookies: r.tokenCookies,
			Latency: resp.Latency, MaxLatency: r.cfg.MaxLatency, SkipSpec: exp.skipSpec || resp.Truncated || resp.Undecodable != "",
			Policy: r.policy, Redactor: r.red,
		}
		if exp.judge != nil {
			in.Expected = nil
			if f, bad := exp.judge(resp.Status); bad {
				findings = append(findings, f)
			}
		}
		switch {
		case !exp.bare:
			findings = append(findings, CheckResponse(r.sp, exp.op, in)...)
		case len(in.Expected) > 0 && !slices.Contains(in.Expected, resp.Status):
			findings = append(findings, Finding{Check: CheckStatusExpected, Expected: statusList(in.Expected), Got: fmt.Sprint(resp.Status),
				Message: fmt.Sprintf("expected status %s, got %d", statusList(in.Expected), resp.Status)})
		}
	}
	for i := range findings {
		findings[i].Severity = r.policy.Severity(findings[i].Check)
	}
	r.cfg.Logger.Debug("conform request", "case", cr.res.ID, "step", step, "method", o.Method,
		"url", ex.URL, "status", resp.Status, "latency", resp.Latency, "findings", len(findings))
	cr.mu.Lock()
	for i := range findings {
		findings[i].Step, findings[i].StepName = step, name
	}
	cr.res.Exchanges = append(cr.res.Exchanges, ex)
	cr.res.Findings = append(cr.res.Findings, findings...)
	cr.mu.Unlock()
	if resp.Status == 0 {
		return nil
	}
	return resp
}

// baseRequest starts a request to the operation with the configured
// headers and cookies; withTokenCookies false leaves out configured
// cookies that carry the operation's token.
func (r *runner) baseRequest(op *spec.Operation, withTokenCookies bool) *outRequest {
	o := &outRequest{Method: op.Method, Path: spec.SampleRequest(op).URL.Path, Header: r.cfg.Header.Clone()}
	if o.Header == nil {
		o.Header = http.Header{}
	}
	for _, c := range r.cfg.Cookies {
		if !withTokenCookies && slices.Contains(r.tokenCookies, c.Name) {
			continue
		}
		o.Cookies = append(o.Cookies, c)
	}
	return o
}

// coverage builds the table of the operation's documented statuses.
func (r *runner) coverage(cases []caseDef, results []CaseResult) []CoverageRow {
	rows := make([]CoverageRow, 0, len(r.op.Responses))
	for _, resp := range r.op.Responses {
		row := CoverageRow{Status: resp.Status, Description: resp.Description}
		var expectedBy, skippedBy []string
		for i, res := range results {
			for _, ex := range res.Exchanges {
				if ex.Status == resp.Status && ex.Operation == r.op.ID {
					row.Observed = true
					if !slices.Contains(row.Cases, res.ID) {
						row.Cases = append(row.Cases, res.ID)
					}
				} else if slices.Contains(ex.Expected, resp.Status) && len(ex.Expected) == 1 {
					expectedBy = append(expectedBy, fmt.Sprintf("%s got %s", res.ID, statusOrError(ex)))
				}
			}
			if res.Outcome == Skip && slices.Contains(cases[i].expects, resp.Status) {
				skippedBy = append(skippedBy, fmt.Sprintf("%s (needs %s)", res.ID, strings.Join(res.Missing, ", ")))
			}
		}
		if !row.Observed {
			switch {
			case len(expectedBy) > 0:
				row.Why = "expected but not returned: " + strings.Join(expectedBy, "; ")
			case len(skippedBy) > 0:
				row.Why = "skipped: " + strings.Join(skippedBy, "; ")
			default:
				row.Why = "no case provokes it"
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func statusOrError(ex Exchange) string {
	if ex.Status == 0 {
		return "no response"
	}
	return fmt.Sprint(ex.Status)
}

// codingFindings reports a content coding the request did not accept, and
// a body the runner could not decode (which is then neither checked nor
// shown).
func codingFindings(resp *response) []Finding {
	if resp.Coding == "" {
		return nil
	}
	var out []Finding
	if !resp.CodingAccepted {
		out = append(out, Finding{Check: CheckContentCoding, Field: "Content-Encoding", In: "header", Value: resp.Coding,
			Message:  fmt.Sprintf("the body came with Content-Encoding %q, which the request's Accept-Encoding did not accept; a server should then send no content coding (RFC 9110 section 12.5.3)", resp.Coding),
			Expected: "a coding the request accepted, or none", Got: resp.Coding})
	}
	if resp.Undecodable != "" {
		out = append(out, Finding{Check: CheckBodyDecodable, Field: "Content-Encoding", In: "header", Value: resp.Coding,
			Message:  "the body could not be decoded (" + resp.Undecodable + "); it was not checked, and none of it is shown",
			Expected: "no content coding, gzip or deflate", Got: resp.Coding})
	}
	return out
}
