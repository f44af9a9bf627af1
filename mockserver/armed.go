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
)

// errArm is wrapped by arming errors the control API reports as 400.
var errArm = errors.New("cannot arm")

// armedEntry is a scenario queued for the next Remaining requests of its
// operation (of one session when Session is set).
type armedEntry struct {
	ID        int       `json:"id"`
	Scenario  string    `json:"scenario"`
	Operation string    `json:"operation"`
	Remaining int       `json:"remaining"`
	Session   string    `json:"session,omitempty"`
	ArmedAt   time.Time `json:"armed_at"`
}

// armedQueue is the scenarios armed through the control API, in arming
// order. It is bounded (maxArmed entries) and has its own mutex: the
// store's mutex may be held while it is taken (reset, counts), never the
// other way round.
type armedQueue struct {
	mu      sync.Mutex
	entries []*armedEntry
	seq     int
}

func (q *armedQueue) reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.entries = nil
}

func (q *armedQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries)
}

// arm queues a scenario for the next count requests of its operation.
func (st *store) arm(sc *scenarios.Scenario, count int, session string) (armedEntry, error) {
	if count < 1 || count > maxCount {
		return armedEntry{}, fmt.Errorf("%w: count %d is out of range; use 1 to %d", errArm, count, maxCount)
	}
	session = strings.TrimSpace(session)
	if len(session) > maxSession {
		return armedEntry{}, fmt.Errorf("%w: the session is %d bytes long; use at most %d", errArm, len(session), maxSession)
	}
	if session != "" {
		session = st.sessionOf(session)
	}
	at := st.now()
	q := &st.armed
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.entries) >= maxArmed {
		return armedEntry{}, fmt.Errorf("%w: %d entries are already armed; reset or disarm first", errArm, maxArmed)
	}
	q.seq++
	e := &armedEntry{ID: q.seq, Scenario: sc.Name, Operation: sc.Operation, Remaining: count, Session: session, ArmedAt: at}
	q.entries = append(q.entries, e)
	return *e, nil
}

func (st *store) armedList() []armedEntry {
	q := &st.armed
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]armedEntry, len(q.entries))
	for i, e := range q.entries {
		out[i] = *e
	}
	return out
}

func (st *store) disarm() int {
	q := &st.armed
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.entries)
	q.entries = nil
	return n
}

// popArmed takes one use of the first entry armed for the operation and
// one of the request's sessions; entries scoped to a session go before
// global ones. lookup resolves the name in the current set: an entry whose
// scenario a reload removed is dropped.
func (st *store) popArmed(op string, sessions []string, lookup func(string) (*scenarios.Scenario, bool)) *scenarios.Scenario {
	q := &st.armed
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.entries) == 0 {
		return nil
	}
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
