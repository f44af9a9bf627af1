package jwt_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/internal/jwt"
)

// TestSign checks a token against an independent HS256 computation, and
// that Decode and Verify read it back.
func TestSign(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{`{}`, `{"sub":"user_1","exp":1700000900}`, `{"sub":"` + strings.Repeat("x", 5000) + `"}`} {
		tok := jwt.Sign([]byte(payload))
		enc := base64.RawURLEncoding
		unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
		mac := hmac.New(sha256.New, jwt.Key)
		mac.Write([]byte(unsigned))
		if want := unsigned + "." + enc.EncodeToString(mac.Sum(nil)); tok != want {
			t.Errorf("Sign(%.40s) = %.60s..., want %.60s...", payload, tok, want)
		}
		got, err := jwt.Decode(tok)
		if err != nil || string(got) != payload {
			t.Errorf("Decode = %.40s, %v; want %.40s", got, err, payload)
		}
		if !jwt.Verify(tok) {
			t.Errorf("Verify(%.60s) = false", tok)
		}
		if jwt.Verify(tok[:len(tok)-2] + "AA") {
			t.Errorf("Verify accepts a changed signature")
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"", "a.b", "a.b.c.d", "x.!!!.y", "x." + base64.RawURLEncoding.EncodeToString([]byte("not json")) + ".y"} {
		if _, err := jwt.Decode(tok); !errors.Is(err, jwt.ErrMalformed) {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", tok, err)
		}
	}
}

func TestSignClaimsSortsKeys(t *testing.T) {
	t.Parallel()
	tok, err := jwt.SignClaims(map[string]any{"sub": "u", "exp": 2, "iat": 1})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := jwt.Decode(tok)
	if got, want := string(p), `{"exp":2,"iat":1,"sub":"u"}`; got != want {
		t.Errorf("payload %s, want %s", got, want)
	}
	if _, err := jwt.SignClaims(map[string]any{"f": func() {}}); err == nil {
		t.Error("SignClaims of a function: no error")
	}
}

func ExampleSign() {
	tok := jwt.Sign([]byte(`{"sub":"user_1"}`))
	payload, _ := jwt.Decode(tok)
	fmt.Println(string(payload), jwt.Verify(tok))
	// Output: {"sub":"user_1"} true
}

func BenchmarkSign(b *testing.B) {
	payload := []byte(`{"sub":"user_AAAAAAAA","sid":"fam_AAAAAAAAAAAA","iat":1700000000,"exp":1700000900,"jti":"AAAAAAAAAAAA"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = jwt.Sign(payload)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(jwt.Sign([]byte(`{"a":1}`)))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		if p, err := jwt.Decode(tok); err == nil && len(p) == 0 {
			t.Errorf("Decode(%q) = empty payload, no error", tok)
		}
		_ = jwt.Verify(tok)
	})
}
