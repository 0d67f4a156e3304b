package event

import (
	"fmt"
	"strings"
)

// FieldReference renders docs/fields.md from the field table, so the
// documentation cannot drift from what the decoder does.
func FieldReference() string {
	var b strings.Builder
	b.WriteString(`# Event fields

<!-- Generated from internal/event/event.go (the Fields table); do not edit.
     Regenerate with: go test ./internal/event/ -run TestFieldReference -update -->

Rules address fields by their CloudTrail names, as dotted paths into the record:
` + "`requestParameters.ipPermissions.items.ipRanges.items.cidrIp`" + `. A list met on the way is
searched element by element (a rule matches when any element does), and a numeric segment indexes
a list (` + "`items.0.fromPort`" + `). A path that reaches an object or a list, compared with a string
modifier such as ` + "`contains`" + `, is compared against that value's compact JSON text.

Every field of the record can be addressed. The fields below are *hot*: decoded once per event
into typed slots, so reading them costs nothing; every other path is looked up in the record's
raw JSON when a rule asks for it.

| field | meaning |
| --- | --- |
`)
	for _, f := range Fields {
		fmt.Fprintf(&b, "| `%s` | %s |\n", f.Path, f.Doc)
	}
	return b.String()
}
