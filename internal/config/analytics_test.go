package config

import (
	"slices"
	"testing"
	"time"
)

func TestAnalyticsDefaultsAndValidation(t *testing.T) {
	d := Default().Analytics
	if time.Duration(d.SessionIdle) != 8*time.Hour || time.Duration(d.SessionMax) != 24*time.Hour || d.NotableAt != 90 {
		t.Fatalf("defaults = %+v", d)
	}
	if probs := d.validate(); len(probs) != 0 {
		t.Fatalf("defaults invalid: %v", probs)
	}
	bad := Analytics{SessionIdle: Duration(time.Second), SessionMax: Duration(0), NotableAt: 0,
		Scores: map[string]int{"EM-UD-F": 101, "bad id!": 5}}
	want := []string{
		"analytics.session_idle 1s: must be at least 1m",
		"analytics.session_max 0s: must be at least session_idle (1s)",
		"analytics.notable_at 0: must be at least 1",
		"analytics.scores.EM-UD-F 101: must be from 0 to 100",
		`analytics.scores: "bad id!" is not a rule id`,
	}
	got := bad.validate()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing %q in %q", w, got)
		}
	}
}
