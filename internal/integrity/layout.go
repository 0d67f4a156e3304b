package integrity

import (
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/ingest"
)

// File is a file of a trail — in a local copy, or in S3 — placed by its S3
// key.
type File struct {
	Path string // where it is: on disk, or s3://bucket/key
	Key  string // its S3 key from "AWSLogs/" on, which digests are matched by

	// From the key: AWSLogs/[<org-id>/]<account>/<CloudTrail|CloudTrail-Digest>/<region>/YYYY/MM/DD/<name>.
	Org, Account, Region, Name string

	obj ingest.Object // how to read it; zero for a File made by hand (read from Path on disk)
}

// open opens the file's stored bytes, with its S3 user metadata (nil for a
// local file).
func (f File) open() (io.ReadCloser, map[string]string, error) {
	if f.obj.Name == "" {
		r, err := os.Open(f.Path)
		if err != nil {
			return nil, nil, pathless(err)
		}
		return r, nil, nil
	}
	return ingest.OpenStored(f.obj)
}

// inS3 reports whether the file is read from S3.
func (f File) inS3() bool { return ingest.IsS3URL(f.obj.Name) }

// scope is the account and region folder a file belongs to, whatever its kind.
func (f File) scope() scope { return scope{f.Org, f.Account, f.Region} }

type scope struct{ org, account, region string }

// The folders under AWSLogs/<account>/ that hold what Verify reads.
const (
	logDir    = "CloudTrail"
	digestDir = "CloudTrail-Digest"
)

// placeKey reads an S3 key (from "AWSLogs/" on) in CloudTrail's layout. kind
// is logDir or digestDir; ok is false for anything else (Insights files,
// other services' logs, files outside the layout).
func placeKey(key string) (f File, kind string, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) < 2 || parts[0] != "AWSLogs" {
		return File{}, "", false
	}
	i := 1
	if strings.HasPrefix(parts[1], "o-") { // organization trail: AWSLogs/<org-id>/<account>/...
		f.Org, i = parts[1], 2
	}
	if len(parts) != i+7 {
		return File{}, "", false
	}
	f.Key, f.Account, kind, f.Region, f.Name = key, parts[i], parts[i+1], parts[i+2], parts[i+6]
	if kind != logDir && kind != digestDir {
		return File{}, "", false
	}
	return f, kind, true
}

// localKey is the S3 key a local path stands for: its part from "AWSLogs/" on.
func localKey(p string) (string, bool) {
	p = filepath.ToSlash(p)
	if strings.HasPrefix(p, "AWSLogs/") {
		return p, true
	}
	if i := strings.LastIndex(p, "/AWSLogs/"); i >= 0 {
		return p[i+1:], true
	}
	return "", false
}

// Inventory is what a local copy of a trail holds.
type Inventory struct {
	Digests    []File
	Logs       []File
	Signatures []string // signatures.json files found beside or inside the trail
	Other      int      // files that are neither digests nor log files (Insights, other layouts)
	Unreadable []error  // folders or files that could not be listed
}

// Collect walks local folders (or files) in CloudTrail's S3 layout, as `aws s3
// sync` leaves them, and sorts what it finds. A signatures.json anywhere in
// the walk is taken, and so is one beside a root named AWSLogs. When two
// files stand for the same key (overlapping or duplicate folders), the first
// found is kept.
func Collect(ctx context.Context, roots []string) (*Inventory, error) {
	return CollectFrom(ctx, roots, nil)
}

// CollectFrom is Collect for roots that may also be s3://bucket/prefix URLs,
// listed through src (nil when there are none). src's selection is set to
// the folders verification reads: log files and digests.
func CollectFrom(ctx context.Context, roots []string, src *ingest.S3) (*Inventory, error) {
	if src != nil {
		src.Select(ingest.Selection{Folders: []string{logDir, digestDir}})
	}
	inv := &Inventory{}
	seen := make(map[string]bool)
	found := make(chan ingest.Object, 256)
	go ingest.Walk(ctx, roots, nil, src, found, func(err error) {
		inv.Unreadable = append(inv.Unreadable, err) // only the walker goroutine writes this
	})
	for obj := range found {
		if !ingest.IsS3URL(obj.Name) && filepath.Base(obj.Name) == SignaturesFile {
			inv.Signatures = append(inv.Signatures, obj.Name)
			continue
		}
		key, ok := localKey(obj.Name)
		if !ok {
			inv.Other++
			continue
		}
		f, kind, ok := placeKey(key)
		if !ok {
			inv.Other++
			continue
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		f.Path, f.obj = obj.Name, obj
		if kind == digestDir {
			inv.Digests = append(inv.Digests, f)
		} else {
			inv.Logs = append(inv.Logs, f)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, root := range roots {
		if ingest.IsS3URL(root) || path.Base(filepath.ToSlash(filepath.Clean(root))) != "AWSLogs" {
			continue
		}
		beside := filepath.Join(filepath.Dir(filepath.Clean(root)), SignaturesFile)
		if _, err := os.Stat(beside); err == nil {
			inv.Signatures = append(inv.Signatures, beside)
		}
	}
	return inv, nil
}

// DigestPeriod is what fetching the public keys for the inventory's digests
// needs: their regions, and the period their names' times span, widened by
// the hour before the first (a digest's end is in its name) and an hour
// after the last.
func (inv *Inventory) DigestPeriod() (regions []string, start, end time.Time) {
	seen := map[string]bool{}
	for _, f := range inv.Digests {
		if !seen[f.Region] {
			seen[f.Region] = true
			regions = append(regions, f.Region)
		}
		n, ok := ParseDigestName(f.Name)
		if !ok {
			continue
		}
		if start.IsZero() || n.End.Before(start) {
			start = n.End
		}
		if n.End.After(end) {
			end = n.End
		}
	}
	slices.Sort(regions)
	if start.IsZero() { // no digest name could be read: the keys of now
		end = time.Now().UTC()
		start = end
	}
	return regions, start.Add(-time.Hour), end.Add(time.Hour)
}
