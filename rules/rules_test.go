package rules

import (
	"bytes"
	"context"
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/event"
)

var update = flag.Bool("update", false, "rewrite docs/rules.md")

func load(t *testing.T) []*detect.Rule {
	rules, _ := loadPack(t)
	return rules
}

// loadPack loads the pack's rules and its correlation rules, linked.
func loadPack(t *testing.T) ([]*detect.Rule, []*detect.Correlation) {
	t.Helper()
	rules, corrs, errs := detect.LoadPackFS(FS, "builtin")
	errs = append(errs, detect.Link(rules, corrs)...)
	for _, err := range errs {
		t.Errorf("rule does not load: %v", err)
	}
	if len(rules) == 0 {
		t.Fatal("the pack is empty")
	}
	return rules, corrs
}

// Every example of every rule passes, through the rule and through the
// engine's index.
func TestRuleExamples(t *testing.T) {
	rules := load(t)
	en, err := detect.ExampleEnricher(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	results := detect.RunTests(rules, en)
	for _, r := range results {
		if !r.Passed() {
			t.Error(r)
		}
	}
	t.Logf("%d rules, %d examples", len(rules), len(results))
}

var uuid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Every rule carries what the person on call needs, and examples both ways.
func TestRuleMetadata(t *testing.T) {
	for _, r := range load(t) {
		name := r.Source
		if !uuid.MatchString(r.ID) {
			t.Errorf("%s: id %q is not a random UUID", name, r.ID)
		}
		if len(strings.Fields(r.Description)) < 20 {
			t.Errorf("%s: the description is too short to act on", name)
		}
		if len(r.Attack) == 0 {
			t.Errorf("%s: no ATT&CK technique tag", name)
		}
		if len(r.FalsePositives) == 0 {
			t.Errorf("%s: no false-positive notes", name)
		}
		var pos, neg int
		for _, ex := range r.Tests {
			if ex.Match {
				pos++
			} else {
				neg++
			}
		}
		if pos == 0 || neg == 0 {
			t.Errorf("%s: %d matching and %d non-matching examples; want at least one of each", name, pos, neg)
		}
	}
}

func TestRulesReference(t *testing.T) {
	const path = "../docs/rules.md"
	want := detect.Reference(load(t))
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: run go test ./rules/ -update", path)
	}
}

// Noise discipline: a rule above low never fires on a discovery call alone
// (an action whose access level is List), and never on an AWS service acting
// on its own behalf.
func TestNoiseDiscipline(t *testing.T) {
	en, err := detect.ExampleEnricher(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	view := en.NewView()
	for _, res := range detect.RunTests(load(t), en) {
		r := res.Rule
		if !res.Test.Match || res.Err != nil {
			continue
		}
		ev, err := decodeExample(res.Test.Event)
		if err != nil {
			t.Fatal(err)
		}
		view.Reset(ev)
		// A discovery call is not "alone" when it comes from offensive
		// tooling or a threat-listed address: those rules may rank higher.
		context := strings.Contains(r.YAML, "trailsentry.client.tooling") || strings.Contains(r.YAML, "trailsentry.intel.threatList")
		if r.Level != "low" && r.Level != "informational" && !context {
			if a := view.Action(); a != nil && a.AccessLevel == "List" {
				t.Errorf("%s is %s but fires on the discovery call %s (%q)", r.Source, r.Level, a.Name, res.Test.Name)
			}
		}
		if view.IdentityType() == "AWSService" {
			t.Errorf("%s fires on an AWS service acting on its own behalf (%q)", r.Source, res.Test.Name)
		}
	}
}

func decodeExample(b []byte) (*event.Event, error) {
	return event.NewDecoder(bytes.NewReader(b)).Next()
}

// docs/coverage.md names rules by file and id: each must exist with that id.
func TestCoverageNamesRealRules(t *testing.T) {
	doc, err := os.ReadFile("../docs/coverage.md")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{} // file name -> the ids it holds
	rules, corrs := loadPack(t)
	for _, r := range rules {
		f := strings.TrimPrefix(r.Source, "builtin:cloudtrail/")
		ids[f] = append(ids[f], r.ID)
	}
	for _, c := range corrs {
		f := strings.TrimPrefix(c.Source, "builtin:cloudtrail/")
		ids[f] = append(ids[f], c.ID)
	}
	ref := regexp.MustCompile(`([a-z0-9_]+\.yml) \(([0-9a-f-]{36})\)`)
	n := 0
	for _, m := range ref.FindAllStringSubmatch(string(doc), -1) {
		n++
		if !slices.Contains(ids[m[1]], m[2]) {
			t.Errorf("coverage.md names %s (%s): the pack has %q", m[1], m[2], ids[m[1]])
		}
	}
	if n < 50 {
		t.Errorf("coverage.md names only %d rules", n)
	}
}
