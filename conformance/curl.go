package conformance

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// maxCurlBody is the largest body a curl command shows inline.
const maxCurlBody = 2048

// segment is a piece of a shell argument: literal text or a variable.
type segment struct {
	text string
	ref  string // variable name, when the piece is ${ref}
}

// splitVars cuts s at occurrences of variable values (longest first).
func splitVars(s string, vars map[string]string) []segment {
	type kv struct{ name, value string }
	var list []kv
	for n, v := range vars {
		if len(v) >= minSecretLen {
			list = append(list, kv{n, v})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if len(list[i].value) != len(list[j].value) {
			return len(list[i].value) > len(list[j].value)
		}
		return list[i].name < list[j].name
	})
	segs := []segment{{text: s}}
	for _, e := range list {
		var next []segment
		for _, sg := range segs {
			if sg.ref != "" || !strings.Contains(sg.text, e.value) {
				next = append(next, sg)
				continue
			}
			parts := strings.Split(sg.text, e.value)
			for i, p := range parts {
				if i > 0 {
					next = append(next, segment{ref: e.name})
				}
				if p != "" {
					next = append(next, segment{text: p})
				}
			}
		}
		segs = next
	}
	return segs
}

// shellArg renders s as one shell word: variable values become ${NAME}
// (so that the command runs after exporting them), other literal pieces
// pass through lit (which redacts).
func shellArg(s string, vars map[string]string, lit func(string) string) string {
	segs := splitVars(s, vars)
	hasRef := false
	for _, sg := range segs {
		if sg.ref != "" {
			hasRef = true
		}
	}
	if !hasRef {
		return "'" + strings.ReplaceAll(lit(s), "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, sg := range segs {
		if sg.ref != "" {
			b.WriteString("${" + sg.ref + "}")
			continue
		}
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`")
		b.WriteString(r.Replace(lit(sg.text)))
	}
	b.WriteByte('"')
	return b.String()
}

// curl renders a command that reproduces o. Variables appear as ${NAME};
// other secrets as fingerprints.
func (cr *caseRun) curl(o *outRequest) string {
	r := cr.r
	cr.mu.Lock()
	vars := make(map[string]string, len(cr.vars))
	for k, v := range cr.vars {
		vars[k] = v
	}
	cr.mu.Unlock()
	u := *r.base
	u.Path = strings.TrimSuffix(r.base.Path, "/") + o.Path
	if len(o.Query) > 0 {
		u.RawQuery = o.Query.Encode()
	}
	var b strings.Builder
	b.WriteString("curl -sS -i")
	if r.cfg.Insecure {
		b.WriteString(" --insecure")
	}
	if r.cfg.CAFile != "" {
		b.WriteString(" --cacert " + shellArg(r.cfg.CAFile, nil, identity))
	}
	if o.Method != http.MethodGet || o.HasBody {
		b.WriteString(" -X " + o.Method)
	}
	fmt.Fprintf(&b, " %s", shellArg(u.String(), vars, r.red.String))
	names := make([]string, 0, len(o.Header))
	for k := range o.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	if o.HasBody && o.ContentType != "" {
		fmt.Fprintf(&b, " -H %s", shellArg("Content-Type: "+o.ContentType, nil, identity))
	}
	for _, k := range names {
		if strings.EqualFold(k, "Content-Type") && o.HasBody {
			continue
		}
		for _, v := range o.Header[k] {
			lit := func(s string) string { return r.red.headerValue(k, s) }
			fmt.Fprintf(&b, " -H %s", shellArg(k+": "+v, varsIn(v, vars), func(s string) string {
				if strings.HasPrefix(s, k+": ") {
					return k + ": " + lit(strings.TrimPrefix(s, k+": "))
				}
				return lit(s)
			}))
		}
	}
	if len(o.Cookies) > 0 {
		parts := make([]string, len(o.Cookies))
		for i, c := range o.Cookies {
			parts[i] = c.Name + "=" + c.Value
		}
		fmt.Fprintf(&b, " -b %s", shellArg(strings.Join(parts, "; "), vars, func(s string) string { return redactCookieText(s) }))
	}
	if o.HasBody {
		body := string(o.Body)
		if len(body) > maxCurlBody {
			fmt.Fprintf(&b, " --data-binary @body.json  # a %d-byte body starting %s", len(body), shellArg(r.red.Shorten(body, 80), nil, identity))
		} else {
			fmt.Fprintf(&b, " --data-binary %s", shellArg(body, vars, r.red.String))
		}
	}
	return b.String()
}

func identity(s string) string { return s }

// varsIn keeps the variables whose values occur in s.
func varsIn(s string, vars map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range vars {
		if len(v) >= minSecretLen && strings.Contains(s, v) {
			out[k] = v
		}
	}
	return out
}

// redactCookieText fingerprints cookie values in a literal piece of a
// Cookie header ("a=1; b=2", or a piece between variables such as "; b=").
func redactCookieText(s string) string {
	parts := strings.Split(s, "; ")
	for i, p := range parts {
		name, value, ok := strings.Cut(p, "=")
		if ok && value != "" {
			parts[i] = name + "=" + Fingerprint(value)
		}
	}
	return strings.Join(parts, "; ")
}
