package mockserver

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The panel's browser tests drive /__mock/ in headless Chromium (Debian's
// chromium package; they skip without it) the way a frontend developer
// does: clicks in the panel, refreshes from an app page on another
// localhost port.

// mustChromium starts a headless Chromium and returns a context for its
// first tab; the browser goes with the test.
func mustChromium(t *testing.T) context.Context {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed: apt-get install -y chromium (.ci/run does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromiumFlags(chromium, t.TempDir())...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// tab is one browser tab in a test.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// newTab opens a tab in the browser of parent; with isolated, in a new
// browser context (its own cookies, as another person's browser).
func newTab(t *testing.T, parent context.Context, isolated bool) tab {
	t.Helper()
	var opts []chromedp.ContextOption
	if isolated {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return tab{t: t, ctx: ctx}
}

func (b tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b tab) eval(expr string, out any) {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	if out != nil {
		remarshal(b.t, v, out)
	}
}

// waitFor polls a JavaScript predicate every 100ms (not on animation
// frames, which a background tab does not get).
func (b tab) waitFor(what, predicate string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[any](predicate, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		b.t.Fatalf("wait for %s: %v", what, err)
	}
}

// openPanel opens the panel and waits until it has loaded its data.
func (b tab) openPanel(mock string) {
	b.t.Helper()
	b.do("open the panel", chromedp.Navigate(mock+ControlPrefix+"/"))
	b.waitFor("the panel to load", `document.body.dataset.ready === "true"`)
}

// refreshFrom loads the test app page and sends one refresh from it.
func (b tab) refreshFrom(page, mock string) pageResult {
	b.t.Helper()
	if u := page + "/app.html?mock=" + mock; b.location() != u {
		b.do("open the app", chromedp.Navigate(u))
	}
	var r pageResult
	b.eval(`window.app.refresh()`, &r)
	return r
}

func (b tab) location() string {
	b.t.Helper()
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("location: %v", err)
	}
	return u
}

// signIn has the panel issue a refresh token and set it as the cookie.
func (b tab) signIn() {
	b.t.Helper()
	b.do("issue a token", chromedp.Click(`#token-form button`))
	b.waitFor("the issued token", `document.querySelector("#issued").textContent.includes("Cookie set")`)
}

// TestPanel: open the panel, arm rate-limited with a click, refresh from
// an app page on another localhost port and get 429 there, see the
// journal row appear in the panel without a reload, and move the clock
// with a button.
func TestPanel(t *testing.T) {
	bctx := mustChromium(t)
	s := mustServer(t, Config{Now: time.Now})
	mock := mustLocalhost(t, s)
	page := mustLocalhost(t, http.FileServer(http.Dir("testdata/browser")))
	panel := newTab(t, bctx, false)
	panel.openPanel(mock)
	panel.eval(`window.notReloaded = true`, nil)

	panel.do("click Arm on rate-limited", chromedp.Click(`tr[data-scenario="rate-limited"] button[data-action="arm"]`))
	panel.waitFor("the pending arm", `!!document.querySelector('#pending [data-pending="rate-limited"]')`)
	var queue struct {
		Queue []armedEntry `json:"queue"`
	}
	ctl := controlClient{tb: t, base: mock}
	if st := ctl.do(http.MethodGet, ControlPrefix+"/arm", "", &queue); st != 200 || len(queue.Queue) != 1 ||
		queue.Queue[0].Scenario != "rate-limited" || queue.Queue[0].AppliesTo != everyone {
		t.Fatalf("after the click the queue is %d %+v, want rate-limited for everyone", st, queue.Queue)
	}

	app := newTab(t, bctx, false)
	if r := app.refreshFrom(page, mock); r.Status != http.StatusTooManyRequests || r.Scenario != "rate-limited" || r.Rule != "armed" {
		t.Fatalf("refresh from the app page = %+v, want 429 from rate-limited armed", r)
	}
	panel.waitFor("the 429 in the journal", `!!document.querySelector('#journal tr[data-journal-status="429"][data-journal-scenario="rate-limited"]')`)
	panel.waitFor("the pending arm to go", `!document.querySelector('#pending [data-pending]')`)
	var kept bool
	panel.eval(`window.notReloaded === true`, &kept)
	if !kept {
		t.Errorf("the panel reloaded to show the journal row")
	}
	// The preflight the app's JSON POST caused is hidden by default.
	var preflights int
	panel.eval(`document.querySelectorAll('#journal tr[data-journal-status="204"]').length`, &preflights)
	if preflights != 0 {
		t.Errorf("%d CORS preflights shown with the default filter", preflights)
	}
	// The row's details show the near misses and the request, the refresh
	// cookie as a fingerprint.
	panel.do("open the details", chromedp.Click(`#journal tr[data-journal-status="429"] button`))
	var detail string
	panel.eval(`document.querySelector("#journal tr.detail").textContent`, &detail)
	if !strings.Contains(detail, "Headers") || !strings.Contains(detail, "Origin: "+page) {
		t.Errorf("details = %q, want the request headers with Origin %s", detail, page)
	}

	var before string
	panel.eval(`document.querySelector("[data-clock]").dataset.clock`, &before)
	t0, err := time.Parse(time.RFC3339Nano, before)
	if err != nil {
		t.Fatalf("data-clock %q: %v", before, err)
	}
	panel.do("click +1d", chromedp.Click(`button[data-clock-advance="24h"]`))
	panel.waitFor("the clock to move a day", `new Date(document.querySelector("[data-clock]").dataset.clock) - new Date(`+jsString(before)+`) >= 86400000`)
	var c ClockState
	if st := ctl.do(http.MethodGet, ControlPrefix+"/clock", "", &c); st != 200 || c.Now.Sub(t0) < 24*time.Hour {
		t.Errorf("mock clock after +1d: %d %+v, was %s", st, c, t0)
	}
}

// TestPanelTwoDevelopers: issue 11's two real browsers sharing one mock.
// Developer A arms a 500 for A's session from the panel; developer B keeps
// getting 200; then an arm for everyone reaches both.
func TestPanelTwoDevelopers(t *testing.T) {
	bctx := mustChromium(t)
	s := mustServer(t, Config{Now: time.Now})
	mock := mustLocalhost(t, s)
	page := mustLocalhost(t, http.FileServer(http.Dir("testdata/browser")))
	a, b := newTab(t, bctx, true), newTab(t, bctx, true)
	for _, dev := range []tab{a, b} {
		dev.openPanel(mock)
		dev.signIn()
	}
	b.do("B sets a session", chromedp.SetValue(`#session-input`, "bob"), chromedp.Click(`#session-set`))

	a.do("A arms internal-error for A's session",
		chromedp.SetValue(`tr[data-scenario="internal-error"] select`, "session"),
		chromedp.Click(`tr[data-scenario="internal-error"] button[data-action="arm"]`))
	a.waitFor("A's pending arm", `!!document.querySelector('#pending [data-pending="internal-error"]')`)
	var aSession string
	a.eval(`document.querySelector("[data-session]").textContent`, &aSession)
	if !strings.HasPrefix(aSession, "dev-") {
		t.Fatalf("A's session = %q, want one the panel made (dev-...)", aSession)
	}

	if r := b.refreshFrom(page, mock); r.Status != http.StatusOK {
		t.Errorf("B's refresh while A's 500 is armed = %+v, want 200", r)
	}
	if r := a.refreshFrom(page, mock); r.Status != http.StatusInternalServerError || r.Rule != "armed" {
		t.Errorf("A's refresh = %+v, want 500 armed", r)
	}
	if r := b.refreshFrom(page, mock); r.Status != http.StatusOK {
		t.Errorf("B's second refresh = %+v, want 200", r)
	}
	if r := a.refreshFrom(page, mock); r.Status != http.StatusOK {
		t.Errorf("A's refresh after the arm was used = %+v, want 200", r)
	}
	e := controlClient{tb: t, base: mock}.lastEntry()
	if e.Session != aSession {
		t.Errorf("journal session of A's refresh = %q, want %q", e.Session, aSession)
	}

	// B arms a 429 for everyone, twice: both get it.
	b.openPanel(mock)
	b.do("B arms rate-limited for everyone, count 2",
		chromedp.SetValue(`tr[data-scenario="rate-limited"] input[type=number]`, "2"),
		chromedp.Click(`tr[data-scenario="rate-limited"] button[data-action="arm"]`))
	b.waitFor("B's pending arm", `!!document.querySelector('#pending [data-pending="rate-limited"]')`)
	for name, dev := range map[string]tab{"A": a, "B": b} {
		if r := dev.refreshFrom(page, mock); r.Status != http.StatusTooManyRequests {
			t.Errorf("%s's refresh with rate-limited armed for everyone = %+v, want 429", name, r)
		}
	}
}

// TestPanelScreenshots writes the README's screenshots of the panel
// (light, 1280x800 and narrow). Run: REFRESHMOCK_SCREENSHOTS=1 go test -run
// TestPanelScreenshots ./mockserver/
func TestPanelScreenshots(t *testing.T) {
	if os.Getenv("REFRESHMOCK_SCREENSHOTS") == "" {
		t.Skip("set REFRESHMOCK_SCREENSHOTS=1 to rewrite testdata/panel-*.png")
	}
	bctx := mustChromium(t)
	s := mustServer(t, Config{Now: time.Now})
	mock := mustLocalhost(t, s)
	page := mustLocalhost(t, http.FileServer(http.Dir("testdata/browser")))
	ctl := controlClient{tb: t, base: mock}
	ctl.do(http.MethodPost, ControlPrefix+"/arm", `{"scenario":"rate-limited","count":1}`, nil)
	app := newTab(t, bctx, false)
	app.refreshFrom(page, mock)
	app.refreshFrom(page, mock)
	for _, tok := range []string{DefaultSeedToken, "rt_test_401_expired", "rt_test_403_user_revoked", "rt_test_426_upgrad"} {
		resp, err := http.DefaultClient.Do(call{cookies: map[string]string{RefreshCookie: tok}}.request(t, mock))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	ctl.do(http.MethodPost, ControlPrefix+"/arm", `{"scenario":"internal-error","count":2,"session":"alice"}`, nil)
	ctl.do(http.MethodPost, ControlPrefix+"/clock/advance", `{"by":"15m"}`, nil)
	panel := newTab(t, bctx, false)
	for _, shot := range []struct {
		name string
		w, h int64
	}{{"panel-1280x800.png", 1280, 800}, {"panel-narrow.png", 420, 900}} {
		panel.do("viewport", chromedp.EmulateViewport(shot.w, shot.h))
		panel.openPanel(mock)
		panel.do("open a journal row", chromedp.Click(`#journal tr[data-journal-status="401"] button`))
		panel.eval(`window.scrollTo(0, 0); document.activeElement.blur()`, nil)
		png, err := chromedp.Run(panel.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join("testdata", shot.name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote testdata/%s (%d bytes)", shot.name, len(png))
	}
}

// remarshal decodes a value Evaluate returned into out.
func remarshal(t *testing.T, v, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	if err != nil {
		t.Fatalf("decode %v: %v", v, err)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// panelBudget bounds the panel's own files (HTML, CSS, JavaScript) over
// the wire, uncompressed, headers included.
const panelBudget = 48 << 10

// TestPanelWeight measures the panel as headless Chromium loads it: bytes
// over the wire (uncompressed: the mock does not compress) for the page
// and its files, and for the API calls of the first render; and the time
// to interactive, from navigation start to the first render of every
// section with its handlers attached (window.panelReady), the median of 5
// loads. The figures go in the README; run
// go test -run TestPanelWeight -v ./mockserver/
func TestPanelWeight(t *testing.T) {
	bctx := mustChromium(t)
	s := mustServer(t, Config{Now: time.Now})
	mock := mustLocalhost(t, s)
	panel := newTab(t, bctx, false)
	type load struct {
		Ready     float64 `json:"ready"`
		DCL       float64 `json:"dcl"`
		Files     int     `json:"files"`
		FileBytes int     `json:"fileBytes"`
		API       int     `json:"api"`
		APIBytes  int     `json:"apiBytes"`
	}
	var loads []load
	for range 5 {
		panel.openPanel(mock)
		var l load
		panel.eval(`(() => {
			const nav = performance.getEntriesByType("navigation")[0];
			const out = {ready: window.panelReady, dcl: nav.domContentLoadedEventEnd, files: 1, fileBytes: nav.transferSize, api: 0, apiBytes: 0};
			for (const r of performance.getEntriesByType("resource")) {
				if (r.initiatorType === "fetch") { out.api++; out.apiBytes += r.transferSize; }
				else { out.files++; out.fileBytes += r.transferSize; }
			}
			return out;
		})()`, &l)
		loads = append(loads, l)
	}
	slices.SortFunc(loads, func(a, b load) int { return cmp.Compare(a.Ready, b.Ready) })
	m := loads[len(loads)/2]
	t.Logf("panel: %d files, %d bytes over the wire (uncompressed, headers included); first render's %d API calls %d bytes; "+
		"DOMContentLoaded %.0f ms; interactive %.0f ms (median of %d loads, min %.0f, max %.0f)",
		m.Files, m.FileBytes, m.API, m.APIBytes, m.DCL, m.Ready, len(loads), loads[0].Ready, loads[len(loads)-1].Ready)
	if m.Files != 3 || m.FileBytes <= 0 {
		t.Errorf("panel loaded %d files of %d bytes, want index.html, panel.css and panel.js", m.Files, m.FileBytes)
	}
	if m.FileBytes > panelBudget {
		t.Errorf("the panel weighs %d bytes, over its budget of %d", m.FileBytes, panelBudget)
	}
}

// TestPanelControlToken: with --control-token the panel asks for the
// token and sends it as a bearer header, never in a URL.
func TestPanelControlToken(t *testing.T) {
	bctx := mustChromium(t)
	s := mustServer(t, Config{Now: time.Now, ControlToken: "s3cret-panel-token"})
	mock := mustLocalhost(t, s)
	panel := newTab(t, bctx, false)
	panel.do("open the panel", chromedp.Navigate(mock+ControlPrefix+"/"))
	panel.waitFor("the token form", `!document.querySelector("#login").hidden`)
	panel.do("enter a wrong token", chromedp.SetValue(`#token`, "wrong"), chromedp.Click(`#login button`))
	panel.waitFor("the form again", `!document.querySelector("#login").hidden && document.querySelector("#status").textContent !== ""`)
	panel.do("enter the token", chromedp.SetValue(`#token`, "s3cret-panel-token"), chromedp.Click(`#login button`))
	panel.waitFor("the panel to load", `document.body.dataset.ready === "true"`)
	panel.do("click +1h", chromedp.Click(`button[data-clock-advance="1h"]`))
	panel.waitFor("the offset", `document.querySelector("#offset").textContent.includes("1h")`)
	var urls []string
	panel.eval(`[location.href, ...performance.getEntriesByType("resource").map(r => r.name)]`, &urls)
	for _, u := range urls {
		if strings.Contains(u, "s3cret") {
			t.Errorf("the token is in a URL: %s", u)
		}
	}
	if len(urls) < 5 {
		t.Errorf("only %d URLs loaded: %v", len(urls), urls)
	}
}

// TestBrowserCrossSiteWhy: a page on 127.0.0.1 calling the mock on
// localhost is cross-site, so Chromium does not send the SameSite=Lax
// refresh cookie; the journal's why says so and what to do.
func TestBrowserCrossSiteWhy(t *testing.T) {
	bctx := mustChromium(t)
	s := mustServer(t, Config{Now: time.Now})
	mock := mustLocalhost(t, s)
	page := strings.Replace(mustLocalhost(t, http.FileServer(http.Dir("testdata/browser"))), "localhost", "127.0.0.1", 1)
	b := newTab(t, bctx, false)
	b.openPanel(mock)
	b.signIn()
	if r := b.refreshFrom(page, mock); r.Status != http.StatusUnauthorized || r.Code != "refresh_token_missing" {
		t.Fatalf("refresh from the cross-site page = %+v, want 401 refresh_token_missing (the Lax cookie stays home)", r)
	}
	e := controlClient{tb: t, base: mock}.lastEntry()
	if !strings.Contains(e.Why, "the page's origin "+page+" is cross-site to the mock") || !strings.Contains(e.Why, "--cookie-samesite None") {
		t.Errorf("why = %q, want it to name the cross-site origin and the fix", e.Why)
	}
	if r := b.refreshFrom(strings.Replace(page, "127.0.0.1", "localhost", 1), mock); r.Status != http.StatusOK {
		t.Errorf("refresh from a localhost page = %+v, want 200 (same site: the cookie travels)", r)
	}
}
