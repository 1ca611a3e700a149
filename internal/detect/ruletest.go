package detect

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// TestResult is the outcome of one inline rule test.
type TestResult struct {
	RuleID string
	Source string
	Name   string
	Passed bool
	// Failures says what differed; empty when Passed.
	Failures []string
	// Alerts are the alerts the test produced (in-order run, merged by id as a store would).
	Alerts []schema.Alert
}

// RunTests runs every inline test of rules. Each test runs its events in several deliveries — in time order in
// one batch, the same batch twice, one event per batch, two halves, shuffled, and reversed one by one — and
// fails unless every delivery yields the same alerts (ids and event ids) and they match the expectation.
func RunTests(rules []*Rule) []TestResult {
	var out []TestResult
	for _, r := range rules {
		for _, t := range r.Tests {
			out = append(out, runTest(r, t))
		}
	}
	return out
}

// delivery is one way of handing a test's events to the engine.
type delivery struct {
	name    string
	batches func(evs []schema.Event) [][]schema.Event
}

func deliveries(seed uint64) []delivery {
	return []delivery{
		{"in order", func(evs []schema.Event) [][]schema.Event { return [][]schema.Event{evs} }},
		{"twice", func(evs []schema.Event) [][]schema.Event { return [][]schema.Event{evs, evs} }},
		{"one by one", func(evs []schema.Event) [][]schema.Event {
			var out [][]schema.Event
			for i := range evs {
				out = append(out, evs[i:i+1])
			}
			return out
		}},
		{"two batches", func(evs []schema.Event) [][]schema.Event {
			h := len(evs) / 2
			return [][]schema.Event{evs[:h], evs[h:]}
		}},
		{"shuffled", func(evs []schema.Event) [][]schema.Event {
			c := slices.Clone(evs)
			rng := rand.New(rand.NewPCG(seed, 7))
			rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
			h := len(c) / 2
			return [][]schema.Event{c[:h], c[h:]}
		}},
		{"reversed one by one", func(evs []schema.Event) [][]schema.Event {
			var out [][]schema.Event
			for i := len(evs) - 1; i >= 0; i-- {
				out = append(out, evs[i:i+1])
			}
			return out
		}},
	}
}

func runTest(r *Rule, t RuleTest) TestResult {
	res := TestResult{RuleID: r.ID, Source: r.Source, Name: t.Name}
	sorted := slices.Clone(t.Events)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	var latest time.Time
	for _, e := range sorted {
		if e.Time.After(latest) {
			latest = e.Time
		}
	}
	clock := func() time.Time { return latest.Add(time.Hour) }
	h := fnv.New64a()
	h.Write([]byte(t.Name))
	var base []schema.Alert
	for i, d := range deliveries(h.Sum64()) {
		alerts, err := deliver(r, clock, d.batches(sorted))
		if err != nil {
			res.Failures = append(res.Failures, fmt.Sprintf("%s: %v", d.name, err))
			continue
		}
		if i == 0 {
			base = alerts
			res.Alerts = alerts
			continue
		}
		if a, b := alertSetKey(base), alertSetKey(alerts); a != b {
			res.Failures = append(res.Failures, fmt.Sprintf("%s: alerts differ from in-order delivery: got %s, want %s", d.name, b, a))
		}
	}
	res.Failures = append(res.Failures, checkExpect(t.Expect, base)...)
	res.Passed = len(res.Failures) == 0
	return res
}

// deliver runs batches through a fresh engine and merges alerts by id as the store does.
func deliver(r *Rule, clock func() time.Time, batches [][]schema.Event) ([]schema.Alert, error) {
	eng := New([]*Rule{r}, Options{Clock: clock})
	byID := map[string]schema.Alert{}
	for _, b := range batches {
		res, err := eng.Evaluate(context.Background(), b)
		if err != nil {
			return nil, err
		}
		if len(res.Late) > 0 || len(res.Invalid) > 0 {
			return nil, fmt.Errorf("late events %v, invalid events %v", res.Late, res.Invalid)
		}
		for _, a := range res.Alerts {
			if prev, ok := byID[a.ID]; ok {
				a.EventIDs = mergeIDs(prev.EventIDs, a.EventIDs)
			}
			byID[a.ID] = a
		}
		for _, id := range res.Superseded {
			delete(byID, id)
		}
	}
	out := make([]schema.Alert, 0, len(byID))
	for _, a := range byID {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].FirstEvent.Equal(out[j].FirstEvent) {
			return out[i].FirstEvent.Before(out[j].FirstEvent)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func mergeIDs(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range [][]string{a, b} {
		for _, id := range l {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// alertSetKey renders alerts as "id[event ids]" for comparison.
func alertSetKey(alerts []schema.Alert) string {
	parts := make([]string, 0, len(alerts))
	for _, a := range alerts {
		ids := slices.Clone(a.EventIDs)
		sort.Strings(ids)
		parts = append(parts, a.ID+"["+strings.Join(ids, ",")+"]")
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, " ") + "}"
}

func checkExpect(expect []ExpectedAlert, got []schema.Alert) []string {
	var fails []string
	if len(got) != len(expect) {
		var titles []string
		for _, a := range got {
			titles = append(titles, fmt.Sprintf("%q with %d events", a.Title, len(a.EventIDs)))
		}
		return []string{fmt.Sprintf("got %d alerts, want %d: %s", len(got), len(expect), strings.Join(titles, "; "))}
	}
	for i, x := range expect {
		a := got[i]
		if x.Count != 0 && len(a.EventIDs) != x.Count {
			fails = append(fails, fmt.Sprintf("alert %d: %d events, want %d", i, len(a.EventIDs), x.Count))
		}
		if x.GroupKey != nil && a.GroupKey != *x.GroupKey {
			fails = append(fails, fmt.Sprintf("alert %d: group key %q, want %q", i, a.GroupKey, *x.GroupKey))
		}
		if x.Title != "" && a.Title != x.Title {
			fails = append(fails, fmt.Sprintf("alert %d: title %q, want %q", i, a.Title, x.Title))
		}
		if x.EventIDs != nil && !slices.Equal(sortedCopy(a.EventIDs), sortedCopy(x.EventIDs)) {
			fails = append(fails, fmt.Sprintf("alert %d: event ids %v, want %v", i, a.EventIDs, x.EventIDs))
		}
		for _, want := range x.Entities {
			if !slices.Contains(a.Entities, want) {
				fails = append(fails, fmt.Sprintf("alert %d: missing entity %s=%s (have %v)", i, want.Type, want.Value, a.Entities))
			}
		}
	}
	return fails
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}
