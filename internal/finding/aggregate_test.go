package finding

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

// rec is a CloudTrail record for synthetic tests: an assumed-role call.
type rec struct {
	id, time, account, region, session, name, source, ip, agent, errorCode string
}

func (r rec) json() string {
	if r.account == "" {
		r.account = "111122223333"
	}
	if r.region == "" {
		r.region = "us-east-1"
	}
	if r.session == "" {
		r.session = "alice"
	}
	if r.source == "" {
		r.source = "ec2.amazonaws.com"
	}
	if r.name == "" {
		r.name = "DescribeInstances"
	}
	arn := fmt.Sprintf("arn:aws:sts::%s:assumed-role/Admin/%s", r.account, r.session)
	m := map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{
			"type": "AssumedRole", "principalId": "AROAEXAMPLEADMIN0001:" + r.session, "arn": arn,
			"accountId": r.account, "accessKeyId": "ASIAEXAMPLE" + strings.ToUpper(r.session),
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{
				"type": "Role", "arn": "arn:aws:iam::" + r.account + ":role/Admin", "userName": "Admin", "accountId": r.account,
			}},
		},
		"eventTime": r.time, "eventSource": r.source, "eventName": r.name, "awsRegion": r.region,
		"sourceIPAddress": r.ip, "userAgent": r.agent, "requestParameters": nil, "responseElements": nil,
		"eventID": r.id, "readOnly": true, "eventType": "AwsApiCall", "managementEvent": true,
		"recipientAccountId": r.account, "eventCategory": "Management",
	}
	if r.errorCode != "" {
		m["errorCode"] = r.errorCode
		m["errorMessage"] = "You are not authorized to perform this operation."
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// decodeRecs decodes synthetic records through the real decoder, as JSON Lines.
func decodeRecs(t testing.TB, recs ...rec) []*event.Event {
	t.Helper()
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(r.json())
		b.WriteByte('\n')
	}
	evs := decodeAll(t, b.String())
	if len(evs) != len(recs) {
		t.Fatalf("decoded %d events from %d records", len(evs), len(recs))
	}
	return evs
}

var assumeRoleRule = &RuleInfo{ID: "905d389b-b853-46d0-9d3d-dea0d3a3cd49", Title: "AWS STS AssumeRole Misuse", Level: "low"}

func TestAggregateFixture(t *testing.T) {
	findings := fixtureFindings(t)
	if len(findings) != 12 {
		t.Fatalf("%d findings, want 12", len(findings))
	}
	var total int64
	for _, f := range findings {
		total += f.Count
	}
	if total != 20 {
		t.Errorf("counts add up to %d, want the 20 rule matches", total)
	}

	// Alice's three trail changes are one finding; Bob's StopLogging in
	// another region is another.
	var trail []*Finding
	for _, f := range findings {
		if f.Rule.Title == "AWS CloudTrail Important Change" {
			trail = append(trail, f)
		}
	}
	if len(trail) != 2 {
		t.Fatalf("%d CloudTrail findings, want 2 (alice in us-east-1, bob in us-west-2)", len(trail))
	}
	f := trail[0]
	want := &Finding{
		SchemaVersion: SchemaVersion,
		ID:            DedupID("4db60cc0-36fb-42b7-9b58-a5b53019fb74", "111122223333", "us-east-1", "Admin/alice"),
		Rule: RuleRef{
			ID: "4db60cc0-36fb-42b7-9b58-a5b53019fb74", Title: "AWS CloudTrail Important Change",
			Source: "sigma/aws_cloudtrail_disable_logging.yml", Level: "medium",
			Description:    "Detects disabling, deleting and updating of a Trail",
			FalsePositives: []string{"Valid change in a Trail"},
		},
		Severity:  Severity{5.0, Medium},
		Attack:    []string{"T1685.002"},
		Actor:     "Admin/alice",
		Account:   "111122223333",
		Region:    "us-east-1",
		FirstSeen: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		LastSeen:  time.Date(2024, 5, 1, 10, 3, 12, 0, time.UTC),
		Count:     3,
		EventIDs: []string{
			"a1f0c2d4-0001-4c1e-8f00-000000000001",
			"a1f0c2d4-0002-4c1e-8f00-000000000002",
			"a1f0c2d4-0003-4c1e-8f00-000000000003",
		},
		EventSources:      []string{"cloudtrail.amazonaws.com"},
		EventNames:        []string{"StopLogging", "UpdateTrail", "DeleteTrail"},
		SourceIPAddresses: []string{"203.0.113.10", "198.51.100.23"},
		UserAgents: []string{
			"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/cloudtrail.stop-logging",
			"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/cloudtrail.update-trail",
			"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/cloudtrail.delete-trail",
		},
		ErrorCodes:    []string{"TrailNotFoundException"},
		ErrorMessages: []string{"Unknown trail: arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail for the user: 111122223333"},
		AccessKeyIDs:  []string{"ASIAEXAMPLEALICE0001"},
	}
	// One of the three calls failed; the context is the earliest event's.
	want.Outcome, want.FailedCount = OutcomeMixed, 1
	if c := f.Context; c == nil || c.Actor != "Admin/alice" || c.Identity.Role != "Admin" || c.Identity.Session != "alice" ||
		c.Action == nil || c.Action.Name != "cloudtrail:StopLogging" || c.Action.AccessLevel != "Write" {
		t.Errorf("context %+v", f.Context)
	}
	want.Context = f.Context
	if !reflect.DeepEqual(f, want) {
		t.Errorf("alice's CloudTrail finding:\n got %s\nwant %s", mustJSON(f), mustJSON(want))
	}
	if trail[1].Actor != "bob" || trail[1].Region != "us-west-2" || trail[1].Count != 1 {
		t.Errorf("bob's CloudTrail finding: %s", mustJSON(trail[1]))
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestDedupKey checks that rule, account, region and actor each split
// findings, and nothing else does.
func TestDedupKey(t *testing.T) {
	base := rec{id: "e1", time: "2024-05-01T10:00:00Z", ip: "203.0.113.1", agent: "aws-cli/2"}
	same := base
	same.id, same.time, same.ip, same.agent, same.name = "e2", "2024-05-01T10:05:00Z", "203.0.113.2", "Boto3/1", "ListBuckets"
	otherActor, otherAccount, otherRegion := base, base, base
	otherActor.id, otherActor.session = "e3", "mallory"
	otherAccount.id, otherAccount.account = "e4", "444455556666"
	otherRegion.id, otherRegion.region = "e5", "eu-west-1"
	evs := decodeRecs(t, base, same, otherActor, otherAccount, otherRegion)

	other := &RuleInfo{ID: "another", Title: "Another rule", Level: "high"}
	a := NewAggregator(0)
	for _, ev := range evs {
		a.Add(assumeRoleRule, testView(ev))
	}
	a.Add(other, testView(evs[0]))
	findings := a.Findings()
	if len(findings) != 5 {
		t.Fatalf("%d findings, want 5: %s", len(findings), mustJSON(findings))
	}
	if f := findings[0]; f.Rule.ID != "another" || f.Count != 1 {
		t.Errorf("first finding should be the high rule's: %s", mustJSON(f))
	}
	for _, f := range findings[1:] {
		wantCount := int64(1)
		if f.Actor == "Admin/alice" && f.Region == "us-east-1" && f.Account == "111122223333" {
			wantCount = 2
			if !slices.Equal(f.EventIDs, []string{"e1", "e2"}) {
				t.Errorf("event ids %v, want [e1 e2]", f.EventIDs)
			}
		}
		if f.Count != wantCount {
			t.Errorf("finding %s/%s/%s has count %d, want %d", f.Account, f.Region, f.Actor, f.Count, wantCount)
		}
		if f.ID != DedupID(f.Rule.ID, f.Account, f.Region, f.Actor) {
			t.Errorf("finding id %s is not the hash of its key", f.ID)
		}
	}
}

func TestDedupID(t *testing.T) {
	// Pinned: stored findings are keyed by it, so it must never change.
	const want = "7f6a5b14003370becbf7c9a8f704948c"
	if got := DedupID("r", "111122223333", "us-east-1", "bob"); got != want {
		t.Errorf("DedupID = %s, want %s", got, want)
	}
	if DedupID("r", "ab", "", "c") == DedupID("r", "a", "b", "c") {
		t.Error("DedupID does not separate its fields")
	}
	// The same rule id through another *RuleInfo gives the same finding id.
	evs := decodeRecs(t, rec{id: "e1", time: "2024-05-01T10:00:00Z"})
	copyOfRule := *assumeRoleRule
	a, b := NewAggregator(0), NewAggregator(0)
	a.Add(assumeRoleRule, testView(evs[0]))
	b.Add(&copyOfRule, testView(evs[0]))
	if a.Findings()[0].ID != b.Findings()[0].ID {
		t.Error("finding id depends on the RuleInfo pointer")
	}
}

func TestEvidenceCap(t *testing.T) {
	// Five events of one group, added out of time order; two share a time.
	evs := decodeRecs(t,
		rec{id: "e3", time: "2024-05-01T10:03:00Z"},
		rec{id: "e1", time: "2024-05-01T10:01:00Z"},
		rec{id: "e5", time: "2024-05-01T10:05:00Z"},
		rec{id: "e2b", time: "2024-05-01T10:02:00Z"},
		rec{id: "e2a", time: "2024-05-01T10:02:00Z"},
	)
	for _, tc := range []struct {
		cap       int
		ids       []string
		truncated bool
	}{
		{3, []string{"e1", "e2a", "e2b"}, true},
		{4, []string{"e1", "e2a", "e2b", "e3"}, true},
		{5, []string{"e1", "e2a", "e2b", "e3", "e5"}, false},
		{1000, []string{"e1", "e2a", "e2b", "e3", "e5"}, false},
	} {
		a := NewAggregator(tc.cap)
		for _, ev := range evs {
			a.Add(assumeRoleRule, testView(ev))
		}
		f := a.Findings()[0]
		if !slices.Equal(f.EventIDs, tc.ids) || f.EventIDsTruncated != tc.truncated || f.Count != 5 {
			t.Errorf("cap %d: ids %v truncated %v count %d; want %v %v 5", tc.cap, f.EventIDs, f.EventIDsTruncated, f.Count, tc.ids, tc.truncated)
		}
		if f.FirstSeen != time.Date(2024, 5, 1, 10, 1, 0, 0, time.UTC) || f.LastSeen != time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC) {
			t.Errorf("cap %d: seen %v → %v", tc.cap, f.FirstSeen, f.LastSeen)
		}
	}
	if NewAggregator(0).MaxEvidence() != DefaultMaxEvidence {
		t.Errorf("default cap is %d, want %d", NewAggregator(0).MaxEvidence(), DefaultMaxEvidence)
	}
}

func TestRedeliveredEvent(t *testing.T) {
	evs := decodeRecs(t, rec{id: "e1", time: "2024-05-01T10:01:00Z"}, rec{id: "e2", time: "2024-05-01T10:02:00Z"})
	a := NewAggregator(0)
	a.Add(assumeRoleRule, testView(evs[0]))
	a.Add(assumeRoleRule, testView(evs[1]))
	a.Add(assumeRoleRule, testView(evs[0])) // the same record again, as at-least-once delivery may do
	f := a.Findings()[0]
	if f.Count != 3 || !slices.Equal(f.EventIDs, []string{"e1", "e2"}) {
		t.Errorf("count %d ids %v; want 3 [e1 e2]", f.Count, f.EventIDs)
	}
}

func TestEventWithoutTimeOrID(t *testing.T) {
	evs := decodeAll(t, `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","userName":"bob"},"eventName":"ListUsers","recipientAccountId":"111122223333"}`)
	a := NewAggregator(0)
	a.Add(assumeRoleRule, testView(evs[0]))
	f := a.Findings()[0]
	if f.Count != 1 || len(f.EventIDs) != 0 || !f.FirstSeen.IsZero() || f.EventIDs == nil {
		t.Errorf("finding %s", mustJSON(f))
	}
	if b := mustJSON(f); strings.Contains(b, "first_seen") {
		t.Errorf("first_seen written without an event time: %s", b)
	}
}

// TestDistinctKeepsFirstAppearances feeds more distinct user agents than a
// finding keeps, latest first, and expects the earliest ones in time order.
func TestDistinctKeepsFirstAppearances(t *testing.T) {
	var recs []rec
	for i := 14; i >= 0; i-- {
		recs = append(recs, rec{id: fmt.Sprintf("e%02d", i), time: fmt.Sprintf("2024-05-01T10:%02d:00Z", i), agent: fmt.Sprintf("agent-%02d", i)})
	}
	a := NewAggregator(0)
	for _, ev := range decodeRecs(t, recs...) {
		a.Add(assumeRoleRule, testView(ev))
	}
	var want []string
	for i := range MaxDistinct {
		want = append(want, fmt.Sprintf("agent-%02d", i))
	}
	if got := a.Findings()[0].UserAgents; !slices.Equal(got, want) {
		t.Errorf("user agents %v, want %v", got, want)
	}
}

// TestMergeEqualsSingle splits a random stream between workers in several
// ways and checks that merging gives exactly what one aggregator gives, and
// that both match a brute-force computation of what a finding should hold.
func TestMergeEqualsSingle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(prefix string, n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprintf("%s%d", prefix, rng.IntN(n))
	}
	var recs []rec
	for i := range 800 {
		r := rec{
			id:      fmt.Sprintf("%08x-0000-4000-8000-%012d", rng.Uint32(), i),
			time:    time.Date(2024, 5, 1, 10, 0, rng.IntN(240), 0, time.UTC).Format(time.RFC3339), // many share a second
			account: []string{"111122223333", "444455556666"}[rng.IntN(2)],
			region:  []string{"us-east-1", "eu-west-1"}[rng.IntN(2)],
			session: pick("session-", 3),
			name:    pick("Call", 14),
			source:  pick("svc", 3) + ".amazonaws.com",
			ip:      pick("198.51.100.", 25),
			agent:   pick("agent/", 30),
		}
		if rng.IntN(4) == 0 {
			r.errorCode = pick("Error", 12)
		}
		recs = append(recs, r)
	}
	evs := decodeRecs(t, recs...)
	for range 80 { // redelivered records
		evs = append(evs, evs[rng.IntN(len(recs))])
	}
	rules := []*RuleInfo{assumeRoleRule, {ID: "r2", Title: "Second rule", Level: "high"}}
	const maxEvidence = 7
	add := func(a *Aggregator, ev *event.Event) {
		a.Add(rules[0], testView(ev))
		if ev.Str(event.AWSRegion) == "eu-west-1" {
			a.Add(rules[1], testView(ev))
		}
	}
	shuffled := func() []*event.Event {
		s := slices.Clone(evs)
		rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		return s
	}

	single := NewAggregator(maxEvidence)
	for _, ev := range shuffled() {
		add(single, ev)
	}
	want := single.Findings()
	checkAgainstBruteForce(t, want, evs, rules, maxEvidence)

	for _, workers := range []int{2, 5, 16} {
		parts := make([]*Aggregator, workers)
		for i := range parts {
			parts[i] = NewAggregator(maxEvidence)
		}
		for i, ev := range shuffled() {
			add(parts[i%workers], ev)
		}
		// Merge as a tree, the way workers finishing at different times might.
		for len(parts) > 1 {
			parts[len(parts)-2].Merge(parts[len(parts)-1])
			if parts[len(parts)-1].Len() != 0 {
				t.Fatal("Merge left the merged aggregator non-empty")
			}
			parts = parts[:len(parts)-1]
			rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		}
		if got := parts[0].Findings(); !reflect.DeepEqual(got, want) {
			t.Errorf("%d workers merged differ from one aggregator:\n got %s\nwant %s", workers, mustJSON(got), mustJSON(want))
		}
	}
}

// checkAgainstBruteForce recomputes every finding from the whole event list.
func checkAgainstBruteForce(t *testing.T, findings []*Finding, evs []*event.Event, rules []*RuleInfo, maxEvidence int) {
	t.Helper()
	type key struct{ rule, account, region, actor string }
	type stampT struct {
		t time.Time
		s string
	}
	byTime := func(a, b stampT) int { return cmp.Or(a.t.Compare(b.t), cmp.Compare(a.s, b.s)) }
	members := map[key][]*event.Event{}
	for _, ev := range evs {
		for i, r := range rules {
			if i == 1 && ev.Str(event.AWSRegion) != "eu-west-1" {
				continue
			}
			k := key{r.ID, ev.Account(), ev.Str(event.AWSRegion), testView(ev).Actor()}
			members[k] = append(members[k], ev)
		}
	}
	if len(findings) != len(members) {
		t.Fatalf("%d findings, want %d", len(findings), len(members))
	}
	firstAppearances := func(group []*event.Event, f event.Field) []string {
		first := map[string]time.Time{}
		for _, ev := range group {
			v := ev.Str(f)
			if t0, ok := first[v]; v != "" && (!ok || ev.Time.Before(t0)) {
				first[v] = ev.Time
			}
		}
		var s []stampT
		for v, t0 := range first {
			s = append(s, stampT{t0, v})
		}
		slices.SortFunc(s, byTime)
		out := []string{}
		for _, x := range s[:min(len(s), MaxDistinct)] {
			out = append(out, x.s)
		}
		return out
	}
	for _, f := range findings {
		group := members[key{f.Rule.ID, f.Account, f.Region, f.Actor}]
		var stamps []stampT
		for _, ev := range group {
			stamps = append(stamps, stampT{ev.Time, ev.Str(event.EventID)})
		}
		slices.SortFunc(stamps, byTime)
		ids := []string{}
		for _, s := range stamps[:min(len(stamps), maxEvidence)] {
			if len(ids) == 0 || ids[len(ids)-1] != s.s {
				ids = append(ids, s.s)
			}
		}
		if f.Count != int64(len(group)) || !slices.Equal(f.EventIDs, ids) || f.EventIDsTruncated != (len(group) > maxEvidence) {
			t.Errorf("%s: count %d ids %v truncated %v; want %d %v %v", f.ID, f.Count, f.EventIDs, f.EventIDsTruncated, len(group), ids, len(group) > maxEvidence)
		}
		if !f.FirstSeen.Equal(stamps[0].t) || !f.LastSeen.Equal(stamps[len(stamps)-1].t) {
			t.Errorf("%s: seen %v → %v, want %v → %v", f.ID, f.FirstSeen, f.LastSeen, stamps[0].t, stamps[len(stamps)-1].t)
		}
		for name, got := range map[string][]string{
			"userAgent": f.UserAgents, "sourceIPAddress": f.SourceIPAddresses, "eventName": f.EventNames,
			"eventSource": f.EventSources, "errorCode": f.ErrorCodes,
		} {
			field := map[string]event.Field{
				"userAgent": event.UserAgent, "sourceIPAddress": event.SourceIPAddress, "eventName": event.EventName,
				"eventSource": event.EventSource, "errorCode": event.ErrorCode,
			}[name]
			if want := firstAppearances(group, field); !slices.Equal(got, want) {
				t.Errorf("%s: %s values %v, want %v", f.ID, name, got, want)
			}
		}
	}
}

// TestFindingsDoNotRetainEvents checks that no string of a finding points into
// an event's raw bytes: an aggregator must not keep whole records alive.
func TestFindingsDoNotRetainEvents(t *testing.T) {
	evs := fixtureEvents(t)
	findings := aggregate(testRules(), evs, 0).Findings()
	inEvent := func(s string) bool {
		if s == "" {
			return false
		}
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		for _, ev := range evs {
			start := uintptr(unsafe.Pointer(unsafe.SliceData(ev.Raw)))
			if p >= start && p < start+uintptr(len(ev.Raw)) {
				return true
			}
		}
		return false
	}
	checked := 0
	for _, f := range findings {
		strs := []string{f.Actor, f.Account, f.Region}
		for _, list := range [][]string{f.EventIDs, f.EventSources, f.EventNames, f.SourceIPAddresses, f.UserAgents, f.ErrorCodes, f.AccessKeyIDs} {
			strs = append(strs, list...)
		}
		for _, s := range strs {
			checked++
			if inEvent(s) {
				t.Errorf("finding %s holds %q, a view into an event's raw JSON", f.ID, s)
			}
		}
	}
	// The check above would pass vacuously if the decoder copied strings.
	if !inEvent(evs[0].Str(event.EventID)) {
		t.Fatal("event strings are not views into Raw: this test checks nothing")
	}
	if checked < 100 {
		t.Fatalf("only %d strings checked", checked)
	}
}

func TestSortOrder(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2024, 5, 1, h, 0, 0, 0, time.UTC) }
	f := func(level, title string, first time.Time) *Finding {
		return &Finding{Severity: SeverityFor(level), Rule: RuleRef{Title: title}, FirstSeen: first}
	}
	want := []*Finding{
		f("critical", "Z", at(9)),
		f("high", "A", at(11)),
		f("high", "B", at(8)),
		f("high", "B", at(10)),
		f("low", "A", at(7)),
		f("informational", "A", at(1)),
	}
	got := slices.Clone(want)
	for range 20 {
		rand.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("Sort order:\n got %s\nwant %s", mustJSON(got), mustJSON(want))
		}
	}
}

// chronological returns n assumed-role events of one session, a second apart
// from start, with a few distinct values per field as in a real trail.
func chronological(t testing.TB, n int, start time.Time) []*event.Event {
	recs := make([]rec, n)
	for i := range recs {
		recs[i] = rec{
			id:    fmt.Sprintf("5e%06d-1b2a-4c3d-8e9f-0a1b2c3d4e5f", i),
			time:  start.Add(time.Duration(i) * time.Second).Format(time.RFC3339),
			name:  []string{"DescribeInstances", "GetObject", "ListBuckets", "AssumeRole"}[i%4],
			ip:    []string{"198.51.100.7", "203.0.113.9"}[i%2],
			agent: "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.156.0",
		}
	}
	return decodeRecs(t, recs...)
}

func TestAddDoesNotAllocateForExistingFinding(t *testing.T) {
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	evs := chronological(t, 3000, start)
	a := NewAggregator(1000)
	for _, ev := range evs[:1000] {
		a.Add(assumeRoleRule, testView(ev))
	}
	views := make([]*enrich.View, len(evs)) // built before measuring: Add is what is measured
	for i, ev := range evs {
		views[i] = testView(ev)
	}
	i := 1000
	allocs := testing.AllocsPerRun(1000, func() {
		a.Add(assumeRoleRule, views[i])
		i++
	})
	if allocs != 0 {
		t.Errorf("Add on an existing finding allocates %.1f times per event", allocs)
	}
}

// BenchmarkAggregatorAdd measures Add for events of findings that already
// exist, once their evidence is full: the steady state of a broad rule.
func BenchmarkAggregatorAdd(b *testing.B) {
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	warm := chronological(b, DefaultMaxEvidence, start)
	var later []*enrich.View // views built before timing: Add is what is measured
	for _, ev := range chronological(b, 4096, start.Add(time.Hour)) {
		later = append(later, testView(ev))
	}

	b.Run("one-finding", func(b *testing.B) {
		a := NewAggregator(0)
		for _, ev := range warm {
			a.Add(assumeRoleRule, testView(ev))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			a.Add(assumeRoleRule, later[i%len(later)])
		}
	})

	// Many findings: 1,000 rules over the same events, so each Add looks up
	// one finding among a thousand.
	b.Run("1000-findings", func(b *testing.B) {
		rules := make([]*RuleInfo, 1000)
		for i := range rules {
			rules[i] = &RuleInfo{ID: fmt.Sprint(i), Level: "low"}
		}
		const maxEvidence = 50 // full after the warm-up, and 1,000 findings stay small
		a := NewAggregator(maxEvidence)
		for _, r := range rules {
			for _, ev := range warm[:maxEvidence] {
				a.Add(r, testView(ev))
			}
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			a.Add(rules[i%len(rules)], later[i%len(later)])
		}
	})
}

func TestFailedAttemptsScaleSeverity(t *testing.T) {
	failed := decodeAll(t, `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEMALLORY1","userName":"mallory"},"eventTime":"2024-05-01T10:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.66","userAgent":"aws-cli/2.15.30","errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::111122223333:user/mallory is not authorized to perform: cloudtrail:StopLogging","requestParameters":{"name":"main"},"responseElements":null,"eventID":"f0000000-0000-4000-8000-000000000001","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`)[0]
	high := &RuleInfo{ID: "r-high", Title: "Trail stopped", Level: "high"}
	a := NewAggregator(0)
	a.Add(high, testView(failed))
	f := a.Findings()[0]
	if f.Outcome != OutcomeFailed || f.FailedCount != 1 || f.Severity != (Severity{6.0, Medium}) {
		t.Errorf("failed attempt: outcome %q failed %d severity %+v, want failed 1 {6.0 Medium}", f.Outcome, f.FailedCount, f.Severity)
	}
	if f.Actor != "mallory" || f.Context == nil || f.Context.Identity.KeyType != "long-term" {
		t.Errorf("actor %q context %+v", f.Actor, f.Context)
	}
}
