package mockserver

import (
	"embed"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"
)

// panelFiles is the control panel served at /__mock/: plain HTML, CSS and
// JavaScript that use only the public control API.
//
//go:embed panel/index.html panel/panel.css panel/panel.js
var panelFiles embed.FS

// panelTypes are the panel's files and their media types.
var panelTypes = map[string]string{
	"index.html": "text/html; charset=utf-8",
	"panel.css":  "text/css; charset=utf-8",
	"panel.js":   "text/javascript; charset=utf-8",
}

// panelCSP keeps the panel to its own files and its own origin, and out of
// frames (another page cannot overlay it to steal clicks).
const panelCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

func (s *Server) panelRoutes(e *gin.Engine) {
	// Without a control token the panel is behind the control API's guard
	// (loopback clients, a loopback Host, no foreign Origin). With one, the
	// files (which hold no data) are served to anyone and the page asks
	// for the token, which it sends as a bearer header on every API call.
	guard := s.controlGuard
	if s.cfg.ControlToken != "" {
		guard = func(c *gin.Context) { c.Next() }
	}
	e.GET(ControlPrefix, guard, func(c *gin.Context) { c.Redirect(http.StatusFound, ControlPrefix+"/") })
	e.GET(ControlPrefix+"/", guard, s.panelFile("index.html"))
	e.GET(ControlPrefix+"/panel.css", guard, s.panelFile("panel.css"))
	e.GET(ControlPrefix+"/panel.js", guard, s.panelFile("panel.js"))
}

func (s *Server) panelFile(name string) gin.HandlerFunc {
	b, err := panelFiles.ReadFile(path.Join("panel", name))
	if err != nil {
		panic("mockserver: panel file " + name + " is not embedded: " + err.Error())
	}
	typ := panelTypes[name]
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", panelCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		c.Data(http.StatusOK, typ, b)
	}
}
