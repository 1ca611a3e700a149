package detect

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// benchMail is n events of generated Mimecast traffic with a realistic mix: mailDay's events (every built-in
// rule's input, about a quarter of them detections) diluted with nine plain receipts, deliveries and journal
// rows each, so that about 3 % of the events are detections, as on a real gateway.
func benchMail(n int) []schema.Event {
	var out []schema.Event
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	plain := []struct{ typ, logtype string }{
		{schema.EventDLPEmailAlertIn, "email_receipt"}, {schema.EventDLPEmailAlertIn, "email_delivery"},
		{schema.EventDLPEmailAlertOut, "email_receipt"}, {schema.EventEmailActivity, "email_process"},
		{schema.EventEmailActivity, "email_journal"},
	}
	for d := 0; len(out) < n; d++ {
		for i, e := range mailDay(uint64(d+1), start.Add(time.Duration(d)*24*time.Hour)) {
			out = append(out, e)
			for k := 0; k < 9; k++ {
				p := plain[(i+k)%len(plain)]
				out = append(out, schema.Event{ID: fmt.Sprintf("%s#plain%d", e.ID, k), Time: e.Time, Tenant: e.Tenant,
					Table: "Seg_Cg_CL", EventType: p.typ, Activity: p.logtype, Sender: "news@list.example",
					Recipients: []string{"ann@acme.example"}, Direction: "inbound", SrcIP: "192.0.2.25",
					MessageID: fmt.Sprintf("<%d.%d@list.example>", i, k), Subject: "weekly update"})
			}
		}
	}
	return out[:n]
}

// generatedRules makes n single-event rules of the shape most custom rules have: one event type (spread over
// the types the traffic has), an exact value and a substring. Almost none match.
func generatedRules(tb testing.TB, n int) []*Rule {
	return generateRules(tb, n, "sender_domain: bad%d.example")
}

// generateRules makes n rules like generatedRules whose first selection line is sel (formatted with the rule's
// number).
func generateRules(tb testing.TB, n int, sel string) []*Rule {
	tb.Helper()
	types := []string{schema.EventSecurityAlert, schema.EventDLPEmailAlertIn, schema.EventEmailActivity, schema.EventDLPAlert,
		schema.EventWebActivity, schema.EventFailedAppLogin, schema.EventAppLogin}
	rules := make([]*Rule, 0, n)
	for i := 0; i < n; i++ {
		src := fmt.Sprintf(`id: gen-%04d
version: 1.0.0
title: Generated {{sender}}
description: generated
severity: low
reads:
  event_types: [%s]
detection:
  sel:
    %s
    subject|contains: invoice
  condition: sel
entities:
  - {type: mailbox, field: sender}
`, i, types[i%len(types)], fmt.Sprintf(sel, i))
		r, err := ParseRule(fmt.Sprintf("gen-%d.yaml", i), []byte(src))
		if err != nil {
			tb.Fatal(err)
		}
		rules = append(rules, r)
	}
	return rules
}

// BenchmarkEngineRules reports events evaluated per second (the engine evaluates on one core) with the
// built-in rules alone and with 1,000 generated rules added, on 100,000 generated Mimecast events in batches of
// 1,000 through a fresh engine per iteration.
func BenchmarkEngineRules(b *testing.B) {
	builtin, err := LoadBuiltin()
	if err != nil {
		b.Fatal(err)
	}
	evs := benchMail(100_000)
	clock := fixedClock(evs[len(evs)-1].Time.Add(time.Hour))
	for _, tc := range []struct {
		name  string
		rules []*Rule
	}{
		{"builtin", builtin},
		{"builtin+1000", append(append([]*Rule{}, builtin...), generatedRules(b, 1000)...)},
		// Rules without an exact value to index on are tested against every event of their type.
		{"builtin+1000unindexed", append(append([]*Rule{}, builtin...), generateRules(b, 1000, "sender_domain|endswith: .bad%d.example")...)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				eng := New(tc.rules, Options{Clock: clock})
				for j := 0; j < len(evs); j += 1000 {
					if _, err := eng.Process(ctx, evs[j:min(j+1000, len(evs))]); err != nil {
						b.Fatal(err)
					}
				}
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N*len(evs))/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*len(evs)), "ns/event")
		})
	}
}
