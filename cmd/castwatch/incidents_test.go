package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/app"
	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// incidentStore creates a store in a fresh data dir holding two incidents of tenant acme and one of globex.
func incidentStore(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	db, err := duckdb.Open(ctx, app.StorePath(cfg), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	mk := func(id, tenant, sev string, at time.Time, alerts ...string) store.Incident {
		return store.Incident{ID: id, Tenant: tenant, RuleID: "rule-av", Title: "AV in " + id, Severity: sev,
			Entities: []schema.Entity{{Type: "mailbox", Value: "eve@corp.example"}}, AlertIDs: alerts,
			FirstAlert: at, LastAlert: at}
	}
	incs := []store.Incident{
		mk("inc-one", "acme", "high", at, "al-1", "al-2"),
		mk("inc-two", "acme", "low", at.Add(time.Hour), "al-3"),
		mk("inc-three", "globex", "medium", at.Add(2*time.Hour), "al-4"),
	}
	if _, err := db.SaveIncidents(ctx, incs); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg.DataDir
}

func listIDs(t *testing.T, dataDir string, args ...string) []string {
	t.Helper()
	out, err := run(t, nil, append([]string{"--data-dir", dataDir, "incidents", "--format", "json"}, args...)...)
	if err != nil {
		t.Fatalf("incidents %v: %v\n%s", args, err, out)
	}
	var incs []store.Incident
	if err := json.Unmarshal([]byte(out), &incs); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	ids := []string{}
	for _, inc := range incs {
		ids = append(ids, inc.ID)
	}
	return ids
}

func TestIncidentsList(t *testing.T) {
	dir := incidentStore(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"all, latest first", nil, "inc-three inc-two inc-one"},
		{"tenant", []string{"--tenant", "acme"}, "inc-two inc-one"},
		{"state", []string{"--state", "new", "--tenant", "globex"}, "inc-three"},
		{"no closed ones yet", []string{"--state", "closed"}, ""},
		{"limit", []string{"--limit", "1"}, "inc-three"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(listIDs(t, dir, tt.args...), " "); got != tt.want {
				t.Errorf("ids = %q, want %q", got, tt.want)
			}
		})
	}
	out, err := run(t, nil, "--data-dir", dir, "incidents")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"last_alert", "inc-one", "AV in inc-two", "mailbox=eve@corp.example", "(3 rows)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
}

func TestIncidentsSetAndComment(t *testing.T) {
	dir := incidentStore(t)
	cli := func(args ...string) (string, error) {
		return run(t, nil, append([]string{"--data-dir", dir, "incidents"}, args...)...)
	}
	if out, err := cli("set", "inc-one", "--owner", "ann@corp.example"); err != nil || !strings.Contains(out, "state active, owner ann@corp.example") {
		t.Fatalf("set owner: %v\n%s", err, out)
	}
	if out, err := cli("comment", "inc-one", "--text", "user confirmed the attachment", "--author", "ann"); err != nil {
		t.Fatalf("comment: %v\n%s", err, out)
	}
	if out, err := cli("set", "inc-one", "--state", "closed", "--classification", "true positive"); err != nil ||
		!strings.Contains(out, "classification true positive") {
		t.Fatalf("close: %v\n%s", err, out)
	}
	out, err := cli("show", "inc-one", "--format", "json")
	if err != nil {
		t.Fatalf("show: %v\n%s", err, out)
	}
	var inc store.Incident
	if err := json.Unmarshal([]byte(out), &inc); err != nil {
		t.Fatalf("show json: %v\n%s", err, out)
	}
	if inc.State != store.IncidentClosed || inc.Owner != "ann@corp.example" || inc.Classification != "true positive" ||
		len(inc.Comments) != 1 || inc.Comments[0].Author != "ann" || inc.Comments[0].Text != "user confirmed the attachment" {
		t.Errorf("incident after set and comment: %+v", inc)
	}
	out, err = cli("show", "inc-one")
	if err != nil || !strings.Contains(out, "user confirmed the attachment") || !strings.Contains(out, "al-1 al-2") {
		t.Errorf("show table: %v\n%s", err, out)
	}
	if got := listIDs(t, dir, "--state", "closed"); len(got) != 1 || got[0] != "inc-one" {
		t.Errorf("closed incidents = %v, want [inc-one]", got)
	}
}

func TestIncidentsErrors(t *testing.T) {
	dir := incidentStore(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad list state", []string{"incidents", "--state", "open"}, `unknown state "open"`},
		{"bad format", []string{"incidents", "--format", "csv"}, "unknown format"},
		{"show unknown id", []string{"incidents", "show", "nope"}, "incident not found"},
		{"set unknown id", []string{"incidents", "set", "nope", "--state", "active"}, "incident not found"},
		{"set bad state", []string{"incidents", "set", "inc-one", "--state", "resolved"}, `unknown state "resolved"`},
		{"set nothing", []string{"incidents", "set", "inc-one"}, "nothing to change"},
		{"classification without closing", []string{"incidents", "set", "inc-one", "--classification", "x"}, "invalid incident state"},
		{"comment without text", []string{"incidents", "comment", "inc-one"}, `"text" not set`},
		{"blank comment", []string{"incidents", "comment", "inc-one", "--text", " "}, "comment text is empty"},
		{"comment unknown id", []string{"incidents", "comment", "nope", "--text", "x"}, "incident not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, nil, append([]string{"--data-dir", dir}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q\n%s", err, tt.want, out)
			}
		})
	}
	if got := listIDs(t, dir, "--state", "new"); len(got) != 3 {
		t.Errorf("failed commands changed incidents: new ones %v", got)
	}
	if _, err := run(t, nil, "--data-dir", t.TempDir(), "incidents", "set", "inc-one", "--state", "active"); err == nil ||
		!strings.Contains(err.Error(), "no store") {
		t.Errorf("set without a store: %v", err)
	}
}
