package ingest

// This file is the S3 polling source of watch mode, for trails whose bucket
// sends no notifications: it lists each account/region folder of the trail
// (AWSLogs/[o-xxxx/]<account>/CloudTrail/<region>/) from a checkpoint, and
// hands out the objects that appeared since.
//
// Why a cursor per account/region folder: within one, CloudTrail's keys sort
// by delivery time (YYYY/MM/DD/<account>_CloudTrail_<region>_YYYYMMDDTHHmmZ_
// <random>.json.gz), so ListObjectsV2 with StartAfter set to the last key
// read lists exactly what is newer. Across folders keys do not sort that
// way, so each folder keeps its own cursor.
//
// Why an overlap: files delivered within the same minute differ only by a
// random suffix, so one can sort before a key already read and be listed
// after it. The cursor therefore stays Overlap behind the newest key read
// (by the time in the file names), and the keys read since the cursor are
// kept in the checkpoint so that they are not handed out twice.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// S3PollConfig configures an S3 polling source.
type S3PollConfig struct {
	// S3 lists and reads the bucket.
	S3 *S3
	// Location is the bucket and the prefix to watch: the trail's key
	// prefix, AWSLogs/, an organization's or account's folder, or one
	// region's folder. The account/region folders under it are found by
	// listing, again every Rediscover.
	Location S3Location
	// Folders are the folders under AWSLogs/<account>/ watched; default
	// CloudTrail.
	Folders []string
	// Interval is the wait between polls of a folder that had nothing more
	// to read; default 1 minute.
	Interval time.Duration
	// Rediscover is how often new account/region folders are looked for;
	// default 15 minutes.
	Rediscover time.Duration
	// PageSize bounds the keys listed per call, and so the objects in one
	// batch; default 1000 (S3's maximum).
	PageSize int32
	// Overlap is how far behind the newest file read the cursor stays;
	// default 15 minutes. See the file comment.
	Overlap time.Duration
	// Since is where a folder without a checkpoint starts: its day folders
	// from Since's UTC day on. Zero means the day the source started.
	Since time.Time
	// Checkpoints reads stored checkpoints; nil starts every folder from
	// Since.
	Checkpoints CheckpointLoader
	// Logger receives the source's log lines; nil discards them.
	Logger *slog.Logger
}

// S3Poll polls the account/region folders of a trail. It implements Source.
type S3Poll struct {
	cfg S3PollConfig
	log *slog.Logger
	c   counters
	p   *poller

	ctx    context.Context // ends with Close; objects handed out are read within it
	cancel context.CancelFunc

	discoverMu sync.Mutex
	rediscover time.Time // when they are looked for next
}

// pollState is a folder's committed position: every key up to After has
// been read, and so have the keys in Recent (relative to the folder).
type pollState struct {
	After  string   `json:"after"`
	Recent []string `json:"recent,omitempty"`
}

// NewS3Poll returns an S3 polling source. Nothing is listed until Next is
// called.
func NewS3Poll(cfg S3PollConfig) (*S3Poll, error) {
	if cfg.S3 == nil || cfg.Location.Bucket == "" {
		return nil, errors.New("S3 polling source: an S3 reader and a bucket are needed")
	}
	if len(cfg.Folders) == 0 {
		cfg.Folders = []string{"CloudTrail"}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Rediscover <= 0 {
		cfg.Rediscover = 15 * time.Minute
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 1000 {
		cfg.PageSize = 1000
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = 15 * time.Minute
	}
	if cfg.Since.IsZero() {
		cfg.Since = time.Now()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &S3Poll{
		cfg: cfg, log: loggerOr(cfg.Logger).With("source", "s3poll", "location", cfg.Location.String()),
		p: newPoller(cfg.Interval, ctx.Done()), ctx: ctx, cancel: cancel,
	}, nil
}

// Stats returns the source's counters.
func (s *S3Poll) Stats() Stats { return s.c.stats() }

// Close stops the source; batches out are not acknowledged.
func (s *S3Poll) Close() error {
	s.cancel()
	return nil
}

// checkpointKey is the key of a folder's checkpoint.
func (s *S3Poll) checkpointKey(folder string) string {
	return "s3poll:s3://" + s.cfg.Location.Bucket + "/" + folder
}

// Next returns the objects that appeared in one folder since its
// checkpoint, with the checkpoint to commit with them.
func (s *S3Poll) Next(ctx context.Context) (*Batch, error) {
	for {
		until, err := s.discover(ctx)
		if err != nil {
			return nil, err
		}
		c, state, err := s.p.take(ctx, until)
		if err != nil {
			return nil, err
		}
		if c == nil {
			continue // time to look for folders again
		}
		folder := strings.TrimPrefix(c.key, s.checkpointKey(""))
		st, err := s.load(ctx, c.key, folder, state)
		if err != nil {
			s.c.errors.Add(1)
			s.log.Warn("checkpoint not read; retrying", "folder", folder, "error", err)
			s.p.settle(c, nil, s.p.retryWait())
			continue
		}
		b, next, more, err := s.poll(ctx, folder, st)
		if err != nil {
			if ctx.Err() != nil {
				s.p.settle(c, st, 0)
				return nil, ctx.Err()
			}
			s.c.errors.Add(1)
			s.log.Warn("listing failed; retrying", "folder", folder, "error", err)
			s.p.settle(c, st, s.p.retryWait())
			continue
		}
		wait := s.cfg.Interval
		if more {
			wait = 0
		}
		if b == nil {
			// Nothing new: the cursor may still move on past what it saw.
			s.p.settle(c, next, wait)
			continue
		}
		value, err := json.Marshal(next)
		if err != nil {
			return nil, err
		}
		b.Checkpoint = &detect.Checkpoint{Key: c.key, Value: string(value)}
		s.p.handOut(b, &s.c, c, next, st, wait, func(err error) {
			s.log.Warn("batch failed; the folder is listed again from its checkpoint", "folder", folder, "batch", b.ID, "error", err)
		})
		return b, nil
	}
}

// load returns a folder's state: the one in memory, else the stored
// checkpoint, else a start at Since's day folder.
func (s *S3Poll) load(ctx context.Context, key, folder string, state any) (*pollState, error) {
	if st, ok := state.(*pollState); ok {
		return st, nil
	}
	if st, err := storedState[pollState](ctx, s.cfg.Checkpoints, key); err != nil || st != nil {
		return st, err
	}
	st := &pollState{}
	if parseLayout(folder).lvl == levelRegion {
		// Keys of the day folder sort after its name; StartAfter lists them.
		st.After = folder + s.cfg.Since.UTC().Format("2006/01/02/")
	}
	return st, nil
}

// discover looks for account/region folders under the location, at the
// first call and every Rediscover after (sooner after a failure, or while
// none is found), and returns when it is due next. Only ctx ending is an
// error.
func (s *S3Poll) discover(ctx context.Context) (time.Time, error) {
	s.discoverMu.Lock()
	defer s.discoverMu.Unlock()
	if time.Now().Before(s.rediscover) {
		return s.rediscover, nil
	}
	var found []string
	err := s.findFolders(ctx, s.cfg.Location.Prefix, 0, &found)
	switch {
	case err != nil && ctx.Err() != nil:
		return time.Time{}, ctx.Err()
	case err != nil:
		s.c.errors.Add(1)
		s.log.Warn("looking for account/region folders failed; retrying", "error", err)
		s.rediscover = time.Now().Add(s.p.retryWait())
	case len(found) == 0:
		s.log.Warn("no CloudTrail account/region folders under the location yet")
		s.rediscover = time.Now().Add(s.cfg.Interval)
	default:
		s.rediscover = time.Now().Add(s.cfg.Rediscover)
	}
	for _, f := range found {
		s.p.add(s.checkpointKey(f))
	}
	return s.rediscover, nil
}

// findFolders descends CloudTrail's layout to the account/region folders
// (or stops at the prefix given when it is a region folder or deeper).
func (s *S3Poll) findFolders(ctx context.Context, prefix string, depth int, found *[]string) error {
	l := parseLayout(prefix)
	switch {
	case l.exact && l.lvl >= levelRegion:
		*found = append(*found, prefix)
		return nil
	case l.exact && l.lvl == levelAccount:
		for _, f := range s.cfg.Folders {
			if err := s.findFolders(ctx, prefix+f+"/", depth, found); err != nil {
				return err
			}
		}
		return nil
	case l.exact && l.lvl == levelOutside && depth >= maxOutsideDepth:
		return nil
	}
	pages := s3.NewListObjectsV2Paginator(s.cfg.S3.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Location.Bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", s.cfg.Location.Bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			sub := aws.ToString(cp.Prefix)
			sl := parseLayout(sub)
			if sl.lvl == levelFolder && !contains(s.cfg.Folders, sl.folder) {
				continue
			}
			if err := s.findFolders(ctx, sub, depth+1, found); err != nil {
				return err
			}
		}
	}
	return nil
}

// nameTime finds the time in a CloudTrail file name: YYYYMMDDTHHmmZ in log
// files, YYYYMMDDTHHmmssZ in digests.
var nameTime = regexp.MustCompile(`_(\d{8}T\d{4}(?:\d{2})?Z)[_.]`)

// keyTime is the delivery time a key's file name says; false when it says
// none.
func keyTime(key string) (time.Time, bool) {
	m := nameTime.FindStringSubmatch(baseName(key))
	if m == nil {
		return time.Time{}, false
	}
	layout := "20060102T1504Z"
	if len(m[1]) == len("20060102T150405Z") {
		layout = "20060102T150405Z"
	}
	t, err := time.Parse(layout, m[1])
	return t, err == nil
}

// poll lists one folder from its state. It returns a batch of the keys not
// read before (nil when there are none), the state once they are read, and
// whether more may be waiting (a full page).
func (s *S3Poll) poll(ctx context.Context, folder string, st *pollState) (*Batch, *pollState, bool, error) {
	recent := map[string]bool{}
	for _, k := range st.Recent {
		recent[folder+k] = true
	}
	in := &s3.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Location.Bucket), Prefix: aws.String(folder),
		StartAfter: aws.String(st.After), MaxKeys: aws.Int32(s.cfg.PageSize),
	}
	if st.After == "" {
		in.StartAfter = nil
	}
	received := time.Now()
	var (
		objs   []Object
		listed []string
		more   bool
		sent   time.Time
	)
	pages := s3.NewListObjectsV2Paginator(s.cfg.S3.client, in)
	// Pages are read until one holds something new: a page of nothing but
	// keys read before (the overlap) does not end the poll.
	for pages.HasMorePages() && len(objs) == 0 {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, nil, false, fmt.Errorf("list s3://%s/%s after %q: %w", s.cfg.Location.Bucket, folder, st.After, err)
		}
		more = aws.ToBool(page.IsTruncated)
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			listed = append(listed, key)
			if recent[key] || !isLogKey(key, s.cfg.Folders) {
				continue
			}
			obj := Object{
				Name: "s3://" + s.cfg.Location.Bucket + "/" + key, Size: aws.ToInt64(o.Size),
				ModTime: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag),
				s3: &s3Ref{s: s.cfg.S3, ctx: s.ctx, bucket: s.cfg.Location.Bucket, key: key},
			}
			if obj.ModTime.After(sent) {
				sent = obj.ModTime
			}
			objs = append(objs, obj)
		}
	}
	next := s.advance(folder, st, listed)
	if len(objs) == 0 {
		return nil, next, more, nil
	}
	return &Batch{
		Source: "s3poll:s3://" + s.cfg.Location.Bucket + "/" + folder, ID: objs[0].Name,
		Objects: objs, Received: received, Sent: sent,
	}, next, more, nil
}

// advance returns the state once the listed keys are read: the keys since
// the cursor, and the cursor moved on to the last key that is more than
// Overlap older than the newest (by the times in their names; a key whose
// name has no time counts as old).
func (s *S3Poll) advance(folder string, st *pollState, listed []string) *pollState {
	keys := make([]string, 0, len(st.Recent)+len(listed))
	for _, k := range st.Recent {
		keys = append(keys, folder+k)
	}
	keys = append(keys, listed...)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var newest time.Time
	for _, k := range keys {
		if t, ok := keyTime(k); ok && t.After(newest) {
			newest = t
		}
	}
	cut := newest.Add(-s.cfg.Overlap)
	next := &pollState{After: st.After}
	i := 0
	for ; i < len(keys); i++ {
		if t, ok := keyTime(keys[i]); ok && !t.Before(cut) {
			break
		}
		if keys[i] > next.After {
			next.After = keys[i]
		}
	}
	for _, k := range keys[i:] {
		next.Recent = append(next.Recent, strings.TrimPrefix(k, folder))
	}
	return next
}
