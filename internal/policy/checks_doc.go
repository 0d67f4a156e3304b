package policy

import (
	"fmt"
	"strings"
)

// ChecksMarkdown renders the check table as the Markdown table docs/policy.md
// carries between its "checks" markers, so the documentation cannot drift
// from what Analyze does.
func ChecksMarkdown() string {
	var b strings.Builder
	b.WriteString("| id | category | severity | actions (all allowed) | why it matters |\n| --- | --- | --- | --- | --- |\n")
	for _, c := range checks {
		acts := make([]string, len(c.Actions))
		for i, a := range c.Actions {
			acts[i] = "`" + a + "`"
			if k := probeKind(a); k != probeAny && !c.OnSelf {
				acts[i] += " on " + map[probeType]string{probeUser: "any other user", probeGroup: "any group", probeRole: "any role", probePolicy: "any policy"}[k]
			} else if c.OnSelf {
				acts[i] += " on the user itself"
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", c.ID, c.Category, c.Severity, strings.Join(acts, " + "), c.Reason)
	}
	return b.String()
}
