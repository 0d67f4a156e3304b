package enrich

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/trailsentry/trailsentry/internal/event"
)

// What a request opens up: network ranges open to the whole internet, and
// resource policies that grant access to anyone or to other accounts. These
// read requestParameters, so they are only worked out when a rule asks, and
// only rules indexed on the calls that carry such parameters ask.

// AdminPorts are the ports whose exposure to the internet is an incident:
// remote administration, databases, caches, search engines and cluster
// control planes. The field table documents them.
var AdminPorts = []int{
	21, 22, 23, 135, 139, 445, 1433, 1521, 2375, 2376, 3306, 3389, 5432, 5601, 5900,
	5985, 5986, 6379, 6443, 9200, 9300, 10250, 11211, 27017,
}

// worldOpen is what the request opens to the internet.
type worldOpen struct {
	any   bool     // some range with prefix length 0 was allowed
	ports []string // the AdminPorts it covers, as text; "all" when every port is
}

// WorldOpen reports whether the request allows traffic from (or to) a range
// of prefix length 0 — 0.0.0.0/0, ::/0, or any other spelling — and which
// administrative ports that covers. It reads security-group permissions
// (requestParameters.ipPermissions), rewritten security-group rules
// (ModifySecurityGroupRules), network ACL entries (cidrBlock, ipv6CidrBlock
// with portRange) and DB security group ingress (cIDRIP).
func (v *View) WorldOpen() (open bool, adminPorts []string) {
	if v.once(partRequest) {
		v.world = v.readWorldOpen()
	}
	return v.world.any, v.world.ports
}

var (
	pathPermissions = event.ParsePath("requestParameters.ipPermissions.items")
	pathNACLCidr    = event.ParsePath("requestParameters.cidrBlock")
	pathNACLCidr6   = event.ParsePath("requestParameters.ipv6CidrBlock")
	pathNACLPorts   = event.ParsePath("requestParameters.portRange")
	pathNACLProto   = event.ParsePath("requestParameters.protocol")
	pathNACLAction  = event.ParsePath("requestParameters.ruleAction")
	pathDBCidr      = event.ParsePath("requestParameters.cIDRIP")
	pathModifyRules = event.ParsePath("requestParameters.ModifySecurityGroupRulesRequest.SecurityGroupRule.SecurityGroupRule")
)

func (v *View) readWorldOpen() worldOpen {
	var w worldOpen
	if v.ev == nil {
		return w
	}
	covered := map[string]bool{}
	open := func(proto string, from, to int) {
		w.any = true
		if proto == "-1" || strings.EqualFold(proto, "all") || from < 0 || (from == 0 && to >= 65535) {
			covered["all"] = true
			return
		}
		for _, p := range AdminPorts {
			if p >= from && p <= to {
				covered[strconv.Itoa(p)] = true
			}
		}
	}
	// Security groups: each permission with its ranges.
	v.ev.Lookup(pathPermissions, func(perm event.Value) bool {
		if perm.Kind != event.Object {
			return false
		}
		var p struct {
			Proto   string      `json:"ipProtocol"`
			From    json.Number `json:"fromPort"`
			To      json.Number `json:"toPort"`
			Ranges  ipRanges    `json:"ipRanges"`
			Ranges6 ipRanges    `json:"ipv6Ranges"`
		}
		if json.Unmarshal([]byte(perm.Str), &p) != nil {
			return false
		}
		from, to := portOf(p.From, -1), portOf(p.To, -1)
		if to < from {
			to = from
		}
		for _, r := range append(p.Ranges.Items, p.Ranges6.Items...) {
			if worldRange(r.CidrIP) || worldRange(r.CidrIPv6) {
				open(p.Proto, from, to)
			}
		}
		return false
	})
	// ModifySecurityGroupRules rewrites existing rules, one or several.
	v.ev.Lookup(pathModifyRules, func(rule event.Value) bool {
		if rule.Kind != event.Object {
			return false
		}
		var r struct {
			Proto string      `json:"IpProtocol"`
			From  json.Number `json:"FromPort"`
			To    json.Number `json:"ToPort"`
			V4    string      `json:"CidrIpv4"`
			V6    string      `json:"CidrIpv6"`
		}
		if json.Unmarshal([]byte(rule.Str), &r) == nil && (worldRange(r.V4) || worldRange(r.V6)) {
			from, to := portOf(r.From, -1), portOf(r.To, -1)
			open(r.Proto, from, max(to, from))
		}
		return false
	})
	// Network ACL entries that allow.
	if cidr := v.ev.First(pathNACLCidr).Str + v.ev.First(pathNACLCidr6).Str; cidr != "" &&
		strings.EqualFold(v.ev.First(pathNACLAction).Str, "allow") &&
		(worldRange(v.ev.First(pathNACLCidr).Str) || worldRange(v.ev.First(pathNACLCidr6).Str)) {
		var pr struct {
			From json.Number `json:"from"`
			To   json.Number `json:"to"`
		}
		json.Unmarshal([]byte(v.ev.First(pathNACLPorts).Str), &pr)
		from, to := portOf(pr.From, -1), portOf(pr.To, -1)
		open(v.ev.First(pathNACLProto).Str, from, max(to, from))
	}
	// DB security groups take a CIDR and no port: the database's port.
	if worldRange(v.ev.First(pathDBCidr).Str) {
		open("-1", -1, -1)
	}
	for p := range covered {
		w.ports = append(w.ports, p)
	}
	slices.SortFunc(w.ports, func(a, b string) int { return cmpPort(a) - cmpPort(b) })
	return w
}

type ipRanges struct {
	Items []struct {
		CidrIP   string `json:"cidrIp"`
		CidrIPv6 string `json:"cidrIpv6"`
	} `json:"items"`
}

func portOf(n json.Number, def int) int {
	if i, err := strconv.Atoi(string(n)); err == nil {
		return i
	}
	return def
}

func cmpPort(p string) int {
	if p == "all" {
		return -1
	}
	n, _ := strconv.Atoi(p)
	return n
}

// worldRange reports whether s is a CIDR of prefix length 0: the whole IPv4
// or IPv6 internet, however it is written (0.0.0.0/0, 10.0.0.0/0, ::/0).
func worldRange(s string) bool {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	return err == nil && p.Bits() == 0
}

// Exposure values: what a resource policy in the request grants.
const (
	ExposurePublic      = "public"      // anyone ("*"), with no condition restricting it
	ExposureExternal    = "external"    // another account, with no condition restricting it
	ExposureConditional = "conditional" // anyone or another account, but under a Condition
)

// policy is what PolicyExposure found.
type policy struct {
	exposure string
	accounts []string // other accounts granted access
}

// PolicyExposure reads the resource or trust policy a request sets — an S3
// bucket policy, an IAM role trust policy, a KMS key policy, a Lambda
// permission, an ECR, SNS, SQS, Secrets Manager or Glacier policy — and says
// whether an Allow statement grants access to anyone ("public") or to an
// account other than the one the event belongs to ("external") without a
// Condition restricting it; "conditional" when such a grant has a Condition;
// "" when the request sets no such policy or grants only within the account
// and to services.
func (v *View) PolicyExposure() (exposure string, accounts []string) {
	if v.once(partPolicy) {
		v.policy = v.readPolicy()
	}
	return v.policy.exposure, v.policy.accounts
}

// The request parameters that carry a policy, in the spellings services use.
var policyPaths = []*event.Path{
	event.ParsePath("requestParameters.bucketPolicy"),
	event.ParsePath("requestParameters.policyDocument"),
	event.ParsePath("requestParameters.assumeRolePolicyDocument"),
	event.ParsePath("requestParameters.policy"),
	event.ParsePath("requestParameters.resourcePolicy"),
	event.ParsePath("requestParameters.policyText"),
	event.ParsePath("requestParameters.attributes.Policy"),
	event.ParsePath("requestParameters.attributes.policy"),
}

var (
	pathLambdaPrincipal = event.ParsePath("requestParameters.principal")
	pathLambdaSourceArn = event.ParsePath("requestParameters.sourceArn")
	pathLambdaSourceAcc = event.ParsePath("requestParameters.sourceAccount")
	pathLambdaOrgID     = event.ParsePath("requestParameters.principalOrgID")
	pathLayerOrgID      = event.ParsePath("requestParameters.organizationId")
)

func (v *View) readPolicy() policy {
	if v.ev == nil {
		return policy{}
	}
	own := v.ev.Account()
	// Lambda AddPermission names one principal, with optional restrictions.
	if p := v.ev.First(pathLambdaPrincipal); p.Kind == event.String && v.ev.Str(event.EventSource) == "lambda.amazonaws.com" {
		restricted := v.ev.First(pathLambdaSourceArn).Kind == event.String ||
			v.ev.First(pathLambdaSourceAcc).Kind == event.String || v.ev.First(pathLambdaOrgID).Kind == event.String ||
			v.ev.First(pathLayerOrgID).Kind == event.String
		var g grants
		g.add(p.Str, own, restricted)
		return g.result()
	}
	for _, path := range policyPaths {
		val := v.ev.First(path)
		text := ""
		switch val.Kind {
		case event.Object:
			text = val.Str
		case event.String:
			text = val.Str // a policy as a JSON string (IAM, KMS, SQS...)
		default:
			continue
		}
		var doc struct {
			Statement json.RawMessage `json:"Statement"`
		}
		if json.Unmarshal([]byte(text), &doc) != nil || len(doc.Statement) == 0 {
			continue
		}
		var stmts []statement
		if doc.Statement[0] == '[' {
			json.Unmarshal(doc.Statement, &stmts)
		} else {
			var one statement
			if json.Unmarshal(doc.Statement, &one) == nil {
				stmts = []statement{one}
			}
		}
		var g grants
		for _, s := range stmts {
			if !strings.EqualFold(s.Effect, "Allow") {
				continue
			}
			restricted := len(s.Condition) > 0 && string(s.Condition) != "{}" && string(s.Condition) != "null"
			for _, p := range s.principals() {
				g.add(p, own, restricted)
			}
		}
		return g.result()
	}
	return policy{}
}

type statement struct {
	Effect    string          `json:"Effect"`
	Principal json.RawMessage `json:"Principal"`
	Condition json.RawMessage `json:"Condition"`
}

// principals lists the AWS principals (and "*") a statement names; service
// and federated principals are not accounts and are left out.
func (s statement) principals() []string {
	if len(s.Principal) == 0 {
		return nil
	}
	var star string
	if json.Unmarshal(s.Principal, &star) == nil {
		return []string{star}
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(s.Principal, &m) != nil {
		return nil
	}
	var out []string
	for kind, raw := range m {
		if kind != "AWS" && kind != "CanonicalUser" {
			continue
		}
		var one string
		if json.Unmarshal(raw, &one) == nil {
			out = append(out, one)
			continue
		}
		var many []string
		json.Unmarshal(raw, &many)
		out = append(out, many...)
	}
	return out
}

// grants accumulates what a policy's principals grant.
type grants struct {
	public, external, conditional bool
	accounts                      []string
}

// add notes one principal: "*", an account id, or an ARN in an account.
func (g *grants) add(principal, own string, restricted bool) {
	principal = strings.TrimSpace(principal)
	acct := ""
	switch {
	case principal == "*":
	case isAccountID(principal):
		acct = principal
	case strings.HasPrefix(principal, "arn:"):
		if parts := strings.SplitN(principal, ":", 6); len(parts) == 6 {
			acct = parts[4]
		}
		if acct == "" {
			return
		}
	default:
		return // a service principal or a canonical user id
	}
	if acct != "" && acct == own {
		return
	}
	if restricted {
		g.conditional = true
		return
	}
	if acct == "" {
		g.public = true
		return
	}
	g.external = true
	if !slices.Contains(g.accounts, acct) {
		g.accounts = append(g.accounts, acct)
	}
}

func (g *grants) result() policy {
	switch {
	case g.public:
		return policy{exposure: ExposurePublic, accounts: g.accounts}
	case g.external:
		return policy{exposure: ExposureExternal, accounts: g.accounts}
	case g.conditional:
		return policy{exposure: ExposureConditional}
	}
	return policy{}
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
