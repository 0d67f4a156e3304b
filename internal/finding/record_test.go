package finding

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// Findings stored in the state and read back are the findings; and findings
// from separate runs, merged in the state, are those of one run over all the
// events.
func TestRecordsMergeInTheStateLikeOneRun(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	evs := chronological(t, 600, start)
	failing := &RuleInfo{ID: "r-low", Title: "Low rule", Level: "low", Attack: []string{"T1580"}}
	one := NewAggregator(50)
	for _, ev := range evs {
		one.Add(assumeRoleRule, testView(ev))
		one.Add(failing, testView(ev))
	}
	want := one.Findings()

	// The same events in shuffled order, split across three "runs".
	rng := rand.New(rand.NewPCG(1, 2))
	order := rng.Perm(len(evs))
	state := detect.NewMemoryState()
	for part := range 3 {
		a := NewAggregator(50)
		for _, i := range order[part*200 : (part+1)*200] {
			a.Add(assumeRoleRule, testView(evs[i]))
			a.Add(failing, testView(evs[i]))
		}
		recs, err := a.Records()
		if err != nil {
			t.Fatal(err)
		}
		if err := state.Update(ctx, func(tx detect.Tx) error {
			_, err := tx.UpsertFindings(ctx, recs)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var got []*Finding
	state.View(ctx, func(r detect.Reader) error {
		recs, err := r.ListFindings(ctx, "", 1000)
		for _, rec := range recs {
			f, ferr := FromRecord(rec)
			if ferr != nil {
				t.Fatal(ferr)
			}
			got = append(got, f)
		}
		return err
	})
	Sort(got)
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%d findings from the state, %d from one run", len(got), len(want))
	}
	for i := range want {
		w, _ := json.Marshal(want[i])
		g, _ := json.Marshal(got[i])
		if string(w) != string(g) {
			t.Errorf("finding %d differs:\n one run %s\n state   %s", i, w, g)
		}
	}
}
