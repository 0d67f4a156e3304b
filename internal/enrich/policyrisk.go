package enrich

import iampolicy "github.com/trailsentry/trailsentry/internal/policy"

// PolicyRisks is the risk analysis of the policy the request writes or
// attaches (CreatePolicy, CreatePolicyVersion, Put*Policy with their
// document; Attach*Policy of a well-known AWS managed policy): the risk
// categories, most severe first, and one "check: reason" line per risk.
// Both are nil for any other request and for a harmless policy.
// policy.AnalyzeEvent does the work; a Sigma rule cannot parse a policy, so
// rules read it as trailsentry.request.policyRisks and policyRiskReasons.
// It is worked out anew on each ask: only IAM policy calls cost anything,
// and the engine's index sends rules on these fields only those.
func (v *View) PolicyRisks() (categories, reasons []string) {
	if v.ev == nil {
		return nil, nil
	}
	rs := iampolicy.AnalyzeEvent(v.ev)
	if len(rs) == 0 {
		return nil, nil
	}
	return iampolicy.RiskCategories(rs), iampolicy.RiskReasons(rs)
}
