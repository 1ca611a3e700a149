package app

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/castwatch/castwatch/internal/parse"
	"github.com/castwatch/castwatch/internal/rawlog"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// IngestOptions configures Ingest.
type IngestOptions struct {
	// Tenant is stored in every row.
	Tenant string
	// Format is auto (detect per line) or one format for every line.
	Format parse.Format
	// Progress, when set, is called after each file.
	Progress func(path string, st rawlog.Stats)
}

// IngestStats sums what Ingest read and stored.
type IngestStats struct {
	Files       int
	Read        rawlog.Stats
	Rows        int
	New         int
	Quarantined int
}

// ingestBatch is how many rows a rawWriter writes at a time.
const ingestBatch = 1000

// rawWriter stores items read from raw lines: each record in its table, lines that belong to no API table as
// normalized events in Raw_Event_CL, rejections in the quarantine; detection runs on every write. It serves
// `castwatch ingest` and the syslog listener (Deliver).
type rawWriter struct {
	a      *App
	tenant string

	mu      sync.Mutex
	pending map[*schema.Table][]schema.Row
	bad     []store.Quarantined
	st      IngestStats
}

func (a *App) newRawWriter(tenant string) *rawWriter {
	if tenant == "" {
		tenant = "default"
	}
	return &rawWriter{a: a, tenant: tenant, pending: map[*schema.Table][]schema.Row{}}
}

// add takes one item; rows are written once a table has ingestBatch of them.
func (w *rawWriter) add(ctx context.Context, it rawlog.Item) error {
	switch {
	case it.Rejection != nil:
		w.bad = append(w.bad, it.Rejection.Quarantined(w.tenant, w.a.now()))
		return nil
	case it.Table != nil:
		return w.addRow(ctx, it.Table, it.Row)
	}
	for _, ev := range it.Events {
		rec, err := json.Marshal(schema.RawEventRecord{Format: string(it.Format), Source: it.Source, Event: ev})
		if err != nil {
			return err
		}
		row, err := schema.RawEvent.Decode(w.tenant, rec, w.a.now())
		if err != nil {
			w.bad = append(w.bad, store.Quarantined{Tenant: w.tenant, Source: it.Source,
				Position: fmt.Sprintf("line %d", it.Line), Reason: err.Error(), Raw: string(rec), Time: w.a.now()})
			continue
		}
		if err := w.addRow(ctx, &schema.RawEvent, row); err != nil {
			return err
		}
	}
	return nil
}

func (w *rawWriter) addRow(ctx context.Context, t *schema.Table, r schema.Row) error {
	w.pending[t] = append(w.pending[t], r)
	if len(w.pending[t]) >= ingestBatch {
		return w.flushTable(ctx, t)
	}
	return nil
}

func (w *rawWriter) flushTable(ctx context.Context, t *schema.Table) error {
	rows := w.pending[t]
	if len(rows) == 0 {
		return nil
	}
	delete(w.pending, t)
	n, err := w.a.store.WriteRows(ctx, t, rows)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	w.st.Rows += len(rows)
	w.st.New += n
	return w.a.detectRows(ctx, t, rows)
}

// flush writes everything pending.
func (w *rawWriter) flush(ctx context.Context) error {
	for t := range w.pending {
		if err := w.flushTable(ctx, t); err != nil {
			return err
		}
	}
	if len(w.bad) > 0 {
		if err := w.a.store.Quarantine(ctx, w.bad); err != nil {
			return fmt.Errorf("quarantine: %w", err)
		}
		w.st.Quarantined += len(w.bad)
		w.bad = nil
	}
	return nil
}

// Deliver stores a batch of items from the syslog listener; an error makes the listener retry the batch, and the
// natural keys make a retried batch add nothing twice.
func (w *rawWriter) Deliver(ctx context.Context, items []rawlog.Item) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, it := range items {
		if err := w.add(ctx, it); err != nil {
			w.pending, w.bad = map[*schema.Table][]schema.Row{}, nil
			return err
		}
	}
	if err := w.flush(ctx); err != nil {
		w.pending, w.bad = map[*schema.Table][]schema.Row{}, nil
		return err
	}
	return nil
}

// Ingest reads raw log files ("-" is standard input), stores every record in its table — lines that belong to no
// API table as normalized events in Raw_Event_CL — quarantines rejected lines with their reason and position, and
// runs detection on what it stored. Ingesting a file twice stores nothing new (natural keys).
func (a *App) Ingest(ctx context.Context, paths []string, opts IngestOptions) (IngestStats, error) {
	w := a.newRawWriter(opts.Tenant)
	emit := func(it rawlog.Item) error { return w.add(ctx, it) }
	for _, p := range paths {
		rs, err := rawlog.RunFile(ctx, p, rawlog.Options{Format: opts.Format, Tenant: w.tenant, Now: a.now, Logger: a.log}, emit)
		w.st.Files++
		w.st.Read = addReadStats(w.st.Read, rs)
		if err != nil {
			_ = w.flush(ctx)
			return w.st, fmt.Errorf("ingest %s: %w", p, err)
		}
		if err := w.flush(ctx); err != nil {
			return w.st, fmt.Errorf("ingest %s: %w", p, err)
		}
		if opts.Progress != nil {
			opts.Progress(p, rs)
		}
	}
	return w.st, nil
}

func addReadStats(a, b rawlog.Stats) rawlog.Stats {
	a.Bytes += b.Bytes
	a.Lines += b.Lines
	a.Blank += b.Blank
	a.Rows += b.Rows
	a.Events += b.Events
	a.Rejected += b.Rejected
	a.Skipped += b.Skipped
	a.Reasons = addCounts(a.Reasons, b.Reasons)
	a.Skips = addCounts(a.Skips, b.Skips)
	a.Formats = addCounts(a.Formats, b.Formats)
	return a
}

func addCounts[K comparable](a, b map[K]int) map[K]int {
	for k, v := range b {
		if a == nil {
			a = map[K]int{}
		}
		a[k] += v
	}
	return a
}
