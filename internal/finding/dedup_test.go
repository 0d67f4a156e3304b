package finding

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// ruleWithDedup loads a rule whose dedup: key is the given YAML.
func ruleWithDedup(t *testing.T, dedup string) *RuleInfo {
	t.Helper()
	rules, errs := detect.ParseRules([]byte(`title: Instances described
id: 0b5c1f6e-1d0a-4c61-9b8e-5c1b2e3f4a01
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: [DescribeInstances, ListBuckets]
  condition: sel
level: low
dedup:
`+dedup), "test.yml")
	if len(errs) > 0 || len(rules) != 1 {
		t.Fatalf("rule: %v", errs)
	}
	r := rules[0]
	return &RuleInfo{ID: r.ID, Title: r.Title, Level: r.Level, Dedup: r.Dedup}
}

// A rule's dedup: by adds fields to the key; window cuts event time, so a
// repeat within the window updates the finding and one in the next window
// starts another.
func TestRuleDedupByFieldAndWindow(t *testing.T) {
	r := ruleWithDedup(t, "  by: [eventName]\n  window: 1h\n")
	evs := decodeRecs(t,
		rec{id: "e1", time: "2024-05-01T10:05:00Z"},
		rec{id: "e2", time: "2024-05-01T10:55:00Z"}, // same window, same name: merged
		rec{id: "e3", time: "2024-05-01T10:20:00Z", name: "ListBuckets", source: "s3.amazonaws.com"},
		rec{id: "e4", time: "2024-05-01T11:01:00Z"}, // the next window
	)
	a := NewAggregator(0)
	for _, ev := range evs {
		a.Add(r, testView(ev))
	}
	got := map[string][]string{}
	for _, f := range a.Findings() {
		var key []string
		if err := json.Unmarshal([]byte(f.DedupKey), &key); err != nil {
			t.Fatalf("dedup_key %q: %v", f.DedupKey, err)
		}
		got[f.DedupKey] = f.EventIDs
		if f.Actor != "Admin/alice" || f.ID == DedupID(r.ID, f.Account, f.Region, f.Actor) {
			t.Errorf("finding %s: actor %q, id must differ from the default key's", f.DedupKey, f.Actor)
		}
	}
	want := map[string][]string{
		`["eventName=DescribeInstances","window=2024-05-01T10:00:00Z"]`: {"e1", "e2"},
		`["eventName=ListBuckets","window=2024-05-01T10:00:00Z"]`:       {"e3"},
		`["eventName=DescribeInstances","window=2024-05-01T11:00:00Z"]`: {"e4"},
	}
	if len(got) != len(want) {
		t.Fatalf("findings %v, want %v", got, want)
	}
	for k, ids := range want {
		if !slices.Equal(got[k], ids) {
			t.Errorf("%s: %v, want %v", k, got[k], ids)
		}
	}

	// The key survives the state: a record read back is the same finding.
	recs, err := a.Records()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		f, err := FromRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := want[f.DedupKey]; !ok || f.ID != rec.ID {
			t.Errorf("record %s came back with dedup key %q", rec.ID, f.DedupKey)
		}
	}
}

func TestRuleDedupErrors(t *testing.T) {
	for _, bad := range []string{"  window: 10s\n", "  by: []\n", "  colour: red\n", "  by: ['']\n", "  window: soon\n", "  - eventName\n"} {
		_, errs := detect.ParseRules([]byte(`title: x
id: 0b5c1f6e-1d0a-4c61-9b8e-5c1b2e3f4a02
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: X
  condition: sel
dedup:
`+bad), "bad.yml")
		if len(errs) == 0 {
			t.Errorf("dedup %q loaded", bad)
		}
	}
}
