package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/trailsentry/trailsentry/internal/event"
	"github.com/trailsentry/trailsentry/internal/ingest/s3test"
	"github.com/trailsentry/trailsentry/internal/ingest/sqstest"
)

// The message forms as AWS documents them, built here so each test states
// only what differs.

func s3NotificationBody(eventName, bucket, encodedKey string, size int64) string {
	return fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2024-03-11T07:20:31.512Z","eventName":%q,"userIdentity":{"principalId":"AWS:AROAEXAMPLE:regionalDeliverySession"},"requestParameters":{"sourceIPAddress":"203.0.113.9"},"responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},"s3":{"s3SchemaVersion":"1.0","configurationId":"trail-notifications","bucket":{"name":%q,"ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::%s"},"object":{"key":%q,"size":%d,"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"0055AED6DCD90281E5"}}}]}`,
		eventName, bucket, bucket, encodedKey, size)
}

const s3TestEventBody = `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-03-11T07:00:00.000Z","Bucket":"trail-bucket","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}`

func snsWrap(inner string) string {
	msg, _ := json.Marshal(inner)
	return `{"Type":"Notification","MessageId":"22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324","TopicArn":"arn:aws:sns:us-east-1:111122223333:trail-topic","Subject":"Amazon S3 Notification","Message":` + string(msg) + `,"Timestamp":"2024-03-11T07:20:32.000Z","SignatureVersion":"1","Signature":"EXAMPLE","SigningCertURL":"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-example.pem","UnsubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"}`
}

func eventBridgeObjectCreated(bucket, key string, size int64) string {
	return fmt.Sprintf(`{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created","source":"aws.s3","account":"111122223333","time":"2024-03-11T07:21:00Z","region":"us-east-1","resources":["arn:aws:s3:::%s"],"detail":{"version":"0","bucket":{"name":%q},"object":{"key":%q,"size":%d,"etag":"b1946ac92492d2347c6235b4d2611184","sequencer":"00617F08299329D189"},"request-id":"N4N7GDK58NMKJ12R","requester":"cloudtrail.amazonaws.com","source-ip-address":"203.0.113.15","reason":"PutObject"}}`,
		bucket, bucket, key, size)
}

func eventBridgeAPICall(detailType, rec string) string {
	return `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"` + detailType + `","source":"aws.iam","account":"111122223333","time":"2024-03-11T07:15:02Z","region":"us-east-1","resources":[],"detail":` + rec + `}`
}

// recordWithID is the test record with another eventID.
func recordWithID(id string) string {
	return strings.Replace(record, "3b9d2c1a-8e7f-4a6b-9c0d-1e2f3a4b5c6d", id, 1)
}

const trailDay = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/11/"

func TestParseMessageForms(t *testing.T) {
	key := "audit logs/" + trailDay + "111122223333_CloudTrail_us-east-1_20240311T0720Z_a b.json.gz"
	encoded := strings.ReplaceAll(url.QueryEscape(key), "%2F", "%2F") // QueryEscape: ' ' → '+', '/' → %2F
	if !strings.Contains(encoded, "+") || !strings.Contains(encoded, "%2F") {
		t.Fatalf("the encoded key %q should hold + and %%2F", encoded)
	}
	direct := s3NotificationBody("ObjectCreated:Put", "trail-bucket", encoded, 1234)
	for _, tc := range []struct {
		name    string
		body    string
		objects []NotifiedObject
		records []string
		ignore  string
		err     string
	}{
		{name: "S3 notification, key URL-encoded", body: direct,
			objects: []NotifiedObject{{Bucket: "trail-bucket", Key: key, Size: 1234, ETag: "d41d8cd98f00b204e9800998ecf8427e", Time: time.Date(2024, 3, 11, 7, 20, 31, 512e6, time.UTC)}}},
		{name: "S3 notification wrapped in SNS", body: snsWrap(direct),
			objects: []NotifiedObject{{Bucket: "trail-bucket", Key: key, Size: 1234, ETag: "d41d8cd98f00b204e9800998ecf8427e", Time: time.Date(2024, 3, 11, 7, 20, 31, 512e6, time.UTC)}}},
		{name: "EventBridge Object Created, key as it is", body: eventBridgeObjectCreated("trail-bucket", trailDay+"x+y.json.gz", 77),
			objects: []NotifiedObject{{Bucket: "trail-bucket", Key: trailDay + "x+y.json.gz", Size: 77, ETag: "b1946ac92492d2347c6235b4d2611184", Time: time.Date(2024, 3, 11, 7, 21, 0, 0, time.UTC)}}},
		{name: "EventBridge API call", body: eventBridgeAPICall("AWS API Call via CloudTrail", record), records: []string{record}},
		{name: "EventBridge console sign-in", body: eventBridgeAPICall("AWS Console Sign In via CloudTrail", record), records: []string{record}},
		{name: "EventBridge API call wrapped in SNS", body: snsWrap(eventBridgeAPICall("AWS API Call via CloudTrail", record)), records: []string{record}},
		{name: "S3 test event", body: s3TestEventBody, ignore: "S3 test event"},
		{name: "S3 deletion only", body: s3NotificationBody("ObjectRemoved:Delete", "trail-bucket", "k", 0), ignore: "no object created"},
		{name: "EventBridge Object Deleted", body: strings.Replace(eventBridgeObjectCreated("b", "k", 1), "Object Created", "Object Deleted", 1), ignore: "Object Deleted"},
		{name: "SNS subscription confirmation", body: `{"Type":"SubscriptionConfirmation","MessageId":"x","Token":"t","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":"You have chosen to subscribe"}`, ignore: "SubscriptionConfirmation"},
		{name: "not JSON", body: "hello world", err: `not a JSON object (starts "hello world")`},
		{name: "broken JSON", body: `{"Records":[`, err: "not valid JSON"},
		{name: "unknown object", body: `{"foo":1}`, err: `not an S3 event notification, SNS notification or EventBridge event (starts "{\"foo\":1}")`},
		{name: "a bare CloudTrail record", body: record, err: "not an S3 event notification"},
		{name: "other service's records", body: strings.Replace(direct, `"aws:s3"`, `"aws:sns"`, 1), err: `record 1: eventSource "aws:sns", not aws:s3`},
		{name: "bad key escape", body: s3NotificationBody("ObjectCreated:Put", "b", "a%zz", 1), err: `record 1: key "a%zz"`},
		{name: "no key", body: s3NotificationBody("ObjectCreated:Put", "b", "", 1), err: "no bucket name or object key"},
		{name: "other EventBridge event", body: `{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}`, err: `"EC2 Instance State-change Notification" event from "aws.ec2"`},
		{name: "CloudTrail event without detail", body: `{"detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":"x"}`, err: "detail is not a JSON object"},
		{name: "SNS with garbage inside", body: snsWrap("garbage"), err: "SNS notification's Message: not a JSON object"},
		{name: "SNS in SNS in SNS", body: snsWrap(snsWrap(s3TestEventBody)), err: "nested"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseMessage([]byte(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(n.Ignore, tc.ignore) || (tc.ignore == "") != (n.Ignore == "") {
				t.Errorf("Ignore = %q, want %q", n.Ignore, tc.ignore)
			}
			if !slices.Equal(n.Objects, tc.objects) {
				t.Errorf("Objects = %+v\nwant %+v", n.Objects, tc.objects)
			}
			var recs []string
			for _, r := range n.Records {
				recs = append(recs, string(r))
			}
			if !slices.Equal(recs, tc.records) {
				t.Errorf("Records = %q, want %q", recs, tc.records)
			}
		})
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		s3NotificationBody("ObjectCreated:Put", "trail-bucket", "a+b%2Fc", 3), s3TestEventBody,
		snsWrap(s3TestEventBody), eventBridgeObjectCreated("b", "k", 1),
		eventBridgeAPICall("AWS API Call via CloudTrail", record), `{"Type":"Notification","Message":"{}"}`,
		`{"Records":null}`, `{"detail-type":null}`, "", "[]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := ParseMessage(body)
		if err != nil {
			if n.Ignore != "" || n.Objects != nil || n.Records != nil {
				t.Fatalf("an error with a result: %+v", n)
			}
			return
		}
		for _, o := range n.Objects {
			if o.Bucket == "" || o.Key == "" {
				t.Fatalf("object without bucket or key: %+v", o)
			}
		}
		for _, r := range n.Records {
			if len(r) == 0 || r[0] != '{' || !json.Valid(r) {
				t.Fatalf("record is not a JSON object: %q", r)
			}
		}
		if n.Ignore == "" && len(n.Objects) == 0 && len(n.Records) == 0 {
			t.Fatalf("neither work nor a reason to ignore: %q", body)
		}
	})
}

// logBuffer collects a source's log lines for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// sqsFixture is an SQS server with a queue, and a way to start sources on it.
type sqsFixture struct {
	t     *testing.T
	srv   *sqstest.Server
	queue string
	log   *logBuffer
}

func newSQSFixture(t *testing.T, queueAttrs ...string) *sqsFixture {
	t.Helper()
	srv := sqstest.New(t)
	args := []string{"sqs", "create-queue", "--queue-name", "trail-events"}
	if len(queueAttrs) > 0 {
		args = append(args, "--attributes", strings.Join(queueAttrs, ","))
	}
	srv.AWSCLI(t, args...)
	return &sqsFixture{t: t, srv: srv, queue: srv.QueueURL("trail-events"), log: &logBuffer{}}
}

// send sends a body as a user would, with awscli, and returns its message ID.
func (f *sqsFixture) send(queue, body string) string {
	f.t.Helper()
	var out struct{ MessageId string }
	if err := json.Unmarshal(f.srv.AWSCLI(f.t, "sqs", "send-message", "--queue-url", queue, "--message-body", body), &out); err != nil {
		f.t.Fatal(err)
	}
	return out.MessageId
}

func (f *sqsFixture) source(cfg SQSConfig) *SQS {
	f.t.Helper()
	cfg.Client = f.srv.Client(f.t.Context())
	if cfg.QueueURL == "" {
		cfg.QueueURL = f.queue
	}
	if cfg.Logger == nil {
		cfg.Logger = f.log.logger()
	}
	s, err := NewSQS(f.t.Context(), cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { s.Close() })
	return s
}

// counts returns the queue's visible and in-flight message counts.
func (f *sqsFixture) counts(queue string) (visible, inFlight string) {
	f.t.Helper()
	out, err := f.srv.Client(f.t.Context()).GetQueueAttributes(f.t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queue),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]
}

// nextWithin calls Next with a deadline.
func nextWithin(t *testing.T, s Source, d time.Duration) (*Batch, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return s.Next(ctx)
}

// eventIDs decodes a batch's records and objects and returns their eventIDs.
func eventIDs(t *testing.T, b *Batch) []string {
	t.Helper()
	var ids []string
	decode := func(name string, data []byte) {
		d := event.NewDecoder(bytes.NewReader(data))
		for {
			ev, err := d.Next()
			if err != nil {
				if err != io.EOF {
					t.Fatalf("%s: %v", name, err)
				}
				return
			}
			ids = append(ids, ev.Str(event.EventID))
		}
	}
	for i, r := range b.Records {
		decode(fmt.Sprintf("record %d", i), r)
	}
	opener := NewOpener()
	for _, o := range b.Objects {
		decode(o.Name, readBytes(t, opener, o))
	}
	return ids
}

// Each message form, sent with awscli, comes out of the source as its work:
// notified log files read back from S3 (a key with a space and a trail
// prefix, URL-encoded in the notification), EventBridge CloudTrail events
// as records. Test events and keys off CloudTrail's layout are deleted
// without being handed out; acknowledged messages are deleted.
func TestSQSSourceReadsEveryForm(t *testing.T) {
	s3srv := s3test.Start(t)
	s3r := newS3(t, s3srv, S3Config{PathStyle: true})
	s3srv.CLI(t, "s3", "mb", "s3://trail-bucket")
	keys := map[string]string{
		"direct": "audit logs/" + trailDay + "111122223333_CloudTrail_us-east-1_20240311T0720Z_a b.json.gz",
		"sns":    "audit logs/" + trailDay + "111122223333_CloudTrail_us-east-1_20240311T0725Z_snsWrapped.json.gz",
		"eb":     "audit logs/" + trailDay + "111122223333_CloudTrail_us-east-1_20240311T0730Z_eventBridge.json.gz",
	}
	files := map[string][]byte{}
	for form, key := range keys {
		files[strings.TrimPrefix(key, "audit logs/")] = gz(t, `{"Records":[`+recordWithID("id-"+form)+`]}`)
	}
	upload(t, s3srv, "trail-bucket", "audit logs/", files)

	f := newSQSFixture(t)
	enc := func(k string) string { return url.QueryEscape(k) }
	sent := map[string]string{ // message ID → what it carries
		f.send(f.queue, s3NotificationBody("ObjectCreated:Put", "trail-bucket", enc(keys["direct"]), 100)):                           "direct",
		f.send(f.queue, snsWrap(s3NotificationBody("ObjectCreated:CompleteMultipartUpload", "trail-bucket", enc(keys["sns"]), 100))): "sns",
		f.send(f.queue, eventBridgeObjectCreated("trail-bucket", keys["eb"], 100)):                                                   "eb",
		f.send(f.queue, eventBridgeAPICall("AWS API Call via CloudTrail", recordWithID("id-api"))):                                   "api",
	}
	f.send(f.queue, s3TestEventBody)
	f.send(f.queue, s3NotificationBody("ObjectCreated:Put", "trail-bucket", enc("AWSLogs/111122223333/elasticloadbalancing/us-east-1/2024/03/11/lb.log.gz"), 1))

	src := f.source(SQSConfig{S3: s3r, Buckets: map[string]bool{"trail-bucket": true}})
	got := map[string][]string{}
	for range sent {
		b, err := nextWithin(t, src, 5*time.Second)
		if err != nil {
			t.Fatalf("Next: %v (got %v)", err, got)
		}
		form, ok := sent[b.ID]
		if !ok {
			t.Fatalf("batch %s is none of the messages sent", b.ID)
		}
		if b.Source != "sqs:"+f.queue || b.Checkpoint != nil || b.Received.IsZero() || b.Sent.IsZero() || b.Sent.After(b.Received) {
			t.Errorf("%s: Source %q, Checkpoint %v, Received %v, Sent %v", form, b.Source, b.Checkpoint, b.Received, b.Sent)
		}
		if form != "api" && (len(b.Objects) != 1 || b.Objects[0].Name != "s3://trail-bucket/"+keys[form] || IsDigest(b.Objects[0])) {
			t.Errorf("%s: objects %v", form, names(b.Objects))
		}
		got[form] = eventIDs(t, b)
		if err := b.Ack(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := b.Ack(t.Context()); !errors.Is(err, ErrSettled) {
			t.Errorf("second Ack: %v, want ErrSettled", err)
		}
	}
	for _, form := range []string{"direct", "sns", "eb", "api"} {
		if want := []string{"id-" + form}; !slices.Equal(got[form], want) {
			t.Errorf("%s: eventIDs %v, want %v", form, got[form], want)
		}
	}
	if b, err := nextWithin(t, src, 1500*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after every message: %v %v, want nothing", b, err)
	}
	if v, n := f.counts(f.queue); v != "0" || n != "0" {
		t.Errorf("queue holds %s visible and %s in flight, want none", v, n)
	}
	st := src.Stats()
	if st.Batches != 4 || st.Acked != 4 || st.Ignored != 2 || st.Invalid != 0 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A message nacked comes back (one more receive); acknowledged, it is gone.
func TestSQSNackRedeliversAckDeletes(t *testing.T) {
	f := newSQSFixture(t)
	id := f.send(f.queue, eventBridgeAPICall("AWS API Call via CloudTrail", record))
	src := f.source(SQSConfig{})
	b, err := nextWithin(t, src, 5*time.Second)
	if err != nil || b.ID != id {
		t.Fatalf("Next: %v %v", b, err)
	}
	b.Nack(t.Context(), errors.New("store unavailable"))
	if v, n := f.counts(f.queue); v != "1" || n != "0" {
		t.Fatalf("after Nack: %s visible, %s in flight; want it visible again at once", v, n)
	}
	again, err := nextWithin(t, src, 5*time.Second)
	if err != nil || again.ID != id {
		t.Fatalf("after Nack, Next: %v %v; want message %s again", again, err, id)
	}
	if err := b.Ack(t.Context()); !errors.Is(err, ErrSettled) {
		t.Errorf("Ack of the nacked batch: %v, want ErrSettled", err)
	}
	if err := again.Ack(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, n := f.counts(f.queue); v != "0" || n != "0" {
		t.Fatalf("after Ack: %s visible, %s in flight; want none", v, n)
	}
	if st := src.Stats(); st.Nacked != 1 || st.Acked != 1 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A message that cannot be understood is received MaxReceives times and
// then moved to the configured dead-letter queue, with the error beside it
// and a log line naming the message and the error.
func TestSQSPoisonMovedToDeadLetterQueue(t *testing.T) {
	f := newSQSFixture(t)
	f.srv.AWSCLI(t, "sqs", "create-queue", "--queue-name", "trail-dlq")
	dlq := f.srv.QueueURL("trail-dlq")
	id := f.send(f.queue, "this is not a notification")
	good := f.send(f.queue, eventBridgeAPICall("AWS API Call via CloudTrail", record))
	src := f.source(SQSConfig{MaxReceives: 3, DeadLetterQueueURL: dlq})

	b, err := nextWithin(t, src, 5*time.Second)
	if err != nil || b.ID != good {
		t.Fatalf("Next: %v %v; want the good message past the poison one", b, err)
	}
	b.Ack(t.Context())
	if b, err := nextWithin(t, src, 2*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next handed out %v, %v; want nothing", b, err)
	}
	if st := src.Stats(); st.Invalid != 3 || st.SetAside != 1 {
		t.Errorf("stats %+v: want 3 receives of the invalid message, and it set aside", st)
	}
	if v, n := f.counts(f.queue); v != "0" || n != "0" {
		t.Errorf("source queue holds %s visible, %s in flight", v, n)
	}
	out, err := f.srv.Client(t.Context()).ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), MessageAttributeNames: []string{"All"}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("dead-letter queue: %v %v", out, err)
	}
	m := out.Messages[0]
	attrs := m.MessageAttributes
	if aws.ToString(m.Body) != "this is not a notification" ||
		aws.ToString(attrs["trailsentry-source-message-id"].StringValue) != id ||
		aws.ToString(attrs["trailsentry-receive-count"].StringValue) != "3" ||
		!strings.Contains(aws.ToString(attrs["trailsentry-error"].StringValue), "SQS message "+id+": not a JSON object") {
		t.Errorf("dead-lettered message %q with %+v", aws.ToString(m.Body), attrs)
	}
	logs := f.log.String()
	if !strings.Contains(logs, `msg="poison message moved to the dead-letter queue" `) || !strings.Contains(logs, "message_id="+id) || !strings.Contains(logs, "not a JSON object") {
		t.Errorf("log lacks the poison line naming %s and the error:\n%s", id, logs)
	}
}

// Without a dead-letter queue of its own, the source takes MaxReceives from
// the queue's redrive policy and leaves the poison message to it: SQS moves
// it on the receive after the last.
func TestSQSPoisonLeftToRedrivePolicy(t *testing.T) {
	srv := sqstest.New(t)
	srv.AWSCLI(t, "sqs", "create-queue", "--queue-name", "trail-dlq")
	policy, _ := json.Marshal(map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + sqstest.QueueARN("trail-dlq") + `","maxReceiveCount":"2"}`})
	srv.AWSCLI(t, "sqs", "create-queue", "--queue-name", "trail-events", "--attributes", string(policy))
	f := &sqsFixture{t: t, srv: srv, queue: srv.QueueURL("trail-events"), log: &logBuffer{}}
	id := f.send(f.queue, `{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)
	src := f.source(SQSConfig{})
	if src.cfg.MaxReceives != 2 {
		t.Fatalf("MaxReceives %d, want the redrive policy's 2", src.cfg.MaxReceives)
	}
	if b, err := nextWithin(t, src, 2*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next handed out %v, %v; want nothing", b, err)
	}
	if v, _ := f.counts(srv.QueueURL("trail-dlq")); v != "1" {
		t.Errorf("dead-letter queue holds %s messages, want the poison one", v)
	}
	if st := src.Stats(); st.Invalid != 2 || st.SetAside != 1 {
		t.Errorf("stats %+v", st)
	}
	logs := f.log.String()
	if !strings.Contains(logs, `msg="poison message left to the queue's redrive policy"`) || !strings.Contains(logs, "message_id="+id) || !strings.Contains(logs, `\"Scheduled Event\" event from \"aws.events\"`) {
		t.Errorf("log lacks the poison line:\n%s", logs)
	}
}

// While a batch is out longer than the visibility timeout, its visibility
// is extended: another consumer of the queue does not get the message.
func TestSQSExtendsVisibilityWhileInFlight(t *testing.T) {
	f := newSQSFixture(t)
	id := f.send(f.queue, eventBridgeAPICall("AWS API Call via CloudTrail", record))
	a := f.source(SQSConfig{Visibility: time.Second, WaitTime: time.Second})
	other := f.source(SQSConfig{Visibility: time.Second, WaitTime: time.Second})
	b, err := nextWithin(t, a, 5*time.Second)
	if err != nil || b.ID != id {
		t.Fatalf("Next: %v %v", b, err)
	}
	// Four visibility timeouts of slow work.
	if b2, err := nextWithin(t, other, 4*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the other consumer got %v (%v) while the message was in flight", b2, err)
	}
	if err := b.Ack(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, n := f.counts(f.queue); v != "0" || n != "0" {
		t.Fatalf("after Ack: %s visible, %s in flight", v, n)
	}
	// Closed with a message buffered and not handed out, the source
	// releases it for the other consumer at once.
	id2 := f.send(f.queue, eventBridgeAPICall("AWS API Call via CloudTrail", record))
	id3 := f.send(f.queue, eventBridgeAPICall("AWS API Call via CloudTrail", record))
	b, err = nextWithin(t, a, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := a.Next(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
	var ids []string
	for range 2 {
		b, err := nextWithin(t, other, 3*time.Second)
		if err != nil {
			t.Fatalf("the other consumer after Close: %v (got %v)", err, ids)
		}
		ids = append(ids, b.ID)
		b.Ack(t.Context())
	}
	slices.Sort(ids)
	want := []string{id2, id3}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("the other consumer got %v, want %v", ids, want)
	}
}

// Two consumers, each with several workers holding batches longer than the
// visibility timeout, share a queue: every message is handed out exactly
// once while both are alive.
func TestSQSTwoConsumersNeverShareAMessage(t *testing.T) {
	f := newSQSFixture(t)
	const n = 30
	c := f.srv.Client(t.Context())
	for i := 0; i < n; i += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for j := i; j < i+10; j++ {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)), MessageBody: aws.String(eventBridgeAPICall("AWS API Call via CloudTrail", recordWithID(fmt.Sprintf("ev-%02d", j))))})
		}
		if _, err := c.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(f.queue), Entries: entries}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string][]string{} // eventID → consumers that got it
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	var total int
	for ci, name := range []string{"a", "b"} {
		src := f.source(SQSConfig{Visibility: time.Second, WaitTime: time.Second, MaxMessages: int32(3 + ci*7)})
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					b, err := src.Next(ctx)
					if err != nil {
						return
					}
					// Some work outlasts the visibility timeout.
					time.Sleep(time.Duration((w*500+len(b.ID)*13)%1700) * time.Millisecond)
					mu.Lock()
					for _, id := range eventIDs(t, b) {
						seen[id] = append(seen[id], name)
					}
					total++
					if total == n {
						close(done)
					}
					mu.Unlock()
					if err := b.Ack(context.WithoutCancel(ctx)); err != nil {
						t.Errorf("Ack: %v", err)
					}
				}
			}()
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d distinct events handed out, want %d", len(seen), n)
	}
	for id, who := range seen {
		if len(who) != 1 {
			t.Errorf("%s handed out %d times: %v", id, len(who), who)
		}
	}
}
