package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/trailsentry/trailsentry/internal/finding"
	"github.com/trailsentry/trailsentry/internal/store"
)

// Config is the alerting configuration: the `alerts:` key of trailsentry.yaml
// (docs/alerts.md shows a whole one).
//
//	alerts:
//	  outbox: {give_up_after: 24h}
//	  sinks:
//	    - name: oncall
//	      min_severity: high
//	      accounts: {include: ["111122223333"]}
//	      rules: {exclude: ["AWS STS AssumeRole Misuse"]}
//	      slack: {webhook_url: env:SLACK_WEBHOOK_URL}
type Config struct {
	Sinks  []SinkConfig `yaml:"sinks"`
	Outbox OutboxConfig `yaml:"outbox"`
}

// OutboxConfig tunes the dispatcher. Zero values take the defaults.
type OutboxConfig struct {
	// Lease is how long a claimed row is a dispatcher's own (default 2m); it
	// must exceed every sink's timeout, so no other dispatcher claims a row
	// that is still being sent.
	Lease time.Duration `yaml:"lease"`
	// BatchSize is the most rows sent to one sink at once (default 50).
	BatchSize int `yaml:"batch_size"`
	// InitialBackoff and MaxBackoff bound the wait before a retry: it
	// doubles with each attempt from InitialBackoff (default 10s) up to
	// MaxBackoff (default 30m), with jitter; a longer Retry-After wins.
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	MaxBackoff     time.Duration `yaml:"max_backoff"`
	// GiveUpAfter is the age past which a row is no longer retried
	// (default 24h): it is marked failed with its last error.
	GiveUpAfter time.Duration `yaml:"give_up_after"`
	// Keep is how long delivered and failed rows are kept (default 720h,
	// 30 days), longer than any source redelivers a message, so that work
	// done twice is never announced twice.
	Keep time.Duration `yaml:"keep"`
}

func (c OutboxConfig) withDefaults() OutboxConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Lease, 2*time.Minute)
	def(&c.InitialBackoff, 10*time.Second)
	def(&c.MaxBackoff, 30*time.Minute)
	def(&c.GiveUpAfter, 24*time.Hour)
	def(&c.Keep, 30*24*time.Hour)
	if c.BatchSize <= 0 {
		c.BatchSize = 50
	}
	return c
}

// SinkConfig is one sink: its name, what it is told of, and exactly one of
// the destination blocks.
type SinkConfig struct {
	// Name identifies the sink; outbox rows are keyed by it, so renaming a
	// sink re-announces nothing but leaves the old name's pending rows
	// undelivered.
	Name string `yaml:"name"`
	// MinSeverity is the lowest severity sent: info, low (default), medium,
	// high or critical.
	MinSeverity string `yaml:"min_severity"`
	// Accounts and Rules route findings: an empty include takes all;
	// exclude wins. Rules patterns match the rule id or its title.
	Accounts Match `yaml:"accounts"`
	Rules    Match `yaml:"rules"`
	// Timeout bounds one send (default 10s).
	Timeout time.Duration `yaml:"timeout"`

	Slack         *SlackConfig   `yaml:"slack"`
	Webhook       *WebhookConfig `yaml:"webhook"`
	Elasticsearch *ElasticConfig `yaml:"elasticsearch"`
	OpenSearch    *ElasticConfig `yaml:"opensearch"`
	Splunk        *SplunkConfig  `yaml:"splunk"`
	SNS           *SNSConfig     `yaml:"sns"`
	File          *FileConfig    `yaml:"file"`
	Stdout        *StdoutConfig  `yaml:"stdout"`
}

// Match is an include and an exclude list of glob patterns: `*` matches any
// run of characters (slashes and spaces too), `?` one; case is ignored.
type Match struct {
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
}

// StdoutConfig configures the stdout sink; it has no settings.
type StdoutConfig struct{}

// Secret is a reference to a secret: env:NAME (an environment variable) or
// file:/path (a file's content, surrounding white space removed). The value
// itself is never written in the configuration, and a Secret prints as its
// reference, never as its value.
type Secret struct{ ref string }

// SecretRef makes a Secret from a reference, checking its form.
func SecretRef(ref string) (Secret, error) {
	kind, name, ok := strings.Cut(ref, ":")
	if !ok || name == "" || (kind != "env" && kind != "file") {
		return Secret{}, errors.New("a secret is given as env:NAME or file:/path, never as its value")
	}
	return Secret{ref: ref}, nil
}

// UnmarshalYAML reads a reference and refuses anything else.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a secret is a string, env:NAME or file:/path", n.Line)
	}
	v, err := SecretRef(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = v
	return nil
}

// MarshalYAML writes the reference back.
func (s Secret) MarshalYAML() (any, error) { return s.ref, nil }

// String is the reference (env:NAME, file:/path), never the value.
func (s Secret) String() string { return s.ref }

// IsSet says whether a reference was given.
func (s Secret) IsSet() bool { return s.ref != "" }

// Resolve reads the secret's value.
func (s Secret) Resolve() (string, error) {
	kind, name, _ := strings.Cut(s.ref, ":")
	var v string
	switch kind {
	case "env":
		var ok bool
		if v, ok = os.LookupEnv(name); !ok {
			return "", fmt.Errorf("secret %s: the environment variable is not set", s.ref)
		}
	case "file":
		b, err := os.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("secret %s: %w", s.ref, unwrapPath(err))
		}
		v = string(b)
	default:
		return "", errors.New("secret: no reference given")
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("secret %s is empty", s.ref)
	}
	return v, nil
}

// unwrapPath leaves the path out of a file error: the reference names it.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// LoadConfig reads a YAML document holding an `alerts:` key (the whole
// trailsentry.yaml, or a file of its own) and checks it. Unknown keys are
// errors, so that a typo does not silently drop a route. source names the
// document in errors.
func LoadConfig(data []byte, source string) (*Config, error) {
	var doc struct {
		Alerts Config `yaml:"alerts"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if err := doc.Alerts.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return &doc.Alerts, nil
}

// Validate checks the configuration without reading any secret.
func (c *Config) Validate() error {
	seen := map[string]bool{}
	for i, s := range c.Sinks {
		where := fmt.Sprintf("alerts.sinks[%d]", i)
		if s.Name == "" {
			return fmt.Errorf("%s: no name", where)
		}
		where += " (" + s.Name + ")"
		if seen[s.Name] {
			return fmt.Errorf("%s: the name is used twice", where)
		}
		seen[s.Name] = true
		if _, err := s.threshold(); err != nil {
			return fmt.Errorf("%s: min_severity: %w", where, err)
		}
		for _, m := range []Match{s.Accounts, s.Rules} {
			for _, p := range slices.Concat(m.Include, m.Exclude) {
				if _, err := path.Match(globKey(p), ""); err != nil {
					return fmt.Errorf("%s: pattern %q: %w", where, p, err)
				}
			}
		}
		kinds := s.kinds()
		if len(kinds) != 1 {
			return fmt.Errorf("%s: give exactly one of slack, webhook, elasticsearch, opensearch, splunk, sns, file, stdout (got %d)", where, len(kinds))
		}
		if err := s.checkKind(); err != nil {
			return fmt.Errorf("%s: %s: %w", where, kinds[0], err)
		}
		if s.Timeout < 0 {
			return fmt.Errorf("%s: negative timeout", where)
		}
		if o := c.Outbox.withDefaults(); s.timeout() >= o.Lease {
			return fmt.Errorf("%s: timeout %v must be shorter than the outbox lease %v", where, s.timeout(), o.Lease)
		}
	}
	if c.Outbox.BatchSize < 0 {
		return errors.New("alerts.outbox.batch_size: negative")
	}
	if o := c.Outbox.withDefaults(); o.InitialBackoff > o.MaxBackoff {
		return fmt.Errorf("alerts.outbox: initial_backoff %v is longer than max_backoff %v", o.InitialBackoff, o.MaxBackoff)
	}
	return nil
}

func (s SinkConfig) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 10 * time.Second
}

func (s SinkConfig) threshold() (float64, error) {
	if s.MinSeverity == "" {
		return finding.ParseThreshold("low")
	}
	return finding.ParseThreshold(s.MinSeverity)
}

func (s SinkConfig) kinds() []string {
	var k []string
	for name, set := range map[string]bool{
		"slack": s.Slack != nil, "webhook": s.Webhook != nil, "elasticsearch": s.Elasticsearch != nil,
		"opensearch": s.OpenSearch != nil, "splunk": s.Splunk != nil, "sns": s.SNS != nil,
		"file": s.File != nil, "stdout": s.Stdout != nil,
	} {
		if set {
			k = append(k, name)
		}
	}
	slices.Sort(k)
	return k
}

func (s SinkConfig) checkKind() error {
	switch {
	case s.Slack != nil:
		if !s.Slack.WebhookURL.IsSet() {
			return errors.New("webhook_url is required")
		}
	case s.Webhook != nil:
		if !s.Webhook.URL.IsSet() {
			return errors.New("url is required")
		}
	case s.Elasticsearch != nil, s.OpenSearch != nil:
		e := cmpOrPtr(s.Elasticsearch, s.OpenSearch)
		if err := checkURL(e.URL); err != nil {
			return err
		}
		if e.APIKey.IsSet() && e.Username != "" {
			return errors.New("give api_key or username/password, not both")
		}
		if e.Username != "" && !e.Password.IsSet() {
			return errors.New("username without password")
		}
	case s.Splunk != nil:
		if err := checkURL(s.Splunk.URL); err != nil {
			return err
		}
		if !s.Splunk.Token.IsSet() {
			return errors.New("token is required")
		}
	case s.SNS != nil:
		if _, err := topicRegion(s.SNS.TopicARN); err != nil {
			return err
		}
	case s.File != nil:
		if s.File.Path == "" {
			return errors.New("path is required")
		}
	}
	return nil
}

func cmpOrPtr[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: want http(s)://host[:port]", redactURL(raw))
	}
	if u.User != nil {
		return errors.New("url: credentials do not belong in the url; use the sink's secret fields")
	}
	return nil
}

// Options are what building sinks needs from outside the configuration.
type Options struct {
	// HTTPClient sends the HTTP sinks' requests (default: a client of its
	// own per sink, with the sink's timeout).
	HTTPClient *http.Client
	// Stdout is where the stdout sink writes (default os.Stdout).
	Stdout io.Writer
	// Hostname is the Splunk events' host (default os.Hostname()).
	Hostname string
	// Now is the clock (default time.Now): webhook timestamps.
	Now func() time.Time
}

// Set is the configured sinks and the router that picks among them.
type Set struct {
	Sinks  []Sink
	Router *Router
	Outbox OutboxConfig // with defaults filled in
}

// Build resolves the secrets and builds every sink. An error names the sink
// and never holds a secret's value.
func Build(ctx context.Context, c *Config, opts Options) (*Set, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	set := &Set{Router: &Router{}, Outbox: c.Outbox.withDefaults()}
	for i, sc := range c.Sinks {
		sink, err := buildSink(ctx, sc, opts)
		if err != nil {
			return nil, fmt.Errorf("alerts.sinks[%d] (%s): %w", i, sc.Name, err)
		}
		threshold, _ := sc.threshold()
		set.Sinks = append(set.Sinks, sink)
		set.Router.routes = append(set.Router.routes, route{sink: sc.Name, min: threshold, accounts: sc.Accounts, rules: sc.Rules})
	}
	return set, nil
}

func buildSink(ctx context.Context, sc SinkConfig, opts Options) (Sink, error) {
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: sc.timeout()}
	}
	h := httpSink{name: sc.Name, client: client}
	switch {
	case sc.Slack != nil:
		return newSlack(h, *sc.Slack)
	case sc.Webhook != nil:
		return newWebhook(h, *sc.Webhook, opts.Now)
	case sc.Elasticsearch != nil, sc.OpenSearch != nil:
		return newElastic(h, *cmpOrPtr(sc.Elasticsearch, sc.OpenSearch))
	case sc.Splunk != nil:
		return newSplunk(h, *sc.Splunk, opts.Hostname)
	case sc.SNS != nil:
		return newSNS(ctx, sc.Name, *sc.SNS, opts.HTTPClient, sc.timeout())
	case sc.File != nil:
		return &FileSink{name: sc.Name, path: sc.File.Path}, nil
	case sc.Stdout != nil:
		return &WriterSink{name: sc.Name, w: opts.Stdout}, nil
	}
	return nil, errors.New("no destination")
}

// Router picks the sinks a finding is sent to.
type Router struct {
	routes []route
}

type route struct {
	sink     string
	min      float64
	accounts Match
	rules    Match
}

// Sinks returns the names of the sinks that want f, in configuration order.
// Suppressed and shadow findings go nowhere: they are kept, not announced.
func (r *Router) Sinks(f *finding.Finding) []string {
	if f.Suppressed || f.Shadow {
		return nil
	}
	var out []string
	for _, rt := range r.routes {
		if float64(f.Severity.Score) < rt.min {
			continue
		}
		if !rt.accounts.matches(f.Account) || !rt.rules.matches(f.Rule.ID, f.Rule.Title) {
			continue
		}
		out = append(out, rt.sink)
	}
	return out
}

// Entries are the outbox rows for findings: one per finding and sink that
// wants it, at the finding's Revision, carrying the finding as JSON. The
// caller enqueues them in the transaction that commits the findings.
func (r *Router) Entries(findings []*finding.Finding) ([]store.OutboxEntry, error) {
	var out []store.OutboxEntry
	for _, f := range findings {
		sinks := r.Sinks(f)
		if len(sinks) == 0 {
			continue
		}
		payload, err := json.Marshal(f)
		if err != nil {
			return nil, fmt.Errorf("finding %s: %w", f.ID, err)
		}
		for _, s := range sinks {
			out = append(out, store.OutboxEntry{Sink: s, FindingID: f.ID, Revision: Revision(f), Payload: payload})
		}
	}
	return out, nil
}

// matches says whether any of values passes the lists: included (or no
// include list) and not excluded.
func (m Match) matches(values ...string) bool {
	hit := func(patterns []string) bool {
		for _, p := range patterns {
			for _, v := range values {
				if globMatch(p, v) {
					return true
				}
			}
		}
		return false
	}
	if len(m.Include) > 0 && !hit(m.Include) {
		return false
	}
	return !hit(m.Exclude)
}

// globKey prepares a pattern or a value for path.Match: lower case, and
// slashes hidden, since path.Match's * stops at them and rule titles and
// actors hold them.
func globKey(s string) string { return strings.ReplaceAll(strings.ToLower(s), "/", "\x00") }

func globMatch(pattern, s string) bool {
	ok, _ := path.Match(globKey(pattern), globKey(s))
	return ok
}
