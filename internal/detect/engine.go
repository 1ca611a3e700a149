package detect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// horizon is the episode horizon: segments of a group never span a UTC day boundary, so state rebuilt by a
// replay that starts at a day boundary matches the state of a process that never stopped.
const horizon = 24 * time.Hour

// maxFutureSkew bounds how far ahead of the clock an event may move the watermark.
const maxFutureSkew = 15 * time.Minute

// Options configures an Engine.
type Options struct {
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives engine diagnostics; nil discards them.
	Logger *slog.Logger
	// Lateness is how far behind the watermark an event is still evaluated (0 means DefaultLateness).
	Lateness time.Duration
}

// Result is the outcome of one Evaluate call.
type Result struct {
	// Alerts are new alerts and alerts whose event set grew; store them by ID (merging event ids).
	Alerts []schema.Alert
	// Late lists the ids of events older than the watermark minus the allowed lateness; they were not evaluated.
	Late []string
	// Invalid lists the ids (or positions) of events without an id or time; they were not evaluated.
	Invalid []string
	// Superseded lists ids of alerts emitted earlier that a late event replaced by another alert.
	Superseded []string
	// Suppressed lists ids of alerts withheld by their rule's suppression period (each reported once).
	Suppressed []string
	// Duplicates counts (rule, event) pairs whose event id had already been counted.
	Duplicates int
}

// Stats are cumulative counters since the engine was made.
type Stats struct {
	Events     int64
	Matched    int64
	Duplicates int64
	Late       int64
	Invalid    int64
	Alerts     int64
	Superseded int64
	// Suppressed counts alerts withheld by a rule's suppression period.
	Suppressed int64
	// Watermark is the latest event time seen (bounded by the clock).
	Watermark time.Time
	// Groups is the number of (rule, group) windows held in memory.
	Groups int
}

// Engine evaluates rules over normalized events by event time. It is safe for concurrent use.
type Engine struct {
	rules    []*Rule
	byType   map[string]*ruleIndex
	byTable  map[string]*ruleIndex
	clock    func() time.Time
	log      *slog.Logger
	lateness time.Duration

	// states are the rules' states, ordered by rule id.
	states []*ruleState

	mu sync.Mutex
	// seq numbers the events evaluated, so a rule reached through two anchor values is tested once.
	seq uint64
	// watermark is the latest event time seen from any source; sources hold each source's own (see sourceOf:
	// streams and record types are collected side by side, and one's backfill must not make another's history
	// late).
	watermark int64
	sources   map[string]int64
	lastSweep int64
	stats     Stats
}

// maxSourceLag is how far a source's events may trail the fastest source and still be evaluated (on top of the
// lateness). State is kept that far back, which bounds it whatever a lagging or stalled source does.
const maxSourceLag = 8 * 24 * time.Hour

// sourceOf names the source an event's lateness is measured in: a tenant's table and the event's activity (for the
// SIEM tables the record type). Collectors page one source after another — the SIEM batch collector reads a week
// of one type, then the next — so each source's history must be judged by its own progress.
func sourceOf(ev *schema.Event) string { return ev.Tenant + "\x00" + ev.Table + "\x00" + ev.Activity }

// horizon is the event time before which no event is evaluated any more, whatever its source: maxSourceLag
// behind the fastest source. State older than horizon minus lateness and the rule's gap can be dropped.
func (e *Engine) horizon() int64 {
	if e.watermark == 0 {
		return 0
	}
	return e.watermark - int64(maxSourceLag)
}

// ruleState holds the groups of one rule.
type ruleState struct {
	rule   *Rule
	groups map[string]*group
	// seq is the last event (Engine.seq) the rule was tested against.
	seq uint64
}

// ruleIndex holds the rules that read one event type (or one table, for rules that read only tables): those
// without an anchor are tested against every such event; the others only against events whose anchored field
// has one of their values.
type ruleIndex struct {
	plain    []*ruleState
	anchored []*anchorIndex
}

// anchorIndex maps the folded values of one field to the rules anchored on them.
type anchorIndex struct {
	f     *field
	byVal map[string][]*ruleState
}

func (x *ruleIndex) add(rs *ruleState) {
	a := rs.rule.anchor
	if a == nil {
		x.plain = append(x.plain, rs)
		return
	}
	var ai *anchorIndex
	for _, c := range x.anchored {
		if c.f.name == a.f.name {
			ai = c
		}
	}
	if ai == nil {
		ai = &anchorIndex{f: a.f, byVal: map[string][]*ruleState{}}
		x.anchored = append(x.anchored, ai)
		sort.Slice(x.anchored, func(i, j int) bool { return x.anchored[i].f.name < x.anchored[j].f.name })
	}
	vals := make([]string, 0, len(a.vals))
	for v := range a.vals {
		vals = append(vals, v)
	}
	sort.Strings(vals)
	for _, v := range vals {
		ai.byVal[v] = append(ai.byVal[v], rs)
	}
}

// New builds an engine for rules.
func New(rules []*Rule, opts Options) *Engine {
	e := &Engine{
		rules:    rules,
		byType:   map[string]*ruleIndex{},
		byTable:  map[string]*ruleIndex{},
		clock:    opts.Clock,
		log:      opts.Logger,
		lateness: opts.Lateness,
	}
	if e.clock == nil {
		e.clock = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.lateness <= 0 {
		e.lateness = DefaultLateness
	}
	for _, r := range rules {
		rs := &ruleState{rule: r, groups: map[string]*group{}}
		e.states = append(e.states, rs)
		idx, keys := e.byType, r.Reads.EventTypes
		if len(keys) == 0 {
			idx, keys = e.byTable, r.Reads.Tables
		}
		for _, k := range keys {
			if idx[k] == nil {
				idx[k] = &ruleIndex{}
			}
			idx[k].add(rs)
		}
	}
	sort.SliceStable(e.states, func(i, j int) bool { return e.states[i].rule.ID < e.states[j].rule.ID })
	return e
}

// Rules returns the engine's rules.
func (e *Engine) Rules() []*Rule { return e.rules }

// ReplayFrom returns where a restarted process must start replaying stored events (through Process, in event
// time order, before live events) to rebuild exactly the state it had: the UTC day boundary at or before
// now minus the lateness and the longest window.
func (e *Engine) ReplayFrom(now time.Time) time.Time {
	var longest time.Duration
	for _, r := range e.rules {
		longest = max(longest, r.gap())
	}
	return now.Add(-e.lateness - longest).UTC().Truncate(horizon)
}

// Stats returns cumulative counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	if e.watermark != 0 {
		s.Watermark = time.Unix(0, e.watermark).UTC()
	}
	for _, rs := range e.allStates() {
		s.Groups += len(rs.groups)
	}
	return s
}

func (e *Engine) allStates() []*ruleState { return e.states }

// Process evaluates events and returns the alerts that are new or changed. Late and invalid events are counted
// in Stats; use Evaluate to get their ids.
func (e *Engine) Process(ctx context.Context, events []schema.Event) ([]schema.Alert, error) {
	res, err := e.Evaluate(ctx, events)
	return res.Alerts, err
}

// touchKey identifies a (rule, group) touched by a batch.
type touchKey struct {
	rs *ruleState
	g  *group
}

// Evaluate evaluates events and reports alerts, late and invalid events, and superseded alerts.
func (e *Engine) Evaluate(ctx context.Context, events []schema.Event) (Result, error) {
	var res Result
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("evaluate: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()

	limit := e.clock().Add(maxFutureSkew).UnixNano()
	// An event is late when it is older than its source's watermark minus the lateness, or too far behind the
	// fastest source (maxSourceLag). The watermarks move after the batch, so batching does not change the result.
	floor := int64(0)
	if e.watermark != 0 {
		floor = e.watermark - int64(maxSourceLag) - int64(e.lateness)
	}
	lateBefore := func(src string) int64 {
		if w, ok := e.sources[src]; ok {
			return max(w-int64(e.lateness), floor)
		}
		return floor
	}
	seen := map[string]int64{}
	touched := map[touchKey]int64{}
	for i := range events {
		ev := &events[i]
		e.stats.Events++
		if ev.ID == "" || ev.Time.IsZero() {
			id := ev.ID
			if id == "" {
				id = fmt.Sprintf("#%d", i)
			}
			res.Invalid = append(res.Invalid, id)
			e.stats.Invalid++
			continue
		}
		t := ev.Time.UnixNano()
		src := sourceOf(ev)
		if t < lateBefore(src) {
			res.Late = append(res.Late, ev.ID)
			e.stats.Late++
			continue
		}
		if t <= limit && t > seen[src] {
			seen[src] = t
		}
		e.seq++
		for _, idx := range [2]*ruleIndex{e.byType[ev.EventType], e.byTable[ev.Table]} {
			if idx == nil {
				continue
			}
			for _, rs := range idx.plain {
				e.apply(rs, ev, t, touched, &res)
			}
			for _, ai := range idx.anchored {
				var vbuf [4]string
				for _, v := range ai.f.values(ev, vbuf[:0]) {
					for _, rs := range ai.byVal[foldKey(v)] {
						if rs.seq != e.seq {
							rs.seq = e.seq
							e.apply(rs, ev, t, touched, &res)
						}
					}
				}
			}
		}
	}
	if e.sources == nil {
		e.sources = map[string]int64{}
	}
	for src, t := range seen {
		e.sources[src] = max(e.sources[src], t)
		e.watermark = max(e.watermark, t)
	}
	now := e.clock().UTC()
	keys := make([]touchKey, 0, len(touched))
	for k := range touched {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].rs.rule.ID != keys[j].rs.rule.ID {
			return keys[i].rs.rule.ID < keys[j].rs.rule.ID
		}
		if keys[i].g.tenant != keys[j].g.tenant {
			return keys[i].g.tenant < keys[j].g.tenant
		}
		return keys[i].g.display < keys[j].g.display
	})
	for _, k := range keys {
		alerts, superseded, suppressed := k.g.recompute(k.rs.rule, touched[k], now)
		res.Alerts = append(res.Alerts, alerts...)
		res.Superseded = append(res.Superseded, superseded...)
		res.Suppressed = append(res.Suppressed, suppressed...)
	}
	e.stats.Alerts += int64(len(res.Alerts))
	e.stats.Superseded += int64(len(res.Superseded))
	e.stats.Suppressed += int64(len(res.Suppressed))
	e.prune(keys)
	sort.SliceStable(res.Alerts, func(i, j int) bool {
		a, b := res.Alerts[i], res.Alerts[j]
		if !a.FirstEvent.Equal(b.FirstEvent) {
			return a.FirstEvent.Before(b.FirstEvent)
		}
		return a.ID < b.ID
	})
	if len(res.Late) > 0 {
		e.log.Warn("late events not evaluated", "count", len(res.Late), "lateness", e.lateness,
			"watermark", time.Unix(0, e.watermark).UTC())
	}
	return res, nil
}

// apply tests one event against one rule and, when it matches, adds it to its group.
func (e *Engine) apply(rs *ruleState, ev *schema.Event, t int64, touched map[touchKey]int64, res *Result) {
	r := rs.rule
	if len(r.Reads.EventTypes) > 0 && len(r.Reads.Tables) > 0 && !containsStr(r.Reads.Tables, ev.Table) {
		return
	}
	if !r.cond(ev) {
		return
	}
	e.stats.Matched++
	var sbuf [8]string
	gkey, gdisp := groupKey(r.groupBy, ev, sbuf[:0])
	full := ev.Tenant + "\x00" + gkey
	g := rs.groups[full]
	if g == nil {
		g = newGroup(ev.Tenant, gdisp)
		rs.groups[full] = g
	}
	snap := *ev
	en := entry{t: t, id: ev.ID, ev: &snap}
	if r.distinct != nil {
		en.distinct = strings.Join(r.distinct.values(ev, sbuf[:0]), ",")
	}
	en.vals = make([][]string, len(r.needed))
	for k, f := range r.needed {
		if v := f.values(ev, nil); len(v) > 0 {
			en.vals[k] = v
		}
	}
	if !g.insert(en) {
		res.Duplicates++
		e.stats.Duplicates++
		return
	}
	tk := touchKey{rs, g}
	if old, ok := touched[tk]; !ok || t < old {
		touched[tk] = t
	}
}

// prune drops finished segments: those that end more than lateness plus the rule's gap before the horizon
// (maxSourceLag behind the fastest source). No event that is not late can reach them any more.
// Touched groups are pruned every call, all groups whenever the horizon moved ten minutes since the last sweep.
func (e *Engine) prune(touched []touchKey) {
	h := e.horizon()
	for _, k := range touched {
		k.g.prune(k.rs.rule, h-int64(e.lateness)-int64(k.rs.rule.gap()))
	}
	if h-e.lastSweep < int64(10*time.Minute) {
		return
	}
	e.lastSweep = h
	for _, rs := range e.allStates() {
		for key, g := range rs.groups {
			g.prune(rs.rule, h-int64(e.lateness)-int64(rs.rule.gap()))
			if len(g.entries) == 0 {
				delete(rs.groups, key)
			}
		}
	}
}

// groupKey joins the values of key fields (each a fallback chain) into a hash key and a display form.
func groupKey(chains [][]*field, ev *schema.Event, buf []string) (key, display string) {
	if len(chains) == 0 {
		return "", ""
	}
	var kb, db strings.Builder
	for i, chain := range chains {
		var vals []string
		used, fallback := chain[0], false
		for k, f := range chain {
			vals = f.values(ev, buf[:0])
			if len(vals) > 0 {
				used, fallback = f, k > 0
				break
			}
		}
		v := strings.Join(vals, ",")
		if i > 0 {
			kb.WriteByte(0)
			db.WriteString(", ")
		}
		if fallback {
			// A fallback value is keyed apart from the same text in the first field.
			kb.WriteString(used.name)
			kb.WriteByte('=')
		}
		kb.WriteString(v)
		db.WriteString(used.name)
		db.WriteByte('=')
		db.WriteString(v)
	}
	return kb.String(), db.String()
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// alertID is the deterministic alert identity.
func alertID(r *Rule, tenant, group string, start int64, firstID string) string {
	h := sha256.New()
	for _, s := range []string{r.ID, r.Version, tenant, group, time.Unix(0, start).UTC().Format(time.RFC3339Nano), firstID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
