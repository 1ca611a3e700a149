package collect

import (
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/collect/collecttest"
)

func TestRewindBackfillsFromSince(t *testing.T) {
	old := collecttest.AuditRecords("old", 6, t0.Add(-10*24*time.Hour), t0.Add(-9*24*time.Hour))
	recent := collecttest.AuditRecords("new", 6, t0.Add(-2*time.Hour), t0.Add(-time.Hour))
	e := newEnv(t, append(old, recent...)...)
	e.spec.Lookback = 3 * time.Hour
	c := e.collector(nil)
	if _, err := c.Run(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.rec.ids(t); len(got) != len(recent) {
		t.Fatalf("first run published %d records, want the %d inside the look-back", len(got), len(recent))
	}

	// A rewind later than the checkpoint changes nothing.
	if err := c.Rewind(e.ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if cp := e.checkpoint(); !cp.WindowEnd.Equal(t0) {
		t.Fatalf("a rewind into the future moved the checkpoint to %v", cp.WindowEnd)
	}

	// A backfill from 11 days ago fetches the old records; the recent ones come again and are not doubled on the
	// bus (same pages → same message ids) or in the store (natural key).
	if err := c.Rewind(e.ctx, t0.Add(-11*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if cp := e.checkpoint(); !cp.WindowEnd.Equal(t0.Add(-11*24*time.Hour)) || cp.Open {
		t.Fatalf("checkpoint after rewind: %+v", cp)
	}
	if _, err := c.Run(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.noViolations()
	got := e.rec.ids(t)
	for _, r := range append(old, recent...) {
		if got[r.ID] == 0 {
			t.Errorf("record %s not collected by the backfill", r.ID)
		}
	}
	if cp := e.checkpoint(); !cp.WindowEnd.Equal(t0) {
		t.Errorf("after the backfill the checkpoint ends at %v, want now", cp.WindowEnd)
	}
}
