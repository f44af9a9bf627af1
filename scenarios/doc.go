// Package scenarios is the scenario model that the mock server and the
// conformance runner share: YAML files, one scenario per YAML document, that
// say how the mock picks a scenario (match rules), the response it scripts,
// and how a conformance run provokes it on a real server.
//
// Loading goes in three steps: decode (strict: unknown keys, wrong types and
// duplicate keys are diagnostics with file:line:column), then default, then
// validate against the spec and the envelope rules. Every problem of every
// file is reported in one run, sorted by file and line.
//
// A loaded [Set] is immutable; hot reload swaps a whole new set.
//
// Match conditions test one value each with an operator from one table
// (operators.go: equals, prefix, contains, regex, present, and lt, lte, gt,
// gte for versions); an operand an operator cannot use is a diagnostic at
// its position. [Scaffold] writes a new scenario file for a documented
// status (what `refreshmock new` prints).
//
// The shipped scenarios (*.yaml in this directory) are embedded and are the
// default set. scenario.schema.json describes the format for editors.
package scenarios
