package detect

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// TestAlertEventSnapshot checks that an alert carries a snapshot of its first schema.MaxAlertEvents matched
// events in time order, the full count, and the id it would have without the snapshot.
func TestAlertEventSnapshot(t *testing.T) {
	rule := ruleByID(t, r1)
	eng := New([]*Rule{rule}, Options{Clock: fixedClock(t0.Add(2 * time.Hour))})
	const n = schema.MaxAlertEvents + 20
	evs := make([]schema.Event, n)
	for i := range evs {
		evs[i] = fail(fmt.Sprintf("e%03d", i), time.Duration(i)*10*time.Second, "203.0.113.7")
	}
	evs[0].Fields = map[string]any{"reason": "bad password"}
	// Deliver in two batches, the second first, so the snapshot must come from the engine's ordered state.
	var got []schema.Alert
	for _, b := range [][]schema.Event{evs[n/2:], evs[:n/2]} {
		out, err := eng.Process(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out...)
	}
	last := got[len(got)-1]
	if want := alertID(rule, "acme", "", t0.UnixNano(), "e000"); last.ID != want {
		t.Fatalf("id %s, want %s (the snapshot must not change the identity)", last.ID, want)
	}
	if last.EventCount != n || len(last.EventIDs) != n {
		t.Fatalf("event count %d, ids %d, want %d", last.EventCount, len(last.EventIDs), n)
	}
	if len(last.Events) != schema.MaxAlertEvents {
		t.Fatalf("snapshot holds %d events, want the cap %d", len(last.Events), schema.MaxAlertEvents)
	}
	for i, ev := range last.Events {
		if ev.ID != evs[i].ID || !ev.Time.Equal(evs[i].Time) || ev.SrcIP != "203.0.113.7" {
			t.Fatalf("snapshot event %d = %s at %s, want %s", i, ev.ID, ev.Time, evs[i].ID)
		}
	}
	if last.Events[0].Fields["reason"] != "bad password" {
		t.Errorf("snapshot lost the event's fields: %v", last.Events[0].Fields)
	}
}
