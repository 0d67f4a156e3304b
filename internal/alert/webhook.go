package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/finding"
)

// WebhookConfig is a generic JSON webhook whose requests are signed.
type WebhookConfig struct {
	// URL receives the POSTs; a secret (env:NAME or file:/path), as webhook
	// URLs often carry a token.
	URL Secret `yaml:"url"`
	// HMACKey signs each request (X-Trailsentry-Signature); a secret.
	// Without one, requests are not signed.
	HMACKey Secret `yaml:"hmac_key"`
}

// The webhook's headers.
const (
	HeaderSignature = "X-Trailsentry-Signature" // sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
	HeaderTimestamp = "X-Trailsentry-Timestamp" // Unix seconds when the request was signed
)

// WebhookPayload is the body of a webhook request: the batch's alerts.
type WebhookPayload struct {
	Source string         `json:"source"` // "trailsentry"
	SentAt time.Time      `json:"sent_at"`
	Alerts []WebhookAlert `json:"alerts"`
}

// WebhookAlert is one notification. AlertID is the same whenever the same
// revision of the same finding is sent again (after a retry): receivers
// deduplicate on it.
type WebhookAlert struct {
	AlertID  string           `json:"alert_id"` // "<finding id>/<revision>"
	Revision int64            `json:"revision"`
	Finding  *finding.Finding `json:"finding"`
}

type webhookSink struct {
	httpSink
	url string
	key []byte
	now func() time.Time
}

func newWebhook(h httpSink, c WebhookConfig, now func() time.Time) (Sink, error) {
	s := &webhookSink{httpSink: h, now: now}
	var err error
	if s.url, err = s.resolve(c.URL); err != nil {
		return nil, err
	}
	if err := checkURL(s.url); err != nil {
		return nil, err
	}
	key, err := s.resolve(c.HMACKey)
	if err != nil {
		return nil, err
	}
	s.key = []byte(key)
	return s, nil
}

func (s *webhookSink) Name() string { return s.name }

// Send posts the whole batch as one signed request.
func (s *webhookSink) Send(ctx context.Context, batch []Delivery) error {
	now := s.now()
	p := WebhookPayload{Source: "trailsentry", SentAt: now.UTC().Truncate(time.Second)}
	for _, d := range batch {
		p.Alerts = append(p.Alerts, WebhookAlert{AlertID: fmt.Sprintf("%s/%d", d.Finding.ID, d.Revision), Revision: d.Revision, Finding: d.Finding})
	}
	body, err := json.Marshal(p)
	if err != nil {
		return &SendError{Sink: s.name, Permanent: true, Msg: err.Error()}
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if len(s.key) > 0 {
		ts := strconv.FormatInt(now.Unix(), 10)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, Sign(s.key, ts, body))
	}
	_, err = s.post(ctx, s.url, h, body)
	return err
}

// Sign returns the signature header value for a body sent at timestamp (Unix
// seconds, as text): "sha256=" and the hex HMAC-SHA256, under key, of the
// timestamp, a dot, and the body. Signing the timestamp with the body lets a
// receiver refuse a replayed request.
func Sign(key []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify is what a receiver runs on a request: the signature must be the
// HMAC of the timestamp and the body as received (compared in constant
// time), and the timestamp within tolerance of now, so that a captured
// request cannot be replayed later. It returns nil for an authentic request.
func Verify(key []byte, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := header.Get(HeaderTimestamp)
	sig := header.Get(HeaderSignature)
	if ts == "" || sig == "" {
		return errors.New("webhook: unsigned request: " + HeaderTimestamp + " or " + HeaderSignature + " missing")
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: %s %q is not Unix seconds", HeaderTimestamp, ts)
	}
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: timestamp %s is %v away from now, more than %v", ts, d.Round(time.Second), tolerance)
	}
	if !strings.HasPrefix(sig, "sha256=") {
		return fmt.Errorf("webhook: %s does not start with sha256=", HeaderSignature)
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(key, ts, body))) {
		return errors.New("webhook: signature mismatch")
	}
	return nil
}
