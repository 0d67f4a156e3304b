package rules

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/enrich/enrichtest"
	"github.com/trailsentry/trailsentry/internal/event"
)

// denial is an AccessDenied record for the principal, at the time, for the
// action.
func denial(principal string, at time.Time, action string, n int) string {
	return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:%[1]s","arn":"arn:aws:sts::111122223333:assumed-role/app-role/%[1]s","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE%03[4]d","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/app-role","accountId":"111122223333","userName":"app-role"},"attributes":{"creationDate":"2024-05-01T09:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"%[2]s","eventSource":"ec2.amazonaws.com","eventName":"%[3]s","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.66","userAgent":"aws-cli/2.15.30","errorCode":"Client.UnauthorizedOperation","errorMessage":"You are not authorized to perform this operation.","requestParameters":{},"responseElements":null,"eventID":"00000000-0000-4000-8000-%012[4]d","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`,
		principal, at.UTC().Format(time.RFC3339), action, n)
}

// correlate runs the pack over records and returns the correlation hits'
// titles with the group's first value.
func correlate(t *testing.T, recs []string) []string {
	t.Helper()
	rules, corrs := loadPack(t)
	return runCorrelations(t, rules, corrs, recs)
}

// runCorrelations feeds records one by one through the rules and their
// correlations on a fresh memory state, as the scanner does, and returns
// the hits as "title | first group value", sorted, each once.
func runCorrelations(t *testing.T, rules []*detect.Rule, corrs []*detect.Correlation, recs []string) []string {
	t.Helper()
	ctx := context.Background()
	eng := detect.NewEngine(rules)
	c := detect.NewCorrelator(corrs, 100)
	state := detect.NewMemoryState()
	var out []string
	for _, rec := range recs {
		ev, err := event.NewDecoder(strings.NewReader(rec)).Next()
		if err != nil {
			t.Fatal(err)
		}
		v := enrichtest.View(ev)
		var matched []*detect.Rule
		eng.Match(v, func(r *detect.Rule) { matched = append(matched, r) })
		occ := c.Match(v, matched)
		if err := state.Update(ctx, func(tx detect.Tx) error {
			hits, err := c.Add(ctx, tx, occ)
			for _, h := range hits {
				out = append(out, h.Correlation.Title+" | "+h.GroupValues[0].Value)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestDeniedBurstAndProbing(t *testing.T) {
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	actions := []string{"DescribeInstances", "DescribeVolumes", "DescribeSnapshots", "DescribeSecurityGroups", "DescribeVpcs", "DescribeImages"}
	var probing, retrying, slow []string
	for i := range 12 {
		at := start.Add(time.Duration(i) * 30 * time.Second)
		probing = append(probing, denial("mallory", at, actions[i%len(actions)], i))
		retrying = append(retrying, denial("app", at, "DescribeInstances", 100+i))                                 // one action, retried
		slow = append(slow, denial("cron", start.Add(time.Duration(i)*time.Hour), actions[i%len(actions)], 200+i)) // an hour apart
	}
	got := correlate(t, append(append(probing, retrying...), slow...))
	want := []string{
		"Burst of denied API calls from one principal | app-role/app",
		"Burst of denied API calls from one principal | app-role/mallory",
		"Many different API calls denied for one principal (permission probing) | app-role/mallory",
	}
	if !slices.Equal(got, want) {
		t.Errorf("hits:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Four denials of four actions: neither a burst (10) nor probing (5).
	if got := correlate(t, probing[:4]); len(got) != 0 {
		t.Errorf("four denials: %v", got)
	}
}

// Correlation rules carry what the person on call needs too.
func TestCorrelationMetadata(t *testing.T) {
	_, corrs := loadPack(t)
	if len(corrs) == 0 {
		t.Fatal("no correlation rules in the pack")
	}
	for _, c := range corrs {
		if !uuid.MatchString(c.ID) || len(strings.Fields(c.Description)) < 20 || len(c.Attack) == 0 || len(c.FalsePositives) == 0 {
			t.Errorf("%s (%s): id, description, ATT&CK or false positives missing", c.Source, c.Title)
		}
	}
}
