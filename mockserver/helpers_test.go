package mockserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

var (
	specOnce sync.Once
	testSpec *spec.Spec
	specErr  error
)

// mustSpec loads the embedded spec once for all tests.
func mustSpec(tb testing.TB) *spec.Spec {
	tb.Helper()
	specOnce.Do(func() { testSpec, specErr = spec.Default() })
	if specErr != nil {
		tb.Fatalf("load spec: %v", specErr)
	}
	return testSpec
}

func mustShipped(tb testing.TB) *scenarios.Set {
	tb.Helper()
	set, diags := scenarios.Load(mustSpec(tb), scenarios.Embedded())
	if set == nil {
		tb.Fatalf("load shipped scenarios:\n%v", diags)
	}
	return set
}

// fakeClock is a settable real clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// mustServer builds a server with the shipped scenarios (unless cfg says
// otherwise) and a fixed clock.
func mustServer(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	if cfg.Spec == nil {
		cfg.Spec = mustSpec(tb)
	}
	if cfg.Scenarios == nil {
		cfg.Scenarios = mustShipped(tb)
	}
	if cfg.SeedToken == "" {
		cfg.SeedToken = DefaultSeedToken
	}
	if cfg.Now == nil {
		clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		cfg.Now = clk.Now
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

// mustListen serves s on a real loopback listener.
func mustListen(tb testing.TB, s *Server) *httptest.Server {
	tb.Helper()
	ts := httptest.NewServer(s)
	tb.Cleanup(ts.Close)
	return ts
}

// call is one request of a test.
type call struct {
	method  string
	path    string
	header  map[string]string
	cookies map[string]string
	body    string
}

type result struct {
	status int
	header http.Header
	body   []byte
	req    *http.Request
}

func (r result) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (r result) cookie(name string) (*http.Cookie, bool) {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

func (c call) request(tb testing.TB, base string) *http.Request {
	tb.Helper()
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	path := c.path
	if path == "" {
		path = "/auth/refresh"
	}
	var body io.Reader = http.NoBody
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	return req
}

// do sends c to a real server.
func (c call) do(tb testing.TB, ts *httptest.Server) result {
	tb.Helper()
	req := c.request(tb, ts.URL)
	var sent []byte
	if req.Body != http.NoBody {
		sent, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(sent))
	return result{status: resp.StatusCode, header: resp.Header, body: b, req: req}
}

// serve sends c to the engine in-process.
func (c call) serve(tb testing.TB, s *Server) result {
	tb.Helper()
	req := c.request(tb, "http://127.0.0.1:8080")
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return result{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes(), req: req}
}

// checkContract asserts that a response of the refresh operation is
// documented, valid against the spec, and keeps the envelope rules.
func checkContract(tb testing.TB, sp *spec.Spec, r result) {
	tb.Helper()
	op, _ := sp.Operation("refresh_token")
	if !op.Documents(r.status) {
		tb.Errorf("status %d is not documented (documented: %v); body %s", r.status, op.Statuses(), r.body)
	}
	req := r.req.Clone(r.req.Context())
	req.URL.Path = "/auth/refresh"
	for _, v := range sp.ValidateResponse(req, r.status, r.header, r.body) {
		tb.Errorf("response does not validate: %s\nbody: %s", v, r.body)
	}
	for _, v := range op.CheckEnvelope(r.status, r.header.Get("Content-Type"), r.body) {
		tb.Errorf("envelope rule broken: %s\nbody: %s", v, r.body)
	}
}
