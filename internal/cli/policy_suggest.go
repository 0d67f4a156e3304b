package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/ingest"
	"github.com/trailsentry/trailsentry/internal/policy"
)

const suggestSynopsis = `Usage: trailsentry policy suggest [flags] PATH...

For each principal (the role, for assumed-role sessions), its refused calls
(AccessDenied, UnauthorizedOperation...) become a minimal policy: the refused
action on the refused resource, grouped by resource, never a wildcard action.
Each refusal is classified by what its message says denied it: guardrails
(SCP, RCP, permissions boundary, session or VPC endpoint policy) and explicit
denies are listed with their evidence, not granted. With
--authorization-details, refusals whose message says nothing are decided by
the evaluator against the principal's policies.`

const generateSynopsis = `Usage: trailsentry policy generate --principal ARN [flags] PATH...

The policy a principal's successful calls needed over a period: every IAM
action they needed (CopyObject's s3:GetObject and s3:PutObject, RunInstances'
iam:PassRole...) on the resources they were authorised against.`

const diffSynopsis = `Usage: trailsentry policy diff --principal ARN --authorization-details FILE [flags] PATH...

Compares a principal's policies (from aws iam get-account-authorization-details)
with its successful calls: granted but unused, used but not granted, and
unknown (granted actions CloudTrail does not record or records only as data
events, whose absence proves nothing). Live IAM is not read: export it first.`

// readCalls reads the calls of the events under paths that keep says to keep.
func readCalls(ctx context.Context, paths []string, stdin io.Reader, filter *eventFilter, con *console, keep func(*policy.Call) bool) ([]policy.Call, int, int, error) {
	var calls []policy.Call
	r := eventReading{paths: paths, stdin: stdin, filter: filter, con: con}
	events, problems, err := r.readEvents(ctx, func(v *enrich.View) {
		c := callOf(v)
		if keep(&c) {
			calls = append(calls, c)
		}
	})
	return calls, events, problems, err
}

// checkEventPaths validates PATH arguments as scan does.
func checkEventPaths(paths []string, what string) error {
	if len(paths) == 0 {
		return fmt.Errorf("policy %s needs at least one PATH of CloudTrail logs (or - for standard input)", what)
	}
	n := 0
	for _, p := range paths {
		if p == ingest.Stdin {
			n++
		}
	}
	if n > 1 {
		return errors.New("standard input (-) can be read only once")
	}
	return ingest.CheckPaths(paths)
}

func runPolicySuggest(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var format, since, until, principal, details string
	var group bool
	var accounts, regions listFlag
	fs := newFlagSet("policy suggest", stderr, suggestSynopsis)
	fs.StringVar(&format, "format", "", "output: table or json (default table on a terminal, json otherwise)")
	fs.StringVar(&principal, "principal", "", "only this principal: a user or role ARN (or an assumed-role session ARN)")
	fs.StringVar(&details, "authorization-details", "", "JSON `FILE` of aws iam get-account-authorization-details: decide refusals whose message does not say what denied them")
	fs.BoolVar(&group, "group", false, "widen: actions of one service sharing a verb become service:Verb*, ARNs sharing a path become prefix*")
	grantUnfamiliar := fs.Bool("grant-unfamiliar", false, "also grant what was refused from a network the principal never worked from, or to offensive tooling (by default such refusals are listed as unfamiliar-caller: investigate first)")
	fs.StringVar(&since, "since", "", "only events at or after this time (2024-05-01, RFC 3339, or an age such as 7d)")
	fs.StringVar(&until, "until", "", "only events before this time")
	fs.Var(&accounts, "account", "only events of this account id (repeatable)")
	fs.Var(&regions, "region", "only events of this region (repeatable)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return usageError(stderr, err)
	}
	if err := checkEventPaths(paths, "suggest"); err != nil {
		return usageError(stderr, err)
	}
	format, err = policyFormat(format, stdout)
	if err != nil {
		return usageError(stderr, err)
	}
	filter, err := newEventFilter(since, until, accounts, regions, time.Now())
	if err != nil {
		return usageError(stderr, err)
	}
	opts := policy.SuggestOptions{Group: group, GrantUnfamiliar: *grantUnfamiliar}
	if details != "" {
		acct, err := loadAccountFile(details)
		if err != nil {
			return usageError(stderr, err)
		}
		opts.PolicySet = func(p string) (policy.Set, bool) {
			s, err := acct.PolicySet(p)
			return s, err == nil
		}
	}
	con := newConsole(stderr, isTerminal(stderr))
	successes := map[[2]string]int{}
	calls, events, problems, err := readCalls(ctx, paths, stdin, filter, con, func(c *policy.Call) bool {
		if principal != "" && !policy.SamePrincipal(principal, c) {
			return false
		}
		if c.Refusal == nil && c.Error == "" {
			// A success says only where the principal works from
			// (Suggest's unfamiliar-caller test): counted, not kept.
			successes[[2]string{c.Principal, c.Network}]++
			return false
		}
		return c.Refusal != nil
	})
	for k, n := range successes {
		calls = append(calls, policy.Call{Principal: k[0], Network: k[1], Successes: n})
	}
	if err != nil {
		return usageError(stderr, err)
	}
	sugs := policy.Suggest(calls, opts)
	if format == "json" {
		if sugs == nil {
			sugs = []policy.Suggestion{}
		}
		err = writeJSON(stdout, sugs)
	} else {
		err = writeSuggestTable(stdout, sugs)
	}
	if err != nil {
		fmt.Fprintf(stderr, "trailsentry: write: %v\n", err)
		return ExitUsage
	}
	con.info(fmt.Sprintf("Read %d events: %d refused calls of %d principals.", events, len(calls), len(sugs)))
	if problems > 0 {
		return ExitUsage
	}
	return ExitOK
}

func writeSuggestTable(w io.Writer, sugs []policy.Suggestion) error {
	var b strings.Builder
	if len(sugs) == 0 {
		b.WriteString("No refused calls.\n")
	}
	for i, s := range sugs {
		if i > 0 {
			b.WriteString("\n")
		}
		counts := map[policy.Class]int{}
		for _, d := range s.Denies {
			counts[d.Class]++
		}
		fmt.Fprintf(&b, "Principal %s — %d refused calls", s.Principal, len(s.Denies))
		var parts []string
		for _, c := range []policy.Class{policy.MissingPermission, policy.Unclassified, policy.Guardrail, policy.DenyStatement, policy.ResourcePolicyMissing} {
			if counts[c] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[c], c))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
		}
		b.WriteString("\n")
		writeProposalTable(&b, s.Proposal, "Suggested policy")
		var withheld []policy.Refused
		for _, d := range s.Denies {
			if !d.Granted {
				withheld = append(withheld, d)
			}
		}
		if len(withheld) > 0 {
			b.WriteString("  Not granted:\n")
			for _, d := range withheld {
				fmt.Fprintf(&b, "    %s  %s on %s  [%s]\n      %s\n", d.EventID, d.Action, strings.Join(d.Resources, ", "), d.Class, d.Reason)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeProposalTable prints a proposed policy and its statements' evidence
// and notes.
func writeProposalTable(b *strings.Builder, p policy.Proposal, title string) {
	if p.Policy == nil {
		fmt.Fprintf(b, "  %s: nothing to grant.\n", title)
		return
	}
	doc, _ := json.MarshalIndent(p.Policy, "    ", "  ")
	fmt.Fprintf(b, "  %s:\n    %s\n", title, doc)
	for _, g := range p.Grants {
		ev := strings.Join(g.Evidence, ", ")
		if g.EvidenceCount > len(g.Evidence) {
			ev += fmt.Sprintf(" (%d in all)", g.EvidenceCount)
		}
		fmt.Fprintf(b, "  %s  evidence: %s\n", g.Sid, ev)
		for _, n := range g.Notes {
			fmt.Fprintf(b, "    note: %s\n", n)
		}
	}
}

func runPolicyGenerate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var format, since, until, principal string
	var group bool
	var accounts, regions listFlag
	fs := newFlagSet("policy generate", stderr, generateSynopsis)
	fs.StringVar(&format, "format", "", "output: table or json (default table on a terminal, json otherwise)")
	fs.StringVar(&principal, "principal", "", "the principal: a user or role ARN (required)")
	fs.BoolVar(&group, "group", false, "widen: actions of one service sharing a verb become service:Verb*, ARNs sharing a path become prefix*")
	fs.StringVar(&since, "since", "", "only events at or after this time (2024-05-01, RFC 3339, or an age such as 30d)")
	fs.StringVar(&until, "until", "", "only events before this time")
	fs.Var(&accounts, "account", "only events of this account id (repeatable)")
	fs.Var(&regions, "region", "only events of this region (repeatable)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return usageError(stderr, err)
	}
	if principal == "" {
		return usageError(stderr, errors.New("policy generate needs --principal ARN"))
	}
	if err := checkEventPaths(paths, "generate"); err != nil {
		return usageError(stderr, err)
	}
	if format, err = policyFormat(format, stdout); err != nil {
		return usageError(stderr, err)
	}
	filter, err := newEventFilter(since, until, accounts, regions, time.Now())
	if err != nil {
		return usageError(stderr, err)
	}
	con := newConsole(stderr, isTerminal(stderr))
	calls, events, problems, err := readCalls(ctx, paths, stdin, filter, con, func(c *policy.Call) bool {
		return c.Error == "" && policy.SamePrincipal(principal, c)
	})
	if err != nil {
		return usageError(stderr, err)
	}
	g := policy.Generate(principal, calls, policy.GenerateOptions{Group: group})
	if format == "json" {
		err = writeJSON(stdout, g)
	} else {
		var b strings.Builder
		fmt.Fprintf(&b, "Principal %s — %d successful calls", principal, g.Calls)
		if g.Calls > 0 {
			fmt.Fprintf(&b, " from %s to %s", g.First.Format(time.RFC3339), g.Last.Format(time.RFC3339))
		}
		b.WriteString("\n")
		writeProposalTable(&b, g.Proposal, "Generated policy")
		_, err = io.WriteString(stdout, b.String())
	}
	if err != nil {
		fmt.Fprintf(stderr, "trailsentry: write: %v\n", err)
		return ExitUsage
	}
	if g.Calls == 0 {
		con.warn("no successful call of the principal in the events read", "principal", principal, "events", events)
	}
	if problems > 0 {
		return ExitUsage
	}
	return ExitOK
}

func runPolicyDiff(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var format, since, until, principal, details string
	var accounts, regions listFlag
	fs := newFlagSet("policy diff", stderr, diffSynopsis)
	fs.StringVar(&format, "format", "", "output: table or json (default table on a terminal, json otherwise)")
	fs.StringVar(&principal, "principal", "", "the principal: a user or role ARN (required)")
	fs.StringVar(&details, "authorization-details", "", "JSON `FILE` of aws iam get-account-authorization-details (required)")
	fs.StringVar(&since, "since", "", "only events at or after this time (2024-05-01, RFC 3339, or an age such as 90d)")
	fs.StringVar(&until, "until", "", "only events before this time")
	fs.Var(&accounts, "account", "only events of this account id (repeatable)")
	fs.Var(&regions, "region", "only events of this region (repeatable)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return usageError(stderr, err)
	}
	if principal == "" || details == "" {
		return usageError(stderr, errors.New("policy diff needs --principal ARN and --authorization-details FILE"))
	}
	if err := checkEventPaths(paths, "diff"); err != nil {
		return usageError(stderr, err)
	}
	if format, err = policyFormat(format, stdout); err != nil {
		return usageError(stderr, err)
	}
	filter, err := newEventFilter(since, until, accounts, regions, time.Now())
	if err != nil {
		return usageError(stderr, err)
	}
	acct, err := loadAccountFile(details)
	if err != nil {
		return usageError(stderr, err)
	}
	set, err := acct.PolicySet(principal)
	if err != nil {
		return usageError(stderr, fmt.Errorf("--principal: %w", err))
	}
	en, err := enricherForCatalog(ctx)
	if err != nil {
		return usageError(stderr, err)
	}
	var catalog []string
	for _, a := range en.Catalog() {
		catalog = append(catalog, a.Name)
	}
	con := newConsole(stderr, isTerminal(stderr))
	calls, _, problems, err := readCalls(ctx, paths, stdin, filter, con, func(c *policy.Call) bool {
		return c.Error == "" && policy.SamePrincipal(principal, c)
	})
	if err != nil {
		return usageError(stderr, err)
	}
	d := policy.Diff(principal, set, calls, policy.DiffOptions{Catalog: catalog, RecordedAs: en.RecordedAs})
	if format == "json" {
		err = writeJSON(stdout, d)
	} else {
		err = writeDiffTable(stdout, d)
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

func writeDiffTable(w io.Writer, d policy.DiffResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Principal %s — %d successful calls, %d actions used\n", d.Principal, d.Calls, len(d.Used))
	fmt.Fprintf(&b, "\nUsed but not granted (%d):\n", len(d.UsedNotGranted))
	for _, u := range d.UsedNotGranted {
		fmt.Fprintf(&b, "  %s on %s  (%d calls, e.g. %s)\n    %s\n", u.Action, strings.Join(u.Resources, ", "), u.Count, u.Evidence[0], u.Reason)
	}
	granted := func(title string, list []policy.GrantedAction) {
		fmt.Fprintf(&b, "\n%s (%d):\n", title, len(list))
		for _, g := range list {
			cond := ""
			if g.Conditional {
				cond = "  [only when its conditions hold]"
			}
			fmt.Fprintf(&b, "  %s on %s  via %s%s\n", g.Action, strings.Join(g.Resources, ", "), strings.Join(g.Policies, ", "), cond)
			if g.Note != "" {
				fmt.Fprintf(&b, "    %s: %s\n", g.Recorded, g.Note)
			}
		}
	}
	granted("Granted but unused", d.GrantedUnused)
	granted("Granted, use unknown (CloudTrail does not record it, or only as a data event)", d.Unknown)
	_, err := io.WriteString(w, b.String())
	return err
}
