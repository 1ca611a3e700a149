package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/castwatch/castwatch/internal/auth"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// buildServer builds a test server and returns the *server behind it, to read its registered routes.
func buildServer(t *testing.T, opts Options) (*testServer, *server) {
	t.Helper()
	var built *server
	serverBuilt = func(s *server) { built = s }
	defer func() { serverBuilt = nil }()
	ts := newTestServer(t, opts)
	if built == nil {
		t.Fatal("New did not report its server")
	}
	return ts, built
}

// authStore is a DuckDB store holding one alert, for role checks that reach the store.
func authStore(t *testing.T) *duckdb.DB {
	t.Helper()
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{Threads: 1, Tables: []*schema.Table{&schema.Audit},
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.UpsertAlerts(context.Background(), []schema.Alert{{ID: "al-1", Tenant: "acme", RuleID: "r",
		Title: "Failed logons", Severity: "medium", FirstEvent: testNow, LastEvent: testNow}}); err != nil {
		t.Fatal(err)
	}
	return db
}

// send serves one request and returns the recorder.
func send(h http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// pathParam matches a {name} or {name...} wildcard of a route pattern.
var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// pageRoutes are the HTML routes the pages register; each must refuse a request without a session.
var pageRoutes = []string{
	"GET /", "GET /fragments/overview", "GET /dashboards", "GET /alerts", "GET /incidents", "GET /users",
	"GET /attack", "GET /connectors", "GET /search", "GET /settings/users", "POST /settings/users",
	"POST /settings/tokens", "POST /logout",
}

func TestEveryRouteNeedsLogin(t *testing.T) {
	ts, s := buildServer(t, Options{Store: populatedStore(t), Gatherer: prometheus.NewRegistry(),
		Sync: func(context.Context) error { return nil }})
	anon := ts.anonymous()
	if len(s.apiRoutes) < 10 {
		t.Fatalf("only %d API routes recorded", len(s.apiRoutes))
	}
	for _, route := range append(slicesClone(s.apiRoutes), "GET /metrics") {
		method, path, _ := strings.Cut(route, " ")
		path = pathParam.ReplaceAllString(path, "x")
		rec := send(anon, method, path, "{}", "Content-Type", "application/json")
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `"error":"login required"`) {
			t.Errorf("%s without a session: %d %s, want 401 login required", route, rec.Code, rec.Body)
		}
	}
	for _, route := range pageRoutes {
		method, path, _ := strings.Cut(route, " ")
		rec := send(anon, method, path, "")
		loc := rec.Header().Get("Location")
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("%s without a session: %d (Location %q), want 303 to /login", route, rec.Code, loc)
		}
	}
	if loc := send(anon, "GET", "/alerts?range=7d", "").Header().Get("Location"); loc != "/login?next="+url.QueryEscape("/alerts?range=7d") {
		t.Errorf("redirect to login = %q, want next=/alerts?range=7d", loc)
	}
	rec := send(anon, "GET", "/fragments/overview", "", "HX-Request", "true", "HX-Current-URL", "http://example.com/?range=7d")
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("HX-Redirect") != "/login?next="+url.QueryEscape("/?range=7d") {
		t.Errorf("htmx without a session: %d HX-Redirect %q", rec.Code, rec.Header().Get("HX-Redirect"))
	}
	for _, open := range []string{"/healthz", "/login", "/static/app.js"} {
		if rec := send(anon, "GET", open, ""); rec.Code != http.StatusOK {
			t.Errorf("public %s: %d", open, rec.Code)
		}
	}
	// A forged or stale cookie is no login.
	rec = send(anon, "GET", "/", "", "Cookie", sessionCookie+"=forged")
	if rec.Code != http.StatusSeeOther {
		t.Errorf("forged cookie: %d", rec.Code)
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func TestCSRFOnStateChanges(t *testing.T) {
	ts := newTestServer(t, Options{Store: populatedStore(t), Sync: func(context.Context) error { return nil }})
	cookie, csrf := ts.session(t, auth.RoleAdmin)
	c := cookie.Name + "=" + cookie.Value
	for _, tc := range []struct {
		name  string
		hdr   []string
		want  int
		error string
	}{
		{"no token", []string{"Cookie", c}, http.StatusForbidden, "CSRF"},
		{"wrong token", []string{"Cookie", c, csrfHeader, csrf + "x"}, http.StatusForbidden, "CSRF"},
		{"token of another session", []string{"Cookie", c, csrfHeader, func() string { _, o := ts.session(t, auth.RoleAdmin); return o }()}, http.StatusForbidden, "CSRF"},
		{"header token", []string{"Cookie", c, csrfHeader, csrf}, http.StatusAccepted, ""},
	} {
		rec := send(ts.anonymous(), "POST", "/api/v1/sync", "", tc.hdr...)
		if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.error) {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
	// A form carries the token as a field; logging out with it ends the session.
	form := url.Values{csrfField: {csrf}}.Encode()
	rec := send(ts.anonymous(), "POST", "/logout", form, "Cookie", c, "Content-Type", "application/x-www-form-urlencoded")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Fatalf("logout: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout does not clear the cookie: %q", rec.Header().Get("Set-Cookie"))
	}
	if rec := send(ts.anonymous(), "GET", "/", "", "Cookie", c); rec.Code != http.StatusSeeOther {
		t.Errorf("session still valid after logout: %d", rec.Code)
	}
	// Cross-origin protection stays in front.
	h := ts.as(t, auth.RoleAdmin)
	if rec := send(h, "POST", "/api/v1/sync", "", "Sec-Fetch-Site", "cross-site"); rec.Code != http.StatusForbidden {
		t.Errorf("cross-site POST with a valid token: %d", rec.Code)
	}
}

func TestRolesOnRoutes(t *testing.T) {
	ts := newTestServer(t, Options{Store: authStore(t), Sync: func(context.Context) error { return nil }})
	status := `{"status":"closed"}`
	for _, tc := range []struct {
		role         auth.Role
		method, path string
		body         string
		want         int
	}{
		{auth.RoleViewer, "GET", "/api/v1/alerts", "", http.StatusOK},
		{auth.RoleViewer, "POST", "/api/v1/sync", "", http.StatusForbidden},
		{auth.RoleViewer, "POST", "/api/v1/alerts/al-1/status", status, http.StatusForbidden},
		{auth.RoleViewer, "POST", "/api/v1/incidents/x/comments", `{"text":"hi"}`, http.StatusForbidden},
		{auth.RoleViewer, "GET", "/settings/users", "", http.StatusForbidden},
		{auth.RoleAnalyst, "POST", "/api/v1/alerts/al-1/status", status, http.StatusOK},
		{auth.RoleAnalyst, "POST", "/api/v1/sync", "", http.StatusForbidden},
		{auth.RoleAnalyst, "GET", "/settings/users", "", http.StatusForbidden},
		{auth.RoleAnalyst, "POST", "/settings/tokens", "name=x&role=admin", http.StatusForbidden},
		{auth.RoleAdmin, "POST", "/api/v1/sync", "", http.StatusAccepted},
		{auth.RoleAdmin, "GET", "/settings/users", "", http.StatusOK},
	} {
		ct := "application/json"
		if strings.HasPrefix(tc.path, "/settings") {
			ct = "application/x-www-form-urlencoded"
		}
		rec := send(ts.as(t, tc.role), tc.method, tc.path, tc.body, "Content-Type", ct)
		if rec.Code != tc.want {
			t.Errorf("%s %s %s: %d %s, want %d", tc.role, tc.method, tc.path, rec.Code, rec.Body, tc.want)
			continue
		}
		if rec.Code == http.StatusForbidden {
			isJSON := strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json")
			if isJSON != strings.HasPrefix(tc.path, "/api/") || !strings.Contains(rec.Body.String(), "role") {
				t.Errorf("%s %s %s: refusal %q (%s)", tc.role, tc.method, tc.path, rec.Body, rec.Header().Get("Content-Type"))
			}
		}
	}
}

// login posts the login form from client address addr.
func login(h http.Handler, target, user, password, addr string) *httptest.ResponseRecorder {
	form := url.Values{"username": {user}, "password": {password}, "next": {"/alerts?range=7d"}}.Encode()
	req := httptest.NewRequest("POST", target, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = addr + ":51000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestLoginForm(t *testing.T) {
	now := testNow
	ts := newTestServer(t, Options{Store: populatedStore(t), Now: func() time.Time { return now }})
	ts.addUser(t, "ann@example.com", auth.RoleAnalyst, "a long password")
	h := ts.anonymous()

	page := send(h, "GET", "/login?next=/alerts", "")
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `id="login-form"`) || strings.Contains(page.Body.String(), `id="nav"><a`) {
		t.Fatalf("login page: %d %s", page.Code, page.Body)
	}
	for _, tc := range []struct{ user, pw string }{{"ann@example.com", "wrong password"}, {"nobody", "a long password"}} {
		rec := login(h, "/login", tc.user, tc.pw, "192.0.2.1")
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "Wrong user name or password.") ||
			rec.Header().Get("Set-Cookie") != "" {
			t.Errorf("%s/%s: %d %s", tc.user, tc.pw, rec.Code, rec.Body)
		}
	}

	rec := login(h, "/login", "ann@example.com", "a long password", "192.0.2.1")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/alerts?range=7d" {
		t.Fatalf("login: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	c := rec.Result().Cookies()
	if len(c) != 1 || c[0].Name != sessionCookie || !c[0].HttpOnly || c[0].Secure || c[0].SameSite != http.SameSiteLaxMode || c[0].Path != "/" || len(c[0].Value) < 40 {
		t.Fatalf("cookie over plain HTTP: %+v", c)
	}
	if rec.Header().Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}
	home := send(h, "GET", "/", "", "Cookie", sessionCookie+"="+c[0].Value)
	if home.Code != http.StatusOK || !strings.Contains(home.Body.String(), `id="account-name" data-role="analyst">ann@example.com`) ||
		!regexp.MustCompile(`<meta name="csrf-token" content="[A-Za-z0-9_-]{40,}">`).MatchString(home.Body.String()) {
		t.Errorf("overview after login lacks the account or the CSRF token: %d", home.Code)
	}
	if strings.Contains(home.Body.String(), `id="settings-users"`) {
		t.Error("an analyst sees the admin settings link")
	}

	// Over TLS the cookie is Secure and HSTS is sent.
	rec = login(h, "https://castwatch.example/login", "ann@example.com", "a long password", "192.0.2.1")
	c = rec.Result().Cookies()
	if len(c) != 1 || !c[0].Secure || !c[0].HttpOnly || rec.Header().Get("Strict-Transport-Security") != hstsValue {
		t.Errorf("cookie over TLS: %+v, HSTS %q", c, rec.Header().Get("Strict-Transport-Security"))
	}

	// next must stay on this site.
	for next, want := range map[string]string{"//evil.example/x": "/", "https://evil.example": "/", "/\\evil.example": "/",
		"/incidents?state=new": "/incidents?state=new", "": "/"} {
		if got := localPath(next); got != want {
			t.Errorf("localPath(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestLoginRateLimit(t *testing.T) {
	ts := newTestServer(t, Options{Store: populatedStore(t)})
	ts.addUser(t, "ann@example.com", auth.RoleViewer, "a long password")
	for i := 1; i <= 5; i++ {
		if rec := login(ts.anonymous(), "/login", "ann@example.com", "wrong password", "192.0.2.1"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, rec.Code)
		}
	}
	rec := login(ts.anonymous(), "/login", "ann@example.com", "a long password", "192.0.2.1")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "900" || rec.Header().Get("Set-Cookie") != "" ||
		!strings.Contains(rec.Body.String(), "Too many failed logins") {
		t.Errorf("sixth attempt: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}

func TestSessionExpiresInTheWeb(t *testing.T) {
	now := testNow
	ts := newTestServer(t, Options{Store: populatedStore(t), Now: func() time.Time { return now }})
	cookie, _ := ts.session(t, auth.RoleViewer)
	c := cookie.Name + "=" + cookie.Value
	if rec := send(ts.anonymous(), "GET", "/api/v1/alerts", "", "Cookie", c); rec.Code != http.StatusOK {
		t.Fatalf("fresh session: %d", rec.Code)
	}
	now = now.Add(auth.SessionIdleTimeout)
	if rec := send(ts.anonymous(), "GET", "/api/v1/alerts", "", "Cookie", c); rec.Code != http.StatusUnauthorized {
		t.Errorf("idle session: %d, want 401", rec.Code)
	}
}

func TestAPITokenAuth(t *testing.T) {
	ts := newTestServer(t, Options{Store: populatedStore(t), Sync: func(context.Context) error { return nil }})
	ctx := context.Background()
	admin, _, err := ts.auth.CreateToken(ctx, "ci", auth.RoleAdmin, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	viewer, _, _ := ts.auth.CreateToken(ctx, "dash", auth.RoleViewer, 0, "test")
	h := ts.anonymous()
	if rec := send(h, "POST", "/api/v1/sync", "", "Authorization", "Bearer "+admin); rec.Code != http.StatusAccepted {
		t.Errorf("admin token without CSRF: %d %s", rec.Code, rec.Body)
	}
	if rec := send(h, "POST", "/api/v1/sync", "", "Authorization", "Bearer "+viewer); rec.Code != http.StatusForbidden {
		t.Errorf("viewer token sync: %d", rec.Code)
	}
	if rec := send(h, "GET", "/api/v1/openapi.json", "", "Authorization", "Bearer "+viewer); rec.Code != http.StatusOK {
		t.Errorf("viewer token reads: %d", rec.Code)
	}
	for _, bad := range []string{"Bearer cw_nope", "Bearer " + admin + "x", "Basic YWRtaW46eA=="} {
		rec := send(h, "GET", "/api/v1/alerts", "", "Authorization", bad)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d", bad, rec.Code)
		}
	}
	// Tokens are for the API: a page ignores them.
	if rec := send(h, "GET", "/", "", "Authorization", "Bearer "+admin); rec.Code != http.StatusSeeOther {
		t.Errorf("token on a page: %d", rec.Code)
	}
}

func TestUserSettingsPage(t *testing.T) {
	ts := newTestServer(t, Options{Store: populatedStore(t)})
	h := ts.as(t, auth.RoleAdmin)
	form := "application/x-www-form-urlencoded"
	rec := send(h, "POST", "/settings/users", "name=bob&role=analyst&password=a+long+password", "Content-Type", form)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("add user: %d %s", rec.Code, rec.Body)
	}
	rec = send(h, "POST", "/settings/users", "name=carl&role=viewer&password=short", "Content-Type", form)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "password too short") {
		t.Errorf("short password: %d", rec.Code)
	}
	if rec := login(ts.anonymous(), "/login", "bob", "a long password", "192.0.2.5"); rec.Code != http.StatusSeeOther {
		t.Errorf("the added user cannot log in: %d", rec.Code)
	}
	rec = send(h, "POST", "/settings/tokens", "name=export&role=viewer&expires=30d", "Content-Type", form)
	m := regexp.MustCompile(`id="new-token-value">(cw_[A-Za-z0-9_-]+)<`).FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil {
		t.Fatalf("create token: %d %s", rec.Code, rec.Body)
	}
	if rec := send(ts.anonymous(), "GET", "/api/v1/alerts", "", "Authorization", "Bearer "+m[1]); rec.Code != http.StatusOK {
		t.Errorf("the created token does not work: %d", rec.Code)
	}
	page := send(h, "GET", "/settings/users", "").Body.String()
	if strings.Contains(page, m[1]) || !strings.Contains(page, `data-user="bob"`) || !strings.Contains(page, ">export<") {
		t.Errorf("settings page shows the token again or lacks the user or token")
	}
	tokens, _ := ts.auth.Tokens(context.Background())
	rec = send(h, "POST", "/settings/tokens/"+tokens[0].ID+"/revoke", "", "Content-Type", form)
	if rec.Code != http.StatusSeeOther {
		t.Errorf("revoke: %d", rec.Code)
	}
	if rec := send(ts.anonymous(), "GET", "/api/v1/alerts", "", "Authorization", "Bearer "+m[1]); rec.Code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", rec.Code)
	}
	rec = send(h, "POST", "/settings/users/admin-user/delete", "", "Content-Type", form)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "last admin") {
		t.Errorf("deleting the last admin: %d", rec.Code)
	}
	var body map[string]any
	if err := json.Unmarshal(send(h, "GET", "/api/v1/openapi.json", "").Body.Bytes(), &body); err != nil {
		t.Error(err)
	}
}
