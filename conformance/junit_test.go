package conformance_test

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/conformance"
)

// junitXSD is Jenkins' junit-10.xsd (see the file's header).
const junitXSD = "testdata/junit-10.xsd"

// mustXMLLint returns the path of xmllint, or skips the test saying how
// to install it.
func mustXMLLint(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("xmllint")
	if err != nil {
		tb.Skip("xmllint is not installed (Debian/Ubuntu: apt-get install libxml2-utils): JUnit output not validated against " + junitXSD)
	}
	return p
}

// validateJUnit writes data to a file and runs xmllint --schema on it.
func validateJUnit(tb testing.TB, xmllint string, data []byte) {
	tb.Helper()
	f := filepath.Join(tb.TempDir(), "report.xml")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command(xmllint, "--noout", "--schema", junitXSD, f).CombinedOutput()
	if err != nil {
		tb.Errorf("xmllint --schema %s: %v\n%s\nreport:\n%s", junitXSD, err, out, data)
	}
}

// hostileTarget answers every request with a 500 whose text body holds
// what XML cannot carry (NUL, escape sequences, a lone surrogate's bytes,
// invalid UTF-8) and what would close a CDATA section or open markup.
func hostileTarget(tb testing.TB) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("boom \x00\x01\x1b[31m ]]> <testcase name=\"x\"/> & \xed\xa0\x80 \xff\xfe \uFFFE end"))
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// TestJUnitValidatesAgainstJenkinsSchema runs the suite and writes its
// JUnit report for a passing run (the defect-free test implementation), a
// failing one (several defects), and a hostile target whose answers hold
// characters XML cannot carry; each report validates against
// junit-10.xsd and parses.
func TestJUnitValidatesAgainstJenkinsSchema(t *testing.T) {
	t.Parallel()
	xmllint := mustXMLLint(t)
	tests := []struct {
		name   string
		config func(t *testing.T) conformance.Config
		wantOK bool
	}{
		{"passing run", func(t *testing.T) conformance.Config {
			cfg, _ := testConfig(t)
			cfg.Strict = false
			return cfg
		}, true},
		{"failing run", func(t *testing.T) conformance.Config {
			cfg, _ := testConfig(t, defEnvelopePlainText, defSchemaBadUUID, defNoCacheControl, defStackTrace, defQueryToken)
			return cfg
		}, false},
		{"hostile target", func(t *testing.T) conformance.Config {
			cfg, _ := testConfig(t)
			cfg.Target = hostileTarget(t)
			cfg.Timeout = 2 * time.Second
			return cfg
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := mustRun(t, tc.config(t))
			if rep.OK() != tc.wantOK {
				t.Fatalf("run OK = %v, want %v:\n%s", rep.OK(), tc.wantOK, findingsText(rep))
			}
			var buf bytes.Buffer
			if err := conformance.WriteJUnit(&buf, rep); err != nil {
				t.Fatal(err)
			}
			validateJUnit(t, xmllint, buf.Bytes())
			var parsed struct {
				Tests  int `xml:"tests,attr"`
				Suites []struct {
					Skipped int `xml:"skipped,attr"`
					Cases   []struct {
						Failure *struct{} `xml:"failure"`
					} `xml:"testcase"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal(buf.Bytes(), &parsed); err != nil {
				t.Fatalf("the report does not parse: %v", err)
			}
			failures := 0
			for _, s := range parsed.Suites {
				for _, c := range s.Cases {
					if c.Failure != nil {
						failures++
					}
				}
			}
			if got, want := parsed.Tests, len(rep.Cases); got != want {
				t.Errorf("tests = %d, want %d", got, want)
			}
			if got, want := failures, rep.Summary.Failed; got != want {
				t.Errorf("%d failure elements, want %d", got, want)
			}
			if tc.name == "hostile target" && !strings.Contains(buf.String(), "\uFFFD") {
				t.Errorf("the hostile body's bytes were not replaced by U+FFFD:\n%s", buf.String())
			}
		})
	}
}

// TestJUnitGoldenValidates keeps the committed golden report valid too.
func TestJUnitGoldenValidates(t *testing.T) {
	t.Parallel()
	xmllint := mustXMLLint(t)
	data, err := os.ReadFile("testdata/report.junit.xml")
	if err != nil {
		t.Fatal(err)
	}
	validateJUnit(t, xmllint, data)
}
