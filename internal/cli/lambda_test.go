package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/ingest/s3test"
)

// The Lambda handler, invoked as Lambda invokes it: an SQS batch of S3
// notifications (one of them garbage: reported in batchItemFailures, the
// other processed and alerted), then an EventBridge CloudTrail event
// directly.
func TestLambdaHandler(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local S3 server")
	}
	dir := t.TempDir()
	key := "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/11/111122223333_CloudTrail_us-east-1_20240311T1205Z_lambdaTest000001.json.gz"
	local := filepath.Join(dir, "log.json.gz")
	writeFile(t, local, gzipBytes(t, `{"Records":[`+record("l-1", "2024-03-11T12:01:00Z", "cloudtrail.amazonaws.com", "StopLogging", "", `"requestParameters":{"name":"management-events"},`)+`]}`))
	s3srv := s3test.Start(t)
	s3srv.Env(t)
	s3srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	s3srv.CLI(t, "s3", "cp", "--quiet", local, "s3://trail-bucket/"+key)

	h := &hook{}
	hooks := httptest.NewServer(h)
	defer hooks.Close()
	t.Setenv("TEST_WEBHOOK_URL", hooks.URL)
	t.Setenv("TEST_HMAC_KEY", "test-hmac-key")
	cfg := filepath.Join(dir, "trailsentry.yaml")
	writeFile(t, cfg, []byte("alerts:\n  sinks:\n    - name: soc\n      min_severity: high\n      webhook: {url: env:TEST_WEBHOOK_URL, hmac_key: env:TEST_HMAC_KEY}\n"))
	t.Setenv("TRAILSENTRY_STATE", filepath.Join(dir, "state.db"))
	t.Setenv("TRAILSENTRY_CONFIG", cfg)
	t.Setenv("TRAILSENTRY_S3_PATH_STYLE", "true")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	handler, closeFn, err := newLambdaHandler(ctx, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()

	notification := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail-bucket"},"object":{"key":%q,"size":100}}}]}`, key)
	sqsBatch, _ := json.Marshal(map[string]any{"Records": []map[string]any{
		{"messageId": "m-good", "body": notification, "eventSource": "aws:sqs", "attributes": map[string]string{"ApproximateReceiveCount": "1"}},
		{"messageId": "m-bad", "body": "not a notification", "eventSource": "aws:sqs", "attributes": map[string]string{"ApproximateReceiveCount": "1"}},
	}})
	out, err := handler.Handle(ctx, sqsBatch)
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := out.(batchResponse)
	if !ok || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m-bad" {
		t.Fatalf("batch response %+v", out)
	}
	if got := h.got(); len(got) != 1 || got[0].Finding.Rule.Title != "CloudTrail logging stopped, deleted or narrowed" {
		t.Fatalf("alerts after the SQS batch: %+v", got)
	}

	// The same batch again (Lambda retried it): nothing more is alerted.
	if _, err := handler.Handle(ctx, sqsBatch); err != nil {
		t.Fatal(err)
	}
	if got := h.got(); len(got) != 1 {
		t.Errorf("a retried batch alerted again: %d alerts", len(got))
	}

	// An EventBridge event, invoked directly: a root console sign-in.
	detail := record("l-2", "2024-03-11T13:00:00Z", "signin.amazonaws.com", "ConsoleLogin", `{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"}`,
		`"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},"eventType":"AwsConsoleSignIn",`)
	eb := `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"AWS Console Sign In via CloudTrail","source":"aws.signin","account":"111122223333","time":"2024-03-11T13:00:00Z","region":"us-east-1","resources":[],"detail":` + detail + `}`
	if _, err := handler.Handle(ctx, json.RawMessage(eb)); err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, a := range h.got() {
		titles = append(titles, a.Finding.Rule.Title)
	}
	if len(titles) < 2 || !strings.Contains(strings.Join(titles, "|"), "Root") {
		t.Errorf("alerts after the EventBridge event: %v", titles)
	}
}
