package mockserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
)

// Store bounds.
const (
	maxTokens = 10_000 // oldest tokens are forgotten beyond this
	maxArmed  = 1_000
	maxCount  = 1_000_000 // per armed entry
	// maxSession bounds an armed entry's session key (a header or cookie
	// value, a family id or a refresh token).
	maxSession = 256
)

// errArm is wrapped by arming errors the control API reports as 400.
var errArm = errors.New("cannot arm")

// store is the mock's mutable state: the token store, the armed queue and
// the mock clock. Everything else is immutable. It is bounded and guarded
// by one mutex; the critical sections are a few map operations.
type store struct {
	mu         sync.Mutex
	realNow    func() time.Time
	offset     time.Duration
	tokens     map[string]tokenRec
	order      []string // issue order, for eviction; order[head:] are live
	head       int
	families   map[string]*family
	armed      []*armedEntry
	armSeq     int
	seed       string
	accessTTL  time.Duration
	refreshTTL time.Duration
}

// tokenRec is kept by value in the map: one pointer (the family) per token
// for the GC to scan, and no allocation of its own.
type tokenRec struct {
	family  *family
	expires int64 // mock-clock Unix nanoseconds
	rotated bool
}

type family struct {
	id      string
	subject string
	revoked bool
	tokens  int
}

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
// clock and seeds the starting token.
func (st *store) resetLocked() {
	st.offset = 0
	st.tokens = map[string]tokenRec{}
	st.order = nil
	st.head = 0
	st.families = map[string]*family{}
	st.armed = nil
	if st.seed != "" {
		f := st.newFamilyLocked("fam_seed", "user_dev")
		st.addLocked(st.seed, f)
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

func (st *store) newFamilyLocked(id, subject string) *family {
	if id == "" {
		id = "fam_" + randomID(9)
	}
	if subject == "" {
		subject = "user_" + randomID(6)
	}
	f := &family{id: id, subject: subject}
	st.families[id] = f
	return f
}

func (st *store) addLocked(token string, f *family) time.Time {
	exp := st.realNow().Add(st.offset).Add(st.refreshTTL)
	st.tokens[token] = tokenRec{family: f, expires: exp.UnixNano()}
	f.tokens++
	st.order = append(st.order, token)
	for len(st.order)-st.head > maxTokens {
		st.evictLocked(st.order[st.head])
		st.order[st.head] = ""
		st.head++
	}
	if st.head > len(st.order)/2 && st.head > 1024 {
		st.order = slices.Clone(st.order[st.head:])
		st.head = 0
	}
	return exp
}

func (st *store) evictLocked(token string) {
	rec, ok := st.tokens[token]
	if !ok {
		return
	}
	delete(st.tokens, token)
	rec.family.tokens--
	if rec.family.tokens <= 0 {
		delete(st.families, rec.family.id)
	}
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
	rec, ok := st.tokens[token]
	if !ok {
		return scenarios.TokenInvalid, ""
	}
	f := rec.family
	switch {
	case rec.rotated:
		f.revoked = true
		return scenarios.TokenReused, f.id
	case f.revoked:
		return scenarios.TokenRevoked, f.id
	case st.realNow().Add(st.offset).UnixNano() >= rec.expires:
		return scenarios.TokenExpired, f.id
	}
	return scenarios.TokenValid, f.id
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
	st.mu.Lock()
	now := st.realNow().Add(st.offset)
	var f *family
	rec, ok := st.tokens[presented]
	switch {
	case ok && !rec.rotated && !rec.family.revoked && now.UnixNano() < rec.expires:
		rec.rotated = true
		st.tokens[presented] = rec
		f = rec.family
	case ok && strict:
		state := scenarios.TokenExpired
		switch {
		case rec.rotated:
			rec.family.revoked = true
			state = scenarios.TokenReused
		case rec.family.revoked:
			state = scenarios.TokenRevoked
		}
		st.mu.Unlock()
		return scenarios.TokenData{}, &staleTokenError{state: state}
	default:
		f = st.newFamilyLocked("", "")
	}
	// One read of the random source for the refresh token (24 bytes) and
	// the access token's jti (9 bytes).
	var rnd [33]byte
	_, _ = rand.Read(rnd[:])
	next := "rt_" + base64.RawURLEncoding.EncodeToString(rnd[:24])
	st.addLocked(next, f)
	subject, famID := f.subject, f.id
	st.mu.Unlock()

	expiresIn := max(int(st.accessTTL/time.Second), 1)
	access, err := signAccess(accessClaims{
		Sub: subject,
		Sid: famID,
		Iat: now.Unix(),
		Exp: now.Add(time.Duration(expiresIn) * time.Second).Unix(),
		Jti: base64.RawURLEncoding.EncodeToString(rnd[24:]),
	})
	if err != nil {
		return scenarios.TokenData{}, fmt.Errorf("sign access token: %w", err)
	}
	return scenarios.TokenData{Access: access, Refresh: next, ExpiresIn: expiresIn, Subject: subject, Family: famID}, nil
}

// issue starts a new family for subject and returns its first token.
func (st *store) issue(subject string) issued {
	st.mu.Lock()
	defer st.mu.Unlock()
	f := st.newFamilyLocked("", subject)
	tok := "rt_" + randomID(24)
	exp := st.addLocked(tok, f)
	return issued{RefreshToken: tok, Family: f.id, Subject: f.subject, ExpiresAt: exp}
}

// sessionOf resolves what a client may give as a session when arming: a
// refresh token the store knows stands for its family.
func (st *store) sessionOf(s string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if rec, ok := st.tokens[s]; ok {
		return rec.family.id
	}
	return s
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
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.armed) >= maxArmed {
		return armedEntry{}, fmt.Errorf("%w: %d entries are already armed; reset or disarm first", errArm, maxArmed)
	}
	st.armSeq++
	e := &armedEntry{ID: st.armSeq, Scenario: sc.Name, Operation: sc.Operation, Remaining: count, Session: session, ArmedAt: st.realNow().Add(st.offset)}
	st.armed = append(st.armed, e)
	return *e, nil
}

func (st *store) armedList() []armedEntry {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]armedEntry, len(st.armed))
	for i, e := range st.armed {
		out[i] = *e
	}
	return out
}

func (st *store) disarm() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := len(st.armed)
	st.armed = nil
	return n
}

// popArmed takes one use of the first entry armed for the operation and
// one of the request's sessions; entries scoped to a session go before
// global ones. lookup resolves the name in the current set: an entry whose
// scenario a reload removed is dropped.
func (st *store) popArmed(op string, sessions []string, lookup func(string) (*scenarios.Scenario, bool)) *scenarios.Scenario {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.armed) == 0 {
		return nil
	}
	pick := -1
	for i, e := range st.armed {
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
		e := st.armed[pick]
		sc, ok := lookup(e.Scenario)
		e.Remaining--
		if e.Remaining <= 0 || !ok {
			st.armed = slices.Delete(st.armed, pick, pick+1)
		}
		if ok {
			return sc
		}
		pick = -1
		for i, e := range st.armed {
			if e.Operation == op && (e.Session == "" || slices.Contains(sessions, e.Session)) {
				pick = i
				break
			}
		}
	}
	return nil
}

func (st *store) counts() (tokens, families, armed int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.tokens), len(st.families), len(st.armed)
}

// randomID returns n random bytes, base64url-encoded.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// accessClaims are the claims of the mock's access tokens.
type accessClaims struct {
	Sub string `json:"sub"`
	Sid string `json:"sid"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

var (
	jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	macPool   = sync.Pool{New: func() any { return hmac.New(sha256.New, scenarios.JWTKey) }}
)

// signAccess signs claims as scenarios.SignJWT does (HS256 with
// scenarios.JWTKey), without its map and with a pooled HMAC: it runs on
// every rotation.
func signAccess(c accessClaims) (string, error) {
	payload, err := appendClaims(make([]byte, 0, 128), c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(jwtHeader)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(sha256.Size))
	buf = append(buf, jwtHeader...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	mac := macPool.Get().(hash.Hash)
	mac.Reset()
	mac.Write(buf)
	var sum [sha256.Size]byte
	sig := mac.Sum(sum[:0])
	macPool.Put(mac)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
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
