package duckdb

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

func alert(id, tenant, rule string, created time.Time, events ...string) schema.Alert {
	return schema.Alert{
		ID: id, Tenant: tenant, RuleID: rule, RuleVersion: "1", Title: "Title " + id, Severity: "high",
		Tactics: []string{"TA0001"}, Techniques: []string{"T1078", "T1110"},
		Entities:   []schema.Entity{{Type: "mailbox", Value: "a@example.com"}, {Type: "ip", Value: "192.0.2.1"}},
		EventIDs:   events,
		GroupKey:   "a@example.com",
		FirstEvent: created.Add(-time.Hour), LastEvent: created.Add(-time.Minute), Created: created,
		Explanation: "because " + id,
	}
}

func TestUpsertAlerts(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	a1 := alert("a1", "t1", "r1", t0, "e1", "e2")
	a2 := alert("a2", "t1", "r2", t0.Add(time.Hour), "e3")
	a2.Status = "acknowledged"
	n, err := d.UpsertAlerts(ctx, []schema.Alert{a1, a2})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("first upsert: %d new, want 2", n)
	}

	got, err := d.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	wantA1 := a1
	wantA1.Status = StatusNew
	if len(got) != 2 || !reflect.DeepEqual(got[1], wantA1) || !reflect.DeepEqual(got[0], a2) {
		t.Fatalf("stored alerts:\n got %+v\nwant %+v and %+v", got, a2, wantA1)
	}

	// The user triages a1; detection then re-finds it with more events and a later last event.
	if _, err := d.DB().ExecContext(ctx, `UPDATE alerts SET status = 'closed' WHERE id = 'a1'`); err != nil {
		t.Fatal(err)
	}
	again := alert("a1", "t1", "r1", t0.Add(24*time.Hour), "e2", "e4", "e5", "e4")
	again.Status = "new"
	again.Title = "changed"
	again.LastEvent = t0.Add(2 * time.Hour)
	again.FirstEvent = t0 // later than the stored first event: must not move it
	a3 := alert("a3", "t2", "r1", t0.Add(2*time.Hour), "e9")
	n, err = d.UpsertAlerts(ctx, []schema.Alert{again, a3})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("second upsert: %d new, want 1", n)
	}
	got, err = d.Alerts(ctx, store.AlertFilter{RuleID: "r1", Tenant: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("filter by tenant and rule: %d alerts", len(got))
	}
	merged := got[0]
	if merged.Status != "closed" {
		t.Errorf("status = %q, want the triaged status kept", merged.Status)
	}
	if want := []string{"e1", "e2", "e4", "e5"}; !reflect.DeepEqual(merged.EventIDs, want) {
		t.Errorf("event ids = %v, want %v", merged.EventIDs, want)
	}
	if !merged.LastEvent.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("last event = %v, want extended to %v", merged.LastEvent, t0.Add(2*time.Hour))
	}
	if !merged.FirstEvent.Equal(a1.FirstEvent) || merged.Title != a1.Title || !merged.Created.Equal(a1.Created) {
		t.Errorf("first event/title/created changed: %+v", merged)
	}

	// An older last event does not pull it back; an alert repeated within one call is merged.
	older := alert("a1", "t1", "r1", t0, "e6")
	older.LastEvent = t0.Add(-5 * time.Hour)
	n, err = d.UpsertAlerts(ctx, []schema.Alert{older, alert("a4", "t1", "r1", t0, "x1"), alert("a4", "t1", "r1", t0, "x2")})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("third upsert: %d new, want 1", n)
	}
	byID := map[string]schema.Alert{}
	all, _ := d.Alerts(ctx, store.AlertFilter{})
	for _, a := range all {
		byID[a.ID] = a
	}
	if !byID["a1"].LastEvent.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("an older last event moved it back: %v", byID["a1"].LastEvent)
	}
	if want := []string{"x1", "x2"}; !reflect.DeepEqual(byID["a4"].EventIDs, want) {
		t.Errorf("alert repeated in one call: event ids %v, want %v", byID["a4"].EventIDs, want)
	}
	if c, _ := d.Count(ctx, "alerts"); c != 4 {
		t.Errorf("%d alerts stored, want 4", c)
	}
}

func TestUpsertAlertsRejectsMissingID(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	n, err := d.UpsertAlerts(ctx, []schema.Alert{alert("ok", "t", "r", t0), alert("", "t", "r", t0)})
	if err == nil || n != 0 {
		t.Fatalf("n=%d err=%v; want an error", n, err)
	}
	if c, _ := d.Count(ctx, "alerts"); c != 0 {
		t.Errorf("%d alerts stored from a rejected call", c)
	}
}

func TestAlertsFilterAndOrder(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	var in []schema.Alert
	for i, spec := range []struct{ id, tenant, rule string }{
		{"a", "t1", "r1"}, {"b", "t1", "r2"}, {"c", "t2", "r1"}, {"d", "t1", "r1"}, {"e", "t2", "r2"},
	} {
		in = append(in, alert(spec.id, spec.tenant, spec.rule, t0.Add(time.Duration(i)*time.Hour)))
	}
	// A minimal alert: no lists, no times but created, no status.
	in = append(in, schema.Alert{ID: "f", Tenant: "t3", RuleID: "r3"})
	if _, err := d.UpsertAlerts(ctx, in); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    store.AlertFilter
		want []string
	}{
		{"all newest first", store.AlertFilter{}, []string{"e", "d", "c", "b", "a", "f"}},
		{"tenant", store.AlertFilter{Tenant: "t1"}, []string{"d", "b", "a"}},
		{"rule", store.AlertFilter{RuleID: "r1"}, []string{"d", "c", "a"}},
		{"since inclusive", store.AlertFilter{Since: t0.Add(3 * time.Hour)}, []string{"e", "d"}},
		{"limit", store.AlertFilter{Limit: 2}, []string{"e", "d"}},
		{"no match", store.AlertFilter{Tenant: "zz"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Alerts(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range got {
				ids = append(ids, a.ID)
			}
			if !reflect.DeepEqual(ids, tc.want) {
				t.Errorf("ids = %v, want %v", ids, tc.want)
			}
		})
	}
	minimal, err := d.Alerts(ctx, store.AlertFilter{Tenant: "t3"})
	if err != nil || len(minimal) != 1 {
		t.Fatalf("minimal alert: %v %v", minimal, err)
	}
	m := minimal[0]
	if m.Status != StatusNew || !m.Created.Equal(t0) || !m.FirstEvent.IsZero() || len(m.EventIDs) != 0 || len(m.Entities) != 0 {
		t.Errorf("minimal alert read back as %+v", m)
	}
}

func TestSetAlertStatus(t *testing.T) {
	ctx := context.Background()
	db := openMem(t)
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	if _, err := db.UpsertAlerts(ctx, []schema.Alert{
		{ID: "a1", Tenant: "t", RuleID: "r", FirstEvent: at, LastEvent: at},
		{ID: "a2", Tenant: "t", RuleID: "r", FirstEvent: at, LastEvent: at},
	}); err != nil {
		t.Fatal(err)
	}
	n, err := db.SetAlertStatus(ctx, []string{"a1", "missing"}, "superseded")
	if err != nil || n != 1 {
		t.Fatalf("SetAlertStatus = %d, %v; want 1 changed", n, err)
	}
	if n, _ := db.SetAlertStatus(ctx, []string{"a1"}, "superseded"); n != 0 {
		t.Fatalf("setting the same status again changed %d alerts", n)
	}
	got, err := db.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, a := range got {
		status[a.ID] = a.Status
	}
	if status["a1"] != "superseded" || status["a2"] != StatusNew {
		t.Fatalf("statuses = %v", status)
	}
	if _, err := db.SetAlertStatus(ctx, []string{"a2"}, ""); err == nil {
		t.Fatal("an empty status must be refused")
	}
}
