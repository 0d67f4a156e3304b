package policy

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Context is a request's condition keys and their values. Keys compare
// case-insensitively, as IAM compares them; a multivalued key (aws:CalledVia,
// aws:TagKeys) has several values; a key present with no values is an empty
// set. Facts.Context fills the global keys a CloudTrail event tells.
type Context map[string][]string

// Lookup returns the values of key, matched case-insensitively.
func (c Context) Lookup(key string) ([]string, bool) {
	if v, ok := c[key]; ok {
		return v, true
	}
	for k, v := range c {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// opKind is a condition operator without its negation, IfExists suffix and
// set prefix.
type opKind uint8

const (
	opInvalid opKind = iota
	opStringEquals
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opARNEquals
	opARNLike
	opNull
)

type setOp uint8

const (
	setNone setOp = iota
	setAnyValue
	setAllValues
)

// operator is a parsed condition operator. Negated operators
// (StringNotEquals, NotIpAddress, ArnNotLike...) are their positive kind with
// negate set.
type operator struct {
	kind     opKind
	negate   bool
	ifExists bool
	set      setOp
}

// baseOperators are the documented condition operators, by name.
var baseOperators = map[string]operator{
	"StringEquals":              {kind: opStringEquals},
	"StringNotEquals":           {kind: opStringEquals, negate: true},
	"StringEqualsIgnoreCase":    {kind: opStringEqualsIgnoreCase},
	"StringNotEqualsIgnoreCase": {kind: opStringEqualsIgnoreCase, negate: true},
	"StringLike":                {kind: opStringLike},
	"StringNotLike":             {kind: opStringLike, negate: true},
	"NumericEquals":             {kind: opNumericEquals},
	"NumericNotEquals":          {kind: opNumericEquals, negate: true},
	"NumericLessThan":           {kind: opNumericLessThan},
	"NumericLessThanEquals":     {kind: opNumericLessThanEquals},
	"NumericGreaterThan":        {kind: opNumericGreaterThan},
	"NumericGreaterThanEquals":  {kind: opNumericGreaterThanEquals},
	"DateEquals":                {kind: opDateEquals},
	"DateNotEquals":             {kind: opDateEquals, negate: true},
	"DateLessThan":              {kind: opDateLessThan},
	"DateLessThanEquals":        {kind: opDateLessThanEquals},
	"DateGreaterThan":           {kind: opDateGreaterThan},
	"DateGreaterThanEquals":     {kind: opDateGreaterThanEquals},
	"Bool":                      {kind: opBool},
	"BinaryEquals":              {kind: opBinaryEquals},
	"IpAddress":                 {kind: opIPAddress},
	"NotIpAddress":              {kind: opIPAddress, negate: true},
	"ArnEquals":                 {kind: opARNEquals},
	"ArnNotEquals":              {kind: opARNEquals, negate: true},
	"ArnLike":                   {kind: opARNLike},
	"ArnNotLike":                {kind: opARNLike, negate: true},
	"Null":                      {kind: opNull},
}

// OperatorNames lists the base condition operators the evaluator knows, each
// also usable with the IfExists suffix and the ForAnyValue:/ForAllValues:
// prefixes (except Null).
func OperatorNames() []string {
	names := make([]string, 0, len(baseOperators))
	for n := range baseOperators {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func parseOperator(name string) (operator, error) {
	rest := name
	var set setOp
	if r, ok := strings.CutPrefix(rest, "ForAnyValue:"); ok {
		rest, set = r, setAnyValue
	} else if r, ok := strings.CutPrefix(rest, "ForAllValues:"); ok {
		rest, set = r, setAllValues
	}
	base, ifExists := strings.CutSuffix(rest, "IfExists")
	op, ok := baseOperators[base]
	if !ok {
		return operator{}, fmt.Errorf("unknown condition operator %q", name)
	}
	if op.kind == opNull && (ifExists || set != setNone) {
		return operator{}, fmt.Errorf("condition operator %q: Null takes no IfExists or set prefix", name)
	}
	op.ifExists, op.set = ifExists, set
	return op, nil
}

func sortConditions(cs []Condition) {
	slices.SortFunc(cs, func(a, b Condition) int {
		if c := strings.Compare(a.Operator, b.Operator); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
}

// holds decides one condition against the context, with IAM's documented
// rules for missing keys and multivalued keys:
//
//   - a missing key (or an empty set) makes a positive operator false and a
//     negated one (StringNotEquals, NotIpAddress...) true; ...IfExists makes
//     any operator true;
//   - ForAnyValue: true when at least one context value satisfies the
//     operator; false when the key is missing or empty (unless IfExists);
//   - ForAllValues: true when every context value satisfies the operator, and
//     so true when the key is missing or empty;
//   - without a set prefix, a key with several values satisfies a positive
//     operator when any value matches, a negated one when none does;
//   - within a condition, the policy's values are ORed: a context value
//     matches when it matches any of them.
func (c *Condition) holds(ctx Context, vars bool) bool {
	op := c.op
	if op.kind == opInvalid {
		var err error
		if op, err = parseOperator(c.Operator); err != nil {
			return false // hand-built conditions with a bad operator never hold
		}
	}
	vals, present := ctx.Lookup(c.Key)
	if len(vals) == 0 {
		present = false
	}
	if op.kind == opNull {
		for _, v := range c.Values {
			if strings.EqualFold(v, "true") == !present {
				return true
			}
		}
		return false
	}
	switch op.set {
	case setAnyValue:
		if !present {
			return op.ifExists
		}
		for _, v := range vals {
			if c.matchesAny(op.kind, v, ctx, vars) != op.negate {
				return true
			}
		}
		return false
	case setAllValues:
		for _, v := range vals {
			if c.matchesAny(op.kind, v, ctx, vars) == op.negate {
				return false
			}
		}
		return true
	}
	if !present {
		return op.ifExists || op.negate
	}
	for _, v := range vals {
		if c.matchesAny(op.kind, v, ctx, vars) {
			return !op.negate
		}
	}
	return op.negate
}

// matchesAny reports whether the context value v matches any of the
// condition's values under the positive operator kind.
func (c *Condition) matchesAny(kind opKind, v string, ctx Context, vars bool) bool {
	for _, pv := range c.Values {
		if compare(kind, v, pv, ctx, vars) {
			return true
		}
	}
	return false
}

// compare applies a positive operator: context value v against policy value
// pv. Ordered operators read "v < pv" for LessThan.
func compare(kind opKind, v, pv string, ctx Context, vars bool) bool {
	switch kind {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opARNEquals, opARNLike:
		esc := kind == opStringLike || kind == opARNEquals || kind == opARNLike
		if vars {
			var ok bool
			if pv, ok = expand(pv, ctx, esc); !ok {
				return false
			}
		}
		switch kind {
		case opStringEquals:
			return v == pv
		case opStringEqualsIgnoreCase:
			return strings.EqualFold(v, pv)
		case opStringLike:
			return glob(pv, v, false, vars)
		default:
			// ArnEquals and ArnLike behave the same: both take wildcards.
			return matchARN(pv, v, vars)
		}
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		a, err1 := strconv.ParseFloat(v, 64)
		b, err2 := strconv.ParseFloat(pv, 64)
		if err1 != nil || err2 != nil || math.IsNaN(a) || math.IsNaN(b) {
			return false
		}
		return ordered(kind-opNumericEquals, cmpFloat(a, b))
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		a, ok1 := parseDate(v)
		b, ok2 := parseDate(pv)
		if !ok1 || !ok2 {
			return false
		}
		return ordered(kind-opDateEquals, a.Compare(b))
	case opBool:
		return strings.EqualFold(v, pv)
	case opBinaryEquals:
		a, err1 := base64.StdEncoding.DecodeString(v)
		b, err2 := base64.StdEncoding.DecodeString(pv)
		if err1 != nil || err2 != nil {
			return v == pv
		}
		return bytes.Equal(a, b)
	case opIPAddress:
		addr, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			return false
		}
		addr = addr.Unmap()
		pfx, err := netip.ParsePrefix(strings.TrimSpace(pv))
		if err != nil {
			a, err := netip.ParseAddr(strings.TrimSpace(pv))
			if err != nil {
				return false
			}
			return a.Unmap() == addr
		}
		if pfx.Addr().Is4In6() {
			bits := pfx.Bits() - 96
			if bits < 0 {
				return false
			}
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), bits)
		}
		return pfx.Contains(addr)
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ordered reads a comparison result for the n-th ordered operator of a family
// (Equals, LessThan, LessThanEquals, GreaterThan, GreaterThanEquals).
func ordered(n opKind, c int) bool {
	switch n {
	case 0:
		return c == 0
	case 1:
		return c < 0
	case 2:
		return c <= 0
	case 3:
		return c > 0
	case 4:
		return c >= 0
	}
	return false
}

// dateLayouts are the ISO 8601 forms IAM accepts in Date conditions.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseDate reads an ISO 8601 date or time (UTC when no zone is given) or an
// epoch time in seconds.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Facts are what a CloudTrail event tells about a request, as plain values;
// Context turns them into the global condition keys. Empty fields leave their
// keys out, as AWS leaves out keys it has no value for.
type Facts struct {
	PrincipalARN  string // aws:PrincipalArn — for a role session, the role's ARN (sessionContext.sessionIssuer.arn)
	PrincipalType string // CloudTrail's userIdentity.type (Root, IAMUser, AssumedRole, FederatedUser) or aws:PrincipalType's own value
	Account       string // aws:PrincipalAccount
	UserID        string // aws:userid — userIdentity.principalId ("AIDA...", "AROA...:session")
	UserName      string // aws:username — IAM users only
	OrgID         string // aws:PrincipalOrgID, when known

	SourceIP   string // aws:SourceIp — sourceIPAddress (left out when it is an AWS service name)
	UserAgent  string // aws:UserAgent
	Region     string // aws:RequestedRegion — awsRegion
	Time       time.Time
	SourceVpce string // aws:SourceVpce — vpcEndpointId
	SourceVpc  string // aws:SourceVpc

	// MFAAuthenticated is sessionContext.attributes.mfaAuthenticated: "true",
	// "false", or "" when the event does not say (long-term access keys: AWS
	// leaves aws:MultiFactorAuthPresent out).
	MFAAuthenticated string
	// SessionCreated is sessionContext.attributes.creationDate; with MFA it
	// gives aws:MultiFactorAuthAge.
	SessionCreated time.Time
	// SecureTransport is "true" when the request came over TLS (CloudTrail's
	// tlsDetails), "false" when known not to, "" when unknown.
	SecureTransport string
	ViaAWSService   bool     // aws:ViaAWSService — invokedBy is set / the call is made by a service on the principal's behalf
	CalledVia       []string // aws:CalledVia — service principals, first to last

	PrincipalTags map[string]string // aws:PrincipalTag/<key>
}

// principalTypes maps CloudTrail's userIdentity.type to aws:PrincipalType.
var principalTypes = map[string]string{
	"Root":          "Account",
	"IAMUser":       "User",
	"AssumedRole":   "AssumedRole",
	"FederatedUser": "FederatedUser",
	"Account":       "Account",
	"User":          "User",
	"Anonymous":     "Anonymous",
}

// Context returns the global condition keys the facts give.
func (f Facts) Context() Context {
	c := Context{}
	set := func(k, v string) {
		if v != "" {
			c[k] = []string{v}
		}
	}
	set("aws:PrincipalArn", f.PrincipalARN)
	if t, ok := principalTypes[f.PrincipalType]; ok {
		set("aws:PrincipalType", t)
	}
	set("aws:PrincipalAccount", f.Account)
	set("aws:userid", f.UserID)
	set("aws:username", f.UserName)
	set("aws:PrincipalOrgID", f.OrgID)
	if _, err := netip.ParseAddr(f.SourceIP); err == nil {
		set("aws:SourceIp", f.SourceIP)
	}
	set("aws:UserAgent", f.UserAgent)
	set("aws:RequestedRegion", f.Region)
	if !f.Time.IsZero() {
		set("aws:CurrentTime", f.Time.UTC().Format(time.RFC3339))
		set("aws:EpochTime", strconv.FormatInt(f.Time.Unix(), 10))
	}
	set("aws:SourceVpce", f.SourceVpce)
	set("aws:SourceVpc", f.SourceVpc)
	if f.MFAAuthenticated != "" {
		mfa := strings.EqualFold(f.MFAAuthenticated, "true")
		set("aws:MultiFactorAuthPresent", strconv.FormatBool(mfa))
		if mfa && !f.Time.IsZero() && !f.SessionCreated.IsZero() {
			age := max(0, int64(f.Time.Sub(f.SessionCreated)/time.Second))
			set("aws:MultiFactorAuthAge", strconv.FormatInt(age, 10))
		}
	}
	set("aws:SecureTransport", f.SecureTransport)
	c["aws:ViaAWSService"] = []string{strconv.FormatBool(f.ViaAWSService)}
	if len(f.CalledVia) > 0 {
		c["aws:CalledVia"] = slices.Clone(f.CalledVia)
		c["aws:CalledViaFirst"] = []string{f.CalledVia[0]}
		c["aws:CalledViaLast"] = []string{f.CalledVia[len(f.CalledVia)-1]}
	}
	for k, v := range f.PrincipalTags {
		c["aws:PrincipalTag/"+k] = []string{v}
	}
	return c
}
