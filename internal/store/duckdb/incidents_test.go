package duckdb

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

func incident(id, tenant string, first time.Time, alerts ...string) store.Incident {
	return store.Incident{
		ID: id, Tenant: tenant, RuleID: "r1", Title: "Title " + id, Severity: "low",
		Tactics: []string{"InitialAccess"}, Techniques: []string{"T1566"},
		Entities:   []schema.Entity{{Type: "mailbox", Value: "eve@example.com"}, {Type: "ip", Value: "192.0.2.1"}},
		AlertIDs:   alerts,
		FirstAlert: first, LastAlert: first,
	}
}

func TestSaveIncidentsRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	i1 := incident("i1", "acme", t0, "a1", "a2")
	i1.LastAlert = t0.Add(time.Hour)
	i2 := incident("i2", "globex", t0.Add(time.Hour), "a3")
	i2.State, i2.Owner = store.IncidentActive, "ann@corp.example"
	n, err := d.SaveIncidents(ctx, []store.Incident{i1, i2})
	if err != nil || n != 2 {
		t.Fatalf("save: %d new, %v; want 2", n, err)
	}
	got, err := d.Incidents(ctx, store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want1 := i1
	want1.State, want1.Created, want1.Updated = store.IncidentNew, t0, t0
	// Entities come back sorted by type, then value.
	want1.Entities = []schema.Entity{{Type: "ip", Value: "192.0.2.1"}, {Type: "mailbox", Value: "eve@example.com"}}
	want2 := i2
	want2.Created, want2.Updated, want2.Entities = t0, t0, want1.Entities
	// Both incidents' last alert is t0+1h; ties order by id.
	if len(got) != 2 || !reflect.DeepEqual(got[0], want1) || !reflect.DeepEqual(got[1], want2) {
		t.Fatalf("stored incidents:\n got %+v\nwant %+v\n and %+v", got, want1, want2)
	}
	one, err := d.Incident(ctx, "i2")
	if err != nil || !reflect.DeepEqual(one, want2) {
		t.Fatalf("Incident(i2) = %+v, %v; want %+v", one, err, want2)
	}
}

func TestSaveIncidentsMerge(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	if _, err := d.SaveIncidents(ctx, []store.Incident{incident("i1", "acme", t0, "a1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.UpdateIncident(ctx, "i1", store.IncidentUpdate{Owner: "ann@corp.example"}); err != nil {
		t.Fatal(err)
	}
	d.now = func() time.Time { return t0.Add(48 * time.Hour) }

	// Grouping finds a second alert; the caller's copy has stale triage fields and a new title.
	again := incident("i1", "acme", t0.Add(time.Hour), "a1", "a2")
	again.Title, again.State, again.Owner = "changed", store.IncidentNew, ""
	again.Severity = "high"
	again.LastAlert = t0.Add(26 * time.Hour)
	again.Techniques = []string{"T1566", "T1078"}
	again.Entities = append(again.Entities, schema.Entity{Type: "mailbox", Value: "bob@example.com"})
	n, err := d.SaveIncidents(ctx, []store.Incident{again})
	if err != nil || n != 0 {
		t.Fatalf("merge: %d new, %v; want 0", n, err)
	}
	got, err := d.Incident(ctx, "i1")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"alert ids", got.AlertIDs, []string{"a1", "a2"}},
		{"title kept", got.Title, "Title i1"},
		{"state kept", got.State, store.IncidentActive},
		{"owner kept", got.Owner, "ann@corp.example"},
		{"severity raised", got.Severity, "high"},
		{"first alert kept (earlier)", got.FirstAlert, t0},
		{"last alert widened", got.LastAlert, t0.Add(26 * time.Hour)},
		{"techniques gained", got.Techniques, []string{"T1566", "T1078"}},
		{"entities gained", got.Entities, []schema.Entity{{Type: "ip", Value: "192.0.2.1"},
			{Type: "mailbox", Value: "bob@example.com"}, {Type: "mailbox", Value: "eve@example.com"}}},
		{"updated on change", got.Updated, t0.Add(48 * time.Hour)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}

	// A lower severity never lowers it, and saving what is stored already changes nothing (not even Updated).
	d.now = func() time.Time { return t0.Add(96 * time.Hour) }
	low := incident("i1", "acme", t0, "a2")
	if _, err := d.SaveIncidents(ctx, []store.Incident{low, got}); err != nil {
		t.Fatal(err)
	}
	after, err := d.Incident(ctx, "i1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, got) {
		t.Errorf("saving the same incident changed it:\n got %+v\nwant %+v", after, got)
	}
}

func TestSaveIncidentsRejects(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	noTenant := incident("x", "", t0, "a1")
	badState := incident("y", "acme", t0, "a1")
	badState.State = "resolved"
	tests := []struct {
		name    string
		inc     store.Incident
		wantErr error
	}{
		{"no tenant", noTenant, nil},
		{"bad state", badState, store.ErrInvalidIncidentState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.SaveIncidents(ctx, []store.Incident{incident("ok", "acme", t0, "a0"), tt.inc})
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			if got, _ := d.Incidents(ctx, store.IncidentFilter{}); len(got) != 0 {
				t.Errorf("a rejected call stored %d incidents", len(got))
			}
		})
	}
}

func TestIncidentsFilter(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	incs := []store.Incident{
		incident("i1", "acme", t0, "a1"),
		incident("i2", "acme", t0.Add(24*time.Hour), "a2", "a3"),
		incident("i3", "globex", t0.Add(48*time.Hour), "a4"),
	}
	incs[1].State = store.IncidentActive
	if _, err := d.SaveIncidents(ctx, incs); err != nil {
		t.Fatal(err)
	}
	if _, err := d.UpdateIncident(ctx, "i3", store.IncidentUpdate{State: store.IncidentClosed}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    store.IncidentFilter
		want []string
	}{
		{"all, latest first", store.IncidentFilter{}, []string{"i3", "i2", "i1"}},
		{"tenant", store.IncidentFilter{Tenant: "acme"}, []string{"i2", "i1"}},
		{"state", store.IncidentFilter{State: store.IncidentActive}, []string{"i2"}},
		{"open only", store.IncidentFilter{OpenOnly: true}, []string{"i2", "i1"}},
		{"since", store.IncidentFilter{Since: t0.Add(24 * time.Hour)}, []string{"i3", "i2"}},
		{"limit", store.IncidentFilter{Limit: 1}, []string{"i3"}},
		{"alert ids", store.IncidentFilter{AlertIDs: []string{"a3", "a4", "zz"}}, []string{"i3", "i2"}},
		{"empty alert ids", store.IncidentFilter{AlertIDs: []string{}}, nil},
		{"unknown tenant", store.IncidentFilter{Tenant: "initech"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Incidents(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, inc := range got {
				ids = append(ids, inc.ID)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("ids = %v, want %v", ids, tt.want)
			}
		})
	}
	if _, err := d.Incidents(ctx, store.IncidentFilter{State: "open"}); !errors.Is(err, store.ErrInvalidIncidentState) {
		t.Errorf("state filter %q: error %v, want ErrInvalidIncidentState", "open", err)
	}
}

func TestUpdateIncident(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		start   string // state before the update
		u       store.IncidentUpdate
		want    func(store.Incident) string // "" when the incident is as expected
		wantErr error
	}{
		{"owner makes a new incident active", store.IncidentNew, store.IncidentUpdate{Owner: "ann"}, func(i store.Incident) string {
			if i.Owner != "ann" || i.State != store.IncidentActive {
				return "owner/state " + i.Owner + "/" + i.State
			}
			return ""
		}, nil},
		{"owner with an explicit state keeps that state", store.IncidentNew, store.IncidentUpdate{Owner: "ann", State: "new"}, func(i store.Incident) string {
			if i.State != store.IncidentNew {
				return "state " + i.State
			}
			return ""
		}, nil},
		{"close without classification is undetermined", store.IncidentActive, store.IncidentUpdate{State: "Closed"}, func(i store.Incident) string {
			if i.State != store.IncidentClosed || i.Classification != store.ClassificationUndetermined || !i.Closed.Equal(t0.Add(time.Hour)) {
				return "closed incident " + i.State + " " + i.Classification + " " + i.Closed.String()
			}
			return ""
		}, nil},
		{"close with classification", store.IncidentNew, store.IncidentUpdate{State: "closed", Classification: "false positive"}, func(i store.Incident) string {
			if i.Classification != "false positive" {
				return "classification " + i.Classification
			}
			return ""
		}, nil},
		{"reopen clears classification", store.IncidentClosed, store.IncidentUpdate{State: "active"}, func(i store.Incident) string {
			if i.State != store.IncidentActive || i.Classification != "" || !i.Closed.IsZero() {
				return "reopened " + i.State + " " + i.Classification + " " + i.Closed.String()
			}
			return ""
		}, nil},
		{"bad state", store.IncidentNew, store.IncidentUpdate{State: "resolved"}, nil, store.ErrInvalidIncidentState},
		{"classification on an open incident", store.IncidentNew, store.IncidentUpdate{Classification: "true positive"}, nil, store.ErrInvalidIncidentState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openMem(t)
			inc := incident("i1", "acme", t0, "a1")
			inc.State = tt.start
			if tt.start == store.IncidentClosed {
				inc.Classification = "benign positive"
			}
			if _, err := d.SaveIncidents(ctx, []store.Incident{inc}); err != nil {
				t.Fatal(err)
			}
			d.now = func() time.Time { return t0.Add(time.Hour) }
			got, err := d.UpdateIncident(ctx, "i1", tt.u)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				stored, _ := d.Incident(ctx, "i1")
				if stored.State != tt.start || !stored.Updated.Equal(t0) {
					t.Errorf("a rejected update changed the incident: %+v", stored)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.want(got); msg != "" {
				t.Error(msg)
			}
			if !got.Updated.Equal(t0.Add(time.Hour)) {
				t.Errorf("updated = %v, want the store clock", got.Updated)
			}
		})
	}
	t.Run("unknown id", func(t *testing.T) {
		d := openMem(t)
		if _, err := d.UpdateIncident(ctx, "nope", store.IncidentUpdate{State: "active"}); !errors.Is(err, store.ErrIncidentNotFound) {
			t.Errorf("error %v, want ErrIncidentNotFound", err)
		}
		if _, err := d.Incident(ctx, "nope"); !errors.Is(err, store.ErrIncidentNotFound) {
			t.Errorf("Incident: error %v, want ErrIncidentNotFound", err)
		}
	})
}

func TestAddComment(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	if _, err := d.SaveIncidents(ctx, []store.Incident{incident("i1", "acme", t0, "a1"), incident("i2", "acme", t0, "a2")}); err != nil {
		t.Fatal(err)
	}
	d.now = func() time.Time { return t0.Add(2 * time.Hour) }
	c1 := store.IncidentComment{Author: "ann", Text: "looking", Time: t0.Add(time.Hour)}
	c2 := store.IncidentComment{Author: "bob", Text: "phish, user reset"}
	for _, c := range []store.IncidentComment{c1, c2} {
		if err := d.AddComment(ctx, "i1", c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.Incident(ctx, "i1")
	if err != nil {
		t.Fatal(err)
	}
	c2.Time = t0.Add(2 * time.Hour)
	if want := []store.IncidentComment{c1, c2}; !reflect.DeepEqual(got.Comments, want) {
		t.Errorf("comments = %+v, want %+v", got.Comments, want)
	}
	if !got.Updated.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("updated = %v after a comment", got.Updated)
	}
	if other, _ := d.Incident(ctx, "i2"); len(other.Comments) != 0 {
		t.Errorf("comments leaked to i2: %+v", other.Comments)
	}
	if err := d.AddComment(ctx, "nope", c1); !errors.Is(err, store.ErrIncidentNotFound) {
		t.Errorf("unknown id: error %v, want ErrIncidentNotFound", err)
	}
	if err := d.AddComment(ctx, "i1", store.IncidentComment{Author: "ann", Text: "  "}); !errors.Is(err, store.ErrEmptyComment) {
		t.Errorf("blank text: error %v, want ErrEmptyComment", err)
	}
}

func TestIncidentsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	d, err := Open(ctx, path, Options{Tables: testTables(), Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SaveIncidents(ctx, []store.Incident{incident("i1", "acme", t0, "a1")}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddComment(ctx, "i1", store.IncidentComment{Author: "ann", Text: "kept"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Incident(ctx, "i1")
	if err != nil || len(got.Comments) != 1 || got.Comments[0].Text != "kept" || !reflect.DeepEqual(got.AlertIDs, []string{"a1"}) {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}
