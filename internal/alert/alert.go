// Package alert tells people about findings: sinks that render a finding in
// a destination's own format (Slack Block Kit, a signed JSON webhook,
// Elasticsearch/OpenSearch _bulk as ECS, Splunk HEC, Amazon SNS, a JSONL
// file, stdout), the routing that picks which sinks hear of which findings,
// and the dispatcher that works off the durable outbox in the state store.
//
// The flow: a worker that commits findings asks the Router which sinks want
// each one (severity, account, rule) and enqueues an outbox row per sink in
// the same State.Update (Router.Entries, store.Outbox.Enqueue). Dispatchers
// claim due rows, send them through the sinks, and record the outcome:
// delivered, retried later with exponential backoff and jitter (a 429/503's
// Retry-After honoured), or given up — at once for a permanent error, or
// when the row is older than the configured age — with the reason kept.
// docs/alerts.md describes the formats, the configuration and the guarantees.
//
// The files:
//
//	alert.go     Sink, Delivery, the error classification, Revision
//	config.go    the YAML configuration, secrets, routing, building sinks
//	http.go      the HTTP round trip the webhook-style sinks share
//	slack.go     Slack incoming webhook, Block Kit
//	webhook.go   generic JSON webhook, HMAC-SHA256 signature, Verify
//	elastic.go   Elasticsearch/OpenSearch _bulk, ECS documents
//	splunk.go    Splunk HTTP Event Collector
//	sns.go       Amazon SNS Publish through aws-sdk-go-v2
//	file.go      JSON Lines file and stdout
//	nextstep.go  what to do next, by rule and technique
//	dispatch.go  the outbox dispatcher
package alert

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/trailsentry/trailsentry/internal/finding"
)

// Delivery is one notification: a finding at one of its revisions.
type Delivery struct {
	Finding  *finding.Finding
	Revision int64
}

// Sink sends findings to one destination, rendered in its format.
type Sink interface {
	// Name is the sink's configured name: outbox rows are keyed by it.
	Name() string
	// Send delivers a batch. nil means every delivery was accepted. A
	// *BatchError says which failed and why; any other error applies to the
	// whole batch. Errors say whether trying again can help (see Classify)
	// and never carry a secret: webhook URLs are redacted, tokens left out.
	Send(ctx context.Context, batch []Delivery) error
}

// SendError is a failed delivery, classified.
type SendError struct {
	Sink string
	// Status is the HTTP status (or the item's status in a bulk response);
	// 0 when the request got no answer.
	Status int
	// Permanent: sending the same thing again cannot succeed (a 400, a
	// revoked token, a document the index refuses).
	Permanent bool
	// RetryAfter is how long the destination asked us to wait (429, 503).
	RetryAfter time.Duration
	Msg        string
}

func (e *SendError) Error() string {
	s := e.Sink + ": "
	if e.Status != 0 {
		s += fmt.Sprintf("HTTP %d: ", e.Status)
	}
	return s + e.Msg
}

// BatchError reports the deliveries of a batch that failed: Errs[i] is the
// error of batch[i], nil for one that was delivered.
type BatchError struct {
	Errs []error
}

func (e *BatchError) Error() string {
	n := 0
	var first error
	for _, err := range e.Errs {
		if err != nil {
			n++
			first = cmpOr(first, err)
		}
	}
	if n == 0 {
		return "no delivery failed"
	}
	return fmt.Sprintf("%d of %d deliveries failed, first: %v", n, len(e.Errs), first)
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// For returns the error of delivery i given the error Send returned for a
// batch of n.
func errorFor(err error, i, n int) error {
	var be *BatchError
	if errors.As(err, &be) && len(be.Errs) == n {
		return be.Errs[i]
	}
	return err
}

// Classify says whether an error from Send is permanent, and how long the
// destination asked to wait before the next attempt (0 when it did not say).
// Errors that are not a *SendError — a timeout, a refused connection — are
// transient.
func Classify(err error) (permanent bool, retryAfter time.Duration) {
	var se *SendError
	if errors.As(err, &se) {
		return se.Permanent, se.RetryAfter
	}
	return false, 0
}

// statusPermanent says whether an HTTP status means the request cannot
// succeed as it is: a 4xx other than 408 (timeout), 425 (too early) and 429
// (too many requests). 5xx are the server's trouble and worth retrying.
func statusPermanent(status int) bool {
	return status >= 400 && status < 500 && status != 408 && status != 425 && status != 429
}

// Revision is the notification revision of a finding: 1 when it is first
// seen, and one more each time its count reaches the next power of ten (10,
// 100, 1000 …). A finding that keeps growing is announced again a few times,
// each an order of magnitude bigger, never on every batch; processing the
// same work twice gives the same revision, which the outbox enqueues once.
//
// A profile finding (first-seen values, credential origin: f.Subject set)
// is derived anew from the state, and what it says can change as older
// logs arrive — which network is the odd one out, which values are new. Its
// revision is therefore a hash of what it says (its values and what they
// were measured against), so a changed verdict is announced and the same
// verdict never twice.
func Revision(f *finding.Finding) int64 {
	if f.Subject != "" {
		h := fnv.New64a()
		for _, v := range f.CorrelatedValues {
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
		h.Write([]byte(f.Detail))
		return int64(h.Sum64() >> 1) // positive
	}
	r := int64(1)
	for n := f.Count; n >= 10; n /= 10 {
		r++
	}
	return r
}
