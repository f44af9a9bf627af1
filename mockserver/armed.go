package mockserver

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
)

// Armed queue bounds.
const (
	maxArmed = 1_000
	maxCount = 1_000_000 // per armed entry
	// maxSession bounds an armed entry's session key (a header or cookie
	// value, a family id or a refresh token).
	maxSession = 256
	// An armed entry expires defaultArmTTL after arming (wall-clock time,
	// not the mock clock), or after the ttl given, at most maxArmTTL.
	defaultArmTTL = 10 * time.Minute
	maxArmTTL     = 24 * time.Hour
	// maxSeenSessions bounds the sessions remembered from requests'
	// X-Mock-Session headers and mock_session cookies; the least recently
	// seen goes first.
	maxSeenSessions = 64
)

// errArm is wrapped by arming errors the control API reports as 400.
var errArm = errors.New("cannot arm")

// armedEntry is a scenario queued for the next Remaining requests of its
// operation (of one session when Session is set) until ExpiresAt.
type armedEntry struct {
	ID        int    `json:"id"`
	Scenario  string `json:"scenario"`
	Operation string `json:"operation"`
	Remaining int    `json:"remaining"`
	Session   string `json:"session,omitempty"`
	// AppliesTo is "everyone" or the session.
	AppliesTo string    `json:"applies_to"`
	ArmedAt   time.Time `json:"armed_at"`
	// ExpiresAt is wall-clock time: advancing the mock clock does not
	// expire armed entries.
	ExpiresAt time.Time `json:"expires_at"`
}

// everyone is the AppliesTo of an entry armed without a session.
const everyone = "everyone"

// seenSession is a session a request carried in its X-Mock-Session header
// or mock_session cookie.
type seenSession struct {
	Session  string    `json:"session"`
	LastSeen time.Time `json:"last_seen"`
	Requests int       `json:"requests"`
}

// armedQueue is the scenarios armed through the control API, in arming
// order, and the sessions requests carried lately. It is bounded
// (maxArmed entries, maxSeenSessions sessions) and has its own mutex: the
// store's mutex may be held while it is taken (reset, counts), never the
// other way round.
type armedQueue struct {
	mu      sync.Mutex
	entries []*armedEntry
	seq     int
	seen    map[string]*seenSession
}

func (q *armedQueue) reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.entries = nil
	clear(q.seen)
}

// pruneLocked drops the entries expired at now.
func (q *armedQueue) pruneLocked(now time.Time) {
	q.entries = slices.DeleteFunc(q.entries, func(e *armedEntry) bool { return !now.Before(e.ExpiresAt) })
}

// len counts the entries, expired ones included until the next arm, list
// or pop drops them.
func (q *armedQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries)
}

// sawSessions remembers the sessions a request carried in its
// X-Mock-Session header and mock_session cookie (sessions other than its
// family), so that an arm for a session no request carried can say so.
// Sessions longer than maxSession, which cannot be armed, are not
// remembered.
func (st *store) sawSessions(sessions []string, family string) {
	explicit := false
	for _, v := range sessions {
		explicit = explicit || (v != family && len(v) <= maxSession)
	}
	if !explicit {
		return
	}
	now := st.realNow()
	q := &st.armed
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, v := range sessions {
		if v == family || len(v) > maxSession {
			continue
		}
		if e, ok := q.seen[v]; ok {
			e.LastSeen = now
			e.Requests++
			continue
		}
		if q.seen == nil {
			q.seen = map[string]*seenSession{}
		}
		if len(q.seen) >= maxSeenSessions {
			var oldest *seenSession
			for _, e := range q.seen {
				if oldest == nil || e.LastSeen.Before(oldest.LastSeen) {
					oldest = e
				}
			}
			delete(q.seen, oldest.Session)
		}
		q.seen[v] = &seenSession{Session: v, LastSeen: now, Requests: 1}
	}
}

// sessionsSeen lists the remembered sessions, the most recent first.
func (st *store) sessionsSeen() []seenSession {
	q := &st.armed
	q.mu.Lock()
	out := make([]seenSession, 0, len(q.seen))
	for _, e := range q.seen {
		out = append(out, *e)
	}
	q.mu.Unlock()
	slices.SortFunc(out, func(a, b seenSession) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.Session, b.Session)
	})
	return out
}

// armOptions are the optional parts of an arm.
type armOptions struct {
	count   int           // at least 1
	session string        // empty: everyone
	ttl     time.Duration // 0: defaultArmTTL
}

// arm queues a scenario for the next count requests of its operation
// (of one session when given) until its ttl passes.
func (st *store) arm(sc *scenarios.Scenario, o armOptions) (armedEntry, error) {
	if o.count < 1 || o.count > maxCount {
		return armedEntry{}, fmt.Errorf("%w: count %d is out of range; use 1 to %d (or leave it out for 1)", errArm, o.count, maxCount)
	}
	if o.ttl == 0 {
		o.ttl = defaultArmTTL
	}
	if o.ttl < time.Second || o.ttl > maxArmTTL {
		return armedEntry{}, fmt.Errorf("%w: ttl %s is out of range; use 1s to %s (or leave it out for %s)", errArm, o.ttl, fmtDuration(maxArmTTL), fmtDuration(defaultArmTTL))
	}
	session := strings.TrimSpace(o.session)
	if len(session) > maxSession {
		return armedEntry{}, fmt.Errorf("%w: the session is %d bytes long; use at most %d", errArm, len(session), maxSession)
	}
	applies := everyone
	if session != "" {
		session = st.sessionOf(session)
		applies = session
	}
	now := st.realNow()
	q := &st.armed
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pruneLocked(now)
	if len(q.entries) >= maxArmed {
		return armedEntry{}, fmt.Errorf("%w: %d entries are already armed; reset or disarm first", errArm, maxArmed)
	}
	q.seq++
	e := &armedEntry{ID: q.seq, Scenario: sc.Name, Operation: sc.Operation, Remaining: o.count, Session: session,
		AppliesTo: applies, ArmedAt: now, ExpiresAt: now.Add(o.ttl)}
	q.entries = append(q.entries, e)
	return *e, nil
}

// sessionSeen reports whether a request carried session lately.
func (st *store) sessionSeen(session string) bool {
	q := &st.armed
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.seen[session]
	return ok
}

// fmtDuration formats d without trailing zero units: 10m, 24h, 1h30m.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// armedList lists the entries not expired, in arming order.
func (st *store) armedList() []armedEntry {
	now := st.realNow()
	q := &st.armed
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pruneLocked(now)
	out := make([]armedEntry, len(q.entries))
	for i, e := range q.entries {
		out[i] = *e
	}
	return out
}

// disarm drops every entry and says how many.
func (st *store) disarm() int { return st.disarmWhere(nil) }

// disarmWhere drops the entries drop selects (nil: all) and says how many.
func (st *store) disarmWhere(drop func(*armedEntry) bool) int {
	q := &st.armed
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.entries)
	if drop == nil {
		q.entries = nil
		return n
	}
	q.entries = slices.DeleteFunc(q.entries, drop)
	return n - len(q.entries)
}

// popArmed takes one use of the first entry armed for the operation and
// one of the request's sessions; entries scoped to a session go before
// global ones. lookup resolves the name in the current set: an entry whose
// scenario a reload removed is dropped, as are expired entries.
func (st *store) popArmed(op string, sessions []string, lookup func(string) (*scenarios.Scenario, bool)) *scenarios.Scenario {
	q := &st.armed
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.entries) == 0 {
		return nil
	}
	q.pruneLocked(st.realNow())
	pick := -1
	for i, e := range q.entries {
		if e.Operation != op {
			continue
		}
		if e.Session != "" && slices.Contains(sessions, e.Session) {
			pick = i
			break
		}
		if e.Session == "" && pick < 0 {
			pick = i
		}
	}
	for pick >= 0 {
		e := q.entries[pick]
		sc, ok := lookup(e.Scenario)
		e.Remaining--
		if e.Remaining <= 0 || !ok {
			q.entries = slices.Delete(q.entries, pick, pick+1)
		}
		if ok {
			return sc
		}
		pick = -1
		for i, e := range q.entries {
			if e.Operation == op && (e.Session == "" || slices.Contains(sessions, e.Session)) {
				pick = i
				break
			}
		}
	}
	return nil
}
