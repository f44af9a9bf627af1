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
	"sort"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/refreshmock/refreshmock/spec"
	"go.yaml.in/yaml/v3"
)

//go:embed *.yaml mock.vars
var shipped embed.FS

// ConformFiles returns the shipped files for running conform against the
// mock itself: mock-setup.yaml (steps that mint live tokens) and mock.vars
// (the mock's test tokens), so that an installed binary can write them out
// (scenarios export).
func ConformFiles() []Source {
	var out []Source
	for _, name := range []string{"mock-setup.yaml", "mock.vars"} {
		data, err := fs.ReadFile(shipped, name)
		if err != nil {
			continue
		}
		out = append(out, Source{Name: "scenarios/" + name, Data: data, Builtin: true})
	}
	return out
}

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

// DefaultMaxFileSize is the largest scenario file ReadFiles reads by
// default (1 MiB): the shipped files are under 20 KiB each, and a file is
// decoded whole, into a few times its size.
const DefaultMaxFileSize int64 = 1 << 20

// ReadPaths reads scenario files from files and directories (not
// recursively: *.yaml and *.yml), in a stable order, with the checks and
// the size cap (DefaultMaxFileSize) of ReadFiles. A file that fails them
// is an error here, its diagnostics as the message.
func ReadPaths(paths ...string) ([]Source, error) {
	srcs, diags, err := ReadFiles(paths, 0)
	if err != nil {
		return nil, err
	}
	if errs := diags.Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("read scenarios: %w", errs)
	}
	return srcs, nil
}

// ReadFiles reads scenario files from files and directories (not
// recursively: *.yaml and *.yml), in a stable order. Only regular files
// are read (a symlink to one is fine): a device (a symlink to /dev/zero),
// a FIFO (which would block the reader), a socket or a directory named
// *.yaml is reported as "FILE: file: not a regular file (...)", and a file
// over maxSize bytes (0 means DefaultMaxFileSize) as "FILE: file: larger
// than ...": one error diagnostic per file, positioned at the file, the
// other files read as usual. The error is for a path that does not exist
// or a directory that cannot be listed.
func ReadFiles(paths []string, maxSize int64) ([]Source, Diagnostics, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxFileSize
	}
	var out []Source
	var diags Diagnostics
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("read scenarios: %w", err)
		}
		files := []string{p}
		if info.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, nil, fmt.Errorf("read scenarios from %s: %w", p, err)
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
			data, problem := readRegular(f, maxSize)
			if problem != "" {
				diags = append(diags, Diagnostic{Pos: Pos{File: f}, Severity: SevError, Field: "file", Message: problem})
				continue
			}
			out = append(out, Source{Name: f, Data: data})
		}
	}
	diags.Sort()
	return out, diags, nil
}

// readRegular reads a regular file of at most maxSize bytes, or says why
// not. The file is opened without blocking (a FIFO would wait for a
// writer) and checked through the open descriptor, so that a file swapped
// for a FIFO or a device between a look and the read is still refused;
// the read is capped too, for a file that grows while it is read.
func readRegular(name string, maxSize int64) ([]byte, string) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, "cannot read: " + pathErrText(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, "cannot read: " + pathErrText(err)
	}
	if !info.Mode().IsRegular() {
		kind := "not a regular file"
		switch m := info.Mode(); {
		case m&fs.ModeNamedPipe != 0:
			kind += " (a named pipe)"
		case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
			kind += " (a device)"
		case m&fs.ModeSocket != 0:
			kind += " (a socket)"
		case m.IsDir():
			kind += " (a directory)"
		}
		if li, err := os.Lstat(name); err == nil && li.Mode()&fs.ModeSymlink != 0 {
			if target, err := os.Readlink(name); err == nil {
				kind += fmt.Sprintf(", through a symlink to %s", target)
			}
		}
		return nil, kind + "; scenario files must be regular files: replace it with one or move it out of the directory"
	}
	tooLarge := fmt.Sprintf("larger than %s (the scenario file size cap); split it into several files, or raise the cap with --max-scenario-file", formatSize(maxSize))
	if info.Size() > maxSize {
		return nil, tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, "cannot read: " + pathErrText(err)
	}
	if int64(len(data)) > maxSize {
		return nil, tooLarge
	}
	return data, ""
}

// pathErrText is an error's text without the path, which the diagnostic
// gives already.
func pathErrText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// formatSize writes a byte count as 1 MiB, 512 KiB or 1000 bytes.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Set is a loaded, validated, immutable set of scenarios.
type Set struct {
	spec     *spec.Spec
	list     []*Scenario
	byName   map[string]*Scenario
	files    []string
	warnings Diagnostics
	// shipped names the scenarios that came from the builtin layer of
	// LoadCombined; overrides lists what the user's layer replaced.
	shipped   map[string]bool
	overrides []Override
}

// Shipped reports whether the named scenario is a shipped one (the
// builtin layer of LoadWithBuiltin or LoadCombined), not from a user's
// file. Sets loaded with Load have no shipped layer.
func (s *Set) Shipped(name string) bool { return s.shipped[name] }

// Overrides lists the shipped scenarios the user's files replaced, and
// the shipped defaults they took over from, in load order.
func (s *Set) Overrides() []Override { return s.overrides }

// Replaced says, one line each, which user scenarios replaced a shipped
// scenario (Overrides, as text).
func (s *Set) Replaced() []string {
	var out []string
	for _, o := range s.overrides {
		out = append(out, o.String())
	}
	return out
}

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
	var builtin, user []Source
	for _, src := range sources {
		if src.Builtin {
			builtin = append(builtin, src)
		} else {
			user = append(user, src)
		}
	}
	if len(user) == 0 {
		// The shipped set alone: loaded as given, every problem reported.
		return LoadCombined(ctx, sp, nil, builtin)
	}
	return LoadCombined(ctx, sp, builtin, user)
}

// LoadOptions tunes LoadWithBuiltin.
type LoadOptions struct {
	// NoBuiltin leaves the shipped scenarios out (--no-builtin-scenarios):
	// only the files in paths are loaded.
	NoBuiltin bool
	// MaxFileSize caps each file read from paths; 0 means
	// DefaultMaxFileSize.
	MaxFileSize int64
}

// LoadWithBuiltin loads the user's scenario files and directories (paths,
// read with ReadFiles) on top of the shipped scenarios, the way serve,
// lint and conform take --scenarios DIR: the user's files add to the
// shipped set rather than replace it. The rules are those of
// LoadCombined; opts.NoBuiltin loads the user's files alone. With no paths
// the result is the shipped set (or, with NoBuiltin, an empty set).
//
// A path that does not exist is the error; a file that is not regular or
// is over the size cap is an error diagnostic (and a nil set, like any
// other invalid file). Set.Overrides says which shipped scenarios the
// user's files replaced, for the log and GET /__mock/scenarios.
func LoadWithBuiltin(ctx context.Context, sp *spec.Spec, paths []string, opts LoadOptions) (*Set, Diagnostics, error) {
	user, diags, err := ReadFiles(paths, opts.MaxFileSize)
	if err != nil {
		return nil, nil, err
	}
	if n := len(diags.Errors()); n > 0 {
		return nil, diags, fmt.Errorf("%w: %d error(s)", ErrInvalid, n)
	}
	var builtin []Source
	if !opts.NoBuiltin {
		builtin = Embedded()
	}
	return LoadCombined(ctx, sp, builtin, user)
}

// Override records a shipped scenario that a user's file took the place
// of.
type Override struct {
	// Name is the shipped scenario's name.
	Name string `json:"name"`
	// Shipped is where the shipped scenario is written.
	Shipped Pos `json:"shipped"`
	// By is where the user's scenario is written.
	By Pos `json:"by"`
	// Default is true when the user's scenario (By, under another name)
	// took over as the operation's default: the shipped scenario Name
	// stays in the set, no longer the default. When false, the user's
	// scenario of the same name replaced the shipped one whole.
	Default bool `json:"default,omitempty"`
}

// String says what happened in one line, for logs.
func (o Override) String() string {
	if o.Default {
		return fmt.Sprintf("the default scenario at %s takes over from the shipped default %q (%s)", o.By, o.Name, o.Shipped)
	}
	return fmt.Sprintf("scenario %q at %s replaces the shipped one (%s)", o.Name, o.By, o.Shipped)
}

// LoadCombined loads two layers of scenario files into one set: builtin
// (the shipped scenarios; nil for none) and user (the user's files). A
// user scenario with the name of a shipped one replaces it whole; a user
// scenario marked default takes that role over from the shipped default of
// its operation; shipped scenarios of operations the spec does not have
// are left out (so that --spec other-api.yaml needs no flag). Names must
// be unique within the user's files. Shipped scenarios come first in load
// order, then the user's, so that match-rule ties (same priority, as many
// conditions) go to the shipped ones. Errors and cancellation are as for
// LoadContext.
func LoadCombined(ctx context.Context, sp *spec.Spec, builtin, user []Source) (*Set, Diagnostics, error) {
	sink := &diagSink{}
	set := &Set{spec: sp, byName: map[string]*Scenario{}, shipped: map[string]bool{}}
	type parsed struct {
		name    string
		scs     []*Scenario
		builtin bool
	}
	parseAll := func(srcs []Source, builtin bool) ([]parsed, error) {
		var out []parsed
		for _, src := range srcs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			scs := parseFile(ctx, src, sink)
			for _, sc := range scs {
				sc.builtin = builtin
			}
			out = append(out, parsed{src.Name, scs, builtin})
		}
		return out, nil
	}
	users, err := parseAll(user, false)
	if err != nil {
		return nil, sink.diags, fmt.Errorf("load scenarios: %w", err)
	}
	byUser, userDefault := map[string]*Scenario{}, map[string]*Scenario{}
	for _, f := range users {
		for _, sc := range f.scs {
			if _, ok := byUser[sc.Name]; !ok && sc.Name != "" {
				byUser[sc.Name] = sc
			}
			if _, ok := userDefault[sc.Operation]; !ok && sc.Default {
				userDefault[sc.Operation] = sc
			}
		}
	}
	builtins, err := parseAll(builtin, true)
	if err != nil {
		return nil, sink.diags, fmt.Errorf("load scenarios: %w", err)
	}
	for i := range builtins {
		kept := builtins[i].scs[:0]
		for _, sc := range builtins[i].scs {
			if _, ok := sp.Operation(sc.Operation); !ok {
				continue
			}
			if by, ok := byUser[sc.Name]; ok {
				set.overrides = append(set.overrides, Override{Name: sc.Name, Shipped: sc.PosOf("name"), By: by.PosOf("name")})
				continue
			}
			if by, ok := userDefault[sc.Operation]; ok && sc.Default {
				sc.Default = false
				set.overrides = append(set.overrides, Override{Name: sc.Name, Shipped: sc.PosOf("default"), By: by.PosOf("default"), Default: true})
			}
			set.shipped[sc.Name] = true
			kept = append(kept, sc)
		}
		builtins[i].scs = kept
	}
	for _, f := range append(builtins, users...) {
		if f.builtin && len(f.scs) == 0 {
			continue // a shipped file wholly replaced, or for another spec
		}
		set.files = append(set.files, f.name)
		for _, sc := range f.scs {
			if err := ctx.Err(); err != nil {
				return nil, sink.diags, fmt.Errorf("load scenarios: %w", err)
			}
			prepare(sc, sp, sink)
			if prev, dup := set.byName[sc.Name]; dup && sc.Name != "" {
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

// parseFile decodes every YAML document of a file into a scenario.
func parseFile(ctx context.Context, src Source, sink *diagSink) []*Scenario {
	if pos, b, ok := firstInvalidUTF8(src.Data); ok {
		// The YAML parser would say "invalid leading UTF-8 octet" at the
		// start of the file; say where the byte is.
		sink.errorf(Pos{File: src.Name, Line: pos.Line, Col: pos.Col}, "", "the file is not UTF-8: byte 0x%02x does not start a UTF-8 character; save the file as UTF-8", b)
		return nil
	}
	var out []*Scenario
	dec := yaml.NewDecoder(bytes.NewReader(src.Data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			e := yamlSyntax(ctx, src.Data, err)
			sink.errorf(Pos{File: src.Name, Line: e.line, Col: e.col}, "", "%s; fix the YAML before anything else in this file can be checked", e.message())
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
		recordBlockStarts(root, sc, src.Name, src.Data)
		out = append(out, sc)
	}
	return out
}

// recordBlockStarts records where each scalar's text starts, as
// "FIELD#content", to map template errors to lines. A block scalar's (| or
// >) content starts on the next line, at the
// column of that line's first character; "#block" marks it.
func recordBlockStarts(root *yaml.Node, sc *Scenario, file string, data []byte) {
	var lines [][]byte
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if v.Kind == yaml.ScalarNode {
				pos := Pos{File: file, Line: v.Line, Col: v.Column}
				if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
					if lines == nil {
						lines = bytes.Split(data, []byte("\n"))
					}
					pos.Line++
					if pos.Line <= len(lines) {
						l := lines[pos.Line-1]
						pos.Col = len(l) - len(bytes.TrimLeft(l, " ")) + 1
					}
					sc.pos[p+"#block"] = pos
				}
				sc.pos[p+"#content"] = pos
			}
			walk(v, p)
		}
	}
	walk(root, "")
}

// Operations lists the operation ids a set of scenarios may use, for
// messages.
func operationList(sp *spec.Spec) string { return strings.Join(sp.OperationIDs(), ", ") }

// firstInvalidUTF8 finds the first byte of data that is not valid UTF-8,
// with its line and column (in characters, from 1).
func firstInvalidUTF8(data []byte) (Pos, byte, bool) {
	if utf8.Valid(data) {
		return Pos{}, 0, false
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return Pos{Line: line, Col: col}, data[i], true
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return Pos{}, 0, false
}
