package enrich

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Reference renders docs/enrichment.md from the field table, the tables in
// tables.go and the action catalog, so the documentation cannot drift from
// what enrichment does.
func Reference() (string, error) {
	cat, err := parseCatalog(actionsTSV, techniquesTSV)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	services := map[string]bool{}
	for _, a := range cat.list {
		services[a.Service] = true
	}

	w(`# Enrichment

<!-- Generated from internal/enrich (fields.go, tables.go, actions.tsv, techniques.tsv); do not edit.
     Regenerate with: go test ./internal/enrich/ -run TestReference -update -->

Every event is enriched with what its record does not say outright: who is really acting, what
the action can do, where the call came from, and what your intelligence lists say about the
address. Findings show the enrichment of their events, and rules address it as fields whose names
start with `+"`%s`"+`. CloudTrail has no top-level key of that name, so these fields never collide
with a record's own: `+"`userIdentity.type`"+` is CloudTrail's, `+"`trailsentry.identity.type`"+` is ours.

Enrichment is lazy: nothing is worked out for an event until a rule or a finding asks for it,
and each part (identity, action, source, client, intelligence) at most once per event. A rule
set that never mentions a `+"`trailsentry.`"+` field costs nothing.

`, Prefix)
	w("```yaml\n" + `title: Offensive tooling used against the AWS API
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    trailsentry.client.tooling|startswith: 'offensive:'
  filter_trusted:
    trailsentry.intel.trusted: true
  condition: selection and not filter_trusted
level: high
` + "```\n\n")

	w("## Fields\n\n| field | type | meaning |\n| --- | --- | --- |\n")
	for _, f := range fields {
		w("| `%s` | %s | %s |\n", f.Path, f.Type, f.Doc)
	}
	w(`
A string field that does not apply is missing (Sigma's ` + "`field: null`" + ` matches it). A list field
is searched element by element, like a list in the record: ` + "`trailsentry.action.risks: privilege-escalation`" + `
matches an action with that risk among others.

## Actor

The actor is the most human name the record allows.

| ` + "`userIdentity.type`" + ` | actor |
| --- | --- |
`)
	for _, t := range identityTypes {
		w("| %s | %s |\n", t.Type, t.Actor)
	}
	w(`
The key type comes from the access key id: `+"`AKIA`"+` is a long-term key (an IAM user's or the root
user's), `+"`ASIA`"+` temporary STS credentials. MFA is `+"`userIdentity.sessionContext.attributes.mfaAuthenticated`"+`
or, on a console sign-in, `+"`additionalEventData.MFAUsed`"+`.

## Actions

The catalog holds %d actions of %d services. Each gives the IAM action that authorises the call,
its access level as the [AWS Service Authorization Reference](https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html)
gives it, the [MITRE ATT&CK](https://attack.mitre.org/) techniques the call is characteristic of,
and its risk categories. It is the file `+"`internal/enrich/actions.tsv`"+`; add a line to extend it.
Sign-in events (`+"`signin:`"+`) are not IAM actions: their access level is trailsentry's.

An event outside the catalog still gets a service (from `+"`eventSource`"+`), an IAM action
(`+"`<service>:<eventName>`"+`, with an API-version suffix such as Lambda's `+"`20150331v2`"+` removed),
an access level guessed from the verb its name starts with, and `+"`trailsentry.action.guessed: true`"+`:

- List, Describe: List
- Get, BatchGet, Head, Lookup, Search, Select, Query, Scan, Download: Read
- Tag, Untag, AddTags, RemoveTags, CreateTags, DeleteTags: Tagging
- a verb that changes something (Put, Attach, Detach, Create, Delete, Update, Set, Add, Remove,
  Modify, Revoke, Retire, Replace) followed by a name containing Policy, Permission or Grant, or
  Put…Acl: Permissions management
- anything else: Write

### Risk categories

| risk | meaning |
| --- | --- |
`, len(cat.list), len(services))
	for _, r := range riskCategories {
		w("| `%s` | %s |\n", r.Name, r.Doc)
	}
	w("\n### ATT&CK techniques\n\n| technique | name | actions |\n| --- | --- | --- |\n")
	for _, id := range cat.techOrder {
		n := 0
		for _, a := range cat.list {
			for _, t := range a.Techniques {
				if t == id {
					n++
				}
			}
		}
		w("| %s | %s | %d |\n", id, cat.techniques[id], n)
	}
	w("\n### Service prefixes\n\nThe service is the first label of `eventSource` (`iam.amazonaws.com` → `iam`), except:\n\n| eventSource | service |\n| --- | --- |\n")
	for _, src := range slices.Sorted(maps.Keys(serviceByEventSource)) {
		w("| `%s` | `%s` |\n", src, serviceByEventSource[src])
	}
	w("\n### Catalog\n\n| event | IAM action | access level | ATT&CK | risks |\n| --- | --- | --- | --- | --- |\n")
	for _, a := range cat.list {
		name := ""
		if a.Name != a.Service+":"+a.Event {
			name = "`" + a.Name + "`"
		}
		w("| `%s:%s` | %s | %s | %s | %s |\n", a.Service, a.Event, name, a.AccessLevel, strings.Join(a.Techniques, ", "), strings.Join(a.Risks, ", "))
	}
	w("\nAn empty IAM action is the event's own name.\n")

	w("\n## Network\n\n`trailsentry.network.sourceKind` classifies `sourceIPAddress`:\n\n| kind | meaning |\n| --- | --- |\n")
	for _, k := range sourceKinds {
		w("| `%s` | %s |\n", k.Kind, k.Doc)
	}
	w("\nPrivate ranges:\n\n| block | |\n| --- | --- |\n")
	for _, r := range privateRanges {
		w("| `%s` | %s |\n", r.Prefix, r.Doc)
	}

	w("\n## Client\n\n`trailsentry.client.family` is the first family whose rule matches the user agent, in this order;\n")
	w("a user agent no rule matches is `other`. A `browser` on a console sign-in or console action is `console`.\n\n")
	w("| family | user agent |\n| --- | --- |\n")
	for _, r := range userAgentRules {
		w("| `%s` | %s `%s` |\n", r.Family, r.Match, r.Needle)
	}
	w("\n`trailsentry.client.tooling` is `<category>:<tool>` for the first signature found in the user agent,\n")
	w("ignoring case, as a word (no letter right before or after it):\n\n| category | meaning |\n| --- | --- |\n")
	for _, c := range toolingCategories {
		w("| `%s` | %s |\n", c.Name, c.Doc)
	}
	w("\n| tooling | signature |\n| --- | --- |\n")
	for _, s := range toolSignatures {
		w("| `%s` | `%s` |\n", s.Label, s.Token)
	}

	w(`
## Intelligence lists

Like GuardDuty's threat and trusted IP lists, trailsentry reads lists of IP addresses and CIDR
blocks, IPv4 or IPv6:

- a **threat list**: a call from one of its addresses sets ` + "`trailsentry.intel.threatList`" + ` to the
  list's file name. A rule on that field is GuardDuty's *UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom*:

  ` + "```yaml" + `
  detection:
    selection:
      trailsentry.intel.threatList|exists: true
    condition: selection
  ` + "```" + `

- a **trusted list**: a call from one of its addresses sets ` + "`trailsentry.intel.trusted: true`" + `;
  network-based rules (new or unusual source address, calls from outside the organisation) leave
  such calls alone: they filter on ` + "`trailsentry.intel.trusted: true`" + `, as the example at the top does.

A list is a file:

- plain text (any name but ` + "`*.csv`" + `): one address or block a line; ` + "`#`" + ` starts a comment, blank
  lines are skipped;
- CSV (` + "`*.csv`" + `): the first column holds the address or block, other columns are ignored; a first
  row that does not start with an address is a header; lines starting with ` + "`#`" + ` are comments.

A block's host bits are ignored (` + "`10.1.2.3/8`" + ` is ` + "`10.0.0.0/8`" + `). A bad line fails the load
with the file and line named. Lists are reloaded without a restart when their files change
(modification time or size); a reload that fails keeps the lists in force. A lookup is a binary
search over the list's merged ranges: its cost does not grow noticeably with the list.
`)
	return b.String(), nil
}
