package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// CloudTrail-shaped records for the scan tests. Each carries a distinct
// eventID so findings can be traced back to them.
func record(id, ts, source, name, identity, extra string) string {
	if identity == "" {
		identity = `{"type":"AssumedRole","principalId":"AROAXU5EXAMPLEROLEID:deploy","arn":"arn:aws:sts::111122223333:assumed-role/ci-deploy/deploy","accountId":"111122223333","accessKeyId":"ASIAXU5EXAMPLEKEY123","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAXU5EXAMPLEROLEID","arn":"arn:aws:iam::111122223333:role/ci-deploy","accountId":"111122223333","userName":"ci-deploy"},"attributes":{"creationDate":"2024-03-11T09:58:12Z","mfaAuthenticated":"false"}}}`
	}
	return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s","eventSource":"%s","eventName":"%s","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.45","userAgent":"aws-cli/2.15.10 Python/3.11.6 Linux/6.5.0","requestParameters":{"name":"main"},"responseElements":null,%s"requestID":"req-%s","eventID":"%s","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`,
		identity, ts, source, name, extra, id, id)
}

const rootIdentity = `{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":"ASIAXU5EXAMPLEROOT1"}`

var (
	stopLogging = record("e-stop", "2024-03-11T10:00:00Z", "cloudtrail.amazonaws.com", "StopLogging", "", "")
	rootList    = record("e-root", "2024-03-11T11:00:00Z", "s3.amazonaws.com", "ListBuckets", rootIdentity, "")
	denied      = record("e-denied", "2024-03-11T12:00:00Z", "iam.amazonaws.com", "ListUsers", "", `"errorCode":"AccessDenied","errorMessage":"User: arn:aws:sts::111122223333:assumed-role/ci-deploy/deploy is not authorized to perform: iam:ListUsers",`)
	benign      = record("e-benign", "2024-03-11T13:00:00Z", "ec2.amazonaws.com", "DescribeInstances", "", "")
)

func gzipBytes(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// trailDir lays out a small trail the way CloudTrail delivers it to S3.
func trailDir(t *testing.T) string {
	dir := t.TempDir()
	day := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail", "us-east-1", "2024", "03", "11")
	writeFile(t, filepath.Join(day, "111122223333_CloudTrail_us-east-1_20240311T1000Z_a.json.gz"),
		gzipBytes(t, `{"Records":[`+stopLogging+`,`+benign+`]}`))
	writeFile(t, filepath.Join(day, "111122223333_CloudTrail_us-east-1_20240311T1100Z_b.json.gz"),
		gzipBytes(t, `{"Records":[`+rootList+`,`+denied+`]}`))
	digest := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail-Digest", "us-east-1", "2024", "03", "11", "111122223333_CloudTrail-Digest_us-east-1_x.json.gz")
	writeFile(t, digest, gzipBytes(t, `{"awsAccountId":"111122223333","digestStartTime":"2024-03-11T10:00:00Z","digestEndTime":"2024-03-11T11:00:00Z","logFiles":[]}`))
	return dir
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

type jsonReport struct {
	Findings []struct {
		ID   string `json:"id"`
		Rule struct {
			ID, Title, Source string
		} `json:"rule"`
		Severity struct {
			Score float64 `json:"score"`
			Label string  `json:"label"`
		} `json:"severity"`
		Attack    []string `json:"attack"`
		Actor     string   `json:"actor"`
		Account   string   `json:"account"`
		Region    string   `json:"region"`
		FirstSeen string   `json:"first_seen"`
		LastSeen  string   `json:"last_seen"`
		Count     int      `json:"count"`
		EventIDs  []string `json:"event_ids"`
	} `json:"findings"`
	Summary struct {
		FilesScanned   int            `json:"files_scanned"`
		FilesSkipped   map[string]int `json:"files_skipped"`
		EventsDecoded  int            `json:"events_decoded"`
		EventsFiltered int            `json:"events_filtered"`
		BadRecords     int            `json:"bad_records"`
		RulesLoaded    int            `json:"rules_loaded"`
		RuleLoadErrors int            `json:"rule_load_errors"`
	} `json:"summary"`
}

func parseReport(t *testing.T, s string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, s)
	}
	return r
}

// eventIDsByRule maps rule titles to the sorted eventIDs of their findings.
func eventIDsByRule(r jsonReport) map[string][]string {
	m := map[string][]string{}
	for _, f := range r.Findings {
		m[f.Rule.Title] = append(m[f.Rule.Title], f.EventIDs...)
	}
	for k := range m {
		slices.Sort(m[k])
	}
	return m
}

func TestScanTrailFindsWhatHappened(t *testing.T) {
	res := run(t, "", "scan", "--format", "json", trailDir(t))
	if res.code != ExitFindings {
		t.Fatalf("exit %d, want %d; stderr:\n%s", res.code, ExitFindings, res.stderr)
	}
	rep := parseReport(t, res.stdout)
	got := eventIDsByRule(rep)
	want := map[string][]string{
		"CloudTrail logging stopped, deleted or narrowed":               {"e-stop"},
		"Root user activity":                                            {"e-root"},
		"Request denied by IAM (AccessDenied or UnauthorizedOperation)": {"e-denied"},
		// The denied call was also an IAM enumeration attempt (low).
		"IAM users, roles or permissions enumerated from the API": {"e-denied"},
	}
	for title, ids := range want {
		if !slices.Equal(got[title], ids) {
			t.Errorf("%s: event ids %v, want %v", title, got[title], ids)
		}
	}
	if len(got) != len(want) {
		t.Errorf("findings for %d rules, want %d: %v", len(got), len(want), got)
	}
	s := rep.Summary
	if s.FilesScanned != 2 || s.FilesSkipped["digest"] != 1 || s.EventsDecoded != 4 || s.BadRecords != 0 {
		t.Errorf("summary %+v", s)
	}
	for _, f := range rep.Findings {
		if f.Rule.Title == "CloudTrail logging stopped, deleted or narrowed" {
			if f.Severity.Label != "High" || f.Severity.Score < 7 || f.Severity.Score >= 9 ||
				f.Actor == "" || f.Account != "111122223333" || f.Region != "us-east-1" ||
				f.FirstSeen != "2024-03-11T10:00:00Z" || f.Count != 1 || !slices.Contains(f.Attack, "T1562.008") ||
				!strings.HasPrefix(f.Rule.Source, "builtin:") || f.Rule.ID != "7f1e43d8-7855-4a1f-a112-f09ec5cdbaf7" {
				t.Errorf("StopLogging finding: %+v", f)
			}
		}
	}
	// Not a terminal: the summary is one machine-readable line.
	if !strings.Contains(res.stderr, "msg=summary files=2 files_skipped=1 events=4") {
		t.Errorf("stderr lacks the summary line:\n%s", res.stderr)
	}
}

func TestScanBadRecordIsReportedAndTheRestKept(t *testing.T) {
	dir := t.TempDir()
	bad := `{"eventVersion":"1.09","eventName":"Broken","readOnly":tru}`
	path := filepath.Join(dir, "trail.json")
	writeFile(t, path, []byte(`{"Records":[`+stopLogging+`,`+bad+`,`+rootList+`]}`))
	cut := gzipBytes(t, `{"Records":[`+denied+`,`+strings.Repeat(benign+",", 300)+benign+`]}`)
	cutPath := filepath.Join(dir, "cut.json.gz")
	writeFile(t, cutPath, cut[:len(cut)*2/3])

	res := run(t, "", "scan", "--format", "json", path, cutPath)
	rep := parseReport(t, res.stdout)
	got := eventIDsByRule(rep)
	for _, title := range []string{"CloudTrail logging stopped, deleted or narrowed", "Root user activity", "Request denied by IAM (AccessDenied or UnauthorizedOperation)"} {
		if len(got[title]) != 1 {
			t.Errorf("%s: %v (events around the damage must survive)", title, got[title])
		}
	}
	if rep.Summary.BadRecords != 2 {
		t.Errorf("bad records %d, want 2 (the broken record and the truncated tail)", rep.Summary.BadRecords)
	}
	if rep.Summary.EventsDecoded < 3 {
		t.Errorf("events %d", rep.Summary.EventsDecoded)
	}
	for _, want := range []string{"file=" + path + " record=2 offset=", "invalid character '}' in literal true", "file=" + cutPath} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if res.code != ExitFindings {
		t.Errorf("exit %d", res.code)
	}
}

func TestScanStdinJSONLinesAndEventBridge(t *testing.T) {
	envelope := `{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.cloudtrail","account":"111122223333","time":"2024-03-11T10:00:00Z","region":"us-east-1","resources":[],"detail":` + stopLogging + `}`
	res := run(t, envelope+"\n"+rootList+"\n", "scan", "--format", "jsonl", "-")
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d findings, want 2:\n%s\n%s", len(lines), res.stdout, res.stderr)
	}
	for _, l := range lines {
		var f map[string]any
		if err := json.Unmarshal([]byte(l), &f); err != nil || f["rule"] == nil || f["event_ids"] == nil {
			t.Errorf("line is not a finding: %v %s", err, l)
		}
	}
}

func TestScanFilters(t *testing.T) {
	dir := trailDir(t)
	cases := []struct {
		args     []string
		events   int
		filtered int
	}{
		{[]string{"--since", "2024-03-11T10:30:00Z"}, 4, 1},
		{[]string{"--until", "2024-03-11T11:00:00Z"}, 4, 3},
		{[]string{"--since", "2024-03-11", "--until", "2024-03-12"}, 4, 0},
		{[]string{"--account", "999999999999"}, 4, 4},
		{[]string{"--region", "us-east-1,eu-west-1"}, 4, 0},
		{[]string{"--region", "eu-west-1"}, 4, 4},
	}
	for _, c := range cases {
		res := run(t, "", append(append([]string{"scan", "--format", "json"}, c.args...), dir)...)
		rep := parseReport(t, res.stdout)
		if rep.Summary.EventsDecoded != c.events || rep.Summary.EventsFiltered != c.filtered {
			t.Errorf("%v: events %d filtered %d, want %d %d", c.args, rep.Summary.EventsDecoded, rep.Summary.EventsFiltered, c.events, c.filtered)
		}
	}
	// --since 10:30 leaves out the StopLogging at 10:00.
	rep := parseReport(t, run(t, "", "scan", "--format", "json", "--since", "2024-03-11T10:30:00Z", dir).stdout)
	if ids := eventIDsByRule(rep)["CloudTrail logging stopped, deleted or narrowed"]; len(ids) != 0 {
		t.Errorf("filtered event still found: %v", ids)
	}
}

func TestScanExitCodes(t *testing.T) {
	dir := trailDir(t)
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"findings at the default threshold", []string{"scan", "--format", "json", dir}, ExitFindings},
		{"nothing at critical", []string{"scan", "--format", "json", "--fail-on", "critical", dir}, ExitOK},
		{"fail-on none", []string{"scan", "--format", "json", "--fail-on", "none", dir}, ExitOK},
		{"high is reached", []string{"scan", "--format", "json", "--fail-on", "high", dir}, ExitFindings},
		{"missing path", []string{"scan", "/nonexistent/trail"}, ExitUsage},
		{"no path", []string{"scan"}, ExitUsage},
		{"unknown flag", []string{"scan", "--bogus", dir}, ExitUsage},
		{"unknown format", []string{"scan", "--format", "xml", dir}, ExitUsage},
		{"bad fail-on", []string{"scan", "--fail-on", "severe", dir}, ExitUsage},
		{"bad since", []string{"scan", "--since", "last tuesday", dir}, ExitUsage},
		{"bad account", []string{"scan", "--account", "12345", dir}, ExitUsage},
		{"no rules", []string{"scan", "--no-builtin", dir}, ExitUsage},
		{"missing rules path", []string{"scan", "--rules", "/nonexistent/rules", dir}, ExitUsage},
		{"unknown command", []string{"scna", dir}, ExitUsage},
		{"stdin twice", []string{"scan", "-", "-"}, ExitUsage},
		{"region not a region", []string{"scan", "--region", "US-EAST-1", dir}, ExitUsage},
		{"zero evidence", []string{"scan", "--max-evidence", "0", dir}, ExitUsage},
		{"bad progress", []string{"scan", "--progress", "maybe", dir}, ExitUsage},
		{"not CloudTrail among the input", []string{"scan", "--format", "json", dir, notCloudTrail(t)}, ExitUsage},
		{"help", []string{"scan", "-h"}, ExitOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if res := run(t, "", c.args...); res.code != c.want {
				t.Errorf("exit %d, want %d\nstderr: %s", res.code, c.want, res.stderr)
			}
		})
	}
}

func TestScanSigmaHQRulesAllLoad(t *testing.T) {
	const sigma = "../../../shared/sigma-rules"
	if _, err := os.Stat(sigma); err != nil {
		t.Skipf("SigmaHQ rules not beside the repository: %v", err)
	}
	res := run(t, "", "scan", "--format", "json", "--no-builtin", "--rules", sigma, trailDir(t))
	rep := parseReport(t, res.stdout)
	if rep.Summary.RuleLoadErrors != 0 || rep.Summary.RulesLoaded < 57 {
		t.Errorf("rules loaded %d, errors %d:\n%s", rep.Summary.RulesLoaded, rep.Summary.RuleLoadErrors, res.stderr)
	}
	// SigmaHQ's "AWS CloudTrail Important Change" (4db60cc0-...) sees the StopLogging.
	found := false
	for _, f := range rep.Findings {
		if f.Rule.ID == "4db60cc0-36fb-42b7-9b58-a5b53019fb74" && slices.Equal(f.EventIDs, []string{"e-stop"}) {
			found = true
			if !strings.HasSuffix(f.Rule.Source, "aws_cloudtrail_disable_logging.yml") {
				t.Errorf("rule source %q", f.Rule.Source)
			}
		}
	}
	if !found {
		t.Errorf("SigmaHQ disable-logging rule did not fire: %s", res.stdout)
	}
}

func TestScanOCSF(t *testing.T) {
	res := run(t, "", "scan", "--format", "ocsf", trailDir(t))
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d OCSF findings, want 4:\n%s", len(lines), res.stdout)
	}
	for _, l := range lines {
		var f struct {
			ClassUID int `json:"class_uid"`
			TypeUID  int `json:"type_uid"`
		}
		if err := json.Unmarshal([]byte(l), &f); err != nil || f.ClassUID != 2004 || f.TypeUID != 200401 {
			t.Errorf("not an OCSF Detection Finding: %v %s", err, l)
		}
	}
}

func TestScanTableFitsIn100Columns(t *testing.T) {
	res := run(t, "", "scan", "--format", "table", "--color", "never", trailDir(t))
	if !strings.Contains(res.stdout, "CloudTrail logging stopped") {
		t.Fatalf("table lacks the finding:\n%s", res.stdout)
	}
	for _, l := range strings.Split(res.stdout, "\n") {
		if n := len([]rune(l)); n > 100 {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
}

// notCloudTrail is a file that is neither JSON nor gzip.
func notCloudTrail(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "notes.txt")
	writeFile(t, p, []byte("remember to rotate the keys\n"))
	return p
}

func TestScanSuppressions(t *testing.T) {
	dir := trailDir(t)
	cfg := filepath.Join(t.TempDir(), "trailsentry.yml")
	writeFile(t, cfg, []byte(`suppressions:
  - rule: 0187e9ae-225c-4af5-b5a1-92b299d26fef
    actor: "ci-deploy/*"
    source: 203.0.113.0/24
    reason: CI probes optional permissions (TICKET-123)
  - rule: 4954838e-b4f7-475f-adde-2bf5bfe47e6d
    reason: an old exception
    expires: 2020-01-01
`))
	res := run(t, "", "scan", "--format", "json", "--config", cfg, dir)
	rep := parseReport(t, res.stdout)
	got := eventIDsByRule(rep)
	if ids := got["Request denied by IAM (AccessDenied or UnauthorizedOperation)"]; len(ids) != 0 {
		t.Errorf("suppressed finding shown: %v", ids)
	}
	if ids := got["Root user activity"]; len(ids) != 1 {
		t.Errorf("an expired suppression still applies: %v", got)
	}
	if !strings.Contains(res.stderr, "expired on 2020-01-01") || !strings.Contains(res.stdout, `"findings_suppressed": 1`) {
		t.Errorf("stderr %s\nstdout summary missing findings_suppressed", res.stderr)
	}
	shown := run(t, "", "scan", "--format", "jsonl", "--include-suppressed", "--config", cfg, dir)
	if !strings.Contains(shown.stdout, `"suppressed":true,"suppressed_reason":"CI probes optional permissions (TICKET-123)"`) {
		t.Errorf("--include-suppressed:\n%s", shown.stdout)
	}
	// Suppressed findings never count toward the exit code: a trail whose
	// every finding is suppressed exits 0.
	only := filepath.Join(t.TempDir(), "denied.json")
	writeFile(t, only, []byte(denied))
	cfg2 := filepath.Join(t.TempDir(), "all.yml")
	writeFile(t, cfg2, []byte("suppressions:\n  - actor: \"ci-deploy/*\"\n    reason: all of CI\n"))
	if res := run(t, "", "scan", "--format", "json", "--config", cfg2, only); res.code != ExitOK {
		t.Errorf("only suppressed findings: exit %d", res.code)
	}
	for _, bad := range []string{"suppressions:\n  - rule: x\n", "suppresions: []\n", "suppressions:\n  - source: 10.0.0.0/33\n    reason: r\n"} {
		writeFile(t, cfg2, []byte(bad))
		if res := run(t, "", "scan", "--config", cfg2, only); res.code != ExitUsage || !strings.Contains(res.stderr, "--config") {
			t.Errorf("config %q: exit %d %s", bad, res.code, res.stderr)
		}
	}
}

// The pack's correlation rules run in a plain scan (state in memory): a
// principal trying action after action is one "permission probing"
// finding listing the denied actions, beside the single denials.
func TestScanCorrelationFindsProbing(t *testing.T) {
	var recs []string
	actions := []string{"ListUsers", "ListRoles", "ListPolicies", "ListGroups", "GetAccountAuthorizationDetails", "ListAccessKeys"}
	for i, a := range actions {
		ts := fmt.Sprintf("2024-03-11T12:0%d:00Z", i)
		recs = append(recs, record(fmt.Sprintf("e-probe-%d", i), ts, "iam.amazonaws.com", a, "", `"errorCode":"AccessDenied","errorMessage":"not authorized",`))
	}
	path := filepath.Join(t.TempDir(), "probe.json")
	writeFile(t, path, []byte(`{"Records":[`+strings.Join(recs, ",")+`]}`))
	res := run(t, "", "scan", "--format", "jsonl", path)
	var probing map[string]any
	for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var f map[string]any
		json.Unmarshal([]byte(l), &f)
		if f["rule"].(map[string]any)["id"] == "78f6e429-3e22-4e8c-bd78-5ae59fcb5dae" {
			probing = f
		}
	}
	if probing == nil {
		t.Fatalf("no probing finding:\n%s\n%s", res.stdout, res.stderr)
	}
	if probing["count"].(float64) != 6 || len(probing["correlated_values"].([]any)) != 6 || len(probing["event_ids"].([]any)) != 6 ||
		!strings.Contains(probing["actor"].(string), "ci-deploy/deploy") {
		t.Errorf("probing finding: %v", probing)
	}
	if !strings.Contains(res.stdout, `"0187e9ae-225c-4af5-b5a1-92b299d26fef"`) {
		t.Error("the single denials are no longer findings (generate: true)")
	}
}

// --no-correlations drops the correlation rules and the silent steps only
// they use; the single denials (a rule in its own right) stay.
func TestScanNoCorrelations(t *testing.T) {
	var recs []string
	for i, a := range []string{"ListUsers", "ListRoles", "ListPolicies", "ListGroups", "GetAccountAuthorizationDetails", "ListAccessKeys"} {
		recs = append(recs, record(fmt.Sprintf("e-probe-%d", i), fmt.Sprintf("2024-03-11T12:0%d:00Z", i), "iam.amazonaws.com", a, "", `"errorCode":"AccessDenied","errorMessage":"not authorized",`))
	}
	path := filepath.Join(t.TempDir(), "probe.json")
	writeFile(t, path, []byte(`{"Records":[`+strings.Join(recs, ",")+`]}`))
	with := run(t, "", "scan", "--format", "json", path)
	without := run(t, "", "scan", "--format", "json", "--no-correlations", "--no-profiles", path)
	if !strings.Contains(with.stdout, `"78f6e429-3e22-4e8c-bd78-5ae59fcb5dae"`) {
		t.Fatal("no probing finding with correlations on")
	}
	if strings.Contains(without.stdout, `"78f6e429-3e22-4e8c-bd78-5ae59fcb5dae"`) || strings.Contains(without.stdout, "(correlation step)") {
		t.Errorf("a correlation or a step reported with --no-correlations:\n%s", without.stdout)
	}
	if !strings.Contains(without.stdout, `"0187e9ae-225c-4af5-b5a1-92b299d26fef"`) {
		t.Error("the single denials are gone with --no-correlations")
	}
	if r := parseReport(t, without.stdout); r.Summary.RulesLoaded >= parseReport(t, with.stdout).Summary.RulesLoaded {
		t.Errorf("rules loaded: %d without correlations, not fewer", r.Summary.RulesLoaded)
	}
	if bad := run(t, "", "scan", "--learning", "soon", path); bad.code != ExitUsage || !strings.Contains(bad.stderr, "--learning") {
		t.Errorf("--learning soon: exit %d, %s", bad.code, bad.stderr)
	}
}
