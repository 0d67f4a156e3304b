package enrich

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated files")

// checkGenerated compares a generated document with its file, rewriting
// the file first under -update.
func checkGenerated(t *testing.T, path, test string, generate func() (string, error)) string {
	t.Helper()
	want, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: run go test ./internal/enrich/ -run %s -update", path, test)
	}
	return want
}

func TestReference(t *testing.T) {
	want := checkGenerated(t, "../../docs/enrichment.md", "TestReference", Reference)
	// The reference documents every field and every catalog action.
	for _, f := range Fields() {
		if !strings.Contains(want, "| `"+f.Path+"` |") {
			t.Errorf("%s is not documented", f.Path)
		}
	}
	e := newEnricher(t, Options{})
	for _, a := range e.Catalog() {
		if !strings.Contains(want, "| `"+a.Service+":"+a.Event+"` |") {
			t.Errorf("%s:%s is not documented", a.Service, a.Event)
		}
	}
}
