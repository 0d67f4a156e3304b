package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
	"github.com/trailsentry/trailsentry/internal/policy"
)

const explainSynopsis = `Usage: trailsentry policy explain --authorization-details FILE [flags] PATH...
       trailsentry policy explain --authorization-details FILE --principal ARN --action ACTION [--resource ARN] [--context KEY=VALUE]...

Says which statement allowed or denied each event's call (or the one with
--event-id), or a request given by hand, against the principal's policies
from the export plus the SCPs, boundary, session and resource policies given.
For a refused call it says whether the evaluator agrees with what CloudTrail's
error blames: a disagreement usually means a policy is missing from the set.`

// explained is one decided request, as explain prints it.
type explained struct {
	EventID    string           `json:"eventID,omitempty"`
	EventName  string           `json:"eventName,omitempty"`
	Principal  string           `json:"principal"`
	Action     string           `json:"action"`
	Resource   string           `json:"resource"`
	Decision   string           `json:"decision"`
	Reason     string           `json:"reason"`
	Statements []explainedMatch `json:"statements"`
	CloudTrail *cloudTrailSaid  `json:"cloudtrail,omitempty"`
	Agrees     *bool            `json:"agrees,omitempty"`
	Note       string           `json:"note,omitempty"`
	text       string
}

type explainedMatch struct {
	Kind      string `json:"kind"`
	Level     int    `json:"level,omitempty"`
	Policy    string `json:"policy"`
	Source    string `json:"source,omitempty"`
	Statement string `json:"statement"`
	Effect    string `json:"effect"`
}

type cloudTrailSaid struct {
	ErrorCode string `json:"errorCode,omitempty"`
	DeniedBy  string `json:"deniedBy,omitempty"`
	Explicit  bool   `json:"explicit"`
}

func runPolicyExplain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var format, details, boundary, eventID, principal, action, resource string
	var scps, sessions, resources, contexts listFlag
	fs := newFlagSet("policy explain", stderr, explainSynopsis)
	fs.StringVar(&format, "format", "", "output: table or json (default table on a terminal, json otherwise)")
	fs.StringVar(&details, "authorization-details", "", "JSON `FILE` of aws iam get-account-authorization-details (required)")
	fs.Var(&scps, "scp", "SCP document `FILE`, one level each, from the organization root down to the account (repeatable)")
	fs.StringVar(&boundary, "boundary", "", "permissions boundary document `FILE` (replaces the export's)")
	fs.Var(&sessions, "session-policy", "session policy document `FILE` (repeatable)")
	fs.Var(&resources, "resource-policy", "resource-based policy document `FILE` (bucket, key, trust policy; repeatable)")
	fs.StringVar(&eventID, "event-id", "", "explain only the event with this eventID")
	fs.StringVar(&principal, "principal", "", "a request by hand: the caller's ARN (user, role, or assumed-role session)")
	fs.StringVar(&action, "action", "", "a request by hand: the IAM action, e.g. s3:GetObject")
	fs.StringVar(&resource, "resource", "*", "a request by hand: the resource ARN")
	fs.Var(&contexts, "context", "a request by hand: a condition key, KEY=VALUE (repeatable; a key given twice has several values)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return usageError(stderr, err)
	}
	if details == "" {
		return usageError(stderr, errors.New("policy explain needs --authorization-details FILE: the account's policies"))
	}
	byHand := principal != "" || action != ""
	switch {
	case byHand && (principal == "" || action == ""):
		return usageError(stderr, errors.New("a request by hand needs both --principal and --action"))
	case byHand && len(paths) > 0:
		return usageError(stderr, errors.New("give either PATH... (events) or --principal/--action (a request by hand), not both"))
	case !byHand:
		if err := checkEventPaths(paths, "explain"); err != nil {
			return usageError(stderr, err)
		}
	}
	if format, err = policyFormat(format, stdout); err != nil {
		return usageError(stderr, err)
	}
	acct, err := loadAccountFile(details)
	if err != nil {
		return usageError(stderr, err)
	}
	extra := policy.Set{}
	for _, f := range scps {
		p, err := loadPolicyFile("--scp", f)
		if err != nil {
			return usageError(stderr, err)
		}
		extra.SCP = append(extra.SCP, []*policy.Policy{p})
	}
	if boundary != "" {
		if extra.Boundary, err = loadPolicyFile("--boundary", boundary); err != nil {
			return usageError(stderr, err)
		}
	}
	for _, f := range sessions {
		p, err := loadPolicyFile("--session-policy", f)
		if err != nil {
			return usageError(stderr, err)
		}
		extra.Session = append(extra.Session, p)
	}
	for _, f := range resources {
		p, err := loadPolicyFile("--resource-policy", f)
		if err != nil {
			return usageError(stderr, err)
		}
		extra.Resource = append(extra.Resource, p)
	}
	setFor := func(caller string) (policy.Set, error) {
		s, err := acct.PolicySet(caller)
		if err != nil {
			return s, err
		}
		s.SCP, s.Session, s.Resource = extra.SCP, extra.Session, extra.Resource
		if extra.Boundary != nil {
			s.Boundary = extra.Boundary
		}
		return s, nil
	}

	var out []explained
	con := newConsole(stderr, isTerminal(stderr))
	problems := 0
	if byHand {
		ctxKeys, err := handContext(principal, contexts)
		if err != nil {
			return usageError(stderr, err)
		}
		set, err := setFor(principal)
		if err != nil {
			return usageError(stderr, fmt.Errorf("--principal: %w", err))
		}
		r := policy.Evaluate(policy.Request{Principal: principal, Action: action, Resource: resource, Context: ctxKeys}, set)
		out = append(out, explain(principal, action, resource, r))
	} else {
		filter, _ := newEventFilter("", "", nil, nil, time.Now())
		reading := eventReading{paths: paths, stdin: stdin, filter: filter, con: con}
		found := false
		_, problems, err = reading.readEvents(ctx, func(v *enrich.View) {
			ev := v.Event()
			if eventID != "" && ev.Str(event.EventID) != eventID {
				return
			}
			found = true
			out = append(out, explainEvent(v, setFor, con)...)
		})
		if err != nil {
			return usageError(stderr, err)
		}
		if eventID != "" && !found {
			return usageError(stderr, fmt.Errorf("--event-id %s: no such event under %s", eventID, strings.Join(paths, ", ")))
		}
	}
	if format == "json" {
		if out == nil {
			out = []explained{}
		}
		err = writeJSON(stdout, out)
	} else {
		var b strings.Builder
		for i, e := range out {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(e.text)
		}
		_, err = io.WriteString(stdout, b.String())
	}
	if err != nil {
		fmt.Fprintf(stderr, "trailsentry: write: %v\n", err)
		return ExitUsage
	}
	if problems > 0 {
		return ExitUsage
	}
	return ExitOK
}

// handContext builds a hand-given request's condition keys: the principal's
// own (aws:PrincipalArn, aws:PrincipalAccount, aws:username), then --context.
func handContext(principal string, pairs []string) (policy.Context, error) {
	f := policy.Facts{PrincipalARN: principal}
	if parts := strings.SplitN(principal, ":", 6); len(parts) == 6 {
		f.Account = parts[4]
		if name, ok := strings.CutPrefix(parts[5], "user/"); ok {
			f.PrincipalType, f.UserName = "IAMUser", name[strings.LastIndexByte(name, '/')+1:]
		}
		if rest, ok := strings.CutPrefix(parts[5], "assumed-role/"); ok {
			role, _, _ := strings.Cut(rest, "/")
			f.PrincipalType, f.PrincipalARN = "AssumedRole", "arn:"+parts[1]+":iam::"+parts[4]+":role/"+role
		}
	}
	c := f.Context()
	delete(c, "aws:ViaAWSService")
	given := map[string]bool{}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--context %q: want KEY=VALUE, e.g. aws:SourceIp=203.0.113.7", kv)
		}
		if !given[k] {
			c[k], given[k] = nil, true // --context replaces what the principal implies
		}
		c[k] = append(c[k], v)
	}
	return c, nil
}

// explainEvent decides what an event's call needed against its principal's
// policies: for a refused call, the action its message names (else each
// action it needed), with CloudTrail's verdict beside the evaluator's.
func explainEvent(v *enrich.View, setFor func(string) (policy.Set, error), con *console) []explained {
	ev := v.Event()
	c := callOf(v)
	if c.Principal == "" {
		con.warn("no IAM principal to explain (an AWS service, another account or an anonymous caller)", "event", c.EventID, "identity", ev.Str(event.IdentityType))
		return nil
	}
	set, err := setFor(c.Principal)
	if err != nil {
		con.warn("principal not in the authorization details", "event", c.EventID, "principal", c.Principal, "error", err)
		return nil
	}
	if c.NoPermission != "" {
		con.info("no identity-based permission involved", "event", c.EventID, "eventName", ev.Str(event.EventName), "why", c.NoPermission)
		return nil
	}
	needs := c.Needs
	if c.Refusal != nil && c.Refusal.Action != "" {
		for _, n := range c.Needs {
			if strings.EqualFold(n.Action, c.Refusal.Action) {
				needs = []policy.Need{n}
				break
			}
		}
	}
	var out []explained
	for _, n := range needs {
		for _, r := range n.Resources {
			res := policy.Evaluate(policy.Request{Principal: c.Caller, Action: n.Action, Resource: r, Context: c.Context}, set)
			e := explain(c.Caller, n.Action, r, res)
			e.EventID, e.EventName = c.EventID, strings.Clone(ev.Str(event.EventName))
			a := policy.CheckRefusal(res, c.Refusal)
			e.Agrees, e.Note = &a.Agrees, a.Note
			if c.Refusal != nil {
				e.CloudTrail = &cloudTrailSaid{ErrorCode: c.Refusal.Code, DeniedBy: c.Refusal.Kind, Explicit: c.Refusal.Explicit}
			}
			verdict := "agrees"
			if !a.Agrees {
				verdict = "DISAGREES"
			}
			e.text = fmt.Sprintf("%s %s by %s\n%s  CloudTrail: %s (%s)\n", e.EventID, e.EventName, c.Caller, indent(e.text), verdict, a.Note)
			out = append(out, e)
		}
	}
	return out
}

// explain renders one decision.
func explain(principal, action, resource string, r policy.Result) explained {
	e := explained{Principal: principal, Action: action, Resource: resource, Decision: r.Decision.String(), Reason: r.Reason, Statements: []explainedMatch{}}
	for _, m := range r.Matches {
		st := m.Policy.Statements[m.Statement]
		e.Statements = append(e.Statements, explainedMatch{Kind: m.Kind.String(), Level: m.Level, Policy: m.Policy.Label(),
			Source: m.Policy.Source, Statement: st.Label(m.Statement), Effect: st.Effect.String()})
	}
	e.text = fmt.Sprintf("%s on %s\n%s", action, resource, indent(r.Explain()))
	return e
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}
