package enrich

import (
	"strings"

	"github.com/trailsentry/trailsentry/internal/event"
)

// uaInfo is the verdict on one user agent.
type uaInfo struct {
	family  string // userAgentRules' family, FamilyOther, or "" without a user agent
	tooling string // toolSignatures' label, or ""
}

// UserAgentFamily names the client that made the call: "console",
// "aws-cli", "sdk-python", "terraform", "cloudformation", "aws-internal",
// "aws-service", "browser", "http-client", ... (userAgentRules in tables.go),
// FamilyOther for an unrecognised user agent, "" when the record has none. A
// browser on a console sign-in or console action is "console".
func (v *View) UserAgentFamily() string {
	f := v.clientInfo().family
	if f == familyBrowser && v.consoleEvent() {
		return familyConsole
	}
	return f
}

// Tooling names offensive, audit or suspicious tooling the user agent shows,
// as "<category>:<tool>" ("offensive:kali", "audit:prowler",
// "suspicious:curl"), or "" when it shows none.
func (v *View) Tooling() string { return v.clientInfo().tooling }

// consoleEvent reports whether the event itself says it is the console's.
func (v *View) consoleEvent() bool {
	switch v.ev.Str(event.EventType) {
	case "AwsConsoleSignIn", "AwsConsoleAction":
		return true
	}
	return v.ev.Str(event.EventSource) == "signin.amazonaws.com"
}

func (v *View) clientInfo() uaInfo {
	if v.once(partClient) {
		v.client = uaInfo{}
		if v.ev != nil {
			if ua := v.ev.Str(event.UserAgent); ua != "" {
				v.client = v.classifyAgent(ua)
			}
		}
	}
	return v.client
}

// classifyAgent returns the verdict on ua, worked out once per View for each
// distinct user agent: a trail holds few of them.
func (v *View) classifyAgent(ua string) uaInfo {
	if c, ok := v.agents[ua]; ok {
		return c
	}
	c := uaInfo{family: agentFamily(ua), tooling: agentTooling(ua)}
	if len(v.agents) >= cacheLimit {
		clear(v.agents)
	}
	v.agents[strings.Clone(ua)] = c
	return c
}

// agentFamily applies userAgentRules: the first that matches wins.
func agentFamily(ua string) string {
	for _, r := range userAgentRules {
		var ok bool
		switch r.Match {
		case uaExact:
			ok = ua == r.Needle
		case uaPrefix:
			ok = strings.HasPrefix(ua, r.Needle)
		case uaContains:
			ok = strings.Contains(ua, r.Needle)
		case uaSuffix:
			ok = strings.HasSuffix(ua, r.Needle)
		}
		if ok {
			return r.Family
		}
	}
	return FamilyOther
}

// agentTooling applies toolSignatures: the first whose token appears as a
// word, ignoring case, wins.
func agentTooling(ua string) string {
	lower := strings.ToLower(ua)
	for _, s := range toolSignatures {
		if containsWord(lower, s.Token) {
			return s.Label
		}
	}
	return ""
}

// containsWord reports whether tok occurs in s with no letter right before
// or after it: "kali" in "md/distrib#kali.2024" but not in "alkaline".
func containsWord(s, tok string) bool {
	for from := 0; ; {
		i := strings.Index(s[from:], tok)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(tok)
		if (i == 0 || !isLetter(s[i-1])) && (end == len(s) || !isLetter(s[end])) {
			return true
		}
		from = i + 1
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
