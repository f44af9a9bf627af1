package scenarios_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/scenarios"
)

// TestScaffold: a scaffold for every documented status loads, and options
// it cannot honour are ErrScaffold errors that say what to do.
func TestScaffold(t *testing.T) {
	t.Parallel()
	sp := mustSpec(t)
	op, _ := sp.Operation("refresh_token")
	for _, status := range op.Statuses() {
		data, err := scenarios.Scaffold(sp, scenarios.ScaffoldOptions{Status: status})
		if err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
		if set, diags := scenarios.Load(sp, []scenarios.Source{{Name: "s.yaml", Data: data}}); set == nil {
			t.Errorf("status %d: scaffold does not load:\n%v", status, diags)
		}
	}
	for _, tc := range []struct {
		name string
		opts scenarios.ScaffoldOptions
		want string
	}{
		{"undocumented status", scenarios.ScaffoldOptions{Status: 418}, "status 418 is not documented for refresh_token"},
		{"unknown operation", scenarios.ScaffoldOptions{Operation: "nope", Status: 200}, `operation "nope"`},
		{"bad name", scenarios.ScaffoldOptions{Status: 200, Name: "-x"}, `name "-x"`},
	} {
		_, err := scenarios.Scaffold(sp, tc.opts)
		if !errors.Is(err, scenarios.ErrScaffold) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrScaffold with %q", tc.name, err, tc.want)
		}
	}
}
