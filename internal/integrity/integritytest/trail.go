// Package integritytest writes synthetic CloudTrail trails — gzip log files
// and hourly digest files, chained and signed the way CloudTrail does it — so
// that tests and benchmarks of package integrity run against a complete trail
// on disk, signed with a key they generate.
//
// It follows AWS's documentation ("CloudTrail digest file structure", and the
// custom-validation guide) on its own, without calling package integrity, so
// a misreading in one is not silently shared by the other.
package integritytest

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options describe the trail to write. Zero values take the defaults shown.
type Options struct {
	Account string // "111122223333"
	Region  string // "us-east-1"
	Trail   string // "management_events" (an underscore, as trail names may have)
	Org     string // organization id for an organization trail's layout (AWSLogs/<org>/<account>/...); "" for none
	Bucket  string // "trail-bucket"
	Prefix  string // S3 key prefix before AWSLogs/, e.g. "audit/"; the local copy has AWSLogs/ at its top

	Start         time.Time // the first digest's start: 2024-05-01T00:01:31Z
	Hours         int       // digest periods: 6
	LogsPerHour   int       // log files per hour: 3
	RecordsPerLog int       // events per log file: 5

	// Skip lists hours (0-based) when the trail did not log: no log file and
	// no digest. The first digest after skipped hours starts a new chain
	// (null previous fields), as after StopLogging and StartLogging.
	Skip []int
	// EmptyHours lists hours with no log file: their digest lists none.
	EmptyHours []int

	Key *rsa.PrivateKey // CloudTrail's signing key for the region; required
}

// Trail is a trail written to disk.
type Trail struct {
	Dir            string // holds AWSLogs/, signatures.json and the public key
	PublicKeyFile  string // PEM "RSA PUBLIC KEY" (PKCS#1), as CloudTrail's keys are
	SignaturesFile string // signatures.json: the newest digest of each chain
	Digests        []*Digest
	opts           Options
	dirs           map[string]bool // folders made so far
}

// Digest is one digest file of the trail, oldest first.
type Digest struct {
	Path      string // on disk
	Key       string // S3 key, with the prefix
	Doc       DigestDoc
	Stored    []byte // the gzip file as written
	Signature string // hex; in S3 this is the object's x-amz-meta-signature
	Logs      []string
}

// DigestDoc is a digest file's JSON, field for field as CloudTrail writes it.
// Fields that are null in a starting digest, or in a digest without log
// files, are pointers.
type DigestDoc struct {
	AwsAccountID                string    `json:"awsAccountId"`
	DigestStartTime             string    `json:"digestStartTime"`
	DigestEndTime               string    `json:"digestEndTime"`
	DigestS3Bucket              string    `json:"digestS3Bucket"`
	DigestS3Object              string    `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string    `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string    `json:"digestSignatureAlgorithm"`
	NewestEventTime             *string   `json:"newestEventTime"`
	OldestEventTime             *string   `json:"oldestEventTime"`
	PreviousDigestS3Bucket      *string   `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string   `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string   `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string   `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string   `json:"previousDigestSignature"`
	LogFiles                    []LogDoc  `json:"logFiles"`
	hour                        int       // which hour of the trail it covers
	end                         time.Time // digestEndTime parsed
}

// LogDoc is one entry of a digest's logFiles.
type LogDoc struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"`
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime"`
	OldestEventTime string `json:"oldestEventTime"`
}

// NewKey generates a 2048-bit RSA key, the size CloudTrail uses.
func NewKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }

// FingerprintOf is the fingerprint digests name a key by: the hex MD5 of its
// PKCS#1 DER encoding.
func FingerprintOf(k *rsa.PublicKey) string {
	sum := md5.Sum(x509.MarshalPKCS1PublicKey(k))
	return hex.EncodeToString(sum[:])
}

// WritePublicKey writes k as a PEM "RSA PUBLIC KEY" file.
func WritePublicKey(path string, k *rsa.PublicKey) error {
	data := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(k)})
	return os.WriteFile(path, data, 0o644)
}

// Write writes a trail under dir.
func Write(dir string, o Options) (*Trail, error) {
	o = withDefaults(o)
	if o.Key == nil {
		return nil, fmt.Errorf("integritytest: Options.Key is required")
	}
	t := &Trail{
		Dir:            dir,
		PublicKeyFile:  filepath.Join(dir, "cloudtrail-public-key.pem"),
		SignaturesFile: filepath.Join(dir, "signatures.json"),
		opts:           o,
		dirs:           map[string]bool{},
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := WritePublicKey(t.PublicKeyFile, &o.Key.PublicKey); err != nil {
		return nil, err
	}
	skip := set(o.Skip)
	empty := set(o.EmptyHours)
	for h := 0; h < o.Hours; h++ {
		if skip[h] {
			continue
		}
		start := o.Start.Add(time.Duration(h) * time.Hour)
		end := start.Add(time.Hour)
		d := &Digest{Doc: DigestDoc{
			AwsAccountID:               o.Account,
			DigestStartTime:            start.Format(time.RFC3339),
			DigestEndTime:              end.Format(time.RFC3339),
			DigestS3Bucket:             o.Bucket,
			DigestPublicKeyFingerprint: FingerprintOf(&o.Key.PublicKey),
			DigestSignatureAlgorithm:   "SHA256withRSA",
			LogFiles:                   []LogDoc{},
			hour:                       h,
			end:                        end,
		}}
		key := fmt.Sprintf("%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz",
			t.accountRoot(), o.Region, end.Format("2006/01/02"), o.Account, o.Region, o.Trail, o.Region, end.Format("20060102T150405Z"))
		d.Key = o.Prefix + key
		d.Path = filepath.Join(dir, filepath.FromSlash(key))
		d.Doc.DigestS3Object = d.Key
		if !empty[h] {
			for j := range o.LogsPerHour {
				delivered := start.Add(time.Duration(j+1) * time.Hour / time.Duration(o.LogsPerHour+1))
				if err := t.writeLog(d, h, j, delivered); err != nil {
					return nil, err
				}
			}
		}
		t.Digests = append(t.Digests, d)
	}
	if err := t.sign(0, o.Key); err != nil {
		return nil, err
	}
	return t, nil
}

func withDefaults(o Options) Options {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Account, "111122223333")
	def(&o.Region, "us-east-1")
	def(&o.Trail, "management_events")
	def(&o.Bucket, "trail-bucket")
	if o.Start.IsZero() {
		o.Start = time.Date(2024, 5, 1, 0, 1, 31, 0, time.UTC)
	}
	if o.Hours == 0 {
		o.Hours = 6
	}
	if o.LogsPerHour == 0 {
		o.LogsPerHour = 3
	}
	if o.RecordsPerLog == 0 {
		o.RecordsPerLog = 5
	}
	return o
}

func set(xs []int) map[int]bool {
	m := make(map[int]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// accountRoot is AWSLogs/<account>, or AWSLogs/<org>/<account>.
func (t *Trail) accountRoot() string {
	if t.opts.Org != "" {
		return "AWSLogs/" + t.opts.Org + "/" + t.opts.Account
	}
	return "AWSLogs/" + t.opts.Account
}

// LogKey is the S3 key (without the prefix) a log file of the trail would
// have at time at, with a unique part.
func (t *Trail) LogKey(at time.Time, unique string) string {
	o := t.opts
	return fmt.Sprintf("%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz",
		t.accountRoot(), o.Region, at.Format("2006/01/02"), o.Account, o.Region, at.Format("20060102T1504Z"), unique)
}

// writeLog writes the j-th log file of hour h, named for the time it is
// delivered, and lists it in d.
func (t *Trail) writeLog(d *Digest, h, j int, delivered time.Time) error {
	o := t.opts
	r := mrand.New(mrand.NewPCG(uint64(h), uint64(j)))
	key := t.LogKey(delivered, unique(r))
	records, oldest, newest := t.records(r, delivered)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(map[string]any{"Records": records}); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	path := filepath.Join(t.Dir, filepath.FromSlash(key))
	if err := t.writeFile(path, buf.Bytes()); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	d.Doc.LogFiles = append(d.Doc.LogFiles, LogDoc{
		S3Bucket: o.Bucket, S3Object: o.Prefix + key, HashValue: hex.EncodeToString(sum[:]), HashAlgorithm: "SHA-256",
		NewestEventTime: newest.Format(time.RFC3339), OldestEventTime: oldest.Format(time.RFC3339),
	})
	d.Logs = append(d.Logs, path)
	first, last := oldest.Format(time.RFC3339), newest.Format(time.RFC3339)
	if d.Doc.OldestEventTime == nil || first < *d.Doc.OldestEventTime {
		d.Doc.OldestEventTime = &first
	}
	if d.Doc.NewestEventTime == nil || last > *d.Doc.NewestEventTime {
		d.Doc.NewestEventTime = &last
	}
	return nil
}

func unique(r *mrand.Rand) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 16)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// record is a plain CloudTrail management event.
type record struct {
	EventVersion       string          `json:"eventVersion"`
	UserIdentity       identity        `json:"userIdentity"`
	EventTime          string          `json:"eventTime"`
	EventSource        string          `json:"eventSource"`
	EventName          string          `json:"eventName"`
	AWSRegion          string          `json:"awsRegion"`
	SourceIPAddress    string          `json:"sourceIPAddress"`
	UserAgent          string          `json:"userAgent"`
	RequestParameters  json.RawMessage `json:"requestParameters"`
	ResponseElements   json.RawMessage `json:"responseElements"`
	RequestID          string          `json:"requestID"`
	EventID            string          `json:"eventID"`
	ReadOnly           bool            `json:"readOnly"`
	EventType          string          `json:"eventType"`
	ManagementEvent    bool            `json:"managementEvent"`
	RecipientAccountID string          `json:"recipientAccountId"`
	EventCategory      string          `json:"eventCategory"`
}

type identity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	AccessKeyID string `json:"accessKeyId"`
}

// records makes a log file's events, in the minutes before it is delivered.
func (t *Trail) records(r *mrand.Rand, delivered time.Time) (recs []record, oldest, newest time.Time) {
	o := t.opts
	calls := [...][2]string{
		{"ec2.amazonaws.com", "DescribeInstances"},
		{"s3.amazonaws.com", "ListBuckets"},
		{"iam.amazonaws.com", "ListRoles"},
		{"sts.amazonaws.com", "GetCallerIdentity"},
		{"cloudtrail.amazonaws.com", "DescribeTrails"},
	}
	for i := range o.RecordsPerLog {
		at := delivered.Add(-time.Duration(o.RecordsPerLog-i) * 7 * time.Second).Truncate(time.Second)
		if i == 0 {
			oldest = at
		}
		newest = at
		c := calls[r.IntN(len(calls))]
		recs = append(recs, record{
			EventVersion: "1.08",
			UserIdentity: identity{Type: "AssumedRole", PrincipalID: "AROAEXAMPLE:alice",
				ARN: "arn:aws:sts::" + o.Account + ":assumed-role/Admin/alice", AccountID: o.Account, AccessKeyID: "ASIAEXAMPLE0000001"},
			EventTime: at.Format(time.RFC3339), EventSource: c[0], EventName: c[1], AWSRegion: o.Region,
			SourceIPAddress: "203.0.113.10", UserAgent: "aws-cli/2.15.30",
			RequestParameters: json.RawMessage("null"), ResponseElements: json.RawMessage("null"),
			RequestID: uuid(r), EventID: uuid(r), ReadOnly: true, EventType: "AwsApiCall",
			ManagementEvent: true, RecipientAccountID: o.Account, EventCategory: "Management",
		})
	}
	return recs, oldest, newest
}

func uuid(r *mrand.Rand) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
}

// sign (re)writes the digests from index from on: each one's link to its
// predecessor (unless it starts a chain after skipped hours), gzip, and
// signature with key; then signatures.json.
func (t *Trail) sign(from int, key *rsa.PrivateKey) error {
	for i := from; i < len(t.Digests); i++ {
		d := t.Digests[i]
		if i > 0 && t.Digests[i-1].Doc.hour == d.Doc.hour-1 {
			p := t.Digests[i-1]
			sum := sha256.Sum256(p.Stored)
			d.Doc.PreviousDigestS3Bucket = ptr(p.Doc.DigestS3Bucket)
			d.Doc.PreviousDigestS3Object = ptr(p.Doc.DigestS3Object)
			d.Doc.PreviousDigestHashValue = ptr(hex.EncodeToString(sum[:]))
			d.Doc.PreviousDigestHashAlgorithm = ptr("SHA-256")
			d.Doc.PreviousDigestSignature = ptr(p.Signature)
		}
		if err := t.store(d, key); err != nil {
			return err
		}
	}
	return t.writeSignatures()
}

// store serializes, gzips, signs and writes one digest.
func (t *Trail) store(d *Digest, key *rsa.PrivateKey) error {
	content, err := json.Marshal(d.Doc)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(content)
	if err := zw.Close(); err != nil {
		return err
	}
	d.Stored = buf.Bytes()
	// The data-signing string: digestEndTime, bucket/object, hex SHA-256 of
	// the uncompressed file, and the previous signature ("null" if none).
	contentSum := sha256.Sum256(content)
	prev := "null"
	if d.Doc.PreviousDigestSignature != nil {
		prev = *d.Doc.PreviousDigestSignature
	}
	signing := d.Doc.DigestEndTime + "\n" + d.Doc.DigestS3Bucket + "/" + d.Doc.DigestS3Object + "\n" +
		hex.EncodeToString(contentSum[:]) + "\n" + prev
	h := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		return err
	}
	d.Signature = hex.EncodeToString(sig)
	return t.writeFile(d.Path, d.Stored)
}

// writeSignatures writes signatures.json with the signature of the newest
// digest of each chain: the ones no later digest carries.
func (t *Trail) writeSignatures() error {
	sigs := map[string]string{}
	for i, d := range t.Digests {
		if i == len(t.Digests)-1 || t.Digests[i+1].Doc.PreviousDigestS3Object == nil {
			sigs[d.Key] = d.Signature
		}
	}
	data, err := json.MarshalIndent(sigs, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(t.SignaturesFile, data, 0o644)
}

// Forge plays an attacker who rewrites digest i with edit and, to keep the
// chain consistent, every later digest, signing them all with key (not
// CloudTrail's) while keeping the fingerprint they name; signatures.json is
// rewritten to match.
func (t *Trail) Forge(i int, key *rsa.PrivateKey, edit func(*DigestDoc)) error {
	if edit != nil {
		edit(&t.Digests[i].Doc)
	}
	return t.sign(i, key)
}

// Tamper rewrites digest i with edit and writes it back unsigned: its
// successor's record of it and its signature no longer match.
func (t *Trail) Tamper(i int, edit func(*DigestDoc)) error {
	d := t.Digests[i]
	edit(&d.Doc)
	content, err := json.Marshal(d.Doc)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(content)
	if err := zw.Close(); err != nil {
		return err
	}
	return t.writeFile(d.Path, buf.Bytes())
}

// Backfill plays CloudTrail delivering a log file of digest i's hour late:
// the log file, and a backfill digest (name ending in _backfill) that lists
// it, outside the chain, its signature added to signatures.json.
func (t *Trail) Backfill(i int) (*Digest, error) {
	o := t.opts
	orig := t.Digests[i]
	d := &Digest{Doc: orig.Doc}
	d.Doc.LogFiles, d.Doc.OldestEventTime, d.Doc.NewestEventTime = []LogDoc{}, nil, nil
	d.Doc.PreviousDigestS3Bucket, d.Doc.PreviousDigestS3Object, d.Doc.PreviousDigestHashValue = nil, nil, nil
	d.Doc.PreviousDigestHashAlgorithm, d.Doc.PreviousDigestSignature = nil, nil
	key := strings.TrimSuffix(strings.TrimPrefix(orig.Key, o.Prefix), ".json.gz") + "_backfill.json.gz"
	d.Key = o.Prefix + key
	d.Path = filepath.Join(t.Dir, filepath.FromSlash(key))
	d.Doc.DigestS3Object = d.Key
	if err := t.writeLog(d, orig.Doc.hour, 1000, orig.Start().Add(59*time.Minute)); err != nil {
		return nil, err
	}
	if err := t.store(d, o.Key); err != nil {
		return nil, err
	}
	sigs := map[string]string{}
	data, err := os.ReadFile(t.SignaturesFile)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &sigs); err != nil {
		return nil, err
	}
	sigs[d.Key] = d.Signature
	if data, err = json.MarshalIndent(sigs, "", "  "); err != nil {
		return nil, err
	}
	return d, os.WriteFile(t.SignaturesFile, data, 0o644)
}

// Start is the start of the hour digest d covers.
func (d *Digest) Start() time.Time { return d.Doc.end.Add(-time.Hour) }

// Newest is the newest digest.
func (t *Trail) Newest() *Digest { return t.Digests[len(t.Digests)-1] }

// LogCount is the number of log files the digests list.
func (t *Trail) LogCount() int {
	n := 0
	for _, d := range t.Digests {
		n += len(d.Logs)
	}
	return n
}

func ptr(s string) *string { return &s }

func (t *Trail) writeFile(path string, data []byte) error {
	if dir := filepath.Dir(path); !t.dirs[dir] {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		t.dirs[dir] = true
	}
	return os.WriteFile(path, data, 0o644)
}
