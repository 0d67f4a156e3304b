package integrity_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/integrity"
	"github.com/trailsentry/trailsentry/internal/integrity/integritytest"
)

// A digest as CloudTrail documents it (values from AWS's sample, shortened).
const sampleDigest = `{
  "awsAccountId": "111122223333",
  "digestStartTime": "2015-08-17T14:01:31Z",
  "digestEndTime": "2015-08-17T15:01:31Z",
  "digestS3Bucket": "amzn-s3-demo-bucket",
  "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",
  "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
  "digestSignatureAlgorithm": "SHA256withRSA",
  "newestEventTime": "2015-08-17T14:52:27Z",
  "oldestEventTime": "2015-08-17T14:42:27Z",
  "previousDigestS3Bucket": "amzn-s3-demo-bucket",
  "previousDigestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T140131Z.json.gz",
  "previousDigestHashValue": "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d",
  "previousDigestHashAlgorithm": "SHA-256",
  "previousDigestSignature": "50887ccffad4c002b97caa37cc9dc626e3c680207d41d27fa5835458e066e0d3652fc4dfc30937e4d5f4cc7f796e7a258fb50a43ac427f2237f6e505d4efaf373d156e15e3b6396ef3b10f3bbde4e7ec07e6e2b5f1b4c7f93d0d6ef1c8fbbc6f9d3e12cf3c4ad5d4d9e6c1f0d2c97b8f3a0dce1cbb73bbd6f36e1e3bbf21d9c7d0fe6f0a",
  "logFiles": [
    {
      "s3Bucket": "amzn-s3-demo-bucket",
      "s3Object": "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",
      "hashValue": "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6",
      "hashAlgorithm": "SHA-256",
      "newestEventTime": "2015-08-17T14:52:27Z",
      "oldestEventTime": "2015-08-17T14:42:27Z"
    }
  ]
}`

func TestParseDigest(t *testing.T) {
	d, err := integrity.ParseDigest([]byte(sampleDigest))
	if err != nil {
		t.Fatal(err)
	}
	if d.AccountID != "111122223333" || d.IsStart() || len(d.LogFiles) != 1 || d.LogFiles[0].HashValue[:4] != "9bb6" {
		t.Errorf("parsed: %+v", d)
	}
	if !d.End.Equal(time.Date(2015, 8, 17, 15, 1, 31, 0, time.UTC)) || d.End.Sub(d.Start) != time.Hour {
		t.Errorf("times: %s to %s", d.Start, d.End)
	}
	// The data-signing string, line by line as AWS documents it.
	want := "2015-08-17T15:01:31Z\n" +
		"amzn-s3-demo-bucket/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz\n" +
		"abc123\n" +
		d.PreviousSignature
	if got := d.SigningString("abc123"); got != want {
		t.Errorf("signing string:\n%s\nwant\n%s", got, want)
	}
}

func TestParseStartingDigest(t *testing.T) {
	start := sampleDigest
	for _, f := range []string{"previousDigestS3Bucket", "previousDigestS3Object", "previousDigestHashValue", "previousDigestHashAlgorithm", "previousDigestSignature"} {
		start = replaceField(start, f, "null")
	}
	start = strings.Replace(start, `"logFiles": [`, `"logFiles": [], "x": [`, 1)
	start = replaceField(start, "newestEventTime", "null")
	d, err := integrity.ParseDigest([]byte(start))
	if err != nil {
		t.Fatal(err)
	}
	if !d.IsStart() || len(d.LogFiles) != 0 {
		t.Errorf("parsed: %+v", d)
	}
	if got := d.SigningString("abc"); !strings.HasSuffix(got, "\nabc\nnull") {
		t.Errorf("a starting digest signs \"null\" as the previous signature: %q", got)
	}
}

// replaceField sets the first occurrence of a string field to raw JSON.
func replaceField(doc, field, raw string) string {
	i := strings.Index(doc, `"`+field+`": "`)
	if i < 0 {
		panic(field)
	}
	j := i + len(field) + 5
	k := strings.Index(doc[j:], `"`)
	return doc[:i] + `"` + field + `": ` + raw + doc[j+k+1:]
}

func TestReadDigestMalformed(t *testing.T) {
	const name = "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/x.json.gz"
	for _, tc := range []struct {
		name   string
		stored []byte
		want   string
	}{
		{"not JSON", []byte("PK\x03\x04 a zip file"), "not digest JSON"},
		{"truncated gzip", gz(t, []byte(sampleDigest))[:40], "gunzip"},
		{"not an object", gz(t, []byte(`[1,2]`)), "not digest JSON"},
		{"missing end time", []byte(replaceField(sampleDigest, "digestEndTime", "null")), "missing digestEndTime"},
		{"bad start time", []byte(replaceField(sampleDigest, "digestStartTime", `"yesterday"`)), `digestStartTime "yesterday"`},
		{"end before start", []byte(replaceField(sampleDigest, "digestEndTime", `"2015-08-17T13:00:00Z"`)), "before digestStartTime"},
		{"missing object", []byte(replaceField(sampleDigest, "digestS3Object", `""`)), "missing digestS3Object"},
		{"missing fingerprint", []byte(replaceField(sampleDigest, "digestPublicKeyFingerprint", "null")), "missing digestPublicKeyFingerprint"},
		{"other algorithm", []byte(replaceField(sampleDigest, "digestSignatureAlgorithm", `"SHA1withRSA"`)), `digestSignatureAlgorithm "SHA1withRSA"`},
		{"previous without signature", []byte(replaceField(sampleDigest, "previousDigestSignature", "null")), "missing previousDigestSignature"},
		{"previous hash not hex", []byte(replaceField(sampleDigest, "previousDigestHashValue", `"zz"`)), "previousDigestHashValue"},
		{"log file hash short", []byte(replaceField(sampleDigest, "hashValue", `"9bb6"`)), "logFiles[0]"},
		{"log file other hash", []byte(replaceField(sampleDigest, "hashAlgorithm", `"MD5"`)), `hashAlgorithm "MD5"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := integrity.ReadDigest(name, tc.stored)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q: want the file name and %q", err, tc.want)
			}
		})
	}
}

func TestReadDigestHashes(t *testing.T) {
	stored := gz(t, []byte(sampleDigest))
	sd, err := integrity.ReadDigest("d.json.gz", stored)
	if err != nil {
		t.Fatal(err)
	}
	if !sd.Gzipped || sd.StoredSHA256 == sd.ContentSHA256 || len(sd.StoredSHA256) != 64 {
		t.Errorf("%+v", sd)
	}
	plain, err := integrity.ReadDigest("d.json", []byte(sampleDigest))
	if err != nil {
		t.Fatal(err)
	}
	if plain.Gzipped || plain.ContentSHA256 != sd.ContentSHA256 || plain.StoredSHA256 != plain.ContentSHA256 {
		t.Errorf("plain: %+v", plain)
	}
}

func TestParseDigestName(t *testing.T) {
	n, ok := integrity.ParseDigestName("111122223333_CloudTrail-Digest_eu-west-1_org_trail_name_us-gov-west-1_20240501T100131Z.json.gz")
	want := integrity.DigestName{Account: "111122223333", Region: "eu-west-1", Trail: "org_trail_name", HomeRegion: "us-gov-west-1",
		End: time.Date(2024, 5, 1, 10, 1, 31, 0, time.UTC)}
	if !ok || n != want {
		t.Errorf("got %+v, want %+v", n, want)
	}
	n, ok = integrity.ParseDigestName("111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240501T100131Z_backfill.json.gz")
	if !ok || !n.Backfill || n.Trail != "t" {
		t.Errorf("backfill: %+v", n)
	}
	for _, bad := range []string{"111122223333_CloudTrail_us-east-1_20240501T1000Z_abc.json.gz", "digest.json.gz", ""} {
		if _, ok := integrity.ParseDigestName(bad); ok {
			t.Errorf("%q parsed as a digest name", bad)
		}
	}
}

func TestLoadPublicKeys(t *testing.T) {
	k := &cloudTrailKey().PublicKey
	fp := integritytest.FingerprintOf(k)
	dir := t.TempDir()
	pkcs1 := filepath.Join(dir, "pkcs1.pem")
	integritytest.WritePublicKey(pkcs1, k)
	spki, _ := x509.MarshalPKIXPublicKey(k)
	pkix := filepath.Join(dir, "pkix.pem")
	os.WriteFile(pkix, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o644)
	der := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(k))
	listed := filepath.Join(dir, "list-public-keys.json")
	os.WriteFile(listed, []byte(`{"PublicKeyList":[{"Value":"`+der+`","ValidityStartTime":"2024-01-01T00:00:00Z","ValidityEndTime":"2025-01-01T00:00:00Z","Fingerprint":"`+fp+`"}]}`), 0o644)
	for _, p := range []string{pkcs1, pkix, listed} {
		keys, err := integrity.LoadPublicKeys(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if len(keys) != 1 || keys[0].Fingerprint != fp || !keys[0].Key.Equal(k) || keys[0].Source != p {
			t.Errorf("%s: %+v", p, keys)
		}
	}

	wrongFP := filepath.Join(dir, "wrong-fingerprint.json")
	os.WriteFile(wrongFP, []byte(`{"PublicKeyList":[{"Value":"`+der+`","Fingerprint":"00000000000000000000000000000000"}]}`), 0o644)
	notKey := filepath.Join(dir, "cert.pem")
	os.WriteFile(notKey, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), 0o644)
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("nothing here\n"), 0o644)
	for p, want := range map[string]string{
		wrongFP:                       "stated fingerprint 00000000000000000000000000000000",
		notKey:                        `"CERTIFICATE"`,
		empty:                         "no RSA public key",
		filepath.Join(dir, "missing"): "no such file",
	} {
		_, err := integrity.LoadPublicKeys(p)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want the path and %q", p, err, want)
		}
	}
}

func TestLoadSignatures(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "signatures.json")
	os.WriteFile(p, []byte(`{
		"audit/AWSLogs/1/CloudTrail-Digest/r/2024/05/01/a.json.gz": "ABCD",
		"s3://bucket/AWSLogs/1/CloudTrail-Digest/r/2024/05/01/b.json.gz": "00ff"
	}`), 0o644)
	sigs, err := integrity.LoadSignatures(p)
	if err != nil {
		t.Fatal(err)
	}
	if sigs["AWSLogs/1/CloudTrail-Digest/r/2024/05/01/a.json.gz"] != "abcd" || sigs["AWSLogs/1/CloudTrail-Digest/r/2024/05/01/b.json.gz"] != "00ff" || len(sigs) != 2 {
		t.Errorf("%v", sigs)
	}
	os.WriteFile(p, []byte(`{"AWSLogs/x.json.gz": "not hex"}`), 0o644)
	if _, err := integrity.LoadSignatures(p); err == nil || !strings.Contains(err.Error(), "AWSLogs/x.json.gz") {
		t.Errorf("error %v, want the key named", err)
	}
	os.WriteFile(p, []byte(`["AWSLogs/x.json.gz"]`), 0o644)
	if _, err := integrity.LoadSignatures(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v, want the file named", err)
	}
}
