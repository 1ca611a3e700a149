package ingest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/collect/collecttest"
	"github.com/castwatch/castwatch/internal/mimecast"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type world struct {
	t     *testing.T
	ctx   context.Context
	dir   string
	bus   *bus.Bus
	clock *clock
	fetch *collecttest.Fetcher
}

func newWorld(t *testing.T, records ...collecttest.Record) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	w := &world{t: t, ctx: ctx, dir: t.TempDir(), clock: &clock{t: t0}, fetch: collecttest.NewFetcher(records...)}
	w.openBus()
	return w
}

func (w *world) openBus() {
	w.t.Helper()
	b, err := bus.Open(w.ctx, bus.Config{DataDir: w.dir, NakDelay: 20 * time.Millisecond, RelaxedSync: true}, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(b.Close)
	w.bus = b
}

func (w *world) collector(tenant string, mod func(*collect.Config)) *collect.Collector {
	w.t.Helper()
	spec := collect.AuditSpec()
	spec.PageSize = 7
	spec.Lookback = 3 * 24 * time.Hour
	cfg := collect.Config{Tenant: tenant, Spec: spec, Fetcher: w.fetch, Publisher: w.bus,
		Checkpoints: w.bus.Checkpoints(), Now: w.clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	c, err := collect.New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) pipeline(s Writer, runners ...Runner) *Pipeline {
	w.t.Helper()
	c, err := NewConsumer(Config{Store: s, Now: w.clock.Now})
	if err != nil {
		w.t.Fatal(err)
	}
	return &Pipeline{Source: w.bus, Consumer: c, Collectors: runners}
}

func wantExactlyOnce(t *testing.T, st *memStore, records []collecttest.Record) {
	t.Helper()
	got := st.ids("Audit_CL")
	if len(got) != len(records) {
		t.Errorf("stored %d records, want %d", len(got), len(records))
	}
	for _, r := range records {
		if !got[r.ID] {
			t.Errorf("record %s not stored", r.ID)
		}
	}
}

func TestPipelineEndToEnd(t *testing.T) {
	records := collecttest.AuditRecords("a", 60, t0.Add(-70*time.Hour), t0.Add(-time.Minute))
	w := newWorld(t, records...)
	st := newMemStore()

	// First pass: a crash right after publishing the third page, and a store that refuses the first two writes.
	st.setFailWrites(2)
	crash := errors.New("simulated crash")
	published, batches := 0, 0
	crashing := w.collector("acme", func(c *collect.Config) {
		c.BeforeCheckpoint = func(ctx context.Context, b collect.Batch) error {
			published += len(b.Records)
			if batches++; batches == 3 {
				return crash
			}
			return nil
		}
	})
	ps, err := w.pipeline(st, crashing).Run(w.ctx)
	if !errors.Is(err, crash) {
		t.Fatalf("first pass: want the crash, got %v", err)
	}
	// Two refused writes fail one or two deliveries: messages stored together fail together, and are then
	// retried one by one.
	if ps.Stored.Failures < 1 || ps.Stored.Failures > 2 {
		t.Errorf("first pass: %d failed deliveries, want 1 or 2 for the 2 refused writes", ps.Stored.Failures)
	}
	if published == 0 || ps.New != published || ps.Fetched != published {
		t.Errorf("first pass: fetched %d, new %d; want the %d records of the 3 published pages", ps.Fetched, ps.New, published)
	}

	// Restart everything from the same data directory; the second pass finishes the history.
	w.bus.Close()
	w.openBus()
	ps, err = w.pipeline(st, w.collector("acme", nil)).Run(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Collect.Duplicates != 1 {
		t.Errorf("second pass: %d duplicate publishes, want the crashed page once", ps.Collect.Duplicates)
	}
	if ps.New != len(records)-published || ps.Quarantined != 0 {
		t.Errorf("second pass: %+v, want %d new rows", ps, len(records)-published)
	}
	wantExactlyOnce(t, st, records)
	if v := w.fetch.Violations(); len(v) > 0 {
		t.Fatalf("fetcher violations: %v", v)
	}
	// The restarted durable consumer did not re-handle what it had acknowledged before the restart.
	for k, n := range st.writes {
		if n > 2 {
			t.Errorf("key %s offered to the store %d times", k, n)
		}
	}

	t.Run("a pass with nothing new stores nothing", func(t *testing.T) {
		w.clock.Advance(10 * time.Minute)
		ps, err := w.pipeline(st, w.collector("acme", nil)).Run(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ps.Pages != 0 || ps.Stored.Batches != 0 {
			t.Errorf("stats %+v, want nothing", ps)
		}
	})
	t.Run("two tenants, new data", func(t *testing.T) {
		w.clock.Advance(20 * time.Minute)
		fresh := collecttest.AuditRecords("b", 9, t0.Add(time.Minute), t0.Add(29*time.Minute))
		w.fetch.Add(fresh...)
		ps, err := w.pipeline(st, w.collector("acme", nil), w.collector("globex", nil)).Run(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		// acme gets the 9 new records; globex has no checkpoint and pages the whole history for itself.
		if want := 9 + len(records) + 9; ps.New != want {
			t.Errorf("new rows %d, want %d", ps.New, want)
		}
		if got := st.count("Audit_CL"); got != 2*(len(records)+9) {
			t.Errorf("stored %d rows, want %d", got, 2*(len(records)+9))
		}
	})
}

func TestPipelineGivesUpOnBrokenStoreAndLosesNothing(t *testing.T) {
	records := collecttest.AuditRecords("a", 20, t0.Add(-30*time.Hour), t0.Add(-time.Hour))
	w := newWorld(t, records...)
	st := newMemStore()
	st.setFailWrites(-1)
	p := w.pipeline(st, w.collector("acme", nil))
	p.MaxConsecutiveFailures = 3
	ps, err := p.Run(w.ctx)
	if err == nil || !strings.Contains(err.Error(), "times in a row") ||
		!errors.Is(err, errStoreDown) {
		t.Fatalf("want the consumer failure, got %v", err)
	}
	if ps.Fetched != len(records) || st.count("Audit_CL") != 0 {
		t.Fatalf("fetched %d, stored %d", ps.Fetched, st.count("Audit_CL"))
	}

	// The store recovers: the next pass fetches nothing new but drains everything left on the bus.
	st.setFailWrites(0)
	w.clock.Advance(time.Minute)
	ps, err = w.pipeline(st, w.collector("acme", nil)).Run(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Fetched != 0 || ps.New != len(records) {
		t.Errorf("recovery pass %+v, want nothing fetched and every record stored", ps)
	}
	wantExactlyOnce(t, st, records)
}

type failingRunner struct{ err error }

func (f failingRunner) Run(context.Context) (collect.Stats, error) { return collect.Stats{}, f.err }

func TestPipelineRunsEveryCollector(t *testing.T) {
	records := collecttest.AuditRecords("a", 5, t0.Add(-3*time.Hour), t0.Add(-time.Hour))
	w := newWorld(t, records...)
	st := newMemStore()
	permanent := &mimecast.APIError{Path: "/api/audit/get-audit-events", Status: 401, Message: "bad credentials"}
	ps, err := w.pipeline(st, failingRunner{err: permanent}, w.collector("acme", nil)).Run(w.ctx)
	if !mimecast.IsPermanent(err) {
		t.Fatalf("want the permanent error joined, got %v", err)
	}
	if ps.New != len(records) {
		t.Errorf("the healthy collector stored %d rows, want %d", ps.New, len(records))
	}
	if _, err := (&Pipeline{}).Run(w.ctx); err == nil {
		t.Error("pipeline without source accepted")
	}
}
