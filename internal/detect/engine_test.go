package detect

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func fail(id string, at time.Duration, ip string) schema.Event {
	return schema.Event{ID: id, Time: t0.Add(at), Tenant: "acme", Table: "Audit_CL",
		EventType: schema.EventFailedAppLogin, SrcIP: ip, UserEmail: "ann@example.com", App: "Administration Console"}
}

func loadAll(t testing.TB) []*Rule {
	t.Helper()
	builtin, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	extra, err := LoadDir("testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	return MergeRules(builtin, extra)
}

func ruleByID(t testing.TB, id string) *Rule {
	t.Helper()
	for _, r := range loadAll(t) {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no rule %s", id)
	return nil
}

const r1 = "f00197ab-491f-41e7-9e22-a7003a4c1e54"

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestEngineAlertContent(t *testing.T) {
	eng := New([]*Rule{ruleByID(t, r1)}, Options{Clock: fixedClock(t0.Add(time.Hour))})
	evs := []schema.Event{
		fail("a1", 0, "203.0.113.7"), fail("a2", 3*time.Minute, "203.0.113.7"),
		fail("a3", 7*time.Minute, "198.51.100.1"), fail("a4", 12*time.Minute, "203.0.113.7"),
		fail("a5", 12*time.Minute+30*time.Second, "203.0.113.7"),
	}
	evs[2].UserEmail, evs[2].User = "", "bob@example.com"
	res, err := eng.Evaluate(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alerts) != 1 {
		t.Fatalf("got %d alerts, want 1", len(res.Alerts))
	}
	a := res.Alerts[0]
	want := schema.Alert{
		ID:          alertID(ruleByID(t, r1), "acme", "", t0.UnixNano(), "a1"),
		Tenant:      "acme",
		RuleID:      r1,
		RuleVersion: "1.0.0",
		Title:       "Mimecast Audit - Logon Authentication Failed (5 from 203.0.113.7, 198.51.100.1)",
		Severity:    "high",
		Tactics:     []string{"Discovery", "InitialAccess", "CredentialAccess"},
		Techniques:  []string{"T1110"},
		Entities: []schema.Entity{
			{Type: "ip", Value: "203.0.113.7"}, {Type: "ip", Value: "198.51.100.1"},
			{Type: "mailbox", Value: "ann@example.com"}, {Type: "mailbox", Value: "bob@example.com"},
			{Type: "application", Value: "Administration Console"},
		},
		EventIDs:   []string{"a1", "a2", "a3", "a4", "a5"},
		FirstEvent: t0,
		LastEvent:  t0.Add(12*time.Minute + 30*time.Second),
		Created:    t0.Add(time.Hour),
		Explanation: "5 failed logons with a source IP between 10:00:00 and 10:12:30 UTC on 2026-11-20 " +
			"(threshold: more than 3 in 30m)",
		Status:     "new",
		EventCount: 5,
		Events:     evs,
	}
	if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", want) {
		t.Errorf("alert\n got: %+v\nwant: %+v", a, want)
	}
	if len(a.ID) != 32 {
		t.Errorf("id %q is not 32 hex characters", a.ID)
	}
	st := eng.Stats()
	if st.Events != 5 || st.Matched != 5 || st.Alerts != 1 || !st.Watermark.Equal(evs[4].Time) || st.Groups != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestEngineIndexesRulesByEventType(t *testing.T) {
	eng := New(loadAll(t), Options{Clock: fixedClock(t0.Add(time.Hour))})
	ev := fail("x", 0, "203.0.113.7")
	ev.EventType = schema.EventAppLogin
	if _, err := eng.Process(context.Background(), []schema.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if st := eng.Stats(); st.Matched != 0 || st.Events != 1 {
		t.Errorf("stats %+v, want one event and no match", st)
	}
	// The spray rule reads failed-app-login from Audit_CL only.
	ev = fail("y", 0, "203.0.113.7")
	ev.Table = "raw"
	if _, err := eng.Process(context.Background(), []schema.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if st := eng.Stats(); st.Matched != 1 {
		t.Errorf("matched %d, want 1 (R1 only)", st.Matched)
	}
}

func TestEngineDedupesRedeliveredEvents(t *testing.T) {
	eng := New([]*Rule{ruleByID(t, r1)}, Options{Clock: fixedClock(t0.Add(time.Hour))})
	ctx := context.Background()
	first := []schema.Event{fail("a1", 0, "192.0.2.1"), fail("a2", time.Minute, "192.0.2.1"), fail("a3", 2*time.Minute, "192.0.2.1")}
	for i := 0; i < 3; i++ {
		res, err := eng.Evaluate(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Alerts) != 0 {
			t.Fatalf("delivery %d: %d alerts from 3 distinct events", i, len(res.Alerts))
		}
		if want := 3 * min(i, 1); res.Duplicates != want {
			t.Errorf("delivery %d: duplicates %d, want %d", i, res.Duplicates, want)
		}
	}
	res, err := eng.Evaluate(ctx, []schema.Event{fail("a4", 3*time.Minute, "192.0.2.1"), fail("a4", 3*time.Minute, "192.0.2.1")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alerts) != 1 || len(res.Alerts[0].EventIDs) != 4 || res.Duplicates != 1 {
		t.Fatalf("alerts %+v duplicates %d, want one alert with 4 events and 1 duplicate", res.Alerts, res.Duplicates)
	}
	// Redelivering everything changes nothing: no alert is returned again.
	res, err = eng.Evaluate(ctx, append(first, fail("a4", 3*time.Minute, "192.0.2.1")))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alerts) != 0 {
		t.Errorf("redelivery returned %d alerts", len(res.Alerts))
	}
}

func TestEngineLateAndInvalidEvents(t *testing.T) {
	ctx := context.Background()
	eng := New([]*Rule{ruleByID(t, r1)}, Options{Clock: fixedClock(t0.Add(100 * time.Hour)), Lateness: 48 * time.Hour})
	if _, err := eng.Process(ctx, []schema.Event{fail("now", 72*time.Hour, "192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	evs := []schema.Event{
		fail("late", 72*time.Hour-48*time.Hour-time.Second, "192.0.2.1"),
		fail("in-time", 72*time.Hour-48*time.Hour, "192.0.2.1"),
		{ID: "", Time: t0, EventType: schema.EventFailedAppLogin, SrcIP: "192.0.2.1"},
		{ID: "no-time", EventType: schema.EventFailedAppLogin, SrcIP: "192.0.2.1"},
	}
	res, err := eng.Evaluate(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Late, []string{"late"}) {
		t.Errorf("late %v, want [late]", res.Late)
	}
	if !slices.Equal(res.Invalid, []string{"#2", "no-time"}) {
		t.Errorf("invalid %v, want [#2 no-time]", res.Invalid)
	}
	st := eng.Stats()
	if st.Late != 1 || st.Invalid != 2 || st.Matched != 2 {
		t.Errorf("stats %+v, want late 1, invalid 2, matched 2", st)
	}
}

func TestEngineFutureEventsDoNotMoveWatermark(t *testing.T) {
	eng := New([]*Rule{ruleByID(t, r1)}, Options{Clock: fixedClock(t0)})
	if _, err := eng.Process(context.Background(), []schema.Event{fail("a", 0, "192.0.2.1"), fail("b", 30*24*time.Hour, "192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	if st := eng.Stats(); !st.Watermark.Equal(t0) || st.Matched != 2 {
		t.Errorf("watermark %v matched %d, want %v and 2", st.Watermark, st.Matched, t0)
	}
	res, err := eng.Evaluate(context.Background(), []schema.Event{fail("c", -time.Hour, "192.0.2.1")})
	if err != nil || len(res.Late) != 0 {
		t.Errorf("late %v err %v: an event one hour old must not be late", res.Late, err)
	}
}

func TestEngineCanceledContext(t *testing.T) {
	eng := New(nil, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := eng.Process(ctx, []schema.Event{fail("a", 0, "x")}); err == nil {
		t.Error("Process with a canceled context succeeded")
	}
}

func TestEngineSupersedesAlertOnLateEarlierEvent(t *testing.T) {
	ctx := context.Background()
	eng := New([]*Rule{ruleByID(t, r1)}, Options{Clock: fixedClock(t0.Add(time.Hour))})
	var evs []schema.Event
	for i := 0; i < 4; i++ {
		evs = append(evs, fail(fmt.Sprintf("b%d", i), 15*time.Minute+time.Duration(i)*time.Minute, "192.0.2.1"))
	}
	res, err := eng.Evaluate(ctx, evs)
	if err != nil || len(res.Alerts) != 1 {
		t.Fatalf("first batch: %d alerts, err %v", len(res.Alerts), err)
	}
	old := res.Alerts[0].ID
	res, err = eng.Evaluate(ctx, []schema.Event{fail("early", 0, "192.0.2.1")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alerts) != 1 || len(res.Alerts[0].EventIDs) != 5 || res.Alerts[0].ID == old {
		t.Fatalf("alerts %+v, want one new alert with 5 events", res.Alerts)
	}
	if !slices.Equal(res.Superseded, []string{old}) {
		t.Errorf("superseded %v, want [%s]", res.Superseded, old)
	}
	inOrder := New([]*Rule{ruleByID(t, r1)}, Options{Clock: fixedClock(t0.Add(time.Hour))})
	want, err := inOrder.Process(ctx, append([]schema.Event{fail("early", 0, "192.0.2.1")}, evs...))
	if err != nil || len(want) != 1 || want[0].ID != res.Alerts[0].ID {
		t.Errorf("in-order alert %+v differs from the late-corrected one %s", want, res.Alerts[0].ID)
	}
}

// stream builds a deterministic event stream over days: a steady trickle of failed logons (one every 5 to 9
// minutes, never a 30-minute gap), bursts from a few IPs, spraying, DLP holds and unrelated events, in two
// tenants.
func stream(seed uint64, days int) []schema.Event {
	rng := rand.New(rand.NewPCG(seed, 1))
	var evs []schema.Event
	n := 0
	add := func(e schema.Event) {
		n++
		e.ID = fmt.Sprintf("ev-%05d", n)
		evs = append(evs, e)
	}
	end := t0.Add(time.Duration(days) * 24 * time.Hour)
	for at := t0; at.Before(end); at = at.Add(time.Duration(5+rng.IntN(5)) * time.Minute) {
		add(schema.Event{Time: at, Tenant: "acme", Table: "Audit_CL", EventType: schema.EventFailedAppLogin,
			SrcIP: fmt.Sprintf("198.51.100.%d", rng.IntN(40)), UserEmail: fmt.Sprintf("u%d@example.com", rng.IntN(30))})
		if rng.IntN(6) == 0 {
			add(schema.Event{Time: at.Add(time.Second), Tenant: "globex", Table: "Audit_CL",
				EventType: schema.EventFailedAppLogin, SrcIP: "203.0.113.5", UserEmail: fmt.Sprintf("v%d@globex.example", rng.IntN(5))})
		}
		if rng.IntN(10) == 0 {
			add(schema.Event{Time: at.Add(2 * time.Second), Tenant: "acme", Table: "DLP", EventType: schema.EventDLPAlert,
				Action: "hold", Sender: fmt.Sprintf("s%d@example.com", rng.IntN(3)), Recipients: []string{"x@rival.example"}})
		}
		if rng.IntN(3) == 0 {
			add(schema.Event{Time: at.Add(3 * time.Second), Tenant: "acme", Table: "Audit_CL", EventType: schema.EventAppLogin,
				SrcIP: "192.0.2.10", UserEmail: "ann@example.com"})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	return evs
}

// alertStore merges alerts by id as the store does, and drops superseded ones.
type alertStore map[string]schema.Alert

func (s alertStore) apply(res Result) {
	for _, a := range res.Alerts {
		if prev, ok := s[a.ID]; ok {
			a.EventIDs = mergeIDs(prev.EventIDs, a.EventIDs)
		}
		s[a.ID] = a
	}
	for _, id := range res.Superseded {
		delete(s, id)
	}
}

func (s alertStore) key() string {
	out := make([]schema.Alert, 0, len(s))
	for _, a := range s {
		out = append(out, a)
	}
	return alertSetKey(out)
}

// diff lists how two alert sets differ.
func (s alertStore) diff(o alertStore) string {
	out := ""
	for id, a := range s {
		b, ok := o[id]
		if !ok {
			out += fmt.Sprintf("only in first: %s %s %v %v\n", a.RuleID, a.GroupKey, a.FirstEvent, a.EventIDs)
			continue
		}
		if alertSetKey([]schema.Alert{a}) != alertSetKey([]schema.Alert{b}) {
			out += fmt.Sprintf("differ: %s %s\n  %v\n  %v\n", a.RuleID, a.GroupKey, a.EventIDs, b.EventIDs)
		}
	}
	for id, b := range o {
		if _, ok := s[id]; !ok {
			out += fmt.Sprintf("only in second: %s %s %v %v\n", b.RuleID, b.GroupKey, b.FirstEvent, b.EventIDs)
		}
	}
	return out
}

func runBatches(t *testing.T, rules []*Rule, batches [][]schema.Event, clock func() time.Time) alertStore {
	t.Helper()
	eng := New(rules, Options{Clock: clock})
	st := alertStore{}
	for _, b := range batches {
		res, err := eng.Evaluate(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Late) > 0 {
			t.Fatalf("%d late events", len(res.Late))
		}
		st.apply(res)
	}
	return st
}

func TestEngineDeterministicAcrossOrderAndBatching(t *testing.T) {
	rules := loadAll(t)
	evs := stream(1, 3)
	clock := fixedClock(evs[len(evs)-1].Time.Add(time.Hour))
	base := runBatches(t, rules, [][]schema.Event{evs}, clock)
	if len(base) < 10 {
		t.Fatalf("stream made only %d alerts; the test needs more", len(base))
	}
	want := base.key()
	rng := rand.New(rand.NewPCG(99, 2))
	variants := map[string][][]schema.Event{
		"twice":      {evs, evs[len(evs)*3/4:]},
		"one by one": chunk(evs, 1),
		"batches 37": chunk(evs, 37),
	}
	for i := 0; i < 3; i++ {
		// Shuffle within 12-hour blocks (well inside the lateness), then cut into random batches.
		c := slices.Clone(evs)
		for s := 0; s < len(c); {
			e := s
			for e < len(c) && c[e].Time.Sub(c[s].Time) < 12*time.Hour {
				e++
			}
			rng.Shuffle(e-s, func(a, b int) { c[s+a], c[s+b] = c[s+b], c[s+a] })
			s = e
		}
		variants[fmt.Sprintf("shuffled %d", i)] = chunk(c, 1+rng.IntN(200))
	}
	for name, batches := range variants {
		t.Run(name, func(t *testing.T) {
			if got := runBatches(t, rules, batches, clock); got.key() != want {
				t.Errorf("alert set differs from in-order delivery:\n%s", base.diff(got))
			}
		})
	}
}

func chunk(evs []schema.Event, n int) [][]schema.Event {
	var out [][]schema.Event
	for i := 0; i < len(evs); i += n {
		out = append(out, evs[i:min(i+n, len(evs))])
	}
	return out
}

func TestEngineRestartReplayKeepsAlertIDs(t *testing.T) {
	rules := loadAll(t)
	evs := stream(2, 5)
	ctx := context.Background()
	var now time.Time
	clock := func() time.Time { return now }

	// Uninterrupted run, in batches of 20 in time order.
	live := New(rules, Options{Clock: clock})
	want := alertStore{}
	for _, b := range chunk(evs, 20) {
		now = b[len(b)-1].Time
		res, err := live.Evaluate(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		want.apply(res)
	}

	// The same stream, stopped after day 3 and restarted: the new process replays the stored events from
	// ReplayFrom(now), then continues live.
	stop := t0.Add(3*24*time.Hour + 7*time.Hour + 13*time.Minute)
	got := alertStore{}
	first := New(rules, Options{Clock: clock})
	var before, after []schema.Event
	for _, e := range evs {
		if e.Time.Before(stop) {
			before = append(before, e)
		} else {
			after = append(after, e)
		}
	}
	for _, b := range chunk(before, 20) {
		now = b[len(b)-1].Time
		res, err := first.Evaluate(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		got.apply(res)
	}
	restarted := New(rules, Options{Clock: clock})
	from := restarted.ReplayFrom(now)
	if from.After(now.Add(-48*time.Hour-time.Hour)) || !from.Equal(from.Truncate(24*time.Hour)) {
		t.Fatalf("ReplayFrom(%v) = %v: must be a day boundary at least lateness+window before", now, from)
	}
	var replay []schema.Event
	for _, e := range before {
		if !e.Time.Before(from) {
			replay = append(replay, e)
		}
	}
	replayed := alertStore{}
	for _, b := range chunk(replay, 500) {
		res, err := restarted.Evaluate(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		replayed.apply(res)
	}
	for id := range replayed {
		if _, ok := got[id]; !ok {
			t.Errorf("replay made alert %s that the first process never made", id)
		}
	}
	for _, b := range chunk(after, 20) {
		now = b[len(b)-1].Time
		res, err := restarted.Evaluate(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		got.apply(res)
	}
	if got.key() != want.key() {
		t.Errorf("restarted run made %d alerts, uninterrupted run %d; the sets differ", len(got), len(want))
	}
}

func TestEngineStateIsBounded(t *testing.T) {
	rules := loadAll(t)
	evs := stream(3, 40)
	eng := New(rules, Options{Clock: fixedClock(evs[len(evs)-1].Time)})
	for _, b := range chunk(evs, 100) {
		if _, err := eng.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing older than maxSourceLag + lateness + horizon + gap behind the watermark may be held.
	wm := eng.Stats().Watermark
	oldest := wm.Add(-maxSourceLag - DefaultLateness - horizon - 2*time.Hour)
	held := 0
	for _, rs := range eng.allStates() {
		for _, g := range rs.groups {
			held += len(g.entries)
			if len(g.ids) != len(g.entries) {
				t.Errorf("rule %s group %q: %d ids for %d entries", rs.rule.ID, g.display, len(g.ids), len(g.entries))
			}
			for _, en := range g.entries {
				if time.Unix(0, en.t).Before(oldest) {
					t.Fatalf("rule %s holds an event from %v, watermark %v", rs.rule.ID, time.Unix(0, en.t).UTC(), wm)
				}
			}
		}
	}
	if held == 0 || held >= len(evs)/2 {
		t.Errorf("engine holds %d of %d events", held, len(evs))
	}
}

// TestEngineLatenessIsPerSource: streams are collected side by side, so one table's backfill must not make
// another table's history late; within one table the lateness holds, and a source far behind every other
// (more than maxSourceLag plus the lateness) is late too.
func TestEngineLatenessIsPerSource(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(30 * 24 * time.Hour)
	eng := New([]*Rule{ruleByID(t, r1)}, Options{Clock: fixedClock(now), Lateness: 48 * time.Hour})
	at := func(id, table string, ago time.Duration) schema.Event {
		ev := fail(id, 0, "192.0.2.1")
		ev.Time, ev.Table, ev.Activity = now.Add(-ago), table, "Logon Authentication Failed"
		return ev
	}
	// The audit stream caught up first.
	if _, err := eng.Evaluate(ctx, []schema.Event{at("audit-now", "Audit_CL", 0)}); err != nil {
		t.Fatal(err)
	}
	res, err := eng.Evaluate(ctx, []schema.Event{
		at("raw-5d", "Raw_Event_CL", 5*24*time.Hour),           // another source's history: evaluated
		at("audit-5d", "Audit_CL", 5*24*time.Hour),             // the same source, 5 days behind: late
		at("raw-11d", "Raw_Event_CL", 11*24*time.Hour),         // too far behind the fastest source: late
		at("audit-5d1h", "Audit_CL", 5*24*time.Hour+time.Hour), // late as well
	})
	if err != nil {
		t.Fatal(err)
	}
	res.Late = slices.Sorted(slices.Values(res.Late))
	if !slices.Equal(res.Late, []string{"audit-5d", "audit-5d1h", "raw-11d"}) {
		t.Fatalf("late %v", res.Late)
	}
	// Sources are per tenant too: another tenant's history is not late behind this one.
	eng2 := New([]*Rule{ruleByID(t, r1)}, Options{Clock: fixedClock(now), Lateness: 48 * time.Hour})
	other := at("other-tenant", "Audit_CL", 5*24*time.Hour)
	other.Tenant = "globex"
	if _, err := eng2.Evaluate(ctx, []schema.Event{at("audit-now", "Audit_CL", 0)}); err != nil {
		t.Fatal(err)
	}
	if res, _ := eng2.Evaluate(ctx, []schema.Event{other}); len(res.Late) != 0 {
		t.Fatalf("another tenant's history was late: %v", res.Late)
	}
}
