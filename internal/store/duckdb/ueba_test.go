package duckdb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/ueba"
)

func TestRiskSessionsRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	notable := ueba.Session{ID: "s1", Tenant: "acme", User: "ann@corp.example", PeerGroup: "finance", Start: t0,
		End: t0.Add(time.Hour), Events: 7, Score: 95, Notable: true, NotableAt: t0.Add(50 * time.Minute), Open: true,
		Findings: []ueba.Finding{{RuleID: "UA-OC-F", Time: t0, Points: 20, Reason: "first country BR for the organisation", Value: "BR"}}}
	quiet := ueba.Session{ID: "s2", Tenant: "acme", User: "bob@corp.example", Start: t0, End: t0.Add(2 * time.Hour), Events: 3, Score: 10}
	if err := d.SaveRiskSessions(ctx, []ueba.Session{notable, quiet}); err != nil {
		t.Fatal(err)
	}
	// A session that grew is stored again under its id.
	notable.Score = 120
	notable.Findings = append(notable.Findings, ueba.Finding{RuleID: "EM-InRule-Public", Points: 25, Value: "x@gmail.com"})
	if err := d.SaveRiskSessions(ctx, []ueba.Session{notable}); err != nil {
		t.Fatal(err)
	}
	all, err := d.RiskSessions(ctx, store.RiskFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != "s1" || all[0].Score != 120 || len(all[0].Findings) != 2 || all[1].ID != "s2" {
		t.Fatalf("sessions = %+v", all)
	}
	if all[0].PeerGroup != "finance" || !all[0].NotableAt.Equal(t0.Add(50*time.Minute)) || all[0].Findings[0].Reason == "" {
		t.Errorf("fields not kept: %+v", all[0])
	}
	only, err := d.RiskSessions(ctx, store.RiskFilter{NotableOnly: true})
	if err != nil || len(only) != 1 || only[0].ID != "s1" {
		t.Errorf("notable only = %+v, %v", only, err)
	}
	byUser, err := d.RiskSessions(ctx, store.RiskFilter{User: "BOB@corp.example"})
	if err != nil || len(byUser) != 1 || byUser[0].ID != "s2" {
		t.Errorf("by user = %+v, %v", byUser, err)
	}
	if _, err := d.RiskSession(ctx, "nope"); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("missing session: %v", err)
	}
}

func TestUEBAStateRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	if st, to, err := d.LoadUEBAState(ctx); err != nil || st != nil || !to.IsZero() {
		t.Fatalf("empty store: %v %v %v", st, to, err)
	}
	to := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	if err := d.SaveUEBAState(ctx, []byte{1, 2, 3}, to); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveUEBAState(ctx, []byte{4, 5}, to.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	st, got, err := d.LoadUEBAState(ctx)
	if err != nil || !bytes.Equal(st, []byte{4, 5}) || !got.Equal(to.Add(time.Hour)) {
		t.Fatalf("state = %v %v %v", st, got, err)
	}
	if err := d.SaveRiskSessions(ctx, []ueba.Session{{ID: "s", Tenant: "a", User: "u", Start: to, End: to}}); err != nil {
		t.Fatal(err)
	}
	if err := d.ClearUEBA(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := d.LoadUEBAState(ctx); st != nil {
		t.Error("state kept after clear")
	}
	if ss, _ := d.RiskSessions(ctx, store.RiskFilter{}); len(ss) != 0 {
		t.Error("sessions kept after clear")
	}
}
