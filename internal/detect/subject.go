package detect

import (
	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

// Subject is one event as rules see it: the CloudTrail record (embedded, so
// its fields read directly) and the enrichment view that computes
// trailsentry.* fields on demand, at most once per event.
type Subject struct {
	*event.Event
	View *enrich.View
}

func subjectOf(v *enrich.View) Subject {
	if v == nil {
		return Subject{}
	}
	return Subject{Event: v.Event(), View: v}
}
