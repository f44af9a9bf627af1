package spec_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/refreshmock/refreshmock/internal/golden"
)

const examplesGolden = "testdata/examples.golden"

// goldenHeader starts each example in examples.golden.
const goldenHeader = "--- "

// scriptedHeader returns the headers a scripted response of status needs.
func scriptedHeader(status int) http.Header {
	h := jsonHeader()
	if status == http.StatusTooManyRequests {
		h.Set("Retry-After", "30")
	}
	return h
}

func TestExampleValidates(t *testing.T) {
	t.Parallel()
	s := mustDefault(t)
	op := mustOperation(t, s, "refresh_token")
	for _, status := range op.Statuses() {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			body, err := s.Example(op, status)
			if err != nil {
				t.Fatalf("Example(%d) error = %v", status, err)
			}
			if len(body) == 0 {
				t.Fatalf("Example(%d) = empty body", status)
			}
			if vs := s.ValidateScripted(op, status, scriptedHeader(status), body); len(vs) != 0 {
				t.Errorf("Example(%d) = %s\ndoes not validate: %v", status, body, vs)
			}
			if vs := op.CheckEnvelope(status, "application/json", body); len(vs) != 0 {
				t.Errorf("Example(%d) = %s\nbreaks the envelope rules: %v", status, body, vs)
			}
		})
	}
}

func TestExamplePetstore(t *testing.T) {
	t.Parallel()
	s := mustLoadFile(t, petstoreFile)
	for _, op := range s.Operations() {
		for _, status := range op.Statuses() {
			t.Run(fmt.Sprintf("%s %d", op.ID, status), func(t *testing.T) {
				t.Parallel()
				body, err := s.Example(op, status)
				if err != nil {
					t.Fatalf("Example error = %v", err)
				}
				r, _ := op.Response(status)
				if len(r.ContentTypes) == 0 {
					if body != nil {
						t.Errorf("Example = %s, want nil for a response without content", body)
					}
					return
				}
				if vs := s.ValidateScripted(op, status, jsonHeader(), body); len(vs) != 0 {
					t.Errorf("Example = %s\ndoes not validate: %v", body, vs)
				}
				if vs := op.CheckEnvelope(status, "application/json", body); len(vs) != 0 {
					t.Errorf("Example = %s\nbreaks the envelope rules: %v", body, vs)
				}
			})
		}
	}
}

func TestExampleUndocumented(t *testing.T) {
	t.Parallel()
	s := mustDefault(t)
	op := mustOperation(t, s, "refresh_token")
	body, err := s.Example(op, 418)
	if err == nil {
		t.Fatalf("Example(418) = %s, nil; want an error", body)
	}
	for _, want := range []string{"418", "refresh_token", "200"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Example(418) error = %q, want it to contain %q", err, want)
		}
	}
}

// TestExamplesGolden keeps every generated example of refresh_token in
// testdata/examples.golden; run with -update to rewrite it.
func TestExamplesGolden(t *testing.T) {
	t.Parallel()
	s := mustDefault(t)
	op := mustOperation(t, s, "refresh_token")
	var got bytes.Buffer
	for _, status := range op.Statuses() {
		body, err := s.Example(op, status)
		if err != nil {
			t.Fatalf("Example(%d) error = %v", status, err)
		}
		fmt.Fprintf(&got, "%s%s %d\n%s\n", goldenHeader, op.ID, status, body)
	}
	golden.Check(t, examplesGolden, got.String())
}

// goldenExamples reads the bodies of examples.golden, by status.
func goldenExamples(tb testing.TB) map[int][]byte {
	tb.Helper()
	data, err := os.ReadFile(examplesGolden)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[int][]byte{}
	for _, chunk := range strings.Split(string(data), goldenHeader)[1:] {
		head, body, _ := strings.Cut(chunk, "\n")
		fields := strings.Fields(head)
		status, err := strconv.Atoi(fields[len(fields)-1])
		if err != nil {
			tb.Fatalf("%s: bad header %q", examplesGolden, head)
		}
		out[status] = []byte(strings.TrimSuffix(body, "\n"))
	}
	return out
}

func TestGoldenExamplesParse(t *testing.T) {
	t.Parallel()
	op := mustOperation(t, mustDefault(t), "refresh_token")
	got := goldenExamples(t)
	if len(got) != len(op.Statuses()) {
		t.Errorf("%s holds %d examples, want %d", examplesGolden, len(got), len(op.Statuses()))
	}
}
