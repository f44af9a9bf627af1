package scenarios

import (
	"cmp"
	"slices"
)

// maxDistanceInput bounds the bytes of a value and a wanted literal that
// the edit distance (decode.go's) compares: a header may be 64 KiB long.
const maxDistanceInput = 256

// nearestRejections ranks the scenarios of pool (an operation's, in match
// order) whose match rules did not hold for q by how close each came: the
// most conditions held, then the smallest edit distance between a failing
// condition's value and the literal it wants (a mistyped test token
// rt_test_426_upgrad puts upgrade-required first), then the fewest
// conditions, then match order. It explains the first MaxRejected. It runs
// when the journal is read, not per request.
func nearestRejections(pool []*Scenario, chosen *Scenario, q Query) []Rejection {
	type near struct {
		sc         *Scenario
		held, of   int
		dist, rank int
	}
	var cands []near
	cache := &bodyCache{}
	for i, sc := range pool {
		if sc.Match == nil || sc == chosen {
			continue
		}
		r := sc.Match.eval(q.Request, q.Token, false, cache)
		if r.OK {
			continue // it holds too, but an earlier scenario was chosen
		}
		d := sc.Match.distance(q.Request, cache)
		if d < 0 {
			d = int(^uint(0) >> 1) // no literal to compare: last among equals
		}
		cands = append(cands, near{sc: sc, held: r.Held, of: r.Of, dist: d, rank: i})
	}
	slices.SortFunc(cands, func(a, b near) int {
		return cmp.Or(cmp.Compare(b.held, a.held), cmp.Compare(a.dist, b.dist), cmp.Compare(a.of, b.of), cmp.Compare(a.rank, b.rank))
	})
	cands = cands[:min(len(cands), MaxRejected)]
	out := make([]Rejection, len(cands))
	for i, c := range cands {
		out[i] = Rejection{Scenario: c.sc.Name, Held: c.held, Of: c.of, Reason: c.sc.Match.eval(q.Request, q.Token, true, cache).Reason}
	}
	return out
}

// distance is the smallest edit distance between the value of a failing
// condition and the literal it wants (equals, prefix or contains), over
// the rules and their alternatives; -1 when no failing condition has both
// a value sent and a literal wanted.
func (m *Match) distance(req *RequestData, cache *bodyCache) int {
	if req == nil {
		req = &RequestData{}
	}
	best := -1
	keep := func(d int) {
		if d >= 0 && (best < 0 || d < best) {
			best = d
		}
	}
	for _, g := range []struct {
		conds  map[string]Condition
		lookup lookupFunc
	}{{m.Cookies, lookupCookie}, {m.Headers, lookupHeader}, {m.Query, lookupQuery}, {m.Body, cache.lookup}} {
		for name, c := range g.conds {
			v, present := g.lookup(req, name)
			if c.holds(v, present) {
				continue
			}
			// An absent value is not near anything: only a value sent
			// can be a typo of the one wanted.
			if want, ok := c.literal(); ok && present {
				keep(EditDistance(v[:min(len(v), maxDistanceInput)], want[:min(len(want), maxDistanceInput)]))
			}
		}
	}
	for i := range m.Any {
		keep(m.Any[i].distance(req, cache))
	}
	return best
}

// literal is the text a condition wants, when it wants one.
func (c *Condition) literal() (string, bool) {
	switch c.Op {
	case "equals", "prefix", "contains":
		return c.Operand, true
	}
	return "", false
}
