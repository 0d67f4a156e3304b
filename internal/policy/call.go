package policy

import (
	"strings"
	"time"
)

// What least-privilege work needs from CloudTrail. Suggest, Generate and Diff
// take Calls rather than events: internal/enrich works out what a record's
// call needed (View.Authorization) and what refused it (View.Denial), and
// enrich itself reads this package (AnalyzeEvent gives its
// trailsentry.request.policyRisks field), so this package cannot import
// enrich back. The CLI turns each View into a Call.

// Need is one IAM action a call needed and the resources it was authorised
// against, as enrich.Access gives them.
type Need struct {
	Action    string   // "s3:GetObject"
	Resources []string // ARNs or patterns; ["*"] when nothing names the resource
	// Pattern is set when a resource is a pattern standing for the exact one
	// ("bucket/*" for the objects of a DeleteObjects, "*" for none): it is
	// kept as a pattern; exact resources are escaped so that a "*" or "?" in
	// an object key stays literal in a policy.
	Pattern bool
	// From says where the resources came from: "error-message", "request",
	// "record", or "none" (nothing could be derived: ["*"]). "request" with
	// ["*"] is an action that has no resource-level permissions.
	From string
}

// Where a Need's resources came from (Need.From), as enrich names them.
const (
	FromMessage = "error-message"
	FromRequest = "request"
	FromRecord  = "record"
	FromNone    = "none"
)

// Refusal is what a refused call's error says refused it, as enrich.Denial
// gives it.
type Refusal struct {
	// Kind is the kind of policy the message blames, as enrich names them:
	// "scp", "rcp", "boundary", "session-policy", "identity-policy",
	// "resource-policy", "vpc-endpoint-policy", or "unknown".
	Kind     string
	Explicit bool   // "with an explicit deny in ...": a Deny statement, not a missing Allow
	Action   string // the action the message names, "" when none
	Resource string // the resource the message names, "" when none
	Policy   string // the denying policy's ARN, when the message names it
	Code     string // errorCode
	Message  string // errorMessage
}

// Call is one CloudTrail record reduced to what least-privilege work needs.
type Call struct {
	EventID string
	Time    time.Time
	// Principal is who a grant would go to: the IAM user, or the role of an
	// assumed-role session (Grantee gives it from a record).
	Principal string
	Caller    string // userIdentity.arn as recorded (the session ARN for a role session)
	// Needs are the actions the call needed with their resources: for a
	// refused call whose message names the action, that action first.
	Needs []Need
	// NoPermission says why the call needs no identity-based permission (a
	// web-identity AssumeRole is authorised by the role's trust policy, a
	// console sign-in by a password): enrich's Authorization.Note. "" when
	// it needs one.
	NoPermission string
	// Error is the errorCode; "" for a call that succeeded.
	Error string
	// Refusal is set when the call was refused for lack of permission.
	Refusal *Refusal
	// Context holds the request's condition keys (FactsOf(ev).Context()),
	// for the evaluator.
	Context Context
	// Network is where the call came from, as the caller compares places
	// (a /24, an autonomous system); "" when not a public address. Tooling
	// names offensive tooling in the user agent ("offensive:pacu"), "" when
	// none. Suggest does not grant what a principal was refused from a
	// place it never worked from, or with such tools (Unfamiliar).
	Network, Tooling string
	// Successes, when set, makes the Call stand for that many successful
	// calls of Principal from Network, and for nothing else: a caller
	// that counts successes rather than keeping each.
	Successes int
}

// Class is what a refusal means for a suggestion: whether granting the
// principal more would help, and whether it should.
type Class string

// The classes of a refused call.
const (
	// Guardrail: an organisation or perimeter control refused it — an SCP,
	// RCP, permissions boundary, session policy or VPC endpoint policy, by a
	// Deny statement or by allowing only a list of actions. It works as
	// intended unless the control is wrong: no grant is suggested.
	Guardrail Class = "guardrail"
	// DenyStatement: a Deny statement in the principal's own or the
	// resource's policy. An Allow cannot override it: no grant is suggested.
	DenyStatement Class = "explicit-deny"
	// MissingPermission: no identity-based policy allows it. This is what a
	// suggestion grants.
	MissingPermission Class = "missing-permission"
	// ResourcePolicyMissing: no resource-based policy allows it (mostly
	// across accounts): the resource's owner must grant it in the resource's
	// policy; an identity grant alone does not help.
	ResourcePolicyMissing Class = "resource-policy"
	// Unclassified: the message does not say what refused it ("Access
	// Denied", EC2's encoded message). A grant is suggested, marked so, unless
	// the principal's policies (from an authorization-details export) show
	// that they allow the call already.
	Unclassified Class = "unknown"
	// Unfamiliar: refused when called from a network the principal does not
	// work from (few or none of its successful calls), or with offensive tooling: the
	// credentials may be someone else's hands. Not granted (unless asked):
	// investigate first.
	Unfamiliar Class = "unfamiliar-caller"
)

// Grantable reports whether a suggestion turns a refusal of this class into
// a grant.
func (c Class) Grantable() bool { return c == MissingPermission || c == Unclassified }

// Classify says what a refusal means, from what its message says.
func Classify(r *Refusal) Class {
	if r == nil {
		return Unclassified
	}
	switch r.Kind {
	case "scp", "rcp", "boundary", "session-policy", "vpc-endpoint-policy":
		return Guardrail
	case "identity-policy":
		if r.Explicit {
			return DenyStatement
		}
		return MissingPermission
	case "resource-policy":
		if r.Explicit {
			return DenyStatement
		}
		return ResourcePolicyMissing
	}
	if r.Explicit {
		return DenyStatement
	}
	return Unclassified
}

// classReason is one sentence on what a class means for the principal.
func classReason(c Class, r *Refusal) string {
	kind := ""
	if r != nil {
		kind = kindPhrase(r.Kind)
	}
	switch c {
	case Guardrail:
		if r != nil && r.Explicit {
			return "explicit deny in " + kind + ": a guardrail working as intended; not granted"
		}
		return "no " + kindNoun(r.Kind) + " allows it: a guardrail that allows only listed actions; not granted"
	case DenyStatement:
		return "explicit deny in " + kind + ": an Allow cannot override a Deny; not granted"
	case MissingPermission:
		return "no identity-based policy allows it: a missing permission"
	case ResourcePolicyMissing:
		return "no resource-based policy allows it: the resource's policy must grant it; not granted in an identity policy"
	}
	return "the error does not say what refused it: granted on the assumption that a permission is missing"
}

// kindPhrase names a refusal kind in prose.
func kindPhrase(kind string) string {
	switch kind {
	case "scp":
		return "a service control policy"
	case "rcp":
		return "a resource control policy"
	case "boundary":
		return "the permissions boundary"
	case "session-policy":
		return "a session policy"
	case "identity-policy":
		return "an identity-based policy"
	case "resource-policy":
		return "the resource-based policy"
	case "vpc-endpoint-policy":
		return "the VPC endpoint policy"
	}
	return "a policy"
}

// kindNoun names a refusal kind without an article, as "no <noun> allows".
func kindNoun(kind string) string {
	p := kindPhrase(kind)
	for _, a := range []string{"a ", "an ", "the "} {
		if n, ok := strings.CutPrefix(p, a); ok {
			return n
		}
	}
	return p
}

// policyKind maps a refusal kind to the evaluator's Kind; 0 for kinds the
// evaluator does not model (VPC endpoint policies) or does not know.
func policyKind(kind string) Kind {
	switch kind {
	case "scp":
		return SCP
	case "rcp":
		return RCP
	case "boundary":
		return PermissionsBoundary
	case "session-policy":
		return SessionPolicy
	case "identity-policy":
		return IdentityPolicy
	case "resource-policy":
		return ResourcePolicy
	}
	return 0
}

// concreteAction reports whether a is service:Action with no wildcard: the
// only actions a suggestion or generated policy may name (never "*", "s3:*"
// or "s3:Get*" unless --group widened them on request).
func concreteAction(a string) bool {
	svc, name, ok := strings.Cut(a, ":")
	return ok && svc != "" && name != "" && !strings.ContainsAny(a, "*? \t,")
}
