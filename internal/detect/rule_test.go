package detect

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

const fullRule = `title: AWS CloudTrail Important Change
id: 4db60cc0-36fb-42b7-9b58-a5b53019fb74
name: cloudtrail_important_change
status: test
description: |
    Detects disabling, deleting and updating of a Trail.
references:
    - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/best-practices-security.html
author: vitaliy0x1
date: 2020-01-21
modified: 2022-10-09
tags:
    - attack.defense-impairment
    - attack.t1562.008
    - attack.T1562.008
    - attack.t1685
    - attack.persistence
    - attack.t1098.x
    - attack.g0016
    - car.2013-05-004
logsource:
    product: aws
    service: cloudtrail
detection:
    selection_source:
        eventSource: cloudtrail.amazonaws.com
        eventName:
            - StopLogging
            - UpdateTrail
            - DeleteTrail
    condition: selection_source
falsepositives:
    - Valid change in a Trail
level: medium
`

func TestParseRuleMetadata(t *testing.T) {
	rules, errs := ParseRules([]byte(fullRule), "rules/cloudtrail.yml")
	if len(errs) > 0 || len(rules) != 1 {
		t.Fatalf("rules %d, errors %v", len(rules), errs)
	}
	r := rules[0]
	want := Rule{
		ID: "4db60cc0-36fb-42b7-9b58-a5b53019fb74", Title: "AWS CloudTrail Important Change",
		Description: "Detects disabling, deleting and updating of a Trail.\n", Status: "test",
		Author: "vitaliy0x1", Date: "2020-01-21", Modified: "2022-10-09", Name: "cloudtrail_important_change",
		Level: "medium",
		Tags: []string{"attack.defense-impairment", "attack.t1562.008", "attack.T1562.008", "attack.t1685",
			"attack.persistence", "attack.t1098.x", "attack.g0016", "car.2013-05-004"},
		Attack:         []string{"T1562.008", "T1685"},
		FalsePositives: []string{"Valid change in a Trail"},
		References:     []string{"https://docs.aws.amazon.com/awscloudtrail/latest/userguide/best-practices-security.html"},
		Logsource:      Logsource{Product: "aws", Service: "cloudtrail"},
		Source:         "rules/cloudtrail.yml",
	}
	r.cond = nil
	if !strings.Contains(r.YAML, "id: 4db60cc0-36fb-42b7-9b58-a5b53019fb74") {
		t.Errorf("YAML does not hold the document: %q", r.YAML)
	}
	r.YAML = ""
	if !reflect.DeepEqual(*r, want) {
		t.Errorf("got  %+v\nwant %+v", *r, want)
	}
}

func TestRuleLevel(t *testing.T) {
	for _, c := range []struct{ line, want, err string }{
		{"", "medium", ""},
		{"level: HIGH\n", "high", ""},
		{"level: informational\n", "informational", ""},
		{"level: critical\n", "critical", ""},
		{"level: severe\n", "", `level "severe" is not one of`},
	} {
		doc := ruleDoc("sel:\n    eventName: X\ncondition: sel") + c.line
		rules, errs := ParseRules([]byte(doc), "level.yml")
		if c.err != "" {
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.err) {
				t.Errorf("%q: errors %v, want %q", c.line, errs, c.err)
			}
			continue
		}
		if len(errs) > 0 || rules[0].Level != c.want {
			t.Errorf("%q: level %q (errors %v), want %q", c.line, rules[0].Level, errs, c.want)
		}
	}
}

func TestAttackIDs(t *testing.T) {
	got := attackIDs([]string{"attack.t1078.004", "attack.initial-access", "attack.T1078", "attack.t1078.004",
		"attack.t123", "attack.t12345", "attack.t1078.04", "attack.s0002", "attack.ta0001", "tlp.white", " attack.t1190 "})
	want := []string{"T1078.004", "T1078", "T1190"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attackIDs = %v, want %v", got, want)
	}
}

func TestParseRulesMultiDocument(t *testing.T) {
	doc := fullRule + `---
title: Second Rule
id: 11111111-2222-4333-8444-555555555555
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventName: CreateAccessKey
    condition: sel
---
title: Many Failed Logins
id: 22222222-2222-4333-8444-555555555555
correlation:
    type: event_count
    rules:
        - 4db60cc0-36fb-42b7-9b58-a5b53019fb74
    group-by:
        - userIdentity.arn
    timespan: 5m
    condition:
        gte: 10
---
`
	rules, errs := ParseRules([]byte(doc), "multi.yml")
	if len(rules) != 2 || rules[0].Title != "AWS CloudTrail Important Change" || rules[1].Title != "Second Rule" {
		t.Fatalf("rules %v", rules)
	}
	if len(errs) != 1 {
		t.Fatalf("errors %v, want the correlation rule", errs)
	}
	if got, want := errs[0].Error(), "multi.yml: Many Failed Logins: correlation rules are not supported yet"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	if !errors.Is(errs[0], ErrUnsupported) {
		t.Error("the correlation error should wrap ErrUnsupported")
	}
	for _, r := range rules {
		if r.Source != "multi.yml" {
			t.Errorf("%s: source %q", r.Title, r.Source)
		}
	}
}

func TestParseRulesActionGlobal(t *testing.T) {
	doc := `action: global
title: Collection
logsource: {product: aws}
detection:
    sel:
        eventSource: iam.amazonaws.com
---
detection:
    sel2:
        eventName: CreateUser
    condition: sel and sel2
`
	rules, errs := ParseRules([]byte(doc), "collection.yml")
	if len(rules) != 0 || len(errs) != 2 {
		t.Fatalf("rules %v errors %v", rules, errs)
	}
	if !strings.Contains(errs[0].Error(), "collection.yml: Collection: action: global: Sigma 1.0 rule collections are not supported") {
		t.Errorf("error %q", errs[0])
	}
	// The second document, without a title, is named by its position.
	if !strings.HasPrefix(errs[1].Error(), "collection.yml: document 2: ") {
		t.Errorf("error %q", errs[1])
	}
}

// TestLoadErrors checks that each kind of broken rule is reported with the
// file, the rule and the reason, and never dropped silently.
func TestLoadErrors(t *testing.T) {
	for _, c := range []struct {
		name, detection, reason string
	}{
		{"unknown modifier", "sel:\n    eventName|contians: Create\ncondition: sel", `field "eventName|contians": unknown modifier "contians"`},
		{"missing selection", "sel:\n    eventName: X\ncondition: sel and filter", `"filter", which the detection does not define`},
		{"bad regex", "sel:\n    userAgent|re: 'aws-cli/(2'\ncondition: sel", `invalid regular expression "aws-cli/(2"`},
		{"unsupported regex syntax", "sel:\n    userAgent|re: '(?<=x)y'\ncondition: sel", `invalid regular expression`},
		{"bad cidr", "sel:\n    sourceIPAddress|cidr: '10.0.0.0/33'\ncondition: sel", `invalid CIDR "10.0.0.0/33"`},
		{"bad cidr text", "sel:\n    sourceIPAddress|cidr: 'corp-network'\ncondition: sel", `invalid CIDR "corp-network"`},
		{"malformed condition", "sel:\n    eventName: X\ncondition: sel and (sel", "missing ')'"},
		{"truncated condition", "sel:\n    eventName: X\ncondition: sel and (not", "condition ends where"},
		{"duplicate key", "sel:\n    eventName: X\n    eventName: Y\ncondition: sel", `key "eventName" is defined twice (line 9, first at line 8)`},
		{"duplicate selection", "sel:\n    eventName: X\nsel:\n    eventName: Y\ncondition: sel", `key "sel" is defined twice (line 9, first at line 7)`},
		{"aggregation", "sel:\n    eventName: X\ncondition: sel | count() > 5", "aggregation"},
		{"no condition", "sel:\n    eventName: X", "detection has no condition"},
		{"re flag without re", "sel:\n    userAgent|i: x\ncondition: sel", "modifier i is a regular expression flag and needs re"},
		{"transform before re", "sel:\n    userAgent|contains|re: x\ncondition: sel", "modifier re must come before contains"},
		{"two types", "sel:\n    sourceIPAddress|cidr|re: x\ncondition: sel", "modifiers cidr and re cannot be combined"},
		{"exists needs a boolean", "sel:\n    errorCode|exists: maybe\ncondition: sel", "exists takes one boolean"},
		{"exists alone", "sel:\n    errorCode|exists|cased: true\ncondition: sel", "exists takes no other modifier"},
		{"lt needs a number", "sel:\n    requestParameters.port|lt: many\ncondition: sel", `lt needs a number, got "many"`},
		{"time range", "sel:\n    eventTime|hour: 24\ncondition: sel", "hour must be between 0 and 23"},
		{"base64 with wildcard", "sel:\n    requestParameters.userData|base64: 'curl*'\ncondition: sel", "base64 cannot encode a value with wildcards"},
		{"null with contains", "sel:\n    errorCode|contains: null\ncondition: sel", "null cannot be matched with modifiers"},
		{"fieldref with wildcard", "sel:\n    userIdentity.arn|fieldref: 'request*'\ncondition: sel", "a field name cannot hold wildcards"},
		{"map value", "sel:\n    requestParameters:\n        userName: x\ncondition: sel", "use a dotted field name"},
		{"empty list", "sel:\n    eventName: []\ncondition: sel", "empty value list"},
		{"empty selection", "sel: {}\ncondition: sel", "empty map"},
		{"null selection", "sel:\ncondition: sel", "empty search identifier"},
		{"keyword with field modifier", "sel:\n    '|exists': true\ncondition: sel", "keywords cannot use exists"},
		{"expand", "sel:\n    userIdentity.userName|expand: '%Admins%'\ncondition: sel", "expand needs placeholder values"},
		{"cased with cidr", "sel:\n    sourceIPAddress|cidr|cased: 10.0.0.0/8\ncondition: sel", "cased has no meaning with cidr"},
		{"contradictory re flags", "sel:\n    userAgent|re|i|cased: x\ncondition: sel", "cased contradicts"},
	} {
		err := compileError(t, c.detection)
		var le *LoadError
		if !errors.As(err, &le) || le.Source != "bad_rule.yml" || le.Rule != "Test Rule" {
			t.Errorf("%s: error %#v is not a LoadError naming the file and the rule", c.name, err)
		}
		if !strings.HasPrefix(err.Error(), "bad_rule.yml: Test Rule: ") || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: error\n  %s\nwant it to start with the file and rule and mention\n  %s", c.name, err, c.reason)
		}
	}
}

func TestLoadErrorsWithoutDetection(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"title: No Detection\nlogsource: {product: aws}\n", "f.yml: No Detection: the rule has no detection"},
		{"id: 0a1b\ndetection:\n    sel:\n        eventName: X\n    condition: sel\n", "f.yml: 0a1b: the rule has no title"},
		{"- just\n- a list\n", "f.yml: document 1: a rule must be a YAML map (line 1)"},
		{"title: [unclosed\n", "f.yml: invalid YAML: yaml: line 1: did not find expected ',' or ']'"},
	} {
		_, errs := ParseRules([]byte(c.doc), "f.yml")
		if len(errs) != 1 || errs[0].Error() != c.want {
			t.Errorf("%q: errors %v, want %q", c.doc, errs, c.want)
		}
	}
}

func TestInvalidYAMLReportsFileAndLine(t *testing.T) {
	doc := "title: Broken\nstatus: test\nlogsource:\n    product: aws\ndescription: Detects\n    something: bad\n"
	_, errs := ParseRules([]byte(doc), "broken.yml")
	if len(errs) != 1 {
		t.Fatalf("errors %v", errs)
	}
	if got, want := errs[0].Error(), "broken.yml: invalid YAML: yaml: line 6: mapping values are not allowed in this context"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	// A YAML error in a later document still names its line in the file.
	doc2 := fullRule + "---\ntitle: x\n  bad: indentation\n"
	rules, errs := ParseRules([]byte(doc2), "later.yml")
	if len(rules) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "line 37") {
		t.Errorf("rules %d, errors %v: want the first rule and an error at line 37", len(rules), errs)
	}
}

func TestLoadPath(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yml", fullRule)
	write("nested/deeper/b.yaml", strings.Replace(fullRule, "4db60cc0-36fb-42b7-9b58-a5b53019fb74", "b0000000-0000-4000-8000-000000000000", 1))
	write("nested/dup.yml", fullRule)
	write("nested/broken.yml", "title: Broken\ndetection:\n    condition: sel\n")
	write("README.md", "not a rule")
	write(".git/config.yml", "not: [a rule")

	rules, errs := LoadPath(dir)
	if len(rules) != 2 {
		t.Errorf("loaded %d rules, want 2", len(rules))
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	want := []string{
		filepath.Join(dir, "nested/broken.yml") + `: Broken: condition "sel": condition references "sel", which the detection does not define (line 3)`,
		filepath.Join(dir, "nested/dup.yml") + ": AWS CloudTrail Important Change: duplicate rule id 4db60cc0-36fb-42b7-9b58-a5b53019fb74: already loaded from " + filepath.Join(dir, "a.yml") + " (AWS CloudTrail Important Change)",
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if rules[0].Source != filepath.Join(dir, "a.yml") {
		t.Errorf("source %q", rules[0].Source)
	}

	one, errs := LoadPath(filepath.Join(dir, "a.yml"))
	if len(one) != 1 || len(errs) != 0 {
		t.Errorf("single file: %d rules, errors %v", len(one), errs)
	}
	_, errs = LoadPath(filepath.Join(dir, "missing.yml"))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "missing.yml") {
		t.Errorf("missing file: errors %v", errs)
	}
}

func TestLoadFS(t *testing.T) {
	fsys := fstest.MapFS{
		"aws/cloudtrail_change.yml": {Data: []byte(fullRule)},
		"aws/notes.txt":             {Data: []byte("ignored")},
		"aws/bad.yaml":              {Data: []byte(ruleDoc("sel:\n    eventName|nope: x\ncondition: sel"))},
	}
	rules, errs := LoadFS(fsys, "builtin")
	if len(rules) != 1 || rules[0].Source != "builtin:aws/cloudtrail_change.yml" {
		t.Fatalf("rules %v", rules)
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), `builtin:aws/bad.yaml: Test Rule: `) {
		t.Errorf("errors %v", errs)
	}
}

func TestCheckDuplicates(t *testing.T) {
	a := &Rule{ID: "x", Title: "A", Source: "a.yml"}
	b := &Rule{ID: "y", Title: "B", Source: "b.yml"}
	c := &Rule{ID: "x", Title: "C", Source: "c.yml"}
	d := &Rule{Title: "No id", Source: "d.yml"}
	e := &Rule{Title: "No id either", Source: "e.yml"}
	kept, errs := CheckDuplicates([]*Rule{a, b, c, d, e})
	if !reflect.DeepEqual(kept, []*Rule{a, b, d, e}) {
		t.Errorf("kept %v", kept)
	}
	if len(errs) != 1 || errs[0].Error() != "c.yml: C: duplicate rule id x: already loaded from a.yml (A)" {
		t.Errorf("errors %v", errs)
	}
}

// TestOtherLogsourcesCompile loads a generic (Windows) Sigma rule: it
// compiles and evaluates like any other, its fields simply absent from
// CloudTrail events.
func TestOtherLogsourcesCompile(t *testing.T) {
	doc := `title: Whoami Execution
id: e28a5a99-da44-436d-b7a0-2afc20a5f413
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\whoami.exe'
        CommandLine|windash|contains: ' /all'
    condition: selection
level: high
`
	rules, errs := ParseRules([]byte(doc), "win.yml")
	if len(errs) > 0 || len(rules) != 1 {
		t.Fatalf("rules %v errors %v", rules, errs)
	}
	r := rules[0]
	if r.Logsource != (Logsource{Product: "windows", Category: "process_creation"}) {
		t.Errorf("logsource %+v", r.Logsource)
	}
	if r.Match(testView(decode(t, evCreateAccessKey))) {
		t.Error("a Windows rule matched a CloudTrail event")
	}
	win := `{"eventVersion":"1.0","Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami -all"}`
	if !r.Match(testView(decode(t, win))) {
		t.Error("the rule should match a process-creation record shaped like its logsource")
	}
}
