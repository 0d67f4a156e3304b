package alert

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/finding"
)

// ElasticConfig is an Elasticsearch or OpenSearch cluster, written to with
// the _bulk API (the same on both).
type ElasticConfig struct {
	URL   string `yaml:"url"`   // https://host:9200, without credentials
	Index string `yaml:"index"` // default trailsentry-findings
	// APIKey is an Elasticsearch API key as the cluster encodes it (base64
	// of id:key), sent as "Authorization: ApiKey ..."; a secret.
	APIKey Secret `yaml:"api_key"`
	// Username and Password are HTTP basic credentials (OpenSearch's
	// internal users); the password is a secret.
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
}

type elasticSink struct {
	httpSink
	url, index string
	auth       string
}

func newElastic(h httpSink, c ElasticConfig) (Sink, error) {
	s := &elasticSink{httpSink: h, url: strings.TrimRight(c.URL, "/"), index: c.Index}
	if s.index == "" {
		s.index = "trailsentry-findings"
	}
	if c.APIKey.IsSet() {
		key, err := s.resolve(c.APIKey)
		if err != nil {
			return nil, err
		}
		s.auth = "ApiKey " + key
	}
	if c.Username != "" {
		pw, err := s.resolve(c.Password)
		if err != nil {
			return nil, err
		}
		s.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+pw))
	}
	if s.auth != "" {
		s.secrets = append(s.secrets, s.auth)
	}
	return s, nil
}

func (s *elasticSink) Name() string { return s.name }

// Send indexes the batch in one _bulk request: an index action per finding
// with _id the finding's id, so sending a finding again replaces its
// document and never duplicates it. Items are judged one by one: 429 and
// 5xx are retried, other errors are permanent for that item.
func (s *elasticSink) Send(ctx context.Context, batch []Delivery) error {
	body, err := BulkBody(s.index, batch)
	if err != nil {
		return &SendError{Sink: s.name, Permanent: true, Msg: err.Error()}
	}
	h := http.Header{"Content-Type": {"application/x-ndjson"}}
	if s.auth != "" {
		h.Set("Authorization", s.auth)
	}
	resp, err := s.post(ctx, s.url+"/_bulk", h, body)
	if err != nil {
		return err
	}
	errs, err := parseBulkResponse(resp, len(batch))
	if err != nil {
		// Indexing by id is idempotent: sending the batch again is safe.
		return &SendError{Sink: s.name, Msg: "bulk response: " + err.Error()}
	}
	out := make([]error, len(errs)) // nil stays an untyped nil
	failed := false
	for i, e := range errs {
		if e != nil {
			e.Sink = s.name
			out[i], failed = e, true
		}
	}
	if failed {
		return &BatchError{Errs: out}
	}
	return nil
}

// BulkBody is the NDJSON body of a _bulk request indexing the batch as ECS
// documents.
func BulkBody(index string, batch []Delivery) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // one line per value
	enc.SetEscapeHTML(false)
	for _, d := range batch {
		action := map[string]map[string]string{"index": {"_index": index, "_id": d.Finding.ID}}
		if err := enc.Encode(action); err != nil {
			return nil, err
		}
		if err := enc.Encode(ECS(d.Finding, d.Revision)); err != nil {
			return nil, fmt.Errorf("finding %s: %w", d.Finding.ID, err)
		}
	}
	return buf.Bytes(), nil
}

// bulkResponse is what _bulk answers: one item per action, in order.
type bulkResponse struct {
	Errors *bool                       `json:"errors"`
	Items  []map[string]bulkItemResult `json:"items"`
}

type bulkItemResult struct {
	ID     string `json:"_id"`
	Status int    `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// parseBulkResponse reads a _bulk response for n actions and returns each
// action's error (nil when it was indexed).
func parseBulkResponse(data []byte, n int) ([]*SendError, error) {
	var r bulkResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if r.Errors == nil || r.Items == nil {
		return nil, errors.New("no errors and items fields")
	}
	if len(r.Items) != n {
		return nil, fmt.Errorf("%d items for %d actions", len(r.Items), n)
	}
	out := make([]*SendError, n)
	for i, item := range r.Items {
		if len(item) != 1 {
			return nil, fmt.Errorf("item %d: %d actions in one item", i, len(item))
		}
		for _, res := range item {
			switch {
			case res.Status >= 200 && res.Status < 300:
			case res.Status == 0:
				return nil, fmt.Errorf("item %d: no status", i)
			default:
				msg := "item rejected"
				if res.Error != nil {
					msg = res.Error.Type + ": " + res.Error.Reason
				}
				out[i] = &SendError{Status: res.Status, Permanent: statusPermanent(res.Status), Msg: snippet([]byte(msg))}
			}
		}
	}
	return out, nil
}

// ECS maps a finding to an Elastic Common Schema document: an alert
// (event.kind) with the rule, ATT&CK, the cloud account and region, the
// user, the source address and user agent, and severity as event.severity
// (the score rounded, on GuardDuty's 1–10 scale) and event.risk_score (the
// score times ten, 0–100). The whole finding is kept under trailsentry.
func ECS(f *finding.Finding, revision int64) map[string]any {
	ts := f.LastSeen
	if ts.IsZero() {
		ts = f.FirstSeen
	}
	ev := map[string]any{
		"kind":            "alert",
		"category":        ecsCategories(f),
		"type":            []string{"info"},
		"outcome":         ecsOutcome(f.Outcome),
		"severity":        int(math.Round(float64(f.Severity.Score))),
		"risk_score":      float64(f.Severity.Score) * 10,
		"risk_score_norm": float64(f.Severity.Score) * 10,
		"id":              f.ID,
		"dataset":         "trailsentry.finding",
		"module":          "trailsentry",
	}
	if len(f.EventNames) > 0 {
		ev["action"] = f.EventNames[0]
	}
	if len(f.EventSources) > 0 {
		ev["provider"] = f.EventSources[0]
	}
	if !f.FirstSeen.IsZero() {
		ev["start"] = f.FirstSeen.UTC().Format(time.RFC3339Nano)
		ev["end"] = f.LastSeen.UTC().Format(time.RFC3339Nano)
	}
	doc := map[string]any{
		"ecs":     map[string]any{"version": "8.11.0"},
		"message": fmt.Sprintf("%s: %s in %s/%s (%d events)", f.Rule.Title, orDash(f.Actor), orDash(f.Account), orDash(f.Region), f.Count),
		"event":   ev,
		"rule": map[string]any{
			"id":          f.Rule.ID,
			"name":        f.Rule.Title,
			"description": f.Rule.Description,
			"ruleset":     f.Rule.Source,
		},
		"cloud": map[string]any{"provider": "aws", "account": map[string]any{"id": f.Account}, "region": f.Region},
		"trailsentry": map[string]any{
			"revision": revision,
			"finding":  f,
		},
	}
	if !ts.IsZero() {
		doc["@timestamp"] = ts.UTC().Format(time.RFC3339Nano)
	}
	if len(f.Attack) > 0 {
		var techniques, subs []string
		for _, t := range f.Attack {
			parent, _, sub := strings.Cut(t, ".")
			if !containsString(techniques, parent) {
				techniques = append(techniques, parent)
			}
			if sub {
				subs = append(subs, t)
			}
		}
		tech := map[string]any{"id": techniques}
		if len(subs) > 0 {
			tech["subtechnique"] = map[string]any{"id": subs}
		}
		doc["threat"] = map[string]any{"framework": "MITRE ATT&CK", "technique": tech}
	}
	related := map[string]any{}
	if f.Actor != "" {
		doc["user"] = map[string]any{"name": f.Actor}
		users := []string{f.Actor}
		if c := f.Context; c != nil && c.Identity.Human != "" && c.Identity.Human != f.Actor {
			users = append(users, c.Identity.Human)
		}
		related["user"] = users
	}
	if len(f.SourceIPAddresses) > 0 {
		// source.ip takes one address; the rest are in related.ip. CloudTrail
		// puts a service's name where the address would be: leave it out.
		var ips []string
		for _, ip := range f.SourceIPAddresses {
			if looksLikeIP(ip) {
				ips = append(ips, ip)
			}
		}
		if len(ips) > 0 {
			src := map[string]any{"ip": ips[0]}
			// The network context is the earliest event's, whose address
			// is the first listed.
			if c := f.Context; c != nil && ips[0] == f.SourceIPAddresses[0] {
				if asn, err := strconv.ParseInt(c.Network.ASN, 10, 64); err == nil {
					as := map[string]any{"number": asn}
					if c.Network.ASNOrg != "" {
						as["organization"] = map[string]any{"name": c.Network.ASNOrg}
					}
					src["as"] = as
				}
				if c.Network.Country != "" {
					src["geo"] = map[string]any{"country_iso_code": c.Network.Country}
				}
			}
			doc["source"] = src
			related["ip"] = ips
		}
	}
	if len(f.UserAgents) > 0 {
		doc["user_agent"] = map[string]any{"original": f.UserAgents[0]}
	}
	if len(related) > 0 {
		doc["related"] = related
	}
	return doc
}

func containsString(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func looksLikeIP(s string) bool {
	return strings.Trim(s, "0123456789.:abcdefABCDEF") == "" && strings.ContainsAny(s, ".:")
}

// ecsOutcome maps a finding's outcome to event.outcome's values.
func ecsOutcome(o string) string {
	switch o {
	case finding.OutcomeSucceeded:
		return "success"
	case finding.OutcomeFailed:
		return "failure"
	}
	return "unknown"
}

// ecsCategories picks event.category from the services the calls went to:
// identity services are iam, sign-in is authentication, the rest are
// configuration of the account's resources.
func ecsCategories(f *finding.Finding) []string {
	var out []string
	for _, src := range f.EventSources {
		c := "configuration"
		switch strings.TrimSuffix(src, ".amazonaws.com") {
		case "iam", "sts", "sso", "identitystore", "organizations", "access-analyzer":
			c = "iam"
		case "signin":
			c = "authentication"
		}
		if !containsString(out, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		out = []string{"configuration"}
	}
	return out
}
