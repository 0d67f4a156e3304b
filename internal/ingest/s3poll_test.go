package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/ingest/s3test"
)

// checkpointStore stands for the state store: the caller writes a batch's
// checkpoint before Ack, and a restarted source reads it back.
type checkpointStore struct {
	mu  sync.Mutex
	cps map[string]detect.Checkpoint
}

func (c *checkpointStore) load(_ context.Context, keys []string) ([]detect.Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []detect.Checkpoint
	for _, k := range keys {
		if cp, ok := c.cps[k]; ok {
			out = append(out, cp)
		}
	}
	return out, nil
}

func (c *checkpointStore) commit(cp *detect.Checkpoint) {
	if cp == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cps == nil {
		c.cps = map[string]detect.Checkpoint{}
	}
	c.cps[cp.Key] = *cp
}

// drain takes batches until none comes within quiet, committing each
// batch's checkpoint and acknowledging it, as the watch command does; it
// returns the object names handed out and the batches' sizes.
func drain(t *testing.T, src Source, store *checkpointStore, quiet time.Duration) (objs []string, sizes []int) {
	t.Helper()
	for {
		b, err := nextWithin(t, src, quiet)
		if errors.Is(err, context.DeadlineExceeded) {
			return objs, sizes
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range b.Objects {
			objs = append(objs, strings.TrimPrefix(o.Name, "s3://trail-bucket/"))
		}
		for _, id := range eventIDs(t, b) {
			if !strings.HasPrefix(id, "ev-") {
				t.Errorf("%s: an object read back with eventID %q", b.ID, id)
			}
		}
		sizes = append(sizes, len(b.Objects)+len(b.Records))
		store.commit(b.Checkpoint)
		if err := b.Ack(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// logKey is a CloudTrail log file's key, below the trail prefix.
func logKey(region string, at time.Time, suffix string) string {
	return fmt.Sprintf("AWSLogs/111122223333/CloudTrail/%s/%s/111122223333_CloudTrail_%s_%s_%s.json.gz",
		region, at.Format("2006/01/02"), region, at.Format("20060102T1504Z"), suffix)
}

func logFiles(t *testing.T, keys ...string) map[string][]byte {
	files := map[string][]byte{}
	for _, k := range keys {
		files[k] = gz(t, `{"Records":[`+recordWithID("ev-"+baseName(k))+`]}`)
	}
	return files
}

// Polling reads every account/region folder from Since's day on, in pages,
// each object once; objects added later are picked up — including one that
// sorts before the last key read, within the overlap — and objects in day
// folders before Since never are. A restarted source resumes from the
// committed checkpoints; a nacked batch comes back.
func TestS3PollPicksUpNewObjectsOnly(t *testing.T) {
	srv := s3test.Start(t)
	s3r := newS3(t, srv, S3Config{PathStyle: true})
	srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	day := time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)
	var first []string
	for i := range 3 {
		at := day.Add(time.Duration(7*60+5*i) * time.Minute)
		first = append(first, logKey("us-east-1", at, fmt.Sprintf("m%d", i)), logKey("eu-west-1", at, fmt.Sprintf("m%d", i)))
	}
	before := logKey("us-east-1", day.Add(-2*time.Hour), "old") // the day before Since's
	files := logFiles(t, append([]string{before}, first...)...)
	for k, v := range logFiles(t, "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/11/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240311T080000Z.json.gz") {
		files[k] = v
	}
	upload(t, srv, "trail-bucket", "audit/", files)
	srv.Reset()

	store := &checkpointStore{}
	logs := &logBuffer{}
	cfg := S3PollConfig{
		S3: s3r, Location: S3Location{Bucket: "trail-bucket", Prefix: "audit/"},
		Interval: 100 * time.Millisecond, PageSize: 2, Since: day.Add(9 * time.Hour),
		Checkpoints: store.load, Logger: logs.logger(),
	}
	src, err := NewS3Poll(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, sizes := drain(t, src, store, time.Second)
	want := prefixed("audit/", first)
	if !sameSet(got, want) {
		t.Fatalf("first poll read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, n := range sizes {
		if n > 2 {
			t.Errorf("a batch of %d objects; PageSize is 2", n)
		}
	}
	for _, l := range srv.Lists() {
		if mk := l.Query.Get("max-keys"); l.Query.Get("delimiter") == "" && mk != "2" {
			t.Errorf("a listing with max-keys %q, want 2", mk)
		}
	}
	if len(store.cps) != 2 {
		t.Errorf("checkpoints %v: want one per account/region folder", store.cps)
	}
	cp := store.cps["s3poll:s3://trail-bucket/audit/AWSLogs/111122223333/CloudTrail/us-east-1/"]
	if cp.Value == "" || !cp.Time.IsZero() {
		t.Errorf("us-east-1 checkpoint %+v: want a cursor that retention keeps (zero Time)", cp)
	}

	// Later deliveries: a new file, and one in the same minute as the last
	// read whose random suffix sorts before it.
	lastAt := day.Add(7*time.Hour + 10*time.Minute)
	late := []string{logKey("us-east-1", lastAt, "a0"), logKey("us-east-1", day.Add(7*time.Hour+30*time.Minute), "n1"), logKey("eu-west-1", day.Add(7*time.Hour+31*time.Minute), "n2")}
	if !(late[0] < first[4]) {
		t.Fatalf("%s should sort before %s", late[0], first[4])
	}
	upload(t, srv, "trail-bucket", "audit/", logFiles(t, late...))
	got, _ = drain(t, src, store, time.Second)
	if want := prefixed("audit/", late); !sameSet(got, want) {
		t.Fatalf("second poll read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A restart reads nothing it committed; a nacked batch comes back.
	src.Close()
	src2, err := NewS3Poll(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	if got, _ := drain(t, src2, store, time.Second); len(got) != 0 {
		t.Fatalf("after a restart, read again: %v", got)
	}
	newer := logKey("eu-west-1", day.Add(7*time.Hour+40*time.Minute), "r1")
	upload(t, srv, "trail-bucket", "audit/", logFiles(t, newer))
	b, err := nextWithin(t, src2, 2*time.Second)
	if err != nil || len(b.Objects) != 1 || b.Objects[0].Name != "s3://trail-bucket/audit/"+newer {
		t.Fatalf("after a restart, the new object: %v %v", b, err)
	}
	b.Nack(t.Context(), errors.New("store unavailable"))
	got, _ = drain(t, src2, store, 2*time.Second)
	if !slices.Equal(got, []string{"audit/" + newer}) {
		t.Fatalf("after Nack read %v, want %s again", got, newer)
	}
	if st := src2.Stats(); st.Nacked != 1 || st.Acked != 1 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A location at a region folder is watched alone; a location without any
// trail folder yet is looked at again until one appears.
func TestS3PollDiscoversFoldersLater(t *testing.T) {
	srv := s3test.Start(t)
	s3r := newS3(t, srv, S3Config{PathStyle: true})
	srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	day := time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)
	store := &checkpointStore{}
	src, err := NewS3Poll(S3PollConfig{
		S3: s3r, Location: S3Location{Bucket: "trail-bucket", Prefix: ""},
		Interval: 100 * time.Millisecond, Since: day, Checkpoints: store.load,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got, _ := drain(t, src, store, 500*time.Millisecond); len(got) != 0 {
		t.Fatalf("read %v from an empty bucket", got)
	}
	k := "AWSLogs/o-abc123/111122223333/CloudTrail/ap-south-1/2024/03/11/111122223333_CloudTrail_ap-south-1_20240311T0100Z_x.json.gz"
	upload(t, srv, "trail-bucket", "", logFiles(t, k))
	if got, _ := drain(t, src, store, time.Second); !slices.Equal(got, []string{k}) {
		t.Fatalf("read %v, want %s", got, k)
	}
}

func TestKeyTime(t *testing.T) {
	for key, want := range map[string]string{
		logKey("us-east-1", time.Date(2024, 3, 11, 7, 5, 0, 0, time.UTC), "x"):                                                "2024-03-11T07:05:00Z",
		"AWSLogs/1/CloudTrail-Digest/us-east-1/2024/03/11/1_CloudTrail-Digest_us-east-1_t_us-east-1_20240311T080102Z.json.gz": "2024-03-11T08:01:02Z",
		"AWSLogs/1/CloudTrail/us-east-1/2024/03/11/notes.txt":                                                                 "",
	} {
		got, ok := keyTime(key)
		if s := got.Format(time.RFC3339); (ok && s != want) || (!ok && want != "") {
			t.Errorf("keyTime(%s) = %v %v, want %q", key, got, ok, want)
		}
	}
}

func prefixed(p string, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = p + k
	}
	return out
}

// sameSet reports whether a and b hold the same strings, each once.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
