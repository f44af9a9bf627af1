package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

// Secrets of the security tests: each must reach the target and nothing
// else, and appear in no report, log or panic message.
const (
	secAuth      = "az_secret_authorization_7f3a9c"
	secCookie    = "ck_secret_session_cookie_51d2e8"
	secVar       = "rt_secret_refresh_var_90ab4c"
	secRace      = "rt_secret_race_var_12ef77"
	secQuery     = "rt_secret_query_var_3c4d55"
	secMethod    = "rt_secret_method_var_6e7f88"
	secIssued    = "rt_secret_issued_by_target_a1b2c3"
	secIssuedAcc = "at_secret_access_token_d4e5f6"
)

var allSecrets = []string{secAuth, secCookie, secVar, secRace, secQuery, secMethod, secIssued, secIssuedAcc}

// recorder is a server on another origin that must never be asked
// anything carrying a credential (it should not be asked at all).
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL)
	_ = r.Header.Write(&b)
	b.Write(body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, b.String())
	rec.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (rec *recorder) requests() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.reqs...)
}

func securityConfig(t *testing.T, target string) Config {
	t.Helper()
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Target:      target,
		Spec:        sp,
		Concurrency: 32,
		Header:      http.Header{"Authorization": {"Bearer " + secAuth}},
		Cookies:     []*http.Cookie{{Name: "session", Value: secCookie}},
		Vars: map[string]string{
			"REFRESH_TOKEN": secVar,
			VarRace:         secRace,
			VarQuery:        secQuery,
			VarMethod:       secMethod,
		},
		OversizedBody: 16 << 10,
	}
}

// TestRedirectsStayOnTarget: a target that redirects (301, 302, 307,
// 308; directly, protocol-relative, or after a same-origin hop) to another
// origin never gets the runner to ask that origin anything, and each
// redirect is reported as redirect-cross-origin.
func TestRedirectsStayOnTarget(t *testing.T) {
	for _, code := range []int{301, 302, 307, 308} {
		for _, mode := range []string{"direct", "protocol-relative", "after-same-origin-hop"} {
			t.Run(fmt.Sprintf("%d/%s", code, mode), func(t *testing.T) {
				rec := &recorder{}
				other := httptest.NewServer(rec)
				defer other.Close()
				otherURL := other.URL + "/steal"
				if mode == "protocol-relative" {
					otherURL = strings.TrimPrefix(other.URL, "http:") + "/steal"
				}
				var target *httptest.Server
				target = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					if mode == "after-same-origin-hop" && r.URL.Path != "/hop" {
						http.Redirect(w, r, target.URL+"/hop", code)
						return
					}
					http.Redirect(w, r, otherURL, code)
				}))
				defer target.Close()
				cfg := securityConfig(t, target.URL)
				sp := cfg.Spec
				set, diags := scenarios.Load(sp, scenarios.Embedded())
				if set == nil {
					t.Fatalf("load shipped scenarios: %v", diags)
				}
				cfg.Scenarios = set
				rep, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if got := rec.requests(); len(got) > 0 {
					t.Fatalf("the other origin got %d request(s); the first:\n%s", len(got), got[0])
				}
				if rep.OK() {
					t.Errorf("a redirecting target passed")
				}
				redirects := 0
				for _, c := range rep.Cases {
					for _, f := range c.Findings {
						if f.Check == CheckRedirect {
							redirects++
						}
					}
				}
				if redirects == 0 {
					t.Errorf("no %s finding", CheckRedirect)
				}
			})
		}
	}
}

const stealScenario = `name: steal-next
operation: refresh_token
description: The target names the next URL to call.
match:
  token: valid
response:
  status: 401
  body:
    status: 401
    message: invalid
    code: refresh_token_invalid
conform:
  vars: [REFRESH_TOKEN]
  steps:
    - name: refresh
      request:
        cookies:
          refresh_token: ${REFRESH_TOKEN}
      expect:
        status: 200
      capture:
        NEXT_URL: json:next
    - name: follow the next URL
      request:
        path: ${NEXT_URL}
        cookies:
          refresh_token: ${REFRESH_TOKEN}
        json:
          refresh_token: ${REFRESH_TOKEN}
      expect:
        status: 200
`

// TestCapturedURLStaysOnTarget: a step whose path is an absolute URL
// captured from a response is sent only when it is the target's own
// origin; another origin is refused with a redirect-cross-origin finding
// and gets no request.
func TestCapturedURLStaysOnTarget(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "steal.yaml")
	if err := os.WriteFile(file, []byte(stealScenario), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		next func(target, other string) string
		// sent is whether the second step reaches the target.
		sent bool
	}{
		{"absolute other origin", func(_, o string) string { return o + "/steal" }, false},
		{"absolute other origin, spec path", func(_, o string) string { return o + "/auth/refresh" }, false},
		{"protocol-relative", func(_, o string) string { return strings.TrimPrefix(o, "http:") + "/steal" }, false},
		{"backslash", func(_, o string) string { return "/\\" + strings.TrimPrefix(o, "http://") + "/steal" }, false},
		{"userinfo", func(t, _ string) string { return strings.Replace(t, "http://", "http://user:pw@", 1) + "/auth/refresh" }, false},
		{"other scheme", func(_, o string) string { return "javascript:alert(1)" }, false},
		{"same origin", func(t, _ string) string { return t + "/auth/refresh?from=next" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			other := httptest.NewServer(rec)
			defer other.Close()
			var (
				target *httptest.Server
				mu     sync.Mutex
				paths  []string
			)
			target = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				mu.Lock()
				paths = append(paths, r.URL.RequestURI())
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "no-store")
				_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":900,"organization":null,"next":%q}`,
					secIssuedAcc, tt.next(target.URL, other.URL))
			}))
			defer target.Close()
			cfg := securityConfig(t, target.URL)
			set, diags, err := scenarios.LoadPaths(cfg.Spec, file)
			if err != nil {
				t.Fatalf("load %s: %v\n%v", file, err, diags)
			}
			cfg.Scenarios = set
			cfg.Only = []string{"scenario/steal-next"}
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := rec.requests(); len(got) > 0 {
				t.Fatalf("the other origin got %d request(s); the first:\n%s", len(got), got[0])
			}
			c := rep.Cases[0]
			mu.Lock()
			defer mu.Unlock()
			if tt.sent {
				if len(paths) != 2 || paths[1] != "/auth/refresh?from=next" {
					t.Errorf("target got %q; want the second step at /auth/refresh?from=next", paths)
				}
				return
			}
			if len(paths) != 1 {
				t.Errorf("target got %q; want only the first step", paths)
			}
			var found *Finding
			for i, f := range c.Findings {
				if f.Check == CheckRedirect && f.Step == 2 {
					found = &c.Findings[i]
				}
			}
			if found == nil {
				t.Fatalf("no %s finding on step 2: %v", CheckRedirect, c.Findings)
			}
			if !strings.Contains(found.Message, "step not run") {
				t.Errorf("finding %q does not say the step was not run", found.Message)
			}
		})
	}
}

// leakyTarget answers everything it can to make a report carry secrets:
// it echoes the request's headers and body in error bodies (with a stack
// trace), issues tokens in the body and a cookie, and repeats them in
// headers.
func leakyTarget(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var hdr strings.Builder
	_ = r.Header.Write(&hdr)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Echo-Authorization", r.Header.Get("Authorization"))
	w.Header().Set("X-Echo-Cookie", r.Header.Get("Cookie"))
	if c, err := r.Cookie("refresh_token"); err == nil && c.Value == secVar {
		http.SetCookie(w, &http.Cookie{Name: "refresh_token", Value: secIssued, Path: "/", HttpOnly: true})
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprintf(w, `{"access_token":%q,"refresh_token":%q,"token_type":"bearer","expires_in":900,"organization":null,"echo":%q}`,
			secIssuedAcc, secIssued, hdr.String())
		return
	}
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = fmt.Fprintf(w, `{"status":500,"message":%q,"code":"internal","query":%q,"trace":"panic: bad token %s\ngoroutine 1 [running]:\nmain.refresh()"}`,
		hdr.String()+string(body), r.URL.RawQuery, secAuth)
}

func assertNoSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range allSecrets {
		if strings.Contains(text, s) {
			i := strings.Index(text, s)
			t.Errorf("%s carries the secret %q: ...%s...", where, s, text[max(0, i-80):min(len(text), i+len(s)+40)])
		}
	}
}

// TestSecretsRedactedEverywhere runs the shipped scenarios, the negative
// cases and the flows against a target that echoes every credential back,
// and looks for each secret in the text, JSON and JUnit reports and the
// debug log.
func TestSecretsRedactedEverywhere(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(leakyTarget))
	defer srv.Close()
	cfg := securityConfig(t, srv.URL)
	set, diags := scenarios.Load(cfg.Spec, scenarios.Embedded())
	if set == nil {
		t.Fatalf("load shipped scenarios: %v", diags)
	}
	cfg.Scenarios = set
	var logBuf bytes.Buffer
	var logMu sync.Mutex
	cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.OK() {
		t.Fatalf("the leaky target passed")
	}
	var text, js, junit bytes.Buffer
	if err := WriteText(&text, rep, TextOptions{Verbose: true}); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	if err := WriteJUnit(&junit, rep); err != nil {
		t.Fatal(err)
	}
	// The run did see the secrets (else the test proves nothing).
	for _, s := range []string{secAuth, secVar} {
		if !strings.Contains(js.String(), Fingerprint(s)) {
			t.Errorf("the JSON report does not show the fingerprint %s of %s", Fingerprint(s), s)
		}
	}
	if !strings.Contains(logBuf.String(), "conform request") {
		t.Errorf("the debug log is empty")
	}
	assertNoSecret(t, "the text report", text.String())
	assertNoSecret(t, "the JSON report", js.String())
	assertNoSecret(t, "the JUnit report", junit.String())
	logMu.Lock()
	assertNoSecret(t, "the debug log", logBuf.String())
	logMu.Unlock()
	var progress strings.Builder
	for i, c := range rep.Cases {
		progress.WriteString(ProgressLine(i+1, len(rep.Cases), c, TextOptions{}))
	}
	assertNoSecret(t, "the progress lines", progress.String())
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestPanicInCaseIsRedacted: a panic in a case (or in a goroutine of the
// race flow) becomes a runner-panic finding of that case with the secrets
// replaced, and the logged stack is redacted too; the run goes on.
func TestPanicInCaseIsRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(leakyTarget))
	defer srv.Close()
	cfg := securityConfig(t, srv.URL)
	var logBuf bytes.Buffer
	var logMu sync.Mutex
	cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.defaults()
	r, err := newRunner(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.client.CloseIdleConnections()
	tests := []struct {
		name string
		run  func(ctx context.Context, cr *caseRun)
	}{
		{"string", func(context.Context, *caseRun) { panic("cannot parse token " + secVar + " in " + secAuth) }},
		{"error", func(context.Context, *caseRun) { panic(fmt.Errorf("cookie %s: %w", secCookie, io.ErrUnexpectedEOF)) }},
		{"after a captured value", func(_ context.Context, cr *caseRun) {
			cr.setVar("NEXT", "rt_captured_only_secret_77aa")
			panic(fmt.Sprintf("bad capture %q", "rt_captured_only_secret_77aa"))
		}},
		{"in a goroutine of the case", func(_ context.Context, cr *caseRun) {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cr.recoverPanic()
				tokens := strings.Fields("rt_a rt_b")
				_ = tokens[len(secRace)] // index out of range: a runtime error
			}()
			wg.Wait()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logMu.Lock()
			logBuf.Reset()
			logMu.Unlock()
			res := r.runCase(context.Background(), caseDef{id: "test/panic", kind: KindFlow, run: tt.run})
			if res.Outcome != Fail {
				t.Errorf("outcome %s, want fail", res.Outcome)
			}
			if len(res.Findings) != 1 || res.Findings[0].Check != CheckRunnerPanic {
				t.Fatalf("findings %v, want one %s", res.Findings, CheckRunnerPanic)
			}
			msg := res.Findings[0].String()
			if !strings.Contains(msg, "sha256:") && tt.name != "in a goroutine of the case" {
				t.Errorf("message %q shows no fingerprint", msg)
			}
			logMu.Lock()
			logged := logBuf.String()
			logMu.Unlock()
			if !strings.Contains(logged, "conform case panicked") {
				t.Errorf("the panic was not logged: %q", logged)
			}
			for _, s := range append(allSecrets, "rt_captured_only_secret_77aa") {
				if strings.Contains(msg, s) || strings.Contains(logged, s) {
					t.Errorf("secret %q in the finding %q or the log:\n%s", s, msg, logged)
				}
			}
		})
	}
}
