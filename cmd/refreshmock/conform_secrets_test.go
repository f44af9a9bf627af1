package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/refreshmock/refreshmock/conformance"
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

// Secrets of the echo-target test. Each has '/', '+' and '=' so that its
// JSON-escaped (\/) and percent-encoded (%2F, %2B, %3D) forms differ from
// the raw one.
var echoSecrets = map[string]string{
	"auth":   "az/echo+auth=Secret_0123456789abcdef",
	"cookie": "ck/echo+cookie=Secret_fedcba9876543210",
	"main":   "rt/echo+main=Token_9f8e7d6c5b4a3210",
	"race":   "rt/echo+race=Token_0a1b2c3d4e5f6789",
	"query":  "rt/echo+query=Token_13579bdf02468ace",
	"method": "rt/echo+method=Token_aaaabbbbccccdddd",
}

// mintedTokens are what the echo target's /login hands out, and
// setupPassword what the --setup file signs in with: secrets the runner
// learns only from the setup step.
var (
	mintedTokens = func() []string {
		var out []string
		for i := range 8 {
			out = append(out, fmt.Sprintf("rt/mint+%d=Tok_%016x", i, uint64(i+1)*0x9E3779B97F4A7C15))
		}
		return out
	}()
	setupPassword = "pw/Setup+Login=Secret_7Hq2Xz"
)

// echoTokens collects every value of 8 bytes or more that a request
// carries: the Authorization credentials, cookie values, query values and
// the string values of a JSON body.
func echoTokens(r *http.Request, body []byte) []string {
	var out []string
	add := func(v string) {
		if len(v) >= 8 && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok {
		add(cred)
	}
	for _, c := range r.Cookies() {
		add(c.Value)
	}
	for _, vs := range r.URL.Query() {
		for _, v := range vs {
			add(v)
		}
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, v := range m {
			if s, ok := v.(string); ok {
				add(s)
			}
		}
	}
	return out
}

// uEscape writes every byte of s as a JSON \uXXXX escape, hex in the given
// case.
func uEscape(s string, upper bool) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if upper {
			fmt.Fprintf(&b, `\u%04X`, c)
		} else {
			fmt.Fprintf(&b, `\u%04x`, c)
		}
	}
	return b.String()
}

// pctAll percent-encodes every byte of s, hex in the given case.
func pctAll(s string, upper bool) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if upper {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// echoForms renders a token in every form the echo target sends back,
// keyed by a name for the test's messages. n varies the framing (the
// truncation point inside long messages, the base64 alignment).
func echoForms(tok string, n int) map[string]string {
	pad := strings.Repeat("p", 1+n%3)
	blob := []byte(pad + tok + "tail-bytes")
	return map[string]string{
		"raw":         tok,
		"json-slash":  strings.ReplaceAll(tok, "/", `\/`),
		"json-u":      uEscape(tok, n%2 == 0),
		"json-mixed":  uEscape(tok[:len(tok)/2], true) + strings.ReplaceAll(tok[len(tok)/2:], "/", `\/`),
		"query":       url.QueryEscape(tok),
		"pct-lower":   pctAll(tok, false),
		"pct-upper":   pctAll(tok, true),
		"pct-json":    url.QueryEscape(uEscape(tok, true)),
		"b64-std":     base64.StdEncoding.EncodeToString([]byte(tok)),
		"b64-url":     base64.RawURLEncoding.EncodeToString([]byte(tok)),
		"b64-blob":    base64.StdEncoding.EncodeToString(blob),
		"b64-urlblob": base64.URLEncoding.EncodeToString(blob),
	}
}

// echoHandler answers every request with each token it carries echoed
// back in every form: in response headers (a custom one, Set-Cookie,
// WWW-Authenticate, Content-Type), and, by turns, in a JSON error body, a
// long text body (cut by the runner's truncation at a varying place inside
// the token), a cross-origin Location and a 200 whose fields break the
// schema.
func echoHandler() http.HandlerFunc {
	var counter atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		n := int(counter.Add(1))
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		_, _ = io.Copy(io.Discard, r.Body)
		toks := echoTokens(r, body)
		var all []string
		h := w.Header()
		for i, tok := range toks {
			forms := echoForms(tok, n+i)
			names := slices.Sorted(maps.Keys(forms))
			for _, name := range names {
				h.Add("X-Echo-"+name, forms[name])
				all = append(all, name+"="+forms[name])
			}
			h.Add("Set-Cookie", (&http.Cookie{Name: fmt.Sprintf("echo%d", i), Value: forms["b64-url"]}).String())
			h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="bad token `+forms["json-slash"]+`"`)
		}
		if r.URL.Path == "/login" {
			// The sign-in of a --setup file: a fresh token each time.
			h.Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"refresh_token":%q,"echo":%q}`, mintedTokens[n%len(mintedTokens)], strings.Join(all, " "))
			return
		}
		first := "none"
		if len(toks) > 0 {
			first = toks[n%len(toks)]
		}
		// A prefix of 1 to 40 bytes so that the runner's truncations (at
		// 40, 60, 80 or 120 bytes) fall inside the token, at a place that
		// moves with n.
		cut := strings.Repeat("x", 40-n%40) + first + " " + strings.Join(all, " ")
		switch n % 4 {
		case 0:
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			msg, _ := json.Marshal(cut)
			fmt.Fprintf(w, `{"status":400,"message":%s,"code":%q,"echo":[%s]}`, msg, echoForms(first, n)["b64-std"], `"`+strings.Join(all, `","`)+`"`)
		case 1:
			h.Set("Content-Type", "text/plain; charset=utf-8; echo="+echoForms(first, n)["b64-url"])
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, cut)
		case 2:
			f := echoForms(first, n)
			h.Set("Location", "http://elsewhere.invalid/cb?t="+f["query"]+"&l="+f["pct-lower"]+"&b="+f["b64-url"]+"&j="+f["pct-json"])
			w.WriteHeader(http.StatusFound)
		default:
			f := echoForms(first, n)
			h.Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"%s","refresh_token":"%s","token_type":7,"expires_in":%s,"organization":%q}`,
				f["json-mixed"], f["json-u"], must(json.Marshal(cut)), f["pct-upper"])
		}
	}
}

// echoLeaks lists where text holds a secret in any form: raw, every
// encoded form, a fragment of 10 bytes or more of the raw secret, or a
// fragment of 10 characters or more of the base64 of the secret at each
// of the 3 alignments.
func echoLeaks(text string, secrets map[string]string) []string {
	var leaks []string
	for name, sec := range secrets {
		needles := map[string]string{}
		for form, v := range echoForms(sec, 0) {
			if !strings.HasPrefix(form, "b64-") || form == "b64-std" || form == "b64-url" {
				needles[form] = v
			}
		}
		needles["json-go"] = string(must(json.Marshal(sec)))
		needles["path"] = url.PathEscape(sec)
		for o := range 3 {
			enc := base64.RawStdEncoding.EncodeToString(append(make([]byte, o), sec...))
			mid := enc[(o*8+5)/6 : (o+len(sec))*8/6]
			for i := 0; i+10 <= len(mid); i++ {
				needles[fmt.Sprintf("b64 align %d fragment %d", o, i)] = mid[i : i+10]
				urlForm := strings.NewReplacer("+", "-", "/", "_").Replace(mid[i : i+10])
				needles[fmt.Sprintf("b64url align %d fragment %d", o, i)] = urlForm
			}
		}
		for i := 0; i+10 <= len(sec); i++ {
			needles[fmt.Sprintf("fragment %d", i)] = sec[i : i+10]
		}
		for form, v := range needles {
			if strings.Contains(text, v) {
				leaks = append(leaks, fmt.Sprintf("%s (%s): %q", name, form, v))
			}
		}
	}
	slices.Sort(leaks)
	return leaks
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestConformEchoTargetLeaksNothing runs conform with -v, a JSON and a
// JUnit report and the text report on stdout against a target that echoes
// every token it receives in every form (raw, inside long messages the
// runner cuts, JSON-escaped, percent-encoded, base64 alone or inside a
// blob) in headers, cookies, bodies and Location, and greps every
// artifact for every secret in every form: none may appear.
func TestConformEchoTargetLeaksNothing(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(echoHandler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	jsonFile, junitFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"conform", "--target", srv.URL, "-v", "--color", "never",
		"--header", "Authorization: Bearer " + echoSecrets["auth"], "--cookie", "session=" + echoSecrets["cookie"],
		"--var", "REFRESH_TOKEN=" + echoSecrets["main"], "--var", conformance.VarRace + "=" + echoSecrets["race"],
		"--var", conformance.VarQuery + "=" + echoSecrets["query"], "--var", conformance.VarMethod + "=" + echoSecrets["method"],
		"--report", "json", jsonFile, "--report", "junit", junitFile}, &stdout, &stderr)
	if code != exitFindings {
		t.Errorf("exit = %d, want %d (the echo target breaks the spec)\nstderr:\n%s", code, exitFindings, stderr.String())
	}
	artifacts := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
	for _, f := range []string{jsonFile, junitFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		artifacts[filepath.Base(f)] = string(b)
	}
	// The run must have seen the echoes, or the test proves nothing.
	if !strings.Contains(stderr.String(), "conform request") || !strings.Contains(artifacts["r.json"], "elsewhere.invalid") ||
		!strings.Contains(artifacts["r.json"], "…") || !strings.Contains(artifacts["r.xml"], "elsewhere.invalid") {
		t.Fatalf("the reports do not show the echoes:\n%s\nstdout:\n%s\nstderr:\n%s", artifacts["r.json"], stdout.String(), stderr.String())
	}
	for _, where := range slices.Sorted(maps.Keys(artifacts)) {
		if leaks := echoLeaks(artifacts[where], echoSecrets); len(leaks) > 0 {
			t.Errorf("%s carries %d secret forms:\n  %s", where, len(leaks), strings.Join(leaks, "\n  "))
		}
	}
	// The JUnit of this hostile run still validates against Jenkins'
	// schema (conformance/junit_test.go covers it without xmllint's
	// absence hiding it here).
	if xmllint, err := exec.LookPath("xmllint"); err == nil {
		if out, err := exec.Command(xmllint, "--noout", "--schema", "../../conformance/testdata/junit-10.xsd", junitFile).CombinedOutput(); err != nil {
			t.Errorf("xmllint --schema junit-10.xsd: %v\n%s", err, out)
		}
	}
	if t.Failed() || os.Getenv("ECHO_DUMP") != "" {
		_ = os.WriteFile(filepath.Join(os.TempDir(), "echo-leak-artifacts.txt"),
			[]byte(stdout.String()+"\n=====\n"+stderr.String()+"\n=====\n"+artifacts["r.json"]+"\n=====\n"+artifacts["r.xml"]), 0o600)
	}
}

// TestConformInsecureWarns: --insecure says on stderr that certificates
// are not checked and that the tokens can be read, and the run goes on.
func TestConformInsecureWarns(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(envelope401))
	t.Cleanup(srv.Close)
	for _, insecure := range []bool{true, false} {
		args := []string{"conform", "--target", srv.URL, "--only", "negative/no-token"}
		if insecure {
			args = append(args, "--insecure")
		}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		warned := strings.Contains(stderr.String(), "warning: --insecure") && strings.Contains(stderr.String(), "not verified")
		if warned != insecure {
			t.Errorf("--insecure=%v: warned = %v, want %v\nstderr:\n%s", insecure, warned, insecure, stderr.String())
		}
		// Without --insecure the self-signed certificate stops the run.
		if want := map[bool]int{true: exitOK, false: exitUsage}[insecure]; code != want {
			t.Errorf("--insecure=%v: exit %d, want %d\nstderr:\n%s", insecure, code, want, stderr.String())
		}
	}
}

// TestConformSetupEchoLeaksNothing: a --setup file signs in with a
// password and captures the tokens the echo target mints; the suite then
// runs on those tokens alone (the REFRESH_TOKENS pool), and the target
// echoes them in every form. No artifact holds the password or a minted
// token in any form.
func TestConformSetupEchoLeaksNothing(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(echoHandler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	setup := filepath.Join(dir, "setup.yaml")
	if err := os.WriteFile(setup, []byte(`steps:
  - name: sign in
    request:
      method: POST
      path: /login
      json: {"username": "ci", "password": "`+setupPassword+`"}
    repeat: 8
    expect:
      status: [200]
    capture:
      REFRESH_TOKENS: json:refresh_token
`), 0o600); err != nil {
		t.Fatal(err)
	}
	jsonFile, junitFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"conform", "--target", srv.URL, "-v", "--color", "never", "--setup", setup,
		"--report", "json", jsonFile, "--report", "junit", junitFile}, &stdout, &stderr)
	if code != exitFindings {
		t.Errorf("exit = %d, want %d\nstderr:\n%s", code, exitFindings, stderr.String())
	}
	artifacts := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
	for _, f := range []string{jsonFile, junitFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		artifacts[filepath.Base(f)] = string(b)
	}
	secrets := map[string]string{"password": setupPassword}
	for i, m := range mintedTokens {
		secrets[fmt.Sprintf("minted %d", i)] = m
	}
	// The suite must have run on the minted tokens, or the test proves
	// nothing: the flows that need a live token ran.
	for _, flow := range []string{"flow/race", "flow/body-token", "flow/undocumented-method"} {
		if !strings.Contains(stdout.String(), flow) || strings.Contains(stdout.String(), "SKIP "+flow) {
			t.Fatalf("%s did not run on the minted tokens:\n%s", flow, stdout.String())
		}
	}
	for _, where := range slices.Sorted(maps.Keys(artifacts)) {
		if leaks := echoLeaks(artifacts[where], secrets); len(leaks) > 0 {
			t.Errorf("%s carries %d secret forms:\n  %s", where, len(leaks), strings.Join(leaks, "\n  "))
		}
	}
}
