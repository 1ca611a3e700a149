package detect

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

func TestExplain(t *testing.T) {
	spray := ruleByID(t, "test-password-spray")
	hold := ruleByID(t, "test-dlp-hold")
	failed := ruleByID(t, r1)
	day2 := t0.Add(24*time.Hour + 5*time.Minute)
	tests := []struct {
		name        string
		r           *Rule
		group       string
		n, distinct int
		first, last time.Time
		want        string
	}{
		{"count threshold", failed, "", 5, 0, t0, t0.Add(12 * time.Minute),
			"5 failed logons with a source IP between 10:00:00 and 10:12:00 UTC on 2026-11-20 (threshold: more than 3 in 30m)"},
		{"distinct threshold with group", spray, "src_ip=203.0.113.9", 4, 3, t0, t0.Add(3 * time.Minute),
			"3 distinct user_email across 4 failed logons for src_ip=203.0.113.9 between 10:00:00 and 10:03:00 UTC on 2026-11-20 (threshold: at least 3 distinct user_email in 10m)"},
		{"single event", hold, "sender=m@example.com", 1, 0, t0, t0,
			"1 matching events for sender=m@example.com at 10:00:00 UTC on 2026-11-20 (matches within 1h are one alert)"},
		{"across days", failed, "", 4, 0, t0, day2,
			"4 failed logons with a source IP between 2026-11-20 10:00:00 and 2026-11-21 10:05:00 UTC (threshold: more than 3 in 30m)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := explain(tt.r, tt.group, tt.n, tt.distinct, tt.first, tt.last); got != tt.want {
				t.Errorf("explain\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30m", time.Hour: "1h", 90 * time.Minute: "1h30m", 24 * time.Hour: "1d", 45 * time.Second: "45s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestEngineConcurrentUse(t *testing.T) {
	eng := New(loadAll(t), Options{Clock: fixedClock(t0.Add(time.Hour))})
	var wg sync.WaitGroup
	alerts := make([]int, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				// Every worker delivers the same events: each id must count once overall.
				ev := fail(fmt.Sprintf("c%02d", i), time.Duration(i)*time.Second, "192.0.2.1")
				out, err := eng.Process(context.Background(), []schema.Event{ev})
				if err != nil {
					t.Error(err)
				}
				alerts[w] += len(out)
				_ = eng.Stats()
			}
		}()
	}
	wg.Wait()
	if alerts[0]+alerts[1]+alerts[2]+alerts[3] == 0 {
		t.Error("no alert from 50 failures in 50 seconds")
	}
	st := eng.Stats()
	if st.Events != 200 || st.Duplicates != 150*2 { // two rules match each event
		t.Errorf("stats %+v: want 200 events and 300 duplicate (rule, event) pairs", st)
	}
}
