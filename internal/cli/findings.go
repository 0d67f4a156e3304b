package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/finding"
	"github.com/trailsentry/trailsentry/internal/store"
)

const findingsSynopsis = `Usage: trailsentry findings --state DSN [flags]

Lists every finding a state holds: those scans merged into it, and the
profile findings (first-seen baselines, credential origin) derived from its
baselines as they stand now. Whatever order and pieces the logs were scanned
in, the list is the same.`

func runFindings(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("findings", stderr, findingsSynopsis)
	dsn := fs.String("state", "", "the state: a SQLite file, \"default\" (the user's state directory) or a postgres:// URL")
	format := fs.String("format", "", "output: table, json, jsonl or ocsf (default table on a terminal, json otherwise)")
	failOn := fs.String("fail-on", "low", "exit 1 when a finding is at or above: info, low, medium, high, critical, or none")
	learningFlag := fs.String("learning", "7d", "learning period of the first-seen baselines (as scan's --learning)")
	config := fs.String("config", "", "configuration file (YAML) with suppressions")
	suppressed := fs.Bool("include-suppressed", false, "also show suppressed findings")
	shadow := fs.Bool("include-shadow", false, "also show the findings of rules in shadow mode")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return usageError(stderr, err)
	}
	if len(rest) > 0 {
		return usageError(stderr, fmt.Errorf("findings takes no PATH (got %q): it reads the state", rest[0]))
	}
	if *dsn == "" {
		fs.Usage()
		return usageError(stderr, errors.New("findings needs --state"))
	}
	threshold, err := finding.ParseThreshold(*failOn)
	if err != nil {
		return usageError(stderr, fmt.Errorf("--fail-on: %w", err))
	}
	learning, err := parseSpan(*learningFlag)
	if err != nil {
		return usageError(stderr, fmt.Errorf("--learning: %w", err))
	}
	write, err := findingWriter(*format, stdout)
	if err != nil {
		return usageError(stderr, err)
	}
	suppress, notes, err := loadConfig(*config, time.Now())
	if err != nil {
		return usageError(stderr, err)
	}
	con := newConsole(stderr, isTerminal(stderr))
	for _, n := range notes {
		con.warn(n)
	}
	if *dsn == "default" {
		*dsn = ""
	}
	if err := stateExists(*dsn); err != nil {
		return usageError(stderr, err)
	}
	st, err := store.Open(ctx, *dsn)
	if err != nil {
		return usageError(stderr, fmt.Errorf("--state: %w", err))
	}
	defer st.Close()

	all, err := stateFindings(ctx, st, learning, suppress)
	if err != nil {
		fmt.Fprintf(stderr, "trailsentry: --state %s: %v\n", st.Location(), err)
		return ExitUsage
	}
	shown, silenced, shadowed := splitSilenced(all, *suppressed, *shadow)
	sum := &finding.Summary{}
	sum.Finish(reported(all), 0)
	sum.FindingsSuppressed, sum.FindingsShadow = silenced, shadowed
	opts := finding.Options{Width: terminalWidth(stdout, finding.DefaultWidth), Color: isTerminal(stdout), Version: Version}
	if err := write(stdout, shown, sum, opts); err != nil {
		fmt.Fprintf(stderr, "trailsentry: write findings: %v\n", err)
		return ExitUsage
	}
	if finding.CountAtOrAbove(reported(all), threshold) > 0 {
		return ExitFindings
	}
	return ExitOK
}

// stateFindings is every finding of a state: the stored ones and the
// profile findings of its whole baselines, with actors' risk tiers.
func stateFindings(ctx context.Context, st detect.State, learning time.Duration, suppress *finding.Suppressions) ([]*finding.Finding, error) {
	var out []*finding.Finding
	err := st.View(ctx, func(r detect.Reader) error {
		after := ""
		for {
			recs, err := r.ListFindings(ctx, after, 1000)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				f, err := finding.FromRecord(rec)
				if err != nil {
					return err
				}
				out = append(out, f)
			}
			if len(recs) < 1000 {
				return nil
			}
			after = recs[len(recs)-1].ID
		}
	})
	if err != nil {
		return nil, err
	}
	prof := newProfiling(learning, st)
	pf, err := prof.findings(ctx, true, out, suppress)
	if err != nil {
		return nil, err
	}
	out = append(out, pf...)
	finding.Sort(out)
	return out, nil
}

// stateExists refuses a SQLite state that is not there: reading one must
// not create it (a typo would print "no findings" and exit 0).
func stateExists(dsn string) error {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return nil
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" {
		p, err := store.DefaultPath()
		if err != nil {
			return err
		}
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("--state %s: no state there (scan --state creates one)", path)
	}
	return nil
}
