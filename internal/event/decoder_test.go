package event

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// outcome is what decoding a stream gave: event names in order, bad record
// positions, and the format.
type outcome struct {
	names  []string
	bad    []*RecordError
	format Format
	final  error // the error that ended the stream (io.EOF when clean)
}

func decodeAll(t testing.TB, r io.Reader) outcome {
	t.Helper()
	d := NewDecoder(r)
	var o outcome
	for i := 0; ; i++ {
		if i > 1_000_000 {
			t.Fatal("decoder does not terminate")
		}
		ev, err := d.Next()
		var rerr *RecordError
		switch {
		case err == nil:
			o.names = append(o.names, ev.Str(EventName))
			continue
		case errors.As(err, &rerr):
			o.bad = append(o.bad, rerr)
			continue
		}
		o.final, o.format = err, d.Format()
		// After the end, Next keeps saying so.
		if _, again := d.Next(); again != io.EOF {
			t.Fatalf("Next after end: %v, want io.EOF", again)
		}
		return o
	}
}

func TestDecoderHotFields(t *testing.T) {
	in := `{"Records":[` + fixture(t, "assumed_role_sg_ingress.json") + `]}`
	d := NewDecoder(strings.NewReader(in))
	ev, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := map[Field]string{
		EventVersion:            "1.09",
		EventSource:             "ec2.amazonaws.com",
		EventName:               "AuthorizeSecurityGroupIngress",
		AWSRegion:               "eu-west-1",
		SourceIPAddress:         "203.0.113.45",
		EventID:                 "0d6e8f27-3c2b-4f6a-9e1d-7a8b9c0d1e2f",
		ReadOnly:                "false",
		RecipientAccountID:      "111122223333",
		IdentityType:            "AssumedRole",
		IdentityAccessKeyID:     "ASIAXU5EXAMPLEKEY123",
		SessionIssuerUserName:   "AWSReservedSSO_Admin_0123456789abcdef",
		SessionMFAAuthenticated: "false",
		ErrorCode:               "",
	}
	for f, v := range want {
		if got := ev.Str(f); got != v {
			t.Errorf("%s = %q, want %q", Fields[f].Path, got, v)
		}
	}
	if ev.Get(ReadOnly).Kind != Bool || ev.Get(ErrorCode).Kind != Missing {
		t.Errorf("kinds: readOnly %v, errorCode %v", ev.Get(ReadOnly).Kind, ev.Get(ErrorCode).Kind)
	}
	if want := time.Date(2024, 3, 11, 10, 2, 47, 0, time.UTC); !ev.Time.Equal(want) {
		t.Errorf("Time = %v, want %v", ev.Time, want)
	}
	if ev.Account() != "111122223333" {
		t.Errorf("Account = %q", ev.Account())
	}
	if ev.Actor() != "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com" {
		t.Errorf("Actor = %q", ev.Actor())
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("second Next: %v, want io.EOF", err)
	}
	if d.Format() != FormatLogFile {
		t.Errorf("format %v", d.Format())
	}
}

func TestDecoderFormats(t *testing.T) {
	a := fixture(t, "assumed_role_sg_ingress.json")
	b := fixture(t, "iam_user_console_login.json")
	envelope := func(rec string) string {
		return `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","account":"111122223333","time":"2024-03-11T10:02:47Z","region":"eu-west-1","resources":[],"detail":` + rec + `}`
	}
	cases := []struct {
		name   string
		in     string
		format Format
		names  []string
	}{
		{"log file", `{"Records":[` + a + `,` + b + `]}`, FormatLogFile, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}},
		{"log file pretty", "{\n  \"Records\" : [\n  " + a + " ,\n " + b + "\n ]\n}\n", FormatLogFile, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}},
		{"log file, Records not first", `{"other":{"x":[1,2]},"Records":[` + a + `,` + b + `],"after":true}`, FormatLogFile, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}},
		{"empty log file", `{"Records":[]}`, FormatLogFile, nil},
		{"two log files concatenated", `{"Records":[` + a + `]}{"Records":[` + b + `]}`, FormatLogFile, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}},
		{"array", "[" + a + ",\n" + b + "]", FormatArray, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}},
		{"json lines", a + "\n" + b + "\n", FormatLines, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}},
		{"json lines crlf", a + "\r\n" + b + "\r\n", FormatLines, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}},
		{"single event", a, FormatLines, []string{"AuthorizeSecurityGroupIngress"}},
		{"eventbridge lines", envelope(a) + "\n" + envelope(b), FormatLines, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}},
		{"eventbridge array", "[" + envelope(a) + "," + envelope(b) + "]", FormatArray, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}},
		{"byte order mark", "\xef\xbb\xbf" + a, FormatLines, []string{"AuthorizeSecurityGroupIngress"}},
		{"empty", "  \n", FormatEmpty, nil},
		{"skeletal events", `{"eventName":"GetCallerIdentity"}` + "\n" + `{"eventTime":"2024-03-11T10:00:00Z"}` + "\n", FormatLines, []string{"GetCallerIdentity", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// One byte at a time proves the buffer refill logic at every position.
			for _, r := range []io.Reader{strings.NewReader(c.in), iotest.OneByteReader(strings.NewReader(c.in))} {
				o := decodeAll(t, r)
				if o.final != io.EOF || len(o.bad) > 0 {
					t.Fatalf("final %v, bad %v", o.final, o.bad)
				}
				if o.format != c.format {
					t.Errorf("format %v, want %v", o.format, c.format)
				}
				if strings.Join(o.names, ",") != strings.Join(c.names, ",") {
					t.Errorf("events %q, want %q", o.names, c.names)
				}
			}
		})
	}
}

func TestDecoderEnvelopeKeepsRecordOnly(t *testing.T) {
	in := `{"version":"0","detail-type":"AWS Console Sign In via CloudTrail","source":"aws.signin","detail":` + fixture(t, "iam_user_console_login.json") + `}`
	ev, err := NewDecoder(strings.NewReader(in)).Next()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(ev.Raw), `{"eventVersion":"1.08"`) || !strings.HasSuffix(string(ev.Raw), `}}`) {
		t.Errorf("Raw is not the detail record: %.60s...", ev.Raw)
	}
	if got := ev.First(ParsePath("additionalEventData.MFAUsed")); got.Str != "No" {
		t.Errorf("MFAUsed = %+v", got)
	}
}

func TestDecoderSkipsDigestAndInsights(t *testing.T) {
	digest := `{"awsAccountId":"111122223333","digestStartTime":"2024-03-11T09:00:00Z","digestEndTime":"2024-03-11T10:00:00Z","digestS3Bucket":"trail-bucket","digestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2024/03/11/x.json.gz","digestPublicKeyFingerprint":"abc","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":"2024-03-11T09:59:00Z","oldestEventTime":"2024-03-11T09:00:01Z","previousDigestS3Bucket":"trail-bucket","previousDigestS3Object":"y","previousDigestHashValue":"z","previousDigestHashAlgorithm":"SHA-256","previousDigestSignature":"s","logFiles":[{"s3Bucket":"trail-bucket","s3Object":"o","hashValue":"h","hashAlgorithm":"SHA-256","newestEventTime":"2024-03-11T09:59:00Z","oldestEventTime":"2024-03-11T09:00:01Z"}]}`
	insights := `{"Records":[{"eventVersion":"1.08","eventTime":"2024-03-11T10:00:00Z","awsRegion":"us-east-1","eventID":"b5c1c4d4-0d0e-4b2b-8a7a-2f7f1a9b0c11","eventType":"AwsCloudTrailInsight","recipientAccountId":"111122223333","sharedEventID":"c1","insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight"},"eventCategory":"Insight"}]}`
	for _, c := range []struct {
		in   string
		want Format
	}{{digest, FormatDigest}, {insights, FormatInsights}} {
		o := decodeAll(t, strings.NewReader(c.in))
		if o.final != ErrSkipFile || o.format != c.want || len(o.names) != 0 || len(o.bad) != 0 {
			t.Errorf("%v: final %v format %v names %v bad %v", c.want, o.final, o.format, o.names, o.bad)
		}
	}
}

func TestDecoderBadRecordsKeepTheRest(t *testing.T) {
	a := fixture(t, "assumed_role_sg_ingress.json")
	b := fixture(t, "iam_user_console_login.json")
	broken := `{"eventVersion":"1.08","eventName":"Broken","readOnly":tru}`
	cases := []struct {
		name    string
		in      string
		names   []string
		badIdx  []int
		final   error
		wantMsg string
	}{
		{"bad literal inside a log file", `{"Records":[` + a + `,` + broken + `,` + b + `]}`, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}, []int{2}, io.EOF, "invalid character '}' in literal true"},
		{"unbalanced record inside a log file", `{"Records":[` + a + `,{"eventVersion":"1.08","eventName":"Cut","x":{"y":1},` + b + `]}`, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}, []int{2}, io.EOF, "looking for an object key"},
		{"non-object record", `{"Records":[` + a + `,42,"x",` + b + `]}`, []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}, []int{2, 3}, io.EOF, "must be an object, found number"},
		{"bad json line", a + "\n{\"eventName\": nope}\n" + b + "\n", []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}, []int{2}, io.EOF, "invalid character 'o' in literal null"},
		{"garbage line", a + "\nnot json at all\n" + b + "\n", []string{"AuthorizeSecurityGroupIngress", "ConsoleLogin"}, []int{2}, io.EOF, "looking for a record"},
		{"bad eventTime", `{"eventName":"A","eventTime":"yesterday"}` + "\n" + b, []string{"ConsoleLogin"}, []int{1}, io.EOF, `eventTime yesterday is not an RFC 3339 time`},
		{"truncated log file", `{"Records":[` + a + `,` + b[:200], []string{"AuthorizeSecurityGroupIngress"}, []int{2}, io.EOF, "truncated"},
		{"truncated after a record", `{"Records":[` + a + `,`, []string{"AuthorizeSecurityGroupIngress"}, []int{2}, io.EOF, "before the array closes"},
		{"eventbridge of another kind", `{"version":"0","detail-type":"EC2 Instance State-change Notification","detail":{"state":"running"}}` + "\n" + b, []string{"ConsoleLogin"}, []int{1}, io.EOF, "holds no CloudTrail record"},
		{"bad record in pretty-printed log file", "{\n  \"Records\": [\n    " + a + ",\n    {\n      \"eventVersion\": \"1.08\",\n      \"x\": nul\n    },\n    {\n      \"eventVersion\": \"1.08\",\n      \"eventName\": \"After\"\n    }\n  ]\n}\n", []string{"AuthorizeSecurityGroupIngress", "After"}, []int{2}, io.EOF, "in literal null"},
		{"impossible date", `{"eventName":"A","eventTime":"2024-02-31T10:00:00Z"}` + "\n" + b, []string{"ConsoleLogin"}, []int{1}, io.EOF, "not an RFC 3339 time"},
		{"not a CloudTrail record", `{"foo":1}` + "\n" + `{"bar":[1,2],"eventName":null}` + "\n" + b, []string{"ConsoleLogin"}, []int{1, 2}, io.EOF, "not a CloudTrail record"},
		{"deep nesting", strings.Repeat("[", 100000), nil, []int{1}, io.EOF, "nesting deeper than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := decodeAll(t, strings.NewReader(c.in))
			if o.final != c.final {
				t.Errorf("final %v, want %v", o.final, c.final)
			}
			if strings.Join(o.names, ",") != strings.Join(c.names, ",") {
				t.Errorf("events %q, want %q", o.names, c.names)
			}
			var idx []int
			for _, r := range o.bad {
				idx = append(idx, r.Index)
			}
			if len(idx) != len(c.badIdx) {
				t.Fatalf("bad records %v, want indexes %v", o.bad, c.badIdx)
			}
			for i := range idx {
				if idx[i] != c.badIdx[i] {
					t.Errorf("bad record index %d, want %d", idx[i], c.badIdx[i])
				}
			}
			if !strings.Contains(o.bad[0].Error(), c.wantMsg) {
				t.Errorf("message %q lacks %q", o.bad[0].Error(), c.wantMsg)
			}
		})
	}
}

func TestDecoderBadRecordOffset(t *testing.T) {
	a := fixture(t, "assumed_role_sg_ingress.json")
	in := `{"Records":[` + a + `,{"eventVersion":"1.08","x":tru}]}`
	o := decodeAll(t, strings.NewReader(in))
	if len(o.bad) != 1 {
		t.Fatalf("bad %v", o.bad)
	}
	wantStart := int64(len(`{"Records":[`) + len(a) + 1)
	if o.bad[0].Offset != wantStart {
		t.Errorf("record offset %d, want %d", o.bad[0].Offset, wantStart)
	}
	var se *SyntaxError
	if !errors.As(o.bad[0], &se) || se.Offset != wantStart+int64(len(`{"eventVersion":"1.08","x":tru`)) {
		t.Errorf("syntax error %v, want it at byte %d", o.bad[0], wantStart+int64(len(`{"eventVersion":"1.08","x":tru`)))
	}
}

func TestDecoderNotJSON(t *testing.T) {
	o := decodeAll(t, strings.NewReader("PK\x03\x04 zip file"))
	if o.final == nil || o.final == io.EOF || o.format != FormatUnknown || !strings.Contains(o.final.Error(), "not JSON") {
		t.Errorf("final %v format %v", o.final, o.format)
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestDecoderReadErrorKeepsCompleteRecords(t *testing.T) {
	a := fixture(t, "assumed_role_sg_ingress.json")
	b := fixture(t, "iam_user_console_login.json")
	r := &failingReader{data: []byte(`{"Records":[` + a + `,` + b + `,{"eventVersion":"1.0`), err: io.ErrUnexpectedEOF}
	o := decodeAll(t, r)
	if strings.Join(o.names, ",") != "AuthorizeSecurityGroupIngress,ConsoleLogin" {
		t.Errorf("events %q", o.names)
	}
	if len(o.bad) != 1 || !errors.Is(o.bad[0], io.ErrUnexpectedEOF) || o.bad[0].Index != 3 {
		t.Errorf("bad %v, want record 3 with the read error", o.bad)
	}
}

func TestDecoderLargeRecord(t *testing.T) {
	big := `{"eventVersion":"1.08","eventName":"PutBucketPolicy","requestParameters":{"blob":"` + strings.Repeat("x", 3<<20) + `"}}`
	o := decodeAll(t, strings.NewReader(`{"Records":[`+big+`,`+big+`]}`))
	if o.final != io.EOF || len(o.names) != 2 || len(o.bad) != 0 {
		t.Errorf("final %v names %d bad %v", o.final, len(o.names), o.bad)
	}
}

func TestEventOwnsItsBytes(t *testing.T) {
	a := fixture(t, "assumed_role_sg_ingress.json")
	b := fixture(t, "iam_user_console_login.json")
	d := NewDecoder(iotest.HalfReader(strings.NewReader(a + "\n" + b)))
	first, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	d.Reset(strings.NewReader(strings.Repeat(" ", 1<<20)))
	d.Next()
	if first.Str(EventName) != "AuthorizeSecurityGroupIngress" || first.Str(AWSRegion) != "eu-west-1" {
		t.Errorf("first event changed after later reads: %q %q", first.Str(EventName), first.Str(AWSRegion))
	}
}

func TestUnquote(t *testing.T) {
	in := `{"eventName":"Stop\u004cogging","errorMessage":"tab\there \"quoted\" \\ \/ \ud83d\ude00 \u00e9"}`
	ev, err := NewDecoder(strings.NewReader(in)).Next()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Str(EventName) != "StopLogging" {
		t.Errorf("eventName %q", ev.Str(EventName))
	}
	if got, want := ev.Str(ErrorMessage), "tab\there \"quoted\" \\ / 😀 é"; got != want {
		t.Errorf("errorMessage %q, want %q", got, want)
	}
}

func TestDecoderDuplicateKeysFirstWins(t *testing.T) {
	ev, err := NewDecoder(strings.NewReader(`{"eventName":"First","requestParameters":{"a":1,"a":2},"eventName":"Second"}`)).Next()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Str(EventName) != "First" || ev.First(ParsePath("eventName")).Str != "First" || ev.First(ParsePath("requestParameters.a")).Str != "1" {
		t.Errorf("duplicate keys: eventName %q, requestParameters.a %q", ev.Str(EventName), ev.First(ParsePath("requestParameters.a")).Str)
	}
}

func TestDecoderReuseGivesTheSameEvents(t *testing.T) {
	a := fixture(t, "assumed_role_sg_ingress.json")
	b := fixture(t, "iam_user_console_login.json")
	in := `{"Records":[` + a + `,` + b + `,` + a + `]}` + "\n" + `{"detail-type":"AWS API Call via CloudTrail","detail":` + b + `}`
	fresh := NewDecoder(strings.NewReader(in))
	reused := NewDecoder(iotest.HalfReader(strings.NewReader(in)))
	reused.Reuse()
	var prev *Event
	p := ParsePath("requestParameters.ipPermissions.items.ipRanges.items.cidrIp")
	for i := 0; ; i++ {
		want, err1 := fresh.Next()
		got, err2 := reused.Next()
		if err1 != err2 {
			t.Fatalf("record %d: errors %v / %v", i, err1, err2)
		}
		if err1 != nil {
			break
		}
		if prev != nil && got != prev {
			t.Error("Reuse returned a new Event")
		}
		prev = got
		if string(got.Raw) != string(want.Raw) || got.Time != want.Time || got.hot != want.hot ||
			fmt.Sprint(lookupAll(got, p.Text)) != fmt.Sprint(lookupAll(want, p.Text)) {
			t.Errorf("record %d differs when reused", i)
		}
	}
}
