package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// snsServer answers SNS's query protocol as the service does: it decodes the
// form the SDK sends (Action=Publish, Version, TopicArn, Subject, Message,
// MessageAttributes.entry.N.*), checks the request is SigV4-signed for sns,
// and answers with PublishResponse XML, or an ErrorResponse when fail says.
func snsServer(t *testing.T, fail func(n int) (int, string)) (*recorder, *[]url.Values) {
	var published []url.Values
	n := 0
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		// A few milliseconds before answering: aws-sdk-go-v2 can drop a
		// response from a very fast loopback server (upstream #2737).
		time.Sleep(3 * time.Millisecond)
		w.Header().Set("Content-Type", "text/xml")
		form, err := url.ParseQuery(string(body))
		auth := r.Header.Get("Authorization")
		if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
			!strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/") || !strings.Contains(auth, "/eu-west-1/sns/aws4_request") {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, snsError, "Sender", "InvalidClientTokenId", "bad request")
			return
		}
		if form.Get("Action") != "Publish" || form.Get("Version") != "2010-03-31" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, snsError, "Sender", "InvalidAction", "unknown action")
			return
		}
		n++
		if fail != nil {
			if status, code := fail(n); status != 0 {
				w.WriteHeader(status)
				fmt.Fprintf(w, snsError, "Sender", code, "refused by the test")
				return
			}
		}
		published = append(published, form)
		fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e9%02d</MessageId></PublishResult>
  <ResponseMetadata><RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId></ResponseMetadata>
</PublishResponse>`, n)
	})
	return rec, &published
}

const snsError = `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error>
  <RequestId>9a8b7c6d-0000-4a2b-8c9d-0123456789ab</RequestId>
</ErrorResponse>`

// awsTestEnv gives the SDK static credentials and nothing else to find.
func awsTestEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestSNSPublish(t *testing.T) {
	awsTestEnv(t)
	rec, published := snsServer(t, nil)
	const topic = "arn:aws:sns:eu-west-1:111122223333:security-alerts"
	sink := buildOne(t, "alerts:\n  sinks:\n    - name: pager\n      sns: {topic_arn: '"+topic+"', endpoint: "+rec.URL+"}\n")
	long := *goldenByTitle(t, "AWS GuardDuty Important Change")
	long.Rule.Title = "Ünïcode title\nwith a line break and " + strings.Repeat("very long words ", 10)
	denied := deniedFinding(t)
	if err := sink.Send(context.Background(), deliveries(denied, &long)); err != nil {
		t.Fatal(err)
	}
	if len(*published) != 2 {
		t.Fatalf("%d published", len(*published))
	}
	p := (*published)[0]
	if p.Get("TopicArn") != topic || p.Get("Subject") != "[Low] 111122223333: Request denied by IAM (AccessDenied or UnauthorizedOperation)" {
		t.Errorf("publish = %v", p)
	}
	var msg SNSMessage
	if err := json.Unmarshal([]byte(p.Get("Message")), &msg); err != nil || msg.Revision != 1 || msg.Finding.ID != denied.ID || msg.Finding.Count != 6 {
		t.Errorf("message = %+v, %v", msg, err)
	}
	attrs := map[string]string{}
	for i := 1; p.Get(fmt.Sprintf("MessageAttributes.entry.%d.Name", i)) != ""; i++ {
		pre := fmt.Sprintf("MessageAttributes.entry.%d.", i)
		attrs[p.Get(pre+"Name")] = p.Get(pre+"Value.DataType") + "=" + p.Get(pre+"Value.StringValue")
	}
	want := map[string]string{"severity": "String=Low", "severity_score": "Number=1.5",
		"rule_id": "String=0187e9ae-225c-4af5-b5a1-92b299d26fef", "account": "String=111122223333"}
	if fmt.Sprint(attrs) != fmt.Sprint(want) {
		t.Errorf("message attributes = %v, want %v", attrs, want)
	}
	sub := (*published)[1].Get("Subject")
	if len(sub) > 100 || strings.ContainsAny(sub, "\n\r") || !strings.HasPrefix(sub, "[High] 111122223333: ?n?code title with a line break") {
		t.Errorf("subject = %q (%d)", sub, len(sub))
	}
	for _, r := range sub {
		if r < 0x20 || r > 0x7e {
			t.Errorf("subject has %q", r)
		}
	}
}

func TestSNSErrors(t *testing.T) {
	awsTestEnv(t)
	rec, _ := snsServer(t, func(n int) (int, string) {
		if n == 1 {
			return http.StatusNotFound, "NotFound"
		}
		return http.StatusTooManyRequests, "Throttled"
	})
	sink := buildOne(t, "alerts:\n  sinks:\n    - name: pager\n      sns: {topic_arn: 'arn:aws:sns:eu-west-1:111122223333:gone', endpoint: "+rec.URL+"}\n")
	fs := goldenFindings(t)[:2]
	err := sink.Send(context.Background(), deliveries(fs...))
	if e := errorFor(err, 0, 2); e == nil || !strings.Contains(e.Error(), "NotFound") {
		t.Errorf("not found: %v", e)
	} else if perm, _ := Classify(e); !perm {
		t.Errorf("NotFound is not permanent: %v", e)
	}
	if e := errorFor(err, 1, 2); e == nil || !strings.Contains(e.Error(), "Throttled") {
		t.Errorf("throttled: %v", e)
	} else if perm, _ := Classify(e); perm {
		t.Errorf("Throttled is permanent: %v", e)
	}
	if n := len(rec.got()); n != 2 {
		t.Errorf("%d requests: the SDK should not retry, the outbox does", n)
	}
}
