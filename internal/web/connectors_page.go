package web

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/store"
)

// ErrUnknownConnector reports a tenant, or a tenant and stream, that castwatch does not collect.
var ErrUnknownConnector = errors.New("unknown connector")

// connectorPages serves the connectors page and its actions (the playbook "Trigger Sync" of the Sentinel
// solution, per stream, and a per-tenant credentials test). Actions are POSTs and so need the admin role.
type connectorPages struct {
	*server
	syncStream      func(ctx context.Context, tenant, stream string) error
	testCredentials func(ctx context.Context, tenant string) error
}

func (s *server) registerConnectorPages(mux *http.ServeMux, opts Options) {
	c := &connectorPages{server: s, syncStream: opts.SyncStream, testCredentials: opts.TestCredentials}
	mux.HandleFunc("GET /connectors", c.handlePage)
	mux.HandleFunc("GET /fragments/connectors", c.handleFragment)
	s.handleAPI(mux, "POST /api/v1/connectors/{tenant}/{stream}/sync", c.handleSyncStream)
	s.handleAPI(mux, "POST /api/v1/connectors/{tenant}/test-credentials", c.handleTestCredentials)
}

// streamTables maps an event stream to the table and time column whose newest row shows how current it is.
var streamTables = map[string]struct{ table, column string }{
	"audit":             {"Audit_CL", `"eventTime"`},
	"dlp":               {"Seg_Dlp_CL", `"eventTime"`},
	"ttp_url":           {"Ttp_Url_CL", `"Date"`},
	"ttp_attachment":    {"Ttp_Attachment_CL", `"Date"`},
	"ttp_impersonation": {"Ttp_Impersonation_CL", `"eventTime"`},
	"siem_cg":           {"MimecastCG", `"Event Time"`},
	"siem_ci":           {"MimecastCloudIntegrated", `"Event Time"`},
}

// connectorRow is one tenant stream on the page.
type connectorRow struct {
	store.Connector
	// Lag is now − last success (0 when it never succeeded).
	Lag time.Duration
	// Newest is the newest event time stored for the tenant's stream (event streams only), NewestLag now − Newest.
	Newest    time.Time
	NewestLag time.Duration
}

// connectorsPage is the page's data.
type connectorsPage struct {
	Base
	Tenants []string
	Rows    []connectorRow
	Now     time.Time
	// CanSync and CanTest show the per-stream "Sync now" and per-tenant "Test credentials" buttons.
	CanSync, CanTest bool
	Error            string
}

func (c *connectorPages) handlePage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, "layout")
}

func (c *connectorPages) handleFragment(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, "connector_table")
}

func (c *connectorPages) render(w http.ResponseWriter, r *http.Request, name string) {
	p, err := c.load(r.Context())
	p.Base = c.base(r, "connectors", "pages.js")
	isAdmin := p.User.IsAdmin()
	p.CanSync, p.CanTest = isAdmin && c.syncStream != nil, isAdmin && c.testCredentials != nil
	status := http.StatusOK
	if err != nil {
		c.log.ErrorContext(r.Context(), "connectors page", "error", err)
		p.Error = "Could not load the connector status; the server log has the details."
		status = http.StatusInternalServerError
	}
	c.renderTemplate(w, r, status, "connectors", name, p)
}

func (c *connectorPages) load(ctx context.Context) (connectorsPage, error) {
	now := c.now().UTC()
	p := connectorsPage{Now: now}
	list, err := c.store.Connectors(ctx)
	if err != nil {
		return p, err
	}
	newest, err := c.newestEvents(ctx)
	if err != nil {
		// Freshness is secondary: the page still shows the saved status.
		c.log.WarnContext(ctx, "connectors page: newest events", "error", err)
	}
	for _, cn := range list {
		row := connectorRow{Connector: cn}
		if !cn.LastSuccess.IsZero() {
			row.Lag = now.Sub(cn.LastSuccess).Truncate(time.Second)
		}
		if t, ok := newest[cn.Tenant+"\x00"+cn.Stream]; ok {
			row.Newest, row.NewestLag = t, now.Sub(t).Truncate(time.Second)
		}
		p.Rows = append(p.Rows, row)
		if !slices.Contains(p.Tenants, cn.Tenant) {
			p.Tenants = append(p.Tenants, cn.Tenant)
		}
	}
	return p, nil
}

// newestEvents returns the newest stored event time per tenant and event stream, keyed "tenant\x00stream".
func (c *connectorPages) newestEvents(ctx context.Context) (map[string]time.Time, error) {
	var parts []string
	streams := make([]string, 0, len(streamTables))
	for s := range streamTables {
		streams = append(streams, s)
	}
	slices.Sort(streams)
	for _, s := range streams {
		t := streamTables[s]
		parts = append(parts, `SELECT '`+s+`' AS stream, "tenant", max(`+t.column+`) AS newest FROM "`+t.table+`" GROUP BY "tenant"`)
	}
	res, cols, err := c.run(ctx, query{SQL: strings.Join(parts, "\nUNION ALL\n")}, "stream", "tenant", "newest")
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for _, row := range res.Rows {
		t, err := asTime(cols.value(row, "newest"))
		if err != nil || t.IsZero() {
			continue
		}
		out[asString(cols.value(row, "tenant"))+"\x00"+asString(cols.value(row, "stream"))] = t
	}
	return out, nil
}

// actionFragment is what an htmx action button gets back.
var actionFragment = template.Must(template.New("action").Parse(
	`<span class="action-msg {{.Class}}" data-action-status="{{.Status}}">{{.Text}}</span>`))

// replyAction answers a connector action: JSON for API clients, a status fragment for htmx (which also asks the
// page to reload the connector table).
func (c *connectorPages) replyAction(w http.ResponseWriter, r *http.Request, status int, state, text string) {
	if r.Header.Get("HX-Request") != "true" {
		if status >= 400 {
			c.writeJSON(w, r, status, errorBody{text})
			return
		}
		c.writeJSON(w, r, status, struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		}{state, text})
		return
	}
	class := "ok"
	if status >= 400 {
		class = "err"
	}
	var buf bytes.Buffer
	_ = actionFragment.Execute(&buf, struct{ Class, Status, Text string }{class, state, text})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("HX-Trigger", "connectors-changed")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// actionError maps a callback's error to a status: 404 for an unknown connector, else status with its message.
func (c *connectorPages) actionError(w http.ResponseWriter, r *http.Request, status int, what string, err error) {
	if errors.Is(err, ErrUnknownConnector) {
		c.replyAction(w, r, http.StatusNotFound, "unknown", err.Error())
		return
	}
	c.log.WarnContext(r.Context(), "connectors: "+what, "error", err)
	c.replyAction(w, r, status, "failed", what+" failed: "+err.Error())
}

func (c *connectorPages) handleSyncStream(w http.ResponseWriter, r *http.Request) {
	tenant, stream := r.PathValue("tenant"), r.PathValue("stream")
	if c.syncStream == nil {
		c.replyAction(w, r, http.StatusNotImplemented, "unavailable", "per-stream sync is not available in this mode")
		return
	}
	if err := c.syncStream(r.Context(), tenant, stream); err != nil {
		c.actionError(w, r, http.StatusInternalServerError, "sync", err)
		return
	}
	c.replyAction(w, r, http.StatusAccepted, "accepted",
		"Sync of "+tenant+"/"+stream+" started at "+c.now().UTC().Format("15:04:05")+" UTC.")
}

func (c *connectorPages) handleTestCredentials(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if c.testCredentials == nil {
		c.replyAction(w, r, http.StatusNotImplemented, "unavailable", "the credentials test is not available in this mode")
		return
	}
	if err := c.testCredentials(r.Context(), tenant); err != nil {
		// The tenant's API refused or could not be reached: an upstream failure.
		c.actionError(w, r, http.StatusBadGateway, "credentials test", err)
		return
	}
	c.replyAction(w, r, http.StatusOK, "ok", "Credentials of "+tenant+" work: a token was issued.")
}
