package ingest

// This file is the SQS source of watch mode: a queue receiving S3 event
// notifications for the trail bucket (direct, SNS-wrapped or through
// EventBridge), EventBridge "AWS API Call via CloudTrail" events, or both.
// SQS is the scale-out engine: any number of instances may consume one
// queue, each message going to one of them at a time while its visibility
// timeout is kept extended, and deleted only when the caller acknowledges
// it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Notification is what one SQS message body asks for.
type Notification struct {
	// Objects are the S3 objects created, from an S3 event notification or
	// an EventBridge "Object Created" event, in the order given.
	Objects []NotifiedObject
	// Records are raw CloudTrail records (the detail of EventBridge events
	// whose detail-type ends in "via CloudTrail").
	Records [][]byte
	// Ignore, when not empty, says why the message asks for nothing (an
	// s3:TestEvent, an SNS subscription confirmation, S3 events other than
	// object creation): it is deleted without work.
	Ignore string
}

// NotifiedObject is an S3 object a notification names, its key decoded.
type NotifiedObject struct {
	Bucket, Key string
	Size        int64
	ETag        string    // as the notification gives it (S3 notifications leave out the quotes)
	Time        time.Time // the event's time; zero when absent
}

// maxNesting bounds SNS wrapping: an SNS notification inside another is
// tolerated once, not followed without end.
const maxNesting = 2

// ParseMessage reads an SQS message body in any of the forms the SQS source
// understands:
//
//   - an S3 event notification, {"Records":[{"eventSource":"aws:s3",
//     "eventName":"ObjectCreated:Put","s3":{"bucket":{"name":...},
//     "object":{"key":...,"size":...,"eTag":...}}}]}, whose keys are
//     URL-encoded as form values ("+" for a space, %2F for "/"): they are
//     decoded. Records of other S3 events (ObjectRemoved:*) are skipped;
//   - S3's {"Service":"Amazon S3","Event":"s3:TestEvent",...}: ignored;
//   - an SNS notification, {"Type":"Notification","Message":"<one of these
//     forms as a string>",...}; subscription confirmations are ignored;
//   - an EventBridge event from aws.s3 with detail-type "Object Created"
//     (its detail.object.key is taken as it is: EventBridge does not
//     URL-encode keys); other aws.s3 detail-types are ignored;
//   - an EventBridge event whose detail-type ends in "via CloudTrail" ("AWS
//     API Call via CloudTrail", "AWS Console Sign In via CloudTrail", ...):
//     its detail is a CloudTrail record.
//
// Anything else is an error saying what the body looked like.
func ParseMessage(body []byte) (Notification, error) {
	return parseMessage(body, 0)
}

// messageProbe holds the top-level fields that tell the forms apart.
type messageProbe struct {
	Records    json.RawMessage `json:"Records"`
	Event      string          `json:"Event"`
	Type       string          `json:"Type"`
	Message    *string         `json:"Message"`
	DetailType *string         `json:"detail-type"`
	Source     string          `json:"source"`
	Time       string          `json:"time"`
	Detail     json.RawMessage `json:"detail"`
}

func parseMessage(body []byte, depth int) (Notification, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Notification{}, fmt.Errorf("not a JSON object (starts %s)", quoteStart(trimmed))
	}
	var p messageProbe
	if err := json.Unmarshal(trimmed, &p); err != nil {
		return Notification{}, fmt.Errorf("not valid JSON: %w", err)
	}
	switch {
	case p.Records != nil:
		return parseS3Records(p.Records)
	case p.Event == "s3:TestEvent":
		return Notification{Ignore: "S3 test event"}, nil
	case p.Type == "Notification" && p.Message != nil:
		if depth+1 >= maxNesting {
			return Notification{}, errors.New("SNS notification nested in another too deeply")
		}
		n, err := parseMessage([]byte(*p.Message), depth+1)
		if err != nil {
			return Notification{}, fmt.Errorf("SNS notification's Message: %w", err)
		}
		return n, nil
	case p.Type == "SubscriptionConfirmation" || p.Type == "UnsubscribeConfirmation":
		return Notification{Ignore: "SNS " + p.Type}, nil
	case p.DetailType != nil:
		return parseEventBridge(p)
	}
	return Notification{}, fmt.Errorf("not an S3 event notification, SNS notification or EventBridge event (starts %s)", quoteStart(trimmed))
}

// quoteStart quotes the first bytes of a body, for an error message.
func quoteStart(b []byte) string {
	const n = 64
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "..."
	}
	return strconv.Quote(string(b))
}

// s3Record is the part of an S3 event notification record read here.
type s3Record struct {
	EventSource string `json:"eventSource"`
	EventName   string `json:"eventName"`
	EventTime   string `json:"eventTime"`
	S3          struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key  string `json:"key"`
			Size int64  `json:"size"`
			ETag string `json:"eTag"`
		} `json:"object"`
	} `json:"s3"`
}

func parseS3Records(raw json.RawMessage) (Notification, error) {
	var recs []s3Record
	if err := json.Unmarshal(raw, &recs); err != nil {
		return Notification{}, fmt.Errorf("S3 event notification: Records: %w", err)
	}
	var n Notification
	for i, r := range recs {
		if r.EventSource != "aws:s3" {
			return Notification{}, fmt.Errorf("S3 event notification: record %d: eventSource %q, not aws:s3", i+1, r.EventSource)
		}
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return Notification{}, fmt.Errorf("S3 event notification: record %d: key %q: %w", i+1, r.S3.Object.Key, err)
		}
		if r.S3.Bucket.Name == "" || key == "" {
			return Notification{}, fmt.Errorf("S3 event notification: record %d: no bucket name or object key", i+1)
		}
		t, _ := time.Parse(time.RFC3339Nano, r.EventTime)
		n.Objects = append(n.Objects, NotifiedObject{Bucket: r.S3.Bucket.Name, Key: key, Size: r.S3.Object.Size, ETag: r.S3.Object.ETag, Time: t})
	}
	if len(n.Objects) == 0 {
		n.Ignore = "S3 event notification with no object created"
	}
	return n, nil
}

// eventBridgeS3Detail is the detail of an EventBridge "Object Created" event.
type eventBridgeS3Detail struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
		ETag string `json:"etag"`
	} `json:"object"`
}

func parseEventBridge(p messageProbe) (Notification, error) {
	dt := *p.DetailType
	detail := bytes.TrimSpace(p.Detail)
	switch {
	case strings.HasSuffix(dt, " via CloudTrail"):
		if len(detail) == 0 || detail[0] != '{' {
			return Notification{}, fmt.Errorf("EventBridge %q event: detail is not a JSON object", dt)
		}
		return Notification{Records: [][]byte{bytes.Clone(detail)}}, nil
	case p.Source == "aws.s3" && dt == "Object Created":
		var d eventBridgeS3Detail
		if err := json.Unmarshal(detail, &d); err != nil {
			return Notification{}, fmt.Errorf("EventBridge %q event: detail: %w", dt, err)
		}
		if d.Bucket.Name == "" || d.Object.Key == "" {
			return Notification{}, fmt.Errorf("EventBridge %q event: no bucket name or object key", dt)
		}
		t, _ := time.Parse(time.RFC3339Nano, p.Time)
		return Notification{Objects: []NotifiedObject{{Bucket: d.Bucket.Name, Key: d.Object.Key, Size: d.Object.Size, ETag: d.Object.ETag, Time: t}}}, nil
	case p.Source == "aws.s3":
		return Notification{Ignore: "EventBridge " + strconv.Quote(dt) + " event"}, nil
	}
	return Notification{}, fmt.Errorf("EventBridge %q event from %q: neither a CloudTrail event nor an S3 Object Created event", dt, p.Source)
}

// SQSConfig configures an SQS source.
type SQSConfig struct {
	// QueueURL is the queue to consume.
	QueueURL string
	// Client is the SQS client (aws-sdk-go-v2).
	Client *sqs.Client
	// S3 reads the objects that notifications name. It may be nil for a
	// queue that only carries EventBridge CloudTrail events; an object
	// notification is then an error.
	S3 *S3
	// Buckets, when not nil, are the buckets whose notifications are read;
	// objects in other buckets are skipped (and logged).
	Buckets map[string]bool
	// Folders are the folders under AWSLogs/<account>/ whose objects are
	// kept; default CloudTrail and CloudTrail-Digest. Other keys (Insights,
	// other services' logs, anything off CloudTrail's layout) are skipped.
	Folders []string
	// Visibility is the visibility timeout asked for on receive and renewed
	// while a message is in flight; default 30 s, whole seconds, at least
	// 1 s. A message is kept invisible as long as its batch is out, so this
	// only bounds how soon a crashed instance's messages come back.
	Visibility time.Duration
	// WaitTime is the long-poll wait of a receive; default 20 s (SQS's
	// maximum), whole seconds.
	WaitTime time.Duration
	// MaxMessages is how many messages a receive asks for, 1 to 10;
	// default 10.
	MaxMessages int32
	// MaxReceives is how many receives a message that fails (cannot be
	// understood, or is nacked) gets before it is set aside. Zero means the
	// queue's redrive policy's maxReceiveCount when it has one, else 5.
	MaxReceives int
	// DeadLetterQueueURL, when set, is where a message set aside is sent
	// (with attributes naming the error) before it is deleted here. When
	// empty, a message set aside is left to the queue's redrive policy.
	DeadLetterQueueURL string
	// Backoff is how long a failed message stays invisible before its next
	// receive: Backoff times 2^(receives-1), at most 15 minutes. Zero
	// makes it visible again at once.
	Backoff time.Duration
	// Logger receives the source's log lines; nil discards them.
	Logger *slog.Logger
}

// maxBackoff caps the visibility a failed message is given.
const maxBackoff = 15 * time.Minute

// maxVisibility is SQS's limit on a message's visibility timeout, counted
// from its receive.
const maxVisibility = 12 * time.Hour

// SQS consumes a queue. It implements Source.
type SQS struct {
	cfg     SQSConfig
	log     *slog.Logger
	name    string
	visSecs int32
	c       counters

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	dels   chan deleteReq

	mu       sync.Mutex
	ready    []*Batch             // parsed, not yet handed out
	inflight map[*sqsMessage]bool // received and not settled: their visibility is extended
	closed   bool
}

// sqsMessage is a received message while it is in flight.
type sqsMessage struct {
	id, handle string
	body       string // kept for a dead-letter queue
	receives   int
	received   time.Time
	deadline   time.Time // when its visibility ends, as last set
}

type deleteReq struct {
	m    *sqsMessage
	done chan error
}

// NewSQS checks the queue (GetQueueAttributes: it must exist, and its
// redrive policy sets MaxReceives when that is not given) and returns a
// source consuming it. Nothing is received until Next is called.
func NewSQS(ctx context.Context, cfg SQSConfig) (*SQS, error) {
	if cfg.Client == nil || cfg.QueueURL == "" {
		return nil, errors.New("SQS source: a client and a queue URL are needed")
	}
	if len(cfg.Folders) == 0 {
		cfg.Folders = []string{"CloudTrail", "CloudTrail-Digest"}
	}
	if cfg.Visibility <= 0 {
		cfg.Visibility = 30 * time.Second
	}
	cfg.Visibility = max(cfg.Visibility.Round(time.Second), time.Second)
	if cfg.WaitTime <= 0 {
		cfg.WaitTime = 20 * time.Second
	}
	cfg.WaitTime = min(cfg.WaitTime.Round(time.Second), 20*time.Second)
	if cfg.MaxMessages <= 0 || cfg.MaxMessages > 10 {
		cfg.MaxMessages = 10
	}
	log := loggerOr(cfg.Logger).With("source", "sqs", "queue", cfg.QueueURL)
	attrs, err := cfg.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(cfg.QueueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return nil, fmt.Errorf("SQS queue %s: %w", cfg.QueueURL, err)
	}
	redrive := redriveMaxReceives(attrs.Attributes[string(types.QueueAttributeNameRedrivePolicy)])
	if cfg.MaxReceives <= 0 {
		cfg.MaxReceives = 5
		if redrive > 0 {
			cfg.MaxReceives = redrive
		}
	}
	if cfg.DeadLetterQueueURL == "" && redrive == 0 {
		log.Warn("the queue has no redrive policy and no dead-letter queue is configured: messages that keep failing are received again and again")
	}
	s := &SQS{
		cfg: cfg, log: log, name: "sqs:" + cfg.QueueURL,
		visSecs:  int32(cfg.Visibility / time.Second),
		dels:     make(chan deleteReq),
		inflight: map[*sqsMessage]bool{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go s.extendLoop()
	go s.deleteLoop()
	return s, nil
}

// redriveMaxReceives reads maxReceiveCount from a RedrivePolicy attribute;
// 0 when there is none.
func redriveMaxReceives(policy string) int {
	if policy == "" {
		return 0
	}
	var p struct {
		MaxReceiveCount json.RawMessage `json:"maxReceiveCount"`
	}
	if json.Unmarshal([]byte(policy), &p) != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.Trim(string(p.MaxReceiveCount), `"`))
	return max(n, 0)
}

// Stats returns the source's counters.
func (s *SQS) Stats() Stats { return s.c.stats() }

// Next returns the next message's work, receiving (long polling) when none
// is buffered. Messages that cannot be understood, and messages with nothing
// to do, are dealt with here and never returned.
func (s *SQS) Next(ctx context.Context) (*Batch, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	failures := 0
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if len(s.ready) > 0 {
			b := s.ready[0]
			s.ready = s.ready[1:]
			s.mu.Unlock()
			s.c.batches.Add(1)
			return b, nil
		}
		s.mu.Unlock()
		err := s.receive(ctx)
		switch {
		case err == nil:
			failures = 0
		case s.ctx.Err() != nil:
			return nil, ErrClosed
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			s.c.errors.Add(1)
			failures++
			wait := min(time.Duration(1<<min(failures-1, 5))*time.Second, 30*time.Second)
			s.log.Warn("receive failed; retrying", "error", err, "retry_in", wait)
			if !sleep(ctx, wait) {
				if s.ctx.Err() != nil {
					return nil, ErrClosed
				}
				return nil, ctx.Err()
			}
		}
	}
}

// receive runs one ReceiveMessage and turns what it got into ready batches.
func (s *SQS) receive(ctx context.Context) error {
	out, err := s.cfg.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(s.cfg.QueueURL),
		MaxNumberOfMessages: s.cfg.MaxMessages,
		WaitTimeSeconds:     int32(s.cfg.WaitTime / time.Second),
		VisibilityTimeout:   s.visSecs,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
			types.MessageSystemAttributeNameSentTimestamp,
		},
	})
	if err != nil {
		return err
	}
	now := time.Now()
	for _, msg := range out.Messages {
		m := &sqsMessage{
			id: aws.ToString(msg.MessageId), handle: aws.ToString(msg.ReceiptHandle), body: aws.ToString(msg.Body),
			received: now, deadline: now.Add(s.cfg.Visibility),
		}
		m.receives, _ = strconv.Atoi(msg.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		var sent time.Time
		if ms, err := strconv.ParseInt(msg.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			sent = time.UnixMilli(ms)
		}
		s.track(m)
		b, err := s.batchOf(m)
		switch {
		case err != nil:
			s.c.invalid.Add(1)
			err = fmt.Errorf("SQS message %s: %w", m.id, err)
			s.log.Error("message not understood", "message_id", m.id, "receives", m.receives, "error", err)
			s.fail(context.WithoutCancel(ctx), m, err)
		case b == nil:
			s.c.ignored.Add(1)
			if err := s.remove(ctx, m); err != nil {
				s.log.Warn("delete of a message with nothing to do failed", "message_id", m.id, "error", err)
			}
		default:
			b.Received, b.Sent = now, sent
			s.mu.Lock()
			s.ready = append(s.ready, b)
			s.mu.Unlock()
		}
	}
	return nil
}

// batchOf parses a message body into a batch; nil, nil when it asks for
// nothing.
func (s *SQS) batchOf(m *sqsMessage) (*Batch, error) {
	n, err := ParseMessage([]byte(m.body))
	if err != nil {
		return nil, err
	}
	if n.Ignore != "" {
		s.log.Debug("message ignored", "message_id", m.id, "reason", n.Ignore)
		return nil, nil
	}
	b := &Batch{Source: s.name, ID: m.id, Records: n.Records}
	for _, o := range n.Objects {
		if s.cfg.Buckets != nil && !s.cfg.Buckets[o.Bucket] {
			s.log.Warn("notification for another bucket skipped", "message_id", m.id, "object", "s3://"+o.Bucket+"/"+o.Key)
			continue
		}
		if !isLogKey(o.Key, s.cfg.Folders) {
			s.log.Debug("object off CloudTrail's layout skipped", "message_id", m.id, "object", "s3://"+o.Bucket+"/"+o.Key)
			continue
		}
		if s.cfg.S3 == nil {
			return nil, fmt.Errorf("notification for s3://%s/%s, but the source has no S3 client", o.Bucket, o.Key)
		}
		etag := o.ETag
		if etag != "" && !strings.HasPrefix(etag, `"`) {
			etag = `"` + etag + `"` // as S3 lists and compares it (If-Match)
		}
		b.Objects = append(b.Objects, Object{
			Name: "s3://" + o.Bucket + "/" + o.Key, Size: o.Size, ModTime: o.Time, ETag: etag,
			s3: &s3Ref{s: s.cfg.S3, ctx: s.ctx, bucket: o.Bucket, key: o.Key},
		})
	}
	if len(b.Objects) == 0 && len(b.Records) == 0 {
		return nil, nil
	}
	b.ack = func(ctx context.Context) error {
		if err := s.remove(ctx, m); err != nil {
			return err
		}
		s.c.acked.Add(1)
		return nil
	}
	b.nack = func(ctx context.Context, err error) {
		s.c.nacked.Add(1)
		s.fail(ctx, m, fmt.Errorf("SQS message %s: %w", m.id, err))
	}
	return b, nil
}

// track starts extending a message's visibility.
func (s *SQS) track(m *sqsMessage) {
	s.mu.Lock()
	s.inflight[m] = true
	s.mu.Unlock()
	s.c.inFlight.Add(1)
}

// untrack stops extending it; false when it was not tracked (already
// settled, or released by Close).
func (s *SQS) untrack(m *sqsMessage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inflight[m] {
		return false
	}
	delete(s.inflight, m)
	s.c.inFlight.Add(-1)
	return true
}

// remove deletes a message through the batching deleter and waits for the
// outcome.
func (s *SQS) remove(ctx context.Context, m *sqsMessage) error {
	if !s.untrack(m) {
		if s.ctx.Err() != nil {
			return ErrClosed
		}
		return ErrSettled
	}
	req := deleteReq{m: m, done: make(chan error, 1)}
	select {
	case s.dels <- req:
	case <-s.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fail handles a message whose work failed or that could not be
// understood: set aside after MaxReceives receives, else made visible again
// after the backoff.
func (s *SQS) fail(ctx context.Context, m *sqsMessage, cause error) {
	if !s.untrack(m) {
		return
	}
	if m.receives >= s.cfg.MaxReceives {
		s.setAside(ctx, m, cause)
		return
	}
	s.changeVisibility(ctx, m, s.backoff(m.receives))
}

func (s *SQS) backoff(receives int) time.Duration {
	if s.cfg.Backoff <= 0 {
		return 0
	}
	d := s.cfg.Backoff << min(max(receives-1, 0), 20)
	return min(d, maxBackoff)
}

func (s *SQS) changeVisibility(ctx context.Context, m *sqsMessage, d time.Duration) {
	_, err := s.cfg.Client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(s.cfg.QueueURL), ReceiptHandle: aws.String(m.handle),
		VisibilityTimeout: int32(d / time.Second),
	})
	if err != nil {
		s.c.errors.Add(1)
		s.log.Warn("could not make a failed message visible again; it comes back when its visibility timeout ends", "message_id", m.id, "error", err)
	}
}

// setAside moves a poison message to the dead-letter queue, or leaves it to
// the queue's redrive policy, and says so in one log line.
func (s *SQS) setAside(ctx context.Context, m *sqsMessage, cause error) {
	s.c.setAside.Add(1)
	if s.cfg.DeadLetterQueueURL == "" {
		s.log.Error("poison message left to the queue's redrive policy", "message_id", m.id, "receives", m.receives, "error", cause)
		s.changeVisibility(ctx, m, 0)
		return
	}
	msg := cause.Error()
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	_, err := s.cfg.Client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(s.cfg.DeadLetterQueueURL),
		MessageBody: aws.String(m.body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"trailsentry-error":             {DataType: aws.String("String"), StringValue: aws.String(strings.ToValidUTF8(msg, "?"))},
			"trailsentry-source-queue":      {DataType: aws.String("String"), StringValue: aws.String(s.cfg.QueueURL)},
			"trailsentry-source-message-id": {DataType: aws.String("String"), StringValue: aws.String(m.id)},
			"trailsentry-receive-count":     {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(m.receives))},
		},
	})
	if err != nil {
		s.c.errors.Add(1)
		s.log.Error("poison message could not be moved to the dead-letter queue; it comes back", "message_id", m.id, "receives", m.receives, "error", cause, "dlq_error", err)
		s.changeVisibility(ctx, m, 0)
		return
	}
	_, err = s.cfg.Client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(s.cfg.QueueURL), ReceiptHandle: aws.String(m.handle)})
	if err != nil {
		s.c.errors.Add(1)
		s.log.Warn("poison message copied to the dead-letter queue but not deleted here", "message_id", m.id, "error", err)
	}
	s.log.Error("poison message moved to the dead-letter queue", "message_id", m.id, "receives", m.receives, "dead_letter_queue", s.cfg.DeadLetterQueueURL, "error", cause)
}

// extendLoop renews the visibility of messages in flight before it ends:
// every quarter of the visibility timeout, each message whose timeout ends
// within half of it gets a full timeout again (ChangeMessageVisibilityBatch,
// ten at a time), up to SQS's 12 hours from the receive.
func (s *SQS) extendLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(max(s.cfg.Visibility/4, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		var due []*sqsMessage
		s.mu.Lock()
		for m := range s.inflight {
			if m.deadline.Sub(now) <= s.cfg.Visibility/2 && now.Add(s.cfg.Visibility).Sub(m.received) < maxVisibility {
				due = append(due, m)
			}
		}
		s.mu.Unlock()
		for i := 0; i < len(due); i += 10 {
			s.extend(due[i:min(i+10, len(due))], now)
		}
	}
}

func (s *SQS) extend(ms []*sqsMessage, now time.Time) {
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(ms))
	for i, m := range ms {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.handle), VisibilityTimeout: s.visSecs,
		}
	}
	out, err := s.cfg.Client.ChangeMessageVisibilityBatch(s.ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(s.cfg.QueueURL), Entries: entries})
	if err != nil {
		if s.ctx.Err() == nil {
			s.c.errors.Add(1)
			s.log.Warn("visibility not extended", "messages", len(ms), "error", err)
		}
		return
	}
	failed := map[string]types.BatchResultErrorEntry{}
	for _, f := range out.Failed {
		failed[aws.ToString(f.Id)] = f
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range ms {
		if f, ok := failed[strconv.Itoa(i)]; ok {
			if s.inflight[m] {
				s.c.errors.Add(1)
				s.log.Warn("visibility not extended; the message may be delivered again", "message_id", m.id, "code", aws.ToString(f.Code), "error", aws.ToString(f.Message))
			}
			continue
		}
		m.deadline = now.Add(s.cfg.Visibility)
	}
}

// deleteLoop deletes acknowledged messages, gathering those acknowledged
// together into one DeleteMessageBatch (up to ten).
func (s *SQS) deleteLoop() {
	defer s.wg.Done()
	for {
		var reqs []deleteReq
		select {
		case <-s.ctx.Done():
			return
		case r := <-s.dels:
			reqs = append(reqs, r)
		}
	gather:
		for len(reqs) < 10 {
			select {
			case r := <-s.dels:
				reqs = append(reqs, r)
			default:
				break gather
			}
		}
		s.deleteBatch(reqs)
	}
}

func (s *SQS) deleteBatch(reqs []deleteReq) {
	entries := make([]types.DeleteMessageBatchRequestEntry, len(reqs))
	for i, r := range reqs {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r.m.handle)}
	}
	out, err := s.cfg.Client.DeleteMessageBatch(s.ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(s.cfg.QueueURL), Entries: entries})
	if err != nil {
		s.c.errors.Add(1)
		for _, r := range reqs {
			r.done <- fmt.Errorf("delete SQS message %s: %w", r.m.id, err)
		}
		return
	}
	failed := map[string]types.BatchResultErrorEntry{}
	for _, f := range out.Failed {
		failed[aws.ToString(f.Id)] = f
	}
	for i, r := range reqs {
		if f, ok := failed[strconv.Itoa(i)]; ok {
			s.c.errors.Add(1)
			r.done <- fmt.Errorf("delete SQS message %s: %s: %s", r.m.id, aws.ToString(f.Code), aws.ToString(f.Message))
			continue
		}
		r.done <- nil
	}
}

// Close stops receiving and extending. Messages received and not settled —
// buffered or out with the caller — are made visible again at once, so that
// another consumer takes them without waiting for their timeout.
func (s *SQS) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var left []*sqsMessage
	for m := range s.inflight {
		left = append(left, m)
	}
	s.inflight = map[*sqsMessage]bool{}
	s.ready = nil
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 0; i < len(left); i += 10 {
		part := left[i:min(i+10, len(left))]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(part))
		for j, m := range part {
			entries[j] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), ReceiptHandle: aws.String(m.handle), VisibilityTimeout: 0}
		}
		if _, err := s.cfg.Client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(s.cfg.QueueURL), Entries: entries}); err != nil {
			s.log.Warn("messages in flight not released; they come back when their visibility timeout ends", "messages", len(part), "error", err)
		}
	}
	s.c.inFlight.Add(-int64(len(left)))
	return nil
}
