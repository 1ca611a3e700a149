package web

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/castwatch/castwatch/internal/auth"
	"github.com/castwatch/castwatch/internal/store"
)

// readAlertRows lists the ids of the alert rows the page shows.
const readAlertRows = `Array.from(document.querySelectorAll('#alert-list tr.alert-row')).map(function (tr) { return tr.dataset.alertId; })`

// readAttackCells gives each technique's first cell classes ("covered fired") by id.
const readAttackCells = `(function () {
  var out = {};
  document.querySelectorAll('#attack-matrix .tcell').forEach(function (c) {
    if (!(c.dataset.technique in out)) { out[c.dataset.technique] = c.className.replace('tcell', '').trim(); }
  });
  return out;
})()`

// ready is true once triage.js has wired the page.
const ready = `document.body.dataset.triage === 'ready'`

// TestBrowserTriage drives the triage pages in headless Chromium as an analyst would: list alerts, open one and see
// its matched events, close it, bulk-close two, and read covered and fired cells on the ATT&CK matrix.
func TestBrowserTriage(t *testing.T) {
	chromium := requireChromium(t)
	requireVendorAssets(t)
	th := newTriageHarness(t, embeddedAssets(t))
	srv := httptest.NewServer(th.ts.as(t, auth.RoleAnalyst))
	defer srv.Close()

	s := startBrowser(t, chromium)
	s.recordCSP()
	screenshot := s.screenshot
	checkClean := func(stage string) {
		t.Helper()
		if v := browserDo(s, "read CSP violations", chromedp.Evaluate[[]string](`window.__cspViolations || []`)); len(v) > 0 {
			t.Errorf("%s: CSP violations: %q", stage, v)
		}
		if m := s.msgs.snapshot(); len(m) > 0 {
			t.Errorf("%s: console errors: %q", stage, m)
		}
	}
	// poll waits until expr is true; the page reloads meanwhile, so a failed evaluation is retried.
	poll := func(what, expr string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok, err := chromedp.Run(s.ctx, chromedp.Evaluate[bool](expr))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not reached in 5s (last error %v); page messages: %q", what, err, s.msgs.snapshot())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The list over 28 days: all four alerts, newest first.
	browserDo(s, "open alerts", chromedp.Navigate(srv.URL+"/alerts?range=28d"))
	rows := browserDo(s, "read alert rows", chromedp.Evaluate[[]string](readAlertRows))
	if !slices.Equal(rows, []string{"al-a", "al-b", "al-c", "al-d"}) {
		t.Fatalf("alert rows %v", rows)
	}
	screenshot("triage-alerts.png")

	// Open the newest alert: its three matched events are listed.
	browserSteps(s, "open alert al-a", chromedp.Click(`tr[data-alert-id="al-a"] a.alert-link`), chromedp.WaitVisible("#events"))
	events := browserDo(s, "read matched events", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('#events tr.event-row')).map(function (tr) { return tr.dataset.eventId; })`))
	if !slices.Equal(events, []string{"ev1", "ev2", "ev3"}) {
		t.Errorf("matched events %v", events)
	}
	screenshot("triage-alert.png")
	checkClean("alert page")

	// Close it: the page reloads with the new status.
	poll("wait for the page script", ready)
	browserSteps(s, "close the alert", chromedp.Click("#close-alert"))
	poll("wait for status closed", `(function () { var el = document.getElementById('alert-status'); return !!el && el.textContent.trim() === 'closed'; })()`)

	// Bulk-close the two open alerts left.
	browserDo(s, "open the open alerts", chromedp.Navigate(srv.URL+"/alerts?range=28d&status=open"))
	if rows = browserDo(s, "read open rows", chromedp.Evaluate[[]string](readAlertRows)); !slices.Equal(rows, []string{"al-b", "al-c"}) {
		t.Fatalf("open rows %v", rows)
	}
	poll("wait for the page script", ready)
	browserSteps(s, "select both and close", chromedp.Click("#select-all"), chromedp.Click("#bulk-close"))
	poll("wait for the list to empty", `document.querySelectorAll('#alert-list tr.alert-row').length === 0 && !!document.querySelector('#alert-list tr.empty-row')`)
	checkClean("bulk close")
	got := map[string]string{}
	as, err := th.db.Alerts(context.Background(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		got[a.ID] = a.Status
	}
	if want := map[string]string{"al-a": "closed", "al-b": "closed", "al-c": "closed", "al-d": "closed"}; !mapsEqual(got, want) {
		t.Errorf("stored statuses %v, want %v", got, want)
	}

	// The ATT&CK matrix over 7 days: T1110 and T1566 covered and fired, T1030 only covered.
	browserDo(s, "open ATT&CK", chromedp.Navigate(srv.URL+"/attack?range=7d"))
	cells := browserDo(s, "read matrix", chromedp.Evaluate[map[string]string](readAttackCells))
	for id, want := range map[string]string{"T1110": "covered fired", "T1566": "covered fired", "T1030": "covered", "T1114": ""} {
		if cells[id] != want {
			t.Errorf("cell %s: %q, want %q", id, cells[id], want)
		}
	}
	screenshot("triage-attack.png")
	checkClean("attack page")
}
