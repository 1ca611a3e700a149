package app

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

const (
	simID     = "test-client"
	simSecret = "test-secret"
)

// simTenant starts a simulated tenant whose clock is frozen at now, so its ground truth is fixed while the
// collector runs on the real clock.
func simTenant(t *testing.T, faults string, now time.Time) *sim.Sim {
	t.Helper()
	f, err := sim.ParseFaults(faults)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(sim.Options{
		Seed: 42, Mailboxes: 12, Days: 2, Start: now, Now: func() time.Time { return now }, Faults: f,
		ClientID: simID, ClientSecret: simSecret,
		RateLimitCalls: 4, RateLimitWindow: 250 * time.Millisecond, TokenUses: 3, EmptyMidRate: 0.5,
		SlowMin: time.Millisecond, SlowMax: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testConfig(t *testing.T, baseURL string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Sync.Lookback = config.Duration(3 * 24 * time.Hour)
	cfg.Sync.PageSize = 15
	cfg.Tenants = []config.Tenant{{Name: "acme", BaseURL: baseURL, ClientID: simID,
		ClientSecret: config.NewSecret(simSecret), Streams: []string{"audit"}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// fastSleep keeps retries quick but still waits out rate-limit resets, which the simulator measures in real time.
func fastSleep(ctx context.Context, d time.Duration) error {
	d = min(d, 400*time.Millisecond)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// groundTruth is the set of stored keys the tenant's audit log must produce.
func groundTruth(s *sim.Sim, tenant string, now time.Time) []string {
	var keys []string
	for _, r := range s.AuditRecords(now.Add(-30*24*time.Hour), now.Add(time.Hour)) {
		keys = append(keys, tenant+duckdb.KeySeparator+r.ID)
	}
	slices.Sort(keys)
	return keys
}

func storedKeys(t *testing.T, db *duckdb.DB) []string {
	t.Helper()
	keys, err := db.Keys(context.Background(), &schema.Audit)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func diffKeys(want, got []string) (missing, extra []string) {
	w := map[string]bool{}
	for _, k := range want {
		w[k] = true
	}
	g := map[string]int{}
	for _, k := range got {
		g[k]++
		if !w[k] || g[k] > 1 {
			extra = append(extra, k)
		}
	}
	for _, k := range want {
		if g[k] == 0 {
			missing = append(missing, k)
		}
	}
	return missing, extra
}

// TestSyncStoresEveryRecordOnceUnderFaults is the exactly-once check: whatever the tenant throws at the
// collector, the store ends up with exactly the tenant's audit records, and a second pass adds nothing.
func TestSyncStoresEveryRecordOnceUnderFaults(t *testing.T) {
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	for _, faults := range []string{"", "ratelimit", "5xx", "tokenexpiry", "emptypage", "emptymid", "slow", "all"} {
		name := faults
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			s := simTenant(t, faults, now)
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			cfg := testConfig(t, srv.URL)
			ctx := context.Background()
			a, err := Open(ctx, cfg, Options{Sleep: fastSleep})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()

			st, err := a.Sync(ctx, SyncRequest{})
			if err != nil {
				t.Fatalf("sync: %v (sim stats %+v)", err, s.Stats())
			}
			want := groundTruth(s, "acme", now)
			if len(want) < 100 {
				t.Fatalf("the simulated tenant has only %d records; the test needs a real volume", len(want))
			}
			missing, extra := diffKeys(want, storedKeys(t, a.Store()))
			if len(missing) > 0 || len(extra) > 0 {
				t.Fatalf("stored keys differ from the tenant's: %d missing (e.g. %v), %d extra (e.g. %v); sync stats %+v",
					len(missing), head(missing), len(extra), head(extra), st)
			}
			if st.New != len(want) {
				t.Errorf("sync reported %d new rows, want %d", st.New, len(want))
			}
			checkFaultsHappened(t, faults, s.Stats())

			st2, err := a.Sync(ctx, SyncRequest{})
			if err != nil {
				t.Fatalf("second sync: %v", err)
			}
			if st2.New != 0 {
				t.Errorf("a second pass stored %d new rows; want none", st2.New)
			}
			if got := storedKeys(t, a.Store()); len(got) != len(want) {
				t.Errorf("after a second pass: %d rows, want %d", len(got), len(want))
			}
		})
	}
}

func head(s []string) []string { return s[:min(3, len(s))] }

// checkFaultsHappened makes sure the run really went through the faults it was meant to survive.
func checkFaultsHappened(t *testing.T, faults string, st sim.Stats) {
	t.Helper()
	all := faults == "all"
	check := func(name string, n int) {
		if (all || strings.Contains(faults, name)) && n == 0 {
			t.Errorf("fault %s was enabled but never injected (sim stats %+v)", name, st)
		}
	}
	check("ratelimit", st.RateLimited)
	check("5xx", st.ServerErrors)
	check("tokenexpiry", st.TokenExpired)
	check("emptypage", st.EmptyPages)
	check("emptymid", st.EmptyMidPages)
	check("slow", st.Slowed)
}

// TestDetectionRaisesSprayAlertsOnce checks the skeleton end to end: the simulated daily password sprays become
// alerts of the Sentinel rule, and replaying the same events (a restart, then a second sync) adds none.
func TestDetectionRaisesSprayAlertsOnce(t *testing.T) {
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	s := simTenant(t, "", now)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	cfg := testConfig(t, srv.URL)
	ctx := context.Background()

	a, err := Open(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sync(ctx, SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	alerts := ruleAlerts(t, a, "f00197ab-491f-41e7-9e22-a7003a4c1e54")
	sprays := s.Sprays(now.Add(-30*24*time.Hour), now.Add(time.Hour))
	if len(sprays) == 0 {
		t.Fatal("the simulated tenant has no password spray to detect")
	}
	if len(alerts) < len(sprays) {
		t.Fatalf("%d sprays but %d alerts", len(sprays), len(alerts))
	}
	for _, sp := range sprays {
		if !coveredBy(sp, alerts) {
			t.Errorf("spray %s–%s from %v raised no alert", sp.Start, sp.End, sp.IPs)
		}
	}
	ids := alertIDs(alerts)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart on the same data directory: the engine rebuilds its state from the store, and a new pass must not
	// double any alert.
	a2, err := Open(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if _, err := a2.Sync(ctx, SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := alertIDs(ruleAlerts(t, a2, "f00197ab-491f-41e7-9e22-a7003a4c1e54")); !slices.Equal(got, ids) {
		t.Fatalf("alerts changed across a restart:\nbefore %v\nafter  %v", ids, got)
	}
}

func ruleAlerts(t *testing.T, a *App, rule string) []schema.Alert {
	t.Helper()
	alerts, err := a.Store().Alerts(context.Background(), store.AlertFilter{RuleID: rule})
	if err != nil {
		t.Fatal(err)
	}
	var out []schema.Alert
	for _, al := range alerts {
		if al.Status != "superseded" {
			out = append(out, al)
		}
	}
	return out
}

func alertIDs(alerts []schema.Alert) []string {
	var ids []string
	for _, a := range alerts {
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	return ids
}

func coveredBy(sp sim.Spray, alerts []schema.Alert) bool {
	for _, a := range alerts {
		if !a.FirstEvent.After(sp.End) && !a.LastEvent.Before(sp.Start) {
			return true
		}
	}
	return false
}

func TestSyncSelectsTenantsAndStreams(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	a, err := Open(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, tc := range []struct {
		req  SyncRequest
		want string
	}{
		{SyncRequest{Tenants: []string{"nope"}}, `unknown tenant "nope"`},
		{SyncRequest{Streams: []string{"mail"}}, `unknown stream "mail"`},
	} {
		if _, err := a.Sync(context.Background(), tc.req); err == nil || err.Error() != tc.want {
			t.Errorf("Sync(%+v) = %v, want %q", tc.req, err, tc.want)
		}
	}
}

func TestEveryConfigurableStreamHasACollector(t *testing.T) {
	defs := streamDefs()
	for _, s := range config.KnownStreams {
		def, ok := streamDefByName(s)
		if !ok {
			t.Errorf("stream %q can be configured but has no collector", s)
			continue
		}
		if def.Interval < time.Minute || def.Build == nil {
			t.Errorf("stream %q: incomplete definition %+v", s, def)
		}
	}
	if len(defs) != len(config.KnownStreams) {
		t.Errorf("%d collectors for %d configurable streams", len(defs), len(config.KnownStreams))
	}
	for i, d := range defs {
		if d.Name != config.KnownStreams[i] {
			t.Errorf("stream %d is %q in the collector list but %q in config", i, d.Name, config.KnownStreams[i])
		}
	}
}

func TestStoreFileInDataDir(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = "/var/lib/castwatch"
	if got := StorePath(cfg); got != filepath.Join("/var/lib/castwatch", "castwatch.duckdb") {
		t.Fatal(got)
	}
}

// TestOpenFailureIsAnError: a failure while starting (here a broken rules directory) is reported as an error,
// and what was opened before it is released (the data directory can be opened again at once).
func TestOpenFailureIsAnError(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	cfg.Detect.RulesDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.Detect.RulesDir, "broken.yaml"), []byte("id: x\nseverity: extreme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Fatalf("Open = %v, want the rules error", err)
	}
	cfg.Detect.RulesDir = ""
	a, err := Open(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatalf("the store and bus were not released by the failed Open: %v", err)
	}
	a.Close()
}

// TestSyncSinceBackfills: a first pass with a short look-back stores the last hour; a pass with Since collects the
// older history too, once, and streams without a backfill by date simply continue.
func TestSyncSinceBackfills(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	s := simTenant(t, "", now)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	cfg := testConfig(t, srv.URL)
	cfg.Sync.Lookback = config.Duration(time.Hour)
	cfg.Tenants[0].Streams = []string{"audit", "at_safescore"}
	ctx := context.Background()
	a, err := Open(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Sync(ctx, SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	want := groundTruth(s, "acme", now)
	if got := storedKeys(t, a.Store()); len(got) >= len(want) {
		t.Fatalf("a one-hour look-back stored %d of %d records; the test needs older history", len(got), len(want))
	}
	if _, err := a.Sync(ctx, SyncRequest{Since: now.Add(-3 * 24 * time.Hour)}); err != nil {
		t.Fatalf("backfill: %v", err)
	}
	missing, extra := diffKeys(want, storedKeys(t, a.Store()))
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("after the backfill: %d missing, %d extra", len(missing), len(extra))
	}
}

// TestBusKeepsBatchesForTheRetention: the batch stream drops batches older than nats.retention, so the bus does
// not grow without end beside the store.
func TestBusKeepsBatchesForTheRetention(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	cfg.NATS.Retention = config.Duration(36 * time.Hour)
	a, err := Open(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := a.bus.MaxAge(context.Background()); got != 36*time.Hour {
		t.Fatalf("stream max age %s, want 36h", got)
	}
}
