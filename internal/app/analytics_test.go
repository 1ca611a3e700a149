package app

import (
	"context"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/ueba"
)

// TestBehaviourStoriesMakeNotableUsers collects a simulated tenant whose first nine days are benign and whose last
// three carry the attack stories, runs behaviour analytics, and checks that story users become notable on story
// days, and that each notable session opened an incident listing one alert per finding. It then rebuilds the
// models from scratch and checks the same sessions come back. Benign days, once the models have had warmUp days to
// converge, make no notable user.
func TestBehaviourStoriesMakeNotableUsers(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	quietUntil := now.Add(-3 * 24 * time.Hour).Truncate(24 * time.Hour)
	s, err := sim.New(sim.Options{Seed: 23, Mailboxes: 12, Days: 12, Start: now, Now: func() time.Time { return now },
		QuietUntil: quietUntil, ClientID: simID, ClientSecret: simSecret, RateLimitCalls: 50, RateLimitWindow: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cfg := testConfig(t, srv.URL)
	cfg.Sync.PageSize = 500
	cfg.Sync.Lookback = 0
	cfg.Tenants[0].Streams = []string{"audit", "siem_cg", "at_userdata", "at_performance"}
	ctx := context.Background()
	a, err := Open(ctx, cfg, Options{Sleep: fastSleep, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	for pass := 0; pass < 6; pass++ {
		if _, err = a.Sync(ctx, SyncRequest{Since: now.Add(-13 * 24 * time.Hour)}); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("collection did not complete: %v", err)
	}
	if err := a.loadPeerGroups(ctx); err != nil {
		t.Fatal(err)
	}
	// Peer groups are the Awareness Training departments.
	dept, err := a.store.Query(ctx, `SELECT lower("email"), "department" FROM "Awareness_User_Data_CL"
		WHERE "department" <> '' ORDER BY 1 LIMIT 1`)
	if err != nil || len(dept.Rows) != 1 {
		t.Fatalf("no awareness department stored: %v", err)
	}
	if u, d := dept.Rows[0][0].(string), dept.Rows[0][1].(string); a.enrich.PeerGroup(u) != d {
		t.Errorf("peer group of %s = %q, want the department %q", u, a.enrich.PeerGroup(u), d)
	}
	st, err := a.RunAnalytics(ctx)
	if err != nil || st.Held != "" {
		t.Fatalf("analytics: %+v, %v", st, err)
	}
	if st.Events == 0 || st.Findings == 0 {
		t.Fatalf("analytics saw nothing: %+v", st)
	}
	storyUsers := map[string]bool{}
	for _, story := range s.Stories(quietUntil, now) {
		for _, u := range story.Users {
			storyUsers[u] = true
		}
	}
	notable, err := a.store.RiskSessions(ctx, store.RiskFilter{NotableOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(notable) == 0 {
		t.Fatalf("no notable session; %d findings in all", st.Findings)
	}
	// The first days train the models (convergence needs 3 days and 10 observations); after them, benign days make
	// no notable user.
	const warmUp = 4 * 24 * time.Hour
	benignFrom := now.Add(-12 * 24 * time.Hour).Truncate(24 * time.Hour).Add(warmUp)
	storyNotable := 0
	for _, n := range notable {
		if !n.Start.Before(benignFrom) && n.End.Before(quietUntil) {
			t.Errorf("benign day made user %s notable (%d points):", n.User, n.Score)
			for _, f := range n.Findings {
				t.Logf("  %s +%d %s", f.RuleID, f.Points, f.Reason)
			}
		}
		if storyUsers[n.User] && !n.Start.Before(quietUntil.Add(-ueba.DefaultIdle)) {
			storyNotable++
		}
		inc, err := a.store.Incident(ctx, "ueba-"+n.ID)
		if err != nil {
			t.Errorf("notable session %s has no incident: %v", n.ID, err)
			continue
		}
		if len(inc.AlertIDs) != len(n.Findings) {
			t.Errorf("incident lists %d alerts for %d findings", len(inc.AlertIDs), len(n.Findings))
		}
	}
	// The benign window must hold scored sessions, or the check above proves nothing.
	all, err := a.store.RiskSessions(ctx, store.RiskFilter{})
	if err != nil {
		t.Fatal(err)
	}
	benign, top := 0, 0
	for _, n := range all {
		if !n.Start.Before(benignFrom) && n.End.Before(quietUntil) {
			benign++
			top = max(top, n.Score)
		}
	}
	t.Logf("benign days after warm-up: %d scored sessions, highest %d points", benign, top)
	if benign == 0 {
		t.Error("no scored session on the benign days after warm-up")
	}
	if storyNotable == 0 {
		t.Errorf("no story user became notable on a story day; notable: %v", sessionKeys(notable))
	}
	// Rebuilding from scratch gives the same sessions.
	if _, err := a.RebuildAnalytics(ctx, now.Add(-13*24*time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	again, err := a.store.RiskSessions(ctx, store.RiskFilter{NotableOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sessionKeys(again), sessionKeys(notable); !slices.Equal(got, want) {
		t.Errorf("rebuilt notable sessions differ:\n got %v\nwant %v", got, want)
	}
}

func sessionKeys(ss []ueba.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID+" "+s.User+" "+strconv.Itoa(s.Score))
	}
	slices.Sort(out)
	return out
}
