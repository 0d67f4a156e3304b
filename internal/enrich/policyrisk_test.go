package enrich

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trailsentry/trailsentry/internal/event"
)

// TestPolicyRiskFields: a PutUserPolicy granting iam:PassRole and
// ec2:RunInstances carries its risk and reason in the fields rules read and
// in the Summary findings show; a harmless policy carries none.
func TestPolicyRiskFields(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	record := func(doc string) string {
		d, _ := json.Marshal(doc)
		return `{"eventVersion":"1.09","userIdentity":` + devUser + `,"eventTime":"2025-02-11T16:21:05Z","eventSource":"iam.amazonaws.com","eventName":"PutUserPolicy","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.40","userAgent":"aws-cli/2.15.30","requestParameters":{"userName":"dev","policyName":"p","policyDocument":` + string(d) + `},"responseElements":null,"eventID":"5c0f7a35-0a5e-4e2f-a7c0-0ad1a8e7b9d2","eventType":"AwsApiCall","recipientAccountId":"111122223333"}`
	}
	risks, err := CompileField("trailsentry.request.policyRisks")
	if err != nil {
		t.Fatal(err)
	}
	reasons, err := CompileField("trailsentry.request.policyRiskReasons")
	if err != nil {
		t.Fatal(err)
	}

	v.Reset(decode(t, record(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:PassRole","ec2:RunInstances"],"Resource":"*"}]}`)))
	if got := v.Get(risks); got.Kind != event.Array || got.Str != `["privilege-escalation"]` {
		t.Errorf("policyRisks = %v %q", got.Kind, got.Str)
	}
	matched := v.Lookup(risks, func(x event.Value) bool { return x.Kind == event.String && x.Str == "privilege-escalation" })
	if !matched {
		t.Error("a rule's `trailsentry.request.policyRisks: privilege-escalation` must match the element")
	}
	if got := v.Get(reasons); !strings.Contains(got.Str, "passrole-ec2-run-instances: can start an instance with a more privileged role") {
		t.Errorf("policyRiskReasons = %q", got.Str)
	}
	s := v.Summary()
	if len(s.Request.PolicyRisks) != 1 || len(s.Request.PolicyRiskReasons) != 1 {
		t.Errorf("summary: %+v", s.Request)
	}

	v.Reset(decode(t, record(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}`)))
	if got := v.Get(risks); got.Kind != event.Missing {
		t.Errorf("a harmless policy: policyRisks = %v %q", got.Kind, got.Str)
	}
}
