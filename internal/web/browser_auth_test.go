package web

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/castwatch/castwatch/internal/auth"
)

// startBrowser starts headless Chromium for a browser test; it stops when the test ends.
func startBrowser(t *testing.T, chromium string) *browserSession {
	t.Helper()
	output := &browserOutput{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(output),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	ctx, cancelTimeout := context.WithTimeout(ctx, 40*time.Second)
	t.Cleanup(cancelTimeout)

	msgs := &browserMessages{}
	if err := chromedp.Listen(ctx, msgs.listen); err != nil {
		t.Fatalf("start chromium %s: %v\nchromium output:\n%s", chromium, err, output.String())
	}
	return &browserSession{t: t, ctx: ctx, msgs: msgs, output: output}
}

// browserSteps runs actions in order and fails the test like browserDo.
func browserSteps(s *browserSession, what string, steps ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	if err := chromedp.Do(s.ctx, steps...); err != nil {
		s.t.Fatalf("%s: %v\npage messages: %q\nchromium output:\n%s", what, err, s.msgs.snapshot(), s.output.String())
	}
}

// browserLogin logs in through the real login form at base and waits for the page it leads to.
func browserLogin(s *browserSession, base, user, password string) {
	s.t.Helper()
	browserDo(s, "open the login page", chromedp.Navigate(base+"/login"))
	browserSteps(s, "fill the login form",
		chromedp.WaitVisible("#login-form"),
		chromedp.SendKeys("#username", user),
		chromedp.SendKeys("#password", password),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#account"),
	)
}

// TestBrowserLogin logs in through the form, sees the overview, logs out and is sent back to the login page; a
// request without session, and a state change without the CSRF token, are refused.
func TestBrowserLogin(t *testing.T) {
	chromium := requireChromium(t)
	requireVendorAssets(t)
	ts := newTestServer(t, Options{Store: openBrowserStore(t), Version: "browser-test",
		Now: func() time.Time { return browserNow }, Static: embeddedAssets(t),
		Sync: func(context.Context) error { return nil },
		// Connector actions are configured, so only the role keeps them from a viewer.
		SyncStream:      func(context.Context, string, string) error { t.Error("a refused sync ran"); return nil },
		TestCredentials: func(context.Context, string) error { return nil }})
	ts.addUser(t, "ann@example.com", auth.RoleAnalyst, "a long password")
	ts.addUser(t, "vic@example.com", auth.RoleViewer, "another long password")
	srv := httptest.NewServer(ts.anonymous())
	defer srv.Close()
	s := startBrowser(t, chromium)

	// Without a session the overview sends the browser to the login page, keeping where it wanted to go.
	browserDo(s, "open the overview", chromedp.Navigate(srv.URL+"/alerts?range=7d"))
	loc := browserDo(s, "read the location", chromedp.Location())
	if !strings.HasSuffix(loc, "/login?next=%2Falerts%3Frange%3D7d") {
		t.Errorf("without a session the browser is at %s, want the login page", loc)
	}

	// A wrong password shows the error, the right one the overview.
	browserSteps(s, "wrong password",
		chromedp.SendKeys("#username", "ann@example.com"),
		chromedp.SendKeys("#password", "not the password"),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#login-error"),
	)
	browserLogin(s, srv.URL, "ann@example.com", "a long password")
	browserDo(s, "open the overview", chromedp.Navigate(srv.URL+"/"))
	who := browserDo(s, "read the account", chromedp.Text("#account-name"))
	if !strings.Contains(who, "ann@example.com") || !strings.Contains(who, "analyst") {
		t.Errorf("account menu shows %q", who)
	}
	browserDo(s, "see the overview", chromedp.WaitVisible("#overview"))
	cookie := browserDo(s, "read document.cookie", chromedp.Evaluate[string](`document.cookie`))
	if strings.Contains(cookie, sessionCookie) {
		t.Errorf("the session cookie is readable by script: %q", cookie)
	}

	// The page's own fetch without the CSRF token is refused; with the meta token it passes the check (an analyst
	// may not sync, so the role answers 403 with another message).
	type reply struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	post := func(withToken bool) reply {
		js := `(async function () {
  var h = {'Content-Type': 'application/json'};
  if (` + map[bool]string{true: "true", false: "false"}[withToken] + `) { h['X-CSRF-Token'] = document.querySelector('meta[name="csrf-token"]').content; }
  var r = await fetch('/api/v1/alerts/none/status', {method: 'POST', headers: h, body: '{"status":"closed"}'});
  return {status: r.status, body: await r.text()};
})()`
		return browserDo(s, "post from the page", chromedp.Evaluate[reply](js, chromedp.EvalAwaitPromise))
	}
	if r := post(false); r.Status != 403 || !strings.Contains(r.Body, "CSRF") {
		t.Errorf("POST without the CSRF token: %d %s", r.Status, r.Body)
	}
	if r := post(true); r.Status != 404 || !strings.Contains(r.Body, "alert not found") {
		t.Errorf("POST with the CSRF token: %d %s, want the handler's 404", r.Status, r.Body)
	}

	// Only admins start syncs: an analyst is not offered the top bar's button.
	if n := browserDo(s, "count sync buttons", chromedp.Evaluate[int](`document.querySelectorAll('#sync-now').length`)); n != 0 {
		t.Errorf("an analyst sees %d Sync now buttons", n)
	}

	// Logging out returns to the login page, and the overview needs a login again.
	browserSteps(s, "log out", chromedp.Click("#logout"), chromedp.WaitVisible("#login-form"))
	browserDo(s, "open the overview again", chromedp.Navigate(srv.URL+"/"))
	browserDo(s, "see the login form", chromedp.WaitVisible("#login-form"))
	if loc := browserDo(s, "read the location", chromedp.Location()); !strings.HasSuffix(loc, "/login") {
		t.Errorf("after logout the overview leads to %s, want /login", loc)
	}

	// A viewer cannot change a connector: the connectors page offers no action, and the API refuses one sent with
	// a valid CSRF token.
	browserLogin(s, srv.URL, "vic@example.com", "another long password")
	browserDo(s, "open the connectors", chromedp.Navigate(srv.URL+"/connectors"))
	browserDo(s, "see the connectors", chromedp.WaitVisible("#connectors"))
	if n := browserDo(s, "count connector actions", chromedp.Evaluate[int](
		`document.querySelectorAll('button.sync-stream, button.test-credentials, #sync-now').length`)); n != 0 {
		t.Errorf("a viewer sees %d connector actions", n)
	}
	viewerSync := browserDo(s, "sync as a viewer", chromedp.Evaluate[reply](`(async function () {
  var r = await fetch('/api/v1/connectors/acme/audit/sync', {method: 'POST',
    headers: {'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content}});
  return {status: r.status, body: await r.text()};
})()`, chromedp.EvalAwaitPromise))
	if viewerSync.Status != 403 || strings.Contains(viewerSync.Body, "CSRF") {
		t.Errorf("a viewer's sync with the CSRF token: %d %s, want 403 for the role", viewerSync.Status, viewerSync.Body)
	}
	if m := s.msgs.snapshot(); len(m) > 0 {
		t.Logf("page messages (the refused requests log errors): %q", m)
	}
}
