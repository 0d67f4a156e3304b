package sqstest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/trailsentry/trailsentry/internal/ingest/sqstest"
)

// TestAWSCLIQueryProtocol drives the server with Debian's awscli 2.9, whose
// botocore model gives SQS the query protocol (form-encoded Action=...,
// XML responses), and checks that what it does is seen by the SDK, which
// speaks JSON 1.0, and the other way round.
func TestAWSCLIQueryProtocol(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sqstest.New(t)
	decode := func(b []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("awscli output %q: %v", b, err)
		}
	}

	var created struct{ QueueUrl string }
	decode(srv.AWSCLI(t, "sqs", "create-queue", "--queue-name", "cli-trail", "--attributes", "VisibilityTimeout=60,DelaySeconds=0"), &created)
	if created.QueueUrl != srv.QueueURL("cli-trail") {
		t.Fatalf("create-queue QueueUrl = %q, want %q", created.QueueUrl, srv.QueueURL("cli-trail"))
	}

	var attrs struct{ Attributes map[string]string }
	decode(srv.AWSCLI(t, "sqs", "get-queue-attributes", "--queue-url", created.QueueUrl, "--attribute-names", "All"), &attrs)
	if attrs.Attributes["VisibilityTimeout"] != "60" || attrs.Attributes["QueueArn"] != "arn:aws:sqs:us-east-1:000000000000:cli-trail" {
		t.Fatalf("get-queue-attributes = %v", attrs.Attributes)
	}

	body := s3Notification(trailKey(42))
	var sent struct{ MessageId, MD5OfMessageBody, MD5OfMessageAttributes string }
	decode(srv.AWSCLI(t, "sqs", "send-message", "--queue-url", created.QueueUrl, "--message-body", body,
		"--message-attributes", `{"baz":{"DataType":"String","StringValue":"qux"},"raw":{"DataType":"Binary","BinaryValue":"AAEC/w=="}}`), &sent)
	if sent.MD5OfMessageBody != md5hex(body) || sent.MessageId == "" || sent.MD5OfMessageAttributes == "" {
		t.Fatalf("send-message = %+v", sent)
	}

	// The SDK (JSON 1.0) receives what awscli (query) sent, with the same
	// attribute digest.
	c := srv.Client(ctx)
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(created.QueueUrl), MessageAttributeNames: []string{"All"}, VisibilityTimeout: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("SDK receive of an awscli message: %v %v", out, err)
	}
	m := out.Messages[0]
	if aws.ToString(m.MessageId) != sent.MessageId || aws.ToString(m.Body) != body || aws.ToString(m.MD5OfMessageAttributes) != sent.MD5OfMessageAttributes ||
		string(m.MessageAttributes["raw"].BinaryValue) != "\x00\x01\x02\xff" {
		t.Fatalf("SDK received %+v, awscli sent %+v", m, sent)
	}
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(created.QueueUrl), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}

	var received struct {
		Messages []struct {
			MessageId, ReceiptHandle, MD5OfBody, Body, MD5OfMessageAttributes string
			Attributes                                                        map[string]string
			MessageAttributes                                                 map[string]struct{ StringValue, BinaryValue, DataType string }
		}
	}
	decode(srv.AWSCLI(t, "sqs", "receive-message", "--queue-url", created.QueueUrl, "--attribute-names", "All",
		"--message-attribute-names", "All", "--max-number-of-messages", "10", "--wait-time-seconds", "2"), &received)
	if len(received.Messages) != 1 {
		t.Fatalf("receive-message returned %d messages", len(received.Messages))
	}
	rm := received.Messages[0]
	if rm.MessageId != sent.MessageId || rm.Body != body || rm.MD5OfBody != md5hex(body) || rm.MD5OfMessageAttributes != sent.MD5OfMessageAttributes {
		t.Fatalf("receive-message = %+v", rm)
	}
	if rm.Attributes["ApproximateReceiveCount"] != "2" || rm.Attributes["SenderId"] != sqstest.AccessKeyID {
		t.Errorf("receive-message system attributes = %v", rm.Attributes)
	}
	if a := rm.MessageAttributes["baz"]; a.StringValue != "qux" || a.DataType != "String" {
		t.Errorf("attribute baz = %+v", a)
	}
	if a := rm.MessageAttributes["raw"]; a.BinaryValue != "AAEC/w==" || a.DataType != "Binary" {
		t.Errorf("attribute raw = %+v", a)
	}

	srv.AWSCLI(t, "sqs", "delete-message", "--queue-url", created.QueueUrl, "--receipt-handle", rm.ReceiptHandle)
	if v, nf, d := queueCounts(t, ctx, c, created.QueueUrl); v+nf+d != 0 {
		t.Fatalf("after awscli delete-message: %d %d %d", v, nf, d)
	}

	// A message the SDK sent, received and deleted in a batch by awscli.
	send(t, ctx, c, created.QueueUrl, eventBridgeEvent)
	var batch struct {
		Successful []struct{ Id, MessageId, MD5OfMessageBody string }
		Failed     []struct {
			Id, Code, Message string
			SenderFault       bool
		}
	}
	decode(srv.AWSCLI(t, "sqs", "send-message-batch", "--queue-url", created.QueueUrl, "--entries",
		`[{"Id":"ok","MessageBody":"`+strings.ReplaceAll(s3Notification(trailKey(43)), `"`, `\"`)+`"},{"Id":"late","MessageBody":"x","DelaySeconds":901}]`), &batch)
	if len(batch.Successful) != 1 || batch.Successful[0].Id != "ok" || len(batch.Failed) != 1 || batch.Failed[0].Id != "late" ||
		batch.Failed[0].Code != "InvalidParameterValue" || !batch.Failed[0].SenderFault {
		t.Fatalf("send-message-batch = %+v", batch)
	}
	decode(srv.AWSCLI(t, "sqs", "receive-message", "--queue-url", created.QueueUrl, "--max-number-of-messages", "10"), &received)
	if len(received.Messages) != 2 {
		t.Fatalf("second receive-message returned %d messages", len(received.Messages))
	}
	entries, _ := json.Marshal([]map[string]string{
		{"Id": "first", "ReceiptHandle": received.Messages[0].ReceiptHandle},
		{"Id": "second", "ReceiptHandle": received.Messages[1].ReceiptHandle},
		{"Id": "bogus", "ReceiptHandle": "bm90IGEgaGFuZGxl"},
	})
	decode(srv.AWSCLI(t, "sqs", "delete-message-batch", "--queue-url", created.QueueUrl, "--entries", string(entries)), &batch)
	if len(batch.Successful) != 2 || len(batch.Failed) != 1 || batch.Failed[0].Id != "bogus" || batch.Failed[0].Code != "ReceiptHandleIsInvalid" {
		t.Fatalf("delete-message-batch = %+v", batch)
	}

	// Errors come back as <ErrorResponse> with the query code.
	_, stderr, err := srv.RunAWSCLI(t, "sqs", "get-queue-url", "--queue-name", "no-such-queue")
	if err == nil || !strings.Contains(string(stderr), "AWS.SimpleQueueService.NonExistentQueue") {
		t.Fatalf("get-queue-url of a missing queue: err %v, stderr %s", err, stderr)
	}
	_, stderr, err = srv.RunAWSCLI(t, "sqs", "receive-message", "--queue-url", created.QueueUrl, "--max-number-of-messages", "11")
	if err == nil || !strings.Contains(string(stderr), "InvalidParameterValue") {
		t.Fatalf("receive-message with 11: err %v, stderr %s", err, stderr)
	}

	var list struct{ QueueUrls []string }
	decode(srv.AWSCLI(t, "sqs", "list-queues"), &list)
	if len(list.QueueUrls) != 1 || list.QueueUrls[0] != created.QueueUrl {
		t.Fatalf("list-queues = %v", list.QueueUrls)
	}
	srv.AWSCLI(t, "sqs", "purge-queue", "--queue-url", created.QueueUrl)
	srv.AWSCLI(t, "sqs", "delete-queue", "--queue-url", created.QueueUrl)
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("cli-trail")})
	var notExist *types.QueueDoesNotExist
	if !errors.As(err, &notExist) {
		t.Fatalf("SDK GetQueueUrl after awscli delete-queue: %v, want *types.QueueDoesNotExist", err)
	}
}
