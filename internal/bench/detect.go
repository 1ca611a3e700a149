package bench

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/castwatch/castwatch/internal/detect"
	"github.com/castwatch/castwatch/internal/normalize"
	"github.com/castwatch/castwatch/internal/rawlog"
	"github.com/castwatch/castwatch/internal/schema"
)

// detectBatch is how many events go to one Process call (the bus delivers batches of this size).
const detectBatch = 1000

// DetectOptions configures Detect.
type DetectOptions struct {
	// Events is how many events are evaluated per run (default 100,000).
	Events int
	// ExtraRules is how many generated rules the second run adds to the built-in ones (default 1,000).
	ExtraRules int
	// Rounds is how many times each rule set runs, alternating, keeping each one's fastest run (default 3): the
	// runs are short, and the best of a few alternating runs is far steadier on a busy machine than one.
	Rounds int
	// Input is the traffic the events are drawn from.
	Input
}

// DetectResult compares evaluation with the built-in rules against evaluation with generated rules added.
type DetectResult struct {
	Events     int `json:"events"`
	ExtraRules int `json:"extra_rules"`
	Rounds     int `json:"rounds"`
	// Builtin ran the built-in rules; Extended the built-in rules and the generated ones.
	Builtin  DetectRun `json:"builtin"`
	Extended DetectRun `json:"extended"`
	// Ratio is Extended's rate over Builtin's (1: the added rules cost nothing).
	Ratio float64 `json:"ratio"`
	// NsPerEventPerAddedRule is the extra evaluation time per event that each added rule costs.
	NsPerEventPerAddedRule float64 `json:"ns_per_event_per_added_rule"`
}

// DetectRun is one pass of every event through a fresh engine, on one core.
type DetectRun struct {
	Rules int  `json:"rules"`
	Rate  Rate `json:"rate"`
	// NsPerEvent is the wall time per event.
	NsPerEvent float64 `json:"ns_per_event"`
	// Matched counts (rule, event) matches; Alerts the alerts returned (new or grown).
	Matched int64  `json:"matched"`
	Alerts  int64  `json:"alerts"`
	Memory  Memory `json:"memory"`
}

// Detect normalizes the sample's SIEM and API records into events, repeats them (each copy moved on by the
// sample's span, with distinct ids) up to opts.Events, and evaluates them in batches through a fresh engine with
// the built-in rules, then through one with opts.ExtraRules generated rules added. The generated rules each read
// one event type and require an exact sender domain that the traffic never has, so the engine's index narrows
// them to a map look-up per event: what they cost is the index's overhead, not rule tests.
func Detect(ctx context.Context, opts DetectOptions) (DetectResult, error) {
	if opts.Events <= 0 {
		opts.Events = 100_000
	}
	if opts.ExtraRules < 0 {
		return DetectResult{}, fmt.Errorf("detect: extra rules must not be negative, got %d", opts.ExtraRules)
	}
	if opts.ExtraRules == 0 {
		opts.ExtraRules = 1000
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 3
	}
	res := DetectResult{Events: opts.Events, ExtraRules: opts.ExtraRules, Rounds: opts.Rounds}
	events, types, err := detectInput(ctx, opts)
	if err != nil {
		return res, err
	}
	builtin, err := detect.LoadBuiltin()
	if err != nil {
		return res, fmt.Errorf("detect: %w", err)
	}
	extra, err := GenerateRules(opts.ExtraRules, types)
	if err != nil {
		return res, err
	}
	clock := events[len(events)-1].Time.Add(time.Hour)
	extended := append(slices.Clone(builtin), extra...)
	for round := range opts.Rounds {
		for _, c := range []struct {
			rules []*detect.Rule
			best  *DetectRun
		}{{builtin, &res.Builtin}, {extended, &res.Extended}} {
			run, err := detectRun(ctx, c.rules, events, clock)
			if err != nil {
				return res, err
			}
			if round > 0 && (run.Matched != c.best.Matched || run.Alerts != c.best.Alerts) {
				return res, fmt.Errorf("detect: round %d matched %d events into %d alerts, round 1 %d into %d",
					round+1, run.Matched, run.Alerts, c.best.Matched, c.best.Alerts)
			}
			if round == 0 || run.Rate.Seconds < c.best.Rate.Seconds {
				*c.best = run
			}
		}
	}
	res.Ratio = ratio(res.Extended.Rate.PerSecond, res.Builtin.Rate.PerSecond)
	res.NsPerEventPerAddedRule = (res.Extended.NsPerEvent - res.Builtin.NsPerEvent) / float64(opts.ExtraRules)
	return res, nil
}

// detectInput generates the traffic and returns opts.Events events and the event types of the sample, most
// frequent first; the traffic is garbage afterwards.
func detectInput(ctx context.Context, opts DetectOptions) ([]schema.Event, []string, error) {
	traffic, err := opts.traffic(ctx)
	if err != nil {
		return nil, nil, err
	}
	base, err := SampleEvents(ctx, traffic)
	if err != nil {
		return nil, nil, err
	}
	if len(base) == 0 {
		return nil, nil, fmt.Errorf("detect: the sample normalizes to no events")
	}
	return repeatEvents(base, opts.Events, traffic.Span), eventTypes(base), nil
}

// detectRun evaluates events in batches through a fresh engine on one core.
func detectRun(ctx context.Context, rules []*detect.Rule, events []schema.Event, clock time.Time) (DetectRun, error) {
	run := DetectRun{Rules: len(rules)}
	eng := detect.New(rules, detect.Options{Clock: func() time.Time { return clock }})
	err := oneCore(func() error {
		p := startProbe()
		for i := 0; i < len(events); i += detectBatch {
			alerts, err := eng.Process(ctx, events[i:min(i+detectBatch, len(events))])
			if err != nil {
				return fmt.Errorf("detect: %w", err)
			}
			run.Alerts += int64(len(alerts))
		}
		wall, cpu, mem := p.stop(int64(len(events)))
		run.Rate = newRate("castwatch", int64(len(events)), wall, cpu)
		run.NsPerEvent = float64(wall.Nanoseconds()) / float64(len(events))
		run.Memory = mem
		return nil
	})
	st := eng.Stats()
	run.Matched = st.Matched
	if err == nil && st.Events != int64(len(events)) {
		err = fmt.Errorf("detect: engine counted %d events of %d", st.Events, len(events))
	}
	return run, err
}

// SampleEvents normalizes the sample's SIEM lines (Seg_Cg_CL) and API records into events, oldest first.
func SampleEvents(ctx context.Context, t *Traffic) ([]schema.Event, error) {
	ingested := trafficEpoch.Add(time.Hour)
	norm, ok := normalize.For(schema.SegCg.Name)
	if !ok {
		return nil, fmt.Errorf("detect: no mapping for %s", schema.SegCg.Name)
	}
	var out []schema.Event
	for i, line := range t.SIEM {
		row, err := schema.SegCg.Decode(benchTenant, line, ingested)
		if err != nil {
			return nil, fmt.Errorf("detect: siem line %d: %w", i, err)
		}
		evs, err := norm(row)
		if err != nil {
			return nil, fmt.Errorf("detect: siem line %d: %w", i, err)
		}
		out = append(out, evs...)
	}
	var api bytes.Buffer
	for _, rec := range t.API {
		api.Write(rec)
		api.WriteByte('\n')
	}
	st, err := rawlog.Run(ctx, bytes.NewReader(api.Bytes()), "api", rawlog.Options{Tenant: benchTenant, Now: func() time.Time { return ingested }},
		func(it rawlog.Item) error {
			out = append(out, it.Events...)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("detect: api records: %w", err)
	}
	if st.Rejected > 0 {
		return nil, fmt.Errorf("detect: %d api records rejected: %v", st.Rejected, st.Reasons)
	}
	slices.SortStableFunc(out, func(a, b schema.Event) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// repeatEvents returns n events: base, then copies of it each moved on by span and with a copy suffix on ids.
func repeatEvents(base []schema.Event, n int, span time.Duration) []schema.Event {
	out := make([]schema.Event, n)
	for i := range out {
		ev, c := base[i%len(base)], i/len(base)
		if c > 0 {
			ev.ID += copySuffix(c)
			ev.Time = ev.Time.Add(time.Duration(c) * span)
		}
		out[i] = ev
	}
	return out
}

// eventTypes returns the event types of events, most frequent first.
func eventTypes(events []schema.Event) []string {
	count := map[string]int{}
	for _, e := range events {
		count[e.EventType]++
	}
	types := make([]string, 0, len(count))
	for t := range count {
		types = append(types, t)
	}
	slices.SortFunc(types, func(a, b string) int { return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b)) })
	return types
}

// GenerateRules makes n single-event rules of the common custom shape, spread round-robin over types: one event
// type, an exact sender domain (which the engine indexes; no traffic has it) and a subject substring.
func GenerateRules(n int, types []string) ([]*detect.Rule, error) {
	if n > 0 && len(types) == 0 {
		return nil, fmt.Errorf("detect: no event types to generate rules for")
	}
	rules := make([]*detect.Rule, 0, n)
	for i := range n {
		src := fmt.Sprintf(`id: bench-extra-%05d
version: 1.0.0
title: Bench rule %d from {{sender}}
description: Generated for castwatch bench detect.
severity: low
reads:
  event_types: [%s]
detection:
  selection:
    sender_domain: sender-%d.bench.invalid
    subject|contains: payment
  condition: selection
entities:
  - {type: mailbox, field: sender}
`, i, i, types[i%len(types)], i)
		r, err := detect.ParseRule(fmt.Sprintf("bench-extra-%05d.yaml", i), []byte(src))
		if err != nil {
			return nil, fmt.Errorf("detect: generated rule %d: %w", i, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}
