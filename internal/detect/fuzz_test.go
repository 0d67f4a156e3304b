package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailsentry/trailsentry/internal/event"
)

// FuzzParseRules feeds arbitrary rule files to the loader: it must never
// panic, every failure must be a *LoadError naming the source, and every
// rule it accepts must evaluate on real events without panicking.
func FuzzParseRules(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(sigmaDir, "*.yml"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(fullRule))
	f.Add([]byte(indexRules))
	for _, d := range []string{
		"sel:\n    requestParameters.parameters.commands|utf16le|base64offset|contains: 'Invoke'\ncondition: sel",
		"sel:\n    userAgent|windash|contains: ' -enc '\ncondition: sel",
		"sel:\n    userIdentity.arn|re|i|m|s: '^arn:.*$'\ncondition: sel",
		"sel:\n    sourceIPAddress|cidr: ['10.0.0.0/8', '2001:db8::/32']\ncondition: sel",
		"sel:\n    eventTime|hour: 3\n    errorCode|exists: false\ncondition: sel",
		"sel:\n    userIdentity.userName|fieldref|contains: requestParameters.userName\ncondition: sel",
		"keywords:\n    '|all': [a, b]\ncondition: keywords",
		"a:\n    x: 1\nb:\n    y|neq: null\ncondition: 1 of them and not (all of a* or b)",
	} {
		f.Add([]byte(ruleDoc(d)))
	}
	var evs []*event.Event
	for _, rec := range fixtures {
		evs = append(evs, decode(f, rec))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, errs := ParseRules(data, "fuzz.yml")
		for _, err := range errs {
			le, ok := err.(*LoadError)
			if !ok || le.Source != "fuzz.yml" || !strings.HasPrefix(err.Error(), "fuzz.yml: ") {
				t.Fatalf("error %#v is not a LoadError for fuzz.yml", err)
			}
		}
		e := NewEngine(rules)
		for _, ev := range evs {
			n := 0
			e.Match(testView(ev), func(*Rule) { n++ })
			for _, r := range rules {
				if r.Match(testView(ev)) {
					n--
				}
			}
			if n != 0 {
				t.Fatalf("engine and brute force disagree on %s", ev.Raw)
			}
		}
	})
}

// FuzzCondition feeds arbitrary conditions to the parser: it must never
// panic, and what it accepts must print as an expression that parses back
// to the same tree.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{
		"selection", "a and not b", "1 of sel* and not 1 of filter_*", "all of them", "(a or b) and (c or not d)",
		"not not (a)", "a | count() > 5", "((a)", "1 of", "x of y", "a and or b", "ALL OF THEM", "\t( a\nand b )",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCondition(s)
		if err != nil {
			return
		}
		again, err := parseCondition(c.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, c, err)
		}
		if again.String() != c.String() {
			t.Fatalf("%q: %q reparsed as %q", s, c, again)
		}
	})
}

// FuzzMatchEvent feeds arbitrary records to every SigmaHQ rule and a set
// of keyword and modifier rules: matching must never panic, and the engine
// must agree with brute force.
func FuzzMatchEvent(f *testing.F) {
	for _, rec := range fixtures {
		f.Add(rec)
	}
	f.Add(`{"eventName":["CreateUser"],"requestParameters":{"a":"\u00e4\"\\","b":[1,true,null,{"c":"x"}]}}`)
	rules := append(loadSigma(f), loadIndexRules(f)...)
	extra, errs := ParseRules([]byte(ruleDoc(`
kw:
    - 'mallory'
    - 'a*b?c'
re:
    '|re|i': '^x'
num:
    requestParameters.b|gte: 1
ref:
    eventName|fieldref|contains: requestParameters.a
t:
    eventTime|week: 18
condition: 1 of them`)), "extra.yml")
	if len(errs) > 0 {
		f.Fatal(errs)
	}
	e := NewEngine(append(rules, extra...))
	all := e.Rules()
	f.Fuzz(func(t *testing.T, rec string) {
		ev, err := event.NewDecoder(strings.NewReader(rec)).Next()
		if err != nil || ev == nil {
			return
		}
		n := 0
		e.Match(testView(ev), func(*Rule) { n++ })
		for _, r := range all {
			if r.Match(testView(ev)) {
				n--
			}
		}
		if n != 0 {
			t.Fatalf("engine and brute force disagree on %s", rec)
		}
	})
}
