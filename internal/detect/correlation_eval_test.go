package detect

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/event"
)

// extraPack adds, to cloudTrailPack, a temporal correlation with aliases (a
// user is created, and that user acts, within an hour, in any order) and a
// value_sum.
const extraPack = `
---
title: Any IAM user call
id: 7d0b6a52-0005-4000-8000-000000000005
name: iam_user_call
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        userIdentity.type: IAMUser
    condition: sel
---
title: S3 download
id: 7d0b6a52-0006-4000-8000-000000000006
name: s3_get
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventName: GetObject
    condition: sel
---
title: New user active within the hour
id: 7d0b6a52-0104-4000-8000-000000000104
correlation:
    type: temporal
    rules:
        - iam_create_user
        - iam_user_call
    group-by:
        - new_user
    timespan: 1h
    aliases:
        new_user:
            iam_create_user: requestParameters.userName
            iam_user_call: userIdentity.userName
level: high
---
title: Large download by one principal
id: 7d0b6a52-0105-4000-8000-000000000105
correlation:
    type: value_sum
    rules: [s3_get]
    group-by: [userIdentity.arn]
    timespan: 10m
    condition:
        field: additionalEventData.bytesTransferredOut
        gt: 1000
level: medium
`

const (
	streamBurst    = "7d0b6a52-0101-4000-8000-000000000101"
	streamDistinct = "7d0b6a52-0102-4000-8000-000000000102"
	streamSequence = "7d0b6a52-0103-4000-8000-000000000103"
	streamNewUser  = "7d0b6a52-0104-4000-8000-000000000104"
	streamDownload = "7d0b6a52-0105-4000-8000-000000000105"
)

// t0 is the start of the test corpora.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// call is one CloudTrail API call of the test corpora.
type call struct {
	user   string        // the caller, an IAM user of account 123456789012
	name   string        // eventName
	at     time.Duration // after t0
	denied bool          // errorCode AccessDenied
	target string        // requestParameters.userName
	bytes  int           // additionalEventData.bytesTransferredOut
	id     string        // eventID; derived from the other fields when ""
}

func (c call) record() string {
	id := c.id
	if id == "" {
		id = fmt.Sprintf("%s-%s-%d-%v", c.user, c.name, c.at, c.denied)
	}
	source := "iam.amazonaws.com"
	if c.name == "GetObject" {
		source = "s3.amazonaws.com"
	}
	errPart := ""
	if c.denied {
		errPart = `"errorCode":"AccessDenied","errorMessage":"User is not authorized to perform this operation",`
	}
	return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDA3EXAMPLE%s","arn":"arn:aws:iam::123456789012:user/%s","accountId":"123456789012","accessKeyId":"AKIA3EXAMPLEKEY0001","userName":%q},"eventTime":%q,"eventSource":%q,"eventName":%q,"awsRegion":"us-east-1","sourceIPAddress":"192.0.2.10","userAgent":"aws-cli/2.15.30",%s"requestParameters":{"userName":%q},"responseElements":null,"additionalEventData":{"bytesTransferredOut":%d},"eventID":%q,"readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`,
		strings.ToUpper(c.user), c.user, c.user, t0.Add(c.at).Format(time.RFC3339Nano), source, c.name, errPart, c.target, c.bytes, id)
}

func arn(user string) string { return "arn:aws:iam::123456789012:user/" + user }

// harness feeds events through an Engine and a Correlator into a State.
type harness struct {
	engine *Engine
	corr   *Correlator
	state  State
}

func newHarness(t testing.TB, pack string, st State) *harness {
	rules, corrs := linkedPack(t, pack)
	return &harness{NewEngine(rules), NewCorrelator(corrs, 0), st}
}

// occurrences matches the events and returns their occurrences.
func (h *harness) occurrences(events []*event.Event) []Occurrence {
	var occ []Occurrence
	var matched []*Rule
	for _, ev := range events {
		v := testView(ev)
		matched = matched[:0]
		h.engine.Match(v, func(r *Rule) { matched = append(matched, r) })
		occ = append(occ, h.corr.Match(v, matched)...)
	}
	return occ
}

// feed processes events in batches of size n (all at once when n <= 0),
// one Update per batch, and returns every hit.
func (h *harness) feed(t testing.TB, events []*event.Event, n int) []CorrelationHit {
	t.Helper()
	if n <= 0 {
		n = len(events)
	}
	var hits []CorrelationHit
	for lo := 0; lo < len(events); lo += n {
		occ := h.occurrences(events[lo:min(lo+n, len(events))])
		err := h.state.Update(context.Background(), func(tx Tx) error {
			got, err := h.corr.Add(context.Background(), tx, occ)
			hits = append(hits, got...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return hits
}

func decodeCalls(t testing.TB, calls []call) []*event.Event {
	out := make([]*event.Event, len(calls))
	for i, c := range calls {
		out[i] = decode(t, c.record())
	}
	return out
}

// run feeds calls to a fresh state in one batch and returns the hits.
func run(t *testing.T, pack string, calls []call) []CorrelationHit {
	t.Helper()
	return newHarness(t, pack, NewMemoryState()).feed(t, decodeCalls(t, calls), 0)
}

// only returns the hits of one stream.
func only(hits []CorrelationHit, stream string) []CorrelationHit {
	var out []CorrelationHit
	for _, h := range hits {
		if h.Correlation.Stream() == stream {
			out = append(out, h)
		}
	}
	return out
}

func denied(user, name string, at time.Duration) call {
	return call{user: user, name: name, at: at, denied: true}
}

// burst returns n denied calls by user, one every step from start.
func burst(user string, n int, start, step time.Duration, names ...string) []call {
	var out []call
	for i := range n {
		name := "ListUsers"
		if len(names) > 0 {
			name = names[i%len(names)]
		}
		out = append(out, denied(user, name, start+time.Duration(i)*step))
	}
	return out
}

func TestCorrelationEventCount(t *testing.T) {
	pack := cloudTrailPack + extraPack
	t.Run("ten denied within 10m", func(t *testing.T) {
		calls := append(burst("alice", 10, 0, time.Minute), call{user: "alice", name: "ListUsers", at: 30 * time.Second})
		hits := only(run(t, pack, calls), streamBurst)
		if len(hits) != 1 {
			t.Fatalf("hits %+v", hits)
		}
		h := hits[0]
		want := []GroupValue{{"userIdentity.arn", arn("alice")}}
		if h.Count != 10 || len(h.Occurrences) != 10 || !h.First.Equal(t0) || !h.Last.Equal(t0.Add(9*time.Minute)) ||
			!reflect.DeepEqual(h.GroupValues, want) || h.Group != `["`+arn("alice")+`"]` || h.Values != nil {
			t.Errorf("hit %+v", h)
		}
		if ev := h.Evidence(); len(ev) != 10 || ev[0].Value != "alice-ListUsers-0-true" || !ev[0].Time.Equal(t0) {
			t.Errorf("evidence %v", ev)
		}
	})
	negative := map[string][]call{
		"nine denied":                    burst("alice", 9, 0, time.Minute),
		"ten denied over 10m1s":          append(burst("alice", 9, 0, time.Minute), denied("alice", "ListUsers", 10*time.Minute+time.Second)),
		"five each by two principals":    append(burst("alice", 5, 0, time.Minute), burst("bob", 5, 0, time.Minute)...),
		"ten calls, nine denied":         append(burst("alice", 9, 0, time.Minute), call{user: "alice", name: "ListUsers", at: 9 * time.Minute}),
		"ten denied spread over 2 hours": burst("alice", 10, 0, 13*time.Minute),
	}
	for name, calls := range negative {
		t.Run(name, func(t *testing.T) {
			if hits := only(run(t, pack, calls), streamBurst); len(hits) != 0 {
				t.Errorf("hits %+v", hits)
			}
		})
	}
	t.Run("boundary: exactly 10m apart is within", func(t *testing.T) {
		calls := append(burst("alice", 9, 0, time.Minute), denied("alice", "ListUsers", 10*time.Minute))
		hits := only(run(t, pack, calls), streamBurst)
		if len(hits) != 1 || hits[0].Count != 10 || !hits[0].Last.Equal(t0.Add(10*time.Minute)) {
			t.Errorf("hits %+v", hits)
		}
	})
	t.Run("group isolation", func(t *testing.T) {
		calls := append(burst("alice", 10, 0, time.Second), burst("bob", 9, 0, time.Second)...)
		hits := only(run(t, pack, calls), streamBurst)
		if len(hits) != 1 || hits[0].GroupValues[0].Value != arn("alice") || hits[0].Count != 10 {
			t.Errorf("hits %+v", hits)
		}
	})
	t.Run("coverage: every event of the windows that hold", func(t *testing.T) {
		// 12 denials a minute apart: windows from minute 0, 1 and 2 hold 10 or
		// more (minute 2's holds 10: minutes 2..11); all 12 are covered.
		// A 13th, 15 minutes later, is in no window that holds.
		calls := append(burst("alice", 12, 0, time.Minute), denied("alice", "ListUsers", 26*time.Minute))
		hits := only(run(t, pack, calls), streamBurst)
		if len(hits) != 1 || hits[0].Count != 12 || !hits[0].Last.Equal(t0.Add(11*time.Minute)) {
			t.Errorf("hits %+v", hits)
		}
	})
}

func TestCorrelationValueCount(t *testing.T) {
	pack := cloudTrailPack + extraPack
	names := []string{"ListUsers", "ListRoles", "GetAccountAuthorizationDetails", "ListPolicies", "ListGroups"}
	hits := only(run(t, pack, burst("mallory", 5, 0, 2*time.Minute, names...)), streamDistinct)
	if len(hits) != 1 || hits[0].Count != 5 {
		t.Fatalf("hits %+v", hits)
	}
	var got []string
	for _, v := range hits[0].Values {
		got = append(got, v.Value)
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("values %v, want the denied actions in time order %v", got, names)
	}
	// Five denials of four distinct actions: no hit; neither five distinct
	// actions spread over more than 10 minutes.
	if hits := only(run(t, pack, burst("mallory", 5, 0, time.Minute, names[:4]...)), streamDistinct); len(hits) != 0 {
		t.Errorf("4 distinct: hits %+v", hits)
	}
	if hits := only(run(t, pack, burst("mallory", 5, 0, 151*time.Second, names...)), streamDistinct); len(hits) != 0 {
		t.Errorf("over 10m4s: hits %+v", hits)
	}
	// Ten denials of the same action make a burst but not a distinct count.
	all := run(t, pack, burst("mallory", 10, 0, time.Second))
	if len(only(all, streamDistinct)) != 0 || len(only(all, streamBurst)) != 1 {
		t.Errorf("same action: hits %+v", all)
	}
}

func TestCorrelationTemporalOrdered(t *testing.T) {
	pack := cloudTrailPack + extraPack
	seq := func(user string, at ...time.Duration) []call {
		return []call{
			{user: user, name: "CreateUser", at: at[0], target: "backdoor"},
			{user: user, name: "CreateAccessKey", at: at[1], target: "backdoor"},
			{user: user, name: "AttachUserPolicy", at: at[2], target: "backdoor"},
		}
	}
	hits := only(run(t, pack, seq("admin", 0, 10*time.Minute, 59*time.Minute)), streamSequence)
	if len(hits) != 1 || hits[0].Count != 3 || hits[0].GroupValues[0].Value != arn("admin") {
		t.Fatalf("hits %+v", hits)
	}
	var tags []string
	for _, v := range hits[0].Values {
		tags = append(tags, v.Value)
	}
	if want := []string{"7d0b6a52-0002-4000-8000-000000000002", "7d0b6a52-0003-4000-8000-000000000003", "7d0b6a52-0004-4000-8000-000000000004"}; !reflect.DeepEqual(tags, want) {
		t.Errorf("tags %v", tags)
	}
	cases := map[string]struct {
		calls []call
		want  int
	}{
		"exactly 1h":            {seq("admin", 0, 30*time.Minute, time.Hour), 3},
		"same second":           {seq("admin", 0, 0, 0), 3},
		"over 1h":               {seq("admin", 0, 30*time.Minute, time.Hour+time.Second), 0},
		"key before user":       {seq("admin", 10*time.Minute, 0, 20*time.Minute), 0},
		"policy before key":     {seq("admin", 0, 20*time.Minute, 10*time.Minute), 0},
		"two actors":            {append(seq("admin", 0, time.Minute, 2*time.Minute)[:2], seq("eve", 0, time.Minute, 2*time.Minute)[2]), 0},
		"denied steps excluded": {append(seq("admin", 0, time.Minute, 2*time.Minute)[:2], call{user: "admin", name: "AttachUserPolicy", at: 3 * time.Minute, denied: true}), 0},
		// An earlier out-of-order key is not needed: a later one completes
		// the sequence, and all four occurrences lie in windows that hold.
		"extra key first": {append(seq("admin", time.Minute, 2*time.Minute, 3*time.Minute), call{user: "admin", name: "CreateAccessKey", at: 0, target: "x"}), 4},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			hits := only(run(t, pack, c.calls), streamSequence)
			got := 0
			for _, h := range hits {
				got += h.Count
			}
			if c.want == 0 && len(hits) != 0 || c.want > 0 && (len(hits) != 1 || got != c.want) {
				t.Errorf("hits %+v, want %d covered", hits, c.want)
			}
		})
	}
}

func TestCorrelationTemporalAliases(t *testing.T) {
	pack := cloudTrailPack + extraPack
	created := call{user: "admin", name: "CreateUser", at: 40 * time.Minute, target: "mallory"}
	// mallory acts before her creation is logged (any order within 1h).
	calls := []call{created, {user: "mallory", name: "ListBuckets", at: 0}, {user: "trent", name: "ListBuckets", at: 41 * time.Minute}}
	hits := only(run(t, pack, calls), streamNewUser)
	if len(hits) != 1 || hits[0].Count != 2 || !reflect.DeepEqual(hits[0].GroupValues, []GroupValue{{"new_user", "mallory"}}) {
		t.Fatalf("hits %+v", hits)
	}
	// The admin's own CreateUser call is also an IAM user call, grouped
	// under "admin": it must not pair with the creation of mallory.
	calls = []call{created, {user: "trent", name: "ListBuckets", at: 41 * time.Minute}}
	if hits := only(run(t, pack, calls), streamNewUser); len(hits) != 0 {
		t.Errorf("hits %+v", hits)
	}
	calls = []call{created, {user: "mallory", name: "ListBuckets", at: 40*time.Minute + time.Hour + time.Second}}
	if hits := only(run(t, pack, calls), streamNewUser); len(hits) != 0 {
		t.Errorf("over 1h: hits %+v", hits)
	}
}

func TestCorrelationValueSum(t *testing.T) {
	pack := cloudTrailPack + extraPack
	get := func(user string, at time.Duration, bytes int) call {
		return call{user: user, name: "GetObject", at: at, bytes: bytes}
	}
	hits := only(run(t, pack, []call{get("u", 0, 600), get("u", 5*time.Minute, 401), get("v", 0, 999)}), streamDownload)
	if len(hits) != 1 || hits[0].Count != 2 || hits[0].GroupValues[0].Value != arn("u") {
		t.Fatalf("hits %+v", hits)
	}
	for name, calls := range map[string][]call{
		"exactly 1000": {get("u", 0, 600), get("u", 5*time.Minute, 400)},
		"too far":      {get("u", 0, 600), get("u", 11*time.Minute, 401)},
	} {
		if hits := only(run(t, pack, calls), streamDownload); len(hits) != 0 {
			t.Errorf("%s: hits %+v", name, hits)
		}
	}
}

// corpus is a random mix of calls over three hours: denied bursts, IAM
// sequences (some in order, some not), new users acting, downloads, noise.
func corpus(seed uint64, n int) []call {
	rng := rand.New(rand.NewPCG(seed, 7))
	users := []string{"alice", "bob", "carol", "mallory"}
	names := []string{"ListUsers", "ListRoles", "ListPolicies", "GetUser", "ListGroups", "DescribeInstances", "ListBuckets"}
	var out []call
	for i := range n {
		u := users[rng.IntN(len(users))]
		at := time.Duration(rng.IntN(3*3600)) * time.Second
		c := call{user: u, at: at, id: fmt.Sprintf("ev-%05d", i)}
		switch r := rng.IntN(20); {
		case r < 11:
			c.name, c.denied = names[rng.IntN(len(names))], rng.IntN(3) > 0
		case r < 15:
			c.name = []string{"CreateUser", "CreateAccessKey", "AttachUserPolicy"}[rng.IntN(3)]
			c.target = users[rng.IntN(len(users))]
		case r < 17:
			c.name, c.bytes = "GetObject", rng.IntN(900)
		default:
			c.name = "GetCallerIdentity"
		}
		out = append(out, c)
	}
	return out
}

// hitSet is what must not depend on order or batching: for each stream and
// group, the covered occurrences (each reported once) and the merged
// summary a finding would hold.
type hitSet map[string]*groupSummary

type groupSummary struct {
	Count       int
	First, Last time.Time
	Occurrences []Occurrence // all reported, sorted
	Evidence    []Stamp      // the earliest, merged as FindingRecord merges
	Values      []Stamp
}

func summarize(t testing.TB, hits []CorrelationHit, limit int) hitSet {
	t.Helper()
	out := hitSet{}
	for _, h := range hits {
		k := h.Correlation.Stream() + " " + h.Group
		s := out[k]
		if s == nil {
			s = &groupSummary{}
			out[k] = s
		}
		if h.Count != len(h.Occurrences) && len(h.Occurrences) < limit {
			t.Errorf("hit count %d with %d occurrences under the limit", h.Count, len(h.Occurrences))
		}
		s.Count += h.Count
		s.First, s.Last = minTime(s.First, h.First), maxTime(s.Last, h.Last)
		s.Occurrences = append(s.Occurrences, h.Occurrences...)
		s.Evidence = stampSet(s.Evidence, h.Evidence(), limit, false)
		s.Values = stampSet(s.Values, h.Values, limit, true)
	}
	for k, s := range out {
		slices.SortFunc(s.Occurrences, CompareOccurrences)
		if len(slices.Compact(slices.Clone(s.Occurrences))) != len(s.Occurrences) {
			t.Errorf("%s: an occurrence was reported twice", k)
		}
	}
	return out
}

// oracle computes, by brute force from every occurrence, the covered ones:
// those in some window [s, s+timespan] whose occurrences satisfy the
// condition, s ranging over occurrence times.
func oracle(c *Correlator, occ []Occurrence) map[string][]Occurrence {
	groups := map[string][]Occurrence{}
	for _, o := range occ {
		o = o.Canonical()
		k := o.Stream + " " + o.Group
		if !slices.Contains(groups[k], o) {
			groups[k] = append(groups[k], o)
		}
	}
	out := map[string][]Occurrence{}
	for k, list := range groups {
		cc := c.byStream[list[0].Stream]
		span := cc.c.Timespan
		for _, x := range list {
			for _, s := range list {
				if s.Time.After(x.Time) || x.Time.Sub(s.Time) > span {
					continue
				}
				var w []Occurrence
				for _, o := range list {
					if !o.Time.Before(s.Time) && o.Time.Sub(s.Time) <= span {
						w = append(w, o)
					}
				}
				if oracleHolds(cc, w) {
					out[k] = append(out[k], x)
					break
				}
			}
		}
		slices.SortFunc(out[k], CompareOccurrences)
	}
	return out
}

func oracleHolds(cc *compiledCorrelation, w []Occurrence) bool {
	c := cc.c
	distinct := func(f func(Occurrence) string) float64 {
		set := map[string]bool{}
		for _, o := range w {
			set[f(o)] = true
		}
		return float64(len(set))
	}
	switch c.Type {
	case CorrelationEventCount:
		return c.holds(float64(len(w)))
	case CorrelationValueCount:
		return c.holds(distinct(func(o Occurrence) string { return o.Value }))
	case CorrelationTemporal:
		return c.holds(distinct(func(o Occurrence) string { return o.Tag }))
	case CorrelationValueSum:
		sum := 0.0
		for _, o := range w {
			x, _ := strconv.ParseFloat(o.Value, 64)
			sum += x
		}
		return c.holds(sum)
	case CorrelationTemporalOrdered:
		var prev time.Time
		for _, tag := range cc.tags {
			var best time.Time
			for _, o := range w {
				if o.Tag == tag && !o.Time.Before(prev) && (best.IsZero() || o.Time.Before(best)) {
					best = o.Time
				}
			}
			if best.IsZero() {
				return false
			}
			prev = best
		}
		return true
	}
	panic(c.Type)
}

func TestCorrelationOrderIndependent(t *testing.T) {
	pack := cloudTrailPack + extraPack
	const small = 5 // a small cap, to check that capped evidence merges the same way
	calls := corpus(1, 700)
	events := decodeCalls(t, calls)
	fresh := func(limit int) *harness {
		h := newHarness(t, pack, NewMemoryState())
		h.corr = NewCorrelator(h.corr.Correlations(), limit)
		return h
	}
	ref := fresh(0)
	want := summarize(t, ref.feed(t, events, 0), DefaultEvidenceLimit)
	wantCapped := summarize(t, fresh(small).feed(t, events, 0), small)

	// Against the brute-force definition.
	covered := oracle(ref.corr, ref.occurrences(events))
	if len(covered) != len(want) {
		t.Errorf("%d groups with hits, the oracle has %d", len(want), len(covered))
	}
	streams := map[string]int{}
	for k, occ := range covered {
		s := want[k]
		if s == nil || !reflect.DeepEqual(s.Occurrences, occ) {
			t.Errorf("%s: the oracle covers %d occurrences, the hits %v", k, len(occ), s)
			continue
		}
		if s.Count != len(occ) || !s.First.Equal(occ[0].Time) || !s.Last.Equal(occ[len(occ)-1].Time) {
			t.Errorf("%s: count %d first %v last %v", k, s.Count, s.First, s.Last)
		}
		streams[strings.Fields(k)[0]]++
	}
	for _, s := range []string{streamBurst, streamDistinct, streamSequence, streamNewUser, streamDownload} {
		if streams[s] == 0 {
			t.Errorf("the corpus gives no hit for %s: the test proves nothing for it", s)
		}
	}
	// With the small cap, a group's merged hits keep the earliest evidence
	// of the whole: what a finding would hold.
	for k, s := range wantCapped {
		full := want[k]
		if s.Count != full.Count || !s.First.Equal(full.First) || !s.Last.Equal(full.Last) ||
			!reflect.DeepEqual(s.Evidence, stampSet(nil, full.Evidence, small, false)) || !reflect.DeepEqual(s.Values, stampSet(nil, full.Values, small, true)) {
			t.Errorf("%s: capped %+v, full %+v", k, s, full)
		}
	}

	check := func(name string, events []*event.Event, n int) {
		t.Helper()
		for _, c := range []struct {
			limit int
			want  hitSet
		}{{DefaultEvidenceLimit, want}, {small, wantCapped}} {
			got := summarize(t, fresh(c.limit).feed(t, events, n), c.limit)
			if c.limit == small {
				for _, s := range got {
					s.Occurrences = nil // capped per hit: not comparable
				}
				for _, s := range c.want {
					s.Occurrences = nil
				}
			}
			if reflect.DeepEqual(got, c.want) {
				continue
			}
			for k := range c.want {
				if !reflect.DeepEqual(got[k], c.want[k]) {
					t.Errorf("%s, cap %d: %s:\n got %+v\nwant %+v", name, c.limit, k, got[k], c.want[k])
					return
				}
			}
			t.Errorf("%s, cap %d: %d groups, want %d", name, c.limit, len(got), len(c.want))
		}
	}
	reversed := slices.Clone(events)
	slices.Reverse(reversed)
	check("reversed", reversed, 0)
	for _, n := range []int{1, 7, 50, 333} {
		check(fmt.Sprintf("in order, batches of %d", n), events, n)
	}
	for seed := range uint64(6) {
		shuffled := slices.Clone(events)
		rng := rand.New(rand.NewPCG(seed, 99))
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		check(fmt.Sprintf("shuffled (seed %d)", seed), shuffled, 1+rng.IntN(120))
	}

	// Two invocations in sequence sharing one state: two Correlators, one
	// MemoryState; then everything again, shuffled and with duplicates
	// inside batches, which must change nothing.
	st := NewMemoryState()
	first, second := fresh(0), fresh(0)
	first.state, second.state = st, st
	half := len(events) / 2
	hits := first.feed(t, events[half:], 40)
	hits = append(hits, second.feed(t, events[:half], 90)...)
	if got := summarize(t, hits, DefaultEvidenceLimit); !reflect.DeepEqual(got, want) {
		t.Errorf("two invocations: %d groups, want %d, or they differ", len(got), len(want))
	}
	again := append(slices.Clone(events), events[:100]...)
	rand.New(rand.NewPCG(5, 5)).Shuffle(len(again), func(i, j int) { again[i], again[j] = again[j], again[i] })
	if hits := second.feed(t, again, 64); len(hits) != 0 {
		t.Errorf("re-feeding the same events gave %d hits: %+v", len(hits), hits[0])
	}
}

// Duplicates of an event in one batch count once.
func TestCorrelationDuplicatesInBatch(t *testing.T) {
	pack := cloudTrailPack + extraPack
	calls := burst("alice", 9, 0, time.Second)
	events := decodeCalls(t, append(calls, calls...))
	if hits := newHarness(t, pack, NewMemoryState()).feed(t, events, 0); len(hits) != 0 {
		t.Errorf("9 events sent twice made %d hits", len(hits))
	}
	events = decodeCalls(t, append(burst("alice", 10, 0, time.Second), burst("alice", 10, 0, time.Second)...))
	hits := only(newHarness(t, pack, NewMemoryState()).feed(t, events, 0), streamBurst)
	if len(hits) != 1 || hits[0].Count != 10 {
		t.Errorf("hits %+v", hits)
	}
}

// Occurrences of other streams, events without a time or a group-by field
// are left out; a failed Update stores nothing.
func TestCorrelationEdges(t *testing.T) {
	h := newHarness(t, cloudTrailPack+extraPack, NewMemoryState())
	ctx := context.Background()
	err := h.state.Update(ctx, func(tx Tx) error {
		hits, err := h.corr.Add(ctx, tx, []Occurrence{{Stream: "baseline:x", Time: t0, EventID: "e"}})
		if len(hits) != 0 {
			t.Errorf("foreign stream: hits %+v", hits)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	noTime := decode(t, with(t, denied("alice", "ListUsers", 0).record(), map[string]any{"eventTime": deleted}))
	noARN := decode(t, with(t, denied("alice", "ListUsers", 0).record(), map[string]any{"userIdentity.arn": deleted}))
	if occ := h.occurrences([]*event.Event{noTime}); len(occ) != 0 {
		t.Errorf("no time: occurrences %+v", occ)
	}
	// Without userIdentity.arn the event leaves the correlations grouped by
	// it; the one grouped by userName still counts it.
	if occ := h.occurrences([]*event.Event{noARN}); len(occ) != 1 || occ[0].Stream != streamNewUser {
		t.Errorf("no ARN: occurrences %+v", occ)
	}
	// Rolled back: the nine of a failed Update are not stored, so ten more
	// later are needed, and count as ten, not nineteen.
	events := decodeCalls(t, burst("alice", 9, 0, time.Second))
	boom := fmt.Errorf("boom")
	err = h.state.Update(ctx, func(tx Tx) error {
		if _, err := h.corr.Add(ctx, tx, h.occurrences(events)); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("err %v", err)
	}
	hits := only(h.feed(t, decodeCalls(t, burst("alice", 10, time.Hour, time.Second)), 0), streamBurst)
	if len(hits) != 1 || hits[0].Count != 10 {
		t.Errorf("hits %+v", hits)
	}
}

func BenchmarkCorrelator(b *testing.B) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(3, 3))
	users := make([]string, 200)
	for i := range users {
		users[i] = "user" + strconv.Itoa(i)
	}
	names := []string{"ListUsers", "ListRoles", "ListPolicies", "GetUser", "ListGroups", "DescribeInstances", "ListBuckets", "CreateUser", "CreateAccessKey", "AttachUserPolicy", "GetObject"}
	h := newHarness(b, cloudTrailPack+extraPack, nil)
	type item struct {
		ev      *event.Event
		matched []*Rule
	}
	items := make([]item, n)
	for i := range items {
		c := call{user: users[rng.IntN(len(users))], name: names[rng.IntN(len(names))], at: time.Duration(rng.IntN(86400)) * time.Second,
			denied: rng.IntN(2) == 0, target: "t", bytes: rng.IntN(100), id: "ev-" + strconv.Itoa(i)}
		ev := decode(b, c.record())
		var matched []*Rule
		h.engine.Match(testView(ev), func(r *Rule) { matched = append(matched, r) })
		items[i] = item{ev, matched}
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.ev.Time.UnixNano(), b.ev.Time.UnixNano()) })
	ctx := context.Background()
	const batch = 1000
	b.ResetTimer()
	hits := 0
	for range b.N {
		st := NewMemoryState()
		for lo := 0; lo < n; lo += batch {
			var occ []Occurrence
			for _, it := range items[lo : lo+batch] {
				occ = append(occ, h.corr.Match(testView(it.ev), it.matched)...)
			}
			err := st.Update(ctx, func(tx Tx) error {
				got, err := h.corr.Add(ctx, tx, occ)
				hits += len(got)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(hits)/float64(b.N), "hits/op")
}
