package detect

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

const suppressRule = `id: test-suppress
version: 1.0.0
title: Held mail from {{sender}}
description: One alert per sender per hour; then nothing for that sender for 5 hours.
severity: low
reads:
  event_types: [dlp-alert]
detection:
  hold:
    action: hold
  condition: hold
entities:
  - {type: mailbox, field: sender}
dedup:
  period: 1h
SUPPRESS
tests:
  - name: alerts within five hours of a kept alert are withheld
    defaults: {tenant: acme, table: Seg_Dlp_CL, event_type: dlp-alert, action: hold, sender: eve@example.com}
    # episodes (1h each): h1+h2 kept; h3 and h4+h5 start within 5h of h1 and are withheld; h6+h7 (6h later) kept.
    events:
      - {id: h1, time: "2026-11-20T08:00:00Z"}
      - {id: h2, time: "2026-11-20T08:30:00Z"}
      - {id: h3, time: "2026-11-20T09:30:00Z"}
      - {id: h4, time: "2026-11-20T12:59:00Z"}
      - {id: h5, time: "2026-11-20T13:30:00Z"}
      - {id: h6, time: "2026-11-20T14:00:00Z"}
      - {id: h7, time: "2026-11-20T15:00:00Z"}
      - {id: o1, time: "2026-11-20T09:30:00Z", sender: bob@example.com}
    expect:
      - {count: 2, event_ids: [h1, h2]}
      - {count: 1, event_ids: [o1]}
      - {count: 2, event_ids: [h6, h7]}
  - name: a single alert is not withheld
    defaults: {tenant: acme, table: Seg_Dlp_CL, event_type: dlp-alert, action: hold, sender: eve@example.com}
    events:
      - {id: s1, time: "2026-11-20T08:00:00Z"}
    expect:
      - {count: 1}
`

func TestSuppressWithholdsAlerts(t *testing.T) {
	with, err := ParseRule("s.yaml", []byte(strings.Replace(suppressRule, "SUPPRESS", "suppress:\n  period: 5h", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if with.Suppress != 5*time.Hour || with.gap() != 5*time.Hour || with.extent() != time.Hour {
		t.Fatalf("suppress %v gap %v extent %v", with.Suppress, with.gap(), with.extent())
	}
	// The inline tests run every delivery order (shuffled, reversed one by one, …): suppression is a function
	// of the event set, like the episodes.
	for _, res := range RunTests([]*Rule{with}) {
		if !res.Passed {
			t.Errorf("%s: %v", res.Name, res.Failures)
		}
	}
	t.Run("suppressed alerts are reported once", func(t *testing.T) {
		eng := New([]*Rule{with}, Options{Clock: fixedClock(t0.Add(24 * time.Hour))})
		evs := with.Tests[0].Events
		res, err := eng.Evaluate(context.Background(), evs)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Alerts) != 3 || len(res.Suppressed) != 2 {
			t.Fatalf("%d alerts, %d suppressed; want 3 and 2 (the h3 and h4+h5 episodes)", len(res.Alerts), len(res.Suppressed))
		}
		again, err := eng.Evaluate(context.Background(), evs)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Alerts) != 0 || len(again.Suppressed) != 0 {
			t.Errorf("redelivery: %d alerts, %d suppressed; want none", len(again.Alerts), len(again.Suppressed))
		}
		if s := eng.Stats(); s.Suppressed != 2 {
			t.Errorf("Stats.Suppressed = %d, want 2", s.Suppressed)
		}
		if !strings.Contains(res.Alerts[0].Explanation, "suppressed for 5h") {
			t.Errorf("explanation %q does not mention the suppression", res.Alerts[0].Explanation)
		}
	})
	t.Run("a late earlier event supersedes an alert that is now withheld", func(t *testing.T) {
		eng := New([]*Rule{with}, Options{Clock: fixedClock(t0.Add(24 * time.Hour))})
		ev := func(id string, at string) schema.Event {
			tm, _ := time.Parse(time.RFC3339, at)
			return schema.Event{ID: id, Time: tm, Tenant: "acme", EventType: schema.EventDLPAlert, Action: "hold", Sender: "eve@example.com"}
		}
		first, err := eng.Evaluate(context.Background(), []schema.Event{ev("late2", "2026-11-20T10:30:00Z")})
		if err != nil || len(first.Alerts) != 1 {
			t.Fatalf("first: %v, %d alerts", err, len(first.Alerts))
		}
		second, err := eng.Evaluate(context.Background(), []schema.Event{ev("late1", "2026-11-20T09:00:00Z")})
		if err != nil {
			t.Fatal(err)
		}
		if len(second.Alerts) != 1 || !slices.Equal(second.Superseded, []string{first.Alerts[0].ID}) ||
			!slices.Equal(second.Suppressed, []string{first.Alerts[0].ID}) {
			t.Errorf("alerts %d, superseded %v, suppressed %v; want 1, [%s], [%s]", len(second.Alerts), second.Superseded,
				second.Suppressed, first.Alerts[0].ID, first.Alerts[0].ID)
		}
	})

	without, err := ParseRule("s.yaml", []byte(strings.Replace(suppressRule, "SUPPRESS", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("without suppress every episode alerts", func(t *testing.T) {
		alerts, err := deliver(without, fixedClock(t0.Add(24*time.Hour)), [][]schema.Event{without.Tests[0].Events})
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts) != 5 {
			t.Errorf("%d alerts, want 5 (h1+h2, h3, h4+h5, h6+h7, o1)", len(alerts))
		}
	})
}

func TestSuppressLoadErrors(t *testing.T) {
	tests := []struct{ name, block, want string }{
		{"no period", "suppress: {}", "suppress.period: required"},
		{"not longer than the extent", "suppress: {period: 1h}", "suppress.period: 1h is not longer than the alert's extent 1h"},
		{"unknown key", "suppress: {period: 5h, group_by: [x]}", "suppress.group_by: unknown field"},
		{"too long", "suppress: {period: 2d}", "suppress.period: 2d is longer than the maximum of 1d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRule("s.yaml", []byte(strings.Replace(suppressRule, "SUPPRESS", tc.block, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
