package scenarios

import (
	"fmt"
	"slices"
	"sort"

	"github.com/refreshmock/refreshmock/spec"
)

// RuleStatusUnscripted is the rule id of the coverage warning for a
// documented status that no scenario scripts.
const RuleStatusUnscripted = "coverage-status-unscripted"

// Coverage says, for every operation of a spec, which scenarios script each
// documented status and which conformance steps provoke it.
type Coverage struct {
	Operations []OperationCoverage `json:"operations"`
}

// OperationCoverage is the coverage of one operation.
type OperationCoverage struct {
	Operation string `json:"operation"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	// Statuses lists every documented status in order, then any
	// undocumented status a scenario scripts (allow_undocumented_status).
	Statuses []StatusCoverage `json:"statuses"`
}

// StatusCoverage is the coverage of one status of an operation.
type StatusCoverage struct {
	Status      int    `json:"status"`
	Description string `json:"description,omitempty"`
	Documented  bool   `json:"documented"`
	// Scenarios are the scenarios whose response.status is this status, in
	// load order.
	Scenarios []string `json:"scenarios"`
	// Conform are the scenarios with a conform step that accepts this
	// status in expect.status: a conformance run can provoke the status on
	// a real server through them.
	Conform []string `json:"conform"`
	// Line is the line of the documented response in the spec (0 when
	// unknown or undocumented).
	Line int `json:"-"`
}

// Scripted reports whether at least one scenario scripts the status.
func (c StatusCoverage) Scripted() bool { return len(c.Scenarios) > 0 }

// Coverage returns the coverage of the set against the spec it was loaded
// with.
func (s *Set) Coverage() *Coverage { return CoverageOf(s.spec, s.list) }

// CoverageOf computes the coverage of a list of scenarios against sp, for
// every operation of sp. Scenarios of operations sp does not have are
// ignored.
func CoverageOf(sp *spec.Spec, list []*Scenario) *Coverage {
	cov := &Coverage{Operations: []OperationCoverage{}}
	for _, op := range sp.Operations() {
		oc := OperationCoverage{Operation: op.ID, Method: op.Method, Path: op.Path}
		index := map[int]int{}
		add := func(status int) *StatusCoverage {
			if i, ok := index[status]; ok {
				return &oc.Statuses[i]
			}
			sc := StatusCoverage{Status: status, Scenarios: []string{}, Conform: []string{}}
			if r, ok := op.Response(status); ok {
				sc.Documented, sc.Description, sc.Line = true, r.Description, r.Line
			}
			index[status] = len(oc.Statuses)
			oc.Statuses = append(oc.Statuses, sc)
			return &oc.Statuses[index[status]]
		}
		for _, st := range op.Statuses() {
			add(st)
		}
		for _, sc := range list {
			if sc.Operation != op.ID {
				continue
			}
			if sc.Response.Status != 0 {
				c := add(sc.Response.Status)
				c.Scenarios = appendOnce(c.Scenarios, sc.Name)
			}
			if sc.Conform == nil {
				continue
			}
			for _, step := range sc.Conform.Steps {
				// A step that changes method or path exercises another
				// endpoint; it does not count for this operation.
				if step.Request.Method != "" || step.Request.Path != "" {
					continue
				}
				for _, st := range step.Expect.Status {
					if !op.Documents(st) {
						continue
					}
					c := add(st)
					c.Conform = appendOnce(c.Conform, sc.Name)
				}
			}
		}
		sort.SliceStable(oc.Statuses, func(i, j int) bool {
			a, b := oc.Statuses[i], oc.Statuses[j]
			if a.Documented != b.Documented {
				return a.Documented
			}
			return a.Status < b.Status
		})
		cov.Operations = append(cov.Operations, oc)
	}
	return cov
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// Unscripted lists, per operation id, the documented statuses that no
// scenario scripts.
func (c *Coverage) Unscripted() map[string][]int {
	out := map[string][]int{}
	for _, oc := range c.Operations {
		for _, st := range oc.Statuses {
			if st.Documented && !st.Scripted() {
				out[oc.Operation] = append(out[oc.Operation], st.Status)
			}
		}
	}
	return out
}

// Warnings returns one warning per documented status that no scenario
// scripts, positioned at the response in the spec document (specName is the
// file name to report, usually spec.Spec.Name). They are warnings, not
// errors, so that linting one new file alone passes.
func (c *Coverage) Warnings(specName string) Diagnostics {
	var out Diagnostics
	for _, oc := range c.Operations {
		for _, st := range oc.Statuses {
			if !st.Documented || st.Scripted() {
				continue
			}
			pos := Pos{File: specName, Line: st.Line}
			out = append(out, Diagnostic{
				Pos:      pos,
				Severity: SevWarning,
				Field:    fmt.Sprintf("%s.responses.%d", oc.Operation, st.Status),
				Message: fmt.Sprintf("no scenario scripts documented status %d (%s); scaffold one with: refreshmock new --operation %s --status %d",
					st.Status, st.Description, oc.Operation, st.Status),
				Rule: RuleStatusUnscripted,
			})
		}
	}
	return out
}
