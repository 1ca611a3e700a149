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
	ConsumeBatch(ctx context.Context, durable, filterSubject string, most int, handler bus.BatchHandler) (stop func(), err error)
	WaitDrained(ctx context.Context, durable string) error
}

// MaxMessages is the most bus messages the consumer stores together: the messages of one table and tenant that
// arrive together are written in one store transaction. Small batches (an hour of a quiet SIEM type holds a
// few dozen lines) cost nearly as much to write as big ones, so grouping them is most of the store's speed.
const MaxMessages = 64

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
	stop, err = src.ConsumeBatch(ctx, durable, collect.SubjectPrefix+".>", MaxMessages, c.HandleBatch)
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
	return c.HandleBatch(ctx, []bus.Msg{m})[0]
}

// HandleBatch stores bus messages delivered together and returns each one's result, as Handle does for one.
// The messages of one tenant and table are written, quarantined and shown to AfterWrite together; if that fails
// for a group of several, each of its messages is tried on its own, so one message the store refuses holds back
// only itself.
func (c *Consumer) HandleBatch(ctx context.Context, ms []bus.Msg) []error {
	errs := make([]error, len(ms))
	type key struct{ tenant, table string }
	groups := map[key][]*decoded{}
	var order []key
	for i, m := range ms {
		d, err := c.decode(ctx, m)
		if err != nil || d == nil {
			errs[i] = err
			continue
		}
		d.index = i
		k := key{d.batch.Tenant, d.table.Name}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], d)
	}
	for _, k := range order {
		g := groups[k]
		err := c.store(ctx, g)
		if err == nil {
			continue
		}
		if len(g) == 1 {
			errs[g[0].index] = err
			continue
		}
		c.log.Warn("storing messages together failed; storing them one by one", "tenant", k.tenant, "table", k.table,
			"messages", len(g), "err", err)
		for _, d := range g {
			errs[d.index] = c.store(ctx, []*decoded{d})
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, err := range errs {
		if err != nil {
			c.stats.Failures++
			c.consecutive++
			c.lastErr = err
			continue
		}
		c.stats.Batches++
		c.consecutive = 0
	}
	return errs
}

// decoded is one bus message decoded into its table's rows and the records set aside.
type decoded struct {
	index int
	batch collect.Batch
	table *schema.Table
	rows  []schema.Row
	bad   []store.Quarantined
}

// decode decodes one message. A message that is not a usable batch is quarantined whole: decode then returns
// nil, or the error of quarantining it.
func (c *Consumer) decode(ctx context.Context, m bus.Msg) (*decoded, error) {
	b, err := collect.DecodeBatch(m.Data)
	if err != nil {
		return nil, c.quarantineMessage(ctx, m, "", err.Error())
	}
	t := schema.TableByName(b.Table)
	if t == nil {
		return nil, c.quarantineMessage(ctx, m, b.Tenant, fmt.Sprintf("unknown table %q", b.Table))
	}
	d := &decoded{batch: b, table: t, rows: make([]schema.Row, 0, len(b.Records))}
	ingested := b.Fetched
	if ingested.IsZero() {
		ingested = c.now()
	}
	for i, raw := range b.Records {
		row, err := t.Decode(b.Tenant, raw, ingested)
		if err != nil {
			d.bad = append(d.bad, store.Quarantined{
				Tenant:   b.Tenant,
				Source:   b.Stream,
				Position: position(b, i),
				Reason:   err.Error(),
				Raw:      string(raw),
				Time:     c.now().UTC(),
			})
			continue
		}
		d.rows = append(d.rows, row)
	}
	for _, m := range b.Malformed {
		d.bad = append(d.bad, store.Quarantined{Tenant: b.Tenant, Source: b.Stream, Position: m.Position,
			Reason: m.Reason, Raw: m.Raw, Time: c.now().UTC()})
	}
	return d, nil
}

// store writes the rows of messages of one tenant and table in one call, then quarantines their bad records, then
// runs AfterWrite on their rows. Rows come before quarantine: if quarantining fails the redelivery finds the rows
// already stored.
func (c *Consumer) store(ctx context.Context, g []*decoded) error {
	first := g[0]
	t := first.table
	labels := []string{first.batch.Tenant, t.Name}
	what := fmt.Sprintf("%s page %d", first.batch.Stream, first.batch.Page)
	if len(g) > 1 {
		what = fmt.Sprintf("%s pages %d… (%d messages)", first.batch.Stream, first.batch.Page, len(g))
	}
	var rows []schema.Row
	var bad []store.Quarantined
	if len(g) == 1 {
		rows, bad = first.rows, first.bad
	} else {
		for _, d := range g {
			rows = append(rows, d.rows...)
			bad = append(bad, d.bad...)
		}
	}
	if len(rows) > 0 {
		n, err := c.cfg.Store.WriteRows(ctx, t, rows)
		if err != nil {
			c.cfg.Metrics.Failures.WithLabelValues(labels...).Inc()
			return fmt.Errorf("ingest %s: write %s: %w", what, t.Name, err)
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
			return fmt.Errorf("ingest %s: quarantine: %w", what, err)
		}
		for _, d := range g {
			if len(d.bad) > 0 {
				c.log.Warn("records quarantined", "tenant", d.batch.Tenant, "table", t.Name, "page", d.batch.Page,
					"count", len(d.bad), "first_reason", d.bad[0].Reason)
			}
		}
		c.cfg.Metrics.Quarantined.WithLabelValues(labels...).Add(float64(len(bad)))
		c.mu.Lock()
		c.stats.Quarantined += len(bad)
		c.mu.Unlock()
	}
	if c.cfg.AfterWrite != nil && len(rows) > 0 {
		if err := c.cfg.AfterWrite(ctx, t, rows); err != nil {
			c.cfg.Metrics.Failures.WithLabelValues(labels...).Inc()
			return fmt.Errorf("ingest %s: after write: %w", what, err)
		}
	}
	c.cfg.Metrics.Batches.WithLabelValues(labels...).Add(float64(len(g)))
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
