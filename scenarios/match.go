package scenarios

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/refreshmock/refreshmock/spec"
	"github.com/tidwall/gjson"
)

// Token states, as the mock's token store reports them for the presented
// refresh token. They are the values of TokenStates.
const (
	TokenValid   = "valid"
	TokenMissing = "missing"
	TokenExpired = "expired"
	TokenReused  = "reused"
	TokenInvalid = "invalid"
	TokenRevoked = "revoked"
)

// SelectedBy names the step of the selection order that chose a response.
type SelectedBy string

// The selection order, first to last.
const (
	// ByExplicit: the request named the scenario (X-Mock-Scenario,
	// Prefer: example=NAME) or a status (Prefer: code=N).
	ByExplicit SelectedBy = "explicit"
	// ByArmed: the scenario was armed through the control API.
	ByArmed SelectedBy = "armed"
	// ByMatch: the scenario's match rules held.
	ByMatch SelectedBy = "match"
	// ByDefault: nothing else applied; the operation's default scenario,
	// or the spec's example of its lowest 2xx response.
	ByDefault SelectedBy = "default"
)

// Explicit-selection headers.
const (
	HeaderScenario = "X-Mock-Scenario"
	HeaderPrefer   = "Prefer"
)

// MaxRejected bounds Selection.Rejections.
const MaxRejected = 3

// ErrSelect is wrapped by the errors Select returns for an explicit
// selection that cannot be honoured: an unknown scenario name, a scenario
// of another operation, or a Prefer the operation cannot satisfy.
var ErrSelect = errors.New("cannot select")

// Query is what Select decides on.
type Query struct {
	// Operation is the operationId the request routed to.
	Operation string
	Request   *RequestData
	// Token is the state of the presented refresh token (one of
	// TokenStates) as the mock's token store sees it.
	Token string
	// Armed returns a scenario armed for this request, or nil. Select calls
	// it only when the request makes no explicit selection, so an armed
	// scenario is not used up by a request that names another one. It may be
	// nil.
	Armed func() *Scenario
}

// Selection is the outcome of Select.
type Selection struct {
	// Scenario is the chosen scenario; nil when Example is set.
	Scenario *Scenario
	// Example is the documented status whose spec example answers, when no
	// scenario applies (an operation without scenarios, or Prefer: code=N
	// for a status no scenario scripts).
	Example int
	By      SelectedBy
	// Why says in words why that step of the order chose it.
	Why string

	// nearest are the rejected scenarios that came closest to holding,
	// nearest first; Rejections explains them on demand, so that the
	// reasons cost nothing unless someone reads them.
	nearest  [MaxRejected]candidate
	nRejects int
	q        Query
	// pool is the operation's scenarios in match order, which Rejections
	// ranks by closeness (nearest.go); nil for an explicit selection.
	pool []*Scenario
}

// candidate is a scenario whose match rules did not hold.
type candidate struct {
	sc       *Scenario
	held, of int
}

// offer keeps c among the nearest rejections: the most conditions held,
// then the fewest evaluated, then match order.
func (s *Selection) offer(c candidate) {
	i := s.nRejects
	for i > 0 {
		p := s.nearest[i-1]
		if c.held > p.held || (c.held == p.held && c.of < p.of) {
			i--
			continue
		}
		break
	}
	if i >= MaxRejected {
		return
	}
	end := min(s.nRejects, MaxRejected-1)
	copy(s.nearest[i+1:end+1], s.nearest[i:end])
	s.nearest[i] = c
	s.nRejects = min(s.nRejects+1, MaxRejected)
}

// Rejections lists the nearest scenarios whose match rules did not hold,
// with the reason, nearest first (at most MaxRejected). It evaluates
// their rules again to say why, so call it only when the answer is
// wanted (for the journal).
func (s Selection) Rejections() []Rejection {
	if s.nRejects == 0 {
		return nil
	}
	if s.pool != nil {
		return nearestRejections(s.pool, s.Scenario, s.q)
	}
	out := make([]Rejection, s.nRejects)
	for i, c := range s.nearest[:s.nRejects] {
		out[i] = Rejection{Scenario: c.sc.Name, Held: c.held, Of: c.of, Reason: c.sc.Match.eval(s.q.Request, s.q.Token, true, nil).Reason}
	}
	return out
}

// NearMisses is how many rejected scenarios Rejections would explain
// (0 for an explicit or armed selection), without explaining them.
func (s Selection) NearMisses() int { return s.nRejects }

// Name is the chosen scenario's name, or "example:<status>".
func (s Selection) Name() string {
	if s.Scenario != nil {
		return s.Scenario.Name
	}
	return "example:" + strconv.Itoa(s.Example)
}

// Rejection is a scenario whose match rules did not hold.
type Rejection struct {
	Scenario string `json:"scenario"`
	Reason   string `json:"reason"`
	// Held and Of count the conditions that held out of those evaluated.
	Held int `json:"held"`
	Of   int `json:"of"`
}

// Selector picks scenarios from a Set. It precomputes the match order of
// every operation and is immutable, so it is safe for concurrent use.
type Selector struct {
	set      *Set
	ordered  map[string][]*Scenario // per operation: match order
	defaults map[string]*Scenario
	why      map[*Scenario]string // the Why of a match
	// whyCode holds the Why of Prefer: code=N for each status a scenario
	// answers: [0] when its match rules hold, [1] when none do.
	whyCode map[int][2]string
}

// NewSelector prepares set for selection.
func NewSelector(set *Set) *Selector {
	sel := &Selector{set: set, ordered: map[string][]*Scenario{}, defaults: map[string]*Scenario{}, why: map[*Scenario]string{}, whyCode: map[int][2]string{}}
	for _, sc := range set.All() {
		if code := sc.Response.Status; sel.whyCode[code][0] == "" {
			sel.whyCode[code] = [2]string{
				fmt.Sprintf("Prefer: code=%d; the first scenario with that status whose match rules hold", code),
				fmt.Sprintf("Prefer: code=%d; the first scenario with that status", code),
			}
		}
		sel.ordered[sc.Operation] = append(sel.ordered[sc.Operation], sc)
		if sc.Default && sel.defaults[sc.Operation] == nil {
			sel.defaults[sc.Operation] = sc
		}
		if sc.Match != nil {
			sel.why[sc] = "match rules held: " + sc.Match.String()
		}
	}
	for _, list := range sel.ordered {
		sortByPrecedence(list)
	}
	return sel
}

// Set returns the set the selector chooses from.
func (sel *Selector) Set() *Set { return sel.set }

// Ordered returns the operation's scenarios in match order: higher
// priority first, then more conditions, then load order.
func (sel *Selector) Ordered(opID string) []*Scenario { return sel.ordered[opID] }

// sortByPrecedence orders scenarios as the match step tries them. The sort
// is stable, so load order breaks the remaining ties.
func sortByPrecedence(list []*Scenario) {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.Match.Conditions() > b.Match.Conditions()
	})
}

// Select chooses the response for one request, in this order: explicit
// (X-Mock-Scenario, Prefer: example=NAME, Prefer: code=N), armed, match
// rules, default. It returns an error wrapping ErrSelect when the request
// asks for something that does not exist; the message lists what does.
func (sel *Selector) Select(q Query) (Selection, error) {
	var header http.Header
	if q.Request != nil {
		header = q.Request.Headers
	}
	name, code, hasCode, err := explicit(header)
	if err != nil {
		return Selection{}, err
	}
	if name != "" {
		return sel.byName(q, name, code, hasCode)
	}
	if hasCode {
		return sel.byCode(q, code)
	}
	if q.Armed != nil {
		if sc := q.Armed(); sc != nil {
			return Selection{Scenario: sc, By: ByArmed, Why: "armed through the control API"}, nil
		}
	}
	out := Selection{q: Query{Operation: q.Operation, Request: q.Request, Token: q.Token}, pool: sel.ordered[q.Operation]}
	var cache bodyCache
	for _, sc := range sel.ordered[q.Operation] {
		if sc.Match == nil {
			continue
		}
		r := sc.Match.eval(q.Request, q.Token, false, &cache)
		if r.OK {
			out.Scenario, out.By, out.Why = sc, ByMatch, sel.why[sc]
			return out, nil
		}
		out.offer(candidate{sc: sc, held: r.Held, of: r.Of})
	}
	if sc := sel.defaults[q.Operation]; sc != nil {
		out.Scenario, out.By, out.Why = sc, ByDefault, "no match rule held; the operation's default scenario"
		return out, nil
	}
	op, ok := sel.set.Spec().Operation(q.Operation)
	if !ok {
		return Selection{}, fmt.Errorf("%w: operation %q is not in the spec", ErrSelect, q.Operation)
	}
	status := lowest2xx(op)
	if status == 0 {
		return Selection{}, fmt.Errorf("%w: operation %s has no scenario that applies and documents no 2xx response", ErrSelect, op.ID)
	}
	out.Example, out.By, out.Why = status, ByDefault, fmt.Sprintf("no scenario applies; the spec's example of %d", status)
	return out, nil
}

func (sel *Selector) byName(q Query, name string, code int, hasCode bool) (Selection, error) {
	sc, ok := sel.set.Get(name)
	if !ok {
		return Selection{}, fmt.Errorf("%w: unknown scenario %q%s; scenarios of %s: %s", ErrSelect, name,
			suggest(name, sel.set.Names()), q.Operation, strings.Join(sel.names(q.Operation), ", "))
	}
	if sc.Operation != q.Operation {
		return Selection{}, fmt.Errorf("%w: scenario %q belongs to operation %s, not %s; scenarios of %s: %s", ErrSelect, name,
			sc.Operation, q.Operation, q.Operation, strings.Join(sel.names(q.Operation), ", "))
	}
	if hasCode && sc.Response.Status != code {
		return Selection{}, fmt.Errorf("%w: Prefer asks for code=%d but scenario %q answers %d", ErrSelect, code, name, sc.Response.Status)
	}
	return Selection{Scenario: sc, By: ByExplicit, Why: "named by the request"}, nil
}

func (sel *Selector) byCode(q Query, code int) (Selection, error) {
	var first *Scenario
	var cache bodyCache // on the stack: the body's values, read once for every scenario
	for _, sc := range sel.ordered[q.Operation] {
		if sc.Response.Status != code {
			continue
		}
		if sc.Match == nil || sc.Match.eval(q.Request, q.Token, false, &cache).OK {
			return Selection{Scenario: sc, By: ByExplicit, Why: sel.whyCode[code][0]}, nil
		}
		if first == nil {
			first = sc
		}
	}
	if first != nil {
		return Selection{Scenario: first, By: ByExplicit, Why: sel.whyCode[code][1]}, nil
	}
	op, ok := sel.set.Spec().Operation(q.Operation)
	if ok && op.Documents(code) {
		return Selection{Example: code, By: ByExplicit, Why: fmt.Sprintf("Prefer: code=%d; no scenario scripts it, the spec's example", code)}, nil
	}
	var docs []string
	if ok {
		for _, s := range op.Statuses() {
			docs = append(docs, strconv.Itoa(s))
		}
	}
	return Selection{}, fmt.Errorf("%w: Prefer: code=%d is not documented for %s (documented: %s); scenarios of %s: %s", ErrSelect, code,
		q.Operation, strings.Join(docs, ", "), q.Operation, strings.Join(sel.names(q.Operation), ", "))
}

func (sel *Selector) names(opID string) []string {
	var out []string
	for _, sc := range sel.set.All() {
		if sc.Operation == opID {
			out = append(out, sc.Name)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return []string{"(none)"}
	}
	return out
}

func lowest2xx(op *spec.Operation) int {
	for _, s := range op.Statuses() {
		if s >= 200 && s < 300 {
			return s
		}
	}
	return 0
}

// explicit reads X-Mock-Scenario and Prefer. Prefer takes comma- or
// semicolon-separated preferences; code=N and example=NAME are used, others
// (such as Prism's dynamic=true) are ignored.
func explicit(h http.Header) (name string, code int, hasCode bool, err error) {
	if h == nil {
		return "", 0, false, nil
	}
	name = strings.TrimSpace(h.Get(HeaderScenario))
	var example string
	for _, v := range h.Values(HeaderPrefer) {
		for part := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ',' || r == ';' }) {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				continue
			}
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "code":
				n, convErr := strconv.Atoi(val)
				if convErr != nil || n < 100 || n > 599 {
					return "", 0, false, fmt.Errorf("%w: Prefer: code=%q is not an HTTP status", ErrSelect, val)
				}
				code, hasCode = n, true
			case "example":
				example = val
			}
		}
	}
	if name != "" && example != "" && name != example {
		return "", 0, false, fmt.Errorf("%w: %s names %q but Prefer: example names %q", ErrSelect, HeaderScenario, name, example)
	}
	if name == "" {
		name = example
	}
	return name, code, hasCode, nil
}

// EvalResult is the outcome of evaluating match rules.
type EvalResult struct {
	OK bool
	// Held and Of count the conditions that held out of those evaluated
	// (for Any, those of its nearest alternative).
	Held, Of int
	// Reason names the first condition that did not hold.
	Reason string
}

// Eval evaluates the match rules against a request and the state of its
// refresh token. All conditions must hold; when Any is set, at least one
// alternative must hold as well. A nil Match never holds: such a scenario
// is only chosen by name, by Prefer or as the default.
func (m *Match) Eval(req *RequestData, token string) EvalResult {
	return m.eval(req, token, true, nil)
}

// eval evaluates the rules; with explain false it leaves Reason empty and
// allocates nothing on the way, for the selection's first pass.
func (m *Match) eval(req *RequestData, token string, explain bool, cache *bodyCache) EvalResult {
	if m == nil {
		return EvalResult{Reason: "no match rules"}
	}
	if req == nil {
		req = &RequestData{}
	}
	if cache == nil {
		cache = &bodyCache{}
	}
	// The cache is not a field of e: escape analysis would let it leak
	// with e.req, which the lookups take, and move every caller's to the
	// heap.
	e := evaluator{req: req, explain: explain}
	if m.Token != "" {
		e.res.Of++
		if m.Token == token {
			e.res.Held++
		} else {
			e.fail(func() string { return fmt.Sprintf("token: state is %s, want %s", orNone(token), m.Token) })
		}
	}
	e.group("cookies", m.Cookies, lookupCookie)
	e.group("headers", m.Headers, lookupHeader)
	e.group("query", m.Query, lookupQuery)
	e.group("body", m.Body, cache.lookup)
	if len(m.Any) > 0 {
		best, bestIdx := EvalResult{Held: -1}, 0
		found := false
		for i := range m.Any {
			r := m.Any[i].eval(req, token, false, cache)
			if r.OK {
				best, found = r, true
				break
			}
			if r.Held > best.Held || (r.Held == best.Held && r.Of < best.Of) {
				best, bestIdx = r, i
			}
		}
		e.res.Held += max(best.Held, 0)
		e.res.Of += best.Of
		if !found {
			e.fail(func() string {
				return fmt.Sprintf("any: none of %d alternatives held; nearest: %s", len(m.Any), m.Any[bestIdx].eval(req, token, true, cache).Reason)
			})
		}
	}
	e.res.OK = !e.failed
	return e.res
}

// evaluator accumulates one evaluation.
type evaluator struct {
	req     *RequestData
	explain bool
	failed  bool
	res     EvalResult
}

// bodyCache remembers the JSON body's values at a few gjson paths during
// one selection, so that scenarios testing the same path (every test
// token looks at refresh_token) parse the body once.
type bodyCache struct {
	n       int
	paths   [4]string
	vals    [4]string
	present [4]bool
}

func (c *bodyCache) lookup(req *RequestData, path string) (string, bool) {
	for i := range c.n {
		if c.paths[i] == path {
			return c.vals[i], c.present[i]
		}
	}
	v, ok := lookupBody(req, path)
	if c.n < len(c.paths) {
		c.paths[c.n], c.vals[c.n], c.present[c.n] = path, v, ok
		c.n++
	}
	return v, ok
}

func (e *evaluator) fail(reason func() string) {
	if !e.failed && e.explain {
		e.res.Reason = reason()
	}
	e.failed = true
}

type lookupFunc func(req *RequestData, name string) (string, bool)

func (e *evaluator) group(group string, conds map[string]Condition, lookup lookupFunc) {
	if len(conds) == 0 {
		return
	}
	if !e.explain {
		// Counts do not depend on the order; skip sorting.
		for name, c := range conds {
			e.res.Of++
			if val, present := lookup(e.req, name); c.holds(val, present) {
				e.res.Held++
			} else {
				e.failed = true
			}
		}
		return
	}
	for _, name := range sortedKeys(conds) {
		c := conds[name]
		e.res.Of++
		val, present := lookup(e.req, name)
		if c.holds(val, present) {
			e.res.Held++
			continue
		}
		e.fail(func() string {
			_, why := c.Test(val, present)
			return group + "." + name + ": " + why
		})
	}
}

func lookupCookie(req *RequestData, name string) (string, bool) {
	v, ok := req.Cookies[name]
	return v, ok
}

func lookupHeader(req *RequestData, name string) (string, bool) {
	vals := req.Headers.Values(name)
	if len(vals) == 1 {
		return vals[0], true
	}
	return strings.Join(vals, ", "), len(vals) > 0
}

func lookupQuery(req *RequestData, name string) (string, bool) {
	vals, ok := req.Query[name]
	if len(vals) == 1 {
		return vals[0], true
	}
	return strings.Join(vals, ","), ok
}

func lookupBody(req *RequestData, path string) (string, bool) {
	if len(req.Body) == 0 {
		return "", false
	}
	r := gjson.GetBytes(req.Body, path)
	return r.String(), r.Exists()
}

// Conditions counts the conditions the match rules require: the direct
// ones plus, for Any, those of its smallest alternative. The match order
// prefers scenarios with more conditions.
func (m *Match) Conditions() int {
	if m == nil {
		return 0
	}
	n := len(m.Cookies) + len(m.Headers) + len(m.Query) + len(m.Body)
	if m.Token != "" {
		n++
	}
	if len(m.Any) > 0 {
		least := -1
		for i := range m.Any {
			if c := m.Any[i].Conditions(); least < 0 || c < least {
				least = c
			}
		}
		n += least
	}
	return n
}

// String renders the match rules compactly, e.g.
// `token=valid` or `any(cookies.refresh_token=rt_x | body.refresh_token=rt_x)`.
func (m *Match) String() string {
	if m == nil {
		return ""
	}
	var parts []string
	if m.Token != "" {
		parts = append(parts, "token="+m.Token)
	}
	for _, g := range []struct {
		name  string
		conds map[string]Condition
	}{{"cookies", m.Cookies}, {"headers", m.Headers}, {"query", m.Query}, {"body", m.Body}} {
		for _, k := range sortedKeys(g.conds) {
			parts = append(parts, g.name+"."+k+g.conds[k].String())
		}
	}
	if len(m.Any) > 0 {
		alts := make([]string, len(m.Any))
		for i := range m.Any {
			alts[i] = m.Any[i].String()
		}
		parts = append(parts, "any("+strings.Join(alts, " | ")+")")
	}
	return strings.Join(parts, " ")
}

// holds is Test without the explanation.
func (c *Condition) holds(value string, present bool) bool {
	if c.Op == "present" {
		return present == (c.Operand == "true")
	}
	return present && (c.test == nil || c.test(value))
}

// Test applies the condition to a value; present says whether the value
// was sent at all. When it does not hold, why says what was found.
func (c Condition) Test(value string, present bool) (ok bool, why string) {
	if c.holds(value, present) {
		return true, ""
	}
	switch {
	case c.Op == "present" && present:
		return false, "present, want absent"
	case c.Op == "present":
		return false, "absent, want present"
	case !present:
		return false, "absent, want " + c.want()
	}
	return false, fmt.Sprintf("got %q, want %s", spec.Shorten(value, 60), c.want())
}

func (c Condition) want() string {
	if c.Op == "equals" {
		return strconv.Quote(c.Operand)
	}
	return strings.TrimSpace(c.String())
}

// String renders the condition as an operator and operand, e.g. `="x"`.
func (c Condition) String() string {
	if c.op == nil {
		return ""
	}
	return c.op.explain(c.Operand)
}

func orNone(s string) string {
	if s == "" {
		return "(not given)"
	}
	return s
}

func sortedKeys(m map[string]Condition) []string {
	if len(m) == 0 {
		return nil
	}
	if len(m) == 1 {
		for k := range m {
			return []string{k}
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
