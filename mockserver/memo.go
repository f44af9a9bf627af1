package mockserver

import (
	"hash/maphash"
	"slices"
	"sync"

	"github.com/refreshmock/refreshmock/scenarios"
)

// Validation memo bounds: requests with bodies up to memoMaxBody bytes and
// keys (method, path, query, headers and body) up to memoMaxKey bytes are
// remembered, at most memoEntries of them and memoGenBytes of keys and
// outcomes a generation: two generations hold at most 8 MiB however large
// and varied the requests, plus 2*seenEntries hashes of requests seen
// once (about 1 MB).
const (
	memoMaxBody  = 4 << 10
	memoMaxKey   = 8 << 10
	memoEntries  = 4096
	memoGenBytes = 4 << 20
)

// validationMemo remembers the outcome of request validation for identical
// requests. Validation is a pure function of the request's method, path,
// query, headers, cookies and body and of the (immutable) spec, so a
// request seen before gets the same answer without running the validator
// again. It keeps two generations: when the current one is full it becomes
// the previous one and the older is dropped, which bounds memory and keeps
// recently used entries.
//
// A request is remembered only when it comes a second time: the first time
// only a 64-bit hash of its key is kept (a doorkeeper, in two generations
// of seenEntries hashes). Clients that present a new refresh token on
// every request, as real ones do, then cost 8 bytes a request instead of
// a full key that would never be asked for again.
type validationMemo struct {
	mu   sync.RWMutex
	memo generations[string, *rejection]
	seen generations[uint64, struct{}] // hashes of keys seen once
	seed maphash.Seed
}

// seenEntries bounds a generation of the doorkeeper.
const seenEntries = 4 * memoEntries

func newValidationMemo() *validationMemo {
	return &validationMemo{
		memo: newGenerations[string, *rejection](memoEntries, memoGenBytes),
		seen: newGenerations[uint64, struct{}](seenEntries, 0),
		seed: maphash.MakeSeed(),
	}
}

// generations is a map bounded by two generations of at most n entries
// and, when maxBytes > 0, maxBytes of what put was told they cost: when
// the current one is full it becomes the previous one and the older is
// dropped, which keeps the recently added entries.
type generations[K comparable, V any] struct {
	cur, prev       map[K]V
	n               int
	bytes, maxBytes int // cost of cur
	prevBytes       int
}

func newGenerations[K comparable, V any](n, maxBytes int) generations[K, V] {
	return generations[K, V]{cur: map[K]V{}, n: n, maxBytes: maxBytes}
}

func (g *generations[K, V]) has(k K) bool {
	if _, ok := g.cur[k]; ok {
		return true
	}
	_, ok := g.prev[k]
	return ok
}

// put adds k, which costs cost bytes (counted only when maxBytes > 0).
func (g *generations[K, V]) put(k K, v V, cost int) {
	if len(g.cur) >= g.n || (g.maxBytes > 0 && g.bytes+cost > g.maxBytes && len(g.cur) > 0) {
		g.prev, g.cur = g.cur, make(map[K]V, g.n)
		g.prevBytes, g.bytes = g.bytes, 0
	}
	if _, ok := g.cur[k]; !ok {
		g.bytes += cost
	}
	g.cur[k] = v
}

func (g *generations[K, V]) len() int { return len(g.cur) + len(g.prev) }

// size is the cost of both generations.
func (g *generations[K, V]) size() int { return g.bytes + g.prevBytes }

// keyPool holds the buffers memo keys are built in: a key is only copied
// into a string when it is remembered.
var keyPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendMemoKey appends what identifies a request for validation to b,
// or returns false when it should not be remembered (a large body or
// large headers).
func appendMemoKey(b []byte, req *scenarios.RequestData) ([]byte, bool) {
	q := rawQuery(req.Query)
	if len(req.Body) > memoMaxBody || len(req.Path)+len(q) > memoMaxKey {
		return b, false
	}
	var arr [16]string
	keys := arr[:0]
	n := len(req.Method) + len(req.Path) + len(q) + len(req.Body) + 8
	for k, vs := range req.Headers {
		keys = append(keys, k)
		n += len(k) + 2
		for _, v := range vs {
			n += len(v) + 1
		}
	}
	if n > memoMaxKey {
		return b, false
	}
	slices.Sort(keys)
	b = slices.Grow(b, n)
	b = append(b, req.Method...)
	b = append(b, 0)
	b = append(b, req.Path...)
	b = append(b, '?')
	b = append(b, q...)
	b = append(b, 0)
	for _, k := range keys {
		b = append(b, k...)
		b = append(b, ':')
		for _, v := range req.Headers[k] {
			b = append(b, v...)
			b = append(b, 0)
		}
		b = append(b, '\n')
	}
	b = append(b, 0)
	return append(b, req.Body...), true
}

// get looks key up; the string conversion in the map index does not
// allocate.
func (m *validationMemo) get(key []byte) (*rejection, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	// Indexed here rather than through a generations method, where the
	// conversion would have to allocate.
	if rej, ok := m.memo.cur[string(key)]; ok {
		return rej, true
	}
	rej, ok := m.memo.prev[string(key)]
	return rej, ok
}

// put remembers the outcome for key if key was seen before; otherwise it
// only notes that it was seen.
func (m *validationMemo) put(key []byte, rej *rejection) {
	h := maphash.Bytes(m.seed, key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.seen.has(h) {
		m.seen.put(h, struct{}{}, 0)
		return
	}
	m.memo.put(string(key), rej, memoCost(key, rej))
}

// memoCost estimates the bytes an entry holds: its key, the outcome's
// strings, and the maps' and structs' overhead.
func memoCost(key []byte, rej *rejection) int {
	n := len(key) + 64
	if rej == nil {
		return n
	}
	n += 96 + len(rej.code) + len(rej.message) + len(rej.rule)
	for _, d := range rej.details {
		n += 64 + len(d.Msg) + len(d.Type) + 24*len(d.Loc)
		for _, l := range d.Loc {
			if s, ok := l.(string); ok {
				n += len(s)
			}
		}
	}
	return n
}

// bytes is the estimated size of the remembered requests.
func (m *validationMemo) bytes() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.memo.size()
}

// size is the number of remembered requests.
func (m *validationMemo) size() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.memo.len()
}
