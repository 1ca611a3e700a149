package app

import (
	"context"
	"log/slog"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/detect"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

var incT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// openIncidentStore opens an in-memory store whose clock is fixed.
func openIncidentStore(t *testing.T) *duckdb.DB {
	t.Helper()
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{Threads: 1, Now: func() time.Time { return incT0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mailAlert(id string, at time.Duration, sev string, mailboxes ...string) schema.Alert {
	al := schema.Alert{ID: id, Tenant: "acme", RuleID: "rule-av", Title: "alert " + id, Severity: sev,
		FirstEvent: incT0.Add(at), LastEvent: incT0.Add(at), Created: incT0.Add(at), EventIDs: []string{"e-" + id}}
	for _, m := range mailboxes {
		al.Entities = append(al.Entities, schema.Entity{Type: "mailbox", Value: m})
	}
	return al
}

// incidentAlerts maps each stored incident to its alert ids.
func incidentAlerts(t *testing.T, st store.Store) map[string][]string {
	t.Helper()
	incs, err := st.Incidents(context.Background(), store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, inc := range incs {
		out[inc.ID] = inc.AlertIDs
	}
	return out
}

// groups returns the alert id lists of a shape, sorted, for comparisons that ignore incident ids.
func groups(shape map[string][]string) [][]string {
	var out [][]string
	for _, ids := range shape {
		out = append(out, ids)
	}
	slices.SortFunc(out, func(a, b []string) int { return slices.Compare(a, b) })
	return out
}

func TestGroupIncidents(t *testing.T) {
	const day = 24 * time.Hour
	ctx := context.Background()
	tests := []struct {
		name    string
		batches [][]schema.Alert // each batch is one GroupIncidents call
		want    [][]string
	}{
		{"shared entities within 7 days join; others stay apart", [][]schema.Alert{{
			mailAlert("a1", 0, "low", "eve@x.example", "bob@x.example"),
			mailAlert("a2", 3*day, "high", "bob@x.example", "eve@x.example"),
			mailAlert("a3", 4*day, "low", "mallory@x.example"),
		}}, [][]string{{"a1", "a2"}, {"a3"}}},
		{"joins a stored incident in a later call", [][]schema.Alert{
			{mailAlert("a1", 0, "low", "eve@x.example")},
			{mailAlert("a2", 6*day, "low", "eve@x.example")},
		}, [][]string{{"a1", "a2"}}},
		{"beyond 7 days starts an incident", [][]schema.Alert{
			{mailAlert("a1", 0, "low", "eve@x.example")},
			{mailAlert("a2", 7*day+time.Minute, "low", "eve@x.example")},
		}, [][]string{{"a1"}, {"a2"}}},
		{"an alert returned again stays in its incident", [][]schema.Alert{
			{mailAlert("a1", 0, "low", "eve@x.example"), mailAlert("a2", day, "low", "eve@x.example")},
			{mailAlert("a2", day, "low", "eve@x.example")},
		}, [][]string{{"a1", "a2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openIncidentStore(t)
			for _, b := range tt.batches {
				if _, err := GroupIncidents(ctx, db, b); err != nil {
					t.Fatal(err)
				}
			}
			if got := groups(incidentAlerts(t, db)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("incidents = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGroupIncidentsReplayAddsNothing(t *testing.T) {
	ctx := context.Background()
	db := openIncidentStore(t)
	alerts := []schema.Alert{
		mailAlert("a1", 0, "low", "eve@x.example"),
		mailAlert("a2", time.Hour, "high", "eve@x.example"),
		mailAlert("a3", 2*time.Hour, "low", "bob@x.example"),
	}
	n, err := GroupIncidents(ctx, db, alerts)
	if err != nil || n != 2 {
		t.Fatalf("first pass: %d new, %v; want 2", n, err)
	}
	before, err := db.Incidents(ctx, store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	// The analyst closes the first incident; a replay of the same alerts must not reopen it or start another.
	if _, err := db.UpdateIncident(ctx, before[1].ID, store.IncidentUpdate{State: store.IncidentClosed}); err != nil {
		t.Fatal(err)
	}
	closed, err := db.Incident(ctx, before[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	before[1] = closed
	before[1].Comments = nil
	a2 := alerts[1]
	slices.Reverse(alerts)
	n, err = GroupIncidents(ctx, db, alerts)
	if err != nil || n != 0 {
		t.Fatalf("replay: %d new, %v; want 0", n, err)
	}
	// The engine returning a2 alone again (its event set grew) keeps it in its closed incident.
	n, err = GroupIncidents(ctx, db, []schema.Alert{a2})
	if err != nil || n != 0 {
		t.Fatalf("a2 again: %d new, %v; want 0", n, err)
	}
	after, err := db.Incidents(ctx, store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("replay changed incidents:\n got %+v\nwant %+v", after, before)
	}
	if before[1].Severity != "high" || before[1].State != store.IncidentClosed {
		t.Errorf("first incident: severity %s, state %s; want high, closed", before[1].Severity, before[1].State)
	}
	// A new matching alert after the close starts a new incident (a closed incident takes no more alerts).
	if n, err := GroupIncidents(ctx, db, []schema.Alert{mailAlert("a4", 3*time.Hour, "low", "eve@x.example")}); err != nil || n != 1 {
		t.Errorf("alert after close: %d new, %v; want 1", n, err)
	}
}

// avEvent is a normalized antivirus event as the built-in AV rule reads it: one message from sender to recipient.
func avEvent(id string, at time.Time, sender, recipient string) schema.Event {
	return schema.Event{
		ID: "acme/Seg_Cg_CL/" + id, Time: at, Tenant: "acme", Table: "Seg_Cg_CL", EventType: "security-alert",
		Activity: "email_antivirus", Sender: sender, Recipients: []string{recipient}, MessageID: "<" + id + "@x.example>",
		User: recipient, UserEmail: recipient,
	}
}

// TestEvaluateGroupsIncidents feeds events through the real engine and the app's evaluate step.
func TestEvaluateGroupsIncidents(t *testing.T) {
	ctx := context.Background()
	db := openIncidentStore(t)
	rules, err := detect.LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return incT0.Add(10 * 24 * time.Hour) }
	a := &App{store: db, log: slog.New(slog.DiscardHandler), now: clock,
		engine: detect.New(rules, detect.Options{Clock: clock, Lateness: 30 * 24 * time.Hour})}
	events := []schema.Event{
		avEvent("m1", incT0, "bad@evil.example", "eve@corp.example"),
		avEvent("m2", incT0.Add(2*24*time.Hour), "bad@evil.example", "eve@corp.example"),
		avEvent("m3", incT0.Add(3*24*time.Hour), "bad@evil.example", "bob@corp.example"),
	}
	if err := a.evaluate(ctx, events); err != nil {
		t.Fatal(err)
	}
	alerts, err := db.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 3 {
		t.Fatalf("%d alerts, want one per message", len(alerts))
	}
	shape := incidentAlerts(t, db)
	if len(shape) != 2 {
		t.Fatalf("incidents = %v, want two (m1+m2 share sender and recipient; m3 has another recipient)", shape)
	}
	var sizes []int
	for _, ids := range shape {
		sizes = append(sizes, len(ids))
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{1, 2}) {
		t.Errorf("incident sizes = %v, want [1 2]", sizes)
	}

	// Replaying the same events (as a restart does) adds no alert and no incident.
	a.engine = detect.New(rules, detect.Options{Clock: clock, Lateness: 30 * 24 * time.Hour})
	if err := a.evaluate(ctx, events); err != nil {
		t.Fatal(err)
	}
	if again := incidentAlerts(t, db); !reflect.DeepEqual(again, shape) {
		t.Errorf("replay changed incidents: %v, want %v", again, shape)
	}
}
