package detect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

// TestResult is the outcome of one example a rule carries.
type TestResult struct {
	Rule *Rule
	Test RuleTest
	// Matched is what the rule said; ByEngine what the indexed engine said,
	// which must agree (an example the index skips is a bug).
	Matched, ByEngine bool
	Err               error // the example's event could not be decoded
}

// Passed reports whether the rule did what the example says.
func (r TestResult) Passed() bool {
	return r.Err == nil && r.Matched == r.Test.Match && r.ByEngine == r.Matched
}

func (r TestResult) String() string {
	verdict := "ok"
	switch {
	case r.Err != nil:
		verdict = "error: " + r.Err.Error()
	case r.Matched != r.Test.Match && r.Test.Match:
		verdict = "FAIL: must match, did not"
	case r.Matched != r.Test.Match:
		verdict = "FAIL: must not match, did"
	case r.ByEngine != r.Matched:
		verdict = "FAIL: the rule matches but the engine's index skips it"
	}
	return fmt.Sprintf("%s (line %d) %q: %s", r.Rule.Source, r.Test.Line, r.Test.Name, verdict)
}

// The intelligence lists rule examples run with, so rules on
// trailsentry.intel.threatList and trusted-address filters can carry
// examples: a call from ExampleThreatIP is on a threat list named
// "example-threats.txt", one from ExampleTrustedIP on a trusted list.
const (
	ExampleThreatIP  = "203.0.113.250"
	ExampleTrustedIP = "192.0.2.250"
)

// ExampleEnricher returns the enricher rule examples run with: the built-in
// tables, plus the example lists, written into dir.
func ExampleEnricher(ctx context.Context, dir string) (*enrich.Enricher, error) {
	threat := filepath.Join(dir, "example-threats.txt")
	trusted := filepath.Join(dir, "example-trusted.txt")
	if err := os.WriteFile(threat, []byte(ExampleThreatIP+"/32\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(trusted, []byte(ExampleTrustedIP+"/32\n"), 0o644); err != nil {
		return nil, err
	}
	return enrich.New(ctx, enrich.Options{ThreatLists: []string{threat}, TrustedLists: []string{trusted}})
}

// RunTests runs every example of every rule, through the rule itself and
// through an engine indexing all of them, with enrichment from en.
func RunTests(rules []*Rule, en *enrich.Enricher) []TestResult {
	eng := NewEngine(rules)
	view := en.NewView()
	var out []TestResult
	for _, r := range rules {
		for _, t := range r.Tests {
			res := TestResult{Rule: r, Test: t}
			ev, err := decodeOne(t.Event)
			if err != nil {
				res.Err = err
				out = append(out, res)
				continue
			}
			view.Reset(ev)
			res.Matched = r.Match(view)
			eng.Match(view, func(m *Rule) {
				if m == r {
					res.ByEngine = true
				}
			})
			out = append(out, res)
		}
	}
	return out
}

// decodeOne decodes an example: exactly one CloudTrail record.
func decodeOne(b []byte) (*event.Event, error) {
	d := event.NewDecoder(bytes.NewReader(b))
	ev, err := d.Next()
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if _, err := d.Next(); !errors.Is(err, io.EOF) {
		return nil, errors.New("event: more than one record")
	}
	return ev, nil
}
