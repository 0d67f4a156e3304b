package sqstest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The fuzz targets feed arbitrary requests to the server's handler, in
// process, and require an answer that is not a server error and parses in
// the protocol of the request: decoding never panics, and bad input gets a
// client error. The request context is already cancelled, so a long poll
// returns at once.

func fuzzServer(f *testing.F) *Server {
	s := Start(Options{})
	f.Cleanup(s.Close)
	return s
}

func serveFuzz(t *testing.T, s *Server, req *http.Request) *httptest.ResponseRecorder {
	// Keep the state small, so that fuzzing does not slow down as sent
	// messages and created queues pile up.
	s.mu.Lock()
	if q := s.queues["q"]; q == nil || len(q.msgs) > 100 || len(s.queues) > 20 {
		now := s.now()
		s.queues = map[string]*queue{"q": {name: "q", created: now, modified: now, settings: defaultSettings(), byID: map[string]*message{}}}
		s.deleted = map[string]time.Time{}
	}
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req = req.WithContext(ctx)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAFUZZ/20240501/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	return rec
}

func FuzzJSONRequest(f *testing.F) {
	s := fuzzServer(f)
	url := s.QueueURL("q")
	seeds := map[string]string{
		"CreateQueue":                  `{"QueueName":"fz","Attributes":{"VisibilityTimeout":"5","RedrivePolicy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:q\",\"maxReceiveCount\":2}"},"tags":{"a":"b"}}`,
		"GetQueueUrl":                  `{"QueueName":"q"}`,
		"ListQueues":                   `{"QueueNamePrefix":"q","MaxResults":1,"NextToken":"cQ"}`,
		"GetQueueAttributes":           `{"QueueUrl":"` + url + `","AttributeNames":["All"]}`,
		"SetQueueAttributes":           `{"QueueUrl":"` + url + `","Attributes":{"DelaySeconds":"0"}}`,
		"SendMessage":                  `{"QueueUrl":"` + url + `","MessageBody":"{\"Records\":[]}","DelaySeconds":0,"MessageAttributes":{"a":{"DataType":"Binary","BinaryValue":"AAE="},"n":{"DataType":"Number","StringValue":"1.5"}},"MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String","StringValue":"Root=1"}}}`,
		"SendMessageBatch":             `{"QueueUrl":"` + url + `","Entries":[{"Id":"a","MessageBody":"x"},{"Id":"b","MessageBody":"y","DelaySeconds":901}]}`,
		"ReceiveMessage":               `{"QueueUrl":"` + url + `","MaxNumberOfMessages":10,"WaitTimeSeconds":1,"VisibilityTimeout":0,"MessageSystemAttributeNames":["All"],"MessageAttributeNames":["a.*"]}`,
		"DeleteMessage":                `{"QueueUrl":"` + url + `","ReceiptHandle":"cQBpZAAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw"}`,
		"DeleteMessageBatch":           `{"QueueUrl":"` + url + `","Entries":[{"Id":"a","ReceiptHandle":"x"}]}`,
		"ChangeMessageVisibility":      `{"QueueUrl":"` + url + `","ReceiptHandle":"x","VisibilityTimeout":5}`,
		"ChangeMessageVisibilityBatch": `{"QueueUrl":"` + url + `","Entries":[{"Id":"a","ReceiptHandle":"x","VisibilityTimeout":5}]}`,
		"PurgeQueue":                   `{"QueueUrl":"` + url + `"}`,
		"DeleteQueue":                  `{"QueueUrl":"http://x/000000000000/fz"}`,
		"TagQueue":                     `{}`,
	}
	for op, body := range seeds {
		f.Add(op, []byte(body))
	}
	f.Add("SendMessage", []byte(`{"QueueUrl":1e400}`))
	f.Add("Nope", []byte(`[`))
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "AmazonSQS."+op)
		rec := serveFuzz(t, s, req)
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("response is not JSON: %q", rec.Body)
		}
		if rec.Code != 200 && (rec.Header().Get("x-amzn-query-error") == "" || !strings.Contains(rec.Body.String(), `"__type"`)) {
			t.Fatalf("error %d without __type or x-amzn-query-error: %s", rec.Code, rec.Body)
		}
	})
}

func FuzzQueryRequest(f *testing.F) {
	s := fuzzServer(f)
	seeds := []string{
		"Action=CreateQueue&Version=2012-11-05&QueueName=fz&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=5&Tag.1.Key=a&Tag.1.Value=b",
		"Action=SendMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fq&MessageBody=hi&MessageAttribute.1.Name=a&MessageAttribute.1.Value.DataType=Binary&MessageAttribute.1.Value.BinaryValue=AAE%3D",
		"Action=SendMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fq&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=x&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=y&SendMessageBatchRequestEntry.2.DelaySeconds=x",
		"Action=ReceiveMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fq&AttributeName.1=All&MessageAttributeName.1=All&MaxNumberOfMessages=10&WaitTimeSeconds=20",
		"Action=DeleteMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fq&DeleteMessageBatchRequestEntry.1.Id=a&DeleteMessageBatchRequestEntry.1.ReceiptHandle=x",
		"Action=ChangeMessageVisibilityBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fq&ChangeMessageVisibilityBatchRequestEntry.1.Id=a&ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle=x&ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout=0",
		"Action=GetQueueAttributes&Version=2012-11-05&AttributeName.1=All",
		"Action=ListQueues&Version=2012-11-05&MaxResults=1",
		"Action=SetQueueAttributes&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fq&Attribute.999999999999.Name=Policy&Attribute.999999999999.Value=%7B%7D",
		"Action=Unknown&Version=2012-11-05",
		"Action=SendMessage&Version=2011-01-01",
		"%zz",
	}
	for _, b := range seeds {
		f.Add("/", []byte(b))
	}
	f.Add("/000000000000/q", []byte("Action=PurgeQueue&Version=2012-11-05"))
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		// Paths an HTTP server would not accept are not the decoder's
		// concern.
		if u, err := url.ParseRequestURI(path); err != nil || u.Path != path {
			path = "/"
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := serveFuzz(t, s, req)
		dec := xml.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("response is not XML (%v): %q", err, rec.Body)
			}
		}
		if rec.Code != 200 && !strings.Contains(rec.Body.String(), "<ErrorResponse") {
			t.Fatalf("error %d without <ErrorResponse>: %s", rec.Code, rec.Body)
		}
	})
}
