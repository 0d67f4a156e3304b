// Package s3test runs an S3-compatible server in the test process —
// gofakes3 over its in-memory backend, on 127.0.0.1 — for tests that drive
// the real AWS SDK and Debian's awscli against it. The server records the
// requests it receives, so tests can count listings and reads, and can cut a
// response body short to exercise resumption.
package s3test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a running gofakes3.
type Server struct {
	URL     string // http://127.0.0.1:PORT
	Backend *s3mem.Backend

	mu       sync.Mutex
	requests []Request
	cuts     map[string]int // key -> bytes after which the next GET's body is cut
}

// Request is one request the server received, addressed path-style.
type Request struct {
	Method string
	Bucket string
	Key    string
	Query  url.Values
	Header http.Header
}

// IsList reports whether the request is a ListObjectsV2 call.
func (r Request) IsList() bool {
	return r.Method == http.MethodGet && r.Key == "" && r.Query.Get("list-type") == "2"
}

// IsGet reports whether the request is a GetObject call.
func (r Request) IsGet() bool { return r.Method == http.MethodGet && r.Key != "" }

// Start starts a server on 127.0.0.1 for the test's duration.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{Backend: s3mem.New(), cuts: map[string]int{}}
	faker := gofakes3.New(s.Backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	handler := faker.Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		req := Request{Method: r.Method, Bucket: bucket, Key: key, Query: r.URL.Query(), Header: r.Header.Clone()}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		cut, ok := s.cuts[key]
		if ok && req.IsGet() {
			delete(s.cuts, key)
		}
		s.mu.Unlock()
		if ok && req.IsGet() {
			w = &cutWriter{ResponseWriter: w, left: cut}
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Lists returns the ListObjectsV2 requests received so far.
func (s *Server) Lists() []Request { return s.filter(Request.IsList) }

// Gets returns the GetObject requests received so far.
func (s *Server) Gets() []Request { return s.filter(Request.IsGet) }

func (s *Server) filter(keep func(Request) bool) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets the requests received so far.
func (s *Server) Reset() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
}

// CutNextGet makes the next GetObject of key send only its first n body
// bytes and then drop the connection, as a network failure mid-transfer
// would.
func (s *Server) CutNextGet(key string, n int) {
	s.mu.Lock()
	s.cuts[key] = n
	s.mu.Unlock()
}

// cutWriter passes the first left body bytes and then aborts the response,
// which closes the connection with the body short of its Content-Length.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		w.ResponseWriter.Write(p[:w.left])
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	w.left -= len(p)
	return w.ResponseWriter.Write(p)
}

// CopyBucket copies every object of bucket from, with its metadata, into a
// new bucket to, inside the server: a quick way to give each case of a test
// its own copy of a fixture uploaded once with awscli.
func (s *Server) CopyBucket(t testing.TB, from, to string) {
	t.Helper()
	if err := s.Backend.CreateBucket(to); err != nil {
		t.Fatal(err)
	}
	list, err := s.Backend.ListBucket(from, nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Contents {
		obj, err := s.Backend.GetObject(from, c.Key, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Backend.PutObject(to, c.Key, obj.Metadata, obj.Contents, obj.Size, nil)
		obj.Contents.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Env points the AWS SDK and awscli at the server for the test's duration,
// through the environment only, as a user would: static test credentials, a
// region, AWS_ENDPOINT_URL_S3, empty config and credentials files (so
// nothing of the machine's own AWS setup is read), and no instance metadata
// lookups.
func (s *Server) Env(t testing.TB) {
	t.Helper()
	Credentials(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", s.URL)
}

// Credentials sets test credentials and a region in the environment, with
// empty AWS config and credentials files and instance metadata off, so that
// no request leaves the machine and no real account is used.
func Credentials(t testing.TB) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY":       "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "us-east-1",
		"AWS_DEFAULT_REGION":          "us-east-1",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL":            "",
	} {
		t.Setenv(k, v) // restored after the test
		if v == "" {
			os.Unsetenv(k)
		}
	}
}

// AWSCLI returns the awscli to set up fixtures with: $TRAILSENTRY_TEST_AWSCLI,
// else /usr/bin/aws (Debian's awscli package). Without one the test is
// skipped, unless CI is set: there it fails.
func AWSCLI(t testing.TB) string {
	t.Helper()
	cli := os.Getenv("TRAILSENTRY_TEST_AWSCLI")
	if cli == "" {
		cli = "/usr/bin/aws"
	}
	if _, err := exec.LookPath(cli); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("awscli %s: %v (CI must have it: apt-get install awscli)", cli, err)
		}
		t.Skipf("awscli %s not found: %v (apt-get install awscli, or set TRAILSENTRY_TEST_AWSCLI)", cli, err)
	}
	return cli
}

// CLI runs awscli against the server (with --endpoint-url) and returns its
// standard output; a failure fails the test. Call Env first.
func (s *Server) CLI(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(AWSCLI(t), append([]string{"--endpoint-url", s.URL}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_PAGER=")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return string(out)
}
