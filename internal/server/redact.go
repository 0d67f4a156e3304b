package server

import (
	"cmp"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Redacted replaces a secret in a log line. It is a value url.Parse
// accepts in every part of a URL (userinfo allows no brackets), so
// redacting an already redacted line changes nothing.
const Redacted = "REDACTED"

// Redactor hides secrets in text written to logs. It knows three kinds:
//
//   - literal secrets the caller adds (webhook URLs, tokens read from the
//     environment or files): hidden wherever they appear;
//   - secrets by form: the password or lone user of a URL's userinfo,
//     token-like query parameters (token, sig, password, api_key, ...), the
//     path of webhook URLs whose path is the credential (Slack, Discord,
//     Microsoft Teams), key=value and "key": "value" pairs of secret-like
//     keys (a PostgreSQL keyword DSN's password=...), Authorization
//     credentials (Bearer, Basic, Splunk, Token) and Slack/GitHub tokens;
//   - secrets by attribute key, in the slog handler (see SecretKey).
//
// AWS access key IDs and event IDs are not secrets and are left alone:
// trailsentry reports them. A nil *Redactor redacts by form only. Methods are
// safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // longest first
}

// NewRedactor makes a redactor that also hides the given literal secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.AddSecret(secrets...)
	return r
}

// AddSecret adds literal secrets to hide. Values shorter than 4 bytes are
// ignored: hiding every "a" would garble the log, not protect anything.
func (r *Redactor) AddSecret(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) >= 4 && !slices.Contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
	slices.SortFunc(r.secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
}

var (
	// urlPattern finds URLs and URL-form DSNs in free text; it stops at
	// space, quotes and angle brackets, which end a URL in prose and in
	// Go's error texts (Post "https://...": ...).
	urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s"'<>` + "`" + `]+`)
	// pairPattern finds key=value, key: value and "key": "value" pairs of
	// secret-like keys.
	pairPattern = regexp.MustCompile(`(?i)("?[A-Za-z0-9_.\-]*(?:password|passwd|secret|token|api[_\-]?key|private[_\-]?key|signature)[A-Za-z0-9_\-]*"?\s*[=:]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s&;,"'}\]]+)`)
	// authPattern finds credentials after an Authorization scheme.
	authPattern = regexp.MustCompile(`(?i)\b(Bearer|Basic|Splunk|Token)(\s+)[A-Za-z0-9._~+/=\-]{8,}`)
	// tokenPattern finds tokens recognisable by their prefix: Slack bot,
	// user and app tokens, GitHub tokens.
	tokenPattern = regexp.MustCompile(`\b(?:xox[abposr]-[A-Za-z0-9\-]{10,}|xapp-[A-Za-z0-9\-]{10,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})`)
)

// String returns s with every secret it recognises hidden.
func (r *Redactor) String(s string) string {
	if r != nil {
		r.mu.RLock()
		for _, sec := range r.secrets {
			if strings.Contains(s, sec) {
				s = strings.ReplaceAll(s, sec, redactLiteral(sec))
			}
		}
		r.mu.RUnlock()
	}
	if strings.Contains(s, "://") {
		s = urlPattern.ReplaceAllStringFunc(s, RedactURL)
	}
	if strings.ContainsAny(s, "=:") {
		s = pairPattern.ReplaceAllStringFunc(s, redactPair)
	}
	if strings.ContainsAny(s, " \t") {
		s = authPattern.ReplaceAllStringFunc(s, redactAuth)
	}
	return tokenPattern.ReplaceAllString(s, Redacted)
}

// redactLiteral is what replaces a literal secret: a URL keeps its scheme
// and host, so a reader still sees where it points.
func redactLiteral(sec string) string {
	if u, err := url.Parse(sec); err == nil && u.Scheme != "" && u.Host != "" {
		return u.Scheme + "://" + u.Host + "/" + Redacted
	}
	return Redacted
}

// redactAuth hides the credential after an Authorization scheme when it
// holds a digit, as tokens and base64 do: "Token validation failed" is
// prose, not a credential.
func redactAuth(m string) string {
	sub := authPattern.FindStringSubmatch(m)
	cred := m[len(sub[1])+len(sub[2]):]
	if !strings.ContainsAny(cred, "0123456789") {
		return m
	}
	return sub[1] + sub[2] + Redacted
}

// redactPair keeps a pair's key and separator and hides its value, keeping
// quotes around it.
func redactPair(pair string) string {
	m := pairPattern.FindStringSubmatch(pair)
	if m == nil {
		return pair
	}
	val := m[2]
	if strings.Trim(val, `"'`) == Redacted {
		return pair
	}
	if n := len(val); n >= 2 && (val[0] == '"' || val[0] == '\'') && val[n-1] == val[0] {
		return m[1] + val[:1] + Redacted + val[:1]
	}
	return m[1] + Redacted
}

// webhookHosts are hosts whose URL path is itself the credential: anyone
// holding the path can post.
var webhookHosts = []string{"hooks.slack.com", "discord.com", "discordapp.com", "webhook.office.com", "outlook.office.com", "hooks.zapier.com"}

// RedactURL returns raw with its secrets hidden: the password of the
// userinfo (a lone user name too, often a token), the values of token-like
// query parameters, a fragment that carries a token, and all of the path
// after its first segment for webhook hosts whose path is the credential.
// A URL that does not parse keeps only its scheme.
func RedactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// A password holding '/', '#' or '?', or a bad escape, defeats
		// the parser: say nothing rather than something half-redacted.
		if rest == Redacted {
			return raw
		}
		return scheme + "://" + Redacted
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if u.User != nil {
		if _, has := u.User.Password(); has {
			b.WriteString(u.User.Username())
			b.WriteString(":" + Redacted)
		} else if u.User.Username() != "" {
			b.WriteString(Redacted)
		}
		b.WriteString("@")
	}
	b.WriteString(u.Host)
	path := u.EscapedPath()
	if isWebhookHost(u.Hostname()) && strings.Count(path, "/") > 1 {
		first, _, _ := strings.Cut(path[1:], "/")
		path = "/" + first + "/" + Redacted
	}
	b.WriteString(path)
	if u.ForceQuery || u.RawQuery != "" {
		b.WriteString("?")
		b.WriteString(redactQuery(u.RawQuery))
	}
	if u.Fragment != "" {
		b.WriteString("#")
		if frag := strings.ToLower(u.Fragment); strings.Contains(frag, "token") || strings.Contains(frag, "=") {
			b.WriteString(Redacted)
		} else {
			b.WriteString(u.EscapedFragment())
		}
	}
	return b.String()
}

func isWebhookHost(host string) bool {
	host = strings.ToLower(host)
	for _, h := range webhookHosts {
		if host == h || strings.HasSuffix(host, "."+h) {
			return true
		}
	}
	return false
}

// redactQuery hides the values of secret-like parameters, keeping the
// order and encoding of the rest.
func redactQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, has := strings.Cut(p, "=")
		if !has {
			continue
		}
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		if secretQueryKey(key) {
			parts[i] = k + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// secretQueryKey reports whether a query parameter carries a credential:
// any secret key, and the short names signed URLs and APIs use.
func secretQueryKey(key string) bool {
	if SecretKey(key) {
		return true
	}
	switch normalizeKey(key) {
	case "sig", "key", "code", "auth", "pass", "pw", "pwd":
		return true
	}
	return false
}

// secretKeyParts are the words that make an attribute key secret.
var secretKeyParts = []string{"password", "passwd", "secret", "token", "apikey", "authorization", "privatekey", "signingkey", "hmackey", "cookie", "webhookurl", "signature"}

// SecretKey reports whether an attribute or parameter key names a secret,
// so that its whole value is hidden: the key, lower-cased and without
// '_', '-' and '.', contains one of password, passwd, secret, token, apikey,
// authorization, privatekey, signingkey, hmackey, cookie, webhookurl or
// signature, or is pwd. Keys such as access_key_id, event_id or dedup_key
// are not secret.
func SecretKey(key string) bool {
	k := normalizeKey(key)
	for _, part := range secretKeyParts {
		if strings.Contains(k, part) {
			return true
		}
	}
	return k == "pwd"
}

func normalizeKey(key string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '_' || r == '-' || r == '.':
			return -1
		case 'A' <= r && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, key)
}
