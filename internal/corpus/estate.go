package corpus

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// The estate is everything that stays the same across the corpus: the
// accounts, their principals (personas) and their resources. It is built once
// from the seed, before any file is written, and only read afterwards, so a
// role, a bucket or an access key looks the same in every file it shows up in
// — baselines and first-seen detections see a stable population.

// callerKind says what sort of principal a persona is; each API lists the
// kinds that plausibly call it.
type callerKind uint16

const (
	callerHuman    callerKind = 1 << iota // people, through IAM Identity Center or IAM users
	callerCI                              // pipelines: GitHub Actions, Terraform, a legacy CI user
	callerInstance                        // EC2 and EKS node instance profiles
	callerPod                             // EKS pods (IRSA) and ECS tasks
	callerLambda                          // Lambda execution roles
	callerMonitor                         // a third-party read-only monitoring integration
	callerConfig                          // the AWS Config service-linked role
	callerS3Tool                          // an IAM user driving S3 with a desktop client

	callerWorkload = callerInstance | callerPod | callerLambda
	callerAnyone   = callerHuman | callerCI | callerWorkload | callerMonitor
	callerReaders  = callerAnyone | callerConfig
)

// tailKind is what a user agent appends for the API being called.
type tailKind uint8

const (
	tailNone tailKind = iota
	tailCLI           // aws-cli: " command/ec2.describe-instances"
	tailGo            // aws-sdk-go-v2: " api/ec2#1.151.1"
)

// agent is one user-agent string a persona sends.
type agent struct {
	text string
	tail tailKind
}

// session is one set of temporary credentials of a role persona.
type session struct {
	name   string
	key    string        // ASIA… access key ID
	offset time.Duration // sessions are refreshed hourly, at this offset
}

// persona is one principal of an account together with its habits.
type persona struct {
	kind   callerKind
	weight int

	// IAM users have a name, an AIDA… ID and an AKIA… key; roles have a
	// name, a path, an AROA… ID and sessions.
	user      bool
	name      string
	path      string
	id        string
	accessKey string
	sessions  []session

	agents  []agent
	ips     []string // public source addresses
	private []string // VPC addresses, used when the call goes through an endpoint
	console bool     // a person who also clicks in the console
	ec2Role bool     // instance-profile credentials (sessionContext.ec2RoleDelivery)
	mfa     bool
}

type securityGroup struct{ id, name string }
type secret struct{ name, suffix string }
type idName struct{ id, name string }

type account struct {
	id    string
	index int
	env   string // prod, staging, dev…
	org   bool   // delivered by the organization trail (AWSLogs/o-…/<account>/…)

	personas []*persona
	pickers  map[callerKind]*personaPicker

	// human-looking names for console sign-ins
	people []*persona

	natIPs       []string
	vpcEndpoints []string

	vpcs           []string
	subnets        []string
	securityGroups []securityGroup
	instances      []string
	volumes        []string
	images         []string
	snapshots      []string
	enis           []string
	buckets        []string
	kmsKeys        []string
	functions      []string
	tables         []string
	dbInstances    []string
	dbClusters     []string
	secrets        []secret
	parameters     []string
	topics         []string
	queues         []string
	repos          []string
	ecsClusters    []string
	ecsServices    []string
	eksClusters    []string
	eksOIDC        string
	loadBalancers  []idName // id is the ELBv2 ARN suffix
	targetGroups   []idName
	stacks         []idName // id is the stack UUID
	hostedZones    []idName
	roles          []string // role names, beyond the personas' own
	users          []string
	policies       []string
	logGroups      []string
	trail          string
	detector       string
	configRules    []string
	cacheTag       string
}

// estate is the whole simulated organization.
type estate struct {
	company  string
	domain   string
	orgID    string
	tenantID string // the Entra ID tenant behind SAML federation
	accounts []*account
}

// personaPicker draws a persona of an account by weight among those whose
// kind is in a mask.
type personaPicker struct {
	personas []*persona
	cum      []int
}

func (p *personaPicker) pick(r *rand.Rand) *persona {
	if len(p.personas) == 0 {
		return nil
	}
	x := r.IntN(p.cum[len(p.cum)-1])
	for i, c := range p.cum {
		if x < c {
			return p.personas[i]
		}
	}
	return p.personas[len(p.personas)-1]
}

// picker returns the persona picker for a caller mask; all masks used by the
// API table are prepared by newEstate, so this never builds one lazily.
func (a *account) picker(mask callerKind) *personaPicker {
	return a.pickers[mask]
}

var companies = []struct{ name, domain string }{
	{"anycompany", "anycompany.com"},
	{"octank", "octank.example"},
	{"examplecorp", "example.com"},
}

var environments = []string{"prod", "staging", "dev", "sandbox", "shared", "data"}

var peopleNames = []string{
	"alice.martin", "bob.nguyen", "carla.rossi", "deepak.iyer", "emma.schmidt",
	"farid.haddad", "grace.okafor", "hiro.tanaka", "ines.moreau", "jonas.berg",
	"kate.obrien", "liam.walsh", "maria.garcia", "noah.cohen", "olga.petrova",
}

// newEstate builds the organization for a seed. masks lists every caller
// mask the API table uses, so pickers can be prepared up front.
func newEstate(seed int64, accountIDs []string, masks []callerKind) *estate {
	r := newRand(seed, 1<<40)
	co := companies[r.IntN(len(companies))]
	e := &estate{
		company: co.name,
		domain:  co.domain,
		orgID:   "o-" + randomString(r, lowerAlnum, 10),
	}
	e.tenantID = newUUID(r)
	for i, id := range accountIDs {
		a := newAccount(newRand(seed, 1<<40+uint64(i)+1), e, id, i)
		a.org = len(accountIDs) > 1 && i == len(accountIDs)-1
		a.pickers = make(map[callerKind]*personaPicker, len(masks))
		for _, m := range masks {
			if _, ok := a.pickers[m]; ok {
				continue
			}
			p := &personaPicker{}
			total := 0
			for _, ps := range a.personas {
				if ps.kind&m != 0 {
					total += ps.weight
					p.personas = append(p.personas, ps)
					p.cum = append(p.cum, total)
				}
			}
			a.pickers[m] = p
		}
		e.accounts = append(e.accounts, a)
	}
	return e
}

func newAccount(r *rand.Rand, e *estate, id string, index int) *account {
	a := &account{id: id, index: index, env: environments[index%len(environments)]}
	if index >= len(environments) {
		a.env += strconv.Itoa(index / len(environments))
	}
	octet := strconv.Itoa(16 + index%200)
	privateIP := func() string {
		return "10." + octet + "." + strconv.Itoa(r.IntN(64)) + "." + strconv.Itoa(1+r.IntN(254))
	}
	publicIP := func(firsts ...int) string {
		return strconv.Itoa(firsts[r.IntN(len(firsts))]) + "." + strconv.Itoa(r.IntN(256)) + "." +
			strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
	}
	ids := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = awsID(r, prefix)
		}
		return out
	}
	named := func(names ...string) []string { return names }

	// Network and compute.
	for range 3 {
		a.natIPs = append(a.natIPs, publicIP(3, 18, 34, 44, 52, 54))
	}
	a.vpcEndpoints = ids("vpce", 4)
	a.vpcs = ids("vpc", 3)
	a.subnets = ids("subnet", 9)
	for _, n := range []string{"default", "eks-cluster-sg-prod", "alb-public", "app-servers", "bastion",
		"rds-postgres", "lambda-egress", "vpc-endpoints", "monitoring-agents", "redis-cache", "batch-workers", "build-runners"} {
		a.securityGroups = append(a.securityGroups, securityGroup{awsID(r, "sg"), n})
	}
	a.instances = ids("i", 40)
	a.volumes = ids("vol", 40)
	a.images = ids("ami", 6)
	a.snapshots = ids("snap", 12)
	a.enis = ids("eni", 24)

	// Storage and data.
	p := e.company + "-" + a.env
	a.buckets = named(p+"-artifacts", p+"-data-lake-raw", p+"-static-assets", p+"-backups",
		"terraform-state-"+id, "aws-cloudtrail-logs-"+id+"-"+randomHex(r, 8),
		"cf-templates-"+randomString(r, lowerAlnum, 12)+"-us-east-1", p+"-alb-access-logs", p+"-reports")
	for range 6 {
		a.kmsKeys = append(a.kmsKeys, newUUID(r))
	}
	a.functions = named("orders-api-handler", "image-resizer", "invoice-generator", "cognito-post-confirmation",
		"s3-object-indexer", "slack-notifier", "nightly-report", "stripe-webhook", "cloudwatch-log-shipper",
		"feature-flag-sync", "user-export", "dynamodb-stream-processor")
	a.tables = named("orders", "sessions", "inventory", "payments-ledger", "feature-flags", "terraform-locks", "user-profiles")
	a.dbInstances = named("orders-db-"+a.env, "analytics-replica-1", "keycloak-db", "payments-aurora-instance-1")
	a.dbClusters = named("payments-aurora-cluster", "reporting-aurora")
	for _, n := range []string{a.env + "/orders/db-credentials", a.env + "/payments/stripe-api-key", "ci/github-token",
		a.env + "/keycloak/admin", "rds!db-" + newUUID(r), a.env + "/datadog/api-key", a.env + "/smtp/credentials"} {
		a.secrets = append(a.secrets, secret{n, randomString(r, mixedAlnum, 6)})
	}
	a.parameters = named("/"+a.env+"/orders/db_host", "/"+a.env+"/orders/feature_flags", "/config/logging/level",
		"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
		"/aws/service/eks/optimized-ami/1.29/amazon-linux-2/recommended/image_id",
		"/"+a.env+"/payments/api_endpoint", "/cloudwatch-agent/config", "/"+a.env+"/web/sentry_dsn")
	a.topics = named("alerts-critical", "orders-events", "budget-notifications", "ses-bounces")
	a.queues = named("orders-ingest", "orders-ingest-dlq", "image-resize-jobs", "email-outbox", "s3-events")
	a.repos = named("orders-api", "web-frontend", "payments-service", "image-resizer", "base/python", "keycloak")
	a.ecsClusters = named(a.env+"-services", a.env+"-batch")
	a.ecsServices = named("payments-service", "web-frontend", "keycloak", "report-worker")
	a.eksClusters = named(a.env+"-eks", a.env+"-eks-tools")
	a.eksOIDC = randomString(r, "0123456789ABCDEF", 32)
	for _, n := range []string{a.env + "-public-alb", a.env + "-internal-alb", "keycloak-alb", "k8s-ingress-" + randomHex(r, 10)} {
		a.loadBalancers = append(a.loadBalancers, idName{randomHex(r, 16), n})
	}
	for _, n := range []string{"orders-api-tg", "web-frontend-tg", "keycloak-tg", "k8s-default-" + randomHex(r, 10)} {
		a.targetGroups = append(a.targetGroups, idName{randomHex(r, 16), n})
	}
	for _, n := range []string{"network-baseline", "eks-" + a.env, "orders-api-" + a.env, "StackSet-guardrails-" + newUUID(r),
		"monitoring-integration", "aws-sam-cli-managed-default", "CDKToolkit"} {
		a.stacks = append(a.stacks, idName{newUUID(r), n})
	}
	for _, n := range []string{a.env + "." + e.domain + ".", "internal." + e.domain + "."} {
		a.hostedZones = append(a.hostedZones, idName{"Z0" + randomString(r, upperAlnum, 19), n})
	}
	a.roles = named("OrganizationAccountAccessRole", "AWSServiceRoleForECS", "AWSServiceRoleForAutoScaling",
		"AWSServiceRoleForElasticLoadBalancing", "rds-monitoring-role", "vpc-flow-logs-role", "backup-service-role",
		"eks-cluster-role", "external-dns", "cluster-autoscaler", "aws-load-balancer-controller")
	a.users = named("ci-legacy", "svc-backup", "media-uploader", "smtp-sender", "grace.okafor", "jonas.berg")
	a.policies = named("orders-api-access", "read-only-billing", "deploy-terraform", "s3-artifacts-write", "ssm-session-access")
	for _, f := range a.functions[:8] {
		a.logGroups = append(a.logGroups, "/aws/lambda/"+f)
	}
	a.logGroups = append(a.logGroups, "/aws/eks/"+a.eksClusters[0]+"/cluster", "/ecs/payments-service",
		"/aws/rds/instance/"+a.dbInstances[0]+"/postgresql", "vpc-flow-logs", "aws-cloudtrail-logs-"+id)
	a.trail = "management-events"
	a.detector = randomHex(r, 32)
	a.configRules = named("s3-bucket-public-read-prohibited", "restricted-ssh", "iam-user-mfa-enabled",
		"encrypted-volumes", "rds-storage-encrypted", "cloudtrail-enabled")
	a.cacheTag = randomHex(r, 8)

	a.personas = newPersonas(r, e, a, publicIP, privateIP)
	for _, ps := range a.personas {
		if ps.kind == callerHuman {
			a.people = append(a.people, ps)
		}
	}
	return a
}

// User agents. Versions are plausible for 2024–2025; each persona keeps its
// own few, as real workloads do.
var (
	cliLinux = []agent{
		{"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off", tailCLI},
		{"aws-cli/2.17.18 Python/3.11.9 Linux/5.15.0-1064-azure exe/x86_64.ubuntu.22 prompt/off", tailCLI},
		{"aws-cli/2.13.25 Python/3.11.5 Linux/6.1.79-99.164.amzn2023.x86_64 exe/x86_64.amzn.2023 prompt/off", tailCLI},
	}
	cliMac = []agent{
		{"aws-cli/2.15.57 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off", tailCLI},
		{"aws-cli/2.17.20 Python/3.11.9 Darwin/23.5.0 exe/arm64 prompt/off", tailCLI},
	}
	browser = []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
	}
	boto3Lambda = agent{"Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.69", tailNone}
	nodeLambda  = agent{"aws-sdk-js/3.556.0 ua/2.0 os/linux#5.10.214-202.855.amzn2.x86_64 lang/js md/nodejs#20.12.2 exec-env/AWS_Lambda_nodejs20.x", tailNone}
	boto3Host   = agent{"Boto3/1.28.57 md/Botocore#1.31.57 ua/2.0 os/linux#5.15.0-1051-aws md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.57", tailNone}
	goV2        = agent{"aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64", tailGo}
	goV1        = agent{"aws-sdk-go/1.51.21 (go1.21.9; linux; amd64)", tailNone}
	javaV2      = agent{"aws-sdk-java/2.25.30 Linux/5.10.214-202.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy", tailNone}
	ssmAgent    = agent{"aws-sdk-go/1.50.8 (go1.21.6; linux; amd64) amazon-ssm-agent/3.3.131.0", tailNone}
	ecsAgent    = agent{"Go-http-client/1.1 aws-sdk-go/1.51.3 (go1.21.8; linux; amd64) ecs-agent/1.82.2", tailNone}
	kubelet     = agent{"aws-sdk-go/1.48.2 (go1.21.5; linux; amd64) cluster-autoscaler/v1.28.2", tailNone}
	cwAgent     = agent{"aws-sdk-go/1.48.6 (go1.21.5; linux; amd64) CWAgent/1.300032.2", tailNone}
	terraform   = agent{"APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.45.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64", tailGo}
	monitorSDK  = agent{"aws-sdk-go/1.44.327 (go1.20.7; linux; amd64)", tailNone}
	configUA    = agent{"config.amazonaws.com", tailNone}
	s3Browser   = agent{"S3 Browser/11.6.3 (https://s3browser.com)", tailNone}
	awsInternal = agent{"aws-internal/3 aws-sdk-java/1.12.686 Linux/5.10.213-180.876.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.402-b08 java/1.8.0_402 vendor/Oracle_Corporation cfg/retry-mode/standard", tailNone}
)

func newPersonas(r *rand.Rand, e *estate, a *account, publicIP func(...int) string, privateIP func() string) []*persona {
	roleID := func() string { return "AROA" + randomString(r, iamAlphabet, 17) }
	sessions := func(names ...string) []session {
		out := make([]session, len(names))
		for i, n := range names {
			out[i] = session{n, "ASIA" + randomString(r, iamAlphabet, 16), time.Duration(r.IntN(60)) * time.Minute}
		}
		return out
	}
	emails := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = peopleNames[r.IntN(len(peopleNames))] + "@" + e.domain
		}
		return out
	}
	ips := func(n int, firsts ...int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = publicIP(firsts...)
		}
		return out
	}
	privates := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = privateIP()
		}
		return out
	}
	instanceSessions := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = a.instances[r.IntN(len(a.instances))]
		}
		return out
	}
	numbered := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = prefix + strconv.Itoa(1700000000+r.IntN(30000000))
		}
		return out
	}
	humanISP := []int{73, 81, 86, 92, 98, 109, 176, 188, 213}
	awsEgress := a.natIPs
	ssoPath := "/aws-reserved/sso.amazonaws.com/"

	return []*persona{
		{kind: callerHuman, weight: 9, name: "AWSReservedSSO_AdministratorAccess_" + randomHex(r, 16), path: ssoPath,
			id: roleID(), sessions: sessions(emails(3)...), agents: append(append([]agent{}, cliMac...), cliLinux[0]),
			ips: ips(4, humanISP...), console: true},
		{kind: callerHuman, weight: 12, name: "AWSReservedSSO_DeveloperAccess_" + randomHex(r, 16), path: ssoPath,
			id: roleID(), sessions: sessions(emails(6)...), agents: append(append([]agent{}, cliMac...), cliLinux...),
			ips: ips(8, humanISP...), console: true},
		{kind: callerHuman, weight: 2, name: "OrganizationAccountAccessRole", path: "/",
			id: roleID(), sessions: sessions(emails(2)...), agents: cliMac, ips: ips(2, humanISP...), console: true},
		{kind: callerHuman, weight: 3, user: true, name: "grace.okafor", path: "/",
			id: "AIDA" + randomString(r, iamAlphabet, 17), accessKey: "AKIA" + randomString(r, iamAlphabet, 16),
			agents: cliLinux[:1], ips: ips(2, humanISP...), console: true, mfa: true},
		{kind: callerHuman, weight: 2, user: true, name: "jonas.berg", path: "/",
			id: "AIDA" + randomString(r, iamAlphabet, 17), accessKey: "AKIA" + randomString(r, iamAlphabet, 16),
			agents: cliMac[:1], ips: ips(2, humanISP...), console: true, mfa: true},

		{kind: callerCI, weight: 5, name: "github-actions-deploy", path: "/ci/",
			id: roleID(), sessions: sessions("GitHubActions", "GitHubActions", "gha-deploy"),
			agents: []agent{terraform, cliLinux[1]}, ips: ips(12, 4, 20, 40, 52, 172)},
		{kind: callerCI, weight: 3, name: "TerraformExecutionRole", path: "/",
			id: roleID(), sessions: sessions(numbered("aws-go-sdk-", 3)...), agents: []agent{terraform}, ips: ips(3, 4, 20, 52)},
		{kind: callerCI, weight: 7, user: true, name: "ci-legacy", path: "/service/",
			id: "AIDA" + randomString(r, iamAlphabet, 17), accessKey: "AKIA" + randomString(r, iamAlphabet, 16),
			agents: []agent{cliLinux[2], boto3Host}, ips: awsEgress},
		{kind: callerCI, weight: 5, user: true, name: "svc-backup", path: "/service/",
			id: "AIDA" + randomString(r, iamAlphabet, 17), accessKey: "AKIA" + randomString(r, iamAlphabet, 16),
			agents: []agent{boto3Host}, ips: ips(2, 81, 213)},

		{kind: callerInstance, weight: 12, name: a.eksClusters[0] + "-NodeInstanceRole-" + randomString(r, mixedAlnum, 12), path: "/",
			id: roleID(), sessions: sessions(instanceSessions(10)...), agents: []agent{kubelet, ssmAgent, goV1, cwAgent},
			ips: awsEgress, private: privates(10), ec2Role: true},
		{kind: callerInstance, weight: 9, name: "app-server-instance-role", path: "/",
			id: roleID(), sessions: sessions(instanceSessions(6)...), agents: []agent{ssmAgent, cwAgent, boto3Host, ecsAgent},
			ips: awsEgress, private: privates(6), ec2Role: true},

		{kind: callerPod, weight: 8, name: a.eksClusters[0] + "-orders-api-irsa", path: "/",
			id: roleID(), sessions: sessions(numbered("aws-go-sdk-", 4)...), agents: []agent{goV2},
			ips: awsEgress, private: privates(6)},
		{kind: callerPod, weight: 5, name: a.eksClusters[0] + "-external-secrets", path: "/",
			id: roleID(), sessions: sessions(numbered("aws-go-sdk-", 2)...), agents: []agent{goV2},
			ips: awsEgress, private: privates(3)},
		{kind: callerPod, weight: 6, name: "payments-service-task-role", path: "/ecs/",
			id: roleID(), sessions: sessions(randomHex(r, 32), randomHex(r, 32), randomHex(r, 32)), agents: []agent{javaV2},
			ips: awsEgress, private: privates(4)},

		{kind: callerLambda, weight: 10, name: "orders-api-lambda-role", path: "/service-role/",
			id: roleID(), sessions: sessions(a.functions[0], a.functions[4], a.functions[11]), agents: []agent{boto3Lambda},
			ips: ips(10, 3, 18, 34, 52, 54)},
		{kind: callerLambda, weight: 6, name: "image-pipeline-lambda-role", path: "/service-role/",
			id: roleID(), sessions: sessions(a.functions[1], a.functions[2], a.functions[5]), agents: []agent{nodeLambda},
			ips: ips(10, 3, 18, 34, 52, 54)},
		{kind: callerLambda, weight: 4, name: "ops-automation-lambda-role", path: "/service-role/",
			id: roleID(), sessions: sessions(a.functions[6], a.functions[7], a.functions[8], a.functions[9]), agents: []agent{boto3Lambda},
			ips: ips(6, 3, 18, 52)},

		{kind: callerMonitor, weight: 12, name: "monitoring-integration-readonly", path: "/",
			id: roleID(), sessions: sessions("monitoring-"+randomHex(r, 8), "monitoring-"+randomHex(r, 8)),
			agents: []agent{monitorSDK}, ips: ips(6, 34, 44, 54)},

		{kind: callerConfig, weight: 1, name: "AWSServiceRoleForConfig", path: "/aws-service-role/config.amazonaws.com/",
			id: roleID(), sessions: sessions("AWSConfig-Describe"), agents: []agent{configUA}, ips: []string{"config.amazonaws.com"}},

		{kind: callerS3Tool, weight: 1, user: true, name: "media-uploader", path: "/",
			id: "AIDA" + randomString(r, iamAlphabet, 17), accessKey: "AKIA" + randomString(r, iamAlphabet, 16),
			agents: []agent{s3Browser}, ips: ips(1, 86)},
	}
}

// Regions and how much of the traffic each one carries.
var regions = []struct {
	name   string
	weight int
}{
	{"us-east-1", 45}, {"us-west-2", 20}, {"eu-west-1", 20}, {"eu-central-1", 10}, {"ap-southeast-2", 5},
}

// az returns one of the first three availability zones of a region.
func az(region string, r *rand.Rand) string {
	return region + string(rune('a'+r.IntN(3)))
}
