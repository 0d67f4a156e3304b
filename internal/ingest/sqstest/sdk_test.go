package sqstest_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/trailsentry/trailsentry/internal/ingest/sqstest"
)

// These tests drive the server only through the real aws-sdk-go-v2 client
// (JSON 1.0) and, in awscli_test.go, Debian's awscli (query protocol).

// s3Notification is the body S3 sends to SQS when CloudTrail delivers a
// log file.
func s3Notification(key string) string {
	return `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",` +
		`"eventTime":"2024-05-01T00:05:12.345Z","eventName":"ObjectCreated:Put",` +
		`"userIdentity":{"principalId":"AWS:AROAEXAMPLE:regionalDeliverySession"},` +
		`"s3":{"s3SchemaVersion":"1.0","configurationId":"trail-notify",` +
		`"bucket":{"name":"trail-bucket","arn":"arn:aws:s3:::trail-bucket"},` +
		`"object":{"key":"` + key + `","size":2048,"eTag":"5d41402abc4b2a76b9719d911017c592"}}}]}`
}

func trailKey(n int) string {
	return fmt.Sprintf("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T%04dZ_x%d.json.gz", n%2400, n)
}

// eventBridgeEvent is a CloudTrail management event as EventBridge delivers
// it to an SQS target.
const eventBridgeEvent = `{"version":"0","id":"6f7c9e3a-1b2d-4c5e-8f90-123456789abc","detail-type":"AWS API Call via CloudTrail",` +
	`"source":"aws.iam","account":"111122223333","time":"2024-05-01T00:04:01Z","region":"us-east-1","resources":[],` +
	`"detail":{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/mallory",` +
	`"accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"mallory"},"eventTime":"2024-05-01T00:04:01Z",` +
	`"eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7",` +
	`"userAgent":"aws-cli/2.9.19","requestParameters":{"userName":"backdoor"},"eventID":"0b6f1d2c-3e4f-4a5b-9c8d-7e6f5a4b3c2d",` +
	`"readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}}`

// clock is a controlled clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 5, 1, 0, 5, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func startWithClock(t *testing.T) (*sqstest.Server, *clock) {
	c := newClock()
	srv := sqstest.Start(sqstest.Options{Now: c.Now})
	t.Cleanup(srv.Close)
	return srv, c
}

func createQueue(t *testing.T, ctx context.Context, c *sqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func send(t *testing.T, ctx context.Context, c *sqs.Client, url, body string) string {
	t.Helper()
	out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	return aws.ToString(out.MessageId)
}

// receive is a short-poll receive of up to n messages with every system
// attribute and message attribute.
func receive(t *testing.T, ctx context.Context, c *sqs.Client, url string, n int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         n,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	return out.Messages
}

func queueCounts(t *testing.T, ctx context.Context, c *sqs.Client, url string) (visible, inFlight, delayed int) {
	t.Helper()
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	n := func(k string) int {
		v, err := strconv.Atoi(out.Attributes[k])
		if err != nil {
			t.Fatalf("attribute %s = %q", k, out.Attributes[k])
		}
		return v
	}
	return n("ApproximateNumberOfMessages"), n("ApproximateNumberOfMessagesNotVisible"), n("ApproximateNumberOfMessagesDelayed")
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestQueueLifecycleAndMessageRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sqstest.New(t)
	c := srv.Client(ctx)

	url := createQueue(t, ctx, c, "trail-notifications", map[string]string{"VisibilityTimeout": "45", "MessageRetentionPeriod": "86400"})
	if want := srv.URL() + "/000000000000/trail-notifications"; url != want {
		t.Fatalf("QueueUrl = %q, want %q", url, want)
	}
	// Idempotent with the same attributes.
	if again := createQueue(t, ctx, c, "trail-notifications", map[string]string{"VisibilityTimeout": "45"}); again != url {
		t.Fatalf("second CreateQueue = %q", again)
	}
	createQueue(t, ctx, c, "eventbridge-trail", nil)
	createQueue(t, ctx, c, "other", nil)

	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("trail-notifications")})
	if err != nil || aws.ToString(got.QueueUrl) != url {
		t.Fatalf("GetQueueUrl = %v, %v", got, err)
	}
	list, err := c.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("e")})
	if err != nil || len(list.QueueUrls) != 1 || !strings.HasSuffix(list.QueueUrls[0], "/eventbridge-trail") {
		t.Fatalf("ListQueues(prefix e) = %v, %v", list, err)
	}
	// Paging with MaxResults.
	var all []string
	p := sqs.NewListQueuesPaginator(c, &sqs.ListQueuesInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.QueueUrls...)
	}
	if len(all) != 3 || !strings.HasSuffix(all[0], "/eventbridge-trail") || !strings.HasSuffix(all[2], "/trail-notifications") {
		t.Fatalf("paged ListQueues = %v", all)
	}

	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"QueueArn": "arn:aws:sqs:us-east-1:000000000000:trail-notifications", "VisibilityTimeout": "45",
		"MessageRetentionPeriod": "86400", "DelaySeconds": "0", "MaximumMessageSize": "262144",
		"ReceiveMessageWaitTimeSeconds": "0", "ApproximateNumberOfMessages": "0",
	} {
		if attrs.Attributes[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, attrs.Attributes[k], want)
		}
	}

	body := s3Notification(trailKey(1))
	before := time.Now()
	sent, err := c.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(url),
		MessageBody: aws.String(body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"baz":                {DataType: aws.String("String"), StringValue: aws.String("qux")},
			"trail.account":      {DataType: aws.String("Number"), StringValue: aws.String("111122223333")},
			"trail.digest":       {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 0xff}},
			"content-encoding.x": {DataType: aws.String("String.gzip"), StringValue: aws.String("gzip")},
		},
		MessageSystemAttributes: map[string]types.MessageSystemAttributeValue{
			"AWSTraceHeader": {DataType: aws.String("String"), StringValue: aws.String("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")},
		},
	})
	if err != nil {
		t.Fatalf("SendMessage: %v", err) // the SDK checks MD5OfMessageBody here
	}
	if aws.ToString(sent.MD5OfMessageBody) != md5hex(body) || aws.ToString(sent.MD5OfMessageAttributes) == "" || aws.ToString(sent.MD5OfMessageSystemAttributes) == "" {
		t.Fatalf("SendMessage output = %+v", sent)
	}

	msgs := receive(t, ctx, c, url, 10)
	if len(msgs) != 1 {
		t.Fatalf("received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) || aws.ToString(m.Body) != body || aws.ToString(m.MD5OfBody) != md5hex(body) {
		t.Fatalf("received %+v", m)
	}
	if aws.ToString(m.MD5OfMessageAttributes) != aws.ToString(sent.MD5OfMessageAttributes) {
		t.Errorf("MD5OfMessageAttributes on receive %s != on send %s (all attributes returned)", aws.ToString(m.MD5OfMessageAttributes), aws.ToString(sent.MD5OfMessageAttributes))
	}
	if v := m.MessageAttributes["trail.digest"]; string(v.BinaryValue) != "\x00\x01\x02\xff" || aws.ToString(v.DataType) != "Binary" {
		t.Errorf("binary attribute = %+v", v)
	}
	if v := m.MessageAttributes["content-encoding.x"]; aws.ToString(v.StringValue) != "gzip" || aws.ToString(v.DataType) != "String.gzip" {
		t.Errorf("custom-typed attribute = %+v", v)
	}
	if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SenderId"] != sqstest.AccessKeyID ||
		m.Attributes["AWSTraceHeader"] != "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1" {
		t.Errorf("system attributes = %v", m.Attributes)
	}
	sentMs, _ := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64)
	firstMs, _ := strconv.ParseInt(m.Attributes["ApproximateFirstReceiveTimestamp"], 10, 64)
	if sentMs < before.UnixMilli()-1000 || sentMs > time.Now().UnixMilli() || firstMs < sentMs {
		t.Errorf("SentTimestamp %d, ApproximateFirstReceiveTimestamp %d, test began %d", sentMs, firstMs, before.UnixMilli())
	}
	// The body is the S3 notification, intact.
	var note struct {
		Records []struct {
			S3 struct{ Object struct{ Key string } }
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &note); err != nil || note.Records[0].S3.Object.Key != trailKey(1) {
		t.Fatalf("body does not decode to the notification: %v %+v", err, note)
	}

	// Only the named message attributes, and a digest over those.
	again, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 1})
	if err != nil || len(again.Messages) != 0 {
		t.Fatalf("in-flight message received again: %v %v", again, err)
	}
	if v, nf, _ := queueCounts(t, ctx, c, url); v != 0 || nf != 1 {
		t.Fatalf("counts visible=%d notVisible=%d, want 0 1", v, nf)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if v, nf, d := queueCounts(t, ctx, c, url); v+nf+d != 0 {
		t.Fatalf("after delete: %d %d %d", v, nf, d)
	}

	if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("trail-notifications")})
	var notExist *types.QueueDoesNotExist
	if !errors.As(err, &notExist) {
		t.Fatalf("GetQueueUrl after DeleteQueue: %v, want *types.QueueDoesNotExist", err)
	}
}

// TestMessageAttributesMD5KnownAnswer checks MD5OfMessageAttributes against
// a value real SQS returned for the attribute baz=qux (String).
func TestMessageAttributesMD5KnownAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sqstest.New(t)
	c := srv.Client(ctx)
	url := createQueue(t, ctx, c, "md5", nil)
	out, err := c.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(url),
		MessageBody:       aws.String(`{"foo":20}`),
		MessageAttributes: map[string]types.MessageAttributeValue{"baz": {DataType: aws.String("String"), StringValue: aws.String("qux")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.MD5OfMessageBody), "d6cf0f93237ada70daf9b6e75cfff2e6"; got != want {
		t.Errorf("MD5OfMessageBody = %s, want %s", got, want)
	}
	if got, want := aws.ToString(out.MD5OfMessageAttributes), "16bd0283a5b4962721ccd3efe4bc6257"; got != want {
		t.Errorf("MD5OfMessageAttributes = %s, want %s", got, want)
	}
	msgs := receive(t, ctx, c, url, 1)
	if len(msgs) != 1 || aws.ToString(msgs[0].MD5OfMessageAttributes) != "16bd0283a5b4962721ccd3efe4bc6257" {
		t.Fatalf("received %+v", msgs)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: msgs[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}

	// Asking for some attributes returns those, with the digest of those.
	sent, err := c.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(url),
		MessageBody: aws.String(s3Notification(trailKey(5))),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"baz":           {DataType: aws.String("String"), StringValue: aws.String("qux")},
			"trail.account": {DataType: aws.String("Number"), StringValue: aws.String("111122223333")},
			"trail.region":  {DataType: aws.String("String"), StringValue: aws.String("us-east-1")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		names []string
		want  []string
	}{
		{[]string{"baz"}, []string{"baz"}},
		{[]string{"trail.*"}, []string{"trail.account", "trail.region"}},
		{[]string{".*"}, []string{"baz", "trail.account", "trail.region"}},
		{nil, nil},
	} {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MessageAttributeNames: tc.names})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("receive %v: %v %v", tc.names, out, err)
		}
		m := out.Messages[0]
		var got []string
		for n := range m.MessageAttributes {
			got = append(got, n)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("MessageAttributeNames %v returned %v, want %v", tc.names, got, tc.want)
		}
		switch len(tc.want) {
		case 0:
			if m.MD5OfMessageAttributes != nil {
				t.Errorf("MD5OfMessageAttributes %s with no attributes returned", aws.ToString(m.MD5OfMessageAttributes))
			}
		case 1:
			if aws.ToString(m.MD5OfMessageAttributes) != "16bd0283a5b4962721ccd3efe4bc6257" {
				t.Errorf("MD5 of baz alone = %s", aws.ToString(m.MD5OfMessageAttributes))
			}
		case 3:
			if aws.ToString(m.MD5OfMessageAttributes) != aws.ToString(sent.MD5OfMessageAttributes) {
				t.Errorf("MD5 of all attributes on receive %s, on send %s", aws.ToString(m.MD5OfMessageAttributes), aws.ToString(sent.MD5OfMessageAttributes))
			}
		}
		if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLongPollReturnsOnSend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sqstest.New(t)
	c := srv.Client(ctx)
	url := createQueue(t, ctx, c, "long-poll", nil)

	// No message: the poll lasts its wait time.
	start := time.Now()
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 0 {
		t.Fatalf("empty long poll: %v %v", out, err)
	}
	if d := time.Since(start); d < 950*time.Millisecond || d > 3*time.Second {
		t.Fatalf("a 1 s long poll on an empty queue took %v", d)
	}

	type result struct {
		msgs []types.Message
		at   time.Time
		err  error
	}
	done := make(chan result, 1)
	go func() {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 5})
		r := result{at: time.Now(), err: err}
		if out != nil {
			r.msgs = out.Messages
		}
		done <- r
	}()
	time.Sleep(300 * time.Millisecond) // let the poll begin waiting
	body := s3Notification(trailKey(2))
	sentAt := time.Now()
	send(t, ctx, c, url, body)
	r := <-done
	if r.err != nil || len(r.msgs) != 1 || aws.ToString(r.msgs[0].Body) != body {
		t.Fatalf("long poll: %v %+v", r.err, r.msgs)
	}
	latency := r.at.Sub(sentAt)
	t.Logf("long poll returned %v after the send began", latency)
	if latency > 250*time.Millisecond {
		t.Fatalf("long poll returned %v after the send, want about 100 ms at most", latency)
	}

	// The queue's ReceiveMessageWaitTimeSeconds applies when the call sets
	// none, and a message becoming visible again ends a waiting poll.
	if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"ReceiveMessageWaitTimeSeconds": "5"}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
		r := result{at: time.Now(), err: err}
		if out != nil {
			r.msgs = out.Messages
		}
		done <- r
	}()
	time.Sleep(300 * time.Millisecond)
	changedAt := time.Now()
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: r.msgs[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	r2 := <-done
	if r2.err != nil || len(r2.msgs) != 1 || aws.ToString(r2.msgs[0].MessageId) != aws.ToString(r.msgs[0].MessageId) {
		t.Fatalf("poll after visibility 0: %v %+v", r2.err, r2.msgs)
	}
	if d := r2.at.Sub(changedAt); d > 250*time.Millisecond {
		t.Fatalf("poll returned %v after ChangeMessageVisibility to 0", d)
	}

	// A real-clock visibility timeout ending wakes a poll too.
	go func() {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 5})
		r := result{at: time.Now(), err: err}
		if out != nil {
			r.msgs = out.Messages
		}
		done <- r
	}()
	// r2's receive set the queue's default visibility (30 s); shorten it.
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: r2.msgs[0].ReceiptHandle, VisibilityTimeout: 1}); err != nil {
		t.Fatal(err)
	}
	visibleAt := time.Now().Add(time.Second)
	r3 := <-done
	if r3.err != nil || len(r3.msgs) != 1 {
		t.Fatalf("poll across visibility expiry: %v %+v", r3.err, r3.msgs)
	}
	if d := r3.at.Sub(visibleAt); d < -50*time.Millisecond || d > 250*time.Millisecond {
		t.Fatalf("poll returned %v from the visibility timeout's end", d)
	}
}

func TestVisibilityRedeliveryAndStaleHandles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, clk := startWithClock(t)
	c := srv.Client(ctx)
	url := createQueue(t, ctx, c, "visibility", map[string]string{"VisibilityTimeout": "30"})
	id := send(t, ctx, c, url, eventBridgeEvent)

	first := receive(t, ctx, c, url, 1)
	if len(first) != 1 || first[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("first receive %+v", first)
	}
	firstReceive := first[0].Attributes["ApproximateFirstReceiveTimestamp"]
	if want := strconv.FormatInt(newClock().Now().UnixMilli(), 10); firstReceive != want || first[0].Attributes["SentTimestamp"] != want {
		t.Fatalf("timestamps %v, want the controlled clock's %s", first[0].Attributes, want)
	}
	clk.Advance(29 * time.Second)
	if got := receive(t, ctx, c, url, 1); len(got) != 0 {
		t.Fatalf("received %d messages inside the visibility timeout", len(got))
	}
	clk.Advance(2 * time.Second)
	second := receive(t, ctx, c, url, 1)
	if len(second) != 1 || aws.ToString(second[0].MessageId) != id || second[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("redelivery %+v", second)
	}
	if aws.ToString(second[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		t.Fatal("a second receive returned the same receipt handle")
	}
	if second[0].Attributes["ApproximateFirstReceiveTimestamp"] != firstReceive {
		t.Errorf("ApproximateFirstReceiveTimestamp changed: %s -> %s", firstReceive, second[0].Attributes["ApproximateFirstReceiveTimestamp"])
	}

	// The stale handle: DeleteMessage succeeds and deletes nothing,
	// ChangeMessageVisibility is refused.
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage with a stale handle: %v, want success", err)
	}
	if _, nf, _ := queueCounts(t, ctx, c, url); nf != 1 {
		t.Fatalf("a stale handle deleted the message (in flight %d)", nf)
	}
	_, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 100})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" || !strings.Contains(apiErr.ErrorMessage(), "expired") {
		t.Fatalf("ChangeMessageVisibility with a stale handle: %v", err)
	}

	// Extending: 120 s from now, so not visible after the original 30.
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: second[0].ReceiptHandle, VisibilityTimeout: 120}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(60 * time.Second)
	if got := receive(t, ctx, c, url, 1); len(got) != 0 {
		t.Fatal("message visible before its extended timeout")
	}
	clk.Advance(61 * time.Second)
	third := receive(t, ctx, c, url, 1)
	if len(third) != 1 || third[0].Attributes["ApproximateReceiveCount"] != "3" {
		t.Fatalf("after the extended timeout: %+v", third)
	}
	// The handle of the second receive no longer deletes; the third's does.
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: second[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if _, nf, _ := queueCounts(t, ctx, c, url); nf != 1 {
		t.Fatal("the second receive's handle deleted the message")
	}
	// Beyond 12 hours from the receive.
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 43200})
	if err != nil {
		t.Fatalf("12 h from the receive: %v", err)
	}
	clk.Advance(time.Hour)
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 43200})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
		t.Fatalf("visibility beyond 12 h from the receive: %v", err)
	}
	// Visibility 0: visible at once.
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	if v, nf, _ := queueCounts(t, ctx, c, url); v != 1 || nf != 0 {
		t.Fatalf("after visibility 0: visible %d in flight %d", v, nf)
	}
	// No longer in flight.
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 10})
	var notInflight *types.MessageNotInflight
	if !errors.As(err, &notInflight) {
		t.Fatalf("ChangeMessageVisibility on a visible message: %v, want *types.MessageNotInflight", err)
	}
	// Its latest handle still deletes it (no receive since).
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: third[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if v, nf, d := queueCounts(t, ctx, c, url); v+nf+d != 0 {
		t.Fatalf("after delete %d %d %d", v, nf, d)
	}
	// Deleting again succeeds.
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: third[0].ReceiptHandle}); err != nil {
		t.Fatalf("deleting a deleted message: %v", err)
	}

	// A receive's VisibilityTimeout overrides the queue's 30 s.
	send(t, ctx, c, url, s3Notification(trailKey(6)))
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 5})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive with VisibilityTimeout 5: %v %v", out, err)
	}
	clk.Advance(4 * time.Second)
	if got := receive(t, ctx, c, url, 1); len(got) != 0 {
		t.Fatal("visible 4 s into a 5 s visibility timeout")
	}
	clk.Advance(2 * time.Second)
	if got := receive(t, ctx, c, url, 1); len(got) != 1 || got[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("6 s after a receive with VisibilityTimeout 5: %+v", got)
	}
}

func TestRedriveToDeadLetterQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, clk := startWithClock(t)
	c := srv.Client(ctx)
	dlq := createQueue(t, ctx, c, "trail-dlq", nil)
	_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bad-redrive"), Attributes: map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:missing","maxReceiveCount":"3"}`}})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
		t.Fatalf("RedrivePolicy to a missing queue: %v", err)
	}
	src := createQueue(t, ctx, c, "trail-src", map[string]string{
		"VisibilityTimeout": "10",
		"RedrivePolicy":     `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:trail-dlq","maxReceiveCount":"3"}`,
	})
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(src), AttributeNames: []types.QueueAttributeName{"RedrivePolicy"}})
	if err != nil || attrs.Attributes["RedrivePolicy"] != `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:trail-dlq","maxReceiveCount":3}` {
		t.Fatalf("RedrivePolicy = %v, %v", attrs, err)
	}
	poison := send(t, ctx, c, src, `{"Records":[{"s3":{"object":{"key":"not-a-trail-file"}}}]`) // broken JSON: never processed
	good := send(t, ctx, c, src, s3Notification(trailKey(3)))

	for i := 1; i <= 3; i++ {
		msgs := receive(t, ctx, c, src, 10)
		if len(msgs) != 2 {
			t.Fatalf("receive %d: %d messages", i, len(msgs))
		}
		for _, m := range msgs {
			if m.Attributes["ApproximateReceiveCount"] != strconv.Itoa(i) {
				t.Fatalf("receive %d: count %s", i, m.Attributes["ApproximateReceiveCount"])
			}
			if aws.ToString(m.MessageId) == good && i == 3 {
				if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(src), ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
			}
		}
		clk.Advance(11 * time.Second)
	}
	// The fourth receive moves the poison message instead of returning it.
	if msgs := receive(t, ctx, c, src, 10); len(msgs) != 0 {
		t.Fatalf("after maxReceiveCount the source returned %+v", msgs)
	}
	if v, nf, d := queueCounts(t, ctx, c, src); v+nf+d != 0 {
		t.Fatalf("source still holds %d %d %d", v, nf, d)
	}
	if v, _, _ := queueCounts(t, ctx, c, dlq); v != 1 {
		t.Fatalf("dead-letter queue holds %d visible messages, want 1", v)
	}
	msgs := receive(t, ctx, c, dlq, 10)
	if len(msgs) != 1 || aws.ToString(msgs[0].MessageId) != poison {
		t.Fatalf("dead-letter queue returned %+v", msgs)
	}
	m := msgs[0]
	if m.Attributes["DeadLetterQueueSourceArn"] != "arn:aws:sqs:us-east-1:000000000000:trail-src" || m.Attributes["ApproximateReceiveCount"] != "4" {
		t.Fatalf("dead-letter message attributes %v", m.Attributes)
	}
	if want := strconv.FormatInt(newClock().Now().UnixMilli(), 10); m.Attributes["SentTimestamp"] != want {
		t.Errorf("SentTimestamp %s, want the original send %s", m.Attributes["SentTimestamp"], want)
	}
}

func TestDelayAndRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, clk := startWithClock(t)
	c := srv.Client(ctx)
	url := createQueue(t, ctx, c, "delayed", map[string]string{"DelaySeconds": "60", "MessageRetentionPeriod": "300"})

	send(t, ctx, c, url, s3Notification(trailKey(4))) // the queue's 60 s
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(eventBridgeEvent), DelaySeconds: 120}); err != nil {
		t.Fatal(err)
	}
	if v, _, d := queueCounts(t, ctx, c, url); v != 0 || d != 2 {
		t.Fatalf("visible %d delayed %d, want 0 2", v, d)
	}
	clk.Advance(61 * time.Second)
	got := receive(t, ctx, c, url, 10)
	if len(got) != 1 || !strings.Contains(aws.ToString(got[0].Body), "ObjectCreated:Put") {
		t.Fatalf("after 61 s: %+v", got)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: got[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(60 * time.Second)
	if got := receive(t, ctx, c, url, 10); len(got) != 1 || !strings.Contains(aws.ToString(got[0].Body), "CreateAccessKey") {
		t.Fatalf("after 121 s: %+v", got)
	}
	// Retention: 300 s from the send, whatever happened since.
	clk.Advance(180 * time.Second)
	if v, nf, d := queueCounts(t, ctx, c, url); v+nf+d != 0 {
		t.Fatalf("after the retention period: %d %d %d", v, nf, d)
	}
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), DelaySeconds: 901})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
		t.Fatalf("DelaySeconds 901: %v", err)
	}
}

func TestBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sqstest.New(t)
	c := srv.Client(ctx)
	url := createQueue(t, ctx, c, "batches", nil)

	entries := []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String(s3Notification(trailKey(10)))},
		{Id: aws.String("b"), MessageBody: aws.String(s3Notification(trailKey(11))), DelaySeconds: 0},
		{Id: aws.String("bad-char"), MessageBody: aws.String("nul \x00 byte")},
		{Id: aws.String("bad-delay"), MessageBody: aws.String("x"), DelaySeconds: 901},
		{Id: aws.String("c"), MessageBody: aws.String(eventBridgeEvent), MessageAttributes: map[string]types.MessageAttributeValue{
			"source": {DataType: aws.String("String"), StringValue: aws.String("aws.iam")}}},
	}
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		t.Fatalf("SendMessageBatch: %v", err) // the SDK checks each MD5OfMessageBody
	}
	if len(out.Successful) != 3 || len(out.Failed) != 2 {
		t.Fatalf("Successful %d Failed %d, want 3 2", len(out.Successful), len(out.Failed))
	}
	failed := map[string]types.BatchResultErrorEntry{}
	for _, f := range out.Failed {
		failed[aws.ToString(f.Id)] = f
	}
	if f := failed["bad-char"]; aws.ToString(f.Code) != "InvalidMessageContents" || !f.SenderFault {
		t.Errorf("bad-char failure %+v", f)
	}
	if f := failed["bad-delay"]; aws.ToString(f.Code) != "InvalidParameterValue" || !strings.Contains(aws.ToString(f.Message), "DelaySeconds") {
		t.Errorf("bad-delay failure %+v", f)
	}

	msgs := receive(t, ctx, c, url, 10)
	if len(msgs) != 3 {
		t.Fatalf("received %d, want 3", len(msgs))
	}
	del := []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("m0"), ReceiptHandle: msgs[0].ReceiptHandle},
		{Id: aws.String("m1"), ReceiptHandle: msgs[1].ReceiptHandle},
		{Id: aws.String("garbage"), ReceiptHandle: aws.String("not-a-receipt-handle")},
	}
	dout, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del})
	if err != nil || len(dout.Successful) != 2 || len(dout.Failed) != 1 || aws.ToString(dout.Failed[0].Id) != "garbage" || aws.ToString(dout.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Fatalf("DeleteMessageBatch = %+v, %v", dout, err)
	}
	cout, err := c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
		{Id: aws.String("live"), ReceiptHandle: msgs[2].ReceiptHandle, VisibilityTimeout: 0},
		{Id: aws.String("deleted"), ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0},
	}})
	if err != nil || len(cout.Successful) != 1 || aws.ToString(cout.Successful[0].Id) != "live" || len(cout.Failed) != 1 || aws.ToString(cout.Failed[0].Id) != "deleted" {
		t.Fatalf("ChangeMessageVisibilityBatch = %+v, %v", cout, err)
	}
	if v, nf, _ := queueCounts(t, ctx, c, url); v != 1 || nf != 0 {
		t.Fatalf("after the batches: visible %d in flight %d", v, nf)
	}

	// Whole-request failures, as typed errors.
	eleven := make([]types.SendMessageBatchRequestEntry, 11)
	for i := range eleven {
		eleven[i] = types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("e", i)), MessageBody: aws.String("x")}
	}
	big := strings.Repeat("x", 100_000)
	for _, tc := range []struct {
		name    string
		entries []types.SendMessageBatchRequestEntry
		want    any
	}{
		{"eleven", eleven, new(*types.TooManyEntriesInBatchRequest)},
		{"empty", []types.SendMessageBatchRequestEntry{}, new(*types.EmptyBatchRequest)},
		{"duplicate", []types.SendMessageBatchRequestEntry{{Id: aws.String("x"), MessageBody: aws.String("1")}, {Id: aws.String("x"), MessageBody: aws.String("2")}}, new(*types.BatchEntryIdsNotDistinct)},
		{"bad id", []types.SendMessageBatchRequestEntry{{Id: aws.String("no spaces"), MessageBody: aws.String("1")}}, new(*types.InvalidBatchEntryId)},
		{"too long", []types.SendMessageBatchRequestEntry{{Id: aws.String("a"), MessageBody: aws.String(big)}, {Id: aws.String("b"), MessageBody: aws.String(big)}, {Id: aws.String("c"), MessageBody: aws.String(big)}}, new(*types.BatchRequestTooLong)},
	} {
		_, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: tc.entries})
		if err == nil || !errors.As(err, tc.want) {
			t.Errorf("%s: %v, want %T", tc.name, err, tc.want)
		}
	}
}

func TestTypedErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sqstest.New(t)
	c := srv.Client(ctx)
	url := createQueue(t, ctx, c, "errors", map[string]string{"VisibilityTimeout": "30"})
	missing := srv.QueueURL("missing")

	code := func(err error) string {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			return apiErr.ErrorCode()
		}
		return fmt.Sprintf("not an API error: %v", err)
	}
	cases := []struct {
		name     string
		call     func() error
		want     any    // pointer to a typed error, or nil
		wantCode string // the code the SDK reports (the query code: SQS is "query compatible")
	}{
		{"send to missing queue", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(missing), MessageBody: aws.String("x")})
			return err
		}, new(*types.QueueDoesNotExist), "AWS.SimpleQueueService.NonExistentQueue"},
		{"receive from missing queue", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(missing), WaitTimeSeconds: 1})
			return err
		}, new(*types.QueueDoesNotExist), "AWS.SimpleQueueService.NonExistentQueue"},
		{"conflicting CreateQueue", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("errors"), Attributes: map[string]string{"VisibilityTimeout": "31"}})
			return err
		}, new(*types.QueueNameExists), "QueueAlreadyExists"},
		{"garbage receipt handle", func() error {
			_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("AQEBgarbage")})
			return err
		}, new(*types.ReceiptHandleIsInvalid), "ReceiptHandleIsInvalid"},
		{"unknown attribute", func() error {
			_, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{"Colour"}})
			return err
		}, new(*types.InvalidAttributeName), "InvalidAttributeName"},
		{"attribute out of range", func() error {
			_, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"VisibilityTimeout": "43201"}})
			return err
		}, new(*types.InvalidAttributeValue), "InvalidAttributeValue"},
		{"FIFO queue", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q"), Attributes: map[string]string{"FifoQueue": "true"}})
			return err
		}, new(*types.InvalidAttributeValue), "InvalidAttributeValue"},
		{"FIFO name", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q.fifo")})
			return err
		}, nil, "InvalidParameterValue"},
		{"bad queue name", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("has space")})
			return err
		}, nil, "InvalidParameterValue"},
		{"MaxNumberOfMessages 11", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
			return err
		}, nil, "InvalidParameterValue"},
		{"WaitTimeSeconds 21", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 21})
			return err
		}, nil, "InvalidParameterValue"},
		{"message over 256 KiB", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strings.Repeat("a", 262145))})
			return err
		}, nil, "InvalidParameterValue"},
		{"body and attributes over 256 KiB", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strings.Repeat("a", 262100)),
				MessageAttributes: map[string]types.MessageAttributeValue{"pad": {DataType: aws.String("String"), StringValue: aws.String(strings.Repeat("b", 100))}}})
			return err
		}, nil, "InvalidParameterValue"},
		{"invalid character", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("bell \a")})
			return err
		}, new(*types.InvalidMessageContents), "InvalidMessageContents"},
		{"empty body", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("")})
			return err
		}, nil, "MissingParameter"},
		{"Number attribute not a number", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"),
				MessageAttributes: map[string]types.MessageAttributeValue{"n": {DataType: aws.String("Number"), StringValue: aws.String("twelve")}}})
			return err
		}, nil, "InvalidParameterValue"},
		{"unimplemented action", func() error {
			_, err := c.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: aws.String(url), Tags: map[string]string{"team": "security"}})
			return err
		}, new(*types.UnsupportedOperation), "AWS.SimpleQueueService.UnsupportedOperation"},
	}
	for _, tc := range cases {
		err := tc.call()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if tc.want != nil && !errors.As(err, tc.want) {
			t.Errorf("%s: %v, want %T", tc.name, err, tc.want)
		}
		if got := code(err); got != tc.wantCode {
			t.Errorf("%s: code %q, want %q (%v)", tc.name, got, tc.wantCode, err)
		}
	}

	// The 60-second rules.
	if _, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)})
	var inProgress *types.PurgeQueueInProgress
	if !errors.As(err, &inProgress) {
		t.Errorf("second purge: %v, want *types.PurgeQueueInProgress", err)
	}
	if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("errors")})
	var recently *types.QueueDeletedRecently
	if !errors.As(err, &recently) {
		t.Errorf("CreateQueue right after DeleteQueue: %v, want *types.QueueDeletedRecently", err)
	}

	// An unsigned request is refused.
	anon := sqs.New(sqs.Options{Region: sqstest.Region, BaseEndpoint: aws.String(srv.URL()), Credentials: aws.AnonymousCredentials{}})
	_, err = anon.ListQueues(ctx, &sqs.ListQueuesInput{})
	if got := code(err); got != "MissingAuthenticationToken" {
		t.Errorf("unsigned request: code %q (%v)", got, err)
	}
}

func TestPurgeAndDelayWithRealClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sqstest.New(t)
	c := srv.Client(ctx)
	url := createQueue(t, ctx, c, "purge", nil)
	for i := range 5 {
		send(t, ctx, c, url, s3Notification(trailKey(20+i)))
	}
	if _, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	if v, nf, d := queueCounts(t, ctx, c, url); v+nf+d != 0 {
		t.Fatalf("after purge %d %d %d", v, nf, d)
	}
	// A delayed message ends a long poll when its delay is over.
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(eventBridgeEvent), DelaySeconds: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 5})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("long poll for a delayed message: %v %v", out, err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 1500*time.Millisecond {
		t.Fatalf("delayed message arrived after %v, want about 1 s", d)
	}
}

// TestConcurrentProducersAndConsumers runs senders and long-polling
// consumers at once (run with -race): every message is received and deleted,
// none is lost.
func TestConcurrentProducersAndConsumers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := sqstest.New(t)
	c := srv.Client(ctx)
	url := createQueue(t, ctx, c, "concurrent", map[string]string{"VisibilityTimeout": "30"})

	const producers, perProducer, consumers = 4, 50, 4
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProducer; i += 5 {
				var entries []types.SendMessageBatchRequestEntry
				for j := range 5 {
					entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("e", j)), MessageBody: aws.String(s3Notification(trailKey(p*1000 + i + j)))})
				}
				if out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries}); err != nil || len(out.Failed) != 0 {
					t.Errorf("SendMessageBatch: %v", err)
					return
				}
			}
		}()
	}
	total := producers * perProducer
	var consumed sync.WaitGroup
	for range consumers {
		consumed.Add(1)
		go func() {
			defer consumed.Done()
			for ctx.Err() == nil {
				mu.Lock()
				n := len(seen)
				mu.Unlock()
				if n == total {
					return
				}
				out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("ReceiveMessage: %v", err)
					}
					return
				}
				var del []types.DeleteMessageBatchRequestEntry
				for i, m := range out.Messages {
					mu.Lock()
					seen[aws.ToString(m.Body)]++
					mu.Unlock()
					del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("d", i)), ReceiptHandle: m.ReceiptHandle})
				}
				if len(del) > 0 {
					if out, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del}); err != nil || len(out.Failed) != 0 {
						t.Errorf("DeleteMessageBatch: %v %+v", err, out)
					}
				}
			}
		}()
	}
	wg.Wait()
	consumed.Wait()
	if len(seen) != total {
		t.Fatalf("received %d distinct messages, want %d", len(seen), total)
	}
	for body, n := range seen {
		if n != 1 {
			t.Errorf("message received %d times (visibility 30 s, deleted at once): %.60s", n, body)
		}
	}
	if v, nf, d := queueCounts(t, ctx, c, url); v+nf+d != 0 {
		t.Fatalf("left in the queue: %d %d %d", v, nf, d)
	}
}
