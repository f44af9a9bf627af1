package conformance

import (
	"context"
	"encoding/json"
	"errors"

	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
	"github.com/tidwall/gjson"
)

// neverIssued is a token no server issued, for cases that need a token
// but have no live one.
const neverIssued = "rt_conformance_never_issued_0000"

// cases builds every case in a stable order: scenarios (in load order),
// generated negative cases, then flows.
func (r *runner) cases() []caseDef {
	var out []caseDef
	if r.cfg.Scenarios != nil {
		for _, sc := range r.cfg.Scenarios.All() {
			if sc.Conform != nil && len(sc.Conform.Steps) > 0 {
				out = append(out, r.scenarioCase(sc))
			}
		}
	}
	out = append(out, r.negativeCases()...)
	out = append(out, r.flowCases()...)
	return out
}

// scenarioCase runs a scenario's conform steps in order, with captures
// from one response into the next request.
func (r *runner) scenarioCase(sc *scenarios.Scenario) caseDef {
	op, _ := r.sp.Operation(sc.Operation)
	title := sc.Description
	if title == "" {
		title = sc.Name
	}
	var expects []int
	for _, st := range sc.Conform.Steps {
		expects = append(expects, st.Expect.Status...)
	}
	return caseDef{
		id: "scenario/" + sc.Name, kind: KindScenario, title: title, source: sc.Pos.String(),
		needs: sc.Conform.Vars, expects: expects,
		run: func(ctx context.Context, cr *caseRun) {
			rot := &rotation{r: r, issued: map[string]int{}, rotatedAway: map[string]int{}}
			for i := range sc.Conform.Steps {
				st := &sc.Conform.Steps[i]
				step := i + 1
				rq, missing := st.Request.Expand(cr.lookup)
				if len(missing) > 0 {
					cr.addFinding(Finding{Check: CheckCapture, Severity: SevError, Step: step, StepName: st.Name,
						Message: fmt.Sprintf("step not run: ${%s} was not captured by an earlier step", strings.Join(missing, "}, ${"))})
					return
				}
				o, stepOp, err := r.scenarioRequest(op, &rq)
				if err != nil {
					check := CheckCapture
					if errors.Is(err, errOtherOrigin) {
						check = CheckRedirect
					}
					cr.addFinding(Finding{Check: check, Severity: SevError, Step: step, StepName: st.Name, Message: "step not run: " + err.Error()})
					return
				}
				exp := expectation{op: stepOp, statuses: st.Expect.Status, skipSpec: stepOp == nil}
				resp := cr.exchange(ctx, step, st.Name, o, exp)
				if resp == nil {
					return
				}
				if slices.Contains(st.Expect.Status, resp.Status) {
					for j := range st.Expect.Assert {
						a := &st.Expect.Assert[j]
						if err := a.Check(resp.Body); err != nil {
							cr.addFinding(Finding{Check: CheckAssertion, Severity: SevError, Step: step, StepName: st.Name,
								Field: "$." + a.Path, In: "body", Message: strings.TrimPrefix(err.Error(), scenarios.ErrAssertion.Error()+": "),
								Expected: a.String(), SpecPointer: sc.PosOf(fmt.Sprintf("conform.steps[%d].expect.assert[%d]", i, j)).String()})
						}
					}
				}
				names := make([]string, 0, len(st.Capture))
				for name := range st.Capture {
					names = append(names, name)
				}
				sort.Strings(names)
				for _, name := range names {
					c := st.Capture[name]
					if v, ok := c.Extract(resp.Header, resp.Body); ok {
						cr.setVar(name, v)
					} else {
						cr.addFinding(Finding{Check: CheckCapture, Severity: SevError, Step: step, StepName: st.Name,
							Field: c.String(), Message: fmt.Sprintf("expected to capture %s from %s, but the response (status %d) does not carry it", name, c.String(), resp.Status)})
					}
				}
				rot.observe(cr, step, st.Name, o, resp)
			}
		},
	}
}

// scenarioRequest turns an expanded scenario request into an outgoing
// request; the operation is nil when a step's method or path does not
// route to a documented operation.
func (r *runner) scenarioRequest(op *spec.Operation, rq *scenarios.Request) (*outRequest, *spec.Operation, error) {
	o := r.baseRequest(op, true)
	stepOp := op
	if rq.Method != "" {
		o.Method = strings.ToUpper(rq.Method)
	}
	var pathQuery url.Values
	if rq.Path != "" {
		p, q, err := r.stepPath(rq.Path)
		if err != nil {
			return nil, nil, err
		}
		o.Path, pathQuery = p, q
	}
	if rq.Method != "" || rq.Path != "" {
		stepOp, _ = r.sp.Route(o.Method, o.Path)
	}
	for k, v := range rq.Headers {
		o.Header.Set(k, v)
	}
	names := make([]string, 0, len(rq.Cookies))
	for k := range rq.Cookies {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		o.Cookies = slices.DeleteFunc(o.Cookies, func(c *http.Cookie) bool { return c.Name == k })
		o.Cookies = append(o.Cookies, &http.Cookie{Name: k, Value: rq.Cookies[k]})
	}
	if len(rq.Query) > 0 || len(pathQuery) > 0 {
		o.Query = pathQuery
		if o.Query == nil {
			o.Query = url.Values{}
		}
		for k, v := range rq.Query {
			o.Query.Set(k, v)
		}
	}
	switch {
	case rq.Raw != nil:
		o.Body, o.HasBody = []byte(*rq.Raw), true
	case rq.JSON != nil:
		b, err := json.Marshal(rq.JSON)
		if err != nil {
			return nil, nil, fmt.Errorf("encode the JSON body: %w", err)
		}
		o.Body, o.HasBody = b, true
	}
	if o.HasBody {
		o.ContentType = rq.ContentType
		if o.ContentType == "" {
			o.ContentType = "application/json"
		}
	}
	return o, stepOp, nil
}

// errOtherOrigin is wrapped when a step's path (typically a captured
// value) is an absolute URL to an origin other than the target's.
var errOtherOrigin = errors.New("another origin")

// stepPath resolves a scenario step's path against the target only: a
// path is used as is; an absolute URL is accepted only when it has the
// target's scheme and host and lies under its base path (it is then made
// relative, its query kept); any other origin, protocol-relative URLs
// (//host/...) included, is refused, so that credentials never leave for a
// host a response named.
func (r *runner) stepPath(p string) (string, url.Values, error) {
	if strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "/\\") {
		return p, nil, nil
	}
	u, err := url.Parse(p)
	if err != nil || u.Opaque != "" {
		return "", nil, fmt.Errorf("%w: the path %q is neither a path starting with / nor an http(s) URL of the target; it is not requested", errOtherOrigin, p)
	}
	if !strings.EqualFold(u.Scheme, r.base.Scheme) || !strings.EqualFold(u.Host, r.base.Host) || u.User != nil {
		return "", nil, fmt.Errorf("%w: the path %q points to another origin than the target %s; steps are only sent to the target, with its credentials", errOtherOrigin, p, r.base.Redacted())
	}
	rest, ok := strings.CutPrefix(u.Path, r.base.Path)
	if !ok || !strings.HasPrefix(rest, "/") {
		return "", nil, fmt.Errorf("%w: the URL %q is outside the target's base path %s", errOtherOrigin, p, r.base.Redacted())
	}
	return rest, u.Query(), nil
}

// rotation follows the refresh tokens of one case: which were rotated
// away, which were issued, and whether a replay revoked the family.
type rotation struct {
	r           *runner
	issued      map[string]int // token -> step that issued it
	rotatedAway map[string]int // token -> step that rotated it away
	reusedAt    int            // step at which a rotated-away token was replayed (0: never)
}

// presented lists the tokens a request carries where the operation takes
// them (its cookie parameters and string body fields).
func (r *runner) presented(o *outRequest) []string {
	var out []string
	for _, c := range o.Cookies {
		if slices.Contains(r.tokenCookies, c.Name) && c.Value != "" {
			out = append(out, c.Value)
		}
	}
	if o.HasBody {
		body := gjson.ParseBytes(o.Body)
		for _, f := range r.tokenFields {
			if v := body.Get(gjson.Escape(f)); v.Type == gjson.String && v.Str != "" {
				out = append(out, v.Str)
			}
		}
	}
	return out
}

// newToken returns the refresh token a response issues: a token cookie or
// a refresh_token field of the body.
func (r *runner) newToken(resp *response) string {
	for _, name := range r.tokenCookies {
		if v, ok := scenarios.SetCookieValue(resp.Header, name); ok {
			return v
		}
	}
	for _, f := range r.tokenFields {
		if v := gjson.GetBytes(resp.Body, gjson.Escape(f)); v.Type == gjson.String && v.Str != "" {
			return v.Str
		}
	}
	return ""
}

func (rot *rotation) observe(cr *caseRun, step int, name string, o *outRequest, resp *response) {
	sent := rot.r.presented(o)
	if len(sent) == 0 {
		return
	}
	ok := resp.Status >= 200 && resp.Status < 300
	for _, t := range sent {
		away, wasAway := rot.rotatedAway[t]
		from, wasIssued := rot.issued[t]
		switch {
		case wasAway && ok:
			cr.addFinding(Finding{Check: CheckRotationReuse, Severity: SevError, Step: step, StepName: name,
				Message:  fmt.Sprintf("replaying refresh token %s, which step %d rotated away, succeeded with %d; a replayed token must be rejected with 401 and revoke its family (RFC 9700 section 4.14.2)", Fingerprint(t), away, resp.Status),
				Expected: "401", Got: fmt.Sprint(resp.Status)})
		case wasAway:
			if rot.reusedAt == 0 {
				rot.reusedAt = step
			}
			cr.note("step %d: replaying the rotated-away token %s was rejected with %d", step, Fingerprint(t), resp.Status)
		case wasIssued && rot.reusedAt > 0 && from <= rot.reusedAt && ok:
			cr.addFinding(Finding{Check: CheckRotationFamily, Severity: SevWarn, Step: step, StepName: name,
				Message:  fmt.Sprintf("after the replay at step %d, the newest token of the family (%s, issued at step %d) still works; RFC 9700 section 4.14.2 recommends revoking the whole family on reuse", rot.reusedAt, Fingerprint(t), from),
				Expected: "401", Got: fmt.Sprint(resp.Status)})
		case wasIssued && rot.reusedAt > 0 && from <= rot.reusedAt:
			cr.note("step %d: the newest token of the family was revoked after the replay (status %d), as RFC 9700 recommends", step, resp.Status)
		}
	}
	if !ok {
		return
	}
	next := rot.r.newToken(resp)
	switch {
	case next == "" || slices.Contains(sent, next):
		cr.addFinding(Finding{Check: CheckRotationNotRotated, Severity: SevWarn, Step: step, StepName: name,
			Message: "a successful refresh did not issue a new refresh token; rotating refresh tokens lets the server detect replays (RFC 9700 section 4.14.2)"})
	default:
		for _, t := range sent {
			rot.rotatedAway[t] = step
		}
		rot.issued[next] = step
	}
}

// documented4xx lists the operation's documented client-error statuses.
func documented4xx(op *spec.Operation) []int {
	var out []int
	for _, s := range op.Statuses() {
		if s >= 400 && s < 500 {
			out = append(out, s)
		}
	}
	return out
}

func wrongValues() []struct {
	typ   string
	value any
} {
	return []struct {
		typ   string
		value any
	}{
		{"string", "not-a-number"},
		{"integer", 12345},
		{"number", 1.5},
		{"boolean", true},
		{"array", []any{}},
		{"object", map[string]any{}},
		{"null", nil},
	}
}

// negativeCases derives requests the operation must reject from the spec:
// no token, JSON that does not parse, every wrong JSON type for each body
// property, an empty string where minLength applies, a wrong content type
// and an oversized body.
func (r *runner) negativeCases() []caseDef {
	op := r.op
	want := documented4xx(op)
	if len(want) == 0 {
		return nil
	}
	why := "a documented 4xx (" + strings.Trim(strings.Join(strings.Fields(fmt.Sprint(want)), ", "), "[]") + ")"
	ptr := op.Pointer()
	mk := func(id, title, source string, build func() *outRequest) caseDef {
		return caseDef{id: "negative/" + id, kind: KindNegative, title: title, source: source, expects: want,
			run: func(ctx context.Context, cr *caseRun) {
				o := build()
				resp := cr.exchange(ctx, 1, "", o, expectation{op: op, statuses: want, why: why})
				if resp != nil {
					cr.rejected(resp.Status)
				}
			}}
	}
	body := func(v any, ct string) func() *outRequest {
		return func() *outRequest {
			o := r.baseRequest(op, false)
			b, _ := json.Marshal(v)
			o.Body, o.HasBody, o.ContentType = b, true, ct
			return o
		}
	}
	out := []caseDef{
		mk("no-token", "no token at all: no cookie and no body", ptr, func() *outRequest { return r.baseRequest(op, false) }),
	}
	rb := op.RequestBody
	if rb == nil {
		return out
	}
	first := "x"
	if len(rb.Properties) > 0 {
		first = rb.Properties[0].Name
	}
	out = append(out, mk("malformed-json", "a JSON body that does not parse", ptr+"/requestBody", func() *outRequest {
		o := r.baseRequest(op, false)
		o.Body, o.HasBody, o.ContentType = []byte(`{"`+first+`": `), true, "application/json"
		return o
	}))
	for _, p := range rb.Properties {
		src := ptr + "/requestBody/content/application~1json/schema/properties/" + p.Name
		for _, w := range wrongValues() {
			if slices.Contains(p.Types, w.typ) || len(p.Types) == 0 || w.typ == "integer" && slices.Contains(p.Types, "number") {
				continue
			}
			out = append(out, mk("body."+p.Name+"."+w.typ, fmt.Sprintf("%s is %s, which the schema does not allow (%s)", p.Name, w.typ, strings.Join(p.Types, " or ")), src,
				body(map[string]any{p.Name: w.value}, "application/json")))
		}
		if p.MinLength > 0 && slices.Contains(p.Types, "string") {
			out = append(out, mk("body."+p.Name+".empty-string", fmt.Sprintf("%s is an empty string, below minLength %d", p.Name, p.MinLength), src,
				body(map[string]any{p.Name: ""}, "application/json")))
		}
	}
	sample := map[string]any{}
	if len(r.tokenFields) > 0 {
		sample[r.tokenFields[0]] = neverIssued
	}
	out = append(out,
		mk("wrong-content-type", "a JSON body sent as text/plain", ptr+"/requestBody/content", body(sample, "text/plain")),
		mk("oversized-body", fmt.Sprintf("a %d-byte body", r.cfg.OversizedBody), ptr+"/requestBody", func() *outRequest {
			o := r.baseRequest(op, false)
			pad := max(0, r.cfg.OversizedBody-len(first)-8)
			o.Body, o.HasBody, o.ContentType = []byte(`{"`+first+`": "`+strings.Repeat("a", pad)+`"}`), true, "application/json"
			return o
		}),
	)
	return out
}

// rejected turns a status-expected finding of a negative case into
// negative-not-rejected when the request was accepted (2xx) or crashed
// the server (5xx).
func (cr *caseRun) rejected(status int) {
	if status >= 300 && status < 500 {
		return
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	for i := range cr.res.Findings {
		f := &cr.res.Findings[i]
		if f.Check == CheckStatusExpected {
			f.Check = CheckNegativeNotRejected
			if status < 300 {
				f.Message = fmt.Sprintf("an invalid request was accepted with %d; it must be rejected with %s", status, f.Expected)
			} else {
				f.Message = fmt.Sprintf("an invalid request made the server fail with %d; it must be rejected with %s", status, f.Expected)
			}
		}
	}
}

// liveToken returns a variable's value, or a never-issued token with a
// note saying which variable would make the flow stronger.
func (cr *caseRun) liveToken(name string) string {
	if v, ok := cr.lookup(name); ok && v != "" {
		return v
	}
	cr.note("%s is not set: sent a token nobody issued; set it to a live refresh token to test this with a token the server would accept", name)
	return neverIssued
}

// withToken puts a token where the operation takes it: its first cookie
// parameter, else its first string body field.
func (r *runner) withToken(o *outRequest, tok string) {
	if len(r.tokenCookies) > 0 {
		o.Cookies = append(o.Cookies, &http.Cookie{Name: r.tokenCookies[0], Value: tok})
		return
	}
	if len(r.tokenFields) > 0 {
		b, _ := json.Marshal(map[string]string{r.tokenFields[0]: tok})
		o.Body, o.HasBody, o.ContentType = b, true, "application/json"
	}
}

func (r *runner) tokenParam() string {
	if len(r.tokenCookies) > 0 {
		return r.tokenCookies[0]
	}
	if len(r.tokenFields) > 0 {
		return r.tokenFields[0]
	}
	return "refresh_token"
}

// flowCases are the built-in flows: a concurrent race, a token in the
// query string, and an undocumented method.
func (r *runner) flowCases() []caseDef {
	op := r.op
	want := documented4xx(op)
	n := r.cfg.RaceRequests
	out := []caseDef{{
		id: "flow/race", kind: KindFlow, source: op.Pointer(), needs: []string{VarRace},
		title: fmt.Sprintf("%d parallel refreshes with one token: at most one succeeds, none fails with 5xx", n),
		run: func(ctx context.Context, cr *caseRun) {
			tok, _ := cr.lookup(VarRace)
			var (
				wg       sync.WaitGroup
				startGun = make(chan struct{})
				mu       sync.Mutex
				statuses = make([]int, n)
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer cr.recoverPanic()
					o := r.baseRequest(op, false)
					r.withToken(o, tok)
					<-startGun
					resp := cr.exchange(ctx, i+1, fmt.Sprintf("parallel refresh %d", i+1), o, expectation{op: op})
					if resp != nil {
						mu.Lock()
						statuses[i] = resp.Status
						mu.Unlock()
					}
				}()
			}
			close(startGun)
			wg.Wait()
			var ok []string
			for i, s := range statuses {
				switch {
				case s >= 200 && s < 300:
					ok = append(ok, fmt.Sprint(i+1))
				case s >= 500:
					cr.addFinding(Finding{Check: CheckServerError, Severity: SevError, Step: i + 1,
						Message: fmt.Sprintf("a parallel refresh failed with %d; concurrent use of one token must be answered with a 4xx (e.g. 401 refresh_token_reused or 409 refresh_in_progress)", s),
						Got:     fmt.Sprint(s)})
				}
			}
			if len(ok) > 1 {
				cr.addFinding(Finding{Check: CheckRaceMultipleSuccess, Severity: SevError,
					Message:  fmt.Sprintf("%d of %d parallel refreshes with the same token succeeded (requests %s); at most one may, or a stolen token can be redeemed alongside the real one", len(ok), n, strings.Join(ok, ", ")),
					Expected: "at most 1 success", Got: fmt.Sprint(len(ok))})
			}
			cr.note("%d of %d parallel refreshes succeeded", len(ok), n)
		},
	}}
	if len(want) > 0 {
		why := "a documented 4xx"
		out = append(out, caseDef{
			id: "flow/query-token", kind: KindFlow, source: op.Pointer() + "/parameters",
			title: "the token sent in the query string instead of a cookie or the body is not accepted",
			run: func(ctx context.Context, cr *caseRun) {
				o := r.baseRequest(op, false)
				o.Query = url.Values{r.tokenParam(): {cr.liveToken(VarQuery)}}
				resp := cr.exchange(ctx, 1, "", o, expectation{op: op, statuses: want, why: why})
				if resp == nil {
					return
				}
				cr.flowStatus(resp.Status, CheckQueryTokenAccepted, "a token in the query string was accepted with %d; query strings end up in logs, histories and Referer headers, so the token must only be read from the cookie or the body")
			},
		})
	}
	method := undocumentedMethod(r.sp, op)
	out = append(out, caseDef{
		id: "flow/undocumented-method", kind: KindFlow, source: op.Pointer(),
		title: method + " " + op.Path + ", a method the spec does not document, does not succeed",
		run: func(ctx context.Context, cr *caseRun) {
			o := r.baseRequest(op, false)
			o.Method = method
			r.withToken(o, cr.liveToken(VarMethod))
			if o.HasBody && method == http.MethodGet {
				o.Body, o.HasBody = nil, false
				o.Cookies = append(o.Cookies, &http.Cookie{Name: r.tokenParam(), Value: neverIssued})
			}
			resp := cr.exchange(ctx, 1, "", o, expectation{skipSpec: true})
			if resp == nil {
				return
			}
			cr.flowStatus(resp.Status, CheckUndocumentedMethodOK, "the undocumented method "+method+" succeeded with %d; only the documented "+op.Method+" may (answer 405 or 404)")
		},
	})
	return out
}

// flowStatus reports a 2xx under check, and a 5xx as a server error. It
// drops the generic status-expected finding for those, which would say
// the same.
func (cr *caseRun) flowStatus(status int, check, format string) {
	if status >= 300 && status < 500 {
		return
	}
	cr.mu.Lock()
	cr.res.Findings = slices.DeleteFunc(cr.res.Findings, func(f Finding) bool { return f.Check == CheckStatusExpected })
	cr.mu.Unlock()
	if status < 300 {
		cr.addFinding(Finding{Check: check, Severity: SevError, Step: 1, Message: fmt.Sprintf(format, status), Got: fmt.Sprint(status)})
		return
	}
	cr.addFinding(Finding{Check: CheckServerError, Severity: SevError, Step: 1,
		Message: fmt.Sprintf("the server failed with %d on a request that is the client's fault; answer with a 4xx", status), Got: fmt.Sprint(status)})
}

// undocumentedMethod picks a method the spec does not document for op's
// path.
func undocumentedMethod(sp *spec.Spec, op *spec.Operation) string {
	p := spec.SampleRequest(op).URL.Path
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if o, _ := sp.Route(m, p); o == nil {
			return m
		}
	}
	return http.MethodTrace
}
