package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
	"github.com/trailsentry/trailsentry/internal/ingest"
	"github.com/trailsentry/trailsentry/internal/policy"
)

const policyUsage = `Usage: trailsentry policy COMMAND [flags] ...

Least privilege from CloudTrail, with the IAM evaluator of internal/policy
(docs/policy.md):

  explain   which statement allowed or denied an event's call (or a request
            given by hand), and whether that agrees with CloudTrail's error
  suggest   per principal, a minimal policy granting what was refused for a
            missing permission; guardrail denies are listed, not granted
  generate  the policy a principal's successful calls needed
  diff      granted but unused, used but not granted, and unknown (actions
            CloudTrail does not record), against an authorization-details export
  analyze   risks (privilege escalation, exposure, admin...) in policy
            documents or an authorization-details export

Run "trailsentry policy COMMAND -h" for a command's flags.
Output: --format table (default on a terminal) or json. Exit codes: 0 done,
1 analyze found risks at or above --fail-on, 2 bad usage or unreadable input.
`

func runPolicy(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return ExitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "explain":
		return runPolicyExplain(ctx, rest, stdin, stdout, stderr)
	case "suggest":
		return runPolicySuggest(ctx, rest, stdin, stdout, stderr)
	case "generate":
		return runPolicyGenerate(ctx, rest, stdin, stdout, stderr)
	case "diff":
		return runPolicyDiff(ctx, rest, stdin, stdout, stderr)
	case "analyze":
		return runPolicyAnalyze(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, policyUsage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "trailsentry policy: unknown command %q\n\n%s", cmd, policyUsage)
	return ExitUsage
}

// policyFormat resolves --format: table on a terminal, json otherwise.
func policyFormat(format string, stdout io.Writer) (string, error) {
	switch format {
	case "":
		if isTerminal(stdout) {
			return "table", nil
		}
		return "json", nil
	case "table", "json":
		return format, nil
	}
	return "", fmt.Errorf("--format %q: want table or json", format)
}

// writeJSON writes v indented, as every policy command's json output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// loadAccountFile reads an authorization-details export.
func loadAccountFile(path string) (*policy.Account, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--authorization-details: %w", err)
	}
	defer f.Close()
	a, err := policy.ParseAuthorizationDetails(f)
	if err != nil {
		return nil, fmt.Errorf("--authorization-details %s: %w", path, err)
	}
	return a, nil
}

// loadPolicyFile reads one policy document, naming the file in errors.
func loadPolicyFile(flag, path string) (*policy.Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	p, err := policy.ParseDocument(b)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if p.Name == "" {
		p.Name = path
	}
	return p, nil
}

// eventReading is what a policy command reads events with.
type eventReading struct {
	paths  []string
	stdin  io.Reader
	filter *eventFilter
	con    *console
}

// readEvents decodes every event under the paths the filter keeps and hands
// it to fn through an enrichment View. Bad records and unreadable files are
// reported on the console with file and position and counted; the reading
// goes on. It returns the events read and the problems met.
func (r eventReading) readEvents(ctx context.Context, fn func(v *enrich.View)) (events, problems int, err error) {
	s3src, err := newS3Source(ctx, r.paths, false, r.filter.selection())
	if err != nil {
		return 0, 0, err
	}
	en, err := enrich.New(ctx, enrich.Options{})
	if err != nil {
		return 0, 0, err
	}
	view := en.NewView()
	objs := make(chan ingest.Object, 16)
	var walkProblems atomic.Int64 // the walker's goroutine counts here
	go ingest.Walk(ctx, r.paths, r.stdin, s3src, objs, func(err error) {
		r.con.warn(err.Error())
		walkProblems.Add(1)
	})
	opener := ingest.NewOpener()
	for obj := range objs {
		if ctx.Err() != nil {
			continue
		}
		rd, err := opener.Open(obj)
		if err != nil {
			r.con.warn(err.Error())
			problems++
			continue
		}
		dec := event.NewDecoder(rd)
		for {
			ev, err := dec.Next()
			if err == nil {
				events++
				if r.filter.active() && !r.filter.keep(ev) {
					continue
				}
				view.Reset(ev)
				fn(view)
				continue
			}
			var rerr *event.RecordError
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, event.ErrSkipFile):
			case errors.As(err, &rerr):
				r.con.warn("bad record", "file", obj.Name, "record", rerr.Index, "offset", rerr.Offset, "error", rerr.Err)
				problems++
				continue
			default:
				r.con.warn("unreadable, skipped", "file", obj.Name, "offset", dec.Offset(), "error", err)
				problems++
			}
			break
		}
		opener.Close()
	}
	return events, problems + int(walkProblems.Load()), ctx.Err()
}

// callOf reduces the View's event to a policy.Call: what the call needed
// (enrich's Authorization) and, if refused, why (enrich's Denial). Strings
// are copied so that the Call does not keep the record alive.
func callOf(v *enrich.View) policy.Call {
	ev := v.Event()
	c := policy.Call{
		EventID:   strings.Clone(ev.Str(event.EventID)),
		Time:      ev.Time,
		Principal: strings.Clone(policy.Grantee(ev)),
		Caller:    strings.Clone(ev.Str(event.IdentityARN)),
		Error:     strings.Clone(ev.Str(event.ErrorCode)),
		Context:   policy.FactsOf(ev).Context(),
	}
	for k, vals := range c.Context {
		for i := range vals {
			vals[i] = strings.Clone(vals[i])
		}
		c.Context[k] = vals
	}
	auth := v.Authorization()
	if auth.Need == enrich.NeedNone {
		c.NoPermission = auth.Note
		if c.NoPermission == "" {
			c.NoPermission = "the call needs no identity-based permission"
		}
	}
	for _, a := range auth.Actions {
		res := make([]string, len(a.Resources))
		for i, r := range a.Resources {
			res[i] = strings.Clone(r)
		}
		c.Needs = append(c.Needs, policy.Need{Action: strings.Clone(a.Action), Resources: res, Pattern: a.Wildcard, From: a.From})
	}
	if d := v.Denial(); d.Denied {
		c.Refusal = &policy.Refusal{Kind: d.Kind, Explicit: d.Explicit, Action: d.Action, Resource: d.Resource,
			Policy: d.Policy, Code: d.Code, Message: strings.Clone(ev.Str(event.ErrorMessage))}
	}
	c.Network, c.Tooling = networkName(v), v.Tooling()
	return c
}

// networkName is where a call came from, as profiles compare places
// (enrich.View.Network); "" for private addresses and AWS services.
func networkName(v *enrich.View) string {
	if n, ok := v.Network(); ok {
		return n.String()
	}
	return ""
}

// enricherForCatalog builds the enrichment tables once for diff's catalog
// and RecordedAs.
func enricherForCatalog(ctx context.Context) (*enrich.Enricher, error) {
	return enrich.New(ctx, enrich.Options{})
}
