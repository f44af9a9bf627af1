package conformance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Fingerprint returns a short stable stand-in for a secret,
// "sha256:" and the first 8 hex digits of its SHA-256, so that a report can
// show that the same token was sent twice without showing it.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

// minSecretLen is the shortest value registered as a secret: shorter
// values would redact ordinary text.
const minSecretLen = 4

// Redactor replaces secrets by their fingerprints. It learns secrets as a
// run goes (variables, cookies, tokens in headers and JSON bodies) and is
// safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets map[string]bool
	ordered []string // longest first, so that a secret containing another is replaced whole
}

// NewRedactor returns a redactor that knows the given secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{secrets: map[string]bool{}}
	r.Add(secrets...)
	return r
}

// Add registers secrets. Values shorter than 4 bytes are ignored.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) < minSecretLen || r.secrets[s] || strings.HasPrefix(s, "sha256:") {
			continue
		}
		r.secrets[s] = true
		r.ordered = append(r.ordered, s)
		changed = true
	}
	if changed {
		sort.SliceStable(r.ordered, func(i, j int) bool { return len(r.ordered[i]) > len(r.ordered[j]) })
	}
}

// jwtPattern finds JWT-shaped strings, redacted even when not registered.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)

// String replaces every known secret and every JWT in s.
func (r *Redactor) String(s string) string {
	if s == "" {
		return s
	}
	r.mu.RLock()
	for _, sec := range r.ordered {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Fingerprint(sec))
		}
	}
	r.mu.RUnlock()
	return jwtPattern.ReplaceAllStringFunc(s, Fingerprint)
}

// secretHeader reports whether a header's values are secrets as a whole.
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	for _, w := range []string{"token", "secret", "api-key", "apikey", "password", "session", "auth"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// secretKey reports whether a JSON object key names a secret.
func secretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range []string{"token", "secret", "password", "passwd", "api_key", "apikey", "authorization", "credential", "session"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// LearnHeader registers the secrets of a request or response header:
// Authorization credentials, cookie values, values of headers whose names
// say token, secret, key or session.
func (r *Redactor) LearnHeader(h http.Header) {
	for name, vals := range h {
		if !secretHeader(name) {
			continue
		}
		for _, v := range vals {
			switch strings.ToLower(name) {
			case "cookie":
				for _, c := range parseCookieHeader(v) {
					r.Add(c.Value)
				}
			case "set-cookie":
				if c, err := http.ParseSetCookie(v); err == nil {
					r.Add(c.Value)
				}
			case "authorization", "proxy-authorization":
				if _, cred, ok := strings.Cut(v, " "); ok {
					r.Add(cred)
				}
				r.Add(v)
			default:
				r.Add(v)
			}
		}
	}
}

// LearnJSON registers the string values of secret-named keys (token,
// secret, password...) anywhere in a JSON document.
func (r *Redactor) LearnJSON(body []byte) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return
	}
	var walk func(v any, secret bool)
	walk = func(v any, secret bool) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				walk(e, secret || secretKey(k))
			}
		case []any:
			for _, e := range t {
				walk(e, secret)
			}
		case string:
			if secret {
				r.Add(t)
			}
		}
	}
	walk(v, false)
}

// Header returns a redacted copy of h, one "Name: value" line per value,
// sorted by name.
func (r *Redactor) Header(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for name, vals := range h {
		for _, v := range vals {
			out[name] = append(out[name], r.headerValue(name, v))
		}
	}
	return out
}

func (r *Redactor) headerValue(name, v string) string {
	switch strings.ToLower(name) {
	case "cookie":
		cs := parseCookieHeader(v)
		parts := make([]string, len(cs))
		for i, c := range cs {
			parts[i] = c.Name + "=" + Fingerprint(c.Value)
		}
		return strings.Join(parts, "; ")
	case "set-cookie":
		c, err := http.ParseSetCookie(v)
		if err == nil && c.Value != "" {
			return strings.Replace(v, c.Value, Fingerprint(c.Value), 1)
		}
		return r.String(v)
	case "authorization", "proxy-authorization":
		if scheme, cred, ok := strings.Cut(v, " "); ok {
			return scheme + " " + Fingerprint(cred)
		}
		return Fingerprint(v)
	}
	if secretHeader(name) && v != "" {
		return Fingerprint(v)
	}
	return r.String(v)
}

func parseCookieHeader(v string) []*http.Cookie {
	cs, err := http.ParseCookie(v)
	if err != nil {
		return nil
	}
	return cs
}
