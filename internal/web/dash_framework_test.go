package web

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// idPattern is what dashboard, tab and panel ids look like.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// TestDashboardDefinitions checks every dashboard is well formed: ids unique and URL-safe, every drill-down
// parameter and need declared by the tab, every need set by some panel's drill-down, every query builder present.
func TestDashboardDefinitions(t *testing.T) {
	dashIDs := map[string]bool{}
	for _, d := range dashboards() {
		if !idPattern.MatchString(d.ID) || dashIDs[d.ID] || d.Title == "" || len(d.Tabs) == 0 {
			t.Errorf("dashboard %q: bad or repeated id, no title or no tabs", d.ID)
		}
		dashIDs[d.ID] = true
		panelIDs, tabIDs := map[string]bool{}, map[string]bool{}
		for _, tab := range d.Tabs {
			if !idPattern.MatchString(tab.ID) || tabIDs[tab.ID] {
				t.Errorf("%s: bad or repeated tab id %q", d.ID, tab.ID)
			}
			tabIDs[tab.ID] = true
			setters := map[string]bool{}
			for _, p := range tab.Panels {
				if p.Drill != nil {
					setters[p.Drill.Param] = true
				}
			}
			for _, p := range tab.Panels {
				if !idPattern.MatchString(p.ID) || panelIDs[p.ID] {
					t.Errorf("%s: bad or repeated panel id %q", d.ID, p.ID)
				}
				panelIDs[p.ID] = true
				if p.Query == nil || p.Title == "" {
					t.Errorf("%s/%s: no query or title", d.ID, p.ID)
				}
				switch p.Kind {
				case KindTile, KindBar, KindStackedBar, KindPie, KindTimeseries, KindTable, KindMap:
				default:
					t.Errorf("%s/%s: unknown kind %q", d.ID, p.ID, p.Kind)
				}
				if p.Drill != nil {
					if _, ok := tab.param(p.Drill.Param); !ok {
						t.Errorf("%s/%s: drill-down parameter %q is not a tab parameter", d.ID, p.ID, p.Drill.Param)
					}
				}
				for _, n := range p.Needs {
					if _, ok := tab.param(n); !ok || !setters[n] {
						t.Errorf("%s/%s: needs %q, which is not a tab parameter set by a drill-down", d.ID, p.ID, n)
					}
				}
			}
		}
	}
	if len(AllPanels()) == 0 {
		t.Fatal("AllPanels lists nothing")
	}
}

// drillSample is a value for every drill-down parameter, so every panel can be requested: the fixed value a tile
// sets, else "x".
func drillSample(tab *Tab) url.Values {
	q := url.Values{}
	for _, p := range tab.Params {
		if !p.Input {
			q.Set(p.Name, "x")
		}
	}
	for _, pn := range tab.Panels {
		if pn.Drill != nil && pn.Drill.Value != "" {
			q.Set(pn.Drill.Param, pn.Drill.Value)
		}
	}
	return q
}

// TestEveryPanelAnswers requests every panel of every dashboard for several ranges against the simulated store:
// each answers 200 with the columns its kind promises, and each answers CSV with the same rows.
func TestEveryPanelAnswers(t *testing.T) {
	f := loadSimFixture(t)
	for _, dp := range AllPanels() {
		d, _ := findDashboard(dashboards(), dp.Dashboard)
		tab, _ := d.findTab(dp.Tab)
		for _, rng := range []string{"5m", "1d", "14d", "90d"} {
			q := drillSample(tab)
			q.Set("range", rng)
			res := f.panel(t, dp.Dashboard, dp.Panel.ID, q)
			if res.Kind != dp.Panel.Kind || res.Range != rng {
				t.Errorf("%s/%s: kind %q range %q", dp.Dashboard, dp.Panel.ID, res.Kind, res.Range)
			}
			wantCols := map[PanelKind]int{KindBar: 2, KindPie: 2, KindStackedBar: 3, KindTimeseries: 3, KindMap: 5}[dp.Panel.Kind]
			if wantCols != 0 && len(res.Columns) != wantCols {
				t.Errorf("%s/%s: %d columns %v, kind %s wants %d", dp.Dashboard, dp.Panel.ID, len(res.Columns), res.Columns, res.Kind, wantCols)
			}
			for _, row := range res.Rows {
				if len(row) != len(res.Columns) {
					t.Fatalf("%s/%s: row %v does not match columns %v", dp.Dashboard, dp.Panel.ID, row, res.Columns)
				}
			}
			if dp.Panel.Kind == KindTile && len(res.Rows) > 1 {
				t.Errorf("%s/%s: tile with %d rows", dp.Dashboard, dp.Panel.ID, len(res.Rows))
			}
		}
	}
}

// TestTimeSeriesBuckets checks a time chart has every bucket of the window, hourly for short ranges and daily
// for long ones, with zero where nothing happened.
func TestTimeSeriesBuckets(t *testing.T) {
	f := loadSimFixture(t)
	for _, tc := range []struct {
		rng     string
		step    time.Duration
		buckets int
	}{{"1d", time.Hour, 25}, {"3d", time.Hour, 73}, {"7d", day, 8}, {"14d", day, 15}} {
		res := f.panel(t, "ci", "traffic-by-route", url.Values{"range": {tc.rng}})
		series := map[string]bool{}
		times := map[string]bool{}
		for i := range res.Rows {
			series[res.str(i, 1)] = true
			times[res.str(i, 0)] = true
		}
		if len(series) == 0 || len(times) != tc.buckets || len(res.Rows) != tc.buckets*len(series) {
			t.Errorf("%s: %d buckets × %d series in %d rows, want %d buckets", tc.rng, len(times), len(series), len(res.Rows), tc.buckets)
		}
		first, _ := time.Parse(time.RFC3339, res.str(0, 0))
		if !first.Equal(res.From.Truncate(tc.step)) {
			t.Errorf("%s: first bucket %s, want %s", tc.rng, first, res.From.Truncate(tc.step))
		}
	}
}

// TestPanelErrors checks the answers to bad requests.
func TestPanelErrors(t *testing.T) {
	f := loadSimFixture(t)
	for _, tc := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/api/v1/dashboards/nope/panels/by-type", http.StatusNotFound, `no dashboard "nope"`},
		{"/api/v1/dashboards/audit/panels/nope", http.StatusNotFound, `has no panel "nope"`},
		{"/api/v1/dashboards/audit/panels/by-type?range=2w", http.StatusBadRequest, `unknown range "2w"`},
		{"/api/v1/dashboards/audit/panels/by-type?colour=red", http.StatusBadRequest, `unknown parameter "colour"`},
		{"/api/v1/dashboards/audit/panels/by-type?range=1d&range=7d", http.StatusBadRequest, `given 2 times`},
		{"/api/v1/dashboards/audit/panels/by-type?format=xml", http.StatusBadRequest, `unknown format "xml"`},
		{"/api/v1/dashboards/audit/panels/type-events", http.StatusBadRequest, `needs parameter "auditType"`},
		{"/api/v1/dashboards/ci/panels/tag-details?tag=VIRUS", http.StatusBadRequest, `"VIRUS" is not one of`},
		{"/api/v1/dashboards/ci/panels/tag-details?tag=MALWARE&email=x", http.StatusBadRequest, `unknown parameter "email"`},
		{"/api/v1/dashboards/awareness/panels/user-stats?email=" + strings.Repeat("a", 600), http.StatusBadRequest, `longer than 512`},
	} {
		rec := f.get(t, tc.path)
		var body errorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tc.status || !strings.Contains(body.Error, tc.msg) {
			t.Errorf("%s: %d %q, want %d containing %q", tc.path, rec.Code, body.Error, tc.status, tc.msg)
		}
	}
}

// TestPanelCSV checks the CSV export: headers, file name, and the same rows as the JSON.
func TestPanelCSV(t *testing.T) {
	f := loadSimFixture(t)
	q := url.Values{"range": {"7d"}}
	js := f.panel(t, "ci", "entities", q)
	q.Set("format", "csv")
	rec := f.get(t, "/api/v1/dashboards/ci/panels/entities?"+q.Encode())
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="ci-entities-7d.csv"` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	recs, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(js.Rows) == 0 || len(recs) != len(js.Rows)+1 || strings.Join(recs[0], ",") != strings.Join(js.Columns, ",") {
		t.Fatalf("csv has %d lines (header %v), json %d rows (columns %v)", len(recs), recs[0], len(js.Rows), js.Columns)
	}
	for i, row := range js.Rows {
		for c, v := range row {
			if want := csvCell(v); c != 0 && recs[i+1][c] != want && js.Columns[c] != "Event Time" {
				t.Fatalf("csv row %d col %s = %q, json %q", i, js.Columns[c], recs[i+1][c], want)
			}
		}
		if recs[i+1][0] != js.str(i, 0) {
			t.Fatalf("csv row %d time %q, json %q", i, recs[i+1][0], js.str(i, 0))
		}
	}
}

// TestDashboardPages checks the index lists the dashboards and every tab page renders one placeholder per panel.
func TestDashboardPages(t *testing.T) {
	f := loadSimFixture(t)
	rec := f.get(t, "/dashboards")
	if rec.Code != http.StatusOK {
		t.Fatalf("index: %d", rec.Code)
	}
	for _, d := range dashboards() {
		if !strings.Contains(rec.Body.String(), `href="/dashboards/`+d.ID+`"`) {
			t.Errorf("index does not link %s", d.ID)
		}
		for _, tab := range d.Tabs {
			page := f.get(t, "/dashboards/"+d.ID+"?tab="+tab.ID)
			body := page.Body.String()
			if page.Code != http.StatusOK || !strings.Contains(body, `src="/static/dash.js"`) || !strings.Contains(body, "/static/dash.css") {
				t.Fatalf("%s/%s: %d", d.ID, tab.ID, page.Code)
			}
			if n := strings.Count(body, `<section class="card panel`); n != len(tab.Panels) {
				t.Errorf("%s/%s: %d panel placeholders, want %d", d.ID, tab.ID, n, len(tab.Panels))
			}
		}
	}
	for path, status := range map[string]int{
		"/dashboards/nope":              http.StatusNotFound,
		"/dashboards/awareness?tab=x":   http.StatusNotFound,
		"/dashboards/audit?colour=blue": http.StatusBadRequest,
		"/dashboards/audit?range=2w":    http.StatusOK, // the page falls back to 14 days with a notice
	} {
		if rec := f.get(t, path); rec.Code != status {
			t.Errorf("%s: %d, want %d", path, rec.Code, status)
		}
	}
	if body := f.get(t, "/dashboards/audit?range=2w").Body.String(); !strings.Contains(body, `id="notice"`) {
		t.Error("no notice for an unknown range")
	}
}
