package mockserver

import (
	"net/http"
	"sync"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
)

// Entry is one request in the journal.
type Entry struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Operation string    `json:"operation,omitempty"`
	Status    int       `json:"status"`
	// Scenario is the chosen scenario, "example:<status>" for a spec
	// example, or empty when the mock answered by itself (validation,
	// routing).
	Scenario string `json:"scenario,omitempty"`
	// Rule is explicit, armed, match or default; or validation, routing,
	// select_error, cors or error when the mock answered by itself.
	Rule string `json:"rule"`
	Why  string `json:"why,omitempty"`
	// Rejected lists the nearest scenarios whose match rules did not hold.
	Rejected   []scenarios.Rejection `json:"rejected,omitempty"`
	TokenState string                `json:"token_state,omitempty"`
	Family     string                `json:"family,omitempty"`
	Session    string                `json:"session,omitempty"`
	Fault      string                `json:"fault,omitempty"`
	LatencyMS  float64               `json:"latency_ms"`
	// Headers and Body are the request's, filled when the journal is read
	// (see journalview.go for the cuts).
	Headers http.Header `json:"headers,omitempty"`
	Body    string      `json:"body,omitempty"`

	// explain computes Rejected when the journal is read.
	explain func() []scenarios.Rejection
	// reqHeaders and reqBody are kept for Headers and Body.
	reqHeaders http.Header
	reqBody    []byte
	// kept is the bytes of reqHeaders and reqBody (keepHeaders' count plus
	// the body's length), counted against the journal's byte budget;
	// dropped says the budget dropped them.
	kept    int
	dropped bool
}

// Journal bounds: --journal-size entries, and at most journalMaxBytes of
// request headers and bodies kept for them (a journal entry's own fields
// are small). Past the bytes budget the oldest entries lose their headers
// and body, and keep the rest.
const (
	MaxJournalSize  = 100_000
	journalMaxBytes = 16 << 20
)

// journal is a bounded ring of the last requests.
type journal struct {
	mu       sync.Mutex
	ring     []Entry
	next     int // index of the next write
	full     bool
	seq      uint64
	bytes    int    // kept bytes in the ring
	maxBytes int    // bound of bytes
	written  uint64 // entries written since the last reset
	trimmed  uint64 // entries up to this count (of written) have nothing kept
}

func newJournal(size int) *journal {
	return &journal{ring: make([]Entry, min(max(size, 1), MaxJournalSize)), maxBytes: journalMaxBytes}
}

func (j *journal) add(e Entry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Seq = j.seq
	j.bytes += e.kept - j.ring[j.next].kept
	j.ring[j.next] = e
	j.next++
	j.written++
	if j.next == len(j.ring) {
		j.next, j.full = 0, true
	}
	j.trim()
}

// trim drops the kept headers and bodies of the oldest entries until the
// ring is within its bytes budget. The newest entry keeps its own.
func (j *journal) trim() {
	n := uint64(len(j.ring))
	if j.written > n {
		j.trimmed = max(j.trimmed, j.written-n)
	}
	for j.bytes > j.maxBytes && j.trimmed+1 < j.written {
		e := &j.ring[j.trimmed%n]
		j.bytes -= e.kept
		e.reqHeaders, e.reqBody, e.kept, e.dropped = nil, nil, 0, true
		j.trimmed++
	}
}

// last returns up to n entries, oldest first.
func (j *journal) last(n int) []Entry {
	out := j.copyLast(n)
	for i := range out {
		if out[i].explain != nil {
			out[i].Rejected = out[i].explain()
		}
		out[i].view()
	}
	return out
}

// view fills Headers and Body from what the entry kept.
func (e *Entry) view() {
	if e.dropped {
		e.Body = droppedNote
		return
	}
	e.Headers, e.Body = viewRequest(e.reqHeaders, e.reqBody)
}

// droppedNote is the Body of an entry whose headers and body the journal's
// bytes budget dropped.
const droppedNote = "[headers and body dropped: the journal keeps at most 16 MiB of them, newest first]"

func (j *journal) copyLast(n int) []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	size := j.next
	if j.full {
		size = len(j.ring)
	}
	if n <= 0 || n > size {
		n = size
	}
	out := make([]Entry, 0, n)
	for i := size - n; i < size; i++ {
		idx := i
		if j.full {
			idx = (j.next + i) % len(j.ring)
		}
		out = append(out, j.ring[idx])
	}
	return out
}

func (j *journal) reset() {
	j.mu.Lock()
	defer j.mu.Unlock()
	clear(j.ring)
	j.next, j.full = 0, false
	j.bytes, j.written, j.trimmed = 0, 0, 0
}
