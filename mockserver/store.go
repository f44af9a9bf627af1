package mockserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
)

// maxTokens bounds the token store: the oldest tokens are forgotten
// beyond it.
const maxTokens = 10_000

// Issued identifiers: a refresh token is tokenPrefix and base64url of
// tokenKeyLen random bytes, a family id famPrefix and base64url of
// famIDLen, a subject subjectPrefix and base64url of subjectLen.
const (
	tokenPrefix   = "rt_"
	famPrefix     = "fam_"
	subjectPrefix = "user_"
	tokenKeyLen   = 24
	famIDLen      = 9
	subjectLen    = 6
	jtiLen        = 9

	tokenStrLen   = len(tokenPrefix) + tokenKeyLen/3*4
	famStrLen     = len(famPrefix) + famIDLen/3*4
	subjectStrLen = len(subjectPrefix) + subjectLen/3*4
	jtiStrLen     = jtiLen / 3 * 4
)

// maxIndex is the size of the token index when the store is full: a power
// of two at least twice maxTokens, so that probes stay short.
const maxIndex = 1 << 15

// The index must keep at least half of its slots empty.
const _ = uint(maxIndex - 2*maxTokens)

var b64 = base64.RawURLEncoding

// store is the mock's mutable state: the token store, the armed queue
// (armed.go, with its own mutex) and the mock clock. Everything else is immutable. It is bounded and guarded
// by one mutex; the critical sections are a few slice and map operations.
//
// The token store lives in three slices without pointers, so that the GC
// marks three objects and scans none of them, however many tokens it holds
// (about 54 bytes a token, 74 when every token starts a family):
//
//   - ring, the tokens in issue order (the oldest at head once it is
//     full, when a new token takes the oldest one's place);
//   - index, an open-addressing hash table (linear probing) from a
//     token's random bytes to its place in ring;
//   - fams, the families, reused through a free list.
//
// Only tokens that are not tokenPrefix + base64url(24 bytes) (the seed)
// and families whose id or subject was given (the seed's, a subject
// asked of issue) keep strings, in two small side maps. Ids are formatted
// from the random bytes when asked for.
type store struct {
	mu         sync.Mutex
	realNow    func() time.Time
	offset     time.Duration
	ring       []tokenSlot
	head       int // the oldest token once len(ring) == maxTokens
	index      []uint32
	shift      uint              // 64 - log2(len(index))
	named      map[string]uint32 // other tokens: their place in ring
	fams       []familyRec
	freeFam    uint32 // first free family + 1; 0: none
	nFams      int
	famNames   map[uint32]famNames
	armed      armedQueue
	seed       string
	accessTTL  time.Duration
	refreshTTL time.Duration
}

type tokenKey [tokenKeyLen]byte

// tokenSlot is a token in ring.
type tokenSlot struct {
	key     tokenKey // the random bytes (zero for a named token)
	expires int64    // mock-clock Unix nanoseconds
	family  uint32   // index in fams
	rotated bool
	named   bool // the token is in store.named, not in store.index
}

// familyRec is a family in fams.
type familyRec struct {
	rnd   [famIDLen + subjectLen]byte // the random id, then subject
	flags uint8
	// tokens counts the family's tokens in ring; in a free record it
	// links the free list (the next free family + 1).
	tokens uint32
}

const (
	famRevoked uint8 = 1 << iota
	famNamed         // id or subject in store.famNames
)

// famNames are the id and subject a family was given (empty: formatted
// from its random bytes).
type famNames struct{ id, subject string }

// issued describes a refresh token the store issued.
type issued struct {
	RefreshToken string    `json:"refresh_token"`
	Family       string    `json:"family"`
	Subject      string    `json:"subject"`
	ExpiresAt    time.Time `json:"expires_at"`
}

func newStore(now func() time.Time, seed string, accessTTL, refreshTTL time.Duration) *store {
	st := &store{realNow: now, seed: seed, accessTTL: accessTTL, refreshTTL: refreshTTL}
	st.resetLocked()
	return st
}

// resetLocked forgets every token, family and armed entry, rewinds the
// clock and seeds the starting token. The slices keep their capacity.
func (st *store) resetLocked() {
	st.offset = 0
	st.ring = st.ring[:0]
	st.head = 0
	clear(st.index)
	st.named = map[string]uint32{}
	st.fams = st.fams[:0]
	st.freeFam = 0
	st.nFams = 0
	st.famNames = map[uint32]famNames{}
	st.armed.reset()
	if st.seed != "" {
		fi := st.newFamilyLocked(nil, "fam_seed", "user_dev")
		key, ok := parseToken(st.seed)
		name := st.seed
		if ok {
			name = ""
		}
		st.addLocked(key, name, fi)
	}
}

func (st *store) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.resetLocked()
}

// now is the mock clock: the real time plus what the control API advanced.
func (st *store) now() time.Time {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.realNow().Add(st.offset)
}

func (st *store) advance(d time.Duration) (time.Time, time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.offset += d
	return st.realNow().Add(st.offset), st.offset
}

func (st *store) clock() (time.Time, time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.realNow().Add(st.offset), st.offset
}

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

// newFamilyLocked starts a family. Its id and subject are the ones given,
// else formatted from rnd (famIDLen + subjectLen random bytes).
func (st *store) newFamilyLocked(rnd []byte, id, subject string) uint32 {
	var fi uint32
	if st.freeFam != 0 {
		fi = st.freeFam - 1
		st.freeFam = st.fams[fi].tokens
	} else {
		if len(st.fams) == cap(st.fams) {
			// At most maxTokens+1 families live: the new token's, before
			// the oldest token (perhaps the last of its family) goes.
			st.fams = grow(st.fams, maxTokens+1)
		}
		fi = uint32(len(st.fams))
		st.fams = st.fams[:fi+1]
	}
	f := familyRec{}
	copy(f.rnd[:], rnd)
	if id != "" || subject != "" {
		f.flags |= famNamed
		st.famNames[fi] = famNames{id: id, subject: subject}
	}
	st.fams[fi] = f
	st.nFams++
	return fi
}

// releaseLocked drops one token of family fi and frees the family with
// its last token.
func (st *store) releaseLocked(fi uint32) {
	f := &st.fams[fi]
	f.tokens--
	if f.tokens > 0 {
		return
	}
	if f.flags&famNamed != 0 {
		delete(st.famNames, fi)
	}
	*f = familyRec{tokens: st.freeFam}
	st.freeFam = fi + 1
	st.nFams--
}

// familyLocked returns family fi's id and subject with one allocation.
func (st *store) familyLocked(fi uint32) (id, subject string) {
	f := &st.fams[fi]
	var names famNames
	if f.flags&famNamed != 0 {
		names = st.famNames[fi]
	}
	var buf [famStrLen + subjectStrLen]byte
	b := buf[:0]
	if names.id == "" {
		b = appendFamilyID(b, f)
	}
	cut := len(b)
	if names.subject == "" {
		b = append(b, subjectPrefix...)
		b = b64.AppendEncode(b, f.rnd[famIDLen:])
	}
	s := string(b)
	id, subject = names.id, names.subject
	if id == "" {
		id = s[:cut]
	}
	if subject == "" {
		subject = s[cut:]
	}
	return id, subject
}

// familyIDLocked returns family fi's id.
func (st *store) familyIDLocked(fi uint32) string {
	f := &st.fams[fi]
	if f.flags&famNamed != 0 {
		if id := st.famNames[fi].id; id != "" {
			return id
		}
	}
	var buf [famStrLen]byte
	return string(appendFamilyID(buf[:0], f))
}

func appendFamilyID(b []byte, f *familyRec) []byte {
	b = append(b, famPrefix...)
	return b64.AppendEncode(b, f.rnd[:famIDLen])
}

// home is where the index starts to look for key.
func (st *store) home(key *tokenKey) int {
	return int((binary.LittleEndian.Uint64(key[:8]) * 0x9e3779b97f4a7c15) >> st.shift)
}

// findLocked returns key's place in ring.
func (st *store) findLocked(key *tokenKey) (int, bool) {
	if len(st.index) == 0 {
		return 0, false
	}
	mask := len(st.index) - 1
	for i := st.home(key); ; i = (i + 1) & mask {
		e := st.index[i]
		if e == 0 {
			return 0, false
		}
		if st.ring[e-1].key == *key {
			return int(e - 1), true
		}
	}
}

// lookupLocked returns the place in ring of a presented token.
func (st *store) lookupLocked(token string) (int, bool) {
	if key, ok := parseToken(token); ok {
		return st.findLocked(&key)
	}
	pos, ok := st.named[token]
	return int(pos), ok
}

func (st *store) indexLocked(key *tokenKey, pos int) {
	mask := len(st.index) - 1
	i := st.home(key)
	for st.index[i] != 0 {
		i = (i + 1) & mask
	}
	st.index[i] = uint32(pos) + 1
}

// unindexLocked removes ring[pos], whose key is key, from the index,
// moving back the entries after it that it pushed further from home
// (deletion without tombstones, for linear probing).
func (st *store) unindexLocked(key *tokenKey, pos int) {
	mask := len(st.index) - 1
	i := st.home(key)
	for st.index[i] != uint32(pos)+1 {
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		e := st.index[j]
		if e == 0 {
			break
		}
		// The entry at j stays unless its home is outside (i, j].
		k := st.home(&st.ring[e-1].key)
		if (i < j && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			st.index[i] = e
			i = j
		}
	}
	st.index[i] = 0
}

// growIndexLocked makes room in the index for n tokens.
func (st *store) growIndexLocked(n int) {
	if 2*n <= len(st.index) {
		return
	}
	size := max(len(st.index), 64)
	for size < 2*n {
		size *= 2
	}
	size = min(size, maxIndex)
	st.index = make([]uint32, size)
	st.shift = 64
	for s := size; s > 1; s >>= 1 {
		st.shift--
	}
	for pos := range st.ring {
		if !st.ring[pos].named {
			st.indexLocked(&st.ring[pos].key, pos)
		}
	}
}

// addLocked adds a token of family fi, with key or, when name is set,
// under that name, forgetting the oldest token beyond maxTokens.
func (st *store) addLocked(key tokenKey, name string, fi uint32) time.Time {
	exp := st.realNow().Add(st.offset).Add(st.refreshTTL)
	// Count the new token first: the oldest may be its family's last.
	st.fams[fi].tokens++
	var pos int
	if len(st.ring) < maxTokens {
		st.growIndexLocked(len(st.ring) + 1)
		if len(st.ring) == cap(st.ring) {
			st.ring = grow(st.ring, maxTokens)
		}
		pos = len(st.ring)
		st.ring = st.ring[:pos+1]
	} else {
		pos = st.head
		st.evictLocked(pos)
		st.head = (st.head + 1) % maxTokens
	}
	st.ring[pos] = tokenSlot{key: key, expires: exp.UnixNano(), family: fi, named: name != ""}
	if name != "" {
		st.named[name] = uint32(pos)
	} else {
		st.indexLocked(&key, pos)
	}
	return exp
}

// grow returns s with twice the capacity (at least 64, at most limit).
// Unlike append, it does not go past limit.
func grow[E any](s []E, limit int) []E {
	n := make([]E, len(s), min(max(2*len(s), 64), limit))
	copy(n, s)
	return n
}

// evictLocked forgets the token at ring[pos], and its family with its
// last token.
func (st *store) evictLocked(pos int) {
	t := &st.ring[pos]
	if t.named {
		for name, p := range st.named {
			if int(p) == pos {
				delete(st.named, name)
				break
			}
		}
	} else {
		st.unindexLocked(&t.key, pos)
	}
	st.releaseLocked(t.family)
}

// observe returns the state of a presented refresh token and its family
// id (empty when the store does not know it). Presenting a token that was
// already rotated is reuse: it revokes the whole family (RFC 9700 section
// 4.14.2), so the family's newer tokens are "revoked" from then on.
func (st *store) observe(token string) (state, familyID string) {
	if token == "" {
		return scenarios.TokenMissing, ""
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	pos, ok := st.lookupLocked(token)
	if !ok {
		return scenarios.TokenInvalid, ""
	}
	t := &st.ring[pos]
	f := &st.fams[t.family]
	switch {
	case t.rotated:
		f.flags |= famRevoked
		return scenarios.TokenReused, st.familyIDLocked(t.family)
	case f.flags&famRevoked != 0:
		return scenarios.TokenRevoked, st.familyIDLocked(t.family)
	case st.realNow().Add(st.offset).UnixNano() >= t.expires:
		return scenarios.TokenExpired, st.familyIDLocked(t.family)
	}
	return scenarios.TokenValid, st.familyIDLocked(t.family)
}

// staleTokenError says that the presented token stopped being valid
// between observe and rotate: a parallel request rotated it (or revoked
// its family) first.
type staleTokenError struct{ state string }

func (e *staleTokenError) Error() string { return "the refresh token is now " + e.state }

// rotate retires the presented token, when it is valid, and issues the
// next one of its family with a new access token. When strict (the
// scenario was chosen because the token was valid) and the token is no
// longer valid, it rotates nothing and returns a *staleTokenError; a
// rotated token presented again revokes its family, as in observe. For
// any other token (a scenario named by the request or armed) it starts a
// new family.
func (st *store) rotate(presented string, strict bool) (scenarios.TokenData, error) {
	// One read of the random source, outside the lock, for the refresh
	// token, the access token's jti and a new family's id and subject.
	var rnd [tokenKeyLen + jtiLen + famIDLen + subjectLen]byte
	_, _ = rand.Read(rnd[:])
	key := tokenKey(rnd[:tokenKeyLen])
	jti := rnd[tokenKeyLen : tokenKeyLen+jtiLen]

	st.mu.Lock()
	now := st.realNow().Add(st.offset)
	var fi uint32
	pos, ok := st.lookupLocked(presented)
	var t *tokenSlot
	if ok {
		t = &st.ring[pos]
	}
	switch {
	case ok && !t.rotated && st.fams[t.family].flags&famRevoked == 0 && now.UnixNano() < t.expires:
		t.rotated = true
		fi = t.family
	case ok && strict:
		f := &st.fams[t.family]
		state := scenarios.TokenExpired
		switch {
		case t.rotated:
			f.flags |= famRevoked
			state = scenarios.TokenReused
		case f.flags&famRevoked != 0:
			state = scenarios.TokenRevoked
		}
		st.mu.Unlock()
		return scenarios.TokenData{}, &staleTokenError{state: state}
	default:
		fi = st.newFamilyLocked(rnd[tokenKeyLen+jtiLen:], "", "")
	}
	st.addLocked(key, "", fi)
	famID, subject := st.familyLocked(fi)
	st.mu.Unlock()

	next, jtiStr := tokenAndJTI(&key, jti)
	expiresIn := max(int(st.accessTTL/time.Second), 1)
	access, err := signAccess(accessClaims{
		Sub: subject,
		Sid: famID,
		Iat: now.Unix(),
		Exp: now.Add(time.Duration(expiresIn) * time.Second).Unix(),
		Jti: jtiStr,
	})
	if err != nil {
		return scenarios.TokenData{}, fmt.Errorf("sign access token: %w", err)
	}
	return scenarios.TokenData{Access: access, Refresh: next, ExpiresIn: expiresIn, Subject: subject, Family: famID}, nil
}

// tokenString formats a refresh token.
func tokenString(key *tokenKey) string {
	var buf [tokenStrLen]byte
	b := append(buf[:0], tokenPrefix...)
	return string(b64.AppendEncode(b, key[:]))
}

// tokenAndJTI formats a refresh token and a jti with one allocation.
func tokenAndJTI(key *tokenKey, jti []byte) (token, jtiStr string) {
	var buf [tokenStrLen + jtiStrLen]byte
	b := append(buf[:0], tokenPrefix...)
	b = b64.AppendEncode(b, key[:])
	b = b64.AppendEncode(b, jti)
	s := string(b)
	return s[:tokenStrLen], s[tokenStrLen:]
}

// issue starts a new family for subject and returns its first token.
func (st *store) issue(subject string) issued {
	var rnd [tokenKeyLen + famIDLen + subjectLen]byte
	_, _ = rand.Read(rnd[:])
	key := tokenKey(rnd[:tokenKeyLen])
	st.mu.Lock()
	fi := st.newFamilyLocked(rnd[tokenKeyLen:], "", subject)
	exp := st.addLocked(key, "", fi)
	famID, sub := st.familyLocked(fi)
	st.mu.Unlock()
	return issued{RefreshToken: tokenString(&key), Family: famID, Subject: sub, ExpiresAt: exp}
}

// sessionOf resolves what a client may give as a session when arming: a
// refresh token the store knows stands for its family.
func (st *store) sessionOf(s string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if pos, ok := st.lookupLocked(s); ok {
		return st.familyIDLocked(st.ring[pos].family)
	}
	return s
}

func (st *store) counts() (tokens, families, armed int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.ring), st.nFams, st.armed.len()
}

// accessClaims are the claims of the mock's access tokens.
type accessClaims struct {
	Sub string `json:"sub"`
	Sid string `json:"sid"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// signer is a pooled HMAC with buffers for the claims and the token.
type signer struct {
	mac          hash.Hash
	payload, buf []byte
	sum          [sha256.Size]byte
}

// maxPooledBuf bounds the buffers a signer keeps (a long subject given to
// issue makes long tokens).
const maxPooledBuf = 4 << 10

var signerPool = sync.Pool{New: func() any { return &signer{mac: hmac.New(sha256.New, scenarios.JWTKey)} }}

// signAccess signs claims as scenarios.SignJWT does (HS256 with
// scenarios.JWTKey), without its map and with a pooled HMAC and buffers:
// it runs on every rotation, and allocates only the token.
func signAccess(c accessClaims) (string, error) {
	sg := signerPool.Get().(*signer)
	defer func() {
		if cap(sg.payload) <= maxPooledBuf && cap(sg.buf) <= maxPooledBuf {
			signerPool.Put(sg)
		}
	}()
	payload, err := appendClaims(sg.payload[:0], c)
	if err != nil {
		return "", err
	}
	sg.payload = payload
	enc := base64.RawURLEncoding
	buf := append(sg.buf[:0], jwtHeader...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sg.mac.Reset()
	sg.mac.Write(buf)
	sig := sg.mac.Sum(sg.sum[:0])
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	sg.buf = buf
	return string(buf), nil
}

// appendClaims appends c as encoding/json would marshal it, without
// reflection: it runs on every rotation.
func appendClaims(b []byte, c accessClaims) ([]byte, error) {
	var err error
	b = append(b, `{"sub":`...)
	if b, err = appendJSONString(b, c.Sub); err != nil {
		return nil, err
	}
	b = append(b, `,"sid":`...)
	if b, err = appendJSONString(b, c.Sid); err != nil {
		return nil, err
	}
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.Iat, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.Exp, 10)
	b = append(b, `,"jti":`...)
	if b, err = appendJSONString(b, c.Jti); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendJSONString appends s quoted: as is when no byte needs escaping
// (printable ASCII other than the ones encoding/json escapes), else
// through encoding/json.
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			return append(b, q...), err
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}
