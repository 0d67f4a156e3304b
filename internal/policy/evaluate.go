package policy

import (
	"fmt"
	"strings"
)

// Kind is the role a policy plays for a request: where it sits in a Set.
type Kind uint8

// The policy kinds, in the order the evaluator reports them.
const (
	IdentityPolicy Kind = iota + 1
	ResourcePolicy
	PermissionsBoundary
	SessionPolicy
	SCP
	RCP
)

func (k Kind) String() string {
	switch k {
	case IdentityPolicy:
		return "identity-based policy"
	case ResourcePolicy:
		return "resource-based policy"
	case PermissionsBoundary:
		return "permissions boundary"
	case SessionPolicy:
		return "session policy"
	case SCP:
		return "SCP"
	case RCP:
		return "RCP"
	}
	return "policy"
}

// Set is every policy that applies to a request, grouped by kind.
type Set struct {
	// Identity holds the caller's identity-based policies: inline and managed
	// policies of the user or role, and of the user's groups.
	Identity []*Policy
	// Boundary is the caller's permissions boundary, nil when it has none.
	Boundary *Policy
	// Session holds the session policies passed when the role session (or
	// federated user) was created; empty when none were.
	Session []*Policy
	// Resource holds the resource-based policies of the resource: a bucket
	// policy, a key policy, a role's trust policy for sts:AssumeRole.
	Resource []*Policy
	// SCP holds the service control policies of the caller's account, one
	// level per entry from the organization root down to the account; every
	// level must allow. Nil when the account is not governed by SCPs (outside
	// an organization, or the management account).
	SCP [][]*Policy
	// RCP holds the resource control policies of the resource's account,
	// levels as for SCP.
	RCP [][]*Policy
}

// Request is what is decided: who asks to do what to which resource, with the
// request's condition keys.
type Request struct {
	// Principal is the caller's ARN as CloudTrail's userIdentity.arn gives it:
	// a user, an account root, an assumed-role session
	// (arn:aws:sts::111122223333:assumed-role/Name/session) or a federated
	// user; or a service principal ("cloudtrail.amazonaws.com"); or "" for an
	// anonymous request. For a role session, Context's aws:PrincipalArn, when
	// set, gives the role's ARN with its path.
	Principal string
	// Action is the IAM action, "s3:GetObject"; case does not matter.
	Action string
	// Resource is the resource ARN; "" or "*" for actions that take none.
	Resource string
	// ResourceAccount owns the resource; "" takes it from the resource ARN,
	// and if the ARN names none (S3 buckets), the request is taken to be
	// within the caller's account.
	ResourceAccount string
	Context         Context
}

// Decision is the outcome of an evaluation.
type Decision uint8

// The three outcomes. The zero Decision is ImplicitDeny: nothing allowed.
// (Allowed rather than Allow, which names the statement Effect.)
const (
	ImplicitDeny Decision = iota
	Allowed
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "ImplicitDeny"
}

// Match is one statement that took part in a decision.
type Match struct {
	Kind      Kind
	Level     int // SCP or RCP level, 1 for the organization root; 0 for other kinds
	Policy    *Policy
	Statement int // index into Policy.Statements
}

func (m Match) String() string {
	var b strings.Builder
	b.WriteString(m.Kind.String())
	if m.Level > 0 {
		fmt.Fprintf(&b, " at level %d", m.Level)
	}
	fmt.Fprintf(&b, " %q", m.Policy.Label())
	if m.Policy.Source != "" && m.Policy.Source != m.Policy.Name {
		fmt.Fprintf(&b, " (%s)", m.Policy.Source)
	}
	b.WriteString(" statement ")
	b.WriteString(m.Policy.Statements[m.Statement].Label(m.Statement))
	return b.String()
}

// Result is a decision and why.
type Result struct {
	Decision Decision
	// Matches are, for ExplicitDeny, every Deny statement that applies; for
	// Allow, the first allowing statement of each layer that had to allow (each
	// SCP and RCP level, the resource-based or identity-based policy, the
	// boundary, the session policy); for ImplicitDeny, the allows found in the
	// layers that did allow.
	Matches []Match
	// Lacking is, for ImplicitDeny, the layer whose missing allow denied the
	// request (the first in evaluation order), with LackingLevel for SCP and
	// RCP levels.
	Lacking      Kind
	LackingLevel int
	// Reason is one sentence a person can read: what decided.
	Reason string
}

// Explain renders the result for people: the decision and reason, then the
// statements involved, one a line.
func (r Result) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", r.Decision, r.Reason)
	for _, m := range r.Matches {
		verb := "allows"
		if m.Policy.Statements[m.Statement].Effect == Deny {
			verb = "denies"
		}
		fmt.Fprintf(&b, "  %s %s\n", m, verb)
	}
	return b.String()
}

// grant is how a resource-based policy's Principal names the caller, which
// decides what its Allow can do within the caller's own account.
type grant uint8

const (
	grantNone    grant = iota
	grantAccount       // the caller's account (ID or root ARN): delegates to the account's identity policies
	grantRole          // the role ARN of the caller's session: acts like an identity-based allow
	grantDirect        // the caller itself (user, session, federated user ARN, service) or everyone ("*")
)

type callerKind uint8

const (
	callerAnonymous callerKind = iota
	callerService
	callerRoot
	callerUser
	callerSession // assumed-role session (or a role ARN given as the principal)
	callerFederated
	callerOther
)

// caller is the request's principal, parsed once per evaluation.
type caller struct {
	kind     callerKind
	arn      string
	account  string
	roleARN  string // sessions: the role's ARN
	roleName string
}

func parseCaller(req *Request) caller {
	p := req.Principal
	c := caller{arn: p}
	switch {
	case p == "" || p == "*":
		c.kind = callerAnonymous
		return c
	case !strings.HasPrefix(p, "arn:"):
		if isAccountID(p) {
			c.kind, c.account = callerRoot, p
			return c
		}
		c.kind = callerService
		return c
	}
	a, ok := splitARN(p)
	if !ok {
		c.kind = callerOther
		return c
	}
	c.account = a.account
	switch {
	case a.service == "iam" && a.resource == "root":
		c.kind = callerRoot
	case a.service == "iam" && strings.HasPrefix(a.resource, "user/"):
		c.kind = callerUser
	case a.service == "iam" && strings.HasPrefix(a.resource, "role/"):
		c.kind = callerSession
		c.roleARN = p
		c.roleName = a.resource[strings.LastIndexByte(a.resource, '/')+1:]
	case a.service == "sts" && strings.HasPrefix(a.resource, "assumed-role/"):
		c.kind = callerSession
		name, _, _ := strings.Cut(strings.TrimPrefix(a.resource, "assumed-role/"), "/")
		c.roleName = name
		c.roleARN = "arn:" + a.partition + ":iam::" + a.account + ":role/" + name
		if v, ok := req.Context.Lookup("aws:PrincipalArn"); ok && len(v) == 1 && strings.Contains(v[0], ":role/") {
			c.roleARN = v[0]
		}
	case a.service == "sts" && strings.HasPrefix(a.resource, "federated-user/"):
		c.kind = callerFederated
	default:
		c.kind = callerOther
	}
	return c
}

// isIAM reports whether the caller is an IAM identity of some account, which
// identity-based policies, boundaries, session policies and SCPs apply to.
func (c *caller) isIAM() bool {
	return c.kind == callerRoot || c.kind == callerUser || c.kind == callerSession || c.kind == callerFederated || c.kind == callerOther
}

type arnParts struct {
	partition, service, region, account, resource string
}

// splitARN cuts an ARN into its components without allocating; the resource
// keeps any colons it has.
func splitARN(s string) (arnParts, bool) {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return arnParts{}, false
	}
	var f [4]string
	for i := range f {
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			return arnParts{}, false
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	return arnParts{f[0], f[1], f[2], f[3], rest}, true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// principalGrant reports how a Principal element names the caller.
func (c *caller) principalGrant(p *Principal) grant {
	if p.All {
		return grantDirect
	}
	best := grantNone
	for _, e := range p.AWS {
		if g := c.awsGrant(e); g > best {
			best = g
		}
	}
	if c.kind == callerService {
		for _, e := range p.Service {
			if strings.EqualFold(e, c.arn) {
				return grantDirect
			}
		}
	}
	for _, e := range p.Federated {
		if e == c.arn {
			return grantDirect
		}
	}
	for _, e := range p.CanonicalUser {
		if e == c.arn {
			return grantDirect
		}
	}
	return best
}

func (c *caller) awsGrant(e string) grant {
	if e == "*" {
		return grantDirect
	}
	if c.kind == callerAnonymous || c.kind == callerService {
		return grantNone
	}
	if e == c.arn {
		return grantDirect
	}
	if isAccountID(e) {
		if e == c.account {
			return grantAccount
		}
		return grantNone
	}
	a, ok := splitARN(e)
	if !ok || a.account != c.account {
		return grantNone
	}
	switch {
	case a.service == "iam" && a.resource == "root":
		return grantAccount
	case c.kind == callerSession && a.service == "iam" && strings.HasPrefix(a.resource, "role/"):
		// IAM stores the role's unique ID, so the path need not be known to match.
		if e == c.roleARN || a.resource[strings.LastIndexByte(a.resource, '/')+1:] == c.roleName {
			return grantRole
		}
	}
	return grantNone
}

// evaluation holds one request's parsed parts.
type evaluation struct {
	req             *Request
	caller          caller
	resource        string
	resourceAccount string
	// optimistic: conditions of Allow statements hold and those of Deny
	// statements do not — the most a policy could ever allow, for risk
	// analysis.
	optimistic bool
	collect    bool // record Matches
}

func newEvaluation(req *Request) evaluation {
	ev := evaluation{req: req, caller: parseCaller(req), resource: req.Resource}
	if ev.resource == "" {
		ev.resource = "*"
	}
	ev.resourceAccount = req.ResourceAccount
	if ev.resourceAccount == "" {
		if a, ok := splitARN(ev.resource); ok && a.account != "" {
			ev.resourceAccount = a.account
		} else {
			ev.resourceAccount = ev.caller.account
		}
	}
	return ev
}

// applies reports whether a statement applies to the request: its action,
// resource, principal (for resource-based policies and RCPs) and conditions
// match, and with which grant.
func (ev *evaluation) applies(p *Policy, st *Statement, principal bool) (bool, grant) {
	if !ev.actionMatches(st) || !ev.resourceMatches(p, st) {
		return false, grantNone
	}
	g := grantDirect
	if principal {
		if st.Principal == nil {
			return false, grantNone
		}
		g = ev.caller.principalGrant(st.Principal)
		if st.NotPrincipal {
			// A session is its own principal: listing its role's ARN does not
			// exclude it, as AWS documents for NotPrincipal.
			if g == grantDirect || g == grantAccount {
				return false, grantNone
			}
			g = grantDirect
		}
		if g == grantNone {
			return false, grantNone
		}
	}
	if len(st.Conditions) > 0 {
		if ev.optimistic {
			return st.Effect == Allow, g
		}
		vars := p.Version == "2012-10-17"
		for i := range st.Conditions {
			if !st.Conditions[i].holds(ev.req.Context, vars) {
				return false, grantNone
			}
		}
	}
	return true, g
}

func (ev *evaluation) actionMatches(st *Statement) bool {
	for _, a := range st.Actions {
		if glob(a, ev.req.Action, true, false) {
			return !st.NotAction
		}
	}
	return st.NotAction
}

func (ev *evaluation) resourceMatches(p *Policy, st *Statement) bool {
	if len(st.Resources) == 0 {
		return true
	}
	vars := p.Version == "2012-10-17"
	for _, r := range st.Resources {
		if ev.resource == "*" && r == "*" {
			return !st.NotResource
		}
		esc := false
		if vars && strings.Contains(r, "${") {
			var ok bool
			if r, ok = expand(r, ev.req.Context, true); !ok {
				continue
			}
			esc = true
		}
		if matchARN(r, ev.resource, esc) {
			return !st.NotResource
		}
	}
	return st.NotResource
}

// firstAllow returns the first Allow statement of policies that applies.
func (ev *evaluation) firstAllow(ps []*Policy, kind Kind, level int, principal bool) (Match, grant, bool) {
	var best Match
	bestG := grantNone
	for _, p := range ps {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			st := &p.Statements[i]
			if st.Effect != Allow {
				continue
			}
			if ok, g := ev.applies(p, st, principal); ok && g > bestG {
				best, bestG = Match{Kind: kind, Level: level, Policy: p, Statement: i}, g
				if !principal || g == grantDirect {
					return best, bestG, true
				}
			}
		}
	}
	return best, bestG, bestG != grantNone
}

// denies appends every Deny statement of policies that applies; it stops at
// the first unless collecting.
func (ev *evaluation) denies(out []Match, ps []*Policy, kind Kind, level int, principal bool) ([]Match, bool) {
	found := false
	for _, p := range ps {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			st := &p.Statements[i]
			if st.Effect != Deny {
				continue
			}
			if ok, _ := ev.applies(p, st, principal); ok {
				found = true
				if !ev.collect {
					return out, true
				}
				out = append(out, Match{Kind: kind, Level: level, Policy: p, Statement: i})
			}
		}
	}
	return out, found
}

// Evaluate decides a request against a set of policies, following AWS's
// documented policy evaluation logic (docs/policy.md lists the cases):
//
//  1. an applicable Deny in any policy is an explicit deny;
//  2. every RCP level of the resource's account must allow;
//  3. every SCP level of the caller's account must allow (not for service
//     principals or anonymous callers);
//  4. within one account, a resource-based policy naming the caller itself (a
//     user, a role session, "*") allows even without an identity-based allow
//     and despite the boundary and session policies; one naming the caller's
//     role acts as an identity-based allow; one naming only the account
//     delegates to the identity-based policies;
//  5. otherwise an identity-based policy must allow (the account root is
//     allowed), and then the permissions boundary and the session policies,
//     when present, must allow too;
//  6. across accounts, both the caller's side (4, 5) and a resource-based
//     policy of the resource's account naming the caller or its account must
//     allow.
func Evaluate(req Request, set Set) Result {
	ev := newEvaluation(&req)
	ev.collect = true
	return ev.evaluate(&set)
}

func (ev *evaluation) evaluate(set *Set) Result {
	var r Result
	c := &ev.caller

	// 1. Explicit deny anywhere.
	var found, any bool
	m := r.Matches
	for l, level := range set.RCP {
		m, found = ev.denies(m, level, RCP, l+1, true)
		any = any || found
	}
	if c.isIAM() {
		for l, level := range set.SCP {
			m, found = ev.denies(m, level, SCP, l+1, false)
			any = any || found
		}
	}
	m, found = ev.denies(m, set.Resource, ResourcePolicy, 0, true)
	any = any || found
	if c.isIAM() {
		m, found = ev.denies(m, set.Identity, IdentityPolicy, 0, false)
		any = any || found
		if set.Boundary != nil {
			m, found = ev.denies(m, []*Policy{set.Boundary}, PermissionsBoundary, 0, false)
			any = any || found
		}
		m, found = ev.denies(m, set.Session, SessionPolicy, 0, false)
		any = any || found
	}
	if any {
		r.Decision, r.Matches = ExplicitDeny, m
		if !ev.collect {
			return r
		}
		if len(m) > 0 {
			r.Reason = "explicitly denied by " + m[0].String()
			if len(m) > 1 {
				r.Reason += fmt.Sprintf(" (and %d more Deny statements)", len(m)-1)
			}
		} else {
			r.Reason = "explicitly denied"
		}
		return r
	}

	// Reasons are only written when collecting: risk analysis runs many
	// evaluations and reads only the decision.
	lack := func(k Kind, level int, reason func() string) Result {
		r.Decision, r.Lacking, r.LackingLevel = ImplicitDeny, k, level
		if ev.collect {
			r.Reason = reason()
		}
		return r
	}
	allow := func(mt Match) {
		if ev.collect {
			r.Matches = append(r.Matches, mt)
		}
	}

	// 2. RCPs of the resource's account, 3. SCPs of the caller's account.
	for l, level := range set.RCP {
		mt, _, ok := ev.firstAllow(level, RCP, l+1, true)
		if !ok {
			return lack(RCP, l+1, func() string { return fmt.Sprintf("no RCP at level %d allows %s", l+1, ev.req.Action) })
		}
		allow(mt)
	}
	if c.isIAM() {
		for l, level := range set.SCP {
			mt, _, ok := ev.firstAllow(level, SCP, l+1, false)
			if !ok {
				return lack(SCP, l+1, func() string { return fmt.Sprintf("no SCP at level %d allows %s", l+1, ev.req.Action) })
			}
			allow(mt)
		}
	}

	res, resG, resOK := ev.firstAllow(set.Resource, ResourcePolicy, 0, true)

	// Service principals and anonymous callers have no identity policies:
	// only a resource-based policy can let them in.
	if !c.isIAM() {
		if !resOK {
			return lack(ResourcePolicy, 0, func() string {
				who := "an anonymous caller"
				if c.kind == callerService {
					who = c.arn
				}
				return fmt.Sprintf("no resource-based policy allows %s to call %s", who, ev.req.Action)
			})
		}
		allow(res)
		r.Decision = Allowed
		if ev.collect {
			r.Reason = "allowed by " + res.String()
		}
		return r
	}

	sameAccount := ev.resourceAccount == "" || ev.resourceAccount == c.account
	if sameAccount && resOK && resG == grantDirect {
		allow(res)
		r.Decision = Allowed
		if ev.collect {
			r.Reason = "allowed by " + res.String() + ", which names the caller: identity-based policies, boundary and session policies do not limit it"
		}
		return r
	}

	// The caller's side: identity-based allow, then boundary and session.
	var id Match
	idOK := c.kind == callerRoot
	if !idOK {
		id, _, idOK = ev.firstAllow(set.Identity, IdentityPolicy, 0, false)
	}
	viaRole := false
	if !idOK && sameAccount && resOK && resG == grantRole {
		id, idOK, viaRole = res, true, true
	}
	if !sameAccount && !resOK {
		return lack(ResourcePolicy, 0, func() string {
			return fmt.Sprintf("cross-account request from %s to %s: no resource-based policy of %s allows it", c.account, ev.resourceAccount, ev.resourceAccount)
		})
	}
	if !idOK {
		return lack(IdentityPolicy, 0, func() string {
			reason := "no identity-based policy allows " + ev.req.Action
			if sameAccount && resOK && resG == grantAccount {
				reason += " (the resource-based policy names only the account, which leaves the decision to identity-based policies)"
			} else if sameAccount && len(set.Resource) > 0 {
				reason += ", and no resource-based policy allows it for this caller"
			}
			return reason
		})
	}
	if c.kind != callerRoot {
		allow(id)
		if set.Boundary != nil {
			mt, _, ok := ev.firstAllow([]*Policy{set.Boundary}, PermissionsBoundary, 0, false)
			if !ok {
				return lack(PermissionsBoundary, 0, func() string {
					return fmt.Sprintf("the permissions boundary %q does not allow %s", set.Boundary.Label(), ev.req.Action)
				})
			}
			allow(mt)
		}
		if len(set.Session) > 0 {
			mt, _, ok := ev.firstAllow(set.Session, SessionPolicy, 0, false)
			if !ok {
				return lack(SessionPolicy, 0, func() string { return "no session policy allows " + ev.req.Action })
			}
			allow(mt)
		}
	}
	r.Decision = Allowed
	if !ev.collect {
		return r
	}
	switch {
	case !sameAccount:
		allow(res)
		r.Reason = fmt.Sprintf("cross-account request allowed on both sides: by the caller's %s and by %s", sideName(c, id), res)
	case viaRole:
		r.Reason = "allowed by " + res.String() + ", which names the caller's role, within the boundary and session policies"
	case c.kind == callerRoot:
		r.Reason = "the account root user is allowed what no policy denies"
	default:
		r.Reason = "allowed by " + id.String()
	}
	return r
}

func sideName(c *caller, id Match) string {
	if c.kind == callerRoot {
		return "account root user"
	}
	return id.String()
}
