// Package golden compares test output with golden files and rewrites them
// when the tests run with -update. Every package whose tests keep golden
// files in testdata/ uses it, so the flag is defined once.
package golden
