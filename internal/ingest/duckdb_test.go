package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/collect/collecttest"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// TestPipelineIntoDuckDB runs the whole path into the real embedded store: a crash between publish and
// checkpoint, a restart of bus and store, one undecodable record, and every good record stored exactly once.
func TestPipelineIntoDuckDB(t *testing.T) {
	records := collecttest.AuditRecords("a", 50, t0.Add(-40*time.Hour), t0.Add(-time.Minute))
	bad := collecttest.Record{ID: "bad", Time: t0.Add(-2 * time.Hour),
		Raw: json.RawMessage(`{"id":"bad","eventTime":"not a time"}`)}
	w := newWorld(t, append(records, bad)...)
	path := filepath.Join(t.TempDir(), "castwatch.duckdb")
	open := func() *duckdb.DB {
		db, err := duckdb.Open(w.ctx, path, duckdb.Options{Now: w.clock.Now, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()

	crash := errors.New("simulated crash")
	n := 0
	_, err := w.pipeline(db, w.collector("acme", func(c *collect.Config) {
		c.BeforeCheckpoint = func(ctx context.Context, b collect.Batch) error {
			if n++; n == 2 {
				return crash
			}
			return nil
		}
	})).Run(w.ctx)
	if !errors.Is(err, crash) {
		t.Fatalf("want the crash, got %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	w.bus.Close()

	w.openBus()
	db = open()
	defer db.Close()
	ps, err := w.pipeline(db, w.collector("acme", nil)).Run(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Collect.Duplicates != 1 {
		t.Errorf("duplicates %d, want the crashed page dropped once", ps.Collect.Duplicates)
	}
	keys, err := db.Keys(w.ctx, &schema.Audit)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(records) {
		t.Errorf("stored %d rows, want %d", len(keys), len(records))
	}
	got, err := db.Query(w.ctx, `SELECT count(DISTINCT id), min(tenant), max(tenant) FROM "Audit_CL"`)
	if err != nil {
		t.Fatal(err)
	}
	if row := got.Rows[0]; toInt(row[0]) != len(records) || row[1] != "acme" || row[2] != "acme" {
		t.Errorf("stored rows %v", row)
	}
	q, err := db.QuarantineCount(w.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if q != 1 {
		t.Errorf("quarantined %d, want the one bad record", q)
	}
}

func toInt(v any) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case int:
		return n
	case float64:
		return int(n)
	}
	return -1
}
