package cli

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/finding"
)

// profiling is a scan's profile detections at work (first-seen baselines,
// credential origin, risk tiers): each worker fills a batch of observations
// and flushes it to the state (the --state one, else the run's in memory);
// at the end the findings are derived from the state, for what this run
// touched.
type profiling struct {
	prof    *detect.Profiler
	state   detect.State
	touched detect.TouchedSet
	infos   map[*detect.ProfileDetector]*finding.RuleInfo

	// mem is the run's own state in memory (nil with --state): past
	// memoryBaselines it is expired (Profiler.Expire), keeping memory
	// bounded whatever the corpus; expired holds the findings derived from
	// what it dropped.
	mem       *detect.MemoryState
	mu        sync.Mutex
	newest    time.Time
	threshold int
	expired   []detect.ProfileHit
}

// memoryBaselines is how many baselines the run's in-memory state holds
// before the temporary keys, hours of risky calls and trail stops older
// than the lateness and ExpireHorizon are derived and dropped.
const memoryBaselines = 100_000

// profileBatch is how many distinct baseline entries a worker gathers
// before it writes them: a batch holds one entry per (kind, subject,
// value), however many events repeat it.
const profileBatch = 25_000

func newProfiling(learning time.Duration, st detect.State) *profiling {
	p := &profiling{
		prof:      detect.NewProfiler(detect.ProfileOptions{Learning: cmp.Or(learning, -1)}), // --learning 0: none
		state:     st,
		infos:     map[*detect.ProfileDetector]*finding.RuleInfo{},
		threshold: memoryBaselines,
	}
	p.mem, _ = st.(*detect.MemoryState)
	for _, d := range detect.ProfileDetectors {
		p.infos[d] = finding.ProfileRuleInfo(d)
	}
	return p
}

// flush writes a worker's batch.
func (p *profiling) flush(ctx context.Context, b *detect.ProfileBatch) error {
	p.touched.Add(b.Touched())
	if err := b.Flush(ctx, p.state); err != nil {
		return err
	}
	if p.mem == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.Newest().After(p.newest) {
		p.newest = b.Newest()
	}
	if p.mem.BaselineCount() < p.threshold {
		return nil
	}
	hits, _, err := p.prof.Expire(ctx, p.mem, p.newest.Add(-memoryLateness-detect.ExpireHorizon))
	if err != nil {
		return err
	}
	p.expired = detect.MergeProfileHits(p.expired, hits)
	// What cannot expire yet stays: the next pass waits until the state has
	// doubled (a pass is one sweep of the map, so passes stay a small share
	// of the work however much a dense corpus keeps within the horizon).
	p.threshold = max(memoryBaselines, 2*p.mem.BaselineCount())
	return nil
}

// findings derives the profile findings of what the run touched (of the
// whole state when all is set) and sets the risk tier of every finding's
// actor, the others' included.
func (p *profiling) findings(ctx context.Context, all bool, others []*finding.Finding, suppress *finding.Suppressions) ([]*finding.Finding, error) {
	var out []*finding.Finding
	err := p.state.View(ctx, func(r detect.Reader) error {
		touched := p.touched.Get()
		if all {
			var err error
			if touched, err = detect.AllTouched(ctx, r); err != nil {
				return err
			}
		}
		hits, err := p.prof.Evaluate(ctx, r, touched)
		if err != nil {
			return err
		}
		p.mu.Lock()
		hits = detect.MergeProfileHits(p.expired, hits)
		p.mu.Unlock()
		for _, h := range hits {
			out = append(out, finding.FromProfileHit(h, p.infos[h.Detector], suppress))
		}
		everything := append(out[:len(out):len(out)], others...)
		seen := map[string]bool{}
		var actors []string
		for _, f := range everything {
			if a := f.Account + " " + f.Actor; f.Account != "" && !seen[a] {
				seen[a] = true
				actors = append(actors, a)
			}
		}
		tiers, err := p.prof.RiskTiers(ctx, r, actors)
		if err != nil {
			return err
		}
		for _, f := range everything {
			if t, ok := tiers[f.Account+" "+f.Actor]; ok {
				f.ActorRisk = &finding.ActorRisk{Tier: t.Tier, Categories: t.Categories}
			}
		}
		return nil
	})
	return out, err
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
