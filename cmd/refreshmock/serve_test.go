package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineWriter collects output and signals each time a line containing want
// arrives.
type lineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	hit  chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for line := range strings.SplitSeq(string(p), "\n") {
		if strings.Contains(line, w.want) {
			select {
			case w.hit <- line:
			default:
			}
		}
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

var listenURL = regexp.MustCompile(`url=(\S+)`)

// TestServeEndToEnd starts `refreshmock serve` on a free port, refreshes
// with the seeded token, and stops it through the context as SIGINT would.
// With --scenarios DIR the shipped scenarios still serve (the seeded token
// rotates), and the log says which shipped scenarios DIR replaced.
func TestServeEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		logs []string
	}{
		{"shipped", nil, nil},
		{"scenarios dir on top", []string{"--scenarios", "testdata/lint/override"}, []string{
			`msg="your scenario replaces the shipped one of the same name" scenario=rate-limited at=testdata/lint/override/mine.yaml:5:1 shipped_at=scenarios/refresh-test-tokens.yaml:`,
			`msg="your default scenario takes over from the shipped default" shipped=refresh-success at=testdata/lint/override/mine.yaml:`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { testServeEndToEnd(t, tc.args, tc.logs) })
	}
}

func testServeEndToEnd(t *testing.T, args, logs []string) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stderr := &lineWriter{want: "msg=listening", hit: make(chan string, 1)}
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, append([]string{"--addr", "127.0.0.1:0", "--base-path", "/api", "--access-ttl", "30s"}, args...), io.Discard, stderr)
	}()
	var line string
	select {
	case line = <-stderr.hit:
	case err := <-done:
		t.Fatalf("serve stopped before listening: %v\n%s", err, stderr)
	}
	m := listenURL.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no url in %q", line)
	}
	req, _ := http.NewRequest(http.MethodPost, m[1]+"/auth/refresh", nil)
	req.AddCookie(&http.Cookie{Name: "refresh_token", Value: "rt_seed_dev"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"expires_in": 30`) {
		t.Errorf("refresh: %d %s", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve returned %v after shutdown", err)
	}
	for _, want := range append([]string{"msg=request", "scenario=refresh-success", "rule=match", "status=200", "ready_in=", "msg=stopped"}, logs...) {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr)
		}
	}
}

func TestServeUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"samesite", []string{"--cookie-samesite", "Sometimes"}, "--cookie-samesite"},
		{"log format", []string{"--log-format", "xml"}, "--log-format"},
		{"max body", []string{"--max-body", "lots"}, ""},
		{"argument", []string{"extra"}, "unexpected arguments"},
		{"non-loopback without token", []string{"--addr", "0.0.0.0:0"}, "--control-token"},
		{"missing scenarios dir", []string{"--scenarios", "/nonexistent/dir"}, "nonexistent"},
		{"tls half", []string{"--tls-cert", "x.pem"}, "--tls-key"},
		{"bad cors origin", []string{"--cors-origin", "localhost"}, "CORS origin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			err := runServe(ctx, append([]string{"--addr", "127.0.0.1:0"}, tc.args...), io.Discard, &stderr)
			if _, ok := errors.AsType[*usageError](err); !ok {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Errorf("error %q (stderr %q) does not mention %q", err, stderr.String(), tc.want)
			}
		})
	}
}

func TestParseServeSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{{"1MiB", 1 << 20}, {"512KiB", 512 << 10}, {"65536", 65536}, {"2MB", 2_000_000}, {"10 B", 10}}
	for _, tc := range tests {
		got, err := parseServeSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseServeSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-1", "1XB", "MiB"} {
		if _, err := parseServeSize(bad); err == nil {
			t.Errorf("parseServeSize(%q) succeeded", bad)
		}
	}
}

// TestInterruptedWhileLoading: SIGINT or SIGTERM (a cancelled context)
// while serve or lint loads scenarios stops them at once with exit 2 and
// one line, instead of finishing the load (or, for serve, listening).
func TestInterruptedWhileLoading(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"lint"},
		{"lint", "../../scenarios"},
		{"serve", "--addr", "127.0.0.1:0"},
		{"serve", "--addr", "127.0.0.1:0", "--scenarios", "../../scenarios"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			var stdout, stderr bytes.Buffer
			if got, want := run(ctx, args, &stdout, &stderr), exitUsage; got != want {
				t.Errorf("exit = %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, stdout.String(), stderr.String())
			}
			if got, want := stderr.String(), "refreshmock "+args[0]+": interrupted\n"; got != want {
				t.Errorf("stderr = %q, want %q", got, want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

// TestVersionAndHelpHabits: --version and -V print the version; a size
// flag's default is shown once, as written.
func TestVersionAndHelpHabits(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--version", "-V", "version"} {
		code, stdout, _ := runCLI(t, arg)
		if code != exitOK || !strings.HasPrefix(stdout, "refreshmock ") {
			t.Errorf("%s: exit %d, stdout %q", arg, code, stdout)
		}
	}
	_, stdout, _ := runCLI(t, "help", "serve")
	if !strings.Contains(stdout, "(default 1MiB)\n") || strings.Contains(stdout, "(default 1048576)") {
		t.Errorf("serve help shows --max-body's default twice or not as written:\n%s", stdout)
	}
}
