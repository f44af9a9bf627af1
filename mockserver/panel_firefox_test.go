package mockserver

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// The panel in Firefox: headless Firefox (Debian's firefox-esr; the test
// skips without it) driven over WebDriver BiDi, the protocol Firefox
// speaks natively, with a minimal client (BiDi is JSON commands over a
// WebSocket: session.new, browsingContext.navigate, script.evaluate).

// bidi is a WebDriver BiDi session with one browsing context.
type bidi struct {
	t    *testing.T
	ws   *websocket.Conn
	next int
	ctx  string // the browsing context (tab) id
}

// mustFirefox starts headless Firefox with a fresh profile and opens a
// BiDi session on its first tab; Firefox goes with the test.
func mustFirefox(t *testing.T) *bidi {
	t.Helper()
	bin, err := exec.LookPath("firefox-esr")
	if err != nil {
		if bin, err = exec.LookPath("firefox"); err != nil {
			t.Skip("firefox not installed: apt-get install -y firefox-esr (.ci/run does)")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// x/net/websocket sends an Origin, which Firefox refuses unless allowed.
	cmd := exec.Command(bin, "--headless", "--no-remote", "--remote-debugging-port", fmt.Sprint(port),
		"--remote-allow-origins", "http://127.0.0.1", "--profile", t.TempDir(), "about:blank")
	cmd.Env = append(cmd.Environ(), "MOZ_HEADLESS=1")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start firefox: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var ws *websocket.Conn
	for deadline := time.Now().Add(60 * time.Second); ; {
		if ws, err = websocket.Dial(fmt.Sprintf("ws://127.0.0.1:%d/session", port), "", "http://127.0.0.1/"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("firefox's WebDriver BiDi endpoint did not answer in 60 s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(func() { ws.Close() })
	b := &bidi{t: t, ws: ws}
	b.call("session.new", map[string]any{"capabilities": map[string]any{}}, nil)
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	b.call("browsingContext.getTree", map[string]any{}, &tree)
	if len(tree.Contexts) == 0 {
		t.Fatal("firefox has no browsing context")
	}
	b.ctx = tree.Contexts[0].Context
	return b
}

// call sends a BiDi command and decodes its result into out (nil: ignore
// it); events in between are skipped.
func (b *bidi) call(method string, params any, out any) {
	b.t.Helper()
	b.next++
	id := b.next
	if err := websocket.JSON.Send(b.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	_ = b.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for range 10_000 {
		var msg struct {
			ID      int             `json:"id"`
			Type    string          `json:"type"`
			Result  json.RawMessage `json:"result"`
			Error   string          `json:"error"`
			Message string          `json:"message"`
		}
		if err := websocket.JSON.Receive(b.ws, &msg); err != nil {
			b.t.Fatalf("%s: %v", method, err)
		}
		if msg.Type == "event" || msg.ID != id {
			continue
		}
		if msg.Type == "error" {
			b.t.Fatalf("%s: %s: %s", method, msg.Error, msg.Message)
		}
		if out != nil {
			if err := json.Unmarshal(msg.Result, out); err != nil {
				b.t.Fatalf("%s result %s: %v", method, msg.Result, err)
			}
		}
		return
	}
	b.t.Fatalf("%s: no answer among 10,000 messages", method)
}

// eval evaluates a JavaScript expression in the tab and returns its value
// as JSON text (a thrown exception fails the test).
func (b *bidi) eval(expr string) string {
	b.t.Helper()
	var res struct {
		Type   string `json:"type"`
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	b.call("script.evaluate", map[string]any{"expression": expr, "target": map[string]any{"context": b.ctx}, "awaitPromise": true}, &res)
	if res.Type != "success" {
		b.t.Fatalf("evaluate %s: %s", expr, res.ExceptionDetails.Text)
	}
	return string(res.Result.Value)
}

// waitFor polls a boolean expression until it holds (at most 15 s).
func (b *bidi) waitFor(what, expr string) {
	b.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if b.eval("!!("+expr+")") == "true" {
			return
		}
	}
	b.t.Fatalf("firefox: waited 15 s for %s (%s)", what, expr)
}

// TestPanelFirefox: the panel in Firefox, as TestPanel does it in
// Chromium: it loads and becomes ready, a click on Arm arms rate-limited,
// a refresh then gets 429 and its journal row appears without a reload,
// and +1d moves the clock.
func TestPanelFirefox(t *testing.T) {
	ff := mustFirefox(t)
	s := mustServer(t, Config{Now: time.Now})
	mock := mustLocalhost(t, s)
	ff.call("browsingContext.navigate", map[string]any{"context": ff.ctx, "url": mock + ControlPrefix + "/", "wait": "complete"}, nil)
	ff.waitFor("the panel to be ready", `document.body.dataset.ready === "true"`)
	ff.eval(`window.notReloaded = true`)
	if ua := ff.eval(`navigator.userAgent`); !strings.Contains(ua, "Firefox") {
		t.Fatalf("user agent %s is not Firefox's", ua)
	}

	ff.eval(`document.querySelector('tr[data-scenario="rate-limited"] button[data-action="arm"]').click()`)
	ff.waitFor("the pending arm", `document.querySelector('#pending [data-pending="rate-limited"]')`)
	var queue struct {
		Queue []armedEntry `json:"queue"`
	}
	ctl := controlClient{tb: t, base: mock}
	if st := ctl.do(http.MethodGet, ControlPrefix+"/arm", "", &queue); st != 200 || len(queue.Queue) != 1 || queue.Queue[0].Scenario != "rate-limited" {
		t.Fatalf("after the click the queue is %d %+v, want rate-limited", st, queue.Queue)
	}

	req, _ := http.NewRequest(http.MethodPost, mock+"/auth/refresh", strings.NewReader(`{"refresh_token":"`+DefaultSeedToken+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("refresh after the arm: %d, want 429", resp.StatusCode)
	}
	ff.waitFor("the 429 in the journal", `document.querySelector('#journal tr[data-journal-status="429"][data-journal-scenario="rate-limited"]')`)
	if ff.eval(`window.notReloaded === true`) != "true" {
		t.Errorf("the panel reloaded to show the journal row")
	}

	before := ff.eval(`document.querySelector("[data-clock]").dataset.clock`)
	ff.eval(`document.querySelector('button[data-clock-advance="24h"]').click()`)
	ff.waitFor("the clock to move a day", `new Date(document.querySelector("[data-clock]").dataset.clock) - new Date(`+before+`) >= 86400000`)
}
