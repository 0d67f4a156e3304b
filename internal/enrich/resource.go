package enrich

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/trailsentry/trailsentry/internal/event"
)

// Resource ARNs from a request. A call is authorised against resources, and
// CloudTrail's record rarely names them as ARNs: it names a bucket and a key,
// a user name, a queue URL. resources.tsv holds, for each IAM action, ARN
// templates that rebuild the resource from requestParameters and the event's
// partition, region and account; iamactions.tsv may give a call-specific
// template instead (CopyObject reads its source object from
// x-amz-copy-source). A template is text with placeholders in braces:
//
//	arn:{partition}:s3:::{bucketName}/{key}
//
// A placeholder names a requestParameters path ({bucketName},
// {instancesSet.items.instanceId}: an array on the way is fanned out, one ARN
// per element), a path from the record's top when it starts with
// responseElements., additionalEventData. or userIdentity., or one of the event's own
// values: partition, region, account. A template that is only "*" says the
// action takes no resource (s3:ListAllMyBuckets): "*" is then exact, not a
// fallback. A template yields only ARNs. Alternatives are separated by commas
// ({registryId,account}: the first that has a value) and a modifier follows a
// bar ({secretId|arn}); modifiers are listed in templateModifiers.

// templateModifiers documents the modifiers a placeholder may carry; the
// generated docs list them from here.
var templateModifiers = []struct{ Name, Doc string }{
	{"arn", "A value that already is an ARN is the resource, whatever the rest of the template says (a trail, secret or policy may be named by name or by ARN)."},
	{"slash", "Prefixes a / unless the value starts with one (SSM parameter names: `arn:…:parameter/prod/db` from `prod/db` or `/prod/db`)."},
	{"last", "The part after the last / (`/hostedzone/Z0123` → `Z0123`)."},
	{"key", "A KMS key id, key ARN or alias: the key ARN's own value, `key/<id>` for an id; an alias names no key, so `key/*` (a wildcard) stands for the key it points to."},
	{"lambda", "A Lambda function name, name:qualifier, partial ARN (`111122223333:function:f`) or ARN."},
	{"sqsurl", "An SQS queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`): the queue's ARN, with the URL's region and account."},
	{"copysource", "An S3 copy source (`bucket/key?versionId=…`, perhaps URL-encoded, perhaps with a leading /): `bucket/key`."},
}

// template is one compiled ARN template.
type template struct {
	text  string
	parts []tmplPart
	wild  bool // the template's literal text holds a *: the ARN is a pattern
}

// tmplPart is literal text (alts empty) or a placeholder.
type tmplPart struct {
	lit  string
	alts []tmplValue
	mod  string
}

// tmplValue is one alternative of a placeholder: a path or an event value.
type tmplValue struct {
	special string // "partition", "region", "account", or "" for a path
	path    *event.Path
}

// compileTemplates compiles a cell of space-separated templates.
func compileTemplates(cell string) ([]*template, error) {
	var out []*template
	for _, text := range strings.Fields(cell) {
		t, err := compileTemplate(text)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func compileTemplate(text string) (*template, error) {
	t := &template{text: text}
	if text == "*" {
		// The action takes no resource: "*" is its true resource.
		t.parts = []tmplPart{{lit: "*"}}
		return t, nil
	}
	rest := text
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			t.addLiteral(rest)
			break
		}
		t.addLiteral(rest[:open])
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("template %q: unclosed {", text)
		}
		inner := rest[open+1 : open+end]
		rest = rest[open+end+1:]
		names, mod, _ := strings.Cut(inner, "|")
		p := tmplPart{mod: mod}
		if mod != "" && !isModifier(mod) {
			return nil, fmt.Errorf("template %q: unknown modifier %q", text, mod)
		}
		for _, name := range strings.Split(names, ",") {
			switch {
			case name == "partition" || name == "region" || name == "account":
				p.alts = append(p.alts, tmplValue{special: name})
			case name == "" || strings.ContainsAny(name, " {}*") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, ".."):
				return nil, fmt.Errorf("template %q: bad placeholder %q", text, name)
			case strings.HasPrefix(name, "responseElements.") || strings.HasPrefix(name, "additionalEventData.") || strings.HasPrefix(name, "userIdentity."):
				p.alts = append(p.alts, tmplValue{path: event.ParsePath(name)})
			default:
				p.alts = append(p.alts, tmplValue{path: event.ParsePath("requestParameters." + name)})
			}
		}
		t.parts = append(t.parts, p)
	}
	if !strings.HasPrefix(text, "arn:") && !strings.HasPrefix(text, "{") {
		return nil, fmt.Errorf("template %q: neither an ARN nor a placeholder", text)
	}
	return t, nil
}

func (t *template) addLiteral(s string) {
	if s == "" {
		return
	}
	if strings.Contains(s, "}") {
		s = strings.ReplaceAll(s, "}", "") // a stray } is a typo the tests catch by output
	}
	if strings.ContainsAny(s, "*?") {
		t.wild = true
	}
	t.parts = append(t.parts, tmplPart{lit: s})
}

func isModifier(m string) bool {
	for _, x := range templateModifiers {
		if x.Name == m {
			return true
		}
	}
	return false
}

// arnContext is what templates read besides the request: the event's
// partition, region and the account that owns the resource.
type arnContext struct {
	ev                         *event.Event
	partition, region, account string
}

var (
	pathResourceAccount = event.ParsePath("resources.accountId")
	pathResourceARN     = event.ParsePath("resources.ARN")
)

func newARNContext(ev *event.Event) arnContext {
	c := arnContext{ev: ev, region: ev.Str(event.AWSRegion)}
	// The owner of the resource when CloudTrail names it, else the account
	// the event belongs to.
	c.account = ev.First(pathResourceAccount).Str
	if !isAccountID(c.account) {
		c.account = ev.Account()
	}
	c.partition = partitionOf(ev.Str(event.IdentityARN), c.region)
	return c
}

// partitionOf reads the partition from the caller's ARN, else from the
// region's name.
func partitionOf(arn, region string) string {
	if p, ok := strings.CutPrefix(arn, "arn:"); ok {
		if i := strings.IndexByte(p, ':'); i > 0 {
			return p[:i]
		}
	}
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	}
	return "aws"
}

// maxARNs bounds the ARNs one template yields: a request naming thousands of
// instances is reported by its first ones.
const maxARNs = 100

// fill expands the template for the event, appending each ARN to out; wild
// reports whether one of them is a pattern. ok is false when a placeholder
// has no value: the template does not apply to this request.
func (t *template) fill(c *arnContext, out []string) (_ []string, wild, ok bool) {
	values := make([][]string, len(t.parts))
	for i, p := range t.parts {
		if p.alts == nil {
			continue
		}
		for _, alt := range p.alts {
			values[i] = c.values(alt, values[i][:0])
			if len(values[i]) > 0 {
				break
			}
		}
		if len(values[i]) == 0 {
			return out, false, false
		}
	}
	var b []byte
	var expand func(i int, w bool)
	expand = func(i int, w bool) {
		if len(out) >= maxARNs {
			return
		}
		if i == len(t.parts) {
			if arn := string(b); strings.HasPrefix(arn, "arn:") || arn == "*" {
				out = append(out, arn)
				wild = wild || w || t.wild
			}
			return
		}
		p := t.parts[i]
		if p.alts == nil {
			n := len(b)
			b = append(b, p.lit...)
			expand(i+1, w)
			b = b[:n]
			return
		}
		for _, v := range values[i] {
			text, whole, vw := applyModifier(p.mod, v, c)
			if whole {
				// The value is the whole resource: the template's other
				// parts do not apply.
				if len(out) < maxARNs && strings.HasPrefix(text, "arn:") {
					out = append(out, strings.Clone(text)) // not pinning the record
					wild = wild || vw
				}
				continue
			}
			n := len(b)
			b = append(b, text...)
			expand(i+1, w || vw)
			b = b[:n]
		}
	}
	expand(0, false)
	return out, wild, true
}

// values appends the non-empty string values one alternative reaches.
func (c *arnContext) values(v tmplValue, out []string) []string {
	switch v.special {
	case "partition":
		return appendNonEmpty(out, c.partition)
	case "region":
		return appendNonEmpty(out, c.region)
	case "account":
		return appendNonEmpty(out, c.account)
	}
	c.ev.Lookup(v.path, func(val event.Value) bool {
		if (val.Kind == event.String || val.Kind == event.Number) && val.Str != "" {
			out = append(out, val.Str)
		}
		return len(out) >= maxARNs
	})
	return out
}

func appendNonEmpty(out []string, s string) []string {
	if s == "" {
		return out
	}
	return append(out, s)
}

// applyModifier transforms one placeholder value. whole is set when the
// result is the complete resource ARN; wild when it is a pattern.
func applyModifier(mod, v string, c *arnContext) (text string, whole, wild bool) {
	switch mod {
	case "arn":
		if strings.HasPrefix(v, "arn:") {
			return v, true, false
		}
	case "slash":
		if !strings.HasPrefix(v, "/") {
			return "/" + v, false, false
		}
	case "last":
		return v[strings.LastIndexByte(v, '/')+1:], false, false
	case "key":
		switch {
		case strings.HasPrefix(v, "arn:") && strings.Contains(v, ":key/"):
			return v, true, false
		case strings.HasPrefix(v, "arn:") || strings.HasPrefix(v, "alias/"):
			return "key/*", false, true
		}
		return "key/" + v, false, false
	case "lambda":
		if strings.HasPrefix(v, "arn:") {
			return v, true, false
		}
		if acct, rest, ok := strings.Cut(v, ":function:"); ok && isAccountID(acct) {
			return "arn:" + c.partition + ":lambda:" + c.region + ":" + acct + ":function:" + rest, true, false
		}
		return v, false, false
	case "sqsurl":
		return sqsARN(v, c), true, false
	case "copysource":
		v = strings.TrimPrefix(v, "/")
		if i := strings.Index(v, "?versionId="); i >= 0 {
			v = v[:i]
		}
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		return v, false, false
	}
	return v, false, false
}

// sqsARN turns a queue URL into the queue's ARN. The URL's host names the
// region (sqs.<region>.amazonaws.com, or the legacy <region>.queue.amazonaws.com)
// and its path the account and queue; a value that is no URL is taken for a
// queue name in the event's account and region.
func sqsARN(v string, c *arnContext) string {
	region, account, name := c.region, c.account, v
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		host := u.Hostname()
		if r, ok := strings.CutPrefix(host, "sqs."); ok {
			if i := strings.IndexByte(r, '.'); i > 0 {
				region = r[:i]
			}
		} else if i := strings.Index(host, ".queue."); i > 0 {
			region = host[:i]
		}
		acct, queue, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
		if isAccountID(acct) {
			account = acct
		}
		name = queue
	}
	return "arn:" + c.partition + ":sqs:" + region + ":" + account + ":" + name
}

// recordARNs appends the ARNs of the record's resources[] that belong to the
// action's service: CloudTrail names the resources of data events and of
// some management events (a KMS key, an assumed role) outright.
func recordARNs(ev *event.Event, service string, out []string) []string {
	ev.Lookup(pathResourceARN, func(val event.Value) bool {
		if val.Kind == event.String && arnService(val.Str) == service && len(out) < maxARNs {
			out = append(out, strings.Clone(val.Str))
		}
		return false
	})
	return out
}

// arnService returns the service field of an ARN, "" if s is no ARN.
func arnService(s string) string {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	svc, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return svc
}
