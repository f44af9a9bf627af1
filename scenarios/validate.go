package scenarios

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/refreshmock/refreshmock/spec"
	"github.com/tidwall/gjson"
)

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	varPattern  = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	varName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sameSites   = []string{"Strict", "Lax", "None"}
	methods     = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}
)

// MaxDelay bounds a scripted delay.
const MaxDelay = 60 * time.Second

// prepare checks a decoded scenario against the spec and compiles its
// templates and regular expressions. Every problem goes to sink.
func prepare(sc *Scenario, sp *spec.Spec, sink *diagSink) {
	at := sc.PosOf
	errf := func(field, format string, args ...any) { sink.errorf(at(field), field, format, args...) }

	switch {
	case sc.Name == "":
		errf("name", "missing; give the scenario a unique name such as %q", "refresh-expired")
	case !namePattern.MatchString(sc.Name):
		errf("name", "%q is not a valid name; use letters, digits, '-', '_' and '.', starting with a letter or digit", sc.Name)
	}
	var op *spec.Operation
	switch {
	case sc.Operation == "":
		errf("operation", "missing; name the operationId the scenario belongs to (one of: %s)", operationList(sp))
	default:
		var ok bool
		if op, ok = sp.Operation(sc.Operation); !ok {
			errf("operation", "unknown operation %q%s; the spec %s has: %s", sc.Operation, suggest(sc.Operation, sp.OperationIDs()), sp.Name(), operationList(sp))
		}
	}
	if sc.Match != nil {
		prepareMatch(sc.Match, "match", sc, sink)
	}
	prepareResponse(sc, op, sp, sink)
	if sc.Conform != nil {
		prepareConform(sc, op, sink)
	}
}

func prepareMatch(m *Match, field string, sc *Scenario, sink *diagSink) {
	if m.Token != "" && !slices.Contains(TokenStates, m.Token) {
		sink.errorf(sc.PosOf(field+".token"), field+".token", "unknown token state %q; expected one of: %s", m.Token, strings.Join(TokenStates, ", "))
	}
	for i := range m.Any {
		prepareMatch(&m.Any[i], fmt.Sprintf("%s.any[%d]", field, i), sc, sink)
	}
}

func prepareResponse(sc *Scenario, op *spec.Operation, sp *spec.Spec, sink *diagSink) {
	r := &sc.Response
	at := sc.PosOf
	errf := func(field, format string, args ...any) { sink.errorf(at(field), field, format, args...) }
	if _, ok := sc.pos["response"]; !ok {
		errf("response", "missing; script at least response.status")
		return
	}
	_, statusWritten := sc.pos["response.status"]
	switch {
	case r.Status == 0 && sc.invalid("response.status"):
		// The decoder already said what is wrong with the value.
	case r.Status == 0 && !statusWritten:
		errf("response.status", "missing; give the HTTP status to answer with")
	case r.Status < 100 || r.Status > 599:
		errf("response.status", "%d is not an HTTP status; use 100 to 599", r.Status)
	case op != nil && !op.Documents(r.Status) && !r.AllowUndocumentedStatus:
		errf("response.status", "status %d is not documented for %s (documented: %s); use a documented status or set allow_undocumented_status: true", r.Status, op.ID, statusList(op))
	case op != nil && !op.Documents(r.Status):
		sink.warnf(at("response.status"), "response.status", "status %d is not documented for %s; allowed by allow_undocumented_status", r.Status, op.ID)
	}
	if r.Body != nil && r.BodyTemplate != "" {
		errf("response.body_template", "give either body or body_template, not both")
	}
	if r.Delay != nil {
		if r.Delay.Min > r.Delay.Max {
			errf("response.delay", "min %s is greater than max %s", r.Delay.Min, r.Delay.Max)
		}
		if r.Delay.Max > MaxDelay {
			errf("response.delay", "%s is longer than the %s limit", r.Delay.Max, MaxDelay)
		}
	}
	if r.Fault != "" && !slices.Contains(Faults, r.Fault) {
		errf("response.fault", "unknown fault %q; expected one of: %s", r.Fault, strings.Join(Faults, ", "))
	}
	r.headerTpl = map[string]*tmpl{}
	for name, v := range r.Headers {
		f := "response.headers." + name
		if !httpguts.ValidHeaderFieldName(name) {
			errf(f, "%q is not a valid header name", name)
		}
		if hasAction(v) {
			t, err := parseTemplate(f, v)
			if err != nil {
				sink.errorf(templatePos(sc, f, err), f, "template does not parse: %s", templateMessage(err))
				continue
			}
			r.headerTpl[name] = t
		}
	}
	r.staticHeader = http.Header{}
	for name, v := range r.Headers {
		if r.headerTpl[name] == nil {
			r.staticHeader.Set(name, v)
		}
	}
	r.contentType = []string{cmp.Or(r.ContentType, "application/json")}
	for i := range r.Cookies {
		c := &r.Cookies[i]
		f := fmt.Sprintf("response.cookies[%d]", i)
		if c.Name == "" {
			errf(f+".name", "missing; give the cookie's name")
		}
		if c.SameSite != "" && !slices.Contains(sameSites, c.SameSite) {
			errf(f+".same_site", "%q is not a SameSite value; use Strict, Lax or None", c.SameSite)
		}
		if hasAction(c.Value) {
			t, err := parseTemplate(f+".value", c.Value)
			if err != nil {
				sink.errorf(templatePos(sc, f+".value", err), f+".value", "template does not parse: %s", templateMessage(err))
				continue
			}
			c.valueTpl = t
		}
	}
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			errf("response.body", "cannot be written as JSON: %v", err)
		} else {
			r.bodyJSON = b
		}
	}
	if r.BodyTemplate != "" {
		t, err := parseTemplate("response.body_template", r.BodyTemplate)
		if err != nil {
			sink.errorf(templatePos(sc, "response.body_template", err), "response.body_template", "template does not parse: %s", templateMessage(err))
			return
		}
		r.bodyTmpl = t
	}
	if len(r.headerTpl) == 0 {
		r.sharedHeader = r.staticHeader.Clone()
		r.finishHeader(r.sharedHeader)
	}
	if op == nil || r.Status == 0 || r.Fault == "empty_reply" || r.Fault == "connection_reset" {
		return
	}
	// Render once with a sample request: templates must execute, and the
	// result must keep the spec and the envelope rules.
	out, err := sc.renderAtLoad(SampleData())
	if err != nil {
		field := "response.body_template"
		if r.bodyTmpl == nil {
			field = "response"
		}
		var ee template.ExecError
		if errors.As(err, &ee) && ee.Name != "" {
			// The template's name is the field it was written in.
			field = ee.Name
			err = ee
		}
		sink.errorf(templatePos(sc, field, err), field, "template does not render with a sample request: %s", templateMessage(err))
		return
	}
	if _, err := sc.renderAtLoad(sc.WorstCaseData()); err != nil {
		field := renderErrField(sc, err)
		var ee template.ExecError
		if errors.As(err, &ee) {
			err = ee
		}
		sink.errorf(templatePos(sc, field, err), field, "template does not render with a worst-case request (8 KiB values for every header, cookie, query parameter, body field and variable it names, non-empty loops): %s", templateMessage(err))
		return
	}
	if !r.HasBody() {
		if op.Documents(r.Status) && respHasContent(op, r.Status) {
			errf("response", "status %d documents a body (%s); add body or body_template", r.Status, strings.Join(mustResp(op, r.Status).ContentTypes, ", "))
		}
		return
	}
	field := "response.body"
	if r.bodyTmpl != nil {
		field = "response.body_template"
	}
	ct := out.Header.Get("Content-Type")
	if r.bodyTmpl != nil && spec.IsJSON(ct) && !gjson.ValidBytes(out.Body) {
		msg, line, col := notJSON(r.BodyTemplate, out.Body)
		pos := sc.PosOf(field)
		if base, ok := sc.pos[field+"#content"]; ok && line > 0 {
			pos = base
			pos.Line += line - 1
			if _, block := sc.pos[field+"#block"]; col > 0 && block {
				pos.Col += col - 1
			}
		}
		sink.errorf(pos, field, "renders text that is not JSON with a sample request: %s", msg)
		return
	}
	if !op.Documents(r.Status) {
		return
	}
	header := out.Header.Clone()
	for _, v := range sp.ValidateScripted(op, r.Status, header, out.Body) {
		f := field
		if v.Rule == spec.RuleResponseHeader {
			f = "response.headers"
		}
		sink.diags = append(sink.diags, Diagnostic{Pos: bodyPos(sc, f, v), Severity: SevError, Field: fieldWithPath(f, v.Field), Message: violationMessage(v), Rule: v.Rule})
	}
	for _, v := range op.CheckEnvelope(r.Status, ct, out.Body) {
		sink.diags = append(sink.diags, Diagnostic{Pos: bodyPos(sc, field, v), Severity: SevError, Field: fieldWithPath(field, v.Field), Message: v.Message + "; " + v.HowToFix, Rule: v.Rule})
	}
}

func mustResp(op *spec.Operation, status int) spec.Response {
	r, _ := op.Response(status)
	return r
}

func respHasContent(op *spec.Operation, status int) bool {
	return len(mustResp(op, status).ContentTypes) > 0
}

func statusList(op *spec.Operation) string {
	var s []string
	for _, st := range op.Statuses() {
		s = append(s, strconv.Itoa(st))
	}
	return strings.Join(s, ", ")
}

// fieldWithPath joins a scenario field and a JSON path inside the body:
// response.body + $.organization.id -> response.body.organization.id.
func fieldWithPath(field, jsonPath string) string {
	p := strings.TrimPrefix(strings.TrimPrefix(jsonPath, "$"), ".")
	if p == "" || strings.HasPrefix(jsonPath, "Content-Type") || !strings.HasPrefix(jsonPath, "$") {
		if jsonPath != "" && !strings.HasPrefix(jsonPath, "$") && field == "response.headers" {
			return field + "." + jsonPath
		}
		return field
	}
	return field + "." + p
}

// bodyPos finds the position of the offending value inside a literal body
// when the scenario wrote it, otherwise the body field itself.
func bodyPos(sc *Scenario, field string, v spec.Violation) Pos {
	f := fieldWithPath(field, v.Field)
	f = strings.NewReplacer("[", ".", "]", "").Replace(f)
	if _, ok := sc.pos[f]; ok || field == "response.body" {
		return sc.PosOf(f)
	}
	return sc.PosOf(field)
}

func violationMessage(v spec.Violation) string {
	msg := v.Message
	if v.Value != "" {
		msg += " (got " + v.Value + ")"
	}
	if fix := v.SpecificFix(); fix != "" {
		msg += "; " + strings.TrimSuffix(fix, ".")
	}
	return msg
}

var templateLine = regexp.MustCompile(`^template: [^:]+:(\d+):(?:(\d+):)? ?`)

// templatePos maps a text/template error to the file line of the template
// text.
func templatePos(sc *Scenario, field string, err error) Pos {
	base, ok := sc.pos[field+"#content"]
	if !ok {
		return sc.PosOf(field)
	}
	if m := templateLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		base.Line += line - 1
	}
	return base
}

// renderErrField is the field a render error came from: the template's
// name, which is the field it was written in.
func renderErrField(sc *Scenario, err error) string {
	var ee template.ExecError
	if errors.As(err, &ee) && ee.Name != "" {
		return ee.Name
	}
	if sc.Response.bodyTmpl != nil {
		return "response.body_template"
	}
	return "response"
}

func templateMessage(err error) string {
	msg := err.Error()
	if m := templateLine.FindStringIndex(msg); m != nil {
		msg = msg[m[1]:]
	}
	return plainTypes(msg) + fmt.Sprintf(" (functions: %s; data: .Cookie, .Header, .Query, .Body, .Now, .Token, .Var)", strings.Join(FuncNames, ", "))
}

func prepareConform(sc *Scenario, op *spec.Operation, sink *diagSink) {
	c := sc.Conform
	errf := func(field, format string, args ...any) { sink.errorf(sc.PosOf(field), field, format, args...) }
	known := map[string]bool{}
	for i, v := range c.Vars {
		if !varName.MatchString(v) {
			errf(fmt.Sprintf("conform.vars[%d]", i), "%q is not a variable name; use letters, digits and _", v)
		}
		known[v] = true
	}
	if len(c.Steps) == 0 {
		errf("conform.steps", "missing; give at least one step with a request and an expected status")
	}
	for i := range c.Steps {
		st := &c.Steps[i]
		f := fmt.Sprintf("conform.steps[%d]", i)
		rq := &st.Request
		if rq.Method != "" && !slices.Contains(methods, strings.ToUpper(rq.Method)) {
			errf(f+".request.method", "%q is not an HTTP method; use one of %s", rq.Method, strings.Join(methods, ", "))
		}
		if rq.JSON != nil && rq.Raw != nil {
			errf(f+".request.raw", "give either json or raw, not both")
		}
		for _, ref := range requestVarRefs(rq, f+".request") {
			if !known[ref.name] {
				errf(ref.field, "${%s} is not declared; list it under conform.vars or capture it in an earlier step", ref.name)
				known[ref.name] = true // report once
			}
		}
		if st.Repeat < 0 || st.Repeat > MaxRepeat {
			errf(f+".repeat", "%d is out of range; send a request 1 to %d times", st.Repeat, MaxRepeat)
		}
		if len(st.Expect.Status) == 0 {
			errf(f+".expect.status", "missing; give the status (or list of statuses) the step must answer with")
		}
		for j, s := range st.Expect.Status {
			sf := fmt.Sprintf("%s.expect.status[%d]", f, j)
			if s < 100 || s > 599 {
				errf(sf, "%d is not an HTTP status", s)
			} else if op != nil && !op.Documents(s) && (rq.Path == "" && rq.Method == "") {
				errf(sf, "status %d is not documented for %s (documented: %s)", s, op.ID, statusList(op))
			}
		}
		for j := range st.Expect.Assert {
			a := &st.Expect.Assert[j]
			af := fmt.Sprintf("%s.expect.assert[%d]", f, j)
			if a.Path == "" {
				errf(af+".path", "missing; give a gjson path into the response body, e.g. code")
			}
			_, a.hasEquals = sc.pos[af+".equals"]
			n := 0
			if a.hasEquals {
				n++
			}
			if a.Exists != nil {
				n++
			}
			if a.Matches != "" {
				n++
				re, err := regexp.Compile(a.Matches)
				if err != nil {
					errf(af+".matches", "regular expression does not compile: %v", err)
				}
				a.re = re
			}
			if a.OneOf != nil {
				n++
			}
			if n != 1 {
				errf(af, "an assertion takes exactly one of equals, exists, matches, one_of; got %d", n)
			}
		}
		for name := range st.Capture {
			if !varName.MatchString(name) {
				errf(f+".capture."+name, "%q is not a variable name; use letters, digits and _", name)
			}
			known[name] = true
		}
	}
}

// varRef is a ${VAR} reference and the field that holds it.
type varRef struct{ name, field string }

// requestVarRefs lists the ${VAR} references of a request with the field
// each one is written in, in field order (then name order), so that an
// undeclared variable is reported where it is used.
func requestVarRefs(rq *Request, field string) []varRef {
	var out []varRef
	seen := map[string]bool{}
	add := func(f, text string) {
		for _, m := range varPattern.FindAllStringSubmatch(text, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				out = append(out, varRef{name: m[1], field: f})
			}
		}
	}
	add(field+".method", rq.Method)
	add(field+".path", rq.Path)
	for _, g := range []struct {
		name string
		m    map[string]string
	}{{"headers", rq.Headers}, {"cookies", rq.Cookies}, {"query", rq.Query}} {
		keys := make([]string, 0, len(g.m))
		for k := range g.m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			add(field+"."+g.name+"."+k, k+" "+g.m[k])
		}
	}
	if rq.Raw != nil {
		add(field+".raw", *rq.Raw)
	}
	var walk func(v any, f string)
	walk = func(v any, f string) {
		switch x := v.(type) {
		case string:
			add(f, x)
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				add(f+"."+k, k)
				walk(x[k], f+"."+k)
			}
		case []any:
			for i, e := range x {
				walk(e, fmt.Sprintf("%s.%d", f, i))
			}
		}
	}
	walk(rq.JSON, field+".json")
	add(field+".content_type", rq.ContentType)
	return out
}

// requestVars lists the ${VAR} references of a request, in a stable order.
func requestVars(rq *Request) []string {
	var texts []string
	texts = append(texts, rq.Path, rq.Method, rq.ContentType)
	for _, m := range []map[string]string{rq.Headers, rq.Cookies, rq.Query} {
		for k, v := range m {
			texts = append(texts, k, v)
		}
	}
	if rq.Raw != nil {
		texts = append(texts, *rq.Raw)
	}
	if rq.JSON != nil {
		b, _ := json.Marshal(rq.JSON)
		texts = append(texts, string(b))
	}
	var out []string
	for _, t := range texts {
		for _, m := range varPattern.FindAllStringSubmatch(t, -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	slices.Sort(out)
	return out
}
