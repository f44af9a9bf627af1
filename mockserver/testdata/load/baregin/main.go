// Command baregin is the baseline of the load run in load_test.go: a bare
// Gin server that answers POST /auth/refresh with fixed bytes (a response
// captured from the mock: status, headers, body) after reading the request
// body, and GET /__mock/health with 200, so that it is started and measured
// exactly like `refreshmock serve`. It lives under testdata so that
// `go build ./...` and `go vet ./...` leave it alone; the test builds it
// with `go build ./testdata/load/baregin`.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
)

// response is the captured answer, as load_test.go writes it.
type response struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"header"`
	Body   []byte              `json:"body"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	file := flag.String("response", "", "JSON file with the response to serve")
	flag.Parse()
	if err := run(*addr, *file); err != nil {
		fmt.Fprintln(os.Stderr, "baregin:", err)
		os.Exit(1)
	}
}

func run(addr, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	var resp response
	if err := json.Unmarshal(b, &resp); err != nil {
		return fmt.Errorf("decode response %s: %w", file, err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.POST("/auth/refresh", func(c *gin.Context) {
		_, _ = io.Copy(io.Discard, c.Request.Body)
		h := c.Writer.Header()
		for k, vs := range resp.Header {
			h[k] = vs
		}
		c.Data(resp.Status, h.Get("Content-Type"), resp.Body)
	})
	e.GET("/__mock/health", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", []byte(`{"status":"ok"}`)) })
	return http.ListenAndServe(addr, e)
}
