package enrich

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// An intelligence list is a file of IP addresses and CIDR blocks, as
// GuardDuty takes them:
//
//   - plain text (any name but *.csv): one address or block a line; '#'
//     starts a comment; blank lines are skipped;
//   - CSV (*.csv): the first column holds the address or block, the other
//     columns are ignored; a first row whose first field is not an address
//     is a header; lines starting with '#' are comments.
//
// IPv4 and IPv6 are both accepted; a block's host bits are ignored
// (10.1.2.3/8 is 10.0.0.0/8). A line that holds neither is an error naming
// the file and line, and the whole load fails: a Reload that fails keeps the
// lists it had.

// maxListSize bounds one list file.
const maxListSize = 256 << 20

// maxLineErrors bounds the bad lines reported for one file.
const maxLineErrors = 10

// ipList is one loaded list: its address ranges, sorted and merged, for a
// binary search.
type ipList struct {
	name    string // the file's base name: what findings show
	path    string
	trusted bool
	entries int
	v4      []range4
	v6      []range6
	stamp   stamp
}

type range4 struct{ lo, hi uint32 }
type range6 struct{ lo, hi u128 }

// u128 is an IPv6 address as a number.
type u128 struct{ hi, lo uint64 }

func (a u128) cmp(b u128) int { return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo)) }

// stamp identifies a version of a file: a change of either field is a change.
type stamp struct {
	mod  time.Time
	size int64
	err  string // the stat error, when the file could not be seen
}

func (s stamp) equal(t stamp) bool { return s.mod.Equal(t.mod) && s.size == t.size && s.err == t.err }

// intelSet is the lists in force, replaced whole by Reload.
type intelSet struct {
	threat  []*ipList
	trusted []*ipList
}

// ThreatListed reports whether the caller's address is on a threat list,
// and which (the list file's base name; the first in Options order when
// several hold it).
func (v *View) ThreatListed() (list string, ok bool) {
	v.resolveIntel()
	return v.threat, v.threat != ""
}

// Trusted reports whether the caller's address is on a trusted list.
func (v *View) Trusted() bool {
	v.resolveIntel()
	return v.trusted
}

func (v *View) resolveIntel() {
	if !v.once(partIntel) {
		return
	}
	v.threat, v.trusted = "", false
	set := v.e.intel.Load()
	if len(set.threat) == 0 && len(set.trusted) == 0 {
		return
	}
	a := v.SourceAddr()
	if !a.IsValid() {
		return
	}
	for _, l := range set.threat {
		if l.contains(a) {
			v.threat = l.name
			break
		}
	}
	for _, l := range set.trusted {
		if l.contains(a) {
			v.trusted = true
			break
		}
	}
}

// contains reports whether a is in the list: a binary search, no allocation.
// The search has no data-dependent branch (the compiler makes the step a
// conditional move), so random addresses cost no mispredictions.
func (l *ipList) contains(a netip.Addr) bool {
	if a.Is4() {
		b := a.As4()
		x := binary.BigEndian.Uint32(b[:])
		r := l.v4
		if len(r) == 0 {
			return false
		}
		// The last range starting at or below x is the only one that may hold it.
		base := 0
		for n := len(r); n > 1; {
			half := n / 2
			if r[base+half].lo <= x {
				base += half
			}
			n -= half
		}
		return r[base].lo <= x && x <= r[base].hi
	}
	x := toU128(a)
	r := l.v6
	if len(r) == 0 {
		return false
	}
	base := 0
	for n := len(r); n > 1; {
		half := n / 2
		if r[base+half].lo.cmp(x) <= 0 {
			base += half
		}
		n -= half
	}
	return r[base].lo.cmp(x) <= 0 && x.cmp(r[base].hi) <= 0
}

func toU128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// ListInfo describes a loaded intelligence list.
type ListInfo struct {
	Name    string // the file's base name, as findings show it
	Path    string
	Trusted bool // a trusted list; otherwise a threat list
	Entries int  // addresses and blocks read
	ModTime time.Time
}

// Lists describes the lists in force, threat lists first, in Options order.
func (e *Enricher) Lists() []ListInfo {
	set := e.intel.Load()
	var out []ListInfo
	for _, l := range slices.Concat(set.threat, set.trusted) {
		out = append(out, ListInfo{Name: l.name, Path: l.path, Trusted: l.trusted, Entries: l.entries, ModTime: l.stamp.mod})
	}
	return out
}

// Reload reads every list file again, reopens the MaxMind databases whose
// file changed, and puts them all in force at once. When a file cannot be
// read or parsed, the lists and databases in force stay and the error names
// the file (and line).
func (e *Enricher) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	set := &intelSet{}
	var errs []error
	for _, f := range []struct {
		paths   []string
		trusted bool
		into    *[]*ipList
	}{{e.threat, false, &set.threat}, {e.trusted, true, &set.trusted}} {
		for _, p := range f.paths {
			if err := ctx.Err(); err != nil {
				return err
			}
			l, err := loadList(p, f.trusted)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			*f.into = append(*f.into, l)
		}
	}
	geo, err := e.openGeo(e.geo.Load())
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	e.intel.Store(set)
	e.geo.Store(geo)
	return nil
}

// Watch reloads the lists and databases whenever one of their files changes
// (its modification time or size), checking every interval, until ctx is
// done; it returns ctx's error. After each reload it calls report, when not nil,
// with the reload's result. A file that fails to load is retried only once
// it changes again.
func (e *Enricher) Watch(ctx context.Context, interval time.Duration, report func(error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var failed []stamp // the files' stamps when a reload last failed
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		now := e.stamps()
		if slices.EqualFunc(now, e.loadedStamps(), stamp.equal) ||
			failed != nil && slices.EqualFunc(now, failed, stamp.equal) {
			continue
		}
		err := e.Reload(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failed = nil
		if err != nil {
			failed = now
		}
		if report != nil {
			report(err)
		}
	}
}

// stamps stats every list file and database, in load order.
func (e *Enricher) stamps() []stamp {
	var out []stamp
	for _, p := range slices.Concat(e.threat, e.trusted) {
		out = append(out, statStamp(p))
	}
	return append(out, e.geoStamps()...)
}

// loadedStamps are the stamps of the lists in force, in load order.
func (e *Enricher) loadedStamps() []stamp {
	set := e.intel.Load()
	var out []stamp
	for _, l := range slices.Concat(set.threat, set.trusted) {
		out = append(out, l.stamp)
	}
	return append(out, e.loadedGeoStamps()...)
}

func statStamp(path string) stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{err: err.Error()}
	}
	return stamp{mod: fi.ModTime(), size: fi.Size()}
}

func listKind(trusted bool) string {
	if trusted {
		return "trusted list"
	}
	return "threat list"
}

// loadList reads and parses one list file.
func loadList(path string, trusted bool) (*ipList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", listKind(trusted), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", listKind(trusted), err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxListSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", listKind(trusted), path, err)
	}
	if len(data) > maxListSize {
		return nil, fmt.Errorf("%s %s: larger than %d MiB", listKind(trusted), path, maxListSize>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	parse := parseTextList
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		parse = parseCSVList
	}
	prefixes, lineErrs := parse(data)
	if len(lineErrs) > 0 {
		errs := make([]error, 0, maxLineErrors+1)
		for i, le := range lineErrs {
			if i == maxLineErrors {
				errs = append(errs, fmt.Errorf("%s %s: %d more bad lines", listKind(trusted), path, len(lineErrs)-maxLineErrors))
				break
			}
			errs = append(errs, fmt.Errorf("%s %s:%d: %s", listKind(trusted), path, le.line, le.msg))
		}
		return nil, errors.Join(errs...)
	}
	l := &ipList{
		name:    filepath.Base(path),
		path:    path,
		trusted: trusted,
		entries: len(prefixes),
		stamp:   stamp{mod: fi.ModTime(), size: fi.Size()},
	}
	l.v4, l.v6 = buildRanges(prefixes)
	return l, nil
}

type lineError struct {
	line int
	msg  string
}

// parseTextList reads one address or block a line.
func parseTextList(data []byte) ([]netip.Prefix, []lineError) {
	var out []netip.Prefix
	var errs []lineError
	for n, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		p, ok := parseEntry(line)
		switch {
		case ok:
			out = append(out, p)
		case strings.ContainsAny(line, ", \t;"):
			errs = append(errs, lineError{n + 1, fmt.Sprintf("%q: one IP address or CIDR block a line (name the file *.csv for CSV)", line)})
		default:
			errs = append(errs, lineError{n + 1, fmt.Sprintf("%q is not an IP address or CIDR block", line)})
		}
	}
	return out, errs
}

// parseCSVList reads the first column of a CSV file, skipping a header.
func parseCSVList(data []byte) ([]netip.Prefix, []lineError) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	var out []netip.Prefix
	var errs []lineError
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			return out, errs
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return out, append(errs, lineError{pe.Line, pe.Err.Error()})
			}
			return out, append(errs, lineError{0, err.Error()})
		}
		line, _ := r.FieldPos(0)
		field := strings.TrimSpace(rec[0])
		p, ok := parseEntry(field)
		switch {
		case ok:
			out = append(out, p)
		case first:
			// A header: the first row, and not an address.
		default:
			errs = append(errs, lineError{line, fmt.Sprintf("first column %q is not an IP address or CIDR block", field)})
		}
	}
}

// parseEntry reads an address (as a single-address block) or a CIDR block.
func parseEntry(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// buildRanges turns blocks into sorted, merged ranges of addresses.
func buildRanges(prefixes []netip.Prefix) ([]range4, []range6) {
	var v4 []range4
	var v6 []range6
	for _, p := range prefixes {
		if p.Addr().Is4() {
			b := p.Addr().As4()
			lo := binary.BigEndian.Uint32(b[:])
			hi := lo | uint32(uint64(1)<<(32-p.Bits())-1)
			v4 = append(v4, range4{lo, hi})
			continue
		}
		lo := toU128(p.Addr())
		hi := lo
		host := 128 - p.Bits()
		switch {
		case host >= 64:
			hi.lo = ^uint64(0)
			hi.hi |= uint64(1)<<(host-64) - 1
			if host == 128 {
				hi.hi = ^uint64(0)
			}
		default:
			hi.lo |= uint64(1)<<host - 1
		}
		v6 = append(v6, range6{lo, hi})
	}
	slices.SortFunc(v4, func(a, b range4) int { return cmp.Compare(a.lo, b.lo) })
	slices.SortFunc(v6, func(a, b range6) int { return a.lo.cmp(b.lo) })
	// Merge overlapping ranges, so they are disjoint and the search is exact.
	m4 := v4[:0]
	for _, r := range v4 {
		if n := len(m4); n > 0 && r.lo <= m4[n-1].hi {
			m4[n-1].hi = max(m4[n-1].hi, r.hi)
			continue
		}
		m4 = append(m4, r)
	}
	m6 := v6[:0]
	for _, r := range v6 {
		if n := len(m6); n > 0 && r.lo.cmp(m6[n-1].hi) <= 0 {
			if r.hi.cmp(m6[n-1].hi) > 0 {
				m6[n-1].hi = r.hi
			}
			continue
		}
		m6 = append(m6, r)
	}
	return m4, m6
}
