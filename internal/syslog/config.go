package syslog

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/parse"
)

// Defaults of Config.
const (
	DefaultMaxMessageBytes = 64 << 10
	DefaultBatchSize       = 500
	DefaultBatchWait       = 200 * time.Millisecond
	DefaultQueueSize       = 4096
	DefaultMaxConnections  = 256
	DefaultRetryAttempts   = 8
	DefaultRetryBackoff    = 200 * time.Millisecond
	DefaultRetryMaxBackoff = 10 * time.Second
	DefaultDrainTimeout    = 10 * time.Second
)

// Limits checked by Validate.
const (
	// MinMessageBytes is the smallest MaxMessageBytes accepted: RFC 5424 requires receivers to take 480 octets.
	MinMessageBytes = 480
	// MaxMessageBytesLimit is the largest MaxMessageBytes accepted (16 MiB).
	MaxMessageBytesLimit = 16 << 20
)

// Config configures a Listener. Zero durations and sizes take the defaults above.
type Config struct {
	// UDP, TCP and TLS are the listen addresses (host:port, port 0 picks one); "" turns a transport off.
	UDP, TCP, TLS string
	// CertFile and KeyFile are the PEM certificate chain and key of the TLS listener (RFC 5425); both are
	// required when TLS is set, and only then.
	CertFile, KeyFile string
	// MaxMessageBytes bounds one syslog message (header and MSG, without TCP framing). A longer message is
	// rejected with ReasonTooLarge; on TCP it is read through in pieces, never held whole. 0 means
	// DefaultMaxMessageBytes.
	MaxMessageBytes int
	// Tenant is the account the rows and events belong to (rawlog.Options.Tenant).
	Tenant string
	// Format is the format of every MSG, or parse.FormatAuto ("" too) to detect it per message.
	Format parse.Format
	// BatchSize is how many items are delivered to the sink in one call at most. 0 means DefaultBatchSize.
	BatchSize int
	// BatchWait is how long the first item of a batch waits for more before the batch is delivered.
	// 0 means DefaultBatchWait.
	BatchWait time.Duration
	// QueueSize is how many received messages wait for parsing and delivery. When it is full, UDP datagrams
	// are dropped (counted) and TCP reads wait. 0 means DefaultQueueSize.
	QueueSize int
	// MaxConnections bounds the open TCP and TLS connections together; one more is closed at once (counted).
	// 0 means DefaultMaxConnections.
	MaxConnections int
	// RetryAttempts is how many times a batch is offered to the sink before it is given up as lost.
	// 0 means DefaultRetryAttempts.
	RetryAttempts int
	// RetryBackoff is the wait after the first failed attempt; it doubles after each further one, up to
	// RetryMaxBackoff. 0 means DefaultRetryBackoff and DefaultRetryMaxBackoff.
	RetryBackoff, RetryMaxBackoff time.Duration
	// DrainTimeout bounds how long, once the context of Run ends, the messages already received are still
	// parsed and delivered. 0 means DefaultDrainTimeout.
	DrainTimeout time.Duration
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	def(&c.BatchSize, DefaultBatchSize)
	def(&c.QueueSize, DefaultQueueSize)
	def(&c.MaxConnections, DefaultMaxConnections)
	def(&c.RetryAttempts, DefaultRetryAttempts)
	defDur(&c.BatchWait, DefaultBatchWait)
	defDur(&c.RetryBackoff, DefaultRetryBackoff)
	defDur(&c.RetryMaxBackoff, DefaultRetryMaxBackoff)
	defDur(&c.DrainTimeout, DefaultDrainTimeout)
	if c.RetryMaxBackoff < c.RetryBackoff {
		c.RetryMaxBackoff = c.RetryBackoff
	}
	if c.Format == "" {
		c.Format = parse.FormatAuto
	}
	return c
}

// Validate checks the configuration and returns every problem found, one per line, prefixed "syslog: ".
func (c Config) Validate() error {
	var probs []string
	add := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }

	if c.UDP == "" && c.TCP == "" && c.TLS == "" {
		add("no listener: set at least one of udp, tcp, tls")
	}
	for _, a := range []struct{ name, addr string }{{"udp", c.UDP}, {"tcp", c.TCP}, {"tls", c.TLS}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			add("%s %q: must be host:port", a.name, a.addr)
		}
	}
	switch {
	case c.TLS != "" && (c.CertFile == "" || c.KeyFile == ""):
		add("tls: cert_file and key_file are required")
	case c.TLS == "" && (c.CertFile != "" || c.KeyFile != ""):
		add("cert_file, key_file: set only with tls")
	}
	if c.MaxMessageBytes != 0 && (c.MaxMessageBytes < MinMessageBytes || c.MaxMessageBytes > MaxMessageBytesLimit) {
		add("max_message_bytes %d: must be between %d and %d (0 for %d)", c.MaxMessageBytes, MinMessageBytes,
			MaxMessageBytesLimit, DefaultMaxMessageBytes)
	}
	if c.Format != "" {
		if _, err := parse.ParseFormat(string(c.Format)); err != nil {
			add("format: %v", err)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"batch_size", c.BatchSize}, {"queue_size", c.QueueSize}, {"max_connections", c.MaxConnections}, {"retry_attempts", c.RetryAttempts}} {
		if n.v < 0 {
			add("%s %d: must not be negative", n.name, n.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"batch_wait", c.BatchWait}, {"retry_backoff", c.RetryBackoff}, {"retry_max_backoff", c.RetryMaxBackoff}, {"drain_timeout", c.DrainTimeout}} {
		if d.v < 0 {
			add("%s %s: must not be negative", d.name, d.v)
		}
	}
	switch len(probs) {
	case 0:
		return nil
	case 1:
		return errors.New("syslog: " + probs[0])
	default:
		return fmt.Errorf("syslog: %d problems:\n  %s", len(probs), strings.Join(probs, "\n  "))
	}
}
