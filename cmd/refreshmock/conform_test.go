package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// envelope401 answers like a correct server answers a request without a
// token.
func envelope401(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", "Bearer")
	w.WriteHeader(401)
	_, _ = w.Write([]byte(`{"status":401,"message":"No refresh token was sent.","code":"refresh_token_missing"}`))
}

func TestConformExitCodes(t *testing.T) {
	t.Parallel()
	good := httptest.NewServer(http.HandlerFunc(envelope401))
	t.Cleanup(good.Close)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(500)
		_, _ = w.Write([]byte("oops"))
	}))
	t.Cleanup(bad.Close)
	vars := filepath.Join(t.TempDir(), "bad.vars")
	if err := os.WriteFile(vars, []byte("OK=1\nnot a line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string // in stderr
	}{
		{"passes", []string{"--target", good.URL, "--only", "negative/no-token,flow/undocumented-method"}, exitOK, ""},
		{"violations", []string{"--target", bad.URL, "--only", "negative/no-token"}, exitFindings, ""},
		{"no target", []string{"--only", "negative"}, exitUsage, "--target is required"},
		{"unreachable", []string{"--target", "http://127.0.0.1:1"}, exitUsage, "connection refused"},
		{"bad var", []string{"--target", good.URL, "--var", "NOEQUALS"}, exitUsage, "give NAME=VALUE"},
		{"bad vars file", []string{"--target", good.URL, "--vars", vars}, exitUsage, "bad.vars:2: expected KEY=VALUE"},
		{"missing vars file", []string{"--target", good.URL, "--vars", filepath.Join(t.TempDir(), "none")}, exitUsage, "--vars"},
		{"bad header", []string{"--target", good.URL, "--header", "NoColon"}, exitUsage, "'Name: value'"},
		{"bad report format", []string{"--target", good.URL, "--report", "xml", "out.xml"}, exitUsage, `unknown format "xml"`},
		{"bad min-coverage", []string{"--target", good.URL, "--min-coverage", "lots"}, exitUsage, "--min-coverage"},
		{"bad color", []string{"--target", good.URL, "--color", "pink"}, exitUsage, "--color"},
		{"only nothing", []string{"--target", good.URL, "--only", "nothing"}, exitUsage, `--only "nothing" matches no case`},
		{"unknown flag", []string{"--target", good.URL, "--nope"}, exitUsage, "flag provided but not defined"},
		{"stray argument", []string{"--target", good.URL, "extra"}, exitUsage, `unexpected argument "extra"`},
		{"coverage not met", []string{"--target", good.URL, "--only", "negative/no-token", "--min-coverage", "2"}, exitFindings, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"conform"}, tc.args...), &stdout, &stderr)
			if code != tc.want {
				t.Errorf("exit = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.want, stdout.String(), stderr.String())
			}
			if tc.wantErr != "" && !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr = %q, want it to mention %q", stderr.String(), tc.wantErr)
			}
		})
	}
}

func TestConformReports(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(envelope401))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	jsonFile, junitFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"conform", "--target", srv.URL, "--only", "negative",
		"--report", "json", jsonFile, "--report=junit=" + junitFile, "--color", "always"}, &stdout, &stderr)
	// The wrong-type cases expect a validation status (400 or 422) and get
	// 401: invalid-body-status fails them, and the reports say so.
	if code != exitFindings || !strings.Contains(stdout.String(), "invalid-body-status") {
		t.Fatalf("exit = %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "\x1b[32mPASS") {
		t.Errorf("--color always printed no colour:\n%s", stdout.String())
	}
	var rep struct {
		Cases []struct {
			ID string `json:"id"`
		} `json:"cases"`
	}
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil || len(rep.Cases) < 5 {
		t.Errorf("JSON report: %v, %d cases", err, len(rep.Cases))
	}
	xmlData, err := os.ReadFile(junitFile)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests int `xml:"tests,attr"`
	}
	if err := xml.Unmarshal(xmlData, &suites); err != nil || suites.Tests != len(rep.Cases) {
		t.Errorf("JUnit report: %v, %d tests, want %d", err, suites.Tests, len(rep.Cases))
	}
}

func TestJoinReportArgs(t *testing.T) {
	t.Parallel()
	got := joinReportArgs([]string{"--target", "x", "--report", "json", "a.json", "-report", "junit", "-", "--report=text=b.txt", "--", "--report", "json", "c"})
	want := []string{"--target", "x", "--report=json=a.json", "-report=junit=-", "--report=text=b.txt", "--", "--report", "json", "c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("joinReportArgs (-want +got):\n%s", diff)
	}
}

func TestConformList(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"conform", "--list", "--only", "flow"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit = %d: %s", code, stderr.String())
	}
	if got, want := stdout.String(), "flow/race\nflow/query-token\nflow/undocumented-method\nflow/body-token\n"; got != want {
		t.Errorf("--list = %q, want %q", got, want)
	}
}
