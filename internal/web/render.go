package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/castwatch/castwatch/internal/auth"
)

// Base is what every page's data carries for the layout (templates/layout.html). Page data structs embed it, so
// the layout reads .Title, .Nav, .Assets and the rest from any page.
type Base struct {
	// Nav is the key of the navigation link to mark as current (see navLinks).
	Nav      string
	Version  string
	Assets   assets
	NavLinks []navLink
	// Scripts are extra files under /static/ the page needs besides app.js (no inline script: CSP).
	Scripts []string
	// Syncable shows the "Sync now" button in the top bar: a sync is configured and the user is an admin (only
	// admins may start one).
	Syncable bool
	// CSRF is the token state-changing requests from this page must carry (meta csrf-token; app.js adds it to
	// htmx requests and forms).
	CSRF string
	// User is who is signed in (the account menu; .User.IsAdmin shows admin controls).
	User auth.Identity
	// Attribution credits data sources in the footer (Options.Attribution).
	Attribution string
}

// navLink is one entry of the top navigation.
type navLink struct {
	Key, Label, Href string
}

// navLinks is the top navigation, in order. Pages mark theirs with Base.Nav.
var navLinks = []navLink{
	{"overview", "Overview", "/"},
	{"dashboards", "Dashboards", "/dashboards"},
	{"alerts", "Alerts", "/alerts"},
	{"incidents", "Incidents", "/incidents"},
	{"users", "Users", "/users"},
	{"risk", "Risk", "/risk"},
	{"attack", "ATT&CK", "/attack"},
	{"connectors", "Connectors", "/connectors"},
	{"search", "Search", "/search"},
}

// handleAPI registers a JSON API route and records its pattern, so the OpenAPI document can be checked against
// the routes actually served. Every /api/v1/ route is registered through it.
func (s *server) handleAPI(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	s.apiRoutes = append(s.apiRoutes, pattern)
	mux.HandleFunc(pattern, h)
}

// base returns the layout data for a page.
func (s *server) base(r *http.Request, nav string, scripts ...string) Base {
	return Base{
		Nav:      nav,
		Version:  s.version,
		Assets:   s.assets,
		NavLinks: navLinks,
		Scripts:  scripts,
		Syncable: s.sync != nil && userFrom(r).IsAdmin(),
		CSRF:     csrfTokenFrom(r),
		User:     userFrom(r),

		Attribution: s.attribution,
	}
}

// pageTemplates parses the layout and its shared definitions once, then each file under templates/pages/ on its
// own copy, so every page may define "title" and "content" without clashing. The map key is the file's base name
// without .html (e.g. "overview").
func parsePageTemplates(fsys fs.FS) (map[string]*template.Template, error) {
	shared, err := template.New("web").Funcs(templateFuncs).ParseFS(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(fsys, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	pages := make(map[string]*template.Template, len(files))
	for _, f := range files {
		t, err := shared.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(fsys, f); err != nil {
			return nil, err
		}
		pages[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return pages, nil
}

// renderPage writes the page's full document (the layout around its "content").
func (s *server) renderPage(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	s.renderTemplate(w, r, status, page, "layout", data)
}

// renderTemplate executes one named template of a page into a buffer first, so a template error never leaves a
// half-written page. Fragments (htmx swaps) name the block they need.
func (s *server) renderTemplate(w http.ResponseWriter, r *http.Request, status int, page, name string, data any) {
	t, ok := s.pages[page]
	var buf bytes.Buffer
	err := fmt.Errorf("no page template %q", page)
	if ok {
		err = t.ExecuteTemplate(&buf, name, data)
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "render template", "page", page, "template", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}
