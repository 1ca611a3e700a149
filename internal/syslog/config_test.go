package syslog

import (
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"udp only", Config{UDP: "127.0.0.1:0"}, ""},
		{"all transports", Config{UDP: ":514", TCP: ":601", TLS: ":6514", CertFile: "c.pem", KeyFile: "k.pem",
			MaxMessageBytes: 8192, Format: "siem-kv", BatchSize: 10, BatchWait: time.Second}, ""},
		{"limits at the bounds", Config{TCP: ":601", MaxMessageBytes: MinMessageBytes}, ""},
		{"nothing to listen on", Config{}, "syslog: no listener: set at least one of udp, tcp, tls"},
		{"bad udp address", Config{UDP: "514"}, `syslog: udp "514": must be host:port`},
		{"tls without key", Config{TLS: ":6514", CertFile: "c.pem"}, "syslog: tls: cert_file and key_file are required"},
		{"cert without tls", Config{TCP: ":601", CertFile: "c.pem", KeyFile: "k.pem"}, "syslog: cert_file, key_file: set only with tls"},
		{"message limit too small", Config{TCP: ":601", MaxMessageBytes: 100},
			"syslog: max_message_bytes 100: must be between 480 and 16777216 (0 for 65536)"},
		{"message limit too large", Config{TCP: ":601", MaxMessageBytes: 32 << 20},
			"syslog: max_message_bytes 33554432: must be between 480 and 16777216 (0 for 65536)"},
		{"unknown format", Config{TCP: ":601", Format: "xml"},
			`syslog: format: unknown format "xml" (want one of auto, siem-kv, audit-kv, json, cef)`},
		{"negative batch size", Config{TCP: ":601", BatchSize: -1}, "syslog: batch_size -1: must not be negative"},
		{"negative drain timeout", Config{TCP: ":601", DrainTimeout: -time.Second}, "syslog: drain_timeout -1s: must not be negative"},
		{"several problems", Config{UDP: "x", TCP: "y:1:2", MaxConnections: -3},
			"syslog: 3 problems:\n  udp \"x\": must be host:port\n  tcp \"y:1:2\": must be host:port\n  max_connections -3: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("no error, want %q", tt.want)
			case tt.want != "" && err.Error() != tt.want:
				t.Fatalf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{TCP: ":601", RetryBackoff: time.Minute}.withDefaults()
	if c.MaxMessageBytes != 64<<10 || c.BatchSize != DefaultBatchSize || c.QueueSize != DefaultQueueSize ||
		c.RetryAttempts != DefaultRetryAttempts || c.Format != "auto" {
		t.Errorf("defaults = %+v", c)
	}
	if c.RetryMaxBackoff != time.Minute {
		t.Errorf("max backoff %s below the first backoff", c.RetryMaxBackoff)
	}
}

func TestNewRejects(t *testing.T) {
	sink := &testSink{}
	tests := []struct {
		name string
		cfg  Config
		sink Sink
		want string
	}{
		{"invalid config", Config{}, sink, "syslog: no listener: set at least one of udp, tcp, tls"},
		{"no sink", Config{UDP: "127.0.0.1:0"}, nil, "syslog: sink is required"},
		{"missing certificate", Config{TLS: "127.0.0.1:0", CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}, sink,
			"syslog: load tls certificate: open /nonexistent/c.pem: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, tt.sink)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
