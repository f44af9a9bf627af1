package mockserver

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// The benchmarks compare the mock with bare Gin answering the same bytes,
// so that the ratio can be rerun on any machine:
//
//	go test ./mockserver -run '^$' -bench 'Mock|BareGin' -benchmem
//
// Each has two workloads, both a POST with a JSON body and a cookie:
//
//   - match: a test token; request validation, then the match rules of
//     every scenario in order until the test token's; a literal body.
//   - rotate: X-Mock-Scenario: refresh-success; request validation, then
//     token rotation (store, JWT signing) and the body template.
//
// and two transports: handler (ServeHTTP in process) and http (a real
// loopback listener, keep-alive clients in parallel, like wrk).
var benchWorkloads = []struct {
	name   string
	header map[string]string
	cookie string
	body   string
}{
	{"match", nil, "rt_test_429_rate_limited", `{"refresh_token":"rt_test_429_rate_limited"}`},
	{"rotate", map[string]string{"X-Mock-Scenario": "refresh-success"}, "rt_bench_not_issued", `{"refresh_token":"rt_bench_not_issued"}`},
}

func benchRequest(method, url string, w int) *http.Request {
	wl := benchWorkloads[w]
	req, _ := http.NewRequest(method, url, strings.NewReader(wl.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", "refresh_token="+wl.cookie)
	for k, v := range wl.header {
		req.Header.Set(k, v)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	return req
}

// BenchmarkMock runs the mock with matching, templating and request
// validation on; the uncached variant also turns the validation memo off,
// so every request runs libopenapi-validator.
func BenchmarkMock(b *testing.B) {
	runBench(b, mustServer(b, Config{}))
	b.Run("uncached", func(b *testing.B) { runBench(b, mustServer(b, Config{NoValidationMemo: true})) })
}

// BenchmarkBareGin answers every request with bytes the mock sent for the
// same workload: the limit of Gin on this machine.
func BenchmarkBareGin(b *testing.B) {
	s := mustServer(b, Config{})
	for w, wl := range benchWorkloads {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, benchRequest(http.MethodPost, "http://127.0.0.1/auth/refresh", w))
		status, header, body := rec.Code, rec.Header().Clone(), rec.Body.Bytes()
		e := gin.New()
		e.POST("/auth/refresh", func(c *gin.Context) {
			_, _ = io.Copy(io.Discard, c.Request.Body)
			h := c.Writer.Header()
			for k, v := range header {
				h[k] = v
			}
			c.Data(status, "application/json", body)
		})
		b.Run(wl.name, func(b *testing.B) { runWorkload(b, e, w) })
	}
}

func runBench(b *testing.B, h http.Handler) {
	for w, wl := range benchWorkloads {
		b.Run(wl.name, func(b *testing.B) { runWorkload(b, h, w) })
	}
}

func runWorkload(b *testing.B, h http.Handler, w int) {
	b.Run("handler", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, benchRequest(http.MethodPost, "http://127.0.0.1/auth/refresh", w))
			if rec.Code >= 500 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
	b.Run("http", func(b *testing.B) {
		ts := httptest.NewServer(h)
		defer ts.Close()
		tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		wl := benchWorkloads[w]
		b.ReportAllocs()
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			body := []byte(wl.body)
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodPost, ts.URL+"/auth/refresh", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Cookie", "refresh_token="+wl.cookie)
				for k, v := range wl.header {
					req.Header.Set(k, v)
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					b.Fatal("status " + strconv.Itoa(resp.StatusCode))
				}
			}
		})
	})
}
