package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConformNeverPrintsSecrets runs conform with -v and every report
// against a target that echoes what it receives (headers in a response
// header and in error bodies), and gives malformed secret-bearing flags:
// no secret reaches stdout, stderr or a report file.
func TestConformNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	const (
		auth   = "az_cli_secret_authorization_91c3"
		cookie = "ck_cli_secret_cookie_7d2e"
		tok    = "rt_cli_secret_var_token_44f0"
		bare   = "rt_cli_bare_secret_no_equals_5a"
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var hdr strings.Builder
		_ = r.Header.Write(&hdr)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", r.Header.Get("Authorization")+" "+r.Header.Get("Cookie"))
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"status":400,"message":%q,"code":"bad"}`, hdr.String()+string(body)+r.URL.RawQuery)
	}))
	defer srv.Close()
	dir := t.TempDir()
	jsonFile, junitFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml")
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"run", []string{"--target", srv.URL, "-v", "--header", "Authorization: Bearer " + auth, "--cookie", "session=" + cookie,
			"--var", "REFRESH_TOKEN=" + tok, "--var", "RACE_REFRESH_TOKEN=" + tok, "--var", "QUERY_REFRESH_TOKEN=" + tok,
			"--var", "METHOD_REFRESH_TOKEN=" + tok, "--report", "json", jsonFile, "--report", "junit", junitFile, "--concurrency", "32"}, exitFindings},
		{"bare --var", []string{"--target", srv.URL, "--var", bare}, exitUsage},
		{"--header without colon", []string{"--target", srv.URL, "--header", "Authorization Bearer " + bare}, exitUsage},
		{"bad --cookie", []string{"--target", srv.URL, "--cookie", "session=" + bare + " \"x"}, exitUsage},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"conform"}, tc.args...), &stdout, &stderr)
		if code != tc.want {
			t.Errorf("%s: exit %d, want %d\nstderr:\n%s", tc.name, code, tc.want, stderr.String())
		}
		outputs := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
		if tc.name == "run" {
			if !strings.Contains(stderr.String(), "conform request") {
				t.Errorf("-v logged no request:\n%s", stderr.String())
			}
			for _, f := range []string{jsonFile, junitFile} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				outputs[filepath.Base(f)] = string(b)
			}
		}
		for where, text := range outputs {
			for _, s := range []string{auth, cookie, tok, bare} {
				if strings.Contains(text, s) {
					t.Errorf("%s: %s carries the secret %q:\n%s", tc.name, where, s, text)
				}
			}
		}
	}
}
