package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/auth"
)

// Names the login flow uses.
const (
	// sessionCookie holds the secret session id. SameSite=Lax rather than Strict: Strict would drop the cookie when
	// an analyst follows a link to an alert from mail or a ticket, landing on the login page while logged in; Lax
	// still withholds it from cross-site POSTs, and every state change also needs the CSRF token.
	sessionCookie = "castwatch_session"
	// csrfHeader and csrfField carry the CSRF token of state-changing requests (htmx sends the header, plain forms
	// the field).
	csrfHeader = "X-CSRF-Token"
	csrfField  = "csrf_token"
	// maxFormBytes caps the body of a form post read for its CSRF field or login fields.
	maxFormBytes = 64 << 10
	// hstsValue is sent on TLS connections.
	hstsValue = "max-age=31536000"
)

// identityKey is the request context key of the signed-in identity.
type identityKey struct{}

// userFrom returns who the request acts as (zero Identity on public routes without a session). Handlers read the
// name (e.g. a comment's author) and role (e.g. to show admin controls) from it.
func userFrom(r *http.Request) auth.Identity {
	id, _ := r.Context().Value(identityKey{}).(auth.Identity)
	return id
}

// csrfTokenFrom is the CSRF token pages embed (layout meta csrf-token, forms' csrf_token field).
func csrfTokenFrom(r *http.Request) string { return userFrom(r).CSRF }

// handleAs registers a page or fragment route that needs at least role min. Routes registered directly on the
// mux need viewer for GET and HEAD and admin for every other method.
func (s *server) handleAs(mux *http.ServeMux, min auth.Role, pattern string, h http.HandlerFunc) {
	s.roles[pattern] = min
	mux.HandleFunc(pattern, h)
}

// handleAPIAs is handleAPI for a route that needs at least role min (see handleAs for the default).
func (s *server) handleAPIAs(mux *http.ServeMux, min auth.Role, pattern string, h http.HandlerFunc) {
	s.roles[pattern] = min
	s.handleAPI(mux, pattern, h)
}

// handlePublic registers a route that needs no login (health, static files, the login page).
func (s *server) handlePublic(mux *http.ServeMux, pattern string, h http.Handler) {
	s.public[pattern] = true
	mux.Handle(pattern, h)
}

// requiredRole is the least role a route needs: its declared one, else viewer to read and admin to change.
func (s *server) requiredRole(method, pattern string) auth.Role {
	if r, ok := s.roles[pattern]; ok {
		return r
	}
	if safeMethod(method) {
		return auth.RoleViewer
	}
	return auth.RoleAdmin
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/metrics"
}

// requireLogin authenticates every request (session cookie, or a bearer API token on the API), enforces the CSRF
// token on state changes made with a session, and the route's role. Public routes pass without a login.
func (s *server) requireLogin(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		// The request metrics read the matched route from this request; the mux sets it only on the copies below.
		r.Pattern = pattern
		id, err := s.identify(r)
		if s.public[pattern] {
			if err == nil {
				r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
			}
			mux.ServeHTTP(w, r)
			return
		}
		switch {
		case errors.Is(err, errNoCredentials) || errors.Is(err, auth.ErrSessionNotFound):
			s.loginRequired(w, r)
			return
		case errors.Is(err, auth.ErrTokenNotFound) || errors.Is(err, errBadAuthorization):
			s.writeJSON(w, r, http.StatusUnauthorized, errorBody{err.Error()})
			return
		case err != nil:
			s.log.ErrorContext(r.Context(), "authenticate", "error", err)
			s.refuse(w, r, http.StatusInternalServerError, "could not check the login")
			return
		}
		if id.SessionID != "" && !safeMethod(r.Method) && !id.CheckCSRF(submittedCSRF(w, r)) {
			s.refuse(w, r, http.StatusForbidden, "missing or invalid CSRF token; reload the page and try again")
			return
		}
		if need := s.requiredRole(r.Method, pattern); !id.Can(need) {
			s.refuse(w, r, http.StatusForbidden, "this needs the "+string(need)+" role; you are "+string(id.Role))
			return
		}
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

var (
	errNoCredentials    = errors.New("login required")
	errBadAuthorization = errors.New("the Authorization header must be \"Bearer cw_…\" (an API token)")
)

// identify finds the request's identity: a bearer API token on API routes, else the session cookie.
func (s *server) identify(r *http.Request) (auth.Identity, error) {
	if h := r.Header.Get("Authorization"); h != "" && isAPI(r) {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return auth.Identity{}, errBadAuthorization
		}
		return s.auth.TokenIdentity(r.Context(), strings.TrimSpace(token))
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return auth.Identity{}, errNoCredentials
	}
	return s.auth.SessionIdentity(r.Context(), c.Value)
}

// submittedCSRF reads the CSRF token from the header, or from the form field of a form post.
func submittedCSRF(w http.ResponseWriter, r *http.Request) string {
	if v := r.Header.Get(csrfHeader); v != "" {
		return v
	}
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") && !strings.HasPrefix(ct, "multipart/form-data") {
		return ""
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.PostFormValue(csrfField)
}

// loginRequired answers a request without a valid login: 401 JSON on the API, a redirect to the login page (via
// HX-Redirect for htmx requests) elsewhere.
func (s *server) loginRequired(w http.ResponseWriter, r *http.Request) {
	if isAPI(r) {
		s.writeJSON(w, r, http.StatusUnauthorized, errorBody{"login required"})
		return
	}
	next := r.URL.RequestURI()
	if r.Header.Get("HX-Request") == "true" {
		// An htmx swap would otherwise put the login page inside the current one: send the whole page there.
		if cur, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil && cur.Path != "" {
			next = cur.RequestURI()
		}
		w.Header().Set("HX-Redirect", loginURL(next))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if !safeMethod(r.Method) {
		next = "/"
	}
	http.Redirect(w, r, loginURL(next), http.StatusSeeOther)
}

func loginURL(next string) string {
	if next = localPath(next); next == "/" {
		return "/login"
	}
	return "/login?next=" + url.QueryEscape(next)
}

// localPath returns next if it is a path on this site (not another host: no scheme, no "//" or "/\" start), else "/".
func localPath(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.ContainsAny(next, "\r\n\t") {
		return "/"
	}
	return u.RequestURI()
}

// forbiddenData is the data of the page shown for 403 and other refusals.
type forbiddenData struct {
	Base
	Status  int
	Message string
}

// refuse answers a refused request: JSON on the API, the error page elsewhere.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if isAPI(r) {
		s.writeJSON(w, r, status, errorBody{msg})
		return
	}
	b := s.base(r, "")
	b.NavLinks, b.Syncable = nil, false
	s.renderPage(w, r, status, "forbidden", forbiddenData{Base: b, Status: status, Message: msg})
}

// registerAuthRoutes adds the login and logout routes.
func (s *server) registerAuthRoutes(mux *http.ServeMux) {
	s.handlePublic(mux, "GET /login", http.HandlerFunc(s.handleLoginPage))
	s.handlePublic(mux, "POST /login", http.HandlerFunc(s.handleLogin))
	s.handleAs(mux, auth.RoleViewer, "POST /logout", s.handleLogout)
	s.registerUserSettings(mux)
	s.registerOpenAPI(mux)
}

// loginData is the login page's data.
type loginData struct {
	Base
	Next     string
	Username string
	Error    string
}

func (s *server) loginBase(r *http.Request) Base {
	b := s.base(r, "login")
	b.NavLinks, b.Syncable, b.CSRF, b.User = nil, false, "", auth.Identity{}
	return b
}

// handleLoginPage shows the login form, or sends a signed-in user on to next.
func (s *server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if userFrom(r).Name != "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.renderPage(w, r, http.StatusOK, "login", loginData{Base: s.loginBase(r), Next: next})
}

// handleLogin checks the form's credentials, sets the session cookie and redirects to next.
func (s *server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderPage(w, r, http.StatusBadRequest, "login", loginData{Base: s.loginBase(r), Next: "/", Error: "The login form could not be read."})
		return
	}
	data := loginData{Base: s.loginBase(r), Next: localPath(r.PostForm.Get("next")), Username: r.PostForm.Get("username")}
	secret, _, err := s.auth.Login(r.Context(), data.Username, r.PostForm.Get("password"), clientAddr(r))
	var limited *auth.RateLimitedError
	switch {
	case errors.As(err, &limited):
		w.Header().Set("Retry-After", strconv.Itoa(int(limited.RetryAfter.Round(time.Second)/time.Second)))
		data.Error = "Too many failed logins. Try again in " + limited.RetryAfter.Round(time.Second).String() + "."
		s.renderPage(w, r, http.StatusTooManyRequests, "login", data)
		return
	case errors.Is(err, auth.ErrInvalidCredentials):
		s.log.InfoContext(r.Context(), "login failed", "client", clientAddr(r))
		data.Error = "Wrong user name or password."
		s.renderPage(w, r, http.StatusUnauthorized, "login", data)
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "login", "error", err)
		data.Error = "Login failed because of a server error; see the server log."
		s.renderPage(w, r, http.StatusInternalServerError, "login", data)
		return
	}
	s.setSessionCookie(w, r, secret, int(auth.SessionMaxAge/time.Second))
	http.Redirect(w, r, data.Next, http.StatusSeeOther)
}

// handleLogout ends the session and returns to the login page.
func (s *server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.auth.Logout(r.Context(), c.Value); err != nil {
			s.log.ErrorContext(r.Context(), "logout", "error", err)
		}
	}
	s.setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// setSessionCookie sets (maxAge > 0) or clears (maxAge < 0) the session cookie; it is Secure on TLS connections.
func (s *server) setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

// clientAddr is the client's IP address, the key of per-client login rate limiting. Behind a reverse proxy every
// client shares the proxy's address; the per-user limit still applies.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
