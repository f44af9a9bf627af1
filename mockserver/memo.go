package mockserver

import (
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Validation memo bounds: requests with bodies up to memoMaxBody bytes and
// keys (method, path, query, headers and body) up to memoMaxKey bytes are
// remembered, at most 2*memoEntries of them: at most about 64 MB however
// large and varied the requests.
const (
	memoMaxBody = 4 << 10
	memoMaxKey  = 8 << 10
	memoEntries = 4096
)

// validationMemo remembers the outcome of request validation for identical
// requests. Validation is a pure function of the request's method, path,
// query, headers, cookies and body and of the (immutable) spec, so a
// request seen before gets the same answer without running the validator
// again. It keeps two generations: when the current one is full it becomes
// the previous one and the older is dropped, which bounds memory and keeps
// recently used entries.
type validationMemo struct {
	mu        sync.RWMutex
	cur, prev map[string]*rejection
}

func newValidationMemo() *validationMemo {
	return &validationMemo{cur: map[string]*rejection{}}
}

// memoKey identifies a request for validation, or "" when it should not
// be remembered (a large body or large headers).
func memoKey(r *http.Request, rel string, body []byte) string {
	if len(body) > memoMaxBody || len(rel)+len(r.URL.RawQuery) > memoMaxKey {
		return ""
	}
	keys := make([]string, 0, len(r.Header))
	n := len(r.Method) + len(rel) + len(r.URL.RawQuery) + len(body) + 8
	for k, vs := range r.Header {
		keys = append(keys, k)
		n += len(k) + 2
		for _, v := range vs {
			n += len(v) + 1
		}
	}
	if n > memoMaxKey {
		return ""
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(r.Method)
	b.WriteByte(0)
	b.WriteString(rel)
	b.WriteByte('?')
	b.WriteString(r.URL.RawQuery)
	b.WriteByte(0)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(':')
		for _, v := range r.Header[k] {
			b.WriteString(v)
			b.WriteByte(0)
		}
		b.WriteByte('\n')
	}
	b.WriteByte(0)
	b.Write(body)
	return b.String()
}

func (m *validationMemo) get(key string) (*rejection, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if rej, ok := m.cur[key]; ok {
		return rej, true
	}
	rej, ok := m.prev[key]
	return rej, ok
}

func (m *validationMemo) put(key string, rej *rejection) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cur) >= memoEntries {
		m.prev, m.cur = m.cur, make(map[string]*rejection, memoEntries)
	}
	m.cur[key] = rej
}

// size is the number of remembered requests.
func (m *validationMemo) size() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.cur) + len(m.prev)
}
