package threatintel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/schema"
)

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// published returns the indicator ids of batches, by feed type, failing on a record that does not decode.
func published(t *testing.T, bs []collect.Batch) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	for _, b := range bs {
		if b.Table != schema.ThreatIntel.Name {
			t.Fatalf("batch for table %s", b.Table)
		}
		for _, raw := range b.Records {
			row, err := schema.ThreatIntel.Decode("acme", raw, b.Fetched)
			if err != nil {
				t.Fatalf("published indicator does not decode: %v: %s", err, raw)
			}
			var rec struct {
				ID       string `json:"id"`
				FeedType string `json:"feedType"`
			}
			_ = json.Unmarshal(raw, &rec)
			if want := strings.TrimPrefix(rec.FeedType, "malware_"); row[schema.ThreatIntel.ColumnIndex("source")] != want {
				t.Errorf("indicator %s of feed %s stored with source %v", rec.ID, rec.FeedType, row[schema.ThreatIntel.ColumnIndex("source")])
			}
			if out[rec.FeedType] == nil {
				out[rec.FeedType] = map[string]int{}
			}
			out[rec.FeedType][rec.ID]++
		}
	}
	return out
}

func ids(t *testing.T, recs []json.RawMessage) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range recs {
		var rec struct{ ID string }
		if err := json.Unmarshal(r, &rec); err != nil {
			t.Fatal(err)
		}
		out[rec.ID]++
	}
	return out
}

func sameIDs(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d indicators, want %d", what, len(got), len(want))
	}
	for id, n := range want {
		if got[id] != n {
			t.Errorf("%s: indicator %s published %d times, want %d", what, id, got[id], n)
		}
	}
}

// simEnv is a simulated tenant, the real client over it and the embedded bus.
type simEnv struct {
	ctx   context.Context
	sim   *sim.Sim
	clock *clock
	rec   *recorder
	b     interface {
		collect.CheckpointStore
	}
	client headerClient
}

func newSimEnv(t *testing.T, opts sim.Options) *simEnv {
	t.Helper()
	ctx, b := openBus(t)
	e := &simEnv{ctx: ctx, clock: &clock{t: t0}, rec: &recorder{b: b}, b: b.Checkpoints()}
	opts.Seed, opts.Start, opts.Now = 5, t0, e.clock.Now
	s, err := sim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	e.sim = s
	e.client = newHeaderClient(t, srv.URL, sim.DefaultClientID, sim.DefaultClientSecret, e.clock.Now)
	return e
}

func (e *simEnv) collector(t *testing.T, mod func(*Config)) *Collector {
	t.Helper()
	cfg := Config{Tenant: "acme", Client: e.client, Publisher: e.rec, Checkpoints: e.b, Now: e.clock.Now, BatchSize: 40}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFeedsAgainstSimulator: the first run publishes every indicator the tenant holds for the look-back, per feed;
// a second run publishes nothing; later, only what was sighted in between.
func TestFeedsAgainstSimulator(t *testing.T) {
	e := newSimEnv(t, sim.Options{Mailboxes: 60, Days: 3})
	c := e.collector(t, nil)
	st, err := c.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, dropped := e.rec.take()
	got := published(t, stored)
	for _, feed := range []string{FeedCustomer, FeedGrid} {
		truth, err := e.sim.ThreatIntelIndicators(feed, t0.Add(-DefaultLookback), t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(truth) < 10 {
			t.Fatalf("%s: the tenant holds %d indicators; the test needs more", feed, len(truth))
		}
		sameIDs(t, "first run "+feed, got[feed], ids(t, truth))
		cp, found, err := LoadCheckpoint(e.ctx, e.b, "acme", Stream, feed)
		if err != nil || !found || cp.Token == "" || cp.LastSeen.IsZero() {
			t.Errorf("%s checkpoint %+v, found %v, err %v", feed, cp, found, err)
		}
	}
	if st.Windows != 2 || len(dropped) != 0 || st.Rows != len(got[FeedCustomer])+len(got[FeedGrid]) {
		t.Errorf("stats %+v, %d dropped", st, len(dropped))
	}

	st, err = c.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stored, _ := e.rec.take(); len(stored) != 0 || st.Rows != 0 || st.Pages != 2 {
		t.Errorf("second run: stats %+v, %d batches; want one call per feed and nothing published", st, len(stored))
	}

	later := t0.Add(9 * time.Hour)
	e.clock.Set(later)
	if _, err := c.Run(e.ctx); err != nil {
		t.Fatal(err)
	}
	stored, _ = e.rec.take()
	got = published(t, stored)
	total := 0
	for _, feed := range []string{FeedCustomer, FeedGrid} {
		truth, _ := e.sim.ThreatIntelIndicators(feed, t0, later)
		sameIDs(t, "later "+feed, got[feed], ids(t, truth))
		total += len(truth)
	}
	if total == 0 {
		t.Error("nothing sighted in nine hours; the test needs new indicators")
	}
}

// TestCrashBeforeCheckpoint: the run stops after a batch was acknowledged and before the token was saved. The
// rerun asks with the same token, publishes the same batch under the same id (dropped), and loses nothing.
func TestCrashBeforeCheckpoint(t *testing.T) {
	e := newSimEnv(t, sim.Options{Mailboxes: 60, Days: 2})
	crash := errors.New("crash")
	calls := 0
	c := e.collector(t, func(cfg *Config) {
		cfg.FeedTypes = []string{FeedGrid}
		cfg.BatchSize = 5
		cfg.BeforeCheckpoint = func(context.Context, collect.Batch) error {
			calls++
			if calls == 3 {
				return crash
			}
			return nil
		}
	})
	if _, err := c.Run(e.ctx); !errors.Is(err, crash) {
		t.Fatalf("err = %v, want the crash", err)
	}
	first, _ := e.rec.take()
	crashedID := e.rec.ids[len(e.rec.ids)-1]
	st, err := c.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	rerun, dropped := e.rec.take()
	if st.Duplicates == 0 || !containsStr(dropped, crashedID) {
		t.Errorf("rerun dropped %v (stats %+v); want the crashed batch %s among them", dropped, st, crashedID)
	}
	got := published(t, append(first, rerun...))
	truth, _ := e.sim.ThreatIntelIndicators(FeedGrid, t0.Add(-DefaultLookback), t0)
	sameIDs(t, "after the crash", got[FeedGrid], ids(t, truth))
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestForbiddenFeed(t *testing.T) {
	e := newSimEnv(t, sim.Options{Mailboxes: 5, Days: 1, MissingProducts: []string{sim.ProductThreatIntel}})
	_, err := e.collector(t, nil).Run(e.ctx)
	var ae *mimecast.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Code != "app_forbidden" {
		t.Fatalf("err = %v, want the 403 app_forbidden API error", err)
	}
	if n := e.sim.Stats().Forbidden; n != 1 {
		t.Errorf("%d forbidden calls, want 1: a forbidden feed is not retried", n)
	}
}

// scripted is a fake feed: answer returns the body, next-token header (empty: none) and error of each call.
type scripted struct {
	mu     sync.Mutex
	reqs   []feedRequest
	answer func(n int, req feedRequest) (bundle []map[string]any, next string, err error)
}

func (s *scripted) DoHeader(_ context.Context, method, path string, body any) ([]byte, http.Header, error) {
	if method != http.MethodPost || path != Path {
		return nil, nil, fmt.Errorf("unexpected call %s %s", method, path)
	}
	b, _ := json.Marshal(body)
	var env struct {
		Data []feedRequest `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil || len(env.Data) != 1 {
		return nil, nil, fmt.Errorf("bad body %s", b)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, env.Data[0])
	n := len(s.reqs)
	s.mu.Unlock()
	objs, next, err := s.answer(n, env.Data[0])
	if err != nil {
		return nil, nil, err
	}
	if objs == nil {
		objs = []map[string]any{}
	}
	out, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--1", "objects": objs})
	h := http.Header{}
	if next != "" {
		h.Set(NextTokenHeader, next)
	}
	return out, h, nil
}

func indicator(id string, at time.Time) map[string]any {
	ts := at.UTC().Format("2006-01-02T15:04:05.000Z")
	return map[string]any{"type": "indicator", "id": id, "created": ts, "modified": ts, "valid_from": ts,
		"labels": []string{"malicious-activity"}, "pattern": fmt.Sprintf("[file:hashes.'SHA-256' = '%064d']", at.Unix())}
}

func malware(id string) map[string]any {
	return map[string]any{"type": "malware", "id": id, "name": "x.exe", "labels": []string{"virus"}}
}

func TestTokenChain(t *testing.T) {
	refused := &mimecast.APIError{Path: Path, Status: 200, Code: "err_threat_intel_invalid_token", Message: "token is not valid"}
	tests := []struct {
		name string
		// answer scripts the feed; the run must end without error unless wantErr is set.
		answer    func(n int, req feedRequest) ([]map[string]any, string, error)
		maxCalls  int
		wantCalls int
		wantRows  int
		// refusedCalls are calls answered with an error, which are not pages.
		refusedCalls int
		wantErr      string
		// check inspects the requests and the saved checkpoint.
		check func(t *testing.T, reqs []feedRequest, cp Checkpoint)
	}{
		{
			name: "header repeats the token: caught up",
			answer: func(n int, req feedRequest) ([]map[string]any, string, error) {
				switch n {
				case 1:
					return []map[string]any{malware("m1"), indicator("i1", t0.Add(-2*time.Hour))}, "tok-2", nil
				case 2:
					return []map[string]any{indicator("i2", t0.Add(-time.Hour))}, "tok-3", nil
				}
				return nil, req.Token, nil
			},
			wantCalls: 3, wantRows: 2,
			check: func(t *testing.T, reqs []feedRequest, cp Checkpoint) {
				if reqs[0].Start != "2026-03-03T12:00:00+0000" || reqs[0].Token != "" || reqs[0].FileType != "stix" || reqs[0].FeedType != FeedGrid {
					t.Errorf("first request %+v", reqs[0])
				}
				if reqs[1].Token != "tok-2" || reqs[1].Start != "" || reqs[2].Token != "tok-3" {
					t.Errorf("follow-ups %+v", reqs[1:])
				}
				if cp.Token != "tok-3" || !cp.LastSeen.Equal(t0.Add(-time.Hour)) {
					t.Errorf("checkpoint %+v", cp)
				}
			},
		},
		{
			name: "no header: caught up, next run starts at the newest indicator",
			answer: func(n int, req feedRequest) ([]map[string]any, string, error) {
				return []map[string]any{indicator("i1", t0.Add(-3*time.Hour))}, "", nil
			},
			wantCalls: 1, wantRows: 1,
			check: func(t *testing.T, reqs []feedRequest, cp Checkpoint) {
				if cp.Token != "" || !cp.Start.Equal(t0.Add(-3*time.Hour)) {
					t.Errorf("checkpoint %+v", cp)
				}
			},
		},
		{
			name: "empty answers with new tokens are followed",
			answer: func(n int, req feedRequest) ([]map[string]any, string, error) {
				switch n {
				case 1, 2:
					return nil, fmt.Sprintf("tok-%d", n+1), nil
				case 3:
					return []map[string]any{indicator("i9", t0.Add(-time.Minute))}, "tok-4", nil
				}
				return nil, req.Token, nil
			},
			wantCalls: 4, wantRows: 1,
		},
		{
			name: "refused token restarts once from the newest indicator seen",
			answer: func(n int, req feedRequest) ([]map[string]any, string, error) {
				switch n {
				case 1:
					return []map[string]any{indicator("i1", t0.Add(-5*time.Hour))}, "tok-2", nil
				case 2:
					return nil, "", refused
				case 3:
					return []map[string]any{indicator("i1", t0.Add(-5*time.Hour)), indicator("i2", t0.Add(-time.Hour))}, "tok-x", nil
				}
				return nil, req.Token, nil
			},
			wantCalls: 4, wantRows: 3, refusedCalls: 1,
			check: func(t *testing.T, reqs []feedRequest, cp Checkpoint) {
				if reqs[2].Token != "" || reqs[2].Start != "2026-03-10T07:00:00+0000" {
					t.Errorf("restart request %+v, want start at the newest indicator seen", reqs[2])
				}
				if cp.Token != "tok-x" {
					t.Errorf("checkpoint %+v", cp)
				}
			},
		},
		{
			name: "refused twice fails",
			answer: func(n int, req feedRequest) ([]map[string]any, string, error) {
				if n == 1 {
					return nil, "tok-2", nil
				}
				return nil, "", refused
			},
			wantErr: "err_threat_intel_invalid_token",
		},
		{
			name: "a feed that never ends stops at the call limit",
			answer: func(n int, req feedRequest) ([]map[string]any, string, error) {
				return []map[string]any{indicator(fmt.Sprintf("i%d", n), t0.Add(time.Duration(n)*time.Second-time.Hour))}, fmt.Sprintf("tok-%d", n+1), nil
			},
			maxCalls: 7, wantCalls: 7, wantRows: 7,
			check: func(t *testing.T, reqs []feedRequest, cp Checkpoint) {
				if cp.Token != "tok-8" {
					t.Errorf("checkpoint %+v: the next run must continue the chain", cp)
				}
			},
		},
		{
			name: "the API refuses the request",
			answer: func(n int, req feedRequest) ([]map[string]any, string, error) {
				return nil, "", &mimecast.APIError{Path: Path, Status: 200, Code: "err_validation_invalid_feed_type", Message: "bad feed"}
			},
			wantErr: "err_validation_invalid_feed_type",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, b := openBus(t)
			rec := &recorder{b: b}
			fake := &scripted{answer: tt.answer}
			c, err := New(Config{Tenant: "acme", Client: fake, Publisher: rec, Checkpoints: b.Checkpoints(),
				Now: func() time.Time { return t0 }, FeedTypes: []string{FeedGrid}, MaxCalls: tt.maxCalls})
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.Run(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			stored, _ := rec.take()
			rows := 0
			for _, id := range published(t, stored)[FeedGrid] {
				rows += id
			}
			if len(fake.reqs) != tt.wantCalls || st.Pages != tt.wantCalls-tt.refusedCalls || rows != tt.wantRows || st.Rows != tt.wantRows {
				t.Errorf("%d calls, %d rows published (stats %+v); want %d calls, %d rows", len(fake.reqs), rows, st, tt.wantCalls, tt.wantRows)
			}
			if tt.check != nil {
				cp, _, err := LoadCheckpoint(ctx, b.Checkpoints(), "acme", Stream, FeedGrid)
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, fake.reqs, cp)
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	_, b := openBus(t)
	good := Config{Tenant: "acme", Client: &scripted{}, Publisher: &recorder{b: b}, Checkpoints: b.Checkpoints()}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"one feed", func(c *Config) { c.FeedTypes = []string{FeedCustomer} }, ""},
		{"no tenant", func(c *Config) { c.Tenant = "" }, "tenant is required"},
		{"no client", func(c *Config) { c.Client = nil }, "client, publisher and checkpoint store are required"},
		{"unknown feed", func(c *Config) { c.FeedTypes = []string{"malware_all"} }, `unknown feed type "malware_all"`},
		{"feed twice", func(c *Config) { c.FeedTypes = []string{FeedGrid, FeedGrid} }, "listed twice"},
		{"negative lookback", func(c *Config) { c.Lookback = -time.Hour }, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mod(&cfg)
			c, err := New(cfg)
			if tt.wantErr == "" {
				if err != nil || c.Stream() != Stream || c.Tenant() != "acme" {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestCorpusIndicators: the indicators of the recorded feed files, bundled as the API sends them, become
// Threat_Intel_CL rows with the feed's source; the malware and relationship objects are not records.
func TestCorpusIndicators(t *testing.T) {
	for _, tt := range []struct {
		feed, file string
	}{
		{FeedCustomer, "threat_intel_malware_customer/test-threat-intel-malware-customer.log"},
		{FeedGrid, "threat_intel_malware_grid/test-threat-intel-malware-grid.log"},
	} {
		t.Run(tt.feed, func(t *testing.T) {
			objs, want := corpusObjects(t, tt.file)
			body, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--c", "objects": objs})
			recs, newest, err := indicators(body, tt.feed)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != want || want == 0 {
				t.Fatalf("%d indicators, want %d", len(recs), want)
			}
			if newest.IsZero() {
				t.Error("no indicator time read")
			}
			for _, r := range recs {
				row, err := schema.ThreatIntel.Decode("acme", r, t0)
				if err != nil {
					t.Fatalf("%v: %s", err, r)
				}
				if row[schema.ThreatIntel.ColumnIndex("source")] != strings.TrimPrefix(tt.feed, "malware_") {
					t.Errorf("source %v", row[schema.ThreatIntel.ColumnIndex("source")])
				}
			}
		})
	}
	if _, _, err := indicators([]byte(`{"objects":"x"}`), FeedGrid); err == nil {
		t.Error("a bundle whose objects are not a list was accepted")
	}
}
