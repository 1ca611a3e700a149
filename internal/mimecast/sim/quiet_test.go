package sim

import (
	"strings"
	"testing"
	"time"
)

// TestQuietDaysHaveNoStories checks that days before QuietUntil are benign: no story, no spray, no story record,
// while the days after keep theirs.
func TestQuietDaysHaveNoStories(t *testing.T) {
	t.Parallel()
	quietUntil := testNow.Add(-24 * time.Hour).Truncate(24 * time.Hour)
	s := mustSim(t, Options{Seed: 32, Mailboxes: 30, Days: 4, QuietUntil: quietUntil})
	from := testNow.Add(-4 * 24 * time.Hour)
	var after int
	for _, st := range s.Stories(from, testNow) {
		if st.Start.Before(quietUntil) {
			t.Errorf("story %s at %s on a quiet day", st.Kind, st.Start)
		}
		after++
	}
	if after == 0 {
		t.Error("no stories after the quiet days")
	}
	for _, sp := range s.Sprays(from, testNow) {
		if sp.Start.Before(quietUntil) {
			t.Errorf("spray at %s on a quiet day", sp.Start)
		}
	}
	for _, r := range s.AuditRecords(from, quietUntil) {
		if strings.Contains(r.EventInfo, "Change Email Forwarding") {
			t.Errorf("forwarding-rule story record on a quiet day: %s", r.EventInfo)
		}
	}
}
