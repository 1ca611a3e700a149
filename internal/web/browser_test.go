package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// The browser test drives the real overview page in headless Chromium: the embedded templates, app.js, the
// vendored htmx and ECharts, the Content-Security-Policy and a DuckDB store, all together.

// defaultChromium is where Debian's chromium package installs the browser; CASTWATCH_CHROMIUM overrides it.
const defaultChromium = "/usr/bin/chromium"

// browserNow is the fixed clock of the browser test.
var browserNow = time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)

// browserEvent is one Audit_CL record of the browser test's store.
type browserEvent struct {
	id, auditType, user, ip string
	at                      time.Time
}

func browserAt(day, hour, minute int) time.Time {
	return time.Date(2026, 3, day, hour, minute, 0, 0, time.UTC)
}

const (
	browserFailedLogon = "Logon Authentication Failed"
	browserLoggedOn    = "User Logged On"
)

// browserEvents: failed logons spread over 04:00–12:30 on 10 March by three users, one older failure (dave, three
// days earlier) and two successful logons. The expected numbers in TestBrowserOverview are worked out by hand from
// this list.
var browserEvents = []browserEvent{
	{"f01", browserFailedLogon, "alice@example.com", "203.0.113.7", browserAt(10, 4, 10)},
	{"f02", browserFailedLogon, "alice@example.com", "203.0.113.7", browserAt(10, 5, 20)},
	{"f03", browserFailedLogon, "bob@example.com", "198.51.100.23", browserAt(10, 6, 30)},
	{"f04", browserFailedLogon, "alice@example.com", "203.0.113.7", browserAt(10, 7, 5)},
	{"f05", browserFailedLogon, "bob@example.com", "198.51.100.23", browserAt(10, 8, 0)},
	{"f06", browserFailedLogon, "bob@example.com", "198.51.100.23", browserAt(10, 9, 10)},
	{"f07", browserFailedLogon, "alice@example.com", "203.0.113.7", browserAt(10, 9, 45)},
	{"f08", browserFailedLogon, "alice@example.com", "203.0.113.7", browserAt(10, 10, 15)},
	{"f09", browserFailedLogon, "carol@example.com", "192.0.2.10", browserAt(10, 10, 40)},
	{"f10", browserFailedLogon, "bob@example.com", "198.51.100.23", browserAt(10, 11, 20)},
	{"f11", browserFailedLogon, "alice@example.com", "203.0.113.7", browserAt(10, 11, 50)},
	{"f12", browserFailedLogon, "carol@example.com", "203.0.113.7", browserAt(10, 12, 5)},
	{"f13", browserFailedLogon, "dave@example.com", "2001:db8::5", browserAt(7, 15, 0)},
	{"s01", browserLoggedOn, "alice@example.com", "203.0.113.7", browserAt(10, 8, 20)},
	{"s02", browserLoggedOn, "bob@example.com", "198.51.100.23", browserAt(10, 12, 10)},
}

// browserAlerts: one alert inside the last 4 hours, one from two days ago. The second names a hostile entity that
// must show as text.
var browserAlerts = []schema.Alert{
	{
		ID: "al-burst", Tenant: "acme", RuleID: "mimecast-failed-logon-burst", RuleVersion: "1.0.0",
		Title: "Burst of failed logons for alice@example.com", Severity: "High",
		Tactics: []string{"CredentialAccess"}, Techniques: []string{"T1110"},
		Entities: []schema.Entity{{Type: "user", Value: "alice@example.com"}, {Type: "ip", Value: "203.0.113.7"}},
		EventIDs: []string{"f07", "f08", "f11"}, GroupKey: "alice@example.com",
		FirstEvent: browserAt(10, 9, 45), LastEvent: browserAt(10, 11, 50), Created: browserAt(10, 12, 0),
		Explanation: "3 failed logons in 2 hours", Status: "new",
	},
	{
		ID: "al-spray", Tenant: "acme", RuleID: "mimecast-password-spray", RuleVersion: "1.0.0",
		Title: "Password spray from 198.51.100.23", Severity: "Medium",
		Tactics: []string{"CredentialAccess"}, Techniques: []string{"T1110.003"},
		Entities: []schema.Entity{{Type: "ip", Value: "198.51.100.23"}, {Type: "user", Value: "eve<img src=/static/x.png>@example.com"}},
		EventIDs: []string{"f03"}, GroupKey: "198.51.100.23",
		FirstEvent: browserAt(8, 5, 0), LastEvent: browserAt(8, 5, 40), Created: browserAt(8, 6, 0),
		Explanation: "failed logons for many users from one address", Status: "new",
	},
}

// openBrowserStore returns an in-memory DuckDB store holding browserEvents and browserAlerts.
func openBrowserStore(t *testing.T) *duckdb.DB {
	t.Helper()
	ctx := context.Background()
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1, Tables: []*schema.Table{&schema.Audit}})
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	rows := make([]schema.Row, 0, len(browserEvents))
	for _, e := range browserEvents {
		raw, err := json.Marshal(schema.AuditRecord{
			ID: e.id, AuditType: e.auditType, User: e.user, EventTime: schema.FormatAPITime(e.at),
			EventInfo: fmt.Sprintf("Authentication for %s, Date: %s, Time: %s GMT, IP: %s, Application: Administration Console, Method: Cloud",
				e.user, e.at.Format("2006-01-02"), e.at.Format("15:04:05"), e.ip),
			Category: "authentication_logs",
		})
		if err != nil {
			t.Fatal(err)
		}
		row, err := schema.Audit.Decode("acme", raw, browserNow)
		if err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		rows = append(rows, row)
	}
	if n, err := db.WriteRows(ctx, &schema.Audit, rows); err != nil || n != len(rows) {
		t.Fatalf("write rows: inserted %d of %d: %v", n, len(rows), err)
	}
	if n, err := db.UpsertAlerts(ctx, browserAlerts); err != nil || n != len(browserAlerts) {
		t.Fatalf("upsert alerts: inserted %d of %d: %v", n, len(browserAlerts), err)
	}
	return db
}

// requireChromium returns the Chromium binary, failing the test with install instructions when it is absent.
func requireChromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CASTWATCH_CHROMIUM")
	if path == "" {
		path = defaultChromium
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		t.Fatalf("browser test needs Chromium at %s (%v). Install it with:\n"+
			"    apt-get update && apt-get install -y chromium\n"+
			"or point CASTWATCH_CHROMIUM at a Chromium/Chrome binary.", path, err)
	}
	return path
}

// requireVendorAssets fails the test, saying how to build them, when the embedded static tree lacks htmx or ECharts.
func requireVendorAssets(t *testing.T) {
	t.Helper()
	var missing []string
	for _, name := range []string{htmxAsset, echartsAsset} {
		st, err := fs.Stat(embeddedStatic, "static/"+name)
		if err != nil || st.Size() == 0 {
			missing = append(missing, "internal/web/static/"+name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("browser test needs the vendored front-end assets, missing: %s. Build them with:\n"+
			"    cd web && npm ci && npm run build    (or: make web)\n"+
			"then run the test again (they are embedded at compile time).", strings.Join(missing, ", "))
	}
}

// browserMessages collects what the page reports: console calls, uncaught exceptions, browser log entries and CSP
// violations.
type browserMessages struct {
	mu   sync.Mutex
	msgs []string // problems: the test fails on each
	// notes are browser log warnings (deprecations, interventions): logged, not failed on, because they depend on
	// the Chromium version rather than on the page.
	notes []string
}

func (p *browserMessages) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, fmt.Sprintf(format, args...))
}

func (p *browserMessages) note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

func (p *browserMessages) snapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

func (p *browserMessages) notesSnapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.notes...)
}

// listen records the page's problems: console.error/warn/assert calls, uncaught exceptions and browser log
// entries at error level (CSP violations, failed loads). Browser log warnings become notes.
func (p *browserMessages) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		switch ev.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeWarning, runtime.ConsoleAPICalledTypeAssert:
			var parts []string
			for _, a := range ev.Args {
				switch {
				case len(a.Value) > 0:
					parts = append(parts, string(a.Value))
				default:
					parts = append(parts, a.Description)
				}
			}
			p.add("console.%s: %s", ev.Type, strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		p.add("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, text)
	case *log.EventEntryAdded:
		e := ev.Entry
		switch e.Level {
		case log.EntryLevelError:
			p.add("browser log %s/%s: %s %s", e.Source, e.Level, e.Text, e.URL)
		case log.EntryLevelWarning:
			p.note("browser log %s/%s: %s %s", e.Source, e.Level, e.Text, e.URL)
		}
	}
}

// browserCSPRecorder is installed by DevTools before any page script runs (so the page's CSP does not apply to it) and
// keeps every securitypolicyviolation event the document fires.
const browserCSPRecorder = `window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});`

// browserOverviewState is what the page shows, read from the DOM and the ECharts instance.
type browserOverviewState struct {
	Range        string            `json:"range"`
	URLRange     string            `json:"urlRange"`
	Stats        map[string]string `json:"stats"`
	Users        [][]string        `json:"users"`
	IPs          [][]string        `json:"ips"`
	Alerts       [][]string        `json:"alerts"`
	AlertImages  int               `json:"alertImages"`
	ChartState   string            `json:"chartState"`
	CanvasWidth  int               `json:"canvasWidth"`
	CanvasHeight int               `json:"canvasHeight"`
	BarPixels    int               `json:"barPixels"`
	Points       int               `json:"points"`
	NonZero      int               `json:"nonZero"`
	Total        int               `json:"total"`
	Headers      int               `json:"headers"`
	Overviews    int               `json:"overviews"`
}

// readBrowserOverview collects browserOverviewState. barPixels counts canvas pixels in the bar colour (#c2410c), which proves
// ECharts drew the bars and not just an empty canvas.
const readBrowserOverview = `(function () {
  var rows = function (sel) {
    return Array.from(document.querySelectorAll(sel)).map(function (tr) {
      return Array.from(tr.cells).map(function (td) { return td.textContent.trim().replace(/\s+/g, ' '); });
    });
  };
  var stats = {};
  document.querySelectorAll('#summary [data-stat]').forEach(function (el) { stats[el.dataset.stat] = el.textContent.trim(); });
  var chartEl = document.getElementById('failed-logons-chart');
  var canvas = chartEl ? chartEl.querySelector('canvas') : null;
  var barPixels = 0;
  if (canvas && canvas.width > 0 && canvas.height > 0) {
    var px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (var i = 0; i < px.length; i += 4) {
      if (Math.abs(px[i] - 0xc2) < 8 && Math.abs(px[i + 1] - 0x41) < 8 && Math.abs(px[i + 2] - 0x0c) < 8 && px[i + 3] > 200) {
        barPixels++;
      }
    }
  }
  var inst = chartEl && window.echarts ? window.echarts.getInstanceByDom(chartEl) : null;
  var data = inst ? inst.getOption().series[0].data : [];
  var ov = document.querySelector('#overview .overview');
  return {
    range: ov ? ov.dataset.range : '',
    urlRange: new URL(location.href).searchParams.get('range') || '',
    stats: stats,
    users: rows('#top-users tbody tr'),
    ips: rows('#top-ips tbody tr'),
    alerts: Array.from(document.querySelectorAll('#alerts tbody tr.alert-row')).map(function (tr) {
      return [tr.dataset.alertId, tr.cells[1].textContent.trim(), tr.cells[2].firstChild.textContent.trim(),
        Array.from(tr.cells[3].querySelectorAll('.chip')).map(function (c) { return c.textContent.trim(); }).join(' | ')];
    }),
    alertImages: document.querySelectorAll('#alerts img').length,
    chartState: chartEl ? chartEl.dataset.state : '',
    canvasWidth: canvas ? canvas.width : 0,
    canvasHeight: canvas ? canvas.height : 0,
    barPixels: barPixels,
    points: data.length,
    nonZero: data.filter(function (p) { return p[1] > 0; }).length,
    total: data.reduce(function (s, p) { return s + p[1]; }, 0),
    headers: document.querySelectorAll('header.topbar').length,
    overviews: document.querySelectorAll('.overview').length
  };
})()`

// browserChartSettled waits until the chart for the given range has left pending/loading and, when ready, has painted.
func browserChartSettled(rangeName string) string {
	return fmt.Sprintf(`(function () {
  var ov = document.querySelector('#overview .overview[data-range=%q]');
  var el = ov && ov.querySelector('#failed-logons-chart');
  if (!el) { return false; }
  var s = el.dataset.state;
  if (s === 'pending' || s === 'loading') { return false; }
  if (s === 'ready' && !el.querySelector('canvas')) { return false; }
  return s;
})()`, rangeName)
}

// browserSession runs chromedp actions and fails the test with the page's messages and Chromium's output.
type browserSession struct {
	t      *testing.T
	ctx    context.Context
	msgs   *browserMessages
	output *browserOutput
}

// recordCSP makes every page the session opens record Content-Security-Policy violations in
// window.__cspViolations (see browserCSPRecorder).
func (s *browserSession) recordCSP() {
	s.t.Helper()
	browserDo(s, "install CSP recorder", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: browserCSPRecorder})
		return err
	}))
}

// screenshot saves the full page as name (".png" added when missing) in the artifacts directory
// (CASTWATCH_ARTIFACTS, else the test's temporary directory).
func (s *browserSession) screenshot(name string) {
	s.t.Helper()
	png := browserDo(s, "screenshot "+name, chromedp.FullScreenshot(100)) // quality 100 is PNG
	if !strings.HasSuffix(name, ".png") {
		name += ".png"
	}
	path := filepath.Join(browserArtifactsDir(s.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("screenshot: %s", path)
}

func browserDo[T any](s *browserSession, what string, a chromedp.Action[T]) T {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, a)
	if err != nil {
		s.t.Fatalf("%s: %v\npage messages: %q\nchromium output:\n%s", what, err, s.msgs.snapshot(), s.output.String())
	}
	return v
}

// browserOutput is Chromium's combined output, written by the allocator's goroutine.
type browserOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *browserOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *browserOutput) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func browserArtifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CASTWATCH_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	return dir
}

// TestBrowserOverview loads the overview page in headless Chromium and checks what a user sees: the ECharts bar
// chart, the tables, the alerts, the htmx range switch and a clean console under the Content-Security-Policy.
func TestBrowserOverview(t *testing.T) {
	chromium := requireChromium(t)
	requireVendorAssets(t)
	started := time.Now()

	db := openBrowserStore(t)
	var syncs atomic.Int32
	h := newTestHandler(t, Options{
		Store:   db,
		Version: "browser-test",
		Now:     func() time.Time { return browserNow },
		Sync:    func(context.Context) error { syncs.Add(1); return nil },
		Static:  embeddedAssets(t),
	})
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	hitCount := func(key string) int {
		mu.Lock()
		defer mu.Unlock()
		return hits[key]
	}

	s := startBrowser(t, chromium)
	ctx, msgs := s.ctx, s.msgs
	s.recordCSP()
	violations := func() []string {
		return browserDo(s, "read CSP violations", chromedp.Evaluate[[]string](`window.__cspViolations`))
	}
	// checkClean fails on CSP violations and console problems that appeared since the previous check.
	var seenViolations, seenMsgs int
	checkClean := func(stage string) {
		t.Helper()
		if v := violations(); len(v) > seenViolations {
			t.Errorf("%s: CSP violations: %q", stage, v[seenViolations:])
			seenViolations = len(v)
		}
		if m := msgs.snapshot(); len(m) > seenMsgs {
			t.Errorf("%s: console errors: %q", stage, m[seenMsgs:])
			seenMsgs = len(m)
		}
	}
	defer func() {
		if n := msgs.notesSnapshot(); len(n) > 0 {
			t.Logf("browser warnings (not failed on): %q", n)
		}
	}()
	screenshot := s.screenshot

	// --- first load: last 14 days ---
	// waitChart waits for the overview of rangeName with its chart drawn, and explains what the page shows instead.
	waitChart := func(rangeName string) {
		t.Helper()
		st, err := chromedp.Run(ctx, chromedp.Poll[string](browserChartSettled(rangeName), chromedp.WithPollingTimeout(5*time.Second)))
		if err == nil && st == "ready" {
			return
		}
		now, _ := chromedp.Run(ctx, chromedp.Evaluate[browserOverviewState](readBrowserOverview))
		t.Fatalf("waiting for the %s overview with a drawn chart: state %q, err %v; the page shows range %q with chart state %q "+
			"(%d fragment requests so far); page messages: %q", rangeName, st, err, now.Range, now.ChartState,
			hitCount("GET /fragments/overview"), msgs.snapshot())
	}

	browserDo(s, "open overview", chromedp.Navigate(srv.URL+"/"))
	waitChart("14d")
	got := browserDo(s, "read overview", chromedp.Evaluate[browserOverviewState](readBrowserOverview))
	screenshot("overview.png")

	t.Run("initial chart", func(t *testing.T) {
		if got.CanvasWidth <= 0 || got.CanvasHeight <= 0 {
			t.Errorf("chart canvas is %dx%d, want a drawn canvas", got.CanvasWidth, got.CanvasHeight)
		}
		if got.BarPixels == 0 {
			t.Error("chart canvas has no pixels in the bar colour: ECharts drew no bars")
		}
		// 14 days of hourly buckets: from 24 Feb 12:00 to 10 Mar 12:00 inclusive.
		if got.Points != 14*24+1 {
			t.Errorf("chart points = %d, want %d hourly buckets", got.Points, 14*24+1)
		}
		// Hours with failures: 7 Mar 15:00 and 10 Mar 04:00 through 12:00.
		if got.NonZero != 10 || got.Total != 13 {
			t.Errorf("chart has %d non-zero buckets totalling %d, want 10 totalling 13", got.NonZero, got.Total)
		}
	})
	t.Run("initial tables", func(t *testing.T) {
		checkBrowserOverview(t, got, browserOverviewWant{
			rangeName: "14d",
			stats:     map[string]string{"events": "15", "failures": "13", "failing-users": "4", "alerts": "2"},
			users: [][]string{
				{"alice@example.com", "6", "2026-03-10 11:50:00"},
				{"bob@example.com", "4", "2026-03-10 11:20:00"},
				{"carol@example.com", "2", "2026-03-10 12:05:00"},
				{"dave@example.com", "1", "2026-03-07 15:00:00"},
			},
			ips: [][]string{
				{"203.0.113.7", "7", "2", "2026-03-10 12:05:00"},
				{"198.51.100.23", "4", "1", "2026-03-10 11:20:00"},
				{"192.0.2.10", "1", "1", "2026-03-10 10:40:00"},
				{"2001:db8::5", "1", "1", "2026-03-07 15:00:00"},
			},
			alerts: [][]string{
				{"al-burst", "High", "Burst of failed logons for alice@example.com", "user alice@example.com | ip 203.0.113.7"},
				{"al-spray", "Medium", "Password spray from 198.51.100.23", "ip 198.51.100.23 | user eve<img src=/static/x.png>@example.com"},
			},
		})
		if got.AlertImages != 0 {
			t.Errorf("alerts table holds %d <img> elements: an entity value was not escaped", got.AlertImages)
		}
	})
	checkClean("initial load")

	// --- switch to the last 4 hours through the range control (htmx fragment swap, no page load) ---
	browserDo(s, "mark the document", chromedp.Evaluate[chromedp.Void](`window.__sameDocument = 'yes'`))
	browserDo(s, "choose last 4 hours", chromedp.Evaluate[chromedp.Void](`(function () {
  var sel = document.getElementById('range');
  sel.value = '4h';
  sel.dispatchEvent(new Event('change', { bubbles: true }));
})()`))
	waitChart("4h")
	after := browserDo(s, "read overview after range change", chromedp.Evaluate[browserOverviewState](readBrowserOverview))
	sameDoc := browserDo(s, "read document mark", chromedp.Evaluate[string](`String(window.__sameDocument)`))
	screenshot("overview-4h.png")

	t.Run("range change swaps the fragment", func(t *testing.T) {
		if sameDoc != "yes" {
			t.Error("changing the range reloaded the page instead of swapping the fragment")
		}
		if n := hitCount("GET /fragments/overview"); n != 1 {
			t.Errorf("fragment requests = %d, want 1", n)
		}
		if n := hitCount("GET /"); n != 1 {
			t.Errorf("page loads = %d, want 1", n)
		}
		if after.Headers != 1 || after.Overviews != 1 {
			t.Errorf("after swap the page has %d top bars and %d overviews, want 1 and 1", after.Headers, after.Overviews)
		}
		if after.URLRange != "4h" {
			t.Errorf("address bar range = %q, want 4h", after.URLRange)
		}
		checkBrowserOverview(t, after, browserOverviewWant{
			rangeName: "4h",
			stats:     map[string]string{"events": "8", "failures": "7", "failing-users": "3", "alerts": "1"},
			users: [][]string{
				{"alice@example.com", "3", "2026-03-10 11:50:00"},
				{"bob@example.com", "2", "2026-03-10 11:20:00"},
				{"carol@example.com", "2", "2026-03-10 12:05:00"},
			},
			ips: [][]string{
				{"203.0.113.7", "4", "2", "2026-03-10 12:05:00"},
				{"198.51.100.23", "2", "1", "2026-03-10 11:20:00"},
				{"192.0.2.10", "1", "1", "2026-03-10 10:40:00"},
			},
			alerts: [][]string{
				{"al-burst", "High", "Burst of failed logons for alice@example.com", "user alice@example.com | ip 203.0.113.7"},
			},
		})
		// 08:00 to 12:00; failures in 09:00 (2), 10:00 (2), 11:00 (2) and 12:00 (1).
		if after.Points != 5 || after.NonZero != 4 || after.Total != 7 {
			t.Errorf("4h chart: %d points, %d non-zero, total %d; want 5, 4, 7", after.Points, after.NonZero, after.Total)
		}
		if after.CanvasWidth <= 0 || after.BarPixels == 0 {
			t.Errorf("4h chart not drawn: canvas width %d, bar pixels %d", after.CanvasWidth, after.BarPixels)
		}
	})
	checkClean("range change")

	// --- Sync now posts through htmx (same-origin, so cross-origin protection lets it through) ---
	browserDo(s, "press sync now", chromedp.Click(chromedp.ID("sync-now")))
	status := browserDo(s, "wait for sync status", chromedp.Poll[string](
		`(function () { var m = document.querySelector('#sync-status .sync-msg'); return m ? m.dataset.syncStatus : false; })()`,
		chromedp.WithPollingTimeout(5*time.Second)))
	t.Run("sync now", func(t *testing.T) {
		if status != "accepted" {
			t.Errorf("sync status = %q, want accepted", status)
		}
		if n := syncs.Load(); n != 1 {
			t.Errorf("sync started %d times, want 1", n)
		}
	})
	checkClean("sync")

	// --- the detectors themselves: an inline script must be refused and reported on both channels ---
	t.Run("violation detection works", func(t *testing.T) {
		browserDo(s, "inject inline script", chromedp.Evaluate[chromedp.Void](`(function () {
  var el = document.createElement('script');
  el.textContent = 'window.__inlineRan = true;';
  document.head.appendChild(el);
})()`))
		v := browserDo(s, "wait for the violation", chromedp.Poll[[]string](
			fmt.Sprintf(`window.__cspViolations.length > %d ? window.__cspViolations.slice(%d) : false`, seenViolations, seenViolations),
			chromedp.WithPollingTimeout(5*time.Second)))
		if len(v) != 1 || !strings.Contains(v[0], "script-src") {
			t.Errorf("CSP violations = %q, want one script-src violation", v)
		}
		ran := browserDo(s, "check inline script", chromedp.Evaluate[bool](`window.__inlineRan === true`))
		if ran {
			t.Error("inline script ran despite the Content-Security-Policy")
		}
		deadline := time.Now().Add(3 * time.Second)
		for len(msgs.snapshot()) == seenMsgs && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if m := msgs.snapshot()[seenMsgs:]; len(m) == 0 || !strings.Contains(strings.Join(m, "\n"), "Content Security Policy") {
			t.Errorf("console listener did not report the CSP violation; got %q", m)
		}
	})

	if d := time.Since(started); d > 15*time.Second {
		t.Errorf("browser test took %s, keep it under 15s", d.Round(time.Millisecond))
	}
}

// browserOverviewWant is what the overview should show for one range.
type browserOverviewWant struct {
	rangeName          string
	stats              map[string]string
	users, ips, alerts [][]string
}

func checkBrowserOverview(t *testing.T, got browserOverviewState, want browserOverviewWant) {
	t.Helper()
	if got.Range != want.rangeName {
		t.Errorf("overview range = %q, want %q", got.Range, want.rangeName)
	}
	if got.ChartState != "ready" {
		t.Errorf("chart state = %q, want ready", got.ChartState)
	}
	for k, v := range want.stats {
		if got.Stats[k] != v {
			t.Errorf("summary %s = %q, want %q", k, got.Stats[k], v)
		}
	}
	compareBrowserRows(t, "top users", got.Users, want.users)
	compareBrowserRows(t, "top source IPs", got.IPs, want.ips)
	compareBrowserRows(t, "alerts", got.Alerts, want.alerts)
}

func compareBrowserRows(t *testing.T, table string, got, want [][]string) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s table:\n got  %s\n want %s", table, g, w)
	}
}
