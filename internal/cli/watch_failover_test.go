package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/trailsentry/trailsentry/internal/alert"
	"github.com/trailsentry/trailsentry/internal/corpus"
	"github.com/trailsentry/trailsentry/internal/ingest/s3test"
	"github.com/trailsentry/trailsentry/internal/ingest/sqstest"
	"github.com/trailsentry/trailsentry/internal/store/storetest"
)

// Two watchers share one queue and one PostgreSQL state; one is killed
// (SIGKILL) mid-run and restarted. Every alert reaches the sink exactly
// once — no alert id twice — and every planted attack's finding is
// alerted. Runs when TRAILSENTRY_TEST_POSTGRES names a server (.ci/run
// starts one).
func TestWatchTwoWorkersOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts local S3 and SQS servers")
	}
	ctx := context.Background()
	dsn := storetest.PostgresSchema(t)

	bin := filepath.Join(t.TempDir(), "trailsentry")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/trailsentry/trailsentry/cmd/trailsentry").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	// 500 log files with planted attacks, in the bucket.
	dir := t.TempDir()
	planted, err := corpus.Generate(ctx, corpus.Options{Dir: dir, Events: 10000, Files: 500, Seed: 21}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s3srv := s3test.Start(t)
	s3srv.Env(t)
	s3srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	s3srv.CLI(t, "s3", "cp", "--recursive", "--quiet", filepath.Join(dir, "AWSLogs"), "s3://trail-bucket/AWSLogs/")
	var keys []string
	filepath.WalkDir(filepath.Join(dir, "AWSLogs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	})
	if len(keys) != 500 {
		t.Fatalf("%d files", len(keys))
	}

	q := sqstest.New(t)
	t.Setenv("AWS_ENDPOINT_URL_SQS", q.URL())
	client := q.Client(ctx)
	if _, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("trail"), Attributes: map[string]string{"VisibilityTimeout": "5"}}); err != nil {
		t.Fatal(err)
	}
	queue := q.QueueURL("trail")
	for i := 0; i < len(keys); i += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for j, k := range keys[i:min(i+10, len(keys))] {
			body := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail-bucket"},"object":{"key":%q,"size":100}}}]}`, k)
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)), MessageBody: aws.String(body)})
		}
		if _, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queue), Entries: entries}); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	byID := map[string]int{}
	events := map[string]bool{} // eventIDs the alerted findings list
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p alert.WebhookPayload
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		for _, a := range p.Alerts {
			byID[a.AlertID]++
			for _, id := range a.Finding.EventIDs {
				events[id] = true
			}
		}
		mu.Unlock()
	}))
	defer hooks.Close()
	cfg := filepath.Join(dir, "trailsentry.yaml")
	// A short lease: the rows the killed watcher had claimed are sent by
	// another once it runs out.
	jsonl := filepath.Join(dir, "alerts.jsonl")
	writeFile(t, cfg, []byte("alerts:\n  outbox: {lease: 3s}\n  sinks:\n    - name: soc\n      min_severity: low\n      timeout: 2s\n      webhook: {url: env:TEST_WEBHOOK_URL}\n"+
		"    - name: archive\n      min_severity: low\n      timeout: 2s\n      file: {path: "+jsonl+"}\n"))
	env := append(os.Environ(), "TEST_WEBHOOK_URL="+hooks.URL)
	watcher := func(idle string) *exec.Cmd {
		cmd := exec.Command(bin, "watch", "--state", dsn, "--sqs-queue", queue, "--config", cfg, "--s3-path-style",
			"--listen", "", "--exit-when-idle", idle, "--dispatch-interval", "100ms", "--max-evidence", "1000", "--sqs-visibility", "3s")
		cmd.Env = env
		stderr := &lockedBuilder{}
		cmd.Stderr = stderr
		cmd.Stdout = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("watcher %v stderr:\n%s", cmd.Args[len(cmd.Args)-1], stderr.String())
			}
		})
		return cmd
	}
	// Idle longer than the queue's visibility timeout: the killed
	// watcher's messages come back, and are taken, before the others stop.
	a := watcher("10s")
	b := watcher("10s")
	time.Sleep(1500 * time.Millisecond) // both at work
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	restarted := watcher("10s")
	if err := b.Wait(); err != nil {
		t.Fatalf("watcher b: %v", err)
	}
	if err := restarted.Wait(); err != nil {
		t.Fatalf("restarted watcher: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	for id, n := range byID {
		if n != 1 {
			t.Errorf("alert %s delivered %d times", id, n)
		}
	}
	missed := 0
	for _, p := range planted {
		if !events[p.EventID] {
			missed++
			t.Logf("planted %s %s (%s) in no alerted finding", p.EventName, p.EventID, p.Description)
		}
	}
	t.Logf("%d alerts over two watchers, one killed and restarted; %d of %d planted events in alerted findings", len(byID), len(planted)-missed, len(planted))
	if len(byID) == 0 || missed > 0 {
		t.Errorf("%d of %d planted events were in no alert", missed, len(planted))
	}
	// The second sink got the same alerts, each once: the file holds one
	// line per alert, the same findings as the webhook.
	data, err := os.ReadFile(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	perFinding := map[string]int{}
	for _, l := range lines {
		var f struct{ ID string }
		json.Unmarshal([]byte(l), &f)
		perFinding[f.ID]++
	}
	webhookPerFinding := map[string]int{}
	for id := range byID {
		webhookPerFinding[strings.SplitN(id, "/", 2)[0]]++
	}
	if len(lines) != len(byID) || len(perFinding) != len(webhookPerFinding) {
		t.Errorf("file sink: %d lines for %d findings; webhook: %d alerts for %d findings", len(lines), len(perFinding), len(byID), len(webhookPerFinding))
	}
	for id, n := range webhookPerFinding {
		if perFinding[id] != n {
			t.Errorf("finding %s: %d alerts to the webhook, %d to the file", id, n, perFinding[id])
		}
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queue), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Attributes["ApproximateNumberOfMessages"] != "0" || attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("queue not emptied: %v", attrs.Attributes)
	}
}

// lockedBuilder collects a process's output from its two pipes.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
