package enrich

import "strings"

// Summary is an event's whole enrichment, as a finding shows it. Its JSON
// names follow the field table: "identity.keyType" under Prefix is
// Summary.Identity.KeyType, JSON {"identity":{"keyType":...}}.
type Summary struct {
	Actor    string          `json:"actor"`
	Identity IdentitySummary `json:"identity"`
	Action   *ActionSummary  `json:"action,omitempty"` // nil when the record names no action
	Network  NetworkSummary  `json:"network"`
	Client   ClientSummary   `json:"client"`
	Intel    IntelSummary    `json:"intel"`
	Request  RequestSummary  `json:"request"`
}

// RequestSummary is what the request opens up.
type RequestSummary struct {
	WorldOpen        bool     `json:"worldOpen"`
	WorldOpenPorts   []string `json:"worldOpenPorts,omitempty"`
	PolicyExposure   string   `json:"policyExposure,omitempty"`
	ExternalAccounts []string `json:"externalAccounts,omitempty"`
	// The risks of the IAM policy the request writes or attaches.
	PolicyRisks       []string `json:"policyRisks,omitempty"`
	PolicyRiskReasons []string `json:"policyRiskReasons,omitempty"`
}

// IdentitySummary is who made the call.
type IdentitySummary struct {
	Type         string `json:"type,omitempty"`
	Role         string `json:"role,omitempty"`
	Session      string `json:"session,omitempty"`
	Human        string `json:"human,omitempty"`
	KeyType      string `json:"keyType,omitempty"`
	MFA          bool   `json:"mfa"`
	Console      bool   `json:"console"`
	CrossAccount bool   `json:"crossAccount"`
}

// ActionSummary is what the call is and can do.
type ActionSummary struct {
	Service     string   `json:"service"`
	Name        string   `json:"name"`
	AccessLevel string   `json:"accessLevel"`
	Techniques  []string `json:"techniques"`
	Risks       []string `json:"risks"`
	Guessed     bool     `json:"guessed"`
}

// NetworkSummary is where the call came from.
type NetworkSummary struct {
	SourceKind string `json:"sourceKind"`
	// From the MaxMind databases, when configured and they hold the address.
	ASN     string `json:"asn,omitempty"` // decimal, as the field trailsentry.network.asn
	ASNOrg  string `json:"asnOrg,omitempty"`
	Country string `json:"country,omitempty"`
}

// ClientSummary is the client that made the call.
type ClientSummary struct {
	Family  string `json:"family,omitempty"`
	Tooling string `json:"tooling,omitempty"`
}

// IntelSummary is what the intelligence lists say about the address.
type IntelSummary struct {
	ThreatList string `json:"threatList,omitempty"`
	Trusted    bool   `json:"trusted"`
}

// Summary works out every part of the enrichment: for the events a finding
// keeps, not for every event.
func (v *View) Summary() Summary {
	threat, _ := v.ThreatListed()
	s := Summary{
		Actor: v.Actor(),
		Identity: IdentitySummary{
			Type:         v.IdentityType(),
			Role:         v.Role(),
			Session:      v.Session(),
			Human:        v.Human(),
			KeyType:      v.KeyType(),
			MFA:          v.MFA(),
			Console:      v.Console(),
			CrossAccount: v.CrossAccount(),
		},
		Network: NetworkSummary{SourceKind: v.SourceKind()},
		Client:  ClientSummary{Family: v.UserAgentFamily(), Tooling: v.Tooling()},
		Intel:   IntelSummary{ThreatList: threat, Trusted: v.Trusted()},
	}
	v.resolveGeo()
	s.Network.ASN, s.Network.ASNOrg, s.Network.Country = v.geo.asnText, v.geo.org, v.geo.country
	s.Request.WorldOpen, s.Request.WorldOpenPorts = v.WorldOpen()
	s.Request.PolicyExposure, s.Request.ExternalAccounts = v.PolicyExposure()
	s.Request.PolicyRisks, s.Request.PolicyRiskReasons = v.PolicyRisks()
	if a := v.Action(); a != nil {
		s.Action = &ActionSummary{
			Service:     a.Service,
			Name:        a.Name,
			AccessLevel: a.AccessLevel,
			Techniques:  nonNil(a.Techniques),
			Risks:       nonNil(a.Risks),
			Guessed:     a.Guessed,
		}
	}
	return s
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// Clone returns a copy that shares no memory with the event it describes:
// the View's strings may be views into the event's record.
func (s Summary) Clone() Summary {
	c := s
	c.Actor = strings.Clone(s.Actor)
	c.Identity.Type = strings.Clone(s.Identity.Type)
	c.Identity.Role = strings.Clone(s.Identity.Role)
	c.Identity.Session = strings.Clone(s.Identity.Session)
	c.Identity.Human = strings.Clone(s.Identity.Human)
	c.Identity.KeyType = strings.Clone(s.Identity.KeyType)
	if s.Action != nil {
		a := *s.Action
		a.Service, a.Name, a.AccessLevel = strings.Clone(a.Service), strings.Clone(a.Name), strings.Clone(a.AccessLevel)
		a.Techniques, a.Risks = cloneStrings(a.Techniques), cloneStrings(a.Risks)
		c.Action = &a
	}
	c.Network.SourceKind = strings.Clone(s.Network.SourceKind)
	// Network.ASN, ASNOrg and Country come from the MaxMind databases, never
	// from the record: they share nothing with it.
	c.Client.Family = strings.Clone(s.Client.Family)
	c.Client.Tooling = strings.Clone(s.Client.Tooling)
	c.Intel.ThreatList = strings.Clone(s.Intel.ThreatList)
	c.Request.WorldOpenPorts = cloneStrings(s.Request.WorldOpenPorts)
	c.Request.PolicyExposure = strings.Clone(s.Request.PolicyExposure)
	c.Request.ExternalAccounts = cloneStrings(s.Request.ExternalAccounts)
	c.Request.PolicyRisks = cloneStrings(s.Request.PolicyRisks)
	c.Request.PolicyRiskReasons = cloneStrings(s.Request.PolicyRiskReasons)
	return c
}

func cloneStrings(l []string) []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = strings.Clone(s)
	}
	return out
}
