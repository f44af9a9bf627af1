package scenarios

import (
	_ "embed"
	"slices"
)

//go:embed scenario.schema.json
var schemaJSON []byte

// SchemaID is the $id of the scenario JSON Schema, where editors can fetch
// it from.
const SchemaID = "https://raw.githubusercontent.com/refreshmock/refreshmock/main/scenarios/scenario.schema.json"

// Schema returns the JSON Schema (draft 2020-12) of the scenario format,
// for editors (yaml-language-server) and other tools. The shipped scenario
// files reference it with a modeline:
//
//	# yaml-language-server: $schema=./scenario.schema.json
//
// It describes the shape only; Load also checks the spec, the envelope
// rules, templates and unique names.
func Schema() []byte { return slices.Clone(schemaJSON) }
