package policy

import (
	"slices"
	"strings"
	"time"
)

// Suggest turns refused calls into minimal policies, one per principal.
//
// Each refusal is classified by what its message says refused it (Classify).
// Only a missing permission — no identity-based policy allows — and a
// refusal whose message does not say become grants: guardrails (SCPs, RCPs,
// boundaries, session and VPC endpoint policies), explicit denies and
// missing resource-policy grants are listed with their evidence, not granted.
//
// A grant is the refused action on the refused resource, nothing more: the
// action the message names (else the actions the call needed), on the
// resource the message names or the request gives, escaped so that it
// matches only itself. Resource "*" appears only when the action has no
// resource-level permissions or nothing names the resource, and the
// statement's notes say which. Options.Group widens on request.

// SuggestOptions tunes Suggest.
type SuggestOptions struct {
	// Group widens the grants: actions of one service sharing a verb become
	// service:Verb*, ARNs sharing a path become prefix*. Off by default.
	Group bool
	// PolicySet, when set, gives a principal's policies (from an
	// authorization-details export). A refusal whose message does not say
	// what refused it is then decided by the evaluator: a missing identity
	// allow is granted; a deny the set explains (a Deny statement, the
	// boundary) is classified as such; a call the set allows is not granted,
	// since something outside it refused the call.
	PolicySet func(principal string) (Set, bool)
	// GrantUnfamiliar grants refusals of the Unfamiliar class too: calls
	// refused from a network the principal does not work from (fewer than
	// 10 and under 1% of its successful calls), or made with offensive
	// tooling. Off by default: they look like stolen credentials
	// probing, not like work that lacks a permission.
	GrantUnfamiliar bool
}

// Suggestion is the proposed policy for one principal and every refusal of
// its calls, classified.
type Suggestion struct {
	Proposal
	Denies []Refused `json:"denies"`
}

// Refused is one refused call and what was made of it.
type Refused struct {
	EventID   string    `json:"eventID"`
	Time      time.Time `json:"eventTime"`
	Caller    string    `json:"caller"`
	Action    string    `json:"action"`
	Resources []string  `json:"resources"`
	Class     Class     `json:"class"`
	DeniedBy  string    `json:"deniedBy"` // the message's policy kind: scp, boundary, identity-policy, ..., unknown
	Explicit  bool      `json:"explicit"`
	Policy    string    `json:"policy,omitempty"`  // the denying policy's ARN, when the message names it
	Granted   bool      `json:"granted"`           // the suggestion grants it
	Reason    string    `json:"reason"`            // what the class means here
	Message   string    `json:"message,omitempty"` // errorMessage
}

// Suggest builds one Suggestion per principal that has refused calls, in
// principal order. Calls that were not refused are ignored.
func Suggest(calls []Call, opts SuggestOptions) []Suggestion {
	type acc struct {
		g      *grants
		denies []Refused
	}
	byPrincipal := map[string]*acc{}
	var principals []string
	// Where each principal works from: its successful calls per network.
	worked := map[string]map[string]int{}
	total := map[string]int{}
	for i := range calls {
		c := &calls[i]
		if c.Refusal == nil && c.Error == "" && c.Principal != "" {
			n := max(c.Successes, 1)
			total[c.Principal] += n // private addresses too: a workload inside its VPC
			if c.Network != "" {
				if worked[c.Principal] == nil {
					worked[c.Principal] = map[string]int{}
				}
				worked[c.Principal][c.Network] += n
			}
		}
	}
	// familiar: the principal's own place — a network it made at least 10
	// of its successful calls from, or 1% of them. A few calls that an
	// intruder got through do not make the intruder's network familiar.
	familiar := func(c *Call) bool {
		n := worked[c.Principal][c.Network]
		return n >= 10 || n*100 >= total[c.Principal]
	}
	for i := range calls {
		c := &calls[i]
		if c.Refusal == nil || c.Principal == "" {
			continue
		}
		a := byPrincipal[c.Principal]
		if a == nil {
			a = &acc{g: newGrants()}
			byPrincipal[c.Principal] = a
			principals = append(principals, c.Principal)
		}
		needs := refusedNeeds(c)
		class := Classify(c.Refusal)
		reason := classReason(class, c.Refusal)
		grant := class.Grantable()
		if class == Unclassified && opts.PolicySet != nil && len(needs) > 0 {
			if set, ok := opts.PolicySet(c.Principal); ok {
				class, reason = decideUnclassified(c, needs, set)
				grant = class == MissingPermission
			}
		}
		if grant {
			switch {
			case c.Tooling != "" && strings.HasPrefix(c.Tooling, "offensive:"):
				class, reason = Unfamiliar, "refused to a call made with offensive tooling ("+c.Tooling+"): investigate the credentials before granting anything"
			case c.Network != "" && total[c.Principal] > 0 && !familiar(c):
				class, reason = Unfamiliar, "refused to a call from "+c.Network+", a network the principal does not work from (few or none of its successful calls): the credentials may be used by someone else; investigate before granting"
			}
			if class == Unfamiliar {
				grant = opts.GrantUnfamiliar
			}
		}
		d := Refused{EventID: c.EventID, Time: c.Time, Caller: c.Caller, Class: class, DeniedBy: c.Refusal.Kind,
			Explicit: c.Refusal.Explicit, Policy: c.Refusal.Policy, Reason: reason, Message: c.Refusal.Message}
		if d.DeniedBy == "" {
			d.DeniedBy = "unknown"
		}
		if len(needs) == 0 {
			d.Action = c.Refusal.Action
			d.Resources = []string{}
			if c.Refusal.Resource != "" {
				d.Resources = []string{c.Refusal.Resource}
			}
			d.Reason = "no identity-based permission would let this call through: " + c.NoPermission + "; not granted"
			if c.NoPermission == "" {
				d.Reason = "the record does not say which action was refused; not granted"
			}
			a.denies = append(a.denies, d)
			continue
		}
		d.Action = needs[0].Action
		for _, n := range needs {
			for _, r := range n.Resources {
				if !slices.Contains(d.Resources, r) {
					d.Resources = append(d.Resources, r)
				}
			}
		}
		if len(needs) > 1 {
			var names []string
			for _, n := range needs {
				names = append(names, n.Action)
			}
			d.Action = strings.Join(names, ",")
		}
		if grant {
			for _, n := range needs {
				if concreteAction(n.Action) {
					a.g.add(n.Action, n, c.EventID)
					d.Granted = true
				}
			}
		}
		a.denies = append(a.denies, d)
	}
	slices.Sort(principals)
	out := make([]Suggestion, 0, len(principals))
	for _, p := range principals {
		a := byPrincipal[p]
		out = append(out, Suggestion{Proposal: a.g.proposal(p, opts.Group), Denies: a.denies})
	}
	return out
}

// refusedNeeds are the needs a refusal is about: the action the message
// names, with the resources found for it; else every action the call needed.
func refusedNeeds(c *Call) []Need {
	if c.NoPermission != "" {
		return nil
	}
	if c.Refusal.Action != "" {
		for _, n := range c.Needs {
			if strings.EqualFold(n.Action, c.Refusal.Action) {
				return []Need{n}
			}
		}
		n := Need{Action: c.Refusal.Action, Resources: []string{"*"}, Pattern: true, From: FromNone}
		if c.Refusal.Resource != "" {
			n.Resources, n.Pattern, n.From = []string{c.Refusal.Resource}, strings.Contains(c.Refusal.Resource, "*"), FromMessage
		}
		return []Need{n}
	}
	return c.Needs
}

// decideUnclassified asks the evaluator why a call was refused when its
// message does not say.
func decideUnclassified(c *Call, needs []Need, set Set) (Class, string) {
	prefix := "decided by the evaluator against the principal's policies: "
	for _, n := range needs {
		for _, r := range n.Resources {
			res := Evaluate(Request{Principal: c.Caller, Action: n.Action, Resource: r, Context: c.Context}, set)
			switch {
			case res.Decision == ExplicitDeny:
				for _, m := range res.Matches {
					if m.Kind == PermissionsBoundary || m.Kind == SCP || m.Kind == RCP || m.Kind == SessionPolicy {
						return Guardrail, prefix + res.Reason + "; not granted"
					}
				}
				return DenyStatement, prefix + res.Reason + "; not granted"
			case res.Decision == ImplicitDeny && res.Lacking == IdentityPolicy:
				return MissingPermission, prefix + res.Reason
			case res.Decision == ImplicitDeny && (res.Lacking == PermissionsBoundary || res.Lacking == SCP || res.Lacking == RCP || res.Lacking == SessionPolicy):
				return Guardrail, prefix + res.Reason + "; not granted"
			case res.Decision == ImplicitDeny:
				return ResourcePolicyMissing, prefix + res.Reason + "; not granted"
			}
		}
	}
	return Unclassified, prefix + "its policies allow the call, so something outside them refused it (an SCP, RCP, resource or VPC endpoint policy); not granted"
}
