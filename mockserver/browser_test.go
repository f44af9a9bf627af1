package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The real-browser test runs headless Chromium (Debian's chromium package)
// against the mock, as a frontend developer would: the page comes from a
// dev server on one localhost port and calls the mock on another.
//
// Origins: page http://localhost:P1, mock http://localhost:P2. Both are on
// the site "localhost", so they are different origins (CORS applies: the
// mock must answer with Access-Control-Allow-Origin and -Credentials) but
// the same site, so the mock's SameSite=Lax refresh_token cookie travels on
// the page's fetch(..., {credentials: 'include'}). Mixing localhost and
// 127.0.0.1 would make page and mock cross-site: a Lax cookie would not be
// sent, and the mock would need --cookie-samesite None, which implies
// Secure and therefore HTTPS. Cookies do not isolate by port, so a cookie
// the mock sets is also visible to scripts of the page's origin unless it
// is HttpOnly; the test checks that it is.
//
// Signing in is played by the test: it navigates the browser top-level to
// the mock's own origin and calls POST /__mock/tokens with set_cookie
// there, so the cookie comes from the mock with its real attributes. The
// control API refuses pages of other origins; the test checks that too.

// chromiumFlags are the flags every run passes, besides a fresh
// --user-data-dir.
func chromiumFlags(execPath, userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(userDataDir),
	}
}

// mustLocalhost serves h on a loopback port and returns its origin as
// http://localhost:PORT.
func mustLocalhost(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	return fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
}

// pageResult is what window.app.refresh() returns.
type pageResult struct {
	Status      int    `json:"status"`
	Code        string `json:"code"`
	AccessToken string `json:"accessToken"`
	ExpiresIn   int    `json:"expiresIn"`
	RetryAfter  string `json:"retryAfter"`
	Scenario    string `json:"scenario"`
	Rule        string `json:"rule"`
	NeedsSignIn bool   `json:"needsSignIn"`
}

// browser drives one Chromium tab.
type browser struct {
	tb  testing.TB
	ctx context.Context
}

// evalJS evaluates a JavaScript expression in the page, awaiting a
// promise, and decodes its value.
func evalJS[T any](b browser, expr string) T {
	b.tb.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b browser) navigate(url string) {
	b.tb.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		b.tb.Fatalf("navigate to %s: %v", url, err)
	}
}

func (b browser) refresh() pageResult {
	b.tb.Helper()
	return evalJS[pageResult](b, `window.app.refresh()`)
}

// refreshCookie returns the refresh_token cookie the browser holds for
// url, from its cookie jar (which sees HttpOnly cookies).
func (b browser) refreshCookie(url string) *network.Cookie {
	b.tb.Helper()
	res, err := chromedp.Run(b.ctx, func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{url, strings.TrimSuffix(url, "/") + "/auth/refresh"}})
	})
	if err != nil {
		b.tb.Fatalf("get cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == RefreshCookie {
			return c
		}
	}
	return nil
}

// controlClient calls the control API from Go (a terminal or a test, which
// is what it is for).
type controlClient struct {
	tb   testing.TB
	base string
}

func (cc controlClient) do(method, path, body string, out any) int {
	cc.tb.Helper()
	req, err := http.NewRequest(method, cc.base+path, strings.NewReader(body))
	if err != nil {
		cc.tb.Fatalf("new request: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cc.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		cc.tb.Fatalf("read %s %s: %v", method, path, err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			cc.tb.Fatalf("%s %s: body is not the expected JSON: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func (cc controlClient) lastEntry() Entry {
	cc.tb.Helper()
	var j struct {
		Entries []Entry `json:"entries"`
	}
	if st := cc.do(http.MethodGet, ControlPrefix+"/journal?limit=1", "", &j); st != http.StatusOK || len(j.Entries) != 1 {
		cc.tb.Fatalf("GET journal: status %d, %d entries", st, len(j.Entries))
	}
	return j.Entries[0]
}

// TestBrowserRefreshFlow loads a page from a dev-server origin in headless
// Chromium and follows a session through the mock: 401 without a cookie,
// sign-in, rotation (the HttpOnly cookie changes on every refresh), a 429
// armed through the control API, reuse detection and revocation.
func TestBrowserRefreshFlow(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed: apt-get install chromium")
	}
	s := mustServer(t, Config{Now: time.Now})
	mock := mustLocalhost(t, s)
	page := mustLocalhost(t, http.FileServer(http.Dir("testdata/browser")))
	if mock == page {
		t.Fatalf("page and mock share the origin %s", mock)
	}
	ctl := controlClient{tb: t, base: mock}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromiumFlags(chromium, t.TempDir())...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	b := browser{tb: t, ctx: bctx}
	appURL := page + "/app.html?mock=" + mock
	b.navigate(appURL)

	// 1. No cookie yet: the app's start-up refresh gets a 401 and asks the
	// user to sign in.
	first := evalJS[pageResult](b, `window.app.session()`)
	if first.Status != http.StatusUnauthorized || first.Code != "refresh_token_missing" || !first.NeedsSignIn {
		t.Fatalf("first refresh = %+v, want 401 refresh_token_missing and needsSignIn", first)
	}
	if first.Scenario != "refresh-missing-token" || first.Rule != "match" {
		t.Errorf("first refresh chose %s by %s, want refresh-missing-token by match", first.Scenario, first.Rule)
	}

	// 2. Sign in: on the mock's own origin, the control API issues a token
	// and sets it as the refresh_token cookie.
	b.navigate(mock + ControlPrefix + "/health")
	type tokenAnswer struct {
		RefreshToken string `json:"refresh_token"`
		Family       string `json:"family"`
		Status       int    `json:"status"`
	}
	issued := evalJS[tokenAnswer](b, `fetch("/__mock/tokens", {method: "POST", body: JSON.stringify({subject: "user_browser", set_cookie: true})}).then(async r => Object.assign(await r.json(), {status: r.status}))`)
	if issued.Status != http.StatusOK || !strings.HasPrefix(issued.RefreshToken, "rt_") || issued.Family == "" {
		t.Fatalf("POST /__mock/tokens from the mock's origin = %+v, want 200 with a token and a family", issued)
	}
	t0 := issued.RefreshToken
	c := b.refreshCookie(mock)
	if c == nil || c.Value != t0 {
		t.Fatalf("after sign-in the browser holds refresh_token %+v, want %s", c, t0)
	}
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/auth" {
		t.Errorf("refresh_token cookie: HttpOnly %v SameSite %q Path %q, want HttpOnly Lax /auth", c.HTTPOnly, c.SameSite, c.Path)
	}

	// 3. Back on the app: the refresh now works and rotates the cookie.
	b.navigate(appURL)
	second := evalJS[pageResult](b, `window.app.session()`)
	if second.Status != http.StatusOK || second.Scenario != "refresh-success" || second.Rule != "match" {
		t.Fatalf("refresh after sign-in = %+v, want 200 from refresh-success by match", second)
	}
	if parts := strings.Split(second.AccessToken, "."); len(parts) != 3 || second.ExpiresIn <= 0 {
		t.Errorf("access token %q (expires_in %d) is not a JWT with a lifetime", second.AccessToken, second.ExpiresIn)
	}
	c = b.refreshCookie(mock)
	if c == nil || c.Value == t0 || !strings.HasPrefix(c.Value, "rt_") {
		t.Fatalf("after the first refresh the browser holds refresh_token %+v, want a new token (was %s)", c, t0)
	}
	if !c.HTTPOnly {
		t.Errorf("rotated refresh_token cookie is not HttpOnly")
	}
	t1 := c.Value
	if e := ctl.lastEntry(); e.TokenState != "valid" || e.Family != issued.Family || e.Status != http.StatusOK {
		t.Errorf("journal of the first refresh: state %q family %q status %d, want valid %s 200", e.TokenState, e.Family, e.Status, issued.Family)
	}

	// 4. Page scripts cannot read the refresh token (same site, so only
	// HttpOnly hides it).
	visible := evalJS[string](b, `window.app.visibleCookies()`)
	if strings.Contains(visible, RefreshCookie) || strings.Contains(visible, t1) {
		t.Errorf("document.cookie = %q shows the refresh token; the cookie must be HttpOnly", visible)
	}

	// 5. The second refresh works with the rotated cookie.
	if r := b.refresh(); r.Status != http.StatusOK {
		t.Fatalf("second refresh = %+v, want 200", r)
	}
	c = b.refreshCookie(mock)
	if c == nil || c.Value == t1 || c.Value == t0 {
		t.Fatalf("after the second refresh the browser holds %+v, want a third token", c)
	}
	t2 := c.Value

	// 6. The page cannot drive the control API: a cross-origin arm is
	// refused (and the browser hides the answer from the script).
	csrf := evalJS[string](b, `fetch(window.app.mock() + "/__mock/arm", {method: "POST", credentials: "include", body: JSON.stringify({scenario: "rate-limited", count: 5})}).then(r => "answered " + r.status, e => "blocked: " + e.name)`)
	if !strings.HasPrefix(csrf, "blocked") {
		t.Errorf("cross-origin POST /__mock/arm from the page: %s, want blocked by CORS", csrf)
	}
	var queue struct {
		Queue []json.RawMessage `json:"queue"`
	}
	if st := ctl.do(http.MethodGet, ControlPrefix+"/arm", "", &queue); st != http.StatusOK || len(queue.Queue) != 0 {
		t.Fatalf("after the page's cross-origin arm: status %d, queue %s; want nothing armed", st, queue.Queue)
	}
	if e := ctl.lastEntry(); e.Path != "/auth/refresh" || e.Status != http.StatusOK {
		t.Errorf("journal after the refused arm: %s %d; the control API's refusals are not journaled, the last entry should be the second refresh", e.Path, e.Status)
	}

	// 7. Switch scenario from Go: the next refresh is rate limited, with a
	// Retry-After the page can read; the one after works again.
	if st := ctl.do(http.MethodPost, ControlPrefix+"/arm", `{"scenario":"rate-limited","count":1}`, nil); st != http.StatusOK {
		t.Fatalf("POST /__mock/arm: status %d", st)
	}
	limited := b.refresh()
	if limited.Status != http.StatusTooManyRequests || limited.Code != "rate_limited" || limited.RetryAfter != "30" {
		t.Fatalf("refresh with rate-limited armed = %+v, want 429 rate_limited with Retry-After 30", limited)
	}
	if limited.Scenario != "rate-limited" || limited.Rule != "armed" {
		t.Errorf("429 chose %s by %s, want rate-limited by armed", limited.Scenario, limited.Rule)
	}
	if c = b.refreshCookie(mock); c == nil || c.Value != t2 {
		t.Errorf("a 429 changed the refresh cookie to %+v, want %s kept", c, t2)
	}
	if r := b.refresh(); r.Status != http.StatusOK || r.Rule != "match" {
		t.Fatalf("refresh after the armed 429 was used = %+v, want 200 by match", r)
	}

	// 8. Reuse: the first token, presented again (from Go, as a thief
	// would), is detected and revokes the family; the browser's current
	// token then answers refresh_token_revoked.
	reuse := call{cookies: map[string]string{RefreshCookie: t0}}.request(t, mock)
	resp, err := http.DefaultClient.Do(reuse)
	if err != nil {
		t.Fatalf("reuse request: %v", err)
	}
	var env struct {
		Code string `json:"code"`
	}
	derr := json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || derr != nil || env.Code != "refresh_token_reused" {
		t.Fatalf("reusing the first token: %d %q (%v), want 401 refresh_token_reused", resp.StatusCode, env.Code, derr)
	}
	if e := ctl.lastEntry(); e.TokenState != "reused" || e.Family != issued.Family {
		t.Errorf("journal of the reuse: state %q family %q, want reused %s", e.TokenState, e.Family, issued.Family)
	}
	if r := b.refresh(); r.Status != http.StatusUnauthorized || r.Code != "refresh_token_revoked" {
		t.Errorf("browser refresh after reuse = %+v, want 401 refresh_token_revoked", r)
	}
	if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the browser test ran out of time")
	}
}
