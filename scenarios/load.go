package scenarios

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"sort"
	"strconv"
	"slices"
	"strings"

	"github.com/refreshmock/refreshmock/spec"
	"go.yaml.in/yaml/v3"
)

//go:embed *.yaml
var shipped embed.FS

// Source is the content of one scenario file.
type Source struct {
	Name string
	Data []byte
	// Builtin marks a shipped file: a scenario of another source with the
	// same name replaces a builtin one instead of clashing with it.
	Builtin bool
}

// Embedded returns the shipped scenario files, in name order.
func Embedded() []Source {
	entries, _ := fs.ReadDir(shipped, ".")
	var out []Source
	for _, e := range entries {
		if !IsScenarioFile(e.Name()) {
			continue
		}
		data, err := fs.ReadFile(shipped, e.Name())
		if err != nil {
			continue
		}
		out = append(out, Source{Name: "scenarios/" + e.Name(), Data: data, Builtin: true})
	}
	return out
}

// IsScenarioFile reports whether a file name is read as scenarios:
// *.yaml and *.yml, except conform setup files (*-setup.yaml, *-setup.yml,
// such as mock-setup.yaml), which a directory may hold beside them.
func IsScenarioFile(name string) bool {
	lower := strings.ToLower(filepath.Base(name))
	ext := filepath.Ext(lower)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	return !strings.HasSuffix(strings.TrimSuffix(lower, ext), "-setup")
}

// ReadPaths reads scenario files from files and directories (not
// recursively: *.yaml and *.yml), in a stable order.
func ReadPaths(paths ...string) ([]Source, error) {
	var out []Source
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read scenarios: %w", err)
		}
		files := []string{p}
		if info.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("read scenarios from %s: %w", p, err)
			}
			files = files[:0]
			for _, e := range entries {
				if !e.IsDir() && IsScenarioFile(e.Name()) {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
			sort.Strings(files)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read scenarios: %w", err)
			}
			out = append(out, Source{Name: f, Data: data})
		}
	}
	return out, nil
}

// Set is a loaded, validated, immutable set of scenarios.
type Set struct {
	spec     *spec.Spec
	list     []*Scenario
	byName   map[string]*Scenario
	files    []string
	warnings Diagnostics
	replaced []string
}

// Replaced says, one line each, which user scenarios replaced a shipped
// scenario of the same name.
func (s *Set) Replaced() []string { return s.replaced }

// Spec returns the document the set was validated against.
func (s *Set) Spec() *spec.Spec { return s.spec }

// All returns the scenarios in load order.
func (s *Set) All() []*Scenario { return s.list }

// Files lists the files the set was loaded from.
func (s *Set) Files() []string { return s.files }

// Warnings returns the warnings found while loading.
func (s *Set) Warnings() Diagnostics { return s.warnings }

// Get returns the scenario with the given name.
func (s *Set) Get(name string) (*Scenario, bool) {
	sc, ok := s.byName[name]
	return sc, ok
}

// Names lists every scenario name, sorted.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.list))
	for _, sc := range s.list {
		out = append(out, sc.Name)
	}
	sort.Strings(out)
	return out
}

// ForOperation returns the operation's scenarios in load order.
func (s *Set) ForOperation(opID string) []*Scenario {
	var out []*Scenario
	for _, sc := range s.list {
		if sc.Operation == opID {
			out = append(out, sc)
		}
	}
	return out
}

// Default returns the operation's default scenario, or nil.
func (s *Set) Default(opID string) *Scenario {
	for _, sc := range s.list {
		if sc.Operation == opID && sc.Default {
			return sc
		}
	}
	return nil
}

// Load parses and validates sources against sp. It returns the set and
// its warnings, or a nil set and every diagnostic (errors and warnings,
// sorted) when any source has an error. It is LoadContext without
// cancellation.
func Load(sp *spec.Spec, sources []Source) (*Set, Diagnostics) {
	set, diags, _ := LoadContext(context.Background(), sp, sources)
	return set, diags
}

// LoadContext is Load that stops early when ctx is done (SIGINT while a
// large or hostile file is loading): it then returns a nil set, the
// diagnostics found so far and ctx's error. Otherwise the error is nil
// when the set loaded, or wraps ErrInvalid when a source has an error.
func LoadContext(ctx context.Context, sp *spec.Spec, sources []Source) (*Set, Diagnostics, error) {
	sink := &diagSink{}
	set := &Set{spec: sp, byName: map[string]*Scenario{}}
	for _, src := range sources {
		if err := ctx.Err(); err != nil {
			return nil, sink.diags, fmt.Errorf("load scenarios: %w", err)
		}
		set.files = append(set.files, src.Name)
		for _, sc := range parseFile(ctx, src, sink) {
			sc.builtin = src.Builtin
			prepare(sc, sp, sink)
			if prev, dup := set.byName[sc.Name]; dup && prev.builtin && !sc.builtin {
				set.list = slices.DeleteFunc(set.list, func(o *Scenario) bool { return o == prev })
				set.replaced = append(set.replaced, fmt.Sprintf("%s: scenario %q replaces the shipped one of that name (%s)", sc.PosOf("name"), sc.Name, prev.PosOf("name")))
			} else if dup && sc.Name != "" {
				sink.errorf(sc.PosOf("name"), "name", "duplicate scenario name %q; it is already used at %s; names must be unique across all files", sc.Name, prev.PosOf("name"))
				continue
			}
			if sc.Name != "" {
				set.byName[sc.Name] = sc
			}
			set.list = append(set.list, sc)
		}
	}
	defaults := map[string]*Scenario{}
	for _, sc := range set.list {
		if !sc.Default {
			continue
		}
		if prev, ok := defaults[sc.Operation]; ok {
			sink.errorf(sc.PosOf("default"), "default", "operation %s already has a default scenario, %q at %s; mark only one", sc.Operation, prev.Name, prev.PosOf("default"))
			continue
		}
		defaults[sc.Operation] = sc
	}
	diags := sink.diags
	diags.Sort()
	if err := ctx.Err(); err != nil {
		return nil, diags, fmt.Errorf("load scenarios: %w", err)
	}
	if n := len(diags.Errors()); n > 0 {
		return nil, diags, fmt.Errorf("%w: %d error(s)", ErrInvalid, n)
	}
	set.warnings = diags
	return set, diags, nil
}

// LoadPaths reads and loads files and directories; with no paths it loads
// the embedded set.
func LoadPaths(sp *spec.Spec, paths ...string) (*Set, Diagnostics, error) {
	srcs := Embedded()
	if len(paths) > 0 {
		var err error
		if srcs, err = ReadPaths(paths...); err != nil {
			return nil, nil, err
		}
	}
	return LoadContext(context.Background(), sp, srcs)
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseFile decodes every YAML document of a file into a scenario.
func parseFile(ctx context.Context, src Source, sink *diagSink) []*Scenario {
	var out []*Scenario
	dec := yaml.NewDecoder(bytes.NewReader(src.Data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 1
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			msg = yamlLine.ReplaceAllString(msg, "")
			msg = strings.TrimLeft(msg, ": ")
			sink.errorf(Pos{File: src.Name, Line: line, Col: 1}, "", "YAML syntax error: %s; fix the YAML before anything else in this file can be checked", msg)
			break
		}
		if ctx.Err() != nil {
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if isNull(root) {
			continue
		}
		sc := &Scenario{pos: positions{}}
		d := &decoder{file: src.Name, sink: sink, pos: sc.pos, ctx: ctx}
		sc.Pos = d.at(root)
		d.decode(root, reflectValue(sc), "")
		// Positions of template blocks, to map template errors to lines.
		recordBlockStarts(root, sc, src.Name)
		out = append(out, sc)
	}
	return out
}

func recordBlockStarts(root *yaml.Node, sc *Scenario, file string) {
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if v.Kind == yaml.ScalarNode {
				line := v.Line
				if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
					line++
				}
				sc.pos[p+"#content"] = Pos{File: file, Line: line, Col: v.Column}
			}
			walk(v, p)
		}
	}
	walk(root, "")
}

// Operations lists the operation ids a set of scenarios may use, for
// messages.
func operationList(sp *spec.Spec) string { return strings.Join(sp.OperationIDs(), ", ") }
