package enrich

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/trailsentry/trailsentry/internal/event"
)

// benchEvents is a realistic mix: role sessions dominate a trail.
func benchEvents(b testing.TB) []*event.Event {
	recs := []string{
		assumedRoleTerraform, instanceRoleGetObject, ssoConsoleStopLogging, assumedRoleTerraform,
		instanceRoleGetObject, sourceIdentityRole, iamUserKaliCreateKey, awsServiceKMS,
		federatedUser, crossAccountGetObject, rootConsoleLogin, onBehalfOfRole,
	}
	out := make([]*event.Event, len(recs))
	for i, r := range recs {
		out[i] = decode(b, r)
	}
	return out
}

// The whole hot path must not allocate once a View has seen the events'
// names and user agents: a scan enriches every event.
func TestViewDoesNotAllocate(t *testing.T) {
	dir := t.TempDir()
	threat := writeFile(t, dir, "t.txt", "203.0.113.0/24\n2001:db8::/32\n")
	trusted := writeFile(t, dir, "ok.txt", "10.0.0.0/8\n")
	e := newEnricher(t, Options{ThreatLists: []string{threat}, TrustedLists: []string{trusted}})
	v := e.NewView()
	evs := append(benchEvents(t), decode(t, unknownServiceCall), decode(t, sessionTokenUser))
	all := func() {
		for _, ev := range evs {
			v.Reset(ev)
			_ = v.Actor()
			_ = v.Human()
			_ = v.KeyType()
			_ = v.MFA()
			_ = v.Console()
			_ = v.CrossAccount()
			_ = v.Action()
			_ = v.SourceKind()
			_ = v.UserAgentFamily()
			_ = v.Tooling()
			_, _ = v.ThreatListed()
			_ = v.Trusted()
		}
	}
	all() // warm the View's caches
	if n := testing.AllocsPerRun(100, all); n != 0 {
		t.Errorf("%.1f allocations per pass over %d events, want 0", n, len(evs))
	}
	refs := make([]FieldRef, 0, len(fields))
	for _, f := range fields {
		// request.* fields parse the request's parameters: they allocate, and
		// only rules indexed on the calls that carry such parameters read them.
		if strings.HasPrefix(f.Path, Prefix+"request.") {
			continue
		}
		r, _ := CompileField(f.Path)
		refs = append(refs, r)
	}
	get := func() {
		for _, ev := range evs {
			v.Reset(ev)
			for _, r := range refs {
				_ = v.Get(r)
				v.Lookup(r, func(event.Value) bool { return false })
			}
		}
	}
	get()
	if n := testing.AllocsPerRun(100, get); n != 0 {
		t.Errorf("field access: %.1f allocations per pass, want 0", n)
	}
}

func BenchmarkViewReset(b *testing.B) {
	e := newEnricher(b, Options{})
	v := e.NewView()
	evs := benchEvents(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v.Reset(evs[i%len(evs)])
	}
}

func BenchmarkViewActor(b *testing.B) {
	e := newEnricher(b, Options{})
	v := e.NewView()
	evs := benchEvents(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v.Reset(evs[i%len(evs)])
		if v.Actor() == "" {
			b.Fatal("no actor")
		}
	}
}

func BenchmarkViewAction(b *testing.B) {
	e := newEnricher(b, Options{})
	v := e.NewView()
	evs := benchEvents(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v.Reset(evs[i%len(evs)])
		if v.Action() == nil {
			b.Fatal("no action")
		}
	}
}

func BenchmarkViewClient(b *testing.B) {
	e := newEnricher(b, Options{})
	v := e.NewView()
	evs := benchEvents(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v.Reset(evs[i%len(evs)])
		_ = v.UserAgentFamily()
		_ = v.Tooling()
	}
}

// BenchmarkViewAllFields reads every field of every event through compiled
// references, as rules do: the most a rule set can cost.
func BenchmarkViewAllFields(b *testing.B) {
	dir := b.TempDir()
	threat := writeFile(b, dir, "t.txt", randomList(10000, 1))
	trusted := writeFile(b, dir, "ok.txt", "10.0.0.0/8\n")
	e := newEnricher(b, Options{ThreatLists: []string{threat}, TrustedLists: []string{trusted}})
	v := e.NewView()
	evs := benchEvents(b)
	var refs []FieldRef
	for _, f := range Fields() {
		r, _ := CompileField(f.Path)
		refs = append(refs, r)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v.Reset(evs[i%len(evs)])
		for _, r := range refs {
			_ = v.Get(r)
		}
	}
}

// BenchmarkViewSummary is what a finding pays for the enrichment it shows.
func BenchmarkViewSummary(b *testing.B) {
	e := newEnricher(b, Options{})
	v := e.NewView()
	evs := benchEvents(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v.Reset(evs[i%len(evs)])
		_ = v.Summary()
	}
}

// BenchmarkIntelMatch looks up callers' addresses in a threat list of 10,000
// addresses and blocks and a trusted list of 1,000.
func BenchmarkIntelMatch(b *testing.B) {
	dir := b.TempDir()
	threat := writeFile(b, dir, "threat.txt", randomList(10000, 1))
	trusted := writeFile(b, dir, "trusted.txt", randomList(1000, 2))
	e := newEnricher(b, Options{ThreatLists: []string{threat}, TrustedLists: []string{trusted}})
	v := e.NewView()
	r := rand.New(rand.NewPCG(3, 3))
	evs := make([]*event.Event, 1024)
	for i := range evs {
		ip := fmt.Sprintf("%d.%d.%d.%d", r.IntN(223)+1, r.IntN(256), r.IntN(256), r.IntN(256))
		if i%8 == 0 {
			ip = fmt.Sprintf("2001:db8:%x::%x", r.IntN(65536), r.IntN(65536))
		}
		evs[i] = decode(b, `{"eventVersion":"1.09","sourceIPAddress":"`+ip+`"}`)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v.Reset(evs[i%len(evs)])
		_, _ = v.ThreatListed()
		_ = v.Trusted()
	}
}

// randomList makes a list of n entries: addresses, /24 and /16 blocks, some IPv6.
func randomList(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, seed))
	var sb strings.Builder
	for i := range n {
		a, b2, c, d := r.IntN(223)+1, r.IntN(256), r.IntN(256), r.IntN(256)
		switch i % 10 {
		case 0:
			fmt.Fprintf(&sb, "%d.%d.%d.0/24\n", a, b2, c)
		case 1:
			fmt.Fprintf(&sb, "%d.%d.0.0/16\n", a, b2)
		case 2:
			fmt.Fprintf(&sb, "2001:db8:%x::/48\n", r.IntN(65536))
		default:
			fmt.Fprintf(&sb, "%d.%d.%d.%d\n", a, b2, c, d)
		}
	}
	return sb.String()
}
