package mockserver

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/refreshmock/refreshmock/scenarios"
)

// response is a rendered scenario ready to write.
type response struct {
	status  int
	header  http.Header
	cookies []string // Set-Cookie values
	body    []byte
}

// render renders the scenario for the request. A rotating scenario first
// rotates the presented refresh token; the new tokens reach templates as
// .Token and the new refresh token is set as the refresh_token cookie
// (unless the scenario scripts that cookie itself).
func (s *Server) render(sc *scenarios.Scenario, req *scenarios.RequestData, token string, strict bool) (*response, error) {
	data := &scenarios.RenderData{Request: *req, Now: s.store.now()}
	if sc.Response.Rotate {
		td, err := s.store.rotate(token, strict)
		if err != nil {
			return nil, err
		}
		data.Token = td
	}
	out, err := sc.Render(data)
	if err != nil {
		return nil, err
	}
	resp := &response{status: out.Status, header: out.Header, body: out.Body}
	scriptsRefresh := false
	for _, rc := range out.Cookies {
		resp.cookies = append(resp.cookies, s.cookie(rc.Spec, rc.Value).String())
		scriptsRefresh = scriptsRefresh || rc.Spec.Name == RefreshCookie
	}
	if sc.Response.Rotate {
		if !scriptsRefresh {
			resp.cookies = append(resp.cookies, s.refreshCookie(data.Token.Refresh))
		}
		if resp.header.Get("Cache-Control") == "" {
			resp.header.Set("Cache-Control", "no-store")
		}
		resp.header["Pragma"] = noCache
	}
	return resp, nil
}

// cookie builds a Set-Cookie from a scripted cookie; attributes it leaves
// unset come from the server's cookie configuration.
func (s *Server) cookie(spec *scenarios.Cookie, value string) *http.Cookie {
	cc := s.cfg.Cookie
	c := &http.Cookie{Name: spec.Name, Value: value, Path: cc.Path, Domain: cc.Domain, HttpOnly: true, Secure: cc.Secure, SameSite: cc.SameSite}
	if spec.Name == RefreshCookie {
		c.MaxAge = int(s.cfg.RefreshTTL / time.Second)
	}
	if spec.Path != "" {
		c.Path = spec.Path
	}
	if spec.Domain != "" {
		c.Domain = spec.Domain
	}
	if spec.MaxAge != nil {
		c.MaxAge = *spec.MaxAge
		if c.MaxAge == 0 {
			c.MaxAge = -1 // Max-Age=0: delete the cookie
		}
	}
	if spec.HTTPOnly != nil {
		c.HttpOnly = *spec.HTTPOnly
	}
	if spec.Secure != nil {
		c.Secure = *spec.Secure
	}
	switch spec.SameSite {
	case "Strict":
		c.SameSite = http.SameSiteStrictMode
	case "Lax":
		c.SameSite = http.SameSiteLaxMode
	case "None":
		c.SameSite, c.Secure = http.SameSiteNoneMode, true
	}
	return c
}

// noCache is the Pragma header value of rotating responses, shared as
// snapshot.headerValue explains.
var noCache = []string{"no-cache"}

// refreshCookie is the Set-Cookie value of the refresh-token cookie with
// the server's attributes: the same bytes as
// s.cookie(&scenarios.Cookie{Name: RefreshCookie}, value).String(), built
// from the attributes rendered once (refreshAttrs) when the value needs
// no quoting, as the tokens the store issues never do.
func (s *Server) refreshCookie(value string) string {
	if value == "" || !plainCookieValue(value) {
		return s.cookie(&scenarios.Cookie{Name: RefreshCookie}, value).String()
	}
	return RefreshCookie + "=" + value + s.refreshAttrs
}

// refreshCookieAttrs renders the attributes of the refresh-token cookie
// once: everything after name=value.
func (s *Server) refreshCookieAttrs() string {
	const probe = "x"
	line := s.cookie(&scenarios.Cookie{Name: RefreshCookie}, probe).String()
	return strings.TrimPrefix(line, RefreshCookie+"="+probe)
}

// plainCookieValue says that net/http writes v as is, unquoted: only
// letters, digits and -._~ (a subset of what it accepts).
func plainCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}

// write writes the response; each cookie gets its own Set-Cookie header.
func (resp *response) write(w gin.ResponseWriter) {
	h := w.Header()
	for k, vs := range resp.header {
		h[k] = vs
	}
	for _, c := range resp.cookies {
		if c != "" {
			h["Set-Cookie"] = append(h["Set-Cookie"], c)
		}
	}
	if resp.body != nil {
		h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	}
	w.WriteHeader(resp.status)
	w.WriteHeaderNow()
	if resp.body != nil {
		_, _ = w.Write(resp.body)
	}
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
func (s *Server) fault(c *gin.Context, kind string, resp *response) {
	hj, ok := c.Writer.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	switch kind {
	case "connection_reset":
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	case "truncated_body":
		writeTruncated(buf.Writer, c.Writer.Header(), resp)
	}
}

func writeTruncated(w *bufio.Writer, base http.Header, resp *response) {
	h := base.Clone()
	for k, vs := range resp.header {
		h[k] = vs
	}
	for _, c := range resp.cookies {
		if c != "" {
			h.Add("Set-Cookie", c)
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	h.Set("Connection", "close")
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", resp.status, http.StatusText(resp.status))
	_ = h.Write(w)
	_, _ = w.WriteString("\r\n")
	_, _ = w.Write(resp.body[:len(resp.body)/2])
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
