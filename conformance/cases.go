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

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
	"github.com/tidwall/gjson"
)

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
			r.runSteps(ctx, cr, op, sc.Conform.Steps, sc.PosOf, false)
		},
	}
}

// runSteps runs conform steps in order, with captures from one response
// into the next request; it stops at the first step that cannot run or
// gets no response. posOf locates a step's fields for messages.
//
// bare (for setup steps, whose target is a sign-in call and not the
// operation under test) checks only statuses and captures.
func (r *runner) runSteps(ctx context.Context, cr *caseRun, op *spec.Operation, steps []scenarios.Step, posOf func(string) scenarios.Pos, bare bool) {
	rot := &rotation{r: r, issued: map[string]int{}, rotatedAway: map[string]int{}}
	setupCaptured := map[string]bool{}
	for i := range steps {
		st := &steps[i]
		step := i + 1
		rq, missing := st.Request.Expand(cr.lookup)
		if len(missing) > 0 {
			cr.addFinding(Finding{Check: CheckCapture, Step: step, StepName: st.Name,
				Message: fmt.Sprintf("step not run: ${%s} was not captured by an earlier step", strings.Join(missing, "}, ${"))})
			return
		}
		o, stepOp, err := r.scenarioRequest(op, &rq)
		if err != nil {
			check := CheckCapture
			if errors.Is(err, errOtherOrigin) {
				check = CheckRedirect
			}
			cr.addFinding(Finding{Check: check, Step: step, StepName: st.Name, Message: "step not run: " + err.Error()})
			return
		}
		var resp *response
		captured := map[string][]string{}
		for k := 1; k <= st.Times(); k++ {
			exp := expectation{op: stepOp, statuses: st.Expect.Status, skipSpec: stepOp == nil}
			if k < st.Times() {
				// Only the last of a repeated step's responses
				// must have the expected status.
				exp.judge = func(int) (Finding, bool) { return Finding{}, false }
			}
			name := st.Name
			if st.Times() > 1 {
				name = fmt.Sprintf("%s (%d of %d)", st.Name, k, st.Times())
			}
			o := o
			if k > 1 {
				o = o.clone()
			}
			resp = cr.exchange(ctx, step, name, o, exp)
			if resp == nil {
				return
			}
			for cname, c := range st.Capture {
				if v, ok := c.Extract(resp.Header, resp.Body); ok {
					captured[cname] = append(captured[cname], v)
				}
			}
			if k < st.Times() {
				rot.observe(cr, step, name, o, resp)
			}
		}
		if slices.Contains(st.Expect.Status, resp.Status) {
			for j := range st.Expect.Assert {
				a := &st.Expect.Assert[j]
				if err := a.Check(resp.Body); err != nil {
					cr.addFinding(Finding{Check: CheckAssertion, Step: step, StepName: st.Name,
						Field: "$." + a.Path, In: "body", Message: strings.TrimPrefix(err.Error(), scenarios.ErrAssertion.Error()+": "),
						Expected: a.String(), SpecPointer: posOf(fmt.Sprintf("conform.steps[%d].expect.assert[%d]", i, j)).String()})
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
			if vs := captured[name]; len(vs) > 0 {
				if prev, ok := cr.lookup(name); ok && bare && setupCaptured[name] {
					// A setup collects: capturing a variable again appends
					// (e.g. REFRESH_TOKENS from two sign-ins).
					vs = append([]string{prev}, vs...)
				}
				setupCaptured[name] = true
				cr.setVar(name, strings.Join(vs, ","))
			} else {
				cr.addFinding(Finding{Check: CheckCapture, Step: step, StepName: st.Name,
					Field: c.String(), Message: fmt.Sprintf("expected to capture %s from %s, but the response (status %d) does not carry it", name, c.String(), resp.Status)})
			}
		}
		rot.observe(cr, step, st.Name, o, resp)
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
			cr.addFinding(Finding{Check: CheckRotationReuse, Step: step, StepName: name,
				Message:  fmt.Sprintf("replaying refresh token %s, which step %d rotated away, succeeded with %d; a replayed token must be rejected with 401 and revoke its family (RFC 9700 section 4.14.2)", Fingerprint(t), away, resp.Status),
				Expected: "401", Got: fmt.Sprint(resp.Status)})
		case wasAway:
			if rot.reusedAt == 0 {
				rot.reusedAt = step
			}
			cr.note("step %d: replaying the rotated-away token %s was rejected with %d", step, Fingerprint(t), resp.Status)
		case wasIssued && rot.reusedAt > 0 && from <= rot.reusedAt && ok:
			cr.addFinding(Finding{Check: CheckRotationFamily, Step: step, StepName: name,
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
		cr.addFinding(Finding{Check: CheckRotationNotRotated, Step: step, StepName: name,
			Message: "a successful refresh did not issue a new refresh token; rotating refresh tokens lets the server detect replays (RFC 9700 section 4.14.2)"})
	default:
		for _, t := range sent {
			rot.rotatedAway[t] = step
		}
		rot.issued[next] = step
	}
}
