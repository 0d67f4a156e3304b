package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"

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
