package mockserver

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/refreshmock/refreshmock/scenarios"
)

// corsPolicy decides which origins may call the mock with credentials.
type corsPolicy struct {
	any      bool
	exact    map[string]bool
	anyPort  []string // "http://localhost" for http://localhost:*
	patterns []string // as given, for messages
}

func newCORSPolicy(origins []string) (corsPolicy, error) {
	p := corsPolicy{exact: map[string]bool{}, patterns: origins}
	for _, o := range origins {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		switch {
		case o == "*":
			p.any = true
		case strings.HasSuffix(o, ":*"):
			base := strings.TrimSuffix(o, ":*")
			if u, err := url.Parse(base); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
				return p, fmt.Errorf("CORS origin %q: want scheme://host:*", o)
			}
			p.anyPort = append(p.anyPort, strings.ToLower(base))
		default:
			u, err := url.Parse(o)
			if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
				return p, fmt.Errorf("CORS origin %q: want scheme://host[:port], scheme://host:* or *", o)
			}
			p.exact[strings.ToLower(o)] = true
		}
	}
	return p, nil
}

// allows reports whether a browser origin may call the mock.
func (p corsPolicy) allows(origin string) bool {
	if origin == "" || origin == "null" {
		return p.any && origin != ""
	}
	if p.any {
		return true
	}
	o := strings.ToLower(origin)
	if p.exact[o] {
		return true
	}
	for _, base := range p.anyPort {
		if o == base {
			return true
		}
		if rest, ok := strings.CutPrefix(o, base+":"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return false
}

// exposedHeaders may be read by browser code.
const exposedHeaders = "Retry-After, X-Mock-Scenario-Used, X-Mock-Rule"

// corsMiddleware answers preflights and adds the CORS headers that let an
// allowed origin call with credentials: 'include'. The control API gets no
// CORS at all unless a control token is configured.
func (s *Server) corsMiddleware(c *gin.Context) {
	r := c.Request
	origin := r.Header.Get("Origin")
	if origin == "" {
		c.Next()
		return
	}
	if isControlPath(r.URL.Path) && s.cfg.ControlToken == "" {
		c.Next()
		return
	}
	h := c.Writer.Header()
	h.Add("Vary", "Origin")
	allowed := s.cors.allows(origin)
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if allowed {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if !preflight {
		if allowed {
			h.Set("Access-Control-Expose-Headers", exposedHeaders)
		}
		c.Next()
		return
	}
	start := time.Now()
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	ent := Entry{Rule: "cors"}
	if !allowed {
		ent.Why = fmt.Sprintf("preflight from origin %s refused; allowed: %s (set --cors-origin)", origin, strings.Join(s.cors.patterns, ", "))
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusForbidden, "application/json", fmt.Appendf(nil, `{"status":403,"message":%q,"code":"cors_origin_not_allowed"}`, ent.Why))
		c.Abort()
		s.finish(c, start, ent)
		return
	}
	methods := r.Header.Get("Access-Control-Request-Method")
	if isControlPath(r.URL.Path) {
		methods = "GET, POST, DELETE"
	} else if op, allowedMethods, _ := s.route(methods, r.URL.Path); op == nil && len(allowedMethods) > 0 {
		methods = strings.Join(allowedMethods, ", ")
	}
	h.Set("Access-Control-Allow-Methods", methods)
	if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
		h.Set("Access-Control-Allow-Headers", reqHeaders)
	}
	if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		h.Set("Access-Control-Allow-Private-Network", "true")
	}
	h.Set("Access-Control-Max-Age", "600")
	c.AbortWithStatus(http.StatusNoContent)
	ent.Why = "preflight from " + origin + " allowed"
	s.finish(c, start, ent)
}

func isControlPath(p string) bool {
	return p == ControlPrefix || strings.HasPrefix(p, ControlPrefix+"/")
}

// crossSiteCookieHint explains, for the journal's why, a request without a
// refresh token that a browser sent from a cross-site page
// (Sec-Fetch-Site: cross-site, as Chromium and Firefox send): a
// SameSite=Lax or Strict cookie is not sent there. Empty otherwise.
func crossSiteCookieHint(req *scenarios.RequestData, sameSite http.SameSite) string {
	origin := req.Headers.Get("Origin")
	if origin == "" || req.Headers.Get("Sec-Fetch-Site") != "cross-site" || sameSite == http.SameSiteNoneMode {
		return ""
	}
	if _, ok := req.Cookies[RefreshCookie]; ok {
		return ""
	}
	mode := "Lax"
	if sameSite == http.SameSiteStrictMode {
		mode = "Strict"
	}
	return fmt.Sprintf("; no %s cookie arrived: the page's origin %s is cross-site to the mock, so the browser does not send a SameSite=%s cookie; "+
		"serve page and mock on the same host name (e.g. both on localhost, any ports) or start the mock with --cookie-samesite None",
		RefreshCookie, cutText(origin, 200), mode)
}
