package cli

import (
	"context"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// A state remembers, beside what it keeps, two times: the newest event any
// scan put in it, and its retention horizon — the cutoff of the last
// --retention applied. Events older than the horizon are left out of later
// scans: the file marks and findings they would have joined may be gone, and
// a file read again must not add its events to findings that survived
// (counted twice) nor rebuild what retention dropped.
const (
	keyNewest  = "state:newest-event"
	keyHorizon = "state:retention-horizon"
)

// stateTimes reads the state's newest event time and retention horizon
// (zero when not set).
func stateTimes(ctx context.Context, st detect.State) (newest, horizon time.Time, err error) {
	err = st.View(ctx, func(r detect.Reader) error {
		cps, err := r.Checkpoints(ctx, []string{keyNewest, keyHorizon})
		for _, c := range cps {
			t, perr := time.Parse(time.RFC3339Nano, c.Value)
			if perr != nil {
				continue // not ours to judge: treat as unset
			}
			switch c.Key {
			case keyNewest:
				newest = t
			case keyHorizon:
				horizon = t
			}
		}
		return err
	})
	return newest, horizon, err
}

// timeCheckpoint is a state time as a checkpoint that never expires.
func timeCheckpoint(key string, t time.Time) detect.Checkpoint {
	return detect.Checkpoint{Key: key, Value: t.UTC().Format(time.RFC3339Nano)}
}

// evict applies --retention: what lies more than retention before the
// newest event the state has seen goes, and the cutoff becomes the state's
// horizon. Correlation windows are kept at least two of the longest windows
// plus a day, so a late file can still complete them.
func evict(ctx context.Context, st detect.State, newest time.Time, retention time.Duration, corr *correlating, con *console) error {
	cut := newest.Add(-retention)
	occ := cut
	if corr != nil {
		occ = minTime(cut, newest.Add(-2*corr.corr.MaxTimespan()-memoryLateness))
	}
	var n detect.Evicted
	err := st.Update(ctx, func(tx detect.Tx) error {
		var err error
		n, err = tx.Evict(ctx, detect.Retention{Occurrences: occ, Observations: cut, Findings: cut, Checkpoints: cut})
		if err != nil {
			return err
		}
		return tx.SetCheckpoints(ctx, []detect.Checkpoint{timeCheckpoint(keyHorizon, cut)})
	})
	if err == nil {
		con.info("state retention applied", "horizon", cut.Format(time.RFC3339), "occurrences", n.Occurrences,
			"baselines", n.Observations, "findings", n.Findings, "file_marks", n.Checkpoints)
	}
	return err
}

// recordNewest keeps the newest event time the state has seen.
func recordNewest(ctx context.Context, st detect.State, t time.Time) error {
	return st.Update(ctx, func(tx detect.Tx) error {
		return tx.SetCheckpoints(ctx, []detect.Checkpoint{timeCheckpoint(keyNewest, t)})
	})
}
