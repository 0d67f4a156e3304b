package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
	"github.com/trailsentry/trailsentry/internal/finding"
)

// What the tests share: real findings — the finding package's golden
// findings, and an AccessDenied finding made by running the built-in rule
// through the real engine, enrichment and aggregator over a CloudTrail file
// (testdata/denied.json) — and recording HTTP servers on loopback.

// goldenFindings are the findings of internal/finding's golden scan.
func goldenFindings(t testing.TB) []*finding.Finding {
	t.Helper()
	b, err := os.ReadFile("../finding/testdata/findings.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Findings []*finding.Finding }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) < 5 {
		t.Fatalf("golden findings: %d", len(doc.Findings))
	}
	return doc.Findings
}

// goldenByTitle returns the first golden finding with the title.
func goldenByTitle(t testing.TB, title string) *finding.Finding {
	t.Helper()
	for _, f := range goldenFindings(t) {
		if f.Rule.Title == title {
			return f
		}
	}
	t.Fatalf("no golden finding %q", title)
	return nil
}

// deniedFinding is bob's burst of AccessDenied calls as the built-in rule
// "Request denied by IAM" reports it.
func deniedFinding(t testing.TB) *finding.Finding {
	t.Helper()
	rules, errs := detect.LoadPath("../../rules/cloudtrail/access_denied.yml")
	if len(errs) > 0 || len(rules) != 1 {
		t.Fatalf("load rule: %v", errs)
	}
	r := rules[0]
	info := &finding.RuleInfo{ID: r.ID, Title: r.Title, Source: r.Source, Level: r.Level,
		Description: r.Description, Attack: r.Attack, FalsePositives: r.FalsePositives}
	en, err := enrich.New(context.Background(), enrich.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/denied.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := event.NewDecoder(f)
	eng := detect.NewEngine(rules)
	agg := finding.NewAggregator(100)
	v := en.NewView()
	for {
		ev, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		v.Reset(ev)
		eng.Match(v, func(*detect.Rule) { agg.Add(info, v) })
	}
	out := agg.Findings()
	if len(out) != 1 || out[0].Count != 6 {
		t.Fatalf("denied findings: %d", len(out))
	}
	return out[0]
}

// recorder is a loopback HTTP server that keeps every request it was sent
// and answers with its handler.
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

func newRecorder(t testing.TB, answer func(w http.ResponseWriter, r *http.Request, body []byte)) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rec.mu.Lock()
		rec.requests = append(rec.requests, recorded{r.Method, r.URL.Path, r.Header.Clone(), body})
		rec.mu.Unlock()
		answer(w, r, body)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec.Listener = ln
	rec.Start()
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) got() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

func deliveries(fs ...*finding.Finding) []Delivery {
	var out []Delivery
	for _, f := range fs {
		out = append(out, Delivery{Finding: f, Revision: Revision(f)})
	}
	return out
}

// buildOne builds the one sink a YAML configuration names.
func buildOne(t testing.TB, yaml string) Sink {
	t.Helper()
	c, err := LoadConfig([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Build(context.Background(), c, Options{Hostname: "ts-worker-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Sinks) != 1 {
		t.Fatalf("%d sinks", len(set.Sinks))
	}
	return set.Sinks[0]
}
