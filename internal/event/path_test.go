package event

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

func lookupAll(ev *Event, path string) []string {
	var out []string
	ev.Lookup(ParsePath(path), func(v Value) bool {
		out = append(out, v.Kind.String()+":"+v.Text())
		return false
	})
	return out
}

func TestLookup(t *testing.T) {
	ev, err := NewDecoder(strings.NewReader(fixture(t, "assumed_role_sg_ingress.json"))).Next()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want []string
	}{
		{"eventName", []string{"string:AuthorizeSecurityGroupIngress"}},
		{"readOnly", []string{"bool:false"}},
		{"userIdentity.sessionContext.attributes.creationDate", []string{"string:2024-03-11T09:58:12Z"}},
		{"requestParameters.groupId", []string{"string:sg-0a1b2c3d4e5f67890"}},
		// An array on the way fans out to every element.
		{"requestParameters.ipPermissions.items.fromPort", []string{"number:22", "number:443"}},
		{"requestParameters.ipPermissions.items.ipRanges.items.cidrIp", []string{"string:0.0.0.0/0", "string:10.0.0.0/8"}},
		// A numeric segment indexes.
		{"requestParameters.ipPermissions.items.1.ipRanges.items.0.description", []string{`string:corp "vpn"`}},
		{"requestParameters.ipPermissions.items.2.fromPort", nil},
		// An array at the end: each element, then the array as compact JSON.
		{"requestParameters.ipPermissions.items.1.ipv6Ranges.items", []string{`object:{"cidrIpv6":"::/0"}`, `array:[{"cidrIpv6":"::/0"}]`}},
		{"responseElements._return", []string{"bool:true"}},
		{"tlsDetails", []string{`object:{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"ec2.eu-west-1.amazonaws.com"}`}},
		{"requestParameters.nothere", nil},
		{"eventName.deeper", nil},
		{"errorCode", nil},
	}
	for _, c := range cases {
		if got := lookupAll(ev, c.path); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %q, want %q", c.path, got, c.want)
		}
	}
}

func TestLookupNullEscapedAndWhitespace(t *testing.T) {
	in := `{ "eventName" : "ConsoleLogin", "requestParameters" : null,
	  "responseElements" : { "Console\u004cogin" : "Success", "list" : [ 1 , [ 2 , 3 ] ] },
	  "errorCode": null }`
	ev, err := NewDecoder(strings.NewReader(in)).Next()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]string{
		"requestParameters":             {"null:null"},
		"errorCode":                     {"null:null"},
		"responseElements.ConsoleLogin": {"string:Success"},
		"responseElements.list":         {"number:1", "number:2", "number:3", "array:[2,3]", "array:[1,[2,3]]"},
		"responseElements":              {`object:{"ConsoleLogin":"Success","list":[1,[2,3]]}`},
	} {
		got := lookupAll(ev, path)
		// Object text is compacted; key escapes stay as written.
		if path == "responseElements" {
			want = []string{`object:{"Console\u004cogin":"Success","list":[1,[2,3]]}`}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if ev.Str(ErrorCode) != "" || ev.Get(ErrorCode).Kind != Null {
		t.Errorf("null errorCode: %+v", ev.Get(ErrorCode))
	}
}

func TestLookupStopsEarly(t *testing.T) {
	ev, _ := NewDecoder(strings.NewReader(fixture(t, "assumed_role_sg_ingress.json"))).Next()
	n := 0
	stopped := ev.Lookup(ParsePath("requestParameters.ipPermissions.items.fromPort"), func(v Value) bool { n++; return true })
	if !stopped || n != 1 {
		t.Errorf("stopped %v after %d visits, want true after 1", stopped, n)
	}
}

// FuzzDecoder: whatever the bytes, the decoder terminates without panicking,
// every event it returns is valid JSON, and lookups on it do not panic.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte(`{"Records":[` + fixture(f, "assumed_role_sg_ingress.json") + `]}`))
	f.Add([]byte(fixture(f, "iam_user_console_login.json") + "\n{bad}\n"))
	f.Add([]byte(`[{"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"X"}},1,"a",null]`))
	f.Add([]byte(`{"digestStartTime":"x","logFiles":[]}`))
	f.Add([]byte(`{"eventName":"A\u00"}`))
	f.Add([]byte("\xef\xbb\xbf{\"Records\":[{\"eventVersion\":\"1\",\"a\":-1.5e+3}"))
	paths := []*Path{ParsePath("requestParameters.a.b"), ParsePath("a.0"), ParsePath("eventName"), ParsePath("x")}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			if i > len(data)+2 {
				t.Fatalf("more results (%d) than input bytes", i)
			}
			ev, err := d.Next()
			if err != nil {
				if _, bad := err.(*RecordError); bad {
					continue
				}
				return
			}
			if !json.Valid(ev.Raw) {
				t.Fatalf("event Raw is not valid JSON: %q", ev.Raw)
			}
			for _, p := range paths {
				ev.Lookup(p, func(v Value) bool { _ = v.Text(); return false })
			}
		}
	})
}

// benchLogFile builds a gzip log file of n copies of the fixtures with
// distinct eventIDs, as CloudTrail writes them.
func benchLogFile(b *testing.B, n int) (plain, gz []byte) {
	recs := []string{fixture(b, "assumed_role_sg_ingress.json"), fixture(b, "iam_user_console_login.json")}
	var buf bytes.Buffer
	buf.WriteString(`{"Records":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(recs[i%2])
	}
	buf.WriteString(`]}`)
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(buf.Bytes())
	w.Close()
	return buf.Bytes(), z.Bytes()
}

func BenchmarkDecode(b *testing.B) {
	plain, _ := benchLogFile(b, 1000)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	d := NewDecoder(bytes.NewReader(plain))
	for b.Loop() {
		d.Reset(bytes.NewReader(plain))
		for {
			if _, err := d.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkLookupNested(b *testing.B) {
	ev, _ := NewDecoder(strings.NewReader(fixture(b, "assumed_role_sg_ingress.json"))).Next()
	p := ParsePath("requestParameters.ipPermissions.items.ipRanges.items.cidrIp")
	b.ReportAllocs()
	for b.Loop() {
		ev.Lookup(p, func(v Value) bool { return false })
	}
}
