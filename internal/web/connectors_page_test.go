package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/auth"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// saveTestConnectors stores three connectors of tenant acme: audit ok 90 s ago, dlp failing, siem_cg never run
// successfully.
func saveTestConnectors(t testing.TB, db *duckdb.DB) {
	t.Helper()
	for _, c := range []store.Connector{
		{Tenant: "acme", Stream: "audit", State: "ok", LastRun: testNow.Add(-2 * time.Minute),
			LastSuccess: testNow.Add(-90 * time.Second), Rows: 1234, Pages: 7, Interval: 5 * time.Minute},
		{Tenant: "acme", Stream: "dlp", State: "error", LastRun: testNow.Add(-time.Hour), LastSuccess: testNow.Add(-26 * time.Hour),
			LastError: "HTTP 500 <server> error", LastErrorAt: testNow.Add(-time.Hour), Interval: 5 * time.Minute},
		{Tenant: "acme", Stream: "siem_cg", State: "idle", Interval: 10 * time.Minute},
	} {
		if err := db.SaveConnector(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
}

// connectorCalls records the callbacks the page triggers.
type connectorCalls struct {
	mu    sync.Mutex
	calls []string
}

func (c *connectorCalls) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, s)
}

func (c *connectorCalls) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// connectorOptions wires fake SyncStream and TestCredentials: tenant acme exists with streams audit, dlp and
// siem_cg; tenant acme's secret is good, tenant "bad" has a wrong one.
func connectorOptions(db *duckdb.DB, calls *connectorCalls) Options {
	return Options{
		Store: db,
		SyncStream: func(_ context.Context, tenant, stream string) error {
			calls.add("sync " + tenant + "/" + stream)
			if stream == "broken" {
				return errors.New("scheduler stopped")
			}
			if tenant != "acme" || (stream != "audit" && stream != "dlp" && stream != "siem_cg") {
				return fmt.Errorf("%w: tenant %q has no stream %q", ErrUnknownConnector, tenant, stream)
			}
			return nil
		},
		TestCredentials: func(_ context.Context, tenant string) error {
			calls.add("test " + tenant)
			switch tenant {
			case "acme":
				return nil
			case "bad":
				return errors.New("mimecast credentials rejected (check the client id and client secret)")
			}
			return fmt.Errorf("%w: no tenant %q is configured", ErrUnknownConnector, tenant)
		},
	}
}

func TestConnectorsPage(t *testing.T) {
	db := openPeopleStore(t)
	saveTestConnectors(t, db)
	calls := &connectorCalls{}
	hs := harness{h: newTestHandler(t, connectorOptions(db, calls))}
	body := hs.get(t, "/connectors")

	audit := rowOf(t, body, `data-stream="audit"`)
	for _, want := range []string{`data-state="ok"`, `data-lag-seconds="90"`, `<td class="lag">1m30s</td>`,
		`2026-03-10 12:28:00`, "1\u202f234", `<td>5m0s</td>`,
		// newest audit event of acme: l4 at 09:00, 3 h 30 min before now
		`2026-03-10 09:00:00 <span class="muted small">(3h30m0s ago)</span>`,
		`hx-post="/api/v1/connectors/acme/audit/sync"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit row lacks %s:\n%s", want, audit)
		}
	}
	dlp := rowOf(t, body, `data-stream="dlp"`)
	for _, want := range []string{`data-state="error"`, `<td class="lag">26h0m0s</td>`, "HTTP 500 &lt;server&gt; error",
		"(2026-03-10 11:30:00)", "2026-03-10 04:00:00"} {
		if !strings.Contains(dlp, want) {
			t.Errorf("dlp row lacks %s:\n%s", want, dlp)
		}
	}
	if cg := rowOf(t, body, `data-stream="siem_cg"`); !strings.Contains(cg, "never succeeded") {
		t.Errorf("siem_cg row: %s", cg)
	}
	if !strings.Contains(body, `hx-post="/api/v1/connectors/acme/test-credentials"`) {
		t.Error("no credentials test button for the admin")
	}
	if len(calls.list()) != 0 {
		t.Errorf("showing the page called %v", calls.list())
	}
	// The fragment the page polls is the table alone.
	frag := hs.get(t, "/fragments/connectors")
	if strings.Contains(frag, "<html") || !strings.Contains(frag, `id="connectors"`) {
		t.Error("fragment is not the connector table")
	}
}

func TestConnectorActions(t *testing.T) {
	db := openPeopleStore(t)
	calls := &connectorCalls{}
	hs := harness{h: newTestHandler(t, connectorOptions(db, calls))}
	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/api/v1/connectors/acme/audit/sync", http.StatusAccepted, `"status":"accepted"`},
		{"/api/v1/connectors/acme/nosuch/sync", http.StatusNotFound, `tenant \"acme\" has no stream \"nosuch\"`},
		{"/api/v1/connectors/acme/broken/sync", http.StatusInternalServerError, "sync failed: scheduler stopped"},
		{"/api/v1/connectors/acme/test-credentials", http.StatusOK, `"status":"ok"`},
		{"/api/v1/connectors/bad/test-credentials", http.StatusBadGateway, "credentials test failed: mimecast credentials rejected"},
		{"/api/v1/connectors/ghost/test-credentials", http.StatusNotFound, `no tenant \"ghost\"`},
	}
	for _, c := range cases {
		res, body := hs.do(t, http.MethodPost, c.path, nil)
		if res.StatusCode != c.status || !strings.Contains(body, c.body) {
			t.Errorf("POST %s = %d %s, want %d with %s", c.path, res.StatusCode, body, c.status, c.body)
		}
	}
	want := []string{"sync acme/audit", "sync acme/nosuch", "sync acme/broken", "test acme", "test bad", "test ghost"}
	if got := calls.list(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("calls = %v, want %v", got, want)
	}
	// htmx gets a status fragment and the signal to reload the table.
	res, body := hs.do(t, http.MethodPost, "/api/v1/connectors/acme/dlp/sync", map[string]string{"HX-Request": "true"})
	if res.StatusCode != http.StatusAccepted || res.Header.Get("HX-Trigger") != "connectors-changed" ||
		!strings.Contains(body, `data-action-status="accepted"`) || !strings.Contains(body, "Sync of acme/dlp started") {
		t.Errorf("htmx sync: %d %v %s", res.StatusCode, res.Header, body)
	}
	var js map[string]string
	_, body = hs.do(t, http.MethodPost, "/api/v1/connectors/acme/siem_cg/sync", nil)
	if err := json.Unmarshal([]byte(body), &js); err != nil || js["status"] != "accepted" {
		t.Errorf("JSON answer: %s", body)
	}
}

func TestConnectorActionsNeedAdmin(t *testing.T) {
	db := openPeopleStore(t)
	saveTestConnectors(t, db)
	calls := &connectorCalls{}
	ts := newTestServer(t, connectorOptions(db, calls))
	for _, role := range []auth.Role{auth.RoleViewer, auth.RoleAnalyst} {
		h := ts.as(t, role)
		for _, path := range []string{"/api/v1/connectors/acme/audit/sync", "/api/v1/connectors/acme/test-credentials"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
			if rec.Code != http.StatusForbidden {
				t.Errorf("%s POST %s = %d, want 403", role, path, rec.Code)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/connectors", nil))
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "sync-stream") ||
			strings.Contains(rec.Body.String(), "test-credentials\"") || !strings.Contains(rec.Body.String(), "Both need the admin role") {
			t.Errorf("%s sees the connectors page with %d and admin buttons", role, rec.Code)
		}
	}
	if got := calls.list(); len(got) != 0 {
		t.Errorf("refused requests reached the callbacks: %v", got)
	}
	rec := httptest.NewRecorder()
	ts.anonymous().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/connectors/acme/audit/sync", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("anonymous sync = %d", rec.Code)
	}
}

func TestConnectorActionsUnavailable(t *testing.T) {
	db := openPeopleStore(t)
	saveTestConnectors(t, db)
	hs := harness{h: newTestHandler(t, Options{Store: db})}
	for _, path := range []string{"/api/v1/connectors/acme/audit/sync", "/api/v1/connectors/acme/test-credentials"} {
		res, body := hs.do(t, http.MethodPost, path, nil)
		if res.StatusCode != http.StatusNotImplemented || !strings.Contains(body, "not available in this mode") {
			t.Errorf("POST %s without callback = %d %s", path, res.StatusCode, body)
		}
	}
	if body := hs.get(t, "/connectors"); strings.Contains(body, "sync-stream") || strings.Contains(body, "test-credentials\"") {
		t.Error("buttons shown without callbacks")
	}
}
