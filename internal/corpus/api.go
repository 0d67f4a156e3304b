package corpus

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// builder writes the members of one part of a record (requestParameters,
// responseElements, additionalEventData, serviceEventDetails) or the
// elements of its resources array.
type builder func(w *jsonWriter, c *call)

// api is one CloudTrail event type in the background traffic: what service
// logs it, how often it happens, who calls it and what its request and
// response look like. The tables in api_*.go list them service by service.
type api struct {
	svc      string // the service part of eventSource: "ec2" for ec2.amazonaws.com
	name     string // eventName
	weight   int    // events per 100,000
	readOnly bool
	data     bool // a data event (eventCategory Data)
	global   bool // a global service, logged in us-east-1 only
	callers  callerKind

	// Calls AWS services make: with the caller's credentials (the identity
	// gets invokedBy), or as themselves (an AWSService identity), in
	// serviceShare percent of the calls.
	onBehalf     []string
	services     []string
	serviceShare int

	eventType       string // "" is AwsApiCall
	notFound        notFound
	deniedException bool // JSON services that say AccessDeniedException
	noErrors        bool

	// caller, when set, chooses the identity, address and user agent
	// itself (sign-in, web identity federation…).
	caller func(c *call)

	req, resp, additional, resources, details builder

	// Derived by newCatalog from the service table.
	source      string // eventSource
	action      string // IAM action, for error messages: "ec2:DescribeInstances"
	cliCommand  string // aws-cli user-agent suffix: "ec2.describe-instances"
	goAPI       string // aws-sdk-go-v2 user-agent suffix: " api/ec2#1.151.1"
	endpoint    string // regional endpoint prefix for the TLS host header
	host        string // fixed host header for global services
	version     string // eventVersion
	errors      errorStyle
	errorRate   float64 // share of calls that fail
	s3RequestID bool    // S3 request IDs are 16 hex digits, not UUIDs
}

// serviceInfo is what the records of one service have in common.
type serviceInfo struct {
	iamPrefix string
	cli       string // aws-cli and SDK service name
	host      string // fixed host for global services
	errors    errorStyle
	denied    bool // AccessDeniedException rather than AccessDenied
}

func serviceInfoFor(svc string) serviceInfo {
	switch svc {
	case "ec2":
		return serviceInfo{iamPrefix: "ec2", cli: "ec2", errors: errEC2}
	case "s3":
		return serviceInfo{iamPrefix: "s3", cli: "s3api", errors: errS3}
	case "iam":
		return serviceInfo{iamPrefix: "iam", cli: "iam", host: "iam.amazonaws.com", errors: errQuery}
	case "sts", "rds", "sns", "elasticloadbalancing", "cloudformation":
		cli := svc
		if svc == "elasticloadbalancing" {
			cli = "elbv2"
		}
		return serviceInfo{iamPrefix: svc, cli: cli, errors: errQuery}
	case "monitoring":
		return serviceInfo{iamPrefix: "cloudwatch", cli: "cloudwatch", errors: errQuery}
	case "organizations":
		return serviceInfo{iamPrefix: "organizations", cli: "organizations", host: "organizations.us-east-1.amazonaws.com", errors: errJSON, denied: true}
	case "route53":
		return serviceInfo{iamPrefix: "route53", cli: "route53", host: "route53.amazonaws.com", errors: errQuery}
	case "signin":
		return serviceInfo{iamPrefix: "signin", host: "signin.aws.amazon.com", errors: errQuery}
	case "sso":
		return serviceInfo{iamPrefix: "sso", cli: "sso", errors: errJSON, denied: true}
	case "ssm", "logs", "ecr", "ecs", "eks", "config", "guardduty", "lambda":
		return serviceInfo{iamPrefix: svc, cli: svc, errors: errJSON, denied: true}
	}
	return serviceInfo{iamPrefix: svc, cli: svc, errors: errJSON}
}

// catalog is the background traffic model: every API with its cumulative
// weights, one table for us-east-1 (where global services log) and one for
// the other regions.
type catalog struct {
	apis     []*api
	cumEast  []int
	cumOther []int
	masks    []callerKind
}

// errorRate is the share of background calls that fail. A few APIs never
// fail in the corpus (sign-in is modelled separately); the rest fail a bit
// more often than this so the whole trail lands near 3%.
const errorRate = 0.031

func newCatalog() *catalog {
	var all []api
	for _, part := range [][]api{
		identityAPIs(), computeAPIs(), storageAPIs(), operationsAPIs(),
	} {
		all = append(all, part...)
	}
	cat := &catalog{}
	seenMask := map[callerKind]bool{}
	east, other := 0, 0
	for i := range all {
		a := &all[i]
		a.derive()
		if a.callers == 0 {
			a.callers = callerAnyone
		}
		if !seenMask[a.callers] {
			seenMask[a.callers] = true
			cat.masks = append(cat.masks, a.callers)
		}
		east += a.weight
		if !a.global {
			other += a.weight
		}
		cat.apis = append(cat.apis, a)
		cat.cumEast = append(cat.cumEast, east)
		cat.cumOther = append(cat.cumOther, other)
	}
	for _, m := range []callerKind{callerLambda, callerInstance, callerPod, callerHuman, callerCI, callerHuman | callerCI} {
		if !seenMask[m] {
			seenMask[m] = true
			cat.masks = append(cat.masks, m)
		}
	}
	return cat
}

// derive fills in what follows from the service and the event name.
func (a *api) derive() {
	info := serviceInfoFor(a.svc)
	a.source = a.svc + ".amazonaws.com"
	op := trimAPIVersion(a.name)
	a.action = info.iamPrefix + ":" + op
	if info.cli != "" {
		a.cliCommand = info.cli + "." + kebab(op)
		a.goAPI = " api/" + info.cli + "#1." + strconv.Itoa(20+int(hash(a.svc)%140)) + "." + strconv.Itoa(int(hash(a.svc)%9))
	}
	a.endpoint = a.svc
	a.host = info.host
	a.s3RequestID = a.svc == "s3"
	a.errors = info.errors
	a.deniedException = a.deniedException || info.denied
	// Services moved to eventVersion 1.09 at different times; keep a
	// stable mix.
	a.version = "1.09"
	if hash(a.svc)%3 == 0 {
		a.version = "1.08"
	}
	if !a.noErrors {
		a.errorRate = errorRate
	}
	if a.callers == 0 {
		a.callers = callerAnyone
	}
}

func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// trimAPIVersion removes the version suffix Lambda puts on event names:
// "UpdateFunctionCode20150331v2" is the UpdateFunctionCode action.
func trimAPIVersion(name string) string {
	if i := strings.IndexAny(name, "0123456789"); i > 0 {
		return name[:i]
	}
	return name
}

// kebab turns an operation name into its aws-cli form:
// "DescribeDBInstances" → "describe-db-instances".
func kebab(op string) string {
	var b strings.Builder
	for i := 0; i < len(op); i++ {
		ch := op[i]
		upper := ch >= 'A' && ch <= 'Z'
		if upper && i > 0 {
			prev := op[i-1]
			prevLower := prev >= 'a' && prev <= 'z' || prev >= '0' && prev <= '9'
			nextLower := i+1 < len(op) && op[i+1] >= 'a' && op[i+1] <= 'z'
			prevUpper := prev >= 'A' && prev <= 'Z'
			if prevLower || prevUpper && nextLower {
				b.WriteByte('-')
			}
		}
		if upper {
			ch += 'a' - 'A'
		}
		b.WriteByte(ch)
	}
	return b.String()
}

// Small builders shared by the tables.

// fixed writes constant string members, given as key, value pairs.
func fixed(kv ...string) builder {
	return func(w *jsonWriter, c *call) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Str(kv[i], kv[i+1])
		}
	}
}

// named picks one of xs and leaves it in c.name, for error messages.
func named(c *call, xs []string) string {
	c.name = c.pick(xs)
	return c.name
}
