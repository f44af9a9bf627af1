package conformance_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/conformance"
)

// always401 answers every request like a correct server answers a request
// without a token.
func always401(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(401)
	_, _ = w.Write([]byte(`{"status":401,"message":"No refresh token was sent.","code":"refresh_token_missing"}`))
}

func noTokenConfig(tb testing.TB, target string) conformance.Config {
	tb.Helper()
	return conformance.Config{Target: target, Spec: mustSpec(tb), Only: []string{"negative/no-token"}, Timeout: 5 * time.Second}
}

func writeCA(tb testing.TB, srv *httptest.Server) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func TestTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(always401))
	t.Cleanup(srv.Close)
	t.Run("unknown authority", func(t *testing.T) {
		t.Parallel()
		_, err := conformance.Run(context.Background(), noTokenConfig(t, srv.URL))
		if !errors.Is(err, conformance.ErrUnreachable) || !strings.Contains(err.Error(), "unknown authority") || !strings.Contains(err.Error(), "--ca") {
			t.Errorf("err = %v, want ErrUnreachable naming the unknown authority and --ca", err)
		}
	})
	t.Run("with --ca", func(t *testing.T) {
		t.Parallel()
		cfg := noTokenConfig(t, srv.URL)
		cfg.CAFile = writeCA(t, srv)
		if rep := mustRun(t, cfg); !rep.OK() {
			t.Errorf("run with the CA fails:\n%s", findingsText(rep))
		}
	})
	t.Run("with --insecure", func(t *testing.T) {
		t.Parallel()
		cfg := noTokenConfig(t, srv.URL)
		cfg.Insecure = true
		rep := mustRun(t, cfg)
		if !rep.OK() {
			t.Errorf("run with --insecure fails:\n%s", findingsText(rep))
		}
		if curl := rep.Cases[0].Exchanges[0].Curl; !strings.Contains(curl, "--insecure") {
			t.Errorf("curl %q lacks --insecure", curl)
		}
	})
	t.Run("bad CA file", func(t *testing.T) {
		t.Parallel()
		cfg := noTokenConfig(t, srv.URL)
		cfg.CAFile = filepath.Join(t.TempDir(), "missing.pem")
		if _, err := conformance.Run(context.Background(), cfg); !errors.Is(err, conformance.ErrConfig) {
			t.Errorf("err = %v, want ErrConfig", err)
		}
	})
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	plain := httptest.NewServer(http.HandlerFunc(always401))
	t.Cleanup(plain.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	tests := []struct {
		name, target, want string
	}{
		{"refused", closed, "connection refused"},
		{"DNS", "http://refreshmock-conform-test.invalid", "DNS"},
		{"https to plain HTTP", strings.Replace(plain.URL, "http://", "https://", 1), "did not answer with TLS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := conformance.Run(context.Background(), noTokenConfig(t, tc.target))
			if !errors.Is(err, conformance.ErrUnreachable) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrUnreachable mentioning %q", err, tc.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(always401))
	t.Cleanup(srv.Close)
	tests := []struct {
		name string
		tune func(*conformance.Config)
		want string
	}{
		{"no target", func(c *conformance.Config) { c.Target = "" }, "--target is required"},
		{"relative target", func(c *conformance.Config) { c.Target = "staging.example.com" }, "absolute http"},
		{"credentials in target", func(c *conformance.Config) { c.Target = "https://u:p@example.com" }, "credentials"},
		{"only matches nothing", func(c *conformance.Config) { c.Only = []string{"nothing/here"} }, `--only "nothing/here" matches no case`},
		{"skip matches nothing", func(c *conformance.Config) { c.Skip = []string{"flow/racee"} }, `--skip "flow/racee" matches no case`},
		{"only and skip leave nothing", func(c *conformance.Config) { c.Only, c.Skip = []string{"flow"}, []string{"flow"} }, "no case to run"},
		{"unknown operation", func(c *conformance.Config) { c.Operation = "nope" }, `"nope" is not in`},
		{"no spec", func(c *conformance.Config) { c.Spec = nil }, "no spec"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := noTokenConfig(t, srv.URL)
			tc.tune(&cfg)
			_, err := conformance.Run(context.Background(), cfg)
			if !errors.Is(err, conformance.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
}

// TestHostileTarget covers a server that never answers, one that redirects
// to its own origin, and one that answers with an endless body.
func TestHostileTarget(t *testing.T) {
	t.Parallel()
	t.Run("hangs", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		t.Cleanup(srv.Close)
		cfg := noTokenConfig(t, srv.URL)
		cfg.Timeout = 300 * time.Millisecond
		rep := mustRun(t, cfg)
		if got := checksOf(rep); rep.OK() || len(got) != 1 || got[0] != conformance.CheckTransport ||
			!strings.Contains(rep.Cases[0].Findings[0].Message, "no complete answer within 300ms") {
			t.Errorf("checks = %v, want one transport-error saying the timeout:\n%s", got, findingsText(rep))
		}
	})
	t.Run("same-origin redirect is followed", func(t *testing.T) {
		t.Parallel()
		mux := http.NewServeMux()
		mux.HandleFunc("/auth/refresh", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/v2/auth/refresh", http.StatusTemporaryRedirect)
		})
		mux.HandleFunc("/v2/auth/refresh", always401)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		rep := mustRun(t, noTokenConfig(t, srv.URL))
		if !rep.OK() || rep.Cases[0].Exchanges[0].Status != 401 || !strings.HasSuffix(rep.Cases[0].Exchanges[0].URL, "/v2/auth/refresh") {
			t.Errorf("exchange = %+v, want the redirect followed to a 401:\n%s", rep.Cases[0].Exchanges[0], findingsText(rep))
		}
	})
	t.Run("endless body", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			chunk := []byte(strings.Repeat(" ", 32<<10))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}))
		t.Cleanup(srv.Close)
		cfg := noTokenConfig(t, srv.URL)
		cfg.MaxResponseBytes = 64 << 10
		rep := mustRun(t, cfg)
		if got := checksOf(rep); !contains(got, conformance.CheckResponseTooLarge) {
			t.Errorf("checks = %v, want response-too-large", got)
		}
		if b := rep.Cases[0].Exchanges[0].Bytes; b != 64<<10 {
			t.Errorf("read %d bytes, want the cap %d", b, 64<<10)
		}
	})
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestMinCoverage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		min    string
		wantOK bool
	}{{"6", true}, {"50%", true}, {"7", false}, {"100%", false}} {
		t.Run(tc.min, func(t *testing.T) {
			t.Parallel()
			cfg, _ := testConfig(t)
			m, err := conformance.ParseMinCoverage(tc.min)
			if err != nil {
				t.Fatal(err)
			}
			cfg.MinCoverage = &m
			rep := mustRun(t, cfg)
			if rep.Summary.Observed != 6 {
				t.Fatalf("observed %d statuses, want 6 (the test implementation's test tokens)", rep.Summary.Observed)
			}
			if rep.OK() != tc.wantOK {
				t.Errorf("--min-coverage %s: OK = %t, want %t (summary %+v)", tc.min, rep.OK(), tc.wantOK, rep.Summary)
			}
		})
	}
	for _, bad := range []string{"", "x", "-1", "101%"} {
		if _, err := conformance.ParseMinCoverage(bad); !errors.Is(err, conformance.ErrConfig) {
			t.Errorf("ParseMinCoverage(%q) err = %v, want ErrConfig", bad, err)
		}
	}
}

func TestSelectCases(t *testing.T) {
	t.Parallel()
	cfg, _ := testConfig(t)
	tests := []struct {
		only, skip []string
		want       []string
	}{
		{only: []string{"flow"}, want: []string{"flow/race", "flow/query-token", "flow/undocumented-method", "flow/body-token"}},
		{only: []string{"scenario/refresh-*"}, skip: []string{"scenario/refresh-success"}, want: []string{"scenario/refresh-missing-token", "scenario/refresh-invalid-token", "scenario/refresh-expired-token", "scenario/refresh-revoked-token"}},
		{only: []string{"negative/body.refresh_token.*"}, skip: []string{"negative/body.refresh_token.empty-string"},
			want: []string{"negative/body.refresh_token.null", "negative/body.refresh_token.integer", "negative/body.refresh_token.number", "negative/body.refresh_token.boolean", "negative/body.refresh_token.array", "negative/body.refresh_token.object"}},
	}
	for _, tc := range tests {
		c := cfg
		c.Only, c.Skip = tc.only, tc.skip
		got, err := conformance.CaseIDs(c)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("only %v skip %v: cases = %v, want %v", tc.only, tc.skip, got, tc.want)
		}
	}
}

func TestVarSources(t *testing.T) {
	t.Parallel()
	env := map[string]string{"REFRESHMOCK_VAR_A": "env-prefixed", "A": "env-plain", "B": "env-plain-b", "C": ""}
	src := conformance.VarSources{
		Flags: map[string]string{"F": "flag"},
		Files: []map[string]string{{"A": "file1", "D": "file1", "E": "file1"}, {"D": "file2"}},
		Env:   func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	}
	for name, want := range map[string]string{"F": "flag", "A": "env-prefixed", "B": "env-plain-b", "C": "", "D": "file2", "E": "file1"} {
		if got, ok := src.Lookup(name); !ok || got != want {
			t.Errorf("Lookup(%s) = %q, %t; want %q", name, got, ok, want)
		}
	}
	if _, ok := src.Lookup("MISSING"); ok {
		t.Errorf("Lookup(MISSING) is set")
	}
}

// TestInterrupted: a cancelled run returns what it has and says so.
func TestInterrupted(t *testing.T) {
	t.Parallel()
	cfg, _ := testConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Concurrency = 1
	cfg.Progress = func(done, _ int, _ conformance.CaseResult) {
		if done == 2 {
			cancel()
		}
	}
	rep, err := conformance.Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) || rep == nil {
		t.Fatalf("Run = %v, %v; want a partial report and context.Canceled", rep, err)
	}
	last := rep.Cases[len(rep.Cases)-1]
	if last.Outcome != conformance.Skip || !strings.Contains(last.SkipReason, "interrupted") {
		t.Errorf("last case = %s %s, want skipped as interrupted", last.Outcome, last.SkipReason)
	}
}
