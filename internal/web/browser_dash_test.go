package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The dashboard browser test opens every tab of the Audit, Awareness Training and Cloud Integrated dashboards over
// the simulated store in headless Chromium: every chart is painted, every table has rows, one drill-down per
// dashboard is clicked with the mouse and fills its target, a table view is toggled, and each tab is saved as a
// screenshot.

// dashPanelState is one panel as the page shows it.
type dashPanelState struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	State   string `json:"state"`
	Status  string `json:"status"`
	Painted int    `json:"painted"`
	Rows    int    `json:"rows"`
}

// readDashPanels returns every panel's state once none is pending or loading (false until then). painted counts
// the canvas pixels ECharts drew (a blank canvas has none); rows counts data rows in the table view.
const readDashPanels = `(function () {
  var ps = Array.from(document.querySelectorAll('section.panel'));
  if (ps.length === 0 || ps.some(function (p) { return p.dataset.state === 'pending' || p.dataset.state === 'loading'; })) return false;
  return ps.map(function (p) {
    var c = p.querySelector('.panel-chart canvas'), painted = 0;
    if (c && c.width > 0 && c.height > 0) {
      var px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (var i = 3; i < px.length; i += 16) { if (px[i] > 0) painted++; }
    }
    return { id: p.dataset.panel, kind: p.dataset.kind, state: p.dataset.state,
      status: p.querySelector('.panel-status').textContent, painted: painted,
      rows: p.querySelectorAll('.panel-table tbody tr:not([hidden])').length -
        p.querySelectorAll('.panel-table tbody td.empty').length };
  });
})()`

// dashClickPoint returns the viewport point to click on a panel's chart: the middle of the bar with the given
// index, the first (largest) pie slice, or the tile.
func dashClickPoint(panel string, bar int) string {
	return fmt.Sprintf(`(function () {
  var p = document.getElementById('panel-%s');
  var el = p.querySelector('.panel-chart');
  el.scrollIntoView({ block: 'center' });
  var r = el.getBoundingClientRect();
  var inst = window.echarts && window.echarts.getInstanceByDom(el);
  if (!inst) return [r.left + r.width / 2, r.top + r.height / 2];
  var s = inst.getOption().series[0];
  if (s.type === 'pie') {
    var rad = Math.min(r.width, r.height) / 2 * 0.475, a = 15 * Math.PI / 180;
    return [r.left + r.width * 0.5 + rad * Math.sin(a), r.top + r.height * 0.45 - rad * Math.cos(a)];
  }
  var xy = inst.convertToPixel({ seriesIndex: 0 }, [%d, s.data[%d] / 2]);
  return [r.left + xy[0], r.top + xy[1]];
})()`, panel, bar, bar)
}

// dashDrill is one drill-down to click: the source panel (and bar index for bar charts), and the target panel
// that must fill.
type dashDrill struct {
	source string
	bar    int
	target string
}

func TestBrowserDashboards(t *testing.T) {
	chromium := requireChromium(t)
	requireVendorAssets(t)
	f := loadSimFixture(t)
	h := newTestHandler(t, Options{Store: f.DB, Now: func() time.Time { return f.Now }, Static: embeddedAssets(t),
		GeoLookup: fakeCountry, CountryInfo: fakeCountryInfo})
	srv := httptest.NewServer(h)
	defer srv.Close()

	output := &browserOutput{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000), chromedp.CombinedOutput(output))
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	ctx, cancelTimeout := context.WithTimeout(ctx, 300*time.Second)
	defer cancelTimeout()
	msgs := &browserMessages{}
	s := &browserSession{t: t, ctx: ctx, msgs: msgs, output: output}
	if err := chromedp.Listen(ctx, msgs.listen); err != nil {
		t.Fatalf("start chromium %s: %v\nchromium output:\n%s", chromium, err, output.String())
	}
	s.recordCSP()

	settle := func(what string) []dashPanelState {
		t.Helper()
		return browserDo(s, "wait for panels of "+what, chromedp.Poll[[]dashPanelState](readDashPanels, chromedp.WithPollingTimeout(30*time.Second)))
	}
	// checkPanels fails on panels in error, charts without paint and tables without rows.
	checkPanels := func(what string, ps []dashPanelState) (ready int) {
		t.Helper()
		for _, p := range ps {
			switch {
			case p.State == "error":
				t.Errorf("%s/%s: %s", what, p.ID, p.Status)
			case p.State == "ready" && p.Kind != "tile" && p.Kind != "table" && p.Painted == 0:
				t.Errorf("%s/%s: %s chart not painted", what, p.ID, p.Kind)
			case p.State == "ready" && p.Rows == 0:
				t.Errorf("%s/%s: ready but its table view has no rows", what, p.ID)
			case p.State == "ready":
				ready++
			}
		}
		return ready
	}
	// The table view of a chart: one click shows the table (with rows) in place of the chart, another brings the
	// chart back.
	toggleView := func() {
		t.Helper()
		toggle := `(function () { var p = document.getElementById('panel-threat-types'); p.querySelector('.view-toggle').click();
  return [p.querySelector('.panel-table').hidden ? 0 : 1, p.querySelector('.panel-chart').hidden ? 0 : 1,
    p.querySelectorAll('.panel-table tbody tr').length]; })()`
		if v := browserDo(s, "toggle table", chromedp.Evaluate[[]int](toggle)); v[0] != 1 || v[1] != 0 || v[2] == 0 {
			t.Errorf("table view: table shown %d, chart shown %d, rows %d", v[0], v[1], v[2])
		}
		if v := browserDo(s, "toggle chart", chromedp.Evaluate[[]int](toggle)); v[0] != 0 || v[1] != 1 {
			t.Errorf("chart view: table shown %d, chart shown %d", v[0], v[1])
		}
	}
	drills := map[string]dashDrill{
		"audit/audit":          {"by-type", 0, "type-events"},
		"awareness/human-risk": {"highest-risk", 0, "highest-risk-details"},
		"ci/ci":                {"policy-actions", 0, "policy-modes"},
	}
	for _, id := range []string{"audit", "awareness", "ci"} {
		d, _ := findDashboard(dashboards(), id)
		for _, tab := range d.Tabs {
			what := d.ID + "/" + tab.ID
			browserDo(s, "open "+what, chromedp.Navigate(srv.URL+"/dashboards/"+d.ID+"?tab="+tab.ID))
			ps := settle(what)
			if ready := checkPanels(what, ps); ready < len(ps)/2 {
				t.Errorf("%s: only %d of %d panels show data: %+v", what, ready, len(ps), ps)
			}
			s.screenshot("dashboard-" + d.ID + "-" + tab.ID)

			if what == "ci/ci" {
				toggleView()
			}
			dr, ok := drills[what]
			if !ok {
				continue
			}
			xy := browserDo(s, "locate "+dr.source, chromedp.Evaluate[[]float64](dashClickPoint(dr.source, dr.bar)))
			browserDo(s, "click "+dr.source, chromedp.MouseClickXY(xy[0], xy[1]))
			target := browserDo(s, "wait for "+dr.target, chromedp.Poll[dashPanelState](fmt.Sprintf(
				`(function () { var all = %s; if (!all) return false; var p = all.filter(function (x) { return x.id === %q; })[0];
  return p && p.state !== 'waiting' ? p : false; })()`, readDashPanels, dr.target), chromedp.WithPollingTimeout(15*time.Second)))
			if target.State != "ready" || target.Rows == 0 {
				t.Errorf("%s: drill-down %s → %s: %+v", what, dr.source, dr.target, target)
			}
			if u := browserDo(s, "read url", chromedp.Evaluate[string](`location.search`)); u == "" {
				t.Errorf("%s: the drill-down value is not in the URL", what)
			}
			s.screenshot("dashboard-" + d.ID + "-" + tab.ID + "-drill")
		}
	}

	if v := browserDo(s, "read CSP violations", chromedp.Evaluate[[]string](`window.__cspViolations`)); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
	if m := msgs.snapshot(); len(m) > 0 {
		t.Errorf("console errors: %q", m)
	}
}
