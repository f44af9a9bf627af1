package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/refreshmock/refreshmock/spec"
)

// neverIssued is a token no server issued, for cases that need a token
// but have no live one.
const neverIssued = "rt_conformance_never_issued_0000"

// withToken puts a token where the operation takes it: its first cookie
// parameter, else its first string body field.
func (r *runner) withToken(o *outRequest, tok string) {
	if len(r.tokenCookies) > 0 {
		o.Cookies = append(o.Cookies, &http.Cookie{Name: r.tokenCookies[0], Value: tok})
		return
	}
	r.withBodyToken(o, tok)
}

// withBodyToken puts a token in the operation's first string body field.
func (r *runner) withBodyToken(o *outRequest, tok string) {
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

func is2xx(s int) bool { return s >= 200 && s < 300 }

// precondition reports that a flow's token was not accepted where a live
// token must be, so the flow proved nothing.
func (cr *caseRun) precondition(step int, variable, what string, status int) {
	cr.addFinding(Finding{Check: CheckFlowPrecondition, Step: step, Field: variable, Expected: "2xx", Got: fmt.Sprint(status),
		Message:  fmt.Sprintf("%s: the token of %s was not accepted (status %d), so this flow proved nothing", what, variable, status),
		HowToFix: fmt.Sprintf("supply a live, unused refresh token: %s, or one more token in REFRESH_TOKENS (each case uses its own), or a --setup file that captures fresh tokens; a token is used up once it is refreshed (rotation)", variable)})
}

// confirmLive sends tok the documented way and reports flow-precondition
// unless it is accepted: after a flow's request was rejected, this tells a
// server that rightly refused from a token that was dead all along.
func (cr *caseRun) confirmLive(ctx context.Context, step int, variable, what, tok string) {
	r := cr.r
	o := r.baseRequest(r.op, false)
	r.withToken(o, tok)
	resp := cr.exchange(ctx, step, "the same token, sent the documented way", o, expectation{op: r.op, judge: func(int) (Finding, bool) { return Finding{}, false }})
	if resp != nil && !is2xx(resp.Status) {
		cr.precondition(step, variable, what, resp.Status)
	}
}

// flowCases are the built-in flows: a concurrent race, a token in the
// query string, an undocumented method and a token sent only in the body.
// Each needs a live token of its own and is skipped, naming the variable,
// without one.
func (r *runner) flowCases() []caseDef {
	op := r.op
	want := documented4xx(op)
	n := r.cfg.RaceRequests
	out := []caseDef{{
		id: "flow/race", kind: KindFlow, source: op.Pointer(), needs: []string{VarRace}, expects: []int{200},
		title: fmt.Sprintf("%d parallel refreshes with one token: exactly one succeeds, none fails with 5xx", n),
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
				case is2xx(s):
					ok = append(ok, fmt.Sprint(i+1))
				case s >= 500:
					cr.addFinding(Finding{Check: CheckServerError, Step: i + 1,
						Message: fmt.Sprintf("a parallel refresh failed with %d; concurrent use of one token must be answered with a 4xx (e.g. 401 or 409)", s),
						Got:     fmt.Sprint(s)})
				}
			}
			switch {
			case len(ok) > 1:
				cr.addFinding(Finding{Check: CheckRaceMultipleSuccess,
					Message:  fmt.Sprintf("%d of %d parallel refreshes with the same token succeeded (requests %s); at most one may, or a stolen token can be redeemed alongside the real one", len(ok), n, strings.Join(ok, ", ")),
					Expected: "at most 1 success", Got: fmt.Sprint(len(ok))})
			case len(ok) == 0 && !slices.Contains(statuses, 0):
				cr.precondition(0, VarRace, fmt.Sprintf("none of %d parallel refreshes succeeded (statuses %s)", n, statusWords(statuses)), statuses[0])
			}
			cr.note("%d of %d parallel refreshes succeeded", len(ok), n)
		},
	}}
	if len(want) > 0 {
		out = append(out, caseDef{
			id: "flow/query-token", kind: KindFlow, source: op.Pointer() + "/parameters", needs: []string{VarQuery},
			title: "a live token sent in the query string instead of a cookie or the body is not accepted",
			run: func(ctx context.Context, cr *caseRun) {
				tok, _ := cr.lookup(VarQuery)
				o := r.baseRequest(op, false)
				o.Query = url.Values{r.tokenParam(): {tok}}
				resp := cr.exchange(ctx, 1, "token in the query string", o, expectation{op: op, judge: flowJudge(want, CheckQueryTokenAccepted,
					"a token in the query string was accepted with %d; query strings end up in logs, histories and Referer headers, so the token must only be read from the cookie or the body")})
				if resp == nil || is2xx(resp.Status) {
					return
				}
				cr.confirmLive(ctx, 2, VarQuery, "after the query-string request was refused", tok)
			},
		})
	}
	method := undocumentedMethod(r.sp, op)
	out = append(out, caseDef{
		id: "flow/undocumented-method", kind: KindFlow, source: op.Pointer(), needs: []string{VarMethod},
		title: method + " " + op.Path + " with a live token, a method the spec does not document, does not succeed; a 405 says Allow",
		run: func(ctx context.Context, cr *caseRun) {
			tok, _ := cr.lookup(VarMethod)
			o := r.baseRequest(op, false)
			o.Method = method
			r.withToken(o, tok)
			if o.HasBody && method == http.MethodGet {
				o.Body, o.HasBody = nil, false
				o.Cookies = append(o.Cookies, &http.Cookie{Name: r.tokenParam(), Value: tok})
			}
			resp := cr.exchange(ctx, 1, method+" with a live token", o, expectation{skipSpec: true, judge: flowJudge(want, CheckUndocumentedMethodOK,
				"the undocumented method "+method+" succeeded with %d; only the documented "+op.Method+" may (answer 405 with Allow, or 404)")})
			if resp == nil {
				return
			}
			cr.undocumentedResponse(method, resp)
			if !is2xx(resp.Status) {
				cr.confirmLive(ctx, 2, VarMethod, "after the "+method+" request was refused", tok)
			}
		},
	})
	if len(r.tokenFields) > 0 {
		out = append(out, caseDef{
			id: "flow/body-token", kind: KindFlow, source: op.Pointer() + "/requestBody", needs: []string{VarBody}, expects: []int{200},
			title: "a live token sent only in the JSON body (" + r.tokenFields[0] + "), no cookie, is accepted",
			run: func(ctx context.Context, cr *caseRun) {
				tok, _ := cr.lookup(VarBody)
				o := r.baseRequest(op, false)
				r.withBodyToken(o, tok)
				resp := cr.exchange(ctx, 1, "token in the body only", o, expectation{op: op, judge: func(int) (Finding, bool) { return Finding{}, false }})
				if resp == nil || is2xx(resp.Status) {
					return
				}
				if len(r.tokenCookies) == 0 {
					cr.precondition(1, VarBody, "the body-only refresh was refused", resp.Status)
					return
				}
				c := r.baseRequest(op, false)
				r.withToken(c, tok)
				again := cr.exchange(ctx, 2, "the same token in the cookie", c, expectation{op: op, judge: func(int) (Finding, bool) { return Finding{}, false }})
				switch {
				case again == nil:
				case is2xx(again.Status):
					cr.addFinding(Finding{Check: CheckBodyTokenIgnored, Step: 1, Field: "$." + r.tokenFields[0], In: "body", Expected: "2xx", Got: fmt.Sprint(resp.Status),
						Message: fmt.Sprintf("a live token sent in the JSON body's %s was refused with %d, and the same token then succeeded in the cookie: the body field is ignored, which breaks clients that send no cookie", r.tokenFields[0], resp.Status)})
				default:
					cr.precondition(2, VarBody, "neither the body nor the cookie refresh was accepted", again.Status)
				}
			},
		})
	}
	return out
}

// flowJudge judges a flow's request that must not succeed: 2xx is check,
// 5xx is server-error, a documented 4xx or a 404/405 is fine.
func flowJudge(want []int, check, format string) func(int) (Finding, bool) {
	return func(status int) (Finding, bool) {
		f := Finding{Step: 1, Got: fmt.Sprint(status)}
		switch {
		case is2xx(status):
			f.Check, f.Message = check, fmt.Sprintf(format, status)
		case status >= 500:
			f.Check = CheckServerError
			f.Message = fmt.Sprintf("the server failed with %d on a request that is the client's fault; answer with a 4xx", status)
		default:
			return Finding{}, false
		}
		return f, true
	}
}

// undocumentedResponse checks the answer to an undocumented method: a 405
// carries Allow (RFC 9110 section 15.5.6), and a JSON error body follows
// the envelope (the code catalogue aside: the status is not documented).
func (cr *caseRun) undocumentedResponse(method string, resp *response) {
	op := cr.r.op
	if resp.Status == http.StatusMethodNotAllowed && len(resp.Header.Values("Allow")) == 0 {
		cr.addFinding(Finding{Check: CheckAllowMissing, Step: 1, Field: "Allow", In: "header", Expected: "Allow: " + op.Method, Got: "absent",
			Message: "the 405 answering " + method + " has no Allow header; RFC 9110 section 15.5.6 requires it to list the methods the resource supports"})
	}
	ct := resp.Header.Get("Content-Type")
	if resp.Status < 400 || !op.UsesEnvelope() || !spec.IsJSON(ct) {
		return
	}
	for _, v := range op.CheckEnvelope(resp.Status, ct, resp.Body) {
		if v.Rule == spec.RuleEnvelopeCode {
			continue
		}
		f := fromViolation(v)
		f.Step = 1
		cr.addFinding(f)
	}
}

// poolCase refreshes a leftover token of the pool once: its 200 is checked
// against the spec like any other, so that a pool of users of different
// kinds (with and without an organization) checks each kind's 200.
func (r *runner) poolCase(i int, tok string) caseDef {
	variable := fmt.Sprintf("REFRESH_TOKENS[%d]", i)
	return caseDef{
		id: fmt.Sprintf("pool/%d", i+1), kind: KindFlow, source: r.op.Pointer() + "/responses/200", expects: []int{200},
		title: fmt.Sprintf("pool token %d (%s) refreshes once with a 200 that matches the spec", i+1, Fingerprint(tok)),
		run: func(ctx context.Context, cr *caseRun) {
			o := r.baseRequest(r.op, false)
			r.withToken(o, tok)
			resp := cr.exchange(ctx, 1, "refresh", o, expectation{op: r.op, judge: func(int) (Finding, bool) { return Finding{}, false }})
			if resp != nil && !is2xx(resp.Status) {
				cr.precondition(1, variable, "a pool token was refused", resp.Status)
			}
		},
	}
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
