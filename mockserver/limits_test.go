package mockserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Every structure of the mock that grows with traffic is bounded: these
// tests drive each one past its bound and check that it stays there.

func TestJournalBounded(t *testing.T) {
	s := mustServer(t, Config{JournalSize: 50})
	for i := range 500 {
		r := call{body: `{"refresh_token":"rt_unknown_` + strconv.Itoa(i) + `"}`}.serve(t, s)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("request %d: status %d: %s", i, r.status, r.body)
		}
	}
	entries := s.journal.last(0)
	if len(entries) != 50 {
		t.Fatalf("journal holds %d entries after 500 requests, want its size 50", len(entries))
	}
	if got := entries[len(entries)-1].Seq; got != 500 {
		t.Errorf("last entry has seq %d, want 500 (the newest are kept)", got)
	}
	if got := len(s.journal.ring); got != 50 {
		t.Errorf("journal ring grew to %d", got)
	}
}

func TestTokenStoreBounded(t *testing.T) {
	s := mustServer(t, Config{})
	// Three ways to add tokens: sign-ins through the control API, refreshes
	// that start a new family, and a chain of rotations in one family.
	for i := range maxTokens + 500 {
		s.store.issue("")
		if i%2 == 0 {
			if _, err := s.store.rotate("rt_not_issued", false); err != nil {
				t.Fatal(err)
			}
		}
	}
	tok := s.store.issue("user_chain").RefreshToken
	for range maxTokens + 500 {
		td, err := s.store.rotate(tok, true)
		if err != nil {
			t.Fatalf("rotate %s: %v", tok, err)
		}
		tok = td.Refresh
	}
	tokens, families, _ := s.store.counts()
	if tokens > maxTokens {
		t.Errorf("store holds %d tokens, bound %d", tokens, maxTokens)
	}
	if families > tokens {
		t.Errorf("store holds %d families for %d tokens: families outlive their tokens", families, tokens)
	}
	if err := s.store.check(); err != nil {
		t.Error(err)
	}
	// The newest token is still valid after all that eviction.
	if state, _ := s.store.observe(tok); state != "valid" {
		t.Errorf("newest token is %s, want valid", state)
	}
}

func TestArmedQueueBounded(t *testing.T) {
	s := mustServer(t, Config{})
	arm := func(body string) result {
		return call{path: "/__mock/arm", body: body}.serve(t, s)
	}
	for i := range maxArmed {
		// Half global, half scoped to sessions: one bound covers both.
		body := `{"scenario":"rate-limited"}`
		if i%2 == 1 {
			body = fmt.Sprintf(`{"scenario":"rate-limited","session":"s%d"}`, i)
		}
		if r := arm(body); r.status != http.StatusOK {
			t.Fatalf("arm %d: %d %s", i, r.status, r.body)
		}
	}
	for _, body := range []string{`{"scenario":"rate-limited"}`, `{"scenario":"rate-limited","session":"one-more"}`} {
		if r := arm(body); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "already armed") {
			t.Errorf("arm beyond %d entries: %d %s, want 400 already armed", maxArmed, r.status, r.body)
		}
	}
	if _, _, armed := s.store.counts(); armed != maxArmed {
		t.Errorf("%d entries armed, want %d", armed, maxArmed)
	}
	r := arm(`{"scenario":"rate-limited","count":1000001}`)
	if r.status != http.StatusBadRequest {
		t.Errorf("count above %d: %d %s", maxCount, r.status, r.body)
	}
	s.store.disarm()
	r = arm(`{"scenario":"rate-limited","session":"` + strings.Repeat("s", maxSession+1) + `"}`)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "session") {
		t.Errorf("session of %d bytes: %d %s, want 400", maxSession+1, r.status, r.body)
	}
	// The control API reads at most 64 kB of a body.
	r = arm(`{"scenario":"rate-limited","session":"` + strings.Repeat("s", 100<<10) + `"}`)
	if r.status != http.StatusBadRequest {
		t.Errorf("100 kB arm body: %d %s, want 400", r.status, r.body)
	}
	if _, _, armed := s.store.counts(); armed != 0 {
		t.Errorf("%d entries armed by refused requests", armed)
	}
}

func TestValidationMemoBounded(t *testing.T) {
	s := mustServer(t, Config{})
	for i := range 2*memoEntries + 100 {
		// Twice each: a request is remembered when it comes again.
		for range 2 {
			r := call{body: `{"refresh_token":"rt_memo_` + strconv.Itoa(i) + `"}`}.serve(t, s)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("request %d: %d %s", i, r.status, r.body)
			}
		}
	}
	if n := s.memo.size(); n < memoEntries || n > 2*memoEntries {
		t.Errorf("memo holds %d requests, want between %d and the bound %d", n, memoEntries, 2*memoEntries)
	}
	if n := s.memo.seen.len(); n > 2*seenEntries {
		t.Errorf("doorkeeper holds %d hashes, bound %d", n, 2*seenEntries)
	}
	// Requests just under the key bound are remembered within the bytes
	// budget: 3,000 of 7 kB (21 MB of keys) keep at most two generations'
	// budget, and each entry is counted at least at its key's size.
	s.memo = newValidationMemo()
	pad := strings.Repeat("h", 7<<10)
	for i := range 3000 {
		c := call{body: `{"refresh_token":"rt_pad_` + strconv.Itoa(i) + `"}`, header: map[string]string{"X-Pad": pad}}
		for range 2 {
			if r := c.serve(t, s); r.status != http.StatusUnauthorized {
				t.Fatalf("padded request %d: %d %s", i, r.status, r.body)
			}
		}
	}
	const documented = 8 << 20 // README Limits: validation memo
	if b, n := s.memo.bytes(), s.memo.size(); b > documented || n*len(pad) > b || n == 0 {
		t.Errorf("memo holds %d requests of over %d bytes counted as %d bytes, want at most %d", n, len(pad), b, documented)
	}
	// Large requests are validated but not remembered.
	s.memo = newValidationMemo()
	big := call{body: `{"refresh_token":"rt_big"}`, header: map[string]string{"X-Pad": strings.Repeat("p", memoMaxKey)}}
	if r := big.serve(t, s); r.status != http.StatusUnauthorized {
		t.Fatalf("large header: %d %s", r.status, r.body)
	}
	if r := (call{body: `{"refresh_token":"rt_big"}` + strings.Repeat(" ", memoMaxBody)}).serve(t, s); r.status != http.StatusUnauthorized {
		t.Fatalf("large body: %d %s", r.status, r.body)
	}
	if n := s.memo.size(); n != 0 {
		t.Errorf("memo remembered %d requests above its key bound", n)
	}
}

// TestValidationMemoDoorkeeper: a request is remembered the second time it
// comes, and a stream of requests that never repeat (new tokens) leaves
// only hashes behind, never a full key.
func TestValidationMemoDoorkeeper(t *testing.T) {
	s := mustServer(t, Config{})
	for i := range 3 * seenEntries {
		r := call{body: `{"refresh_token":"rt_unique_` + strconv.Itoa(i) + `"}`}.serve(t, s)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	if n := s.memo.size(); n != 0 {
		t.Errorf("memo remembered %d requests that came once", n)
	}
	if n := s.memo.seen.len(); n > 2*seenEntries {
		t.Errorf("doorkeeper holds %d hashes, bound %d", n, 2*seenEntries)
	}
	// The same request: seen, then remembered, then answered from the memo
	// with the same outcome (a 422 here, to compare details too).
	bad := call{body: `{"refresh_token":""}`}
	var first result
	for i := range 3 {
		r := bad.serve(t, s)
		if i == 0 {
			first = r
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("empty token: %d %s, want 422", r.status, r.body)
			}
		}
		if r.status != first.status || string(r.body) != string(first.body) {
			t.Fatalf("request %d: %d %s, first was %d %s", i, r.status, r.body, first.status, first.body)
		}
		if want := min(i, 1); s.memo.size() != want {
			t.Errorf("after %d identical requests the memo holds %d, want %d", i+1, s.memo.size(), want)
		}
	}
}

// countingReader counts the bytes read from an endless body.
type countingReader struct {
	n     atomic.Int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	left := c.limit - c.n.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	for i := range p {
		p[i] = ' '
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// Test100MBBody sends a 100 MB body, with and without a Content-Length:
// the mock refuses it as 400 request_too_large and reads at most its limit
// plus one byte (nothing when the Content-Length says it is too large).
func Test100MBBody(t *testing.T) {
	const size = 100 << 20
	const limit = 1 << 20
	sp := mustSpec(t)
	s := mustServer(t, Config{MaxBody: limit})
	for _, tc := range []struct {
		name          string
		contentLength int64
		maxRead       int64
	}{
		{"content-length", size, 0},
		{"chunked", -1, limit + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingReader{limit: size}
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/auth/refresh", body)
			req.ContentLength = tc.contentLength
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = "127.0.0.1:40000"
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			r := result{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes(), req: req}
			if r.status != http.StatusBadRequest || r.json(t)["code"] != "request_too_large" {
				t.Fatalf("status %d %s, want 400 request_too_large", r.status, r.body)
			}
			if got := body.n.Load(); got > tc.maxRead {
				t.Errorf("read %d bytes of the 100 MB body, want at most %d", got, tc.maxRead)
			}
			req.Body = http.NoBody
			checkContract(t, sp, r)
		})
	}
	t.Run("http", func(t *testing.T) {
		// Over a real connection the client is told early: the answer comes
		// while it is still sending, and the server closes the connection
		// instead of reading 100 MB.
		ts := mustListen(t, s)
		body := &countingReader{limit: size}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/auth/refresh", body)
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/json")
		resp, err := ts.Client().Do(req)
		if err != nil {
			// The server may close before the client has read the answer.
			if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "broken pipe") {
				t.Fatalf("POST 100 MB: %v", err)
			}
		} else {
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "request_too_large") {
				t.Fatalf("status %d %s, want 400 request_too_large", resp.StatusCode, b)
			}
		}
		if got := body.n.Load(); got >= size {
			t.Errorf("the client sent all %d bytes: the server read the whole body", got)
		}
	})
}

// Test10000Cookies: in process (no header limit) the mock answers a
// documented status without parsing 10,000 cookies; over the network the header
// limit refuses the request before it reaches the mock.
func Test10000Cookies(t *testing.T) {
	var b strings.Builder
	for i := range 10_000 {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "c%d=v%d", i, i)
	}
	b.WriteString("; refresh_token=rt_test_429_rate_limited")
	cookies := b.String()
	sp := mustSpec(t)
	s := mustServer(t, Config{})
	t.Run("handler", func(t *testing.T) {
		r := call{header: map[string]string{"Cookie": cookies}}.serve(t, s)
		checkContract(t, sp, r)
		// net/http parses at most 3,000 cookies of a request
		// (GODEBUG httpcookiemaxnum) and none when there are more, so the
		// refresh_token cookie among them is not seen: 401 missing.
		if r.status != http.StatusUnauthorized || r.json(t)["code"] != "refresh_token_missing" {
			t.Errorf("status %d %s, want 401 refresh_token_missing", r.status, r.body)
		}
	})
	t.Run("http", func(t *testing.T) {
		status, _ := rawRequest(t, s, "POST /auth/refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: "+cookies+"\r\nContent-Length: 0\r\n\r\n")
		if status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%d bytes of cookies: status %d, want 431 from net/http (MaxHeaderBytes %d)", len(cookies), status, MaxHeaderBytes)
		}
	})
}

// Test1MBHeader: a 1 MB header is refused by net/http with 431 and the
// connection closed (see MaxHeaderBytes); the mock never sees it.
func Test1MBHeader(t *testing.T) {
	s := mustServer(t, Config{})
	n := len(s.journal.last(0))
	status, closed := rawRequest(t, s, "POST /auth/refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "+strings.Repeat("a", 1<<20)+"\r\nContent-Length: 0\r\n\r\n")
	if status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("1 MB header: status %d, want 431", status)
	}
	if !closed {
		t.Errorf("1 MB header: the connection stayed open")
	}
	if got := len(s.journal.last(0)); got != n {
		t.Errorf("the refused request reached the mock (journal %d -> %d)", n, got)
	}
}

// rawRequest writes raw to a server built by NewHTTPServer and returns the
// answer's status and whether the server then closed the connection. The
// server may stop reading before raw is written: write errors are fine.
func rawRequest(t *testing.T, h http.Handler, raw string) (status int, closed bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(h, nil)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() { _, _ = io.WriteString(conn, raw) }()
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte()
	return resp.StatusCode, errors.Is(err, io.EOF) || resp.Close
}

// TestSlowClient: a client that never finishes its headers is disconnected
// after ReadHeaderTimeout (shortened here), and one that never finishes its
// body after ReadTimeout; the server keeps serving others meanwhile.
func TestSlowClient(t *testing.T) {
	if hs := NewHTTPServer(nil, nil); hs.ReadHeaderTimeout != ReadHeaderTimeout || hs.ReadTimeout != ReadTimeout ||
		hs.IdleTimeout != IdleTimeout || hs.MaxHeaderBytes != MaxHeaderBytes {
		t.Fatalf("NewHTTPServer does not set its limits: %+v", hs)
	}
	s := mustServer(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(s, nil)
	hs.ReadHeaderTimeout, hs.ReadTimeout = 200*time.Millisecond, 400*time.Millisecond
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	for _, tc := range []struct{ name, partial string }{
		{"headers", "POST /auth/refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "},
		{"body", "POST /auth/refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"refresh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.partial); err != nil {
				t.Fatal(err)
			}
			// Another client is served while this one stalls.
			resp, err := http.Get("http://" + ln.Addr().String() + "/__mock/health")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("health while a client stalls: %d", resp.StatusCode)
			}
			// The stalled connection is closed by the server (an answer,
			// if any, then EOF), well before this generous deadline.
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err = io.Copy(io.Discard, conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server kept a stalled connection open: %v", err)
			}
		})
	}
}

// TestJournalBytesBounded: entries with large headers and bodies keep the
// journal within its bytes budget; the oldest lose their headers and body
// (and say so), the newest keep theirs, and every entry stays listed.
func TestJournalBytesBounded(t *testing.T) {
	t.Parallel()
	j := newJournal(5000)
	h := http.Header{"X-Pad": {strings.Repeat("h", 15<<10)}}
	body := []byte(strings.Repeat("b", 4<<10))
	kept, n := keepHeaders(h)
	for i := range 5000 {
		j.add(Entry{Path: "/auth/refresh", Status: 401 + i%2, reqHeaders: kept, reqBody: body, kept: n + len(body)})
	}
	const documented = 16 << 20 // README Limits: journal
	if j.bytes > documented {
		t.Errorf("journal keeps %d bytes of headers and bodies, bound %d", j.bytes, documented)
	}
	sum := 0
	for _, e := range j.ring {
		sum += e.kept
	}
	if sum != j.bytes {
		t.Errorf("journal counts %d bytes, its entries hold %d", j.bytes, sum)
	}
	all := j.last(0)
	if len(all) != 5000 {
		t.Fatalf("%d entries listed, want 5000", len(all))
	}
	if first, last := all[0], all[len(all)-1]; first.Body != droppedNote || first.Headers != nil || last.Body != string(body) || len(last.Headers["X-Pad"]) != 1 {
		t.Errorf("oldest entry body %.60q headers %d; newest body %d bytes headers %d", first.Body, len(first.Headers), len(last.Body), len(last.Headers))
	}
	j.reset()
	j.add(Entry{reqHeaders: kept, reqBody: body, kept: n + len(body)})
	if got := j.last(0); len(got) != 1 || got[0].Body != string(body) || j.bytes != got[0].kept {
		t.Errorf("after reset: %d entries, %d bytes counted", len(got), j.bytes)
	}
}
