package finding

import (
	"cmp"
	"net/netip"
	"strings"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// ProfileRuleInfo is the RuleInfo of a profile detection.
func ProfileRuleInfo(d *detect.ProfileDetector) *RuleInfo {
	return &RuleInfo{ID: d.ID, Title: d.Title, Source: "builtin:profiles", Level: d.Level, Description: d.Description, Attack: d.Attack}
}

// FromProfileHit is the finding of a profile hit: one per detection,
// profile (principal, account or key) and rarity, its values what was new.
// Such findings are derived from the state whole each time, never merged
// into it: docs/profiles.md.
func FromProfileHit(h detect.ProfileHit, r *RuleInfo, s *Suppressions) *Finding {
	rule := ruleRef(r)
	rule.Level = cmp.Or(h.Level, r.Level)
	f := &Finding{
		SchemaVersion:     SchemaVersion,
		ID:                DedupID(r.ID, h.Account, "", h.Subject+"|"+h.Rarity),
		Rule:              rule,
		Severity:          SeverityFor(rule.Level),
		Attack:            nonNil(append([]string{}, r.Attack...)),
		Outcome:           OutcomeSucceeded,
		Shadow:            r.Shadow,
		Actor:             cmp.Or(h.Actor, subjectActor(h.Subject)),
		Subject:           h.Subject,
		Rarity:            h.Rarity,
		Detail:            h.Detail,
		Account:           h.Account,
		FirstSeen:         h.First,
		LastSeen:          h.Last,
		Count:             int64(len(h.Values)),
		EventIDs:          stampValues(h.Evidence),
		EventSources:      []string{},
		EventNames:        []string{},
		SourceIPAddresses: []string{},
		UserAgents:        []string{},
		ErrorCodes:        []string{},
		ErrorMessages:     []string{},
		AccessKeyIDs:      []string{},
		CorrelatedValues:  stampValues(h.Values),
	}
	if strings.HasPrefix(h.Subject, "AKIA") || strings.HasPrefix(h.Subject, "ASIA") {
		f.AccessKeyIDs = []string{h.Subject}
	}
	f.EventIDs = nonNil(f.EventIDs)
	if reason := s.matchFinding(f); reason != "" {
		f.Suppressed, f.SuppressedReason = true, reason
	}
	return f
}

// subjectActor names a profile's subject as actors are named: the user or
// role name of a principal ARN, root, an account, a key as it is.
func subjectActor(subject string) string {
	if !strings.HasPrefix(subject, "arn:") {
		if len(subject) == 12 && strings.Trim(subject, "0123456789") == "" {
			return "account " + subject
		}
		return subject
	}
	parts := strings.SplitN(subject, ":", 6)
	if len(parts) < 6 {
		return subject
	}
	res := parts[5]
	if res == "root" {
		return "root"
	}
	return res[strings.LastIndexByte(res, '/')+1:]
}

// matchFinding is match for a finding derived without its events: rule,
// actor, account, and the source addresses a finding lists (a network
// value of a profile finding counts as its addresses).
func (s *Suppressions) matchFinding(f *Finding) string {
	if s == nil {
		return ""
	}
	for i := range s.list {
		sp := &s.list[i]
		if sp.Rule != "" && sp.Rule != f.Rule.ID {
			continue
		}
		if sp.Account != "" && sp.Account != f.Account {
			continue
		}
		if sp.Actor != "" && !globMatch(sp.Actor, f.Actor) {
			continue
		}
		if sp.UserAgent != "" {
			continue // a derived finding has no user agent to compare
		}
		if sp.prefix.IsValid() && !coversAll(sp.prefix, f.CorrelatedValues) {
			continue
		}
		return sp.Reason
	}
	return ""
}

// coversAll reports whether every value is an address or network within p
// (and there is at least one).
func coversAll(p netip.Prefix, values []string) bool {
	if len(values) == 0 {
		return false
	}
	for _, v := range values {
		n, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return false
			}
			n = netip.PrefixFrom(a, a.BitLen())
		}
		if n.Bits() < p.Bits() || !p.Contains(n.Addr()) {
			return false
		}
	}
	return true
}

// ActorRisk ranks a finding's actor by the riskiest calls it made in the
// data scanned: principals making high-risk calls rank higher.
type ActorRisk struct {
	Tier       string   `json:"tier"`       // high, medium or low
	Categories []string `json:"categories"` // the risk categories of its calls
}

// tierRank orders tiers, high first.
func tierRank(f *Finding) int {
	if f.ActorRisk == nil {
		return 3
	}
	switch f.ActorRisk.Tier {
	case "high":
		return 0
	case "medium":
		return 1
	}
	return 2
}
