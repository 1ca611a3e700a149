package bench

import (
	"runtime"
	"testing"
	"time"
)

func TestNewRateAndRatio(t *testing.T) {
	for _, tc := range []struct {
		name      string
		items     int64
		wall      time.Duration
		wantRate  float64
		other     float64
		wantRatio float64
	}{
		{"plain", 500, 2 * time.Second, 250, 125, 2},
		{"zero time", 10, 0, 0, 5, 0},
		{"zero peer", 10, time.Second, 10, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRate("x", tc.items, tc.wall, time.Millisecond)
			if r.PerSecond != tc.wantRate || r.Items != tc.items || r.CPUSeconds != 0.001 {
				t.Fatalf("rate %+v, want %g/s", r, tc.wantRate)
			}
			if got := ratio(r.PerSecond, tc.other); got != tc.wantRatio {
				t.Fatalf("ratio %g, want %g", got, tc.wantRatio)
			}
		})
	}
}

func TestProbeCountsAllocations(t *testing.T) {
	p := startProbe()
	var keep [][]byte
	for range 100 {
		keep = append(keep, make([]byte, 1<<10))
	}
	wall, _, mem := p.stop(100)
	runtime.KeepAlive(keep)
	if wall <= 0 {
		t.Errorf("wall time %s", wall)
	}
	if mem.AllocBytes < 100<<10 || mem.Mallocs < 100 || mem.AllocPerItem < 1<<10 {
		t.Errorf("memory %+v after 100 allocations of 1 KiB", mem)
	}
}

func TestOneCoreRestoresGOMAXPROCS(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	var inside int
	if err := oneCore(func() error { inside = runtime.GOMAXPROCS(0); return nil }); err != nil {
		t.Fatal(err)
	}
	if inside != 1 || runtime.GOMAXPROCS(0) != before {
		t.Fatalf("GOMAXPROCS %d inside, %d after (was %d)", inside, runtime.GOMAXPROCS(0), before)
	}
}
