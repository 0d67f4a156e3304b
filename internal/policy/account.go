package policy

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Account is an account's IAM configuration as `aws iam
// get-account-authorization-details` exports it: users, groups, roles and
// managed policies, each policy document parsed.
type Account struct {
	ID       string // the account ID, read from the entities' ARNs
	Users    []*User
	Groups   []*Group
	Roles    []*Role
	Policies []*ManagedPolicy // customer and AWS managed policies, by the export's order

	// Unresolved lists managed policy ARNs that entities attach (or use as a
	// boundary) but the export does not hold — exported with a --filter that
	// left them out. PolicySet leaves them out of the sets it builds.
	Unresolved []string

	policies map[string]*ManagedPolicy // by ARN
	groups   map[string]*Group         // by name
}

// User is an IAM user of the export.
type User struct {
	Name, ARN, ID, Path string
	Inline              []*Policy // UserPolicyList
	Attached            []string  // managed policy ARNs
	Groups              []string  // group names
	Boundary            string    // managed policy ARN, "" for none
	Tags                map[string]string
}

// Group is an IAM group of the export.
type Group struct {
	Name, ARN, ID, Path string
	Inline              []*Policy
	Attached            []string
}

// Role is an IAM role of the export.
type Role struct {
	Name, ARN, ID, Path string
	Trust               *Policy // AssumeRolePolicyDocument: a resource-based policy for sts:AssumeRole
	Inline              []*Policy
	Attached            []string
	Boundary            string
	InstanceProfiles    []string // instance profile ARNs: EC2 instances can carry the role
	Tags                map[string]string
}

// ManagedPolicy is a managed policy of the export with its default version's
// document.
type ManagedPolicy struct {
	Name, ARN, ID, Path string
	DefaultVersion      string
	AttachmentCount     int
	Document            *Policy
	// Versions holds every version's document by version ID; IAM keeps up to
	// five, and iam:SetDefaultPolicyVersion can switch to any of them.
	Versions map[string]*Policy
}

// AWSManaged reports whether AWS owns the policy (arn:aws:iam::aws:policy/...).
func (m *ManagedPolicy) AWSManaged() bool { return strings.Contains(m.ARN, ":iam::aws:policy/") }

// The export's JSON shapes. Policy documents stay raw: the API returns them
// URL-encoded, the AWS CLI decodes them into objects, and ParseDocument
// takes both.
type (
	detailsJSON struct {
		UserDetailList  []userJSON   `json:"UserDetailList"`
		GroupDetailList []groupJSON  `json:"GroupDetailList"`
		RoleDetailList  []roleJSON   `json:"RoleDetailList"`
		Policies        []policyJSON `json:"Policies"`
	}
	entityJSON struct {
		Path     string `json:"Path"`
		Arn      string `json:"Arn"`
		Attached []struct {
			PolicyName string `json:"PolicyName"`
			PolicyArn  string `json:"PolicyArn"`
		} `json:"AttachedManagedPolicies"`
		Boundary *struct {
			Type string `json:"PermissionsBoundaryType"`
			Arn  string `json:"PermissionsBoundaryArn"`
		} `json:"PermissionsBoundary"`
		Tags []struct {
			Key   string `json:"Key"`
			Value string `json:"Value"`
		} `json:"Tags"`
	}
	inlineJSON struct {
		PolicyName     string          `json:"PolicyName"`
		PolicyDocument json.RawMessage `json:"PolicyDocument"`
	}
	userJSON struct {
		entityJSON
		UserName       string       `json:"UserName"`
		UserID         string       `json:"UserId"`
		UserPolicyList []inlineJSON `json:"UserPolicyList"`
		GroupList      []string     `json:"GroupList"`
	}
	groupJSON struct {
		entityJSON
		GroupName       string       `json:"GroupName"`
		GroupID         string       `json:"GroupId"`
		GroupPolicyList []inlineJSON `json:"GroupPolicyList"`
	}
	roleJSON struct {
		entityJSON
		RoleName                 string          `json:"RoleName"`
		RoleID                   string          `json:"RoleId"`
		AssumeRolePolicyDocument json.RawMessage `json:"AssumeRolePolicyDocument"`
		RolePolicyList           []inlineJSON    `json:"RolePolicyList"`
		InstanceProfileList      []struct {
			Arn string `json:"Arn"`
		} `json:"InstanceProfileList"`
	}
	policyJSON struct {
		PolicyName        string `json:"PolicyName"`
		PolicyID          string `json:"PolicyId"`
		Arn               string `json:"Arn"`
		Path              string `json:"Path"`
		DefaultVersionID  string `json:"DefaultVersionId"`
		AttachmentCount   int    `json:"AttachmentCount"`
		PolicyVersionList []struct {
			Document         json.RawMessage `json:"Document"`
			VersionID        string          `json:"VersionId"`
			IsDefaultVersion bool            `json:"IsDefaultVersion"`
		} `json:"PolicyVersionList"`
	}
)

// ParseAuthorizationDetails reads the JSON of `aws iam
// get-account-authorization-details` (the AWS CLI's output, pages merged, or
// the API's own JSON with URL-encoded documents). A policy document that does
// not parse is an error naming the entity and policy.
func ParseAuthorizationDetails(r io.Reader) (*Account, error) {
	var d detailsJSON
	dec := json.NewDecoder(r)
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("authorization details: %w", err)
	}
	a := &Account{policies: map[string]*ManagedPolicy{}, groups: map[string]*Group{}}
	inline := func(kind, name, arn string, list []inlineJSON) ([]*Policy, error) {
		var out []*Policy
		for _, ip := range list {
			p, err := ParseDocument(ip.PolicyDocument)
			if err != nil {
				return nil, fmt.Errorf("authorization details: %s %s: inline policy %q: %w", kind, name, ip.PolicyName, err)
			}
			p.Name, p.Source = ip.PolicyName, "inline policy of "+arn
			out = append(out, p)
		}
		return out, nil
	}
	for _, pj := range d.Policies {
		mp := &ManagedPolicy{Name: pj.PolicyName, ARN: pj.Arn, ID: pj.PolicyID, Path: pj.Path,
			DefaultVersion: pj.DefaultVersionID, AttachmentCount: pj.AttachmentCount, Versions: map[string]*Policy{}}
		for _, v := range pj.PolicyVersionList {
			p, err := ParseDocument(v.Document)
			if err != nil {
				return nil, fmt.Errorf("authorization details: managed policy %s version %s: %w", pj.Arn, v.VersionID, err)
			}
			p.Name, p.Source = pj.PolicyName, pj.Arn
			mp.Versions[v.VersionID] = p
			if v.IsDefaultVersion || (mp.Document == nil && v.VersionID == pj.DefaultVersionID) {
				mp.Document = p
			}
		}
		if mp.Document == nil {
			return nil, fmt.Errorf("authorization details: managed policy %s: no default version document", pj.Arn)
		}
		a.Policies = append(a.Policies, mp)
		a.policies[mp.ARN] = mp
	}
	for _, gj := range d.GroupDetailList {
		g := &Group{Name: gj.GroupName, ARN: gj.Arn, ID: gj.GroupID, Path: gj.Path, Attached: gj.attachedARNs()}
		var err error
		if g.Inline, err = inline("group", g.Name, g.ARN, gj.GroupPolicyList); err != nil {
			return nil, err
		}
		a.Groups = append(a.Groups, g)
		a.groups[g.Name] = g
		a.noteAccount(g.ARN)
	}
	for _, uj := range d.UserDetailList {
		u := &User{Name: uj.UserName, ARN: uj.Arn, ID: uj.UserID, Path: uj.Path, Attached: uj.attachedARNs(),
			Groups: uj.GroupList, Boundary: uj.boundary(), Tags: uj.tags()}
		var err error
		if u.Inline, err = inline("user", u.Name, u.ARN, uj.UserPolicyList); err != nil {
			return nil, err
		}
		a.Users = append(a.Users, u)
		a.noteAccount(u.ARN)
	}
	for _, rj := range d.RoleDetailList {
		ro := &Role{Name: rj.RoleName, ARN: rj.Arn, ID: rj.RoleID, Path: rj.Path, Attached: rj.attachedARNs(),
			Boundary: rj.boundary(), Tags: rj.tags()}
		for _, ip := range rj.InstanceProfileList {
			ro.InstanceProfiles = append(ro.InstanceProfiles, ip.Arn)
		}
		if len(rj.AssumeRolePolicyDocument) > 0 && string(rj.AssumeRolePolicyDocument) != "null" {
			t, err := ParseDocument(rj.AssumeRolePolicyDocument)
			if err != nil {
				return nil, fmt.Errorf("authorization details: role %s: trust policy: %w", ro.Name, err)
			}
			t.Name, t.Source = "trust policy", "trust policy of "+ro.ARN
			ro.Trust = t
		}
		var err error
		if ro.Inline, err = inline("role", ro.Name, ro.ARN, rj.RolePolicyList); err != nil {
			return nil, err
		}
		a.Roles = append(a.Roles, ro)
		a.noteAccount(ro.ARN)
	}
	// Resource-based trust policies belong to the account: foreign-account
	// checks need to know it.
	for _, ro := range a.Roles {
		if ro.Trust != nil {
			ro.Trust.Account = a.ID
		}
	}
	for _, mp := range a.Policies {
		if !mp.AWSManaged() {
			for _, v := range mp.Versions {
				v.Account = a.ID
			}
		}
	}
	a.Unresolved = a.unresolved()
	return a, nil
}

func (e *entityJSON) attachedARNs() []string {
	var out []string
	for _, m := range e.Attached {
		out = append(out, m.PolicyArn)
	}
	return out
}

func (e *entityJSON) boundary() string {
	if e.Boundary == nil {
		return ""
	}
	return e.Boundary.Arn
}

func (e *entityJSON) tags() map[string]string {
	if len(e.Tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(e.Tags))
	for _, t := range e.Tags {
		m[t.Key] = t.Value
	}
	return m
}

func (a *Account) noteAccount(arn string) {
	if a.ID != "" {
		return
	}
	if p, ok := splitARN(arn); ok && isAccountID(p.account) {
		a.ID = p.account
	}
}

func (a *Account) unresolved() []string {
	var out []string
	note := func(arns ...string) {
		for _, arn := range arns {
			if arn != "" && a.policies[arn] == nil && !slices.Contains(out, arn) {
				out = append(out, arn)
			}
		}
	}
	for _, u := range a.Users {
		note(u.Attached...)
		note(u.Boundary)
	}
	for _, g := range a.Groups {
		note(g.Attached...)
	}
	for _, r := range a.Roles {
		note(r.Attached...)
		note(r.Boundary)
	}
	slices.Sort(out)
	return out
}

// Policy returns the managed policy with this ARN, or nil.
func (a *Account) Policy(arn string) *ManagedPolicy { return a.policies[arn] }

// User returns the user with this ARN or name, or nil.
func (a *Account) User(arnOrName string) *User {
	for _, u := range a.Users {
		if u.ARN == arnOrName || u.Name == arnOrName {
			return u
		}
	}
	return nil
}

// Role returns the role with this ARN or name, or nil. An assumed-role
// session ARN (arn:aws:sts::111122223333:assumed-role/Name/session) finds
// its role by name: role names are unique in an account whatever their path.
func (a *Account) Role(arnOrName string) *Role {
	name := arnOrName
	if p, ok := splitARN(arnOrName); ok && p.service == "sts" && strings.HasPrefix(p.resource, "assumed-role/") {
		name, _, _ = strings.Cut(strings.TrimPrefix(p.resource, "assumed-role/"), "/")
	}
	for _, r := range a.Roles {
		if r.ARN == arnOrName || r.Name == name {
			return r
		}
	}
	return nil
}

// PolicySet returns the policies that apply to requests by a principal of the
// account — a user ARN, a role ARN, or an assumed-role session ARN, which
// maps to its role: Identity holds the inline and attached managed policies
// (for a user, also those of its groups), Boundary its permissions boundary.
// Resource, session and organization policies are not in the export; add them
// to the returned Set when known.
func (a *Account) PolicySet(principalARN string) (Set, error) {
	var s Set
	managed := func(arns []string) {
		for _, arn := range arns {
			if mp := a.policies[arn]; mp != nil {
				s.Identity = append(s.Identity, mp.Document)
			}
		}
	}
	boundary := func(arn string) {
		if mp := a.policies[arn]; mp != nil {
			s.Boundary = mp.Document
		}
	}
	p, ok := splitARN(principalARN)
	switch {
	case ok && p.service == "iam" && strings.HasPrefix(p.resource, "user/"):
		u := a.User(principalARN)
		if u == nil {
			return Set{}, fmt.Errorf("authorization details: no user %s", principalARN)
		}
		s.Identity = append(s.Identity, u.Inline...)
		managed(u.Attached)
		for _, gn := range u.Groups {
			if g := a.groups[gn]; g != nil {
				s.Identity = append(s.Identity, g.Inline...)
				managed(g.Attached)
			}
		}
		boundary(u.Boundary)
	case ok && (p.service == "iam" && strings.HasPrefix(p.resource, "role/") ||
		p.service == "sts" && strings.HasPrefix(p.resource, "assumed-role/")):
		r := a.Role(principalARN)
		if r == nil {
			return Set{}, fmt.Errorf("authorization details: no role for %s", principalARN)
		}
		s.Identity = append(s.Identity, r.Inline...)
		managed(r.Attached)
		boundary(r.Boundary)
	default:
		return Set{}, fmt.Errorf("authorization details: %q is not a user, role or assumed-role session ARN", principalARN)
	}
	return s, nil
}
