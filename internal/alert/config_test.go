package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailsentry/trailsentry/internal/finding"
)

// The configuration docs/alerts.md shows, loaded as the CLI will load it.
const exampleConfig = `alerts:
  outbox:
    give_up_after: 24h
  sinks:
    - name: oncall
      min_severity: high
      accounts: {include: ["111122223333"]}
      slack: {webhook_url: env:TS_SLACK_URL}
    - name: probing
      rules: {include: ["Request denied by IAM*", "56523b86-*"]}
      slack: {webhook_url: env:TS_SLACK_URL}
    - name: siem
      min_severity: info
      rules: {exclude: ["AWS STS AssumeRole Misuse"]}
      elasticsearch: {url: "https://es.internal:9200", api_key: "file:KEYFILE"}
    - name: archive
      min_severity: info
      file: {path: /var/lib/trailsentry/alerts.jsonl}
`

func TestConfigRouting(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "es.key")
	os.WriteFile(keyFile, []byte("c2VjcmV0OmtleQ==\n"), 0o600)
	t.Setenv("TS_SLACK_URL", "https://hooks.slack.com/services/T0/B0/secret")
	c, err := LoadConfig([]byte(strings.Replace(exampleConfig, "KEYFILE", keyFile, 1)), "trailsentry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Build(context.Background(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	route := map[string]string{}
	for _, f := range append(goldenFindings(t), deniedFinding(t)) {
		route[fmt.Sprintf("%s %s %s", f.Severity.Label, f.Rule.Title, f.Actor)] = strings.Join(set.Router.Sinks(f), ",")
	}
	for key, want := range map[string]string{
		"Critical Root Console Login Without MFA root":                                    "oncall,siem,archive",
		"High AWS GuardDuty Important Change Admin/alice":                                 "oncall,siem,archive",
		"Medium AWS CloudTrail Important Change bob":                                      "siem,archive",
		"Low Request denied by IAM (AccessDenied or UnauthorizedOperation) developer/bob": "probing,siem,archive",
		"Low AWS STS AssumeRole Misuse ci-readonly/github-actions-8812":                   "archive",
	} {
		if got, ok := route[key]; !ok || got != want {
			t.Errorf("%s: routed to %q, want %q (ok %v)", key, got, want, ok)
		}
	}
	// Suppressed and shadow findings are kept, not announced.
	f := *goldenByTitle(t, "Root Console Login Without MFA")
	f.Suppressed = true
	if s := set.Router.Sinks(&f); len(s) != 0 {
		t.Errorf("suppressed finding routed to %v", s)
	}
	entries, err := set.Router.Entries(goldenFindings(t)[:1])
	if err != nil || len(entries) != 3 || entries[0].Sink != "oncall" || entries[0].Revision != 1 {
		t.Fatalf("entries = %+v, %v", entries, err)
	}
	var back map[string]any
	if err := json.Unmarshal(entries[0].Payload, &back); err != nil || back["id"] != entries[0].FindingID {
		t.Errorf("payload: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"literal secret":  {"alerts:\n  sinks:\n    - {name: s, slack: {webhook_url: 'https://hooks.slack.com/services/T/B/x'}}\n", "never as its value"},
		"no destination":  {"alerts:\n  sinks:\n    - {name: s}\n", "exactly one of"},
		"two":             {"alerts:\n  sinks:\n    - {name: s, stdout: {}, file: {path: /tmp/x}}\n", "exactly one of"},
		"duplicate name":  {"alerts:\n  sinks:\n    - {name: s, stdout: {}}\n    - {name: s, stdout: {}}\n", "used twice"},
		"no name":         {"alerts:\n  sinks:\n    - {stdout: {}}\n", "no name"},
		"severity":        {"alerts:\n  sinks:\n    - {name: s, min_severity: urgent, stdout: {}}\n", "min_severity"},
		"unknown key":     {"alerts:\n  sinks:\n    - {name: s, stdout: {}, min_sevrity: high}\n", "min_sevrity"},
		"bad pattern":     {"alerts:\n  sinks:\n    - {name: s, rules: {include: ['[']}, stdout: {}}\n", "pattern"},
		"topic":           {"alerts:\n  sinks:\n    - {name: s, sns: {topic_arn: my-topic}}\n", "arn:aws:sns"},
		"url credentials": {"alerts:\n  sinks:\n    - {name: s, splunk: {url: 'https://u:p@h:8088', token: env:X}}\n", "credentials do not belong"},
		"timeout > lease": {"alerts:\n  outbox: {lease: 5s}\n  sinks:\n    - {name: s, timeout: 10s, stdout: {}}\n", "shorter than the outbox lease"},
	} {
		_, err := LoadConfig([]byte(tc.yaml), "trailsentry.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "trailsentry.yaml") {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "u:p@") {
			t.Errorf("%s: credentials in the error: %v", name, err)
		}
	}
	// Secrets that cannot be read name the reference, never a value.
	t.Setenv("TS_EMPTY", "")
	for ref, want := range map[string]string{
		"env:TS_NOT_SET_ANYWHERE": "env:TS_NOT_SET_ANYWHERE: the environment variable is not set",
		"env:TS_EMPTY":            "env:TS_EMPTY is empty",
		"file:/nonexistent/key":   "file:/nonexistent/key: no such file",
	} {
		c, err := LoadConfig([]byte("alerts:\n  sinks:\n    - {name: hec, splunk: {url: 'https://h:8088', token: '"+ref+"'}}\n"), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Build(context.Background(), c, Options{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "(hec)") {
			t.Errorf("%s: %v", ref, err)
		}
	}
	if s, _ := SecretRef("env:X"); fmt.Sprint(s) != "env:X" {
		t.Errorf("a Secret prints as %v", s)
	}
}

func TestFileAndStdout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	var out bytes.Buffer
	c, err := LoadConfig([]byte("alerts:\n  sinks:\n    - {name: f, file: {path: '"+path+"'}}\n    - {name: o, stdout: {}}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Build(context.Background(), c, Options{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	fs := goldenFindings(t)
	for _, s := range set.Sinks {
		for _, batch := range [][]Delivery{deliveries(fs[:2]...), deliveries(fs[2:3]...)} { // appended
			if err := s.Send(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, out.Bytes()) {
		t.Error("file and stdout differ")
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		var f map[string]any
		if err := json.Unmarshal([]byte(l), &f); err != nil || f["id"] != fs[i].ID {
			t.Errorf("line %d: %v", i, err)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
}

func TestRevision(t *testing.T) {
	for count, want := range map[int64]int64{0: 1, 1: 1, 9: 1, 10: 2, 99: 2, 100: 3, 999: 3, 1000: 4, 1_000_000: 7} {
		if got := Revision(&finding.Finding{Count: count}); got != want {
			t.Errorf("Revision(count %d) = %d, want %d", count, got, want)
		}
	}
}
