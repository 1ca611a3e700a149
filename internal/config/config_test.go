package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsWithoutTenants(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "./castwatch-data" || cfg.HTTP.Addr != "127.0.0.1:8080" || len(cfg.Tenants) != 0 {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	if time.Duration(cfg.NATS.Retention) != 7*24*time.Hour {
		t.Fatalf("bus retention default %s, want 7 days", time.Duration(cfg.NATS.Retention))
	}
	if time.Duration(cfg.Sync.Lookback) != 7*24*time.Hour || time.Duration(cfg.Detect.Lateness) != 48*time.Hour {
		t.Fatalf("unexpected durations: %+v", cfg.Sync)
	}
}

func TestLayering(t *testing.T) {
	path := writeFile(t, "c.yaml", `
data_dir: /var/lib/castwatch
sync:
  interval: 5m
  lookback: 2d
tenants:
  - name: acme
    base_url: https://uk-api.services.mimecast.com/
    client_id: file-id
    client_secret: file-secret
    streams: [audit]
`)
	cfg, err := Load(path, env(map[string]string{
		"CASTWATCH_DATA_DIR":     "/data/override",
		"MIMECAST_CLIENT_SECRET": "env-secret",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/data/override" {
		t.Errorf("env must override the file: data_dir = %q", cfg.DataDir)
	}
	if time.Duration(cfg.Sync.Interval) != 5*time.Minute || time.Duration(cfg.Sync.Lookback) != 48*time.Hour {
		t.Errorf("file must override defaults: %+v", cfg.Sync)
	}
	tn := cfg.Tenants[0]
	if tn.BaseURL != "https://uk-api.services.mimecast.com" {
		t.Errorf("base_url trailing slash not trimmed: %q", tn.BaseURL)
	}
	if tn.ClientID != "file-id" || tn.ClientSecret.Reveal() != "env-secret" {
		t.Errorf("env must override the single tenant's secret: %+v", tn)
	}
	if cfg.HTTP.Addr != "127.0.0.1:8080" {
		t.Errorf("defaults lost: %q", cfg.HTTP.Addr)
	}
}

func TestTenantFromEnvironment(t *testing.T) {
	secretFile := writeFile(t, "secret", "s3cr3t-from-file\n")
	cfg, err := Load("", env(map[string]string{
		"MIMECAST_CLIENT_ID":          "id-1",
		"MIMECAST_CLIENT_SECRET_FILE": secretFile,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Tenants) != 1 {
		t.Fatalf("want one tenant, got %d", len(cfg.Tenants))
	}
	// Without API 1.0 credentials the default streams are every API 2.0 stream, not siem_legacy.
	if KnownStreams[len(KnownStreams)-1] != LegacyStream {
		t.Fatal("the legacy stream is expected last in KnownStreams")
	}
	tn := cfg.Tenants[0]
	if tn.Name != "default" || tn.BaseURL != DefaultBaseURL || tn.ClientID != "id-1" ||
		tn.ClientSecret.Reveal() != "s3cr3t-from-file" || strings.Join(tn.Streams, ",") != strings.Join(KnownStreams[:len(KnownStreams)-1], ",") {
		t.Fatalf("unexpected tenant: %+v", tn)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	s := NewSecret("hunter2")
	tn := Tenant{Name: "a", ClientSecret: s}
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v", tn, tn, tn)} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret printed: %s", out)
		}
	}
	b, _ := json.Marshal(tn)
	if strings.Contains(string(b), "hunter2") {
		t.Fatalf("secret in JSON: %s", b)
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("Reveal lost the value")
	}
}

func TestValidationMessages(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		env  map[string]string
		want string
	}{
		{"missing secret", "tenants: [{name: acme, client_id: x}]", nil,
			"config: tenants[0].client_secret: required (set client_secret, client_secret_file or MIMECAST_CLIENT_SECRET)"},
		{"missing id", "tenants: [{name: acme, client_secret: y}]", nil,
			"config: tenants[0].client_id: required (set client_id, client_id_file or MIMECAST_CLIENT_ID)"},
		{"bad name", "tenants: [{name: Acme Corp, client_id: x, client_secret: y}]", nil,
			`config: tenants[0].name "Acme Corp": use lower-case letters, digits, - and _ (at most 63, starting with a letter or digit)`},
		{"missing name", "tenants: [{client_id: x, client_secret: y}]", nil,
			"config: tenants[0].name: required"},
		{"duplicate name", "tenants: [{name: a, client_id: x, client_secret: y}, {name: a, client_id: x, client_secret: y}]", nil,
			`config: tenants[1].name "a": duplicate tenant name`},
		{"plain http remote", "tenants: [{name: a, base_url: 'http://api.example.com', client_id: x, client_secret: y}]", nil,
			`config: tenants[0].base_url "http://api.example.com": plain http is allowed only for a loopback address (use https)`},
		{"not a url", "tenants: [{name: a, base_url: 'api.example.com', client_id: x, client_secret: y}]", nil,
			`config: tenants[0].base_url "api.example.com": must be an absolute https URL`},
		{"unknown stream", "tenants: [{name: a, client_id: x, client_secret: y, streams: [audit, mail]}]", nil,
			`config: tenants[0].streams[1] "mail": unknown stream (known: audit, dlp, ttp_url, ttp_attachment, ttp_impersonation, message_release, archive_search, at_performance, at_safescore, at_watchlist, at_userdata, threat_intel, siem_cg, siem_ci, siem_legacy)`},
		{"interval too short", "sync: {interval: 10s}", nil, "config: sync.interval 10s: must be at least 1m"},
		{"lookback too short", "sync: {lookback: 5m}", nil, "config: sync.lookback 5m0s: must be at least 15m"},
		{"page size", "sync: {page_size: 1000}", nil, "config: sync.page_size 1000: must be between 1 and 500"},
		{"interval of unknown stream", "sync: {intervals: {mail: 5m}}", nil, "config: sync.intervals.mail: unknown stream (known: audit, dlp, ttp_url, ttp_attachment, ttp_impersonation, message_release, archive_search, at_performance, at_safescore, at_watchlist, at_userdata, threat_intel, siem_cg, siem_ci, siem_legacy)"},
		{"legacy without v1", "tenants: [{name: a, client_id: x, client_secret: y, streams: [siem_legacy]}]", nil,
			`config: tenants[0].streams[0] "siem_legacy": needs API 1.0 credentials (set tenants[0].v1)`},
		{"v1 incomplete", "tenants: [{name: a, client_id: x, client_secret: y, v1: {base_url: 'https://eu-api.mimecast.com', app_id: i, app_key: k, access_key: a}}]", nil,
			"config: tenants[0].v1.secret_key: required for the legacy SIEM stream"},
		{"syslog address", "syslog: {udp: '5514'}", nil, `config: syslog.udp "5514": must be host:port`},
		{"syslog tls without cert", "syslog: {tls: '127.0.0.1:6514'}", nil, "config: syslog.tls: needs cert_file and key_file"},
		{"retention below duplicate window", "nats: {retention: 12h}", nil,
			"config: nats.retention 12h0m0s: must be at least 1h and at least nats.duplicate_window (24h0m0s)"},
		{"stream interval too short", "sync: {intervals: {audit: 30s}}", nil, "config: sync.intervals.audit 30s: must be at least 1m"},
		{"bad duration", "sync: {interval: soon}", nil, `line 1: invalid duration "soon" (use e.g. 30m, 12h or 7d)`},
		{"unknown field", "sync: {intervall: 5m}", nil, "field intervall not found in type config.Sync"},
		{"nats url", "nats: {url: 'http://x:4222'}", nil,
			`config: nats.url "http://x:4222": must be a nats:// or tls:// URL, or empty for the embedded server`},
		{"log level", "log_level: verbose", nil, `config: log_level "verbose": must be one of debug, info, warn, error`},
		{"http addr", "http: {addr: '8080'}", nil, `config: http.addr "8080": must be host:port`},
		{"tls cert without key", "http: {tls_cert_file: /etc/castwatch/cert.pem}", nil,
			"config: http.tls_cert_file and http.tls_key_file: set both or neither"},
		{"tls key without cert", "", map[string]string{"CASTWATCH_HTTP_TLS_KEY_FILE": "/etc/castwatch/key.pem"},
			"config: http.tls_cert_file and http.tls_key_file: set both or neither"},
		{"admin password twice", "http: {admin_password: a-long-password, admin_password_file: /nonexistent}", nil,
			"config: http: set admin_password or admin_password_file, not both"},
		{"unreadable admin password file", "", map[string]string{"CASTWATCH_ADMIN_PASSWORD_FILE": "/nonexistent/pw"},
			"config: http.admin_password_file: cannot read /nonexistent/pw: no such file or directory"},
		{"env with many tenants", "tenants: [{name: a, client_id: x, client_secret: y}, {name: b, client_id: x, client_secret: y}]",
			map[string]string{"MIMECAST_CLIENT_ID": "z"},
			"config: MIMECAST_* environment variables set a single tenant, but the config file defines 2 tenants; set credentials in the file instead"},
		{"both inline and file", "tenants: [{name: a, client_id: x, client_secret: y, client_secret_file: /nonexistent}]", nil,
			"config: tenants[0]: set client_secret or client_secret_file, not both"},
		{"unreadable file", "tenants: [{name: a, client_id: x, client_secret_file: /nonexistent/secret}]", nil,
			"config: tenants[0].client_secret_file: cannot read /nonexistent/secret: no such file or directory"},
		{"several problems", "log_level: loud\ntenants: [{name: a, client_id: x}]", nil,
			"config: 2 problems:\n  log_level \"loud\": must be one of debug, info, warn, error\n  tenants[0].client_secret: required (set client_secret, client_secret_file or MIMECAST_CLIENT_SECRET)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "c.yaml", tc.yaml)
			_, err := Load(path, env(tc.env))
			if err == nil {
				t.Fatalf("want error %q, got none", tc.want)
			}
			if !strings.HasSuffix(err.Error(), tc.want) {
				t.Fatalf("error mismatch\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

func TestValidConfigsPass(t *testing.T) {
	for _, y := range []string{
		"",
		"tenants: [{name: a, base_url: 'http://127.0.0.1:9000', client_id: x, client_secret: y}]",
		"tenants: [{name: a-b_1, base_url: 'https://us-api.services.mimecast.com', client_id: x, client_secret: y, streams: [audit]}]",
		"nats: {url: 'nats://10.0.0.1:4222'}\nsync: {interval: 1m, lookback: 60d}",
		"tenants: [{name: a, client_id: x, client_secret: y, v1: {base_url: 'https://eu-api.mimecast.com', app_id: i, app_key: k, access_key: a, secret_key: c2VjcmV0}}]",
	} {
		if _, err := Load(writeFile(t, "c.yaml", y), env(nil)); err != nil {
			t.Errorf("%q: %v", y, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 168 * time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("%s: got %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "7x", "d", "1.5d", "-d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

// TestHTTPTLSAndAdminPassword reads the TLS files and the first admin's password from the file and the environment.
func TestHTTPTLSAndAdminPassword(t *testing.T) {
	path := writeFile(t, "c.yaml", "http: {tls_cert_file: /etc/castwatch/cert.pem, tls_key_file: /etc/castwatch/key.pem}")
	cfg, err := Load(path, env(map[string]string{"CASTWATCH_ADMIN_PASSWORD": "from-the-environment"}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.HTTP.TLS() || cfg.HTTP.TLSCertFile != "/etc/castwatch/cert.pem" || cfg.HTTP.TLSKeyFile != "/etc/castwatch/key.pem" {
		t.Errorf("http = %+v, want TLS with both files", cfg.HTTP)
	}
	if got := cfg.HTTP.AdminPassword.Reveal(); got != "from-the-environment" {
		t.Errorf("admin password = %q", got)
	}
	if d := Default(); d.HTTP.TLS() {
		t.Error("the default serves TLS")
	}
	pw := writeFile(t, "admin-password", "from-a-file\n")
	cfg, err = Load("", env(map[string]string{"CASTWATCH_ADMIN_PASSWORD_FILE": pw}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.HTTP.AdminPassword.Reveal(); got != "from-a-file" {
		t.Errorf("admin password from file = %q", got)
	}
	if s := fmt.Sprintf("%v %+v", cfg.HTTP, cfg.HTTP); strings.Contains(s, "from-a-file") {
		t.Errorf("the admin password prints: %s", s)
	}
}
