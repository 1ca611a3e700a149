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

// mailDay generates a day of normalized Mimecast events for two tenants: the inputs of every built-in rule
// (failed-logon bursts, DLP holds and notifications, every SEG detection Logtype, virus receipts, TTP verdicts)
// mixed with the traffic the rules must ignore (logons, receipts, deliveries, journal rows, safe files, clean
// clicks, allowed malicious clicks, impersonation hits not tagged malicious). Messages to several recipients
// give one row per recipient, as the gateway logs them.
func mailDay(seed uint64, start time.Time) []schema.Event {
	rng := rand.New(rand.NewPCG(seed, 13))
	var evs []schema.Event
	n := 0
	add := func(e schema.Event) {
		n++
		if e.ID == "" {
			e.ID = fmt.Sprintf("%s/%s/%06d", e.Tenant, e.Table, n)
		}
		evs = append(evs, e)
	}
	users := []string{"ann", "bob", "carol", "dan", "eve", "frank"}
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	for m := 0; m < 24*60; m += 1 + rng.IntN(4) {
		at := start.Add(time.Duration(m)*time.Minute + time.Duration(rng.IntN(60))*time.Second)
		tenant := []string{"acme", "globex"}[rng.IntN(2)]
		dom := tenant + ".example"
		user := pick(users) + "@" + dom
		ext := fmt.Sprintf("%s@partner%d.example", pick(users), rng.IntN(4))
		msg := fmt.Sprintf("<%d.%d@mx.example>", m, rng.IntN(1000))
		agg := fmt.Sprintf("agg-%d-%d", m, rng.IntN(1000))
		mail := func(table, typ, activity string) schema.Event {
			return schema.Event{Time: at, Tenant: tenant, Table: table, EventType: typ, Activity: activity, Sender: ext,
				Recipients: []string{user}, User: user, Direction: "inbound", MessageID: msg, AlertID: agg,
				SrcIP: fmt.Sprintf("198.51.100.%d", rng.IntN(20)), Subject: "invoice " + msg}
		}
		switch k := rng.IntN(40); {
		case k < 6: // audit logons; failures come in bursts from a few addresses
			burst := 1
			if rng.IntN(8) == 0 {
				burst = 3 + rng.IntN(5)
			}
			for b := 0; b < burst; b++ {
				typ, out := schema.EventFailedAppLogin, "failure"
				if rng.IntN(3) == 0 {
					typ, out = schema.EventAppLogin, "success"
				}
				add(schema.Event{Time: at.Add(time.Duration(b*40) * time.Second), Tenant: tenant, Table: "Audit_CL",
					EventType: typ, Outcome: out, User: user, UserEmail: user, App: "Administration Console",
					SrcIP: fmt.Sprintf("203.0.113.%d", rng.IntN(6)), Activity: "Logon Authentication Failed"})
			}
		case k < 9: // DLP: one message can be held and notified
			for _, a := range []string{"hold", "notification", "block"}[:1+rng.IntN(3)] {
				e := mail("Seg_Dlp_CL", schema.EventDLPAlert, "")
				e.Action, e.Policy, e.Direction, e.Sender, e.Recipients = a, "Confidential", "outbound", user, []string{ext}
				e.ID = fmt.Sprintf("%s/Seg_Dlp_CL/%s|%s", tenant, msg, a)
				add(e)
			}
		case k < 20: // gateway rows; detections to several recipients give a row each
			logtype := []string{"email_antivirus", "email_ttp_ap", "email_ttp_impersonation", "email_iep", "email_spam",
				"email_ttp_url", "email_receipt", "email_receipt", "email_delivery", "email_journal", "email_process"}[rng.IntN(11)]
			rcpts := 1 + rng.IntN(3)
			for r := 0; r < rcpts; r++ {
				typ := schema.EventSecurityAlert
				switch logtype {
				case "email_receipt", "email_delivery":
					typ = schema.EventDLPEmailAlertIn
				case "email_journal", "email_process":
					typ = schema.EventEmailActivity
				}
				e := mail("Seg_Cg_CL", typ, logtype)
				e.Time = at.Add(time.Duration(r) * time.Millisecond)
				e.Recipients = []string{fmt.Sprintf("%s%d@%s", pick(users), r, dom)}
				switch logtype {
				case "email_ttp_ap": // attachment protect rows carry no mail fields, only the file and aggregate id
					e.Sender, e.Recipients, e.MessageID, e.SrcIP, e.Subject, e.User = "", nil, "", "", "", ""
					e.AttachmentNames, e.AttachmentHashes = []string{"zero-day.pdf"}, []string{fmt.Sprintf("%064x", rng.IntN(5))}
				case "email_antivirus":
					e.Fields = map[string]any{"virusFound": "Trojan.Generic." + fmt.Sprint(rng.IntN(9))}
				case "email_receipt":
					if rng.IntN(4) == 0 {
						e.Fields = map[string]any{"virusFound": "EICAR"}
					}
				case "email_ttp_impersonation":
					e.Fields = map[string]any{"newDomain": "true", "reason": "newDomain"}
				}
				add(e)
			}
		case k < 24: // TTP attachment verdicts
			e := mail("Ttp_Attachment_CL", schema.EventSecurityAlert, "")
			res := []string{"safe", "safe", "malicious", "timeout"}[rng.IntN(4)]
			if res == "safe" {
				e.EventType = schema.EventEmailActivity
			}
			e.Fields = map[string]any{"result": res}
			e.AttachmentNames = []string{"report.docx"}
			add(e)
		case k < 28: // TTP impersonation hits
			e := mail("Ttp_Impersonation_CL", schema.EventSecurityAlert, "")
			e.Fields = map[string]any{"taggedMalicious": rng.IntN(3) > 0, "identifiers": []any{"internal_user_name"}}
			add(e)
		default: // TTP URL rows: a malicious verdict also gives a security-alert
			clicks := 1 + rng.IntN(2)
			for c := 0; c < clicks; c++ {
				scan := []string{"clean", "clean", "malicious"}[rng.IntN(3)]
				action := []string{"allow", "warn", "block"}[rng.IntN(3)]
				e := mail("Ttp_Url_CL", schema.EventWebActivity, "User Click")
				e.Time = at.Add(time.Duration(c) * time.Minute)
				e.URL, e.Action = fmt.Sprintf("https://bad%d.example/login", rng.IntN(5)), action
				e.Fields = map[string]any{"scanResult": scan}
				e.ID = fmt.Sprintf("%s/Ttp_Url_CL/%d-%d", tenant, m, c)
				add(e)
				if scan == "malicious" {
					a := e
					a.EventType, a.ID = schema.EventSecurityAlert, e.ID+"#security-alert"
					add(a)
				}
			}
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	return evs
}

// TestPropertyBuiltinRulesDeterministic checks the engine's central promise on all built-in rules: a generated
// day holding every rule's inputs and noise gives the identical alert set (ids and event ids, after merging
// and dropping superseded alerts as the store does) however it is delivered — in order, one by one, in odd
// batches, shuffled within the lateness, twice over, and across a restart that replays from ReplayFrom.
func TestPropertyBuiltinRulesDeterministic(t *testing.T) {
	rules, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			evs := mailDay(seed, start)
			clock := fixedClock(evs[len(evs)-1].Time.Add(time.Hour))
			base := runBatches(t, rules, [][]schema.Event{evs}, clock)
			perRule := map[string]int{}
			for _, a := range base {
				perRule[a.RuleID]++
			}
			for _, r := range rules {
				if perRule[r.ID] == 0 {
					t.Errorf("rule %s (%s) made no alert: the generator does not cover it", r.ID, r.Source)
				}
			}
			t.Logf("%d events, %d alerts: %v", len(evs), len(base), perRule)
			want := base.key()
			rng := rand.New(rand.NewPCG(seed, 77))
			variants := map[string][][]schema.Event{
				"one by one":   chunk(evs, 1),
				"batches of 7": chunk(evs, 7),
				"twice":        {evs, evs},
			}
			for i := 0; i < 3; i++ {
				c := slices.Clone(evs)
				rng.Shuffle(len(c), func(a, b int) { c[a], c[b] = c[b], c[a] })
				variants[fmt.Sprintf("shuffled %d", i)] = chunk(c, 1+rng.IntN(300))
			}
			for name, batches := range variants {
				t.Run(name, func(t *testing.T) {
					if got := runBatches(t, rules, batches, clock); got.key() != want {
						t.Errorf("alert set differs from in-order delivery:\n%s", base.diff(got))
					}
				})
			}
			t.Run("restart and replay", func(t *testing.T) {
				got := restartRun(t, rules, evs, start.Add(13*time.Hour+17*time.Minute))
				if got.key() != want {
					t.Errorf("restarted run differs from the uninterrupted one:\n%s", base.diff(got))
				}
			})
		})
	}
}

// restartRun processes evs live in batches of 25 until stop, restarts a new engine that replays the stored
// events from ReplayFrom(now) (the ids it re-emits must be ones already stored) and continues live.
func restartRun(t *testing.T, rules []*Rule, evs []schema.Event, stop time.Time) alertStore {
	t.Helper()
	ctx := context.Background()
	var now time.Time
	clock := func() time.Time { return now }
	var before, after []schema.Event
	for _, e := range evs {
		if e.Time.Before(stop) {
			before = append(before, e)
		} else {
			after = append(after, e)
		}
	}
	st := alertStore{}
	first := New(rules, Options{Clock: clock})
	for _, b := range chunk(before, 25) {
		now = b[len(b)-1].Time
		res, err := first.Evaluate(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		st.apply(res)
	}
	second := New(rules, Options{Clock: clock})
	from := second.ReplayFrom(now)
	var replay []schema.Event
	for _, e := range before {
		if !e.Time.Before(from) {
			replay = append(replay, e)
		}
	}
	for _, b := range chunk(replay, 400) {
		res, err := second.Evaluate(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range res.Alerts {
			if _, ok := st[a.ID]; !ok {
				t.Errorf("replay made alert %s (%s) the first process never made", a.ID, a.RuleID)
			}
		}
		st.apply(res)
	}
	for _, b := range chunk(after, 25) {
		now = b[len(b)-1].Time
		res, err := second.Evaluate(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		st.apply(res)
	}
	return st
}
