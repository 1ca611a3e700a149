package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/testutil"
)

func TestParsePrintsNormalizedEvents(t *testing.T) {
	file := filepath.Join(testutil.CorpusDir(t), "audit_events", "test-audit-events.log")
	out, err := run(t, nil, "parse", file)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, out)
	}
	var events, logins int
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var ev schema.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON event: %v: %s", err, line)
		}
		if ev.ID == "" || ev.Time.IsZero() || ev.EventType == "" {
			t.Errorf("incomplete event %+v", ev)
		}
		events++
		if ev.EventType == schema.EventAppLogin {
			logins++
		}
	}
	if events < 30 || logins == 0 {
		t.Fatalf("%d events (%d logins) from the audit corpus\n%s", events, logins, out)
	}
	if !strings.Contains(out, "rejected") {
		t.Errorf("the summary with rejected lines is missing:\n%s", out)
	}
	if _, err := run(t, nil, "parse", "--format", "xml", file); err == nil {
		t.Error("an unknown format must be refused")
	}
}

func TestIngestDetectAndRules(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{"CASTWATCH_DATA_DIR": dataDir}
	// Four failed logons with an IP inside 30 minutes, as raw API records in a file with one broken line.
	at := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	var lines []string
	for i := range 4 {
		ts := at.Add(time.Duration(i) * time.Minute)
		rec := map[string]string{
			"id": "fail-" + string(rune('a'+i)), "auditType": "Logon Authentication Failed", "user": "amy@example.com",
			"eventTime": ts.Format("2006-01-02T15:04:05-0700"), "category": "authentication_logs",
			"eventInfo": "Failed authentication for amy@example.com, Date: " + ts.Format("2006-01-02") + ", Time: " +
				ts.Format("15:04:05") + " GMT, IP: 198.51.100.9, Application: Mimecast Personal Portal",
		}
		b, _ := json.Marshal(rec)
		lines = append(lines, string(b))
	}
	lines = append(lines, `{"id": "broken`)
	file := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, env, "ingest", "--tenant", "acme", file)
	if err != nil || !strings.Contains(out, "4 rows (4 new), 1 quarantined") {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
	out, err = run(t, env, "ingest", "--tenant", "acme", file)
	if err != nil || !strings.Contains(out, "4 rows (0 new)") {
		t.Fatalf("a second ingest must store nothing new: %v\n%s", err, out)
	}
	out, err = run(t, env, "query", "--format", "csv", "SELECT count(*) AS n FROM quarantine")
	if err != nil || !strings.Contains(out, "n\n1\n") {
		t.Fatalf("the broken line must be quarantined once: %v\n%s", err, out)
	}
	out, err = run(t, env, "status", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		Tables []struct {
			Table string `json:"table"`
			Rows  int    `json:"rows"`
		} `json:"tables"`
		Quarantine []struct {
			Source string `json:"source"`
			Reason string `json:"reason"`
			Items  int    `json:"items"`
		} `json:"quarantine"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, out)
	}
	rows := map[string]int{}
	for _, tr := range status.Tables {
		rows[tr.Table] = tr.Rows
	}
	if rows["Audit_CL"] != 4 || len(status.Quarantine) != 1 || status.Quarantine[0].Items != 1 ||
		!strings.Contains(status.Quarantine[0].Reason, "invalid json") {
		t.Fatalf("status: tables %v, quarantine %+v", rows, status.Quarantine)
	}
	if out, err := run(t, env, "status"); err != nil || !strings.Contains(out, "quarantine") || !strings.Contains(out, "Audit_CL") {
		t.Fatalf("status table: %v\n%s", err, out)
	}
	out, err = run(t, env, "alerts", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var alerts []schema.Alert
	if err := json.Unmarshal([]byte(out), &alerts); err != nil || len(alerts) != 1 || len(alerts[0].EventIDs) != 4 {
		t.Fatalf("want one alert over the 4 failures, got %v %s", err, out)
	}
	// Replaying the history makes no second alert.
	out, err = run(t, env, "detect", "--since", "3d")
	if err != nil || !strings.Contains(out, "(0 new)") {
		t.Fatalf("detect replay: %v\n%s", err, out)
	}
	out, _ = run(t, env, "alerts", "--format", "json")
	var again []schema.Alert
	_ = json.Unmarshal([]byte(out), &again)
	if len(again) != 1 || again[0].ID != alerts[0].ID {
		t.Fatalf("replay changed the alerts: %s", out)
	}
}

func TestRulesCommands(t *testing.T) {
	out, err := run(t, nil, "rules", "test")
	if err != nil || !strings.Contains(out, " 0 failed") {
		t.Fatalf("rules test: %v\n%s", err, out)
	}
	out, err = run(t, nil, "rules", "list")
	if err != nil || !strings.Contains(out, "f00197ab-491f-41e7-9e22-a7003a4c1e54") || !strings.Contains(out, "(13 rows)") {
		t.Fatalf("rules list: %v\n%s", err, out)
	}
	layer := filepath.Join(t.TempDir(), "layer.json")
	if _, err := run(t, nil, "rules", "attack-layer", "--out", layer); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(layer)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Domain     string `json:"domain"`
		Techniques []struct {
			TechniqueID string `json:"techniqueID"`
		} `json:"techniques"`
	}
	if err := json.Unmarshal(b, &l); err != nil || l.Domain != "enterprise-attack" || len(l.Techniques) == 0 {
		t.Fatalf("layer: %v %s", err, b)
	}
	// A broken rule in a rules directory is reported by lint with its file.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("id: x\ntitle: t\nseverity: extreme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, nil, "rules", "lint", "--dir", dir); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("lint must name the bad file, got %v", err)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"30d":                  now.Add(-30 * 24 * time.Hour),
		"12h":                  now.Add(-12 * time.Hour),
		"2026-11-01":           time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-01T10:00:00Z": time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "2027-01-01", "-5d"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) accepted", bad)
		}
	}
}
