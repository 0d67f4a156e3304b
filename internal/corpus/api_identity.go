package corpus

import (
	"net/url"
	"strconv"
	"time"
)

// STS, IAM, console sign-in and Organizations.

const consoleTime = "Jan 2, 2006, 3:04:05 PM" // how STS and IAM print times in responseElements

func identityAPIs() []api {
	return []api{
		// AWS Security Token Service
		{svc: "sts", name: "AssumeRole", weight: 14000, readOnly: true, callers: callerHuman | callerCI,
			services: []string{"lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com"}, serviceShare: 55,
			req: assumeRoleRequest, resp: assumeRoleResponse, resources: roleResource},
		{svc: "sts", name: "GetCallerIdentity", weight: 2500, readOnly: true, callers: callerAnyone},
		{svc: "sts", name: "AssumeRoleWithWebIdentity", weight: 2000, readOnly: true, caller: webIdentityCaller,
			req: webIdentityRequest, resp: webIdentityResponse, resources: roleResource,
			additional: fixed("identityProviderConnectionVerificationMethod", "IAMTrustStore")},
		{svc: "sts", name: "GetSessionToken", weight: 30, readOnly: true, caller: humanUserCaller,
			req: func(w *jsonWriter, c *call) { w.Int("durationSeconds", 43200) },
			resp: func(w *jsonWriter, c *call) {
				writeCredentials(w, c, "ASIA"+randomString(c.r, iamAlphabet, 16), 12*time.Hour)
			}},
		{svc: "sts", name: "AssumeRoleWithSAML", weight: 60, readOnly: true, caller: samlCaller,
			req: samlRequest, resp: samlResponse, resources: roleResource},
		{svc: "sts", name: "DecodeAuthorizationMessage", weight: 15, readOnly: true, callers: callerHuman,
			req: func(w *jsonWriter, c *call) {
				w.Random("encodedMessage", "", c.r, mixedAlnum+"-_", 600)
			}},
		{svc: "sts", name: "GetAccessKeyInfo", weight: 5, readOnly: true, callers: callerHuman,
			req: func(w *jsonWriter, c *call) { w.Random("accessKeyId", "AKIA", c.r, iamAlphabet, 16) }},

		// AWS Identity and Access Management (global: logged in us-east-1)
		{svc: "iam", name: "GetRole", weight: 900, readOnly: true, global: true, req: iamRole,
			notFound: notFound{"NoSuchEntityException", "The role with name %s cannot be found."}},
		{svc: "iam", name: "ListRoles", weight: 200, readOnly: true, global: true,
			req: func(w *jsonWriter, c *call) { w.Int("maxItems", 1000) }},
		{svc: "iam", name: "GetPolicy", weight: 250, readOnly: true, global: true, req: iamPolicyArn},
		{svc: "iam", name: "GetPolicyVersion", weight: 250, readOnly: true, global: true,
			req: func(w *jsonWriter, c *call) {
				iamPolicyArn(w, c)
				w.Str("versionId", "v"+strconv.Itoa(1+c.r.IntN(5)))
			}},
		{svc: "iam", name: "ListAttachedRolePolicies", weight: 400, readOnly: true, global: true, req: iamRole,
			notFound: notFound{"NoSuchEntityException", "The role with name %s cannot be found."}},
		{svc: "iam", name: "ListRolePolicies", weight: 250, readOnly: true, global: true, req: iamRole},
		{svc: "iam", name: "GetRolePolicy", weight: 150, readOnly: true, global: true,
			req: func(w *jsonWriter, c *call) {
				iamRole(w, c)
				w.Str("policyName", c.pick(c.acct.policies))
			},
			notFound: notFound{"NoSuchEntityException", "The role policy with name inline-policy cannot be found."}},
		{svc: "iam", name: "ListPolicies", weight: 80, readOnly: true, global: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("scope", "Local")
				w.Bool("onlyAttached", false)
				w.Int("maxItems", 100)
			}},
		{svc: "iam", name: "GetUser", weight: 250, readOnly: true, global: true, req: iamUser,
			notFound: notFound{"NoSuchEntityException", "The user with name %s cannot be found."}},
		{svc: "iam", name: "ListUsers", weight: 80, readOnly: true, global: true},
		{svc: "iam", name: "ListAccessKeys", weight: 150, readOnly: true, global: true, req: iamUser},
		{svc: "iam", name: "GetAccountSummary", weight: 40, readOnly: true, global: true},
		{svc: "iam", name: "ListGroupsForUser", weight: 80, readOnly: true, global: true, req: iamUser},
		{svc: "iam", name: "ListInstanceProfilesForRole", weight: 80, readOnly: true, global: true, req: iamRole},
		{svc: "iam", name: "ListMFADevices", weight: 40, readOnly: true, global: true, req: iamUser},
		{svc: "iam", name: "GetLoginProfile", weight: 20, readOnly: true, global: true, req: iamUser,
			notFound: notFound{"NoSuchEntityException", "Login Profile for User %s cannot be found."}},
		{svc: "iam", name: "ListEntitiesForPolicy", weight: 20, readOnly: true, global: true, req: iamPolicyArn},
		{svc: "iam", name: "GetAccountAuthorizationDetails", weight: 8, readOnly: true, global: true, callers: callerMonitor | callerHuman,
			req: func(w *jsonWriter, c *call) {
				w.Array("filter")
				for _, f := range []string{"User", "Role", "Group", "LocalManagedPolicy"} {
					w.StrItem(f)
				}
				w.EndArray()
			}},
		{svc: "iam", name: "GenerateServiceLastAccessedDetails", weight: 10, readOnly: true, global: true, callers: callerMonitor | callerHuman,
			req: func(w *jsonWriter, c *call) {
				iamRoleName(c)
				w.Cat("arn", "arn:aws:iam::", c.acct.id, ":role/", c.name)
			},
			resp: func(w *jsonWriter, c *call) { w.UUID("jobId", c.r) }},
		{svc: "iam", name: "CreateRole", weight: 8, global: true, callers: callerCI | callerHuman,
			req: func(w *jsonWriter, c *call) {
				c.name = "svc-" + c.pick(c.acct.functions) + "-" + randomHex(c.r, 6)
				w.Str("roleName", c.name)
				w.Str("path", "/service-role/")
				w.Str("assumeRolePolicyDocument", lambdaTrustPolicy)
				w.Str("description", "Execution role managed by Terraform")
			},
			resp: func(w *jsonWriter, c *call) {
				w.Object("role")
				w.Str("path", "/service-role/")
				w.Str("roleName", c.name)
				w.Random("roleId", "AROA", c.r, iamAlphabet, 17)
				w.Cat("arn", "arn:aws:iam::", c.acct.id, ":role/service-role/", c.name)
				w.Str("createDate", c.time.Format(consoleTime))
				w.Str("assumeRolePolicyDocument", url.QueryEscape(lambdaTrustPolicy))
				w.End()
			}},
		{svc: "iam", name: "PutRolePolicy", weight: 8, global: true, callers: callerCI | callerHuman,
			req: func(w *jsonWriter, c *call) {
				iamRole(w, c)
				w.Str("policyName", "inline-"+c.pick(c.acct.tables)+"-access")
				w.Str("policyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem","dynamodb:Query"],"Resource":"arn:aws:dynamodb:*:`+c.acct.id+`:table/`+c.pick(c.acct.tables)+`"}]}`)
			}},
		{svc: "iam", name: "AttachRolePolicy", weight: 8, global: true, callers: callerCI | callerHuman,
			req: func(w *jsonWriter, c *call) {
				iamRole(w, c)
				w.Str("policyArn", c.pick(awsManagedPolicies))
			}},
		{svc: "iam", name: "TagRole", weight: 8, global: true, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				iamRole(w, c)
				w.Array("tags")
				writeTag(w, "team", c.pick(teams))
				writeTag(w, "managed-by", "terraform")
				w.EndArray()
			}},
		{svc: "iam", name: "UpdateAssumeRolePolicy", weight: 4, global: true, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				iamRole(w, c)
				w.Str("policyDocument", lambdaTrustPolicy)
			}},
		{svc: "iam", name: "CreatePolicyVersion", weight: 4, global: true, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				w.Cat("policyArn", "arn:aws:iam::", c.acct.id, ":policy/", c.pick(c.acct.policies))
				w.Str("policyDocument", `{"Version":"2012-10-17","Statement":[{"Sid":"ReadArtifacts","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::`+c.acct.buckets[0]+`","arn:aws:s3:::`+c.acct.buckets[0]+`/*"]}]}`)
				w.Bool("setAsDefault", true)
			},
			resp: func(w *jsonWriter, c *call) {
				w.Object("policyVersion")
				w.Str("versionId", "v"+strconv.Itoa(2+c.r.IntN(4)))
				w.Bool("isDefaultVersion", true)
				w.Str("createDate", c.time.Format(consoleTime))
				w.End()
			}},

		// Console sign-in (global)
		{svc: "signin", name: "ConsoleLogin", weight: 40, global: true, eventType: "AwsConsoleSignIn", noErrors: true,
			caller: consoleCaller, resp: fixed("ConsoleLogin", "Success"),
			additional: func(w *jsonWriter, c *call) {
				w.Cat("LoginTo", "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_", randomHex(c.r, 16))
				w.Str("MobileVersion", "No")
				w.Cat("MFAIdentifier", "arn:aws:iam::", c.acct.id, ":mfa/", c.who.name)
				w.Str("MFAUsed", "Yes")
			}},
		{svc: "signin", name: "CheckMfa", weight: 30, global: true, eventType: "AwsConsoleSignIn", noErrors: true,
			caller: consoleCaller, resp: fixed("CheckMfa", "Success"),
			additional: fixed("MfaType", "Virtual MFA")},
		{svc: "signin", name: "SwitchRole", weight: 15, global: true, eventType: "AwsConsoleSignIn", noErrors: true,
			caller: switchRoleCaller, resp: fixed("SwitchRole", "Success"),
			additional: func(w *jsonWriter, c *call) {
				w.Cat("SwitchFrom", "arn:aws:iam::", c.est.accounts[0].id, ":user/", c.pick(peopleNames))
				w.Str("RedirectTo", "https://console.aws.amazon.com/console/home")
			}},

		// AWS Organizations (global)
		{svc: "organizations", name: "DescribeOrganization", weight: 150, readOnly: true, global: true},
		{svc: "organizations", name: "ListAccounts", weight: 40, readOnly: true, global: true, callers: callerHuman | callerMonitor},
		{svc: "organizations", name: "DescribeAccount", weight: 30, readOnly: true, global: true,
			req: func(w *jsonWriter, c *call) { w.Str("accountId", c.est.accounts[c.r.IntN(len(c.est.accounts))].id) }},
		{svc: "organizations", name: "ListRoots", weight: 15, readOnly: true, global: true, callers: callerHuman | callerMonitor},
		{svc: "organizations", name: "ListPoliciesForTarget", weight: 15, readOnly: true, global: true, callers: callerHuman | callerMonitor,
			req: func(w *jsonWriter, c *call) {
				w.Str("targetId", c.acct.id)
				w.Str("filter", "SERVICE_CONTROL_POLICY")
			}},
	}
}

var (
	awsManagedPolicies = []string{
		"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
		"arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
		"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
	}
	teams = []string{"payments", "platform", "orders", "data", "security", "web"}
)

const lambdaTrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func writeTag(w *jsonWriter, k, v string) {
	w.Item()
	w.Str("key", k)
	w.Str("value", v)
	w.End()
}

// iamRoleName picks a role of the account: a persona's or another one.
func iamRoleName(c *call) {
	if c.r.IntN(2) == 0 {
		p := c.acct.personas[c.r.IntN(len(c.acct.personas))]
		if !p.user {
			c.name = p.name
			return
		}
	}
	c.name = c.pick(c.acct.roles)
}

func iamRole(w *jsonWriter, c *call) {
	iamRoleName(c)
	c.arn = "arn:aws:iam::" + c.acct.id + ":role/" + c.name
	w.Str("roleName", c.name)
}

func iamUser(w *jsonWriter, c *call) {
	c.name = c.pick(c.acct.users)
	c.arn = "arn:aws:iam::" + c.acct.id + ":user/" + c.name
	w.Str("userName", c.name)
}

func iamPolicyArn(w *jsonWriter, c *call) {
	if c.r.IntN(2) == 0 {
		w.Str("policyArn", c.pick(awsManagedPolicies))
		return
	}
	w.Cat("policyArn", "arn:aws:iam::", c.acct.id, ":policy/", c.pick(c.acct.policies))
}

// roleARN is the IAM ARN of a role persona (with its path).
func roleARN(acct string, p *persona) string {
	return "arn:aws:iam::" + acct + ":role" + p.path + p.name
}

// writeCredentials writes the credentials STS hands out; the session token
// is as long and as random as a real one, which matters for file sizes and
// compression ratios.
func writeCredentials(w *jsonWriter, c *call, key string, lifetime time.Duration) {
	w.Object("credentials")
	w.Str("accessKeyId", key)
	w.key("sessionToken")
	w.buf = append(w.buf, `"IQoJb3JpZ2luX2Vj`...)
	w.buf = appendRandom(w.buf, c.r, base64Std, 360+c.r.IntN(500))
	w.buf = append(w.buf, '"')
	w.comma = true
	w.Str("expiration", c.time.Add(lifetime).Format(consoleTime))
	w.End()
}

func writeAssumedRoleUser(w *jsonWriter, c *call) {
	w.Object("assumedRoleUser")
	w.Cat("assumedRoleId", c.target.id, ":", c.name)
	w.Cat("arn", "arn:aws:sts::", c.acct.id, ":assumed-role/", c.target.name, "/", c.name)
	w.End()
}

func roleResource(w *jsonWriter, c *call) {
	w.Item()
	w.Str("accountId", c.acct.id)
	w.Str("type", "AWS::IAM::Role")
	w.Str("ARN", c.arn)
	w.End()
}

// assumeRoleRequest decides which role is assumed: AWS services assume the
// execution roles of Lambda functions, instances and ECS tasks (with the
// very session names and keys those personas later use); people and
// pipelines assume the administration and Terraform roles.
func assumeRoleRequest(w *jsonWriter, c *call) {
	a := c.acct
	switch {
	case c.kind == idService && c.invokedBy == "lambda.amazonaws.com":
		c.target = a.picker(callerLambda).pick(c.r)
	case c.kind == idService && c.invokedBy == "ec2.amazonaws.com":
		c.target = a.picker(callerInstance).pick(c.r)
	case c.kind == idService:
		c.target = findPersona(a, "payments-service-task-role")
	case c.who != nil && c.who.kind == callerHuman:
		c.target = findPersona(a, "OrganizationAccountAccessRole")
	default:
		c.target = findPersona(a, "TerraformExecutionRole")
	}
	c.tsess = &c.target.sessions[c.r.IntN(len(c.target.sessions))]
	switch {
	case c.kind == idService:
		c.name = c.tsess.name
	case c.kind == idAssumedRole && c.who.kind == callerHuman:
		c.name = c.sess.name
	case c.who != nil && c.who.kind == callerHuman:
		c.name = c.who.name
	default:
		c.name = "terraform-" + strconv.FormatInt(c.time.Unix()-int64(c.r.IntN(20)), 10)
	}
	c.arn = roleARN(a.id, c.target)
	w.Str("roleArn", c.arn)
	w.Str("roleSessionName", c.name)
	if c.kind != idService {
		w.Int("durationSeconds", 3600)
	}
}

func assumeRoleResponse(w *jsonWriter, c *call) {
	key := c.tsess.key
	if c.kind != idService {
		key = "ASIA" + randomString(c.r, iamAlphabet, 16)
	}
	writeCredentials(w, c, key, time.Hour)
	writeAssumedRoleUser(w, c)
}

// webIdentityCaller is an EKS service account (IRSA) or a GitHub Actions
// workflow exchanging its OIDC token.
func webIdentityCaller(c *call) {
	a := c.acct
	c.kind = idWebIdentity
	if c.r.IntN(10) < 7 {
		c.target = findPersona(a, a.eksClusters[0]+"-orders-api-irsa")
		sa := "system:serviceaccount:orders:orders-api"
		if c.r.IntN(3) == 0 {
			c.target = findPersona(a, a.eksClusters[0]+"-external-secrets")
			sa = "system:serviceaccount:external-secrets:external-secrets"
		}
		c.webIDP = "oidc.eks." + c.region + ".amazonaws.com/id/" + a.eksOIDC
		c.webUser = sa
		c.ip = c.pick(a.natIPs)
		c.agent = c.target.agents[0]
		return
	}
	c.target = findPersona(a, "github-actions-deploy")
	c.webIDP = "token.actions.githubusercontent.com"
	c.webUser = "repo:" + c.est.company + "/" + c.pick(githubRepos) + ":ref:refs/heads/main"
	c.ip = c.pick(c.target.ips)
	c.agentTx = "aws-sdk-js/3.552.0 ua/2.0 os/linux#6.5.0-1017-azure lang/js md/nodejs#20.12.1 api/sts#3.552.0 configure-aws-credentials-for-github-actions"
}

var githubRepos = []string{"infrastructure", "orders-api", "web-frontend", "payments-service"}

func webIdentityRequest(w *jsonWriter, c *call) {
	i := c.r.IntN(len(c.target.sessions))
	c.tsess = &c.target.sessions[i]
	if len(c.target.ips) > 0 {
		c.ip = c.target.ips[i%len(c.target.ips)] // where the session will be used
	}
	c.name = c.tsess.name
	c.arn = roleARN(c.acct.id, c.target)
	w.Str("roleArn", c.arn)
	w.Str("roleSessionName", c.name)
	if c.webIDP == "token.actions.githubusercontent.com" {
		w.Int("durationSeconds", 3600)
	}
}

func webIdentityResponse(w *jsonWriter, c *call) {
	writeCredentials(w, c, c.tsess.key, time.Hour)
	w.Str("subjectFromWebIdentityToken", c.webUser)
	writeAssumedRoleUser(w, c)
	w.Cat("provider", "arn:aws:iam::", c.acct.id, ":oidc-provider/", c.webIDP)
	w.Str("audience", "sts.amazonaws.com")
}

func samlCaller(c *call) {
	c.kind = idSAML
	c.webUser = c.pick(peopleNames) + "@" + c.est.domain
	c.webIDP = "AnTsUaOoSgFgP1b3w8B1oDk7jD0="
	p := c.acct.people[c.r.IntN(len(c.acct.people))]
	c.ip = c.pick(p.ips)
	c.agentTx = awsInternal.text
	c.target = findPersona(c.acct, "OrganizationAccountAccessRole")
}

func samlRequest(w *jsonWriter, c *call) {
	c.name = c.webUser
	c.arn = roleARN(c.acct.id, c.target)
	w.Random("sAMLAssertionID", "_", c.r, hexDigits, 36)
	w.Str("roleSessionName", c.name)
	w.Str("roleArn", c.arn)
	w.Cat("principalArn", "arn:aws:iam::", c.acct.id, ":saml-provider/AzureAD")
	w.Int("durationSeconds", 3600)
}

func samlResponse(w *jsonWriter, c *call) {
	writeCredentials(w, c, "ASIA"+randomString(c.r, iamAlphabet, 16), time.Hour)
	writeAssumedRoleUser(w, c)
	w.Str("subject", c.webUser)
	w.Str("subjectType", "persistent")
	w.Str("issuer", "https://sts.windows.net/"+c.est.tenantID+"/")
	w.Str("audience", "https://signin.aws.amazon.com/saml")
	w.Str("nameQualifier", c.webIDP)
}

// humanUserCaller is a person with an IAM user, working from the CLI.
func humanUserCaller(c *call) {
	for range 8 {
		p := c.acct.people[c.r.IntN(len(c.acct.people))]
		if p.user {
			usePersona(c, p)
			c.console = false
			c.agentTx = ""
			return
		}
	}
	usePersona(c, findPersona(c.acct, "grace.okafor"))
	c.console, c.agentTx = false, ""
}

// consoleCaller is a person with an IAM user signing in to the console with
// MFA.
func consoleCaller(c *call) {
	humanUserCaller(c)
	c.signin = true
	c.agentTx = c.pick(browser)
}

// switchRoleCaller is a person switching into the administration role.
func switchRoleCaller(c *call) {
	usePersona(c, findPersona(c.acct, "OrganizationAccountAccessRole"))
	c.console = true
	c.agentTx = c.pick(browser)
	c.vpce = ""
}

func findPersona(a *account, name string) *persona {
	for _, p := range a.personas {
		if p.name == name {
			return p
		}
	}
	panic("corpus: no persona " + name) // the estate always defines these
}
