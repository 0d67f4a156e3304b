// Package event holds the Event type: one CloudTrail record decoded once, with
// its hot fields typed and everything else reachable by dotted path in the
// record's raw JSON. It also holds the stream decoder that turns CloudTrail
// log files, JSON arrays, JSON Lines and EventBridge envelopes into Events.
//
// event imports nothing else of trailsentry's: every other stage reads it.
package event

import (
	"bytes"
	"encoding/json"
	"time"
)

// Kind is the JSON type of a field's value, or Missing when the event lacks it.
type Kind uint8

// The kinds of value a path can reach.
const (
	Missing Kind = iota
	Null
	String
	Number
	Bool
	Object
	Array
)

var kindNames = [...]string{"missing", "null", "string", "number", "bool", "object", "array"}

func (k Kind) String() string { return kindNames[k] }

// Value is one value reached in an event.
//
// Str is the decoded text for a String, the literal text for a Number or Bool
// ("22", "true"), and the raw JSON text for an Object or Array.
type Value struct {
	Kind Kind
	Str  string
}

// Text is the value as a string modifier sees it: the string itself, the
// literal of a number or bool, and compact JSON text for an object or array.
func (v Value) Text() string {
	if v.Kind != Object && v.Kind != Array {
		return v.Str
	}
	if !needsCompact(v.Str) {
		return v.Str
	}
	var buf bytes.Buffer
	if json.Compact(&buf, []byte(v.Str)) != nil {
		return v.Str
	}
	return buf.String()
}

// needsCompact reports whether raw JSON has whitespace outside strings.
func needsCompact(s string) bool {
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && isSpace(c):
			return true
		}
	}
	return false
}

// Field names a hot field: a field decoded into the Event up front because
// detection, filtering and reporting read it for nearly every event.
type Field uint8

// The hot fields. Their CloudTrail paths are in Fields.
const (
	EventVersion Field = iota
	EventTime
	EventSource
	EventName
	AWSRegion
	SourceIPAddress
	UserAgent
	ErrorCode
	ErrorMessage
	EventID
	EventType
	ReadOnly
	RecipientAccountID
	ManagementEvent
	EventCategory
	IdentityType
	IdentityPrincipalID
	IdentityARN
	IdentityAccountID
	IdentityAccessKeyID
	IdentityUserName
	IdentityInvokedBy
	SessionIssuerType
	SessionIssuerARN
	SessionIssuerUserName
	SessionIssuerAccountID
	SessionMFAAuthenticated
	SessionCreationDate
	SessionSourceIdentity
	numFields
)

// FieldInfo describes one hot field: the table that drives decoding, lookup
// and the field reference in docs/fields.md.
type FieldInfo struct {
	Path string // CloudTrail's dotted name
	Doc  string
}

// Fields is the hot-field table, indexed by Field.
var Fields = [numFields]FieldInfo{
	EventVersion:            {"eventVersion", "Record format version, e.g. 1.09."},
	EventTime:               {"eventTime", "When the request completed, UTC (RFC 3339)."},
	EventSource:             {"eventSource", "The service the request went to, e.g. iam.amazonaws.com."},
	EventName:               {"eventName", "The API action, e.g. CreateAccessKey."},
	AWSRegion:               {"awsRegion", "The region the request went to."},
	SourceIPAddress:         {"sourceIPAddress", "The caller's IP address, or the AWS service that called."},
	UserAgent:               {"userAgent", "The client's user agent."},
	ErrorCode:               {"errorCode", "The AWS error code when the request failed."},
	ErrorMessage:            {"errorMessage", "The AWS error message when the request failed."},
	EventID:                 {"eventID", "CloudTrail's unique id of the event."},
	EventType:               {"eventType", "AwsApiCall, AwsServiceEvent, AwsConsoleSignIn, AwsConsoleAction..."},
	ReadOnly:                {"readOnly", "Whether the action only reads."},
	RecipientAccountID:      {"recipientAccountId", "The account that received the event."},
	ManagementEvent:         {"managementEvent", "Whether this is a management (control-plane) event."},
	EventCategory:           {"eventCategory", "Management, Data, NetworkActivity or Insight."},
	IdentityType:            {"userIdentity.type", "Root, IAMUser, AssumedRole, FederatedUser, AWSAccount, AWSService, IdentityCenterUser..."},
	IdentityPrincipalID:     {"userIdentity.principalId", "The caller's principal id."},
	IdentityARN:             {"userIdentity.arn", "The caller's ARN."},
	IdentityAccountID:       {"userIdentity.accountId", "The account that owns the caller's credentials."},
	IdentityAccessKeyID:     {"userIdentity.accessKeyId", "The access key that signed the request (AKIA long-term, ASIA temporary)."},
	IdentityUserName:        {"userIdentity.userName", "The IAM user's name."},
	IdentityInvokedBy:       {"userIdentity.invokedBy", "The AWS service that made the request on the caller's behalf."},
	SessionIssuerType:       {"userIdentity.sessionContext.sessionIssuer.type", "What issued the temporary credentials: Role, IAMUser, Root."},
	SessionIssuerARN:        {"userIdentity.sessionContext.sessionIssuer.arn", "The role (or user) that issued the session."},
	SessionIssuerUserName:   {"userIdentity.sessionContext.sessionIssuer.userName", "The issuing role's (or user's) name."},
	SessionIssuerAccountID:  {"userIdentity.sessionContext.sessionIssuer.accountId", "The account that owns the issuing role."},
	SessionMFAAuthenticated: {"userIdentity.sessionContext.attributes.mfaAuthenticated", "Whether the session was authenticated with MFA."},
	SessionCreationDate:     {"userIdentity.sessionContext.attributes.creationDate", "When the temporary credentials were issued."},
	SessionSourceIdentity:   {"userIdentity.sessionContext.sourceIdentity", "The source identity set when the role was assumed."},
}

// Event is one CloudTrail record. Raw is the record's JSON object and owns
// every string of the event: nothing refers to the buffer it was read from, so
// an Event may be kept as long as needed.
type Event struct {
	Raw     []byte
	Time    time.Time // eventTime, parsed; zero when the record has none
	hot     [numFields]Value
	members []member // top-level keys, in order
	// escapedKeys: a top-level key has escapes and is not in members, so
	// lookups must walk the whole record.
	escapedKeys bool
}

// Get returns a hot field's value.
func (e *Event) Get(f Field) Value { return e.hot[f] }

// Str returns a hot field's text, "" when it is missing or null.
func (e *Event) Str(f Field) string {
	if v := e.hot[f]; v.Kind != Null {
		return v.Str
	}
	return ""
}

// Account is the account the event belongs to: recipientAccountId, or the
// caller's account when the record lacks it.
func (e *Event) Account() string {
	if a := e.Str(RecipientAccountID); a != "" {
		return a
	}
	return e.Str(IdentityAccountID)
}

// Actor is the most specific caller name the record itself gives: the IAM
// user, the assumed role with its session name, or the principal ARN.
func (e *Event) Actor() string {
	if e.Str(IdentityType) == "Root" {
		return "root"
	}
	if u := e.Str(IdentityUserName); u != "" {
		return u
	}
	if arn := e.Str(IdentityARN); arn != "" {
		return arn
	}
	if by := e.Str(IdentityInvokedBy); by != "" {
		return by
	}
	return e.Str(IdentityPrincipalID)
}
