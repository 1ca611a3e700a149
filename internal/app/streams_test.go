package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// streamTruth says where a table's records come from in the simulated tenant.
type streamTruth struct {
	stream string
	table  *schema.Table
	truth  func(s *sim.Sim, from, to time.Time) (sim.Truth, error)
}

func apiTruth(path string) func(s *sim.Sim, from, to time.Time) (sim.Truth, error) {
	return func(s *sim.Sim, from, to time.Time) (sim.Truth, error) { return s.APITruth(path, from, to) }
}

func siemTruth(types []string) func(s *sim.Sim, from, to time.Time) (sim.Truth, error) {
	return func(s *sim.Sim, from, to time.Time) (sim.Truth, error) {
		var all sim.Truth
		for _, typ := range types {
			t, err := s.SIEMTruth(typ, from, to)
			if err != nil {
				return all, err
			}
			all.Records = append(all.Records, t.Records...)
			all.Malformed = append(all.Malformed, t.Malformed...)
		}
		return all, nil
	}
}

var eventStreams = []streamTruth{
	{"audit", &schema.Audit, apiTruth(sim.PathAuditEvents)},
	{"dlp", &schema.SegDlp, apiTruth(sim.PathDLP)},
	{"ttp_url", &schema.TtpURL, apiTruth(sim.PathTTPURL)},
	{"ttp_attachment", &schema.TtpAttachment, apiTruth(sim.PathTTPAttachment)},
	{"ttp_impersonation", &schema.TtpImpersonation, apiTruth(sim.PathTTPImpersonation)},
	{"message_release", &schema.MessageRelease, apiTruth(sim.PathHeldRelease)},
	{"archive_search", &schema.ArchiveSearch, apiTruth(sim.PathArchiveSearch)},
	{"siem_cg", &schema.SegCg, siemTruth(sim.SIEMTypes)},
	{"siem_ci", &schema.CloudIntegrated, siemTruth(sim.CITypes)},
}

// wantKeys decodes the tenant's real records into the natural keys the store must hold, each once.
func wantKeys(t *testing.T, tab *schema.Table, truth sim.Truth, at time.Time) []string {
	t.Helper()
	seen := map[string]bool{}
	var keys []string
	for _, raw := range truth.Records {
		row, err := tab.Decode("acme", raw, at)
		if err != nil {
			t.Fatalf("%s: a real simulated record does not decode: %v: %s", tab.Name, err, raw)
		}
		if k := duckdb.RowKey(tab, row); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// TestEveryStreamExactlyOnce collects every event stream of a simulated tenant, under no fault, every transport
// fault, and every data fault, and compares each table's key set with the tenant's ground truth: nothing missing,
// nothing doubled, and exactly the injected malformed records quarantined.
func TestEveryStreamExactlyOnce(t *testing.T) {
	// The tenant's clock is frozen at the start of the test (its ground truth then stays fixed), close to the real
	// clock: pre-signed SIEM file URLs expire an hour after listing by the tenant's clock, as collectors see it.
	now := time.Now().UTC().Truncate(time.Second)
	faultSets := []string{"", "all", "data"}
	if !testing.Short() {
		// Each fault alone as well as all transport faults ("all") and all data faults ("data") together.
		faultSets = append(faultSets, "ratelimit", "5xx", "tokenexpiry", "emptypage", "emptymid", "slow", "dupes",
			"gzipfail", "expiredurl", "badjson")
	}
	for _, faults := range faultSets {
		name := faults
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each fault set has its own tenant and data directory
			f, err := sim.ParseFaults(faults)
			if err != nil {
				t.Fatal(err)
			}
			s, err := sim.New(sim.Options{Seed: 11, Mailboxes: 4, Days: 1, Start: now, Now: func() time.Time { return now },
				Faults: f, ClientID: simID, ClientSecret: simSecret, RateLimitCalls: 30, RateLimitWindow: 200 * time.Millisecond,
				SlowMin: time.Millisecond, SlowMax: 3 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			cfg := testConfig(t, srv.URL)
			cfg.Sync.PageSize = 100
			var streams []string
			for _, st := range eventStreams {
				streams = append(streams, st.stream)
			}
			cfg.Tenants[0].Streams = streams
			ctx := context.Background()
			a, err := Open(ctx, cfg, Options{Sleep: fastSleep})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			// Failed downloads stay in the work list and are retried by the next pass, as serve would.
			var lastErr error
			for pass := 0; pass < 6; pass++ {
				if _, lastErr = a.Sync(ctx, SyncRequest{}); lastErr == nil {
					break
				}
			}
			if lastErr != nil {
				t.Fatalf("collection did not complete: %v", lastErr)
			}
			from, to := now.Add(-30*24*time.Hour), now.Add(time.Hour)
			malformed := 0
			for _, st := range eventStreams {
				truth, err := st.truth(s, from, to)
				if err != nil {
					t.Fatal(err)
				}
				malformed += len(truth.Malformed)
				want := wantKeys(t, st.table, truth, now)
				got, err := a.Store().Keys(ctx, st.table)
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(got)
				missing, extra := diffKeys(want, got)
				if len(want) == 0 && st.stream != "ttp_impersonation" && st.stream != "message_release" {
					t.Errorf("%s: the simulated tenant has no records; the test needs some", st.stream)
				}
				if len(missing) > 0 || len(extra) > 0 {
					t.Errorf("%s: tenant has %d records, store %d: %d missing (e.g. %v), %d extra (e.g. %v)",
						st.stream, len(want), len(got), len(missing), head(missing), len(extra), head(extra))
				}
			}
			q, err := a.Store().QuarantineCount(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if int(q) != malformed {
				res, _ := a.Store().Query(ctx, `SELECT source, reason, count(*) FROM quarantine GROUP BY ALL ORDER BY 1`)
				t.Errorf("quarantined %d, the tenant served %d malformed records: %.2000s", q, malformed, fmt.Sprint(res.Rows))
			}
			if faults == "data" && malformed == 0 {
				t.Error("the data faults injected no malformed record")
			}
			for _, c := range a.Connectors() {
				if c.State != StateOK {
					t.Errorf("connector %s/%s ended %s: %s", c.Tenant, c.Stream, c.State, c.LastError)
				}
			}
		})
	}
}

// TestUnavailableProductLeavesOtherStreamsRunning: a tenant without the Awareness Training product answers 403
// on those functions; the stream is marked unavailable with the reason, and the other streams are collected.
func TestUnavailableProductLeavesOtherStreamsRunning(t *testing.T) {
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	s, err := sim.New(sim.Options{Seed: 3, Mailboxes: 3, Days: 1, Start: now, Now: func() time.Time { return now },
		ClientID: simID, ClientSecret: simSecret, MissingProducts: []string{sim.ProductAwareness}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	cfg := testConfig(t, srv.URL)
	cfg.Tenants[0].Streams = []string{"audit", "at_safescore"}
	ctx := context.Background()
	a, err := Open(ctx, cfg, Options{Sleep: fastSleep})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Sync(ctx, SyncRequest{}); err != nil {
		t.Fatalf("an unavailable stream must not fail the pass: %v", err)
	}
	states := map[string]ConnectorStatus{}
	for _, c := range a.Connectors() {
		states[c.Stream] = c
	}
	if st := states["at_safescore"]; st.State != StateUnavailable || st.LastError == "" {
		t.Errorf("at_safescore = %+v, want unavailable with the reason", st)
	}
	if st := states["audit"]; st.State != StateOK || st.Rows == 0 {
		t.Errorf("audit = %+v, want collected", st)
	}
	saved, err := a.Store().Connectors(ctx)
	if err != nil || len(saved) != 2 {
		t.Fatalf("saved connectors %+v %v", saved, err)
	}
	b, _ := json.Marshal(saved)
	if !json.Valid(b) {
		t.Fatal("connectors do not marshal")
	}
	_ = config.KnownStreams
}
