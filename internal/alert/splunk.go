package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/trailsentry/trailsentry/internal/finding"
)

// SplunkConfig is a Splunk HTTP Event Collector.
type SplunkConfig struct {
	URL   string `yaml:"url"`   // https://splunk.example.com:8088, the collector's base URL
	Token Secret `yaml:"token"` // the HEC token; a secret
	// Index, when set, names the index; otherwise the token's default.
	Index string `yaml:"index"`
	// Source and SourceType default to trailsentry and trailsentry:finding.
	Source     string `yaml:"source"`
	SourceType string `yaml:"sourcetype"`
}

// HECEvent is one event in the collector's envelope.
type HECEvent struct {
	Time       float64 `json:"time"` // epoch seconds, the finding's last event
	Host       string  `json:"host"`
	Source     string  `json:"source"`
	SourceType string  `json:"sourcetype"`
	Index      string  `json:"index,omitempty"`
	Event      any     `json:"event"`
}

// HECAlert is what each event carries: the finding and its revision.
type HECAlert struct {
	Revision int64            `json:"revision"`
	Finding  *finding.Finding `json:"finding"`
}

type splunkSink struct {
	httpSink
	url, token                 string
	host, index, source, stype string
}

func newSplunk(h httpSink, c SplunkConfig, host string) (Sink, error) {
	s := &splunkSink{httpSink: h, url: strings.TrimRight(c.URL, "/"), host: host, index: c.Index,
		source: c.Source, stype: c.SourceType}
	if s.source == "" {
		s.source = "trailsentry"
	}
	if s.stype == "" {
		s.stype = "trailsentry:finding"
	}
	var err error
	if s.token, err = s.resolve(c.Token); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *splunkSink) Name() string { return s.name }

// HECBody is a batch for /services/collector/event: the events' JSON
// objects one after the other, which the collector reads as a batch.
func HECBody(host, source, sourceType, index string, batch []Delivery) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, d := range batch {
		f := d.Finding
		t := f.LastSeen
		if t.IsZero() {
			t = f.FirstSeen
		}
		ev := HECEvent{Host: host, Source: source, SourceType: sourceType, Index: index,
			Event: HECAlert{Revision: d.Revision, Finding: f}}
		if !t.IsZero() {
			ev.Time = float64(t.UnixMilli()) / 1000
		}
		if err := enc.Encode(ev); err != nil {
			return nil, fmt.Errorf("finding %s: %w", f.ID, err)
		}
	}
	return buf.Bytes(), nil
}

// hecResponse is the collector's answer: {"text":"Success","code":0}.
type hecResponse struct {
	Text string `json:"text"`
	Code *int   `json:"code"`
}

// Send posts the batch to the collector. The collector accepts or refuses a
// batch whole; its status decides: 400 (bad data, wrong index), 401 and 403
// (token) are permanent, 429, 500 and 503 (busy, queues full) are retried.
func (s *splunkSink) Send(ctx context.Context, batch []Delivery) error {
	body, err := HECBody(s.host, s.source, s.stype, s.index, batch)
	if err != nil {
		return &SendError{Sink: s.name, Permanent: true, Msg: err.Error()}
	}
	h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Splunk " + s.token}}
	resp, err := s.post(ctx, s.url+"/services/collector/event", h, body)
	var se *SendError
	if errors.As(err, &se) && se.Status != 0 {
		// Say what the collector said, with its code, rather than raw JSON.
		var r hecResponse
		if json.Unmarshal(resp, &r) == nil && r.Code != nil {
			se.Msg = s.scrub(fmt.Sprintf("HEC code %d: %s", *r.Code, r.Text))
		}
		return se
	}
	if err != nil {
		return err
	}
	var r hecResponse
	if err := json.Unmarshal(resp, &r); err != nil || r.Code == nil {
		return &SendError{Sink: s.name, Msg: "unexpected HEC response: " + s.scrub(snippet(resp))}
	}
	if *r.Code != 0 {
		return &SendError{Sink: s.name, Msg: s.scrub(fmt.Sprintf("HEC code %d: %s", *r.Code, r.Text))}
	}
	return nil
}
