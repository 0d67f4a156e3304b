package detect

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trailsentry/trailsentry/internal/event"
)

// indexRules exercise every shape the index derivation handles, beside the
// SigmaHQ set.
const indexRules = `title: Name under OR of selections
id: 10000000-0000-4000-8000-000000000001
logsource: {product: aws, service: cloudtrail}
detection:
    a:
        eventName: CreateUser
    b:
        eventName|cased: DeleteUser
    condition: a or b
---
title: Name under AND with an unindexable part
id: 10000000-0000-4000-8000-000000000002
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventName: [ConsoleLogin, GetSigninToken]
    filter:
        userAgent|contains: Mozilla
    condition: sel and not filter
---
title: OR with a branch that does not pin the name
id: 10000000-0000-4000-8000-000000000003
logsource: {product: aws, service: cloudtrail}
detection:
    a:
        eventName: StopLogging
    b:
        userIdentity.type: Root
    condition: a or b
---
title: Negated name
id: 10000000-0000-4000-8000-000000000004
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventName: DescribeInstances
    condition: not sel
---
title: Name pattern, source exact
id: 10000000-0000-4000-8000-000000000005
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventSource: IAM.amazonaws.com
        eventName|startswith: Create
    condition: sel
---
title: Intersection of two name constraints
id: 10000000-0000-4000-8000-000000000006
logsource: {product: aws, service: cloudtrail}
detection:
    a:
        eventName: [CreateAccessKey, CreateUser]
    b:
        eventName: [CreateAccessKey, UpdateLoginProfile]
    condition: a and b
---
title: Impossible intersection
id: 10000000-0000-4000-8000-000000000007
logsource: {product: aws, service: cloudtrail}
detection:
    a:
        eventName: CreateUser
    b:
        eventName: DeleteUser
    condition: a and b
---
title: Name with null
id: 10000000-0000-4000-8000-000000000008
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventName: [null, ConsoleLogin]
    condition: sel
---
title: Non-ASCII name
id: 10000000-0000-4000-8000-000000000009
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventName: 'ÄnderungBestätigen'
    condition: sel
---
title: Name by windash expansion
id: 10000000-0000-4000-8000-00000000000a
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventName|windash: '-Run'
    condition: sel
---
title: Keywords only
id: 10000000-0000-4000-8000-00000000000b
logsource: {product: aws, service: cloudtrail}
detection:
    keywords:
        - mallory
    condition: keywords
---
title: Name under all
id: 10000000-0000-4000-8000-00000000000c
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventName|all: [CreateUser, createuser]
    condition: sel
`

func loadIndexRules(t testing.TB) []*Rule {
	t.Helper()
	rules, errs := ParseRules([]byte(indexRules), "index.yml")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return rules
}

func TestIndexPlacement(t *testing.T) {
	e := NewEngine(loadIndexRules(t))
	byTitle := map[string]string{}
	where := func(m map[string][]*Rule, kind string) {
		for key, rs := range m {
			for _, r := range rs {
				byTitle[r.Title] += kind + ":" + key + " "
			}
		}
	}
	where(e.byName, "name")
	where(e.bySource, "source")
	for _, r := range e.always {
		byTitle[r.Title] += "always"
	}
	for title, want := range map[string][]string{
		"Name under OR of selections":                 {"name:createuser", "name:deleteuser"},
		"Name under AND with an unindexable part":     {"name:consolelogin", "name:getsignintoken"},
		"OR with a branch that does not pin the name": {"always"},
		"Negated name":                         {"always"},
		"Name pattern, source exact":           {"source:iam.amazonaws.com"},
		"Intersection of two name constraints": {"name:createaccesskey"},
		"Impossible intersection":              nil,
		"Name with null":                       {"always"},
		"Non-ASCII name":                       {"name:änderungbestätigen"},
		"Name by windash expansion":            {"name:-run", "name:/run", "name:\u2013run", "name:\u2014run", "name:\u2015run"},
		"Keywords only":                        {"always"},
		"Name under all":                       {"name:createuser"},
	} {
		got := strings.Fields(byTitle[title])
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: indexed as %v, want %v", title, got, want)
		}
	}
}

func TestSigmaIndexing(t *testing.T) {
	e := NewEngine(loadSigma(t))
	var unindexed []string
	for _, r := range e.Unindexed() {
		unindexed = append(unindexed, r.Title)
	}
	slices.Sort(unindexed)
	// Only the rules that pin neither eventName nor eventSource run on every event.
	want := []string{"AWS Root Credentials", "AWS STS AssumeRole Misuse",
		"Malicious Usage Of IMDS Credentials Outside Of AWS Infrastructure", "PUA - AWS TruffleHog Execution"}
	if !slices.Equal(unindexed, want) {
		t.Errorf("unindexed rules %v, want %v", unindexed, want)
	}
	if got := e.byName["stoplogging"]; len(got) != 1 || got[0].Title != "AWS CloudTrail Important Change" {
		t.Errorf("stoplogging bucket: %v", got)
	}
	if len(e.Rules()) != 57 {
		t.Errorf("engine holds %d rules", len(e.Rules()))
	}
}

// TestIndexAgreesWithBruteForce is the index's property test: for every
// event, Engine.Match reports exactly the rules whose Match accepts it.
func TestIndexAgreesWithBruteForce(t *testing.T) {
	rules := append(loadSigma(t), loadIndexRules(t)...)
	e := NewEngine(rules)

	// Events: every fixture, and each fixture renamed to every eventName and
	// eventSource any rule is indexed by (in three spellings), plus names
	// that are missing, null, not strings or not ASCII.
	var records []string
	for _, rec := range fixtures {
		records = append(records, rec)
	}
	var names, sources []string
	for k := range e.byName {
		names = append(names, k, strings.ToUpper(k), titleCase(k))
	}
	for k := range e.bySource {
		sources = append(sources, k, strings.ToUpper(k))
	}
	slices.Sort(names)
	slices.Sort(sources)
	bases := []string{evCreateAccessKey, evSecurityGroupIngress, evConsoleLoginNoMFA, evStopLoggingRoot, evPutBucketPolicy}
	for i, n := range names {
		rec := with(t, bases[i%len(bases)], map[string]any{"eventName": n})
		records = append(records, rec)
		// The source rules: pair names with every source too.
		for _, s := range sources {
			records = append(records, with(t, rec, map[string]any{"eventSource": s}))
		}
	}
	for _, odd := range []any{deleted, nil, 42, true, []any{"CreateUser"}, map[string]any{"n": "CreateUser"}, "ÄNDERUNGBESTÄTIGEN", "\u212Aelvin", "CreateUser\u0000"} {
		records = append(records, with(t, evCreateAccessKey, map[string]any{"eventName": odd}))
		records = append(records, with(t, evCreateAccessKey, map[string]any{"eventSource": odd}))
	}

	matched := 0
	for _, rec := range records {
		ev := decode(t, rec)
		var want, got []string
		for _, r := range rules {
			if r.Match(testView(ev)) {
				want = append(want, r.ID)
			}
		}
		e.Match(testView(ev), func(r *Rule) { got = append(got, r.ID) })
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("event %.200s\nengine %v\nbrute  %v", rec, got, want)
		}
		matched += len(want)
	}
	// The property is only meaningful if plenty of events match something.
	if matched < len(records) {
		t.Errorf("only %d matches over %d events: the test events do not exercise the rules", matched, len(records))
	}
	t.Logf("%d events, %d matches", len(records), matched)
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func TestEngineMatchOrderAndNil(t *testing.T) {
	rules := loadSigma(t)
	e := NewEngine(rules)
	var got []string
	e.Match(testView(decode(t, evSecurityGroupIngress)), func(r *Rule) { got = append(got, r.Title) })
	// Rules indexed by eventName come first, then the unindexed.
	want := []string{"Ingress/Egress Security Group Modification", "AWS STS AssumeRole Misuse"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("matches %v, want %v", got, want)
	}
	e.Match(testView(nil), func(*Rule) { t.Error("nil event matched") })
	if (*Rule)(nil).Match(testView(decode(t, evSecurityGroupIngress))) {
		t.Error("nil rule matched")
	}
	NewEngine([]*Rule{nil, {Title: "not compiled"}}).Match(testView(decode(t, evSecurityGroupIngress)), func(r *Rule) { t.Errorf("%v matched", r) })
}

// TestEngineConcurrent matches from many goroutines at once; run with -race.
func TestEngineConcurrent(t *testing.T) {
	e := NewEngine(append(loadSigma(t), loadIndexRules(t)...))
	var evs []*event.Event
	for _, rec := range fixtures {
		evs = append(evs, decode(t, rec))
	}
	want := make([]int, len(evs))
	for i, ev := range evs {
		e.Match(testView(ev), func(*Rule) { want[i]++ })
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				i := (n + g) % len(evs)
				got := 0
				e.Match(testView(evs[i]), func(*Rule) { got++ })
				if got != want[i] {
					t.Errorf("event %d: %d matches, want %d", i, got, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}

// The benchmark events: the shapes that dominate a real trail.
var benchRecords = []string{
	evSecurityGroupIngress,     // AssumedRole write, indexed rules + AssumeRole misuse
	evPutBucketPolicy,          // AssumedRole, big nested requestParameters
	evDescribeInstancesService, // service read, no indexed rule
	evConsoleLoginNoMFA,        // indexed ConsoleLogin rules
	evCreateAccessKey,          // IAM user, indexed IAM rules
	evListBucketsIMDS,          // the regex rule matches
}

func benchEvents(b *testing.B) []*event.Event {
	var evs []*event.Event
	for _, rec := range benchRecords {
		evs = append(evs, decode(b, rec))
	}
	return evs
}

// BenchmarkEngineMatch is the per-event rule cost with every SigmaHQ
// CloudTrail rule loaded; one op is one event.
func BenchmarkEngineMatch(b *testing.B) {
	e := NewEngine(loadSigma(b))
	evs := benchEvents(b)
	n := 0
	count := func(*Rule) { n++ }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Match(testView(evs[i%len(evs)]), count)
	}
	if n == 0 {
		b.Fatal("nothing matched")
	}
}

// BenchmarkBruteForce evaluates every rule on every event: what the index
// saves.
func BenchmarkBruteForce(b *testing.B) {
	rules := loadSigma(b)
	evs := benchEvents(b)
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		for _, r := range rules {
			if r.Match(testView(ev)) {
				n++
			}
		}
	}
	if n == 0 {
		b.Fatal("nothing matched")
	}
}

// BenchmarkDecodeAndMatch includes the decoder, for scale: a JSON Lines
// stream of 1,200 records decoded and matched; one op is the whole stream.
func BenchmarkDecodeAndMatch(b *testing.B) {
	e := NewEngine(loadSigma(b))
	var lines []string
	for i := 0; i < 1200; i++ {
		lines = append(lines, benchRecords[i%len(benchRecords)])
	}
	stream := strings.Join(lines, "\n")
	n := 0
	count := func(*Rule) { n++ }
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dec := event.NewDecoder(strings.NewReader(stream))
		for {
			ev, err := dec.Next()
			if err != nil {
				break
			}
			e.Match(testView(ev), count)
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
}
