// Package ingest finds CloudTrail input and opens it as a byte stream of
// decompressed JSON. This file covers local input: files, directories walked
// recursively (the S3 layout AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
// and organization trails' AWSLogs/o-xxxx/<account>/...), and standard input.
package ingest

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Object is one input to decode: a local file, standard input, or an S3
// object.
type Object struct {
	Name    string    // the path, "-" for standard input, or s3://bucket/key
	Size    int64     // bytes stored; 0 for standard input
	ModTime time.Time // zero for standard input; an S3 object's LastModified
	ETag    string    // an S3 object's entity tag; empty for local files
	r       io.Reader
	s3      *s3Ref // nil unless the object is in S3
}

// Stream reports whether the object is a stream (standard input, a pipe):
// it cannot be read again, so it is never marked done.
func (o Object) Stream() bool { return o.r != nil || o.ModTime.IsZero() }

// Stdin is the name standard input goes by.
const Stdin = "-"

// CheckPaths verifies that every PATH argument exists before a scan starts,
// so a typo is a usage error and not a silent empty scan. An s3:// URL is
// only checked for its form here: its bucket is reached when it is listed.
func CheckPaths(paths []string) error {
	for _, p := range paths {
		if p == Stdin {
			continue
		}
		if IsS3URL(p) {
			if _, err := ParseS3URL(p); err != nil {
				return err
			}
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("input %s: %w", p, unwrapPath(err))
		}
	}
	return nil
}

// WalkLocal sends every input under paths to out, and closes out when done.
// Inside a directory, files come in lexical order, except that CloudTrail's
// day folders (.../CloudTrail/<region>/YYYY/MM/DD, of every account and
// region under the directory) are walked day by day, the earliest first,
// and a day's files in the order of the time in their names (CloudTrail's
// <account>_CloudTrail_<region>_YYYYMMDDTHHmmZ_<id>.json.gz), whatever
// folder they are in: a trail's events then arrive roughly in time order,
// which is what lets windows and baselines in memory be evicted by event
// time. Hidden files and directories (names
// starting with ".") inside a walked directory are left out. A directory or
// file that cannot be read, or a folder with no files, is passed to onErr
// and the walk goes on.
func WalkLocal(ctx context.Context, paths []string, stdin io.Reader, out chan<- Object, onErr func(error)) {
	defer close(out)
	send := sender(ctx, out)
	for _, root := range paths {
		if !walkLocalRoot(ctx, root, stdin, send, onErr) {
			return
		}
	}
}

// sender returns a function that sends an object to out, and reports false
// once ctx is done.
func sender(ctx context.Context, out chan<- Object) func(Object) bool {
	return func(o Object) bool {
		select {
		case out <- o:
			return true
		case <-ctx.Done():
			return false
		}
	}
}

// walkLocalRoot sends the inputs of one PATH argument; false means the walk
// was cancelled.
func walkLocalRoot(ctx context.Context, root string, stdin io.Reader, send func(Object) bool, onErr func(error)) bool {
	if root == Stdin {
		return send(Object{Name: Stdin, r: stdin})
	}
	// A path given by name is followed whatever it is: a symbolic link,
	// a named pipe, /dev/stdin, a process substitution.
	info, err := os.Stat(root)
	if err != nil {
		onErr(fmt.Errorf("input %s: %w", root, unwrapPath(err)))
		return true
	}
	if !info.IsDir() {
		return send(Object{Name: root, Size: info.Size(), ModTime: regularTime(info)})
	}
	found := 0
	walkRoot := root
	if li, err := os.Lstat(root); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		walkRoot = root + string(filepath.Separator) // WalkDir follows a root that ends in a separator
	}
	var days []dayFolder
	collect := true // the first pass sets CloudTrail's day folders aside
	emit := send    // the second collects a day's files, to sort them
	walk := func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			onErr(fmt.Errorf("input %s: %w", path, unwrapPath(err)))
			return nil
		}
		if path != walkRoot && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if day, ok := dayOf(path); ok && collect && path != walkRoot {
				days = append(days, dayFolder{day, path})
				return filepath.SkipDir
			}
			return nil
		}
		// Inside a folder, a link to a file is followed; links to
		// folders are not (they can loop).
		info, err := os.Stat(path)
		if err != nil {
			onErr(fmt.Errorf("input %s: %w", path, unwrapPath(err)))
			return nil
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		found++
		if !emit(Object{Name: path, Size: info.Size(), ModTime: info.ModTime()}) {
			return ctx.Err()
		}
		return nil
	}
	if err = filepath.WalkDir(walkRoot, walk); err != nil {
		return false
	}
	collect = false
	slices.SortStableFunc(days, func(a, b dayFolder) int { return cmp.Compare(a.day, b.day) })
	type stamped struct {
		stamp string
		o     Object
	}
	var day []stamped
	emit = func(o Object) bool {
		day = append(day, stamped{deliveryStamp(o.Name), o})
		return ctx.Err() == nil
	}
	for i, d := range days {
		if err := filepath.WalkDir(d.path, walk); err != nil {
			return false
		}
		if i+1 < len(days) && days[i+1].day == d.day && len(day) < maxDayFiles {
			continue // more folders of the same day
		}
		// A day of a very large organization trail goes in pieces of
		// maxDayFiles, each in time order: memory stays bounded.
		slices.SortStableFunc(day, func(a, b stamped) int { return strings.Compare(a.stamp, b.stamp) })
		for _, f := range day {
			if !send(f.o) {
				return false
			}
		}
		clear(day)
		day = day[:0]
	}
	if found == 0 {
		onErr(fmt.Errorf("input %s: no files in this folder", root))
	}
	return true
}

// maxDayFiles is how many of a day's files the walk gathers to put in time
// order: about 40 MB of names.
const maxDayFiles = 200_000

// deliveryStamp is the time in a CloudTrail log file's name, YYYYMMDDTHHmmZ,
// or "" (such files come first, in walk order).
func deliveryStamp(path string) string {
	for part := range strings.SplitSeq(filepath.Base(path), "_") {
		if len(part) == 14 && part[8] == 'T' && part[13] == 'Z' && allDigits(part[:8]) && allDigits(part[9:13]) {
			return part
		}
	}
	return ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// dayFolder is a CloudTrail day folder and its date, YYYYMMDD.
type dayFolder struct {
	day  int
	path string
}

// dayOf recognises a CloudTrail day folder, .../CloudTrail/<region>/YYYY/MM/DD
// (CloudTrail-Digest and CloudTrail-Insights too), and returns its date.
func dayOf(path string) (int, bool) {
	parts := strings.Split(filepath.ToSlash(path), "/")
	n := len(parts)
	if n < 5 || !strings.HasPrefix(parts[n-5], "CloudTrail") {
		return 0, false
	}
	y, m, d := parts[n-3], parts[n-2], parts[n-1]
	if len(y) != 4 || len(m) != 2 || len(d) != 2 {
		return 0, false
	}
	date, err := strconv.Atoi(y + m + d)
	if err != nil || date < 0 {
		return 0, false
	}
	return date, true
}

// regularTime is a regular file's modification time, zero for a pipe or a
// device, whose content a second read would not give again.
func regularTime(info os.FileInfo) time.Time {
	if !info.Mode().IsRegular() {
		return time.Time{}
	}
	return info.ModTime()
}

// unwrapPath drops the operation and path a *fs.PathError repeats, since
// callers name the path themselves.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Opener opens objects as decompressed streams. Each worker keeps its own,
// so the gzip and read buffers are reused from file to file.
type Opener struct {
	file io.Closer // the file or S3 response body opened last
	br   *bufio.Reader
	gz   *gzip.Reader
}

// NewOpener returns an Opener.
func NewOpener() *Opener { return &Opener{br: bufio.NewReaderSize(nil, 64<<10)} }

// Open returns the object's content, gunzipped when its first bytes are the
// gzip magic number, whatever the name says. Close the Opener's stream with
// Close before opening the next.
func (o *Opener) Open(obj Object) (io.Reader, error) {
	src := obj.r
	switch {
	case obj.s3 != nil:
		body, err := obj.s3.open(obj)
		if err != nil {
			return nil, err
		}
		o.file, src = body, body
	case src == nil:
		f, err := os.Open(obj.Name)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", obj.Name, unwrapPath(err))
		}
		o.file, src = f, f
	}
	o.br.Reset(src)
	magic, _ := o.br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		var err error
		if o.gz == nil {
			o.gz, err = gzip.NewReader(o.br)
		} else {
			err = o.gz.Reset(o.br)
		}
		if err != nil {
			o.Close()
			return nil, fmt.Errorf("gunzip %s: %w", obj.Name, err)
		}
		return o.gz, nil
	}
	return o.br, nil
}

// Close releases the file (or S3 response) opened last.
func (o *Opener) Close() {
	if o.file != nil {
		o.file.Close()
		o.file = nil
	}
}
