package bench

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castwatch/castwatch/internal/store/duckdb"
	"github.com/castwatch/castwatch/internal/web"
)

// TestPanelsTiny generates a 40-mailbox, 4-day tenant from a 20-mailbox, 2-day sample (so both kinds of copies
// run) and times every panel: each table must hold its sample times the copies, every panel must answer rows,
// and the figures must be positive. The rollups are recounted over the copies: rollup_seg sums to the gateway
// table's rows.
func TestPanelsTiny(t *testing.T) {
	opts := PanelsOptions{Mailboxes: 40, Days: 4, SampleMailboxes: 20, SampleDays: 2, Runs: 2, Threads: 2,
		Ranges: []string{"30d"}, Dir: t.TempDir()}
	res, err := Panels(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ten := res.Tenant
	if ten.Mailboxes != 40 || ten.Days != 4 || ten.MailboxCopies != 2 || ten.DayCopies != 2 {
		t.Fatalf("tenant %+v, want 40 mailboxes × 4 days in 2 × 2 copies", ten)
	}
	if len(ten.Tables) != len(panelSources) {
		t.Fatalf("%d tables generated, want %d", len(ten.Tables), len(panelSources))
	}
	keyed := map[bool]int{}
	for _, tr := range ten.Tables {
		keyed[tr.Keyed]++
		// Only the tables whose key holds no event time (audit ids, Awareness snapshots) keep a key index.
		if want := tr.Table == "Audit_CL" || strings.HasPrefix(tr.Table, "Awareness_"); tr.Keyed != want {
			t.Errorf("%s: keyed %v, want %v", tr.Table, tr.Keyed, want)
		}
		if tr.Sample <= 0 {
			t.Errorf("%s: the sample stored no rows", tr.Table)
		}
		if tr.Rows != tr.Expected || (tr.Expected != 2*tr.Sample && tr.Expected != 4*tr.Sample) {
			t.Errorf("%s: %d rows from %d sample rows, want %d (2 or 4 copies)", tr.Table, tr.Rows, tr.Sample, tr.Expected)
		}
	}
	if keyed[true] == 0 || keyed[false] == 0 {
		t.Errorf("keyed and unkeyed tables %v: want both kinds of copies exercised", keyed)
	}
	rollupRows := map[string]int64{}
	for _, r := range ten.Rollups {
		rollupRows[r.Table] = r.Rows
	}
	if len(rollupRows) != 13 || rollupRows["rollup_seg"] == 0 || rollupRows["rollup_ci_recipients_day"] == 0 {
		t.Errorf("rollups recounted: %v, want the 13 tables with rows", rollupRows)
	}
	want := 0
	for _, d := range web.Dashboards() {
		for _, tab := range d.Tabs {
			want += len(tab.Panels)
		}
	}
	if len(res.Panels) != want {
		t.Fatalf("%d panel timings, want one per panel (%d)", len(res.Panels), want)
	}
	for _, p := range res.Panels {
		id := p.Dashboard + "/" + p.Panel
		switch {
		case p.Skipped != "":
			t.Errorf("%s skipped: %s", id, p.Skipped)
		case p.Rows == 0:
			t.Errorf("%s answered no rows", id)
		case p.P50 <= 0 || p.P95 < p.P50 || p.Max < p.P95:
			t.Errorf("%s figures p50 %.3f p95 %.3f max %.3f, want 0 < p50 ≤ p95 ≤ max", id, p.P50, p.P95, p.Max)
		}
	}
}

// TestPanelsOptions checks the defaults and the refused values.
func TestPanelsOptions(t *testing.T) {
	o := PanelsOptions{Mailboxes: 100, Days: 2}.withDefaults()
	if o.SampleMailboxes != 100 || o.SampleDays != 2 || o.Runs != 5 || len(o.Ranges) != 2 {
		t.Fatalf("defaults %+v: want the sample capped at the tenant, 5 runs, 2 ranges", o)
	}
	for _, bad := range []PanelsOptions{{Runs: 1}, {Days: 91}, {Mailboxes: -1}} {
		if err := bad.validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if got := percentile([]float64{1, 2, 3, 4}, 0.5); got != 2 {
		t.Errorf("p50 of 1..4 = %v, want 2", got)
	}
	if got := percentile([]float64{1, 2, 3, 4}, 0.95); got != 4 {
		t.Errorf("p95 of 1..4 = %v, want 4", got)
	}
}

// TestPanelsKeep generates a tenant into a kept file, reuses it for the same sizes, and refuses a file of other
// sizes or one no generation finished.
func TestPanelsKeep(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kept.duckdb")
	var progress strings.Builder
	opts := PanelsOptions{Mailboxes: 20, Days: 2, SampleMailboxes: 20, SampleDays: 2, Runs: 2, Threads: 2,
		Ranges: []string{"30d"}, Database: path, GenerateOnly: true, Progress: &progress}
	first, err := Panels(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	progress.Reset()
	again, err := Panels(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "reusing the tenant") || strings.Contains(progress.String(), "sample:") {
		t.Errorf("second run's progress %q: want the kept tenant reused, not generated", progress.String())
	}
	for i, tr := range again.Tenant.Tables {
		if tr.Rows != first.Tenant.Tables[i].Rows {
			t.Errorf("%s: %d rows reused, %d generated", tr.Table, tr.Rows, first.Tenant.Tables[i].Rows)
		}
	}

	other := opts
	other.Mailboxes = 40
	if _, err := Panels(ctx, other); err == nil || !strings.Contains(err.Error(), "20-mailbox, 2-day tenant") {
		t.Errorf("other sizes: %v, want the kept sizes named", err)
	}

	unfinished := filepath.Join(t.TempDir(), "unfinished.duckdb")
	db, err := duckdb.Open(ctx, unfinished, duckdb.Options{Tables: panelTables()})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	other = opts
	other.Database = unfinished
	if _, err := Panels(ctx, other); err == nil || !strings.Contains(err.Error(), "no finished benchmark tenant") {
		t.Errorf("unfinished file: %v, want it refused", err)
	}
}
