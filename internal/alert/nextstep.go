package alert

import (
	"regexp"
	"slices"
	"strings"

	"github.com/trailsentry/trailsentry/internal/finding"
)

// nextSteps suggests what the person on call does first, by ATT&CK
// technique: the most specific prefix of a finding's techniques wins. The
// advice is the AWS-documented response to each kind of activity.
var nextSteps = []struct {
	prefix string
	step   string
}{
	{"T1562.008", "Turn CloudTrail logging back on (`aws cloudtrail start-logging --name TRAIL`), then review what this principal did while it was off: that is the window someone wanted unseen."},
	{"T1562", "Re-enable the security control that was changed (GuardDuty, Config, logging, alarms) and check who approved the change; then review what the principal did just after it."},
	{"T1685", "Re-enable the security control that was changed (GuardDuty, Config, logging, alarms) and check who approved the change; then review what the principal did just after it."},
	{"T1078.004", "Confirm with the owner that they signed in. If not: reset the password, remove unknown MFA devices and access keys, and for root, lock it away with MFA and no access keys."},
	{"T1098.001", "Check that the new access key or credential was expected. If not, deactivate it (`aws iam update-access-key --status Inactive`) and look for what it was used for."},
	{"T1098", "Check that the permission change was expected. If not, revert it (detach the policy, remove the trust) and treat the principal that made it as compromised."},
	{"T1136", "Check that the new identity was expected. If not, delete its access keys and login profile, then the identity, and find the credentials that created it."},
	{"T1580", "Ask the principal's owner what ran. If nobody can say, treat the credentials as compromised: deactivate the access key or revoke the role's sessions, and review what the same key did successfully."},
	{"T1526", "Ask the principal's owner what ran. If nobody can say, treat the credentials as compromised: deactivate the access key or revoke the role's sessions, and review what the same key did successfully."},
	{"T1087", "Ask the principal's owner what ran. If nobody can say, treat the credentials as compromised: deactivate the access key or revoke the role's sessions, and review what the same key did successfully."},
	{"T1069", "Ask the principal's owner what ran. If nobody can say, treat the credentials as compromised: deactivate the access key or revoke the role's sessions, and review what the same key did successfully."},
	{"T1530", "Check the bucket's policy, ACLs and Block Public Access settings, and which objects were read; remove any public or cross-account grant that was not intended."},
	{"T1537", "Find where the data or snapshot went (the destination account or bucket) and revoke the share; snapshots and AMIs shared with unknown accounts are a common exfiltration path."},
	{"T1485", "Stop further deletion: restrict the principal, then restore from backups or versions; check whether deletion protection and backups are still in place."},
	{"T1490", "Stop further deletion: restrict the principal, then restore from backups or versions; check whether deletion protection and backups are still in place."},
	{"T1496", "Look for instances, functions or containers started for mining in every region, stop them, and check the service quotas that were raised."},
	{"T1578", "Review the instances, snapshots and images created or changed; stop and snapshot what you do not recognise for forensics before deleting it."},
	{"T1190", worldOpenStep},
	{"T1651", "Check which commands were run on which instances (SSM run history) and whether they were expected."},
}

const worldOpenStep = "Close the rule that opened the port to the internet and check what connected to the instance meanwhile (VPC flow logs)."

const defaultStep = "Review the listed events in CloudTrail. If the activity was not expected, treat the principal's credentials as compromised: deactivate its keys or revoke its sessions, then look at what else it did."

// NextStep is the suggested first response to a finding.
func NextStep(f *finding.Finding) string {
	best, bestLen := defaultStep, 0
	techniques := slices.Clone(f.Attack)
	if f.Context != nil && f.Context.Action != nil {
		techniques = append(techniques, f.Context.Action.Techniques...)
	}
	for _, t := range techniques {
		for _, s := range nextSteps {
			if (t == s.prefix || strings.HasPrefix(t, s.prefix+".")) && len(s.prefix) > bestLen {
				best, bestLen = s.step, len(s.prefix)
			}
		}
	}
	if bestLen == 0 && f.Context != nil && f.Context.Request.WorldOpen {
		best = worldOpenStep
	}
	return best
}

// Denied is one call IAM refused: the action and the resource its error
// message names.
type Denied struct {
	Action   string
	Resource string
}

// deniedMessage matches IAM's AccessDenied message: "User: ARN is not
// authorized to perform: ACTION on resource: RESOURCE [because ...]".
var deniedMessage = regexp.MustCompile(`not authorized to perform: ([A-Za-z0-9-]+:[A-Za-z0-9*]+)(?: on resource: (\S+))?`)

// DeniedCalls lists the calls of an AccessDenied finding: the actions and
// resources its error messages name, then the actions a correlation counted
// (a burst's denied event names) that no message named.
func DeniedCalls(f *finding.Finding) []Denied {
	var out []Denied
	seen := map[string]bool{}
	for _, m := range f.ErrorMessages {
		sub := deniedMessage.FindStringSubmatch(m)
		if sub == nil {
			continue
		}
		d := Denied{Action: sub[1], Resource: strings.TrimSuffix(sub[2], ",")}
		if !seen[d.Action+" "+d.Resource] {
			seen[d.Action+" "+d.Resource] = true
			seen[strings.ToLower(actionName(d.Action))] = true
			out = append(out, d)
		}
	}
	if isDenial(f) {
		for _, v := range f.CorrelatedValues {
			if !seen[strings.ToLower(actionName(v))] {
				seen[strings.ToLower(actionName(v))] = true
				out = append(out, Denied{Action: v})
			}
		}
	}
	return out
}

func actionName(a string) string {
	_, name, ok := strings.Cut(a, ":")
	if ok {
		return name
	}
	return a
}

// isDenial says whether a finding is about refused calls.
func isDenial(f *finding.Finding) bool {
	for _, c := range f.ErrorCodes {
		if strings.Contains(c, "AccessDenied") || strings.Contains(c, "Unauthorized") {
			return true
		}
	}
	t := strings.ToLower(f.Rule.Title + " " + f.Rule.Description)
	return strings.Contains(t, "denied")
}
