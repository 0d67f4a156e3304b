package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/trailsentry/trailsentry/internal/policy"
)

const analyzeSynopsis = `Usage: trailsentry policy analyze [flags] FILE...

Finds dangerous grants in IAM policy documents (JSON, CloudTrail's JSON
string or URL-encoded) or in an aws iam get-account-authorization-details
export (every user and role, and every role's trust policy):
privilege-escalation paths, full admin, resource exposure, data exfiltration,
credentials exposure, infrastructure modification. docs/policy.md lists the
checks. Exit 1 when a risk is at or above --fail-on.`

// analyzedRisk is one risk as analyze writes it.
type analyzedRisk struct {
	File        string   `json:"file"`
	Check       string   `json:"check"`
	Category    string   `json:"category"`
	Severity    string   `json:"severity"`
	Score       float64  `json:"score"`
	Principal   string   `json:"principal,omitempty"`
	Policies    []string `json:"policies"`
	Actions     []string `json:"actions"`
	Conditional bool     `json:"conditional"`
	Reason      string   `json:"reason"`
}

func runPolicyAnalyze(args []string, stdout, stderr io.Writer) int {
	var format, failOn string
	fs := newFlagSet("policy analyze", stderr, analyzeSynopsis)
	fs.StringVar(&format, "format", "", "output: table or json (default table on a terminal, json otherwise)")
	fs.StringVar(&failOn, "fail-on", "low", "exit 1 when a risk is at or above: low, medium, high, critical, or none")
	files, err := parseFlags(fs, args)
	if err != nil {
		return usageError(stderr, err)
	}
	if len(files) == 0 {
		fs.Usage()
		return usageError(stderr, errors.New("policy analyze needs a FILE: a policy document or an authorization-details export"))
	}
	threshold, err := riskThreshold(failOn)
	if err != nil {
		return usageError(stderr, err)
	}
	if format, err = policyFormat(format, stdout); err != nil {
		return usageError(stderr, err)
	}
	out := []analyzedRisk{}
	for _, f := range files {
		risks, err := analyzeFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "trailsentry: %v\n", err)
			return ExitUsage
		}
		for _, r := range risks {
			out = append(out, analyzedRisk{File: f, Check: r.Check, Category: string(r.Category), Severity: string(r.Severity),
				Score: r.Severity.Score(), Principal: r.Principal, Policies: nonNilStrings(r.Policies), Actions: nonNilStrings(r.Actions),
				Conditional: r.Conditional, Reason: r.Reason})
		}
	}
	if format == "json" {
		err = writeJSON(stdout, out)
	} else {
		err = writeRiskTable(stdout, out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "trailsentry: write: %v\n", err)
		return ExitUsage
	}
	for _, r := range out {
		if threshold > 0 && r.Score >= threshold {
			return ExitFindings
		}
	}
	return ExitOK
}

// riskThreshold reads --fail-on as a score on the risks' scale; 0 for none.
func riskThreshold(s string) (float64, error) {
	switch strings.ToLower(s) {
	case "none":
		return 0, nil
	case "low", "info", "informational":
		return policy.Low.Score(), nil
	case "medium":
		return policy.Medium.Score(), nil
	case "high":
		return policy.High.Score(), nil
	case "critical":
		return policy.Critical.Score(), nil
	}
	return 0, fmt.Errorf("--fail-on %q: want low, medium, high, critical or none", s)
}

// analyzeFile analyses one file: an authorization-details export when it
// has the export's lists, else one policy document.
func analyzeFile(path string) ([]policy.Risk, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) == nil {
		_, users := top["UserDetailList"]
		_, roles := top["RoleDetailList"]
		_, pols := top["Policies"]
		if users || roles || pols {
			acct, err := policy.ParseAuthorizationDetails(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("analyze %s: %w", path, err)
			}
			return acct.Analyze(), nil
		}
	}
	p, err := policy.ParseDocument(b)
	if err != nil {
		return nil, fmt.Errorf("analyze %s: %w", path, err)
	}
	p.Name = path
	return policy.AnalyzeDocument(p), nil
}

func writeRiskTable(w io.Writer, risks []analyzedRisk) error {
	if len(risks) == 0 {
		_, err := io.WriteString(w, "No risks found.\n")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tCHECK\tCATEGORY\tPRINCIPAL / FILE\tVIA\tREASON")
	for _, r := range risks {
		who := r.Principal
		if who == "" {
			who = r.File
		}
		sev := r.Severity
		if r.Conditional {
			sev += " (conditional)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", sev, r.Check, r.Category, who, strings.Join(r.Policies, ", "), r.Reason)
	}
	return tw.Flush()
}
