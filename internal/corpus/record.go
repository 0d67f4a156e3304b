package corpus

import (
	"math/rand/v2"
	"strings"
	"time"
)

// identityKind is the userIdentity.type family of a record.
type identityKind uint8

const (
	idAssumedRole  identityKind = iota // a persona's role session
	idIAMUser                          // a persona's IAM user
	idService                          // {"type":"AWSService","invokedBy":…}
	idRoot                             // the account root user
	idWebIdentity                      // AssumeRoleWithWebIdentity callers
	idSAML                             // AssumeRoleWithSAML callers
	idServiceEvent                     // AwsServiceEvent: {"accountId":…,"invokedBy":…}
)

// call is one record being generated: where and when, who calls, and what
// the request/response builders decided. The file generator (or an attack
// scenario) fills it, writeRecord turns it into JSON.
type call struct {
	r      *rand.Rand
	est    *estate
	acct   *account
	region string
	time   time.Time
	api    *api

	kind      identityKind
	who       *persona
	sess      *session
	invokedBy string // service acting (AWSService) or acting on the caller's behalf
	webUser   string // WebIdentityUser/SAMLUser name
	webIDP    string // its identity provider

	console bool // call made from the AWS console
	signin  bool // a ConsoleLogin record: no access key, no session yet
	ip      string
	agent   agent
	agentTx string // a user agent that is not a persona agent (overrides agent)
	vpce    string
	noTLS   bool

	errCode, errMsg string
	version         string // eventVersion, defaults to the API's

	// Decisions of the request builder, for the response, resources,
	// additionalEventData, error messages and the TLS host header.
	bucket string
	key    string
	name   string
	arn    string
	target *persona // AssumeRole: the role being assumed
	tsess  *session
	host   string

	attack *attack // the planted attack this record belongs to, if any

	reqBuf []byte // scratch for requestParameters
}

func (c *call) pick(xs []string) string { return xs[c.r.IntN(len(xs))] }

func (c *call) chance(p float64) bool { return c.r.Float64() < p }

// arnPrefix returns "arn:aws:<service>:<region>:<account>:".
func (c *call) arnPrefix(service string) string {
	return "arn:aws:" + service + ":" + c.region + ":" + c.acct.id + ":"
}

// callerARN is the ARN of the principal making the call, for messages.
func (c *call) callerARN() string {
	switch c.kind {
	case idAssumedRole:
		return "arn:aws:sts::" + c.acct.id + ":assumed-role/" + c.who.name + "/" + c.sess.name
	case idIAMUser:
		return "arn:aws:iam::" + c.acct.id + ":user" + c.who.path + c.who.name
	case idRoot:
		return "arn:aws:iam::" + c.acct.id + ":root"
	}
	return c.invokedBy
}

// sessionStart is when the caller's session was created: sessions are
// refreshed hourly, each at its own minute.
func (c *call) sessionStart(s *session) time.Time {
	return c.time.Add(-s.offset).Truncate(time.Hour).Add(s.offset)
}

// writeRecord appends one CloudTrail record for c.
// An empty eventID gets a random one.
func writeRecord(w *jsonWriter, c *call, eventID string) {
	a := c.api
	// Request parameters first, into scratch: builders decide names that
	// error messages (written earlier in the record) refer to.
	rw := jsonWriter{buf: c.reqBuf[:0]}
	if a.req != nil {
		a.req(&rw, c)
	}
	c.reqBuf = rw.buf
	if c.errCode == "" && c.api.errorRate > 0 && c.chance(c.api.errorRate) {
		chooseError(c)
	}

	w.buf = append(w.buf, '{')
	w.comma = false
	v := c.version
	if v == "" {
		v = a.version
	}
	w.Str("eventVersion", v)
	writeIdentity(w, c)
	w.Time("eventTime", c.time)
	w.Str("eventSource", a.source)
	w.Str("eventName", a.name)
	w.Str("awsRegion", c.region)
	w.Str("sourceIPAddress", c.ip)
	switch {
	case c.agentTx != "":
		w.Str("userAgent", c.agentTx)
	case c.agent.tail == tailCLI && a.cliCommand != "":
		w.Cat("userAgent", c.agent.text, " command/", a.cliCommand)
	case c.agent.tail == tailGo:
		w.Cat("userAgent", c.agent.text, a.goAPI)
	default:
		w.Str("userAgent", c.agent.text)
	}
	if c.errCode != "" {
		w.Str("errorCode", c.errCode)
	}
	if c.errMsg != "" {
		// Failed console sign-ins have a message and no code.
		w.Str("errorMessage", c.errMsg)
	}
	if a.req == nil {
		w.Null("requestParameters")
	} else {
		w.key("requestParameters")
		w.buf = append(w.buf, '{')
		w.buf = append(w.buf, c.reqBuf...)
		w.End()
	}
	if a.resp == nil || c.errCode != "" {
		w.Null("responseElements")
	} else {
		w.Object("responseElements")
		a.resp(w, c)
		w.End()
	}
	if a.additional != nil {
		w.Object("additionalEventData")
		a.additional(w, c)
		w.End()
	}
	if a.s3RequestID {
		w.Random("requestID", "", c.r, "0123456789ABCDEF", 16)
	} else {
		w.UUID("requestID", c.r)
	}
	if eventID == "" {
		w.UUID("eventID", c.r)
	} else {
		w.Str("eventID", eventID)
	}
	w.Bool("readOnly", a.readOnly)
	if a.resources != nil {
		w.Array("resources")
		a.resources(w, c)
		w.EndArray()
	}
	eventType := a.eventType
	if eventType == "" {
		eventType = "AwsApiCall"
	}
	w.Str("eventType", eventType)
	w.Bool("managementEvent", !a.data)
	w.Str("recipientAccountId", c.acct.id)
	if a.details != nil {
		w.Object("serviceEventDetails")
		a.details(w, c)
		w.End()
	}
	if c.vpce != "" {
		w.Str("vpcEndpointId", c.vpce)
		w.Str("vpcEndpointAccountId", c.acct.id)
	}
	if a.data {
		w.Str("eventCategory", "Data")
	} else {
		w.Str("eventCategory", "Management")
	}
	if !c.noTLS && c.invokedBy == "" && a.eventType != "AwsServiceEvent" {
		w.Object("tlsDetails")
		if c.r.IntN(5) == 0 {
			w.Str("tlsVersion", "TLSv1.2")
			w.Str("cipherSuite", "ECDHE-RSA-AES128-GCM-SHA256")
		} else {
			w.Str("tlsVersion", "TLSv1.3")
			w.Str("cipherSuite", "TLS_AES_128_GCM_SHA256")
		}
		switch {
		case c.host != "":
			w.Str("clientProvidedHostHeader", c.host)
		case a.host != "":
			w.Str("clientProvidedHostHeader", a.host)
		default:
			w.Cat("clientProvidedHostHeader", a.endpoint, ".", c.region, ".amazonaws.com")
		}
		w.End()
	}
	if c.console && a.eventType == "" {
		w.Str("sessionCredentialFromConsole", "true")
	}
	w.End()
}

func writeIdentity(w *jsonWriter, c *call) {
	acct := c.acct.id
	w.Object("userIdentity")
	switch c.kind {
	case idAssumedRole:
		p, s := c.who, c.sess
		w.Str("type", "AssumedRole")
		w.Cat("principalId", p.id, ":", s.name)
		w.Cat("arn", "arn:aws:sts::", acct, ":assumed-role/", p.name, "/", s.name)
		w.Str("accountId", acct)
		w.Str("accessKeyId", s.key)
		w.Object("sessionContext")
		w.Object("sessionIssuer")
		w.Str("type", "Role")
		w.Str("principalId", p.id)
		w.Cat("arn", "arn:aws:iam::", acct, ":role", p.path, p.name)
		w.Str("accountId", acct)
		w.Str("userName", p.name)
		w.End()
		w.Empty("webIdFederationData")
		w.Object("attributes")
		w.Time("creationDate", c.sessionStart(s))
		w.Str("mfaAuthenticated", "false")
		w.End()
		if p.ec2Role {
			w.Str("ec2RoleDelivery", "2.0")
		}
		w.End()
		if c.invokedBy != "" {
			w.Str("invokedBy", c.invokedBy)
		}
	case idIAMUser:
		p := c.who
		w.Str("type", "IAMUser")
		w.Str("principalId", p.id)
		w.Cat("arn", "arn:aws:iam::", acct, ":user", p.path, p.name)
		w.Str("accountId", acct)
		if c.signin {
			w.Str("userName", p.name)
			break
		}
		if c.console {
			// Console sessions of IAM users carry temporary credentials.
			w.Random("accessKeyId", "ASIA", c.r, iamAlphabet, 16)
		} else {
			w.Str("accessKeyId", p.accessKey)
		}
		w.Str("userName", p.name)
		if c.console {
			w.Object("sessionContext")
			w.Empty("sessionIssuer")
			w.Empty("webIdFederationData")
			w.Object("attributes")
			w.Time("creationDate", c.time.Add(-time.Duration(c.r.IntN(3600))*time.Second))
			mfa := "false"
			if p.mfa {
				mfa = "true"
			}
			w.Str("mfaAuthenticated", mfa)
			w.End()
			w.End()
		}
		if c.invokedBy != "" {
			w.Str("invokedBy", c.invokedBy)
		}
	case idRoot:
		w.Str("type", "Root")
		w.Str("principalId", acct)
		w.Cat("arn", "arn:aws:iam::", acct, ":root")
		w.Str("accountId", acct)
		if c.signin {
			break
		}
		w.Random("accessKeyId", "ASIA", c.r, iamAlphabet, 16)
		if c.console {
			w.Object("sessionContext")
			w.Empty("sessionIssuer")
			w.Empty("webIdFederationData")
			w.Object("attributes")
			w.Time("creationDate", c.time.Add(-time.Duration(1+c.r.IntN(900))*time.Second))
			w.Str("mfaAuthenticated", "false")
			w.End()
			w.End()
		}
	case idService:
		w.Str("type", "AWSService")
		w.Str("invokedBy", c.invokedBy)
	case idWebIdentity:
		w.Str("type", "WebIdentityUser")
		w.Cat("principalId", c.webIDP, ":sts.amazonaws.com:", c.webUser)
		w.Str("userName", c.webUser)
		w.Cat("identityProvider", "arn:aws:iam::", acct, ":oidc-provider/", c.webIDP)
	case idSAML:
		w.Str("type", "SAMLUser")
		w.Cat("principalId", c.webIDP, ":", c.webUser)
		w.Str("userName", c.webUser)
		w.Str("identityProvider", c.webIDP)
	case idServiceEvent:
		w.Str("accountId", acct)
		w.Str("invokedBy", c.invokedBy)
	}
	w.End()
}

// errorStyle is how a service reports failures in CloudTrail.
type errorStyle uint8

const (
	errJSON  errorStyle = iota // AccessDeniedException, ThrottlingException
	errQuery                   // AccessDenied, Throttling
	errEC2                     // Client.UnauthorizedOperation, Client.RequestLimitExceeded
	errS3                      // AccessDenied "Access Denied"
)

// notFound is an API's "no such resource" error; %s in msg is replaced by
// the resource name the request builder chose.
type notFound struct{ code, msg string }

// chooseError turns c into a failed call, the way the API's service fails.
func chooseError(c *call) {
	a := c.api
	x := c.r.IntN(100)
	if a.notFound.code != "" && x < 25 {
		c.errCode = a.notFound.code
		c.errMsg = strings.Replace(a.notFound.msg, "%s", c.name, 1)
		return
	}
	throttled := x >= 85
	switch a.errors {
	case errEC2:
		if throttled {
			c.errCode, c.errMsg = "Client.RequestLimitExceeded", "Request limit exceeded."
			return
		}
		c.errCode = "Client.UnauthorizedOperation"
		if a.readOnly {
			c.errMsg = "You are not authorized to perform this operation. User: " + c.callerARN() +
				" is not authorized to perform: " + a.action + " because no identity-based policy allows the " + a.action + " action"
			return
		}
		c.errMsg = "You are not authorized to perform this operation. Encoded authorization failure message: " +
			randomString(c.r, mixedAlnum+"-_", 380+c.r.IntN(300))
	case errS3:
		if throttled {
			c.errCode, c.errMsg = "SlowDown", "Please reduce your request rate."
			return
		}
		c.errCode, c.errMsg = "AccessDenied", "Access Denied"
	default:
		if throttled {
			if a.errors == errQuery {
				c.errCode = "Throttling"
			} else {
				c.errCode = "ThrottlingException"
			}
			c.errMsg = "Rate exceeded"
			return
		}
		c.errCode = "AccessDenied"
		if a.errors == errJSON && a.deniedException {
			c.errCode = "AccessDeniedException"
		}
		msg := "User: " + c.callerARN() + " is not authorized to perform: " + a.action
		if c.arn != "" {
			msg += " on resource: " + c.arn
		}
		c.errMsg = msg + " because no identity-based policy allows the " + a.action + " action"
	}
}
