package mockserver

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/refreshmock/refreshmock/scenarios"
)

// controlEndpoints lists the control API, for its 404 message.
var controlEndpoints = []string{
	"GET /__mock/ (the panel)",
	"GET /__mock/health",
	"GET /__mock/scenarios",
	"GET /__mock/arm",
	"POST /__mock/arm",
	"DELETE /__mock/arm",
	"POST /__mock/reset",
	"GET /__mock/journal",
	"GET /__mock/clock",
	"POST /__mock/clock/advance",
	"POST /__mock/clock/reset",
	"POST /__mock/tokens",
	"POST /__mock/reload",
	"GET /__mock/config",
	"POST /__mock/config",
}

func (s *Server) controlRoutes(e *gin.Engine) {
	s.panelRoutes(e)
	g := e.Group(ControlPrefix, s.controlGuard)
	g.GET("/health", s.ctlHealth)
	g.GET("/scenarios", s.ctlScenarios)
	g.GET("/arm", s.ctlArmed)
	g.POST("/arm", s.ctlArm)
	g.DELETE("/arm", s.ctlDisarm)
	g.POST("/reset", s.ctlReset)
	g.GET("/journal", s.ctlJournal)
	g.GET("/clock", s.ctlClock)
	g.POST("/clock/advance", s.ctlAdvance)
	g.POST("/clock/reset", s.ctlClockReset)
	g.POST("/tokens", s.ctlTokens)
	g.POST("/reload", s.ctlReload)
	g.GET("/config", s.ctlConfig)
	g.POST("/config", s.ctlSetConfig)
}

// Control API input caps. Every string a control request carries is
// bounded (the session's cap, maxSession, is the armed queue's): a long
// subject would otherwise be kept in the token store with every token of
// its family, and echoed back in errors.
const (
	maxControlBody  = 64 << 10 // a control request's JSON body
	maxScenarioName = 128      // scenario, in arm and the journal filter
	maxSubject      = 256      // subject, in tokens
	maxDurationText = 32       // by in clock/advance, ttl in arm
	maxMethodFilter = 16       // method, in the journal filter
)

// checkText refuses a control API string field longer than limit bytes,
// not valid UTF-8, or with control characters.
func checkText(field, v string, limit int) error {
	if len(v) > limit {
		return fmt.Errorf("%s is %d bytes long; use at most %d", field, len(v), limit)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		return fmt.Errorf("%s has a control character at byte %d; use printable text", field, i)
	}
	return nil
}

// checkTexts runs checkText over field, value, limit triples and answers
// 400 for the first that fails.
func checkTexts(c *gin.Context, fields ...textField) bool {
	for _, f := range fields {
		if err := checkText(f.name, f.value, f.limit); err != nil {
			ctlFail(c, http.StatusBadRequest, "%v", err)
			return false
		}
	}
	return true
}

// textField is a control API string field and its cap.
type textField struct {
	name, value string
	limit       int
}

// controlError is the control API's error body.
type controlError struct {
	Error string `json:"error"`
}

func ctlFail(c *gin.Context, status int, format string, args ...any) {
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, controlError{Error: fmt.Sprintf(format, args...)})
}

// controlGuard lets a request drive the control API when it carries the
// configured token, or, when no token is configured, when it comes from
// loopback, names a loopback host (no DNS rebinding) and, if it has an
// Origin, comes from the control API's own origin.
func (s *Server) controlGuard(c *gin.Context) {
	r := c.Request
	if tok := s.cfg.ControlToken; tok != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(tok)) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="refreshmock control API"`)
			ctlFail(c, http.StatusUnauthorized, "the control API needs Authorization: Bearer <token> (serve --control-token)")
			return
		}
		c.Header("Cache-Control", "no-store")
		c.Next()
		return
	}
	if !loopbackAddr(r.RemoteAddr) {
		ctlFail(c, http.StatusForbidden, "the control API only answers loopback clients; serve with --control-token to use it from %s", r.RemoteAddr)
		return
	}
	if !loopbackHost(r.Host) {
		ctlFail(c, http.StatusForbidden, "the control API only answers requests for localhost, 127.0.0.1 or [::1], not Host %q", r.Host)
		return
	}
	// An absolute-form target (POST http://127.0.0.1/__mock/reset) is what
	// a client sends a proxy. net/http then takes r.Host from the target
	// and drops the Host header, which therefore cannot be checked: refuse
	// the form. A request built in process may carry a URL host apart
	// from r.Host: both must be loopback.
	if r.RequestURI != "" && !strings.HasPrefix(r.RequestURI, "/") {
		ctlFail(c, http.StatusForbidden, "the control API does not answer absolute-form request targets (%s %s), whose Host header cannot be checked; send the path only, with Host: 127.0.0.1",
			r.Method, cutText(r.RequestURI, 200))
		return
	}
	if r.URL.Host != "" && !loopbackHost(r.URL.Host) {
		ctlFail(c, http.StatusForbidden, "the control API only answers requests for localhost, 127.0.0.1 or [::1], not %q", cutText(r.URL.Host, 200))
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
		ctlFail(c, http.StatusForbidden, "the control API does not answer pages of other origins (Origin %s); drive it from a terminal, a test, or with --control-token", o)
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		ctlFail(c, http.StatusForbidden, "the control API does not answer pages of other origins (Sec-Fetch-Site: %s)", site)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Next()
}

func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, host)
}

func (s *Server) controlNotFound(c *gin.Context) {
	if s.controlGuard(c); c.IsAborted() {
		return
	}
	ctlFail(c, http.StatusNotFound, "no control endpoint %s %s; endpoints: %s", c.Request.Method, c.Request.URL.Path, strings.Join(controlEndpoints, ", "))
}

// decodeControl reads a small JSON body strictly; an empty body leaves v
// as it is.
func decodeControl(c *gin.Context, v any) bool {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxControlBody+1))
	if err != nil {
		ctlFail(c, http.StatusBadRequest, "read body: %v", err)
		return false
	}
	if len(body) > maxControlBody {
		ctlFail(c, http.StatusBadRequest, "the body is larger than %d KiB, the control API's limit", maxControlBody>>10)
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		ctlFail(c, http.StatusBadRequest, "the body is not the expected JSON: %v", err)
		return false
	}
	return true
}

// Health is the body of GET /__mock/health.
type Health struct {
	Status     string       `json:"status"`
	Spec       string       `json:"spec"`
	BasePath   string       `json:"base_path"`
	Scenarios  int          `json:"scenarios"`
	Files      []string     `json:"files"`
	LoadedAt   time.Time    `json:"loaded_at"`
	LastReload reloadStatus `json:"last_reload"`
	Now        time.Time    `json:"now"`
	Tokens     int          `json:"tokens"`
	Families   int          `json:"families"`
	Armed      int          `json:"armed"`
	// PendingArms are the armed entries not used up or expired, each with
	// its session (applies_to).
	PendingArms []armedEntry `json:"pending_arms"`
	// SessionsSeen are the sessions requests carried lately (X-Mock-Session
	// or mock_session), the most recent first.
	SessionsSeen []seenSession `json:"sessions_seen"`
	// TokenStore says how full the token store is and whether it had to
	// forget valid tokens.
	TokenStore TokenStoreHealth `json:"token_store"`
}

func (s *Server) ctlHealth(c *gin.Context) {
	snap := s.snap.Load()
	s.reloadMu.Lock()
	last := s.lastReload
	s.reloadMu.Unlock()
	tokens, fams, _ := s.store.counts()
	pending := s.store.armedList()
	files := snap.set.Files()
	if files == nil {
		files = []string{}
	}
	c.JSON(http.StatusOK, Health{Status: "ok", Spec: s.cfg.Spec.Name(), BasePath: s.cfg.BasePath, Scenarios: len(snap.set.All()),
		Files: files, LoadedAt: snap.loadedAt, LastReload: last, Now: s.store.now(), Tokens: tokens, Families: fams,
		Armed: len(pending), PendingArms: pending, SessionsSeen: s.store.sessionsSeen(), TokenStore: s.store.health()})
}

// ScenarioInfo is one element of GET /__mock/scenarios.
type ScenarioInfo struct {
	Name        string           `json:"name"`
	Operation   string           `json:"operation"`
	Status      int              `json:"status"`
	Description string           `json:"description,omitempty"`
	Tags        []string         `json:"tags,omitempty"`
	Default     bool             `json:"default,omitempty"`
	Priority    int              `json:"priority,omitempty"`
	Match       string           `json:"match,omitempty"`
	Rotate      bool             `json:"rotate,omitempty"`
	Fault       string           `json:"fault,omitempty"`
	Delay       *scenarios.Delay `json:"delay,omitempty"`
	File        string           `json:"file"`
	Line        int              `json:"line"`
	// Shipped is true for a shipped scenario, false for one from a
	// --scenarios file.
	Shipped bool `json:"shipped"`
	// Replaces is where the shipped scenario of the same name is written,
	// when this one (from a --scenarios file) replaced it.
	Replaces string `json:"replaces,omitempty"`
	// ReplacesDefault names the shipped default this one took over from.
	ReplacesDefault string `json:"replaces_default,omitempty"`
}

func (s *Server) ctlScenarios(c *gin.Context) {
	snap := s.snap.Load()
	replaces, defaults := map[string]string{}, map[scenarios.Pos]string{}
	for _, o := range snap.set.Overrides() {
		if o.Default {
			defaults[o.By] = o.Name
		} else {
			replaces[o.Name] = o.Shipped.String()
		}
	}
	out := []ScenarioInfo{}
	for _, op := range s.cfg.Spec.Operations() {
		for _, sc := range snap.sel.Ordered(op.ID) {
			out = append(out, ScenarioInfo{
				Name: sc.Name, Operation: sc.Operation, Status: sc.Response.Status, Description: sc.Description, Tags: sc.Tags,
				Default: sc.Default, Priority: sc.Priority, Match: sc.Match.String(), Rotate: sc.Response.Rotate,
				Fault: sc.Response.Fault, Delay: sc.Response.Delay, File: sc.Pos.File, Line: sc.Pos.Line,
				Shipped: snap.set.Shipped(sc.Name), Replaces: replaces[sc.Name], ReplacesDefault: defaults[sc.PosOf("default")],
			})
		}
	}
	c.JSON(http.StatusOK, gin.H{"scenarios": out})
}

// ArmRequest is the body of POST /__mock/arm.
type ArmRequest struct {
	Scenario string `json:"scenario"`
	// Count is how many requests the scenario answers: 1 to 1,000,000;
	// left out, 1.
	Count *int `json:"count"`
	// Session scopes it to one client: an X-Mock-Session header value, a
	// mock_session cookie value, a refresh-token family id, or a refresh
	// token (which stands for its family). Empty: everyone.
	Session string `json:"session"`
	// TTL is how long the entry waits (wall-clock time), a Go duration
	// from 1s to 24h; left out, 10m.
	TTL string `json:"ttl"`
}

// ArmResponse is the body of an accepted POST /__mock/arm.
type ArmResponse struct {
	Armed armedEntry `json:"armed"`
	// Matches says in words which requests the entry answers.
	Matches string `json:"matches"`
	// Warning is set when no request carried the session lately: perhaps
	// it is mistyped. SessionsSeen then lists the ones that were.
	Warning      string        `json:"warning,omitempty"`
	SessionsSeen []seenSession `json:"sessions_seen,omitempty"`
	Queue        []armedEntry  `json:"queue"`
}

func (s *Server) ctlArm(c *gin.Context) {
	var req ArmRequest
	if !decodeControl(c, &req) {
		return
	}
	if !checkTexts(c, textField{"scenario", req.Scenario, maxScenarioName}, textField{"session", req.Session, maxSession},
		textField{"ttl", req.TTL, maxDurationText}) {
		return
	}
	o, err := req.options()
	if err != nil {
		ctlFail(c, http.StatusBadRequest, "%v", err)
		return
	}
	set := s.snap.Load().set
	sc, ok := set.Get(req.Scenario)
	if !ok {
		ctlFail(c, http.StatusNotFound, "unknown scenario %q; scenarios: %s", req.Scenario, strings.Join(set.Names(), ", "))
		return
	}
	e, err := s.store.arm(sc, o)
	if err != nil {
		ctlFail(c, http.StatusBadRequest, "%v", err)
		return
	}
	resp := ArmResponse{Armed: e, Queue: s.store.armedList()}
	if e.Session != "" && e.Session == strings.TrimSpace(req.Session) && !s.store.sessionSeen(e.Session) {
		resp.SessionsSeen = s.store.sessionsSeen()
	}
	resp.Matches, resp.Warning = armWords(e, req.Session, resp.SessionsSeen)
	c.JSON(http.StatusOK, resp)
}

// options turns an arm request into the store's options: count 1 and the
// store's default TTL when left out.
func (r ArmRequest) options() (armOptions, error) {
	o := armOptions{count: 1, session: r.Session}
	if r.Count != nil {
		o.count = *r.Count
	}
	if r.TTL != "" {
		d, err := time.ParseDuration(r.TTL)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("%w: ttl %q is not a positive duration such as \"30s\", \"10m\" or \"2h\"", errArm, r.TTL)
		}
		o.ttl = d
	}
	return o, nil
}

// armWords says in words which requests an armed entry answers, and warns
// when the session given was never seen (unseen is then the sessions that
// were, possibly none; nil when the session was seen or none was given).
// given is the session as the arm request spelled it: a refresh token
// stands for its family, so e.Session differs from it.
func armWords(e armedEntry, given string, unseen []seenSession) (matches, warning string) {
	until := e.ExpiresAt.Format(time.RFC3339)
	switch {
	case e.Session == "":
		return fmt.Sprintf("every %s request that names no scenario (entries armed for a session go first), %d times, until %s",
			e.Operation, e.Remaining, until), ""
	case strings.TrimSpace(given) != e.Session:
		return fmt.Sprintf("%s requests presenting a refresh token of family %s (the refresh token given stands for its family), %d times, until %s",
			e.Operation, e.Session, e.Remaining, until), ""
	}
	matches = fmt.Sprintf("%s requests with the header \"%s: %s\", the cookie \"%s=%s\", or a refresh token of family %s, %d times, until %s",
		e.Operation, SessionHeader, e.Session, SessionCookie, e.Session, e.Session, e.Remaining, until)
	if unseen == nil {
		return matches, ""
	}
	seen := "no request carried any session yet"
	if len(unseen) > 0 {
		names := make([]string, len(unseen))
		for i, ss := range unseen {
			names[i] = strconv.Quote(ss.Session)
		}
		seen = "sessions seen: " + strings.Join(names, ", ")
	}
	return matches, fmt.Sprintf("no request has carried session %q in an %s header or a %s cookie (%s); unless it is a refresh-token family id, check the spelling: the entry waits until it expires",
		e.Session, SessionHeader, SessionCookie, seen)
}

func (s *Server) ctlArmed(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"queue": s.store.armedList()})
}

// ctlDisarm answers DELETE /__mock/arm: every entry, or those of
// ?scenario=NAME, or the one of ?id=N.
func (s *Server) ctlDisarm(c *gin.Context) {
	var id int
	if v := c.Query("id"); v != "" {
		var err error
		if id, err = strconv.Atoi(v); err != nil || id < 1 {
			ctlFail(c, http.StatusBadRequest, "id %q is not an armed entry's id (a positive number)", cutText(v, 20))
			return
		}
	}
	scenario := c.Query("scenario")
	if !checkTexts(c, textField{"scenario", scenario, maxScenarioName}) {
		return
	}
	n := s.store.disarmWhere(func(e *armedEntry) bool {
		return (id == 0 || e.ID == id) && (scenario == "" || e.Scenario == scenario)
	})
	c.JSON(http.StatusOK, gin.H{"disarmed": n, "queue": s.store.armedList()})
}

func (s *Server) ctlReset(c *gin.Context) {
	s.store.reset()
	s.journal.reset()
	now, _ := s.store.clock()
	c.JSON(http.StatusOK, gin.H{"reset": true, "seed_token": s.cfg.SeedToken, "now": now})
}

// ctlJournal answers GET /__mock/journal: the last limit entries, oldest
// first, that the filters keep (since=SEQ for entries after SEQ, method,
// status, scenario, session: a session or family).
func (s *Server) ctlJournal(c *gin.Context) {
	var f journalFilter
	n := 0
	for _, p := range []struct {
		name string
		dst  *int
	}{{"limit", &n}, {"status", &f.status}} {
		if v := c.Query(p.name); v != "" {
			var err error
			if *p.dst, err = strconv.Atoi(v); err != nil || *p.dst < 0 {
				ctlFail(c, http.StatusBadRequest, "%s %q is not a non-negative number", p.name, cutText(v, 20))
				return
			}
		}
	}
	if v := c.Query("since"); v != "" {
		var err error
		if f.since, err = strconv.ParseUint(v, 10, 64); err != nil {
			ctlFail(c, http.StatusBadRequest, "since %q is not a journal seq (a non-negative number)", cutText(v, 20))
			return
		}
	}
	f.method, f.scenario, f.session = c.Query("method"), c.Query("scenario"), c.Query("session")
	if !checkTexts(c, textField{"method", f.method, maxMethodFilter}, textField{"scenario", f.scenario, maxScenarioName},
		textField{"session", f.session, maxSession}) {
		return
	}
	last := s.journal.lastSeq()
	c.JSON(http.StatusOK, gin.H{"entries": s.journal.query(&f, n), "last_seq": last})
}

// ClockState is the body of GET /__mock/clock and POST /__mock/clock/advance.
type ClockState struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
}

func (s *Server) ctlClock(c *gin.Context) {
	now, off := s.store.clock()
	c.JSON(http.StatusOK, ClockState{Now: now, Offset: off.String()})
}

// AdvanceRequest is the body of POST /__mock/clock/advance.
type AdvanceRequest struct {
	// By is a Go duration, e.g. "15m" or "720h".
	By string `json:"by"`
}

func (s *Server) ctlAdvance(c *gin.Context) {
	var req AdvanceRequest
	if !decodeControl(c, &req) {
		return
	}
	if !checkTexts(c, textField{"by", req.By, maxDurationText}) {
		return
	}
	d, err := time.ParseDuration(req.By)
	if err != nil || d <= 0 {
		ctlFail(c, http.StatusBadRequest, "by %q is not a positive duration such as \"15m\" or \"720h\"", req.By)
		return
	}
	now, off, err := s.store.advance(d)
	if err != nil {
		ctlFail(c, http.StatusBadRequest, "%v", err)
		return
	}
	c.JSON(http.StatusOK, ClockState{Now: now, Offset: off.String()})
}

// ctlClockReset answers POST /__mock/clock/reset: the mock clock goes
// back to real time; tokens, arms and the journal stay.
func (s *Server) ctlClockReset(c *gin.Context) {
	now, off := s.store.resetClock()
	c.JSON(http.StatusOK, ClockState{Now: now, Offset: off.String()})
}

// TokenRequest is the body of POST /__mock/tokens.
type TokenRequest struct {
	// Subject is the sub claim of the family's access tokens; default a
	// random user_ id.
	Subject string `json:"subject"`
	// SetCookie also sets the token as the refresh_token cookie.
	SetCookie bool `json:"set_cookie"`
}

func (s *Server) ctlTokens(c *gin.Context) {
	var req TokenRequest
	if !decodeControl(c, &req) {
		return
	}
	if !checkTexts(c, textField{"subject", req.Subject, maxSubject}) {
		return
	}
	iss := s.store.issue(req.Subject)
	if req.SetCookie {
		c.Header("Set-Cookie", s.refreshCookie(iss.RefreshToken))
	}
	c.JSON(http.StatusOK, iss)
}

func (s *Server) ctlReload(c *gin.Context) {
	if err := s.Reload(); err != nil {
		status := http.StatusUnprocessableEntity
		if errors.Is(err, errNothingToReload) {
			status = http.StatusConflict
		}
		ctlFail(c, status, "%v", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"reloaded": true, "scenarios": len(s.snap.Load().set.All())})
}
