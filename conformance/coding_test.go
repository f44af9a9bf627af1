package conformance

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/refreshmock/refreshmock/internal/refimpl"
	"github.com/refreshmock/refreshmock/scenarios"
	"github.com/refreshmock/refreshmock/spec"
)

// compressor returns a function that compresses with the writer newW
// makes.
func compressor(newW func(io.Writer) io.WriteCloser) func([]byte) []byte {
	return func(b []byte) []byte {
		var out bytes.Buffer
		w := newW(&out)
		_, _ = w.Write(b)
		_ = w.Close()
		return out.Bytes()
	}
}

var (
	gzipped     = compressor(func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) })
	zlibbed     = compressor(func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) })
	rawDeflated = compressor(func(w io.Writer) io.WriteCloser { fw, _ := flate.NewWriter(w, flate.DefaultCompression); return fw })
)

// TestDecodeContent: gzip and deflate (zlib or raw) are undone within the
// limit; any other coding, a corrupt stream or more than one coding is an
// error.
func TestDecodeContent(t *testing.T) {
	t.Parallel()
	plain := []byte(`{"access_token":"abc","token_type":"bearer"}`)
	big := bytes.Repeat([]byte("a"), 5000)
	for _, tc := range []struct {
		name, coding string
		data         []byte
		max          int64
		want         []byte
		cut, err     bool
	}{
		{"gzip", "gzip", gzipped(plain), 1 << 20, plain, false, false},
		{"x-gzip upper case", "X-Gzip", gzipped(plain), 1 << 20, plain, false, false},
		{"deflate as zlib", "deflate", zlibbed(plain), 1 << 20, plain, false, false},
		{"deflate raw", "deflate", rawDeflated(plain), 1 << 20, plain, false, false},
		{"two codings", "deflate, gzip", gzipped(zlibbed(plain)), 1 << 20, nil, false, true},
		{"identity beside one coding", "identity, gzip", gzipped(plain), 1 << 20, plain, false, false},
		{"identity is no coding", "identity", plain, 1 << 20, plain, false, false},
		{"a bomb stops at the cap", "gzip", gzipped(big), 1000, big[:1000], true, false},
		{"br", "br", rawDeflated(plain), 1 << 20, nil, false, true},
		{"zstd after gzip", "zstd, gzip", gzipped(plain), 1 << 20, nil, false, true},
		{"corrupt gzip", "gzip", []byte("not gzip at all"), 1 << 20, nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cut, err := decodeContent(tc.coding, tc.data, tc.max)
			if (err != nil) != tc.err || cut != tc.cut || !bytes.Equal(got, tc.want) {
				t.Errorf("decodeContent(%q) = %d bytes, cut %v, err %v; want %d bytes, cut %v, error %v", tc.coding, len(got), cut, err, len(tc.want), tc.cut, tc.err)
			}
		})
	}
}

// TestCodingAccepted reads Accept-Encoding as RFC 9110 12.5.3 does.
func TestCodingAccepted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		accept, coding string
		want           bool
	}{
		{"", "gzip", true}, // Go's transport asked for gzip
		{"", "deflate", false},
		{"", "x-gzip", true},
		{"gzip, deflate", "deflate", true},
		{"gzip;q=0, deflate", "gzip", false},
		{"gzip; q=0.000", "gzip", false},
		{"gzip;q=0.5", "gzip", true},
		{"*", "br", true},
		{"br", "gzip, br", false},
		{"identity", "identity", true},
	} {
		if got := codingAccepted(tc.accept, tc.coding); got != tc.want {
			t.Errorf("codingAccepted(%q, %q) = %v, want %v", tc.accept, tc.coding, got, tc.want)
		}
	}
}

// encodeAll answers every response of h with its body content-coded as
// coding (compressed with enc), whatever the request accepted.
func encodeAll(h http.Handler, coding string, enc func([]byte) []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		body := rec.Body.Bytes()
		if len(body) > 0 {
			body = enc(body)
			w.Header().Set("Content-Encoding", coding)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// TestContentCodedTargets: a correct implementation whose bodies come
// deflated although the request accepted only gzip still passes (its
// bodies are decoded and checked; content-coding-accepted warns), and one
// whose coding the runner cannot undo fails with body-decodable on every
// body, none of whose bytes (raw, hex or base64) reaches a report.
func TestContentCodedTargets(t *testing.T) {
	t.Parallel()
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	set, diags := scenarios.Load(sp, scenarios.Embedded())
	if set == nil {
		t.Fatalf("load: %v", diags)
	}
	for _, tc := range []struct {
		name, coding string
		enc          func([]byte) []byte
		pass         bool
	}{
		{"gzip as asked", "gzip", gzipped, true},
		{"deflate unasked", "deflate", zlibbed, true},
		{"br unasked", "br", rawDeflated, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			impl := refimpl.NewAlpha()
			var pool []string
			for range 5 {
				pool = append(pool, impl.Mint(refimpl.UserWithOrg))
			}
			pool = append(pool, impl.Mint(refimpl.UserNoOrg))
			var mu sync.Mutex
			var sent []string
			srv := httptest.NewServer(encodeAll(impl, tc.coding, func(b []byte) []byte {
				mu.Lock()
				sent = append(sent, string(b))
				mu.Unlock()
				return tc.enc(b)
			}))
			defer srv.Close()
			rep, err := Run(context.Background(), Config{Target: srv.URL, Spec: sp, Scenarios: set, Concurrency: 1,
				Vars: map[string]string{VarPool: strings.Join(pool, ",")}})
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, c := range rep.Cases {
				for _, f := range c.Findings {
					count[f.Check]++
				}
			}
			if tc.pass != (rep.OK() && rep.Summary.Errors == 0) {
				t.Fatalf("OK %v with %d errors, want passing %v; findings by check %v", rep.OK(), rep.Summary.Errors, tc.pass, count)
			}
			switch tc.coding {
			case "gzip":
				if count[CheckContentCoding]+count[CheckBodyDecodable] > 0 {
					t.Errorf("gzip the request asked for was reported: %v", count)
				}
			case "deflate":
				if count[CheckContentCoding] == 0 || count[CheckBodyDecodable] > 0 {
					t.Errorf("deflate: findings by check %v, want content-coding-accepted and no body-decodable", count)
				}
			case "br":
				if count[CheckBodyDecodable] == 0 {
					t.Errorf("br: findings by check %v, want body-decodable", count)
				}
				var js bytes.Buffer
				if err := WriteJSON(&js, rep); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, s := range sent {
					b := tc.enc([]byte(s))
					for _, form := range []string{string(b[:min(12, len(b))]), hex.EncodeToString(b[:min(8, len(b))]), base64.StdEncoding.EncodeToString(b[:min(9, len(b))])} {
						if strings.Contains(js.String(), form) {
							t.Fatalf("the JSON report carries bytes of an undecodable body (%q)", form)
						}
					}
				}
			}
		})
	}
}

// FuzzDecodeContent: any coding header and bytes decode without a panic
// and never past the cap.
func FuzzDecodeContent(f *testing.F) {
	plain := []byte(`{"status":401,"message":"m","code":"c"}`)
	f.Add("gzip", gzipped(plain))
	f.Add("deflate", zlibbed(plain))
	f.Add("deflate", rawDeflated(plain))
	f.Add("identity, deflate", zlibbed(plain))
	f.Add("br", plain)
	f.Add(" , identity,", plain)
	f.Fuzz(func(t *testing.T, coding string, data []byte) {
		const max = 4096
		got, cut, err := decodeContent(coding, data, max)
		if err != nil && (got != nil || cut) {
			t.Fatalf("an error with %d bytes, cut %v", len(got), cut)
		}
		if len(got) > max {
			t.Fatalf("%d bytes decoded, over the cap of %d", len(got), max)
		}
	})
}
