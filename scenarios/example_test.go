package scenarios_test

import (
	"fmt"

	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

func ExampleLoad() {
	sp, err := spec.Default()
	if err != nil {
		panic(err)
	}
	good := scenarios.Source{Name: "slow-down.yaml", Data: []byte(`name: slow-down
operation: refresh_token
match:
  cookies:
    refresh_token: rt_test_429_slow
response:
  status: 429
  headers:
    Retry-After: "120"
  body:
    status: 429
    message: Slow down.
    code: rate_limited
`)}
	set, diags := scenarios.Load(sp, []scenarios.Source{good})
	fmt.Println(set.Names(), len(diags))
	sc, _ := set.Get("slow-down")
	out, _ := sc.Render(scenarios.SampleData())
	fmt.Println(out.Status, out.Header.Get("Retry-After"), string(out.Body))

	// Every problem of every file, sorted, with file:line:column.
	bad := scenarios.Source{Name: "broken.yaml", Data: []byte(`name: broken
operation: refresh_token
response:
  status: 429
  body:
    status: 429
    message: Slow down.
    code: slow_down
  delay: soon
`)}
	set, diags = scenarios.Load(sp, []scenarios.Source{bad})
	fmt.Println(set == nil)
	for _, d := range diags {
		fmt.Println(d)
	}
	// Output:
	// [slow-down] 0
	// 429 120 {"code":"rate_limited","message":"Slow down.","status":429}
	// true
	// broken.yaml:3:1: response.headers.Retry-After: Missing required header: Required header 'Retry-After' is missing; Make sure the service responding sets the required headers with this response code [response-header]
	// broken.yaml:8:5: response.body.code: code for 429 must be one of [rate_limited], got "slow_down"; use a code listed under x-error-codes of response 429, or add it there [envelope-code-in-catalog]
	// broken.yaml:9:10: response.delay: expected a duration such as 250ms or 2s, got "soon"
}

func ExampleSet_Coverage() {
	sp, _ := spec.Default()
	set, _ := scenarios.Load(sp, scenarios.Embedded())
	for _, st := range set.Coverage().Operations[0].Statuses[:3] {
		fmt.Println(st.Status, st.Description, st.Scenarios)
	}
	// Output:
	// 200 Successful Response [refresh-success]
	// 400 Invalid request [malformed-json test-token-400]
	// 401 Authentication failed [refresh-missing-token refresh-invalid-token refresh-expired-token refresh-reused-token refresh-revoked-token test-token-401-expired test-token-401-reused test-token-401-revoked]
}
