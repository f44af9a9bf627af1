package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// The render budget.
//
// text/template has no notion of cost: a loop over a variable, nested
// loops, a range over the length of a request header or an add, or a
// recursive {{template}} can run for hours on one request, and a
// scenario file is loaded by whoever can write to the scenario directory.
// Every render therefore gets a budget: MaxRendered bytes of output per
// template, MaxRenderSteps loop iterations and template calls, and
// MaxRenderTime of wall time, and it stops when the request's context is
// done (the client went away). Going over answers ErrRenderBudget.
//
// Steps are counted by a hidden function call that parseTemplate inserts
// at the top of every range body and every {{define}}d template; the
// function is bound, per render, to that render's budget (the template is
// cloned for it, which costs a few microseconds and only templates with a
// loop or a template call pay it). Recursion through {{template}} is
// refused at load time, so the depth of a render is bounded by the file.

// Budget limits of one render.
const (
	// MaxRendered bounds what one template may write (a body, a header or
	// a cookie value).
	MaxRendered = 1 << 20
	// MaxRenderSteps bounds the loop iterations and template calls of one
	// render.
	MaxRenderSteps = 20_000
	// MaxRenderTime bounds the wall time of one render.
	MaxRenderTime = 50 * time.Millisecond
	// maxPrintfWidth bounds a width or precision in printf: fmt builds the
	// whole string before the output cap can see it.
	maxPrintfWidth = 10_000
)

// ErrRenderBudget is wrapped by the error of a render that went over its
// budget (output, steps or time) or whose request went away.
var ErrRenderBudget = errors.New("render budget exceeded")

// errTooLarge is the write error of a template that wrote past MaxRendered.
var errTooLarge = fmt.Errorf("%w: the template wrote more than %d bytes (1 MiB)", ErrRenderBudget, MaxRendered)

// tickFunc is the name of the hidden step-counting function.
const tickFunc = "_mock_budget_tick"

// budget is the state of one render.
type budget struct {
	ctx      context.Context
	limit    time.Duration
	deadline time.Time
	steps    int
	writes   int
}

// loadRenderTime is the time budget of the renders at load time: ten
// times a request's, so that lint gives the same answer on a busy
// machine (steps and output, which decide most cases, do not depend on
// the machine).
const loadRenderTime = 10 * MaxRenderTime

func newBudget(ctx context.Context, limit time.Duration) *budget {
	if ctx == nil {
		ctx = context.Background()
	}
	return &budget{ctx: ctx, limit: limit, deadline: time.Now().Add(limit)}
}

// heavy bounds the renders of templates with loops or template calls that
// run at once to half the CPUs (at least one).
var heavy = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))

// acquire waits for a heavy slot, within the budget's time and context.
func (b *budget) acquire() error {
	select {
	case heavy <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(time.Until(b.deadline))
	defer t.Stop()
	select {
	case heavy <- struct{}{}:
		return nil
	case <-b.ctx.Done():
		return fmt.Errorf("%w: the request went away (%w)", ErrRenderBudget, b.ctx.Err())
	case <-t.C:
		return fmt.Errorf("%w: waited %s for a CPU behind other costly renders", ErrRenderBudget, b.limit)
	}
}

func (b *budget) release() { <-heavy }

// tick counts a step; every 64 steps it looks at the clock and the
// context too. The clock is only looked at after 64 steps or writes, so
// that a small template is never cut short because its goroutine waited
// for a CPU on a busy machine.
func (b *budget) tick() (string, error) {
	b.steps++
	if b.steps > MaxRenderSteps {
		return "", fmt.Errorf("%w: more than %d loop iterations and template calls", ErrRenderBudget, MaxRenderSteps)
	}
	if b.steps&63 == 0 {
		return "", b.check()
	}
	return "", nil
}

// check reports a render past its time or whose request went away.
func (b *budget) check() error {
	if err := b.ctx.Err(); err != nil {
		return fmt.Errorf("%w: the request went away (%w)", ErrRenderBudget, err)
	}
	if time.Now().After(b.deadline) {
		return fmt.Errorf("%w: rendering took longer than %s", ErrRenderBudget, b.limit)
	}
	return nil
}

// wrote is called on every write; every 64 writes it checks the clock.
func (b *budget) wrote() error {
	if b.writes++; b.writes&63 == 0 {
		return b.check()
	}
	return nil
}

// instrument inserts a tick at the top of every range body and of every
// defined template of t, and reports whether it inserted any: a template
// without loops or template calls needs no step counting.
func instrument(t *template.Template) bool {
	any := false
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		if tt.Name() != t.Name() {
			prependTick(tt.Tree, tt.Tree.Root, tt.Tree.Root.Position())
			any = true
		}
		if instrumentList(tt.Tree, tt.Tree.Root) {
			any = true
		}
	}
	return any
}

func instrumentList(tree *parse.Tree, l *parse.ListNode) bool {
	if l == nil {
		return false
	}
	any := false
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.RangeNode:
			if n.List == nil {
				n.List = &parse.ListNode{NodeType: parse.NodeList, Pos: n.Position()}
			}
			instrumentList(tree, n.List)
			instrumentList(tree, n.ElseList)
			prependTick(tree, n.List, n.Position())
			any = true
		case *parse.IfNode:
			any = instrumentList(tree, n.List) || any
			any = instrumentList(tree, n.ElseList) || any
		case *parse.WithNode:
			any = instrumentList(tree, n.List) || any
			any = instrumentList(tree, n.ElseList) || any
		case *parse.TemplateNode:
			any = true
		}
	}
	return any
}

// prependTick puts {{ _mock_budget_tick }} first in l, positioned at pos
// so that a budget error points at the loop or the template.
func prependTick(tree *parse.Tree, l *parse.ListNode, pos parse.Pos) {
	id := parse.NewIdentifier(tickFunc).SetTree(tree).SetPos(pos)
	cmd := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{id}}
	pipe := &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Cmds: []*parse.CommandNode{cmd}}
	act := &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Pipe: pipe}
	l.Nodes = append([]parse.Node{act}, l.Nodes...)
}

// checkRecursion refuses a template that calls itself, directly or
// through others.
func checkRecursion(t *template.Template) error {
	calls := map[string][]*parse.TemplateNode{}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			collectCalls(tt.Tree.Root, func(n *parse.TemplateNode) { calls[tt.Name()] = append(calls[tt.Name()], n) })
		}
	}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("template %q calls itself (%s); scenario templates cannot recurse", name, joinArrow(append(path, name)))
		case 2:
			return nil
		}
		state[name] = 1
		for _, c := range calls[name] {
			if err := visit(c.Name, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		return nil
	}
	return visit(t.Name(), nil)
}

func joinArrow(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += " -> "
		}
		out += strconv.Quote(n)
	}
	return out
}

func collectCalls(n parse.Node, f func(*parse.TemplateNode)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			collectCalls(c, f)
		}
	case *parse.TemplateNode:
		f(n)
	case *parse.RangeNode:
		collectCalls(n.List, f)
		collectCalls(n.ElseList, f)
	case *parse.IfNode:
		collectCalls(n.List, f)
		collectCalls(n.ElseList, f)
	case *parse.WithNode:
		collectCalls(n.List, f)
		collectCalls(n.ElseList, f)
	}
}

// boundedPrintf is fmt.Sprintf refusing widths and precisions over
// maxPrintfWidth ({{ printf "%0999999999d" 0 }} would build a gigabyte
// before any cap sees it).
func boundedPrintf(format string, args ...any) (string, error) {
	argi := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		for i++; i < len(format); i++ {
			c := format[i]
			switch {
			case c == '%' && format[i-1] == '%':
			case c >= '0' && c <= '9':
				j := i
				for j < len(format) && format[j] >= '0' && format[j] <= '9' {
					j++
				}
				if n, err := strconv.Atoi(format[i:j]); err != nil || n > maxPrintfWidth {
					return "", fmt.Errorf("%w: printf width or precision %s is over %d", ErrRenderBudget, format[i:j], maxPrintfWidth)
				}
				i = j - 1
				continue
			case c == '*':
				if argi < len(args) {
					if n, err := toInt64(args[argi]); err == nil && (n > maxPrintfWidth || n < -maxPrintfWidth) {
						return "", fmt.Errorf("%w: printf width or precision %d is over %d", ErrRenderBudget, n, maxPrintfWidth)
					}
				}
				argi++
				continue
			case c == '+' || c == '-' || c == ' ' || c == '#' || c == '.' || c == '[' || c == ']':
				continue
			default:
				argi++
			}
			break
		}
	}
	return fmt.Sprintf(format, args...), nil
}

// worstCaseValue is the length of every value in WorstCaseData: as long
// as a common proxy's whole header limit (8 KiB), so that a template that
// echoes a few values still fits MaxRendered.
const worstCaseValue = 8 << 10

// WorstCaseData is the second request templates are checked with at load
// time, so that an error inside a loop body or a template that is only
// costly with long input is found by lint and not by a client: every
// header, cookie, query parameter, body field and variable the scenario's
// templates name in a string literal ({{ .Header "X-Trace" }}) is there
// with an 8 KiB value, and so are a few dozen others, so that every range
// over a request map runs.
func (s *Scenario) WorstCaseData() *RenderData {
	names := s.templateLiterals()
	d := SampleData()
	long := strings.Repeat("x", worstCaseValue)
	h := http.Header{"Content-Type": {"application/json"}}
	for i := range 32 {
		names = append(names, fmt.Sprintf("X-Worst-Case-%d", i))
	}
	body := map[string]any{}
	for _, n := range names {
		h[http.CanonicalHeaderKey(n)] = []string{long, long}
		d.Request.Cookies[n] = long
		d.Request.Query[n] = []string{long, long}
		d.Vars[n] = long
		body[n] = long
	}
	d.Request.Headers = h
	d.Request.Body, _ = json.Marshal(body)
	return d
}

// templateLiterals lists the string literals of the scenario's templates
// that could name a request value: at most 64, each at most 256 bytes.
func (s *Scenario) templateLiterals() []string {
	var out []string
	seen := map[string]bool{}
	add := func(t *tmpl) {
		if t == nil {
			return
		}
		for _, tt := range t.Templates() {
			if tt.Tree == nil {
				continue
			}
			walkStrings(tt.Tree.Root, func(v string) {
				if v != "" && len(v) <= 256 && !seen[v] && len(out) < 64 {
					seen[v] = true
					out = append(out, v)
				}
			})
		}
	}
	r := &s.Response
	names := make([]string, 0, len(r.headerTpl))
	for name := range r.headerTpl {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		add(r.headerTpl[name])
	}
	for i := range r.Cookies {
		add(r.Cookies[i].valueTpl)
	}
	add(r.bodyTmpl)
	return out
}

func walkStrings(n parse.Node, f func(string)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				walkStrings(c, f)
			}
		}
	case *parse.StringNode:
		f(n.Text)
	case *parse.ActionNode:
		walkStrings(n.Pipe, f)
	case *parse.PipeNode:
		if n != nil {
			for _, c := range n.Cmds {
				walkStrings(c, f)
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkStrings(a, f)
		}
	case *parse.ChainNode:
		walkStrings(n.Node, f)
	case *parse.RangeNode:
		walkStrings(n.Pipe, f)
		walkStrings(n.List, f)
		walkStrings(n.ElseList, f)
	case *parse.IfNode:
		walkStrings(n.Pipe, f)
		walkStrings(n.List, f)
		walkStrings(n.ElseList, f)
	case *parse.WithNode:
		walkStrings(n.Pipe, f)
		walkStrings(n.List, f)
		walkStrings(n.ElseList, f)
	case *parse.TemplateNode:
		walkStrings(n.Pipe, f)
	}
}

// budgetError is a render error that went over the budget, worded without
// the hidden tick function's name; it unwraps to the original.
type budgetError struct {
	msg string
	err error
}

func (e *budgetError) Error() string { return e.msg }
func (e *budgetError) Unwrap() error { return e.err }

var tickCall = regexp.MustCompile(`executing "[^"]*" at <` + tickFunc + `>: error calling ` + tickFunc + `: `)

// cleanBudgetError rewords a budget error of text/template, keeping it a
// template.ExecError (with the template's name and position) that
// unwraps to ErrRenderBudget.
func cleanBudgetError(err error) error {
	var ee template.ExecError
	if err == nil || !errors.Is(err, ErrRenderBudget) || !errors.As(err, &ee) {
		return err
	}
	msg := ee.Err.Error()
	if clean := tickCall.ReplaceAllString(msg, ""); clean != msg {
		return template.ExecError{Name: ee.Name, Err: &budgetError{msg: clean, err: ee.Err}}
	}
	return err
}
