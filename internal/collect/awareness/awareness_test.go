package awareness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/schema"
)

func TestNewValidation(t *testing.T) {
	e := newEnv(t)
	good := Config{Tenant: "acme", Stream: StreamSafeScore, Client: e.api, Publisher: e.rec, Checkpoints: e.bus.Checkpoints()}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"every stream is known", func(c *Config) { c.Stream = StreamUserData }, ""},
		{"no tenant", func(c *Config) { c.Tenant = "" }, "tenant is required"},
		{"unknown stream", func(c *Config) { c.Stream = "audit" }, `unknown stream "audit"`},
		{"no client", func(c *Config) { c.Client = nil }, "client, publisher and checkpoint store are required"},
		{"no publisher", func(c *Config) { c.Publisher = nil }, "client, publisher and checkpoint store are required"},
		{"negative batch size", func(c *Config) { c.BatchSize = -1 }, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mod(&cfg)
			c, err := New(cfg)
			if tt.wantErr == "" {
				if err != nil || c.Stream() != cfg.Stream || c.Tenant() != "acme" {
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

// TestSnapshotPublishesOnlyChanges walks one stream through its life: every user on the first run, nothing when
// nothing changed (even when the API reorders users), exactly the changed user, and a change back.
func TestSnapshotPublishesOnlyChanges(t *testing.T) {
	e := newEnv(t)
	users := safeScores(30, allGrade("B"))
	e.api.set(PathSafeScore, users)
	c := e.collector(StreamSafeScore, nil)

	st := e.run(c)
	stored, dropped := e.rec.take()
	got := records(t, stored)
	if len(got) != 30 || st.Rows != 30 || st.Pages != 5 || len(dropped) != 0 {
		t.Fatalf("first run: %d records published, stats %+v, %d dropped; want all 30 users over 5 pages", len(got), st, len(dropped))
	}
	emails := map[string]bool{}
	for _, r := range got {
		emails[r["emailAddress"].(string)] = true
	}
	if len(emails) != 30 {
		t.Errorf("first run published %d distinct users", len(emails))
	}
	for _, b := range stored {
		if b.Table != schema.AwarenessSafeScore.Name || b.Stream != StreamSafeScore || !b.Fetched.Equal(t0) {
			t.Errorf("batch %s/%s fetched %s", b.Stream, b.Table, b.Fetched)
		}
		for _, raw := range b.Records {
			if _, err := schema.AwarenessSafeScore.Decode("acme.example", raw, b.Fetched); err != nil {
				t.Errorf("published record does not decode: %v", err)
			}
		}
	}

	t.Run("same data", func(t *testing.T) {
		e.now = t0.Add(time.Hour)
		st := e.run(c)
		if stored, _ := e.rec.take(); len(stored) != 0 || st.Batches != 0 || st.Rows != 30 {
			t.Fatalf("unchanged snapshot published %d batches (stats %+v)", len(stored), st)
		}
	})
	t.Run("reordered users", func(t *testing.T) {
		rev := slices.Clone(users)
		slices.Reverse(rev)
		e.api.set(PathSafeScore, rev) // every page now holds other users
		if st := e.run(c); st.Batches != 0 {
			t.Fatalf("reordered snapshot published %d batches", st.Batches)
		}
	})
	t.Run("one user changes", func(t *testing.T) {
		changed := safeScores(30, func(i int) string {
			if i == 17 {
				return "D"
			}
			return "B"
		})
		e.api.set(PathSafeScore, changed)
		e.now = t0.Add(2 * time.Hour)
		st := e.run(c)
		stored, _ := e.rec.take()
		got := records(t, stored)
		if len(got) != 1 || got[0]["emailAddress"] != "user00017@example.com" || got[0]["risk"] != "D" {
			t.Fatalf("published %v, want only user 17 graded D", got)
		}
		if st.Batches != 1 || !stored[0].Fetched.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("stats %+v, fetched %s: the change carries the time it was seen", st, stored[0].Fetched)
		}
	})
	t.Run("change back within the duplicate window", func(t *testing.T) {
		// User 17 goes D → B → D. The last batch holds exactly the record of the earlier D batch, yet it must
		// reach the store, which holds B by then.
		graded17 := func(g string) []map[string]any {
			return safeScores(30, func(i int) string {
				if i == 17 {
					return g
				}
				return "B"
			})
		}
		for _, g := range []string{"B", "D"} {
			e.api.set(PathSafeScore, graded17(g))
			st := e.run(c)
			stored, dropped := e.rec.take()
			got := records(t, stored)
			if len(got) != 1 || got[0]["risk"] != g || len(dropped) != 0 || st.Duplicates != 0 {
				t.Fatalf("to %s: published %v, %d dropped; want user 17 at %s, stored", g, got, len(dropped), g)
			}
		}
		e.api.set(PathSafeScore, users)
		e.run(c)
		e.rec.take()
	})
	t.Run("user leaves and returns", func(t *testing.T) {
		e.api.set(PathSafeScore, users[1:])
		if st := e.run(c); st.Batches != 0 {
			t.Fatalf("a user leaving published %d batches", st.Batches)
		}
		e.api.set(PathSafeScore, users)
		e.run(c)
		stored, _ := e.rec.take()
		if got := records(t, stored); len(got) != 1 || got[0]["emailAddress"] != "user00000@example.com" {
			t.Fatalf("returning user: published %v", got)
		}
	})
	t.Run("empty answer keeps the state", func(t *testing.T) {
		e.api.set(PathSafeScore, nil)
		if st := e.run(c); st.Batches != 0 {
			t.Fatalf("empty snapshot published %d batches", st.Batches)
		}
		e.api.set(PathSafeScore, users)
		if st := e.run(c); st.Batches != 0 {
			t.Fatalf("after an empty answer the same users were published again (%d batches)", st.Batches)
		}
	})
}

// TestCrashBetweenPublishAndSave: the run stops after its batches were acknowledged and before the hash state
// was saved. The rerun publishes the same batches under the same ids (the bus drops them), and nothing is lost.
func TestCrashBetweenPublishAndSave(t *testing.T) {
	for _, crashAt := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("after batch %d of 3", crashAt), func(t *testing.T) {
			e := newEnv(t)
			e.api.set(PathWatchlist, watchlist(25, 0))
			crash := errors.New("crash")
			calls := 0
			c := e.collector(StreamWatchlist, func(cfg *Config) {
				cfg.BatchSize = 10
				cfg.BeforeCheckpoint = func(context.Context, collect.Batch) error {
					calls++
					if calls == crashAt {
						return crash
					}
					return nil
				}
			})
			if _, err := c.Run(e.ctx); !errors.Is(err, crash) {
				t.Fatalf("err = %v, want the crash", err)
			}
			first, _ := e.rec.take()
			firstIDs := slices.Clone(e.rec.ids)
			if len(first) != crashAt {
				t.Fatalf("%d batches stored before the crash, want %d", len(first), crashAt)
			}
			st := e.run(c)
			rerun, dropped := e.rec.take()
			if st.Batches != 3 || len(dropped) != crashAt || st.Duplicates != crashAt {
				t.Errorf("rerun: stats %+v, %d dropped; want 3 batches, the first %d dropped", st, len(dropped), crashAt)
			}
			if !slices.Equal(dropped, firstIDs[:crashAt]) {
				t.Errorf("dropped ids %v, want the first run's %v", dropped, firstIDs[:crashAt])
			}
			all := append(records(t, first), records(t, rerun)...)
			seen := map[string]int{}
			for _, r := range all {
				seen[r["email"].(string)]++
			}
			if len(seen) != 25 {
				t.Errorf("%d users reached the bus, want 25", len(seen))
			}
			for u, n := range seen {
				if n != 1 {
					t.Errorf("%s stored %d times", u, n)
				}
			}
			if st := e.run(c); st.Batches != 0 {
				t.Errorf("third run published %d batches", st.Batches)
			}
		})
	}
}

func watchlist(n, bump int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"email": fmt.Sprintf("w%03d@example.com", i), "name": fmt.Sprintf("W %d", i),
			"department": "Sales", "watchlistCount": i%4 + bump, "userState": "ACTIVE", "userId": fmt.Sprintf("id%03d", i)}
	}
	return out
}

// TestPublishFailureSavesNothing: a publish the bus does not acknowledge leaves the state alone, so the rerun
// publishes every change.
func TestPublishFailureSavesNothing(t *testing.T) {
	e := newEnv(t)
	e.api.set(PathWatchlist, watchlist(12, 0))
	e.rec.fail = func(n int) error {
		if n == 2 {
			return errors.New("bus unavailable")
		}
		return nil
	}
	c := e.collector(StreamWatchlist, func(cfg *Config) { cfg.BatchSize = 5 })
	_, err := c.Run(e.ctx)
	var re *collect.RunError
	if !errors.As(err, &re) || re.Op != "publish" {
		t.Fatalf("err = %v, want a publish run error", err)
	}
	e.rec.take()
	st := e.run(c)
	stored, dropped := e.rec.take()
	if st.Batches != 3 || len(dropped) != 1 || len(records(t, stored)) != 7 {
		t.Fatalf("rerun: stats %+v, %d dropped, %d records stored; want batch 1 dropped and the other 7 users stored",
			st, len(dropped), len(records(t, stored)))
	}
}

// TestUserDataPerCampaign: user data is a snapshot per campaign; rows carry their campaign id, and a new
// campaign or one user's change in one campaign publishes only those rows.
func TestUserDataPerCampaign(t *testing.T) {
	e := newEnv(t)
	items := func(n int, status func(i int) string) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"email": fmt.Sprintf("u%02d@example.com", i), "name": "U", "templateName": "Invoice",
				"status": status(i), "numCampaignsSent": 1, "timeScheduled": "2026-03-01T10:00:00+0000"}
		}
		return out
	}
	sent := func(int) string { return "SENT" }
	e.api.setCampaign("c-1", items(9, sent))
	e.api.setCampaign("c-2", items(9, sent))
	c := e.collector(StreamUserData, nil)

	st := e.run(c)
	stored, _ := e.rec.take()
	got := records(t, stored)
	if len(got) != 18 || st.Windows != 2 || st.Rows != 18 {
		t.Fatalf("first run: %d rows published, stats %+v; want 9 users × 2 campaigns", len(got), st)
	}
	perCampaign := map[string]int{}
	for _, b := range stored {
		for _, raw := range b.Records {
			row, err := schema.AwarenessUserData.Decode("acme.example", raw, b.Fetched)
			if err != nil {
				t.Fatalf("row does not decode: %v", err)
			}
			perCampaign[row[schema.AwarenessUserData.ColumnIndex("campaignId")].(string)]++
		}
	}
	if perCampaign["c-1"] != 9 || perCampaign["c-2"] != 9 {
		t.Errorf("rows per campaign %v", perCampaign)
	}
	if st := e.run(c); st.Batches != 0 {
		t.Fatalf("unchanged campaigns published %d batches", st.Batches)
	}

	e.api.setCampaign("c-3", items(9, sent))
	e.api.setCampaign("c-1", items(9, func(i int) string {
		if i == 4 {
			return "CLICKED"
		}
		return "SENT"
	}))
	e.run(c)
	stored, _ = e.rec.take()
	got = records(t, stored)
	var c1, c3 int
	for _, r := range got {
		switch r["campaignId"] {
		case "c-1":
			c1++
			if r["email"] != "u04@example.com" || r["status"] != "CLICKED" {
				t.Errorf("campaign c-1 published %v", r)
			}
		case "c-3":
			c3++
		default:
			t.Errorf("unchanged campaign published %v", r)
		}
	}
	if c1 != 1 || c3 != 9 {
		t.Errorf("published %d rows of c-1 and %d of c-3, want 1 and 9", c1, c3)
	}
}

func TestForbiddenProduct(t *testing.T) {
	for _, stream := range Streams() {
		t.Run(stream, func(t *testing.T) {
			e := newEnv(t)
			e.api.fail = func(int, mimecast.PageRequest) error {
				return &mimecast.APIError{Path: "x", Status: 403, Code: "app_forbidden", Message: "Forbidden to perform the requested operation"}
			}
			_, err := e.collector(stream, nil).Run(e.ctx)
			var ae *mimecast.APIError
			if !errors.As(err, &ae) || ae.Status != 403 || ae.Code != "app_forbidden" {
				t.Fatalf("err = %v, want the 403 app_forbidden API error", err)
			}
			if !mimecast.IsPermanent(err) {
				t.Error("forbidden is not permanent")
			}
		})
	}
	t.Run("other failures are not forbidden", func(t *testing.T) {
		e := newEnv(t)
		e.api.fail = func(int, mimecast.PageRequest) error {
			return &mimecast.APIError{Path: "x", Status: 503, Message: "unavailable", Retryable: true}
		}
		_, err := e.collector(StreamSafeScore, nil).Run(e.ctx)
		var ae *mimecast.APIError
		if !errors.As(err, &ae) || ae.Status == 403 {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestExpiredTokenRestartsSnapshot: a follow-up page token refused mid-snapshot takes the snapshot again from
// its first page, so no user is missing from it (a partial snapshot would also prune users from the state).
func TestExpiredTokenRestartsSnapshot(t *testing.T) {
	e := newEnv(t)
	e.api.set(PathSafeScore, safeScores(20, allGrade("A")))
	e.api.fail = func(call int, req mimecast.PageRequest) error {
		if call == 2 {
			return &mimecast.APIError{Path: req.Path, Status: 200, Code: "err_validation_invalid_page_token", Message: "expired"}
		}
		return nil
	}
	st := e.run(e.collector(StreamSafeScore, nil))
	stored, _ := e.rec.take()
	if n := len(records(t, stored)); n != 20 {
		t.Fatalf("published %d users after the restart, want 20 (stats %+v)", n, st)
	}
}

func TestVolatileFieldsAndKeylessRows(t *testing.T) {
	e := newEnv(t)
	recs := safeScores(3, allGrade("A"))
	recs[0]["fetchedAt"] = "1"
	keyless := map[string]any{"name": "nobody", "risk": "C"}
	e.api.set(PathSafeScore, append(recs, keyless))
	c := e.collector(StreamSafeScore, nil)
	c.def.volatile = []string{"fetchedAt"}
	if st := e.run(c); st.Batches != 1 {
		t.Fatalf("first run: %+v", st)
	}
	if n := len(records(t, first(e.rec.take()))); n != 4 {
		t.Fatalf("first run published %d rows, want 4 (the keyless row once)", n)
	}
	recs[0]["fetchedAt"] = "2"
	if st := e.run(c); st.Batches != 0 {
		t.Fatalf("a volatile field's change, or the keyless row, published %d batches", st.Batches)
	}
	recs[0]["risk"] = "F"
	e.run(c)
	if got := records(t, first(e.rec.take())); len(got) != 1 || got[0]["risk"] != "F" {
		t.Fatalf("published %v, want user 0's new risk", got)
	}
}

func first[A, B any](a A, _ B) A { return a }

func TestHashRow(t *testing.T) {
	c := &Collector{def: snapshotDef{table: &schema.AwarenessUserData}}
	parse := func(s string) row {
		t.Helper()
		r, err := c.hashRow(json.RawMessage(s))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	base := parse(`{"campaignId":"c1","email":"a@x","status":"SENT","n":1}`)
	tests := []struct {
		name              string
		in                string
		sameKey, sameHash bool
	}{
		{"key order and space", `{ "n":1, "status":"SENT", "email":"a@x", "campaignId":"c1" }`, true, true},
		{"status changed", `{"campaignId":"c1","email":"a@x","status":"OPENED","n":1}`, true, false},
		{"number changed", `{"campaignId":"c1","email":"a@x","status":"SENT","n":2}`, true, false},
		{"other campaign", `{"campaignId":"c2","email":"a@x","status":"SENT","n":1}`, false, false},
		{"other user", `{"campaignId":"c1","email":"b@x","status":"SENT","n":1}`, false, false},
		{"key fields do not run together", `{"campaignId":"c1a","email":"@x","status":"SENT","n":1}`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parse(tt.in)
			if (r.key == base.key) != tt.sameKey || (r.hash == base.hash) != tt.sameHash {
				t.Errorf("same key %v, same hash %v; want %v, %v", r.key == base.key, r.hash == base.hash, tt.sameKey, tt.sameHash)
			}
		})
	}
	for _, bad := range []string{`[1]`, `null`, `"x"`, `{`} {
		if _, err := c.hashRow(json.RawMessage(bad)); err == nil {
			t.Errorf("hashRow(%s) accepted", bad)
		}
	}
}
