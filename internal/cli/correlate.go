package cli

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/finding"
)

// correlating is a scan's correlation rules at work: workers hand it the
// occurrences their base-rule matches make, in batches; it stores them in the
// state (the --state one, else one in memory for the run) and keeps the
// findings the hits make, merged by correlation and group.
type correlating struct {
	corr     *detect.Correlator
	state    detect.State
	infos    map[*detect.Correlation]*finding.RuleInfo
	evidence int
	// bounded: the state is the run's own, in memory, and old occurrences
	// are evicted to keep memory bounded whatever the corpus size.
	bounded bool

	mu       sync.Mutex
	findings map[string]detect.FindingRecord
	newest   time.Time // the latest occurrence time seen
	stored   int       // occurrences stored since the last eviction
}

// memoryBudget is how many occurrences the run's in-memory state gathers
// before it evicts those older than memoryLateness (plus two windows)
// behind the newest: an out-of-order event later than that, for the same
// group, may then miss a correlation. A --state keeps everything.
const (
	memoryBudget   = 100_000
	memoryLateness = 24 * time.Hour
)

// occurrenceBatch is how many occurrences a worker gathers before one
// transaction: windows need only occurrences, so it can be large.
const occurrenceBatch = 4096

func newCorrelating(corrs []*detect.Correlation, st detect.State, bounded bool, evidence int) *correlating {
	c := &correlating{
		corr:     detect.NewCorrelator(corrs, evidence),
		state:    st,
		bounded:  bounded,
		infos:    map[*detect.Correlation]*finding.RuleInfo{},
		evidence: evidence,
		findings: map[string]detect.FindingRecord{},
	}
	for _, co := range corrs {
		c.infos[co] = &finding.RuleInfo{
			ID: co.Stream(), Title: co.Title, Source: co.Source, Level: co.Level,
			Description: co.Description, Attack: co.Attack, FalsePositives: co.FalsePositives,
		}
	}
	return c
}

// own copies an occurrence's strings: they may be views into an event the
// decoder is about to reuse.
func own(o detect.Occurrence) detect.Occurrence {
	o.Group, o.EventID, o.Tag, o.Value = strings.Clone(o.Group), strings.Clone(o.EventID), strings.Clone(o.Tag), strings.Clone(o.Value)
	return o
}

// add stores a batch and keeps what its hits make.
func (c *correlating) add(ctx context.Context, occ []detect.Occurrence) error {
	if len(occ) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock() // one batch at a time: the state serializes anyway
	for _, o := range occ {
		if o.Time.After(c.newest) {
			c.newest = o.Time
		}
	}
	var hits []detect.CorrelationHit
	err := c.state.Update(ctx, func(tx detect.Tx) error {
		var err error
		if hits, err = c.corr.Add(ctx, tx, occ); err != nil {
			return err
		}
		c.stored += len(occ)
		if c.bounded && c.stored >= memoryBudget {
			c.stored = 0
			cutoff := c.newest.Add(-memoryLateness - 2*c.corr.MaxTimespan())
			_, err = tx.Evict(ctx, detect.Retention{Occurrences: cutoff})
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, h := range hits {
		rec, err := finding.HitRecord(h, c.infos[h.Correlation], c.evidence)
		if err != nil {
			return err
		}
		if prev, ok := c.findings[rec.ID]; ok {
			rec = detect.MergeFindingRecords(prev, rec)
		}
		c.findings[rec.ID] = rec
	}
	return nil
}

// records are the run's correlation findings, as state records.
func (c *correlating) records() []detect.FindingRecord {
	out := make([]detect.FindingRecord, 0, len(c.findings))
	for _, r := range c.findings {
		out = append(out, r)
	}
	return out
}
