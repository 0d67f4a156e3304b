package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/corpus"
	"github.com/trailsentry/trailsentry/internal/ingest/s3test"
)

// s3Trail starts gofakes3, points the SDK at it through the environment,
// and copies dir/AWSLogs into s3://trail-bucket/<prefix>AWSLogs/ with awscli.
func s3Trail(t *testing.T, dir, prefix string) *s3test.Server {
	t.Helper()
	srv := s3test.Start(t)
	srv.Env(t)
	srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	srv.CLI(t, "s3", "cp", "--recursive", "--quiet", filepath.Join(dir, "AWSLogs"), "s3://trail-bucket/"+prefix+"AWSLogs/")
	return srv
}

// findingsJSON is the findings array of a JSON report, as written.
func findingsJSON(t *testing.T, stdout string) string {
	t.Helper()
	var r struct {
		Findings json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("not the JSON report: %v\n%s", err, stdout)
	}
	return string(r.Findings)
}

// A trail scanned from S3 gives the same findings, events and counts as the
// same files scanned locally, alone and mixed with local paths.
func TestScanS3EqualsLocal(t *testing.T) {
	dir := t.TempDir()
	if _, err := corpus.Generate(context.Background(), corpus.Options{Dir: dir, Events: 5000, Files: 20, Seed: 11}, nil); err != nil {
		t.Fatal(err)
	}
	srv := s3Trail(t, dir, "audit/")

	local := run(t, "", "scan", "--format", "json", filepath.Join(dir, "AWSLogs"))
	remote := run(t, "", "scan", "--format", "json", "s3://trail-bucket/audit/")
	if remote.code != local.code || local.code != ExitFindings {
		t.Fatalf("exit %d from S3, %d locally, want %d\n%s", remote.code, local.code, ExitFindings, remote.stderr)
	}
	lr, rr := parseReport(t, local.stdout), parseReport(t, remote.stdout)
	if lr.Summary.FilesScanned != 20 || rr.Summary.FilesScanned != 20 || rr.Summary.EventsDecoded != lr.Summary.EventsDecoded || rr.Summary.EventsDecoded != 5000 {
		t.Errorf("summary from S3 %+v, locally %+v", rr.Summary, lr.Summary)
	}
	if len(lr.Findings) < 10 || findingsJSON(t, remote.stdout) != findingsJSON(t, local.stdout) {
		t.Errorf("%d findings from S3, %d locally, or they differ", len(rr.Findings), len(lr.Findings))
	}
	if n := len(srv.Gets()); n != 20 {
		t.Errorf("%d GetObject calls, want one per log file (20)", n)
	}

	// Mixed: the examples trail locally, the corpus from S3.
	examples := filepath.Join("..", "..", "examples")
	mixedLocal := run(t, "", "scan", "--format", "json", examples, filepath.Join(dir, "AWSLogs"))
	mixed := run(t, "", "scan", "--format", "json", examples, "s3://trail-bucket/audit/AWSLogs/")
	if ml, m := parseReport(t, mixedLocal.stdout), parseReport(t, mixed.stdout); m.Summary.FilesScanned != 24 || m.Summary.EventsDecoded != ml.Summary.EventsDecoded ||
		findingsJSON(t, mixed.stdout) != findingsJSON(t, mixedLocal.stdout) {
		t.Errorf("mixed: %+v, all local: %+v, or the findings differ\n%s", m.Summary, ml.Summary, mixed.stderr)
	}
}

// --state marks S3 objects as it marks files: a rescan reads none of them,
// and an object written anew (another ETag) is read again.
func TestScanS3StateSkipsObjectsScanned(t *testing.T) {
	dir := t.TempDir()
	if _, err := corpus.Generate(context.Background(), corpus.Options{Dir: dir, Events: 1200, Files: 6, Seed: 5}, nil); err != nil {
		t.Fatal(err)
	}
	srv := s3Trail(t, dir, "")
	state := filepath.Join(t.TempDir(), "state.db")
	first := run(t, "", "scan", "--format", "json", "--state", state, "s3://trail-bucket/AWSLogs/")
	if first.code == ExitUsage || parseReport(t, first.stdout).Summary.FilesScanned != 6 {
		t.Fatalf("first scan: exit %d\n%s", first.code, first.stderr)
	}
	srv.Reset()
	again := run(t, "", "scan", "--format", "json", "--state", state, "s3://trail-bucket/AWSLogs/")
	rep := parseReport(t, again.stdout)
	if rep.Summary.FilesSkipped["already_in_state"] != 6 || rep.Summary.EventsDecoded != 0 || len(srv.Gets()) != 0 {
		t.Errorf("rescan: %+v, %d GetObject calls; want all 6 skipped and none read", rep.Summary, len(srv.Gets()))
	}

	// One object rewritten with other content: only it is read.
	var one string
	filepath.WalkDir(filepath.Join(dir, "AWSLogs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && one == "" {
			one = p
		}
		return nil
	})
	rel, _ := filepath.Rel(dir, one)
	key := filepath.ToSlash(rel)
	changed := filepath.Join(t.TempDir(), "changed.json.gz")
	writeFile(t, changed, gzipBytes(t, `{"Records":[`+record("e-rewritten", "2024-03-11T10:00:00Z", "iam.amazonaws.com", "ListUsers", `{"type":"IAMUser","accountId":"111122223333","arn":"arn:aws:iam::111122223333:user/x","userName":"x"}`, "")+`]}`))
	srv.CLI(t, "s3", "cp", "--quiet", changed, "s3://trail-bucket/"+key)
	srv.Reset()
	third := run(t, "", "scan", "--format", "json", "--state", state, "s3://trail-bucket/AWSLogs/")
	rep = parseReport(t, third.stdout)
	if rep.Summary.FilesScanned != 1 || rep.Summary.FilesSkipped["already_in_state"] != 5 || rep.Summary.EventsDecoded != 1 || len(srv.Gets()) != 1 {
		t.Errorf("after rewriting %s: %+v, %d GetObject calls", key, rep.Summary, len(srv.Gets()))
	}
}

// --since/--until prune the S3 listing to the day folders of the window:
// a week of a three-month trail lists those days and reads only their files.
func TestScanS3SincePrunesListing(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := range 90 {
		at := start.AddDate(0, 0, d).Add(12 * time.Hour)
		name := fmt.Sprintf("111122223333_CloudTrail_us-east-1_%s_x.json.gz", at.Add(5*time.Minute).Format("20060102T1504Z"))
		ev := record(fmt.Sprintf("e-%03d", d), at.Format(time.RFC3339), "iam.amazonaws.com", "CreateAccessKey",
			`{"type":"IAMUser","accountId":"111122223333","arn":"arn:aws:iam::111122223333:user/x","userName":"x"}`, `"requestParameters":{"userName":"y"},`)
		writeFile(t, filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail", "us-east-1", at.Format("2006"), at.Format("01"), at.Format("02"), name),
			gzipBytes(t, `{"Records":[`+ev+`]}`))
	}
	srv := s3Trail(t, dir, "")
	srv.Reset()
	r := run(t, "", "scan", "--format", "json", "--since", "2024-03-01", "--until", "2024-03-08", "s3://trail-bucket/AWSLogs/")
	if r.code == ExitUsage {
		t.Fatal(r.stderr)
	}
	rep := parseReport(t, r.stdout)
	var prefixes []string
	for _, l := range srv.Lists() {
		prefixes = append(prefixes, l.Query.Get("prefix"))
	}
	want := []string{"AWSLogs/", "AWSLogs/111122223333/CloudTrail/"}
	for d := 1; d <= 9; d++ { // 03-01 to 03-08, and 03-09 for late delivery
		want = append(want, fmt.Sprintf("AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/%02d/", d))
	}
	if !slices.Equal(prefixes, want) {
		t.Errorf("%d ListObjectsV2 calls:\n%s\nwant %d:\n%s", len(prefixes), strings.Join(prefixes, "\n"), len(want), strings.Join(want, "\n"))
	}
	if gets := len(srv.Gets()); gets != 9 || rep.Summary.FilesScanned != 9 || rep.Summary.EventsDecoded != 9 || rep.Summary.EventsFiltered != 2 {
		t.Errorf("%d GetObject calls, summary %+v; want 9 files read, 7 events kept", gets, rep.Summary)
	}
	var ids []string
	for _, f := range rep.Findings {
		ids = append(ids, f.EventIDs...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) != 7 || ids[0] != "e-060" || ids[6] != "e-066" { // 2024-03-01 is day 60
		t.Errorf("evidence %v, want e-060 to e-066", ids)
	}
}

func TestScanS3Errors(t *testing.T) {
	srv := s3test.Start(t)
	srv.Env(t)
	r := run(t, "", "scan", "s3://Not_A_Bucket/AWSLogs/")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "s3://Not_A_Bucket/AWSLogs/") {
		t.Errorf("malformed URL: exit %d, %s", r.code, r.stderr)
	}
	r = run(t, "", "scan", "--format", "json", "s3://no-such-bucket/AWSLogs/")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "s3://no-such-bucket/AWSLogs/") || !strings.Contains(r.stderr, "NoSuchBucket") {
		t.Errorf("missing bucket: exit %d, %s", r.code, r.stderr)
	}
}
