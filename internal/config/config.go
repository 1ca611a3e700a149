// Package config loads castwatch's configuration: built-in defaults, then a YAML file, then the environment, then
// command-line flags (applied by the caller). Load validates the result and reports every problem with an exact
// message naming the setting.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultBaseURL is the Mimecast API 2.0 global base URL.
const DefaultBaseURL = "https://api.services.mimecast.com"

// KnownStreams lists the stream names a tenant may enable, in collection order.
var KnownStreams = []string{
	"audit", "dlp", "ttp_url", "ttp_attachment", "ttp_impersonation", "message_release", "archive_search",
	"at_performance", "at_safescore", "at_watchlist", "at_userdata", "threat_intel", "siem_cg", "siem_ci",
	"siem_legacy",
}

// LegacyStream is the stream that needs API 1.0 credentials (Tenant.V1); the others use API 2.0.
const LegacyStream = "siem_legacy"

// V1 holds a tenant's API 1.0 (HMAC) credentials, needed only for the legacy SIEM stream.
type V1 struct {
	// BaseURL is the account's regional API 1.0 host, e.g. https://eu-api.mimecast.com.
	BaseURL       string `yaml:"base_url"`
	AppID         string `yaml:"app_id"`
	AppKey        Secret `yaml:"app_key"`
	AccessKey     Secret `yaml:"access_key"`
	SecretKey     Secret `yaml:"secret_key"`
	SecretKeyFile string `yaml:"secret_key_file"`
}

// Secret is a credential. It prints as "[redacted]" in logs, errors, YAML and JSON so that it cannot leak by
// accident; Reveal returns the value for the one place that needs it.
type Secret struct{ value string }

// NewSecret wraps a credential value.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the credential itself.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// String hides the value.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON hides the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML hides the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML reads the value from a YAML scalar.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a secret must be a string", n.Line)
	}
	s.value = n.Value
	return nil
}

// Duration is a time.Duration read from YAML as "15m", "7d" or "168h".
type Duration time.Duration

// UnmarshalYAML parses Go durations plus a "d" (days) suffix.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration in Go's notation.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ParseDuration parses a Go duration or a whole number of days such as "7d".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 30m, 12h or 7d)", s)
	}
	return d, nil
}

// Tenant is one Mimecast account castwatch collects from.
type Tenant struct {
	// Name identifies the tenant in stored rows, subjects and metrics: lower-case letters, digits, - and _.
	Name    string `yaml:"name"`
	BaseURL string `yaml:"base_url"`
	// ClientID and ClientSecret are the API 2.0 application's credentials.
	ClientID         string `yaml:"client_id"`
	ClientIDFile     string `yaml:"client_id_file"`
	ClientSecret     Secret `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// Streams are the enabled streams; empty means every API 2.0 stream (siem_legacy only when listed).
	Streams []string `yaml:"streams"`
	// V1 enables the legacy SIEM stream (API 1.0).
	V1 *V1 `yaml:"v1"`
}

// NATS configures the bus.
type NATS struct {
	// URL of an external NATS server or cluster; empty runs JetStream embedded in the process.
	URL string `yaml:"url"`
	// DuplicateWindow is how long JetStream remembers message ids to drop republished pages.
	DuplicateWindow Duration `yaml:"duplicate_window"`
	// Retention is how long collected batches stay on the bus after they were published (the store holds the
	// data; the bus copy allows a re-read). A batch the store has not taken by then is dropped, so it must be long.
	Retention Duration `yaml:"retention"`
}

// HTTP configures the web server of `castwatch serve`.
type HTTP struct {
	Addr string `yaml:"addr"`
	// TLSCertFile and TLSKeyFile (PEM) serve the web UI over HTTPS; both or neither.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// AdminPassword is the password of the first admin, created when the store has no users; empty generates
	// one and prints it once. Env CASTWATCH_ADMIN_PASSWORD or CASTWATCH_ADMIN_PASSWORD_FILE.
	AdminPassword     Secret `yaml:"admin_password"`
	AdminPasswordFile string `yaml:"admin_password_file"`
}

// TLS reports whether the web UI is served over HTTPS.
func (h HTTP) TLS() bool { return h.TLSCertFile != "" && h.TLSKeyFile != "" }

// Sync configures collection.
type Sync struct {
	// Interval between scheduled collection runs in `castwatch serve`.
	Interval Duration `yaml:"interval"`
	// Lookback is how far back the first run of a stream starts.
	Lookback Duration `yaml:"lookback"`
	// PageSize is the page size asked of windowed API functions.
	PageSize int `yaml:"page_size"`
	// Intervals overrides Interval per stream, e.g. {siem_cg: 5m}.
	Intervals map[string]Duration `yaml:"intervals"`
}

// Detect configures detection.
type Detect struct {
	// RulesDir holds extra rules (YAML) that add to or override the built-in ones by id.
	RulesDir string `yaml:"rules_dir"`
	// Lateness is how far behind the newest event an event may arrive and still be evaluated.
	Lateness Duration `yaml:"lateness"`
}

// Syslog configures the syslog listener of `castwatch serve`, which feeds raw Mimecast lines (legacy SIEM
// key=value, Exabeam's Splunk lines, CEF, API JSON) into the same tables and detection as `castwatch ingest`.
type Syslog struct {
	// UDP, TCP and TLS are listen addresses (host:port); empty turns a transport off.
	UDP string `yaml:"udp"`
	TCP string `yaml:"tcp"`
	TLS string `yaml:"tls"`
	// CertFile and KeyFile are the TLS listener's certificate and key (PEM).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Tenant is stored with every row received.
	Tenant string `yaml:"tenant"`
	// MaxMessageBytes rejects longer messages (default 64 KiB).
	MaxMessageBytes int `yaml:"max_message_bytes"`
}

// Enabled reports whether any syslog transport is configured.
func (s Syslog) Enabled() bool { return s.UDP != "" || s.TCP != "" || s.TLS != "" }

// Config is the whole configuration.
type Config struct {
	DataDir  string   `yaml:"data_dir"`
	LogLevel string   `yaml:"log_level"`
	NATS     NATS     `yaml:"nats"`
	HTTP     HTTP     `yaml:"http"`
	Sync     Sync     `yaml:"sync"`
	Detect   Detect   `yaml:"detect"`
	Syslog   Syslog   `yaml:"syslog"`
	Tenants  []Tenant `yaml:"tenants"`
	Enrich   Enrich   `yaml:"enrich"`
	// Analytics configures behaviour analytics.
	Analytics Analytics `yaml:"analytics"`
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		DataDir:  "./castwatch-data",
		LogLevel: "info",
		NATS:     NATS{DuplicateWindow: Duration(24 * time.Hour), Retention: Duration(7 * 24 * time.Hour)},
		HTTP:     HTTP{Addr: "127.0.0.1:8080"},
		Sync: Sync{
			Interval: Duration(15 * time.Minute),
			Lookback: Duration(7 * 24 * time.Hour),
			PageSize: 500,
		},
		Detect:    Detect{Lateness: Duration(48 * time.Hour)},
		Syslog:    Syslog{Tenant: "default", MaxMessageBytes: 64 << 10},
		Analytics: defaultAnalytics(),
	}
}

// Load builds the configuration from the defaults, the YAML file at path (skipped when path is empty) and the
// environment (getenv; nil means os.Getenv), resolves *_FILE secrets, and validates the result.
func Load(path string, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("config %s: %w", path, cleanYAMLError(err))
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return Config{}, err
	}
	if err := resolveFiles(&cfg); err != nil {
		return Config{}, err
	}
	fillTenantDefaults(&cfg)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func cleanYAMLError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	return errors.New(msg)
}

func applyEnv(cfg *Config, getenv func(string) string) error {
	if v := getenv("CASTWATCH_DATA_DIR"); v != "" {
		cfg.DataDir = v
	}
	if v := getenv("CASTWATCH_LOG_LEVEL"); v != "" {
		cfg.LogLevel = v
	}
	if v := getenv("CASTWATCH_HTTP_ADDR"); v != "" {
		cfg.HTTP.Addr = v
	}
	if v := getenv("CASTWATCH_HTTP_TLS_CERT_FILE"); v != "" {
		cfg.HTTP.TLSCertFile = v
	}
	if v := getenv("CASTWATCH_HTTP_TLS_KEY_FILE"); v != "" {
		cfg.HTTP.TLSKeyFile = v
	}
	if v := getenv("CASTWATCH_ADMIN_PASSWORD"); v != "" {
		cfg.HTTP.AdminPassword = NewSecret(v)
	}
	if v := getenv("CASTWATCH_ADMIN_PASSWORD_FILE"); v != "" {
		cfg.HTTP.AdminPasswordFile = v
	}
	if v := getenv("CASTWATCH_NATS_URL"); v != "" {
		cfg.NATS.URL = v
	}
	if v := getenv("CASTWATCH_SYSLOG_UDP"); v != "" {
		cfg.Syslog.UDP = v
	}
	if v := getenv("CASTWATCH_SYSLOG_TCP"); v != "" {
		cfg.Syslog.TCP = v
	}
	envTenant := Tenant{
		Name:             getenv("MIMECAST_TENANT"),
		BaseURL:          getenv("MIMECAST_BASE_URL"),
		ClientID:         getenv("MIMECAST_CLIENT_ID"),
		ClientIDFile:     getenv("MIMECAST_CLIENT_ID_FILE"),
		ClientSecret:     NewSecret(getenv("MIMECAST_CLIENT_SECRET")),
		ClientSecretFile: getenv("MIMECAST_CLIENT_SECRET_FILE"),
	}
	if s := getenv("MIMECAST_STREAMS"); s != "" {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				envTenant.Streams = append(envTenant.Streams, p)
			}
		}
	}
	if envTenant.ClientID == "" && envTenant.ClientIDFile == "" && envTenant.ClientSecret.IsZero() &&
		envTenant.ClientSecretFile == "" && envTenant.BaseURL == "" && envTenant.Name == "" && envTenant.Streams == nil {
		return nil
	}
	switch len(cfg.Tenants) {
	case 0:
		if envTenant.Name == "" {
			envTenant.Name = "default"
		}
		cfg.Tenants = []Tenant{envTenant}
	case 1:
		t := &cfg.Tenants[0]
		if envTenant.Name != "" {
			t.Name = envTenant.Name
		}
		if envTenant.BaseURL != "" {
			t.BaseURL = envTenant.BaseURL
		}
		if envTenant.ClientID != "" || envTenant.ClientIDFile != "" {
			t.ClientID, t.ClientIDFile = envTenant.ClientID, envTenant.ClientIDFile
		}
		if !envTenant.ClientSecret.IsZero() || envTenant.ClientSecretFile != "" {
			t.ClientSecret, t.ClientSecretFile = envTenant.ClientSecret, envTenant.ClientSecretFile
		}
		if envTenant.Streams != nil {
			t.Streams = envTenant.Streams
		}
	default:
		return fmt.Errorf("config: MIMECAST_* environment variables set a single tenant, but the config file defines %d tenants; set credentials in the file instead", len(cfg.Tenants))
	}
	return nil
}

// resolveFiles reads *_file settings. A value given both inline and as a file is an error.
func resolveFiles(cfg *Config) error {
	if cfg.HTTP.AdminPasswordFile != "" {
		if !cfg.HTTP.AdminPassword.IsZero() {
			return errors.New("config: http: set admin_password or admin_password_file, not both")
		}
		v, err := readSecretFile(cfg.HTTP.AdminPasswordFile)
		if err != nil {
			return fmt.Errorf("config: http.admin_password_file: %w", err)
		}
		cfg.HTTP.AdminPassword = NewSecret(v)
	}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		if t.ClientIDFile != "" {
			if t.ClientID != "" {
				return fmt.Errorf("config: tenants[%d]: set client_id or client_id_file, not both", i)
			}
			v, err := readSecretFile(t.ClientIDFile)
			if err != nil {
				return fmt.Errorf("config: tenants[%d].client_id_file: %w", i, err)
			}
			t.ClientID = v
		}
		if t.V1 != nil && t.V1.SecretKeyFile != "" {
			if !t.V1.SecretKey.IsZero() {
				return fmt.Errorf("config: tenants[%d].v1: set secret_key or secret_key_file, not both", i)
			}
			v, err := readSecretFile(t.V1.SecretKeyFile)
			if err != nil {
				return fmt.Errorf("config: tenants[%d].v1.secret_key_file: %w", i, err)
			}
			t.V1.SecretKey = NewSecret(v)
		}
		if t.ClientSecretFile != "" {
			if !t.ClientSecret.IsZero() {
				return fmt.Errorf("config: tenants[%d]: set client_secret or client_secret_file, not both", i)
			}
			v, err := readSecretFile(t.ClientSecretFile)
			if err != nil {
				return fmt.Errorf("config: tenants[%d].client_secret_file: %w", i, err)
			}
			t.ClientSecret = NewSecret(v)
		}
	}
	return nil
}

func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		// The path is not secret; the content never appears in errors.
		return "", fmt.Errorf("cannot read %s: %w", path, errors.Unwrap(err))
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

func fillTenantDefaults(cfg *Config) {
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		if t.BaseURL == "" {
			t.BaseURL = DefaultBaseURL
		}
		t.BaseURL = strings.TrimRight(t.BaseURL, "/")
		if len(t.Streams) == 0 {
			// Every API 2.0 stream. siem_legacy is only collected when listed: it carries the same mail as
			// siem_cg under other keys, so a tenant collects one or the other.
			for _, s := range KnownStreams {
				if s != LegacyStream {
					t.Streams = append(t.Streams, s)
				}
			}
		}
	}
}

var tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Validate checks the configuration and returns every problem found, one per line.
func (c *Config) Validate() error {
	var probs []string
	add := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }

	if strings.TrimSpace(c.DataDir) == "" {
		add("data_dir: required")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level %q: must be one of debug, info, warn, error", c.LogLevel)
	}
	if c.NATS.URL != "" {
		if u, err := url.Parse(c.NATS.URL); err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			add("nats.url %q: must be a nats:// or tls:// URL, or empty for the embedded server", c.NATS.URL)
		}
	}
	if time.Duration(c.NATS.DuplicateWindow) < time.Minute {
		add("nats.duplicate_window %s: must be at least 1m", time.Duration(c.NATS.DuplicateWindow))
	}
	if r := time.Duration(c.NATS.Retention); r < time.Duration(c.NATS.DuplicateWindow) || r < time.Hour {
		add("nats.retention %s: must be at least 1h and at least nats.duplicate_window (%s)", r, time.Duration(c.NATS.DuplicateWindow))
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		add("http.addr %q: must be host:port", c.HTTP.Addr)
	}
	if (c.HTTP.TLSCertFile == "") != (c.HTTP.TLSKeyFile == "") {
		add("http.tls_cert_file and http.tls_key_file: set both or neither")
	}
	if time.Duration(c.Sync.Interval) < time.Minute {
		add("sync.interval %s: must be at least 1m", time.Duration(c.Sync.Interval))
	}
	if time.Duration(c.Sync.Lookback) < 15*time.Minute {
		add("sync.lookback %s: must be at least 15m", time.Duration(c.Sync.Lookback))
	}
	for _, name := range sortedKeys(c.Sync.Intervals) {
		switch d := time.Duration(c.Sync.Intervals[name]); {
		case !isKnownStream(name):
			add("sync.intervals.%s: unknown stream (known: %s)", name, strings.Join(KnownStreams, ", "))
		case d < time.Minute:
			add("sync.intervals.%s %s: must be at least 1m", name, d)
		}
	}
	if c.Sync.PageSize < 1 || c.Sync.PageSize > 500 {
		add("sync.page_size %d: must be between 1 and 500", c.Sync.PageSize)
	}
	if time.Duration(c.Detect.Lateness) < 0 {
		add("detect.lateness %s: must not be negative", time.Duration(c.Detect.Lateness))
	}
	for _, l := range []struct{ name, addr string }{{"udp", c.Syslog.UDP}, {"tcp", c.Syslog.TCP}, {"tls", c.Syslog.TLS}} {
		if l.addr != "" {
			if _, _, err := net.SplitHostPort(l.addr); err != nil {
				add("syslog.%s %q: must be host:port", l.name, l.addr)
			}
		}
	}
	if c.Syslog.TLS != "" && (c.Syslog.CertFile == "" || c.Syslog.KeyFile == "") {
		add("syslog.tls: needs cert_file and key_file")
	}
	if c.Syslog.Enabled() && !tenantName.MatchString(c.Syslog.Tenant) {
		add("syslog.tenant %q: use lower-case letters, digits, - and _", c.Syslog.Tenant)
	}
	if c.Syslog.MaxMessageBytes < 1024 || c.Syslog.MaxMessageBytes > 16<<20 {
		add("syslog.max_message_bytes %d: must be between 1024 and 16777216", c.Syslog.MaxMessageBytes)
	}
	probs = append(probs, c.Enrich.validate()...)
	probs = append(probs, c.Analytics.validate()...)
	seen := map[string]bool{}
	for i, t := range c.Tenants {
		p := fmt.Sprintf("tenants[%d]", i)
		switch {
		case t.Name == "":
			add("%s.name: required", p)
		case !tenantName.MatchString(t.Name):
			add("%s.name %q: use lower-case letters, digits, - and _ (at most 63, starting with a letter or digit)", p, t.Name)
		case seen[t.Name]:
			add("%s.name %q: duplicate tenant name", p, t.Name)
		}
		seen[t.Name] = true
		if msg := checkBaseURL(t.BaseURL); msg != "" {
			add("%s.base_url %q: %s", p, t.BaseURL, msg)
		}
		if t.ClientID == "" {
			add("%s.client_id: required (set client_id, client_id_file or MIMECAST_CLIENT_ID)", p)
		}
		if t.ClientSecret.IsZero() {
			add("%s.client_secret: required (set client_secret, client_secret_file or MIMECAST_CLIENT_SECRET)", p)
		}
		for j, s := range t.Streams {
			switch {
			case !isKnownStream(s):
				add("%s.streams[%d] %q: unknown stream (known: %s)", p, j, s, strings.Join(KnownStreams, ", "))
			case s == LegacyStream && t.V1 == nil:
				add("%s.streams[%d] %q: needs API 1.0 credentials (set %s.v1)", p, j, s, p)
			}
		}
		if v := t.V1; v != nil {
			if msg := checkBaseURL(v.BaseURL); msg != "" {
				add("%s.v1.base_url %q: %s", p, v.BaseURL, msg)
			}
			for _, f := range []struct {
				name  string
				empty bool
			}{{"app_id", v.AppID == ""}, {"app_key", v.AppKey.IsZero()}, {"access_key", v.AccessKey.IsZero()},
				{"secret_key", v.SecretKey.IsZero()}} {
				if f.empty {
					add("%s.v1.%s: required for the legacy SIEM stream", p, f.name)
				}
			}
		}
	}
	switch len(probs) {
	case 0:
		return nil
	case 1:
		return errors.New("config: " + probs[0])
	default:
		return fmt.Errorf("config: %d problems:\n  %s", len(probs), strings.Join(probs, "\n  "))
	}
}

func checkBaseURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "must be an absolute https URL"
	}
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "plain http is allowed only for a loopback address (use https)"
		}
	default:
		return "must be an absolute https URL"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "must not have a query or fragment"
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func isKnownStream(s string) bool {
	for _, k := range KnownStreams {
		if k == s {
			return true
		}
	}
	return false
}

// TenantByName returns the named tenant.
func (c *Config) TenantByName(name string) (Tenant, bool) {
	for _, t := range c.Tenants {
		if t.Name == name {
			return t, true
		}
	}
	return Tenant{}, false
}
