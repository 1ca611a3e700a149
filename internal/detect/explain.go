package detect

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// buildAlert turns an episode into an alert.
func (g *group) buildAlert(r *Rule, ep *episode, now time.Time) schema.Alert {
	idx := make([]int, 0, ep.end-ep.start)
	for i := ep.start; i < ep.end; i++ {
		idx = append(idx, i)
	}
	firstT := g.entries[idx[0]].t
	lastT := g.entries[idx[len(idx)-1]].t
	ids := make([]string, 0, min(len(idx), MaxEventIDs))
	events := make([]schema.Event, 0, min(len(idx), schema.MaxAlertEvents))
	distinct := map[string]struct{}{}
	for _, i := range idx {
		if len(ids) < MaxEventIDs {
			ids = append(ids, g.entries[i].id)
		}
		if len(events) < schema.MaxAlertEvents && g.entries[i].ev != nil {
			events = append(events, *g.entries[i].ev)
		}
		if r.distinct != nil && g.entries[i].distinct != "" {
			distinct[g.entries[i].distinct] = struct{}{}
		}
	}
	a := schema.Alert{
		ID:          ep.id,
		Tenant:      g.tenant,
		RuleID:      r.ID,
		RuleVersion: r.Version,
		Severity:    r.Severity,
		Tactics:     append([]string{}, r.Tactics...),
		Techniques:  append([]string{}, r.Techniques...),
		EventIDs:    ids,
		EventCount:  len(idx),
		Events:      events,
		GroupKey:    g.display,
		FirstEvent:  time.Unix(0, firstT).UTC(),
		LastEvent:   time.Unix(0, lastT).UTC(),
		Created:     now,
		Status:      "new",
	}
	for k, chain := range r.entities {
		seen := map[string]bool{}
		for _, i := range idx {
			if len(seen) >= MaxEntityValues {
				break
			}
			for _, f := range chain {
				vals := g.entries[i].vals[r.neededIndex(f)]
				if len(vals) == 0 {
					continue
				}
				for _, v := range vals {
					if !seen[v] && len(seen) < MaxEntityValues {
						seen[v] = true
						a.Entities = append(a.Entities, schema.Entity{Type: r.Entities[k].Type, Value: v})
					}
				}
				break
			}
		}
	}
	var tb strings.Builder
	for _, p := range r.title {
		switch {
		case p.field != nil:
			tb.WriteString(g.fieldSummary(r, p.field, idx))
		case p.special == "count":
			tb.WriteString(strconv.Itoa(len(idx)))
		case p.special == "distinct_count":
			tb.WriteString(strconv.Itoa(len(distinct)))
		case p.special == "group":
			tb.WriteString(g.display)
		default:
			tb.WriteString(p.lit)
		}
	}
	a.Title = tb.String()
	a.Explanation = explain(r, g.display, len(idx), len(distinct), a.FirstEvent, a.LastEvent)
	return a
}

// neededIndex returns the position of f in r.needed.
func (r *Rule) neededIndex(f *field) int {
	for i, n := range r.needed {
		if n.name == f.name {
			return i
		}
	}
	return -1
}

// fieldSummary renders the distinct values of a field over the episode: "a", "a, b" or "a, b, c and 4 more".
func (g *group) fieldSummary(r *Rule, f *field, idx []int) string {
	k := r.neededIndex(f)
	var vals []string
	seen := map[string]bool{}
	for _, i := range idx {
		for _, v := range g.entries[i].vals[k] {
			if !seen[v] {
				seen[v] = true
				vals = append(vals, v)
			}
		}
	}
	switch {
	case len(vals) == 0:
		return "(none)"
	case len(vals) <= 3:
		return strings.Join(vals, ", ")
	default:
		return fmt.Sprintf("%s and %d more", strings.Join(vals[:3], ", "), len(vals)-3)
	}
}

// explain writes the sentence that says why the alert fired.
func explain(r *Rule, group string, n, distinct int, first, last time.Time) string {
	var b strings.Builder
	if r.Threshold != nil && r.Threshold.Distinct != "" {
		fmt.Fprintf(&b, "%d distinct %s across %d %s", distinct, r.Threshold.Distinct, n, r.EventLabel)
	} else {
		fmt.Fprintf(&b, "%d %s", n, r.EventLabel)
	}
	if group != "" {
		fmt.Fprintf(&b, " for %s", group)
	}
	b.WriteString(" ")
	b.WriteString(timeSpan(first, last))
	if t := r.Threshold; t != nil {
		cmp := "more than"
		if t.Op == "gte" {
			cmp = "at least"
		}
		what := ""
		if t.Distinct != "" {
			what = " distinct " + t.Distinct
		}
		fmt.Fprintf(&b, " (threshold: %s %d%s in %s)", cmp, t.Value, what, formatDuration(t.Window))
	} else {
		fmt.Fprintf(&b, " (matches within %s are one alert)", formatDuration(r.Dedup.Period))
	}
	if r.Suppress > 0 {
		fmt.Fprintf(&b, "; further alerts for this group are suppressed for %s", formatDuration(r.Suppress))
	}
	return b.String()
}

func timeSpan(first, last time.Time) string {
	const day, clock = "2006-01-02", "15:04:05"
	switch {
	case first.Equal(last):
		return fmt.Sprintf("at %s UTC on %s", first.Format(clock), first.Format(day))
	case first.Format(day) == last.Format(day):
		return fmt.Sprintf("between %s and %s UTC on %s", first.Format(clock), last.Format(clock), first.Format(day))
	default:
		return fmt.Sprintf("between %s %s and %s %s UTC", first.Format(day), first.Format(clock),
			last.Format(day), last.Format(clock))
	}
}

// formatDuration renders 30m, 1h, 1h30m, 1d.
func formatDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
