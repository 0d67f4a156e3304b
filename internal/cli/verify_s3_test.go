package cli

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/ingest/s3test"
	"github.com/trailsentry/trailsentry/internal/integrity"
	"github.com/trailsentry/trailsentry/internal/integrity/integritytest"
)

// cloudTrailServer answers ListPublicKeys in CloudTrail's AWS JSON 1.1
// protocol, on 127.0.0.1, page by page, and records what the SDK sent.
type cloudTrailServer struct {
	URL   string
	pages [][]map[string]any // PublicKeyList of each page
	deny  bool               // answer AccessDeniedException

	mu       sync.Mutex
	requests []ctRequest
}

type ctRequest struct {
	Target, ContentType, Authorization string
	Body                               map[string]any
}

func startCloudTrail(t *testing.T, pages ...[]map[string]any) *cloudTrailServer {
	t.Helper()
	s := &cloudTrailServer{pages: pages}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		req := ctRequest{Target: r.Header.Get("X-Amz-Target"), ContentType: r.Header.Get("Content-Type"), Authorization: r.Header.Get("Authorization")}
		json.Unmarshal(data, &req.Body)
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-RequestId", "4c5a1e3b-0000-4000-8000-000000000000")
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/" || req.Target != "CloudTrail_20131101.ListPublicKeys":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"UnknownOperationException","message":"not ListPublicKeys"}`)
			return
		case s.deny:
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"AccessDeniedException","message":"User is not authorized to perform: cloudtrail:ListPublicKeys"}`)
			return
		}
		page := 0
		if tok, _ := req.Body["NextToken"].(string); tok != "" {
			page = int(tok[len(tok)-1] - '0')
		}
		out := map[string]any{"PublicKeyList": s.pages[page]}
		if page+1 < len(s.pages) {
			out["NextToken"] = "page-" + string(rune('0'+page+1))
		}
		json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	t.Setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", srv.URL)
	return s
}

func (s *cloudTrailServer) Requests() []ctRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ctRequest(nil), s.requests...)
}

// publicKeyEntry is a key as ListPublicKeys lists it.
func publicKeyEntry(t *testing.T, tr *integritytest.Trail, from, until time.Time) map[string]any {
	t.Helper()
	keys, err := integrity.LoadPublicKeys(tr.PublicKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"Value":             base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(keys[0].Key)),
		"Fingerprint":       keys[0].Fingerprint,
		"ValidityStartTime": float64(from.Unix()),
		"ValidityEndTime":   float64(until.Unix()),
	}
}

// s3SignedTrail puts a signed synthetic trail in s3://trail-bucket/audit/
// as CloudTrail leaves it: log files, and digests whose own signatures are
// their objects' user metadata (signature, signature-algorithm), uploaded
// with awscli.
func s3SignedTrail(t *testing.T) (*s3test.Server, *integritytest.Trail) {
	t.Helper()
	tr := signedTrail(t, integritytest.Options{Hours: 4, Prefix: "audit/"})
	srv := s3test.Start(t)
	srv.Env(t)
	srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	srv.CLI(t, "s3", "cp", "--recursive", "--quiet", "--exclude", "*CloudTrail-Digest*", filepath.Join(tr.Dir, "AWSLogs"), "s3://trail-bucket/audit/AWSLogs/")
	for _, d := range tr.Digests {
		srv.CLI(t, "s3api", "put-object", "--bucket", "trail-bucket", "--key", d.Key, "--body", d.Path,
			"--metadata", "signature="+d.Signature+",signature-algorithm=SHA256withRSA")
	}
	return srv, tr
}

// A signed trail verified straight from S3 passes — every digest's
// signature checked, the newest's from its object metadata — and each kind
// of tampering in the bucket is found and named by its s3:// URL.
func TestVerifyS3(t *testing.T) {
	srv, tr := s3SignedTrail(t)
	logKey := tr.Digests[2].Logs[0]
	if !strings.HasPrefix(logKey, "audit/AWSLogs/") {
		logKey = "audit/" + strings.TrimPrefix(filepath.ToSlash(logKey), filepath.ToSlash(tr.Dir)+"/")
	}
	tampered := filepath.Join(t.TempDir(), "tampered.json.gz")
	writeFile(t, tampered, gzipBytes(t, `{"Records":[]}`))
	newest, middle := tr.Newest(), tr.Digests[1]

	for _, tc := range []struct {
		name   string
		tamper func(bucket string)
		rule   string
		files  []string
		detail string
	}{
		{name: "valid", tamper: func(string) {}},
		{name: "log modified", rule: integrity.RuleLogModified, files: []string{"s3://case-log-modified/" + logKey},
			tamper: func(b string) { srv.CLI(t, "s3", "cp", "--quiet", tampered, "s3://"+b+"/"+logKey) }},
		{name: "log deleted", rule: integrity.RuleLogMissing, files: []string{"s3://trail-bucket/" + logKey},
			tamper: func(b string) { srv.CLI(t, "s3", "rm", "--quiet", "s3://"+b+"/"+logKey) }},
		{name: "digest deleted", rule: integrity.RuleDigestMissing, files: []string{"s3://trail-bucket/" + middle.Key},
			tamper: func(b string) { srv.CLI(t, "s3", "rm", "--quiet", "s3://"+b+"/"+middle.Key) }},
		{name: "metadata signature forged", rule: integrity.RuleSignatureInvalid, detail: "x-amz-meta-signature",
			files: []string{"s3://case-metadata-signature-forged/" + middle.Key, "s3://case-metadata-signature-forged/" + newest.Key},
			tamper: func(b string) {
				// Another digest's genuine signature, on the newest digest
				// (nothing else vouches for it) and on one whose successor
				// still carries the right one.
				for _, d := range []*integritytest.Digest{newest, middle} {
					srv.CLI(t, "s3api", "put-object", "--bucket", b, "--key", d.Key, "--body", d.Path,
						"--metadata", "signature="+tr.Digests[0].Signature+",signature-algorithm=SHA256withRSA")
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := "case-" + strings.ReplaceAll(tc.name, " ", "-")
			srv.CopyBucket(t, "trail-bucket", bucket)
			tc.tamper(bucket)
			r := run(t, "", "verify", "--public-key", tr.PublicKeyFile, "--format", "json", "s3://"+bucket+"/audit/")
			out := parseVerify(t, r)
			byRule := filesByRule(out)
			if tc.rule == "" {
				if r.code != ExitOK || len(out.Findings) != 0 || !strings.Contains(r.stderr, "signatures_verified=4") || !strings.Contains(r.stderr, "logs_verified=12") {
					t.Fatalf("exit %d, findings %v\n%s", r.code, byRule, r.stderr)
				}
				return
			}
			if r.code != ExitFindings || !slices.Equal(byRule[tc.rule], tc.files) {
				t.Fatalf("exit %d, findings %v; want %s naming %v\n%s", r.code, byRule, tc.rule, tc.files, r.stderr)
			}
			if tc.detail != "" && !strings.Contains(r.stderr, tc.detail) {
				t.Errorf("stderr does not say %q:\n%s", tc.detail, r.stderr)
			}
		})
	}
}

// Without --public-key, verify asks ListPublicKeys for the keys of the
// digests' regions and period (following NextToken), for S3 and local
// copies alike; with --public-key alone it never calls AWS; a refusal is a
// clear exit 2.
func TestVerifyFetchesPublicKeys(t *testing.T) {
	srv, tr := s3SignedTrail(t)
	decoy := newRSAKey()
	decoyTrail, err := integritytest.Write(t.TempDir(), integritytest.Options{Hours: 1, Key: decoy})
	if err != nil {
		t.Fatal(err)
	}
	from, until := tr.Digests[0].Start().Add(-24*time.Hour), tr.Newest().Start().Add(24*time.Hour)
	ct := startCloudTrail(t,
		[]map[string]any{publicKeyEntry(t, decoyTrail, from, until)},
		[]map[string]any{publicKeyEntry(t, tr, from, until)})

	r := run(t, "", "verify", "--format", "json", "s3://trail-bucket/audit/")
	if out := parseVerify(t, r); r.code != ExitOK || len(out.Findings) != 0 || !strings.Contains(r.stderr, "ListPublicKeys") {
		t.Fatalf("exit %d, %d findings\n%s", r.code, len(out.Findings), r.stderr)
	}
	reqs := ct.Requests()
	if len(reqs) != 2 || reqs[1].Body["NextToken"] != "page-1" {
		t.Fatalf("%d requests %+v, want two pages", len(reqs), reqs)
	}
	first, last := tr.Digests[0].Start(), tr.Newest().Start().Add(time.Hour)
	for _, q := range reqs {
		if q.Target != "CloudTrail_20131101.ListPublicKeys" || q.ContentType != "application/x-amz-json-1.1" ||
			!strings.Contains(q.Authorization, "/us-east-1/cloudtrail/aws4_request") {
			t.Errorf("request shape: %+v", q)
		}
		start, _ := q.Body["StartTime"].(float64)
		end, _ := q.Body["EndTime"].(float64)
		if start == 0 || end == 0 || time.Unix(int64(start), 0).After(first) || time.Unix(int64(end), 0).Before(last) {
			t.Errorf("StartTime %v EndTime %v do not span the digests, %s to %s", start, end, first, last)
		}
	}

	// A local copy: the same, without --public-key.
	if r := run(t, "", "verify", "--format", "json", tr.Dir); r.code != ExitOK || len(ct.Requests()) != 4 {
		t.Errorf("local copy: exit %d, %d requests\n%s", r.code, len(ct.Requests()), r.stderr)
	}
	// Keys given: AWS is not called, unless --fetch-keys says so.
	if r := run(t, "", "verify", "--public-key", decoyTrail.PublicKeyFile, "--format", "json", "s3://trail-bucket/audit/"); r.code != ExitFindings || len(ct.Requests()) != 4 {
		t.Errorf("--public-key (a wrong one): exit %d, %d requests; want a key-unknown finding and no request\n%s", r.code, len(ct.Requests()), r.stderr)
	}
	if r := run(t, "", "verify", "--public-key", decoyTrail.PublicKeyFile, "--fetch-keys", "--format", "json", "s3://trail-bucket/audit/"); r.code != ExitOK || len(ct.Requests()) != 6 {
		t.Errorf("--public-key --fetch-keys: exit %d, %d requests\n%s", r.code, len(ct.Requests()), r.stderr)
	}
	ct.deny = true
	r = run(t, "", "verify", "s3://trail-bucket/audit/")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "AccessDeniedException") || !strings.Contains(r.stderr, "--public-key") {
		t.Errorf("refused: exit %d\n%s", r.code, r.stderr)
	}
	_ = srv
}
