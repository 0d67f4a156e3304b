package cli

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/finding"
	"github.com/trailsentry/trailsentry/internal/integrity"
	"github.com/trailsentry/trailsentry/internal/integrity/integritytest"
)

// The signing keys of the synthetic trails: CloudTrail's, and an attacker's.
var (
	verifyKey   = sync.OnceValue(func() *rsa.PrivateKey { return newRSAKey() })
	attackerKey = sync.OnceValue(func() *rsa.PrivateKey { return newRSAKey() })
)

func newRSAKey() *rsa.PrivateKey {
	k, err := integritytest.NewKey()
	if err != nil {
		panic(err)
	}
	return k
}

// signedTrail writes a complete trail — six hours of gzip log files and
// hourly digests, chained and signed — with signatures.json for the newest.
func signedTrail(t *testing.T, o integritytest.Options) *integritytest.Trail {
	t.Helper()
	o.Key = verifyKey()
	tr, err := integritytest.Write(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

type verifyOutput struct {
	Findings []finding.Finding `json:"findings"`
	Summary  struct {
		FilesScanned       int                    `json:"files_scanned"`
		FindingsBySeverity finding.SeverityCounts `json:"findings_by_severity"`
	} `json:"summary"`
}

func parseVerify(t *testing.T, r result) verifyOutput {
	t.Helper()
	var out verifyOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	return out
}

// filesByRule maps rule ids to the files their findings name.
func filesByRule(out verifyOutput) map[string][]string {
	m := map[string][]string{}
	for _, f := range out.Findings {
		m[f.Rule.ID] = append(m[f.Rule.ID], f.Files...)
	}
	for k := range m {
		slices.Sort(m[k])
	}
	return m
}

func TestVerifyValidTrailPasses(t *testing.T) {
	tr := signedTrail(t, integritytest.Options{})
	r := run(t, "", "verify", "--public-key", tr.PublicKeyFile, "--format", "json", tr.Dir)
	if r.code != ExitOK {
		t.Fatalf("exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	out := parseVerify(t, r)
	if len(out.Findings) != 0 {
		t.Errorf("findings on a valid trail: %+v", out.Findings)
	}
	if want := len(tr.Digests) + tr.LogCount(); out.Summary.FilesScanned != want {
		t.Errorf("files scanned %d, want %d", out.Summary.FilesScanned, want)
	}
	for _, s := range []string{"digests=6", "signatures_verified=6", "logs_verified=18"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}

	table := run(t, "", "verify", "--public-key", tr.PublicKeyFile, "--format", "table", tr.Dir)
	if table.code != ExitOK || !strings.Contains(table.stdout, "No findings.") {
		t.Errorf("table: exit %d\n%s", table.code, table.stdout)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   integritytest.Options
		tamper func(t *testing.T, tr *integritytest.Trail) (rule string, files []string)
	}{
		{"modified log", integritytest.Options{}, func(t *testing.T, tr *integritytest.Trail) (string, []string) {
			victim := tr.Digests[2].Logs[0]
			data, _ := os.ReadFile(victim)
			data[len(data)/2] ^= 0xff
			writeFile(t, victim, data)
			return integrity.RuleLogModified, []string{victim}
		}},
		{"deleted log", integritytest.Options{}, func(t *testing.T, tr *integritytest.Trail) (string, []string) {
			victim := tr.Digests[1].Logs[2]
			os.Remove(victim)
			return integrity.RuleLogMissing, []string{"s3://trail-bucket/" + key(t, tr, victim)}
		}},
		{"deleted digest", integritytest.Options{}, func(t *testing.T, tr *integritytest.Trail) (string, []string) {
			os.Remove(tr.Digests[3].Path)
			return integrity.RuleDigestMissing, []string{"s3://trail-bucket/" + tr.Digests[3].Key}
		}},
		{"modified digest", integritytest.Options{}, func(t *testing.T, tr *integritytest.Trail) (string, []string) {
			if err := tr.Tamper(2, func(d *integritytest.DigestDoc) { d.LogFiles = d.LogFiles[1:] }); err != nil {
				t.Fatal(err)
			}
			return integrity.RuleDigestModified, []string{tr.Digests[2].Path}
		}},
		{"forged signature", integritytest.Options{}, func(t *testing.T, tr *integritytest.Trail) (string, []string) {
			os.Remove(tr.Digests[4].Logs[0])
			err := tr.Forge(4, attackerKey(), func(d *integritytest.DigestDoc) { d.LogFiles = d.LogFiles[1:] })
			if err != nil {
				t.Fatal(err)
			}
			return integrity.RuleSignatureInvalid, []string{tr.Digests[4].Path, tr.Digests[5].Path}
		}},
		{"gap", integritytest.Options{Hours: 8, Skip: []int{3, 4, 5}}, func(t *testing.T, tr *integritytest.Trail) (string, []string) {
			return integrity.RuleGap, []string{tr.Digests[2].Path, tr.Digests[3].Path}
		}},
		{"unlisted log", integritytest.Options{}, func(t *testing.T, tr *integritytest.Trail) (string, []string) {
			planted := filepath.Join(tr.Dir, filepath.FromSlash(tr.LogKey(tr.Digests[2].Start().Add(20*time.Minute), "PLANTEDxxxxxxxxx")))
			writeFile(t, planted, gzipBytes(t, `{"Records":[]}`))
			return integrity.RuleLogUnlisted, []string{planted}
		}},
		{"wrong key fingerprint", integritytest.Options{Hours: 2}, func(t *testing.T, tr *integritytest.Trail) (string, []string) {
			if err := integritytest.WritePublicKey(tr.PublicKeyFile, &attackerKey().PublicKey); err != nil {
				t.Fatal(err)
			}
			return integrity.RuleKeyUnknown, []string{tr.Digests[0].Path, tr.Digests[1].Path}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := signedTrail(t, tc.opts)
			rule, files := tc.tamper(t, tr)
			r := run(t, "", "verify", "--public-key", tr.PublicKeyFile, "--format", "json", tr.Dir)
			if r.code != ExitFindings {
				t.Errorf("exit %d, want 1\n%s", r.code, r.stderr)
			}
			got := filesByRule(parseVerify(t, r))
			if !slices.Equal(got[rule], files) {
				t.Errorf("%s names %q, want %q (all findings: %v)", rule, got[rule], files, got)
			}
			for _, f := range files {
				if !strings.Contains(r.stderr, f) {
					t.Errorf("stderr does not name %s:\n%s", f, r.stderr)
				}
			}
			if strings.Contains(r.stdout, "null") {
				t.Errorf("a list is null rather than []:\n%s", r.stdout)
			}
			for _, f := range parseVerify(t, r).Findings {
				if f.Account != "111122223333" || f.Region != "us-east-1" || len(f.Files) == 0 {
					t.Errorf("finding %s lacks its account, region or files: %+v", f.Rule.ID, f)
				}
			}
		})
	}
}

// key is a local file's S3 key, from AWSLogs/ on.
func key(t *testing.T, tr *integritytest.Trail, path string) string {
	t.Helper()
	rel, err := filepath.Rel(tr.Dir, path)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(rel)
}

func TestVerifyNewestDigestWithoutSignature(t *testing.T) {
	tr := signedTrail(t, integritytest.Options{})
	elsewhere := filepath.Join(t.TempDir(), "sigs.json")
	if err := os.Rename(tr.SignaturesFile, elsewhere); err != nil {
		t.Fatal(err)
	}

	// Said plainly, as an informational finding: not a failure.
	r := run(t, "", "verify", "--public-key", tr.PublicKeyFile, "--format", "json", tr.Dir)
	if r.code != ExitOK {
		t.Errorf("exit %d, want 0\n%s", r.code, r.stderr)
	}
	out := parseVerify(t, r)
	if len(out.Findings) != 1 || out.Findings[0].Rule.ID != integrity.RuleSignatureUnchecked ||
		out.Findings[0].Severity.Label != finding.Info || !slices.Equal(out.Findings[0].Files, []string{tr.Newest().Path}) {
		t.Errorf("findings: %+v", out.Findings)
	}
	if !strings.Contains(r.stderr, "newest digest") {
		t.Errorf("stderr does not say the newest digest went unchecked:\n%s", r.stderr)
	}
	if r := run(t, "", "verify", "--public-key", tr.PublicKeyFile, "--fail-on", "info", tr.Dir); r.code != ExitFindings {
		t.Errorf("--fail-on info: exit %d, want 1", r.code)
	}

	// Given with --signatures, it is checked.
	r = run(t, "", "verify", "--public-key", tr.PublicKeyFile, "--signatures", elsewhere, "--format", "jsonl", tr.Dir)
	if r.code != ExitOK || r.stdout != "" {
		t.Errorf("--signatures: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestVerifyAWSLogsFolderFindsSignaturesBesideIt(t *testing.T) {
	tr := signedTrail(t, integritytest.Options{Org: "o-exampleorg1", Prefix: "trails/"})
	r := run(t, "", "verify", filepath.Join(tr.Dir, "AWSLogs"), "--public-key", tr.PublicKeyFile, "--format", "json")
	if r.code != ExitOK || len(parseVerify(t, r).Findings) != 0 {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestVerifyUsage(t *testing.T) {
	tr := signedTrail(t, integritytest.Options{Hours: 2})
	empty := t.TempDir()
	badKey := filepath.Join(t.TempDir(), "key.pem")
	writeFile(t, badKey, []byte("not a key"))
	badSigs := filepath.Join(t.TempDir(), "sigs.json")
	writeFile(t, badSigs, []byte(`{"AWSLogs/x": "zz"}`))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no path", []string{"--public-key", tr.PublicKeyFile}, "needs a PATH"},
		{"s3 URL malformed", []string{"--public-key", tr.PublicKeyFile, "s3://Trail_Bucket/AWSLogs/"}, "s3://Trail_Bucket/AWSLogs/"},
		{"bad public key", []string{"--public-key", badKey, tr.Dir}, badKey},
		{"missing path", []string{"--public-key", tr.PublicKeyFile, filepath.Join(empty, "nope")}, "nope"},
		{"no digests", []string{"--public-key", tr.PublicKeyFile, empty}, "no CloudTrail digest files"},
		{"bad signatures", []string{"--public-key", tr.PublicKeyFile, "--signatures", badSigs, tr.Dir}, badSigs},
		{"bad format", []string{"--public-key", tr.PublicKeyFile, "--format", "xml", tr.Dir}, "xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, "", append([]string{"verify"}, tc.args...)...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 2 and %q in stderr:\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
}

func TestVerifyUnreadableFileIsExit2(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	tr := signedTrail(t, integritytest.Options{Hours: 2})
	victim := tr.Digests[0].Logs[0]
	if err := os.Chmod(victim, 0); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "verify", "--public-key", tr.PublicKeyFile, "--format", "json", tr.Dir)
	if r.code != ExitUsage || !strings.Contains(r.stderr, victim) {
		t.Errorf("exit %d, want 2 naming %s\n%s", r.code, victim, r.stderr)
	}
}

func TestVerifyTableNamesProblems(t *testing.T) {
	tr := signedTrail(t, integritytest.Options{})
	os.Remove(tr.Digests[0].Logs[0])
	var out, errOut bytes.Buffer
	code := Run(t.Context(), []string{"verify", "--public-key", tr.PublicKeyFile, "--format", "table", tr.Dir}, nil, &out, &errOut)
	if code != ExitFindings {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "CloudTrail log file deleted") || !strings.Contains(out.String(), "T1070") {
		t.Errorf("table:\n%s", out.String())
	}
}
