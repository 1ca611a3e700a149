package duckdb

import (
	"context"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/store"
)

func TestConnectorStatusAccumulates(t *testing.T) {
	ctx := context.Background()
	db := openMem(t)
	at := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	runs := []store.Connector{
		{Tenant: "acme", Stream: "audit", State: "ok", LastRun: at, LastSuccess: at, Rows: 40, Pages: 2, Interval: 15 * time.Minute},
		{Tenant: "acme", Stream: "audit", State: "error", LastRun: at.Add(time.Hour), LastError: "HTTP 503", LastErrorAt: at.Add(time.Hour), Rows: 5, Pages: 1, Interval: 15 * time.Minute},
		{Tenant: "acme", Stream: "dlp", State: "unavailable", LastRun: at, LastError: "HTTP 403 app_forbidden", LastErrorAt: at},
	}
	for _, c := range runs {
		if err := db.SaveConnector(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Connectors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("want one row per tenant stream, got %+v", got)
	}
	a := got[0]
	if a.Stream != "audit" || a.State != "error" || a.Rows != 45 || a.Pages != 3 || !a.LastSuccess.Equal(at) ||
		!a.LastRun.Equal(at.Add(time.Hour)) || a.LastError != "HTTP 503" || a.Interval != 15*time.Minute {
		t.Errorf("audit status %+v: totals must add up and the last success survive a failed run", a)
	}
	if d := got[1]; d.State != "unavailable" || !d.LastSuccess.IsZero() || d.LastError == "" {
		t.Errorf("dlp status %+v", d)
	}
	if err := db.SaveConnector(ctx, store.Connector{Tenant: "acme"}); err == nil {
		t.Error("a status without stream and state must be refused")
	}
}
