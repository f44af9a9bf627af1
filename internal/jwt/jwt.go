package jwt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// Key signs every token (HS256). It is public on purpose: the tokens are
// test tokens.
var Key = []byte("refreshmock-not-a-secret")

// header is the encoded JOSE header of every token.
var header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// ErrMalformed is wrapped by Decode for a string that is not a JWT.
var ErrMalformed = errors.New("not a JWT")

// signer is a pooled HMAC with a buffer for the token.
type signer struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// maxPooledBuf keeps buffers grown by a large token out of the pool.
const maxPooledBuf = 4 << 10

var signers = sync.Pool{New: func() any { return &signer{mac: hmac.New(sha256.New, Key)} }}

// Sign returns header.payload.signature for a JSON payload (the claims,
// already encoded). It allocates only the token: the HMAC and the buffer
// are pooled, as the mock signs on every rotation.
func Sign(payload []byte) string {
	sg := signers.Get().(*signer)
	enc := base64.RawURLEncoding
	buf := append(sg.buf[:0], header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sg.mac.Reset()
	sg.mac.Write(buf)
	sig := sg.mac.Sum(sg.sum[:0])
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	tok := string(buf)
	if cap(buf) <= maxPooledBuf {
		sg.buf = buf
		signers.Put(sg)
	}
	return tok
}

// SignClaims encodes claims with encoding/json (a map's keys sorted) and
// signs them.
func SignClaims(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwt claims: %w", err)
	}
	return Sign(payload), nil
}

// Decode returns the JSON payload of a token without checking its
// signature (a conformance run reads tokens of servers whose key it does
// not know). Padding left on the payload segment is tolerated.
func Decode(tok string) ([]byte, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: %d dot-separated parts, want 3", ErrMalformed, len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	if !json.Valid(payload) {
		return nil, fmt.Errorf("%w: the payload is not JSON", ErrMalformed)
	}
	return payload, nil
}

// Verify says whether tok is signed with Key.
func Verify(tok string) bool {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, Key)
	mac.Write([]byte(tok[:i]))
	return hmac.Equal(sig, mac.Sum(nil))
}
