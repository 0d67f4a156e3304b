package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trailsentry/trailsentry/internal/finding"
)

// SlackConfig is a Slack incoming webhook.
type SlackConfig struct {
	// WebhookURL is the incoming webhook's URL (https://hooks.slack.com/
	// services/...), a secret: env:NAME or file:/path.
	WebhookURL Secret `yaml:"webhook_url"`
}

// Block Kit's limits (api.slack.com/reference/block-kit): what Slack refuses
// with invalid_blocks when exceeded.
const (
	slackMaxBlocks      = 50
	slackMaxHeader      = 150  // a header's plain_text
	slackMaxSectionText = 3000 // a section's text
	slackMaxField       = 2000 // each of a section's fields
	slackMaxFields      = 10
	slackMaxContext     = 10 // elements of a context block
	slackMaxText        = 4000
)

// SlackMessage is an incoming-webhook payload: Block Kit blocks and the
// plain text shown in notifications and where blocks cannot be.
type SlackMessage struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is one layout block: header, section, context or divider.
type SlackBlock struct {
	Type     string       `json:"type"`
	Text     *SlackText   `json:"text,omitempty"`
	Fields   []*SlackText `json:"fields,omitempty"`
	Elements []*SlackText `json:"elements,omitempty"`
}

// SlackText is a text object: plain_text or mrkdwn.
type SlackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackSink struct {
	httpSink
	url string
}

func newSlack(h httpSink, c SlackConfig) (Sink, error) {
	s := &slackSink{httpSink: h}
	var err error
	if s.url, err = s.resolve(c.WebhookURL); err != nil {
		return nil, err
	}
	if err := checkURL(s.url); err != nil {
		return nil, fmt.Errorf("webhook_url: %w", err)
	}
	return s, nil
}

func (s *slackSink) Name() string { return s.name }

// Send posts one message per finding (an incoming webhook takes one message
// a request). A rate limit stops the batch: the rest wait for the
// Retry-After with it.
func (s *slackSink) Send(ctx context.Context, batch []Delivery) error {
	errs := make([]error, len(batch))
	failed := false
	for i, d := range batch {
		body, err := json.Marshal(SlackMessageFor(d.Finding, d.Revision))
		if err != nil {
			errs[i], failed = &SendError{Sink: s.name, Permanent: true, Msg: err.Error()}, true
			continue
		}
		_, err = s.post(ctx, s.url, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, body)
		if err != nil {
			errs[i], failed = err, true
			if perm, _ := Classify(err); !perm {
				for j := i + 1; j < len(batch); j++ {
					errs[j] = err
				}
				break
			}
		}
	}
	if failed {
		return &BatchError{Errs: errs}
	}
	return nil
}

var severityEmoji = map[finding.Label]string{
	finding.Critical: ":rotating_light:",
	finding.High:     ":red_circle:",
	finding.Medium:   ":large_orange_circle:",
	finding.Low:      ":large_yellow_circle:",
	finding.Info:     ":white_circle:",
}

// SlackMessageFor renders a finding as a Block Kit message: a header with
// the severity and title, what happened, who, from where, which resources,
// account and region, how many and when, ATT&CK, a suggested next step,
// and the ids to look it up by. Every text is escaped as Slack requires and
// cut to Block Kit's limits.
func SlackMessageFor(f *finding.Finding, revision int64) SlackMessage {
	var blocks []SlackBlock
	header := fmt.Sprintf("%s %s %s: %s", severityEmoji[f.Severity.Label], f.Severity.Label, score(f.Severity.Score), f.Rule.Title)
	blocks = append(blocks, SlackBlock{Type: "header", Text: &SlackText{Type: "plain_text", Text: fit(header, slackMaxHeader), Emoji: true}})

	what := f.Rule.Description
	if what == "" {
		what = f.Rule.Title
	}
	what = strings.Join(strings.Fields(what), " ")
	switch f.Outcome {
	case finding.OutcomeFailed:
		what += fmt.Sprintf("\nEvery call failed (%s): an attempt, nothing changed.", strings.Join(f.ErrorCodes, ", "))
	case finding.OutcomeMixed:
		what += fmt.Sprintf("\n%d of %d calls failed (%s).", f.FailedCount, f.Count, strings.Join(f.ErrorCodes, ", "))
	}
	blocks = append(blocks, section("*What happened*\n", what))

	fields := []*SlackText{
		field("*Who*\n", who(f)),
		field("*Account / region*\n", orDash(f.Account)+" / "+orDash(f.Region)),
		field("*From where*\n", from(f)),
		field("*When*\n", when(f)),
	}
	if calls := calls(f); calls != "" {
		fields = append(fields, field("*Calls*\n", calls))
	}
	if len(f.Attack) > 0 {
		fields = append(fields, field("*ATT&amp;CK*\n", strings.Join(f.Attack, ", ")))
	}
	blocks = append(blocks, SlackBlock{Type: "section", Fields: fields[:min(len(fields), slackMaxFields)]})

	if res := resources(f); res != "" {
		blocks = append(blocks, section("*Resources*\n", res))
	}
	if denied := DeniedCalls(f); len(denied) > 0 {
		var b strings.Builder
		for i, d := range denied {
			if i == 10 {
				fmt.Fprintf(&b, "… and %d more\n", len(denied)-i)
				break
			}
			b.WriteString("• " + d.Action)
			if d.Resource != "" {
				b.WriteString(" on " + d.Resource)
			}
			b.WriteString("\n")
		}
		blocks = append(blocks, section("*Denied calls* (grant narrowly if expected, rotate the credentials if not)\n", b.String()))
	}
	blocks = append(blocks, section("*Suggested next step*\n", NextStep(f)))

	ctx := fmt.Sprintf("finding %s (revision %d) · rule %s", f.ID, revision, f.Rule.ID)
	if n := len(f.EventIDs); n > 0 {
		ctx += " · eventID " + f.EventIDs[0]
		if n > 1 || f.EventIDsTruncated {
			ctx += fmt.Sprintf(" and %d more", max(int64(n), f.Count)-1)
		}
	}
	blocks = append(blocks, SlackBlock{Type: "context", Elements: []*SlackText{{Type: "mrkdwn", Text: fit(ctx, slackMaxSectionText)}}})

	if len(blocks) > slackMaxBlocks {
		blocks = blocks[:slackMaxBlocks]
	}
	text := fmt.Sprintf("[%s %s] %s: %s in %s/%s, %d event(s), last %s",
		f.Severity.Label, score(f.Severity.Score), f.Rule.Title, orDash(f.Actor), orDash(f.Account), orDash(f.Region),
		f.Count, stamp(f.LastSeen))
	return SlackMessage{Text: fit(text, slackMaxText), Blocks: blocks}
}

func score(s finding.Score) string {
	b, _ := s.MarshalJSON()
	return string(b)
}

func section(title, body string) SlackBlock {
	// The title is ours (already mrkdwn); the body is data, escaped.
	return SlackBlock{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: title + fit(body, slackMaxSectionText-utf8.RuneCountInString(title))}}
}

func field(title, body string) *SlackText {
	return &SlackText{Type: "mrkdwn", Text: title + fit(body, slackMaxField-utf8.RuneCountInString(title))}
}

func who(f *finding.Finding) string {
	var lines []string
	lines = append(lines, orDash(f.Actor))
	if c := f.Context; c != nil {
		id := c.Identity
		if id.Human != "" && id.Human != f.Actor {
			lines = append(lines, "human: "+id.Human)
		}
		p := id.Type
		if id.Role != "" {
			p += " role " + id.Role
		}
		if id.Session != "" {
			p += ", session " + id.Session
		}
		if p != "" {
			lines = append(lines, "principal: "+p)
		}
		var flags []string
		if id.KeyType != "" {
			flags = append(flags, id.KeyType+" key")
		}
		if id.Console {
			flags = append(flags, "console")
		}
		if id.MFA {
			flags = append(flags, "MFA")
		} else {
			flags = append(flags, "no MFA")
		}
		if id.CrossAccount {
			flags = append(flags, "cross-account")
		}
		lines = append(lines, strings.Join(flags, ", "))
	}
	if len(f.AccessKeyIDs) > 0 {
		lines = append(lines, "key "+strings.Join(f.AccessKeyIDs, ", "))
	}
	return strings.Join(lines, "\n")
}

func from(f *finding.Finding) string {
	var lines []string
	ips := f.SourceIPAddresses
	if len(ips) > 5 {
		ips = append(ips[:5:5], fmt.Sprintf("+%d more", len(f.SourceIPAddresses)-5))
	}
	ipLine := strings.Join(ips, ", ")
	if c := f.Context; c != nil {
		var notes []string
		if c.Network.SourceKind != "" {
			notes = append(notes, c.Network.SourceKind)
		}
		if n := c.Network; n.ASN != "" {
			as := "AS" + n.ASN
			if n.ASNOrg != "" {
				as += " " + n.ASNOrg
			}
			notes = append(notes, as)
		}
		if c.Network.Country != "" {
			notes = append(notes, c.Network.Country)
		}
		if c.Intel.ThreatList != "" {
			notes = append(notes, "on threat list "+c.Intel.ThreatList)
		}
		if c.Intel.Trusted {
			notes = append(notes, "trusted")
		}
		if len(notes) > 0 {
			ipLine += " (" + strings.Join(notes, ", ") + ")"
		}
	}
	lines = append(lines, orDash(ipLine))
	if c := f.Context; c != nil && (c.Client.Tooling != "" || c.Client.Family != "") {
		tool := c.Client.Family
		if c.Client.Tooling != "" {
			tool = "offensive tooling: " + c.Client.Tooling
		}
		lines = append(lines, tool)
	}
	if len(f.UserAgents) > 0 {
		ua := f.UserAgents[0]
		if r := []rune(ua); len(r) > 160 {
			ua = string(r[:160]) + "…"
		}
		lines = append(lines, ua)
	}
	return strings.Join(lines, "\n")
}

func when(f *finding.Finding) string {
	s := fmt.Sprintf("%d event(s)", f.Count)
	if !f.FirstSeen.IsZero() {
		if f.FirstSeen.Equal(f.LastSeen) {
			s += "\n" + stamp(f.FirstSeen)
		} else {
			s += "\nfirst " + stamp(f.FirstSeen) + "\nlast " + stamp(f.LastSeen)
		}
	}
	return s
}

func calls(f *finding.Finding) string {
	var out []string
	for i, n := range f.EventNames {
		if i == 8 {
			out = append(out, fmt.Sprintf("+%d more", len(f.EventNames)-i))
			break
		}
		out = append(out, n)
	}
	s := strings.Join(out, ", ")
	if len(f.EventSources) > 0 {
		s += "\n(" + strings.Join(f.EventSources, ", ") + ")"
	}
	return s
}

// resources lists what the finding names as touched: the resources in
// denial messages, what a request opened to the world or to other accounts,
// and the files of an integrity finding.
func resources(f *finding.Finding) string {
	var lines []string
	if c := f.Context; c != nil {
		r := c.Request
		if r.WorldOpen {
			lines = append(lines, "open to the internet: ports "+strings.Join(r.WorldOpenPorts, ", "))
		}
		if r.PolicyExposure != "" {
			l := "policy grants access to " + r.PolicyExposure
			if len(r.ExternalAccounts) > 0 {
				l += " (" + strings.Join(r.ExternalAccounts, ", ") + ")"
			}
			lines = append(lines, l)
		}
	}
	for i, file := range f.Files {
		if i == 5 {
			lines = append(lines, fmt.Sprintf("+%d more files", len(f.Files)-i))
			break
		}
		lines = append(lines, file)
	}
	return strings.Join(lines, "\n")
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// slackEscape escapes the three characters Slack gives meaning to in text.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// fit escapes s for Slack and cuts it, at a character and never inside an
// escape, so that the result has at most n characters.
func fit(s string, n int) string {
	e := slackEscape(s)
	if utf8.RuneCountInString(e) <= n {
		return e
	}
	var b strings.Builder
	count := 0
	for _, r := range s {
		piece := slackEscape(string(r))
		w := utf8.RuneCountInString(piece)
		if count+w+1 > n { // one more for the ellipsis
			break
		}
		b.WriteString(piece)
		count += w
	}
	return b.String() + "…"
}
