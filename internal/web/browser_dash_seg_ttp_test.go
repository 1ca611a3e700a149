package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The SEG and TTP dashboards in headless Chromium over the simulated store (with the SEG extra records): every
// tab of both opens, every panel that does not wait for a drill-down is drawn with data (charts painted, table
// views with rows), one drill-down per dashboard is clicked with the mouse and fills its target, and each tab is
// saved as a screenshot in the artifacts directory.

// startDashBrowser serves the fixture's store logged in and starts Chromium; it returns the session and the server
// URL. Everything stops when the test ends.
func startDashBrowser(t *testing.T, f *simFixture, timeout time.Duration) (*browserSession, string) {
	chromium := requireChromium(t)
	requireVendorAssets(t)
	h := newTestHandler(t, Options{Store: f.DB, Now: func() time.Time { return f.Now }, Static: embeddedAssets(t),
		GeoLookup: fakeCountry, CountryInfo: fakeCountryInfo})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	output := &browserOutput{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000), chromedp.CombinedOutput(output))
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelTimeout)
	msgs := &browserMessages{}
	s := &browserSession{t: t, ctx: ctx, msgs: msgs, output: output}
	if err := chromedp.Listen(ctx, msgs.listen); err != nil {
		t.Fatalf("start chromium %s: %v\nchromium output:\n%s", chromium, err, output.String())
	}
	s.recordCSP()
	return s, srv.URL
}

// waitPanel waits until a panel no longer waits for its drill-down value and has loaded.
func waitPanel(s *browserSession, id string) dashPanelState {
	return browserDo(s, "wait for "+id, chromedp.Poll[dashPanelState](fmt.Sprintf(
		`(function () { var all = %s; if (!all) return false; var p = all.filter(function (x) { return x.id === %q; })[0];
  return p && p.state !== 'waiting' ? p : false; })()`, readDashPanels, id), chromedp.WithPollingTimeout(15*time.Second)))
}

// simHasNoData are the panels the simulated tenant leaves empty: it sends no Advanced Phishing results.
var simHasNoData = map[string]bool{"url-phish-brands": true, "url-phish-evidence": true, "url-phish-tags": true}

func TestBrowserSEGAndTTPDashboards(t *testing.T) {
	f, _ := segFixture(t)
	s, base := startDashBrowser(t, f, 240*time.Second)
	drills := map[string]dashDrill{
		"seg/receipt": {"rejected", 0, "receipt-details"},
		"ttp/url":     {"url-urls", 0, "url-clicks"},
	}
	for _, id := range []string{"seg", "ttp"} {
		d, _ := findDashboard(dashboards(), id)
		for _, tab := range d.Tabs {
			what := d.ID + "/" + tab.ID
			browserDo(s, "open "+what, chromedp.Navigate(base+"/dashboards/"+d.ID+"?tab="+tab.ID+"&range=7d"))
			ps := browserDo(s, "wait for panels of "+what,
				chromedp.Poll[[]dashPanelState](readDashPanels, chromedp.WithPollingTimeout(60*time.Second)))
			for _, p := range ps {
				switch {
				case p.State == "waiting":
				case p.State == "empty" && simHasNoData[p.ID]:
				case p.State != "ready":
					t.Errorf("%s/%s: %s (%s), want data", what, p.ID, p.State, p.Status)
				case p.Kind != "tile" && p.Kind != "table" && p.Painted == 0:
					t.Errorf("%s/%s: %s chart not painted", what, p.ID, p.Kind)
				case p.Rows == 0:
					t.Errorf("%s/%s: its table view has no rows", what, p.ID)
				}
			}
			if len(ps) != len(tab.Panels) {
				t.Errorf("%s: page shows %d panels, the tab has %d", what, len(ps), len(tab.Panels))
			}
			s.screenshot("dashboard-" + d.ID + "-" + tab.ID)

			dr, ok := drills[what]
			if !ok {
				continue
			}
			xy := browserDo(s, "locate "+dr.source, chromedp.Evaluate[[]float64](dashClickPoint(dr.source, dr.bar)))
			browserDo(s, "click "+dr.source, chromedp.MouseClickXY(xy[0], xy[1]))
			if target := waitPanel(s, dr.target); target.State != "ready" || target.Rows == 0 {
				t.Errorf("%s: drill-down %s → %s: %+v", what, dr.source, dr.target, target)
			}
			s.screenshot("dashboard-" + d.ID + "-" + tab.ID + "-drill")
		}
	}
	if v := browserDo(s, "read CSP violations", chromedp.Evaluate[[]string](`window.__cspViolations`)); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
	if m := s.msgs.snapshot(); len(m) > 0 {
		t.Errorf("console errors: %q", m)
	}
}
