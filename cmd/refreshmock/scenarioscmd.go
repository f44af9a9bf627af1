package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/refreshmock/refreshmock/scenarios"
)

const scenariosHelp = `Usage: refreshmock scenarios export [--force] DIR

Writes the shipped scenario files (the ones serve answers from: rotation,
the test tokens, the 401 flows), scenario.schema.json, and the files for
running conform against the mock (mock-setup.yaml, mock.vars) into DIR, for
editing. DIR is created if missing; a
file that exists already is left alone unless --force.

serve --scenarios DIR then serves your copies: each scenario of yours
replaces the shipped one of the same name (the log says so), and new names
add to the set. Delete the files you do not change, so that later versions'
fixes to the shipped scenarios reach you.

Examples:
  refreshmock scenarios export ./my-scenarios
  refreshmock serve --scenarios ./my-scenarios
  refreshmock lint --strict ./my-scenarios
  refreshmock conform --target http://127.0.0.1:8080 \
    --setup ./my-scenarios/mock-setup.yaml --vars ./my-scenarios/mock.vars
`

func runScenarios(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("scenarios", scenariosHelp, stdout)
	force := fs.Bool("force", false, "overwrite files that exist in DIR")
	if len(args) == 0 {
		return usagef("missing subcommand: use refreshmock scenarios export DIR")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		return parseFlags(fs, args)
	}
	if args[0] != "export" {
		return usagef("unknown subcommand %q; use: refreshmock scenarios export DIR", args[0])
	}
	rest, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("scenarios export takes one directory, got %d arguments; e.g. refreshmock scenarios export ./my-scenarios", len(rest))
	}
	dir := rest[0]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usageCause(err)
	}
	files := map[string][]byte{"scenario.schema.json": scenarios.Schema()}
	names := []string{}
	for _, src := range append(scenarios.Embedded(), scenarios.ConformFiles()...) {
		base := path.Base(src.Name)
		files[base] = src.Data
		names = append(names, base)
	}
	names = append(names, "scenario.schema.json")
	var skipped []string
	for _, name := range names {
		dst := filepath.Join(dir, name)
		flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if *force {
			flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
		f, err := os.OpenFile(dst, flags, 0o644)
		if errors.Is(err, iofs.ErrExist) {
			skipped = append(skipped, dst)
			continue
		}
		if err != nil {
			return usageCause(err)
		}
		_, werr := f.Write(files[name])
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", dst, werr)
		}
		fmt.Fprintf(stdout, "wrote %s\n", dst)
	}
	for _, s := range skipped {
		fmt.Fprintf(stdout, "kept %s (exists; --force overwrites it)\n", s)
	}
	return nil
}
