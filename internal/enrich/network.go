package enrich

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/trailsentry/trailsentry/internal/event"
)

// SourceKind classifies sourceIPAddress: SourceAWSService, SourceAWSInternal,
// SourcePrivate, SourcePublic or SourceUnknown.
func (v *View) SourceKind() string {
	v.resolveSource()
	return v.source
}

// SourceAddr is sourceIPAddress as an address (IPv4-mapped IPv6 unmapped),
// or the invalid Addr when it is not one.
func (v *View) SourceAddr() netip.Addr {
	v.resolveSource()
	return v.addr
}

// Network is where a call came from, as a place to compare calls by: the
// caller's autonomous system when an ASN database is configured, else its
// public address's /24 (IPv4) or /48 (IPv6).
type Network struct {
	ASN    uint32
	Prefix netip.Prefix
}

// Valid reports whether n names a network.
func (n Network) Valid() bool { return n.ASN != 0 || n.Prefix.IsValid() }

// String is "AS<number>" or the prefix.
func (n Network) String() string {
	if n.ASN != 0 {
		return "AS" + strconv.FormatUint(uint64(n.ASN), 10)
	}
	return n.Prefix.String()
}

// Network is the network of the call. Private addresses (a VPC endpoint,
// inside a VPC) and AWS services have none: a workload's own calls through
// its VPC are not a new place.
func (v *View) Network() (Network, bool) {
	if v.SourceKind() != SourcePublic {
		return Network{}, false
	}
	if asn, _, ok := v.ASN(); ok {
		return Network{ASN: asn}, true
	}
	a := v.SourceAddr()
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	return Network{Prefix: p}, err == nil
}

func (v *View) resolveSource() {
	if !v.once(partSource) {
		return
	}
	v.source, v.addr = SourceUnknown, netip.Addr{}
	if v.ev != nil {
		v.source, v.addr = v.e.classifySource(v.ev.Str(event.SourceIPAddress))
	}
}

func (e *Enricher) classifySource(s string) (string, netip.Addr) {
	switch {
	case s == "":
		return SourceUnknown, netip.Addr{}
	case s == "AWS Internal":
		return SourceAWSInternal, netip.Addr{}
	case strings.HasSuffix(s, ".amazonaws.com"):
		return SourceAWSService, netip.Addr{}
	}
	if !looksLikeAddr(s) {
		return SourceUnknown, netip.Addr{} // without ParseAddr's error, which allocates
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return SourceUnknown, netip.Addr{}
	}
	a = a.WithZone("").Unmap()
	for _, p := range e.private {
		if p.Contains(a) {
			return SourcePrivate, a
		}
	}
	return SourcePublic, a
}

// looksLikeAddr reports whether s is made of what an IP address is made of
// (hex digits, dots and colons) up to a zone ("%eth0").
func looksLikeAddr(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == '.', c == ':':
		case c == '%' && i > 0:
			return true
		default:
			return false
		}
	}
	return len(s) > 0
}

func parsePrivateRanges() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(privateRanges))
	for _, r := range privateRanges {
		p, err := netip.ParsePrefix(r.Prefix)
		if err != nil {
			return nil, fmt.Errorf("private range: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
