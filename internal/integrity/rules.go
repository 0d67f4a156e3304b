package integrity

import "github.com/trailsentry/trailsentry/internal/finding"

// The ids of the integrity rules. Every problem Verify finds is one of them;
// docs/verify.md lists them with what to do.
const (
	RuleLogModified        = "trailsentry-integrity-log-modified"
	RuleLogMissing         = "trailsentry-integrity-log-missing"
	RuleLogUnlisted        = "trailsentry-integrity-log-unlisted"
	RuleDigestModified     = "trailsentry-integrity-digest-modified"
	RuleDigestMissing      = "trailsentry-integrity-digest-missing"
	RuleDigestInvalid      = "trailsentry-integrity-digest-invalid"
	RuleSignatureInvalid   = "trailsentry-integrity-signature-invalid"
	RuleKeyUnknown         = "trailsentry-integrity-key-unknown"
	RuleGap                = "trailsentry-integrity-gap"
	RuleSignatureUnchecked = "trailsentry-integrity-signature-unchecked"
)

// RuleSource is the rule.source of integrity findings.
const RuleSource = "builtin:integrity"

// ATT&CK techniques: T1565.001 Stored Data Manipulation (altering, forging or
// planting stored records), T1070 Indicator Removal (deleting the records of
// what one did: the parent technique, since its File Deletion sub-technique
// is about hosts' file systems), T1562.008 Disable or Modify Cloud Logs (the
// hours a trail did not record).
const (
	attackManipulation = "T1565.001"
	attackRemoval      = "T1070"
	attackCloudLogs    = "T1562.008"
)

// Rules describes the integrity rules, in the order docs/verify.md lists
// them. Each call returns fresh values.
func Rules() []finding.RuleInfo {
	return []finding.RuleInfo{
		{
			ID: RuleLogModified, Title: "CloudTrail log file modified after delivery", Level: "high",
			Description: "The log file's SHA-256 is not the one its digest recorded at delivery: its events were edited, " +
				"added or removed, or the file was replaced. Treat the events in it as untrustworthy and find who wrote to the bucket.",
			Attack:         []string{attackManipulation},
			FalsePositives: []string{"a copy that was decompressed or re-compressed after download (the hash covers the gzip bytes as delivered)"},
		},
		{
			ID: RuleLogMissing, Title: "CloudTrail log file deleted", Level: "high",
			Description: "A digest lists this log file, but it is not there: whatever it recorded is gone. " +
				"Look for S3 DeleteObject calls on the trail bucket and for lifecycle rules.",
			Attack:         []string{attackRemoval},
			FalsePositives: []string{"a partial copy: only some of the trail's log files were downloaded", "a lifecycle rule that expired old log files"},
		},
		{
			ID: RuleLogUnlisted, Title: "CloudTrail log file listed by no digest", Level: "medium",
			Description: "A log file sits in the trail's folders inside the period the digests cover, but no digest lists it: " +
				"CloudTrail did not deliver it, or its digest is gone. Its events cannot be vouched for; they may be planted.",
			Attack:         []string{attackManipulation},
			FalsePositives: []string{"a log file delivered late, whose backfill digest is not in the copy", "log files from another trail writing to the same folder"},
		},
		{
			ID: RuleDigestModified, Title: "CloudTrail digest file modified", Level: "high",
			Description: "The digest's SHA-256 is not the one the next digest recorded: the digest was altered, for example " +
				"to drop a log file from its list. The log files it lists cannot be vouched for.",
			Attack:         []string{attackManipulation},
			FalsePositives: []string{"a copy that was decompressed or re-compressed after download"},
		},
		{
			ID: RuleDigestMissing, Title: "CloudTrail digest file deleted (digest chain broken)", Level: "high",
			Description: "The next digest names this digest as its predecessor, but it is not there. The log files of its hour " +
				"cannot be checked, and deleting a digest is how one hides deleted log files.",
			Attack:         []string{attackRemoval},
			FalsePositives: []string{"a partial copy that leaves out some digest files"},
		},
		{
			ID: RuleDigestInvalid, Title: "CloudTrail digest file unreadable or out of place", Level: "high",
			Description: "The file in the digest folder is not a valid digest, or it says it belongs elsewhere (another key, another " +
				"account): CloudTrail writes neither. It was corrupted, forged or moved.",
			Attack: []string{attackManipulation},
		},
		{
			ID: RuleSignatureInvalid, Title: "CloudTrail digest signature does not verify (forged or altered digest)", Level: "critical",
			Description: "The digest's RSA signature does not verify with CloudTrail's public key for the fingerprint it names: " +
				"the digest was not written by CloudTrail as it is. Nothing it lists can be trusted.",
			Attack: []string{attackManipulation},
		},
		{
			ID: RuleKeyUnknown, Title: "CloudTrail digest signed with a key not given", Level: "medium",
			Description: "The digest names a public key fingerprint that none of the --public-key files holds, so its signature " +
				"could not be checked. Usually a key is missing (each region has its own, and keys rotate): get it with " +
				"`aws cloudtrail list-public-keys` in the digest's region. A forger's own key looks the same.",
			FalsePositives: []string{"the key of this region or period was not given"},
		},
		{
			ID: RuleGap, Title: "Hours without a CloudTrail digest", Level: "medium",
			Description: "No digest covers this period. Logging or log file validation was turned off, or digests (and the log " +
				"files they listed) were deleted. Check StopLogging, UpdateTrail and DeleteTrail calls around it.",
			Attack:         []string{attackCloudLogs, attackRemoval},
			FalsePositives: []string{"logging or log file validation stopped on purpose", "a copy made of separate time ranges"},
		},
		{
			ID: RuleSignatureUnchecked, Title: "CloudTrail digest signature not checked", Level: "informational",
			Description: "The digest's own signature is only in S3 object metadata (x-amz-meta-signature) and no later digest " +
				"carries it, so it could not be checked, nor the log files it lists vouched for. For the newest digest give its " +
				"signature in signatures.json (or --signatures).",
		},
	}
}

// ruleInfos indexes Rules by id, with Source set.
func ruleInfos() map[string]*finding.RuleInfo {
	rules := Rules()
	m := make(map[string]*finding.RuleInfo, len(rules))
	for i := range rules {
		rules[i].Source = RuleSource
		m[rules[i].ID] = &rules[i]
	}
	return m
}
