package mockserver

import (
	"encoding/binary"
	"strings"
)

// maxTokens bounds the token store: beyond it a new token takes the place
// of a dead one (rotated or revoked), else of the oldest.
const maxTokens = 10_000

// maxIndex is the size of the token index when the store is full: a power
// of two at least twice maxTokens, so that probes stay short.
const maxIndex = 1 << 15

// The index must keep at least half of its slots empty.
const _ = uint(maxIndex - 2*maxTokens)

type tokenKey [tokenKeyLen]byte

// tokenSlot is a token in tokenIndex.slots.
type tokenSlot struct {
	key     tokenKey // the random bytes (zero for a named token)
	expires int64    // mock-clock Unix nanoseconds
	family  uint32   // index in families.recs
	// prev and next link the tokens in issue order (a slot + 1; 0: none).
	prev, next uint32
	rotated    bool
	named      bool // the token is in tokenIndex.named, not in index
}

// tokenIndex holds the tokens in slots without pointers, so that the GC
// marks a few objects and scans none of them, however many tokens it
// holds:
//
//   - slots, the tokens, filled in order up to maxTokens and then reused
//     in place; they are linked in issue order (oldest to newest);
//   - index, an open-addressing hash table (linear probing) from a
//     token's random bytes to its slot;
//   - named, the slots of tokens that are not tokenPrefix + base64url(24
//     bytes) (a seed such as rt_seed_dev).
type tokenIndex struct {
	slots          []tokenSlot
	oldest, newest uint32 // slot + 1; 0: none
	index          []uint32
	shift          uint              // 64 - log2(len(index))
	named          map[string]uint32 // other tokens: their slot
}

// reset forgets every token; the slices keep their capacity.
func (x *tokenIndex) reset() {
	x.slots = x.slots[:0]
	x.oldest, x.newest = 0, 0
	clear(x.index)
	x.named = map[string]uint32{}
}

func (x *tokenIndex) len() int { return len(x.slots) }

// parseToken returns the random bytes of a token in the form the store
// issues (tokenPrefix + base64url of tokenKeyLen bytes).
func parseToken(s string) (tokenKey, bool) {
	var key tokenKey
	if len(s) != tokenStrLen || !strings.HasPrefix(s, tokenPrefix) {
		return key, false
	}
	var src [tokenStrLen - len(tokenPrefix)]byte
	copy(src[:], s[len(tokenPrefix):])
	// 32 characters decode to exactly 24 bytes (the decoder skips \r and
	// \n, which then leave fewer): one string per key.
	n, err := b64.Decode(key[:], src[:])
	return key, err == nil && n == tokenKeyLen
}

// lookup returns the slot of a presented token.
func (x *tokenIndex) lookup(token string) (int, bool) {
	if key, ok := parseToken(token); ok {
		return x.find(&key)
	}
	pos, ok := x.named[token]
	return int(pos), ok
}

// home is where the index starts to look for key.
func (x *tokenIndex) home(key *tokenKey) int {
	return int((binary.LittleEndian.Uint64(key[:8]) * 0x9e3779b97f4a7c15) >> x.shift)
}

// find returns key's slot.
func (x *tokenIndex) find(key *tokenKey) (int, bool) {
	if len(x.index) == 0 {
		return 0, false
	}
	mask := len(x.index) - 1
	for i := x.home(key); ; i = (i + 1) & mask {
		e := x.index[i]
		if e == 0 {
			return 0, false
		}
		if x.slots[e-1].key == *key {
			return int(e - 1), true
		}
	}
}

// put stores t in slot pos (pos == len(slots) appends), as the newest
// token, under name when it is set.
func (x *tokenIndex) put(pos int, t tokenSlot, name string) {
	if pos == len(x.slots) {
		x.growIndex(pos + 1)
		if len(x.slots) == cap(x.slots) {
			x.slots = grow(x.slots, maxTokens)
		}
		x.slots = x.slots[:pos+1]
	}
	t.prev, t.next, t.named = x.newest, 0, name != ""
	x.slots[pos] = t
	if x.newest != 0 {
		x.slots[x.newest-1].next = uint32(pos) + 1
	} else {
		x.oldest = uint32(pos) + 1
	}
	x.newest = uint32(pos) + 1
	if name != "" {
		x.named[name] = uint32(pos)
	} else {
		x.indexKey(&t.key, pos)
	}
}

// remove takes the token in slot pos out of the issue order, the index
// and the names; the slot is the caller's to fill again.
func (x *tokenIndex) remove(pos int) {
	t := &x.slots[pos]
	if t.prev != 0 {
		x.slots[t.prev-1].next = t.next
	} else {
		x.oldest = t.next
	}
	if t.next != 0 {
		x.slots[t.next-1].prev = t.prev
	} else {
		x.newest = t.prev
	}
	if t.named {
		for name, p := range x.named {
			if int(p) == pos {
				delete(x.named, name)
				break
			}
		}
		return
	}
	x.unindexKey(&t.key, pos)
}

func (x *tokenIndex) indexKey(key *tokenKey, pos int) {
	mask := len(x.index) - 1
	i := x.home(key)
	for x.index[i] != 0 {
		i = (i + 1) & mask
	}
	x.index[i] = uint32(pos) + 1
}

// unindexKey removes slot pos, whose key is key, from the index, moving
// back the entries after it that it pushed further from home (deletion
// without tombstones, for linear probing).
func (x *tokenIndex) unindexKey(key *tokenKey, pos int) {
	mask := len(x.index) - 1
	i := x.home(key)
	for x.index[i] != uint32(pos)+1 {
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		e := x.index[j]
		if e == 0 {
			break
		}
		// The entry at j stays unless its home is outside (i, j].
		k := x.home(&x.slots[e-1].key)
		if (i < j && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			x.index[i] = e
			i = j
		}
	}
	x.index[i] = 0
}

// growIndex makes room in the index for n tokens.
func (x *tokenIndex) growIndex(n int) {
	if 2*n <= len(x.index) {
		return
	}
	size := max(len(x.index), 64)
	for size < 2*n {
		size *= 2
	}
	size = min(size, maxIndex)
	x.index = make([]uint32, size)
	x.shift = 64
	for s := size; s > 1; s >>= 1 {
		x.shift--
	}
	for pos := range x.slots {
		if !x.slots[pos].named {
			x.indexKey(&x.slots[pos].key, pos)
		}
	}
}

// grow returns s with twice the capacity (at least 64, at most limit).
// Unlike append, it does not go past limit.
func grow[E any](s []E, limit int) []E {
	n := make([]E, len(s), min(max(2*len(s), 64), limit))
	copy(n, s)
	return n
}

// deadQueue holds the slots of tokens that died (rotated, or the live
// token of a family revoked for reuse), in the order they died: a full
// store gives their slots to new tokens before it forgets a live one. A
// token dies once and stays dead while it is stored, so the queue never
// holds more entries than the store holds tokens.
type deadQueue struct {
	ring       [maxTokens]uint32 // slot + 1
	head, size int
}

func (q *deadQueue) reset() { q.head, q.size = 0, 0 }

func (q *deadQueue) push(pos int) {
	if q.size == len(q.ring) {
		return // cannot happen (see deadQueue); the token stays in the issue order
	}
	q.ring[(q.head+q.size)%len(q.ring)] = uint32(pos) + 1
	q.size++
}

func (q *deadQueue) pop() (int, bool) {
	if q.size == 0 {
		return 0, false
	}
	e := q.ring[q.head]
	q.head = (q.head + 1) % len(q.ring)
	q.size--
	return int(e - 1), true
}
