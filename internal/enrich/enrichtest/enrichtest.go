// Package enrichtest gives other packages' tests enrichment views of events,
// built as the scanner builds them (the built-in tables, no intel lists).
package enrichtest

import (
	"context"
	"sync"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

var enricher = sync.OnceValue(func() *enrich.Enricher {
	e, err := enrich.New(context.Background(), enrich.Options{})
	if err != nil {
		panic(err) // the built-in tables are broken: every test would fail
	}
	return e
})

// View wraps ev in a fresh enrichment view; nil stays nil.
func View(ev *event.Event) *enrich.View {
	if ev == nil {
		return nil
	}
	v := enricher().NewView()
	v.Reset(ev)
	return v
}
