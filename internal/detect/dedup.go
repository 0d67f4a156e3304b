package detect

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"go.yaml.in/yaml/v3"
)

// Dedup is a rule's own dedup key (its `dedup:` key), for rules whose
// findings are better told apart by more than account, region and actor —
// one finding per bucket opened to the world rather than one per actor —
// or kept apart in time:
//
//	dedup:
//	  by: [requestParameters.bucketName]  # fields added to the key
//	  window: 24h                         # repeats merge within a window
//
// By names fields as rules do (record paths or trailsentry.* enrichment);
// a finding's key gains their first values. Window cuts event time into
// fixed windows (time.Truncate's, from midnight UTC for windows that divide
// a day, so every run and every worker cuts alike): repeats within one window update the finding's count and
// last seen, and a match in the next window starts a new finding.
type Dedup struct {
	By     []string
	Window time.Duration

	readers []fieldReader
}

func parseDedup(n *yaml.Node) (*Dedup, error) {
	var raw struct {
		By     []string `yaml:"by"`
		Window string   `yaml:"window"`
	}
	if err := n.Decode(&raw); err != nil {
		return nil, fmt.Errorf("dedup (line %d): want a map with by (a list of fields) and window (a duration): %v", n.Line, err)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "by" && k != "window" {
			return nil, fmt.Errorf("dedup (line %d): unknown key %q (by, window)", n.Content[i].Line, k)
		}
	}
	d := &Dedup{By: raw.By}
	for _, f := range raw.By {
		if strings.TrimSpace(f) == "" {
			return nil, fmt.Errorf("dedup (line %d): an empty field name", n.Line)
		}
		d.readers = append(d.readers, newFieldReader(f))
	}
	if raw.Window != "" {
		w, err := time.ParseDuration(raw.Window)
		if err != nil || w < time.Minute {
			return nil, fmt.Errorf("dedup (line %d): window %q: want a duration of a minute or more (10m, 24h)", n.Line, raw.Window)
		}
		d.Window = w
	}
	if len(d.By) == 0 && d.Window == 0 {
		return nil, fmt.Errorf("dedup (line %d): give by, window or both", n.Line)
	}
	return d, nil
}

// Key returns the dedup key's extra part for the event in v: the by
// fields' values (a missing one is empty) and the window's start, as one
// string; "" for a nil Dedup.
func (d *Dedup) Key(v *enrich.View) string {
	if d == nil {
		return ""
	}
	var parts []string
	ev := subjectOf(v)
	for i, r := range d.readers {
		val, _ := r.first(ev)
		parts = append(parts, d.By[i]+"="+val)
	}
	if d.Window > 0 && ev.Event != nil && !ev.Time.IsZero() {
		parts = append(parts, "window="+ev.Time.UTC().Truncate(d.Window).Format(time.RFC3339))
	}
	b, _ := json.Marshal(parts)
	return string(b)
}
