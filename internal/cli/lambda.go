package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/trailsentry/trailsentry/internal/alert"
	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/ingest"
	"github.com/trailsentry/trailsentry/internal/server"
)

const lambdaSynopsis = `Usage: trailsentry lambda

Runs watch's pipeline as an AWS Lambda function (the provided.al2023 runtime),
invoked by S3 notifications, SQS messages of them or of EventBridge CloudTrail
events, or EventBridge directly. Configured by the environment:

  TRAILSENTRY_STATE    the state: a postgres:// URL (shared by concurrent
                       invocations), or a SQLite file for trials
  TRAILSENTRY_CONFIG   the YAML with suppressions: and alerts:
  TRAILSENTRY_PUBLIC_KEYS  CloudTrail public key files for digests, comma-separated
                       (else ListPublicKeys)

Each invocation commits its findings and alert outbox rows, then sends the
alerts it can before it ends; an SQS record that failed is reported in
batchItemFailures (ReportBatchItemFailures), so only it comes back.`

// runLambda starts the Lambda runtime loop with the handler.
func runLambda(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprint(stderr, lambdaSynopsis+"\n")
		return ExitUsage
	}
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		fmt.Fprint(stderr, lambdaSynopsis+"\n\ntrailsentry: not in AWS Lambda (AWS_LAMBDA_RUNTIME_API is not set)\n")
		return ExitUsage
	}
	h, closeFn, err := newLambdaHandler(ctx, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "trailsentry: %v\n", err)
		return ExitUsage
	}
	defer closeFn()
	lambda.StartWithOptions(h.Handle, lambda.WithContext(ctx))
	return ExitOK
}

// lambdaHandler handles invocations.
type lambdaHandler struct {
	w        *watcher
	dispatch *alert.Dispatcher // nil without sinks
}

// newLambdaHandler builds the handler from the environment.
func newLambdaHandler(ctx context.Context, stdout, stderr io.Writer) (*lambdaHandler, func(), error) {
	log, err := server.NewLogger(stderr, server.LogOptions{Format: "json"})
	if err != nil {
		return nil, nil, err
	}
	o := watchOptions{state: os.Getenv("TRAILSENTRY_STATE"), config: os.Getenv("TRAILSENTRY_CONFIG"),
		learning: "7d", maxEvidence: 100, digestGrace: 30 * time.Minute, pathStyle: os.Getenv("TRAILSENTRY_S3_PATH_STYLE") == "true"}
	if o.state == "" {
		return nil, nil, errors.New("TRAILSENTRY_STATE is not set")
	}
	o.publicKeys.Set(os.Getenv("TRAILSENTRY_PUBLIC_KEYS"))
	w, alerts, err := prepareWatcher(ctx, o, stdout, log)
	if err != nil {
		return nil, nil, err
	}
	h := &lambdaHandler{w: w}
	if len(alerts.Sinks) > 0 {
		h.dispatch = alert.NewDispatcher(w.st, alerts.Sinks, alerts.Outbox, alert.DispatchOptions{Logger: log})
	}
	return h, func() { w.st.Close() }, nil
}

// sqsEvent is an SQS invocation: the messages, as Lambda delivers them.
type sqsEvent struct {
	Records []struct {
		MessageID   string            `json:"messageId"`
		Body        string            `json:"body"`
		EventSource string            `json:"eventSource"`
		Attributes  map[string]string `json:"attributes"`
	} `json:"Records"`
}

// batchResponse is the SQS partial-batch response.
type batchResponse struct {
	BatchItemFailures []batchItemFailure `json:"batchItemFailures"`
}

type batchItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// Handle processes one invocation: an SQS batch (each message a
// notification or an EventBridge event), an S3 notification or an
// EventBridge event. It returns the SQS partial-batch response for SQS.
func (h *lambdaHandler) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	opener := ingest.NewOpener()
	view := h.w.enricher.NewView()
	var sq sqsEvent
	if json.Unmarshal(payload, &sq) == nil && len(sq.Records) > 0 && sq.Records[0].EventSource == "aws:sqs" {
		resp := batchResponse{BatchItemFailures: []batchItemFailure{}}
		for _, r := range sq.Records {
			if err := h.one(ctx, "lambda:sqs", r.MessageID, []byte(r.Body), opener, view); err != nil {
				h.w.log.Error("message not processed; it will come back", "message", r.MessageID,
					"receives", r.Attributes["ApproximateReceiveCount"], "error", err)
				resp.BatchItemFailures = append(resp.BatchItemFailures, batchItemFailure{r.MessageID})
			}
		}
		h.send(ctx)
		return resp, nil
	}
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	var ev struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(payload, &ev) == nil && ev.ID != "" {
		id = ev.ID // an EventBridge event's id: stable across retries
	}
	if err := h.one(ctx, "lambda:event", id, payload, opener, view); err != nil {
		return nil, err // Lambda retries the invocation
	}
	h.send(ctx)
	return nil, nil
}

// one runs one notification or event through the pipeline.
func (h *lambdaHandler) one(ctx context.Context, source, id string, body []byte, opener *ingest.Opener, view *enrich.View) error {
	n, err := ingest.ParseMessage(body)
	if err != nil {
		return err
	}
	if n.Ignore != "" {
		return nil
	}
	b := &ingest.Batch{Source: source, ID: id, Records: n.Records, Received: time.Now()}
	for _, o := range n.Objects {
		obj := h.w.digests.s3.Object(ctx, o.Bucket, o.Key)
		obj.Size, obj.ETag = o.Size, o.ETag
		b.Objects = append(b.Objects, obj)
	}
	return h.w.process(ctx, b, opener, view)
}

// send delivers what the outbox holds while the invocation has time: an
// alert not sent now is sent by a later invocation.
func (h *lambdaHandler) send(ctx context.Context) {
	if h.dispatch == nil {
		return
	}
	deadline, ok := ctx.Deadline()
	for range 10 {
		if ok && time.Until(deadline) < 3*time.Second {
			return
		}
		stats, err := h.dispatch.DispatchOnce(ctx)
		if err != nil {
			h.w.log.Warn("alert dispatch", "error", err)
			return
		}
		if pending, _ := h.w.pending(); pending == 0 || stats == (alert.DispatchStats{}) {
			return
		}
	}
}
