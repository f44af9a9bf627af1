package mockserver

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/refreshmock/refreshmock/internal/jsonq"
	"github.com/refreshmock/refreshmock/internal/jwt"
	"github.com/refreshmock/refreshmock/scenarios"
)

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

// Bounds of Config.AccessTTL and of the access_ttl the control API sets.
const (
	MinAccessTTL = time.Second
	MaxAccessTTL = 24 * time.Hour
)

var b64 = base64.RawURLEncoding

// store is the mock's mutable state: the tokens (tokenindex.go), their
// families (families.go), the mock clock (clock.go) and the armed queue
// (armed.go, with its own mutex). Everything else is immutable. It is
// bounded and guarded by one mutex; the critical sections are a few slice
// and map operations. The token store costs about 70 bytes a token, 95
// when every token starts a family, in a few pointer-free slices.
//
// One state machine (present) gives the state of a presented token for
// both observe and rotate. Beyond maxTokens, a new token takes the slot of
// the token that died first (rotated, or the live token of a revoked
// family), and only when none is stored the slot of the oldest token,
// counted as a live eviction when that token had not expired.
type store struct {
	mu    sync.Mutex
	clk   mockClock
	toks  tokenIndex
	fams  families
	dead  deadQueue
	armed armedQueue
	seed  string
	// accessTTL is the lifetime of the access tokens rotation issues;
	// configTTL is the configured one, which reset restores.
	accessTTL, configTTL time.Duration
	refreshTTL           time.Duration
	// evicted and liveEvicted count, since the last reset, the tokens
	// forgotten for room and those of them that were still valid.
	evicted, liveEvicted int
}

// issued describes a refresh token the store issued.
type issued struct {
	RefreshToken string    `json:"refresh_token"`
	Family       string    `json:"family"`
	Subject      string    `json:"subject"`
	ExpiresAt    time.Time `json:"expires_at"`
}

func newStore(now func() time.Time, seed string, accessTTL, refreshTTL time.Duration) *store {
	st := &store{clk: mockClock{realNow: now}, seed: seed, configTTL: accessTTL, refreshTTL: refreshTTL}
	st.resetLocked()
	return st
}

// resetLocked forgets every token, family and armed entry, rewinds the
// clock, restores the access-token lifetime and seeds the starting token.
// The slices keep their capacity.
func (st *store) resetLocked() {
	st.clk.offset = 0
	st.accessTTL = st.configTTL
	st.toks.reset()
	st.fams.reset()
	st.dead.reset()
	st.evicted, st.liveEvicted = 0, 0
	st.armed.reset()
	if st.seed != "" {
		fi := st.fams.add(nil, "fam_seed", "user_dev")
		key, ok := parseToken(st.seed)
		name := st.seed
		if ok {
			name = ""
		}
		st.addLocked(key, name, fi, st.clk.now())
	}
}

func (st *store) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.resetLocked()
}

// realNow is the real (wall) clock.
func (st *store) realNow() time.Time { return st.clk.realNow() }

// now is the mock clock: the real time plus what the control API advanced.
func (st *store) now() time.Time {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.clk.now()
}

// advance moves the mock clock; an advance past MaxClockOffset is refused
// with a *ClockRangeError and changes nothing.
func (st *store) advance(d time.Duration) (time.Time, time.Duration, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	err := st.clk.advance(d)
	return st.clk.now(), st.clk.offset, err
}

// resetClock puts the mock clock back on the real clock.
func (st *store) resetClock() (time.Time, time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.clk.offset = 0
	return st.clk.now(), st.clk.offset
}

// clock returns the mock clock's time and its offset from the real clock.
func (st *store) clock() (time.Time, time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.clk.now(), st.clk.offset
}

// setAccessTTL sets the lifetime of the access tokens issued from now on
// (until reset); it returns the one in force before.
func (st *store) setAccessTTL(d time.Duration) (time.Duration, error) {
	if d < MinAccessTTL || d > MaxAccessTTL {
		return 0, fmt.Errorf("access_ttl %s is out of range; use %s to %s", d, MinAccessTTL, MaxAccessTTL)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	old := st.accessTTL
	st.accessTTL = d
	return old, nil
}

// ttls returns the access-token lifetime in force and the refresh-token
// lifetime.
func (st *store) ttls() (access, refresh time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.accessTTL, st.refreshTTL
}

// addLocked stores a token of family fi, with key or, when name is set,
// under that name, as the family's live token. Beyond maxTokens it first
// makes room (evictLocked).
func (st *store) addLocked(key tokenKey, name string, fi uint32, now time.Time) time.Time {
	exp := now.Add(st.refreshTTL)
	// Count the new token first: the token it replaces may be its
	// family's last.
	st.fams.recs[fi].tokens++
	pos := st.toks.len()
	if pos == maxTokens {
		pos = st.evictLocked(now.UnixNano())
	}
	st.toks.put(pos, tokenSlot{key: key, expires: exp.UnixNano(), family: fi}, name)
	st.fams.recs[fi].live = uint32(pos) + 1
	return exp
}

// evictLocked forgets a token to make room and returns its slot: the one
// that died first, else the oldest (a live eviction unless it expired).
func (st *store) evictLocked(now int64) int {
	pos, ok := st.dead.pop()
	if !ok {
		pos = int(st.toks.oldest - 1)
		if now < st.toks.slots[pos].expires && !st.deadLocked(pos) {
			st.liveEvicted++
		}
	}
	st.evicted++
	fi := st.toks.slots[pos].family
	if st.fams.recs[fi].live == uint32(pos)+1 {
		st.fams.recs[fi].live = 0
	}
	st.toks.remove(pos)
	st.fams.release(fi)
	return pos
}

// deadLocked says that the token in slot pos can never be valid again:
// rotated, or of a revoked family.
func (st *store) deadLocked(pos int) bool {
	t := &st.toks.slots[pos]
	return t.rotated || st.fams.recs[t.family].flags&famRevoked != 0
}

// presentLocked is the token state machine: the state of the token in
// slot pos presented at now (mock-clock Unix nanoseconds). Presenting a
// rotated token is reuse: it revokes the whole family (RFC 9700 section
// 4.14.2), whose live token dies with it; the family's tokens are
// "revoked" from then on. observe and rotate both present through it.
func (st *store) presentLocked(pos int, now int64) string {
	t := &st.toks.slots[pos]
	f := &st.fams.recs[t.family]
	switch {
	case t.rotated:
		if f.flags&famRevoked == 0 {
			f.flags |= famRevoked
			if f.live != 0 {
				st.dead.push(int(f.live - 1))
			}
		}
		return scenarios.TokenReused
	case f.flags&famRevoked != 0:
		return scenarios.TokenRevoked
	case now >= t.expires:
		return scenarios.TokenExpired
	}
	return scenarios.TokenValid
}

// observe returns the state of a presented refresh token and its family
// id (empty when the store does not know it).
func (st *store) observe(token string) (state, familyID string) {
	if token == "" {
		return scenarios.TokenMissing, ""
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	pos, ok := st.toks.lookup(token)
	if !ok {
		return scenarios.TokenInvalid, ""
	}
	state = st.presentLocked(pos, st.clk.now().UnixNano())
	return state, st.fams.id(st.toks.slots[pos].family)
}

// staleTokenError says that the presented token stopped being valid
// between observe and rotate: a parallel request rotated it (or revoked
// its family) first.
type staleTokenError struct{ state string }

func (e *staleTokenError) Error() string { return "the refresh token is now " + e.state }

// rotate retires the presented token, when it is valid, and issues the
// next one of its family with a new access token. When strict (the
// scenario was chosen because the token was valid) and the token is no
// longer valid, it rotates nothing and returns a *staleTokenError. For any
// other token (a scenario named by the request or armed) it starts a new
// family.
//
// The access token's iat and exp are on the real (wall) clock, which is
// the clock of the browser that reads them; the mock clock decides only
// the server side (refresh-token expiry). expires_in is exp - iat.
func (st *store) rotate(presented string, strict bool) (scenarios.TokenData, error) {
	// One read of the random source, outside the lock, for the refresh
	// token, the access token's jti and a new family's id and subject.
	var rnd [tokenKeyLen + jtiLen + famIDLen + subjectLen]byte
	_, _ = rand.Read(rnd[:])
	key := tokenKey(rnd[:tokenKeyLen])
	jti := rnd[tokenKeyLen : tokenKeyLen+jtiLen]

	st.mu.Lock()
	// One look at the real clock: the mock clock is it plus the offset.
	wall := st.clk.realNow()
	now := wall.Add(st.clk.offset)
	pos, ok := st.toks.lookup(presented)
	state := ""
	if ok {
		state = st.presentLocked(pos, now.UnixNano())
	}
	var fi uint32
	switch {
	case state == scenarios.TokenValid:
		t := &st.toks.slots[pos]
		t.rotated = true
		st.dead.push(pos)
		fi = t.family
	case ok && strict:
		st.mu.Unlock()
		return scenarios.TokenData{}, &staleTokenError{state: state}
	default:
		fi = st.fams.add(rnd[tokenKeyLen+jtiLen:], "", "")
	}
	st.addLocked(key, "", fi, now)
	famID, subject := st.fams.ids(fi)
	ttl := st.accessTTL
	st.mu.Unlock()

	next, jtiStr := tokenAndJTI(&key, jti)
	expiresIn := max(int(ttl/time.Second), 1)
	access, err := signAccess(accessClaims{
		Sub: subject,
		Sid: famID,
		Iat: wall.Unix(),
		Exp: wall.Add(time.Duration(expiresIn) * time.Second).Unix(),
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
	fi := st.fams.add(rnd[tokenKeyLen:], "", subject)
	exp := st.addLocked(key, "", fi, st.clk.now())
	famID, sub := st.fams.ids(fi)
	st.mu.Unlock()
	return issued{RefreshToken: tokenString(&key), Family: famID, Subject: sub, ExpiresAt: exp}
}

// sessionOf resolves what a client may give as a session when arming: a
// refresh token the store knows stands for its family.
func (st *store) sessionOf(s string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if pos, ok := st.toks.lookup(s); ok {
		return st.fams.id(st.toks.slots[pos].family)
	}
	return s
}

// hasArmed says whether any scenario is armed (perhaps expired).
func (st *store) hasArmed() bool { return st.armed.len() > 0 }

func (st *store) counts() (tokens, families, armed int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.toks.len(), st.fams.n, st.armed.len()
}

// evictions counts, since the last reset, the tokens forgotten to make
// room and those of them that were still valid.
func (st *store) evictions() (evicted, live int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.evicted, st.liveEvicted
}

// accessClaims are the claims of the mock's access tokens.
type accessClaims struct {
	Sub string `json:"sub"`
	Sid string `json:"sid"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

// claimBufs recycles the buffers access-token claims are encoded in.
var claimBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// signAccess signs claims with internal/jwt (HS256), encoding them
// without reflection into a pooled buffer: it runs on every rotation, and
// allocates only the token.
func signAccess(c accessClaims) (string, error) {
	bp := claimBufs.Get().(*[]byte)
	payload, err := appendClaims((*bp)[:0], c)
	if err != nil {
		return "", err
	}
	tok := jwt.Sign(payload)
	if cap(payload) <= 4<<10 {
		*bp = payload
		claimBufs.Put(bp)
	}
	return tok, nil
}

// appendClaims appends c as encoding/json would marshal it, without
// reflection: it runs on every rotation.
func appendClaims(b []byte, c accessClaims) ([]byte, error) {
	var err error
	b = append(b, `{"sub":`...)
	if b, err = jsonq.Append(b, c.Sub); err != nil {
		return nil, err
	}
	b = append(b, `,"sid":`...)
	if b, err = jsonq.Append(b, c.Sid); err != nil {
		return nil, err
	}
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.Iat, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.Exp, 10)
	b = append(b, `,"jti":`...)
	if b, err = jsonq.Append(b, c.Jti); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}
