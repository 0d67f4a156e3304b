package finding

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/enrich"
)

// Findings kept in the state (detect.FindingRecord) merge with the same
// finding from later runs: counts add, first/last seen widen, evidence and
// distinct values keep the earliest. What does not merge — the rule, the
// dedup key, the earliest event's context — travels as the record's body.

// The names of a record's value lists and counters.
const (
	valSources  = "event_sources"
	valNames    = "event_names"
	valIPs      = "source_ip_addresses"
	valAgents   = "user_agents"
	valErrors   = "error_codes"
	valMessages = "error_messages"
	valKeys     = "access_key_ids"
	cntFailed   = "failed"
)

// recordBody is what a record carries as its body.
type recordBody struct {
	Rule    RuleRef         `json:"rule"`
	Attack  []string        `json:"attack"`
	Actor   string          `json:"actor"`
	Region  string          `json:"region"`
	Context *enrich.Summary `json:"context,omitempty"`

	SuppressedReason string `json:"suppressed_reason,omitempty"`
	Shadow           bool   `json:"shadow,omitempty"`
	DedupKey         string `json:"dedup_key,omitempty"`
}

// Records returns the aggregator's findings as state records, to be merged
// into a detect.State.
func (a *Aggregator) Records() ([]detect.FindingRecord, error) {
	out := make([]detect.FindingRecord, 0, len(a.groups))
	for _, g := range a.groups {
		r := g.key.rule
		body := recordBody{Rule: ruleRef(r), Attack: append([]string{}, r.Attack...), Actor: g.key.actor, Region: g.key.region, SuppressedReason: g.key.suppressed, Shadow: r.Shadow, DedupKey: g.key.dedup}
		if g.hasContext {
			c := g.context
			body.Context = &c
		}
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("finding %s: %w", r.ID, err)
		}
		rec := detect.FindingRecord{
			ID:            g.key.id(),
			RuleID:        r.ID,
			Account:       g.key.account,
			Count:         g.count,
			Counters:      map[string]int64{cntFailed: g.failed},
			EvidenceTotal: g.withID,
			EvidenceLimit: a.maxEvidence,
			ValuesLimit:   MaxDistinct,
			Body:          b,
			Values: map[string][]detect.Stamp{
				valSources: g.sources.stamps(), valNames: g.names.stamps(), valIPs: g.ips.stamps(),
				valAgents: g.agents.stamps(), valErrors: g.errors.stamps(), valMessages: g.messages.stamps(),
				valKeys: g.keys.stamps(),
			},
		}
		for _, s := range g.evidence {
			rec.Evidence = append(rec.Evidence, detect.Stamp{Time: time.UnixMicro(s.t).UTC(), Value: s.s})
		}
		if g.first <= g.last {
			rec.FirstSeen, rec.LastSeen = time.UnixMicro(g.first).UTC(), time.UnixMicro(g.last).UTC()
		}
		if g.hasContext {
			rec.Origin = detect.Stamp{Time: time.UnixMicro(g.contextAt.t).UTC(), Value: g.contextAt.s}
		}
		out = append(out, rec)
	}
	return out, nil
}

// FromRecord rebuilds the finding a state record holds.
func FromRecord(rec detect.FindingRecord) (*Finding, error) {
	var body recordBody
	if err := json.Unmarshal(rec.Body, &body); err != nil {
		return nil, fmt.Errorf("finding %s in the state: %w", rec.ID, err)
	}
	failed := rec.Counters[cntFailed]
	limit := rec.EvidenceLimit
	if limit <= 0 {
		limit = DefaultMaxEvidence
	}
	f := &Finding{
		SchemaVersion:     SchemaVersion,
		ID:                rec.ID,
		Rule:              body.Rule,
		Severity:          SeverityFor(body.Rule.Level),
		Outcome:           outcome(failed, rec.Count),
		FailedCount:       failed,
		Attack:            nonNil(body.Attack),
		Actor:             body.Actor,
		DedupKey:          body.DedupKey,
		Shadow:            body.Shadow,
		Suppressed:        body.SuppressedReason != "",
		SuppressedReason:  body.SuppressedReason,
		Account:           rec.Account,
		Region:            body.Region,
		FirstSeen:         rec.FirstSeen,
		LastSeen:          rec.LastSeen,
		Count:             rec.Count,
		EventIDs:          stampValues(rec.Evidence),
		EventIDsTruncated: rec.EvidenceTotal > int64(limit),
		EventSources:      stampValues(rec.Values[valSources]),
		EventNames:        stampValues(rec.Values[valNames]),
		SourceIPAddresses: stampValues(rec.Values[valIPs]),
		UserAgents:        stampValues(rec.Values[valAgents]),
		ErrorCodes:        stampValues(rec.Values[valErrors]),
		ErrorMessages:     stampValues(rec.Values[valMessages]),
		AccessKeyIDs:      stampValues(rec.Values[valKeys]),
		CorrelatedValues:  stampValues(rec.Values[valCorrelated]),
		Context:           body.Context,
	}
	if f.Outcome == OutcomeFailed {
		f.Severity = f.Severity.attempted()
	}
	return f, nil
}

func ruleRef(r *RuleInfo) RuleRef {
	return RuleRef{ID: r.ID, Title: r.Title, Source: r.Source, Level: r.Level, Description: r.Description, FalsePositives: append([]string(nil), r.FalsePositives...)}
}

// stamps returns the distinct values with the times they were first seen.
func (d distinct) stamps() []detect.Stamp {
	out := make([]detect.Stamp, len(d))
	for i, s := range d {
		out[i] = detect.Stamp{Time: time.UnixMicro(s.t).UTC(), Value: s.s}
	}
	return out
}

// stampValues lists the values of stamps, which the state keeps sorted by
// time then value, as the aggregator orders them.
func stampValues(l []detect.Stamp) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = s.Value
	}
	return out
}

// valCorrelated names a correlation finding's counted values: the distinct
// values of a value_count (the denied actions of a burst, say) or the rules
// a temporal correlation saw.
const valCorrelated = "correlated_values"

// HitRecord turns a correlation hit into a state record for the finding of
// its correlation and group: hits of the same group merge into one finding,
// whatever the order they came in. r describes the correlation.
func HitRecord(h detect.CorrelationHit, r *RuleInfo, evidenceLimit int) (detect.FindingRecord, error) {
	var parts []string
	account := ""
	for _, g := range h.GroupValues {
		parts = append(parts, g.Field+"="+g.Value)
		if g.Field == "recipientAccountId" || g.Field == "userIdentity.accountId" {
			account = g.Value
		}
	}
	actor := strings.Join(parts, ", ")
	body := recordBody{Rule: ruleRef(r), Attack: append([]string{}, r.Attack...), Actor: actor}
	b, err := json.Marshal(body)
	if err != nil {
		return detect.FindingRecord{}, err
	}
	ev := h.Evidence()
	rec := detect.FindingRecord{
		ID:            DedupID(r.ID, account, "", h.Group),
		RuleID:        r.ID,
		Account:       account,
		FirstSeen:     h.First,
		LastSeen:      h.Last,
		Count:         int64(h.Count),
		Evidence:      ev,
		EvidenceTotal: int64(h.Count),
		EvidenceLimit: evidenceLimit,
		ValuesLimit:   evidenceLimit,
		Values:        map[string][]detect.Stamp{valCorrelated: h.Values},
		Body:          b,
	}
	if len(ev) > 0 {
		rec.Origin = ev[0]
	}
	return rec, nil
}
