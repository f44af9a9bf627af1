package conformance

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Fingerprint returns a short stable stand-in for a secret,
// "sha256:" and the first 8 hex digits of its SHA-256, so that a report can
// show that the same token was sent twice without showing it.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

// Redaction rules. A Redactor replaces, in any text it is given:
//   - every registered secret, and every substring of one that is
//     FragmentLen bytes or longer (a token cut by a truncation, or echoed
//     in part);
//   - next to a cut ("…" or "...") or at either end of the text, a prefix
//     or suffix of a secret of CutFragmentLen bytes or more (what a
//     truncation leaves of a token);
//   - the same in the text's decoded views: JSON string escapes decoded
//     (\/, \", \uXXXX including surrogate pairs, once or twice nested),
//     percent-encoding decoded (either hex case; "+" as space too when a
//     secret holds a space), and percent-encoded JSON;
//   - the base64 forms of each secret (standard and URL alphabets, padded
//     or not, at each of the 3 alignments it can take inside a larger
//     blob), whole or in fragments of FragmentLen characters or more;
//   - JWT-shaped strings, registered or not.
//
// Each replaced span becomes the fingerprint of the secret it belongs to.
// Secrets longer than MaxIndexedSecret bytes are replaced whole only
// (raw, in each decoded view).
const (
	// minSecretLen is the shortest value registered as a secret: shorter
	// values would redact ordinary text.
	minSecretLen = 4
	// FragmentLen is the length from which a substring of a secret (or
	// of one of its base64 forms) is redacted wherever it appears.
	FragmentLen = 10
	// CutFragmentLen is the length from which a prefix or suffix of a
	// secret is redacted next to a truncation mark or at an end of the
	// text.
	CutFragmentLen = minSecretLen
	// MaxIndexedSecret is the longest secret whose fragments and base64
	// forms are redacted.
	MaxIndexedSecret = 4096
	// minB64Needle is the shortest base64 form redacted (whole): the
	// base64 forms of secrets of 7 bytes or more (6 at the start of a
	// blob) are looked for.
	minB64Needle = 8
	// filterBits sizes the bit filter that keeps most windows of a text
	// out of the window map.
	filterBits = 1 << 16
	hashBase   = 1099511628211 // FNV prime: odd, well mixed
)

// needle is one form of a secret to look for.
type needle struct{ text, secret string }

// gramRef points at the FragmentLen-byte window of a needle at off.
type gramRef struct{ needle, off int32 }

// Redactor replaces secrets by their fingerprints. It learns secrets as a
// run goes (variables, cookies, tokens in headers and JSON bodies) and is
// safe for concurrent use. See FragmentLen for what it catches. A nil
// *Redactor redacts nothing (Shorten only cuts), so that pure code can take
// one optionally.
type Redactor struct {
	mu      sync.RWMutex
	secrets map[string]bool
	needles []needle
	// forms maps each needle's text to its secret.
	forms map[string]string
	// grams indexes each distinct FragmentLen-byte window of the needles
	// by its hash; filter has a bit per hash, so that most windows of a
	// text never reach the map.
	grams  map[uint64][]gramRef
	filter []uint64
	// whole lists the needles matched whole only: shorter than
	// FragmentLen, or longer than MaxIndexedSecret.
	whole []int32
	// wordNeedles lists the indexed needles that are word-like (see
	// wordLike): a word-like run of fragments is redacted only where it
	// holds one of them whole.
	wordNeedles []int32
	// cutPrefix and cutSuffix map the prefixes and suffixes of needles,
	// CutFragmentLen up to FragmentLen-1 bytes, to their secret.
	cutPrefix, cutSuffix map[string]string
	// hasSpace is set when some secret holds a space, which "+" may stand
	// for in a percent-encoded text.
	hasSpace bool
}

// NewRedactor returns a redactor that knows the given secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{secrets: map[string]bool{}, forms: map[string]string{}, grams: map[uint64][]gramRef{},
		filter: make([]uint64, filterBits/64), cutPrefix: map[string]string{}, cutSuffix: map[string]string{}}
	r.Add(secrets...)
	return r
}

// Add registers secrets. Values shorter than 4 bytes (after trimming
// spaces) and fingerprints are ignored.
func (r *Redactor) Add(secrets ...string) {
	var fresh []string
	r.mu.RLock()
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) >= minSecretLen && !r.secrets[s] && !strings.HasPrefix(s, "sha256:") {
			fresh = append(fresh, s)
		}
	}
	r.mu.RUnlock()
	if len(fresh) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range fresh {
		if r.secrets[s] {
			continue
		}
		r.secrets[s] = true
		if strings.Contains(s, " ") {
			r.hasSpace = true
		}
		r.addNeedle(needle{s, s})
		if len(s) > MaxIndexedSecret {
			continue
		}
		for _, form := range base64Forms(s) {
			if len(form) >= minB64Needle {
				r.addNeedle(needle{form, s})
			}
		}
		if len(s) <= maxEscapedSecret {
			for _, form := range escapedForms(s) {
				r.addNeedle(needle{form, s})
			}
		}
	}
}

// maxEscapedSecret is the longest secret whose escaped forms are needles
// of their own (escapedForms): the \u form is six times the secret.
const maxEscapedSecret = 1024

// escapedForms returns the whole percent- and JSON-escaped forms of s
// that differ from it, and its hex (lower and upper case). Escaping done
// twice decodes once to one of these. The decoded views find these too, except where a
// stray escape lead-in right before them ("%" + "00%21", "\\" + "\u0041")
// makes the text decode another way; matched as they are written, they
// are found whatever precedes them.
func escapedForms(s string) []string {
	var out []string
	add := func(f string) {
		if f != s && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	add(url.QueryEscape(s))
	add(url.PathEscape(s))
	add(hex.EncodeToString([]byte(s)))
	add(strings.ToUpper(hex.EncodeToString([]byte(s))))
	// Every byte percent-encoded: the hex digits in pairs, each after a %.
	h := hex.EncodeToString([]byte(s))
	var pct strings.Builder
	for k := 0; k < len(h); k += 2 {
		pct.WriteString("%" + h[k:k+2])
	}
	add(pct.String())
	add(strings.ToUpper(pct.String())) // only % and hex digits
	if utf8.ValidString(s) {
		if q, err := json.Marshal(s); err == nil {
			inner := string(q[1 : len(q)-1])
			add(inner)
			add(strings.ReplaceAll(inner, "/", `\/`))
		}
		var lower, upper strings.Builder
		for _, u := range utf16.Encode([]rune(s)) {
			fmt.Fprintf(&lower, `\u%04x`, u)
			fmt.Fprintf(&upper, `\u%04X`, u)
		}
		add(lower.String())
		add(upper.String())
	}
	return out
}

// base64Forms returns the part of the base64 encoding of s that does not
// depend on its neighbours, for each of the 3 alignments s can have inside
// a larger blob, in the standard and the URL alphabets. Padding falls
// outside these parts, so padded and unpadded forms both contain them.
func base64Forms(s string) []string {
	var out []string
	for o := range 3 {
		enc := base64.RawStdEncoding.EncodeToString(append(make([]byte, o, o+len(s)), s...))
		from, to := (o*8+5)/6, (o+len(s))*8/6
		if to <= from {
			continue
		}
		mid := enc[from:to]
		out = append(out, mid, strings.NewReplacer("+", "-", "/", "_").Replace(mid))
	}
	return out
}

// addNeedle indexes n. The caller holds r.mu for writing.
func (r *Redactor) addNeedle(n needle) {
	if _, ok := r.forms[n.text]; ok {
		return
	}
	r.forms[n.text] = n.secret
	i := int32(len(r.needles))
	r.needles = append(r.needles, n)
	for l := CutFragmentLen; l < FragmentLen && l < len(n.text); l++ {
		if _, ok := r.cutPrefix[n.text[:l]]; !ok {
			r.cutPrefix[n.text[:l]] = n.secret
		}
		if _, ok := r.cutSuffix[n.text[len(n.text)-l:]]; !ok {
			r.cutSuffix[n.text[len(n.text)-l:]] = n.secret
		}
	}
	if len(n.text) < FragmentLen || len(n.text) > MaxIndexedSecret {
		r.whole = append(r.whole, i)
		return
	}
	if wordLike(n.text) {
		r.wordNeedles = append(r.wordNeedles, i)
	}
	h := hashWindow(n.text)
	for off := 0; ; off++ {
		w := n.text[off : off+FragmentLen]
		if !slices.ContainsFunc(r.grams[h], func(g gramRef) bool { return r.window(g) == w }) {
			r.grams[h] = append(r.grams[h], gramRef{i, int32(off)})
			fi := filterIndex(h)
			r.filter[fi/64] |= 1 << (fi % 64)
		}
		if off+FragmentLen >= len(n.text) {
			break
		}
		h = (h-uint64(n.text[off])*pow)*hashBase + uint64(n.text[off+FragmentLen])
	}
}

// window returns the text of the window g points at.
func (r *Redactor) window(g gramRef) string {
	return r.needles[g.needle].text[g.off : int(g.off)+FragmentLen]
}

// hashWindow hashes the first FragmentLen bytes of s.
func hashWindow(s string) uint64 {
	var h uint64
	for i := range FragmentLen {
		h = h*hashBase + uint64(s[i])
	}
	return h
}

// pow is hashBase^(FragmentLen-1), the weight of a window's first byte.
var pow = func() uint64 {
	p := uint64(1)
	for range FragmentLen - 1 {
		p *= hashBase
	}
	return p
}()

func filterIndex(h uint64) uint64 {
	return (h * 0x9E3779B97F4A7C15) >> (64 - 16)
}

// jwtPattern finds JWT-shaped strings, redacted even when not registered.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)

// String replaces every known secret, in every form listed at
// FragmentLen, and every JWT in s by their fingerprints.
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	if spans := r.spans(s); len(spans) > 0 {
		return replaceSpans(s, spans)
	}
	return s
}

// Contains reports whether s holds a registered secret in any form String
// redacts (a fragment of one included; unregistered JWTs are not counted),
// e.g. to tell whether an error body echoes the token the request sent:
// NewRedactor(sent...).Contains(body).
func (r *Redactor) Contains(s string) bool {
	if r == nil || s == "" {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.find(s)) > 0
}

// spans returns the spans of s to replace: secrets in every form, and
// JWTs (whole, so that a JWT sharing its header with a known one becomes
// one fingerprint rather than pieces).
func (r *Redactor) spans(s string) []span {
	r.mu.RLock()
	spans := r.find(s)
	r.mu.RUnlock()
	if strings.Contains(s, "eyJ") {
		for _, m := range jwtPattern.FindAllStringIndex(s, -1) {
			spans = append(spans, span{m[0], m[1], s[m[0]:m[1]]})
		}
	}
	return spans
}

// Shorten redacts s, then cuts it to at most n bytes (never inside a
// fingerprint or a UTF-8 sequence), marking the cut with "…". Call it on
// raw values instead of cutting them first: a secret cut in two is no
// longer whole for String to find. A nil Redactor only cuts.
func (r *Redactor) Shorten(s string, n int) string {
	s = r.String(s)
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	// Step back out of a fingerprint the cut would split.
	const fpLen = len("sha256:") + 8
	if i := strings.LastIndex(s[:min(len(s), cut+len("sha256:"))], "sha256:"); i >= 0 && i < cut && i+fpLen > cut {
		cut = i
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Finding returns f with every text field redacted (a nil Redactor
// returns f).
func (r *Redactor) Finding(f Finding) Finding {
	f.Message, f.Value, f.Got, f.Expected = r.String(f.Message), r.String(f.Value), r.String(f.Got), r.String(f.Expected)
	f.HowToFix, f.Field, f.StepName = r.String(f.HowToFix), r.String(f.Field), r.String(f.StepName)
	return f
}

// Report redacts every text of rep in place with what the redactor knows
// now: a secret learnt late in a run (by another case, or in a later step)
// is then gone from the earlier cases too. Run calls it on the report it
// returns.
func (r *Redactor) Report(rep *Report) {
	if r == nil || rep == nil {
		return
	}
	rep.Target = r.String(rep.Target)
	for i := range rep.Cases {
		c := &rep.Cases[i]
		c.SkipReason = r.String(c.SkipReason)
		for j := range c.Exchanges {
			ex := &c.Exchanges[j]
			ex.Name, ex.URL, ex.ContentType = r.String(ex.Name), r.String(ex.URL), r.String(ex.ContentType)
			ex.Error, ex.Curl = r.String(ex.Error), r.String(ex.Curl)
		}
		for j := range c.Findings {
			c.Findings[j] = r.Finding(c.Findings[j])
		}
		for j := range c.Notes {
			c.Notes[j] = r.String(c.Notes[j])
		}
	}
	for i := range rep.Coverage {
		rep.Coverage[i].Why = r.String(rep.Coverage[i].Why)
	}
}

// span is a piece of the original text to replace by the fingerprint of
// secret.
type span struct {
	start, end int
	secret     string
}

// view is a text, or a decoded form of it with, for each of its bytes,
// the span of the original text the byte comes from (from and to are nil
// for the original text).
type view struct {
	text     string
	from, to []int32
}

// orig maps the view's bytes [start, end) to the original text.
func (v *view) orig(start, end int) (int, int) {
	if v.from == nil {
		return start, end
	}
	return int(v.from[start]), int(v.to[end-1])
}

// find returns the spans of s to redact. The caller holds r.mu.
func (r *Redactor) find(s string) []span {
	if len(r.needles) == 0 || s == "" {
		return nil
	}
	var spans []span
	base := &view{text: s}
	r.scan(base, &spans)
	if strings.IndexByte(s, '\\') >= 0 {
		if j := jsonUnescape(base); j != nil {
			r.scan(j, &spans)
			if strings.IndexByte(j.text, '\\') >= 0 {
				if jj := jsonUnescape(j); jj != nil {
					r.scan(jj, &spans)
				}
			}
			if strings.IndexByte(j.text, '%') >= 0 {
				if jp := percentDecode(j, false); jp != nil {
					r.scan(jp, &spans)
				}
			}
		}
	}
	if hasHTMLReference(s) {
		if hv := htmlUnescape(base); hv != nil {
			r.scan(hv, &spans)
		}
	}
	plus := r.hasSpace && strings.IndexByte(s, '+') >= 0
	if strings.IndexByte(s, '%') >= 0 || plus {
		for _, p := range []bool{false, true} {
			if p && !plus {
				continue
			}
			if pv := percentDecode(base, p); pv != nil {
				r.scan(pv, &spans)
				if strings.IndexByte(pv.text, '\\') >= 0 {
					if pj := jsonUnescape(pv); pj != nil {
						r.scan(pj, &spans)
					}
				}
			}
		}
	}
	return spans
}

// scan adds the spans of v's text that hold a needle, a fragment of one,
// or a prefix or suffix of one at a cut.
func (r *Redactor) scan(v *view, spans *[]span) {
	t := v.text
	add := func(start, end int, secret string) {
		a, b := v.orig(start, end)
		*spans = append(*spans, span{a, b, secret})
	}
	// Fragments: every window of the text that is a window of a needle.
	// The windows of a fragment cover it, so that their union is what
	// must go; a run of overlapping windows is one span, attributed to
	// the secret it spells whole when it does.
	if len(t) >= FragmentLen && len(r.grams) > 0 {
		runStart, runEnd, runSecret := -1, -1, ""
		flush := func() {
			if runStart < 0 {
				return
			}
			run := t[runStart:runEnd]
			if sec, ok := r.forms[run]; ok {
				add(runStart, runEnd, sec)
			} else if !wordLike(run) {
				add(runStart, runEnd, runSecret)
			} else {
				// A word-like run is left alone unless it holds a whole
				// needle (a word-like secret next to more letters).
				for _, ni := range r.wordNeedles {
					n := r.needles[ni].text
					for from := 0; from <= len(run)-len(n); {
						k := strings.Index(run[from:], n)
						if k < 0 {
							break
						}
						add(runStart+from+k, runStart+from+k+len(n), r.needles[ni].secret)
						from += k + 1
					}
				}
			}
			runStart = -1
		}
		h := hashWindow(t)
		for i := 0; ; i++ {
			if fi := filterIndex(h); r.filter[fi/64]&(1<<(fi%64)) != 0 {
				for _, g := range r.grams[h] {
					if r.window(g) != t[i:i+FragmentLen] {
						continue
					}
					if i >= runEnd {
						flush()
						runStart, runSecret = i, r.needles[g.needle].secret
					}
					runEnd = i + FragmentLen
					break
				}
			}
			if i+FragmentLen >= len(t) {
				break
			}
			h = (h-uint64(t[i])*pow)*hashBase + uint64(t[i+FragmentLen])
		}
		flush()
	}
	for _, ni := range r.whole {
		n := &r.needles[ni]
		for from := 0; from < len(t); {
			k := strings.Index(t[from:], n.text)
			if k < 0 {
				break
			}
			add(from+k, from+k+len(n.text), n.secret)
			from += k + 1
		}
	}
	if len(r.cutPrefix) == 0 || len(t) < CutFragmentLen {
		return
	}
	// Cuts: the ends of the text and each truncation mark.
	r.cutBefore(t, len(t), add)
	r.cutAfter(t, 0, add)
	for _, mark := range []string{"…", "..."} {
		for from := 0; ; {
			k := strings.Index(t[from:], mark)
			if k < 0 {
				break
			}
			at := from + k
			r.cutBefore(t, at, add)
			r.cutAfter(t, at+len(mark), add)
			from = at + len(mark)
		}
	}
}

// wordLike reports whether s is made of lowercase ASCII letters, spaces
// and "._-" only. Fragments and cut ends that are word-like are left
// alone: a secret such as rt_test_429_rate_limited must not take the word
// rate_limited out of every message. Random tokens (base64, hex) hold a
// digit, a capital or another symbol within any 10 bytes but for a
// chance of about 1 in 4,000.
func wordLike(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || c == '_' || c == '-' || c == '.' || c == ' ') {
			return false
		}
	}
	return true
}

// cutBefore adds the longest prefix of a needle that ends t[:at].
func (r *Redactor) cutBefore(t string, at int, add func(int, int, string)) {
	for l := min(at, FragmentLen-1); l >= CutFragmentLen; l-- {
		if secret, ok := r.cutPrefix[t[at-l:at]]; ok && !wordLike(t[at-l:at]) {
			add(at-l, at, secret)
			return
		}
	}
}

// cutAfter adds the longest suffix of a needle that starts t[at:].
func (r *Redactor) cutAfter(t string, at int, add func(int, int, string)) {
	for l := min(len(t)-at, FragmentLen-1); l >= CutFragmentLen; l-- {
		if secret, ok := r.cutSuffix[t[at:at+l]]; ok && !wordLike(t[at:at+l]) {
			add(at, at+l, secret)
			return
		}
	}
}

// replaceSpans replaces each span of s (overlapping ones merged) by the
// fingerprint of its secret.
func replaceSpans(s string, spans []span) string {
	slices.SortFunc(spans, func(a, b span) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	var b strings.Builder
	b.Grow(len(s))
	at := 0
	for i := 0; i < len(spans); {
		cur := spans[i]
		for i++; i < len(spans) && spans[i].start < cur.end; i++ {
			cur.end = max(cur.end, spans[i].end)
		}
		b.WriteString(s[at:cur.start])
		b.WriteString(Fingerprint(cur.secret))
		at = cur.end
	}
	b.WriteString(s[at:])
	return b.String()
}

// decoder builds a decoded view of a view.
type decoder struct {
	src      *view
	out      []byte
	from, to []int32
	changed  bool
}

func newDecoder(v *view) *decoder {
	return &decoder{src: v, out: make([]byte, 0, len(v.text)),
		from: make([]int32, 0, len(v.text)), to: make([]int32, 0, len(v.text))}
}

// emit appends bs, decoded from the source's bytes [a, z).
func (d *decoder) emit(a, z int, bs ...byte) {
	start, end := d.src.orig(a, z)
	for _, c := range bs {
		d.out = append(d.out, c)
		d.from = append(d.from, int32(start))
		d.to = append(d.to, int32(end))
	}
}

func (d *decoder) view() *view {
	if !d.changed {
		return nil
	}
	return &view{text: string(d.out), from: d.from, to: d.to}
}

// jsonUnescape decodes the JSON string escapes of v's text, wherever they
// are; it returns nil when there is none.
func jsonUnescape(v *view) *view { return unescape(v, '\\', jsonEscape) }

// jsonEscape decodes the JSON escape at the start of t (\n, \", \uXXXX
// and surrogate pairs) and returns its width, 0 when there is none.
func jsonEscape(t string) (rune, int) {
	if len(t) < 2 {
		return 0, 0
	}
	if c, ok := simpleEscape(t[1]); ok {
		return rune(c), 2
	}
	if t[1] == 'u' {
		return unicodeEscape(t)
	}
	return 0, 0
}

// unescape decodes, wherever lead starts one in v's text, the escape that
// escape reads (its rune and width; 0 for none). It returns nil when
// there is none.
func unescape(v *view, lead byte, escape func(string) (rune, int)) *view {
	t := v.text
	d := newDecoder(v)
	for i := 0; i < len(t); {
		if t[i] == lead {
			if c, w := escape(t[i:]); w > 0 {
				d.emit(i, i+w, utf8.AppendRune(nil, c)...)
				d.changed = true
				i += w
				continue
			}
		}
		d.emit(i, i+1, t[i])
		i++
	}
	return d.view()
}

func simpleEscape(c byte) (byte, bool) {
	switch c {
	case '"', '\\', '/':
		return c, true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	}
	return 0, false
}

// unicodeEscape decodes the \uXXXX escape (or surrogate pair of escapes)
// that s starts with, returning its width; 0 when there is none.
func unicodeEscape(s string) (rune, int) {
	c, ok := hex4(s)
	if !ok {
		return 0, 0
	}
	if c < 0xD800 || c > 0xDFFF {
		return c, 6
	}
	if c <= 0xDBFF && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
		if lo, ok := hex4(s[6:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
			return 0x10000 + (c-0xD800)<<10 + (lo - 0xDC00), 12
		}
	}
	return 0, 0
}

// hex4 reads the 4 hex digits after `\u` at the start of s.
func hex4(s string) (rune, bool) {
	if len(s) < 6 {
		return 0, false
	}
	var c rune
	for _, h := range []byte(s[2:6]) {
		v, ok := unhex(h)
		if !ok {
			return 0, false
		}
		c = c<<4 | rune(v)
	}
	return c, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// percentDecode decodes %XX (either case) in v's text and, with plus, "+"
// as a space; it returns nil when there is nothing to decode.
func percentDecode(v *view, plus bool) *view {
	t := v.text
	d := newDecoder(v)
	for i := 0; i < len(t); {
		if t[i] == '%' && i+2 < len(t) {
			hi, ok1 := unhex(t[i+1])
			lo, ok2 := unhex(t[i+2])
			if ok1 && ok2 {
				d.emit(i, i+3, hi<<4|lo)
				d.changed = true
				i += 3
				continue
			}
		}
		if plus && t[i] == '+' {
			d.emit(i, i+1, ' ')
			d.changed = true
			i++
			continue
		}
		d.emit(i, i+1, t[i])
		i++
	}
	return d.view()
}

// htmlUnescape decodes HTML character references of v's text: numeric
// ones (&#65; &#x41;, the ; optional, up to 7 digits) and &amp; &lt; &gt;
// &quot; &apos;. It returns nil when there is none.
func htmlUnescape(v *view) *view { return unescape(v, '&', htmlReference) }

// hasHTMLReference reports whether s holds a reference htmlUnescape
// decodes, without building the view (most texts with & have none).
func hasHTMLReference(s string) bool {
	for i := strings.IndexByte(s, '&'); i >= 0; {
		if _, w := htmlReference(s[i:]); w > 0 {
			return true
		}
		next := strings.IndexByte(s[i+1:], '&')
		if next < 0 {
			return false
		}
		i += 1 + next
	}
	return false
}

// htmlNamed are the named references htmlUnescape decodes.
var htmlNamed = []struct {
	name string
	r    rune
}{{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}}

// htmlReference decodes the character reference at the start of t and
// returns its width, 0 when there is none.
func htmlReference(t string) (rune, int) {
	for _, n := range htmlNamed {
		if strings.HasPrefix(t, n.name) {
			return n.r, len(n.name)
		}
	}
	if len(t) < 3 || t[1] != '#' {
		return 0, 0
	}
	i, base := 2, 10
	if t[2] == 'x' || t[2] == 'X' {
		i, base = 3, 16
	}
	start := i
	var c rune
	for i < len(t) && i-start < 7 {
		digit, ok := unhex(t[i])
		if !ok || base == 10 && digit > 9 {
			break
		}
		c = c*rune(base) + rune(digit)
		i++
	}
	if i == start || c > utf8.MaxRune {
		return 0, 0
	}
	if i < len(t) && t[i] == ';' {
		i++
	}
	return c, i
}

// secretHeader reports whether a header's values are secrets as a whole.
// Challenges (WWW-Authenticate, Proxy-Authenticate) and
// Authentication-Info describe credentials without being one.
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	case "www-authenticate", "proxy-authenticate", "authentication-info", "proxy-authentication-info":
		return false
	}
	for _, w := range []string{"token", "secret", "api-key", "apikey", "password", "session", "auth"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// secretKey reports whether a JSON object key names a secret. Keys that
// describe a token without holding one (token_type, token_type_hint) are
// not.
func secretKey(key string) bool {
	k := strings.ToLower(key)
	for _, suffix := range []string{"_type", "_hint", "type", "_expires_in", "_expires_at", "_length"} {
		if strings.HasSuffix(k, suffix) {
			return false
		}
	}
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
				scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
				if !ok {
					r.Add(v)
					continue
				}
				// The scheme alone is no secret: "Bearer" must stay
				// readable everywhere else.
				r.Add(cred)
				if strings.EqualFold(scheme, "basic") {
					if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred)); err == nil {
						_, pass, _ := strings.Cut(string(dec), ":")
						r.Add(string(dec), pass)
					}
				}
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
			return r.String(strings.Replace(v, c.Value, Fingerprint(c.Value), 1))
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
