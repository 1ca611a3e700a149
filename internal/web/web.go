// Package web serves castwatch's HTTP surface: the dashboard pages (server-rendered html/template with htmx for
// partial refresh and ECharts for charts), the JSON API, health and Prometheus metrics.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/castwatch/castwatch/internal/auth"
	"github.com/castwatch/castwatch/internal/store"
)

//go:embed static
var embeddedStatic embed.FS

//go:embed templates
var templateFS embed.FS

// Vendored front-end files, built by `make web` (npm run build in web/) into static/vendor/.
const (
	htmxAsset    = "vendor/htmx.min.js"
	echartsAsset = "vendor/echarts.min.js"
)

// contentSecurityPolicy allows scripts only from this origin (no inline script: all page code is static/app.js).
// Inline style attributes stay allowed because ECharts positions its tooltips with them.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'"

// Options configures the HTTP handler.
type Options struct {
	// Store is read for dashboards and alerts. Required.
	Store store.Store
	// Auth checks logins, sessions and API tokens; every route but /healthz, /static/ and /login needs a login.
	// Nil refuses every other route (no one can log in).
	Auth *auth.Service
	// Logger receives request and error logs; nil discards them.
	Logger *slog.Logger
	// Gatherer is exposed on GET /metrics; nil leaves /metrics unregistered (404).
	Gatherer prometheus.Gatherer
	// Registerer receives the HTTP request metrics (castwatch_http_requests_total,
	// castwatch_http_request_duration_seconds); nil records none.
	Registerer prometheus.Registerer
	// Version is reported by GET /healthz and shown in the page footer.
	Version string
	// Sync starts a collection run when POST /api/v1/sync is called. It should return promptly (start the run,
	// not wait for it); a returned error is reported to the caller. Nil makes the endpoint answer 501.
	Sync func(ctx context.Context) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Static overrides the embedded static files (the root holds app.js, app.css and vendor/); nil uses the
	// files built into the binary.
	Static fs.FS
	// GeoLookup maps an IP address to its ISO country code (the users pages; the maps read countries the store
	// located with its Country option, and only say "no GeoIP database" when GeoLookup is nil). CountryInfo
	// names a country code and gives its centre; nil shows codes without a position.
	GeoLookup   func(ip string) (country string, ok bool)
	CountryInfo func(code string) (name string, lat, lon float64, ok bool)
	// SyncStream starts a collection run of one tenant's stream (the connectors page's per-stream "Sync now"); it
	// returns promptly and an error wrapping ErrUnknownConnector for a pair that is not configured. Nil hides it.
	SyncStream func(ctx context.Context, tenant, stream string) error
	// TestCredentials requests an API token with the tenant's credentials and reports why it failed (the
	// connectors page's "Test credentials"); an error wrapping ErrUnknownConnector names an unknown tenant. Nil
	// hides it.
	TestCredentials func(ctx context.Context, tenant string) error
	// Rules lists the loaded detection rules (see RuleCatalogue) for the alert pages and the ATT&CK coverage; nil
	// shows alerts without rule details and a matrix without coverage.
	Rules func() []RuleInfo
	// Attribution credits the data sources the pages show (e.g. the GeoIP database's licence); it is printed in
	// every page's footer. Empty shows none.
	Attribution string
}

// server holds the handler's dependencies.
type server struct {
	store store.Store
	auth  *auth.Service
	// roles are the least roles of routes declared with handleAs/handleAPIAs; public routes need no login.
	roles   map[string]auth.Role
	public  map[string]bool
	log     *slog.Logger
	version string
	sync    func(ctx context.Context) error
	now     func() time.Time
	pages   map[string]*template.Template
	// apiRoutes are the patterns registered with handleAPI.
	apiRoutes []string
	static    fs.FS
	assets    assets
	metrics   *httpMetrics
	// attribution is Options.Attribution.
	attribution string
}

// assets records which vendored front-end files are present.
type assets struct {
	HTMX    bool
	ECharts bool
}

// Missing reports whether any vendored file is absent, i.e. `make web` has not been run.
func (a assets) Missing() bool { return !a.HTMX || !a.ECharts }

// New returns the castwatch HTTP handler.
func New(opts Options) (http.Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("web: store is required")
	}
	s := &server{
		store:   opts.Store,
		auth:    opts.Auth,
		roles:   map[string]auth.Role{},
		public:  map[string]bool{},
		log:     opts.Logger,
		version: opts.Version,
		sync:    opts.Sync,
		now:     opts.Now,
		static:  opts.Static,

		attribution: opts.Attribution,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.auth == nil {
		// Fail closed: with no user store nobody can log in, so only the public routes answer.
		s.log.Warn("web: no user store; every page and API call will be refused")
		s.auth = auth.NewService(auth.NewMemoryStore(), auth.Options{Now: s.now})
	}
	if s.version == "" {
		s.version = "dev"
	}
	if s.static == nil {
		sub, err := fs.Sub(embeddedStatic, "static")
		if err != nil {
			return nil, fmt.Errorf("web: static files: %w", err)
		}
		s.static = sub
	}
	if opts.Registerer != nil {
		m, err := newHTTPMetrics(opts.Registerer)
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		s.metrics = m
	}
	s.assets = assets{HTMX: exists(s.static, htmxAsset), ECharts: exists(s.static, echartsAsset)}
	if s.assets.Missing() {
		s.log.Warn("front-end assets not built; charts and live refresh are disabled", "fix", "run make web")
	}
	pages, err := parsePageTemplates(templateFS)
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	s.pages = pages

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.HandleFunc("GET /fragments/overview", s.handleOverviewFragment)
	s.handlePublic(mux, "GET /healthz", http.HandlerFunc(s.handleHealthz))
	s.registerAuthRoutes(mux)
	if opts.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	s.handleAPI(mux, "GET /api/v1/alerts", s.handleAlerts)
	s.handleAPI(mux, "GET /api/v1/charts/failed-logons", s.handleFailedLogonsChart)
	s.handleAPIAs(mux, auth.RoleAdmin, "POST /api/v1/sync", s.handleSync)
	s.handleAPI(mux, "GET /api/v1/connectors", s.handleConnectors)
	s.registerIncidentRoutes(mux)
	s.registerDashboards(mux, opts)
	s.registerPeopleOpsPages(mux, opts)
	s.registerTriagePages(mux, opts)
	s.registerRiskPages(mux)
	s.handlePublic(mux, "GET /static/", http.StripPrefix("/static/", noDirListing(http.FileServerFS(s.static))))

	// Cross-origin protection refuses state-changing requests (POST) sent by other sites' pages.
	var h http.Handler = http.NewCrossOriginProtection().Handler(s.requireLogin(mux))
	h = securityHeaders(h)
	h = s.logRequests(h)
	return h, nil
}

func exists(fsys fs.FS, name string) bool {
	st, err := fs.Stat(fsys, name)
	return err == nil && !st.IsDir()
}

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", hstsValue)
		}
		next.ServeHTTP(w, r)
	})
}

// noDirListing answers 404 for directory paths instead of listing their files.
func noDirListing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		elapsed := s.now().Sub(start)
		// The mux records the matched pattern on the request it was given.
		s.metrics.observe(r.Pattern, status, elapsed.Seconds())
		level := slog.LevelDebug
		if status >= http.StatusInternalServerError {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Duration("duration", elapsed))
	})
}
