package detect

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// benchEvents is a day of audit-like traffic: one event in five a failed logon (from 500 addresses, some
// without one), the rest successful logons and other activity the failed-logon rule does not read.
func benchEvents(n int) []schema.Event {
	rng := rand.New(rand.NewPCG(42, 42))
	evs := make([]schema.Event, n)
	step := 24 * time.Hour / time.Duration(n)
	types := []string{schema.EventAppLogin, schema.EventAppActivity, schema.EventWebActivity, schema.EventSecurityAlert}
	for i := range evs {
		e := schema.Event{
			ID: fmt.Sprintf("bench-%07d", i), Time: t0.Add(time.Duration(i) * step), Tenant: "acme", Table: "Audit_CL",
			UserEmail: fmt.Sprintf("user%d@example.com", rng.IntN(2000)), App: "Administration Console",
		}
		if rng.IntN(5) == 0 {
			e.EventType = schema.EventFailedAppLogin
			if rng.IntN(10) > 0 {
				e.SrcIP = fmt.Sprintf("198.51.%d.%d", rng.IntN(2), rng.IntN(250))
			}
		} else {
			e.EventType = types[rng.IntN(len(types))]
			e.SrcIP = "192.0.2.10"
		}
		evs[i] = e
	}
	return evs
}

// BenchmarkEngine measures evaluation throughput of the built-in rules on a day of events delivered in batches
// of 1,000 (the bus's batch size), each iteration with a fresh engine.
func BenchmarkEngine(b *testing.B) {
	rules, err := LoadBuiltin()
	if err != nil {
		b.Fatal(err)
	}
	evs := benchEvents(100_000)
	clock := fixedClock(evs[len(evs)-1].Time.Add(time.Hour))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	alerts := 0
	for i := 0; i < b.N; i++ {
		eng := New(rules, Options{Clock: clock})
		for j := 0; j < len(evs); j += 1000 {
			out, err := eng.Process(ctx, evs[j:min(j+1000, len(evs))])
			if err != nil {
				b.Fatal(err)
			}
			alerts += len(out)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N*len(evs))/elapsed.Seconds(), "events/s")
	if alerts == 0 {
		b.Fatal("no alerts")
	}
}
