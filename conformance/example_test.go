package conformance_test

import (
	"fmt"
	"net/http"

	"github.com/refreshmock/refreshmock/conformance"
	"github.com/refreshmock/refreshmock/spec"
)

// CheckResponse validates a recorded response without any network I/O.
func ExampleCheckResponse() {
	sp, _ := spec.Default()
	op, _ := sp.Operation("refresh_token")
	findings := conformance.CheckResponse(sp, op, conformance.CheckInput{
		Method: "POST", Path: "/auth/refresh", Expected: []int{401},
		Status: 401, Header: http.Header{"Content-Type": {"application/json"}, "Www-Authenticate": {"Bearer"}},
		Body: []byte(`{"status": 400, "message": "Token expired", "code": "refresh_token_expired"}`),
	})
	for _, f := range findings {
		fmt.Println(f.Check, f.Field, f.Value)
	}
	// Output:
	// envelope-status-matches $.status 400
}

// Fingerprint stands in for a secret in reports.
func ExampleFingerprint() {
	fmt.Println(conformance.Fingerprint("rt_seed_dev"))
	// Output:
	// sha256:3a46ca2a
}
