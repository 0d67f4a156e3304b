package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/finding"
	"github.com/trailsentry/trailsentry/internal/integrity"
)

const rulesSynopsis = `Usage:
  trailsentry rules list [--rules PATH]... [--no-builtin] [--format table|json]
  trailsentry rules show [--rules PATH]... ID
  trailsentry rules test [PATH...]
  trailsentry rules stats [scan flags] PATH...

list prints every loaded rule: id, level, ATT&CK techniques, title, source.
show prints one rule (by id, or a unique prefix of it) as written.
stats scans PATH... as scan does and reports per rule the findings, events,
accounts and projected alerts per day, rules in shadow mode (shadow: true)
included: whether a rule is ready to go live, or too noisy.
test runs the examples rules carry under their "tests" key — the built-in
pack's when no PATH is given, else the rules in each file or folder — and
exits 1 when one fails, 2 when a rule does not load.`

func runRules(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, rulesSynopsis)
		return ExitUsage
	}
	sub, rest := args[0], args[1:]
	if sub == "stats" {
		return runRulesStats(ctx, rest, stdin, stdout, stderr)
	}
	fs := newFlagSet("rules "+sub, stderr, rulesSynopsis)
	var paths listFlag
	var noBuiltin bool
	format := "table"
	if sub != "test" {
		fs.Var(&paths, "rules", "Sigma rule file or folder to add (repeatable)")
		fs.BoolVar(&noBuiltin, "no-builtin", false, "leave out the built-in rule pack")
	}
	if sub == "list" {
		fs.StringVar(&format, "format", "table", "table or json")
	}
	pos, err := parseFlags(fs, rest)
	if err != nil {
		return usageError(stderr, err)
	}
	switch sub {
	case "list":
		if len(pos) > 0 {
			return usageError(stderr, fmt.Errorf("rules list takes no arguments"))
		}
		rs, code := loadForRules(paths, !noBuiltin, stderr)
		if code != ExitOK {
			return code
		}
		if !noBuiltin {
			rs = append(rs, builtinDetections()...)
		}
		return listRules(rs, format, stdout, stderr)
	case "show":
		if len(pos) != 1 {
			return usageError(stderr, fmt.Errorf("rules show takes one rule id"))
		}
		rs, code := loadForRules(paths, !noBuiltin, stderr)
		if code != ExitOK {
			return code
		}
		if !noBuiltin {
			rs = append(rs, builtinDetections()...)
		}
		return showRule(rs, pos[0], stdout, stderr)
	case "test":
		builtin := len(pos) == 0
		rs, code := loadForRules(pos, builtin, stderr)
		if code != ExitOK {
			return code
		}
		return testRules(ctx, rs, stdout, stderr)
	}
	return usageError(stderr, fmt.Errorf("unknown rules command %q: want list, show, test or stats", sub))
}

// loadForRules loads rules for the rules commands: here a rule that does not
// load is an error (exit 2), since checking rules is the point.
func loadForRules(paths []string, builtin bool, stderr io.Writer) ([]*detect.Rule, int) {
	rs, _, errs, err := loadRules(paths, builtin)
	if err != nil {
		return nil, usageError(stderr, err)
	}
	for _, e := range errs {
		fmt.Fprintf(stderr, "rule not loaded: %v\n", e)
	}
	if len(errs) > 0 {
		return rs, ExitUsage
	}
	return rs, ExitOK
}

func listRules(rs []*detect.Rule, format string, stdout, stderr io.Writer) int {
	detect.SortRules(rs)
	switch format {
	case "json":
		type row struct {
			ID       string   `json:"id"`
			Title    string   `json:"title"`
			Level    string   `json:"level"`
			Severity float64  `json:"severity_score"`
			Attack   []string `json:"attack"`
			Source   string   `json:"source"`
			Examples int      `json:"examples"`
		}
		out := make([]row, 0, len(rs))
		for _, r := range rs {
			out = append(out, row{r.ID, r.Title, r.Level, float64(finding.SeverityFor(r.Level).Score), nonNilStrings(r.Attack), r.Source, len(r.Tests)})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return ExitUsage
		}
	case "table":
		for _, r := range rs {
			sev := finding.SeverityFor(r.Level)
			fmt.Fprintf(stdout, "%-36s  %-8s  %-22s  %s\n", r.ID, strings.ToUpper(string(sev.Label)), clip(strings.Join(r.Attack, ","), 22), r.Title)
			fmt.Fprintf(stdout, "%-36s  %-8s  %-22s  %s\n", "", "", "", r.Source)
		}
		fmt.Fprintf(stdout, "%d rules\n", len(rs))
	default:
		return usageError(stderr, fmt.Errorf("--format %q: want table or json", format))
	}
	return ExitOK
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func nonNilStrings(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func showRule(rs []*detect.Rule, id string, stdout, stderr io.Writer) int {
	var found []*detect.Rule
	for _, r := range rs {
		if r.ID == id {
			found = []*detect.Rule{r}
			break
		}
		if strings.HasPrefix(r.ID, id) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		fmt.Fprintf(stderr, "trailsentry: no rule with id %q\n", id)
		return ExitUsage
	case 1:
	default:
		fmt.Fprintf(stderr, "trailsentry: %q is the start of %d rule ids; give more of it\n", id, len(found))
		return ExitUsage
	}
	r := found[0]
	sev := finding.SeverityFor(r.Level)
	fmt.Fprintf(stdout, "# %s\n# source: %s\n# severity: %s (%.1f)\n\n%s", r.Title, r.Source, sev.Label, float64(sev.Score), r.YAML)
	return ExitOK
}

// builtinDetections describes the detections that are code, not Sigma —
// the profile detections and verify's integrity checks — as rules, for
// rules list and show: their ids appear in findings like any rule's.
func builtinDetections() []*detect.Rule {
	var out []*detect.Rule
	describe := func(id, title, level, desc, source, doc string, attack []string) {
		out = append(out, &detect.Rule{ID: id, Title: title, Level: level, Description: desc, Attack: attack, Source: source,
			YAML: fmt.Sprintf("# Built into trailsentry (code, not a Sigma rule): see %s\nid: %s\ntitle: %s\nlevel: %s\ndescription: |\n  %s\n",
				doc, id, title, level, desc)})
	}
	for _, d := range detect.ProfileDetectors {
		describe(d.ID, d.Title, d.Level, d.Description, "builtin:profiles", "docs/profiles.md", d.Attack)
	}
	for _, r := range integrity.Rules() {
		describe(r.ID, r.Title, r.Level, r.Description, integrity.RuleSource, "docs/verify.md", r.Attack)
	}
	return out
}

func testRules(ctx context.Context, rs []*detect.Rule, stdout, stderr io.Writer) int {
	dir, err := os.MkdirTemp("", "trailsentry-rules-test")
	if err != nil {
		return usageError(stderr, err)
	}
	defer os.RemoveAll(dir)
	en, err := detect.ExampleEnricher(ctx, dir)
	if err != nil {
		return usageError(stderr, err)
	}
	results := detect.RunTests(rs, en)
	failed, untested := 0, 0
	tested := map[*detect.Rule]bool{}
	for _, r := range results {
		tested[r.Rule] = true
		if !r.Passed() {
			failed++
			fmt.Fprintln(stdout, r.String())
		}
	}
	for _, r := range rs {
		if !tested[r] {
			untested++
		}
	}
	fmt.Fprintf(stdout, "%d rules, %d examples: %d passed, %d failed; %d rules carry no examples\n",
		len(rs), len(results), len(results)-failed, failed, untested)
	if failed > 0 {
		return ExitFindings
	}
	if len(results) == 0 {
		fmt.Fprintln(stderr, "trailsentry: no examples to run (rules carry them under a tests key)")
		return ExitUsage
	}
	return ExitOK
}

// runRulesStats scans like `scan` (same flags and paths) and reports, per
// rule, what it would send people: findings, events, accounts, and the
// projected alerts per day over the trail's time span — for deciding whether
// a rule in shadow mode is ready, or a noisy one needs tuning.
func runRulesStats(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// --format is stats' own (table or json); the rest goes to the scan.
	format := "table"
	var scanArgs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--format" || a == "-format":
			if i+1 < len(args) {
				format = args[i+1]
				i++
			}
			continue
		case strings.HasPrefix(a, "--format=") || strings.HasPrefix(a, "-format="):
			format = a[strings.IndexByte(a, '=')+1:]
			continue
		}
		scanArgs = append(scanArgs, a)
	}
	if format != "table" && format != "json" {
		return usageError(stderr, fmt.Errorf("rules stats --format %q: want table or json", format))
	}
	var out bytes.Buffer
	forced := []string{"--format", "json", "--fail-on", "none", "--include-shadow", "--include-suppressed", "--progress", "never"}
	code := runScan(ctx, append(scanArgs, forced...), stdin, &out, stderr)
	if code == ExitUsage {
		return code
	}
	var doc struct {
		Findings []*finding.Finding `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		fmt.Fprintf(stderr, "trailsentry: rules stats: %v\n", err)
		return ExitUsage
	}
	type stat struct {
		id, title, level     string
		shadow               bool
		findings, suppressed int
		events               int64
		accounts             map[string]bool
		first, last          time.Time
	}
	by := map[string]*stat{}
	var order []string
	var first, last time.Time
	for _, f := range doc.Findings {
		s := by[f.Rule.ID]
		if s == nil {
			s = &stat{id: f.Rule.ID, title: f.Rule.Title, level: string(f.Severity.Label), shadow: f.Shadow, accounts: map[string]bool{}}
			by[f.Rule.ID] = s
			order = append(order, f.Rule.ID)
		}
		if f.Suppressed {
			s.suppressed++
		} else {
			s.findings++
		}
		s.events += f.Count
		s.accounts[f.Account] = true
		if !f.FirstSeen.IsZero() && (first.IsZero() || f.FirstSeen.Before(first)) {
			first = f.FirstSeen
		}
		if f.LastSeen.After(last) {
			last = f.LastSeen
		}
	}
	days := max(last.Sub(first).Hours()/24, 1)
	slices.SortFunc(order, func(a, b string) int { return by[b].findings - by[a].findings })
	if format == "json" {
		type row struct {
			ID           string  `json:"id"`
			Title        string  `json:"title"`
			Level        string  `json:"level"`
			Shadow       bool    `json:"shadow"`
			Findings     int     `json:"findings"`
			Suppressed   int     `json:"suppressed"`
			Events       int64   `json:"events"`
			Accounts     int     `json:"accounts"`
			AlertsPerDay float64 `json:"alerts_per_day"`
		}
		doc := struct {
			Days  float64 `json:"days"`
			Rules []row   `json:"rules"`
		}{Days: days, Rules: []row{}}
		for _, id := range order {
			s := by[id]
			doc.Rules = append(doc.Rules, row{s.id, s.title, s.level, s.shadow, s.findings, s.suppressed, s.events, len(s.accounts), float64(s.findings) / days})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return ExitUsage
		}
		return ExitOK
	}
	fmt.Fprintf(stdout, "%-8s %-6s %8s %10s %8s %9s  %s\n", "LEVEL", "MODE", "FINDINGS", "EVENTS", "ACCOUNTS", "PER DAY", "RULE")
	for _, id := range order {
		s := by[id]
		mode := "live"
		if s.shadow {
			mode = "shadow"
		}
		fmt.Fprintf(stdout, "%-8s %-6s %8d %10d %8d %9.1f  %s (%s)\n", strings.ToUpper(s.level), mode, s.findings, s.events, len(s.accounts), float64(s.findings)/days, s.title, s.id)
	}
	fmt.Fprintf(stdout, "%d rules fired over %.1f days of events (%s to %s); suppressed findings are not counted as alerts\n",
		len(order), days, first.Format(time.DateOnly), last.Format(time.DateOnly))
	return ExitOK
}
