package policy

import (
	"slices"
	"strings"
	"time"
)

// Diff compares what a principal is granted with what it used:
//
//   - used but not granted: a successful call the principal's policies (as
//     the export has them) do not allow — a resource policy or another
//     grant outside the set allowed it, or the policies changed since;
//   - granted but unused: an action the policies allow that no call in the
//     period needed. Candidates are the action catalog's actions (so that
//     "s3:*" is taken apart into the S3 actions CloudTrail can show) and
//     every action the policies name;
//   - unknown: a granted action CloudTrail does not record (iam:PassRole is
//     checked inside RunInstances and logged as that) or records only as a
//     data event (s3:GetObject), so that its absence proves nothing.
//
// Whether an action is granted is decided by the evaluator on every
// resource the set's Allow statements name for it (and on "*"), assuming
// an Allow's conditions can be met and a Deny's need not be, as the risk
// analysis does; Conditional says when it holds only under conditions.

// DiffOptions tunes Diff.
type DiffOptions struct {
	Since, Until time.Time // event-time period; zero leaves that side open
	// Catalog holds the IAM actions to consider (enrich's catalog).
	Catalog []string
	// RecordedAs says how CloudTrail records an action: "recorded",
	// "data-event" or "never", with a note (enrich's Enricher.RecordedAs).
	// Nil: every action counts as recorded.
	RecordedAs func(action string) (how, note string)
}

// DiffResult is a principal's granted and used permissions compared.
type DiffResult struct {
	Principal      string          `json:"principal"`
	Calls          int             `json:"calls"` // successful calls in the period
	Used           []UsedAction    `json:"used"`
	UsedNotGranted []UsedAction    `json:"usedNotGranted"`
	GrantedUnused  []GrantedAction `json:"grantedUnused"`
	Unknown        []GrantedAction `json:"unknown"`
}

// UsedAction is an action the principal's calls needed.
type UsedAction struct {
	Action    string   `json:"action"`
	Resources []string `json:"resources"`
	Evidence  []string `json:"evidence"`
	Count     int      `json:"count"`
	Granted   bool     `json:"granted"`
	Reason    string   `json:"reason,omitempty"` // why the policies do not allow it
}

// GrantedAction is an action the principal's policies allow.
type GrantedAction struct {
	Action      string   `json:"action"`
	Resources   []string `json:"resources"` // what it is allowed on: "*" or the statements' resources
	Policies    []string `json:"policies"`  // the identity-based policies allowing it
	Conditional bool     `json:"conditional"`
	Recorded    string   `json:"recorded"`       // recorded, data-event or never
	Note        string   `json:"note,omitempty"` // for data-event and never
}

// Diff compares principal's policies (set) with its successful calls.
func Diff(principal string, set Set, calls []Call, opts DiffOptions) DiffResult {
	out := DiffResult{Principal: principal, Used: []UsedAction{}, UsedNotGranted: []UsedAction{},
		GrantedUnused: []GrantedAction{}, Unknown: []GrantedAction{}}
	recorded := opts.RecordedAs
	if recorded == nil {
		recorded = func(string) (string, string) { return "recorded", "" }
	}
	gr := newGrantChecker(principal, set)

	// Used: every action a successful call needed.
	used := map[string]*UsedAction{}
	var usedOrder []string
	for i := range calls {
		c := &calls[i]
		if c.Error != "" || c.Refusal != nil || !SamePrincipal(principal, c) {
			continue
		}
		if !opts.Since.IsZero() && c.Time.Before(opts.Since) || !opts.Until.IsZero() && !c.Time.Before(opts.Until) {
			continue
		}
		out.Calls++
		for _, n := range c.Needs {
			k := strings.ToLower(n.Action)
			u := used[k]
			if u == nil {
				u = &UsedAction{Action: n.Action, Granted: true}
				used[k] = u
				usedOrder = append(usedOrder, k)
			}
			u.Count++
			if len(u.Evidence) < maxEvidence && !slices.Contains(u.Evidence, c.EventID) {
				u.Evidence = append(u.Evidence, c.EventID)
			}
			for _, r := range n.Resources {
				if !slices.Contains(u.Resources, r) {
					u.Resources = append(u.Resources, r)
				}
				if ok, reason := gr.allows(n.Action, r, n.From == FromNone || n.Pattern); !ok && u.Granted {
					u.Granted, u.Reason = false, reason
				}
			}
		}
	}
	slices.Sort(usedOrder)
	for _, k := range usedOrder {
		u := *used[k]
		out.Used = append(out.Used, u)
		if !u.Granted {
			out.UsedNotGranted = append(out.UsedNotGranted, u)
		}
	}

	// Granted: the catalog's actions and the policies' own, decided one by one.
	seen := map[string]bool{}
	var candidates []string
	addCandidate := func(a string) {
		if k := strings.ToLower(a); concreteAction(a) && !seen[k] {
			seen[k] = true
			candidates = append(candidates, a)
		}
	}
	for _, a := range opts.Catalog {
		addCandidate(a)
	}
	for _, p := range set.Identity {
		if p == nil {
			continue
		}
		for _, st := range p.Statements {
			if st.Effect == Allow && !st.NotAction {
				for _, a := range st.Actions {
					addCandidate(a)
				}
			}
		}
	}
	slices.SortFunc(candidates, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	for _, a := range candidates {
		g, ok := gr.granted(a)
		if !ok {
			continue
		}
		if u := used[strings.ToLower(a)]; u != nil {
			continue
		}
		g.Recorded, g.Note = recorded(a)
		if g.Recorded == "data-event" || g.Recorded == "never" {
			out.Unknown = append(out.Unknown, g)
		} else {
			out.GrantedUnused = append(out.GrantedUnused, g)
		}
	}
	return out
}

// grantChecker decides actions against one principal's set.
type grantChecker struct {
	set Set
	req Request
	ctx Context
}

func newGrantChecker(principal string, set Set) *grantChecker {
	return &grantChecker{set: set, req: Request{Principal: principal}, ctx: probeContext(principal)}
}

// decide evaluates action on resource: allowed outright, or only when
// conditions hold (optimistic), with the identity policies that allow it.
func (g *grantChecker) decide(action, resource string, optimistic bool) Result {
	g.req.Action, g.req.Resource, g.req.Context = action, resource, g.ctx
	ev := newEvaluation(&g.req)
	ev.collect, ev.optimistic = true, optimistic
	return ev.evaluate(&g.set)
}

// allows reports whether a used (action, resource) is granted. A resource
// that is only a pattern, or "*" for want of one, is granted when the
// action is granted on any resource.
func (g *grantChecker) allows(action, resource string, loose bool) (bool, string) {
	r := g.decide(action, resource, true)
	if r.Decision == Allowed {
		return true, ""
	}
	if loose {
		if _, ok := g.granted(action); ok {
			return true, ""
		}
	}
	return false, r.Reason
}

// granted decides an action on "*" and on every resource the set's Allow
// statements name for it.
func (g *grantChecker) granted(action string) (GrantedAction, bool) {
	out := GrantedAction{Action: action, Resources: []string{}, Policies: []string{}}
	resources := []string{"*"}
	g.req.Action = action
	probe := newEvaluation(&g.req)
	for _, p := range g.set.Identity {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			st := &p.Statements[i]
			if st.Effect != Allow || st.NotResource || !probe.actionMatches(st) {
				continue
			}
			for _, r := range st.Resources {
				if p.Version == "2012-10-17" && strings.Contains(r, "${") {
					var ok bool
					if r, ok = expand(r, g.ctx, false); !ok {
						continue
					}
				}
				if !slices.Contains(resources, r) {
					resources = append(resources, r)
				}
			}
		}
	}
	allowedOutright := false
	for _, r := range resources {
		res := g.decide(action, r, true)
		if res.Decision != Allowed {
			continue
		}
		if r == "*" {
			out.Resources = []string{"*"}
		} else if !slices.Contains(out.Resources, "*") {
			out.Resources = append(out.Resources, r)
		}
		for _, m := range res.Matches {
			if m.Kind == IdentityPolicy && !slices.Contains(out.Policies, m.Policy.Label()) {
				out.Policies = append(out.Policies, m.Policy.Label())
			}
		}
		if !allowedOutright && g.decide(action, r, false).Decision == Allowed {
			allowedOutright = true
		}
	}
	if len(out.Resources) == 0 {
		return out, false
	}
	out.Conditional = !allowedOutright
	return out, true
}
