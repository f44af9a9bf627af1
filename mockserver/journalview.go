package mockserver

import (
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// What the journal keeps of a request's headers and body, for the panel
// and GET /__mock/journal. The journal keeps references to the request's
// own header map and body (no copy per request) unless they are large,
// when it keeps a cut copy.
const (
	journalBodyMax    = 4 << 10  // body bytes kept
	journalValueMax   = 1 << 10  // bytes kept of one header value
	journalHeadersMax = 16 << 10 // header bytes kept as they are
)

// keepBody returns what the journal keeps of a request body: the body
// itself, or a copy of its first journalBodyMax bytes (a slice of it would
// keep the whole body alive).
func keepBody(b []byte) []byte {
	if len(b) <= journalBodyMax {
		return b
	}
	return append([]byte(nil), b[:journalBodyMax]...)
}

// keepHeaders returns what the journal keeps of request headers, and its
// size in bytes (names and values): the map itself when it is small
// (net/http makes a new one per request and never changes it after the
// handler returns), else a copy with every value cut at journalValueMax
// bytes and at most journalHeadersMax bytes in all.
func keepHeaders(h http.Header) (http.Header, int) {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	if n <= journalHeadersMax {
		return h, n
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(http.Header, len(h))
	left := journalHeadersMax
	for _, k := range keys {
		for _, v := range h[k] {
			v = cutText(v, journalValueMax)
			if left < len(k)+len(v) {
				return out, journalHeadersMax - left
			}
			left -= len(k) + len(v)
			out[k] = append(out[k], v)
		}
	}
	return out, journalHeadersMax - left
}

// viewRequest is how a journal entry shows the request it kept: a copy of
// the headers with long values cut, and the body as text.
func viewRequest(h http.Header, body []byte) (http.Header, string) {
	var out http.Header
	if len(h) > 0 {
		out = make(http.Header, len(h))
		for k, vs := range h {
			cut := make([]string, len(vs))
			for i, v := range vs {
				cut[i] = cutText(v, journalValueMax)
			}
			out[k] = cut
		}
	}
	b := string(body)
	if !utf8.ValidString(b) {
		b = strings.ToValidUTF8(b, "\uFFFD")
	}
	return out, b
}

// cutText cuts s at n bytes on a rune boundary, marking the cut.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…[cut]"
}

// journalFilter selects journal entries for GET /__mock/journal.
type journalFilter struct {
	since    uint64 // entries after this seq
	method   string // "" any; case-insensitive
	status   int    // 0 any
	scenario string
	session  string
}

func (f *journalFilter) keep(e *Entry) bool {
	return e.Seq > f.since &&
		(f.method == "" || strings.EqualFold(e.Method, f.method)) &&
		(f.status == 0 || e.Status == f.status) &&
		(f.scenario == "" || e.Scenario == f.scenario) &&
		(f.session == "" || e.Session == f.session || e.Family == f.session)
}

// query returns the last n entries (all when n is 0) that f keeps, oldest
// first, with their rejections and request filled in.
func (j *journal) query(f *journalFilter, n int) []Entry {
	all := j.copyLast(0)
	out := all[:0]
	for i := range all {
		if f.keep(&all[i]) {
			out = append(out, all[i])
		}
	}
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	for i := range out {
		if out[i].explain != nil {
			out[i].Rejected = out[i].explain()
		}
		out[i].view()
	}
	return out
}

// lastSeq is the seq of the last entry recorded (0: none yet); a poller
// passes it back as since.
func (j *journal) lastSeq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq
}
