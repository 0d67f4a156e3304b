package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Risk is one dangerous capability or exposure found in policies.
type Risk struct {
	Check     string // the Check ID, or "public-resource-policy", "cross-account-resource-policy", "oidc-trust-without-subject"
	Category  Category
	Severity  Severity
	Principal string   // the principal whose policies allow it; "" when a lone document was analysed
	Policies  []string // the policies whose statements grant it (labels: name, else source)
	Actions   []string
	// Conditional is set when the grant holds only if statement conditions
	// do (MFA, source IP, tags...); the severity is then one band lower.
	Conditional bool
	Reason      string
}

func (r Risk) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s, %s]", r.Check, r.Category, r.Severity)
	if r.Principal != "" {
		fmt.Fprintf(&b, " %s", r.Principal)
	}
	if len(r.Policies) > 0 {
		fmt.Fprintf(&b, " via %s", strings.Join(r.Policies, ", "))
	}
	fmt.Fprintf(&b, ": %s (%s)", r.Reason, strings.Join(r.Actions, ", "))
	if r.Conditional {
		b.WriteString(" when its conditions hold")
	}
	return b.String()
}

// AnalyzeDocument reports the risks of one policy document, as a detector
// sees it in a CreatePolicy, PutUserPolicy or PutBucketPolicy event. A
// document with Principal elements is analysed as a resource-based policy (who
// it lets in); any other as an identity-based policy (what it lets its holder
// do). It is built for the hot path: a document that grants nothing
// dangerous costs one pass over its statements per check and allocates little.
func AnalyzeDocument(p *Policy) []Risk {
	if p == nil {
		return nil
	}
	for i := range p.Statements {
		if p.Statements[i].Principal != nil {
			return exposure(p, "")
		}
	}
	account := p.Account
	if account == "" {
		account = documentAccount(p)
	}
	return analyzeSet("arn:aws:iam::"+account+":user/trailsentry-probe", "", Set{Identity: []*Policy{p}})
}

// AnalyzeSet reports the risks of what a principal's policies allow it — its
// identity-based policies within its boundary, session policies and SCPs.
// Resource-based policies in the set are ignored: the checks ask about any
// resource, not one.
func AnalyzeSet(principalARN string, s Set) []Risk {
	s.Resource, s.RCP = nil, nil
	return analyzeSet(principalARN, principalARN, s)
}

// Analyze reports the risks of every user and role of the account, and the
// exposure of every role's trust policy, most severe first.
func (a *Account) Analyze() []Risk {
	var out []Risk
	for _, u := range a.Users {
		if s, err := a.PolicySet(u.ARN); err == nil {
			out = append(out, analyzeSet(u.ARN, u.ARN, s)...)
		}
	}
	for _, r := range a.Roles {
		if s, err := a.PolicySet(r.ARN); err == nil {
			out = append(out, analyzeSet(r.ARN, r.ARN, s)...)
		}
		if r.Trust != nil {
			for _, risk := range exposure(r.Trust, a.ID) {
				risk.Principal = r.ARN
				out = append(out, risk)
			}
		}
	}
	sortRisks(out)
	return out
}

// verdict is what the evaluator said about one probe.
type verdict uint8

const (
	unknown verdict = iota
	denied
	conditional // allowed only when Allow conditions hold
	allowed
)

// analyzer runs the checks for one principal, asking each probe of the table
// once.
type analyzer struct {
	set      *Set
	account  string
	self     string
	ev       evaluation
	req      Request
	verdicts []verdict          // by checkProbes index
	arns     [probeTypes]string // probe resources, built when first needed
}

func analyzeSet(probePrincipal, reportPrincipal string, s Set) []Risk {
	an := analyzer{set: &s, self: probePrincipal, verdicts: make([]verdict, len(checkProbes.probes))}
	an.req = Request{Principal: probePrincipal, Context: probeContext(probePrincipal)}
	an.ev = newEvaluation(&an.req)
	an.account = an.ev.caller.account
	if an.account == "" {
		an.account = "123456789012"
	}
	var out []Risk
	admin := denied
	for i := range checks {
		c := &checks[i]
		v := allowed
		for _, pi := range checkProbes.byCheck[i] {
			v = min(v, an.decide(pi))
			if v == denied {
				break
			}
		}
		switch {
		case v == denied:
			continue
		case c.Category == FullAdmin && v == allowed:
			// Full admin subsumes every other check: report it alone.
			return []Risk{an.risk(i, v, reportPrincipal)}
		case c.Category == FullAdmin:
			admin = v
		case admin == conditional && v == conditional:
			// Conditional full admin subsumes the other conditional grants;
			// what is allowed outright is still worth its own risk.
			continue
		}
		out = append(out, an.risk(i, v, reportPrincipal))
	}
	sortRisks(out)
	return out
}

// probeContext gives variables such as ${aws:username} a value, so that
// statements scoped to the caller itself match only the caller.
func probeContext(principal string) Context {
	ctx := Context{"aws:PrincipalArn": {principal}}
	if a, ok := splitARN(principal); ok {
		ctx["aws:PrincipalAccount"] = []string{a.account}
		if name, ok := strings.CutPrefix(a.resource, "user/"); ok {
			ctx["aws:username"] = []string{name[strings.LastIndexByte(name, '/')+1:]}
		}
	}
	return ctx
}

// resource is the ARN a probe asks about.
func (an *analyzer) resource(k probeType) string {
	if an.arns[k] == "" {
		switch {
		case k == probeSelf && strings.Contains(an.self, ":user/"):
			an.arns[k] = an.self
		case k == probeSelf:
			an.arns[k] = probeARN(probeUser, an.account)
		default:
			an.arns[k] = probeARN(k, an.account)
		}
	}
	return an.arns[k]
}

// point sets the evaluation on one probe.
func (an *analyzer) point(pi int) {
	p := checkProbes.probes[pi]
	an.req.Action, an.req.Resource = p.action, an.resource(p.kind)
	an.ev.resource, an.ev.resourceAccount = an.req.Resource, an.account
}

func (an *analyzer) decide(pi int) verdict {
	if v := an.verdicts[pi]; v != unknown {
		return v
	}
	// Fast path: without a root caller or resource-based policies, nothing
	// is allowed unless some identity-based Allow names the action.
	if an.ev.caller.kind != callerRoot && len(an.set.Resource) == 0 && !an.identityNames(checkProbes.probes[pi].action) {
		an.verdicts[pi] = denied
		return denied
	}
	an.point(pi)
	an.ev.collect, an.ev.optimistic = false, false
	v := denied
	if an.ev.evaluate(an.set).Decision == Allowed {
		v = allowed
	} else {
		an.ev.optimistic = true
		if an.ev.evaluate(an.set).Decision == Allowed {
			v = conditional
		}
	}
	an.verdicts[pi] = v
	return v
}

// identityNames reports whether an Allow statement of the identity-based
// policies matches the action.
func (an *analyzer) identityNames(action string) bool {
	an.req.Action = action
	for _, p := range an.set.Identity {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			if st := &p.Statements[i]; st.Effect == Allow && an.ev.actionMatches(st) {
				return true
			}
		}
	}
	return false
}

// risk builds the Risk of a check that passed, naming the identity-based
// policies whose statements allow its actions.
func (an *analyzer) risk(i int, v verdict, principal string) Risk {
	c := &checks[i]
	r := Risk{Check: c.ID, Category: c.Category, Severity: c.Severity, Principal: principal,
		Actions: slices.Clone(c.Actions), Reason: c.Reason, Conditional: v == conditional}
	if r.Conditional {
		r.Severity = r.Severity.lower()
	}
	if c.Category == FullAdmin {
		r.Actions = []string{"*"} // the other actions are probes, not news
	}
	for _, pi := range checkProbes.byCheck[i] {
		an.point(pi)
		an.ev.collect, an.ev.optimistic = true, v == conditional
		for _, m := range an.ev.evaluate(an.set).Matches {
			if m.Kind == IdentityPolicy && !slices.Contains(r.Policies, m.Policy.Label()) {
				r.Policies = append(r.Policies, m.Policy.Label())
			}
		}
	}
	return r
}

func sortRisks(rs []Risk) {
	slices.SortStableFunc(rs, func(a, b Risk) int {
		if c := cmp.Compare(b.Severity.Score(), a.Severity.Score()); c != 0 {
			return c
		}
		if c := strings.Compare(a.Principal, b.Principal); c != 0 {
			return c
		}
		return strings.Compare(a.Check, b.Check)
	})
}

// documentAccount guesses a lone document's account from the first account ID
// its resources name, so that statements scoped to one account still match
// the probes.
func documentAccount(p *Policy) string {
	for _, st := range p.Statements {
		for _, r := range st.Resources {
			if a, ok := splitARN(r); ok && isAccountID(a.account) {
				return a.account
			}
		}
	}
	return "123456789012"
}

// restrictingKeys are condition keys that narrow who can use a grant to
// everyone ("Principal": "*") down to known callers.
var restrictingKeys = []string{
	"aws:SourceArn", "aws:SourceAccount", "aws:SourceOwner", "aws:SourceOrgID", "aws:SourceOrgPaths",
	"aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalAccount", "aws:PrincipalArn",
	"aws:PrincipalServiceName", "aws:SourceVpce", "aws:SourceVpc", "aws:SourceIp", "aws:userid",
	"aws:username", "kms:CallerAccount", "sts:ExternalId", "aws:VpceAccount", "aws:VpceOrgID",
	"s3:DataAccessPointAccount", "lambda:EventSourceToken",
}

// restricts reports whether a condition narrows the callers: a positive
// operator on a restricting key with no "*" value.
func restricts(c *Condition) bool {
	op := c.op
	if op.kind == opInvalid {
		op, _ = parseOperator(c.Operator)
	}
	if op.negate || op.ifExists || op.kind == opNull || op.kind == opBool {
		return false
	}
	if op.kind == opIPAddress {
		for _, v := range c.Values {
			if v == "0.0.0.0/0" || v == "::/0" {
				return false
			}
		}
	}
	if !slices.ContainsFunc(restrictingKeys, func(k string) bool { return strings.EqualFold(k, c.Key) }) {
		return false
	}
	return !slices.Contains(c.Values, "*")
}

// exposure reports who a resource-based policy lets in: everyone without a
// restricting condition, another account (when the policy's account is known),
// or any GitHub repository through an OIDC trust with no subject condition.
func exposure(p *Policy, account string) []Risk {
	if account == "" {
		account = p.Account
	}
	var out []Risk
	for i := range p.Statements {
		st := &p.Statements[i]
		if st.Effect != Allow || st.Principal == nil {
			continue
		}
		restricted := slices.ContainsFunc(st.Conditions, func(c Condition) bool { return restricts(&c) })
		label := p.Label() + " statement " + st.Label(i)
		acts := st.Actions
		if st.NotAction {
			acts = []string{"everything but " + strings.Join(st.Actions, ", ")}
		}
		everyone := st.Principal.All || slices.Contains(st.Principal.AWS, "*") || st.NotPrincipal
		switch {
		case everyone && !restricted:
			sev := High
			if actsInclude(st, "sts:AssumeRole") || actsWrite(st) {
				sev = Critical
			}
			out = append(out, Risk{Check: "public-resource-policy", Category: ResourceExposure, Severity: sev,
				Policies: []string{label}, Actions: slices.Clone(acts),
				Reason: "grants to every principal (\"*\"), any AWS account or anonymous caller, with no condition narrowing who"})
		case !everyone && account != "" && !restricted:
			for _, e := range st.Principal.AWS {
				foreign := e
				if a, ok := splitARN(e); ok {
					foreign = a.account
				}
				if isAccountID(foreign) && foreign != account {
					out = append(out, Risk{Check: "cross-account-resource-policy", Category: ResourceExposure, Severity: Medium,
						Policies: []string{label}, Actions: slices.Clone(acts),
						Reason: fmt.Sprintf("grants to %s, in account %s, outside account %s", e, foreign, account)})
				}
			}
		}
		for _, f := range st.Principal.Federated {
			if f == "token.actions.githubusercontent.com" || strings.HasSuffix(f, "/token.actions.githubusercontent.com") {
				if !slices.ContainsFunc(st.Conditions, func(c Condition) bool {
					return strings.EqualFold(c.Key, "token.actions.githubusercontent.com:sub") && !slices.Contains(c.Values, "*")
				}) {
					out = append(out, Risk{Check: "oidc-trust-without-subject", Category: ResourceExposure, Severity: Critical,
						Policies: []string{label}, Actions: slices.Clone(acts),
						Reason: "trusts GitHub's OIDC provider without a condition on the token's sub: any repository's workflow can assume the role"})
				}
			}
		}
	}
	sortRisks(out)
	return out
}

func actsInclude(st *Statement, action string) bool {
	for _, a := range st.Actions {
		if glob(a, action, true, false) {
			return !st.NotAction
		}
	}
	return st.NotAction
}

// actsWrite reports whether a statement grants more than reads: a wildcard
// action or one that does not start with Get, List or Describe.
func actsWrite(st *Statement) bool {
	if st.NotAction {
		return true
	}
	for _, a := range st.Actions {
		_, name, _ := strings.Cut(a, ":")
		if a == "*" || strings.HasSuffix(name, "*") && len(name) < 4 {
			return true
		}
		l := strings.ToLower(name)
		if !strings.HasPrefix(l, "get") && !strings.HasPrefix(l, "list") && !strings.HasPrefix(l, "describe") && !strings.HasPrefix(l, "head") {
			return true
		}
	}
	return false
}
