package scenarios

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalid is wrapped by the error Load returns when any file has a
// problem; errors.As finds the *Diagnostics.
var ErrInvalid = errors.New("invalid scenarios")

// Severity of a diagnostic.
type Severity string

// Severities.
const (
	SevError   Severity = "error"
	SevWarning Severity = "warning"
)

// Diagnostic is one problem in a scenario file.
type Diagnostic struct {
	Pos      Pos      `json:"pos"`
	Severity Severity `json:"severity"`
	// Field is the dotted path of the field, e.g. response.status.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Rule is a stable id of the check that failed, where there is one
	// (an envelope rule or a spec rule).
	Rule string `json:"rule,omitempty"`
}

// String renders file:line:col: severity: field: message.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Pos.String())
	b.WriteString(": ")
	if d.Severity == SevWarning {
		b.WriteString("warning: ")
	}
	if d.Field != "" {
		b.WriteString(d.Field)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	if d.Rule != "" {
		fmt.Fprintf(&b, " [%s]", d.Rule)
	}
	return b.String()
}

// Diagnostics is every problem found, sorted by file, line and column.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	lines := make([]string, 0, len(ds))
	for _, d := range ds {
		lines = append(lines, d.String())
	}
	return strings.Join(lines, "\n")
}

// Errors returns the diagnostics of error severity.
func (ds Diagnostics) Errors() Diagnostics { return ds.filter(SevError) }

// Warnings returns the diagnostics of warning severity.
func (ds Diagnostics) Warnings() Diagnostics { return ds.filter(SevWarning) }

func (ds Diagnostics) filter(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// Sort orders by file, line, column, then message.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		return a.Message < b.Message
	})
}

type diagSink struct {
	diags Diagnostics
}

func (s *diagSink) errorf(pos Pos, field, format string, args ...any) {
	s.diags = append(s.diags, Diagnostic{Pos: pos, Severity: SevError, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (s *diagSink) warnf(pos Pos, field, format string, args ...any) {
	s.diags = append(s.diags, Diagnostic{Pos: pos, Severity: SevWarning, Field: field, Message: fmt.Sprintf(format, args...)})
}
