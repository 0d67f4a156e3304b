package policy

import (
	"fmt"
	"time"

	"github.com/trailsentry/trailsentry/internal/event"
)

// Explaining a CloudTrail event: who asked (Grantee, FactsOf give the
// request's principal and condition keys from the record), and whether the
// evaluator agrees with what the record's error says refused it
// (CheckRefusal).

var (
	vpcEndpointPath = event.ParsePath("vpcEndpointId")
	tlsVersionPath  = event.ParsePath("tlsDetails.tlsVersion")
)

// Grantee is the principal a grant for the record's caller goes to: the IAM
// user, or the role behind an assumed-role session (with its path, from the
// session issuer); the caller's ARN otherwise (the account root, a federated
// user). It is "" for callers no IAM policy is attached to: AWS services,
// other accounts, anonymous and web-identity callers before their session.
func Grantee(ev *event.Event) string {
	switch ev.Str(event.IdentityType) {
	case "AssumedRole":
		if ev.Str(event.SessionIssuerType) == "Role" {
			if arn := ev.Str(event.SessionIssuerARN); arn != "" {
				return arn
			}
		}
		return ev.Str(event.IdentityARN)
	case "IAMUser", "Root", "FederatedUser":
		return ev.Str(event.IdentityARN)
	}
	return ""
}

// FactsOf reads the condition-key facts a CloudTrail record gives about its
// request (see Facts.Context for the keys they become).
func FactsOf(ev *event.Event) Facts {
	f := Facts{
		PrincipalARN:     ev.Str(event.IdentityARN),
		PrincipalType:    ev.Str(event.IdentityType),
		Account:          ev.Str(event.IdentityAccountID),
		UserID:           ev.Str(event.IdentityPrincipalID),
		SourceIP:         ev.Str(event.SourceIPAddress),
		UserAgent:        ev.Str(event.UserAgent),
		Region:           ev.Str(event.AWSRegion),
		Time:             ev.Time,
		MFAAuthenticated: ev.Str(event.SessionMFAAuthenticated),
		ViaAWSService:    ev.Str(event.IdentityInvokedBy) != "",
	}
	if f.PrincipalType == "AssumedRole" && ev.Str(event.SessionIssuerType) == "Role" {
		if arn := ev.Str(event.SessionIssuerARN); arn != "" {
			f.PrincipalARN = arn // aws:PrincipalArn of a role session is the role's ARN
		}
	}
	if f.PrincipalType == "IAMUser" {
		f.UserName = ev.Str(event.IdentityUserName)
	}
	if t, err := time.Parse(time.RFC3339, ev.Str(event.SessionCreationDate)); err == nil {
		f.SessionCreated = t
	}
	if v := ev.First(vpcEndpointPath); v.Kind == event.String {
		f.SourceVpce = v.Str
	}
	if v := ev.First(tlsVersionPath); v.Kind == event.String && v.Str != "" {
		f.SecureTransport = "true" // CloudTrail records TLS details only for calls over TLS
	}
	return f
}

// Agreement is whether the evaluator's decision matches what CloudTrail
// recorded for a call.
type Agreement struct {
	Agrees bool
	Note   string
}

// CheckRefusal compares a decision with the record: a call that succeeded
// (refusal nil) should be allowed; a refused one denied, by the kind of
// policy the message blames, explicitly or for want of an allow as it says.
// A disagreement usually means a policy is missing from the set (an SCP, a
// resource policy, a session policy) or has changed since the call.
func CheckRefusal(r Result, refusal *Refusal) Agreement {
	if refusal == nil {
		if r.Decision == Allowed {
			return Agreement{true, "allowed, as CloudTrail recorded"}
		}
		return Agreement{false, "CloudTrail recorded the call as allowed, the policies given deny it: they are not the ones in force at the time, or a grant the set lacks (a resource policy) allowed it"}
	}
	said := "CloudTrail's error does not say what refused it"
	if refusal.Kind != "" && refusal.Kind != "unknown" {
		how := "no " + kindNoun(refusal.Kind) + " allows it"
		if refusal.Explicit {
			how = "explicit deny in " + kindPhrase(refusal.Kind)
		}
		said = "CloudTrail says: " + how
	}
	if r.Decision == Allowed {
		return Agreement{false, said + "; the policies given allow it: the refusing policy is not among them (an SCP, RCP, resource or session policy), or they changed since"}
	}
	want := policyKind(refusal.Kind)
	switch {
	case refusal.Kind == "" || refusal.Kind == "unknown":
		return Agreement{true, said + "; the evaluator denies it too: " + r.Reason}
	case want == 0:
		return Agreement{true, said + "; that kind of policy is not modelled, and the evaluator denies it too"}
	case refusal.Explicit:
		if r.Decision != ExplicitDeny {
			return Agreement{false, said + "; the evaluator finds no Deny statement: " + r.Reason}
		}
		for _, m := range r.Matches {
			if m.Kind == want {
				return Agreement{true, fmt.Sprintf("%s; the evaluator agrees: %s denies", said, m)}
			}
		}
		return Agreement{false, said + "; the evaluator's Deny is elsewhere: " + r.Reason}
	default:
		if r.Decision == ExplicitDeny {
			return Agreement{false, said + "; the evaluator finds a Deny statement: " + r.Reason}
		}
		if r.Lacking == want {
			return Agreement{true, said + "; the evaluator agrees: " + r.Reason}
		}
		return Agreement{false, said + "; the evaluator lacks an allow elsewhere: " + r.Reason}
	}
}
