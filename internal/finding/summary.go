package finding

import (
	"encoding/json"
	"math"
	"time"
)

// Summary describes a scan run. The CLI fills the counts as it goes and calls
// Finish at the end; the writers show it beside the findings. Its JSON form
// (snake_case names) is written by MarshalJSON and listed in docs/findings.md.
type Summary struct {
	FilesScanned int
	// FilesSkipped counts files that held no events, by kind: "digest" and
	// "insights" for CloudTrail digest and Insights files, and whatever other
	// kinds the CLI reports.
	FilesSkipped map[string]int

	EventsDecoded int64
	// EventsFiltered counts decoded events left out by --since, --until,
	// --account or --region.
	EventsFiltered int64
	BadRecords     int64

	Duration        time.Duration
	EventsPerSecond float64 // events decoded per second

	FindingsBySeverity SeverityCounts
	// FindingsSuppressed counts the findings suppressions cover (not in
	// FindingsBySeverity).
	FindingsSuppressed int
	// FindingsShadow counts the findings of rules in shadow mode.
	FindingsShadow int

	RulesLoaded    int
	RuleLoadErrors int
}

// Finish records the run's duration and its findings: it sets Duration,
// EventsPerSecond (rounded to a whole number) and FindingsBySeverity.
func (s *Summary) Finish(findings []*Finding, elapsed time.Duration) {
	s.Duration = elapsed
	s.EventsPerSecond = 0
	if elapsed > 0 {
		s.EventsPerSecond = math.Round(float64(s.EventsDecoded) / elapsed.Seconds())
	}
	s.FindingsBySeverity = CountBySeverity(findings)
}

// FilesSkippedTotal is the number of files skipped, whatever their kind.
func (s *Summary) FilesSkippedTotal() int {
	n := 0
	for _, c := range s.FilesSkipped {
		n += c
	}
	return n
}

// MarshalJSON writes the summary with snake_case names, the duration in
// seconds (millisecond precision) and files_skipped as an object even when
// empty.
func (s Summary) MarshalJSON() ([]byte, error) {
	skipped := s.FilesSkipped
	if skipped == nil {
		skipped = map[string]int{}
	}
	return json.Marshal(struct {
		FilesScanned       int            `json:"files_scanned"`
		FilesSkipped       map[string]int `json:"files_skipped"`
		EventsDecoded      int64          `json:"events_decoded"`
		EventsFiltered     int64          `json:"events_filtered"`
		BadRecords         int64          `json:"bad_records"`
		DurationSeconds    float64        `json:"duration_seconds"`
		EventsPerSecond    float64        `json:"events_per_second"`
		FindingsBySeverity SeverityCounts `json:"findings_by_severity"`
		FindingsSuppressed int            `json:"findings_suppressed"`
		FindingsShadow     int            `json:"findings_shadow"`
		RulesLoaded        int            `json:"rules_loaded"`
		RuleLoadErrors     int            `json:"rule_load_errors"`
	}{
		s.FilesScanned, skipped, s.EventsDecoded, s.EventsFiltered, s.BadRecords,
		math.Round(s.Duration.Seconds()*1000) / 1000, s.EventsPerSecond,
		s.FindingsBySeverity, s.FindingsSuppressed, s.FindingsShadow, s.RulesLoaded, s.RuleLoadErrors,
	})
}
