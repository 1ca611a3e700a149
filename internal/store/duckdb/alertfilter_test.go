package duckdb

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// alertIDs returns the ids of alerts in order.
func alertIDs(as []schema.Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func TestAlertFilters(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	mk := func(id, rule, sev, status string, at time.Time, entity string) schema.Alert {
		a := alert(id, "t1", rule, at.Add(time.Minute), "e-"+id)
		a.Severity, a.Status, a.Title = sev, status, "Alert "+id
		a.Entities = []schema.Entity{{Type: "mailbox", Value: entity}}
		return a
	}
	in := []schema.Alert{
		mk("a1", "r1", "high", "new", t0, "ann@example.com"),
		mk("a2", "r2", "low", "closed", t0.Add(time.Hour), "bob@example.com"),
		mk("a3", "r1", "medium", "active", t0.Add(2*time.Hour), "Carol@Example.com"),
		mk("a4", "r3", "high", "new", t0.Add(3*time.Hour), "dan@example.com"),
	}
	if _, err := d.UpsertAlerts(ctx, in); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    store.AlertFilter
		want []string
	}{
		{"time sort", store.AlertFilter{Sort: store.AlertSortTime}, []string{"a4", "a3", "a2", "a1"}},
		{"severity sort", store.AlertFilter{Sort: store.AlertSortSeverity}, []string{"a4", "a1", "a3", "a2"}},
		{"rule sort", store.AlertFilter{Sort: store.AlertSortRule}, []string{"a3", "a1", "a2", "a4"}},
		{"severity", store.AlertFilter{Severity: "HIGH", Sort: store.AlertSortTime}, []string{"a4", "a1"}},
		{"statuses", store.AlertFilter{Statuses: []string{"new", "active"}, Sort: store.AlertSortTime}, []string{"a4", "a3", "a1"}},
		{"rule", store.AlertFilter{RuleID: "r1", Sort: store.AlertSortTime}, []string{"a3", "a1"}},
		{"entity text", store.AlertFilter{Text: "carol@example"}, []string{"a3"}},
		{"title text", store.AlertFilter{Text: "alert A2"}, []string{"a2"}},
		{"range [from, to)", store.AlertFilter{From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour), Sort: store.AlertSortTime}, []string{"a3", "a2"}},
		{"ids", store.AlertFilter{IDs: []string{"a2", "a4", "zz"}, Sort: store.AlertSortTime}, []string{"a4", "a2"}},
		{"no ids", store.AlertFilter{IDs: []string{}}, []string{}},
		{"page 2", store.AlertFilter{Sort: store.AlertSortTime, Limit: 2, Offset: 2}, []string{"a2", "a1"}},
		{"offset past end", store.AlertFilter{Sort: store.AlertSortTime, Limit: 2, Offset: 4}, []string{}},
	}
	for _, tc := range cases {
		got, err := d.Alerts(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ids := alertIDs(got); !slices.Equal(ids, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, ids, tc.want)
		}
	}
	if _, err := d.Alerts(ctx, store.AlertFilter{Sort: "bogus"}); err == nil {
		t.Error("unknown sort accepted")
	}
}

func snapEvent(id string, at time.Time) schema.Event {
	return schema.Event{ID: id, Time: at, Tenant: "t1", Table: "Audit_CL", EventType: "failed-app-login", SrcIP: "192.0.2.1"}
}

func TestAlertEventSnapshotStored(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	a := alert("a1", "t1", "r1", t0, "e1", "e2")
	a.EventCount = 2
	a.Events = []schema.Event{snapEvent("e2", t0.Add(-time.Minute)), snapEvent("e1", t0.Add(-time.Hour))}
	if _, err := d.UpsertAlerts(ctx, []schema.Alert{a}); err != nil {
		t.Fatal(err)
	}
	list, err := d.Alerts(ctx, store.AlertFilter{})
	if err != nil || len(list) != 1 || list[0].Events != nil || list[0].EventCount != 2 {
		t.Fatalf("list: %+v, %v (want no snapshot and count 2)", list, err)
	}
	// The alert grows: later and earlier events; the snapshot stays ordered, unique and capped.
	grown := a
	grown.EventCount = schema.MaxAlertEvents + 10
	grown.Events = []schema.Event{snapEvent("e1", t0.Add(-time.Hour))}
	for i := range schema.MaxAlertEvents + 9 {
		grown.Events = append(grown.Events, snapEvent(fmt.Sprintf("f%03d", i), t0.Add(-2*time.Hour+time.Duration(i)*time.Second)))
	}
	if _, err := d.UpsertAlerts(ctx, []schema.Alert{grown}); err != nil {
		t.Fatal(err)
	}
	got, err := d.Alerts(ctx, store.AlertFilter{IDs: []string{"a1"}, WithEvents: true})
	if err != nil || len(got) != 1 {
		t.Fatalf("one alert: %v, %v", got, err)
	}
	evs := got[0].Events
	if len(evs) != schema.MaxAlertEvents || got[0].EventCount != schema.MaxAlertEvents+10 {
		t.Fatalf("snapshot %d events, count %d", len(evs), got[0].EventCount)
	}
	if evs[0].ID != "f000" || evs[1].ID != "f001" || !evs[0].Time.Equal(t0.Add(-2*time.Hour)) || evs[0].SrcIP != "192.0.2.1" {
		t.Errorf("snapshot starts %s %s, want the earliest events f000, f001", evs[0].ID, evs[1].ID)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Time.Before(evs[i-1].Time) || evs[i].ID == evs[i-1].ID {
			t.Fatalf("snapshot not ordered or repeats at %d: %s then %s", i, evs[i-1].ID, evs[i].ID)
		}
	}
}

// TestMigrateAddsAlertSnapshotColumns opens a store whose alerts table predates the snapshot columns (schema
// version 3) and checks the columns are added in place and the stored alert survives.
func TestMigrateAddsAlertSnapshotColumns(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	d, err := Open(ctx, path, Options{Tables: testTables(), Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.writeConn()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`ALTER TABLE alerts DROP COLUMN events`, `ALTER TABLE alerts DROP COLUMN event_count`,
		`DELETE FROM schema_migrations WHERE version >= 4`,
		`INSERT INTO alerts (id, tenant, rule_id, tactics, techniques, entities, event_ids, created, status)
			VALUES ('old', 't1', 'r1', [], [], '[]', ['e1'], TIMESTAMP '2026-03-01 10:00:00', 'new')`,
	} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Open(ctx, path, Options{Tables: testTables(), Now: fixedClock})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer d.Close()
	got, err := d.Alerts(ctx, store.AlertFilter{WithEvents: true})
	if err != nil || len(got) != 1 || got[0].ID != "old" || got[0].Events != nil {
		t.Fatalf("old alert after migration: %+v, %v", got, err)
	}
	a := alert("old", "t1", "r1", t0, "e2")
	a.Events, a.EventCount = []schema.Event{snapEvent("e2", t0)}, 2
	if _, err := d.UpsertAlerts(ctx, []schema.Alert{a}); err != nil {
		t.Fatal(err)
	}
	got, err = d.Alerts(ctx, store.AlertFilter{WithEvents: true})
	if err != nil || len(got) != 1 || len(got[0].Events) != 1 || got[0].EventCount != 2 {
		t.Fatalf("old alert gaining a snapshot: %+v, %v", got, err)
	}
}

func TestIncidentFilters(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	mk := func(id, sev, owner string, first time.Time) store.Incident {
		return store.Incident{ID: id, Tenant: "t1", RuleID: "r1", Title: id, Severity: sev, Owner: owner,
			AlertIDs: []string{"a-" + id}, FirstAlert: first, LastAlert: first.Add(time.Hour), Created: first}
	}
	if _, err := d.SaveIncidents(ctx, []store.Incident{
		mk("i1", "low", "", t0), mk("i2", "high", "ann", t0.Add(2*time.Hour)), mk("i3", "medium", "Ann", t0.Add(4*time.Hour)),
	}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    store.IncidentFilter
		want []string
	}{
		{"default", store.IncidentFilter{}, []string{"i3", "i2", "i1"}},
		{"severity sort", store.IncidentFilter{Sort: store.IncidentSortSeverity}, []string{"i2", "i3", "i1"}},
		{"severity", store.IncidentFilter{Severity: "medium"}, []string{"i3"}},
		{"owner", store.IncidentFilter{Owner: "ann"}, []string{"i3", "i2"}},
		{"unassigned", store.IncidentFilter{Owner: store.NoOwner}, []string{"i1"}},
		{"range", store.IncidentFilter{Since: t0.Add(2 * time.Hour), Until: t0.Add(4 * time.Hour)}, []string{"i2"}},
		{"page", store.IncidentFilter{Limit: 1, Offset: 1}, []string{"i2"}},
	}
	for _, tc := range cases {
		got, err := d.Incidents(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ids := make([]string, 0, len(got))
		for _, inc := range got {
			ids = append(ids, inc.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, ids, tc.want)
		}
	}
}
