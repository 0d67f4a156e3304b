package ingest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/ingest/s3test"
)

func TestParseS3URL(t *testing.T) {
	for _, c := range []struct {
		in, bucket, prefix, err string
	}{
		{in: "s3://trail-bucket", bucket: "trail-bucket"},
		{in: "s3://trail-bucket/", bucket: "trail-bucket"},
		{in: "s3://trail-bucket/audit/AWSLogs/", bucket: "trail-bucket", prefix: "audit/AWSLogs/"},
		{in: "s3://my.bucket-1/AWSLogs", bucket: "my.bucket-1", prefix: "AWSLogs"},
		{in: "s3://", err: `"" is not an S3 bucket name`},
		{in: "s3://Trail/x", err: `"Trail" is not an S3 bucket name`},
		{in: "s3://ab/x", err: `"ab"`},
		{in: "s3://-bucket/x", err: `"-bucket"`},
		{in: "/local/path", err: "not an s3:// URL"},
	} {
		loc, err := ParseS3URL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), c.in) {
				t.Errorf("%s: error %v, want one naming the input and %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || loc.Bucket != c.bucket || loc.Prefix != c.prefix {
			t.Errorf("%s: %+v %v, want bucket %q prefix %q", c.in, loc, err, c.bucket, c.prefix)
		}
	}
	if err := CheckPaths([]string{"s3://Bad_Bucket/AWSLogs/"}); err == nil {
		t.Error("CheckPaths accepted a malformed s3:// URL")
	}
	if err := CheckPaths([]string{"s3://good-bucket/AWSLogs/"}); err != nil {
		t.Errorf("CheckPaths: %v (an s3:// URL is not a local path)", err)
	}
}

func TestParseLayout(t *testing.T) {
	for _, c := range []struct {
		prefix  string
		lvl     level
		exact   bool
		account string
		region  string
	}{
		{"", levelOutside, true, "", ""},
		{"audit/", levelOutside, true, "", ""},
		{"AWSLogs", levelOutside, false, "", ""},
		{"audit/AWSLogs/", levelAWSLogs, true, "", ""},
		{"AWSLogs/o-a1b2c3d4e5/", levelOrg, true, "", ""},
		{"AWSLogs/o-a1b2c3d4e5/111122223333/", levelAccount, true, "111122223333", ""},
		{"AWSLogs/111122223333/CloudTrail/", levelFolder, true, "111122223333", ""},
		{"AWSLogs/111122223333/CloudTrail/eu-west-1/", levelRegion, true, "111122223333", "eu-west-1"},
		{"AWSLogs/111122223333/CloudTrail/eu-west-1/2024/", levelYear, true, "111122223333", "eu-west-1"},
		{"AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/", levelMonth, true, "111122223333", "eu-west-1"},
		{"AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/0", levelMonth, false, "111122223333", "eu-west-1"},
		{"AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/", levelDay, true, "111122223333", "eu-west-1"},
		{"AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/x/", levelUnknown, true, "111122223333", "eu-west-1"},
		{"AWSLogs/111122223333/CloudTrail/eu-west-1/latest/", levelUnknown, true, "111122223333", "eu-west-1"},
	} {
		l := parseLayout(c.prefix)
		if l.lvl != c.lvl || l.exact != c.exact || l.account != c.account || l.region != c.region {
			t.Errorf("%q: %+v, want level %d exact %v account %q region %q", c.prefix, l, c.lvl, c.exact, c.account, c.region)
		}
	}
}

func TestSelectionKeepsKeys(t *testing.T) {
	s := NewS3WithClient(nil, S3Config{})
	s.Select(Selection{
		Since:    time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC),
		Until:    time.Date(2024, 5, 12, 0, 0, 0, 0, time.UTC),
		Accounts: map[string]bool{"111122223333": true},
		Regions:  map[string]bool{"us-east-1": true},
	})
	const day = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/"
	for key, want := range map[string]bool{
		day + "10/111122223333_CloudTrail_us-east-1_20240510T0005Z_a.json.gz":    true,  // before Since in the day: the folder is still read
		day + "09/111122223333_CloudTrail_us-east-1_20240509T2355Z_a.json.gz":    false, // a day before: only older events
		day + "12/111122223333_CloudTrail_us-east-1_20240512T0005Z_a.json.gz":    true,  // Until's day: late deliveries
		day + "13/111122223333_CloudTrail_us-east-1_20240513T0005Z_a.json.gz":    true,  // a day of late delivery
		day + "14/111122223333_CloudTrail_us-east-1_20240514T0005Z_a.json.gz":    false,
		"AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/10/x.json.gz":         false, // another region
		"AWSLogs/444455556666/CloudTrail/us-east-1/2024/05/10/x.json.gz":         false, // another account
		"AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/us-east-1/2024/05/11/x":    true,
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/10/d.json.gz":  false,
		"AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/05/10/i.json.gz": false,
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/10/":                  false, // a folder marker
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/10/.hidden.json":      false,
		"exports/events.jsonl": true, // outside the layout: read, recognised by content
	} {
		if got := s.keep(key); got != want {
			t.Errorf("keep(%s) = %v, want %v", key, got, want)
		}
	}
}

// upload writes files under dir and copies dir to s3://bucket/prefix with
// awscli, as a user would.
func upload(t *testing.T, srv *s3test.Server, bucket, prefix string, files map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		write(t, filepath.Join(dir, filepath.FromSlash(name)), data)
	}
	srv.CLI(t, "s3", "cp", "--recursive", "--quiet", dir, "s3://"+bucket+"/"+prefix)
}

func newS3(t *testing.T, srv *s3test.Server, cfg S3Config) *S3 {
	t.Helper()
	srv.Env(t)
	s, err := NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func walkS3(t *testing.T, s *S3, paths ...string) ([]Object, []error) {
	t.Helper()
	out := make(chan Object)
	var errs []error
	go Walk(t.Context(), paths, nil, s, out, func(err error) { errs = append(errs, err) })
	var objs []Object
	for o := range out {
		objs = append(objs, o)
	}
	return objs, errs
}

func names(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out
}

// The examples trail, copied to S3 under a prefix, is listed in full — every
// account, organization and region — and each object reads back, gunzipped,
// exactly as the local file does; digests and Insights are skipped by key.
func TestS3WalkReadsTheExampleTrail(t *testing.T) {
	srv := s3test.Start(t)
	s := newS3(t, srv, S3Config{})
	srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	root := filepath.Join("..", "..", "examples")
	srv.CLI(t, "s3", "cp", "--recursive", "--quiet", filepath.Join(root, "AWSLogs"), "s3://trail-bucket/audit/AWSLogs/")
	upload(t, srv, "trail-bucket", "audit/", map[string][]byte{
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/11/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240311T010000Z.json.gz": gz(t, `{}`),
		"AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/03/11/111122223333_CloudTrail-Insight_us-east-1_20240311T0100Z_x.json.gz":           gz(t, `{}`),
	})

	objs, errs := walkS3(t, s, "s3://trail-bucket/audit/")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	local, _ := walk(t, []string{filepath.Join(root, "AWSLogs")}, nil)
	var want []string
	for _, o := range local {
		rel, _ := filepath.Rel(root, o.Name)
		want = append(want, "s3://trail-bucket/audit/"+filepath.ToSlash(rel))
	}
	slices.Sort(want)
	got := names(objs)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("listed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	opener := NewOpener()
	for _, o := range objs {
		if o.Stream() || o.ETag == "" || o.ModTime.IsZero() || o.Size == 0 {
			t.Errorf("%s: size %d, ETag %q, modified %v: want all set, and not a stream", o.Name, o.Size, o.ETag, o.ModTime)
		}
		rel := strings.TrimPrefix(o.Name, "s3://trail-bucket/audit/")
		localObj := Object{Name: filepath.Join(root, filepath.FromSlash(rel))}
		want := readBytes(t, opener, localObj)
		if got := readBytes(t, opener, o); !bytes.Equal(got, want) || len(got) == 0 || got[0] != '{' {
			t.Errorf("%s: read %d bytes, the local copy %d", o.Name, len(got), len(want))
		}
		stored, meta, err := OpenStored(o)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(stored)
		stored.Close()
		onDisk, _ := os.ReadFile(localObj.Name)
		if !bytes.Equal(raw, onDisk) || len(meta) != 0 {
			t.Errorf("%s: stored bytes differ from the file uploaded (%d vs %d), or unexpected metadata %v", o.Name, len(raw), len(onDisk), meta)
		}
	}
}

func readBytes(t *testing.T, o *Opener, obj Object) []byte {
	t.Helper()
	r, err := o.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", obj.Name, err)
	}
	return data
}

// dailyTrail is a trail of one log file a day in two regions, for days days
// from start.
func dailyTrail(t *testing.T, start time.Time, days int) map[string][]byte {
	files := map[string][]byte{}
	for d := range days {
		at := start.AddDate(0, 0, d).Add(10 * time.Hour)
		for _, region := range []string{"us-east-1", "eu-west-1"} {
			key := fmt.Sprintf("AWSLogs/111122223333/CloudTrail/%s/%s/111122223333_CloudTrail_%s_%s_x.json.gz",
				region, at.Format("2006/01/02"), region, at.Format("20060102T1504Z"))
			files[key] = gz(t, `{"Records":[`+strings.Replace(record, "2024-03-11T07:15:02Z", at.Format(time.RFC3339), 1)+`]}`)
		}
	}
	return files
}

// A time window lists only the day folders it can find events in — one
// listing per day and region, after one to find the regions — instead of the
// whole trail; --region and --account prune folders the same way.
func TestS3WindowPrunesListing(t *testing.T) {
	srv := s3test.Start(t)
	s := newS3(t, srv, S3Config{})
	srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	upload(t, srv, "trail-bucket", "", dailyTrail(t, start, 90))

	srv.Reset()
	all, errs := walkS3(t, s, "s3://trail-bucket/AWSLogs/")
	if len(errs) > 0 || len(all) != 180 {
		t.Fatalf("unwindowed: %d objects, errors %v; want 180", len(all), errs)
	}
	t.Logf("unwindowed: %d ListObjectsV2 calls for %d objects", len(srv.Lists()), len(all))

	since := time.Date(2024, 3, 1, 6, 0, 0, 0, time.UTC)
	s.Select(Selection{Since: since, Until: since.Add(7 * 24 * time.Hour)})
	srv.Reset()
	objs, errs := walkS3(t, s, "s3://trail-bucket/AWSLogs/")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var prefixes []string
	for _, r := range srv.Lists() {
		prefixes = append(prefixes, r.Query.Get("prefix")+" "+r.Query.Get("delimiter"))
	}
	// AWSLogs/ (accounts), CloudTrail/ (regions), then the days 03-01 to
	// 03-09 (Until's day 03-08 and one day of late delivery) in each region.
	want := []string{"AWSLogs/ /", "AWSLogs/111122223333/CloudTrail/ /"}
	for _, region := range []string{"eu-west-1", "us-east-1"} {
		for d := 1; d <= 9; d++ {
			want = append(want, fmt.Sprintf("AWSLogs/111122223333/CloudTrail/%s/2024/03/%02d/ ", region, d))
		}
	}
	if !slices.Equal(prefixes, want) {
		t.Fatalf("listings:\n%s\nwant:\n%s", strings.Join(prefixes, "\n"), strings.Join(want, "\n"))
	}
	if len(objs) != 18 {
		t.Errorf("windowed walk found %d objects, want 18 (9 days, 2 regions):\n%s", len(objs), strings.Join(names(objs), "\n"))
	}

	// Until alone: years, months and days are listed with a delimiter and
	// pruned; one region only.
	s.Select(Selection{Until: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), Regions: map[string]bool{"eu-west-1": true}})
	srv.Reset()
	objs, errs = walkS3(t, s, "s3://trail-bucket/AWSLogs/")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := names(objs); len(got) != 4 || !strings.Contains(got[0], "eu-west-1/2024/01/01/") || !strings.Contains(got[3], "eu-west-1/2024/01/04/") {
		t.Errorf("until 2024-01-03 in eu-west-1: %v, want 01-01 to 01-04 (a day of late delivery)", got)
	}
	if n := len(srv.Lists()); n != 9 { // AWSLogs/, CloudTrail/, eu-west-1/, 2024/, 2024/01/, then 4 days
		t.Errorf("%d listings, want 9", n)
	}

	// A window with nothing in it is no error; a prefix with nothing at all is.
	s.Select(Selection{Since: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)})
	if objs, errs := walkS3(t, s, "s3://trail-bucket/AWSLogs/"); len(objs) != 0 || len(errs) != 0 {
		t.Errorf("empty window: %d objects, errors %v", len(objs), errs)
	}
	s.Select(Selection{})
	if _, errs := walkS3(t, s, "s3://trail-bucket/nothing-here/"); len(errs) != 1 || !strings.Contains(errs[0].Error(), "s3://trail-bucket/nothing-here/") {
		t.Errorf("empty prefix: errors %v, want one naming it", errs)
	}
}

// Listing pages through continuation tokens; a prefix that stops inside a
// folder name is resolved into folders; local paths and s3:// URLs mix, in
// order.
func TestS3PagesAndMixesWithLocal(t *testing.T) {
	srv := s3test.Start(t)
	s := newS3(t, srv, S3Config{PageSize: 7})
	srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	upload(t, srv, "trail-bucket", "", dailyTrail(t, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 20))

	dir := t.TempDir()
	localFile := filepath.Join(dir, "one.json")
	write(t, localFile, []byte(record))
	srv.Reset()
	objs, errs := walkS3(t, s, localFile, "s3://trail-bucket/AWSLogs", localFile)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(objs) != 42 || objs[0].Name != localFile || objs[41].Name != localFile || !IsS3URL(objs[1].Name) {
		t.Fatalf("got %d objects (%s ... %s), want the local file, 40 S3 objects, the local file", len(objs), objs[0].Name, objs[len(objs)-1].Name)
	}
	pages := 0
	for _, r := range srv.Lists() {
		if r.Query.Get("continuation-token") != "" {
			pages++
		}
		if r.Query.Get("max-keys") != "7" {
			t.Errorf("listing without max-keys 7: %v", r.Query)
		}
	}
	if pages < 4 { // 20 keys a region, 7 a page: 2 continuations in each
		t.Errorf("%d continued listings, want at least 4", pages)
	}
	if !slices.IsSortedFunc(objs[1:41], func(a, b Object) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("objects not in key order")
	}
}

// A body cut off mid-transfer is resumed with a ranged GetObject from where
// it stopped, and the content is whole.
func TestS3ResumesABrokenBody(t *testing.T) {
	srv := s3test.Start(t)
	s := newS3(t, srv, S3Config{})
	srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	big := `{"Records":[` + strings.Repeat(record+",", 2000) + record + `]}`
	upload(t, srv, "trail-bucket", "", map[string][]byte{"logs/big.json": []byte(big)})
	objs, errs := walkS3(t, s, "s3://trail-bucket/logs/")
	if len(errs) > 0 || len(objs) != 1 {
		t.Fatal(objs, errs)
	}
	srv.CutNextGet("logs/big.json", 100_000)
	srv.Reset()
	if got := readBytes(t, NewOpener(), objs[0]); string(got) != big {
		t.Fatalf("read %d bytes, want %d", len(got), len(big))
	}
	gets := srv.Gets()
	if len(gets) != 2 || gets[1].Header.Get("Range") == "" {
		t.Fatalf("GetObject calls: %d, second with Range %q; want a resumption", len(gets), gets[len(gets)-1].Header.Get("Range"))
	}
	t.Logf("resumed with Range: %s", gets[1].Header.Get("Range"))
}

// Errors name the s3:// URL: a bucket that does not exist, an object gone
// between listing and reading.
func TestS3ErrorsNameTheURL(t *testing.T) {
	srv := s3test.Start(t)
	s := newS3(t, srv, S3Config{})
	_, errs := walkS3(t, s, "s3://no-such-bucket/AWSLogs/")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "s3://no-such-bucket/AWSLogs/") || !strings.Contains(errs[0].Error(), "NoSuchBucket") {
		t.Errorf("missing bucket: %v", errs)
	}
	srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	upload(t, srv, "trail-bucket", "", map[string][]byte{"logs/a.json": []byte(record)})
	objs, _ := walkS3(t, s, "s3://trail-bucket/logs/")
	srv.CLI(t, "s3", "rm", "s3://trail-bucket/logs/a.json")
	_, err := NewOpener().Open(objs[0])
	if err == nil || !strings.Contains(err.Error(), "s3://trail-bucket/logs/a.json") {
		t.Errorf("deleted object: %v", err)
	}
}

func FuzzParseS3URL(f *testing.F) {
	for _, s := range []string{"s3://trail-bucket/AWSLogs/o-a1/111122223333/CloudTrail/us-east-1/2024/05/01/", "s3://b", "s3:///", "s3://a.b-c/AWSLogs/1/CloudTrail/x/9999/99/99/y/z"} {
		f.Add(s)
	}
	s := NewS3WithClient(nil, S3Config{})
	s.Select(Selection{Since: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Regions: map[string]bool{"us-east-1": true}})
	f.Fuzz(func(t *testing.T, in string) {
		loc, err := ParseS3URL(in)
		if err != nil {
			return
		}
		if !validBucket(loc.Bucket) || loc.String() != "s3://"+loc.Bucket+"/"+loc.Prefix {
			t.Fatalf("%q: %+v", in, loc)
		}
		l := parseLayout(loc.Prefix)
		if l.lvl > levelUnknown {
			t.Fatalf("%q: level %d", in, l.lvl)
		}
		s.keep(loc.Prefix)
		s.keepFolder(loc.Prefix)
	})
}
