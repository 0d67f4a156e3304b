package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Building least-privilege policy documents from (action, resource) pairs,
// shared by Suggest (refused calls) and Generate (successful ones). The
// pairs are the grant: actions with the same resources share a statement,
// an action on several resources lists them all, and nothing else is
// allowed — no wildcard action, and "*" as a resource only for an action
// that has no resource-level permissions or whose resource could not be
// derived, each said in the statement's notes.

// Document is an IAM policy document as written out: valid IAM JSON, ready
// to apply with `aws iam put-role-policy` or `create-policy`.
type Document struct {
	Version   string              `json:"Version"`
	Statement []DocumentStatement `json:"Statement"`
}

// DocumentStatement is one Allow statement of a Document.
type DocumentStatement struct {
	Sid      string   `json:"Sid"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
}

// Parse reads the document back as a Policy, through the same parser every
// other policy goes through: the proof that it is valid IAM JSON, and what
// tests evaluate.
func (d *Document) Parse() (*Policy, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Grant is one statement of a proposed document with why it is there.
type Grant struct {
	Sid       string   `json:"sid"`
	Actions   []string `json:"actions"`
	Resources []string `json:"resources"`
	// Evidence holds the eventIDs of the calls the statement is made of (at
	// most maxEvidence; EvidenceCount is the whole count).
	Evidence      []string `json:"evidence"`
	EvidenceCount int      `json:"evidenceCount"`
	// Notes say where the scope is not the exact resource: "*" for an action
	// without resource-level permissions, or because nothing in the records
	// names the resource; a pattern the records gave; a widening --group made.
	Notes []string `json:"notes,omitempty"`
}

// Proposal is a proposed policy for one principal.
type Proposal struct {
	Principal string    `json:"principal"`
	Policy    *Document `json:"policy,omitempty"` // nil when there is nothing to grant
	Grants    []Grant   `json:"statements"`       // Policy.Statement's evidence and notes, in the same order
}

// maxEvidence bounds the eventIDs a statement keeps.
const maxEvidence = 50

// grants collects (action, resource) pairs with their evidence.
type grants struct {
	actions map[string]*actionGrant // by lower-cased action
	order   []string
}

type actionGrant struct {
	action    string
	resources []string             // in first-seen order
	evidence  map[string]*evidence // by resource
	notes     []string
}

type evidence struct {
	ids   []string
	count int
}

func (e *evidence) add(id string) {
	if id == "" || slices.Contains(e.ids, id) {
		return
	}
	e.count++
	if len(e.ids) < maxEvidence {
		e.ids = append(e.ids, id)
	}
}

func newGrants() *grants { return &grants{actions: map[string]*actionGrant{}} }

// add grants action on the resources of need, with the event as evidence.
// Exact resources are escaped for policy text; "*" replaces a resource the
// records could not name as an ARN.
func (g *grants) add(action string, need Need, eventID string) {
	key := strings.ToLower(action)
	ag := g.actions[key]
	if ag == nil {
		ag = &actionGrant{action: action, evidence: map[string]*evidence{}}
		g.actions[key] = ag
		g.order = append(g.order, key)
	}
	resources := need.Resources
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	for _, r := range resources {
		res := r
		switch {
		case r == "*":
			if need.From == FromNone || need.From == "" {
				ag.note("nothing in the records names the resource of " + action + ": Resource \"*\"; scope it by hand")
			} else {
				ag.note(action + " has no resource-level permissions: Resource \"*\"")
			}
		case !strings.HasPrefix(r, "arn:"):
			ag.note(fmt.Sprintf("the error message names the resource of %s as %q, not an ARN: Resource \"*\"; scope it by hand", action, r))
			res = "*"
		case need.Pattern && strings.ContainsAny(r, "*?"):
			ag.note(fmt.Sprintf("the records give the resource of %s as the pattern %s", action, r))
		default:
			res = EscapeResource(r)
		}
		ev := ag.evidence[res]
		if ev == nil {
			ev = &evidence{}
			ag.evidence[res] = ev
			ag.resources = append(ag.resources, res)
		}
		ev.add(eventID)
	}
}

func (ag *actionGrant) note(n string) {
	if !slices.Contains(ag.notes, n) {
		ag.notes = append(ag.notes, n)
	}
}

// EscapeResource makes an exact resource ARN safe as policy text: "*", "?"
// and "$" in it (an S3 key may hold them) become IAM's ${*}, ${?} and ${$},
// so the statement matches that resource only.
func EscapeResource(arn string) string {
	if !strings.ContainsAny(arn, "*?$") {
		return arn
	}
	var b strings.Builder
	for _, c := range arn {
		switch c {
		case '*', '?', '$':
			b.WriteString("${" + string(c) + "}")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// proposal turns the collected pairs into a document. With group, actions
// of one service sharing a verb become service:Verb*, and several ARNs of
// an action sharing a path become prefix*: only when the user asks.
func (g *grants) proposal(principal string, group bool) Proposal {
	p := Proposal{Principal: principal, Grants: []Grant{}}
	list := make([]*actionGrant, 0, len(g.order))
	for _, k := range g.order {
		ag := g.actions[k]
		if slices.Contains(ag.resources, "*") && len(ag.resources) > 1 {
			// "*" covers the rest: keep the evidence, drop the narrower ARNs.
			all := ag.evidence["*"]
			for _, r := range ag.resources {
				if r != "*" {
					for _, id := range ag.evidence[r].ids {
						all.add(id)
					}
				}
			}
			ag.resources = []string{"*"}
		}
		list = append(list, ag)
	}
	if group {
		list = widenActions(list)
		for _, ag := range list {
			widenResources(ag)
		}
	}

	// Actions with the same resources share a statement.
	type stmt struct {
		grant Grant
		ev    *evidence
	}
	var stmts []*stmt
	byKey := map[string]*stmt{}
	for _, ag := range list {
		res := slices.Clone(ag.resources)
		slices.Sort(res)
		key := strings.Join(res, "\x00")
		s := byKey[key]
		if s == nil {
			s = &stmt{grant: Grant{Resources: res}, ev: &evidence{}}
			byKey[key] = s
			stmts = append(stmts, s)
		}
		s.grant.Actions = append(s.grant.Actions, ag.action)
		for _, r := range ag.resources {
			for _, id := range ag.evidence[r].ids {
				s.ev.add(id)
			}
			s.ev.count += max(0, ag.evidence[r].count-len(ag.evidence[r].ids))
		}
		for _, n := range ag.notes {
			if !slices.Contains(s.grant.Notes, n) {
				s.grant.Notes = append(s.grant.Notes, n)
			}
		}
	}
	for _, s := range stmts {
		slices.SortFunc(s.grant.Actions, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
		s.grant.Evidence, s.grant.EvidenceCount = s.ev.ids, s.ev.count
		if s.grant.Evidence == nil {
			s.grant.Evidence = []string{}
		}
	}
	slices.SortStableFunc(stmts, func(a, b *stmt) int {
		return strings.Compare(strings.ToLower(a.grant.Actions[0]), strings.ToLower(b.grant.Actions[0]))
	})
	if len(stmts) == 0 {
		return p
	}
	doc := &Document{Version: "2012-10-17"}
	sids := map[string]int{}
	for _, s := range stmts {
		s.grant.Sid = sid(s.grant.Actions, sids)
		p.Grants = append(p.Grants, s.grant)
		doc.Statement = append(doc.Statement, DocumentStatement{Sid: s.grant.Sid, Effect: "Allow",
			Action: slices.Clone(s.grant.Actions), Resource: slices.Clone(s.grant.Resources)})
	}
	p.Policy = doc
	return p
}

// sid names a statement after its actions ("AllowS3GetObject",
// "AllowDynamodbGetItemAnd2More"), unique within the document: IAM takes
// letters and digits only.
func sid(actions []string, seen map[string]int) string {
	svc, name, _ := strings.Cut(actions[0], ":")
	s := "Allow" + alnumTitle(svc) + alnumTitle(name)
	if len(actions) > 1 {
		s += fmt.Sprintf("And%dMore", len(actions)-1)
	}
	seen[s]++
	if n := seen[s]; n > 1 {
		s += fmt.Sprint(n)
	}
	return s
}

func alnumTitle(s string) string {
	var b strings.Builder
	up := true
	for _, c := range s {
		if c > unicode.MaxASCII || !(unicode.IsLetter(c) || unicode.IsDigit(c)) {
			up = true
			continue
		}
		if up {
			c = unicode.ToUpper(c)
			up = false
		}
		b.WriteRune(c)
	}
	return b.String()
}

// verbOf is the verb an action name starts with: "Get" of GetObject,
// "Describe" of DescribeInstances.
func verbOf(name string) string {
	for i := 1; i < len(name); i++ {
		if name[i] >= 'A' && name[i] <= 'Z' {
			return name[:i]
		}
	}
	return name
}

// widenActions merges the actions of one service that share a verb into
// service:Verb* (two at least), on the union of their resources.
func widenActions(list []*actionGrant) []*actionGrant {
	type bucket struct {
		members []*actionGrant
	}
	buckets := map[string]*bucket{}
	var keys []string
	for _, ag := range list {
		svc, name, _ := strings.Cut(ag.action, ":")
		verb := verbOf(name)
		k := strings.ToLower(svc) + ":" + verb
		if buckets[k] == nil {
			buckets[k] = &bucket{}
			keys = append(keys, k)
		}
		buckets[k].members = append(buckets[k].members, ag)
	}
	var out []*actionGrant
	for _, k := range keys {
		b := buckets[k]
		if len(b.members) < 2 || strings.HasSuffix(k, ":") {
			out = append(out, b.members...)
			continue
		}
		w := &actionGrant{action: k + "*", evidence: map[string]*evidence{}}
		var names []string
		for _, m := range b.members {
			names = append(names, m.action)
			for _, r := range m.resources {
				ev := w.evidence[r]
				if ev == nil {
					ev = &evidence{}
					w.evidence[r] = ev
					w.resources = append(w.resources, r)
				}
				for _, id := range m.evidence[r].ids {
					ev.add(id)
				}
			}
			for _, n := range m.notes {
				w.note(n)
			}
		}
		if slices.Contains(w.resources, "*") {
			w.resources = []string{"*"}
			all := w.evidence["*"]
			for r, ev := range w.evidence {
				if r != "*" {
					for _, id := range ev.ids {
						all.add(id)
					}
				}
			}
		}
		w.note(fmt.Sprintf("--group widened %s to %s", strings.Join(names, ", "), w.action))
		out = append(out, w)
	}
	return out
}

// widenResources replaces an action's ARNs by their common prefix and "*"
// when they share a path within one resource type: arn:aws:s3:::b/logs/a
// and arn:aws:s3:::b/logs/b become arn:aws:s3:::b/logs/*. It never widens
// to a whole service, account or resource type.
func widenResources(ag *actionGrant) {
	if len(ag.resources) < 2 || slices.Contains(ag.resources, "*") {
		return
	}
	prefix := ag.resources[0]
	for _, r := range ag.resources[1:] {
		n := 0
		for n < len(prefix) && n < len(r) && prefix[n] == r[n] {
			n++
		}
		prefix = prefix[:n]
	}
	// The head arn:partition:service:region:account: must be whole, and the
	// cut falls after a separator of the resource part, past its first one
	// (so "bucket/" or "table/orders/" but never "table/" alone).
	head := 0
	for i, colons := 0, 0; i < len(prefix); i++ {
		if prefix[i] == ':' {
			colons++
			if colons == 5 {
				head = i + 1
				break
			}
		}
	}
	if head == 0 {
		return
	}
	cut := strings.LastIndexAny(prefix[head:], "/:")
	if cut < 0 {
		return
	}
	res := prefix[head : head+cut+1]
	if strings.IndexAny(res, "/:") == len(res)-1 && !strings.Contains(prefix[:head], ":s3:") {
		// Only the resource type ("table/", "function:"): too wide.
		return
	}
	if strings.Contains(prefix[:head], ":s3:") && len(res) <= 1 {
		return
	}
	widened := prefix[:head+cut+1] + "*"
	all := &evidence{}
	for _, r := range ag.resources {
		for _, id := range ag.evidence[r].ids {
			all.add(id)
		}
	}
	ag.note(fmt.Sprintf("--group widened %d resources of %s to %s", len(ag.resources), ag.action, widened))
	ag.resources = []string{widened}
	ag.evidence = map[string]*evidence{widened: all}
}
