package enrich

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// at reports what a View says about a call from ip.
func at(v *View, t testing.TB, ip string) (threat string, trusted bool) {
	v.Reset(decode(t, `{"eventVersion":"1.09","sourceIPAddress":"`+ip+`"}`))
	threat, _ = v.ThreatListed()
	return threat, v.Trusted()
}

func TestIntelTextList(t *testing.T) {
	dir := t.TempDir()
	threat := writeFile(t, dir, "tor-exits.txt", `# Tor exit nodes, refreshed daily
185.220.101.1
185.220.102.0/24   # a whole block

  45.153.160.2  
10.1.2.3/8
2001:db8:dead::/48
2001:db8:beef::1
::ffff:198.51.100.0/120
`)
	e := newEnricher(t, Options{ThreatLists: []string{threat}})
	v := e.NewView()
	cases := []struct {
		ip     string
		listed bool
	}{
		{"185.220.101.1", true},
		{"185.220.101.2", false},
		{"185.220.102.0", true}, // first of the block
		{"185.220.102.255", true},
		{"185.220.103.0", false}, // just past it
		{"185.220.101.255", false},
		{"45.153.160.2", true},
		{"10.200.0.1", true}, // host bits of 10.1.2.3/8 ignored
		{"11.0.0.0", false},
		{"9.255.255.255", false},
		{"2001:db8:dead::", true},
		{"2001:db8:dead:ffff:ffff:ffff:ffff:ffff", true},
		{"2001:db8:deae::", false},
		{"2001:db8:beef::1", true},
		{"2001:db8:beef::2", false},
		{"198.51.100.77", true},        // an IPv4-mapped block is an IPv4 block
		{"::ffff:185.220.101.1", true}, // and a mapped caller an IPv4 caller
		{"ec2.amazonaws.com", false},   // not an address
		{"AWS Internal", false},
	}
	for _, c := range cases {
		list, trusted := at(v, t, c.ip)
		if (list == "tor-exits.txt") != c.listed || (list != "" && list != "tor-exits.txt") || trusted {
			t.Errorf("%s: threat %q trusted %v, want listed %v", c.ip, list, trusted, c.listed)
		}
	}
	info := e.Lists()
	if len(info) != 1 || info[0].Name != "tor-exits.txt" || info[0].Entries != 7 || info[0].Trusted || info[0].Path != threat {
		t.Errorf("Lists() = %+v", info)
	}
}

func TestIntelCSVList(t *testing.T) {
	dir := t.TempDir()
	withHeader := writeFile(t, dir, "office.csv", "cidr,description,owner\n"+
		"# VPN egress\n"+
		"198.51.100.0/24,\"Paris office, floor 2\",netops\n"+
		" 203.0.113.9 ,single host,netops\n"+
		"2001:db8:1::/64,v6 office,netops\n")
	noHeader := writeFile(t, dir, "partners.CSV", "192.0.2.0/28,partner A\n192.0.2.64/28,partner B\n")
	e := newEnricher(t, Options{TrustedLists: []string{withHeader, noHeader}})
	v := e.NewView()
	for ip, want := range map[string]bool{
		"198.51.100.10": true,
		"203.0.113.9":   true,
		"203.0.113.10":  false,
		"2001:db8:1::5": true,
		"2001:db8:2::5": false,
		"192.0.2.15":    true,
		"192.0.2.16":    false,
		"192.0.2.70":    true,
	} {
		if list, trusted := at(v, t, ip); trusted != want || list != "" {
			t.Errorf("%s: trusted %v threat %q, want trusted %v", ip, trusted, list, want)
		}
	}
	if info := e.Lists(); len(info) != 2 || info[0].Entries != 3 || info[1].Entries != 2 || !info[0].Trusted {
		t.Errorf("Lists() = %+v", info)
	}
}

func TestIntelBadLines(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		want          []string
	}{
		{"bad.txt", "1.2.3.4\nnot-an-ip\n5.6.7.8/33\n", []string{"bad.txt:2: \"not-an-ip\" is not an IP address or CIDR block", "bad.txt:3: \"5.6.7.8/33\""}},
		{"csvish.txt", "1.2.3.4,evil\n", []string{"csvish.txt:1:", "name the file *.csv"}},
		{"zone.txt", "fe80::1%eth0\n", []string{"zone.txt:1:"}},
		{"bad.csv", "ip,note\n1.2.3.4,ok\nnope,bad\n", []string{"bad.csv:3: first column \"nope\""}},
		{"quote.csv", "1.2.3.4,\"unterminated\n", []string{"quote.csv:"}},
		{"many.txt", strings.Repeat("x\n", 12), []string{"many.txt:10:", "2 more bad lines"}},
	}
	for _, c := range cases {
		p := writeFile(t, dir, c.name, c.content)
		_, err := New(context.Background(), Options{ThreatLists: []string{p}})
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
		if !strings.Contains(err.Error(), "threat list "+dir) {
			t.Errorf("%s: error %q does not name the file", c.name, err)
		}
	}
	_, err := New(context.Background(), Options{TrustedLists: []string{filepath.Join(dir, "missing.txt")}})
	if err == nil || !strings.Contains(err.Error(), "trusted list") || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file: %v", err)
	}
}

// Threat lists are checked in order; the first holding the address names it.
func TestIntelSeveralLists(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.txt", "10.0.0.0/8\n")
	b := writeFile(t, dir, "b.txt", "10.1.0.0/16\n172.16.0.1\n")
	ok := writeFile(t, dir, "ok.txt", "10.1.2.3\n")
	e := newEnricher(t, Options{ThreatLists: []string{a, b}, TrustedLists: []string{ok}})
	v := e.NewView()
	for ip, want := range map[string]struct {
		threat  string
		trusted bool
	}{
		"10.1.2.3":   {"a.txt", true}, // on both kinds of list: both say so
		"10.9.0.1":   {"a.txt", false},
		"172.16.0.1": {"b.txt", false},
		"172.16.0.2": {"", false},
	} {
		threat, trusted := at(v, t, ip)
		if threat != want.threat || trusted != want.trusted {
			t.Errorf("%s: %q %v, want %q %v", ip, threat, trusted, want.threat, want.trusted)
		}
	}
}

func TestBuildRanges(t *testing.T) {
	parse := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, x := range s {
			p, ok := parseEntry(x)
			if !ok {
				t.Fatalf("parseEntry(%q)", x)
			}
			out = append(out, p)
		}
		return out
	}
	v4, v6 := buildRanges(parse("10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24", "10.0.3.0/24", "0.0.0.0/0"))
	if len(v4) != 1 || v4[0] != (range4{0, 0xffffffff}) || len(v6) != 0 {
		t.Errorf("with /0: %v %v", v4, v6)
	}
	v4, _ = buildRanges(parse("10.0.3.0/24", "10.0.0.128/25", "10.0.0.0/24", "10.0.0.7"))
	want := []range4{{0x0a000000, 0x0a0000ff}, {0x0a000300, 0x0a0003ff}}
	if fmt.Sprint(v4) != fmt.Sprint(want) {
		t.Errorf("merged %x, want %x", v4, want)
	}
	_, v6 = buildRanges(parse("::/0", "2001:db8::/32"))
	if len(v6) != 1 || v6[0].lo != (u128{}) || v6[0].hi != (u128{^uint64(0), ^uint64(0)}) {
		t.Errorf("v6 /0: %v", v6)
	}
	_, v6 = buildRanges(parse("2001:db8::/64", "2001:db8:0:0:8000::/65"))
	if len(v6) != 1 || v6[0].hi != (u128{0x20010db800000000, ^uint64(0)}) {
		t.Errorf("v6 /64: %x", v6)
	}
	_, v6 = buildRanges(parse("2001:db8::/96"))
	if v6[0].hi != (u128{0x20010db800000000, 0xffffffff}) {
		t.Errorf("v6 /96: %x", v6)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "threats.txt", "203.0.113.1\n")
	e := newEnricher(t, Options{ThreatLists: []string{p}})
	v := e.NewView()
	if l, _ := at(v, t, "203.0.113.1"); l != "threats.txt" {
		t.Fatalf("before: %q", l)
	}
	writeFile(t, dir, "threats.txt", "203.0.113.2\n")
	if l, _ := at(v, t, "203.0.113.1"); l != "threats.txt" {
		t.Errorf("changed before Reload: %q", l)
	}
	if err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l, _ := at(v, t, "203.0.113.1"); l != "" {
		t.Errorf("after Reload, old address still listed: %q", l)
	}
	if l, _ := at(v, t, "203.0.113.2"); l != "threats.txt" {
		t.Errorf("after Reload, new address not listed: %q", l)
	}
	// A broken file: Reload fails and the lists in force stay.
	writeFile(t, dir, "threats.txt", "203.0.113.3\ngarbage\n")
	if err := e.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "threats.txt:2") {
		t.Errorf("Reload of a bad file: %v", err)
	}
	if l, _ := at(v, t, "203.0.113.2"); l != "threats.txt" {
		t.Errorf("a failed Reload dropped the lists: %q", l)
	}
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "threats.txt", "203.0.113.1\n")
	e := newEnricher(t, Options{ThreatLists: []string{p}})
	v := e.NewView()
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan error, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := e.Watch(ctx, 5*time.Millisecond, func(err error) { reports <- err }); err != context.Canceled {
			t.Errorf("Watch returned %v", err)
		}
	}()
	defer func() { cancel(); wg.Wait() }()

	// touch rewrites the file and moves its modification time forward, so
	// the change shows on file systems with coarse timestamps too.
	step := 0
	// touch replaces the file whole, as an editor or a deploy does: a
	// half-written file would be a different (and racy) test.
	touch := func(content string) {
		step++
		tmp := writeFile(t, t.TempDir(), "threats.txt", content)
		mt := time.Now().Add(time.Duration(step) * time.Minute)
		if err := os.Chtimes(tmp, mt, mt); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
	wait := func() error {
		select {
		case err := <-reports:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Watch did not reload")
		}
		return nil
	}

	// No change, no reload.
	select {
	case err := <-reports:
		t.Fatalf("reload without a change: %v", err)
	case <-time.After(50 * time.Millisecond):
	}

	touch("203.0.113.2\n")
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if l, _ := at(v, t, "203.0.113.2"); l != "threats.txt" {
		t.Errorf("after Watch reloaded: %q", l)
	}

	// A broken file is reported once, and the lists stay.
	touch("203.0.113.3\nbroken\n")
	if err := wait(); err == nil || !strings.Contains(err.Error(), "threats.txt:2") {
		t.Errorf("broken file: %v", err)
	}
	select {
	case err := <-reports:
		t.Errorf("a broken file was reported again: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if l, _ := at(v, t, "203.0.113.2"); l != "threats.txt" {
		t.Errorf("a failed reload dropped the lists: %q", l)
	}

	// Fixed: reloaded.
	touch("203.0.113.3\n")
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if l, _ := at(v, t, "203.0.113.3"); l != "threats.txt" {
		t.Errorf("after the fix: %q", l)
	}
}

// Views read the lists while Reload replaces them (go test -race).
func TestReloadConcurrent(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "threats.txt", "203.0.113.0/24\n")
	e := newEnricher(t, Options{ThreatLists: []string{p}})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := e.NewView()
			ev := decode(t, `{"eventVersion":"1.09","sourceIPAddress":"203.0.113.7"}`)
			for range 2000 {
				v.Reset(ev)
				if l, ok := v.ThreatListed(); !ok || l != "threats.txt" {
					t.Errorf("lookup during reload: %q %v", l, ok)
					return
				}
			}
		}()
	}
	for range 50 {
		if err := e.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
