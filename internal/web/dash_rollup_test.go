package web

// Tests of the panels that read rollups and of the newest-first tables, over the shared simulated store
// (simstore_test.go, with the SEG extra records). The reference answer of a panel is the same panel with every
// rollup read from the view over the whole window (rollup.Def.Raw) and every table run over the whole window:
// the stored hourly and daily counts, and the narrowed table windows, must give exactly that answer.

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/rollup"
	"github.com/castwatch/castwatch/internal/store"
)

// rollupDashboards are the dashboards whose panels read rollups.
var rollupDashboards = []string{"seg", "ci", "audit"}

// rollupWindow is a request window of the rollup tests.
type rollupWindow struct {
	name     string
	from, to time.Time
	tenant   string
}

// rollupWindows are windows starting and ending mid-hour (hour buckets), a 5-minute window, a 3-day window
// (hour buckets over whole days: a daily table must not give its day starts to a time chart) and a 14-day window
// (day buckets, whole days from the daily tables).
func rollupWindows(now time.Time) []rollupWindow {
	return []rollupWindow{
		{"mid-hour-26h", now.Add(-26*time.Hour - 17*time.Minute), now.Add(-43 * time.Minute), fixtureTenant},
		{"mid-hour-50h", now.Add(-50*time.Hour - 41*time.Minute), now.Add(-5*time.Hour - 9*time.Minute), ""},
		{"5m", now.Add(-2*time.Hour - 7*time.Minute), now.Add(-2*time.Hour - 2*time.Minute), ""},
		{"3d", now.Add(-3 * day), now, fixtureTenant},
		{"14d", now.Add(-14 * day), now, ""},
	}
}

// params are the window's request parameters with the given tab values.
func (w rollupWindow) params(values map[string]string) Params {
	return Params{From: w.from, To: w.to, Range: w.name, Tenant: w.tenant, Values: values}
}

// useRollups runs fn with the panels reading the stored rollups (raw false) or the reference (raw true).
func useRollups(raw bool, fn func()) {
	old := rollupOf
	if raw {
		rollupOf = func(name string) rollup.Def { return old(name).Raw() }
	}
	defer func() { rollupOf = old }()
	fn()
}

// wholeWindow is a copy of a panel without Newest: its table runs over the whole window.
func wholeWindow(pn *Panel) *Panel {
	c := *pn
	c.Newest = nil
	return &c
}

// panelCase is one panel of one tab, to run with parameter values.
type panelCase struct {
	dash *Dashboard
	tab  *Tab
	pn   *Panel
}

// rollupPanels are every panel of the rollup dashboards.
func rollupPanels(t *testing.T) []panelCase {
	t.Helper()
	var out []panelCase
	for _, id := range rollupDashboards {
		d, ok := findDashboard(dashboards(), id)
		if !ok {
			t.Fatalf("no dashboard %q", id)
		}
		for ti := range d.Tabs {
			tab := &d.Tabs[ti]
			for pi := range tab.Panels {
				out = append(out, panelCase{d, tab, &tab.Panels[pi]})
			}
		}
	}
	return out
}

// runner runs panels over one store and window.
type runner struct {
	t   *testing.T
	st  store.Store
	win rollupWindow
}

// run runs pn with the given tab values and fails the test on an error.
func (r runner) run(c panelCase, pn *Panel, values map[string]string) panelResult {
	r.t.Helper()
	geo := geoFuncs{lookup: fakeCountry, country: fakeCountryInfo}
	res, err := runPanel(context.Background(), r.st, geo, panelRef{c.dash, c.tab, pn}, r.win.params(values))
	if err != nil {
		r.t.Fatalf("%s (%s, values %v): %v", c.pn.ID, r.win.name, values, err)
	}
	return res
}

// drillSets are the tab values to request pn with: the tab's defaults, and for each parameter pn needs, the
// value each of its source panels sets: a tile's fixed value, or the label of the source's first row (the
// source run with the values it needs in turn). A need no source gives a value for leaves no set.
func (r runner) drillSets(c panelCase, pn *Panel, base map[string]string) []map[string]string {
	sets := []map[string]string{base}
	for _, need := range pn.Needs {
		var next []map[string]string
		for _, set := range sets {
			if set[need] != "" {
				next = append(next, set)
				continue
			}
			next = append(next, r.drillChoices(c, need, set)...)
		}
		sets = next
	}
	return sets
}

// drillChoices are set completed with each value a source panel of need gives.
func (r runner) drillChoices(c panelCase, need string, set map[string]string) []map[string]string {
	var out []map[string]string
	with := func(s map[string]string, v string) map[string]string {
		s = maps.Clone(s)
		s[need] = v
		return s
	}
	for i := range c.tab.Panels {
		src := &c.tab.Panels[i]
		if src.Drill == nil || src.Drill.Param != need {
			continue
		}
		if src.Drill.Value != "" {
			out = append(out, with(set, src.Drill.Value))
			continue
		}
		for _, s := range r.drillSets(c, src, set) {
			if res := r.run(c, src, s); len(res.Rows) > 0 {
				out = append(out, with(s, fmt.Sprint(res.Rows[0][src.Drill.Column])))
			}
		}
	}
	return out
}

// tabDefaults are a tab's parameter defaults.
func tabDefaults(tab *Tab) map[string]string {
	m := map[string]string{}
	for _, p := range tab.Params {
		m[p.Name] = p.Default
	}
	return m
}

// sameAnswer compares two answers of a panel: columns, truncation and rows. Table rows are compared as
// sorted lists when not truncated (rows whose sort keys tie may come in any order).
func sameAnswer(kind PanelKind, got, want panelResult) error {
	if !slices.Equal(got.Columns, want.Columns) {
		return fmt.Errorf("columns %v, want %v", got.Columns, want.Columns)
	}
	if got.Truncated != want.Truncated {
		return fmt.Errorf("truncated %v, want %v", got.Truncated, want.Truncated)
	}
	g, w := got.Rows, want.Rows
	if kind == KindTable && !got.Truncated {
		g, w = sortedRows(g), sortedRows(w)
	}
	if len(g) != len(w) {
		return fmt.Errorf("%d rows, want %d", len(g), len(w))
	}
	for i := range g {
		if !reflect.DeepEqual(g[i], w[i]) {
			return fmt.Errorf("row %d: %v, want %v", i, g[i], w[i])
		}
	}
	return nil
}

// sortedRows is a copy of rows sorted by their printed form.
func sortedRows(rows [][]any) [][]any {
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b []any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return out
}

// hasData says an answer counts something: a non-zero tile, or any row.
func hasData(kind PanelKind, res panelResult) bool {
	if kind == KindTile {
		n, _ := number(res.Rows[0][0])
		return n > 0
	}
	for _, r := range res.Rows {
		if n, ok := number(r[len(r)-1]); !ok || n != 0 {
			return true
		}
	}
	return false
}

// noFixtureData are panels the simulated tenant has nothing for: it writes no archive_service_logs audit events
// (the panel is built like the other category pies, auditTypeCounts).
var noFixtureData = []string{"audit/archive-service"}

// TestRollupPanelsMatchViews compares every panel of the SEG, CI and Audit dashboards over the stored rollups
// (and narrowed tables) with the reference answer, for every window and drill-down value, and checks every panel
// had something to count in some window (an assertion over empty answers proves nothing).
func TestRollupPanelsMatchViews(t *testing.T) {
	f, _ := segFixture(t)
	counted := map[string]bool{}
	compared := 0
	for _, w := range rollupWindows(f.Now) {
		r := runner{t, f.DB, w}
		for _, c := range rollupPanels(t) {
			name := c.dash.ID + "/" + c.pn.ID + " " + w.name
			for _, values := range r.drillSets(c, c.pn, tabDefaults(c.tab)) {
				var got, want panelResult
				useRollups(false, func() { got = r.run(c, c.pn, values) })
				useRollups(true, func() { want = r.run(c, wholeWindow(c.pn), values) })
				if err := sameAnswer(c.pn.Kind, got, want); err != nil {
					t.Errorf("%s %v: %v", name, values, err)
				}
				if w.name == "3d" && (c.pn.Kind == KindTimeseries || c.pn.TimeX) && got.Bucket != "hour" {
					t.Errorf("%s: bucket %q, want hour", name, got.Bucket)
				}
				compared++
				if hasData(c.pn.Kind, want) {
					counted[c.dash.ID+"/"+c.pn.ID] = true
				}
			}
		}
	}
	for _, c := range rollupPanels(t) {
		if id := c.dash.ID + "/" + c.pn.ID; !counted[id] && !slices.Contains(noFixtureData, id) {
			t.Errorf("%s counted nothing in any window: the comparison proves nothing for it", id)
		}
	}
	t.Logf("%d panel answers compared", compared)
}

// TestRollupHourBuckets checks a 3-day time chart keeps its hour buckets on whole days: the SEG email-traffic
// chart over the stored rollups has counts at hours other than midnight, equal to the reference.
func TestRollupHourBuckets(t *testing.T) {
	f, _ := segFixture(t)
	w := rollupWindow{"3d", f.Now.Add(-3 * day), f.Now, ""}
	r := runner{t, f.DB, w}
	d, _ := findDashboard(dashboards(), "seg")
	ref, ok := d.findPanel("email-traffic")
	if !ok {
		t.Fatal("no seg/email-traffic panel")
	}
	c := panelCase{d, ref.Tab, ref.Panel}
	res := r.run(c, c.pn, tabDefaults(c.tab))
	offMidnight := 0.0
	for _, row := range res.Rows {
		if at, _ := time.Parse(time.RFC3339, fmt.Sprint(row[0])); at.Hour() != 0 {
			n, _ := number(row[2])
			offMidnight += n
		}
	}
	if res.Bucket != "hour" || offMidnight == 0 {
		t.Fatalf("bucket %q, %v deliveries at hours other than midnight; want hour buckets with counts", res.Bucket,
			offMidnight)
	}
}

// recordingStore is a store that records the queries it runs.
type recordingStore struct {
	store.Store
	queries []recordedQuery
}

func (s *recordingStore) Query(ctx context.Context, sql string, args ...any) (*store.Result, error) {
	s.queries = append(s.queries, recordedQuery{SQL: sql, Args: args})
	return s.Store.Query(ctx, sql, args...)
}

// firstTime is the first time among a query's arguments (a table query's window start).
func firstTime(args []any) (time.Time, bool) {
	for _, a := range args {
		if t, ok := a.(time.Time); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// newestPanels are the panels declaring Newest, with how they narrow: by their rollup, or (widen) by widening
// from the last hour.
func newestPanels(t *testing.T, widen bool) []panelCase {
	var out []panelCase
	for _, c := range rollupPanels(t) {
		if c.pn.Newest == nil {
			continue
		}
		if widen {
			pn := *c.pn
			pn.Newest = &Newest{}
			c.pn = &pn
		}
		out = append(out, c)
	}
	return out
}

// TestRollupNewestTablesMatchWholeWindow lowers the table cap so that most tables have more rows than it, and checks
// every newest-first table gives the whole window's rows (and truncation) both when it has more rows than the
// cap, read from a narrowed window, and when it has fewer; by rollup cutoff and by widening from the last hour.
func TestRollupNewestTablesMatchWholeWindow(t *testing.T) {
	f, _ := segFixture(t)
	old := tableRowCap
	tableRowCap = 40
	t.Cleanup(func() { tableRowCap = old })
	for _, widen := range []bool{false, true} {
		narrowed, whole := 0, 0
		for _, w := range rollupWindows(f.Now) {
			st := &recordingStore{Store: f.DB}
			r := runner{t, st, w}
			for _, c := range newestPanels(t, widen) {
				for _, values := range r.drillSets(c, c.pn, tabDefaults(c.tab)) {
					name := fmt.Sprintf("%s/%s %s %v (widen %v)", c.dash.ID, c.pn.ID, w.name, values, widen)
					st.queries = nil
					got := r.run(c, c.pn, values)
					ran := st.queries
					last := ran[len(ran)-1]
					from, _ := firstTime(last.Args)
					want := r.run(c, wholeWindow(c.pn), values)
					if err := sameAnswer(c.pn.Kind, got, want); err != nil {
						t.Errorf("%s: %v", name, err)
					}
					if !widen && want.Truncated && !strings.Contains(last.SQL, "GROUP BY") && len(ran) != 2 {
						// One record per row: the rollup's cutoff holds cap+1 rows, so one table query suffices.
						t.Errorf("%s: %d queries, want the rollup counts and one table query", name, len(ran))
					}
					switch {
					case want.Truncated && from.After(w.from):
						narrowed++
					case !want.Truncated && len(want.Rows) > 0:
						whole++
					}
				}
			}
		}
		if narrowed == 0 || whole == 0 {
			t.Errorf("widen %v: %d answers past the cap from a narrowed window, %d under the cap: want both", widen,
				narrowed, whole)
		}
		t.Logf("widen %v: %d narrowed answers past the cap, %d under it", widen, narrowed, whole)
	}
}

// TestRollupNewestFilterCountsTableRecords checks each newest-first table's rollup filter counts exactly the records
// its own query matches: over a window of whole hours, the sum of the hourly counts equals the table's rows (or,
// for tables of groups, the sum of their count column).
func TestRollupNewestFilterCountsTableRecords(t *testing.T) {
	f, _ := segFixture(t)
	to := f.Now.Truncate(time.Hour)
	w := rollupWindow{"whole hours", to.Add(-3 * day), to, fixtureTenant}
	r := runner{t, f.DB, w}
	ctx := context.Background()
	checked := 0
	for _, c := range newestPanels(t, false) {
		for _, values := range r.drillSets(c, c.pn, tabDefaults(c.tab)) {
			p := w.params(values)
			counts, err := newestCounts(ctx, f.DB, c.pn.Newest, p)
			if err != nil {
				t.Fatalf("%s: %v", c.pn.ID, err)
			}
			var byRollup float64
			for _, hc := range counts {
				byRollup += hc.n
			}
			sql, args := c.pn.Query(p)
			out, err := f.DB.Query(ctx, sql, args...)
			if err != nil {
				t.Fatalf("%s: %v", c.pn.ID, err)
			}
			records := float64(len(out.Rows))
			if strings.Contains(sql, "GROUP BY") {
				records = 0
				for _, row := range out.Rows {
					n, _ := number(row[len(row)-1])
					records += n
				}
			}
			if byRollup != records {
				t.Errorf("%s/%s %v: rollup counts %v records, the table %v", c.dash.ID, c.pn.ID, values, byRollup, records)
			}
			if records > 0 {
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no table had records: the comparison proves nothing")
	}
}

// TestKeyCutTablesMatchWholeWindow lowers the table cap and checks every KeyCut table gives exactly the rows, in
// order, of the same table run unbounded, over every rollup test window: bounded when it has more rows than the
// cap (two queries, the second with the bound), unbounded when it has fewer.
func TestKeyCutTablesMatchWholeWindow(t *testing.T) {
	f, _ := segFixture(t)
	old := tableRowCap
	t.Cleanup(func() { tableRowCap = old })
	bounded, unbounded := 0, 0
	for _, limit := range []int{6, old} {
		tableRowCap = limit
		keyCutWindows(t, f, &bounded, &unbounded)
	}
	if bounded == 0 || unbounded == 0 {
		t.Errorf("%d answers past the cap, %d under it: want both", bounded, unbounded)
	}
	t.Logf("%d bounded answers past the cap, %d under it", bounded, unbounded)
}

// keyCutWindows compares every KeyCut table with its unbounded self over the rollup test windows, counting the
// answers past and under the current cap.
func keyCutWindows(t *testing.T, f *simFixture, bounded, unbounded *int) {
	for _, w := range rollupWindows(f.Now) {
		st := &recordingStore{Store: f.DB}
		r := runner{t, st, w}
		for _, c := range rollupPanels(t) {
			if c.pn.KeyCut == nil {
				continue
			}
			plain := *c.pn
			plain.KeyCut = nil
			name := fmt.Sprintf("%s/%s %s cap %d", c.dash.ID, c.pn.ID, w.name, tableRowCap)
			st.queries = nil
			got := r.run(c, c.pn, tabDefaults(c.tab))
			ran := st.queries
			want := r.run(c, &plain, tabDefaults(c.tab))
			if !reflect.DeepEqual(got.Rows, want.Rows) || got.Truncated != want.Truncated {
				t.Errorf("%s: rows %v (truncated %v), want %v (truncated %v)", name, got.Rows, got.Truncated, want.Rows, want.Truncated)
			}
			if len(ran) != 2 {
				t.Fatalf("%s: %d queries, want the key cut and the table", name, len(ran))
			}
			if want.Truncated {
				*bounded++
				if !strings.Contains(ran[1].SQL, c.pn.KeyCut.Keys[0]+" < ") {
					t.Errorf("%s: the table query has no bound:\n%s", name, ran[1].SQL)
				}
			} else if len(want.Rows) > 0 {
				*unbounded++
			}
		}
	}
}
