package app

import (
	"context"
	"encoding/json"
	"fmt"

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

// ingestBatch is how many rows Ingest writes at a time.
const ingestBatch = 1000

// Ingest reads raw log files ("-" is standard input), stores every record in its table — lines that belong to no
// API table as normalized events in Raw_Event_CL — quarantines rejected lines with their reason and position, and
// runs detection on what it stored. Ingesting a file twice stores nothing new (natural keys).
func (a *App) Ingest(ctx context.Context, paths []string, opts IngestOptions) (IngestStats, error) {
	var st IngestStats
	if opts.Tenant == "" {
		opts.Tenant = "default"
	}
	pending := map[*schema.Table][]schema.Row{}
	var bad []store.Quarantined
	flush := func(t *schema.Table) error {
		rows := pending[t]
		if len(rows) == 0 {
			return nil
		}
		delete(pending, t)
		n, err := a.store.WriteRows(ctx, t, rows)
		if err != nil {
			return fmt.Errorf("ingest: write %s: %w", t.Name, err)
		}
		st.Rows += len(rows)
		st.New += n
		return a.detectRows(ctx, t, rows)
	}
	flushAll := func() error {
		for t := range pending {
			if err := flush(t); err != nil {
				return err
			}
		}
		if len(bad) > 0 {
			if err := a.store.Quarantine(ctx, bad); err != nil {
				return fmt.Errorf("ingest: quarantine: %w", err)
			}
			st.Quarantined += len(bad)
			bad = nil
		}
		return nil
	}
	add := func(t *schema.Table, r schema.Row) error {
		pending[t] = append(pending[t], r)
		if len(pending[t]) >= ingestBatch {
			return flush(t)
		}
		return nil
	}
	emit := func(it rawlog.Item) error {
		switch {
		case it.Rejection != nil:
			bad = append(bad, it.Rejection.Quarantined(opts.Tenant, a.now()))
			return nil
		case it.Table != nil:
			return add(it.Table, it.Row)
		}
		for _, ev := range it.Events {
			rec, err := json.Marshal(schema.RawEventRecord{Format: string(it.Format), Source: it.Source, Event: ev})
			if err != nil {
				return err
			}
			row, err := schema.RawEvent.Decode(opts.Tenant, rec, a.now())
			if err != nil {
				bad = append(bad, store.Quarantined{Tenant: opts.Tenant, Source: it.Source,
					Position: fmt.Sprintf("line %d", it.Line), Reason: err.Error(), Raw: string(rec), Time: a.now()})
				continue
			}
			if err := add(&schema.RawEvent, row); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range paths {
		rs, err := rawlog.RunFile(ctx, p, rawlog.Options{Format: opts.Format, Tenant: opts.Tenant, Now: a.now, Logger: a.log}, emit)
		st.Files++
		st.Read = addReadStats(st.Read, rs)
		if err != nil {
			_ = flushAll()
			return st, fmt.Errorf("ingest %s: %w", p, err)
		}
		if err := flushAll(); err != nil {
			return st, err
		}
		if opts.Progress != nil {
			opts.Progress(p, rs)
		}
	}
	return st, nil
}

func addReadStats(a, b rawlog.Stats) rawlog.Stats {
	a.Bytes += b.Bytes
	a.Lines += b.Lines
	a.Blank += b.Blank
	a.Rows += b.Rows
	a.Events += b.Events
	a.Rejected += b.Rejected
	a.Skipped += b.Skipped
	for k, v := range b.Reasons {
		if a.Reasons == nil {
			a.Reasons = map[string]int{}
		}
		a.Reasons[k] += v
	}
	for k, v := range b.Skips {
		if a.Skips == nil {
			a.Skips = map[string]int{}
		}
		a.Skips[k] += v
	}
	for k, v := range b.Formats {
		if a.Formats == nil {
			a.Formats = map[parse.Format]int{}
		}
		a.Formats[k] += v
	}
	return a
}
