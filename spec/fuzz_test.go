package spec_test

import (
	"net/http"
	"testing"
)

// fuzzContentTypes seed the content type argument.
var fuzzContentTypes = []string{"application/json", "application/json; charset=utf-8", "text/plain", "", "application/json;;="}

func FuzzCheckEnvelope(f *testing.F) {
	for status, body := range goldenExamples(f) {
		for _, ct := range fuzzContentTypes {
			f.Add(status, ct, body)
		}
	}
	f.Add(422, "application/json", []byte(`{"status":422,"message":"m","code":"validation_error","details":[{"loc":[]},{"loc":"x"},null,1]}`))
	f.Add(-1, "\x00", []byte("\xff\xfe"))
	f.Add(1<<31-1, "application/json", []byte(`{"status":1e400}`))
	op := mustOperation(f, mustDefault(f), "refresh_token")
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		for _, v := range op.CheckEnvelope(status, contentType, body) {
			if v.Rule == "" || v.Message == "" {
				t.Errorf("CheckEnvelope(%d, %q, %q) gave a violation without rule or message: %+v", status, contentType, body, v)
			}
		}
	})
}

func FuzzValidateResponse(f *testing.F) {
	for status, body := range goldenExamples(f) {
		f.Add(status, "application/json", "", body)
	}
	f.Add(429, "application/json", "30", []byte(`{"status":429,"message":"m","code":"rate_limited"}`))
	f.Add(200, "application/json", "", []byte(validToken))
	f.Add(200, "text/plain", "", []byte("token"))
	f.Add(418, "", "soon", []byte{})
	f.Add(200, "application/json", "", []byte(`{"organization":{"id":"x"}}`))
	s := mustDefault(f)
	op := mustOperation(f, s, "refresh_token")
	f.Fuzz(func(t *testing.T, status int, contentType, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			t.Skip("not an HTTP status")
		}
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		for _, v := range s.ValidateScripted(op, status, h, body) {
			if v.Rule == "" {
				t.Errorf("violation without a rule: %+v", v)
			}
		}
	})
}
