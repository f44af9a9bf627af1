package conformance

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// The JUnit types follow Jenkins' junit-10.xsd (the dialect of the xUnit
// plugin, which GitLab, GitHub actions and most CI readers accept):
// testsuites carries no skipped count (each testsuite does), every
// testsuite has name, tests, failures and errors. junit_test.go validates
// the output against it with xmllint.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes the report as JUnit XML: one testsuite per case kind,
// one testcase per case. A failing case's failure names its first check
// and lists every finding with the reproducing curl; warnings of passing
// cases go to system-out.
func WriteJUnit(w io.Writer, rep *Report) error {
	root := junitSuites{Name: "refreshmock conform " + rep.Target, Time: seconds(rep.Duration)}
	byKind := map[string]*junitSuite{}
	durations := map[string]time.Duration{}
	var order []string
	for _, c := range rep.Cases {
		s, ok := byKind[c.Kind]
		if !ok {
			s = &junitSuite{Name: "conform." + c.Kind, Properties: []junitProperty{
				{"target", rep.Target}, {"spec", rep.Spec}, {"operation", rep.Operation},
			}}
			byKind[c.Kind] = s
			order = append(order, c.Kind)
		}
		tc := junitCase{Name: c.ID, Classname: "conform." + c.Kind, Time: seconds(c.Duration)}
		var text strings.Builder
		fmt.Fprintf(&text, "%s\n", c.Title)
		for _, f := range c.Findings {
			fmt.Fprintf(&text, "%s\n", findingLine(f))
		}
		for _, n := range c.Notes {
			fmt.Fprintf(&text, "note: %s\n", n)
		}
		for _, step := range failingSteps(c) {
			for _, ex := range c.Exchanges {
				if ex.Step == step {
					fmt.Fprintf(&text, "reproduce step %d: %s\n", ex.Step, ex.Curl)
				}
			}
		}
		switch c.Outcome {
		case Skip:
			tc.Skipped = &junitSkipped{Message: c.SkipReason}
			s.Skipped++
		case Fail:
			first := c.Findings[0]
			tc.Failure = &junitFailure{Message: first.Check + ": " + first.Message, Type: first.Check, Text: xmlText(text.String())}
			s.Failures++
			root.Failures++
		default:
			if len(c.Findings) > 0 || len(c.Notes) > 0 {
				tc.SystemOut = &junitText{xmlText(text.String())}
			}
		}
		s.Tests++
		durations[c.Kind] += c.Duration
		s.Time = seconds(durations[c.Kind])
		s.Cases = append(s.Cases, tc)
		root.Tests++
	}
	for _, k := range order {
		root.Suites = append(root.Suites, *byKind[k])
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("write JUnit report: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func findingLine(f Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", f.Severity, f.Check)
	if f.Step > 0 {
		fmt.Fprintf(&b, " (step %d)", f.Step)
	}
	fmt.Fprintf(&b, ": %s%s", f.Message, f.where())
	return b.String()
}

// xmlText replaces what XML 1.0 cannot carry (control characters but tab,
// newline and carriage return; surrogates; U+FFFE, U+FFFF; invalid UTF-8)
// by U+FFFD. encoding/xml does so in attributes and character data but
// writes CDATA sections as they are, and a target's answers (quoted in
// findings) may hold anything.
func xmlText(s string) string {
	ok := func(r rune) bool {
		return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
	}
	clean := true
	for _, r := range s {
		if !ok(r) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s { // invalid UTF-8 comes as RuneError: U+FFFD
		if !ok(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}
