package policy

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated files")

// TestChecksReference keeps the check table in docs/policy.md in step with the
// table the analysis runs.
func TestChecksReference(t *testing.T) {
	const path = "../../docs/policy.md"
	const begin, end = "<!-- BEGIN checks: generated from internal/policy/checks.go; do not edit -->\n", "<!-- END checks -->"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the checks markers", path)
	}
	want := s[:i+len(begin)] + ChecksMarkdown() + s[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if s != want {
		t.Errorf("%s is stale: run go test ./internal/policy/ -run TestChecksReference -update", path)
	}
}

// TestOperatorsDocumented: every operator the evaluator knows is named in
// docs/policy.md.
func TestOperatorsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range OperatorNames() {
		if !strings.Contains(string(doc), "`"+op+"`") {
			t.Errorf("docs/policy.md does not name %s", op)
		}
	}
}
