package conformance

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Severity says whether a finding fails the run.
type Severity string

// Severities: an error fails the run; a warning fails it only with
// Config.Strict.
const (
	SevError Severity = "error"
	SevWarn  Severity = "warning"
)

// Outcome of a case.
type Outcome string

// Outcomes.
const (
	Pass Outcome = "pass"
	Fail Outcome = "fail"
	Skip Outcome = "skip"
)

// Case kinds.
const (
	KindScenario = "scenario"
	KindNegative = "negative"
	KindFlow     = "flow"
	KindSetup    = "setup"
)

// Finding is one failed check on one response (or on a flow).
type Finding struct {
	// Check is the stable id of the check (see Checks).
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	// Message says what was expected and what came back.
	Message string `json:"message"`
	// Step is the 1-based step of the case the finding is about (0 when it
	// is about the whole case).
	Step     int    `json:"step,omitempty"`
	StepName string `json:"step_name,omitempty"`
	Expected string `json:"expected,omitempty"`
	Got      string `json:"got,omitempty"`
	// Field is a JSON path ($.a.b), a header or a cookie name.
	Field string `json:"field,omitempty"`
	Value string `json:"value,omitempty"`
	In    string `json:"in,omitempty"`
	// SpecPointer is a JSON pointer into the OpenAPI document.
	SpecPointer string `json:"spec_pointer,omitempty"`
	SpecLine    int    `json:"spec_line,omitempty"`
	HowToFix    string `json:"how_to_fix,omitempty"`
}

// String renders the finding on one line.
func (f Finding) String() string {
	return fmt.Sprintf("%s %s: %s%s", f.Severity, f.Check, f.Message, f.where())
}

// where renders where the finding points: " [at FIELD = VALUE] [spec
// POINTER line N]", each part only when known. Every report uses it.
func (f Finding) where() string {
	var b strings.Builder
	if f.Field != "" {
		fmt.Fprintf(&b, " [at %s", f.Field)
		if f.Value != "" {
			fmt.Fprintf(&b, " = %s", f.Value)
		}
		b.WriteString("]")
	}
	if f.SpecPointer != "" {
		fmt.Fprintf(&b, " [spec %s", f.SpecPointer)
		if f.SpecLine > 0 {
			fmt.Fprintf(&b, " line %d", f.SpecLine)
		}
		b.WriteString("]")
	}
	return b.String()
}

// Exchange is one request a case sent and what came back, redacted.
type Exchange struct {
	Step     int    `json:"step"`
	Name     string `json:"name,omitempty"`
	Method   string `json:"method"`
	URL      string `json:"url"`
	Expected []int  `json:"expected,omitempty"`
	// Operation is the documented operation the request routed to.
	Operation string `json:"operation,omitempty"`
	// Status is 0 when no response came back (see Error).
	Status      int           `json:"status,omitempty"`
	ContentType string        `json:"content_type,omitempty"`
	Bytes       int           `json:"bytes"`
	Latency     time.Duration `json:"latency_ns"`
	Error       string        `json:"error,omitempty"`
	// Curl reproduces the request; secrets are shell variables or
	// fingerprints.
	Curl string `json:"curl"`
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Title string `json:"title"`
	// Source is where the case comes from: a scenario's file:line, or the
	// spec pointer a generated case derives from.
	Source     string        `json:"source,omitempty"`
	Outcome    Outcome       `json:"outcome"`
	SkipReason string        `json:"skip_reason,omitempty"`
	Missing    []string      `json:"missing_vars,omitempty"`
	Exchanges  []Exchange    `json:"exchanges,omitempty"`
	Findings   []Finding     `json:"findings,omitempty"`
	Notes      []string      `json:"notes,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
}

// Count returns the number of error and warning findings.
func (c *CaseResult) Count() (errs, warns int) {
	for _, f := range c.Findings {
		if f.Severity == SevError {
			errs++
		} else {
			warns++
		}
	}
	return errs, warns
}

// CoverageRow says whether a documented status was observed.
type CoverageRow struct {
	Status      int      `json:"status"`
	Description string   `json:"description"`
	Observed    bool     `json:"observed"`
	Cases       []string `json:"cases,omitempty"`
	// Why says why a status was not observed.
	Why string `json:"why,omitempty"`
}

// Summary counts the run's results.
type Summary struct {
	Cases    int `json:"cases"`
	Passed   int `json:"passed"`
	Failed   int `json:"failed"`
	Skipped  int `json:"skipped"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Requests int `json:"requests"`
	// Observed and Documented count the operation's documented statuses.
	Observed    int    `json:"coverage_observed"`
	Documented  int    `json:"coverage_documented"`
	MinCoverage string `json:"min_coverage,omitempty"`
	// CoverageOK is false when --min-coverage was not reached.
	CoverageOK bool `json:"coverage_ok"`
	Strict     bool `json:"strict"`
	// OK is the verdict: true means exit 0.
	OK bool `json:"ok"`
}

// Report is the result of a run.
type Report struct {
	Target    string        `json:"target"`
	Spec      string        `json:"spec"`
	Operation string        `json:"operation"`
	Cases     []CaseResult  `json:"cases"`
	Coverage  []CoverageRow `json:"coverage"`
	Summary   Summary       `json:"summary"`
	Duration  time.Duration `json:"duration_ns"`
}

// OK reports whether the run passed (exit code 0).
func (r *Report) OK() bool { return r.Summary.OK }

// MinCoverage is a --min-coverage threshold: a count of documented statuses
// or a percentage of them.
type MinCoverage struct {
	N       int
	Percent bool
}

// ParseMinCoverage parses "N" or "N%".
func ParseMinCoverage(s string) (MinCoverage, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil || n < 0 || pct && n > 100 {
		return MinCoverage{}, fmt.Errorf("%w: --min-coverage %q: give a number of documented statuses (e.g. 8) or a percentage (e.g. 75%%)", ErrConfig, s)
	}
	return MinCoverage{N: n, Percent: pct}, nil
}

// String renders the threshold as given.
func (m MinCoverage) String() string {
	if m.Percent {
		return fmt.Sprintf("%d%%", m.N)
	}
	return strconv.Itoa(m.N)
}

// met reports whether observed of total statuses reach the threshold.
func (m MinCoverage) met(observed, total int) bool {
	if m.Percent {
		return total == 0 || observed*100 >= m.N*total
	}
	return observed >= m.N
}

// summarize fills the report's outcomes, summary and verdict.
func (r *Report) summarize(strict bool, min *MinCoverage) {
	s := Summary{Cases: len(r.Cases), Strict: strict, CoverageOK: true}
	for i := range r.Cases {
		c := &r.Cases[i]
		s.Requests += len(c.Exchanges)
		if c.Outcome == Skip {
			s.Skipped++
			continue
		}
		errs, warns := c.Count()
		s.Errors += errs
		s.Warnings += warns
		if errs > 0 || strict && warns > 0 {
			c.Outcome = Fail
			s.Failed++
		} else {
			c.Outcome = Pass
			s.Passed++
		}
	}
	for _, row := range r.Coverage {
		s.Documented++
		if row.Observed {
			s.Observed++
		}
	}
	if min != nil {
		s.MinCoverage = min.String()
		s.CoverageOK = min.met(s.Observed, s.Documented)
	}
	s.OK = s.Failed == 0 && s.CoverageOK
	r.Summary = s
}

// sortFindings orders a case's findings by step, then severity, check and
// field, so that reports are stable.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Step != b.Step {
			return a.Step < b.Step
		}
		if a.Severity != b.Severity {
			return a.Severity == SevError
		}
		if a.Check != b.Check {
			return a.Check < b.Check
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Message < b.Message
	})
}
