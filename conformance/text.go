package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// TextOptions controls the human report.
type TextOptions struct {
	// Color adds ANSI colours (for a terminal).
	Color bool
	// Verbose lists every case's notes and the curl of passing cases too.
	Verbose bool
}

type palette struct{ red, yellow, green, dim, bold, reset string }

func (o TextOptions) palette() palette {
	if !o.Color {
		return palette{}
	}
	return palette{"\x1b[31m", "\x1b[33m", "\x1b[32m", "\x1b[2m", "\x1b[1m", "\x1b[0m"}
}

// ProgressLine renders the line printed as a case finishes:
// "[ 3/24] PASS scenario/refresh-missing-token  401  12ms".
func ProgressLine(done, total int, c CaseResult, opts TextOptions) string {
	p := opts.palette()
	width := len(fmt.Sprint(total))
	var label string
	switch c.Outcome {
	case Pass:
		label = p.green + "PASS" + p.reset
		if _, w := c.Count(); w > 0 {
			label = p.yellow + "WARN" + p.reset
		}
	case Fail:
		label = p.red + "FAIL" + p.reset
	default:
		label = p.dim + "SKIP" + p.reset
	}
	line := fmt.Sprintf("[%*d/%d] %s %s", width, done, total, label, c.ID)
	switch {
	case c.Outcome == Skip:
		line += "  " + p.dim + c.SkipReason + p.reset
	default:
		var statuses []string
		for _, ex := range c.Exchanges {
			statuses = append(statuses, statusOrError(ex))
		}
		if len(statuses) > 4 {
			statuses = append(statuses[:4], "…")
		}
		line += "  " + strings.Join(statuses, " ")
		if c.Duration > 0 {
			line += "  " + p.dim + roundDuration(c.Duration) + p.reset
		}
		if e, w := c.Count(); e+w > 0 {
			line += fmt.Sprintf("  (%s)", countText(e, w))
		}
	}
	return line
}

func countText(errs, warns int) string {
	var parts []string
	if errs > 0 {
		parts = append(parts, plural(errs, "error"))
	}
	if warns > 0 {
		parts = append(parts, plural(warns, "warning"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func roundDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// WriteText writes the human report that follows the progress lines:
// every finding with the failing request's curl, the skipped cases, the
// coverage table and the summary.
func WriteText(w io.Writer, rep *Report, opts TextOptions) error {
	p := opts.palette()
	var b strings.Builder
	var findings int
	for _, c := range rep.Cases {
		findings += len(c.Findings)
	}
	if findings > 0 {
		fmt.Fprintf(&b, "\n%sFindings%s\n", p.bold, p.reset)
	}
	for _, c := range rep.Cases {
		if len(c.Findings) == 0 && !(opts.Verbose && len(c.Notes) > 0) {
			continue
		}
		fmt.Fprintf(&b, "\n%s%s%s  %s", p.bold, c.ID, p.reset, c.Title)
		if c.Source != "" {
			fmt.Fprintf(&b, "  %s(%s)%s", p.dim, c.Source, p.reset)
		}
		b.WriteByte('\n')
		for _, f := range c.Findings {
			sev := p.red + "error" + p.reset
			if f.Severity == SevWarn {
				sev = p.yellow + "warn " + p.reset
			}
			where := ""
			if f.Step > 0 {
				where = fmt.Sprintf("step %d", f.Step)
				if f.StepName != "" {
					where += " (" + f.StepName + ")"
				}
				where += ": "
			}
			fmt.Fprintf(&b, "  %s %s: %s%s%s", sev, f.Check, where, f.Message, f.where())
			b.WriteByte('\n')
			if f.HowToFix != "" {
				fmt.Fprintf(&b, "        %sfix: %s%s\n", p.dim, f.HowToFix, p.reset)
			}
		}
		for _, n := range c.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
		for _, step := range failingSteps(c) {
			for _, ex := range c.Exchanges {
				if ex.Step == step {
					fmt.Fprintf(&b, "  reproduce step %d: %s\n", ex.Step, ex.Curl)
				}
			}
		}
	}
	var skipped []CaseResult
	for _, c := range rep.Cases {
		if c.Outcome == Skip {
			skipped = append(skipped, c)
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "\n%sSkipped%s (set variables with --var NAME=VALUE, env REFRESHMOCK_VAR_NAME, or a --vars file)\n", p.bold, p.reset)
		for _, c := range skipped {
			fmt.Fprintf(&b, "  %s: %s\n", c.ID, c.SkipReason)
		}
	}
	fmt.Fprintf(&b, "\n%sCoverage of %s's documented statuses%s: %d of %d observed", p.bold, rep.Operation, p.reset, rep.Summary.Observed, rep.Summary.Documented)
	if rep.Summary.MinCoverage != "" {
		fmt.Fprintf(&b, " (--min-coverage %s: %s)", rep.Summary.MinCoverage, map[bool]string{true: "met", false: p.red + "NOT met" + p.reset}[rep.Summary.CoverageOK])
	}
	b.WriteByte('\n')
	for _, row := range rep.Coverage {
		mark, detail := p.green+"observed"+p.reset, strings.Join(row.Cases, ", ")
		if !row.Observed {
			mark, detail = p.yellow+"missing "+p.reset, row.Why
		}
		fmt.Fprintf(&b, "  %d  %-24s %s  %s\n", row.Status, spec80(row.Description, 24), mark, detail)
	}
	s := rep.Summary
	verdict := p.green + "PASS" + p.reset
	if !s.OK {
		verdict = p.red + "FAIL" + p.reset
	}
	fmt.Fprintf(&b, "\n%s: %d cases: %d passed, %d failed, %d skipped; %s; %d requests",
		verdict, s.Cases, s.Passed, s.Failed, s.Skipped, countTextZero(s.Errors, s.Warnings), s.Requests)
	if rep.Duration > 0 {
		fmt.Fprintf(&b, " in %s", roundDuration(rep.Duration))
	}
	if s.Strict {
		b.WriteString(" (--strict: warnings fail)")
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func countTextZero(errs, warns int) string {
	return plural(errs, "error") + ", " + plural(warns, "warning")
}

func spec80(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// failingSteps lists the steps that have findings (0, for a whole-case
// finding, means every step).
func failingSteps(c CaseResult) []int {
	var out []int
	seen := map[int]bool{}
	for _, f := range c.Findings {
		if f.Step == 0 {
			for _, ex := range c.Exchanges {
				if !seen[ex.Step] {
					seen[ex.Step] = true
					out = append(out, ex.Step)
				}
			}
			continue
		}
		if !seen[f.Step] {
			seen[f.Step] = true
			out = append(out, f.Step)
		}
	}
	sortInts(out)
	return out
}

func sortInts(s []int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
