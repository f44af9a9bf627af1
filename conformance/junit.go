package conformance

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
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
			root.Skipped++
		case Fail:
			first := c.Findings[0]
			tc.Failure = &junitFailure{Message: first.Check + ": " + first.Message, Type: first.Check, Text: text.String()}
			s.Failures++
			root.Failures++
		default:
			if len(c.Findings) > 0 || len(c.Notes) > 0 {
				tc.SystemOut = &junitText{text.String()}
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

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}
