package detect

import (
	"context"
	"sync"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

var testEnricher = sync.OnceValue(func() *enrich.Enricher {
	e, err := enrich.New(context.Background(), enrich.Options{})
	if err != nil {
		panic(err)
	}
	return e
})

// testView wraps an event in a fresh enrichment view, as the scanner does
// (nil stays nil, for the nil-event cases).
func testView(ev *event.Event) *enrich.View {
	if ev == nil {
		return nil
	}
	v := testEnricher().NewView()
	v.Reset(ev)
	return v
}
