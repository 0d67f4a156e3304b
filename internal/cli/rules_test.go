package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A user's rule with its examples, in the pack's test format: one example
// right, one wrong on purpose.
const userRule = `title: Bucket deleted by a human
id: 5b0c6a5e-6f0e-4e1f-9d7a-2f3e4d5c6b7a
level: medium
tags: [attack.impact, attack.t1485]
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: s3.amazonaws.com
    eventName: DeleteBucket
  filter_service:
    userIdentity.type: AWSService
  condition: selection and not filter_service
tests:
  - name: a user deletes a bucket
    match: true
    event: {"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "accountId": "111122223333", "userName": "bob"}, "eventTime": "2024-05-01T10:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "DeleteBucket", "awsRegion": "us-east-1", "requestParameters": {"bucketName": "reports"}, "eventID": "1d2c3b4a-0000-4000-8000-000000000001"}
  - name: WRONG ON PURPOSE - says a service deletion matches
    match: true
    event: {"eventVersion": "1.09", "userIdentity": {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}, "eventTime": "2024-05-01T10:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "DeleteBucket", "awsRegion": "us-east-1", "eventID": "1d2c3b4a-0000-4000-8000-000000000002"}
`

func TestRulesTestCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bucket.yml")
	writeFile(t, path, []byte(userRule))
	res := run(t, "", "rules", "test", dir)
	if res.code != ExitFindings {
		t.Fatalf("exit %d, want 1 (an example fails)\n%s%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "WRONG ON PURPOSE") || !strings.Contains(res.stdout, "must match, did not") ||
		strings.Contains(res.stdout, "a user deletes a bucket") ||
		!strings.Contains(res.stdout, "1 rules, 2 examples: 1 passed, 1 failed") {
		t.Errorf("output:\n%s", res.stdout)
	}
	// Fixed, it passes.
	writeFile(t, path, []byte(strings.Replace(userRule, "says a service deletion matches\n    match: true", "says a service deletion matches\n    match: false", 1)))
	if res := run(t, "", "rules", "test", path); res.code != ExitOK {
		t.Errorf("fixed rule: exit %d\n%s", res.code, res.stdout)
	}
	// A rule that does not load is exit 2, with the reason.
	writeFile(t, path, []byte(strings.Replace(userRule, "eventName: DeleteBucket", "eventName|bogus: DeleteBucket", 1)))
	if res := run(t, "", "rules", "test", path); res.code != ExitUsage || !strings.Contains(res.stderr, "bogus") {
		t.Errorf("broken rule: exit %d\n%s", res.code, res.stderr)
	}
}

func TestRulesTestBuiltinPack(t *testing.T) {
	res := run(t, "", "rules", "test")
	if res.code != ExitOK || !strings.Contains(res.stdout, " 0 failed") {
		t.Errorf("built-in pack: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

func TestRulesListAndShow(t *testing.T) {
	res := run(t, "", "rules", "list", "--format", "json")
	var rows []struct {
		ID, Title, Level, Source string
		Attack                   []string
	}
	if err := json.Unmarshal([]byte(res.stdout), &rows); err != nil || res.code != ExitOK || len(rows) < 6 {
		t.Fatalf("list: exit %d, %v\n%s", res.code, err, res.stdout)
	}
	var tampering bool
	for _, r := range rows {
		if r.ID == "7f1e43d8-7855-4a1f-a112-f09ec5cdbaf7" && r.Level == "high" && r.Source == "builtin:cloudtrail/trail_tampering.yml" && len(r.Attack) > 0 {
			tampering = true
		}
	}
	if !tampering {
		t.Error("list lacks the trail tampering rule")
	}
	show := run(t, "", "rules", "show", "7f1e43d8")
	if show.code != ExitOK || !strings.Contains(show.stdout, "severity: High (8.0)") || !strings.Contains(show.stdout, "StopLogging") {
		t.Errorf("show: exit %d\n%s", show.code, show.stdout)
	}
	if res := run(t, "", "rules", "show", "00000000-nope"); res.code != ExitUsage {
		t.Errorf("show unknown id: exit %d", res.code)
	}
	const sigma = "../../../shared/sigma-rules"
	if _, err := os.Stat(sigma); err != nil {
		t.Skipf("SigmaHQ rules not beside the repository: %v", err)
	}
	table := run(t, "", "rules", "list", "--no-builtin", "--rules", sigma)
	if table.code != ExitOK || !strings.Contains(table.stdout, "57 rules") {
		t.Errorf("list SigmaHQ: exit %d\n%s", table.code, table.stderr)
	}
}

// A rule in shadow mode: its findings are counted but not reported, and
// rules stats shows what it would send.
func TestShadowRuleAndStats(t *testing.T) {
	dir := trailDir(t)
	shadow := filepath.Join(t.TempDir(), "shadow.yml")
	writeFile(t, shadow, []byte(`title: Any EC2 describe call (trying it out)
id: 2a1b0c9d-8e7f-4a6b-9c5d-4e3f2a1b0c9d
shadow: true
level: high
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName|startswith: Describe
  condition: selection
`))
	res := run(t, "", "scan", "--format", "json", "--fail-on", "high", "--no-builtin", "--rules", shadow, dir)
	rep := parseReport(t, res.stdout)
	if len(rep.Findings) != 0 || res.code != ExitOK || !strings.Contains(res.stdout, `"findings_shadow": 1`) {
		t.Errorf("shadow finding reported or counted: exit %d\n%s", res.code, res.stdout)
	}
	if shown := run(t, "", "scan", "--format", "jsonl", "--include-shadow", "--no-builtin", "--rules", shadow, dir); !strings.Contains(shown.stdout, `"shadow":true`) {
		t.Errorf("--include-shadow:\n%s", shown.stdout)
	}
	stats := run(t, "", "rules", "stats", "--rules", shadow, dir)
	if stats.code != ExitOK {
		t.Fatalf("stats: exit %d\n%s", stats.code, stats.stderr)
	}
	var line string
	for _, l := range strings.Split(stats.stdout, "\n") {
		if strings.Contains(l, "Any EC2 describe call") {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) < 5 || f[0] != "HIGH" || f[1] != "shadow" || f[2] != "1" || f[3] != "1" {
		t.Errorf("stats line %q\n%s", line, stats.stdout)
	}
	if !strings.Contains(stats.stdout, "Root user activity") || !strings.Contains(stats.stdout, " live ") {
		t.Errorf("stats lacks the live rules:\n%s", stats.stdout)
	}
}

// The detections that are code — profiles, integrity checks — are listed
// and shown like rules: their ids appear in findings.
func TestRulesListsBuiltinDetections(t *testing.T) {
	show := run(t, "", "rules", "show", "trailsentry-profile-new-api")
	if show.code != ExitOK || !strings.Contains(show.stdout, "docs/profiles.md") {
		t.Errorf("rules show: exit %d\n%s%s", show.code, show.stdout, show.stderr)
	}
	list := run(t, "", "rules", "list", "--format", "json")
	for _, id := range []string{"trailsentry-seq-trail-stopped-activity", "trailsentry-integrity-log-modified"} {
		if !strings.Contains(list.stdout, `"`+id+`"`) {
			t.Errorf("rules list lacks %s", id)
		}
	}
	if none := run(t, "", "rules", "list", "--no-builtin", "--rules", t.TempDir()); strings.Contains(none.stdout, "trailsentry-profile") {
		t.Error("--no-builtin still lists the built-in detections")
	}
}
