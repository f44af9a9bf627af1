package spec_test

import (
	"fmt"
	"net/http"
	"os"

	"github.com/refreshmock/refreshmock/spec"
)

func ExampleLoad() {
	data, err := os.ReadFile("testdata/petstore.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := spec.Load("petstore.yaml", data)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, op := range s.Operations() {
		fmt.Println(op.Method, op.Path, op.ID, op.Statuses())
	}
	op, allowed := s.Route("PUT", "/pets/123")
	fmt.Println(op == nil, allowed)
	// Output:
	// GET /pets listPets [200]
	// POST /pets createPet [201 400 422]
	// GET /pets/{petId} showPetById [200 404]
	// DELETE /pets/{petId} deletePet [204 404]
	// true [GET DELETE]
}

func ExampleDefault() {
	s, err := spec.Default()
	if err != nil {
		fmt.Println(err)
		return
	}
	op, _ := s.Operation("refresh_token")
	fmt.Println(op.Method, op.Path)
	fmt.Println(op.Catalog(401))
	// Output:
	// POST /auth/refresh
	// [authentication_failed refresh_token_missing refresh_token_expired refresh_token_reused refresh_token_invalid refresh_token_revoked]
}

func ExampleOperation_CheckEnvelope() {
	s, err := spec.Default()
	if err != nil {
		fmt.Println(err)
		return
	}
	op, _ := s.Operation("refresh_token")
	ok := []byte(`{"status": 401, "message": "The refresh token has expired.", "code": "refresh_token_expired"}`)
	fmt.Println(len(op.CheckEnvelope(401, "application/json", ok)), "violations")

	bad := []byte(`{"status": 400, "message": "Expired", "code": "token_expired"}`)
	for _, v := range op.CheckEnvelope(401, "application/json", bad) {
		fmt.Println(v.Rule+":", v.Message)
	}
	// Output:
	// 0 violations
	// envelope-status-matches: envelope status must equal the HTTP status 401, got 400
	// envelope-code-in-catalog: code for 401 must be one of [authentication_failed, refresh_token_missing, refresh_token_expired, refresh_token_reused, refresh_token_invalid, refresh_token_revoked], got "token_expired"
}

func ExampleSpec_ValidateScripted() {
	s, err := spec.Default()
	if err != nil {
		fmt.Println(err)
		return
	}
	op, _ := s.Operation("refresh_token")
	body := []byte(`{"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 900, "organization": null}`)
	for _, v := range s.ValidateScripted(op, 200, http.Header{"Content-Type": {"application/json"}}, body) {
		fmt.Println(v.Rule, v.Field, v.Value)
	}
	// Output:
	// response-body-schema $.token_type "Bearer"
}

func ExampleSpec_Example() {
	s, err := spec.Default()
	if err != nil {
		fmt.Println(err)
		return
	}
	op, _ := s.Operation("refresh_token")
	body, err := s.Example(op, 429)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(body))
	// Output:
	// {
	//   "code": "rate_limited",
	//   "message": "Rate limited",
	//   "status": 429
	// }
}
