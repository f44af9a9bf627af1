package spec_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/refreshmock/refreshmock/spec"
)

const petstoreFile = "testdata/petstore.yaml"

// mustDefault loads the embedded Refresh Token document.
func mustDefault(tb testing.TB) *spec.Spec {
	tb.Helper()
	s, err := spec.Default()
	if err != nil {
		tb.Fatalf("Default() error = %v", err)
	}
	return s
}

// mustLoadFile loads the document at path.
func mustLoadFile(tb testing.TB, path string) *spec.Spec {
	tb.Helper()
	s, err := spec.LoadFile(path)
	if err != nil {
		tb.Fatalf("LoadFile(%q) error = %v", path, err)
	}
	return s
}

// mustOperation returns the operation with the given operationId.
func mustOperation(tb testing.TB, s *spec.Spec, id string) *spec.Operation {
	tb.Helper()
	op, ok := s.Operation(id)
	if !ok {
		tb.Fatalf("Operation(%q) not found; have %v", id, s.OperationIDs())
	}
	return op
}

// mustWriteFile writes a file into a fresh temporary directory.
func mustWriteFile(tb testing.TB, name, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

// opSummary is the part of an operation the listing tests compare.
type opSummary struct {
	ID, Method, Path string
	Statuses         []int
}

func summarize(ops []*spec.Operation) []opSummary {
	var out []opSummary
	for _, op := range ops {
		out = append(out, opSummary{op.ID, op.Method, op.Path, op.Statuses()})
	}
	return out
}

func TestDefaultOperations(t *testing.T) {
	t.Parallel()
	s := mustDefault(t)
	want := []opSummary{{
		ID: "refresh_token", Method: "POST", Path: "/auth/refresh",
		Statuses: []int{200, 400, 401, 403, 404, 409, 422, 426, 429, 500, 502, 504},
	}}
	if diff := cmp.Diff(want, summarize(s.Operations())); diff != "" {
		t.Errorf("Operations() mismatch (-want +got):\n%s", diff)
	}
	if got, want := s.Name(), spec.DefaultName; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if got, want := string(s.Raw()), string(spec.DefaultDocument()); got != want {
		t.Errorf("Raw() differs from DefaultDocument()")
	}
	op := mustOperation(t, s, "refresh_token")
	if got, want := op.Pointer(), "/paths/~1auth~1refresh/post"; got != want {
		t.Errorf("Pointer() = %q, want %q", got, want)
	}
	if !op.UsesEnvelope() {
		t.Errorf("UsesEnvelope() = false, want true")
	}
	if op.Line <= 0 {
		t.Errorf("Line = %d, want > 0", op.Line)
	}
	if p, ok := op.Parameter("cookie", "refresh_token"); !ok || p.Required {
		t.Errorf("Parameter(cookie, refresh_token) = %+v, %v; want an optional cookie", p, ok)
	}
	rb := op.RequestBody
	if rb == nil {
		t.Fatal("RequestBody = nil, want the RefreshTokenRequest body")
	}
	wantBody := &spec.RequestBody{
		Required:     false,
		ContentTypes: []string{"application/json"},
		Properties:   []spec.Property{{Name: "refresh_token", Types: []string{"string", "null"}, MinLength: 1}},
	}
	if diff := cmp.Diff(wantBody, rb); diff != "" {
		t.Errorf("RequestBody mismatch (-want +got):\n%s", diff)
	}
}

func TestDefaultResponses(t *testing.T) {
	t.Parallel()
	op := mustOperation(t, mustDefault(t), "refresh_token")
	tests := []struct {
		status      int
		description string
		code        string   // the default code; "" for the success response
		more        []string // other codes the catalog must hold
	}{
		{200, "Successful Response", "", nil},
		{400, "Invalid request", "invalid_request", nil},
		{401, "Authentication failed", "authentication_failed",
			[]string{"refresh_token_expired", "refresh_token_reused", "refresh_token_invalid", "refresh_token_revoked"}},
		{403, "Access forbidden", "access_forbidden", nil},
		{404, "Not found", "not_found", nil},
		{409, "Already exists", "already_exists", nil},
		{422, "Validation error", "validation_error", nil},
		{426, "Upgrade required", "upgrade_required", nil},
		{429, "Rate limited", "rate_limited", nil},
		{500, "Internal server error", "internal_server_error", nil},
		{502, "Bad gateway", "bad_gateway", nil},
		{504, "Gateway timeout", "gateway_timeout", nil},
	}
	if got, want := len(op.Responses), len(tests); got != want {
		t.Errorf("len(Responses) = %d, want %d", got, want)
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			r, ok := op.Response(tc.status)
			if !ok {
				t.Fatalf("Response(%d) not documented", tc.status)
			}
			if !op.Documents(tc.status) {
				t.Errorf("Documents(%d) = false, want true", tc.status)
			}
			if got, want := r.Description, tc.description; got != want {
				t.Errorf("Description = %q, want %q", got, want)
			}
			if got, want := op.StatusText(tc.status), tc.description; got != want {
				t.Errorf("StatusText(%d) = %q, want %q", tc.status, got, want)
			}
			if got, want := r.ContentTypes, []string{"application/json"}; !slices.Equal(got, want) {
				t.Errorf("ContentTypes = %v, want %v", got, want)
			}
			if got, want := r.Pointer, "/paths/~1auth~1refresh/post/responses/"+strconv.Itoa(tc.status); got != want {
				t.Errorf("Pointer = %q, want %q", got, want)
			}
			if r.Line <= 0 {
				t.Errorf("Line = %d, want > 0", r.Line)
			}
			if tc.code == "" {
				if r.Envelope || len(r.ErrorCodes) > 0 {
					t.Errorf("success response: Envelope = %v, ErrorCodes = %v; want false, none", r.Envelope, r.ErrorCodes)
				}
				return
			}
			if !r.Envelope {
				t.Errorf("Envelope = false, want true")
			}
			if got, want := r.ErrorCodes[0], tc.code; got != want {
				t.Errorf("first code of the catalog = %q, want %q (the default code)", got, want)
			}
			for _, c := range append([]string{tc.code}, tc.more...) {
				if !slices.Contains(op.Catalog(tc.status), c) {
					t.Errorf("Catalog(%d) = %v, want it to contain %q", tc.status, op.Catalog(tc.status), c)
				}
			}
		})
	}
}

func TestDefaultRetryAfter(t *testing.T) {
	t.Parallel()
	op := mustOperation(t, mustDefault(t), "refresh_token")
	r, _ := op.Response(429)
	want := []spec.Header{{Name: "Retry-After", Required: true, Type: "integer"}}
	if diff := cmp.Diff(want, r.Headers); diff != "" {
		t.Errorf("429 headers mismatch (-want +got):\n%s", diff)
	}
	r, _ = op.Response(200)
	want = []spec.Header{{Name: "Cache-Control", Required: false, Type: "string"}}
	if diff := cmp.Diff(want, r.Headers); diff != "" {
		t.Errorf("200 headers mismatch (-want +got):\n%s", diff)
	}
}

func TestStatusTextUndocumented(t *testing.T) {
	t.Parallel()
	op := mustOperation(t, mustDefault(t), "refresh_token")
	if got, want := op.StatusText(418), "I'm a teapot"; got != want {
		t.Errorf("StatusText(418) = %q, want %q", got, want)
	}
	if op.Documents(418) {
		t.Errorf("Documents(418) = true, want false")
	}
	if got := op.Catalog(418); got != nil {
		t.Errorf("Catalog(418) = %v, want nil", got)
	}
}

func TestPetstoreOperations(t *testing.T) {
	t.Parallel()
	s := mustLoadFile(t, petstoreFile)
	want := []opSummary{
		{"listPets", "GET", "/pets", []int{200}},
		{"createPet", "POST", "/pets", []int{201, 400, 422}},
		{"showPetById", "GET", "/pets/{petId}", []int{200, 404}},
		{"deletePet", "DELETE", "/pets/{petId}", []int{204, 404}},
	}
	if diff := cmp.Diff(want, summarize(s.Operations())); diff != "" {
		t.Errorf("Operations() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"createPet", "deletePet", "listPets", "showPetById"}, s.OperationIDs()); diff != "" {
		t.Errorf("OperationIDs() mismatch (-want +got):\n%s", diff)
	}
	if got, want := s.Name(), petstoreFile; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}

	show := mustOperation(t, s, "showPetById")
	if diff := cmp.Diff([]spec.Parameter{{Name: "petId", In: "path", Required: true}}, show.Parameters); diff != "" {
		t.Errorf("showPetById parameters mismatch (-want +got):\n%s", diff)
	}
	if show.RequestBody != nil {
		t.Errorf("showPetById RequestBody = %+v, want nil", show.RequestBody)
	}
	if show.UsesEnvelope() {
		t.Errorf("showPetById UsesEnvelope() = true; its errors use the petstore's own Error schema")
	}
	list := mustOperation(t, s, "listPets")
	if diff := cmp.Diff([]spec.Parameter{{Name: "limit", In: "query"}}, list.Parameters); diff != "" {
		t.Errorf("listPets parameters mismatch (-want +got):\n%s", diff)
	}

	create := mustOperation(t, s, "createPet")
	wantBody := &spec.RequestBody{
		Required:     true,
		ContentTypes: []string{"application/json"},
		Properties: []spec.Property{
			{Name: "name", Types: []string{"string"}, MinLength: 1, Required: true},
			{Name: "tag", Types: []string{"string", "null"}},
		},
	}
	if diff := cmp.Diff(wantBody, create.RequestBody); diff != "" {
		t.Errorf("createPet RequestBody mismatch (-want +got):\n%s", diff)
	}
	if !create.UsesEnvelope() {
		t.Errorf("createPet UsesEnvelope() = false; its 422 is the envelope")
	}
	if r, _ := create.Response(400); r.Envelope {
		t.Errorf("createPet 400 Envelope = true; the Error schema is not the envelope")
	}
	if got, want := create.Catalog(422), []string{"validation_error", "name_taken"}; !slices.Equal(got, want) {
		t.Errorf("createPet Catalog(422) = %v, want %v", got, want)
	}
	del := mustOperation(t, s, "deletePet")
	if r, _ := del.Response(204); len(r.ContentTypes) != 0 {
		t.Errorf("deletePet 204 ContentTypes = %v, want none", r.ContentTypes)
	}
}

func TestRoute(t *testing.T) {
	t.Parallel()
	pets := mustLoadFile(t, petstoreFile)
	def := mustDefault(t)
	tests := []struct {
		name         string
		s            *spec.Spec
		method, path string
		wantID       string
		wantAllowed  []string
	}{
		{"collection", pets, "GET", "/pets", "listPets", nil},
		{"collection post", pets, "POST", "/pets", "createPet", nil},
		{"item", pets, "GET", "/pets/123", "showPetById", nil},
		{"item lower-case method", pets, "get", "/pets/123", "showPetById", nil},
		{"item trailing slash", pets, "GET", "/pets/123/", "showPetById", nil},
		{"item delete", pets, "DELETE", "/pets/123", "deletePet", nil},
		{"item wrong method", pets, "PUT", "/pets/123", "", []string{"GET", "DELETE"}},
		{"collection wrong method", pets, "DELETE", "/pets", "", []string{"GET", "POST"}},
		{"too deep", pets, "GET", "/pets/123/toys", "", nil},
		{"unknown path", pets, "GET", "/owners", "", nil},
		{"refresh", def, "POST", "/auth/refresh", "refresh_token", nil},
		{"refresh wrong method", def, "GET", "/auth/refresh", "", []string{"POST"}},
		{"refresh prefix only", def, "POST", "/auth", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			op, allowed := tc.s.Route(tc.method, tc.path)
			gotID := ""
			if op != nil {
				gotID = op.ID
			}
			if gotID != tc.wantID {
				t.Errorf("Route(%s, %s) = %q, want %q", tc.method, tc.path, gotID, tc.wantID)
			}
			if diff := cmp.Diff(tc.wantAllowed, allowed); diff != "" {
				t.Errorf("Route(%s, %s) allowed mismatch (-want +got):\n%s", tc.method, tc.path, diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	notYAML := mustWriteFile(t, "not-yaml.yaml", "openapi: [3.0.3\n\tpaths: {{{\n")
	swagger := mustWriteFile(t, "swagger.yaml", `swagger: "2.0"
info:
  title: Old
  version: 1.0.0
paths: {}
`)
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		name     string
		path     string
		wantText string // besides the file name
	}{
		{"not YAML", notYAML, ""},
		{"Swagger 2.0", swagger, `"2.0"`},
		{"missing file", missing, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := spec.LoadFile(tc.path)
			if err == nil {
				t.Fatalf("LoadFile(%q) = %v, nil; want an error", tc.path, s.Name())
			}
			if !errors.Is(err, spec.ErrLoad) {
				t.Errorf("LoadFile(%q) error = %v, want it to wrap spec.ErrLoad", tc.path, err)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("LoadFile(%q) error = %q, want it to name the file", tc.path, err)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("LoadFile(%q) error = %q, want it to contain %q", tc.path, err, tc.wantText)
			}
		})
	}
}

func TestLoadBytesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc string
	}{
		{"empty", ""},
		{"not YAML", "{{{ : ]"},
		{"Swagger 2.0", "swagger: '2.0'\ninfo: {title: x, version: '1'}\npaths: {}\n"},
		{"no version", "info: {title: x, version: '1'}\npaths: {}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := spec.Load("doc-"+tc.name+".yaml", []byte(tc.doc))
			if err == nil {
				t.Fatal("Load() error = nil, want one")
			}
			if !errors.Is(err, spec.ErrLoad) {
				t.Errorf("Load() error = %v, want it to wrap spec.ErrLoad", err)
			}
			if !strings.Contains(err.Error(), "doc-"+tc.name+".yaml") {
				t.Errorf("Load() error = %q, want it to name the document", err)
			}
		})
	}
}

func TestIsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ct   string
		want bool
	}{
		{"application/json", true},
		{"Application/JSON; charset=utf-8", true},
		{"application/problem+json", true},
		{" application/vnd.api+json ", true},
		{"text/plain", false},
		{"", false},
		{"application/jsonx", false},
	}
	for _, tc := range tests {
		t.Run(tc.ct, func(t *testing.T) {
			t.Parallel()
			if got := spec.IsJSON(tc.ct); got != tc.want {
				t.Errorf("IsJSON(%q) = %v, want %v", tc.ct, got, tc.want)
			}
		})
	}
}
