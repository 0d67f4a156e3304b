package ingest

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

const record = `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAXU5EXAMPLEUSER01","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333","accessKeyId":"AKIAXU5EXAMPLEKEY999","userName":"bob"},"eventTime":"2024-03-11T07:15:02Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.23","userAgent":"aws-cli/2.15.10","requestParameters":{"userName":"bob"},"responseElements":{"accessKey":{"accessKeyId":"AKIAXU5EXAMPLEKEY000","status":"Active","userName":"bob","createDate":"Mar 11, 2024 7:15:02 AM"}},"eventID":"3b9d2c1a-8e7f-4a6b-9c0d-1e2f3a4b5c6d","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.Bytes()
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func walk(t *testing.T, paths []string, stdin io.Reader) ([]Object, []error) {
	out := make(chan Object)
	var errs []error
	go WalkLocal(context.Background(), paths, stdin, out, func(err error) { errs = append(errs, err) })
	var objs []Object
	for o := range out {
		objs = append(objs, o)
	}
	return objs, errs
}

func TestWalkS3LayoutInOrder(t *testing.T) {
	dir := t.TempDir()
	day := filepath.Join(dir, "AWSLogs", "o-a1b2c3d4e5", "111122223333", "CloudTrail", "us-east-1", "2024", "03", "11")
	write(t, filepath.Join(day, "111122223333_CloudTrail_us-east-1_20240311T0720Z_b.json.gz"), gz(t, `{"Records":[`+record+`]}`))
	write(t, filepath.Join(day, "111122223333_CloudTrail_us-east-1_20240311T0715Z_a.json.gz"), gz(t, `{"Records":[`+record+`]}`))
	write(t, filepath.Join(dir, "AWSLogs", ".hidden", "x.json"), []byte(record))
	write(t, filepath.Join(dir, ".DS_Store"), []byte("junk"))
	objs, errs := walk(t, []string{dir}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(objs) != 2 || !strings.HasSuffix(objs[0].Name, "_a.json.gz") || !strings.HasSuffix(objs[1].Name, "_b.json.gz") {
		t.Fatalf("objects %+v", objs)
	}
	if objs[0].Size == 0 {
		t.Error("size not set")
	}
}

func TestWalkStdinAndFiles(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "one.json")
	write(t, f, []byte(record))
	objs, _ := walk(t, []string{Stdin, f}, strings.NewReader(record))
	if len(objs) != 2 || objs[0].Name != Stdin || objs[1].Name != f {
		t.Fatalf("objects %+v", objs)
	}
}

func TestCheckPaths(t *testing.T) {
	if err := CheckPaths([]string{Stdin, t.TempDir()}); err != nil {
		t.Errorf("existing paths: %v", err)
	}
	err := CheckPaths([]string{"/nonexistent/trail"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/trail") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing path error: %v", err)
	}
}

func readAll(t *testing.T, o *Opener, obj Object) (string, error) {
	t.Helper()
	r, err := o.Open(obj)
	if err != nil {
		return "", err
	}
	defer o.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

func TestOpenRecognisesGzipByBytes(t *testing.T) {
	dir := t.TempDir()
	gzNoExt := filepath.Join(dir, "log") // gzip content, no extension
	plainGzExt := filepath.Join(dir, "plain.json.gz")
	write(t, gzNoExt, gz(t, record))
	write(t, plainGzExt, []byte(record))
	o := NewOpener()
	for _, p := range []string{gzNoExt, plainGzExt, gzNoExt} { // reuse across files
		got, err := readAll(t, o, Object{Name: p})
		if err != nil || got != record {
			t.Errorf("%s: %v, %.40q", p, err, got)
		}
	}
	got, err := readAll(t, o, Object{Name: Stdin, r: bytes.NewReader(gz(t, record))})
	if err != nil || got != record {
		t.Errorf("stdin gzip: %v %.40q", err, got)
	}
}

func TestOpenTruncatedGzipYieldsPrefixThenError(t *testing.T) {
	full := gz(t, `{"Records":[`+strings.Repeat(record+",", 200)+record+`]}`)
	path := filepath.Join(t.TempDir(), "cut.json.gz")
	write(t, path, full[:len(full)/2])
	got, err := readAll(t, NewOpener(), Object{Name: path})
	if err == nil {
		t.Fatal("truncated gzip read without error")
	}
	if !strings.HasPrefix(got, `{"Records":[`+record) {
		t.Errorf("no decompressed prefix before the damage: %d bytes", len(got))
	}
}

func TestOpenMissingFile(t *testing.T) {
	_, err := NewOpener().Open(Object{Name: "/nonexistent/file.json"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/file.json") {
		t.Errorf("error %v", err)
	}
}

func TestWalkFollowsNamedLinksAndReportsEmptyFolders(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	write(t, filepath.Join(real, "a.json"), []byte(record))
	links := filepath.Join(dir, "links")
	os.MkdirAll(links, 0o755)
	os.Symlink(real, filepath.Join(links, "dirlink"))
	os.Symlink(filepath.Join(real, "a.json"), filepath.Join(links, "filelink.json"))
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)

	// Named on the command line, both links are followed.
	objs, errs := walk(t, []string{filepath.Join(links, "dirlink"), filepath.Join(links, "filelink.json")}, nil)
	if len(errs) > 0 || len(objs) != 2 {
		t.Errorf("named links: %d objects, errors %v", len(objs), errs)
	}
	// Inside a walked folder, the file link is followed, the folder link not.
	objs, _ = walk(t, []string{links}, nil)
	if len(objs) != 1 || !strings.HasSuffix(objs[0].Name, "filelink.json") {
		t.Errorf("walked links: %+v", objs)
	}
	// An empty folder is reported, not silently scanned as nothing.
	_, errs = walk(t, []string{empty}, nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "no files") {
		t.Errorf("empty folder: %v", errs)
	}
}

// Day folders of every account and region are walked day by day, so a
// trail's events arrive roughly in time order; other files come first, in
// lexical order.
func TestWalkDayFoldersInDateOrder(t *testing.T) {
	dir := t.TempDir()
	file := func(account, region, date, name string) string {
		p := filepath.Join(dir, "AWSLogs", account, "CloudTrail", region, date[:4], date[4:6], date[6:], name)
		write(t, p, gz(t, `{"Records":[`+record+`]}`))
		return p
	}
	a := file("111122223333", "us-east-1", "20240312", "a-0312.json.gz")
	b := file("111122223333", "us-east-1", "20240311", "a-0311.json.gz")
	c := file("111122223333", "eu-west-1", "20240311", "b-0311.json.gz")
	d := file("444455556666", "us-east-1", "20240310", "c-0310.json.gz")
	digest := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail-Digest", "us-east-1", "2024", "03", "09", "digest.json.gz")
	write(t, digest, gz(t, `{}`))
	loose := filepath.Join(dir, "extra.json")
	write(t, loose, []byte(record))
	objs, errs := walk(t, []string{dir}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Name)
	}
	want := []string{loose, digest, d, c, b, a}
	if !slices.Equal(got, want) {
		t.Errorf("order\n got  %q\n want %q", got, want)
	}
	// A day's files across accounts and regions come in the order of the
	// time in their names: CloudTrail delivers about every five minutes.
	stamped := func(account, region, hhmm string) string {
		return file(account, region, "20240313", account+"_CloudTrail_"+region+"_20240313T"+hhmm+"Z_x1.json.gz")
	}
	late := stamped("111122223333", "eu-west-1", "2355")
	early := stamped("111122223333", "us-east-1", "0005")
	noon := stamped("444455556666", "ap-south-1", "1200")
	morning := stamped("111122223333", "eu-west-1", "0900")
	objs, _ = walk(t, []string{dir}, nil)
	got = got[:0]
	for _, o := range objs[len(want):] {
		got = append(got, o.Name)
	}
	if want := []string{early, morning, noon, late}; !slices.Equal(got, want) {
		t.Errorf("a day's files\n got  %q\n want %q", got, want)
	}
	// A day folder given as the path is walked as it is.
	if objs, _ := walk(t, []string{filepath.Dir(a)}, nil); len(objs) != 1 || objs[0].Name != a {
		t.Errorf("day folder as the root: %+v", objs)
	}
}
