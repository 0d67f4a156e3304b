package enrich

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"github.com/trailsentry/trailsentry/internal/event"
)

// What permissions a call needed. CloudTrail's eventName is not always the
// IAM action that authorised the call, and some calls need several: a
// CopyObject reads one object (s3:GetObject) and writes another
// (s3:PutObject); a GetObject with a versionId needs s3:GetObjectVersion
// instead; a RunInstances that attaches an instance profile also needs
// iam:PassRole. Some calls need no identity permission at all: a web
// identity federation is authorised by the role's trust policy, a console
// sign-in by a password. These are data, in three embedded files:
//
//	iamactions.tsv  per event: the actions it needs, always or when a request
//	                parameter is present, or that it needs none
//	resources.tsv   per IAM action: ARN templates filled from the request
//	unrecorded.tsv  IAM actions CloudTrail never records, or records only as
//	                data events, so that "unused" can be told from "unseen"
//
// An event iamactions.tsv does not list needs the catalog's IAM action
// (actions.tsv, Action.Name) — for an event outside the catalog, a guess.

//go:embed iamactions.tsv
var iamActionsTSV string

//go:embed resources.tsv
var resourcesTSV string

//go:embed unrecorded.tsv
var unrecordedTSV string

// What a call needs of identity-based policies (Permission.Need).
const (
	// NeedIAM: the caller's policies must allow the actions (resource
	// policies, SCPs, boundaries and session policies may also have a say).
	NeedIAM = "iam"
	// NeedNone: no identity-based permission; the call is authorised by
	// something else (a role's trust policy, a password, an SSO token), or it
	// is not a caller's call at all (an AwsServiceEvent).
	NeedNone = "none"
	// NeedUnknown: AWS does not document the permission the call needs.
	NeedUnknown = "unknown"
)

// How CloudTrail records the use of an IAM action (RecordedAs).
const (
	// Recorded: a call needing it is logged as a management event (as far
	// as unrecorded.tsv knows: it lists the exceptions).
	Recorded = "recorded"
	// RecordedAsDataEvent: only a trail or event data store that logs data
	// events for the resource sees it.
	RecordedAsDataEvent = "data-event"
	// NotRecorded: no CloudTrail event shows the action's use: it is checked
	// inside another call (iam:PassRole) or its API is not logged.
	NotRecorded = "never"
)

// Permission is what the catalog says an event needs, without an event.
type Permission struct {
	Event       string              // the catalog's service:eventName ("s3:CopyObject")
	Need        string              // NeedIAM, NeedNone or NeedUnknown
	Actions     []string            // the IAM actions every such call needs, in order
	Conditional []ConditionalAction // actions some calls need, by request parameter
	Note        string              // why, for an exception
	Guessed     bool                // the event is not in the catalog: Actions is a guess
}

// ConditionalAction is an action a call needs when its request carries a
// parameter.
type ConditionalAction struct {
	When     string // the condition, as iamactions.tsv writes it: "versionId", "x-amz-acl", "x-amz-copy-source~versionId="
	Action   string // the IAM action
	Replaces string // the action of Actions it replaces, "" when needed as well
}

// Access is one IAM action an event's call needed and the resources it was
// authorised against.
type Access struct {
	Action    string   // "s3:GetObject"
	Resources []string // ARNs, or patterns; ["*"] when nothing in the record names the resource
	// Wildcard is set when a resource is a pattern rather than the exact
	// resource: "*" when nothing could be derived, a bucket's "/*" for the
	// objects of a DeleteObjects, "key/*" for a KMS key named by alias.
	Wildcard bool
	// From says where Resources came from: "error-message" (the
	// AccessDenied message names it), "request" (templates over the
	// request), "record" (the record's resources[]) or "none" ("*").
	From string
}

// Authorization is what one event's call needed.
type Authorization struct {
	Need    string   // NeedIAM, NeedNone or NeedUnknown
	Note    string   // why, when Need is not NeedIAM
	Guessed bool     // the event is outside the catalog: the action is a guess
	Actions []Access // in a deterministic order: the denied action first, then the catalog's
}

// accessTables are the parsed iamactions.tsv, resources.tsv and
// unrecorded.tsv. Nothing is written after parsing.
type accessTables struct {
	rules     map[actionKey][]*accessRule // by catalog key, file order
	ruleList  []*accessRule               // file order, for the docs
	resources map[string][]*template      // by IAM action, or "service:*"
	resRows   []resourceRow               // file order, for the docs
	recorded  map[string]recordedRow      // by IAM action, or "service:*"
	recRows   []recordedRow
}

// accessRule is one line of iamactions.tsv.
type accessRule struct {
	event    actionKey
	when     string      // as written
	whenPath *event.Path // nil: always
	whenHas  string      // the value must contain this ("" = present)
	action   string      // IAM action, or "" with need set
	need     string      // NeedIAM unless the line says "-" or "?"
	replaces string
	resource []*template // call-specific templates, nil for resources.tsv's
	resText  string
	note     string
}

type resourceRow struct{ actions, templates string }

type recordedRow struct{ action, how, note string }

// isIAMAction reports whether s reads service:Action.
func isIAMAction(s string) bool {
	svc, name, ok := strings.Cut(s, ":")
	return ok && svc != "" && name != "" && !strings.ContainsAny(s, " \t*,")
}

// parseAccess reads the three access tables.
func parseAccess(iamActions, resources, unrecorded string) (*accessTables, error) {
	t := &accessTables{
		rules:     make(map[actionKey][]*accessRule),
		resources: make(map[string][]*template),
		recorded:  make(map[string]recordedRow),
	}
	header := []string{"event", "when", "iam_action", "replaces", "resource", "note"}
	err := eachRow("iamactions.tsv", iamActions, header, func(line int, f []string) error {
		service, name, ok := strings.Cut(f[0], ":")
		if !ok || service == "" || name == "" {
			return fmt.Errorf("event %q is not service:eventName", f[0])
		}
		r := &accessRule{event: actionKey{service, name}, when: f[1], action: f[2], need: NeedIAM, replaces: f[3], resText: f[4], note: f[5]}
		switch f[2] {
		case "-", "?":
			r.need, r.action = NeedNone, ""
			if f[2] == "?" {
				r.need = NeedUnknown
			}
			if f[1] != "" || f[3] != "" || f[4] != "" || f[5] == "" {
				return fmt.Errorf("%s: a line without an IAM action takes no condition, replacement or resource, and needs a note", f[0])
			}
			if len(t.rules[r.event]) > 0 {
				return fmt.Errorf("%s: needs no action but has other lines", f[0])
			}
		default:
			if !isIAMAction(f[2]) {
				return fmt.Errorf("%s: IAM action %q is not service:Action", f[0], f[2])
			}
			if prev := t.rules[r.event]; len(prev) > 0 && prev[0].need != NeedIAM {
				return fmt.Errorf("%s: needs no action but has other lines", f[0])
			}
		}
		if r.replaces != "" && (r.when == "" || !isIAMAction(r.replaces)) {
			return fmt.Errorf("%s: replaces %q needs a condition and an IAM action", f[0], r.replaces)
		}
		if r.when != "" {
			p, has, _ := strings.Cut(r.when, "~")
			if p == "" || strings.ContainsAny(p, " *{}") {
				return fmt.Errorf("%s: bad condition %q", f[0], r.when)
			}
			if !strings.HasPrefix(p, "responseElements.") && !strings.HasPrefix(p, "additionalEventData.") {
				p = "requestParameters." + p
			}
			r.whenPath, r.whenHas = event.ParsePath(p), has
		}
		if r.resText != "" {
			tm, err := compileTemplates(r.resText)
			if err != nil {
				return fmt.Errorf("%s: %w", f[0], err)
			}
			r.resource = tm
		}
		for _, o := range t.rules[r.event] {
			if o.action == r.action && o.when == r.when {
				return fmt.Errorf("%s: %s listed twice", f[0], r.action)
			}
		}
		t.rules[r.event] = append(t.rules[r.event], r)
		t.ruleList = append(t.ruleList, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = eachRow("resources.tsv", resources, []string{"iam_action", "resource"}, func(line int, f []string) error {
		tm, err := compileTemplates(f[1])
		if err != nil {
			return err
		}
		if len(tm) == 0 {
			return fmt.Errorf("%s: no template", f[0])
		}
		for _, a := range strings.Split(f[0], ",") {
			svc, name, _ := strings.Cut(a, ":")
			if !isIAMAction(a) && !(name == "*" && svc != "" && !strings.ContainsAny(svc, " *")) {
				return fmt.Errorf("%q is neither service:Action nor service:*", a)
			}
			if _, dup := t.resources[a]; dup {
				return fmt.Errorf("%s listed twice", a)
			}
			t.resources[a] = tm
		}
		t.resRows = append(t.resRows, resourceRow{f[0], f[1]})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = eachRow("unrecorded.tsv", unrecorded, []string{"iam_action", "recorded", "note"}, func(line int, f []string) error {
		svc, name, _ := strings.Cut(f[0], ":")
		if !isIAMAction(f[0]) && !(name == "*" && svc != "") {
			return fmt.Errorf("%q is neither service:Action nor service:*", f[0])
		}
		if f[1] != RecordedAsDataEvent && f[1] != NotRecorded {
			return fmt.Errorf("%s: recorded is %q, want %s or %s", f[0], f[1], RecordedAsDataEvent, NotRecorded)
		}
		if f[2] == "" {
			return fmt.Errorf("%s: no note", f[0])
		}
		if _, dup := t.recorded[f[0]]; dup {
			return fmt.Errorf("%s listed twice", f[0])
		}
		row := recordedRow{f[0], f[1], f[2]}
		t.recorded[f[0]] = row
		t.recRows = append(t.recRows, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Permission returns what the catalog says a call to eventName at
// eventSource needs: the actions every call needs, those that depend on the
// request, or that it needs no identity permission. An API-version suffix on
// the name is ignored ("Invoke20150331" is Lambda's Invoke).
func (e *Enricher) Permission(eventSource, eventName string) Permission {
	name := trimAPIVersion(eventName)
	a, ok := e.catalog.bySource[actionKey{eventSource, name}]
	if !ok {
		a = guessAction(actionKey{ServiceOf(eventSource), name})
	}
	p := Permission{Event: a.Service + ":" + a.Event, Need: NeedIAM, Guessed: a.Guessed}
	rules := e.catalog.access.rules[actionKey{a.Service, a.Event}]
	for _, r := range rules {
		switch {
		case r.need != NeedIAM:
			p.Need, p.Note = r.need, r.note
		case r.whenPath == nil:
			p.Actions = append(p.Actions, r.action)
		default:
			p.Conditional = append(p.Conditional, ConditionalAction{When: r.when, Action: r.action, Replaces: r.replaces})
		}
		if p.Note == "" {
			p.Note = r.note
		}
	}
	if p.Need == NeedIAM && len(p.Actions) == 0 {
		p.Actions = []string{a.Name}
	}
	return p
}

// RecordedAs says how CloudTrail records a call that needs the IAM action:
// Recorded, RecordedAsDataEvent or NotRecorded, with unrecorded.tsv's note
// for the last two. A "policy diff" reads it to tell an action granted and
// unused from one it cannot see used.
func (e *Enricher) RecordedAs(iamAction string) (how, note string) {
	t := e.catalog.access
	if r, ok := t.recorded[iamAction]; ok {
		return r.how, r.note
	}
	if svc, _, ok := strings.Cut(iamAction, ":"); ok {
		if r, ok := t.recorded[svc+":*"]; ok {
			return r.how, r.note
		}
	}
	return Recorded, ""
}

// IAMActions returns the IAM actions the event's call needed, in a
// deterministic order: when an AccessDenied message names the action, that
// one first; then the catalog's. It is nil for a call that needs no identity
// permission, or when the record names no eventSource or eventName.
func (v *View) IAMActions() []string {
	a := v.Authorization()
	if len(a.Actions) == 0 {
		return nil
	}
	out := make([]string, len(a.Actions))
	for i, x := range a.Actions {
		out[i] = x.Action
	}
	return out
}

// Authorization works out what the event's call needed: each IAM action
// with the resource ARNs it was authorised against. For a denied call the
// AccessDenied message's action and resource come first and are
// authoritative; they also settle a call whose need is otherwise unknown
// (a PartiQL statement refused as dynamodb:PartiQLDelete). A call that needs
// no identity permission has no actions even when refused: its trust policy
// or token refused it, and Denial says so. Authorization reads the request,
// so it is worked out only when asked, and anew on each ask.
func (v *View) Authorization() Authorization {
	act := v.Action()
	if act == nil {
		return Authorization{Need: NeedUnknown, Note: "the record names no eventSource or eventName"}
	}
	ev := v.ev
	if ev.Str(event.EventType) == "AwsServiceEvent" {
		return Authorization{Need: NeedNone, Note: "an AwsServiceEvent is something a service did, not a caller's request"}
	}
	t := v.e.catalog.access
	auth := Authorization{Need: NeedIAM, Guessed: act.Guessed}
	rules := t.rules[actionKey{act.Service, act.Event}]
	// Each needed action with the lines that call for it: their templates,
	// or resources.tsv's when a line gives none (nil).
	type need struct {
		action string
		rules  []*accessRule
	}
	var needs []need
	for _, r := range rules {
		if r.need != NeedIAM {
			auth.Need, auth.Note = r.need, r.note
			break
		}
		if r.whenPath == nil {
			needs = append(needs, need{r.action, []*accessRule{r}})
		}
	}
	denial := v.Denial()
	switch {
	case auth.Need == NeedUnknown && denial.Action != "":
		// The catalog cannot say, the refusal can: the action it names.
		auth.Need, auth.Note = NeedIAM, ""
	case auth.Need != NeedIAM:
		return auth
	case len(needs) == 0:
		needs = append(needs, need{act.Name, nil})
	}
	for _, r := range rules {
		if r.whenPath == nil || !r.holds(ev) {
			continue
		}
		if i := slices.IndexFunc(needs, func(n need) bool { return n.action == r.action }); i >= 0 {
			needs[i].rules = append(needs[i].rules, r) // another reason, perhaps another resource
			continue
		}
		if i := slices.IndexFunc(needs, func(n need) bool { return n.action == r.replaces }); r.replaces != "" && i >= 0 {
			needs[i] = need{r.action, []*accessRule{r}}
			continue
		}
		needs = append(needs, need{r.action, []*accessRule{r}})
	}

	c := newARNContext(ev)
	if d := denial; d.Action != "" {
		acc := Access{Action: d.Action, From: "error-message"}
		if strings.HasPrefix(d.Resource, "arn:") {
			// A message's resource that is no ARN ("prod/db", "user dev")
			// is left to the request's templates.
			acc.Resources = []string{d.Resource}
			acc.Wildcard = strings.Contains(d.Resource, "*")
		} else {
			var rules []*accessRule
			if i := slices.IndexFunc(needs, func(n need) bool { return n.action == d.Action }); i >= 0 {
				rules = needs[i].rules
			}
			acc = v.resolve(&c, d.Action, rules) // the action from the message, the resources from the record
		}
		auth.Actions = append(auth.Actions, acc)
	}
	for _, n := range needs {
		if len(auth.Actions) > 0 && auth.Actions[0].Action == n.action {
			continue
		}
		auth.Actions = append(auth.Actions, v.resolve(&c, n.action, n.rules))
	}
	return auth
}

// holds reports whether the rule's condition holds for ev.
func (r *accessRule) holds(ev *event.Event) bool {
	return ev.Lookup(r.whenPath, func(val event.Value) bool {
		switch val.Kind {
		case event.Null, event.Missing:
			return false
		case event.String:
			if val.Str == "" {
				return false
			}
		case event.Bool:
			if val.Str != "true" {
				return false
			}
		case event.Array, event.Object:
			if s := strings.TrimSpace(val.Str); s == "[]" || s == "{}" {
				return false
			}
		}
		return r.whenHas == "" || strings.Contains(val.Str, r.whenHas)
	})
}

// resolve finds the resources of one action: the templates of the lines that
// call for it (resources.tsv's for a line that gives none: for the action,
// else for its service); failing those, the record's resources[] of that
// service; failing that, "*".
func (v *View) resolve(c *arnContext, action string, rules []*accessRule) Access {
	t := v.e.catalog.access
	service, _, _ := strings.Cut(action, ":")
	defaults := t.resources[action]
	if defaults == nil {
		defaults = t.resources[service+":*"]
	}
	var templates []*template
	if len(rules) == 0 {
		templates = defaults
	}
	usedDefaults := len(rules) == 0
	for _, r := range rules {
		switch {
		case r.resource != nil:
			templates = append(templates, r.resource...)
		case !usedDefaults:
			templates, usedDefaults = append(templates, defaults...), true
		}
	}
	acc := Access{Action: action, From: "request"}
	for _, tm := range templates {
		var wild bool
		acc.Resources, wild, _ = tm.fill(c, acc.Resources)
		acc.Wildcard = acc.Wildcard || wild
	}
	if len(acc.Resources) > 0 {
		slices.Sort(acc.Resources)
		acc.Resources = slices.Compact(acc.Resources)
		return acc
	}
	if acc.Resources = recordARNs(v.ev, service, nil); len(acc.Resources) > 0 {
		acc.From, acc.Wildcard = "record", false
		return acc
	}
	return Access{Action: action, Resources: []string{"*"}, Wildcard: true, From: "none"}
}
