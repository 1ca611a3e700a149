package awareness

import (
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/schema"
)

// canon re-encodes a record with sorted keys.
func canon(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// truth returns the tenant's rows of a stream at a time, by natural key, as the collector publishes them.
func truth(t *testing.T, s *sim.Sim, stream string, at time.Time) map[string]string {
	t.Helper()
	def, _ := definition(stream)
	out := map[string]string{}
	add := func(recs []json.RawMessage, campaign string) {
		for _, r := range recs {
			if campaign != "" {
				var err error
				if r, err = schema.WithField(r, "campaignId", campaign); err != nil {
					t.Fatal(err)
				}
			}
			var m map[string]any
			_ = json.Unmarshal(r, &m)
			key := ""
			for _, k := range def.table.Key[1:] {
				key += m[k].(string) + "|"
			}
			out[key] = canon(t, r)
		}
	}
	if !def.perCampaign {
		recs, err := s.AwarenessRecords(def.path, at, "")
		if err != nil {
			t.Fatal(err)
		}
		add(recs, "")
		return out
	}
	camps, err := s.AwarenessRecords(PathCampaigns, at, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range camps {
		var camp struct{ ID string }
		_ = json.Unmarshal(c, &camp)
		recs, err := s.AwarenessRecords(PathUserData, at, camp.ID)
		if err != nil {
			t.Fatal(err)
		}
		add(recs, camp.ID)
	}
	return out
}

// TestAgainstSimulator runs every snapshot stream against the simulated tenant through the real client: the
// first run publishes the tenant's every row, a second run nothing, and three days later exactly the rows that
// changed in between.
func TestAgainstSimulator(t *testing.T) {
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := sim.New(sim.Options{Seed: 11, Mailboxes: 40, Days: 30, Start: start, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client, err := mimecast.New(mimecast.Config{BaseURL: srv.URL, ClientID: sim.DefaultClientID,
		ClientSecret: sim.DefaultClientSecret, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond},
		mimecast.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	for _, stream := range Streams() {
		t.Run(stream, func(t *testing.T) {
			mu.Lock()
			now = start
			mu.Unlock()
			e := newEnv(t)
			e.api = nil
			c, err := New(Config{Tenant: "acme.example", Stream: stream, Client: client, Publisher: e.rec,
				Checkpoints: e.bus.Checkpoints(), Now: clock, PageSize: 15})
			if err != nil {
				t.Fatal(err)
			}
			published := func() map[string]string {
				stored, dropped := e.rec.take()
				if len(dropped) != 0 {
					t.Errorf("%d batches dropped as duplicates", len(dropped))
				}
				out := map[string]string{}
				def, _ := definition(stream)
				for _, b := range stored {
					for _, raw := range b.Records {
						if _, err := def.table.Decode("acme.example", raw, b.Fetched); err != nil {
							t.Errorf("published row does not decode: %v", err)
						}
						var m map[string]any
						_ = json.Unmarshal(raw, &m)
						key := ""
						for _, k := range def.table.Key[1:] {
							key += m[k].(string) + "|"
						}
						if _, ok := out[key]; ok {
							t.Errorf("row %s published twice in one run", key)
						}
						out[key] = canon(t, raw)
					}
				}
				return out
			}
			sameRows := func(what string, got, want map[string]string) {
				t.Helper()
				if len(got) != len(want) {
					t.Errorf("%s: %d rows published, want %d", what, len(got), len(want))
				}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s: row %s\n got %s\nwant %s", what, k, got[k], v)
					}
				}
			}

			before := truth(t, s, stream, start)
			if _, err := c.Run(e.ctx); err != nil {
				t.Fatal(err)
			}
			sameRows("first run", published(), before)
			if len(before) < 40 {
				t.Fatalf("tenant has only %d rows", len(before))
			}

			if st, err := c.Run(e.ctx); err != nil || st.Batches != 0 {
				t.Fatalf("second run: %+v, %v", st, err)
			}

			later := start.Add(3 * 24 * time.Hour)
			mu.Lock()
			now = later
			mu.Unlock()
			after := truth(t, s, stream, later)
			changed := map[string]string{}
			for k, v := range after {
				if before[k] != v {
					changed[k] = v
				}
			}
			if len(changed) == 0 {
				t.Fatal("nothing changed in three days; the test needs changes")
			}
			if _, err := c.Run(e.ctx); err != nil {
				t.Fatal(err)
			}
			sameRows("three days later", published(), changed)
			t.Logf("%s: %d rows, %d changed in three days", stream, len(after), len(changed))
		})
	}
}

// TestSimulatorForbidden: a tenant without Awareness Training answers 403 app_forbidden, recognisable by the caller.
func TestSimulatorForbidden(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	s, err := sim.New(sim.Options{Seed: 11, Mailboxes: 5, Days: 1, Start: now, Now: func() time.Time { return now },
		MissingProducts: []string{sim.ProductAwareness}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client, err := mimecast.New(mimecast.Config{BaseURL: srv.URL, ClientID: sim.DefaultClientID,
		ClientSecret: sim.DefaultClientSecret, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	c, err := New(Config{Tenant: "acme.example", Stream: StreamUserData, Client: client, Publisher: e.rec,
		Checkpoints: e.bus.Checkpoints(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Run(e.ctx)
	var ae *mimecast.APIError
	if !asAPIError(err, &ae) || ae.Status != 403 {
		t.Fatalf("err = %v, want HTTP 403", err)
	}
}
