package bench

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/detect"
	"github.com/castwatch/castwatch/internal/schema"
)

func TestDetectFiguresAreConsistent(t *testing.T) {
	builtin, err := detect.LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	const events, extra = 6000, 40
	res, err := Detect(context.Background(), DetectOptions{Events: events, ExtraRules: extra, Rounds: 2, Input: Input{Traffic: tiny(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Builtin.Rules != len(builtin) || res.Extended.Rules != len(builtin)+extra {
		t.Errorf("rules: %d and %d, want %d and %d", res.Builtin.Rules, res.Extended.Rules, len(builtin), len(builtin)+extra)
	}
	for name, run := range map[string]DetectRun{"builtin": res.Builtin, "extended": res.Extended} {
		r := run.Rate
		if r.Items != events || r.Seconds <= 0 || r.PerSecond <= 0 {
			t.Errorf("%s: %d events in %g s", name, r.Items, r.Seconds)
		}
		if want := r.Seconds * 1e9 / events; math.Abs(run.NsPerEvent-want) > 1e-6*want {
			t.Errorf("%s: %g ns/event, want %g", name, run.NsPerEvent, want)
		}
		if run.Memory.AllocBytes == 0 {
			t.Errorf("%s: memory %+v", name, run.Memory)
		}
	}
	// The generated rules never match: the same events match, into the same alerts.
	if res.Builtin.Matched == 0 || res.Builtin.Alerts == 0 {
		t.Errorf("built-in rules matched %d events into %d alerts; the traffic has detections", res.Builtin.Matched, res.Builtin.Alerts)
	}
	if res.Extended.Matched != res.Builtin.Matched || res.Extended.Alerts != res.Builtin.Alerts {
		t.Errorf("extended matched %d into %d alerts, built-in %d into %d", res.Extended.Matched, res.Extended.Alerts,
			res.Builtin.Matched, res.Builtin.Alerts)
	}
	if want := res.Extended.Rate.PerSecond / res.Builtin.Rate.PerSecond; math.Abs(res.Ratio-want) > 1e-9*want {
		t.Errorf("ratio %g, want %g", res.Ratio, want)
	}
	if want := (res.Extended.NsPerEvent - res.Builtin.NsPerEvent) / extra; math.Abs(res.NsPerEventPerAddedRule-want) > 1e-9 {
		t.Errorf("per added rule %g ns, want %g", res.NsPerEventPerAddedRule, want)
	}
}

func TestDetectRejectsNegativeRules(t *testing.T) {
	if _, err := Detect(context.Background(), DetectOptions{ExtraRules: -1, Input: Input{Traffic: tiny(t)}}); err == nil {
		t.Fatal("no error for -1 extra rules")
	}
}

func TestRepeatEvents(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := []schema.Event{{ID: "a", Time: t0}, {ID: "b", Time: t0.Add(time.Hour)}}
	got := repeatEvents(base, 5, 24*time.Hour)
	want := []schema.Event{
		{ID: "a", Time: t0}, {ID: "b", Time: t0.Add(time.Hour)},
		{ID: "a~1", Time: t0.Add(24 * time.Hour)}, {ID: "b~1", Time: t0.Add(25 * time.Hour)},
		{ID: "a~2", Time: t0.Add(48 * time.Hour)},
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || !got[i].Time.Equal(want[i].Time) {
			t.Errorf("event %d: %s at %s, want %s at %s", i, got[i].ID, got[i].Time, want[i].ID, want[i].Time)
		}
	}
	if base[0].ID != "a" {
		t.Errorf("base changed: %s", base[0].ID)
	}
}

func TestGenerateRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		types   []string
		wantErr bool
	}{
		{"spread over types", 5, []string{schema.EventEmailActivity, schema.EventSecurityAlert}, false},
		{"none", 0, nil, false},
		{"no types", 3, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := GenerateRules(tc.n, tc.types)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if len(rules) != tc.n {
				t.Fatalf("%d rules, want %d", len(rules), tc.n)
			}
			ids := map[string]bool{}
			for i, r := range rules {
				ids[r.ID] = true
				if len(r.Reads.EventTypes) != 1 || r.Reads.EventTypes[0] != tc.types[i%len(tc.types)] {
					t.Errorf("rule %d reads %v", i, r.Reads.EventTypes)
				}
			}
			if len(ids) != tc.n {
				t.Errorf("%d distinct ids among %d rules", len(ids), tc.n)
			}
		})
	}
}

func TestEventTypesMostFrequentFirst(t *testing.T) {
	evs := []schema.Event{{EventType: "b"}, {EventType: "a"}, {EventType: "b"}, {EventType: "c"}, {EventType: "a"}, {EventType: "b"}}
	got := eventTypes(evs)
	want := []string{"b", "a", "c"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
