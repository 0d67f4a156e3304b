package finding

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Label names a severity band of GuardDuty's scale: Low 1.0–3.9, Medium
// 4.0–6.9, High 7.0–8.9, Critical 9.0–10.0. Info is below 1.0, for
// informational rules.
type Label string

// The severity labels, lowest first.
const (
	Info     Label = "Info"
	Low      Label = "Low"
	Medium   Label = "Medium"
	High     Label = "High"
	Critical Label = "Critical"
)

// Labels lists the labels from the most severe down: the order findings are
// grouped in.
func Labels() []Label { return []Label{Critical, High, Medium, Low, Info} }

// Score is a severity on GuardDuty's 1.0–10.0 scale (below 1.0 for Info). It is
// written in JSON with at least one decimal, as 8.0 rather than 8.
type Score float64

// MarshalJSON writes the score as a number with at least one decimal.
func (s Score) MarshalJSON() ([]byte, error) {
	b := strconv.AppendFloat(nil, float64(s), 'f', -1, 64)
	if !strings.ContainsAny(string(b), ".e") {
		b = append(b, ".0"...)
	}
	return b, nil
}

// Severity is a finding's score and the label of the band it falls in.
type Severity struct {
	Score Score `json:"score"`
	Label Label `json:"label"`
}

// SeverityFor maps a Sigma level to a severity:
//
//	informational  0.5  Info
//	low            2.0  Low
//	medium         5.0  Medium
//	high           8.0  High
//	critical       9.5  Critical
//
// Case and surrounding space are ignored. An empty or unknown level is
// treated as medium: a rule with a level we cannot read is neither hidden nor
// allowed to page anyone (the rule loader reports such levels).
func SeverityFor(level string) Severity {
	var s Score
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "informational":
		s = 0.5
	case "low":
		s = 2.0
	case "high":
		s = 8.0
	case "critical":
		s = 9.5
	default: // "medium", and anything unknown
		s = 5.0
	}
	return Severity{Score: s, Label: LabelFor(s)}
}

// LabelFor returns the band a score falls in.
func LabelFor(s Score) Label {
	switch {
	case s < 1.0:
		return Info
	case s < 4.0:
		return Low
	case s < 7.0:
		return Medium
	case s < 9.0:
		return High
	default:
		return Critical
	}
}

// ParseThreshold reads a --fail-on value: info, low, medium, high, critical or
// none (any case). It returns the lowest score that fails the run: 0 for info
// (every finding), the bottom of the band for the others, and +Inf for none
// (nothing fails). Compare with CountAtOrAbove.
func ParseThreshold(s string) (float64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "info":
		return 0, nil
	case "low":
		return 1.0, nil
	case "medium":
		return 4.0, nil
	case "high":
		return 7.0, nil
	case "critical":
		return 9.0, nil
	case "none":
		return math.Inf(1), nil
	}
	return 0, fmt.Errorf("unknown severity %q: want info, low, medium, high, critical or none", s)
}

// CountAtOrAbove returns how many findings score at or above threshold.
func CountAtOrAbove(findings []*Finding, threshold float64) int {
	n := 0
	for _, f := range findings {
		if float64(f.Severity.Score) >= threshold {
			n++
		}
	}
	return n
}

// SeverityCounts counts findings by label.
type SeverityCounts struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
	Info     int `json:"info"`
}

// CountBySeverity counts findings by their label.
func CountBySeverity(findings []*Finding) SeverityCounts {
	var c SeverityCounts
	for _, f := range findings {
		*c.of(f.Severity.Label)++
	}
	return c
}

// Of returns the count for one label.
func (c SeverityCounts) Of(l Label) int { return *c.of(l) }

func (c *SeverityCounts) of(l Label) *int {
	switch l {
	case Critical:
		return &c.Critical
	case High:
		return &c.High
	case Medium:
		return &c.Medium
	case Low:
		return &c.Low
	}
	return &c.Info
}

// Total is the number of findings counted.
func (c SeverityCounts) Total() int { return c.Critical + c.High + c.Medium + c.Low + c.Info }

// AttemptFactor scales the score of a finding whose every call failed: the
// attempt still tells of intent, but nothing changed. High 8.0 becomes Medium
// 6.0; Critical 9.5 becomes High 7.1; Low stays Low.
const AttemptFactor = 0.75

func (s Severity) attempted() Severity {
	score := Score(math.Round(float64(s.Score)*AttemptFactor*10) / 10)
	return Severity{Score: score, Label: LabelFor(score)}
}
