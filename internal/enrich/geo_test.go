package enrich

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/trailsentry/trailsentry/internal/event"
)

// The fixtures are MaxMind databases written by the test with MaxMind's own
// writer (mmdbwriter, a test-only dependency), mapping the documentation
// ranges (RFC 5737, RFC 3849) to the documentation ASNs (RFC 5398) and
// made-up organisations: nothing here is a real network.

// mmdbNet is one network of a fixture database and its record.
type mmdbNet struct {
	cidr string
	rec  mmdbtype.Map
}

// writeMMDB writes a MaxMind database of type dbType (IPv6 tree unless
// ipVersion is 4) holding nets, and returns its path. The file is replaced
// by a rename, as geoipupdate does, never rewritten in place.
func writeMMDB(t testing.TB, path, dbType string, ipVersion int, nets []mmdbNet) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		IPVersion:               ipVersion,
		RecordSize:              28,
		IncludeReservedNetworks: true, // the documentation ranges are reserved
		Description:             map[string]string{"en": "trailsentry test fixture"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		_, ipnet, err := net.ParseCIDR(n.cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(ipnet, n.rec); err != nil {
			t.Fatalf("insert %s: %v", n.cidr, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func asnRec(n uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(n),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

// cityRec is a record shaped as a GeoIP2 City database's: the country with
// its names, the registered country, a city and a location, of which
// enrichment reads only the ISO codes.
func cityRec(country, registered, city string) mmdbtype.Map {
	m := mmdbtype.Map{
		"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148)},
		"location":  mmdbtype.Map{"latitude": mmdbtype.Float64(52.37), "longitude": mmdbtype.Float64(4.89), "accuracy_radius": mmdbtype.Uint16(100)},
	}
	if country != "" {
		m["country"] = mmdbtype.Map{
			"iso_code":   mmdbtype.String(country),
			"geoname_id": mmdbtype.Uint32(2750405),
			"names":      mmdbtype.Map{"en": mmdbtype.String("Country " + country), "de": mmdbtype.String("Land " + country)},
		}
	}
	if registered != "" {
		m["registered_country"] = mmdbtype.Map{"iso_code": mmdbtype.String(registered)}
	}
	if city != "" {
		m["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(city)}}
	}
	return m
}

var asnNets = []mmdbNet{
	{"192.0.2.0/24", asnRec(64496, "Example Transit B.V.")},
	{"198.51.100.0/24", asnRec(64497, "Example Hosting GmbH")},
	{"203.0.113.0/25", asnRec(64498, "EXAMPLE-CLOUD")}, // 203.0.113.128/25 is in no AS
	{"2001:db8::/32", asnRec(64499, "Example IPv6 Carrier")},
	{"2001:db8:beef::/48", asnRec(64500, "Example VPN Ltd")}, // more specific
}

var cityNets = []mmdbNet{
	{"192.0.2.0/24", cityRec("NL", "NL", "Amsterdam")},
	{"198.51.100.0/24", cityRec("DE", "DE", "Berlin")},
	{"203.0.113.0/24", cityRec("", "AU", "")}, // placed nowhere: the registered country
	{"2001:db8::/32", cityRec("JP", "JP", "Tokyo")},
}

// geoFixtures writes an ASN and a City database into dir.
func geoFixtures(t testing.TB, dir string) (asnDB, cityDB string) {
	t.Helper()
	return writeMMDB(t, filepath.Join(dir, "GeoLite2-ASN.mmdb"), "GeoLite2-ASN", 6, asnNets),
		writeMMDB(t, filepath.Join(dir, "GeoIP2-City.mmdb"), "GeoIP2-City", 6, cityNets)
}

// ipv6Record is a CloudTrail record from an IPv6 address inside the
// more specific 2001:db8:beef::/48.
const ipv6Record = `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAXU5EXAMPLEUSER04","arn":"arn:aws:iam::111122223333:user/frank","accountId":"111122223333","accessKeyId":"AKIAXU5EXAMPLEKEY011","userName":"frank"},"eventTime":"2024-03-12T21:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"2001:db8:beef::10","userAgent":"aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.6.9 md/arch#x86_64 lang/python#3.11.8","requestParameters":{"Host":"s3.amazonaws.com"},"responseElements":null,"eventID":"c0b2c3d4-0000-4a5e-9d2a-0f1e2d3c4b5a","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`

// geoCases are CloudTrail records and what the fixtures say about their
// sourceIPAddress.
var geoCases = []struct {
	name, record  string
	asn           uint32
	org, country  string
	sourceKindWas string
}{
	{"rootConsoleLogin 198.51.100.23", rootConsoleLogin, 64497, "Example Hosting GmbH", "DE", SourcePublic},
	{"identityCenterUser 192.0.2.44", identityCenterUser, 64496, "Example Transit B.V.", "NL", SourcePublic},
	{"iamUserKaliCreateKey 203.0.113.77", iamUserKaliCreateKey, 64498, "EXAMPLE-CLOUD", "AU", SourcePublic},
	// IPv4-mapped IPv6, outside the AS's /25: no ASN, the registered country.
	{"crossAccountGetObject ::ffff:203.0.113.200", crossAccountGetObject, 0, "", "AU", SourcePublic},
	{"ipv6Record 2001:db8:beef::10", ipv6Record, 64500, "Example VPN Ltd", "JP", SourcePublic},
	{"sessionTokenUser fd12:… (ULA)", sessionTokenUser, 0, "", "", SourcePrivate},
	{"sourceIdentityRole 2a01:4f8:… (not in the databases)", sourceIdentityRole, 0, "", "", SourcePublic},
	{"assumedRoleTerraform 34.240.10.20 (not in the databases)", assumedRoleTerraform, 0, "", "", SourcePublic},
	{"instanceRoleGetObject 10.0.12.34", instanceRoleGetObject, 0, "", "", SourcePrivate},
	{"awsServiceKMS cloudtrail.amazonaws.com", awsServiceKMS, 0, "", "", SourceAWSService},
	{"rootAccessKey AWS Internal", rootAccessKey, 0, "", "", SourceAWSInternal},
	{"unknownServiceCall not-an-address", unknownServiceCall, 0, "", "", SourceUnknown},
}

func TestGeoLookup(t *testing.T) {
	asnDB, cityDB := geoFixtures(t, t.TempDir())
	e := newEnricher(t, Options{ASNDatabase: asnDB, GeoDatabase: cityDB})
	v := e.NewView()
	asnRef, _ := CompileField(Prefix + "network.asn")
	orgRef, _ := CompileField(Prefix + "network.asnOrg")
	countryRef, _ := CompileField(Prefix + "network.country")
	for pass := range 2 { // the second pass is answered from the View's cache
		for _, c := range geoCases {
			v.Reset(decode(t, c.record))
			if k := v.SourceKind(); k != c.sourceKindWas {
				t.Errorf("%s: source kind %s, want %s", c.name, k, c.sourceKindWas)
			}
			asn, org, ok := v.ASN()
			if asn != c.asn || org != c.org || ok != (c.asn != 0) {
				t.Errorf("pass %d %s: ASN() = %d %q %v, want %d %q", pass, c.name, asn, org, ok, c.asn, c.org)
			}
			country, ok := v.Country()
			if country != c.country || ok != (c.country != "") {
				t.Errorf("pass %d %s: Country() = %q %v, want %q", pass, c.name, country, ok, c.country)
			}
			wantASN := event.Value{}
			if c.asn != 0 {
				wantASN = event.Value{Kind: event.String, Str: fmt.Sprint(c.asn)}
			}
			if got := v.Get(asnRef); got != wantASN {
				t.Errorf("%s: network.asn %v, want %v", c.name, got, wantASN)
			}
			if got := v.Get(orgRef); got != str(c.org) {
				t.Errorf("%s: network.asnOrg %v, want %q", c.name, got, c.org)
			}
			if got := v.Get(countryRef); got != str(c.country) {
				t.Errorf("%s: network.country %v, want %q", c.name, got, c.country)
			}
		}
	}
	// Only addresses are looked up and cached: 192.0.2.44, 198.51.100.23,
	// 203.0.113.77, 203.0.113.200, 2001:db8:beef::10, fd12:3456:789a:1::1,
	// 2a01:4f8:c2c:123f::1, 34.240.10.20, 10.0.12.34.
	if n := len(v.geoCache); n != 9 {
		t.Errorf("%d addresses cached, want 9", n)
	}
	dbs := e.Databases()
	if len(dbs) != 2 || dbs[0].Kind != "ASN database" || dbs[0].Type != "GeoLite2-ASN" || dbs[0].Path != asnDB ||
		dbs[1].Kind != "geo database" || dbs[1].Type != "GeoIP2-City" || dbs[1].Built.IsZero() {
		t.Errorf("Databases() = %+v", dbs)
	}
}

// A rule addresses the new fields like any other, and Sigma's
// `field: null` matches them when missing.
func TestGeoFieldsAgreeWithSummary(t *testing.T) {
	asnDB, cityDB := geoFixtures(t, t.TempDir())
	for _, opts := range []Options{{}, {ASNDatabase: asnDB}, {GeoDatabase: cityDB}, {ASNDatabase: asnDB, GeoDatabase: cityDB}} {
		e := newEnricher(t, opts)
		v := e.NewView()
		for _, c := range geoCases {
			v.Reset(decode(t, c.record))
			b, err := json.Marshal(v.Summary())
			if err != nil {
				t.Fatal(err)
			}
			var summary map[string]any
			if err := json.Unmarshal(b, &summary); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"network.asn", "network.asnOrg", "network.country"} {
				got, ok := v.Field(Prefix + f)
				if !ok {
					t.Fatalf("%s is not a field", f)
				}
				if want := summaryValue(summary, f); got != want {
					t.Errorf("%+v %s %s: field %v, Summary %v", opts, c.name, f, got, want)
				}
			}
			asn, _, _ := v.ASN()
			country, _ := v.Country()
			if opts.ASNDatabase == "" && asn != 0 || opts.GeoDatabase == "" && country != "" {
				t.Errorf("%+v %s: ASN %d, country %q from a database not given", opts, c.name, asn, country)
			}
		}
	}
}

func TestGeoSummaryJSON(t *testing.T) {
	asnDB, cityDB := geoFixtures(t, t.TempDir())
	e := newEnricher(t, Options{ASNDatabase: asnDB, GeoDatabase: cityDB})
	v := e.NewView()
	network := func(record string) string {
		v.Reset(decode(t, record))
		var s struct {
			Network json.RawMessage `json:"network"`
		}
		b, err := json.Marshal(v.Summary().Clone())
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		return string(s.Network)
	}
	for _, c := range []struct{ record, want string }{
		{rootConsoleLogin, `{"sourceKind":"public","asn":"64497","asnOrg":"Example Hosting GmbH","country":"DE"}`},
		{ipv6Record, `{"sourceKind":"public","asn":"64500","asnOrg":"Example VPN Ltd","country":"JP"}`},
		{crossAccountGetObject, `{"sourceKind":"public","country":"AU"}`},
		{awsServiceKMS, `{"sourceKind":"aws-service"}`},
		{instanceRoleGetObject, `{"sourceKind":"private"}`},
	} {
		if got := network(c.record); got != c.want {
			t.Errorf("network:\n got %s\nwant %s", got, c.want)
		}
	}
}

// An IPv4-only database answers IPv4 addresses and nothing for IPv6 ones.
func TestGeoIPv4OnlyDatabase(t *testing.T) {
	dir := t.TempDir()
	asnDB := writeMMDB(t, filepath.Join(dir, "asn4.mmdb"), "GeoLite2-ASN", 4, asnNets[:3])
	e := newEnricher(t, Options{ASNDatabase: asnDB})
	v := e.NewView()
	v.Reset(decode(t, rootConsoleLogin))
	if asn, _, ok := v.ASN(); !ok || asn != 64497 {
		t.Errorf("IPv4 address in an IPv4 database: %d %v", asn, ok)
	}
	v.Reset(decode(t, ipv6Record))
	if asn, org, ok := v.ASN(); ok || asn != 0 || org != "" {
		t.Errorf("IPv6 address in an IPv4 database: %d %q %v", asn, org, ok)
	}
	v.Reset(decode(t, crossAccountGetObject)) // ::ffff:203.0.113.200 is unmapped to IPv4 first
	if _, ok := v.Country(); ok {
		t.Error("a country without a geo database")
	}
}

func TestGeoOpenErrors(t *testing.T) {
	dir := t.TempDir()
	asnDB, cityDB := geoFixtures(t, dir)
	good, err := os.ReadFile(asnDB)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The search tree comes first in the file: overwrite its first node.
	badTree := bytes.Clone(good)
	for i := range 7 {
		badTree[i] = 0xff
	}
	// Zero the data section's records, past the tree and its separator
	// (metadata and its marker stay intact at the end).
	badData := bytes.Clone(good)
	marker := bytes.LastIndex(badData, []byte("\xab\xcd\xefMaxMind.com"))
	sep := bytes.Index(badData, make([]byte, 16))
	if marker < 0 || sep < 0 {
		t.Fatal("fixture layout")
	}
	for i := sep + 16; i < marker; i++ {
		badData[i] = 0xff
	}
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"missing ASN file", Options{ASNDatabase: filepath.Join(dir, "nope.mmdb")}, "ASN database: stat " + filepath.Join(dir, "nope.mmdb")},
		{"missing geo file", Options{GeoDatabase: filepath.Join(dir, "none.mmdb")}, "geo database: stat " + filepath.Join(dir, "none.mmdb")},
		{"a directory", Options{ASNDatabase: dir}, "ASN database " + dir + ": not a readable MaxMind database"},
		{"empty file", Options{ASNDatabase: write("empty.mmdb", nil)}, "empty.mmdb: not a readable MaxMind database"},
		{"text file", Options{GeoDatabase: write("list.txt", []byte("203.0.113.0/24\n"))}, "geo database " + filepath.Join(dir, "list.txt") + ": not a readable MaxMind database"},
		{"truncated", Options{ASNDatabase: write("truncated.mmdb", good[:len(good)/2])}, "truncated.mmdb: not a readable MaxMind database"},
		{"corrupt tree", Options{ASNDatabase: write("badtree.mmdb", badTree)}, "badtree.mmdb: corrupt MaxMind database"},
		{"corrupt records", Options{ASNDatabase: write("baddata.mmdb", badData)}, "baddata.mmdb: corrupt MaxMind database"},
		{"City given as ASN", Options{ASNDatabase: cityDB}, "a GeoIP2-City database holds no autonomous systems"},
		{"ASN given as geo", Options{GeoDatabase: asnDB}, "a GeoLite2-ASN database holds no countries"},
	} {
		e, err := New(context.Background(), c.opts)
		if err == nil {
			t.Errorf("%s: no error (%v)", c.name, e.Databases())
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant it to say %q", c.name, err, c.want)
		}
	}
	// Both broken: both named.
	_, err = New(context.Background(), Options{ASNDatabase: filepath.Join(dir, "empty.mmdb"), GeoDatabase: filepath.Join(dir, "list.txt")})
	if err == nil || !strings.Contains(err.Error(), "empty.mmdb") || !strings.Contains(err.Error(), "list.txt") {
		t.Errorf("two broken databases: %v", err)
	}
}

func TestGeoReload(t *testing.T) {
	dir := t.TempDir()
	asnDB, cityDB := geoFixtures(t, dir)
	e := newEnricher(t, Options{ASNDatabase: asnDB, GeoDatabase: cityDB})
	v := e.NewView()
	asnOf := func(record string) uint32 {
		v.Reset(decode(t, record))
		asn, _, _ := v.ASN()
		return asn
	}
	if got := asnOf(rootConsoleLogin); got != 64497 {
		t.Fatalf("before: %d", got)
	}
	city := e.geo.Load().country
	// A new edition of the ASN database moves 198.51.100.0/24.
	moved := append([]mmdbNet{{"198.51.100.0/24", asnRec(64510, "Example Acquirer Inc")}}, asnNets[:1]...)
	writeMMDB(t, asnDB, "GeoLite2-ASN", 6, moved)
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(asnDB, future, future); err != nil {
		t.Fatal(err)
	}
	if got := asnOf(rootConsoleLogin); got != 64497 {
		t.Errorf("changed before Reload: %d", got)
	}
	if err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The View's cache held 198.51.100.23 → 64497: the reload must start it over.
	if got := asnOf(rootConsoleLogin); got != 64510 {
		t.Errorf("after Reload: %d, want 64510", got)
	}
	if e.geo.Load().country != city {
		t.Error("Reload reopened the geo database, which did not change")
	}
	// A broken edition: Reload fails naming it, and the database in force stays.
	if err := os.WriteFile(asnDB, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), asnDB) {
		t.Errorf("Reload of a broken database: %v", err)
	}
	if got := asnOf(rootConsoleLogin); got != 64510 {
		t.Errorf("a failed Reload dropped the database: %d", got)
	}
}

func TestGeoWatch(t *testing.T) {
	dir := t.TempDir()
	asnDB, cityDB := geoFixtures(t, dir)
	e := newEnricher(t, Options{ASNDatabase: asnDB, GeoDatabase: cityDB})
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
	select {
	case err := <-reports:
		t.Fatalf("reload without a change: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	writeMMDB(t, cityDB, "GeoIP2-City", 6, []mmdbNet{{"198.51.100.0/24", cityRec("FR", "FR", "Paris")}})
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(cityDB, future, future); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-reports:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not reload the changed database")
	}
	v := e.NewView()
	v.Reset(decode(t, rootConsoleLogin))
	if c, _ := v.Country(); c != "FR" {
		t.Errorf("after Watch reloaded: %q, want FR", c)
	}
}

// Views look addresses up while Reload replaces the databases and the
// garbage collector unmaps the replaced ones (go test -race): a View never
// reads a database that was unmapped under it.
func TestGeoReloadConcurrent(t *testing.T) {
	dir := t.TempDir()
	asnDB, cityDB := geoFixtures(t, dir)
	e := newEnricher(t, Options{ASNDatabase: asnDB, GeoDatabase: cityDB})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := e.NewView()
			evs := []*event.Event{decode(t, rootConsoleLogin), decode(t, ipv6Record)}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v.Reset(evs[(i+w)%2])
				if asn, org, ok := v.ASN(); !ok || org == "" || asn < 64497 {
					t.Errorf("lookup during reload: %d %q %v", asn, org, ok)
					return
				}
				if i%64 == 0 {
					clear(v.geoCache) // look up in the database, not the cache
				}
			}
		}()
	}
	for i := range 30 {
		writeMMDB(t, asnDB, "GeoLite2-ASN", 6, asnNets)
		mt := time.Now().Add(time.Duration(i+1) * time.Minute)
		if err := os.Chtimes(asnDB, mt, mt); err != nil {
			t.Fatal(err)
		}
		if err := e.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
	}
	close(stop)
	wg.Wait()
}

// The per-View cache stays bounded however many addresses a trail holds.
func TestGeoCacheBounded(t *testing.T) {
	asnDB, _ := geoFixtures(t, t.TempDir())
	e := newEnricher(t, Options{ASNDatabase: asnDB})
	v := e.NewView()
	for i := range geoCacheLimit + 100 {
		v.Reset(decode(t, fmt.Sprintf(`{"eventVersion":"1.09","sourceIPAddress":"2001:db8:%x::%x"}`, i>>16, i&0xffff)))
		if asn, _, ok := v.ASN(); !ok || asn != 64499 {
			t.Fatalf("address %d: %d %v", i, asn, ok)
		}
		if len(v.geoCache) > geoCacheLimit {
			t.Fatalf("cache grew to %d", len(v.geoCache))
		}
	}
}

// Once an address is cached, enrichment from the databases allocates
// nothing per event, like the rest of a View.
func TestGeoDoesNotAllocate(t *testing.T) {
	asnDB, cityDB := geoFixtures(t, t.TempDir())
	e := newEnricher(t, Options{ASNDatabase: asnDB, GeoDatabase: cityDB})
	v := e.NewView()
	var evs []*event.Event
	for _, c := range geoCases {
		evs = append(evs, decode(t, c.record))
	}
	refs := []FieldRef{}
	for _, f := range []string{"network.asn", "network.asnOrg", "network.country"} {
		r, err := CompileField(Prefix + f)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	all := func() {
		for _, ev := range evs {
			v.Reset(ev)
			_, _, _ = v.ASN()
			_, _ = v.Country()
			for _, r := range refs {
				_ = v.Get(r)
			}
		}
	}
	all()
	if n := testing.AllocsPerRun(100, all); n != 0 {
		t.Errorf("%.1f allocations per pass over %d events, want 0", n, len(evs))
	}
}

// FuzzGeoDatabase hands New any bytes as a database: it is refused with an
// error or, when accepted, answers lookups; it never panics.
func FuzzGeoDatabase(f *testing.F) {
	dir := f.TempDir()
	asnDB, cityDB := geoFixtures(f, dir)
	for _, p := range []string{asnDB, cityDB} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[len(b)/3:])
	}
	f.Add([]byte("\xab\xcd\xefMaxMind.com"))
	evs := []*event.Event{}
	for _, c := range geoCases {
		evs = append(evs, decode(f, c.record))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "fuzz.mmdb")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, opts := range []Options{{ASNDatabase: p}, {GeoDatabase: p}} {
			e, err := New(context.Background(), opts)
			if err != nil {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error does not name the file: %v", err)
				}
				continue
			}
			v := e.NewView()
			for _, ev := range evs {
				v.Reset(ev)
				_ = v.Summary()
			}
		}
	})
}

// benchGeo is a realistic ASN and City database pair: n networks of random
// sizes over the IPv4 and IPv6 space, a record for each.
func benchGeo(b *testing.B, n int) (asnDB, cityDB string, addrs []string) {
	b.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	countries := []string{"US", "DE", "NL", "FR", "GB", "JP", "BR", "IN", "AU", "SG"}
	var asn, city []mmdbNet
	for i := range n {
		var cidr, addr string
		if i%8 == 0 {
			hi := r.IntN(0x3fff) + 0x2400
			cidr = fmt.Sprintf("%x:%x::/32", hi, r.IntN(65536))
			addr = strings.Replace(cidr, "::/32", fmt.Sprintf("::%x", r.IntN(65536)), 1)
		} else {
			a, b2, c := r.IntN(200)+1, r.IntN(256), r.IntN(256)
			cidr = fmt.Sprintf("%d.%d.%d.0/24", a, b2, c)
			addr = fmt.Sprintf("%d.%d.%d.%d", a, b2, c, r.IntN(256))
		}
		asn = append(asn, mmdbNet{cidr, asnRec(uint32(r.IntN(400000)+1), fmt.Sprintf("Example Network %d", r.IntN(50000)))})
		city = append(city, mmdbNet{cidr, cityRec(countries[r.IntN(len(countries))], "US", fmt.Sprintf("City %d", r.IntN(1000)))})
		addrs = append(addrs, addr)
	}
	dir := b.TempDir()
	return writeMMDB(b, filepath.Join(dir, "asn.mmdb"), "GeoLite2-ASN", 6, asn),
		writeMMDB(b, filepath.Join(dir, "city.mmdb"), "GeoIP2-City", 6, city), addrs
}

func benchGeoEvents(b *testing.B, addrs []string, distinct int) []*event.Event {
	evs := make([]*event.Event, 4096)
	for i := range evs {
		ip := addrs[(i*7919)%distinct]
		evs[i] = decode(b, `{"eventVersion":"1.09","eventSource":"s3.amazonaws.com","eventName":"GetObject","sourceIPAddress":"`+ip+`"}`)
	}
	return evs
}

// BenchmarkGeoCached is what a rule reading the geo fields costs per event
// when a trail's callers come from a few thousand addresses.
func BenchmarkGeoCached(b *testing.B) {
	asnDB, cityDB, addrs := benchGeo(b, 20000)
	e := newEnricher(b, Options{ASNDatabase: asnDB, GeoDatabase: cityDB})
	v := e.NewView()
	evs := benchGeoEvents(b, addrs, 3000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v.Reset(evs[i%len(evs)])
		_, _, _ = v.ASN()
		_, _ = v.Country()
	}
}

// BenchmarkGeoUncached looks every event's address up in both databases:
// the cost of a cache miss.
func BenchmarkGeoUncached(b *testing.B) {
	asnDB, cityDB, addrs := benchGeo(b, 20000)
	e := newEnricher(b, Options{ASNDatabase: asnDB, GeoDatabase: cityDB})
	v := e.NewView()
	evs := benchGeoEvents(b, addrs, len(addrs))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		clear(v.geoCache)
		v.Reset(evs[i%len(evs)])
		_, _, _ = v.ASN()
		_, _ = v.Country()
	}
}

// BenchmarkGeoOpen is what New (and a Reload after a new edition) pays to
// open and verify both databases.
func BenchmarkGeoOpen(b *testing.B) {
	asnDB, cityDB, _ := benchGeo(b, 100000)
	for _, p := range []string{asnDB, cityDB} {
		fi, _ := os.Stat(p)
		b.Logf("%s: %d KiB", filepath.Base(p), fi.Size()>>10)
	}
	b.ReportAllocs()
	for b.Loop() {
		newEnricher(b, Options{ASNDatabase: asnDB, GeoDatabase: cityDB})
	}
}
