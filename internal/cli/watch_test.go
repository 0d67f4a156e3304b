package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/trailsentry/trailsentry/internal/alert"
	"github.com/trailsentry/trailsentry/internal/ingest/s3test"
	"github.com/trailsentry/trailsentry/internal/ingest/sqstest"
	"github.com/trailsentry/trailsentry/internal/integrity"
)

// hook is a local webhook receiver that checks each request's signature as
// a receiver would and records the alerts.
type hook struct {
	mu     sync.Mutex
	alerts []alert.WebhookAlert
	bad    int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := alert.Verify([]byte("test-hmac-key"), r.Header, body, time.Now(), 5*time.Minute); err != nil {
		h.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p alert.WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		h.bad++
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.alerts = append(h.alerts, p.Alerts...)
}

func (h *hook) got() []alert.WebhookAlert {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]alert.WebhookAlert(nil), h.alerts...)
}

// The trail's bucket notifies a queue; watch reads the log the notification
// names, keeps the findings in the state and alerts through a signed
// webhook, each finding once. The same notification delivered again (SQS
// redelivers; S3 may notify twice) alerts nothing more.
func TestWatchSQSNotificationToWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("starts local S3 and SQS servers")
	}
	// The trail: two records that make high findings (root console sign-in
	// without MFA, a trail stopped) and one that makes none.
	dir := t.TempDir()
	key := "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/11/111122223333_CloudTrail_us-east-1_20240311T1205Z_a1b2c3d4e5f6g7h8.json.gz"
	recs := []string{
		record("w-1", "2024-03-11T12:00:00Z", "signin.amazonaws.com", "ConsoleLogin", `{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"}`,
			`"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},"eventType":"AwsConsoleSignIn",`),
		record("w-2", "2024-03-11T12:01:00Z", "cloudtrail.amazonaws.com", "StopLogging", "", `"requestParameters":{"name":"management-events"},`),
		record("w-3", "2024-03-11T12:02:00Z", "ec2.amazonaws.com", "DescribeInstances", "", ""),
	}
	local := filepath.Join(dir, "log.json.gz")
	writeFile(t, local, gzipBytes(t, `{"Records":[`+strings.Join(recs, ",")+`]}`))
	s3srv := s3test.Start(t)
	s3srv.Env(t)
	s3srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	s3srv.CLI(t, "s3", "cp", "--quiet", local, "s3://trail-bucket/"+key)

	q := sqstest.New(t)
	t.Setenv("AWS_ENDPOINT_URL_SQS", q.URL())
	client := q.Client(context.Background())
	ctx := context.Background()
	if _, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("trail-notifications")}); err != nil {
		t.Fatal(err)
	}
	queue := q.QueueURL("trail-notifications")
	notify := func() {
		msg := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2024-03-11T12:06:00.000Z","eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","configurationId":"trailsentry","bucket":{"name":"trail-bucket","arn":"arn:aws:s3:::trail-bucket"},"object":{"key":%q,"size":1234,"sequencer":"0065EF2A1C"}}}]}`, key)
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(msg)}); err != nil {
			t.Fatal(err)
		}
	}

	h := &hook{}
	hooks := httptest.NewServer(h)
	defer hooks.Close()
	t.Setenv("TEST_WEBHOOK_URL", hooks.URL+"/alerts")
	t.Setenv("TEST_HMAC_KEY", "test-hmac-key")
	cfg := filepath.Join(dir, "trailsentry.yaml")
	writeFile(t, cfg, []byte(`alerts:
  sinks:
    - name: soc
      min_severity: high
      webhook: {url: env:TEST_WEBHOOK_URL, hmac_key: env:TEST_HMAC_KEY}
`))
	db := filepath.Join(dir, "state.db")
	watch := func() result {
		return run(t, "", "watch", "--state", db, "--sqs-queue", queue, "--config", cfg, "--s3-path-style",
			"--listen", "", "--exit-when-idle", "2s", "--dispatch-interval", "100ms", "--workers", "1")
	}

	notify()
	res := watch()
	if res.code != ExitOK {
		t.Fatalf("watch: exit %d\n%s", res.code, res.stderr)
	}
	first := h.got()
	if h.bad > 0 || len(first) < 2 {
		t.Fatalf("%d alerts (%d refused):\n%s", len(first), h.bad, res.stderr)
	}
	seen := map[string]bool{}
	titles := map[string]bool{}
	for _, a := range first {
		if seen[a.AlertID] {
			t.Errorf("alert %s sent twice", a.AlertID)
		}
		seen[a.AlertID] = true
		titles[a.Finding.Rule.Title] = true
		if a.Finding.Severity.Score < 7 {
			t.Errorf("a %s finding reached a high-only sink: %s", a.Finding.Severity.Label, a.Finding.Rule.Title)
		}
	}
	t.Logf("%d alerts: %v", len(first), titles)
	if !titles["CloudTrail logging stopped, deleted or narrowed"] {
		t.Errorf("no trail-stopped alert among %v", titles)
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queue), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Attributes["ApproximateNumberOfMessages"] != "0" || attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("queue not emptied: %v", attrs.Attributes)
	}
	stored := allFindings(t, db)
	if len(stored) == 0 {
		t.Fatal("no findings in the state")
	}

	// Delivered again: the object is marked done, nothing more is alerted
	// and the findings' counts do not move.
	notify()
	res = watch()
	if res.code != ExitOK {
		t.Fatalf("second watch: exit %d\n%s", res.code, res.stderr)
	}
	if again := h.got(); len(again) != len(first) {
		t.Errorf("a redelivered notification alerted again: %d alerts, %d before", len(again), len(first))
	}
	if after := allFindings(t, db); strings.Join(after, "\n") != strings.Join(stored, "\n") {
		t.Error("a redelivered notification changed the state's findings")
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatal(err)
	}
}

// Digest files arriving through the notifications are verified as they
// come: a signed trail passes; a log file modified in the bucket is a
// finding naming it, alerted once; a digest whose object signature is
// forged is one too.
func TestWatchVerifiesDigests(t *testing.T) {
	if testing.Short() {
		t.Skip("starts local S3 and SQS servers")
	}
	s3srv, tr := s3SignedTrail(t)
	ctx := context.Background()
	client, queue := trailQueue(t)
	notify := func(keys ...string) {
		for _, key := range keys {
			msg := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2024-05-01T05:00:00.000Z","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail-bucket"},"object":{"key":%q,"size":100}}}]}`, key)
			if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(msg)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	h := &hook{}
	hooks := httptest.NewServer(h)
	defer hooks.Close()
	t.Setenv("TEST_WEBHOOK_URL", hooks.URL)
	t.Setenv("TEST_HMAC_KEY", "test-hmac-key")
	cfg := filepath.Join(dir, "trailsentry.yaml")
	writeFile(t, cfg, []byte("alerts:\n  sinks:\n    - name: soc\n      min_severity: medium\n      webhook: {url: env:TEST_WEBHOOK_URL, hmac_key: env:TEST_HMAC_KEY}\n"))
	db := filepath.Join(dir, "state.db")
	watch := func() result {
		return run(t, "", "watch", "--state", db, "--sqs-queue", queue, "--config", cfg, "--s3-path-style", "--public-key", tr.PublicKeyFile,
			"--listen", "", "--exit-when-idle", "2s", "--dispatch-interval", "100ms", "--workers", "1")
	}
	var digestKeys []string
	for _, d := range tr.Digests {
		digestKeys = append(digestKeys, d.Key)
	}

	notify(digestKeys...)
	if res := watch(); res.code != ExitOK || len(h.got()) != 0 {
		t.Fatalf("a valid trail: exit %d, %d alerts\n%s", res.code, len(h.got()), res.stderr)
	}

	// A log file the third digest lists is replaced; the digest is
	// notified again (as a re-check would be).
	logKey := tr.Digests[2].Logs[0]
	if !strings.HasPrefix(logKey, "audit/AWSLogs/") {
		logKey = "audit/" + strings.TrimPrefix(filepath.ToSlash(logKey), filepath.ToSlash(tr.Dir)+"/")
	}
	tampered := filepath.Join(dir, "tampered.json.gz")
	writeFile(t, tampered, gzipBytes(t, `{"Records":[]}`))
	s3srv.CLI(t, "s3", "cp", "--quiet", tampered, "s3://trail-bucket/"+logKey)
	notify(tr.Digests[2].Key)
	res := watch()
	alerts := h.got()
	if res.code != ExitOK || len(alerts) != 1 || alerts[0].Finding.Rule.ID != "trailsentry-integrity-log-modified" ||
		!slices.Contains(alerts[0].Finding.Files, "s3://trail-bucket/"+logKey) {
		t.Fatalf("modified log: exit %d, alerts %+v\n%s", res.code, alerts, res.stderr)
	}

	// The newest digest's object signature forged.
	newest := tr.Newest()
	s3srv.CLI(t, "s3api", "put-object", "--bucket", "trail-bucket", "--key", newest.Key, "--body", newest.Path,
		"--metadata", "signature="+strings.Repeat("ab", 256)+",signature-algorithm=SHA256withRSA")
	notify(newest.Key)
	watch()
	var rules []string
	for _, a := range h.got() {
		rules = append(rules, a.Finding.Rule.ID)
	}
	if !slices.Contains(rules, "trailsentry-integrity-signature-invalid") {
		t.Errorf("forged signature not alerted: %v", rules)
	}
}

// A trail delivered live whose next digest is late past the grace period
// raises one missing-digest problem; a replayed old digest raises none.
func TestDigestCheckerMissing(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	c := &digestChecker{grace: 30 * time.Minute, now: func() time.Time { return now }, live: map[string]*liveChain{}}
	n := integrityDigestName("111122223333", "us-east-1", "management")
	c.arrived("live", n, now.Add(-10*time.Minute))
	c.arrived("old", n, now.Add(-30*24*time.Hour))
	if p := c.missing(); len(p) != 0 {
		t.Fatalf("nothing is late yet: %+v", p)
	}
	now = now.Add(90 * time.Minute) // 100 minutes after the last digest's end
	p := c.missing()
	if len(p) != 1 || p[0].Rule != "trailsentry-integrity-digest-missing" || p[0].Trail != "management" {
		t.Fatalf("late digest: %+v", p)
	}
	if again := c.missing(); len(again) != 0 {
		t.Errorf("the same late digest reported twice: %+v", again)
	}
	c.arrived("live", n, now.Add(-5*time.Minute)) // the trail delivers again
	now = now.Add(2 * time.Hour)
	if p := c.missing(); len(p) != 1 {
		t.Errorf("a new silence is a new problem: %+v", p)
	}
}

func integrityDigestName(account, region, trail string) integrity.DigestName {
	return integrity.DigestName{Account: account, Region: region, Trail: trail}
}

// TestWatchLatency measures, from a notification being sent to the alert
// it causes reaching the webhook, the p50 and p99 over a stream of log
// files (each with a new actor stopping a trail, so each makes a new
// finding). It reports the figures (go test -run WatchLatency -v); it
// asserts only a loose bound, since the figure depends on the machine.
func TestWatchLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("starts local S3 and SQS servers")
	}
	const n = 40
	dir := t.TempDir()
	s3srv := s3test.Start(t)
	s3srv.Env(t)
	s3srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	ctx := context.Background()
	client, queue := trailQueue(t)

	var mu sync.Mutex
	arrived := map[string]time.Time{} // actor -> when its alert arrived
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p alert.WebhookPayload
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		for _, a := range p.Alerts {
			if _, ok := arrived[a.Finding.Actor]; !ok {
				arrived[a.Finding.Actor] = time.Now()
			}
		}
		mu.Unlock()
	}))
	defer hooks.Close()
	t.Setenv("TEST_WEBHOOK_URL", hooks.URL)
	cfg := filepath.Join(dir, "trailsentry.yaml")
	writeFile(t, cfg, []byte("alerts:\n  sinks:\n    - name: soc\n      min_severity: high\n      webhook: {url: env:TEST_WEBHOOK_URL}\n"))

	// The objects are in place first; the notifications are what is timed.
	keys := make([]string, n)
	for i := range n {
		actor := fmt.Sprintf("intruder%02d", i)
		keys[i] = fmt.Sprintf("AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/11/111122223333_CloudTrail_us-east-1_20240311T12%02dZ_%016d.json.gz", i%60, i)
		body := `{"Records":[` + record(fmt.Sprintf("lat-%d", i), "2024-03-11T12:00:00Z", "cloudtrail.amazonaws.com", "StopLogging",
			fmt.Sprintf(`{"type":"IAMUser","principalId":"AIDAEXAMPLE%02d","arn":"arn:aws:iam::111122223333:user/%s","accountId":"111122223333","userName":%q}`, i, actor, actor),
			`"requestParameters":{"name":"management-events"},`) + `]}`
		writeFile(t, filepath.Join(dir, "trail", filepath.FromSlash(keys[i])), gzipBytes(t, body))
	}
	s3srv.CLI(t, "s3", "cp", "--recursive", "--quiet", filepath.Join(dir, "trail"), "s3://trail-bucket/")

	done := make(chan result, 1)
	go func() {
		done <- run(t, "", "watch", "--state", filepath.Join(dir, "state.db"), "--sqs-queue", queue, "--config", cfg, "--s3-path-style",
			"--listen", "", "--exit-when-idle", "3s", "--dispatch-interval", "50ms")
	}()
	time.Sleep(500 * time.Millisecond) // the watcher is polling
	sent := map[string]time.Time{}
	for i, k := range keys {
		msg := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2024-03-11T12:06:00.000Z","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail-bucket"},"object":{"key":%q,"size":100}}}]}`, k)
		sent[fmt.Sprintf("intruder%02d", i)] = time.Now()
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(msg)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	res := <-done
	if res.code != ExitOK {
		t.Fatalf("watch: exit %d\n%s", res.code, res.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for actor, at := range sent {
		if got, ok := arrived[actor]; ok {
			lat = append(lat, got.Sub(at))
		}
	}
	if len(lat) != n {
		t.Fatalf("%d of %d alerts arrived", len(lat), n)
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[(len(lat)*99+99)/100-1]
	t.Logf("notification sent -> alert delivered, %d alerts: p50 %v, p99 %v, max %v", n, p50.Round(time.Millisecond), p99.Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	if p99 > 10*time.Second {
		t.Errorf("p99 %v", p99)
	}
}

// watch's settings come from flags, else the environment, else --config's
// watch: section.
func TestWatchSettingsPrecedence(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "trailsentry.yaml")
	writeFile(t, cfg, []byte(`watch:
  state: /var/lib/trailsentry/file.db
  sqs_queues: [https://sqs.us-east-1.amazonaws.com/111122223333/from-file]
  s3_polls: [s3://trail-bucket/AWSLogs/]
  listen: ""
  digest_grace: 45m
`))
	o := watchOptions{config: cfg, state: "default", listen: "127.0.0.1:9466", learning: "7d", digestGrace: 30 * time.Minute}
	t.Setenv("TRAILSENTRY_STATE", "postgres://db/from-env")
	t.Setenv("TRAILSENTRY_SQS_QUEUE", "")
	if err := watchSettings(&o, map[string]bool{"s3-poll": true}); err != nil {
		t.Fatal(err)
	}
	if o.state != "postgres://db/from-env" || len(o.queues) != 1 || !strings.HasSuffix(o.queues[0], "from-file") ||
		len(o.polls) != 0 || o.listen != "" || o.digestGrace != 45*time.Minute {
		t.Errorf("settings %+v", o)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, []byte("watch:\n  sqs_queue: typo\n"))
	if err := watchSettings(&watchOptions{config: bad}, nil); err == nil {
		t.Error("an unknown key in watch: was accepted")
	}
}

// trailQueue starts a local SQS server (AWS_ENDPOINT_URL_SQS points at it)
// holding a queue named "trail", and returns a client and the queue's URL.
func trailQueue(t *testing.T) (*sqs.Client, string) {
	q := sqstest.New(t)
	t.Setenv("AWS_ENDPOINT_URL_SQS", q.URL())
	client := q.Client(context.Background())
	if _, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	return client, q.QueueURL("trail")
}
