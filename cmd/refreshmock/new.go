package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/refreshmock/refreshmock/scenarios"
)

const newHelp = `Usage: refreshmock new --status N [flags]

Scaffolds a scenario that scripts one documented status of an operation,
from the spec: the body is the spec's example (or one generated from the
schema) with an envelope that keeps the rules (status, a code from the
catalog, details for 422), documented headers get a value (Retry-After for
429), and when the operation takes a token-like input (a cookie parameter,
or a string property of the JSON body) the scenario gets a test token that
makes the mock answer it, and a conform section that provokes the status on
a real server with a token taken from a variable.

The output is checked against the spec before it is written, and passes
'refreshmock lint' as it stands. Edit the message, code and test token to
taste.

Examples:
  refreshmock new --status 429
  refreshmock new --status 401 --name refresh-session-expired -o scenarios/session-expired.yaml
  refreshmock new --spec petstore.yaml --operation createPet --status 422
`

// defaultSchemaRef is where editors find the scenario JSON Schema when the
// scaffold is not written next to a checkout's scenarios/ directory.
const defaultSchemaRef = scenarios.SchemaID

func runNew(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("new", newHelp, stdout)
	status := fs.Int("status", 0, "the documented HTTP `status` to script (required)")
	name := fs.String("name", "", "scenario `name` (default: derived from the operation and the status)")
	opID := fs.String("operation", "", "operationId (default: the spec's only operation)")
	specPath := fs.String("spec", "", "OpenAPI document `FILE` (default: the embedded Refresh Token spec)")
	out := fs.String("o", "", "write to `FILE` instead of stdout")
	force := fs.Bool("force", false, "overwrite the -o file when it exists")
	schemaRef := fs.String("schema", "", "JSON Schema `reference` for the yaml-language-server modeline (default: scenarios/scenario.schema.json relative to -o when it exists, else the published URL)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q; write to a file with -o", rest[0])
	}
	if *status == 0 {
		return usagef("--status is required, e.g. --status 429")
	}
	sp, err := lintLoadSpec(*specPath)
	if err != nil {
		return usageCause(err)
	}
	ref := *schemaRef
	if ref == "" {
		ref = schemaRefFor(*out)
	}
	data, err := scenarios.Scaffold(sp, scenarios.ScaffoldOptions{Operation: *opID, Status: *status, Name: *name, SchemaRef: ref})
	if errors.Is(err, scenarios.ErrScaffold) {
		return usageCause(err)
	}
	if err != nil {
		return err
	}
	if *out == "" {
		_, err := stdout.Write(data)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(*out, flags, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return usageCause(fmt.Errorf("%s exists; choose another -o or pass --force", *out))
		}
		return usageCause(fmt.Errorf("write scenario: %w", err))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write scenario: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write scenario: %w", err)
	}
	fmt.Fprintf(stderr, "wrote %s; check it with: refreshmock lint %s\n", *out, *out)
	return nil
}

// schemaRefFor returns the modeline schema reference for a scaffold
// written to out.
func schemaRefFor(out string) string {
	const local = "scenarios/scenario.schema.json"
	if out == "" {
		return defaultSchemaRef
	}
	if _, err := os.Stat(local); err != nil {
		return defaultSchemaRef
	}
	absSchema, err1 := filepath.Abs(local)
	absDir, err2 := filepath.Abs(filepath.Dir(out))
	if err1 != nil || err2 != nil {
		return defaultSchemaRef
	}
	rel, err := filepath.Rel(absDir, absSchema)
	if err != nil {
		return defaultSchemaRef
	}
	rel = filepath.ToSlash(rel)
	if !strings.HasPrefix(rel, ".") {
		rel = "./" + rel
	}
	return rel
}
