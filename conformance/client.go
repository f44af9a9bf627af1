package conformance

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// outRequest is a request a case sends, before redaction.
type outRequest struct {
	Name        string
	Method      string
	Path        string // relative to the target's base path, e.g. /auth/refresh
	Query       url.Values
	Header      http.Header
	Cookies     []*http.Cookie
	Body        []byte
	HasBody     bool
	ContentType string
}

// clone returns a copy of o that can be sent again.
func (o *outRequest) clone() *outRequest {
	c := *o
	c.Header = o.Header.Clone()
	c.Query = maps.Clone(o.Query)
	c.Cookies = slices.Clone(o.Cookies)
	return &c
}

// tokens lists the values of the request's cookies and of string fields of
// a JSON body, and Authorization credentials: what an error body must not
// echo.
func (o *outRequest) tokens() []string {
	var out []string
	for _, c := range o.Cookies {
		out = append(out, c.Value)
	}
	for _, vals := range o.Query {
		out = append(out, vals...)
	}
	if o.HasBody {
		collectStrings(o.Body, &out)
	}
	if a := o.Header.Get("Authorization"); a != "" {
		_, cred, _ := strings.Cut(a, " ")
		out = append(out, cred)
	}
	return out
}

// response is what came back for one request.
type response struct {
	Status    int
	Header    http.Header
	Body      []byte
	Truncated bool // the body was larger than the cap and was cut
	// Coding is the Content-Encoding Go's transport left in place; Body
	// is then decoded, or nil with Undecodable saying why.
	Coding         string
	CodingAccepted bool
	Undecodable    string
	Latency        time.Duration
	Err            error
	URL            string // the URL finally requested
}

// newClient builds the runner's HTTP client: timeouts on connect, TLS and
// response headers, TLS settings from the config, and no redirect followed
// to another origin (credentials must not leak there).
func newClient(cfg *Config) (*http.Client, *tls.Config, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // explicit --insecure only
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: --ca: %w", ErrConfig, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("%w: --ca %s: no PEM certificate found", ErrConfig, cfg.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	connect := min(cfg.Timeout, 10*time.Second)
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: cfg.Timeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   cfg.Concurrency + cfg.RaceRequests,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			first := via[0].URL
			if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host || len(via) >= 3 {
				// Not followed: the 3xx is reported as it came.
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	return client, tlsConf, nil
}

// preflight opens one connection to the target (and completes the TLS
// handshake for https) without sending a request, so that an unreachable
// target is a clear configuration error rather than a list of failures.
func preflight(ctx context.Context, target *url.URL, tlsConf *tls.Config, timeout time.Duration) error {
	host := target.Host
	if target.Port() == "" {
		if target.Scheme == "https" {
			host = net.JoinHostPort(target.Hostname(), "443")
		} else {
			host = net.JoinHostPort(target.Hostname(), "80")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, min(timeout, 10*time.Second))
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("%w: %s: %s", ErrUnreachable, target.Redacted(), describeError(err, timeout))
	}
	defer conn.Close()
	if target.Scheme != "https" {
		return nil
	}
	conf := tlsConf.Clone()
	conf.ServerName = target.Hostname()
	tc := tls.Client(conn, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("%w: %s: %s", ErrUnreachable, target.Redacted(), describeError(err, timeout))
	}
	return nil
}

// describeError turns a transport error into a message that says what
// went wrong and, where it helps, what to do.
func describeError(err error, timeout time.Duration) string {
	var (
		dnsErr      *net.DNSError
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidCert x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		certVerify  *tls.CertificateVerificationError
		netErr      net.Error
	)
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("DNS: cannot resolve host %q (%s)", dnsErr.Name, dnsErr.Err)
	case errors.As(err, &unknownCA):
		return "TLS: the server's certificate is signed by an unknown authority; pass --ca FILE with the CA certificate (or --insecure to skip verification)"
	case errors.As(err, &hostErr):
		return fmt.Sprintf("TLS: the server's certificate is not valid for %q: %v", hostErr.Host, hostErr)
	case errors.As(err, &invalidCert):
		return fmt.Sprintf("TLS: the server's certificate is invalid: %v", invalidCert)
	case errors.As(err, &certVerify):
		return fmt.Sprintf("TLS: certificate verification failed: %v", certVerify.Err)
	case errors.As(err, &recordErr):
		return "TLS: the server did not answer with TLS; is the target http:// rather than https://?"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens there"
	case errors.Is(err, syscall.ECONNRESET):
		return "the server reset the connection"
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no complete answer within %s (--timeout)", timeout)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no complete answer within %s (--timeout)", timeout)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the server closed the connection before a complete response"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	msg := err.Error()
	if strings.Contains(msg, "tls: ") {
		return "TLS: " + msg
	}
	return msg
}

// send performs one request with a deadline and reads at most maxBytes
// of the body.
func (r *runner) send(ctx context.Context, o *outRequest) *response {
	u := *r.base
	u.Path = strings.TrimSuffix(r.base.Path, "/") + o.Path
	u.RawPath = ""
	if len(o.Query) > 0 {
		u.RawQuery = o.Query.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if o.HasBody {
		body = bytes.NewReader(o.Body)
	}
	req, err := http.NewRequestWithContext(ctx, o.Method, u.String(), body)
	if err != nil {
		return &response{Err: err, URL: u.String()}
	}
	req.Header = o.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if o.HasBody && o.ContentType != "" {
		req.Header.Set("Content-Type", o.ContentType)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "refreshmock-conform")
	}
	for _, c := range o.Cookies {
		req.AddCookie(c)
	}
	start := time.Now()
	resp, err := r.client.Do(req)
	if err != nil {
		return &response{Err: err, Latency: time.Since(start), URL: u.String()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.MaxResponseBytes+1))
	out := &response{Status: resp.StatusCode, Header: resp.Header, Latency: time.Since(start), URL: resp.Request.URL.String()}
	if int64(len(data)) > r.cfg.MaxResponseBytes {
		data, out.Truncated = data[:r.cfg.MaxResponseBytes], true
	}
	out.Body = data
	if err != nil {
		out.Err = err
	}
	if coding := resp.Header.Get("Content-Encoding"); coding != "" && len(data) > 0 {
		// Go's transport undoes gzip only when it asked for gzip itself.
		out.Coding, out.CodingAccepted = coding, codingAccepted(req.Header.Get("Accept-Encoding"), coding)
		if !out.Truncated {
			// The encoded and the decoded body together stay within the
			// cap (README, Limits).
			decoded, cut, derr := decodeContent(coding, data, r.cfg.MaxResponseBytes-int64(len(data)))
			switch {
			case derr != nil:
				// No byte of a body the runner cannot read reaches a
				// report: a secret inside it could not be redacted.
				out.Body, out.Undecodable = nil, derr.Error()
			default:
				out.Body, out.Truncated = decoded, cut
			}
		} else {
			out.Body, out.Undecodable = nil, "the encoded body was cut at the size cap"
		}
	}
	return out
}

// decodeContent undoes the content coding of a body: gzip (x-gzip) or
// deflate (zlib, or raw deflate as some servers send it), into at most
// limit bytes (cut reports a body that decodes to more). Any other coding,
// more than one, or a corrupt stream is an error. The caller passes what
// the size cap leaves after the encoded bytes, so that the two together
// stay within it.
func decodeContent(codings string, data []byte, limit int64) (body []byte, cut bool, err error) {
	var list []string
	for c := range strings.SplitSeq(codings, ",") {
		if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
			list = append(list, c)
		}
	}
	switch len(list) {
	case 0:
		return data, false, nil
	case 1:
	default:
		return nil, false, fmt.Errorf("%d content codings (%s); the runner undoes one", len(list), strings.Join(list, ", "))
	}
	var rd io.ReadCloser
	switch list[0] {
	case "gzip", "x-gzip":
		rd, err = gzip.NewReader(bytes.NewReader(data))
	case "deflate":
		rd, err = zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			rd, err = flate.NewReader(bytes.NewReader(data)), nil
		}
	default:
		return nil, false, fmt.Errorf("content coding %q is not one the runner undoes (gzip, deflate)", list[0])
	}
	if err != nil {
		return nil, false, fmt.Errorf("content coding %s: %w", list[0], err)
	}
	defer rd.Close()
	body, err = io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("content coding %s: %w", list[0], err)
	}
	if int64(len(body)) > limit {
		body, cut = body[:limit], true
	}
	return body, cut, nil
}

// qZero says whether Accept-Encoding parameters carry q=0 ("not
// acceptable"; RFC 9110 section 12.4.2).
func qZero(params string) bool {
	q, ok := strings.CutPrefix(strings.ReplaceAll(strings.ToLower(params), " ", ""), "q=")
	if !ok {
		return false
	}
	whole, frac, _ := strings.Cut(q, ".")
	return whole == "0" && strings.Trim(frac, "0") == ""
}

// codingAccepted says whether the request's Accept-Encoding (Go's own
// "gzip" when the request set none) accepts every coding of a response.
func codingAccepted(acceptEncoding, codings string) bool {
	if acceptEncoding == "" {
		acceptEncoding = "gzip"
	}
	accepted := map[string]bool{"identity": true}
	for part := range strings.SplitSeq(acceptEncoding, ",") {
		name, params, _ := strings.Cut(part, ";")
		if !qZero(params) {
			accepted[strings.ToLower(strings.TrimSpace(name))] = true
		}
	}
	for c := range strings.SplitSeq(codings, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		if c == "x-gzip" {
			c = "gzip"
		}
		if c != "" && !accepted[c] && !accepted["*"] {
			return false
		}
	}
	return true
}
