package mockserver

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
	"golang.org/x/net/http/httpguts"
)

// serveOperation answers one request to an operation: read the body, let
// the core decide (respond), then wait, stage the fault or write, and
// record the journal entry and the log line.
func (s *Server) serveOperation(c *gin.Context, op *spec.Operation) {
	start := time.Now()
	r := c.Request
	var out Outcome
	if body, rej := readBody(r, s.cfg.MaxBody); rej != nil {
		out = s.reject(op, Entry{Operation: op.ID}, rej)
	} else {
		rel, _ := s.relPath(r.URL.Path)
		req := requests.Get().(*scenarios.RequestData)
		*req = scenarios.RequestData{Method: r.Method, Path: rel, Headers: r.Header, Cookies: cookieMap(r, req.Cookies), Query: query(r), Body: body}
		out = s.respond(r.Context(), op, req)
		out.Entry.reqBody = keepBody(body)
		if out.Entry.explain == nil {
			// Nothing kept req: the journal's explanation would have.
			recycleRequest(req)
		}
	}
	if out.Err != nil {
		s.log.Error("answer with the error envelope", "operation", op.ID, "scenario", out.Entry.Scenario, "err", out.Err)
	}
	switch {
	case !wait(r, out.Delay):
		out.Entry.Why += "; the client went away during the delay"
		out.Entry.Fault = "client_gone"
		s.finishStatus(c, start, out.Entry, 0)
	case out.Fault != "":
		s.finishStatus(c, start, out.Entry, out.Status)
		s.fault(c, &out)
	default:
		out.write(c.Writer)
		s.finishStatus(c, start, out.Entry, out.Status)
	}
	out.release()
}

// readBody reads the body up to limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, *rejection) {
	tooLarge := func() *rejection {
		return &rejection{status: http.StatusBadRequest, code: "request_too_large", rule: "validation",
			message: fmt.Sprintf("the request body exceeds the %s limit of this mock (--max-body)", byteSize(limit))}
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	var b []byte
	var err error
	if n := r.ContentLength; n > 0 {
		// The size is known and within the limit: one exact allocation
		// instead of io.ReadAll's growing buffer.
		b = make([]byte, n)
		var got int
		got, err = io.ReadFull(r.Body, b)
		b = b[:got]
	} else {
		b, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
	}
	if int64(len(b)) > limit {
		return nil, tooLarge()
	}
	if err != nil {
		return nil, &rejection{status: http.StatusBadRequest, code: "invalid_request", rule: "validation",
			message: "the request body could not be read: " + err.Error()}
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// query is the request's query, nil when it has none (reading a nil
// url.Values is fine and costs no allocation).
func query(r *http.Request) url.Values {
	if r.URL.RawQuery == "" {
		return nil
	}
	return r.URL.Query()
}

// requests recycles the request data of the decision core, with its
// cookie map, between requests whose journal entry keeps no reference.
var requests = sync.Pool{New: func() any { return new(scenarios.RequestData) }}

// maxPooledCookies keeps maps grown by a request with many cookies out of
// the pool.
const maxPooledCookies = 16

// recycleRequest empties req and pools it.
func recycleRequest(req *scenarios.RequestData) {
	m := req.Cookies
	*req = scenarios.RequestData{}
	if len(m) <= maxPooledCookies {
		clear(m)
		req.Cookies = m
	}
	requests.Put(req)
}

// cookieMap is the request's cookies by name, the first of a name
// winning: what r.Cookies() reads, without a *http.Cookie per cookie (the
// values are substrings of the Cookie header). It fills reuse, an empty
// map, when given one. FuzzCookieMap keeps it equal to r.Cookies().
func cookieMap(r *http.Request, reuse map[string]string) map[string]string {
	lines := r.Header["Cookie"]
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxParsedCookies {
		// net/http decides (GODEBUG httpcookiemaxnum) past its limit.
		return cookieMapOf(r.Cookies())
	}
	m := reuse
	if m == nil {
		m = make(map[string]string, n)
	}
	if n == 0 {
		return m
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		var part string
		for len(line) > 0 {
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			if part == "" {
				continue
			}
			name, val, _ := strings.Cut(part, "=")
			name = textproto.TrimString(name)
			if !httpguts.ValidHeaderFieldName(name) {
				continue
			}
			if len(val) > 1 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			if !validCookieValue(val) {
				continue
			}
			if _, dup := m[name]; !dup {
				m[name] = val
			}
		}
	}
	return m
}

// maxParsedCookies is net/http's default limit on the cookies of a request
// (GODEBUG httpcookiemaxnum=3000); past it cookieMap lets r.Cookies() say.
const maxParsedCookies = 3000

// cookieMapOf maps parsed cookies by name, the first of a name winning.
func cookieMapOf(cs []*http.Cookie) map[string]string {
	m := make(map[string]string, len(cs))
	for _, c := range cs {
		if _, dup := m[c.Name]; !dup {
			m[c.Name] = c.Value
		}
	}
	return m
}

// validCookieValue is net/http's test of an (unquoted) cookie value's
// bytes.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// write writes the outcome; each cookie gets its own Set-Cookie header.
//
// A body that fits net/http's response buffer gets its Content-Length from
// net/http, which counts what the handler wrote before it returned; a
// larger one, or one whose scenario scripts a Content-Length, gets it set
// here (a scripted one is overridden, never trusted).
func (o *Outcome) write(w http.ResponseWriter) {
	h := w.Header()
	o.header(h)
	if _, scripted := h["Content-Length"]; o.Body != nil && (scripted || len(o.Body) > netHTTPBuffered) {
		h.Set("Content-Length", strconv.Itoa(len(o.Body)))
	}
	w.WriteHeader(o.Status)
	if o.Body != nil {
		_, _ = w.Write(o.Body)
	}
}

// netHTTPBuffered is net/http's bufferBeforeChunkingSize: a response
// whose handler returns before writing more than this many bytes is sent
// with a Content-Length net/http computes.
const netHTTPBuffered = 2048

// header adds the outcome's headers and cookies to h.
func (o *Outcome) header(h http.Header) {
	if o.used != nil {
		h["X-Mock-Scenario-Used"] = o.used
		h["X-Mock-Rule"] = o.rule
	}
	for k, vs := range o.Header {
		h[k] = vs
	}
	if len(h["Set-Cookie"]) == 0 && !slices.Contains(o.Cookies, "") {
		h["Set-Cookie"] = o.Cookies // the outcome's own slice: no copy
		return
	}
	for _, c := range o.Cookies {
		if c != "" {
			h["Set-Cookie"] = append(h["Set-Cookie"], c)
		}
	}
}

// writeEnvelope writes the canonical error envelope (the answers outside
// an operation: routing, a panic).
func (s *Server) writeEnvelope(c *gin.Context, status int, code, message string, ds []detail) {
	out := envelope(status, code, message, ds, Entry{})
	out.write(c.Writer)
}

// wait sleeps for the scripted delay (a random duration in [Min, Max]);
// it returns false when the client goes away first.
func wait(r *http.Request, d *scenarios.Delay) bool {
	if d == nil || d.Max <= 0 {
		return true
	}
	dur := d.Min
	if d.Max > d.Min {
		dur += rand.N(d.Max - d.Min + 1)
	}
	if dur <= 0 {
		return true
	}
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// fault breaks the connection as scripted: connection_reset closes it with
// an RST (SO_LINGER 0), empty_reply closes it without a byte, and
// truncated_body sends the headers and half of the body it announces.
// Without a hijackable connection (HTTP/2) it aborts the stream.
func (s *Server) fault(c *gin.Context, out *Outcome) {
	hj, ok := c.Writer.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	switch out.Fault {
	case "connection_reset":
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	case "truncated_body":
		writeTruncated(buf.Writer, c.Writer.Header(), out)
	}
}

func writeTruncated(w *bufio.Writer, base http.Header, out *Outcome) {
	h := base.Clone()
	out.header(h)
	h.Set("Content-Length", strconv.Itoa(len(out.Body)))
	h.Set("Connection", "close")
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", out.Status, http.StatusText(out.Status))
	_ = h.Write(w)
	_, _ = w.WriteString("\r\n")
	_, _ = w.Write(out.Body[:len(out.Body)/2])
	_ = w.Flush()
}

// byteSize renders a byte count as 1 MiB, 512 KiB or 100 B.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// finish records the journal entry and the log line.
func (s *Server) finish(c *gin.Context, start time.Time, ent Entry) {
	s.finishStatus(c, start, ent, c.Writer.Status())
}

func (s *Server) finishStatus(c *gin.Context, start time.Time, ent Entry, status int) {
	lat := time.Since(start)
	r := c.Request
	ent.Time, ent.Method, ent.Path, ent.Status = start, r.Method, r.URL.Path, status
	ent.LatencyMS = float64(lat.Microseconds()) / 1000
	var n int
	ent.reqHeaders, n = keepHeaders(r.Header)
	ent.kept = n + len(ent.reqBody)
	s.journal.add(ent)
	if s.log.Enabled(r.Context(), slog.LevelInfo) {
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("scenario", ent.Scenario),
			slog.String("rule", ent.Rule),
			slog.Int("status", status),
			slog.Duration("latency", lat),
		)
	}
}
