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
}

// journal is a bounded ring of the last requests.
type journal struct {
	mu   sync.Mutex
	ring []Entry
	next int // index of the next write
	full bool
	seq  uint64
}

func newJournal(size int) *journal {
	return &journal{ring: make([]Entry, max(size, 1))}
}

func (j *journal) add(e Entry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Seq = j.seq
	j.ring[j.next] = e
	j.next++
	if j.next == len(j.ring) {
		j.next, j.full = 0, true
	}
}

// last returns up to n entries, oldest first.
func (j *journal) last(n int) []Entry {
	out := j.copyLast(n)
	for i := range out {
		if out[i].explain != nil {
			out[i].Rejected = out[i].explain()
		}
		out[i].Headers, out[i].Body = viewRequest(out[i].reqHeaders, out[i].reqBody)
	}
	return out
}

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
}
