package integrity

import (
	"slices"
	"time"

	"github.com/trailsentry/trailsentry/internal/finding"
)

// Findings turns the report's problems into findings, aggregated the way
// detections are: one finding per rule, account, region and trail, listing
// every file concerned in Files, with Count the number of problems and
// FirstSeen/LastSeen the period they concern. Gaps are the exception: each
// gap is its own finding, since each is a separate stretch of time.
//
// The dedup key's fourth part, the actor for detections, is the trail here
// ("trail:<name>", and "@<start>" for a gap); Actor itself stays empty, as no
// one is known to have acted, and so does Outcome, as no call was made.
func (r *Report) Findings() []*finding.Finding {
	infos := ruleInfos()
	type key struct{ rule, account, region, instance string }
	byKey := make(map[key]*finding.Finding)
	var out []*finding.Finding
	for _, p := range r.Problems {
		k := key{p.Rule, p.Account, p.Region, "trail:" + p.Trail}
		if p.Rule == RuleGap {
			k.instance += "@" + p.Start.Format(time.RFC3339)
		}
		f := byKey[k]
		if f == nil {
			f = newFinding(infos[p.Rule], p.Account, p.Region, k.instance)
			byKey[k] = f
			out = append(out, f)
		}
		f.Count++
		f.Files = append(f.Files, p.Files...)
		if !p.Start.IsZero() && (f.FirstSeen.IsZero() || p.Start.Before(f.FirstSeen)) {
			f.FirstSeen = p.Start
		}
		if end := p.End; !end.IsZero() && end.After(f.LastSeen) {
			f.LastSeen = end
		}
	}
	for _, f := range out {
		slices.Sort(f.Files)
		f.Files = slices.Compact(f.Files)
		if f.LastSeen.Before(f.FirstSeen) {
			f.LastSeen = f.FirstSeen
		}
	}
	finding.Sort(out)
	return out
}

func newFinding(r *finding.RuleInfo, account, region, instance string) *finding.Finding {
	return &finding.Finding{
		SchemaVersion: finding.SchemaVersion,
		ID:            finding.DedupID(r.ID, account, region, instance),
		Rule: finding.RuleRef{
			ID: r.ID, Title: r.Title, Source: r.Source, Level: r.Level,
			Description: r.Description, FalsePositives: slices.Clone(r.FalsePositives),
		},
		Severity: finding.SeverityFor(r.Level),
		Attack:   append([]string{}, r.Attack...),
		Account:  account,
		Region:   region,
		// Lists are [] rather than null, as in every finding.
		EventIDs:          []string{},
		EventSources:      []string{},
		EventNames:        []string{},
		SourceIPAddresses: []string{},
		UserAgents:        []string{},
		ErrorCodes:        []string{},
		ErrorMessages:     []string{},
		AccessKeyIDs:      []string{},
	}
}
