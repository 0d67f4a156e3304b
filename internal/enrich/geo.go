package enrich

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Where a public address is on the Internet comes from MaxMind databases in
// the MMDB format, both optional:
//
//   - an ASN database (GeoLite2-ASN, GeoIP2-ISP, or any MMDB whose records
//     hold autonomous_system_number and autonomous_system_organization)
//     gives the network the call came from: the autonomous system a cloud
//     provider, an ISP or a VPN operator announces the address from;
//   - a Country or City database (GeoLite2-Country, GeoIP2-City, ...) gives
//     the country: country.iso_code, or registered_country.iso_code when the
//     database places the address nowhere (anycast and some cloud ranges).
//
// A database is memory-mapped once per version of its file: the kernel pages
// in the few parts lookups touch, and the Go heap holds none of it. Reload
// reopens a database whose file changed and drops the old Reader without
// closing it; the Reader unmaps its file when the garbage collector finds it
// unreachable, that is after the last View that used it has moved on. Closing
// it at once could unmap memory a View on another goroutine is reading.
//
// The same few thousand addresses make most of a trail, so each View keeps
// what it looked up per address (geoCacheLimit of them): a repeat is one map
// lookup and allocates nothing.

// geoCacheLimit bounds a View's cache of looked-up addresses; a full cache
// starts over. An entry is about a hundred bytes.
const geoCacheLimit = 1 << 14

// The kinds of database, as errors and DatabaseInfo name them.
const (
	asnKind = "ASN database"
	geoKind = "geo database"
)

// geoDB is one opened MaxMind database.
type geoDB struct {
	path  string
	kind  string // asnKind or geoKind
	r     *maxminddb.Reader
	stamp stamp
}

// geoSet is the databases in force, replaced whole by Reload; a nil member
// is a database not configured.
type geoSet struct {
	asn     *geoDB
	country *geoDB
}

// geoInfo is what the databases say about one address.
type geoInfo struct {
	asn     uint32 // 0: no ASN
	asnText string // asn in decimal, built once per address
	org     string
	country string // ISO 3166-1 alpha-2
}

// asnRecord is the part of an ASN (or ISP) database record enrichment reads.
type asnRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// countryRecord is the part of a Country or City database record enrichment
// reads; the decoder skips the rest (names, subdivisions, location).
type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Registered struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// ASN returns the autonomous system the caller's address is announced from,
// by the ASN database: its number and organisation ("16509", "AMAZON-02").
// ok is false without an ASN database, for an address it does not hold, and
// when sourceIPAddress is not an address (an AWS service name, "AWS
// Internal").
func (v *View) ASN() (asn uint32, org string, ok bool) {
	v.resolveGeo()
	return v.geo.asn, v.geo.org, v.geo.asn != 0
}

// Country returns the ISO 3166-1 alpha-2 code of the country the caller's
// address is in, by the geo database ("DE"); ok is false as for ASN.
func (v *View) Country() (code string, ok bool) {
	v.resolveGeo()
	return v.geo.country, v.geo.country != ""
}

func (v *View) resolveGeo() {
	if !v.once(partGeo) {
		return
	}
	v.geo = geoInfo{}
	set := v.e.geo.Load()
	if set.asn == nil && set.country == nil {
		return
	}
	a := v.SourceAddr()
	if !a.IsValid() {
		return
	}
	if set != v.geoSet {
		// The databases were reloaded: what the old ones said is stale.
		clear(v.geoCache)
		v.geoSet = set
	}
	if g, ok := v.geoCache[a]; ok {
		v.geo = g
		return
	}
	g := set.lookup(a)
	if len(v.geoCache) >= geoCacheLimit {
		clear(v.geoCache)
	}
	v.geoCache[a] = g
	v.geo = g
}

// lookup asks the databases about a. A record the database cannot decode
// counts as no record: databases are verified when they are opened, and a
// lookup has nowhere to report an error.
func (s *geoSet) lookup(a netip.Addr) geoInfo {
	var g geoInfo
	if r := s.asn.result(a); r.Found() {
		var rec asnRecord
		if r.Decode(&rec) == nil && rec.Number != 0 {
			g.asn, g.org = rec.Number, rec.Org
			g.asnText = strconv.FormatUint(uint64(rec.Number), 10)
		}
	}
	if r := s.country.result(a); r.Found() {
		var rec countryRecord
		if r.Decode(&rec) == nil {
			g.country = cmp.Or(rec.Country.ISOCode, rec.Registered.ISOCode)
		}
	}
	return g
}

// result looks a up; a nil database, or an IPv6 address in an IPv4-only
// one, finds nothing.
func (d *geoDB) result(a netip.Addr) maxminddb.Result {
	if d == nil || a.Is6() && d.r.Metadata.IPVersion == 4 {
		return maxminddb.Result{}
	}
	return d.r.Lookup(a)
}

// openGeo opens the configured databases, keeping from old those whose file
// has not changed since it was opened.
func (e *Enricher) openGeo(old *geoSet) (*geoSet, error) {
	if old == nil {
		old = &geoSet{}
	}
	set := &geoSet{}
	var errs []error
	for _, d := range []struct {
		path, kind string
		old        *geoDB
		into       **geoDB
	}{
		{e.asnPath, asnKind, old.asn, &set.asn},
		{e.geoPath, geoKind, old.country, &set.country},
	} {
		if d.path == "" {
			continue
		}
		if d.old != nil && d.old.stamp.equal(statStamp(d.path)) {
			*d.into = d.old
			continue
		}
		db, err := openGeoDB(d.path, d.kind)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*d.into = db
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// openGeoDB opens and verifies one database. The whole file is checked (its
// search tree and every record it points to), so that a corrupt or truncated
// download is an error naming the file now rather than addresses silently
// missing later.
func openGeoDB(path, kind string) (*geoDB, error) {
	st := statStamp(path)
	if st.err != "" {
		return nil, fmt.Errorf("%s: %s", kind, st.err)
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: not a readable MaxMind database: %w", kind, path, err)
	}
	if err := r.Verify(); err != nil {
		r.Close()
		return nil, fmt.Errorf("%s %s: corrupt MaxMind database: %w", kind, path, err)
	}
	// A database given for the other purpose holds none of the fields this
	// one is read for: say so rather than enrich nothing.
	typ := strings.ToLower(r.Metadata.DatabaseType)
	var wrong string
	switch {
	case kind == asnKind && (strings.Contains(typ, "city") || strings.Contains(typ, "country")):
		wrong = "autonomous systems (is it the geo database?)"
	case kind == geoKind && strings.Contains(typ, "asn"):
		wrong = "countries (is it the ASN database?)"
	}
	if wrong != "" {
		r.Close()
		return nil, fmt.Errorf("%s %s: a %s database holds no %s", kind, path, r.Metadata.DatabaseType, wrong)
	}
	return &geoDB{path: path, kind: kind, r: r, stamp: st}, nil
}

// DatabaseInfo describes an opened MaxMind database.
type DatabaseInfo struct {
	Path  string
	Kind  string // "ASN database" or "geo database"
	Type  string // the database's own type name: "GeoLite2-ASN", "GeoIP2-City", ...
	Built time.Time
}

// Databases describes the MaxMind databases in force, the ASN database first.
func (e *Enricher) Databases() []DatabaseInfo {
	set := e.geo.Load()
	var out []DatabaseInfo
	for _, d := range []*geoDB{set.asn, set.country} {
		if d != nil {
			out = append(out, DatabaseInfo{Path: d.path, Kind: d.kind, Type: d.r.Metadata.DatabaseType, Built: d.r.Metadata.BuildTime()})
		}
	}
	return out
}

// geoStamps stats the configured database files, in the order openGeo opens
// them; loadedGeoStamps are the stamps of the databases in force, in the same
// order. Watch compares the two.
func (e *Enricher) geoStamps() []stamp {
	var out []stamp
	for _, p := range []string{e.asnPath, e.geoPath} {
		if p != "" {
			out = append(out, statStamp(p))
		}
	}
	return out
}

func (e *Enricher) loadedGeoStamps() []stamp {
	set := e.geo.Load()
	var out []stamp
	for _, d := range []*geoDB{set.asn, set.country} {
		if d != nil {
			out = append(out, d.stamp)
		}
	}
	return out
}
