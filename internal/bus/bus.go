// Package bus is castwatch's message bus: NATS JetStream, embedded in-process by default or an external server
// or cluster. It carries collected batches on one deduplicating stream, keeps collector checkpoints in a KV
// bucket, and offers durable pull consumers that acknowledge a message only after it has been handled.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults applied by Open to zero Config fields.
const (
	DefaultStream          = "CASTWATCH_BATCHES"
	DefaultSubjectPrefix   = "castwatch.batch"
	DefaultCheckpointKV    = "castwatch_checkpoints"
	DefaultDuplicateWindow = 24 * time.Hour
	DefaultMaxPayload      = 8 << 20
	DefaultAckWait         = 30 * time.Second
	DefaultMaxAckPending   = 64
	DefaultNakDelay        = 5 * time.Second
)

// Config configures the bus.
type Config struct {
	// URL is the NATS server or cluster to connect to (comma-separated URLs allowed). Empty starts an embedded
	// server in-process.
	URL string
	// DataDir is where the embedded server keeps JetStream files. Required when URL is empty.
	DataDir string
	// ListenAddr, when set ("127.0.0.1:4222"), makes the embedded server also accept TCP clients. Empty means no
	// listener at all: castwatch talks to it through an in-process connection. Port 0 picks a free port.
	ListenAddr string
	// DuplicateWindow is how long the stream remembers message ids to drop republished batches. Default 24 h.
	DuplicateWindow time.Duration
	// Stream is the batch stream name; its subjects are SubjectPrefix + ".>".
	Stream string
	// SubjectPrefix is the subject prefix of batch messages. Default "castwatch.batch".
	SubjectPrefix string
	// CheckpointBucket is the KV bucket holding collector checkpoints.
	CheckpointBucket string
	// MaxPayload is the largest message the embedded server accepts, in bytes. Default 8 MiB.
	MaxPayload int
	// MaxAge drops batches older than this from the stream; 0 keeps them until the store limits apply.
	MaxAge time.Duration
	// Replicas is the stream and bucket replica count on an external cluster. Default 1.
	Replicas int
	// RelaxedSync lets the embedded server flush to disk periodically instead of on every write: faster, but an
	// operating-system crash or power loss may then lose the last batches and checkpoints.
	RelaxedSync bool
	// AckWait is how long a consumer may hold a message before the server redelivers it; a running handler extends
	// it automatically. Default 30 s.
	AckWait time.Duration
	// MaxAckPending bounds the messages a consumer has in flight, and so the most a batch consumer handles at once.
	// Default 64.
	MaxAckPending int
	// NakDelay is how long a message whose handler failed waits before redelivery. Default 5 s.
	NakDelay time.Duration
	// ConnectTimeout bounds connecting to an external server. Default 10 s.
	ConnectTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.CheckpointBucket == "" {
		c.CheckpointBucket = DefaultCheckpointKV
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.NakDelay <= 0 {
		c.NakDelay = DefaultNakDelay
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.URL == "" && c.DataDir == "" {
		return errors.New("bus: data dir is required for the embedded server")
	}
	if c.MaxPayload < 0 {
		return errors.New("bus: max payload must not be negative")
	}
	return nil
}

// Bus is an open connection to JetStream with the batch stream and checkpoint bucket in place.
type Bus struct {
	cfg    Config
	logger *slog.Logger
	srv    *server.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	kv     jetstream.KeyValue
}

// Open starts the embedded server (or connects to cfg.URL), then creates the batch stream and the checkpoint
// bucket if missing, or updates their settings if they exist.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &Bus{cfg: cfg, logger: logger}
	if cfg.URL == "" {
		if err := b.startEmbedded(); err != nil {
			return nil, err
		}
	} else {
		nc, err := nats.Connect(cfg.URL, nats.Name("castwatch"), nats.Timeout(cfg.ConnectTimeout),
			nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("bus: connect %s: %w", cfg.URL, err)
		}
		b.nc = nc
	}
	if err := b.setup(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Bus) startEmbedded() error {
	if err := os.MkdirAll(b.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("bus: create data dir: %w", err)
	}
	opts := &server.Options{
		ServerName: "castwatch",
		JetStream:  true,
		StoreDir:   b.cfg.DataDir,
		MaxPayload: int32(b.cfg.MaxPayload),
		SyncAlways: !b.cfg.RelaxedSync,
		NoSigs:     true,
		DontListen: b.cfg.ListenAddr == "",
	}
	if b.cfg.ListenAddr != "" {
		host, port, err := splitHostPort(b.cfg.ListenAddr)
		if err != nil {
			return err
		}
		if port == 0 {
			port = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, port
	}
	if int64(b.cfg.MaxPayload) > opts.MaxPending {
		opts.MaxPending = 2 * int64(b.cfg.MaxPayload)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("bus: embedded server: %w", err)
	}
	srv.SetLoggerV2(&serverLog{l: b.logger.With("component", "nats")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return errors.New("bus: embedded server did not become ready in 30s")
	}
	b.srv = srv
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("castwatch"))
	if err != nil {
		srv.Shutdown()
		return fmt.Errorf("bus: in-process connect: %w", err)
	}
	b.nc = nc
	return nil
}

func (b *Bus) setup(ctx context.Context) error {
	js, err := jetstream.New(b.nc)
	if err != nil {
		return fmt.Errorf("bus: jetstream: %w", err)
	}
	b.js = js
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        b.cfg.Stream,
		Description: "castwatch collected batches",
		Subjects:    []string{b.cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  b.cfg.DuplicateWindow,
		MaxAge:      b.cfg.MaxAge,
		MaxMsgSize:  int32(b.cfg.MaxPayload),
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", b.cfg.Stream, err)
	}
	b.stream = st
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      b.cfg.CheckpointBucket,
		Description: "castwatch collector checkpoints",
		History:     5,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("bus: checkpoint bucket %s: %w", b.cfg.CheckpointBucket, err)
	}
	b.kv = kv
	return nil
}

// ClientURL is the URL other processes can connect to: the embedded server's listener when ListenAddr is set,
// the configured URL for an external server, and "" for an embedded server without a listener.
func (b *Bus) ClientURL() string {
	if b.srv != nil {
		if b.cfg.ListenAddr == "" {
			return ""
		}
		return b.srv.ClientURL()
	}
	return b.cfg.URL
}

// SubjectPrefix is the prefix every batch subject starts with.
func (b *Bus) SubjectPrefix() string { return b.cfg.SubjectPrefix }

// Close closes the connection and, when embedded, shuts the server down. It is safe to call more than once.
func (b *Bus) Close() {
	if b.nc != nil {
		_ = b.nc.Drain()
		b.nc.Close()
		b.nc = nil
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
		b.srv = nil
	}
}

// Publish stores data on subject with the Nats-Msg-Id msgID and waits for JetStream's acknowledgement. duplicate
// is true when a message with the same id was already stored within the duplicate window; nothing new is stored
// then.
func (b *Bus) Publish(ctx context.Context, subject, msgID string, data []byte) (duplicate bool, err error) {
	if msgID == "" {
		return false, errors.New("bus: publish: empty message id")
	}
	ack, err := b.js.Publish(ctx, subject, data, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(b.cfg.Stream))
	if err != nil {
		return false, fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return ack.Duplicate, nil
}

// StreamMessages returns how many messages the batch stream holds.
func (b *Bus) StreamMessages(ctx context.Context) (uint64, error) {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: stream info: %w", err)
	}
	return info.State.Msgs, nil
}

// MaxAge returns how long the batch stream keeps messages as the server reports it (0: no limit, or unknown).
func (b *Bus) MaxAge(ctx context.Context) time.Duration {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0
	}
	return info.Config.MaxAge
}

// Checkpoints returns the checkpoint key-value store.
func (b *Bus) Checkpoints() Checkpoints { return &kvCheckpoints{kv: b.kv} }

// Checkpoints is a small durable key-value store for collector checkpoints.
type Checkpoints interface {
	// Get returns the value stored under key; found is false when there is none.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	// Put stores value under key, replacing what was there.
	Put(ctx context.Context, key string, value []byte) error
}

type kvCheckpoints struct{ kv jetstream.KeyValue }

func (c *kvCheckpoints) Get(ctx context.Context, key string) ([]byte, bool, error) {
	e, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("bus: checkpoint get %s: %w", key, err)
	}
	return e.Value(), true, nil
}

func (c *kvCheckpoints) Put(ctx context.Context, key string, value []byte) error {
	if _, err := c.kv.Put(ctx, key, value); err != nil {
		return fmt.Errorf("bus: checkpoint put %s: %w", key, err)
	}
	return nil
}
