package spec_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestRedoclyLint lints the embedded document with Redocly CLI. It needs npx
// and network access, so it runs only when REFRESHMOCK_REDOCLY=1.
func TestRedoclyLint(t *testing.T) {
	if os.Getenv("REFRESHMOCK_REDOCLY") != "1" {
		t.Skip("set REFRESHMOCK_REDOCLY=1 to lint spec/refresh-token.yaml with npx @redocly/cli (needs npx and network)")
	}
	npx, err := exec.LookPath("npx")
	if err != nil {
		t.Skip("REFRESHMOCK_REDOCLY=1 but npx is not on PATH; install Node.js to lint with @redocly/cli")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npx, "-y", "@redocly/cli@latest", "lint", "spec/refresh-token.yaml")
	cmd.Dir = ".." // the module root, so that the reported path is spec/refresh-token.yaml
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npx @redocly/cli lint spec/refresh-token.yaml: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
