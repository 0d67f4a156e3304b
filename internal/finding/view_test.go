package finding

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

// testView wraps an event in an enrichment view, as the scanner does.
func testView(ev *event.Event) *enrich.View {
	v := testEnricher().NewView()
	v.Reset(ev)
	return v
}
