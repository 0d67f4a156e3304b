package finding

import (
	"strings"
	"testing"
	"time"
)

func TestSuppressions(t *testing.T) {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	evs := chronological(t, 8, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)) // sources 198.51.100.7 / 203.0.113.9 alternately
	other := &RuleInfo{ID: "r-other", Title: "Other", Level: "medium"}
	supp, notes, err := NewSuppressions([]Suppression{
		{Rule: assumeRoleRule.ID, Source: "198.51.100.0/24", Reason: "the build network"},
		{UserAgent: "nothing-like-this*", Reason: "never matches"},
		{Rule: other.ID, Reason: "retired", Expires: now.Add(-time.Hour)},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	if supp.Len() != 2 || len(notes) != 1 || !strings.Contains(notes[0], "expired") {
		t.Fatalf("in force %d, notes %v", supp.Len(), notes)
	}
	a := NewAggregator(0)
	a.Suppress(supp)
	for _, ev := range evs {
		a.Add(assumeRoleRule, testView(ev))
		a.Add(other, testView(ev))
	}
	var suppressed, open, otherOpen int64
	for _, f := range a.Findings() {
		switch {
		case f.Suppressed:
			if f.SuppressedReason != "the build network" || f.Rule.ID != assumeRoleRule.ID {
				t.Errorf("suppressed finding %+v", f)
			}
			for _, ip := range f.SourceIPAddresses {
				if ip != "198.51.100.7" {
					t.Errorf("suppressed finding holds %s", ip)
				}
			}
			suppressed += f.Count
		case f.Rule.ID == assumeRoleRule.ID:
			open += f.Count
		default:
			otherOpen += f.Count // the expired suppression no longer applies
		}
	}
	if suppressed != 4 || open != 4 || otherOpen != 8 {
		t.Errorf("suppressed %d, open %d, other %d; want 4 4 8", suppressed, open, otherOpen)
	}

	for _, bad := range []Suppression{
		{Rule: "x"},                          // no reason
		{Reason: "everything"},               // matches everything
		{Source: "10.0.0.0/33", Reason: "r"}, // bad CIDR
		{Actor: "[", Reason: "r"},            // bad pattern
	} {
		if _, _, err := NewSuppressions([]Suppression{bad}, now); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
