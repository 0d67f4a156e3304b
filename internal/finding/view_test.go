package finding

import (
	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/enrich/enrichtest"
	"github.com/trailsentry/trailsentry/internal/event"
)

// testView wraps an event in an enrichment view, as the scanner does.
func testView(ev *event.Event) *enrich.View { return enrichtest.View(ev) }
