// Package integrity proves that CloudTrail log files were not altered,
// deleted or cut off after delivery, from the digest files CloudTrail writes
// when log file integrity validation is on — what `aws cloudtrail
// validate-logs` does, for local copies too.
//
// Every hour CloudTrail delivers a digest file per trail and region: the log
// files delivered that hour with their SHA-256, and the SHA-256 and signature
// of the previous digest, so the digests form a chain. Each digest is signed
// (SHA256withRSA) with a regional key whose fingerprint it names; its own
// signature is stored in S3 object metadata, so in a local copy a digest's
// signature is known from its successor, or for the newest one from a
// signatures.json file.
//
// The flow: Collect walks local folders into an Inventory (digests, log files
// and signatures files, matched to their S3 keys by the path suffix starting
// at "AWSLogs/"); Verify checks it and returns a Report of Problems; the
// Report's Findings are the same finding.Finding values detections produce,
// one per rule, account, region and trail (one per gap for gaps).
package integrity

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Digest is one CloudTrail digest file, as documented in "CloudTrail digest
// file structure". Times keep the digest's own text, because the signature
// covers digestEndTime as written.
type Digest struct {
	AccountID            string `json:"awsAccountId"`
	StartTime            string `json:"digestStartTime"`
	EndTime              string `json:"digestEndTime"`
	S3Bucket             string `json:"digestS3Bucket"`
	S3Object             string `json:"digestS3Object"`
	PublicKeyFingerprint string `json:"digestPublicKeyFingerprint"`
	SignatureAlgorithm   string `json:"digestSignatureAlgorithm"`
	NewestEventTime      string `json:"newestEventTime"` // empty (null) when no log files
	OldestEventTime      string `json:"oldestEventTime"`

	// The previous digest in the chain; all empty (null) in a starting digest,
	// the first after validation or logging was turned on.
	PreviousS3Bucket      string `json:"previousDigestS3Bucket"`
	PreviousS3Object      string `json:"previousDigestS3Object"`
	PreviousHashValue     string `json:"previousDigestHashValue"`
	PreviousHashAlgorithm string `json:"previousDigestHashAlgorithm"`
	PreviousSignature     string `json:"previousDigestSignature"`

	LogFiles []LogFile `json:"logFiles"`

	// Start and End are StartTime and EndTime parsed.
	Start time.Time `json:"-"`
	End   time.Time `json:"-"`
}

// LogFile is one log file a digest lists.
type LogFile struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"` // hex SHA-256 of the file as stored (gzip bytes)
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime"`
	OldestEventTime string `json:"oldestEventTime"`
}

// The algorithms CloudTrail documents, and the only ones checked.
const (
	SignatureAlgorithm = "SHA256withRSA"
	HashAlgorithm      = "SHA-256"
)

// IsStart reports whether d starts a chain: it names no previous digest.
func (d *Digest) IsStart() bool { return d.PreviousS3Object == "" }

// SigningString is the data CloudTrail signs for a digest: digestEndTime,
// "<digestS3Bucket>/<digestS3Object>", the hex SHA-256 of the uncompressed
// digest file and previousDigestSignature ("null" for a starting digest),
// joined by newlines.
func (d *Digest) SigningString(contentSHA256 string) string {
	prev := d.PreviousSignature
	if prev == "" {
		prev = "null"
	}
	return d.EndTime + "\n" + d.S3Bucket + "/" + d.S3Object + "\n" + contentSHA256 + "\n" + prev
}

// StoredDigest is a digest file as read: the parsed digest and the two
// hashes verification needs.
type StoredDigest struct {
	*Digest
	StoredSHA256  string // hex SHA-256 of the file's bytes (what the successor records)
	ContentSHA256 string // hex SHA-256 of the uncompressed JSON (what the signature covers)
	Gzipped       bool   // false for a copy someone decompressed: its stored hash cannot match
}

// ReadDigest parses the stored bytes of the digest file name (gzip, as
// CloudTrail delivers it, or already decompressed JSON). Errors name the file.
func ReadDigest(name string, stored []byte) (*StoredDigest, error) {
	content := stored
	gzipped := len(stored) >= 2 && stored[0] == 0x1f && stored[1] == 0x8b
	if gzipped {
		zr, err := gzip.NewReader(bytes.NewReader(stored))
		if err != nil {
			return nil, fmt.Errorf("digest %s: gunzip: %w", name, err)
		}
		if content, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("digest %s: gunzip: %w", name, err)
		}
	}
	d, err := ParseDigest(content)
	if err != nil {
		return nil, fmt.Errorf("digest %s: %w", name, err)
	}
	storedSum, contentSum := sha256.Sum256(stored), sha256.Sum256(content)
	return &StoredDigest{
		Digest:        d,
		StoredSHA256:  hex.EncodeToString(storedSum[:]),
		ContentSHA256: hex.EncodeToString(contentSum[:]),
		Gzipped:       gzipped,
	}, nil
}

// ParseDigest parses and checks a digest's uncompressed JSON: the fields
// verification relies on must be present and well formed.
func ParseDigest(content []byte) (*Digest, error) {
	var d Digest
	if err := json.Unmarshal(content, &d); err != nil {
		return nil, fmt.Errorf("not digest JSON: %w", err)
	}
	var errs []error
	need := func(field, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("missing %s", field))
		}
	}
	need("awsAccountId", d.AccountID)
	need("digestS3Bucket", d.S3Bucket)
	need("digestS3Object", d.S3Object)
	need("digestPublicKeyFingerprint", d.PublicKeyFingerprint)
	var err error
	if d.Start, err = parseTime("digestStartTime", d.StartTime); err != nil {
		errs = append(errs, err)
	}
	if d.End, err = parseTime("digestEndTime", d.EndTime); err != nil {
		errs = append(errs, err)
	}
	if !d.Start.IsZero() && !d.End.IsZero() && d.End.Before(d.Start) {
		errs = append(errs, fmt.Errorf("digestEndTime %s is before digestStartTime %s", d.EndTime, d.StartTime))
	}
	if d.SignatureAlgorithm != SignatureAlgorithm {
		errs = append(errs, fmt.Errorf("digestSignatureAlgorithm %q: only %s is known", d.SignatureAlgorithm, SignatureAlgorithm))
	}
	if d.PreviousS3Object != "" {
		need("previousDigestS3Bucket", d.PreviousS3Bucket)
		need("previousDigestSignature", d.PreviousSignature)
		if d.PreviousHashAlgorithm != HashAlgorithm {
			errs = append(errs, fmt.Errorf("previousDigestHashAlgorithm %q: only %s is known", d.PreviousHashAlgorithm, HashAlgorithm))
		}
		if !isSHA256Hex(d.PreviousHashValue) {
			errs = append(errs, fmt.Errorf("previousDigestHashValue %q is not a hex SHA-256", d.PreviousHashValue))
		}
		if _, err := hex.DecodeString(d.PreviousSignature); err != nil {
			errs = append(errs, fmt.Errorf("previousDigestSignature is not hex: %w", err))
		}
	}
	for i, lf := range d.LogFiles {
		switch {
		case lf.S3Object == "":
			errs = append(errs, fmt.Errorf("logFiles[%d]: missing s3Object", i))
		case lf.HashAlgorithm != HashAlgorithm:
			errs = append(errs, fmt.Errorf("logFiles[%d] %s: hashAlgorithm %q: only %s is known", i, lf.S3Object, lf.HashAlgorithm, HashAlgorithm))
		case !isSHA256Hex(lf.HashValue):
			errs = append(errs, fmt.Errorf("logFiles[%d] %s: hashValue %q is not a hex SHA-256", i, lf.S3Object, lf.HashValue))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &d, nil
}

func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("missing %s", field)
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", field, v)
	}
	return t.UTC(), nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// digestName matches a digest file's name:
// <account>_CloudTrail-Digest_<region>_<trail>_<home region>_<YYYYMMDDTHHmmssZ>[_backfill].json.gz.
// Trail names may hold underscores; region names never do.
var digestName = regexp.MustCompile(`^(\d+)_CloudTrail-Digest_([a-z0-9-]+)_(.+)_([a-z0-9-]+)_(\d{8}T\d{6}Z)(_backfill)?\.json(\.gz)?$`)

// DigestName is what a digest file's name says.
type DigestName struct {
	Account, Region, Trail, HomeRegion string
	End                                time.Time // the digest's end, to the second
	Backfill                           bool      // a backfill digest, for log files delivered late
}

// ParseDigestName reads a digest file name (the last element of its key).
func ParseDigestName(name string) (DigestName, bool) {
	m := digestName.FindStringSubmatch(name)
	if m == nil {
		return DigestName{}, false
	}
	end, err := time.Parse("20060102T150405Z", m[5])
	if err != nil {
		return DigestName{}, false
	}
	return DigestName{Account: m[1], Region: m[2], Trail: m[3], HomeRegion: m[4], End: end, Backfill: m[6] != ""}, true
}

// logName matches a log file's name:
// <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz.
var logName = regexp.MustCompile(`^\d+_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_[^_]+\.json(\.gz)?$`)

// logNameTime is the time a log file's name carries (to the minute).
func logNameTime(name string) (time.Time, bool) {
	m := logName.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T1504Z", m[1])
	return t, err == nil
}

// objectKey is the part of an S3 key from "AWSLogs/" on: the name CloudTrail
// gave the object under the trail's prefix. Keys without it stay as they are.
func objectKey(s3Key string) string {
	if strings.HasPrefix(s3Key, "AWSLogs/") {
		return s3Key
	}
	if i := strings.LastIndex(s3Key, "/AWSLogs/"); i >= 0 {
		return s3Key[i+1:]
	}
	return s3Key
}
