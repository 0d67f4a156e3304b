package detect

import (
	"fmt"
	"slices"
	"strings"
)

// levelRank sorts rules from critical down to informational.
func levelRank(level string) int {
	return slices.Index([]string{"critical", "high", "medium", "low", "informational"}, level)
}

// SortRules orders rules by level (critical first), then title.
func SortRules(rules []*Rule) {
	slices.SortStableFunc(rules, func(a, b *Rule) int {
		if d := levelRank(a.Level) - levelRank(b.Level); d != 0 {
			return d
		}
		return strings.Compare(a.Title, b.Title)
	})
}

// Reference renders the rule reference (docs/rules.md) for a pack: a table
// of every rule, then each rule's description, false positives and tests.
func Reference(rules []*Rule) string {
	rules = slices.Clone(rules)
	SortRules(rules)
	var b strings.Builder
	b.WriteString("# Built-in rules\n\n")
	b.WriteString("<!-- Generated from rules/ by `go test ./rules/ -update`; do not edit. -->\n\n")
	fmt.Fprintf(&b, "%d rules, embedded in the binary. `trailsentry rules list` prints this table, `trailsentry rules show ID` one rule, `trailsentry rules test` runs every rule's examples.\n\n", len(rules))
	b.WriteString("| level | rule | ATT&CK | examples | id |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range rules {
		pos, neg := 0, 0
		for _, t := range r.Tests {
			if t.Match {
				pos++
			} else {
				neg++
			}
		}
		fmt.Fprintf(&b, "| %s | [%s](#%s) | %s | %d match, %d not | `%s` |\n",
			r.Level, mdEscape(r.Title), anchor(r.ID), strings.Join(r.Attack, ", "), pos, neg, r.ID)
	}
	for _, r := range rules {
		fmt.Fprintf(&b, "\n## %s\n\n<a id=\"%s\"></a>`%s` · %s · %s", mdEscape(r.Title), anchor(r.ID), r.ID, r.Level, r.Source)
		if len(r.Attack) > 0 {
			fmt.Fprintf(&b, " · ATT&CK %s", strings.Join(r.Attack, ", "))
		}
		b.WriteString("\n\n")
		b.WriteString(strings.TrimSpace(r.Description) + "\n")
		if len(r.FalsePositives) > 0 {
			b.WriteString("\nFalse positives:\n")
			for _, fp := range r.FalsePositives {
				fmt.Fprintf(&b, "- %s\n", fp)
			}
		}
		if len(r.References) > 0 {
			b.WriteString("\nReferences:\n")
			for _, ref := range r.References {
				fmt.Fprintf(&b, "- %s\n", ref)
			}
		}
		if len(r.Tests) > 0 {
			b.WriteString("\nExamples:\n")
			for _, t := range r.Tests {
				verdict := "does not match"
				if t.Match {
					verdict = "matches"
				}
				fmt.Fprintf(&b, "- %s: %s\n", verdict, t.Name)
			}
		}
	}
	return b.String()
}

func anchor(id string) string { return "rule-" + id }

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
