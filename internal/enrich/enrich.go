// Package enrich adds to every CloudTrail event what its record does not say
// outright: who is really acting (the person behind a role session, the kind
// of credentials, MFA, console or API, another account), what the action can
// do (IAM action, access level, ATT&CK techniques, risk categories), where
// the call came from (AWS service, private or public address, client family,
// offensive tooling, and with MaxMind databases the autonomous system and
// country) and what the user's intelligence lists say about the address
// (threat and trusted IP lists, reloaded without a restart).
//
// Enrichment is lazy. A View wraps one event at a time; each part (identity,
// action, source, client, intel, geo) is worked out the first time a rule or a
// finding asks for it, at most once per event, and nothing is allocated on the
// way once a View has warmed up. A scan that asks for nothing pays nothing.
//
// Rules address enrichment as fields under Prefix ("trailsentry.actor",
// "trailsentry.action.risks", ...): CloudTrail has no top-level key of that
// name, so these never collide with a record's own fields. Fields lists them;
// docs/enrichment.md is generated from the same tables.
//
// An Enricher is immutable apart from its intelligence lists and MaxMind
// databases, which Reload replaces atomically: it is safe for concurrent use.
// A View belongs to one goroutine.
package enrich

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/trailsentry/trailsentry/internal/event"
)

// Prefix starts the name of every enrichment field a rule can address.
const Prefix = "trailsentry."

// Options configures an Enricher.
type Options struct {
	// ThreatLists are files of IP addresses and CIDR blocks (plain text, one
	// a line, or CSV whose first column holds them, by the .csv extension):
	// a call from one of them is a threat (trailsentry.intel.threatList).
	ThreatLists []string
	// TrustedLists are files in the same formats: calls from them are
	// trusted (trailsentry.intel.trusted), and network-based rules leave them
	// alone.
	TrustedLists []string
	// ASNDatabase is a MaxMind ASN database (GeoLite2-ASN.mmdb, or an ISP
	// database): trailsentry.network.asn and asnOrg. GeoDatabase is a MaxMind
	// Country or City database: trailsentry.network.country. Empty: the
	// fields are missing. A path that cannot be opened, or a file that is not
	// a sound MaxMind database, is an error naming it; a caller that probes
	// default locations passes only the files it found. The files are
	// memory-mapped: replace them by renaming a new edition over them (as
	// geoipupdate does), never by writing into them.
	ASNDatabase string
	GeoDatabase string
}

// Enricher holds the static tables and the current intelligence lists.
type Enricher struct {
	catalog *catalog
	private []netip.Prefix // privateRanges
	threat  []string       // list files, as given
	trusted []string
	asnPath string // MaxMind databases, as given
	geoPath string

	// Paths of the non-hot fields identity resolution reads.
	consoleCredential *event.Path // sessionCredentialFromConsole
	mfaUsed           *event.Path // additionalEventData.MFAUsed
	onBehalfOf        *event.Path // userIdentity.onBehalfOf.userId

	intel    atomic.Pointer[intelSet]
	geo      atomic.Pointer[geoSet] // never nil once New returns
	reloadMu sync.Mutex             // one Reload at a time
}

// New builds an Enricher and loads its intelligence lists. A list that cannot
// be read or parsed is an error naming the file (and line).
func New(ctx context.Context, opts Options) (*Enricher, error) {
	cat, err := parseCatalog(actionsTSV, techniquesTSV)
	if err != nil {
		return nil, fmt.Errorf("action catalog: %w", err)
	}
	private, err := parsePrivateRanges()
	if err != nil {
		return nil, err
	}
	e := &Enricher{
		catalog:           cat,
		private:           private,
		threat:            append([]string(nil), opts.ThreatLists...),
		trusted:           append([]string(nil), opts.TrustedLists...),
		asnPath:           opts.ASNDatabase,
		geoPath:           opts.GeoDatabase,
		consoleCredential: event.ParsePath("sessionCredentialFromConsole"),
		mfaUsed:           event.ParsePath("additionalEventData.MFAUsed"),
		onBehalfOf:        event.ParsePath("userIdentity.onBehalfOf.userId"),
	}
	if err := e.Reload(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Catalog returns the actions of the catalog in the order of actions.tsv.
// The Actions are shared: do not modify them.
func (e *Enricher) Catalog() []*Action { return append([]*Action(nil), e.catalog.list...) }

// TechniqueName returns the ATT&CK name of a technique the catalog uses.
func (e *Enricher) TechniqueName(id string) string { return e.catalog.techniques[id] }

// View is the lazy enrichment of one event at a time. Reset points it at the
// next event; what was worked out for the previous one is forgotten, apart
// from small caches of names and user agents that make repeats free. A View
// is not safe for concurrent use: give each worker its own.
type View struct {
	e     *Enricher
	ev    *event.Event
	done  part // parts worked out for ev
	intel *intelSet

	id      identity
	mfa     bool
	console bool
	action  *Action
	addr    netip.Addr
	source  string
	client  uaInfo
	threat  string
	trusted bool
	world   worldOpen
	policy  policy
	geo     geoInfo

	// Across events, bounded: built strings, user-agent verdicts and guessed
	// actions, so that a repeat costs a map lookup and no allocation.
	names   map[namePair]string
	agents  map[string]uaInfo
	guessed map[actionKey]*Action
	scratch []byte

	// What the MaxMind databases said per address, for the geoSet it was
	// asked of (a reload starts the cache over).
	geoCache map[netip.Addr]geoInfo
	geoSet   *geoSet
}

// part is one lazily computed piece of a View.
type part uint16

const (
	partIdentity part = 1 << iota
	partMFA
	partConsole
	partAction
	partSource
	partClient
	partIntel
	partRequest
	partPolicy
	partGeo
)

// cacheLimit bounds each of a View's caches; a full cache starts over.
const cacheLimit = 4096

// NewView returns a View for this Enricher, pointing at no event.
func (e *Enricher) NewView() *View {
	return &View{
		e:       e,
		names:   make(map[namePair]string),
		agents:  make(map[string]uaInfo),
		guessed: make(map[actionKey]*Action),

		geoCache: make(map[netip.Addr]geoInfo),
	}
}

// Reset points the View at ev (nil for none). Nothing is computed until asked.
func (v *View) Reset(ev *event.Event) {
	v.ev = ev
	v.done = 0
}

// Event returns the event the View points at.
func (v *View) Event() *event.Event { return v.ev }

// once reports whether p is still to be worked out for this event, and
// marks it done: the caller computes it when once returns true.
func (v *View) once(p part) bool {
	if v.done&p != 0 {
		return false
	}
	v.done |= p
	return true
}

// join returns a+sep+b, built once per View for each distinct pair.
func (v *View) join(a, sep, b string) string {
	k := namePair{a, sep, b}
	if s, ok := v.names[k]; ok {
		return s
	}
	if len(v.names) >= cacheLimit {
		clear(v.names)
	}
	s := a + sep + b
	// The key must not pin the event's record: key it by the new string.
	n := len(a)
	v.names[namePair{s[:n], s[n : n+len(sep)], s[n+len(sep):]}] = s
	return s
}

type namePair struct{ a, sep, b string }
