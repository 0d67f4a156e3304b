package ingest

// This file covers input read straight from S3: s3://bucket/prefix arguments
// are listed with ListObjectsV2 and their objects streamed with GetObject,
// through the same gzip-sniffing Opener as local files. Listing follows
// CloudTrail's layout, AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/,
// so that a time window, accounts or regions prune what is listed instead of
// listing a whole bucket to read a week of it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// IsS3URL reports whether a PATH argument names S3 (s3://bucket/prefix).
func IsS3URL(arg string) bool { return strings.HasPrefix(arg, "s3://") }

// S3Location is a bucket and a key prefix: what an s3:// argument names.
type S3Location struct {
	Bucket string
	Prefix string // "" for the whole bucket; used as given, with or without a trailing "/"
}

func (l S3Location) String() string { return "s3://" + l.Bucket + "/" + l.Prefix }

// ParseS3URL reads s3://bucket[/prefix]. The bucket name must be one S3
// accepts (3 to 63 lower-case letters, digits, dots and hyphens), so that a
// typo is a usage error before any request is made.
func ParseS3URL(arg string) (S3Location, error) {
	rest, ok := strings.CutPrefix(arg, "s3://")
	if !ok {
		return S3Location{}, fmt.Errorf("input %s: not an s3:// URL", arg)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if !validBucket(bucket) {
		return S3Location{}, fmt.Errorf("input %s: %q is not an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens)", arg, bucket)
	}
	return S3Location{Bucket: bucket, Prefix: prefix}, nil
}

func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return b[0] != '.' && b[0] != '-' && b[len(b)-1] != '.' && b[len(b)-1] != '-'
}

// HasS3 reports whether any PATH argument names S3.
func HasS3(paths []string) bool {
	for _, p := range paths {
		if IsS3URL(p) {
			return true
		}
	}
	return false
}

// S3Config says how to reach S3. Credentials, region and endpoint come from
// the standard chain (environment, shared config and credentials files, SSO,
// web identity, container and instance roles), including AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_S3 for S3-compatible servers.
type S3Config struct {
	// PathStyle addresses buckets as http://host/bucket/key instead of
	// http://bucket.host/key, as most local S3-compatible servers need.
	PathStyle bool
	// PageSize is the number of keys asked for per ListObjectsV2 call;
	// 0 means S3's maximum, 1000.
	PageSize int32
}

// Selection narrows what is listed under an s3:// prefix. Its fields prune
// whole folders of CloudTrail's layout, and the same rules drop keys listed
// any other way, so what is read does not depend on how it was listed.
type Selection struct {
	// Since and Until bound event time (Until exclusive); zero is unbounded.
	// A log file lives in the folder of the UTC day it was delivered, after
	// its events, so days before Since's are pruned exactly; days after
	// Until's are pruned past LateDelivery.
	Since, Until time.Time
	Accounts     map[string]bool // nil for every account
	Regions      map[string]bool // nil for every region
	// Folders are the folders under AWSLogs/<account>/ to read: CloudTrail
	// for log files (the default), CloudTrail-Digest for digests. Others —
	// CloudTrail-Insight, other services' logs — are skipped by their key.
	Folders []string
}

// LateDelivery is how long after its events a log file may be delivered,
// and so how far past --until's day the day folders are listed. CloudTrail
// delivers within minutes; a day leaves room for its worst delays.
const LateDelivery = 24 * time.Hour

// S3 lists and reads objects in S3 buckets.
type S3 struct {
	client   *s3.Client
	pageSize int32
	sel      Selection
	days     [2]time.Time // the first and last day folders to read, when windowed
	windowed bool
}

// NewS3 loads the AWS configuration with the standard chain and returns an
// S3 reader. No request is made until something is listed.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		// S3 answers from any region for a bucket in us-east-1, and says
		// where another bucket is; a region is needed only to sign.
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.PathStyle
		// CloudTrail's objects carry no additional checksum: without this the
		// SDK logs a line for every one of them.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return NewS3WithClient(client, cfg), nil
}

// NewS3WithClient returns an S3 reader that uses client.
func NewS3WithClient(client *s3.Client, cfg S3Config) *S3 {
	s := &S3{client: client, pageSize: cfg.PageSize}
	s.Select(Selection{})
	return s
}

// Client is the S3 client the reader uses.
func (s *S3) Client() *s3.Client { return s.client }

// Select sets what later walks list. Call it before walking.
func (s *S3) Select(sel Selection) {
	if len(sel.Folders) == 0 {
		sel.Folders = []string{"CloudTrail"}
	}
	s.sel = sel
	s.windowed = !sel.Since.IsZero() || !sel.Until.IsZero()
	s.days = [2]time.Time{{}, farFuture}
	if !sel.Since.IsZero() {
		s.days[0] = day(sel.Since)
	}
	if !sel.Until.IsZero() {
		s.days[1] = day(sel.Until.Add(LateDelivery))
	}
}

var farFuture = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

func day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Walk sends the inputs every PATH argument names to out, in order, and
// closes out when done: local files and folders as WalkLocal does, and the
// objects under s3:// prefixes through src (which may be nil when no
// argument is an s3:// URL). What cannot be listed is passed to onErr and
// the walk goes on.
func Walk(ctx context.Context, paths []string, stdin io.Reader, src *S3, out chan<- Object, onErr func(error)) {
	defer close(out)
	send := sender(ctx, out)
	for _, p := range paths {
		ok := true
		if IsS3URL(p) {
			loc, err := ParseS3URL(p)
			switch {
			case err != nil:
				onErr(err)
			case src == nil:
				onErr(fmt.Errorf("input %s: no S3 client", p))
			default:
				ok = src.Walk(ctx, loc, send, onErr)
			}
		} else {
			ok = walkLocalRoot(ctx, p, stdin, send, onErr)
		}
		if !ok {
			return
		}
	}
}

// Walk sends the objects under loc that the selection keeps, in key order
// within each listing. A listing that fails is passed to onErr, naming the
// s3:// prefix, and the walk goes on with the next; a prefix with no object
// at all is reported too, as an empty local folder is. It returns false when
// send did (the walk was cancelled).
func (s *S3) Walk(ctx context.Context, loc S3Location, send func(Object) bool, onErr func(error)) bool {
	w := &s3Walk{s: s, ctx: ctx, bucket: loc.Bucket, send: send, onErr: onErr}
	ok := w.descend(loc.Prefix, 0)
	if ok && w.listed == 0 && w.failed == 0 && w.empty(loc.Prefix) {
		onErr(fmt.Errorf("input %s: no objects under this prefix", loc))
	}
	return ok
}

// empty reports whether nothing at all is under prefix: a walk that listed
// nothing may have pruned everything there is (another window, account,
// region, or only folders not read).
func (w *s3Walk) empty(prefix string) bool {
	out, err := w.s.client.ListObjectsV2(w.ctx, &s3.ListObjectsV2Input{Bucket: aws.String(w.bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)})
	return err == nil && len(out.Contents) == 0
}

// s3Walk is one walk of one s3:// argument.
type s3Walk struct {
	s      *S3
	ctx    context.Context
	bucket string
	send   func(Object) bool
	onErr  func(error)
	listed int // objects listed, kept or not
	failed int // listings that failed
}

// maxOutsideDepth is how many folders deep a walk looks for AWSLogs/ above
// it (the trail's own key prefix) before it lists the rest whole.
const maxOutsideDepth = 4

// descend lists prefix, one folder level at a time where the layout lets
// the selection prune the next level, and whole where it does not.
func (w *s3Walk) descend(prefix string, depth int) bool {
	lp := parseLayout(prefix)
	if !lp.exact {
		// A prefix that stops inside a name (s3://b/AWSLogs): one listing
		// with a delimiter turns it into whole folders.
		return w.list(prefix, true, depth)
	}
	switch lp.lvl {
	case levelOutside:
		if depth >= maxOutsideDepth {
			return w.list(prefix, false, depth)
		}
	case levelAccount:
		// Only the folders wanted: no need to list the account's folder
		// (other services' logs can be far larger than CloudTrail's).
		for _, f := range w.s.sel.Folders {
			if !w.descend(prefix+f+"/", depth) {
				return false
			}
		}
		return true
	case levelFolder:
		if w.s.sel.Regions == nil && !w.s.windowed {
			return w.list(prefix, false, depth)
		}
	case levelRegion:
		if !w.s.windowed {
			return w.list(prefix, false, depth)
		}
		if !w.s.sel.Since.IsZero() {
			// One listing per day folder of the window.
			for d := w.s.days[0]; !d.After(w.lastDay()); d = d.AddDate(0, 0, 1) {
				if !w.list(prefix+d.Format("2006/01/02/"), false, depth) {
					return false
				}
			}
			return true
		}
	case levelDay, levelUnknown:
		return w.list(prefix, false, depth)
	}
	return w.list(prefix, true, depth)
}

// lastDay is the last day folder to list: Until's (plus late delivery), or
// today's when the window is open-ended.
func (w *s3Walk) lastDay() time.Time {
	if w.s.sel.Until.IsZero() {
		return day(time.Now().Add(LateDelivery)) // clocks differ; tomorrow's folder is empty or tiny
	}
	return w.s.days[1]
}

// list runs ListObjectsV2 over prefix to the last page. With folders, it
// lists one level (delimiter "/") and descends into the folders the
// selection keeps; without, it lists every key under prefix.
func (w *s3Walk) list(prefix string, folders bool, depth int) bool {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(w.bucket), Prefix: aws.String(prefix)}
	if w.s.pageSize > 0 {
		in.MaxKeys = aws.Int32(w.s.pageSize)
	}
	if folders {
		in.Delimiter = aws.String("/")
	}
	pages := s3.NewListObjectsV2Paginator(w.s.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(w.ctx)
		if err != nil {
			if w.ctx.Err() != nil {
				return false
			}
			w.failed++
			w.onErr(fmt.Errorf("list s3://%s/%s: %w", w.bucket, prefix, err))
			return true
		}
		for _, o := range page.Contents {
			w.listed++
			key := aws.ToString(o.Key)
			if !w.s.keep(key) {
				continue
			}
			obj := Object{
				Name:    "s3://" + w.bucket + "/" + key,
				Size:    aws.ToInt64(o.Size),
				ModTime: aws.ToTime(o.LastModified),
				ETag:    aws.ToString(o.ETag),
				s3:      &s3Ref{s: w.s, ctx: w.ctx, bucket: w.bucket, key: key},
			}
			if !w.send(obj) {
				return false
			}
		}
		for _, cp := range page.CommonPrefixes {
			sub := aws.ToString(cp.Prefix)
			if !w.s.keepFolder(sub) {
				continue
			}
			if !w.descend(sub, depth+1) {
				return false
			}
		}
	}
	return true
}

// level is how deep into CloudTrail's layout a key's folders reach.
type level int

const (
	levelOutside level = iota // above AWSLogs/: the trail's key prefix, or not the layout at all
	levelAWSLogs              // AWSLogs/
	levelOrg                  // AWSLogs/o-xxxx/
	levelAccount              // AWSLogs/[o-xxxx/]<account>/
	levelFolder               // .../<account>/CloudTrail/ (or CloudTrail-Digest/, another service's)
	levelRegion               // .../CloudTrail/<region>/
	levelYear                 // .../<region>/YYYY/
	levelMonth                // .../YYYY/MM/
	levelDay                  // .../YYYY/MM/DD/
	levelUnknown              // under AWSLogs/ but off the layout (deeper, or not a date)
)

// layout is what a key's folders say about it.
type layout struct {
	lvl                     level
	exact                   bool // the folders end at lvl (a prefix ending in "/", or "")
	account, folder, region string
	year, month, dayOfMonth int
}

// parseLayout reads the folders of a prefix (everything up to its last
// "/"). A prefix that does not end in "/" is not exact: its last part is
// the start of a name.
func parseLayout(prefix string) layout {
	dirs := strings.Split(prefix, "/")
	last := dirs[len(dirs)-1]
	dirs = dirs[:len(dirs)-1]
	l := layout{exact: last == ""}
	at := -1
	for i := len(dirs) - 1; i >= 0; i-- {
		if dirs[i] == "AWSLogs" {
			at = i
			break
		}
	}
	if at < 0 {
		return l
	}
	rest := dirs[at+1:]
	l.lvl = levelAWSLogs
	if len(rest) > 0 && strings.HasPrefix(rest[0], "o-") {
		rest, l.lvl = rest[1:], levelOrg
	}
	if len(rest) == 0 {
		return l
	}
	l.account, l.lvl = rest[0], levelAccount
	if len(rest) > 1 {
		l.folder, l.lvl = rest[1], levelFolder
	}
	if len(rest) > 2 {
		l.region, l.lvl = rest[2], levelRegion
	}
	for i, p := range []*int{&l.year, &l.month, &l.dayOfMonth} {
		if len(rest) <= 3+i {
			return l
		}
		n, err := strconv.Atoi(rest[3+i])
		if err != nil || n < 0 || len(rest[3+i]) != []int{4, 2, 2}[i] {
			l.lvl = levelUnknown
			return l
		}
		*p, l.lvl = n, levelYear+level(i)
	}
	if len(rest) > 6 {
		l.lvl = levelUnknown
	}
	return l
}

// keep reports whether a listed key is read: not a folder marker nor a
// hidden file, and within the selection as far as its folders tell.
func (s *S3) keep(key string) bool {
	name := path.Base(key)
	if strings.HasSuffix(key, "/") || strings.HasPrefix(name, ".") {
		return false
	}
	dir := key[:len(key)-len(name)]
	return s.keepFolder(dir)
}

// keepFolder reports whether anything under a folder (a prefix ending in
// "/") can be in the selection.
func (s *S3) keepFolder(prefix string) bool {
	l := parseLayout(prefix)
	if l.account != "" && s.sel.Accounts != nil && !s.sel.Accounts[l.account] {
		return false
	}
	if l.folder != "" && !contains(s.sel.Folders, l.folder) {
		return false
	}
	if l.region != "" && s.sel.Regions != nil && !s.sel.Regions[l.region] {
		return false
	}
	if l.year == 0 || !s.windowed {
		return true
	}
	// The days the folder can hold, against the window's days.
	first := time.Date(l.year, time.Month(max(l.month, 1)), max(l.dayOfMonth, 1), 0, 0, 0, 0, time.UTC)
	var last time.Time
	switch {
	case l.dayOfMonth > 0:
		last = first
	case l.month > 0:
		last = first.AddDate(0, 1, -1)
	default:
		last = first.AddDate(1, 0, -1)
	}
	return !last.Before(s.days[0]) && !first.After(s.days[1])
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// s3Ref is where an Object's bytes are in S3.
type s3Ref struct {
	s           *S3
	ctx         context.Context // the walk's: a cancelled scan stops its reads
	bucket, key string
}

func (r *s3Ref) url() string { return "s3://" + r.bucket + "/" + r.key }

// maxResumes is how often a body cut off mid-read is resumed from where it
// stopped. The SDK retries a request that fails; once a body is streaming,
// resuming is up to the reader.
const maxResumes = 3

// open starts a GetObject of the object as listed. The body resumes with a
// ranged GetObject if the connection breaks mid-read, on condition that the
// object is still the one listed (If-Match its ETag), so a file is never
// stitched together from two versions.
func (r *s3Ref) open(obj Object) (*s3Body, error) {
	out, err := r.s.client.GetObject(r.ctx, &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(r.key), IfMatch: nonEmpty(obj.ETag)})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", r.url(), err)
	}
	etag := obj.ETag
	if etag == "" {
		etag = aws.ToString(out.ETag)
	}
	return &s3Body{ref: r, body: out.Body, etag: etag, meta: out.Metadata}, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// s3Body is a GetObject response body that resumes after a broken
// connection.
type s3Body struct {
	ref     *s3Ref
	body    io.ReadCloser
	etag    string
	meta    map[string]string
	off     int64
	resumes int
}

func (b *s3Body) Read(p []byte) (int, error) {
	for {
		n, err := b.body.Read(p)
		b.off += int64(n)
		if err == nil || err == io.EOF {
			return n, err
		}
		if b.resumes >= maxResumes || b.ref.ctx.Err() != nil {
			return n, fmt.Errorf("read %s at byte %d: %w", b.ref.url(), b.off, err)
		}
		b.resumes++
		b.body.Close()
		out, rerr := b.ref.s.client.GetObject(b.ref.ctx, &s3.GetObjectInput{
			Bucket: aws.String(b.ref.bucket), Key: aws.String(b.ref.key),
			Range: aws.String(fmt.Sprintf("bytes=%d-", b.off)), IfMatch: nonEmpty(b.etag),
		})
		if rerr != nil {
			b.body = io.NopCloser(errReader{rerr})
			return n, fmt.Errorf("read %s at byte %d: %w; resuming: %w", b.ref.url(), b.off, err, rerr)
		}
		b.body = out.Body
		if n > 0 {
			return n, nil
		}
	}
}

func (b *s3Body) Close() error { return b.body.Close() }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// OpenStored opens an object's bytes as stored — gzip stays gzip — with the
// user metadata S3 keeps beside them (x-amz-meta-*, keys lower-case without
// the prefix; nil for local files). Integrity checks hash what is stored.
func OpenStored(obj Object) (io.ReadCloser, map[string]string, error) {
	switch {
	case obj.s3 != nil:
		b, err := obj.s3.open(obj)
		if err != nil {
			return nil, nil, err
		}
		meta := make(map[string]string, len(b.meta))
		for k, v := range b.meta {
			meta[strings.ToLower(k)] = v
		}
		return b, meta, nil
	case obj.r != nil:
		return io.NopCloser(obj.r), nil, nil
	}
	f, err := os.Open(obj.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", obj.Name, unwrapPath(err))
	}
	return f, nil, nil
}

// Object names the object at s3://bucket/key for OpenStored and Opener,
// without listing it (its size and ETag unknown): a log file a digest
// lists, read to check its hash.
func (s *S3) Object(ctx context.Context, bucket, key string) Object {
	return Object{Name: "s3://" + bucket + "/" + key, s3: &s3Ref{s: s, ctx: ctx, bucket: bucket, key: key}}
}

// IsNotFound reports whether err says an S3 object is not there.
func IsNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf)
}
