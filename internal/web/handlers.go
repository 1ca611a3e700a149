package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// maxAlertLimit caps the limit parameter of GET /api/v1/alerts.
const maxAlertLimit = 1000

// pageData is what the overview templates render.
type pageData struct {
	Base
	Ranges   []rangeOption
	Window   window
	Tenant   string
	ChartURL string
	Summary  summary
	Users    []userRow
	IPs      []ipRow
	Alerts   []schema.Alert
	// Connectors are the collection status of every tenant stream (empty when the store has none yet).
	Connectors []store.Connector
	// Notice is shown above the content (e.g. an unknown range was replaced by the default).
	Notice string
	// Error is set when data could not be loaded; the details are in the server log.
	Error string
}

// NoData reports whether the store holds no audit events in the window and there are no alerts.
func (p pageData) NoData() bool { return p.Summary.Events == 0 && len(p.Alerts) == 0 }

var templateFuncs = template.FuncMap{
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"isoutc": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"num":    formatCount,
	"alertTime": func(a schema.Alert) time.Time {
		if !a.LastEvent.IsZero() {
			return a.LastEvent
		}
		return a.Created
	},
	"severityClass": func(sev string) string {
		switch s := strings.ToLower(sev); s {
		case "high", "medium", "low", "informational", "critical":
			return "sev-" + s
		default:
			return "sev-unknown"
		}
	},
}

// formatCount writes n with thin thousands separators, e.g. 12 345.
func formatCount(n any) string {
	var v int64
	switch x := n.(type) {
	case int64:
		v = x
	case int:
		v = int64(x)
	default:
		return fmt.Sprint(n)
	}
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// pageWindow resolves the range parameter for a page; an unknown range falls back to the default with a notice.
func (s *server) pageWindow(r *http.Request) (window, string) {
	name := r.URL.Query().Get("range")
	win, err := resolveRange(name, s.now())
	if err != nil {
		win, _ = resolveRange(DefaultRange, s.now())
		return win, fmt.Sprintf("Unknown time range %q — showing the last 14 days.", name)
	}
	return win, ""
}

func (s *server) loadPage(ctx context.Context, win window, tenant string) (pageData, error) {
	q := url.Values{"range": {win.Range.Name}}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	p := pageData{
		Ranges:   ranges,
		Window:   win,
		Tenant:   tenant,
		ChartURL: "/api/v1/charts/failed-logons?" + q.Encode(),
	}
	var err error
	if p.Summary, err = s.summary(ctx, win, tenant); err != nil {
		return p, err
	}
	if p.Users, err = s.topUsers(ctx, win, tenant); err != nil {
		return p, err
	}
	if p.IPs, err = s.topIPs(ctx, win, tenant); err != nil {
		return p, err
	}
	if p.Alerts, err = s.alerts(ctx, win, tenant, "", alertLimit); err != nil {
		return p, err
	}
	p.Summary.Alerts = len(p.Alerts)
	// The connector list is secondary on this page: a failure to read it is logged and the page still renders.
	if p.Connectors, err = s.store.Connectors(ctx); err != nil {
		s.log.WarnContext(ctx, "page: connectors", "error", err)
		p.Connectors = nil
	}
	return p, nil
}

func (s *server) handleConnectors(w http.ResponseWriter, r *http.Request) {
	cs, err := s.store.Connectors(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "api: connectors", "error", err)
		s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"could not load connectors"})
		return
	}
	if cs == nil {
		cs = []store.Connector{}
	}
	s.writeJSON(w, r, http.StatusOK, struct {
		Connectors []store.Connector `json:"connectors"`
	}{cs})
}

func (s *server) handleIndex(w http.ResponseWriter, r *http.Request) {
	s.renderOverview(w, r, "layout")
}

func (s *server) handleOverviewFragment(w http.ResponseWriter, r *http.Request) {
	s.renderOverview(w, r, "overview")
}

func (s *server) renderOverview(w http.ResponseWriter, r *http.Request, name string) {
	win, notice := s.pageWindow(r)
	tenant := r.URL.Query().Get("tenant")
	p, err := s.loadPage(r.Context(), win, tenant)
	p.Base = s.base(r, "overview")
	p.Notice = notice
	status := http.StatusOK
	if err != nil {
		s.log.ErrorContext(r.Context(), "overview: load data", "error", err, "range", win.Range.Name)
		p.Error = "Could not load data from the store; the server log has the details."
		status = http.StatusInternalServerError
	}
	s.renderTemplate(w, r, status, "overview", name, p)
}

// writeJSON answers with v as JSON.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.ErrorContext(r.Context(), "encode json", "error", err)
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

type errorBody struct {
	Error string `json:"error"`
}

func (s *server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}{"ok", s.version})
}

// alertsResponse is the body of GET /api/v1/alerts.
type alertsResponse struct {
	Range  string         `json:"range"`
	From   time.Time      `json:"from"`
	To     time.Time      `json:"to"`
	Alerts []schema.Alert `json:"alerts"`
}

func (s *server) handleAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	win, err := resolveRange(q.Get("range"), s.now())
	if err != nil {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{err.Error()})
		return
	}
	limit := alertLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAlertLimit {
			s.writeJSON(w, r, http.StatusBadRequest, errorBody{fmt.Sprintf("limit must be a number from 1 to %d", maxAlertLimit)})
			return
		}
		limit = n
	}
	alerts, err := s.alerts(r.Context(), win, q.Get("tenant"), q.Get("rule"), limit)
	if err != nil {
		s.log.ErrorContext(r.Context(), "api: alerts", "error", err)
		s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"could not load alerts"})
		return
	}
	s.writeJSON(w, r, http.StatusOK, alertsResponse{Range: win.Range.Name, From: win.From, To: win.To, Alerts: alerts})
}

func (s *server) handleFailedLogonsChart(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	win, err := resolveRange(q.Get("range"), s.now())
	if err != nil {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{err.Error()})
		return
	}
	series, err := s.failedLogonSeries(r.Context(), win, q.Get("tenant"))
	if err != nil {
		s.log.ErrorContext(r.Context(), "api: failed logons chart", "error", err)
		s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"could not load failed logons"})
		return
	}
	s.writeJSON(w, r, http.StatusOK, series)
}

// syncResponse is the body of POST /api/v1/sync.
type syncResponse struct {
	Status    string    `json:"status"`
	Requested time.Time `json:"requested"`
}

// syncFragment is what an htmx request to POST /api/v1/sync gets back instead of JSON.
var syncFragment = template.Must(template.New("sync").Parse(
	`<span class="sync-msg {{.Class}}" data-sync-status="{{.Status}}">{{.Text}}</span>`))

func (s *server) handleSync(w http.ResponseWriter, r *http.Request) {
	htmx := r.Header.Get("HX-Request") == "true"
	reply := func(status int, state, text string) {
		if !htmx {
			if status >= 400 {
				s.writeJSON(w, r, status, errorBody{text})
				return
			}
			s.writeJSON(w, r, status, syncResponse{Status: state, Requested: s.now().UTC()})
			return
		}
		class := "ok"
		if status >= 400 {
			class = "err"
		}
		var buf bytes.Buffer
		_ = syncFragment.Execute(&buf, struct{ Class, Status, Text string }{class, state, text})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = buf.WriteTo(w)
	}
	if s.sync == nil {
		reply(http.StatusNotImplemented, "unavailable", "sync is not available in this mode")
		return
	}
	if err := s.sync(r.Context()); err != nil {
		s.log.ErrorContext(r.Context(), "api: sync", "error", err)
		reply(http.StatusInternalServerError, "failed", "sync could not start: "+err.Error())
		return
	}
	reply(http.StatusAccepted, "accepted", "Sync started at "+s.now().UTC().Format("15:04:05")+" UTC — refresh in a moment.")
}
