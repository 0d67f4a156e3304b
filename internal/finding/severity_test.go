package finding

import (
	"encoding/json"
	"math"
	"testing"
)

func TestSeverityFor(t *testing.T) {
	for _, tc := range []struct {
		level string
		score Score
		label Label
	}{
		{"informational", 0.5, Info},
		{"low", 2.0, Low},
		{"medium", 5.0, Medium},
		{"high", 8.0, High},
		{"critical", 9.5, Critical},
		{" High ", 8.0, High},
		{"CRITICAL", 9.5, Critical},
		{"", 5.0, Medium},
		{"severe", 5.0, Medium},
	} {
		got := SeverityFor(tc.level)
		if got.Score != tc.score || got.Label != tc.label {
			t.Errorf("SeverityFor(%q) = %v %v, want %v %v", tc.level, got.Score, got.Label, tc.score, tc.label)
		}
	}
}

func TestLabelForBands(t *testing.T) {
	// GuardDuty's bands: Low 1.0–3.9, Medium 4.0–6.9, High 7.0–8.9, Critical 9.0–10.0.
	for _, tc := range []struct {
		score Score
		label Label
	}{
		{0, Info}, {0.5, Info}, {0.99, Info},
		{1.0, Low}, {3.9, Low},
		{4.0, Medium}, {6.9, Medium},
		{7.0, High}, {8.9, High},
		{9.0, Critical}, {10.0, Critical},
	} {
		if got := LabelFor(tc.score); got != tc.label {
			t.Errorf("LabelFor(%v) = %v, want %v", tc.score, got, tc.label)
		}
	}
}

func TestParseThreshold(t *testing.T) {
	want := map[string]float64{
		"info": 0, "low": 1.0, "medium": 4.0, "high": 7.0, "critical": 9.0,
		"HIGH": 7.0, " none ": math.Inf(1),
	}
	for s, w := range want {
		got, err := ParseThreshold(s)
		if err != nil || got != w {
			t.Errorf("ParseThreshold(%q) = %v, %v; want %v", s, got, err, w)
		}
	}
	for _, bad := range []string{"", "informational", "sev3", "7"} {
		if _, err := ParseThreshold(bad); err == nil {
			t.Errorf("ParseThreshold(%q) accepted", bad)
		}
	}
}

// TestFailOn checks --fail-on end to end: a finding of each level, and how
// many of them each threshold fails on.
func TestFailOn(t *testing.T) {
	var findings []*Finding
	for _, level := range []string{"informational", "low", "medium", "high", "critical"} {
		findings = append(findings, &Finding{Severity: SeverityFor(level)})
	}
	for flag, n := range map[string]int{"info": 5, "low": 4, "medium": 3, "high": 2, "critical": 1, "none": 0} {
		th, err := ParseThreshold(flag)
		if err != nil {
			t.Fatal(err)
		}
		if got := CountAtOrAbove(findings, th); got != n {
			t.Errorf("--fail-on %s: %d findings at or above, want %d", flag, got, n)
		}
	}
}

func TestScoreJSON(t *testing.T) {
	for s, want := range map[Score]string{8: "8.0", 0.5: "0.5", 9.5: "9.5", 10: "10.0", 7.25: "7.25"} {
		b, err := json.Marshal(s)
		if err != nil || string(b) != want {
			t.Errorf("json.Marshal(Score(%v)) = %s, %v; want %s", float64(s), b, err, want)
		}
	}
}

func TestCountBySeverity(t *testing.T) {
	findings := []*Finding{
		{Severity: SeverityFor("high")}, {Severity: SeverityFor("high")},
		{Severity: SeverityFor("informational")}, {Severity: SeverityFor("critical")},
	}
	got := CountBySeverity(findings)
	want := SeverityCounts{Critical: 1, High: 2, Info: 1}
	if got != want || got.Total() != 4 || got.Of(High) != 2 {
		t.Errorf("CountBySeverity = %+v, want %+v", got, want)
	}
}
