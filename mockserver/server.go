package mockserver

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

// Defaults of Config.
const (
	DefaultSeedToken      = "rt_seed_dev"
	DefaultAccessTTL      = 15 * time.Minute
	DefaultRefreshTTL     = 30 * 24 * time.Hour
	DefaultMaxBody        = 1 << 20
	DefaultJournalSize    = 200
	DefaultReloadInterval = 500 * time.Millisecond
	// ControlPrefix is where the control API lives, outside any base path.
	ControlPrefix = "/__mock"
	// RefreshCookie is the cookie that carries the refresh token.
	RefreshCookie = "refresh_token"
	// SessionCookie and SessionHeader scope armed scenarios to a client.
	SessionCookie = "mock_session"
	SessionHeader = "X-Mock-Session"
)

// Limits of the HTTP server NewHTTPServer builds (refreshmock serve).
const (
	// ReadHeaderTimeout closes a connection whose request line and headers
	// do not arrive in time (slowloris).
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout = 60 * time.Second
	// IdleTimeout closes idle keep-alive connections.
	IdleTimeout = 120 * time.Second
	// MaxHeaderBytes bounds the request line and headers (cookies
	// included). net/http reads at most this plus 4 kB of them, then answers
	// 431 Request Header Fields Too Large and closes the connection: the
	// request never reaches the mock, which could only answer a documented
	// status after reading the whole header.
	MaxHeaderBytes = 64 << 10
)

// NewHTTPServer returns an http.Server for h with the limits above set
// explicitly (the zero values of http.Server mean no timeouts and 1 MB of
// headers). errorLog may be nil.
func NewHTTPServer(h http.Handler, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          errorLog,
	}
}

// DefaultCORSOrigins are the origins allowed when Config.CORSOrigins is
// empty: any port of localhost and 127.0.0.1, as dev servers use.
var DefaultCORSOrigins = []string{"http://localhost:*", "http://127.0.0.1:*"}

// CookieConfig sets the attributes of the refresh-token cookie (and of
// scripted cookies that leave them unset).
type CookieConfig struct {
	Path     string        // default: the folder of the operation that reads the cookie, e.g. /auth
	Domain   string        // default: host-only
	SameSite http.SameSite // default Lax; None forces Secure
	Secure   bool          // also set when the server runs TLS
}

// Config configures a Server. Spec and Scenarios are required.
type Config struct {
	Spec      *spec.Spec
	Scenarios *scenarios.Set
	// ScenarioPaths are the files and directories Scenarios came from;
	// Reload and Watch read them again. Empty means the embedded set, which
	// is not reloaded.
	ScenarioPaths []string
	// ScenarioOptions are how Reload reads ScenarioPaths: on top of the
	// shipped scenarios unless NoBuiltin, each file capped at MaxFileSize
	// (see scenarios.LoadWithBuiltin).
	ScenarioOptions scenarios.LoadOptions
	// BasePath is prefixed to every operation path, e.g. /api.
	BasePath string
	// SeedToken is a refresh token valid from the start (and after reset).
	// Empty means none.
	SeedToken  string
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	Cookie     CookieConfig
	// TLS says the server is served over TLS: cookies get Secure.
	TLS bool
	// CORSOrigins lists the allowed origins; an entry may end in :* for any
	// port, and "*" allows any origin. Empty means DefaultCORSOrigins.
	CORSOrigins []string
	// ControlToken, when set, is required as "Authorization: Bearer TOKEN"
	// on every control API request.
	ControlToken string
	// MaxBody limits request bodies, in bytes.
	MaxBody int64
	// NoValidateRequests turns request validation against the spec off.
	NoValidateRequests bool
	// NoValidationMemo turns off the memo of validation outcomes for
	// identical requests (see validationMemo); for benchmarks.
	NoValidationMemo bool
	JournalSize      int
	// Logger gets one line per request and the reload messages; nil is
	// silent.
	Logger *slog.Logger
	// Now is the real clock (the mock clock adds the advanced offset); nil
	// means time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.AccessTTL <= 0 {
		c.AccessTTL = DefaultAccessTTL
	}
	if c.RefreshTTL <= 0 {
		c.RefreshTTL = DefaultRefreshTTL
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.JournalSize <= 0 {
		c.JournalSize = DefaultJournalSize
	}
	if len(c.CORSOrigins) == 0 {
		c.CORSOrigins = DefaultCORSOrigins
	}
	if c.Cookie.SameSite == 0 || c.Cookie.SameSite == http.SameSiteDefaultMode {
		c.Cookie.SameSite = http.SameSiteLaxMode
	}
	if c.Cookie.SameSite == http.SameSiteNoneMode {
		c.Cookie.Secure = true // browsers drop SameSite=None without Secure
	}
	if c.TLS {
		c.Cookie.Secure = true
	}
	c.BasePath = "/" + strings.Trim(c.BasePath, "/")
	if c.BasePath == "/" {
		c.BasePath = ""
	}
	if c.Cookie.Path == "" {
		c.Cookie.Path = defaultCookiePath(c.Spec, c.BasePath)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Server is the mock. It is an http.Handler; its scenario set is swapped
// atomically on reload, so in-flight requests finish with the set they
// started with.
type Server struct {
	// core decides the answers to the operations' requests; its snapshot
	// is the scenario set served.
	*core
	cfg     Config
	store   *store
	journal *journal
	engine  *gin.Engine
	log     *slog.Logger
	cors    corsPolicy

	reloadMu   sync.Mutex
	reloadSig  string
	lastReload reloadStatus
}

// snapshot is an immutable scenario set ready for selection.
type snapshot struct {
	set      *scenarios.Set
	sel      *scenarios.Selector
	loadedAt time.Time
	// names holds each scenario's name as a header value, built once.
	names map[string][]string
}

// headerValue returns name as a header value, shared between responses
// when the set has such a scenario. Sharing is safe: net/http only reads
// header values, and an Add to the same key appends to a copy (cap 1).
func (sn *snapshot) headerValue(name string) []string {
	if v, ok := sn.names[name]; ok {
		return v
	}
	return []string{name}
}

// ruleValues holds the selection rules as shared header values.
var ruleValues = map[scenarios.SelectedBy][]string{}

func init() {
	for _, r := range []scenarios.SelectedBy{scenarios.ByExplicit, scenarios.ByArmed, scenarios.ByMatch, scenarios.ByDefault} {
		ruleValues[r] = []string{string(r)}
	}
}

func ruleValue(r scenarios.SelectedBy) []string {
	if v, ok := ruleValues[r]; ok {
		return v
	}
	return []string{string(r)}
}

type reloadStatus struct {
	At     time.Time `json:"at"`
	OK     bool      `json:"ok"`
	Errors []string  `json:"errors,omitempty"`
}

// ErrConfig is wrapped by New for an unusable configuration.
var ErrConfig = errors.New("mock server configuration")

func init() { gin.SetMode(gin.ReleaseMode) }

// New builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.Spec == nil {
		return nil, fmt.Errorf("%w: no spec", ErrConfig)
	}
	if cfg.Scenarios == nil {
		return nil, fmt.Errorf("%w: no scenarios", ErrConfig)
	}
	cfg.defaults()
	cors, err := newCORSPolicy(cfg.CORSOrigins)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	st := newStore(cfg.Now, cfg.SeedToken, cfg.AccessTTL, cfg.RefreshTTL)
	s := &Server{
		core:    newCore(&cfg, st),
		cfg:     cfg,
		store:   st,
		journal: newJournal(cfg.JournalSize),
		log:     cfg.Logger,
		cors:    cors,
	}
	s.swap(cfg.Scenarios)
	s.lastReload = reloadStatus{At: cfg.Now(), OK: true}
	if len(cfg.ScenarioPaths) > 0 {
		s.reloadSig, _ = signature(cfg.ScenarioPaths)
	}
	s.engine = s.buildEngine()
	return s, nil
}

func (s *Server) swap(set *scenarios.Set) { s.snap.Store(newSnapshot(set, s.cfg.Now())) }

// newSnapshot prepares set for serving.
func newSnapshot(set *scenarios.Set, loadedAt time.Time) *snapshot {
	names := make(map[string][]string, len(set.All()))
	for _, sc := range set.All() {
		names[sc.Name] = []string{sc.Name}
	}
	return &snapshot{set: set, sel: scenarios.NewSelector(set), loadedAt: loadedAt, names: names}
}

// Scenarios returns the set currently served.
func (s *Server) Scenarios() *scenarios.Set { return s.snap.Load().set }

// ServeHTTP serves the mock and its control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// buildEngine registers a route for every operation of the spec under the
// base path, the control API, and a fallback that answers 404 or 405.
func (s *Server) buildEngine() *gin.Engine {
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = false
	e.ContextWithFallback = true
	e.Use(s.recovery, s.corsMiddleware)
	for _, op := range s.cfg.Spec.Operations() {
		op := op
		s.handle(e, op.Method, s.cfg.BasePath+ginPath(op.Path), func(c *gin.Context) { s.serveOperation(c, op) })
	}
	s.controlRoutes(e)
	e.NoRoute(s.noRoute)
	return e
}

// handle registers a route; a path Gin cannot register (a conflict between
// a parameter and a static segment) is left to noRoute, which routes with
// the spec.
func (s *Server) handle(e *gin.Engine, method, path string, h gin.HandlerFunc) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Debug("route left to the spec router", "method", method, "path", path, "reason", fmt.Sprint(r))
		}
	}()
	e.Handle(method, path, h)
}

// ginPath turns /pets/{id} into /pets/:id.
func ginPath(p string) string {
	var b strings.Builder
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" {
			continue
		}
		b.WriteByte('/')
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			b.WriteByte(':')
			b.WriteString(strings.NewReplacer("-", "_", ".", "_").Replace(seg[1 : len(seg)-1]))
			continue
		}
		b.WriteString(seg)
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// route finds the operation of a request path under the base path.
func (s *Server) route(method, path string) (*spec.Operation, []string, bool) {
	rel, ok := s.relPath(path)
	if !ok {
		return nil, nil, false
	}
	op, allowed := s.cfg.Spec.Route(method, rel)
	return op, allowed, true
}

func (s *Server) relPath(path string) (string, bool) {
	if s.cfg.BasePath == "" {
		return path, true
	}
	rest, ok := strings.CutPrefix(path, s.cfg.BasePath)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	if rest == "" {
		rest = "/"
	}
	return rest, true
}

// defaultCookiePath narrows the refresh-token cookie to the folder of the
// first operation that documents it as a cookie parameter (/auth for
// POST /auth/refresh), so that browsers do not send it with every request.
func defaultCookiePath(sp *spec.Spec, basePath string) string {
	if sp != nil {
		for _, op := range sp.Operations() {
			if _, ok := op.Parameter("cookie", RefreshCookie); ok {
				dir := path.Dir(op.Path)
				if dir == "/" || dir == "." {
					dir = ""
				}
				if p := basePath + dir; p != "" {
					return p
				}
				return "/"
			}
		}
	}
	if basePath != "" {
		return basePath
	}
	return "/"
}

// wrongMethodStatus picks the documented status that answers a method the
// spec does not document for a path: 405 when one of the path's operations
// documents it, else 404, else 400. The mock never answers a status the
// spec does not document.
func (s *Server) wrongMethodStatus(rel string, allowed []string) (int, string) {
	var ops []*spec.Operation
	for _, m := range allowed {
		if op, _ := s.cfg.Spec.Route(m, rel); op != nil {
			ops = append(ops, op)
		}
	}
	for _, cand := range []struct {
		status int
		code   string
	}{{http.StatusMethodNotAllowed, "method_not_allowed"}, {http.StatusNotFound, "not_found"}, {http.StatusBadRequest, "invalid_request"}} {
		for _, op := range ops {
			if !op.Documents(cand.status) {
				continue
			}
			code := cand.code
			if cat := op.Catalog(cand.status); len(cat) > 0 && !slices.Contains(cat, code) {
				code = cat[0]
			}
			return cand.status, code
		}
	}
	return http.StatusNotFound, "not_found"
}

// noRoute routes with the spec (for paths Gin could not register), and
// otherwise answers 404 or 405 in the error envelope.
func (s *Server) noRoute(c *gin.Context) {
	r := c.Request
	if strings.HasPrefix(r.URL.Path, ControlPrefix+"/") || r.URL.Path == ControlPrefix {
		s.controlNotFound(c)
		return
	}
	op, allowed, ok := s.route(r.Method, r.URL.Path)
	if op != nil {
		s.serveOperation(c, op)
		return
	}
	start := time.Now()
	status, code, msg := http.StatusNotFound, "not_found", fmt.Sprintf("no operation at %s; the spec %s has: %s", r.URL.Path, s.cfg.Spec.Name(), s.operationList())
	if ok && len(allowed) > 0 {
		rel, _ := s.relPath(r.URL.Path)
		status, code = s.wrongMethodStatus(rel, allowed)
		msg = fmt.Sprintf("%s is not documented for %s; use %s", r.Method, r.URL.Path, strings.Join(allowed, ", "))
		c.Header("Allow", strings.Join(allowed, ", "))
	}
	s.writeEnvelope(c, status, code, msg, nil)
	s.finish(c, start, Entry{Rule: "routing", Why: msg})
}

func (s *Server) operationList() string {
	var parts []string
	for _, op := range s.cfg.Spec.Operations() {
		parts = append(parts, op.Method+" "+s.cfg.BasePath+op.Path)
	}
	return strings.Join(parts, ", ")
}

// recovery turns a panic into the documented 500 envelope. The
// http.ErrAbortHandler panic of a fault passes through, so that net/http
// drops the connection.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if r == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value
			panic(r)
		}
		s.log.Error("panic while serving", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", fmt.Sprint(r))
		if !c.Writer.Written() {
			s.writeEnvelope(c, http.StatusInternalServerError, "internal_server_error", "the mock failed while answering; see its log", nil)
		}
		c.Abort()
	}()
	c.Next()
}

// Run calls serve (srv.Serve or srv.ServeTLS) until ctx is done, then
// shuts srv down gracefully, giving in-flight requests up to grace to
// finish. Meanwhile it watches the scenario paths every reloadEvery (a
// negative interval turns hot reload off).
func (s *Server) Run(ctx context.Context, srv *http.Server, serve func() error, grace, reloadEvery time.Duration) error {
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if reloadEvery >= 0 {
		if reloadEvery == 0 {
			reloadEvery = DefaultReloadInterval
		}
		go s.Watch(wctx, reloadEvery)
	}
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
