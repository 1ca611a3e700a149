package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// incidentHarness serves the handler over a real in-memory DuckDB store holding two incidents and one alert.
type incidentHarness struct {
	h  http.Handler
	db *duckdb.DB
}

func newIncidentHarness(t *testing.T) incidentHarness {
	t.Helper()
	ctx := context.Background()
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1, Tables: []*schema.Table{&schema.Audit},
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	at := testNow.Add(-48 * time.Hour)
	incs := []store.Incident{
		{ID: "inc-1", Tenant: "acme", RuleID: "r", Title: "Failed logons for eve", Severity: "medium",
			Entities: []schema.Entity{{Type: "mailbox", Value: "eve@acme.example"}}, AlertIDs: []string{"al-1"},
			FirstAlert: at, LastAlert: at},
		{ID: "inc-2", Tenant: "globex", RuleID: "r", Title: "Failed logons for bob", Severity: "low",
			AlertIDs: []string{"al-2"}, FirstAlert: at.Add(time.Hour), LastAlert: at.Add(time.Hour)},
	}
	if _, err := db.SaveIncidents(ctx, incs); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpsertAlerts(ctx, []schema.Alert{{ID: "al-1", Tenant: "acme", RuleID: "r", Title: "Failed logons",
		Severity: "medium", FirstEvent: at, LastEvent: at}}); err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(t, Options{Store: db, Now: func() time.Time { return testNow }, Static: builtAssets()})
	return incidentHarness{h: h, db: db}
}

// call sends a request with an optional JSON body and headers and returns the status and body.
func (ih incidentHarness) call(t *testing.T, method, target, body string, hdr ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	ih.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func decodeIncident(t *testing.T, body string) store.Incident {
	t.Helper()
	var inc store.Incident
	if err := json.Unmarshal([]byte(body), &inc); err != nil {
		t.Fatalf("not an incident: %v\n%s", err, body)
	}
	return inc
}

func TestIncidentList(t *testing.T) {
	ih := newIncidentHarness(t)
	tests := []struct {
		name   string
		target string
		status int
		want   []string
	}{
		{"all, latest first", "/api/v1/incidents", http.StatusOK, []string{"inc-2", "inc-1"}},
		{"tenant", "/api/v1/incidents?tenant=acme", http.StatusOK, []string{"inc-1"}},
		{"state", "/api/v1/incidents?state=closed", http.StatusOK, []string{}},
		{"limit", "/api/v1/incidents?limit=1", http.StatusOK, []string{"inc-2"}},
		{"bad state", "/api/v1/incidents?state=open", http.StatusBadRequest, nil},
		{"bad limit", "/api/v1/incidents?limit=0", http.StatusBadRequest, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := ih.call(t, http.MethodGet, tt.target, "")
			if code != tt.status {
				t.Fatalf("status = %d, want %d: %s", code, tt.status, body)
			}
			if tt.want == nil {
				if !strings.Contains(body, `"error"`) {
					t.Errorf("no error message: %s", body)
				}
				return
			}
			var got incidentsResponse
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, inc := range got.Incidents {
				ids = append(ids, inc.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
				t.Errorf("ids = %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestIncidentGetAndUpdate(t *testing.T) {
	ih := newIncidentHarness(t)
	code, body := ih.call(t, http.MethodGet, "/api/v1/incidents/inc-1", "")
	if code != http.StatusOK || decodeIncident(t, body).Title != "Failed logons for eve" {
		t.Fatalf("get: %d %s", code, body)
	}

	code, body = ih.call(t, http.MethodPost, "/api/v1/incidents/inc-1", `{"owner": "ann@acme.example"}`)
	if inc := decodeIncident(t, body); code != http.StatusOK || inc.Owner != "ann@acme.example" || inc.State != store.IncidentActive {
		t.Fatalf("assign: %d %s", code, body)
	}
	code, body = ih.call(t, http.MethodPost, "/api/v1/incidents/inc-1", `{"state": "closed", "classification": "false positive"}`)
	if inc := decodeIncident(t, body); code != http.StatusOK || inc.State != store.IncidentClosed || inc.Classification != "false positive" {
		t.Fatalf("close: %d %s", code, body)
	}
	stored, err := ih.db.Incident(context.Background(), "inc-1")
	if err != nil || stored.State != store.IncidentClosed || stored.Owner != "ann@acme.example" {
		t.Errorf("stored after close: %+v, %v", stored, err)
	}

	errs := []struct {
		name, method, target, body string
		status                     int
	}{
		{"get unknown", http.MethodGet, "/api/v1/incidents/nope", "", http.StatusNotFound},
		{"update unknown", http.MethodPost, "/api/v1/incidents/nope", `{"state": "active"}`, http.StatusNotFound},
		{"bad state", http.MethodPost, "/api/v1/incidents/inc-2", `{"state": "resolved"}`, http.StatusBadRequest},
		{"classification on an open incident", http.MethodPost, "/api/v1/incidents/inc-2", `{"classification": "x"}`, http.StatusBadRequest},
		{"empty change", http.MethodPost, "/api/v1/incidents/inc-2", `{}`, http.StatusBadRequest},
		{"unknown field", http.MethodPost, "/api/v1/incidents/inc-2", `{"status": "active"}`, http.StatusBadRequest},
		{"not JSON", http.MethodPost, "/api/v1/incidents/inc-2", `state=active`, http.StatusBadRequest},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			code, body := ih.call(t, tt.method, tt.target, tt.body)
			if code != tt.status || !strings.Contains(body, `"error"`) {
				t.Errorf("status = %d, want %d: %s", code, tt.status, body)
			}
		})
	}
	if inc, err := ih.db.Incident(context.Background(), "inc-2"); err != nil || inc.State != store.IncidentNew || inc.Classification != "" {
		t.Errorf("rejected requests changed inc-2: %+v, %v", inc, err)
	}
}

func TestIncidentComments(t *testing.T) {
	ih := newIncidentHarness(t)
	code, body := ih.call(t, http.MethodPost, "/api/v1/incidents/inc-1/comments", `{"author": "ann", "text": "reset the password"}`)
	if code != http.StatusCreated {
		t.Fatalf("comment: %d %s", code, body)
	}
	code, body = ih.call(t, http.MethodGet, "/api/v1/incidents/inc-1", "")
	inc := decodeIncident(t, body)
	want := store.IncidentComment{Author: "ann", Text: "reset the password", Time: testNow}
	if code != http.StatusOK || len(inc.Comments) != 1 || inc.Comments[0] != want {
		t.Fatalf("comments after posting: %d %+v, want [%+v]", code, inc.Comments, want)
	}
	for _, tt := range []struct {
		name, target, body string
		status             int
	}{
		{"unknown incident", "/api/v1/incidents/nope/comments", `{"text": "x"}`, http.StatusNotFound},
		{"blank text", "/api/v1/incidents/inc-1/comments", `{"author": "ann", "text": "  "}`, http.StatusBadRequest},
		{"not JSON", "/api/v1/incidents/inc-1/comments", `hello`, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := ih.call(t, http.MethodPost, tt.target, tt.body); code != tt.status {
				t.Errorf("status = %d, want %d: %s", code, tt.status, body)
			}
		})
	}
	if inc, _ := ih.db.Incident(context.Background(), "inc-1"); len(inc.Comments) != 1 {
		t.Errorf("rejected comments were stored: %+v", inc.Comments)
	}
}

func TestIncidentPostsRefuseCrossSite(t *testing.T) {
	ih := newIncidentHarness(t)
	code, _ := ih.call(t, http.MethodPost, "/api/v1/incidents/inc-1", `{"state": "closed"}`,
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if code != http.StatusForbidden {
		t.Errorf("cross-site POST: status %d, want 403", code)
	}
	if inc, _ := ih.db.Incident(context.Background(), "inc-1"); inc.State != store.IncidentNew {
		t.Errorf("cross-site POST changed the incident: state %s", inc.State)
	}
}

func TestAlertStatus(t *testing.T) {
	ih := newIncidentHarness(t)
	tests := []struct {
		name, target, body string
		status             int
		changed            bool
	}{
		{"set", "/api/v1/alerts/al-1/status", `{"status": "closed"}`, http.StatusOK, true},
		{"same again", "/api/v1/alerts/al-1/status", `{"status": "closed"}`, http.StatusOK, false},
		{"unknown alert", "/api/v1/alerts/nope/status", `{"status": "closed"}`, http.StatusNotFound, false},
		{"bad status", "/api/v1/alerts/al-1/status", `{"status": "superseded"}`, http.StatusBadRequest, false},
		{"no body", "/api/v1/alerts/al-1/status", ``, http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := ih.call(t, http.MethodPost, tt.target, tt.body)
			if code != tt.status {
				t.Fatalf("status = %d, want %d: %s", code, tt.status, body)
			}
			if code != http.StatusOK {
				return
			}
			var got alertStatusResponse
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.Changed != tt.changed || got.Status != "closed" {
				t.Errorf("response %+v, want changed=%v", got, tt.changed)
			}
		})
	}
	alerts, err := ih.db.Alerts(context.Background(), store.AlertFilter{})
	if err != nil || len(alerts) != 1 || alerts[0].Status != "closed" {
		t.Errorf("stored alert status: %+v, %v", alerts, err)
	}
}
