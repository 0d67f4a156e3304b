package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/trailsentry/trailsentry/internal/finding"
)

// SNSConfig is an Amazon SNS topic. Credentials come from the AWS SDK's
// default chain (environment, shared config, the role of the instance,
// task or Lambda function).
type SNSConfig struct {
	TopicARN string `yaml:"topic_arn"`
	// Region defaults to the topic's.
	Region string `yaml:"region"`
	// Endpoint overrides the SNS endpoint (a VPC endpoint, a test server).
	Endpoint string `yaml:"endpoint"`
}

// SNS's limits: a subject is at most 100 printable ASCII characters, a
// message at most 256 KiB.
const (
	snsMaxSubject = 100
	snsMaxMessage = 256 * 1024
)

type snsSink struct {
	name   string
	topic  string
	client *sns.Client
}

// topicRegion reads the region of a topic ARN: arn:aws:sns:REGION:ACCOUNT:NAME.
func topicRegion(arn string) (string, error) {
	p := strings.Split(arn, ":")
	if len(p) != 6 || p[0] != "arn" || p[2] != "sns" || p[3] == "" || p[4] == "" || p[5] == "" {
		return "", fmt.Errorf("topic_arn %q: want arn:aws:sns:REGION:ACCOUNT:NAME", arn)
	}
	return p[3], nil
}

// newSNS makes the sink's client. Without an HTTP client of the caller's, it
// uses the SDK's own, which honours AWS_CA_BUNDLE and the like.
func newSNS(ctx context.Context, name string, c SNSConfig, client *http.Client, timeout time.Duration) (Sink, error) {
	region, err := topicRegion(c.TopicARN)
	if err != nil {
		return nil, err
	}
	if c.Region != "" {
		region = c.Region
	}
	var hc config.HTTPClient = awshttp.NewBuildableClient().WithTimeout(timeout)
	if client != nil {
		hc = client
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region), config.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	cl := sns.NewFromConfig(cfg, func(o *sns.Options) {
		// The outbox retries, with its own backoff and Retry-After; the
		// SDK's retries would only hold a dispatcher's lease longer.
		o.RetryMaxAttempts = 1
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	return &snsSink{name: name, topic: c.TopicARN, client: cl}, nil
}

func (s *snsSink) Name() string { return s.name }

// Send publishes one message per finding.
func (s *snsSink) Send(ctx context.Context, batch []Delivery) error {
	errs := make([]error, len(batch))
	failed := false
	for i, d := range batch {
		in, err := SNSPublishInput(s.topic, d)
		if err == nil {
			_, err = s.client.Publish(ctx, in)
			err = s.classify(err)
		}
		if err != nil {
			errs[i], failed = err, true
		}
	}
	if failed {
		return &BatchError{Errs: errs}
	}
	return nil
}

// SNSMessage is the JSON an SNS message carries.
type SNSMessage struct {
	Revision int64            `json:"revision"`
	Finding  *finding.Finding `json:"finding"`
}

// SNSPublishInput is the Publish request for a delivery: a subject naming
// severity, rule and account within SNS's 100 characters, the finding as a
// JSON message, and message attributes subscribers can filter on (severity,
// severity_score, rule_id, account).
func SNSPublishInput(topic string, d Delivery) (*sns.PublishInput, error) {
	f := d.Finding
	msg, err := json.Marshal(SNSMessage{Revision: d.Revision, Finding: f})
	if err != nil {
		return nil, err
	}
	if len(msg) > snsMaxMessage {
		// The evidence lists are what grows: the ids stay in the state.
		short := *f
		short.EventIDs, short.EventIDsTruncated = short.EventIDs[:min(len(short.EventIDs), 10)], true
		short.ErrorMessages = short.ErrorMessages[:min(len(short.ErrorMessages), 3)]
		if msg, err = json.Marshal(SNSMessage{Revision: d.Revision, Finding: &short}); err != nil {
			return nil, err
		}
		if len(msg) > snsMaxMessage {
			return nil, &SendError{Permanent: true, Msg: fmt.Sprintf("finding %s: message of %d bytes, more than SNS takes", f.ID, len(msg))}
		}
	}
	subject := fmt.Sprintf("[%s] %s", f.Severity.Label, f.Rule.Title)
	if f.Account != "" {
		subject = fmt.Sprintf("[%s] %s: %s", f.Severity.Label, f.Account, f.Rule.Title)
	}
	attrs := map[string]types.MessageAttributeValue{
		"severity":       {DataType: aws.String("String"), StringValue: aws.String(string(f.Severity.Label))},
		"severity_score": {DataType: aws.String("Number"), StringValue: aws.String(strconv.FormatFloat(float64(f.Severity.Score), 'f', -1, 64))},
	}
	if f.Rule.ID != "" {
		attrs["rule_id"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(f.Rule.ID)}
	}
	if f.Account != "" {
		attrs["account"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(f.Account)}
	}
	return &sns.PublishInput{
		TopicArn:          aws.String(topic),
		Subject:           aws.String(snsSubject(subject)),
		Message:           aws.String(string(msg)),
		MessageAttributes: attrs,
	}, nil
}

// snsSubject makes a subject SNS accepts: printable ASCII, no line breaks,
// at most 100 characters, starting with a letter, number or punctuation.
func snsSubject(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r == '\n' || r == '\t' || r == '\r':
			b.WriteByte(' ')
		default:
			b.WriteByte('?')
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > snsMaxSubject {
		out = strings.TrimSpace(out[:snsMaxSubject-3]) + "..."
	}
	if out == "" {
		out = "trailsentry finding"
	}
	return out
}

// classify turns an SDK error into a *SendError: throttling and server
// errors are retried, other client errors (a missing topic, no permission,
// a bad parameter) are permanent.
func (s *snsSink) classify(err error) error {
	if err == nil {
		return nil
	}
	se := &SendError{Sink: s.name, Msg: err.Error()}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		se.Status = re.HTTPStatusCode()
		se.Permanent = statusPermanent(se.Status)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		se.Msg = api.ErrorCode() + ": " + api.ErrorMessage()
		switch api.ErrorCode() {
		case "Throttling", "ThrottlingException", "ThrottledException", "KMSThrottling", "RequestLimitExceeded":
			se.Permanent = false
		}
		if api.ErrorFault() == smithy.FaultServer {
			se.Permanent = false
		}
	}
	return se
}
