package mockserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fillStore fills a fresh store to maxTokens on the rotation path: a
// chain of rotations in one family, or (newFamilies) a refresh that
// starts a new family every time, as a scenario named by the request
// does. It returns the store and the last refresh token.
func fillStore(tb testing.TB, newFamilies bool) (*store, string) {
	tb.Helper()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	st := newStore(clk.Now, DefaultSeedToken, time.Minute, time.Hour)
	tok := DefaultSeedToken
	for range maxTokens {
		presented, strict := tok, true
		if newFamilies {
			presented, strict = "rt_not_issued", false
		}
		td, err := st.rotate(presented, strict)
		if err != nil {
			tb.Fatalf("rotate %s: %v", presented, err)
		}
		tok = td.Refresh
	}
	if tokens, _, _ := st.counts(); tokens != maxTokens {
		tb.Fatalf("store holds %d tokens, want %d", tokens, maxTokens)
	}
	return st, tok
}

// liveHeap is the heap in use, and the number of its objects, after GC.
func liveHeap() (bytes, objects uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.HeapObjects
}

// TestStoreHeapPerToken fills the token store to its bound and checks
// what it costs the live heap per token: the heap goal is twice the live
// heap, so every byte here is two of resident memory under load, and
// every object is one the GC marks on every cycle.
//
//	go test -count=1 -run TestStoreHeapPerToken -v ./mockserver/
func TestStoreHeapPerToken(t *testing.T) {
	const maxBytes, maxObjects = 100, 0.05 // per token
	for _, tc := range []struct {
		name        string
		newFamilies bool
	}{
		{"chain", false},
		{"new-families", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b0, o0 := liveHeap()
			st, tok := fillStore(t, tc.newFamilies)
			b1, o1 := liveHeap()
			if state, _ := st.observe(tok); state != "valid" {
				t.Errorf("newest token is %s, want valid", state)
			}
			runtime.KeepAlive(st)
			perTok := float64(int64(b1)-int64(b0)) / maxTokens
			objTok := float64(int64(o1)-int64(o0)) / maxTokens
			_, families, _ := st.counts()
			t.Logf("%d tokens, %d families: %.1f live heap bytes and %.3f objects per token", maxTokens, families, perTok, objTok)
			if perTok > maxBytes {
				t.Errorf("the store costs %.1f bytes of live heap per token, want at most %d", perTok, maxBytes)
			}
			if objTok > maxObjects {
				t.Errorf("the store costs %.3f heap objects per token, want at most %.2f", objTok, maxObjects)
			}
		})
	}
}

// BenchmarkStoreRotate rotates on a full store: the chain case rotates
// the newest token of one family, the new-families case starts a family
// every time. Both evict the oldest token.
func BenchmarkStoreRotate(b *testing.B) {
	for _, tc := range []struct {
		name        string
		newFamilies bool
	}{
		{"chain", false},
		{"new-families", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st, tok := fillStore(b, tc.newFamilies)
			b.ReportAllocs()
			for b.Loop() {
				presented, strict := tok, true
				if tc.newFamilies {
					presented, strict = "rt_not_issued", false
				}
				td, err := st.rotate(presented, strict)
				if err != nil {
					b.Fatal(err)
				}
				tok = td.Refresh
			}
		})
	}
}

// check verifies the store's invariants: the issue order links every
// stored token once, the index and the side map find every token and
// nothing else, the families count their tokens and point at their live
// token, the free list holds the rest, the dead queue holds dead stored
// tokens once, and nothing grew past its bound.
func (st *store) check() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	x := &st.toks
	if len(x.slots) > maxTokens || cap(x.slots) > maxTokens {
		return fmt.Errorf("slots have length %d and capacity %d, bound %d", len(x.slots), cap(x.slots), maxTokens)
	}
	if cap(st.fams.recs) > maxTokens+1 || len(x.index) > maxIndex {
		return fmt.Errorf("families capacity %d, index size %d", cap(st.fams.recs), len(x.index))
	}
	if len(x.index) > 0 && 2*len(x.slots) > len(x.index) {
		return fmt.Errorf("index of %d for %d tokens", len(x.index), len(x.slots))
	}
	linked, prev := 0, uint32(0)
	for e := x.oldest; e != 0; e = x.slots[e-1].next {
		if linked++; linked > len(x.slots) || x.slots[e-1].prev != prev {
			return fmt.Errorf("issue order broken at slot %d", e-1)
		}
		prev = e
	}
	if linked != len(x.slots) || prev != x.newest {
		return fmt.Errorf("issue order links %d of %d tokens, ends at %d, newest %d", linked, len(x.slots), prev, x.newest)
	}
	indexed, tokens := 0, map[uint32]uint32{}
	for pos, t := range x.slots {
		tokens[t.family]++
		if t.named {
			continue
		}
		indexed++
		if got, ok := x.find(&t.key); !ok || got != pos {
			return fmt.Errorf("token at %d: index finds %d, %v", pos, got, ok)
		}
	}
	entries := 0
	for i, e := range x.index {
		if e == 0 {
			continue
		}
		entries++
		if int(e-1) >= len(x.slots) || x.slots[e-1].named {
			return fmt.Errorf("index[%d] = %d points to no indexed token", i, e)
		}
	}
	if entries != indexed {
		return fmt.Errorf("index holds %d entries for %d tokens", entries, indexed)
	}
	for name, pos := range x.named {
		if int(pos) >= len(x.slots) || !x.slots[pos].named {
			return fmt.Errorf("named token %q points to %d", name, pos)
		}
	}
	if len(x.named)+indexed != len(x.slots) {
		return fmt.Errorf("%d named and %d indexed tokens, %d slots", len(x.named), indexed, len(x.slots))
	}
	fs := &st.fams
	free := map[uint32]bool{}
	for fi := fs.free; fi != 0; fi = fs.recs[fi-1].tokens {
		if free[fi-1] || int(fi-1) >= len(fs.recs) {
			return fmt.Errorf("free list loops or leaves fams at %d", fi-1)
		}
		free[fi-1] = true
	}
	for fi, f := range fs.recs {
		if free[uint32(fi)] {
			if tokens[uint32(fi)] != 0 {
				return fmt.Errorf("free family %d has %d tokens", fi, tokens[uint32(fi)])
			}
			continue
		}
		if f.tokens == 0 || f.tokens != tokens[uint32(fi)] {
			return fmt.Errorf("family %d counts %d tokens, slots have %d", fi, f.tokens, tokens[uint32(fi)])
		}
		if _, ok := fs.names[uint32(fi)]; ok != (f.flags&famNamed != 0) {
			return fmt.Errorf("family %d: named flag %v, names %v", fi, f.flags&famNamed != 0, ok)
		}
		if f.live != 0 && (int(f.live-1) >= len(x.slots) || x.slots[f.live-1].family != uint32(fi) || x.slots[f.live-1].rotated) {
			return fmt.Errorf("family %d: live token %d is not its unrotated token", fi, f.live-1)
		}
	}
	if live := len(fs.recs) - len(free); live != fs.n || len(fs.names) > live {
		return fmt.Errorf("%d live families, counted %d, %d names", live, fs.n, len(fs.names))
	}
	queued := map[int]bool{}
	for k := range st.dead.size {
		pos := int(st.dead.ring[(st.dead.head+k)%len(st.dead.ring)] - 1)
		if queued[pos] || pos >= len(x.slots) || !st.deadLocked(pos) {
			return fmt.Errorf("dead queue entry %d: slot %d twice, missing or not dead", k, pos)
		}
		queued[pos] = true
	}
	return nil
}

// TestStorePointerFree: the token store's records hold no pointers, so
// its slices are not scanned by the GC.
func TestStorePointerFree(t *testing.T) {
	t.Parallel()
	for _, v := range []any{tokenSlot{}, familyRec{}, deadQueue{}} {
		if typ := reflect.TypeOf(v); hasPointers(typ) {
			t.Errorf("%s holds pointers", typ)
		}
	}
}

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}

// refStore is the token store as a plain model (maps of pointers, a
// growing order): what the store must behave like. Beyond maxTokens a new
// token replaces the stored token that died first (rotated, or the live
// token of a family revoked for reuse), else the oldest one.
type refStore struct {
	now    time.Duration // mock-clock offset
	ttl    time.Duration
	tokens map[string]*refToken
	order  []string // issue order, forgotten tokens included
	dead   []string // death order, forgotten tokens included
	fams   map[string]*refFamily
	// evicted and liveEvicted count the tokens forgotten for room and
	// those of them that were still valid.
	evicted, liveEvicted int
}

type refToken struct {
	fam     *refFamily
	expires time.Duration
	rotated bool
}

type refFamily struct {
	id, subject string
	revoked     bool
	tokens      int
	live        string // the family's stored unrotated token
}

func newRefStore(seed string, ttl time.Duration) *refStore {
	r := &refStore{ttl: ttl, tokens: map[string]*refToken{}, fams: map[string]*refFamily{}}
	r.add(seed, &refFamily{id: "fam_seed", subject: "user_dev"})
	return r
}

func (r *refStore) add(tok string, f *refFamily) {
	r.fams[f.id] = f
	f.tokens++ // first: the token it replaces may be the family's last
	if len(r.tokens) == maxTokens {
		victim := ""
		for victim == "" && len(r.dead) > 0 {
			if _, ok := r.tokens[r.dead[0]]; ok {
				victim = r.dead[0]
			}
			r.dead = r.dead[1:]
		}
		for victim == "" {
			if t, ok := r.tokens[r.order[0]]; ok {
				victim = r.order[0]
				if r.now < t.expires && !t.rotated && !t.fam.revoked {
					r.liveEvicted++
				}
			}
			r.order = r.order[1:]
		}
		old := r.tokens[victim]
		delete(r.tokens, victim)
		r.evicted++
		if old.fam.live == victim {
			old.fam.live = ""
		}
		if old.fam.tokens--; old.fam.tokens == 0 {
			delete(r.fams, old.fam.id)
		}
	}
	r.tokens[tok] = &refToken{fam: f, expires: r.now + r.ttl}
	r.order = append(r.order, tok)
	f.live = tok
}

// state is the state of t presented now; reuse revokes its family, whose
// live token dies.
func (r *refStore) state(t *refToken) string {
	switch {
	case t.rotated:
		if !t.fam.revoked {
			t.fam.revoked = true
			if t.fam.live != "" {
				r.dead = append(r.dead, t.fam.live)
			}
		}
		return "reused"
	case t.fam.revoked:
		return "revoked"
	case r.now >= t.expires:
		return "expired"
	}
	return "valid"
}

// TestStoreMatchesModel drives the store and the model with the same
// random operations, well past eviction, and compares every answer.
func TestStoreMatchesModel(t *testing.T) {
	t.Parallel()
	const ops = 8 * maxTokens
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	const ttl = time.Hour
	st := newStore(clk.Now, DefaultSeedToken, time.Minute, ttl)
	ref := newRefStore(DefaultSeedToken, ttl)
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	seen := []string{DefaultSeedToken}
	full := 0 // operations on a full store
	pick := func() string {
		switch rng.IntN(20) {
		case 0:
			return DefaultSeedToken
		case 1:
			return "rt_not_issued"
		case 2:
			return tokenString(&tokenKey{1, 2, 3}) // canonical, never issued
		case 3, 4:
			return seen[rng.IntN(len(seen))] // often evicted
		}
		return seen[max(len(seen)-1-rng.IntN(50), 0)]
	}
	newFamily := func(id, subject string) *refFamily {
		if _, ok := ref.fams[id]; ok {
			t.Fatalf("new family %s already exists", id)
		}
		if !strings.HasPrefix(id, famPrefix) || !strings.HasPrefix(subject, subjectPrefix) && subject != "user_given" {
			t.Fatalf("new family %q, subject %q", id, subject)
		}
		return &refFamily{id: id, subject: subject}
	}
	for i := range ops {
		switch op := rng.IntN(100); {
		case op < 60:
			tok, strict := pick(), rng.IntN(3) > 0
			td, err := st.rotate(tok, strict)
			rt, known := ref.tokens[tok]
			want := ""
			if known {
				want = ref.state(rt)
			}
			var stale *staleTokenError
			switch {
			case known && want == "valid":
				if err != nil || td.Family != rt.fam.id || td.Subject != rt.fam.subject {
					t.Fatalf("op %d: rotate valid %s: %+v %v, want family %s", i, tok, td, err, rt.fam.id)
				}
				rt.rotated = true
				ref.dead = append(ref.dead, tok)
				ref.add(td.Refresh, rt.fam)
			case known && strict:
				if !errors.As(err, &stale) || stale.state != want {
					t.Fatalf("op %d: strict rotate %s: %v, want stale %s", i, tok, err, want)
				}
				continue
			default:
				if err != nil {
					t.Fatalf("op %d: rotate %s: %v", i, tok, err)
				}
				ref.add(td.Refresh, newFamily(td.Family, td.Subject))
			}
			if _, ok := parseToken(td.Refresh); !ok {
				t.Fatalf("op %d: issued %q is not canonical", i, td.Refresh)
			}
			seen = append(seen, td.Refresh)
		case op < 65:
			subject := ""
			if rng.IntN(2) == 0 {
				subject = "user_given"
			}
			iss := st.issue(subject)
			f := newFamily(iss.Family, iss.Subject)
			if subject != "" && iss.Subject != subject {
				t.Fatalf("op %d: issue(%q) gave subject %q", i, subject, iss.Subject)
			}
			ref.add(iss.RefreshToken, f)
			seen = append(seen, iss.RefreshToken)
		case op < 90:
			tok := pick()
			state, fam := st.observe(tok)
			want, wantFam := "invalid", ""
			if rt, ok := ref.tokens[tok]; ok {
				want, wantFam = ref.state(rt), rt.fam.id
			}
			if state != want || fam != wantFam {
				t.Fatalf("op %d: observe %s = %s %s, want %s %s", i, tok, state, fam, want, wantFam)
			}
		case op < 95:
			tok := pick()
			want := tok
			if rt, ok := ref.tokens[tok]; ok {
				want = rt.fam.id
			}
			if got := st.sessionOf(tok); got != want {
				t.Fatalf("op %d: sessionOf %s = %s, want %s", i, tok, got, want)
			}
		case op < 99:
			d := time.Duration(rng.IntN(10)) * time.Minute
			if _, _, err := st.advance(d); err != nil {
				t.Fatalf("op %d: advance %s: %v", i, d, err)
			}
			ref.now += d
		}
		if i == 2*ops/3 {
			// Far enough from the start and the end for the store to
			// fill up and evict on both sides of a reset.
			st.reset()
			ref = newRefStore(DefaultSeedToken, ttl)
			seen = append(seen, DefaultSeedToken)
		}
		tokens, families, _ := st.counts()
		if tokens == maxTokens {
			full++
		}
		evicted, liveEvicted := st.evictions()
		if tokens != len(ref.tokens) || families != len(ref.fams) || evicted != ref.evicted || liveEvicted != ref.liveEvicted {
			t.Fatalf("op %d: store counts %d tokens, %d families, %d evicted (%d live); model %d, %d, %d (%d)", i,
				tokens, families, evicted, liveEvicted, len(ref.tokens), len(ref.fams), ref.evicted, ref.liveEvicted)
		}
		if i%1000 == 0 || i == ops-1 {
			if err := st.check(); err != nil {
				t.Fatalf("op %d: %v", i, err)
			}
		}
	}
	if full < ops/5 {
		t.Errorf("the store was full for %d operations of %d; it evicted too little to tell", full, ops)
	}
}

// TestStoreIndexDelete removes tokens from the index in random order (the
// store evicts the oldest first, which rarely moves an entry): every
// remaining token stays findable and removed ones are gone.
func TestStoreIndexDelete(t *testing.T) {
	t.Parallel()
	rng := mathrand.New(mathrand.NewPCG(3, 4))
	st := &tokenIndex{}
	const n = maxTokens
	for range n {
		var key tokenKey
		// Few distinct leading bytes: long probe sequences.
		binary.LittleEndian.PutUint64(key[:8], uint64(rng.IntN(n/4)))
		binary.LittleEndian.PutUint64(key[8:16], rng.Uint64())
		st.slots = append(st.slots, tokenSlot{key: key})
	}
	st.growIndex(n)
	live := map[int]bool{}
	for pos := range n {
		live[pos] = true
	}
	for k, pos := range rng.Perm(n) {
		st.unindexKey(&st.slots[pos].key, pos)
		delete(live, pos)
		if _, ok := st.find(&st.slots[pos].key); ok {
			t.Fatalf("removed token %d is still found", pos)
		}
		if k%500 != 0 {
			continue
		}
		for p := range live {
			if got, ok := st.find(&st.slots[p].key); !ok || got != p {
				t.Fatalf("after %d removals: token %d found at %d, %v", k+1, p, got, ok)
			}
		}
	}
	for i, e := range st.index {
		if e != 0 {
			t.Fatalf("index[%d] = %d after removing everything", i, e)
		}
	}
}

// TestStoreCanonicalSeed: a seed in the issued form is kept like any
// issued token.
func TestStoreCanonicalSeed(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	seed := tokenString(&tokenKey{9, 9, 9})
	st := newStore(clk.Now, seed, time.Minute, time.Hour)
	if len(st.toks.named) != 0 {
		t.Errorf("canonical seed kept by name")
	}
	td, err := st.rotate(seed, true)
	if err != nil || td.Family != "fam_seed" || td.Subject != "user_dev" {
		t.Fatalf("rotate seed: %+v %v", td, err)
	}
	if state, fam := st.observe(seed); state != "reused" || fam != "fam_seed" {
		t.Errorf("seed after rotation: %s %s, want reused fam_seed", state, fam)
	}
	if err := st.check(); err != nil {
		t.Error(err)
	}
}

// FuzzParseToken: a presented token maps to a key only when it is that
// key's one spelling, so two spellings never share a token's record.
func FuzzParseToken(f *testing.F) {
	f.Add(DefaultSeedToken)
	f.Add(tokenString(&tokenKey{1, 2, 3}))
	f.Add("rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")
	f.Add("rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Fuzz(func(t *testing.T, s string) {
		key, ok := parseToken(s)
		if ok && tokenString(&key) != s {
			t.Errorf("parseToken(%q) = %x, which is spelled %q", s, key, tokenString(&key))
		}
	})
}
