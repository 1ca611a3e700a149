package collect

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect/collecttest"
	"github.com/castwatch/castwatch/internal/mimecast"
)

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

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

// recorder wraps the real bus and remembers what was published.
type recorder struct {
	b       *bus.Bus
	mu      sync.Mutex
	batches []Batch
	dups    int
}

func (r *recorder) Publish(ctx context.Context, subject, msgID string, data []byte) (bool, error) {
	dup, err := r.b.Publish(ctx, subject, msgID, data)
	if err != nil {
		return dup, err
	}
	b, derr := DecodeBatch(data)
	if derr != nil {
		return dup, derr
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if dup {
		r.dups++
	} else {
		r.batches = append(r.batches, b)
	}
	return dup, nil
}

// ids returns how often each record id was published (in non-duplicate messages).
func (r *recorder) ids(t *testing.T) map[string]int {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, b := range r.batches {
		for _, raw := range b.Records {
			var rec struct{ ID string }
			if err := jsonUnmarshal(raw, &rec); err != nil {
				t.Fatal(err)
			}
			out[rec.ID]++
		}
	}
	return out
}

type env struct {
	t     *testing.T
	ctx   context.Context
	dir   string
	bus   *bus.Bus
	rec   *recorder
	clock *clock
	fetch *collecttest.Fetcher
	spec  Spec
}

func newEnv(t *testing.T, records ...collecttest.Record) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, dir: t.TempDir(), clock: &clock{t: t0}, fetch: collecttest.NewFetcher(records...)}
	e.openBus()
	e.spec = AuditSpec()
	e.spec.PageSize = 4
	return e
}

func (e *env) openBus() {
	e.t.Helper()
	b, err := bus.Open(e.ctx, bus.Config{DataDir: e.dir, RelaxedSync: true}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(b.Close)
	e.bus = b
	if e.rec == nil {
		e.rec = &recorder{b: b}
	}
	e.rec.mu.Lock()
	e.rec.b = b
	e.rec.mu.Unlock()
}

func (e *env) collector(mod func(*Config)) *Collector {
	e.t.Helper()
	cfg := Config{Tenant: "acme.example", Spec: e.spec, Fetcher: e.fetch, Publisher: e.rec,
		Checkpoints: e.bus.Checkpoints(), Now: e.clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) checkpoint() Checkpoint {
	e.t.Helper()
	cp, found, err := LoadCheckpoint(e.ctx, e.bus.Checkpoints(), "acme.example", "audit")
	if err != nil || !found {
		e.t.Fatalf("checkpoint: found=%v err=%v", found, err)
	}
	return cp
}

func (e *env) streamMsgs() uint64 {
	e.t.Helper()
	n, err := e.bus.StreamMessages(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) noViolations() {
	e.t.Helper()
	if v := e.fetch.Violations(); len(v) > 0 {
		e.t.Fatalf("fetcher saw protocol violations: %v", v)
	}
}

func wantAllOnce(t *testing.T, got map[string]int, records []collecttest.Record) {
	t.Helper()
	if len(got) != len(records) {
		t.Errorf("published %d distinct records, want %d", len(got), len(records))
	}
	for _, r := range records {
		if got[r.ID] != 1 {
			t.Errorf("record %s published %d times, want once", r.ID, got[r.ID])
		}
	}
}

func TestMultiWindowHistoryThenNothingNew(t *testing.T) {
	// 30 records over the last 3 days, with one record exactly on a window boundary (t0 − 48 h, where the
	// 24-hour windows starting at t0 − 7 d meet).
	records := collecttest.AuditRecords("a", 30, t0.Add(-72*time.Hour+time.Minute), t0.Add(-time.Minute))
	boundary := collecttest.AuditRecord("boundary", t0.Add(-48*time.Hour))
	records = append(records, boundary)
	e := newEnv(t, records...)
	var progress []Progress
	c := e.collector(func(c *Config) { c.Progress = func(p Progress) { progress = append(progress, p) } })

	st, err := c.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.noViolations()
	if st.Windows != 7 {
		t.Errorf("windows = %d, want 7 (7 days in 24-hour windows)", st.Windows)
	}
	// The boundary record is returned by both windows it touches (inclusive filter): once per window.
	if st.Rows != len(records)+1 {
		t.Errorf("rows fetched = %d, want %d", st.Rows, len(records)+1)
	}
	got := e.rec.ids(t)
	if got["boundary"] != 2 {
		t.Errorf("boundary record published %d times, want 2 (both inclusive windows)", got["boundary"])
	}
	delete(got, "boundary")
	wantAllOnce(t, got, records[:30])
	if e.rec.dups != 0 || st.Duplicates != 0 {
		t.Errorf("duplicates on a clean run: %d", e.rec.dups)
	}
	if n := e.streamMsgs(); n != uint64(st.Batches) {
		t.Errorf("stream holds %d messages, want %d batches", n, st.Batches)
	}
	cp := e.checkpoint()
	if cp.Open || cp.NextToken != "" || !cp.WindowEnd.Equal(t0) {
		t.Errorf("final checkpoint %+v, want closed window ending at now", cp)
	}
	if len(progress) != st.Pages || progress[len(progress)-1].Rows != st.Rows {
		t.Errorf("progress calls = %d (last %+v), want %d pages", len(progress), progress[len(progress)-1], st.Pages)
	}
	// Windows are contiguous and every request stays inside the lookback.
	calls := e.fetch.Calls()
	if first := calls[0].Filter.(auditFilter); first.StartDateTime != "2026-03-03T12:00:00+0000" ||
		first.EndDateTime != "2026-03-04T12:00:00+0000" {
		t.Errorf("first window %+v, want 7 days back in a 24-hour window", first)
	}

	t.Run("second run with no new data publishes nothing", func(t *testing.T) {
		before := len(e.fetch.Calls())
		e.clock.Advance(5 * time.Minute)
		st, err := e.collector(nil).Run(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st != (Stats{}) || len(e.fetch.Calls()) != before {
			t.Errorf("stats %+v, %d new calls; want nothing fetched", st, len(e.fetch.Calls())-before)
		}
	})
	t.Run("new data after the minimum window is fetched once", func(t *testing.T) {
		e.clock.Advance(15 * time.Minute)
		fresh := collecttest.AuditRecords("b", 3, t0.Add(time.Minute), t0.Add(19*time.Minute))
		e.fetch.Add(fresh...)
		msgs := e.streamMsgs()
		st, err := e.collector(nil).Run(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Windows != 1 || st.Rows != 3 || st.Batches != 1 {
			t.Errorf("stats %+v, want one window with 3 rows in one batch", st)
		}
		if e.streamMsgs() != msgs+1 {
			t.Errorf("stream grew by %d, want 1", e.streamMsgs()-msgs)
		}
		calls := e.fetch.Calls()
		if f := calls[len(calls)-1].Filter.(auditFilter); f.StartDateTime != "2026-03-10T12:00:00+0000" ||
			f.EndDateTime != "2026-03-10T12:20:00+0000" {
			t.Errorf("window %+v, want previous end .. now", f)
		}
		e.noViolations()
	})
}

func TestWindowRules(t *testing.T) {
	tests := []struct {
		name string
		// prior, when set, is the closed window saved before the run.
		prior     *Checkpoint
		lookback  time.Duration
		maxWindow time.Duration
		wantCalls int
		wantStart string
		wantEnd   string
	}{
		{name: "first run starts at now minus lookback", lookback: 2 * time.Hour, maxWindow: -1,
			wantCalls: 1, wantStart: "2026-03-10T10:00:00+0000", wantEnd: "2026-03-10T12:00:00+0000"},
		{name: "default lookback is seven days", maxWindow: -1,
			wantCalls: 1, wantStart: "2026-03-03T12:00:00+0000", wantEnd: "2026-03-10T12:00:00+0000"},
		{name: "less than 15 minutes since the last end fetches nothing",
			prior:     &Checkpoint{WindowStart: t0.Add(-time.Hour), WindowEnd: t0.Add(-14*time.Minute - 59*time.Second)},
			wantCalls: 0},
		{name: "exactly 15 minutes opens a window at the last end",
			prior:     &Checkpoint{WindowStart: t0.Add(-time.Hour), WindowEnd: t0.Add(-15 * time.Minute)},
			wantCalls: 1, wantStart: "2026-03-10T11:45:00+0000", wantEnd: "2026-03-10T12:00:00+0000"},
		{name: "a checkpoint in the future fetches nothing",
			prior:     &Checkpoint{WindowStart: t0, WindowEnd: t0.Add(time.Hour)},
			wantCalls: 0},
		{name: "windows are capped at max window",
			prior:     &Checkpoint{WindowStart: t0.Add(-4 * time.Hour), WindowEnd: t0.Add(-3 * time.Hour)},
			maxWindow: time.Hour, wantCalls: 3, wantStart: "2026-03-10T09:00:00+0000", wantEnd: "2026-03-10T10:00:00+0000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.spec.Lookback, e.spec.MaxWindow = tc.lookback, tc.maxWindow
			if tc.prior != nil {
				data, _ := jsonMarshal(tc.prior)
				if err := e.bus.Checkpoints().Put(e.ctx, CheckpointKey("acme.example", "audit"), data); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.collector(nil).Run(e.ctx); err != nil {
				t.Fatal(err)
			}
			calls := e.fetch.Calls()
			if len(calls) != tc.wantCalls {
				t.Fatalf("%d requests, want %d", len(calls), tc.wantCalls)
			}
			if tc.wantCalls > 0 {
				f := calls[0].Filter.(auditFilter)
				if f.StartDateTime != tc.wantStart || f.EndDateTime != tc.wantEnd {
					t.Errorf("first window %s..%s, want %s..%s", f.StartDateTime, f.EndDateTime, tc.wantStart, tc.wantEnd)
				}
				if calls[0].Path != "/api/audit/get-audit-events" || calls[0].PageSize != 4 || calls[0].PageToken != "" {
					t.Errorf("request %+v", calls[0])
				}
			}
		})
	}
}

func TestFetchErrorMidWindowResumesSameWindowAndToken(t *testing.T) {
	records := collecttest.AuditRecords("a", 14, t0.Add(-10*time.Hour), t0.Add(-time.Hour))
	e := newEnv(t, records...)
	e.spec.Lookback, e.spec.MaxWindow = 12*time.Hour, -1
	e.fetch.Fail = func(call int, req mimecast.PageRequest) error {
		if call == 3 {
			return &mimecast.APIError{Path: req.Path, Status: 503, Message: "unavailable after retries", Retryable: true}
		}
		return nil
	}
	st, err := e.collector(nil).Run(e.ctx)
	var re *RunError
	var ae *mimecast.APIError
	if !errors.As(err, &re) || re.Permanent() || re.Op != "fetch" || re.Page != 3 {
		t.Fatalf("want a transient fetch error on page 3, got %v", err)
	}
	if !errors.As(err, &ae) || ae.Status != 503 {
		t.Error("the API error is not reachable through the run error")
	}
	if st.Batches != 2 || st.Rows != 8 {
		t.Errorf("stats before the failure %+v, want 2 batches of 4", st)
	}
	cp := e.checkpoint()
	failed := e.fetch.Calls()[2]
	if !cp.Open || cp.NextToken == "" || cp.NextToken != failed.PageToken || cp.Pages != 2 || cp.Rows != 8 {
		t.Fatalf("checkpoint after failure %+v, want open window at the failed page's token %q", cp, failed.PageToken)
	}

	e.fetch.Fail = nil
	e.clock.Advance(2 * time.Hour) // the resumed window must not move with the clock
	st, err = e.collector(nil).Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	resumed := e.fetch.Calls()[3]
	if resumed.PageToken != failed.PageToken || resumed.Filter != failed.Filter {
		t.Errorf("resumed with %+v, want the failed request %+v", resumed, failed)
	}
	e.noViolations()
	wantAllOnce(t, e.rec.ids(t), records)
	if e.rec.dups != 0 {
		t.Errorf("%d duplicate publishes", e.rec.dups)
	}
	// Two windows: the resumed one, then previous end .. now.
	if st.Windows != 2 {
		t.Errorf("windows = %d, want 2", st.Windows)
	}
}

func TestCrashBetweenPublishAndCheckpoint(t *testing.T) {
	records := collecttest.AuditRecords("a", 10, t0.Add(-5*time.Hour), t0.Add(-time.Hour))
	e := newEnv(t, records...)
	e.spec.Lookback, e.spec.MaxWindow = 6*time.Hour, -1
	crash := errors.New("simulated crash")
	var crashed Batch
	_, err := e.collector(func(c *Config) {
		c.BeforeCheckpoint = func(ctx context.Context, b Batch) error {
			if b.Page == 2 {
				crashed = b
				return crash
			}
			return nil
		}
	}).Run(e.ctx)
	if !errors.Is(err, crash) {
		t.Fatalf("want the simulated crash, got %v", err)
	}
	if n := e.streamMsgs(); n != 2 {
		t.Fatalf("stream holds %d messages after the crash, want 2", n)
	}
	if cp := e.checkpoint(); cp.Pages != 1 || !cp.Open {
		t.Fatalf("checkpoint after crash %+v, want one page done", cp)
	}

	// Restart the bus from the same directory, as after a real crash.
	e.bus.Close()
	e.openBus()
	st, err := e.collector(nil).Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Duplicates != 1 || e.rec.dups != 1 {
		t.Errorf("duplicates = %d, want the republished page 2 dropped once", st.Duplicates)
	}
	if n := e.streamMsgs(); n != 3 {
		t.Errorf("stream holds %d messages, want 3 (pages of 4, 4, 2)", n)
	}
	e.noViolations()
	// Every record reached the stream exactly once; the crashed page was published by the first run.
	wantAllOnce(t, e.rec.ids(t), records)
	if len(crashed.Records) != 4 {
		t.Errorf("crashed page held %d records, want 4", len(crashed.Records))
	}
}

func TestEndOfData(t *testing.T) {
	tests := []struct {
		name      string
		records   int
		dummyNext bool
		wantCalls int
		wantBatch int
	}{
		{"no data in the window", 0, false, 1, 0},
		{"no data, dummy next", 0, true, 2, 0},
		{"last page without next", 8, false, 2, 2},
		{"empty last page with dummy next", 8, true, 4, 2},
		{"short last page with dummy next", 6, true, 4, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var records []collecttest.Record
			if tc.records > 0 {
				records = collecttest.AuditRecords("a", tc.records, t0.Add(-50*time.Minute), t0.Add(-10*time.Minute))
			}
			e := newEnv(t, records...)
			e.spec.Lookback, e.spec.MaxWindow = time.Hour, -1
			e.fetch.EndWithDummyNext = tc.dummyNext
			st, err := e.collector(nil).Run(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			e.noViolations()
			if got := len(e.fetch.Calls()); got != tc.wantCalls {
				t.Errorf("%d requests, want %d", got, tc.wantCalls)
			}
			if st.Batches != tc.wantBatch || st.Windows != 1 {
				t.Errorf("stats %+v, want %d batches in 1 window", st, tc.wantBatch)
			}
			// The dummy token is followed once, refused, and ends the window without failing the run.
			if wantDummy := map[bool]int{true: 1, false: 0}[tc.dummyNext]; e.fetch.DummyUsed() != wantDummy {
				t.Errorf("the dummy next token was sent %d times, want %d", e.fetch.DummyUsed(), wantDummy)
			}
			for _, c := range e.fetch.Calls() {
				if c.PageToken == collecttest.DummyNext && !tc.dummyNext {
					t.Error("a dummy next token was sent that the API never gave")
				}
			}
			if cp := e.checkpoint(); cp.Open || cp.NextToken != "" {
				t.Errorf("checkpoint %+v, want the window closed", cp)
			}
		})
	}
}

type stuckFetcher struct{}

func (stuckFetcher) FetchPage(ctx context.Context, req mimecast.PageRequest) (mimecast.Page, error) {
	return mimecast.Page{Data: []jsonRaw{jsonRaw(`{"id":"x"}`)}, Next: "same"}, nil
}

func TestPaginationMustAdvance(t *testing.T) {
	e := newEnv(t)
	e.spec.Lookback, e.spec.MaxWindow = time.Hour, -1
	e.fetch = nil
	c := e.collector(func(c *Config) { c.Fetcher = stuckFetcher{} })
	_, err := c.Run(e.ctx)
	var re *RunError
	if !errors.As(err, &re) || re.Page != 2 || re.Permanent() {
		t.Fatalf("want a non-API error on page 2, got %v", err)
	}
	if cp := e.checkpoint(); cp.NextToken != "same" || cp.Pages != 1 {
		t.Errorf("checkpoint %+v, want page 1 saved", cp)
	}
}

func TestNewValidates(t *testing.T) {
	e := newEnv(t)
	good := Config{Tenant: "t", Spec: AuditSpec(), Fetcher: e.fetch, Publisher: e.rec, Checkpoints: e.bus.Checkpoints()}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"valid", func(*Config) {}, ""},
		{"no tenant", func(c *Config) { c.Tenant = "" }, "collector: tenant is required"},
		{"no fetcher", func(c *Config) { c.Fetcher = nil }, "collector: fetcher, publisher and checkpoint store are required"},
		{"unknown table", func(c *Config) { c.Spec.Table = "Nope_CL" }, `collector: stream spec audit: unknown table "Nope_CL"`},
		{"no filter", func(c *Config) { c.Spec.Filter = nil }, "collector: stream spec audit: filter builder is required"},
		{"no name", func(c *Config) { c.Spec.Name = "" }, "collector: stream spec: name is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.mod(&cfg)
			_, err := New(cfg)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("error %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMetricsTwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("second NewMetrics: %v", err)
	}
	records := collecttest.AuditRecords("a", 5, t0.Add(-50*time.Minute), t0.Add(-10*time.Minute))
	e := newEnv(t, records...)
	e.spec.Lookback, e.spec.MaxWindow = time.Hour, -1
	if _, err := e.collector(func(c *Config) { c.Metrics = m2 }).Run(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, m1.Rows.WithLabelValues("acme.example", "audit")); got != 5 {
		t.Errorf("rows metric = %v, want 5", got)
	}
	if got := metricValue(t, m1.Pages.WithLabelValues("acme.example", "audit")); got != 2 {
		t.Errorf("pages metric = %v, want 2", got)
	}
	if got := metricValue(t, m1.LastSuccess.WithLabelValues("acme.example", "audit")); got != float64(t0.Unix()) {
		t.Errorf("last success = %v, want %d", got, t0.Unix())
	}
	e.fetch.Fail = func(int, mimecast.PageRequest) error { return errors.New("network down") }
	e.clock.Advance(time.Hour)
	if _, err := e.collector(func(c *Config) { c.Metrics = m1 }).Run(e.ctx); err == nil {
		t.Fatal("run with a failing fetcher succeeded")
	}
	if got := metricValue(t, m2.Errors.WithLabelValues("acme.example", "audit")); got != 1 {
		t.Errorf("errors metric = %v, want 1", got)
	}
}

func TestBatchIdentity(t *testing.T) {
	base := Batch{Tenant: "acme", Stream: "audit", Table: "Audit_CL", WindowStart: t0, WindowEnd: t0.Add(time.Hour),
		PageToken: "tok", Page: 2, Records: []jsonRaw{jsonRaw(`{"id":"1"}`)}, Fetched: t0}
	tests := []struct {
		name string
		mod  func(*Batch)
		same bool
	}{
		{"identical", func(*Batch) {}, true},
		{"page number and fetch time do not matter", func(b *Batch) { b.Page = 9; b.Fetched = t0.Add(time.Hour) }, true},
		{"same instant in another zone", func(b *Batch) { b.WindowStart = t0.In(time.FixedZone("x", 3600)) }, true},
		{"tenant", func(b *Batch) { b.Tenant = "other" }, false},
		{"stream", func(b *Batch) { b.Stream = "dlp" }, false},
		{"window start", func(b *Batch) { b.WindowStart = t0.Add(time.Second) }, false},
		{"window end", func(b *Batch) { b.WindowEnd = t0 }, false},
		{"token", func(b *Batch) { b.PageToken = "" }, false},
		{"records", func(b *Batch) { b.Records = []jsonRaw{jsonRaw(`{"id":"2"}`)} }, false},
		{"field boundaries", func(b *Batch) { b.Tenant, b.Stream = "acmeaudit", "" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base
			tc.mod(&b)
			if (b.MsgID() == base.MsgID()) != tc.same {
				t.Fatalf("same id = %v, want %v", !tc.same, tc.same)
			}
		})
	}
	data, err := base.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeBatch(data)
	if err != nil || back.MsgID() != base.MsgID() {
		t.Fatalf("round trip changed the id: %v", err)
	}
	if _, err := DecodeBatch([]byte(`{"tenant":"t"}`)); err == nil {
		t.Error("batch without stream and table accepted")
	}
	if _, err := DecodeBatch([]byte(`nope`)); err == nil {
		t.Error("invalid JSON accepted")
	}
	if got := Subject("acme.example", "audit"); got != "castwatch.batch.acme_2eexample.audit" {
		t.Errorf("subject %q", got)
	}
}

func TestWrappedRecords(t *testing.T) {
	tests := []struct {
		name    string
		data    []string
		want    []string
		wantErr bool
	}{
		{"wrapped list", []string{`{"clickLogs":[{"a":1},{"a":2}]}`}, []string{`{"a":1}`, `{"a":2}`}, false},
		{"empty data", nil, nil, false},
		{"missing list", []string{`{"other":[]}`}, nil, false},
		{"null list", []string{`{"clickLogs":null}`}, nil, false},
		{"not an object", []string{`[1]`}, nil, true},
		{"list not an array", []string{`{"clickLogs":{"a":1}}`}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p mimecast.Page
			for _, d := range tc.data {
				p.Data = append(p.Data, jsonRaw(d))
			}
			got, err := WrappedRecords("clickLogs")(p)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			var gs []string
			for _, g := range got {
				gs = append(gs, string(g))
			}
			sort.Strings(gs)
			if fmt.Sprint(gs) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", gs, tc.want)
			}
		})
	}
}

func TestRefusedTokenRestartsTheWindowOnce(t *testing.T) {
	records := collecttest.AuditRecords("a", 10, t0.Add(-5*time.Hour), t0.Add(-time.Hour))
	e := newEnv(t, records...)
	e.spec.Lookback, e.spec.MaxWindow = 6*time.Hour, -1
	stale := Checkpoint{WindowStart: t0.Add(-6 * time.Hour), WindowEnd: t0, Open: true, NextToken: "expired", Pages: 1, Rows: 4}
	data, _ := jsonMarshal(stale)
	if err := e.bus.Checkpoints().Put(e.ctx, CheckpointKey("acme.example", "audit"), data); err != nil {
		t.Fatal(err)
	}
	st, err := e.collector(nil).Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	calls := e.fetch.Calls()
	if calls[0].PageToken != "expired" || calls[1].PageToken != "" || calls[1].Filter != calls[0].Filter {
		t.Fatalf("requests %+v, want the refused token then the same window from its first page", calls[:2])
	}
	if v := e.fetch.Violations(); len(v) != 1 {
		t.Errorf("violations %v, want only the refused token", v)
	}
	if st.Rows != 10 || st.Windows != 1 {
		t.Errorf("stats %+v, want the whole window", st)
	}
	wantAllOnce(t, e.rec.ids(t), records)

	t.Run("a refused first page is not retried", func(t *testing.T) {
		e := newEnv(t, records...)
		e.spec.Lookback, e.spec.MaxWindow = 6*time.Hour, -1
		e.fetch.Fail = func(int, mimecast.PageRequest) error {
			return &mimecast.APIError{Status: 401, Message: "bad credentials"}
		}
		_, err := e.collector(nil).Run(e.ctx)
		if !mimecast.IsPermanent(err) {
			t.Fatalf("want the permanent error, got %v", err)
		}
		want := "collect acme.example/audit: fetch page 1 of window 2026-03-10T06:00:00Z..2026-03-10T12:00:00Z " +
			"(permanent: retrying will not help; check the credentials, permissions and settings): " +
			"mimecast : HTTP 401: bad credentials"
		if err.Error() != want {
			t.Errorf("error message\n%s\nwant\n%s", err, want)
		}
		if n := len(e.fetch.Calls()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

// TestEmptyPageInTheMiddleIsFollowed: an empty page that still carries a real next token does not end the window;
// stopping there would lose every record after it.
func TestEmptyPageInTheMiddleIsFollowed(t *testing.T) {
	for _, dummy := range []bool{false, true} {
		t.Run(fmt.Sprintf("dummy_next=%v", dummy), func(t *testing.T) {
			records := collecttest.AuditRecords("a", 23, t0.Add(-50*time.Minute), t0.Add(-10*time.Minute))
			e := newEnv(t, records...)
			e.spec.Lookback, e.spec.MaxWindow, e.spec.PageSize = time.Hour, -1, 5
			e.fetch.EmptyMid = true
			e.fetch.EndWithDummyNext = dummy
			st, err := e.collector(nil).Run(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			e.noViolations()
			wantAllOnce(t, e.rec.ids(t), records)
			if st.Rows != len(records) {
				t.Errorf("fetched %d records, want %d", st.Rows, len(records))
			}
		})
	}
}
