package finding

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/event"
)

// This file holds what the tests share: the CloudTrail fixture in
// testdata/cloudtrail.json, decoded by the real decoder, and a handful of
// rules with hand-written matchers standing in for the detection engine.

// decodeAll decodes CloudTrail text with event.NewDecoder, failing on any
// bad record.
func decodeAll(t testing.TB, text string) []*event.Event {
	t.Helper()
	d := event.NewDecoder(strings.NewReader(text))
	var evs []*event.Event
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			return evs
		}
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		evs = append(evs, ev)
	}
}

func fixtureEvents(t testing.TB) []*event.Event {
	t.Helper()
	b, err := os.ReadFile("testdata/cloudtrail.json")
	if err != nil {
		t.Fatal(err)
	}
	evs := decodeAll(t, string(b))
	if len(evs) != 14 {
		t.Fatalf("fixture has %d events, want 14", len(evs))
	}
	return evs
}

// testRule is a rule with a matcher in place of its Sigma detection.
type testRule struct {
	info  *RuleInfo
	match func(ev *event.Event) bool
}

// testRules returns five SigmaHQ CloudTrail rules (titles, ids, levels and
// ATT&CK ids as in ../shared/sigma-rules) and two local ones that give the
// fixture a critical and an informational finding.
func testRules() []testRule {
	is := func(ev *event.Event, f event.Field, vals ...string) bool {
		for _, v := range vals {
			if ev.Str(f) == v {
				return true
			}
		}
		return false
	}
	path := func(ev *event.Event, p string) string { return ev.First(event.ParsePath(p)).Str }
	return []testRule{
		{&RuleInfo{
			ID: "4db60cc0-36fb-42b7-9b58-a5b53019fb74", Title: "AWS CloudTrail Important Change",
			Source: "sigma/aws_cloudtrail_disable_logging.yml", Level: "medium",
			Description:    "Detects disabling, deleting and updating of a Trail",
			Attack:         []string{"T1685.002"},
			FalsePositives: []string{"Valid change in a Trail"},
		}, func(ev *event.Event) bool {
			return is(ev, event.EventSource, "cloudtrail.amazonaws.com") && is(ev, event.EventName, "StopLogging", "UpdateTrail", "DeleteTrail")
		}},
		{&RuleInfo{
			ID: "905d389b-b853-46d0-9d3d-dea0d3a3cd49", Title: "AWS STS AssumeRole Misuse",
			Source: "sigma/aws_sts_assumerole_misuse.yml", Level: "low",
			Description:    "Identifies the suspicious use of AssumeRole. Attackers could move laterally and escalate privileges.",
			Attack:         []string{"T1548", "T1550", "T1550.001"},
			FalsePositives: []string{"AssumeRole may be done by a system or network administrator."},
		}, func(ev *event.Event) bool {
			return is(ev, event.IdentityType, "AssumedRole") && is(ev, event.SessionIssuerType, "Role")
		}},
		{&RuleInfo{
			ID: "8ad1600d-e9dc-4251-b0ee-a65268f29add", Title: "AWS Root Credentials",
			Source: "sigma/aws_root_account_usage.yml", Level: "medium",
			Description: "Detects AWS root account usage",
			Attack:      []string{"T1078.004"},
		}, func(ev *event.Event) bool {
			return is(ev, event.IdentityType, "Root") && !is(ev, event.EventType, "AwsServiceEvent")
		}},
		{&RuleInfo{
			ID: "0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2", Title: "AWS IAM Backdoor Users Keys",
			Source: "sigma/aws_iam_backdoor_users_keys.yml", Level: "medium",
			Description: "Detects AWS API key creation for a user by another user.",
			Attack:      []string{"T1098"},
		}, func(ev *event.Event) bool {
			return is(ev, event.EventSource, "iam.amazonaws.com") && is(ev, event.EventName, "CreateAccessKey") &&
				!strings.Contains(ev.Str(event.IdentityARN), path(ev, "responseElements.accessKey.userName"))
		}},
		{&RuleInfo{
			ID: "6e61ee20-ce00-4f8d-8aee-bedd8216f7e3", Title: "AWS GuardDuty Important Change",
			Source: "sigma/aws_guardduty_disruption.yml", Level: "high",
			Description: "Detects updates of the GuardDuty list of trusted IPs, perhaps to disable security alerts against malicious IPs.",
			Attack:      []string{"T1685"},
		}, func(ev *event.Event) bool {
			return is(ev, event.EventSource, "guardduty.amazonaws.com") && is(ev, event.EventName, "CreateIPSet")
		}},
		{&RuleInfo{
			ID: "e3b0c442-98fc-4c14-9afb-f4c8996fb924", Title: "Root Console Login Without MFA",
			Source: "testdata/local-rules.yml", Level: "critical",
			Description: "The root user signed in to the console without MFA.",
			Attack:      []string{"T1078.004"},
		}, func(ev *event.Event) bool {
			return is(ev, event.EventName, "ConsoleLogin") && is(ev, event.IdentityType, "Root") &&
				path(ev, "additionalEventData.MFAUsed") == "No"
		}},
		{&RuleInfo{
			ID: "7d6c2a51-3f0e-4b8a-9c1d-2e5f6a7b8c9d", Title: "AWS STS Caller Identity Lookup",
			Source: "testdata/local-rules.yml", Level: "informational",
			Description: "Someone asked STS who they are: the first call made with stolen keys, and a routine one.",
			Attack:      []string{"T1087.004"},
		}, func(ev *event.Event) bool {
			return is(ev, event.EventSource, "sts.amazonaws.com") && is(ev, event.EventName, "GetCallerIdentity")
		}},
	}
}

// aggregate runs every rule over every event into one aggregator.
func aggregate(rules []testRule, evs []*event.Event, maxEvidence int) *Aggregator {
	a := NewAggregator(maxEvidence)
	for _, ev := range evs {
		for _, r := range rules {
			if r.match(ev) {
				a.Add(r.info, testView(ev))
			}
		}
	}
	return a
}

// fixtureFindings are the findings of the test rules over the fixture.
func fixtureFindings(t testing.TB) []*Finding {
	return aggregate(testRules(), fixtureEvents(t), 0).Findings()
}

// fixtureSummary is a plausible summary of a run over the fixture.
func fixtureSummary(findings []*Finding) *Summary {
	s := &Summary{
		FilesScanned:   3,
		FilesSkipped:   map[string]int{"digest": 1, "insights": 1},
		EventsDecoded:  14,
		EventsFiltered: 0,
		BadRecords:     1,
		RulesLoaded:    7,
		RuleLoadErrors: 0,
	}
	s.Finish(findings, 1234*time.Microsecond)
	return s
}
