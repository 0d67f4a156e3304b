package enrich

import "testing"

func TestSourceKind(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	cases := []struct{ ip, kind, addr string }{
		{"203.0.113.45", SourcePublic, "203.0.113.45"},
		{"8.8.8.8", SourcePublic, "8.8.8.8"},
		{"10.0.12.34", SourcePrivate, "10.0.12.34"},
		{"172.16.0.1", SourcePrivate, "172.16.0.1"},
		{"172.31.255.255", SourcePrivate, "172.31.255.255"},
		{"172.32.0.1", SourcePublic, "172.32.0.1"}, // just past 172.16/12
		{"192.168.1.1", SourcePrivate, "192.168.1.1"},
		{"100.64.3.9", SourcePrivate, "100.64.3.9"},  // carrier-grade NAT
		{"100.128.0.1", SourcePublic, "100.128.0.1"}, // just past 100.64/10
		{"127.0.0.1", SourcePrivate, "127.0.0.1"},    // loopback
		{"169.254.169.254", SourcePrivate, "169.254.169.254"},
		{"2a01:4f8:c2c:123f::1", SourcePublic, "2a01:4f8:c2c:123f::1"},
		{"2600:1f18:abcd::7", SourcePublic, "2600:1f18:abcd::7"},
		{"fd12:3456:789a:1::1", SourcePrivate, "fd12:3456:789a:1::1"}, // ULA
		{"fe80::1%eth0", SourcePrivate, "fe80::1"},                    // link-local, zone dropped
		{"::1", SourcePrivate, "::1"},
		{"::ffff:10.1.2.3", SourcePrivate, "10.1.2.3"}, // IPv4-mapped: classified as IPv4
		{"::ffff:203.0.113.200", SourcePublic, "203.0.113.200"},
		{"ec2.amazonaws.com", SourceAWSService, ""},
		{"cloudtrail.amazonaws.com", SourceAWSService, ""},
		{"AWS Internal", SourceAWSInternal, ""},
		{"not-an-address", SourceUnknown, ""},
		{"300.1.2.3", SourceUnknown, ""},
		{"", SourceUnknown, ""},
	}
	for _, c := range cases {
		v.Reset(decode(t, `{"eventVersion":"1.09","sourceIPAddress":"`+c.ip+`"}`))
		got, addr := v.SourceKind(), v.SourceAddr()
		gotAddr := ""
		if addr.IsValid() {
			gotAddr = addr.String()
		}
		if got != c.kind || gotAddr != c.addr {
			t.Errorf("%q: %s %q, want %s %q", c.ip, got, gotAddr, c.kind, c.addr)
		}
	}
	// A record without the field.
	v.Reset(decode(t, `{"eventVersion":"1.09"}`))
	if got := v.SourceKind(); got != SourceUnknown {
		t.Errorf("missing sourceIPAddress: %s", got)
	}
}
