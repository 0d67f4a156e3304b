package policy

import (
	"strings"
	"time"
)

// Generate writes the policy a principal's successful activity needed: every
// action its calls needed (enrich's Authorization: CopyObject's GetObject and
// PutObject, RunInstances' iam:PassRole when it passes a role), on the
// resources they were authorised against, grouped as Suggest groups them.
// Calls that failed are left out — a refusal is Suggest's business, and a
// call that failed for another reason may not have reached authorization.

// GenerateOptions tunes Generate.
type GenerateOptions struct {
	// Since and Until bound the calls by event time (Until exclusive); zero
	// leaves that side open.
	Since, Until time.Time
	// Group widens as SuggestOptions.Group does.
	Group bool
}

// Generated is a generated policy and what it was made of.
type Generated struct {
	Proposal
	Calls int `json:"calls"` // successful calls of the principal in the period
	// Unauthorized counts calls that need no identity-based permission
	// (a web-identity AssumeRole, a console sign-in): nothing to grant.
	Unauthorized int `json:"callsWithoutPermission"`
	// First and Last are the times of the first and last call used.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
}

// Generate builds the policy for principal from calls: the principal's
// calls that succeeded within the period.
func Generate(principal string, calls []Call, opts GenerateOptions) Generated {
	g := newGrants()
	var out Generated
	for i := range calls {
		c := &calls[i]
		if c.Error != "" || c.Refusal != nil || !SamePrincipal(principal, c) {
			continue
		}
		if !opts.Since.IsZero() && c.Time.Before(opts.Since) || !opts.Until.IsZero() && !c.Time.Before(opts.Until) {
			continue
		}
		out.Calls++
		if out.First.IsZero() || c.Time.Before(out.First) {
			out.First = c.Time
		}
		if c.Time.After(out.Last) {
			out.Last = c.Time
		}
		if len(c.Needs) == 0 {
			out.Unauthorized++
			continue
		}
		for _, n := range c.Needs {
			if concreteAction(n.Action) {
				g.add(n.Action, n, c.EventID)
			}
		}
	}
	out.Proposal = g.proposal(principal, opts.Group)
	return out
}

// SamePrincipal reports whether a call was made by principal, given as the
// user's or role's ARN (with or without the role's path) or as a session
// ARN.
func SamePrincipal(principal string, c *Call) bool {
	if principal == c.Principal || principal == c.Caller {
		return true
	}
	a, aok := roleKey(principal)
	b, bok := roleKey(c.Principal)
	return aok && bok && a == b
}

// roleKey is account/name of a role ARN or an assumed-role session ARN:
// role names are unique in an account whatever their path.
func roleKey(arn string) (string, bool) {
	p, ok := splitARN(arn)
	if !ok {
		return "", false
	}
	switch {
	case p.service == "iam" && strings.HasPrefix(p.resource, "role/"):
		name := p.resource[strings.LastIndexByte(p.resource, '/')+1:]
		return p.account + "/" + name, true
	case p.service == "sts" && strings.HasPrefix(p.resource, "assumed-role/"):
		name, _, _ := strings.Cut(strings.TrimPrefix(p.resource, "assumed-role/"), "/")
		return p.account + "/" + name, true
	}
	return "", false
}
