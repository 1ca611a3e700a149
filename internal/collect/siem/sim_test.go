package siem

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/schema"
)

// TestAgainstSimulatorWithDataFaults runs the collector against the simulated tenant with every batch-file fault
// on (a URL listed twice, failed and truncated downloads, expired URLs, malformed lines, events repeated in the
// next file) and compares what reached the bus with the tenant's ground truth.
func TestAgainstSimulatorWithDataFaults(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	s, err := sim.New(sim.Options{Seed: 11, Mailboxes: 12, Days: 2, Start: now, Now: func() time.Time { return now },
		Faults: sim.Faults{Dupes: true, GzipFail: true, ExpiredURL: true, BadJSON: true}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client, err := mimecast.New(mimecast.Config{BaseURL: srv.URL, ClientID: sim.DefaultClientID,
		ClientSecret: sim.DefaultClientSecret, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		stream string
		types  []string
		table  schema.Table
	}{
		{StreamCG, []string{"receipt", "url protect"}, schema.SegCg},
		{StreamCI, []string{"entities", "mailflow"}, schema.CloudIntegrated},
	}
	for _, tc := range tests {
		t.Run(tc.stream, func(t *testing.T) {
			b := openBus(t)
			c, err := New(Config{Tenant: "acme", Stream: tc.stream, Types: tc.types, Client: client, Publisher: b,
				Checkpoints: b.Checkpoints(), Now: func() time.Time { return now }, Lookback: 24 * time.Hour, ChunkSize: 40, PageSize: 20})
			if err != nil {
				t.Fatal(err)
			}
			var total Stats
			runs := 0
			for ; runs < 4; runs++ {
				st, err := c.Collect(testCtx(t))
				mergeStats(&total, st)
				if err == nil {
					break
				}
				t.Logf("run %d: %d failures, e.g. %s", runs+1, strings.Count(err.Error(), "\n")+1, strings.SplitN(err.Error(), "\n", 2)[0])
			}
			if runs == 4 {
				t.Fatal("the collector did not complete within 4 runs")
			}
			if total.DuplicateURLs == 0 || total.Relists == 0 || total.FilesFailed == 0 || total.Malformed == 0 {
				t.Fatalf("stats %+v: the faults were not all met", total)
			}
			if total.FilesAbandoned != 0 {
				t.Fatalf("%d files given up", total.FilesAbandoned)
			}
			bs := batches(t, drain(t, b))
			got := map[string]int{}
			malformed := map[string]int{}
			for _, bt := range bs {
				for _, r := range bt.Records {
					if _, err := tc.table.Decode("acme", r, now); err != nil {
						t.Fatalf("record does not decode into %s: %v", tc.table.Name, err)
					}
					got[string(r)]++
				}
				for _, m := range bt.Malformed {
					malformed[m.Raw]++
				}
			}
			from := now.Add(-24 * time.Hour).Truncate(24 * time.Hour)
			for _, typ := range tc.types {
				truth, err := s.SIEMTruth(typ, from, now)
				if err != nil {
					t.Fatal(err)
				}
				dup := map[string]bool{}
				for _, r := range truth.Duplicated {
					dup[string(r)] = true
				}
				for _, r := range truth.Records {
					want := 1
					if dup[string(r)] {
						want = 2 // in two files; the store keeps one row by the natural key
					}
					if got[string(r)] != want {
						t.Fatalf("%s record published %d times, want %d: %s", typ, got[string(r)], want, r)
					}
					delete(got, string(r))
				}
				for _, m := range truth.Malformed {
					if malformed[string(m)] != 1 {
						t.Fatalf("malformed line published %d times: %s", malformed[string(m)], m)
					}
					delete(malformed, string(m))
				}
			}
			if len(got) != 0 || len(malformed) != 0 {
				t.Fatalf("%d records and %d malformed lines not in the ground truth", len(got), len(malformed))
			}
			st, err := c.Collect(testCtx(t))
			if err != nil || st.Files != 0 || st.Batches != 0 {
				t.Fatalf("a caught-up run collected again: %+v, %v", st, err)
			}
		})
	}
}
