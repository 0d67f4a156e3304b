package cli

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/event"
)

// eventFilter keeps the events the user asked for: --since, --until (by
// event time), --account and --region.
type eventFilter struct {
	since, until time.Time // zero when unset; until is exclusive
	accounts     map[string]bool
	regions      map[string]bool
}

func newEventFilter(since, until string, accounts, regions []string, now time.Time) (*eventFilter, error) {
	f := &eventFilter{}
	var err error
	if f.since, err = parseWhen(since, now); err != nil {
		return nil, fmt.Errorf("--since: %w", err)
	}
	if f.until, err = parseWhen(until, now); err != nil {
		return nil, fmt.Errorf("--until: %w", err)
	}
	if !f.since.IsZero() && !f.until.IsZero() && !f.since.Before(f.until) {
		return nil, fmt.Errorf("--since %s is not before --until %s", f.since.Format(time.RFC3339), f.until.Format(time.RFC3339))
	}
	if len(accounts) > 0 {
		f.accounts = map[string]bool{}
		for _, a := range accounts {
			if len(a) != 12 || strings.Trim(a, "0123456789") != "" {
				return nil, fmt.Errorf("--account %q is not a 12-digit AWS account id", a)
			}
			f.accounts[a] = true
		}
	}
	if len(regions) > 0 {
		f.regions = map[string]bool{}
		for _, r := range regions {
			if !regionName.MatchString(r) {
				return nil, fmt.Errorf("--region %q is not an AWS region name such as us-east-1 or eu-west-2", r)
			}
			f.regions[r] = true
		}
	}
	return f, nil
}

// active reports whether the filter can drop anything.
func (f *eventFilter) active() bool {
	return !f.since.IsZero() || !f.until.IsZero() || f.accounts != nil || f.regions != nil
}

func (f *eventFilter) keep(ev *event.Event) bool {
	if !f.since.IsZero() || !f.until.IsZero() {
		if ev.Time.IsZero() {
			return false
		}
		if !f.since.IsZero() && ev.Time.Before(f.since) {
			return false
		}
		if !f.until.IsZero() && !ev.Time.Before(f.until) {
			return false
		}
	}
	if f.accounts != nil && !f.accounts[ev.Account()] {
		return false
	}
	if f.regions != nil && !f.regions[ev.Str(event.AWSRegion)] {
		return false
	}
	return true
}

// regionName is the shape of AWS region names: us-east-1, eu-central-2,
// us-gov-west-1, cn-north-1, ap-southeast-4.
var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)

// parseWhen reads a point in time: RFC 3339 ("2024-05-01T10:00:00Z"), a date
// ("2024-05-01", midnight UTC), a date and minute ("2024-05-01T10:00"), or an
// age before now ("36h", "90m", "7d", "2w").
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if d, err := parseSpan(s); err == nil {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2024-05-01, 2024-05-01T10:00:00Z) or an age (36h, 7d)", s)
}

// parseSpan reads a length of time: a Go duration ("36h", "90m") or days and
// weeks ("7d", "2w").
func parseSpan(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	if u, ok := unit[s[len(s)-1]]; ok {
		if n, err := strconv.Atoi(s[:len(s)-1]); err == nil && n >= 0 {
			return time.Duration(n) * u, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not a duration (36h, 7d, 2w)", s)
}
