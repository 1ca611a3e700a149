package siem

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/schema"
)

// day0 is "today" in these tests; day1 is yesterday.
var (
	testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	today   = "2026-11-20"
	prevDay = "2026-11-19"
)

type env struct {
	api   *fakeAPI
	bus   *bus.Bus
	clock *fixedClock
	cfg   Config
}

func newEnv(t *testing.T) *env {
	clock := &fixedClock{t: testNow}
	api := newFakeAPI(t, clock.Now)
	b := openBus(t)
	return &env{api: api, bus: b, clock: clock, cfg: Config{
		Tenant: "acme", Stream: StreamCG, Types: []string{"receipt"}, Client: newClient(t, api.srv.URL, 1),
		Publisher: b, Checkpoints: b.Checkpoints(), Now: clock.Now, Lookback: 24 * time.Hour, ChunkSize: 3,
	}}
}

func (e *env) collector(t *testing.T) *Collector {
	t.Helper()
	c, err := New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) state(t *testing.T, typ string) State {
	t.Helper()
	st, found, err := LoadState(testCtx(t), e.bus.Checkpoints(), e.cfg.Tenant, e.cfg.Stream, typ)
	if err != nil || !found {
		t.Fatalf("state of %s: found %v, err %v", typ, found, err)
	}
	return st
}

func TestNewValidates(t *testing.T) {
	b := openBus(t)
	base := Config{Tenant: "acme", Stream: StreamCG, Client: newClient(t, "http://127.0.0.1:1", 1), Publisher: b, Checkpoints: b.Checkpoints()}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"valid cg", func(*Config) {}, ""},
		{"valid ci with a type", func(c *Config) { c.Stream, c.Types = StreamCI, []string{"mailflow"} }, ""},
		{"no tenant", func(c *Config) { c.Tenant = "" }, "siem collector: tenant is required"},
		{"unknown stream", func(c *Config) { c.Stream = "siem" }, `siem collector: unknown stream "siem" (want siem_cg or siem_ci)`},
		{"ci type on cg", func(c *Config) { c.Types = []string{"mailflow"} }, `siem collector: siem_cg has no type "mailflow"`},
		{"no client", func(c *Config) { c.Client = nil }, "siem collector: client, publisher and checkpoint store are required"},
		{"page size too big", func(c *Config) { c.PageSize = 101 }, "siem collector: page size 101 is not within 1–100"},
		{"negative chunk", func(c *Config) { c.ChunkSize = -1 }, "must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mod(&cfg)
			c, err := New(cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if c.Tenant() != "acme" || c.Stream() != cfg.Stream {
					t.Fatalf("tenant/stream = %s/%s", c.Tenant(), c.Stream())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
	c, err := New(Config{Tenant: "acme", Stream: StreamCG, Client: base.Client, Publisher: b, Checkpoints: b.Checkpoints(),
		Lookback: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Lookback != MaxLookback || len(c.Types()) != 10 {
		t.Fatalf("lookback %s types %d: want the 7-day cap and all 10 cg types", c.cfg.Lookback, len(c.Types()))
	}
}

func TestCollectPublishesEveryRecordOnceAcrossRuns(t *testing.T) {
	e := newEnv(t)
	e.cfg.Types = []string{"receipt", "url protect"}
	r1 := cgLines("receipt", "r-prev", 7, testNow.Add(-30*time.Hour))
	r2 := cgLines("receipt", "r-today", 4, testNow.Add(-2*time.Hour))
	u1 := cgLines("url protect", "u-today", 5, testNow.Add(-time.Hour))
	e.api.add("receipt", prevDay, &fakeFile{name: "a.json.gz", lines: r1})
	e.api.add("receipt", today, &fakeFile{name: "b.json.gz", lines: r2})
	e.api.add("url protect", today, &fakeFile{name: "c.json.gz", lines: u1})
	c := e.collector(t)
	ctx := testCtx(t)

	st, err := c.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3 || st.Rows != 16 || st.Windows != 2 {
		t.Fatalf("stats %+v: want 3 files, 16 rows, yesterday closed for both types", st)
	}
	// 7 lines in chunks of 3 → 3 batches; 4 → 2; 5 → 2.
	if st.Batches != 7 || st.Duplicates != 0 {
		t.Fatalf("batches %d dups %d, want 7 and 0", st.Batches, st.Duplicates)
	}
	if s := e.state(t, "receipt"); s.Day != today || len(s.Files) != 0 || !s.CaughtUp {
		t.Fatalf("receipt state %+v: want today, caught up, empty work list", s)
	}

	// A new file appears behind the saved @nextPage; the next run takes only that one.
	r3 := cgLines("receipt", "r-later", 2, testNow)
	e.api.add("receipt", today, &fakeFile{name: "d.json.gz", lines: r3})
	st, err = c.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 1 || st.Rows != 2 || st.Batches != 1 {
		t.Fatalf("second run %+v: want only the new file", st)
	}
	st, err = c.Collect(ctx)
	if err != nil || st.Files != 0 || st.Batches != 0 {
		t.Fatalf("third run %+v, %v: want nothing new", st, err)
	}
	for _, name := range []string{"a.json.gz", "b.json.gz", "d.json.gz"} {
		day := today
		if name == "a.json.gz" {
			day = prevDay
		}
		if n := e.api.downloadsOf("receipt", day, name); n != 1 {
			t.Errorf("%s downloaded %d times", name, n)
		}
	}
	bs := batches(t, drain(t, e.bus))
	assertExactlyOnce(t, recordCounts(t, bs), r1, r2, r3, u1)
	for _, b := range bs {
		if b.Table != schema.SegCg.Name || b.Tenant != "acme" || b.Stream != StreamCG {
			t.Fatalf("batch labels %s/%s/%s", b.Tenant, b.Stream, b.Table)
		}
		if len(b.Records) > 3 {
			t.Fatalf("batch of %d records exceeds the chunk size 3", len(b.Records))
		}
		for _, r := range b.Records {
			if _, err := schema.SegCg.Decode("acme", r, testNow); err != nil {
				t.Fatalf("published record does not decode: %v", err)
			}
		}
	}
	// Listing used date-only days, the documented page size and encoded spaces.
	for _, q := range e.api.listCalls {
		if !strings.Contains(q, "dateRangeStartsAt=2026-11-") || !strings.Contains(q, "pageSize=100") {
			t.Fatalf("listing query %q", q)
		}
		if strings.Contains(q, "url") && !strings.Contains(q, "type=url%20protect") {
			t.Fatalf("listing query %q: type not encoded with %%20", q)
		}
	}
}

func TestDayStaysOpenUntilCaughtUpAndGracePassed(t *testing.T) {
	e := newEnv(t)
	e.cfg.PageSize = 1
	e.clock.Set(time.Date(2026, 11, 20, 0, 30, 0, 0, time.UTC)) // within the grace hour after the 19th
	e.api.add("receipt", prevDay, &fakeFile{name: "a.json.gz", lines: cgLines("receipt", "a", 2, testNow)},
		&fakeFile{name: "b.json.gz", lines: cgLines("receipt", "b", 2, testNow)})
	c := e.collector(t)
	st, err := c.Collect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 2 || st.Pages != 2 || st.Windows != 0 {
		t.Fatalf("stats %+v: want both files over two pages and the day still open", st)
	}
	if s := e.state(t, "receipt"); s.Day != prevDay {
		t.Fatalf("day %s closed inside the grace period", s.Day)
	}
	e.clock.Set(time.Date(2026, 11, 20, 1, 30, 0, 0, time.UTC))
	st, err = c.Collect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Windows != 1 || st.Files != 0 {
		t.Fatalf("stats %+v: want the day closed and no file again", st)
	}
	if s := e.state(t, "receipt"); s.Day != today || s.NextPage == "" {
		t.Fatalf("state %+v: want today listed", s)
	}
}

func TestDownloadFailureMidFileThenRerun(t *testing.T) {
	tests := []struct {
		name       string
		fault      string
		wantChunks int // chunks already on the bus after the failed run
	}{
		{"truncated gzip", "truncate", 1},
		{"server error", "500", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.cfg.ChunkSize = 50
			lines := cgLines("receipt", "big", 400, testNow.Add(-time.Hour))
			other := cgLines("receipt", "ok", 3, testNow.Add(-time.Hour))
			e.api.add("receipt", today, &fakeFile{name: "big.json.gz", lines: lines, faults: []string{tc.fault}},
				&fakeFile{name: "ok.json.gz", lines: other})
			c := e.collector(t)
			ctx := testCtx(t)
			st, err := c.Collect(ctx)
			if err == nil {
				t.Fatal("run with a failed file reported no error")
			}
			var re *collect.RunError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), "big.json.gz") {
				t.Fatalf("error %v: want a RunError naming the file", err)
			}
			if st.FilesFailed != 1 || st.Files != 1 {
				t.Fatalf("stats %+v: want one failed and one finished file", st)
			}
			s := e.state(t, "receipt")
			if len(s.Files) != 1 || s.Files[0].Name() != "big.json.gz" || s.Files[0].Attempts != 1 {
				t.Fatalf("work list %+v: want the failed file kept", s.Files)
			}
			if tc.wantChunks > 0 && s.Files[0].Chunks < tc.wantChunks {
				t.Fatalf("chunks done %d: want the chunks before the truncation kept", s.Files[0].Chunks)
			}
			done := s.Files[0].Chunks
			if done*50 >= 400 {
				t.Fatalf("truncated file claims %d chunks", done)
			}

			st, err = c.Collect(ctx)
			if err != nil {
				t.Fatalf("rerun: %v", err)
			}
			if st.Files != 1 || st.Batches != 8-done || st.Duplicates != 0 {
				t.Fatalf("rerun stats %+v: want the %d remaining chunks only", st, 8-done)
			}
			if s := e.state(t, "receipt"); len(s.Files) != 0 {
				t.Fatalf("work list not empty after the rerun: %+v", s.Files)
			}
			msgs := drain(t, e.bus)
			if len(msgs) != 9 {
				t.Fatalf("%d messages on the bus, want 8 chunks + 1", len(msgs))
			}
			ids := map[string]bool{}
			for _, m := range msgs {
				ids[m.MsgID] = true
			}
			if len(ids) != len(msgs) {
				t.Fatal("duplicate message ids on the bus")
			}
			assertExactlyOnce(t, recordCounts(t, batches(t, msgs)), lines, other)
		})
	}
}

func TestRepublishedChunkIsDroppedByTheBus(t *testing.T) {
	e := newEnv(t)
	lines := cgLines("receipt", "x", 5, testNow)
	e.api.add("receipt", today, &fakeFile{name: "x.json.gz", lines: lines})
	c := e.collector(t)
	if _, err := c.Collect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash after publishing but before the checkpoint: the state forgets the file was done.
	s := e.state(t, "receipt")
	s.Done, s.NextPage = nil, ""
	raw, _ := json.Marshal(s)
	if err := e.bus.Checkpoints().Put(testCtx(t), StateKey("acme", StreamCG, "receipt"), raw); err != nil {
		t.Fatal(err)
	}
	st, err := c.Collect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Batches != 2 || st.Duplicates != 2 {
		t.Fatalf("stats %+v: want both chunks republished and dropped as duplicates", st)
	}
	assertExactlyOnce(t, recordCounts(t, batches(t, drain(t, e.bus))), lines)
}

func TestExpiredURLIsRelisted(t *testing.T) {
	tests := []struct {
		name      string
		file      *fakeFile
		wantDL    int // downloads of the file
		wantErr   bool
		wantDone  bool
		wantRelis int
	}{
		{"403 on download then fresh url", &fakeFile{name: "e.json.gz", expiredListings: 1}, 2, false, true, 1},
		{"expiry already past when listed", &fakeFile{name: "e.json.gz", stale: true}, 1, false, true, 1},
		{"expired again after the re-list", &fakeFile{name: "e.json.gz", expiredListings: 2}, 2, true, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.file.lines = cgLines("receipt", "e", 4, testNow)
			e.api.add("receipt", today, tc.file)
			c := e.collector(t)
			st, err := c.Collect(testCtx(t))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if st.Relists != tc.wantRelis {
				t.Fatalf("relists %d, want %d", st.Relists, tc.wantRelis)
			}
			if n := e.api.downloadsOf("receipt", today, "e.json.gz"); n != tc.wantDL {
				t.Fatalf("downloads %d, want %d", n, tc.wantDL)
			}
			s := e.state(t, "receipt")
			if tc.wantDone {
				if len(s.Files) != 0 || st.Files != 1 {
					t.Fatalf("file not done: %+v", s.Files)
				}
				assertExactlyOnce(t, recordCounts(t, batches(t, drain(t, e.bus))), tc.file.lines)
				return
			}
			if len(s.Files) != 1 {
				t.Fatalf("failed file left the work list: %+v", s)
			}
			// The next run re-lists, gets a working URL and completes.
			if _, err := c.Collect(testCtx(t)); err != nil {
				t.Fatalf("next run: %v", err)
			}
			assertExactlyOnce(t, recordCounts(t, batches(t, drain(t, e.bus))), tc.file.lines)
		})
	}
}

func TestFileThatKeepsFailingIsGivenUpLoudly(t *testing.T) {
	tests := []struct {
		name string
		file *fakeFile
	}{
		{"url always expired", &fakeFile{name: "f.json.gz", expiredListings: 1000}},
		{"file no longer listed", &fakeFile{name: "f.json.gz", faults: []string{"expired", "expired"}, listOnce: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.cfg.MaxAttempts = 2
			tc.file.lines = cgLines("receipt", "f", 4, testNow)
			e.api.add("receipt", today, tc.file)
			c := e.collector(t)
			st, err := c.Collect(testCtx(t))
			if err == nil || st.FilesFailed != 1 || st.FilesAbandoned != 0 {
				t.Fatalf("run 1: %+v, %v: want one failure, file kept", st, err)
			}
			if s := e.state(t, "receipt"); len(s.Files) != 1 || s.Files[0].Attempts != 1 || s.Files[0].LastError == "" {
				t.Fatalf("work list %+v", s.Files)
			}
			st, err = c.Collect(testCtx(t))
			if err == nil || st.FilesAbandoned != 1 {
				t.Fatalf("run 2: %+v, %v: want the file given up with an error", st, err)
			}
			if s := e.state(t, "receipt"); len(s.Files) != 0 {
				t.Fatalf("abandoned file still in the work list: %+v", s.Files)
			}
			bs := batches(t, drain(t, e.bus))
			if len(bs) != 1 || len(bs[0].Records) != 0 || len(bs[0].Malformed) != 1 {
				t.Fatalf("batches %+v: want one malformed entry recording the loss", bs)
			}
			m := bs[0].Malformed[0]
			if !strings.Contains(m.Position, "receipt/2026-11-20 file f.json.gz") || !strings.Contains(m.Reason, "given up after 2 attempts") {
				t.Fatalf("loss entry %+v", m)
			}
		})
	}
}

func TestSameURLListedTwiceIsDownloadedOnce(t *testing.T) {
	e := newEnv(t)
	e.api.dupURL = true
	lines := cgLines("receipt", "d", 4, testNow)
	e.api.add("receipt", today, &fakeFile{name: "d.json.gz", lines: lines})
	c := e.collector(t)
	st, err := c.Collect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.DuplicateURLs != 1 || st.Files != 1 {
		t.Fatalf("stats %+v: want one duplicate url and one file", st)
	}
	if n := e.api.downloadsOf("receipt", today, "d.json.gz"); n != 1 {
		t.Fatalf("downloaded %d times", n)
	}
	assertExactlyOnce(t, recordCounts(t, batches(t, drain(t, e.bus))), lines)
}

func TestMalformedLinesTravelWithPositions(t *testing.T) {
	e := newEnv(t)
	e.cfg.MaxLineBytes = 2000
	good := cgLines("receipt", "m", 4, testNow)
	lines := []string{good[0], `{"accountId":"C0A0","timest`, "", good[1], "not json at all", good[2],
		`{"x":` + strings.Repeat("9", 3000) + `}`, good[3], "\r"}
	e.api.add("receipt", today, &fakeFile{name: "m.json.gz", lines: lines})
	c := e.collector(t)
	st, err := c.Collect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Malformed != 3 || st.Rows != 4 {
		t.Fatalf("stats %+v: want 4 records and 3 malformed lines", st)
	}
	var got []collect.Malformed
	for _, b := range batches(t, drain(t, e.bus)) {
		got = append(got, b.Malformed...)
	}
	want := []struct{ pos, reason string }{
		{"receipt/2026-11-20 file m.json.gz line 2", "invalid JSON"},
		{"receipt/2026-11-20 file m.json.gz line 5", "not a JSON object"},
		{"receipt/2026-11-20 file m.json.gz line 7", "line longer than 2000 bytes"},
	}
	if len(got) != len(want) {
		t.Fatalf("malformed %+v", got)
	}
	for i, w := range want {
		if got[i].Position != w.pos || !strings.HasPrefix(got[i].Reason, w.reason) {
			t.Errorf("malformed[%d] = %q %q, want %q %q", i, got[i].Position, got[i].Reason, w.pos, w.reason)
		}
	}
	if len(got[2].Raw) > maxMalformedRaw || got[1].Raw != "not json at all" {
		t.Errorf("raw kept: %q / %d bytes", got[1].Raw, len(got[2].Raw))
	}
}

func TestRefusedNextPageRelistsTheDay(t *testing.T) {
	e := newEnv(t)
	lines := cgLines("receipt", "t", 2, testNow)
	e.api.add("receipt", today, &fakeFile{name: "t.json.gz", lines: lines})
	c := e.collector(t)
	if _, err := c.Collect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	e.api.mu.Lock()
	e.api.badTokens = true
	e.api.mu.Unlock()
	st, err := c.Collect(testCtx(t))
	if err != nil {
		t.Fatalf("refused token ended the run: %v", err)
	}
	if st.Files != 0 || st.DuplicateURLs != 1 {
		t.Fatalf("stats %+v: want the day re-listed and the done file recognised", st)
	}
	if n := e.api.downloadsOf("receipt", today, "t.json.gz"); n != 1 {
		t.Fatalf("downloads %d", n)
	}
}

func TestListFailureOfOneTypeDoesNotStopOthers(t *testing.T) {
	e := newEnv(t)
	e.cfg.Stream, e.cfg.Types = StreamCI, []string{"entities", "mailflow"}
	e.api.failType = map[string]int{"entities": 403}
	lines := cgLines("mailflow", "mf", 2, testNow)
	e.api.add("mailflow", today, &fakeFile{name: "m.json.gz", lines: lines})
	c := e.collector(t)
	st, err := c.Collect(testCtx(t))
	var re *collect.RunError
	if !errors.As(err, &re) || !re.Permanent() || !strings.Contains(err.Error(), "siem_ci/entities") {
		t.Fatalf("error %v: want a permanent RunError for entities", err)
	}
	if st.Files != 1 {
		t.Fatalf("stats %+v: mailflow not collected", st)
	}
	bs := batches(t, drain(t, e.bus))
	if len(bs) != 1 || bs[0].Table != schema.CloudIntegrated.Name || bs[0].Stream != StreamCI {
		t.Fatalf("batches %+v", bs)
	}
	assertExactlyOnce(t, recordCounts(t, bs), lines)
}

func TestCancelledRunReturnsRunError(t *testing.T) {
	e := newEnv(t)
	c := e.collector(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Run(ctx)
	var re *collect.RunError
	if !errors.As(err, &re) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v: want a RunError wrapping context.Canceled", err)
	}
}
