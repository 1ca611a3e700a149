// Package ingest moves collected batches from the bus into the store: it decodes every record with its table's
// decoder, writes the good rows idempotently, quarantines the rest with the reason, runs an optional hook
// (detection), and only then acknowledges the batch. A failure before that point leaves the batch on the bus to
// be delivered again, so nothing is lost; the store's natural keys make the second delivery add nothing.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// DefaultDurable is the durable consumer name of the store consumer.
const DefaultDurable = "castwatch-store"

// Writer is what the consumer needs from a store. store.Store satisfies it.
type Writer interface {
	WriteRows(ctx context.Context, t *schema.Table, rows []schema.Row) (inserted int, err error)
	Quarantine(ctx context.Context, q []store.Quarantined) error
}

// Source delivers bus messages to a durable consumer. *bus.Bus satisfies it.
type Source interface {
	Consume(ctx context.Context, durable, filterSubject string, handler bus.Handler) (stop func(), err error)
	WaitDrained(ctx context.Context, durable string) error
}

// AfterWriteFunc runs after a batch's rows are stored and before the batch is acknowledged. It receives every
// decoded row of the batch, new or already stored, so a redelivered batch is shown to it again: it must be
// idempotent (detection's deterministic alert ids make it so). An error makes the batch be delivered again.
type AfterWriteFunc func(ctx context.Context, table *schema.Table, rows []schema.Row) error

// Config configures a Consumer.
type Config struct {
	// Store receives rows and quarantined records.
	Store Writer
	// AfterWrite, when set, runs after each batch is stored and before it is acknowledged.
	AfterWrite AfterWriteFunc
	// Logger receives consumer events; nil discards them.
	Logger *slog.Logger
	// Metrics, when set, counts batches, rows and failures; build it once with NewMetrics.
	Metrics *Metrics
	// Now is the clock for quarantine times; default time.Now.
	Now func() time.Time
}

// Stats counts what a consumer has done.
type Stats struct {
	// Batches counts batches handled and acknowledged.
	Batches int
	// Rows counts records decoded into rows; New those the store did not hold yet.
	Rows int
	New  int
	// Quarantined counts records (or whole undecodable messages) set aside.
	Quarantined int
	// Failures counts deliveries whose handling failed and were left for redelivery.
	Failures int
}

// Sub returns s minus o, for the activity between two snapshots.
func (s Stats) Sub(o Stats) Stats {
	return Stats{Batches: s.Batches - o.Batches, Rows: s.Rows - o.Rows, New: s.New - o.New,
		Quarantined: s.Quarantined - o.Quarantined, Failures: s.Failures - o.Failures}
}

// Consumer is the store consumer.
type Consumer struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	mu          sync.Mutex
	stats       Stats
	consecutive int
	lastErr     error
}

// NewConsumer returns a store consumer.
func NewConsumer(cfg Config) (*Consumer, error) {
	if cfg.Store == nil {
		return nil, errors.New("ingest: store is required")
	}
	c := &Consumer{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.cfg.Metrics == nil {
		c.cfg.Metrics, _ = NewMetrics(nil)
	}
	return c, nil
}

// Start consumes batches from src with the durable consumer named durable (default DefaultDurable) until stop
// is called or ctx ends.
func (c *Consumer) Start(ctx context.Context, src Source, durable string) (stop func(), err error) {
	if durable == "" {
		durable = DefaultDurable
	}
	stop, err = src.Consume(ctx, durable, collect.SubjectPrefix+".>", c.Handle)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return stop, nil
}

// Stats returns the counters so far.
func (c *Consumer) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// failing returns how many deliveries in a row have failed and the last error.
func (c *Consumer) failing() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.consecutive, c.lastErr
}

// Handle stores one bus message. It returns nil when the batch is fully handled (the bus may acknowledge it) and
// an error when it must be delivered again. A message that can never be decoded is quarantined whole and
// acknowledged, so it cannot block the consumer.
func (c *Consumer) Handle(ctx context.Context, m bus.Msg) error {
	err := c.handle(ctx, m)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.stats.Failures++
		c.consecutive++
		c.lastErr = err
		return err
	}
	c.stats.Batches++
	c.consecutive = 0
	return nil
}

func (c *Consumer) handle(ctx context.Context, m bus.Msg) error {
	b, err := collect.DecodeBatch(m.Data)
	if err != nil {
		return c.quarantineMessage(ctx, m, "", err.Error())
	}
	t := schema.TableByName(b.Table)
	if t == nil {
		return c.quarantineMessage(ctx, m, b.Tenant, fmt.Sprintf("unknown table %q", b.Table))
	}
	labels := []string{b.Tenant, t.Name}
	rows := make([]schema.Row, 0, len(b.Records))
	var bad []store.Quarantined
	ingested := b.Fetched
	if ingested.IsZero() {
		ingested = c.now()
	}
	for i, raw := range b.Records {
		row, err := t.Decode(b.Tenant, raw, ingested)
		if err != nil {
			bad = append(bad, store.Quarantined{
				Tenant:   b.Tenant,
				Source:   b.Stream,
				Position: position(b, i),
				Reason:   err.Error(),
				Raw:      string(raw),
				Time:     c.now().UTC(),
			})
			continue
		}
		rows = append(rows, row)
	}
	for _, m := range b.Malformed {
		bad = append(bad, store.Quarantined{Tenant: b.Tenant, Source: b.Stream, Position: m.Position,
			Reason: m.Reason, Raw: m.Raw, Time: c.now().UTC()})
	}
	// Rows first, then quarantine: if quarantining fails the redelivery finds the rows already stored.
	if len(rows) > 0 {
		n, err := c.cfg.Store.WriteRows(ctx, t, rows)
		if err != nil {
			c.cfg.Metrics.Failures.WithLabelValues(labels...).Inc()
			return fmt.Errorf("ingest %s page %d: write %s: %w", b.Stream, b.Page, t.Name, err)
		}
		c.cfg.Metrics.Rows.WithLabelValues(labels...).Add(float64(len(rows)))
		c.cfg.Metrics.New.WithLabelValues(labels...).Add(float64(n))
		c.mu.Lock()
		c.stats.Rows += len(rows)
		c.stats.New += n
		c.mu.Unlock()
	}
	if len(bad) > 0 {
		if err := c.cfg.Store.Quarantine(ctx, bad); err != nil {
			c.cfg.Metrics.Failures.WithLabelValues(labels...).Inc()
			return fmt.Errorf("ingest %s page %d: quarantine: %w", b.Stream, b.Page, err)
		}
		c.log.Warn("records quarantined", "tenant", b.Tenant, "table", t.Name, "page", b.Page,
			"count", len(bad), "first_reason", bad[0].Reason)
		c.cfg.Metrics.Quarantined.WithLabelValues(labels...).Add(float64(len(bad)))
		c.mu.Lock()
		c.stats.Quarantined += len(bad)
		c.mu.Unlock()
	}
	if c.cfg.AfterWrite != nil && len(rows) > 0 {
		if err := c.cfg.AfterWrite(ctx, t, rows); err != nil {
			c.cfg.Metrics.Failures.WithLabelValues(labels...).Inc()
			return fmt.Errorf("ingest %s page %d: after write: %w", b.Stream, b.Page, err)
		}
	}
	c.cfg.Metrics.Batches.WithLabelValues(labels...).Inc()
	return nil
}

// quarantineMessage sets aside a message that is not a usable batch.
func (c *Consumer) quarantineMessage(ctx context.Context, m bus.Msg, tenant, reason string) error {
	q := store.Quarantined{
		Tenant:   tenant,
		Source:   m.Subject,
		Position: fmt.Sprintf("stream sequence %d, message id %s", m.StreamSeq, m.MsgID),
		Reason:   "undecodable batch: " + reason,
		Raw:      string(m.Data),
		Time:     c.now().UTC(),
	}
	if err := c.cfg.Store.Quarantine(ctx, []store.Quarantined{q}); err != nil {
		return fmt.Errorf("ingest: quarantine message %d: %w", m.StreamSeq, err)
	}
	c.log.Warn("message quarantined", "subject", m.Subject, "seq", m.StreamSeq, "reason", reason)
	c.cfg.Metrics.Quarantined.WithLabelValues(tenant, "").Inc()
	c.mu.Lock()
	c.stats.Quarantined++
	c.mu.Unlock()
	return nil
}

// position locates a record: its window, page and index within the page, and the page token it came from.
func position(b collect.Batch, i int) string {
	return fmt.Sprintf("window %s/%s page %d token %q record %d", b.WindowStart.UTC().Format(time.RFC3339),
		b.WindowEnd.UTC().Format(time.RFC3339), b.Page, b.PageToken, i)
}
