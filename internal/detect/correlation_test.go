package detect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// cloudTrailPack is the example correlation pack of docs/correlation.md:
// base rules and the correlations over them, in one multi-document file.
const cloudTrailPack = `title: API call denied
id: 7d0b6a52-0001-4000-8000-000000000001
name: api_denied
status: test
description: An AWS API call was refused (AccessDenied or UnauthorizedOperation).
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        errorCode:
            - AccessDenied
            - AccessDeniedException
            - UnauthorizedOperation
            - Client.UnauthorizedOperation
    condition: sel
level: low
---
title: IAM user created
id: 7d0b6a52-0002-4000-8000-000000000002
name: iam_create_user
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventSource: iam.amazonaws.com
        eventName: CreateUser
    filter:
        errorCode|exists: true
    condition: sel and not filter
level: low
---
title: IAM access key created
id: 7d0b6a52-0003-4000-8000-000000000003
name: iam_create_access_key
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventSource: iam.amazonaws.com
        eventName: CreateAccessKey
    filter:
        errorCode|exists: true
    condition: sel and not filter
level: low
---
title: IAM policy attached to a user
id: 7d0b6a52-0004-4000-8000-000000000004
name: iam_attach_user_policy
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventSource: iam.amazonaws.com
        eventName: AttachUserPolicy
    filter:
        errorCode|exists: true
    condition: sel and not filter
level: low
---
title: AccessDenied burst by one principal
id: 7d0b6a52-0101-4000-8000-000000000101
description: At least 10 denied API calls by one principal within 10 minutes.
correlation:
    type: event_count
    rules:
        - api_denied
    group-by:
        - userIdentity.arn
    timespan: 10m
    condition:
        gte: 10
level: medium
tags:
    - attack.discovery
    - attack.t1580
---
title: Many distinct actions denied to one principal
id: 7d0b6a52-0102-4000-8000-000000000102
description: At least 5 different API actions denied to one principal within 10 minutes.
correlation:
    type: value_count
    rules:
        - 7d0b6a52-0001-4000-8000-000000000001
    group-by:
        - userIdentity.arn
    timespan: 10m
    condition:
        field: eventName
        gte: 5
level: high
---
title: New IAM user with key and policy by one actor
id: 7d0b6a52-0103-4000-8000-000000000103
description: CreateUser, then CreateAccessKey, then AttachUserPolicy by the same actor within an hour.
correlation:
    type: temporal_ordered
    rules:
        - iam_create_user
        - iam_create_access_key
        - iam_attach_user_policy
    group-by:
        - userIdentity.arn
    timespan: 1h
level: high
tags: [attack.persistence, attack.t1136.003, attack.t1098.001]
`

// linkedPack parses and links a pack, failing on any error.
func linkedPack(t testing.TB, pack string) ([]*Rule, []*Correlation) {
	t.Helper()
	rules, corrs, errs := ParsePack([]byte(pack), "pack.yml")
	if len(errs) > 0 {
		t.Fatalf("parse: %v", errs)
	}
	if errs := Link(rules, corrs); len(errs) > 0 {
		t.Fatalf("link: %v", errs)
	}
	return rules, corrs
}

func TestParsePackCloudTrail(t *testing.T) {
	rules, corrs := linkedPack(t, cloudTrailPack)
	if len(rules) != 4 || len(corrs) != 3 {
		t.Fatalf("%d rules, %d correlations", len(rules), len(corrs))
	}
	burst, distinct, seq := corrs[0], corrs[1], corrs[2]
	if burst.Title != "AccessDenied burst by one principal" || burst.Type != CorrelationEventCount ||
		burst.Timespan != 10*time.Minute || strings.Join(burst.GroupBy, ",") != "userIdentity.arn" ||
		burst.Level != "medium" || strings.Join(burst.Attack, ",") != "T1580" || burst.Source != "pack.yml" ||
		len(burst.Condition) != 1 || burst.Condition[0] != (CorrelationCriterion{"gte", 10}) || burst.Generate {
		t.Errorf("burst: %+v", burst)
	}
	if burst.Stream() != "7d0b6a52-0101-4000-8000-000000000101" || !strings.Contains(burst.YAML, "event_count") {
		t.Errorf("burst stream %q / YAML %q", burst.Stream(), burst.YAML)
	}
	if distinct.Type != CorrelationValueCount || distinct.Field != "eventName" || distinct.Rules[0] != rules[0] {
		t.Errorf("distinct: %+v (rule by id must resolve)", distinct)
	}
	if seq.Type != CorrelationTemporalOrdered || len(seq.Rules) != 3 || seq.Rules[2] != rules[3] ||
		seq.Timespan != time.Hour || seq.Condition[0] != (CorrelationCriterion{"gte", 3}) {
		t.Errorf("sequence: %+v", seq)
	}
	if got := strings.Join(seq.Attack, ","); got != "T1136.003,T1098.001" {
		t.Errorf("attack %s", got)
	}

	c := NewCorrelator(corrs, 0)
	for _, r := range rules {
		if c.Generates(r) || !c.Referenced(r) {
			t.Errorf("%s: referenced by a correlation without generate: must not generate", r.Title)
		}
	}
	other := compileRule(t, "sel:\n    eventName: X\ncondition: sel")
	if !c.Generates(other) || c.Referenced(other) {
		t.Error("an unreferenced rule generates its own findings")
	}
	if c.MaxTimespan() != time.Hour || len(c.Correlations()) != 3 {
		t.Errorf("MaxTimespan %v, %d correlations", c.MaxTimespan(), len(c.Correlations()))
	}

	// generate: true on one referring correlation keeps the rule's findings.
	gen := strings.Replace(cloudTrailPack, "    condition:\n        gte: 10\n", "    condition:\n        gte: 10\n    generate: true\n", 1)
	rules, corrs = linkedPack(t, gen)
	c = NewCorrelator(corrs, 0)
	if !corrs[0].Generate || !c.Generates(rules[0]) || c.Generates(rules[1]) {
		t.Errorf("generate: true: api_denied generates %v, iam_create_user %v", c.Generates(rules[0]), c.Generates(rules[1]))
	}
}

// ParseRules and LoadPath keep loading rules only: a correlation document is
// reported as unsupported there, as before.
func TestParseRulesLeavesCorrelationsOut(t *testing.T) {
	rules, errs := ParseRules([]byte(cloudTrailPack), "pack.yml")
	if len(rules) != 4 || len(errs) != 3 {
		t.Fatalf("%d rules, errors %v", len(rules), errs)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrUnsupported) || !strings.HasPrefix(err.Error(), "pack.yml: ") {
			t.Errorf("%v: want an ErrUnsupported naming the file", err)
		}
	}
}

func TestLoadPackPathAndFS(t *testing.T) {
	dir := t.TempDir()
	lone := "title: lone\ncorrelation:\n    type: event_count\n    rules: [nope]\n    timespan: 1m\n    condition: {gte: 2}\n"
	for name, content := range map[string]string{"a.yml": cloudTrailPack, "b.yaml": lone} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rules, corrs, errs := LoadPackPath(dir)
	if len(rules) != 4 || len(corrs) != 4 || len(errs) != 0 {
		t.Fatalf("%d rules, %d correlations, errors %v", len(rules), len(corrs), errs)
	}
	errs = Link(rules, corrs)
	if len(errs) != 1 || errs[0].Error() != dir+`/b.yaml: lone: unknown rule "nope": no loaded rule has this name or id` || !errors.Is(errs[0], ErrUnknownRule) {
		t.Fatalf("link errors %v", errs)
	}
	if corrs[3].Rules != nil || len(NewCorrelator(corrs, 0).Correlations()) != 3 {
		t.Error("the unlinked correlation must be left out")
	}
	rules, corrs, errs = LoadPackFS(fstest.MapFS{"a.yml": {Data: []byte(cloudTrailPack)}, "b.yaml": {Data: []byte(lone)}}, "builtin")
	if len(rules) != 4 || len(corrs) != 4 || len(errs) != 0 || corrs[0].Source != "builtin:a.yml" {
		t.Fatalf("LoadPackFS: %d rules, %d correlations, errors %v", len(rules), len(corrs), errs)
	}
}

func TestCorrelationParseErrors(t *testing.T) {
	head := "title: Burst\nid: 11111111-0000-4000-8000-000000000001\ncorrelation:\n"
	cases := []struct{ body, want string }{
		{"    type: event_sum\n    rules: [a]\n    timespan: 5m\n    condition: {gte: 2}\n", `correlation: unknown type "event_sum"`},
		{"    rules: [a]\n    timespan: 5m\n    condition: {gte: 2}\n", "correlation: type is missing"},
		{"    type: event_count\n    rules: [a]\n    condition: {gte: 2}\n", "correlation: timespan is missing"},
		{"    type: event_count\n    rules: [a]\n    timespan: 5x\n    condition: {gte: 2}\n", `correlation: timespan "5x" is not a positive number followed by s, m, h or d`},
		{"    type: event_count\n    rules: [a]\n    timespan: 0m\n    condition: {gte: 2}\n", `timespan "0m" is not a positive number`},
		{"    type: event_count\n    rules: [a]\n    timespan: 1H\n    condition: {gte: 2}\n", `timespan "1H" is not a positive number`},
		{"    type: event_count\n    rules: [a]\n    timespan: -1m\n    condition: {gte: 2}\n", `timespan "-1m" is not a positive number`},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n", "correlation: condition: missing: event_count needs one"},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: 10\n", "correlation: condition: must be a map"},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: {above: 10}\n", `correlation: condition: unknown operator "above"`},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: {gte: ten}\n", `correlation: condition: gte: "ten" is not a non-negative number`},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: {gte: 2.5}\n", "is not a whole number"},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: {gte: 0}\n", "gte 0 holds without any event"},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: {lt: 5}\n", "lt is not supported: it holds while events are missing"},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: {gt: 100, lte: 200}\n", "lte is not supported"},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: {eq: 5}\n", "eq is not supported here"},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: {gte: 5, field: eventName}\n", "field is only for value_count and value_sum"},
		{"    type: value_count\n    rules: [a]\n    timespan: 5m\n    condition: {gte: 5}\n", "value_count needs the field whose values it counts"},
		{"    type: value_avg\n    rules: [a]\n    timespan: 5m\n    condition: {gte: 5, field: x}\n", "correlation type value_avg is not supported"},
		{"    type: temporal\n    rules: [a, b]\n    timespan: 5m\n    condition: {gte: 3}\n", "gte 3 can never hold: there are only 2 referenced rules"},
		{"    type: temporal\n    rules: [a, b, c]\n    timespan: 5m\n    condition: {eq: 2}\n", "eq is not supported here"},
		{"    type: temporal_ordered\n    rules: [a, b, c]\n    timespan: 5m\n    condition: {gte: 2}\n", "temporal_ordered needs every referenced rule, in order"},
		{"    type: event_count\n    timespan: 5m\n    condition: {gte: 2}\n", "correlation: rules is missing"},
		{"    type: event_count\n    rules: [a, a]\n    timespan: 5m\n    condition: {gte: 2}\n", `correlation: rule "a" is listed twice`},
		{"    type: event_count\n    rules: [a]\n    timespam: 5m\n    condition: {gte: 2}\n", `correlation: unknown key "timespam"`},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n    timeframe: 5m\n    condition: {gte: 2}\n", "give timespan or timeframe, not both"},
		{"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: {gte: 2}\n    generate: maybe\n", "generate must be true or false"},
		{"    type: temporal\n    rules: [a]\n    timespan: 5m\n    aliases: {ip: x}\n", `alias "ip" must map rule names to fields`},
	}
	for _, c := range cases {
		_, corrs, errs := ParsePack([]byte(head+c.body), "corr.yml")
		if len(errs) != 1 || len(corrs) != 0 {
			t.Errorf("%s: %d correlations, errors %v", c.want, len(corrs), errs)
			continue
		}
		if got := errs[0].Error(); !strings.HasPrefix(got, "corr.yml: Burst: ") || !strings.Contains(got, c.want) {
			t.Errorf("error %q, want corr.yml: Burst: ...%s...", got, c.want)
		}
		var le *LoadError
		if !errors.As(errs[0], &le) || le.Source != "corr.yml" || le.Rule != "Burst" {
			t.Errorf("%q is not a LoadError naming file and title", errs[0])
		}
		unsupported := strings.Contains(c.want, "not supported")
		if errors.Is(errs[0], ErrUnsupported) != unsupported {
			t.Errorf("%q: wraps ErrUnsupported %v, want %v", errs[0], !unsupported, unsupported)
		}
	}
	// A correlation without a title is named by its position.
	_, _, errs := ParsePack([]byte("correlation: {type: event_count}\n"), "x.yml")
	if len(errs) != 1 || errs[0].Error() != "x.yml: document 1: the correlation has no title" {
		t.Errorf("errors %v", errs)
	}
	// Accepted forms: timeframe, gt, several criteria, eq at the maximum.
	ok := head + "    type: temporal\n    rules: [a, b]\n    timeframe: 2d\n    condition: {eq: 2}\n" +
		"---\ntitle: B\ncorrelation: {type: event_count, rules: [a], timespan: 30s, condition: {gt: 4, gte: 3}}\n"
	_, corrs, errs := ParsePack([]byte(ok), "ok.yml")
	if len(errs) != 0 || len(corrs) != 2 {
		t.Fatalf("errors %v", errs)
	}
	if corrs[0].Timespan != 48*time.Hour || !corrs[0].holds(2) || corrs[0].holds(1) {
		t.Errorf("temporal eq 2: %+v", corrs[0])
	}
	if corrs[1].Timespan != 30*time.Second || corrs[1].holds(4) || !corrs[1].holds(5) || corrs[1].Stream() != "B" {
		t.Errorf("gt 4 and gte 3: %+v", corrs[1])
	}
}

func TestLinkErrors(t *testing.T) {
	base := "title: Base\nid: 22222222-0000-4000-8000-000000000001\nname: base\nlogsource: {product: aws}\ndetection: {sel: {eventName: X}, condition: sel}\n" +
		"---\ntitle: Other\nname: other\nlogsource: {product: aws}\ndetection: {sel: {eventName: Y}, condition: sel}\n"
	cases := []struct{ corr, want string }{
		{"title: C\ncorrelation: {type: event_count, rules: [base, missing_rule], timespan: 1m, condition: {gte: 2}}\n",
			`l.yml: C: unknown rule "missing_rule": no loaded rule has this name or id`},
		{"title: C\nname: c1\ncorrelation: {type: event_count, rules: [base], timespan: 1m, condition: {gte: 2}}\n---\n" +
			"title: D\ncorrelation: {type: temporal, rules: [c1, base], timespan: 1m}\n",
			`l.yml: D: rule "c1" is a correlation: chaining correlations is not supported yet`},
		{"title: C\nid: same\ncorrelation: {type: event_count, rules: [base], timespan: 1m, condition: {gte: 2}}\n---\n" +
			"title: D\nid: same\ncorrelation: {type: event_count, rules: [base], timespan: 1m, condition: {gte: 2}}\n",
			"l.yml: D: duplicate correlation id same: already loaded from l.yml (C)"},
		{"title: C\ncorrelation: {type: temporal, rules: [base, other], timespan: 1m, group-by: [ip], aliases: {ip: {base: sourceIPAddress, third: x}}}\n",
			`l.yml: C: alias "ip" maps rule "third", which the correlation does not reference`},
		{"title: C\ncorrelation: {type: temporal, rules: [base, other], timespan: 1m, group-by: [ip], aliases: {ip: {base: sourceIPAddress}}}\n",
			`l.yml: C: alias "ip" has no field for rule "other"`},
		{"title: C\ncorrelation: {type: temporal, rules: [base, 22222222-0000-4000-8000-000000000001], timespan: 1m}\n",
			`l.yml: C: "base" and "22222222-0000-4000-8000-000000000001" are the same rule`},
		{"title: C\nid: 22222222-0000-4000-8000-000000000001\ncorrelation: {type: event_count, rules: [other], timespan: 1m, condition: {gte: 2}}\n",
			`l.yml: C: id 22222222-0000-4000-8000-000000000001 is also the id of rule "Base"`},
	}
	for _, c := range cases {
		rules, corrs, errs := ParsePack([]byte(base+"---\n"+c.corr), "l.yml")
		if len(errs) != 0 {
			t.Fatalf("parse: %v", errs)
		}
		errs = Link(rules, corrs)
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), c.want) {
			t.Errorf("link errors %v, want %s", errs, c.want)
		}
	}
	// Aliases may name a rule by its id too.
	rules, corrs, _ := ParsePack([]byte(base+"---\ntitle: C\ncorrelation: {type: temporal, rules: [base, other], timespan: 1m, group-by: [ip], "+
		"aliases: {ip: {22222222-0000-4000-8000-000000000001: sourceIPAddress, other: requestParameters.ip}}}\n"), "l.yml")
	if errs := Link(rules, corrs); len(errs) != 0 {
		t.Fatalf("link: %v", errs)
	}
	if corrs[0].resolveField("ip", 0) != "sourceIPAddress" || corrs[0].resolveField("ip", 1) != "requestParameters.ip" {
		t.Error("aliases not resolved per rule")
	}
}
