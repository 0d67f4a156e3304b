// Package finding holds what detection produces: the Finding type, the
// aggregation that turns matched events into findings (one per rule and dedup
// key, never one per event), severities on GuardDuty's 1.0–10.0 scale, the run
// Summary, and one writer per output format (table, json, jsonl, ocsf).
//
// The flow is: the CLI builds one RuleInfo per loaded rule; each worker owns an
// Aggregator and calls Add for every (rule, event) match; the workers'
// aggregators are merged; Findings returns the sorted findings, which a writer
// renders. docs/findings.md describes the schema and the formats.
package finding

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/enrich"
)

// SchemaVersion is the version of the Finding JSON schema. The minor number
// grows when fields are added, the major number when a field changes meaning
// or goes away.
const SchemaVersion = "2.1"

// RuleInfo is what a finding needs to know about the rule that produced it.
// The CLI fills one per loaded rule (from detect.Rule) and passes the same
// pointer to every Add for that rule: the pointer is the rule's identity inside
// an Aggregator, so every aggregator that is merged must share these values.
type RuleInfo struct {
	ID          string // the rule's own id (a Sigma rule's UUID)
	Title       string
	Source      string // where the rule was loaded from, e.g. a file path
	Level       string // Sigma level: informational, low, medium, high, critical
	Description string

	Attack         []string // ATT&CK technique ids, e.g. "T1562.008"
	FalsePositives []string

	// Shadow: the rule is being tried out; its findings are marked and not
	// reported.
	Shadow bool

	// Dedup is the rule's own dedup key (detect.Dedup); nil for the
	// default one.
	Dedup *detect.Dedup
}

// Finding is one rule's matches for one dedup key — rule id, account, region
// and actor — however many events that is.
type Finding struct {
	SchemaVersion string   `json:"schema_version"`
	ID            string   `json:"id"` // DedupID of the key: stable across runs
	Rule          RuleRef  `json:"rule"`
	Severity      Severity `json:"severity"`
	Attack        []string `json:"attack"` // ATT&CK technique ids, from the rule

	// Outcome says whether the calls succeeded: "succeeded", "failed" (every
	// matched call returned an error code) or "mixed". A failed attempt is
	// still a finding — the attempt is the signal — at a severity scaled by
	// AttemptFactor.
	Outcome     string `json:"outcome"`
	FailedCount int64  `json:"failed_count"`

	// Shadow is set for a finding of a rule in shadow mode: counted, per
	// rule and account, but not reported nor counted toward the exit code.
	Shadow bool `json:"shadow,omitempty"`

	// Suppressed is set when a suppression covers the matched events: the
	// finding is kept but not notified, and does not count toward the exit
	// code; SuppressedReason is the suppression's reason.
	Suppressed       bool   `json:"suppressed,omitempty"`
	SuppressedReason string `json:"suppressed_reason,omitempty"`

	// The dedup key besides the rule.
	Actor   string `json:"actor"`   // the enrichment's actor: the human behind a session where known
	Account string `json:"account"` // event.Event.Account
	Region  string `json:"region"`  // awsRegion

	// Event time of the earliest and latest matched event; absent when no
	// matched event had an eventTime.
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`

	// Count is the number of matched events (records: one delivered twice
	// counts twice).
	Count int64 `json:"count"`

	// EventIDs are the eventIDs of the matched events, ordered by event time
	// then eventID, without repeats. When more events than the aggregator's
	// evidence cap carry an eventID, only the earliest are listed and
	// EventIDsTruncated is set; Count is still the total.
	EventIDs          []string `json:"event_ids"`
	EventIDsTruncated bool     `json:"event_ids_truncated"`

	// Distinct values seen in the matched events, at most MaxDistinct of
	// each, in order of first appearance (event time, then value). When more
	// were seen, these are the ones that appeared first.
	EventSources      []string `json:"event_sources"`
	EventNames        []string `json:"event_names"`
	SourceIPAddresses []string `json:"source_ip_addresses"`
	UserAgents        []string `json:"user_agents"`
	ErrorCodes        []string `json:"error_codes"`
	ErrorMessages     []string `json:"error_messages"` // they name the denied action and resource
	AccessKeyIDs      []string `json:"access_key_ids"`

	// CorrelatedValues, for a correlation finding, are the distinct values
	// it counted (a value_count's field: the denied actions of a burst) or
	// the rules a temporal correlation saw, earliest first.
	CorrelatedValues []string `json:"correlated_values,omitempty"`

	// Context is the enrichment of the earliest matched event: who really
	// acted, what the action can do, where the call came from.
	Context *enrich.Summary `json:"context,omitempty"`

	// ActorRisk is the actor's risk tier: how risky the calls it made in the
	// data scanned were; absent when it made none with a risk category.
	ActorRisk *ActorRisk `json:"actor_risk,omitempty"`

	// For findings of the profile detections (first-seen baselines,
	// credential origin): whose profile (a principal ARN, an account id, an
	// access key id), how rare the new values are in the account (unseen,
	// rare, infrequent), and what they were measured against. The values
	// themselves are CorrelatedValues; Count is how many there are.
	Subject string `json:"subject,omitempty"`

	// DedupKey is the part of the dedup key a rule adds with its dedup:
	// setting (fields it is told apart by, its event-time window), as a JSON
	// list of "field=value" and "window=<start>"; absent for the default.
	DedupKey string `json:"dedup_key,omitempty"`
	Rarity   string `json:"rarity,omitempty"`
	Detail   string `json:"detail,omitempty"`

	// Files names the files a finding is about, for findings that concern
	// files rather than events (log integrity: a modified log file, a deleted
	// digest). Absent for findings from rules over events.
	Files []string `json:"files,omitempty"`
}

// The outcomes of a finding's calls.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeMixed     = "mixed"
)

func outcome(failed, count int64) string {
	switch {
	case failed == 0:
		return OutcomeSucceeded
	case failed == count:
		return OutcomeFailed
	}
	return OutcomeMixed
}

// RuleRef identifies the rule behind a finding.
type RuleRef struct {
	ID             string   `json:"id"`
	Title          string   `json:"title"`
	Source         string   `json:"source"`
	Level          string   `json:"level"`
	Description    string   `json:"description,omitempty"`
	FalsePositives []string `json:"false_positives,omitempty"`
}

// DedupID is a finding's id: a hash of its dedup key, so scanning the same
// events again gives the same ids (storage relies on it to stay idempotent).
// It is the first 128 bits of a SHA-256, in hex.
func DedupID(ruleID, account, region, actor string) string {
	h := sha256.New()
	h.Write([]byte("trailsentry finding v1"))
	for _, s := range [...]string{ruleID, account, region, actor} {
		// Length-prefixed, so no choice of values can collide with another.
		h.Write(strconv.AppendInt([]byte{'\n'}, int64(len(s)), 10))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// Sort orders findings the way every writer shows them: severity score
// descending, then rule title, then first seen; the rest of the key and the
// id break the remaining ties, so the order never depends on map iteration.
func Sort(findings []*Finding) {
	slices.SortFunc(findings, func(a, b *Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity.Score, a.Severity.Score),
			cmp.Compare(tierRank(a), tierRank(b)),
			cmp.Compare(a.Rule.Title, b.Rule.Title),
			a.FirstSeen.Compare(b.FirstSeen),
			cmp.Compare(a.Account, b.Account),
			cmp.Compare(a.Region, b.Region),
			cmp.Compare(a.Actor, b.Actor),
			cmp.Compare(a.ID, b.ID),
		)
	})
}
