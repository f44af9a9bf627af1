package mockserver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
)

const myRateLimited = `name: rate-limited
operation: refresh_token
response:
  status: 429
  headers: {Retry-After: "120"}
  body: {status: 429, message: Two minutes., code: rate_limited}
`

// mustUserServer serves the shipped scenarios plus the files in dir, as
// serve --scenarios dir does.
func mustUserServer(tb testing.TB, dir string, opts scenarios.LoadOptions) *Server {
	tb.Helper()
	set, diags, err := scenarios.LoadWithBuiltin(context.Background(), mustSpec(tb), []string{dir}, opts)
	if err != nil {
		tb.Fatalf("LoadWithBuiltin: %v\n%v", err, diags)
	}
	return mustServer(tb, Config{Scenarios: set, ScenarioPaths: []string{dir}, ScenarioOptions: opts})
}

// TestUserScenariosAddToShipped: with --scenarios DIR the seeded token
// still rotates (issue 11: it answered the spec's static example), a
// user scenario with a shipped name replaces it, and /__mock/scenarios
// says which are shipped and what was replaced, before and after a
// reload.
func TestUserScenariosAddToShipped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte(myRateLimited), 0o644); err != nil {
		t.Fatal(err)
	}
	s := mustUserServer(t, dir, scenarios.LoadOptions{})
	token := DefaultSeedToken
	for round := range 2 {
		r := call{cookies: map[string]string{"refresh_token": token}}.serve(t, s)
		c, ok := r.cookie("refresh_token")
		if r.status != 200 || !ok {
			t.Fatalf("round %d: refresh: %d %s, set-cookie %v; want 200 with a rotated cookie", round, r.status, r.body, ok)
		}
		token = c.Value
		r = call{header: map[string]string{"X-Mock-Scenario": "rate-limited"}}.serve(t, s)
		if got := r.header.Get("Retry-After"); r.status != 429 || got != "120" {
			t.Errorf("round %d: rate-limited: %d Retry-After %q; want the user's 429 with 120", round, r.status, got)
		}
		var list struct{ Scenarios []ScenarioInfo }
		if err := json.Unmarshal(call{method: "GET", path: "/__mock/scenarios"}.serve(t, s).body, &list); err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, sc := range list.Scenarios {
			switch sc.Name {
			case "rate-limited":
				seen++
				if sc.Shipped || !strings.HasPrefix(sc.Replaces, "scenarios/refresh-test-tokens.yaml:") || !strings.HasPrefix(sc.File, dir) {
					t.Errorf("round %d: rate-limited = %+v; want shipped false, replaces the shipped file, file in %s", round, sc, dir)
				}
			case "refresh-success":
				seen++
				if !sc.Shipped || sc.Replaces != "" {
					t.Errorf("round %d: refresh-success = %+v; want shipped, replacing nothing", round, sc)
				}
			}
		}
		if seen != 2 {
			t.Errorf("round %d: /__mock/scenarios lacks rate-limited or refresh-success", round)
		}
		if err := s.Reload(); err != nil {
			t.Fatalf("Reload: %v", err)
		}
	}
}

// TestReloadRefusesHostileFiles: a merge-key bomb, a symlink to
// /dev/zero, a FIFO and a file over the cap each fail the reload at once,
// with "file: ..." or the decoder's cap, while the last good set keeps
// serving and /__mock/health answers.
func TestReloadRefusesHostileFiles(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("FIFOs and /dev/zero are Unix")
	}
	bomb := "name: bomb\noperation: refresh_token\nx:\n  a0: &a0 {k0: 1}\n"
	for i := 1; i <= 11; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 8), ", ")
		bomb += fmt.Sprintf("  a%d: &a%d {<<: [%s], k%d: 1}\n", i, i, refs, i)
	}
	bomb += "response:\n  status: 200\n  headers:\n    <<: *a11\n"
	tests := []struct {
		name, want string
		make       func(path string) error
	}{
		{"merge-key bomb", "expands to more than 100000 values", func(p string) error { return os.WriteFile(p, []byte(bomb), 0o644) }},
		{"symlink to /dev/zero", "file: not a regular file (a device)", func(p string) error { return os.Symlink("/dev/zero", p) }},
		{"fifo", "file: not a regular file (a named pipe)", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"over the cap", "file: larger than 4 KiB", func(p string) error {
			return os.WriteFile(p, []byte(strings.Repeat("# pad\n", 1000)), 0o644)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte(myRateLimited), 0o644); err != nil {
				t.Fatal(err)
			}
			s := mustUserServer(t, dir, scenarios.LoadOptions{MaxFileSize: 4 << 10})
			if err := tc.make(filepath.Join(dir, "hostile.yaml")); err != nil {
				t.Fatal(err)
			}
			done := make(chan bool, 1)
			go func() { done <- s.checkReload(context.Background()) }()
			select {
			case tried := <-done:
				if !tried {
					t.Fatal("the new file was not noticed")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("reload still running after 10s")
			}
			var health Health
			if err := json.Unmarshal(call{method: "GET", path: "/__mock/health"}.serve(t, s).body, &health); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range health.LastReload.Errors {
				found = found || strings.Contains(e, "hostile.yaml") && strings.Contains(e, tc.want)
			}
			if health.LastReload.OK || !found {
				t.Errorf("health.last_reload = %+v; want an error naming hostile.yaml with %q", health.LastReload, tc.want)
			}
			r := call{header: map[string]string{"X-Mock-Scenario": "rate-limited"}}.serve(t, s)
			if r.status != 429 || r.header.Get("Retry-After") != "120" {
				t.Errorf("after the refused reload: %d %v; the last good set must keep serving", r.status, r.header)
			}
		})
	}
}
