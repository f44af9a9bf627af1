package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/refreshmock/refreshmock/spec"
)

// Hostile targets: the runner at --concurrency 32 against servers that
// stall, reset connections, answer 100 MB bodies or trickle a byte per
// second finishes within its timeouts, reports each failure with its
// check id, and leaves no goroutine behind.

const hostileTimeout = time.Second

// hostileCap is the response cap of the hostile runs.
const hostileCap = 64 << 10

// rawListener serves every accepted connection with handle until the
// test ends.
func rawListener(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// stall reads whatever comes and never answers.
func stall(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// reset reads the start of the request and resets the connection.
func reset(c net.Conn) {
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = c.Read(buf)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

// hugeBody answers 200 with a 100 MB JSON body, streamed, and counts what
// it managed to write before the client went away.
type hugeBody struct {
	written atomic.Int64
	maxConn atomic.Int64 // most bytes written on one response
}

const hugeSize = 100 << 20

func (h *hugeBody) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "104857600")
	w.WriteHeader(http.StatusOK)
	chunk := []byte(strings.Repeat("a", 32<<10))
	var n int64
	defer func() {
		h.written.Add(n)
		for {
			old := h.maxConn.Load()
			if n <= old || h.maxConn.CompareAndSwap(old, n) {
				return
			}
		}
	}()
	for n < hugeSize {
		m, err := w.Write(chunk)
		n += int64(m)
		if err != nil {
			return
		}
	}
}

// trickle answers headers at once, then one body byte per second.
func trickle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if _, err := w.Write([]byte("{")); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

func hostileConfig(t *testing.T, target string) Config {
	t.Helper()
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Target:           target,
		Spec:             sp,
		Timeout:          hostileTimeout,
		Concurrency:      32,
		MaxResponseBytes: hostileCap,
		OversizedBody:    64 << 10,
		Vars: map[string]string{
			VarRace:   "rt_hostile_race_secret_0001",
			VarQuery:  "rt_hostile_query_secret_0002",
			VarMethod: "rt_hostile_method_secret_0003",
			VarBody:   "rt_hostile_body_secret_0004",
		},
	}
}

// waitGoroutines waits (bounded) for the goroutine count to come back to
// at most want and returns the last count.
func waitGoroutines(want int) int {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHostileTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("hostile runs take a few seconds each")
	}
	huge := &hugeBody{}
	tests := []struct {
		name   string
		target func(t *testing.T) string
		// check is the id every exchange's failure must carry.
		check string
	}{
		{"stall", func(t *testing.T) string { return rawListener(t, stall) }, CheckTransport},
		{"reset", func(t *testing.T) string { return rawListener(t, reset) }, CheckTransport},
		{"100MB-body", func(t *testing.T) string {
			srv := httptest.NewServer(huge)
			t.Cleanup(srv.Close)
			return srv.URL
		}, CheckResponseTooLarge},
		{"trickle", func(t *testing.T) string {
			srv := httptest.NewServer(http.HandlerFunc(trickle))
			t.Cleanup(srv.Close)
			return srv.URL
		}, CheckTransport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			var (
				rep     *Report
				elapsed time.Duration
				ncases  int
			)
			t.Run("run", func(t *testing.T) {
				cfg := hostileConfig(t, tt.target(t))
				start := time.Now()
				var err error
				rep, err = Run(context.Background(), cfg)
				elapsed = time.Since(start)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				ncases = len(rep.Cases)
			})
			if rep == nil {
				t.FailNow()
			}
			t.Logf("%s: %d cases at --concurrency 32, --timeout %s: %s", tt.name, ncases, hostileTimeout, elapsed.Round(time.Millisecond))
			// Each case sends at most a few requests one after another,
			// each bounded by the timeout; cases run 32 at once. The
			// factor 3 leaves room for a busy 2-core machine.
			const perCase = 3
			bound := hostileTimeout * time.Duration(perCase*((ncases+31)/32)) * 3
			if elapsed > bound {
				t.Errorf("the run took %s, more than %s (timeout %s, %d cases, concurrency 32)", elapsed, bound, hostileTimeout, ncases)
			}
			if rep.OK() {
				t.Errorf("the run passed against a hostile target (exit 0); want findings (exit 1)")
			}
			exchanges := 0
			for _, c := range rep.Cases {
				if c.Outcome != Fail {
					t.Errorf("case %s: outcome %s, want fail", c.ID, c.Outcome)
				}
				for _, ex := range c.Exchanges {
					exchanges++
					found := false
					for _, f := range c.Findings {
						if f.Step == ex.Step && f.Check == tt.check && f.Severity == SevError {
							found = true
						}
					}
					if !found {
						t.Errorf("case %s step %d: no %s finding; findings: %v", c.ID, ex.Step, tt.check, c.Findings)
					}
				}
			}
			if exchanges == 0 {
				t.Errorf("no exchange recorded")
			}
			if tt.name == "100MB-body" {
				// Loopback socket buffers (send and receive, up to a few MB
				// each) fill before the client closes; anything near the
				// 100 MB would mean the body was read past the cap.
				const slack = 16 << 20
				if m := huge.maxConn.Load(); m > hostileCap+slack {
					t.Errorf("the server wrote %d bytes on one response before the runner closed it; cap %d + slack %d", m, hostileCap, slack)
				}
				t.Logf("most bytes written on one response: %d (cap %d); total written %d", huge.maxConn.Load(), hostileCap, huge.written.Load())
			}
			if n := waitGoroutines(before); n > before {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines: %d before the run, %d after (servers closed):\n%s", before, n, buf)
			}
		})
	}
}

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestSendReadsNoMoreThanCap counts the bytes the runner reads from the
// connection of a 100 MB answer: the cap plus headers and one buffer.
func TestSendReadsNoMoreThanCap(t *testing.T) {
	huge := &hugeBody{}
	srv := httptest.NewServer(huge)
	defer srv.Close()
	cfg := hostileConfig(t, srv.URL)
	cfg.defaults()
	r, err := newRunner(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	tr := r.client.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &read}, nil
	}
	defer r.client.CloseIdleConnections()
	for _, capBytes := range []int64{1, 4 << 10, 64 << 10, 1 << 20} {
		read.Store(0)
		r.cfg.MaxResponseBytes = capBytes
		resp := r.send(context.Background(), &outRequest{Method: "POST", Path: "/auth/refresh", Header: http.Header{}})
		if resp.Err != nil && !errors.Is(resp.Err, context.Canceled) {
			t.Fatalf("cap %d: %v", capBytes, resp.Err)
		}
		if !resp.Truncated || int64(len(resp.Body)) != capBytes {
			t.Errorf("cap %d: truncated %v, %d body bytes; want truncated at the cap", capBytes, resp.Truncated, len(resp.Body))
		}
		// Headers, the transport's 4 KiB read buffer and TCP segments
		// already in flight: 64 KiB of slack.
		const slack = 64 << 10
		if got := read.Load(); got > capBytes+slack {
			t.Errorf("cap %d: the runner read %d bytes from the connection, more than cap + %d", capBytes, got, slack)
		}
	}
}

// TestRunLeavesNoGoroutines runs against a target that answers every
// request (keep-alive connections stay open): once Run returns and the
// server is closed, the runner's goroutines are gone.
func TestRunLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"status":401,"message":"no","code":"refresh_token_invalid"}`))
		}))
		defer srv.Close()
		cfg := hostileConfig(t, srv.URL)
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatalf("Run: %v", err)
		}
		// The runner must not hold keep-alive connections (and their
		// goroutines) once Run has returned, even while the server lives.
		if n := waitGoroutines(before + 4); n > before+4 {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines: %d before, %d after Run with the server still up:\n%s", before, n, buf)
		}
	}()
}

// fuzzTransport answers every request with the fuzzed response and counts
// the body bytes the runner reads.
type fuzzTransport struct {
	status int
	header http.Header
	body   []byte
	repeat int // the body is served this many times over
	read   atomic.Int64
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (ft *fuzzTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	readers := make([]io.Reader, ft.repeat)
	for i := range readers {
		readers[i] = bytes.NewReader(ft.body)
	}
	return &http.Response{
		StatusCode: ft.status, Status: fmt.Sprint(ft.status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: ft.header.Clone(), Body: io.NopCloser(countingReader{io.MultiReader(readers...), &ft.read}),
		ContentLength: -1, Request: req,
	}, nil
}

// FuzzExchange sends one request of a case to a target answering an
// arbitrary status, arbitrary header lines and arbitrary body bytes
// (repeated up to 255 times, so that bodies exceed the cap): the runner
// never panics, reads at most the cap (plus the one byte that tells it the
// body is larger) per response, reports a too-large body as
// response-too-large, and every finding names its check, severity and
// message.
func FuzzExchange(f *testing.F) {
	f.Add(200, "Content-Type: application/json\nCache-Control: no-store", []byte(`{"access_token":"a","token_type":"bearer","expires_in":900,"organization":null}`), uint8(1), uint16(1024))
	f.Add(401, "Content-Type: application/json", []byte(`{"status":401,"message":"m","code":"refresh_token_invalid"}`), uint8(1), uint16(64))
	f.Add(302, "Location: http://127.0.0.2:9/steal", []byte{}, uint8(0), uint16(16))
	f.Add(429, "Retry-After: soon\nContent-Type: text/plain", []byte("panic: x\ngoroutine 1 [running]:"), uint8(200), uint16(100))
	f.Add(999, "Set-Cookie: refresh_token=x; Path=/\nContent-Type: application/json; charset=utf-8", []byte("\xff\xfe{"), uint8(255), uint16(0))
	sp, err := spec.Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, headerLines string, body []byte, repeat uint8, capBytes uint16) {
		if status < 100 || status > 999 {
			return
		}
		h := http.Header{}
		for line := range strings.SplitSeq(headerLines, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && validHeaderLine(k, v) {
				h.Add(k, strings.TrimSpace(v))
			}
		}
		ft := &fuzzTransport{status: status, header: h, body: body, repeat: int(repeat)}
		cfg := Config{Target: "http://127.0.0.1:9", Spec: sp, MaxResponseBytes: int64(capBytes) + 1}
		cfg.defaults()
		r, err := newRunner(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		r.client.Transport = ft
		res := CaseResult{ID: "fuzz"}
		cr := &caseRun{r: r, res: &res, vars: map[string]string{}}
		o := r.baseRequest(r.op, true)
		r.withToken(o, "rt_fuzz_secret_token")
		resp := cr.exchange(context.Background(), 1, "fuzz", o, expectation{op: r.op, statuses: []int{200}})
		// At most three hops (same-origin redirects): net/http drains up
		// to 2 KiB of each redirect's body; the last is read through the
		// cap.
		if got, limit := ft.read.Load(), 3*(2<<10+1)+cfg.MaxResponseBytes+1; got > limit {
			t.Fatalf("read %d body bytes, more than the cap %d + 1 and 3 redirect drains", got, cfg.MaxResponseBytes)
		}
		total := int64(len(body)) * int64(repeat)
		tooLarge := false
		for _, fd := range res.Findings {
			if fd.Check == "" || fd.Message == "" || (fd.Severity != SevError && fd.Severity != SevWarn) {
				t.Fatalf("incomplete finding %+v", fd)
			}
			tooLarge = tooLarge || fd.Check == CheckResponseTooLarge
		}
		if resp != nil && int64(len(resp.Body)) > cfg.MaxResponseBytes {
			t.Fatalf("kept %d body bytes, cap %d", len(resp.Body), cfg.MaxResponseBytes)
		}
		if total > cfg.MaxResponseBytes && !tooLarge && (status < 300 || status >= 400 || h.Get("Location") == "") {
			t.Fatalf("a %d-byte body under a %d-byte cap was not reported as %s: %v", total, cfg.MaxResponseBytes, CheckResponseTooLarge, res.Findings)
		}
	})
}

// validHeaderLine keeps the header lines a server could send: a token
// name and a value without control characters other than tab.
func validHeaderLine(k, v string) bool {
	return httpguts.ValidHeaderFieldName(k) && httpguts.ValidHeaderFieldValue(v)
}
