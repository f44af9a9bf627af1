package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxSetupBytes caps a setup file.
const MaxSetupBytes = 1 << 20

// Setup is a conformance run's setup file: steps in the conform step format
// (request, expect, capture, repeat) that run against the target before
// the suite, typically to sign in and capture the live refresh tokens the
// suite needs (REFRESH_TOKENS, REFRESH_TOKEN, ...). For example:
//
//	vars: [STAGING_PASSWORD]
//	steps:
//	  - name: sign in five times for five live tokens
//	    request:
//	      method: POST
//	      path: /auth/login
//	      json: {email: ci@example.com, password: '${STAGING_PASSWORD}'}
//	    repeat: 5
//	    expect: {status: 200}
//	    capture: {REFRESH_TOKENS: 'cookie:refresh_token'}
type Setup struct {
	// File is where the setup was read from.
	File string
	Conform
	// sc carries positions for messages.
	sc *Scenario
}

// PosOf returns where a field of the setup (e.g. "steps[0].expect") was
// written.
func (s *Setup) PosOf(field string) Pos { return s.sc.PosOf("conform." + field) }

// LoadSetup parses and validates a setup file. Every problem is reported
// at file:line:col, as for scenarios.
func LoadSetup(src Source) (*Setup, Diagnostics) {
	sink := &diagSink{}
	if len(src.Data) > MaxSetupBytes {
		sink.errorf(Pos{File: src.Name, Line: 1, Col: 1}, "", "file: larger than %d bytes; a setup file holds a few steps", MaxSetupBytes)
		return nil, sink.diags
	}
	dec := yaml.NewDecoder(bytes.NewReader(src.Data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	switch {
	case errors.Is(err, io.EOF) || err == nil && (len(doc.Content) == 0 || isNull(doc.Content[0])):
		sink.errorf(Pos{File: src.Name, Line: 1, Col: 1}, "steps", "the setup file is empty; give steps: with at least one request")
		return nil, sink.diags
	case err != nil:
		e := yamlSyntax(context.Background(), src.Data, err)
		sink.errorf(Pos{File: src.Name, Line: e.line, Col: e.col}, "", "%s", e.message())
		return nil, sink.diags
	}
	root := doc.Content[0]
	sc := &Scenario{Name: "setup", pos: positions{}, Conform: &Conform{}}
	d := &decoder{file: src.Name, sink: sink, pos: sc.pos}
	sc.Pos = d.at(root)
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "a setup file is a mapping with vars: and steps:")
		return nil, sink.diags
	}
	d.decode(root, reflect.ValueOf(sc.Conform).Elem(), "conform")
	prepareConform(sc, nil, sink)
	// The checks are the conform section's; name fields as the setup
	// file writes them.
	for i := range sink.diags {
		dg := &sink.diags[i]
		dg.Field = strings.TrimPrefix(dg.Field, "conform.")
		dg.Message = strings.ReplaceAll(dg.Message, "conform.vars", "vars")
	}
	sink.diags.Sort()
	if len(sink.diags.Errors()) > 0 {
		return nil, sink.diags
	}
	return &Setup{File: src.Name, Conform: *sc.Conform, sc: sc}, sink.diags
}

// String names the setup for reports.
func (s *Setup) String() string { return fmt.Sprintf("setup %s", s.File) }
