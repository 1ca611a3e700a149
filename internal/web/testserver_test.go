package web

import (
	"context"
	"io/fs"
	"net/http"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/auth"
)

// newTestHandler builds the web handler for a test. Tests of pages and API routes build their handler here, so
// that options every test needs (the clock, the built assets, the login) are set in one place. The handler is
// logged in as an admin: every request carries an admin session and, on state changes, its CSRF token (unless the
// request sets its own cookie, Authorization or X-CSRF-Token). Use newTestServer for other roles or no login.
func newTestHandler(t testing.TB, opts Options) http.Handler {
	t.Helper()
	return newTestServer(t, opts).as(t, auth.RoleAdmin)
}

// testServer is a web handler with its user store, for tests that need several roles or no login.
type testServer struct {
	h     http.Handler
	auth  *auth.Service
	users *auth.MemoryStore
}

// newTestServer builds the handler like newTestHandler, without logging in.
func newTestServer(t testing.TB, opts Options) *testServer {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	if opts.Static == nil {
		opts.Static = builtAssets()
	}
	ts := &testServer{users: auth.NewMemoryStore()}
	if opts.Auth == nil {
		opts.Auth = auth.NewService(ts.users, auth.Options{Now: opts.Now})
	}
	ts.auth = opts.Auth
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts.h = h
	return ts
}

// anonymous is the handler without a login.
func (ts *testServer) anonymous() http.Handler { return ts.h }

// addUser creates a user with a password (for tests that log in through the form).
func (ts *testServer) addUser(t testing.TB, name string, role auth.Role, password string) {
	t.Helper()
	if err := ts.auth.AddUser(context.Background(), name, role, password); err != nil {
		t.Fatal(err)
	}
}

// session creates the user "<role>-user" if needed and starts a session for it; it returns the session cookie
// and the CSRF token.
func (ts *testServer) session(t testing.TB, role auth.Role) (*http.Cookie, string) {
	t.Helper()
	ctx := context.Background()
	name := string(role) + "-user"
	if _, err := ts.users.AuthUser(ctx, name); err != nil {
		// No password: this user cannot log in through the form, which spares the tests an argon2id hash.
		if err := ts.users.CreateAuthUser(ctx, auth.User{Name: name, Role: role, Created: testNow}); err != nil {
			t.Fatal(err)
		}
	}
	secret, id, err := ts.auth.StartSession(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: sessionCookie, Value: secret}, id.CSRF
}

// as returns the handler logged in with role (see newTestHandler).
func (ts *testServer) as(t testing.TB, role auth.Role) http.Handler {
	t.Helper()
	cookie, csrf := ts.session(t, role)
	return loggedIn{h: ts.h, cookie: cookie, csrf: csrf}
}

// loggedIn adds a session cookie and the CSRF token to requests that carry no credentials of their own.
type loggedIn struct {
	h      http.Handler
	cookie *http.Cookie
	csrf   string
}

func (l loggedIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		if _, err := r.Cookie(sessionCookie); err != nil {
			r.AddCookie(l.cookie)
		}
		if !safeMethod(r.Method) && r.Header.Get(csrfHeader) == "" {
			r.Header.Set(csrfHeader, l.csrf)
		}
	}
	l.h.ServeHTTP(w, r)
}

// embeddedAssets is the static tree built into the binary (browser tests need the real scripts).
func embeddedAssets(t testing.TB) fs.FS {
	t.Helper()
	sub, err := fs.Sub(embeddedStatic, "static")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}
