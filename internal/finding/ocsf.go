package finding

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// OCSFVersion is the OCSF schema version WriteOCSF follows.
const OCSFVersion = "1.3.0"

// The Detection Finding class and its one activity we emit.
const (
	ocsfCategoryUID = 2 // Findings
	ocsfClassUID    = 2004
	ocsfActivityID  = 1 // Create
	ocsfTypeUID     = ocsfClassUID*100 + ocsfActivityID
	ocsfStatusNew   = 1
	ocsfSuppressed  = 3
	ocsfAnalyticID  = 1 // Rule
	ocsfAWSAccount  = 10
)

// WriteOCSF writes each finding as an OCSF 1.3.0 Detection Finding (class
// 2004, activity Create), one JSON object per line, with the cloud and host
// profiles (host carries the actor). Where OCSF has no attribute for a
// trailsentry field, it goes under unmapped. docs/findings.md has the mapping.
// The summary is not written.
func WriteOCSF(w io.Writer, findings []*Finding, _ *Summary, opts Options) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, f := range findings {
		if err := enc.Encode(toOCSF(f, opts.Version)); err != nil {
			return fmt.Errorf("write ocsf: finding %s: %w", f.ID, err)
		}
	}
	return bw.Flush()
}

type ocsfFinding struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name"`
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name"`
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity"`
	StatusID     int    `json:"status_id"`
	Status       string `json:"status"`
	// Time is the latest matched event's time, so a rescan writes the same
	// object; start_time and end_time span the matched events.
	Time        int64           `json:"time"`
	StartTime   int64           `json:"start_time,omitempty"`
	EndTime     int64           `json:"end_time,omitempty"`
	Count       int64           `json:"count"`
	Message     string          `json:"message"`
	Metadata    ocsfMetadata    `json:"metadata"`
	FindingInfo ocsfFindingInfo `json:"finding_info"`
	Cloud       ocsfCloud       `json:"cloud"`
	Actor       *ocsfActor      `json:"actor,omitempty"`
	Evidences   []ocsfEvidence  `json:"evidences,omitempty"`
	Unmapped    ocsfUnmapped    `json:"unmapped"`
}

type ocsfMetadata struct {
	Version  string      `json:"version"`
	Product  ocsfProduct `json:"product"`
	Profiles []string    `json:"profiles"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version,omitempty"`
}

type ocsfFindingInfo struct {
	UID           string             `json:"uid"`
	Title         string             `json:"title"`
	Desc          string             `json:"desc,omitempty"`
	Types         []string           `json:"types,omitempty"`
	DataSources   []string           `json:"data_sources"`
	FirstSeenTime int64              `json:"first_seen_time,omitempty"`
	LastSeenTime  int64              `json:"last_seen_time,omitempty"`
	Analytic      ocsfAnalytic       `json:"analytic"`
	Attacks       []ocsfAttack       `json:"attacks,omitempty"`
	RelatedEvents []ocsfRelatedEvent `json:"related_events,omitempty"`
}

type ocsfAnalytic struct {
	UID    string `json:"uid,omitempty"`
	Name   string `json:"name"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
}

type ocsfAttack struct {
	Technique    *ocsfUID `json:"technique,omitempty"`
	SubTechnique *ocsfUID `json:"sub_technique,omitempty"`
}

type ocsfUID struct {
	UID string `json:"uid"`
}

// ocsfRelatedEvent points at a matched CloudTrail event by its eventID, which
// is also the metadata.uid of that event mapped to OCSF (as Security Lake
// does).
type ocsfRelatedEvent struct {
	UID string `json:"uid"`
}

type ocsfCloud struct {
	Provider string       `json:"provider"`
	Region   string       `json:"region,omitempty"`
	Account  *ocsfAccount `json:"account,omitempty"`
}

type ocsfAccount struct {
	UID    string `json:"uid"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
}

type ocsfActor struct {
	User ocsfUser `json:"user"`
}

type ocsfUser struct {
	Name string `json:"name"`
	UID  string `json:"uid,omitempty"`
}

type ocsfEvidence struct {
	API ocsfAPI `json:"api"`
}

type ocsfAPI struct {
	Operation string       `json:"operation"`
	Service   *ocsfService `json:"service,omitempty"`
}

type ocsfService struct {
	Name string `json:"name"`
}

// ocsfUnmapped holds what OCSF 1.3 has no attribute for.
type ocsfUnmapped struct {
	SchemaVersion     string     `json:"trailsentry_schema_version"`
	SeverityScore     Score      `json:"severity_score"`
	SeverityLabel     Label      `json:"severity_label"`
	RuleSource        string     `json:"rule_source"`
	RuleLevel         string     `json:"rule_level"`
	FalsePositives    []string   `json:"false_positives,omitempty"`
	EventIDsTruncated bool       `json:"event_ids_truncated"`
	EventSources      []string   `json:"event_sources"`
	SourceIPAddresses []string   `json:"source_ip_addresses"`
	UserAgents        []string   `json:"user_agents"`
	ErrorCodes        []string   `json:"error_codes"`
	AccessKeyIDs      []string   `json:"access_key_ids"`
	CorrelatedValues  []string   `json:"correlated_values,omitempty"`
	ActorRisk         *ActorRisk `json:"actor_risk,omitempty"`
	Subject           string     `json:"subject,omitempty"`
	Rarity            string     `json:"rarity,omitempty"`
	Detail            string     `json:"detail,omitempty"`
}

// ocsfSeverity maps a label to OCSF's severity_id and its caption.
func ocsfSeverity(l Label) (int, string) {
	switch l {
	case Low:
		return 2, "Low"
	case Medium:
		return 3, "Medium"
	case High:
		return 4, "High"
	case Critical:
		return 5, "Critical"
	}
	return 1, "Informational"
}

func toOCSF(f *Finding, version string) ocsfFinding {
	sevID, sev := ocsfSeverity(f.Severity.Label)
	first, last := ocsfTime(f.FirstSeen), ocsfTime(f.LastSeen)
	o := ocsfFinding{
		ActivityID:   ocsfActivityID,
		ActivityName: "Create",
		CategoryUID:  ocsfCategoryUID,
		CategoryName: "Findings",
		ClassUID:     ocsfClassUID,
		ClassName:    "Detection Finding",
		TypeUID:      ocsfTypeUID,
		TypeName:     "Detection Finding: Create",
		SeverityID:   sevID,
		Severity:     sev,
		StatusID:     ocsfStatus(f).id,
		Status:       ocsfStatus(f).name,
		Time:         last,
		StartTime:    first,
		EndTime:      last,
		Count:        f.Count,
		Message:      ocsfMessage(f),
		Metadata: ocsfMetadata{
			Version:  OCSFVersion,
			Product:  ocsfProduct{Name: "trailsentry", VendorName: "trailsentry", Version: version},
			Profiles: []string{"cloud", "host"},
		},
		FindingInfo: ocsfFindingInfo{
			UID:           f.ID,
			Title:         f.Rule.Title,
			Desc:          f.Rule.Description,
			DataSources:   []string{"AWS CloudTrail"},
			FirstSeenTime: first,
			LastSeenTime:  last,
			Analytic:      ocsfAnalytic{UID: f.Rule.ID, Name: f.Rule.Title, TypeID: ocsfAnalyticID, Type: "Rule"},
		},
		Cloud: ocsfCloud{Provider: "AWS", Region: f.Region},
		Unmapped: ocsfUnmapped{
			SchemaVersion:     f.SchemaVersion,
			SeverityScore:     f.Severity.Score,
			SeverityLabel:     f.Severity.Label,
			RuleSource:        f.Rule.Source,
			RuleLevel:         f.Rule.Level,
			FalsePositives:    f.Rule.FalsePositives,
			EventIDsTruncated: f.EventIDsTruncated,
			EventSources:      nonNil(f.EventSources),
			SourceIPAddresses: nonNil(f.SourceIPAddresses),
			UserAgents:        nonNil(f.UserAgents),
			ErrorCodes:        nonNil(f.ErrorCodes),
			AccessKeyIDs:      nonNil(f.AccessKeyIDs),
			CorrelatedValues:  f.CorrelatedValues,
			ActorRisk:         f.ActorRisk,
			Subject:           f.Subject,
			Rarity:            f.Rarity,
			Detail:            f.Detail,
		},
	}
	if f.Rule.Title != "" {
		// Like a GuardDuty finding type: what was detected, stable per rule.
		o.FindingInfo.Types = []string{f.Rule.Title}
	}
	for _, id := range f.Attack {
		o.FindingInfo.Attacks = append(o.FindingInfo.Attacks, ocsfAttackFor(id))
	}
	for _, id := range f.EventIDs {
		o.FindingInfo.RelatedEvents = append(o.FindingInfo.RelatedEvents, ocsfRelatedEvent{UID: id})
	}
	if f.Account != "" {
		o.Cloud.Account = &ocsfAccount{UID: f.Account, TypeID: ocsfAWSAccount, Type: "AWS Account"}
	}
	if f.Actor != "" {
		o.Actor = &ocsfActor{User: ocsfUser{Name: f.Actor}}
		if strings.HasPrefix(f.Actor, "arn:") {
			o.Actor.User.UID = f.Actor
		}
	}
	// One evidence per API operation. The service is named only when all the
	// operations went to one: the finding does not pair names with sources.
	var service *ocsfService
	if len(f.EventSources) == 1 {
		service = &ocsfService{Name: f.EventSources[0]}
	}
	for _, name := range f.EventNames {
		o.Evidences = append(o.Evidences, ocsfEvidence{API: ocsfAPI{Operation: name, Service: service}})
	}
	return o
}

// ocsfAttackFor splits an ATT&CK id: "T1562.008" is sub-technique T1562.008
// of technique T1562; "T1078" is a technique.
func ocsfAttackFor(id string) ocsfAttack {
	if parent, _, ok := strings.Cut(id, "."); ok {
		return ocsfAttack{Technique: &ocsfUID{UID: parent}, SubTechnique: &ocsfUID{UID: id}}
	}
	return ocsfAttack{Technique: &ocsfUID{UID: id}}
}

// ocsfTime is OCSF's timestamp_t: milliseconds since the Unix epoch; 0 when
// unknown.
func ocsfTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func ocsfMessage(f *Finding) string {
	return fmt.Sprintf("%s: %s by %s in %s/%s", f.Rule.Title, plural(f.Count, "event"), orNone(f.Actor), orNone(f.Account), orNone(f.Region))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type ocsfStatusValue struct {
	id   int
	name string
}

// ocsfStatus is New, or Suppressed for a finding a suppression covers.
func ocsfStatus(f *Finding) ocsfStatusValue {
	if f.Suppressed {
		return ocsfStatusValue{ocsfSuppressed, "Suppressed"}
	}
	return ocsfStatusValue{ocsfStatusNew, "New"}
}
