package finding

import (
	"fmt"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

// Suppression silences matches a person has judged benign: the matched
// events still make findings (kept, counted, and shown with
// --include-suppressed), but those findings are marked suppressed and never
// notified or counted toward the exit code. Every field set must match; an
// unset field matches anything. Detection is not touched: correlation and
// baselines see the events as before.
type Suppression struct {
	Rule      string    `yaml:"rule"`       // rule id
	Actor     string    `yaml:"actor"`      // the finding's actor; * and ? wildcards
	Account   string    `yaml:"account"`    // account id
	Source    string    `yaml:"source"`     // sourceIPAddress: an address or CIDR
	UserAgent string    `yaml:"user_agent"` // userAgent; * and ? wildcards
	Reason    string    `yaml:"reason"`     // why: required, shown with the finding
	Expires   time.Time `yaml:"expires"`    // after it (wall clock) the suppression no longer applies; zero: never

	prefix netip.Prefix
}

// Suppressions is a compiled list.
type Suppressions struct {
	list []Suppression
}

// NewSuppressions checks and compiles a list; now decides which have
// expired (an expired suppression is dropped, and said so in the returned
// notes, so a forgotten one does not hide findings for ever).
func NewSuppressions(list []Suppression, now time.Time) (*Suppressions, []string, error) {
	s := &Suppressions{}
	var notes []string
	for i, sp := range list {
		name := fmt.Sprintf("suppression %d", i+1)
		if strings.TrimSpace(sp.Reason) == "" {
			return nil, nil, fmt.Errorf("%s: a reason is required", name)
		}
		if sp.Rule == "" && sp.Actor == "" && sp.Account == "" && sp.Source == "" && sp.UserAgent == "" {
			return nil, nil, fmt.Errorf("%s (%s): it names nothing to match, so it would silence everything", name, sp.Reason)
		}
		for _, glob := range []string{sp.Actor, sp.UserAgent} {
			if _, err := path.Match(glob, ""); err != nil {
				return nil, nil, fmt.Errorf("%s (%s): pattern %q: %v", name, sp.Reason, glob, err)
			}
		}
		if sp.Source != "" {
			p, err := netip.ParsePrefix(sp.Source)
			if err != nil {
				a, aerr := netip.ParseAddr(sp.Source)
				if aerr != nil {
					return nil, nil, fmt.Errorf("%s (%s): source %q is not an IP address or CIDR", name, sp.Reason, sp.Source)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			sp.prefix = p.Masked()
		}
		if !sp.Expires.IsZero() && !now.Before(sp.Expires) {
			notes = append(notes, fmt.Sprintf("%s (%s) expired on %s and no longer applies", name, sp.Reason, sp.Expires.Format(time.DateOnly)))
			continue
		}
		s.list = append(s.list, sp)
	}
	return s, notes, nil
}

// Len is the number of suppressions in force.
func (s *Suppressions) Len() int {
	if s == nil {
		return 0
	}
	return len(s.list)
}

// match returns the reason of the first suppression that covers this match
// of rule r on the view's event, "" when none does.
func (s *Suppressions) match(r *RuleInfo, v *enrich.View, actor string) string {
	if s == nil {
		return ""
	}
	ev := v.Event()
	for i := range s.list {
		sp := &s.list[i]
		if sp.Rule != "" && sp.Rule != r.ID {
			continue
		}
		if sp.Account != "" && sp.Account != ev.Account() {
			continue
		}
		if sp.Actor != "" && !globMatch(sp.Actor, actor) {
			continue
		}
		if sp.UserAgent != "" && !globMatch(sp.UserAgent, ev.Str(event.UserAgent)) {
			continue
		}
		if sp.prefix.IsValid() {
			a, err := netip.ParseAddr(ev.Str(event.SourceIPAddress))
			if err != nil || !sp.prefix.Contains(a.Unmap()) {
				continue
			}
		}
		return sp.Reason
	}
	return ""
}

// globMatch matches * and ? (anything, including slashes, which actors and
// user agents are full of).
func globMatch(pattern, s string) bool {
	ok, _ := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return ok
}
