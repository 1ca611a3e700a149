package web

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/castwatch/castwatch/internal/store"
)

// TestBrowserUsersConnectorsSearch drives the Users, human-risk, Connectors and Search pages in headless Chromium
// with the real templates, htmx, pages.js and CSP over the people DuckDB store: open the users list and a user's
// timeline, read the risk ranking, press "Sync now" on a stream and see its last run change, and search a table.
func TestBrowserUsersConnectorsSearch(t *testing.T) {
	chromium := requireChromium(t)
	requireVendorAssets(t)
	db := openPeopleStore(t)
	saveTestConnectors(t, db)
	synced := testNow.Add(-5 * time.Second)
	h := newTestHandler(t, Options{Store: db, GeoLookup: fakeGeo, Static: embeddedAssets(t), Version: "browser-test",
		// The fake run finishes at once: it records a successful run of the stream in the store.
		SyncStream: func(ctx context.Context, tenant, stream string) error {
			return db.SaveConnector(ctx, store.Connector{Tenant: tenant, Stream: stream, State: "ok", LastRun: synced,
				LastSuccess: synced, Rows: 10, Pages: 1, Interval: 5 * time.Minute, Updated: synced})
		},
		TestCredentials: func(context.Context, string) error { return nil },
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	s := startBrowser(t, chromium)
	s.recordCSP()
	screenshot := s.screenshot
	texts := func(what, selector string) []string {
		t.Helper()
		return browserDo(s, what, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(`+jsString(selector)+`)).map(function (e) { return e.textContent.trim(); })`))
	}
	attrs := func(what, selector, attr string) []string {
		t.Helper()
		return browserDo(s, what, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(`+jsString(selector)+`)).map(function (e) { return e.getAttribute(`+jsString(attr)+`); })`))
	}

	// Users list → alice → her timeline.
	browserDo(s, "open users", chromedp.Navigate(srv.URL+"/users"))
	browserSteps(s, "users table", chromedp.WaitVisible(`#users tr.user-row`))
	if got := attrs("users", "#users tr.user-row", "data-mailbox"); len(got) != 6 || got[0] != "alice@example.com" {
		t.Errorf("users list = %v", got)
	}
	screenshot("users.png")
	browserSteps(s, "open alice", chromedp.Click(`#users tr[data-mailbox="alice@example.com"] a`), chromedp.WaitVisible(`#timeline tr.tl-row`))
	kinds := attrs("timeline", "#timeline tr.tl-row", "data-kind")
	if len(kinds) != 13 || kinds[len(kinds)-1] != "url" {
		t.Errorf("timeline kinds = %v", kinds)
	}
	if risk := texts("awareness", `#awareness [data-field="risk"]`); len(risk) != 1 || risk[0] != "D" {
		t.Errorf("awareness risk = %v", risk)
	}
	screenshot("user.png")

	// Human risk, reached through the Users tab's sub-navigation.
	browserSteps(s, "open human risk", chromedp.Click(`nav.subnav a[href^="/users/risk"]`), chromedp.WaitVisible(`#risk tr.risk-row`))
	if got := attrs("risk rows", "#risk tr.risk-row", "data-score"); strings.Join(got, ",") != "81,40,25,23,15,0" {
		t.Errorf("risk scores = %v", got)
	}
	screenshot("human-risk.png")

	// Connectors: "Sync now" on acme/dlp, then the table reloads with the new last run.
	browserDo(s, "open connectors", chromedp.Navigate(srv.URL+"/connectors"))
	row := `#connectors tr[data-stream="dlp"]`
	browserSteps(s, "connectors table", chromedp.WaitVisible(row))
	if got := attrs("dlp state", row, "data-state"); len(got) != 1 || got[0] != "error" {
		t.Fatalf("dlp state before sync = %v", got)
	}
	browserSteps(s, "press Sync now", chromedp.Click(row+` button.sync-stream`))
	want := synced.Format(time.RFC3339)
	browserDo(s, "wait for the new last run",
		chromedp.Poll[bool](`(function () { var r = document.querySelector(`+jsString(row)+`); return !!r && r.dataset.lastRun === `+jsString(want)+` && r.dataset.state === 'ok'; })()`,
			chromedp.WithPollingTimeout(10*time.Second)))
	if got := texts("dlp last run", row+" td.last-run"); len(got) != 1 || got[0] != "2026-03-10 12:29:55" {
		t.Errorf("dlp last run shown = %v", got)
	}
	browserSteps(s, "test credentials", chromedp.Click(`#tenants button.test-credentials`),
		chromedp.WaitVisible(`#tenants [data-action-status="ok"]`))
	screenshot("connectors.png")

	// Search: choose a table (the form reloads with its columns), add a condition, run.
	browserDo(s, "open search", chromedp.Navigate(srv.URL+"/search"))
	// SetValue fires the change event; pages.js reloads the form, which then offers the table's columns.
	browserSteps(s, "choose Audit_CL", chromedp.SetValue(`#rel`, "Audit_CL"))
	// Wait for the reloaded form (it offers Audit_CL's columns): acting on the old form's nodes while htmx swaps
	// them fails with "could not find node".
	// The reload is a navigation, which ends the page's script context: poll from here, ignoring those errors.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ready, err := chromedp.Run(s.ctx, chromedp.Evaluate[bool](
			`document.querySelector('tr.condition:first-child select[name="col"] option[value="user"]') !== null`))
		if err == nil && ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the search form did not reload with Audit_CL's columns: %v", err)
		}
	}
	// chromedp may still hold node ids of the document the reload replaced ("could not find node with given
	// id"): filling is idempotent, so try again until it takes.
	for attempt := 1; ; attempt++ {
		err := chromedp.Do(s.ctx,
			chromedp.SetValue(`tr.condition:first-child select[name="col"]`, "user"),
			chromedp.SetValue(`tr.condition:first-child select[name="op"]`, "contains"),
			chromedp.SetValue(`tr.condition:first-child input[name="val"]`, "alice"))
		if err == nil {
			break
		}
		if attempt == 20 {
			t.Fatalf("fill a condition: %v\npage messages: %q\nchromium output:\n%s", err, s.msgs.snapshot(), s.output.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	browserSteps(s, "run the search", chromedp.Click(`#run-search`), chromedp.WaitVisible(`#results`))
	// 14 days: l1, l2 and l4 are alice's (l1 spelled Alice@Example.com).
	if got := attrs("results", "#results", "data-rows"); len(got) != 1 || got[0] != "3" {
		t.Errorf("search rows = %v", got)
	}
	if n := len(texts("result rows", "#result-table tr.result-row")); n != 3 {
		t.Errorf("result table shows %d rows", n)
	}
	screenshot("search.png")

	if v := browserDo(s, "CSP violations", chromedp.Evaluate[[]string](`window.__cspViolations`)); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
	if m := s.msgs.snapshot(); len(m) > 0 {
		t.Errorf("console problems: %q", m)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
