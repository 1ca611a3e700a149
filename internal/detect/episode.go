package detect

import (
	"slices"
	"sort"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// entry is one matched event as a group keeps it: only what alerts are built from.
type entry struct {
	t        int64
	id       string
	distinct string
	// vals holds the values of the rule's needed fields, in Rule.needed order.
	vals [][]string
	// ev is a copy of the matched event, for the alert's snapshot of its events.
	ev *schema.Event
}

func (a *entry) less(b *entry) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	return a.id < b.id
}

// emitted remembers an alert already returned for a group, to report growth and supersession.
type emitted struct {
	start int64
	n     int
}

// group is the state of one (rule, tenant, group key): its matched events sorted by (time, id).
type group struct {
	tenant  string
	display string
	entries []entry
	ids     map[string]struct{}
	emitted map[string]emitted
	// suppressed holds the ids (and anchor times) of episodes withheld by the rule's suppression period.
	suppressed map[string]int64
}

func newGroup(tenant, display string) *group {
	return &group{tenant: tenant, display: display, ids: map[string]struct{}{}, emitted: map[string]emitted{},
		suppressed: map[string]int64{}}
}

// insert adds en in (time, id) order; it reports false when the event id is already held.
func (g *group) insert(en entry) bool {
	if _, dup := g.ids[en.id]; dup {
		return false
	}
	g.ids[en.id] = struct{}{}
	n := len(g.entries)
	if n == 0 || g.entries[n-1].less(&en) {
		g.entries = append(g.entries, en)
		return true
	}
	i := sort.Search(n, func(i int) bool { return en.less(&g.entries[i]) })
	g.entries = append(g.entries, entry{})
	copy(g.entries[i+1:], g.entries[i:])
	g.entries[i] = en
	return true
}

// isCut reports whether entry i starts a segment: the first entry, the first after a quiet gap longer than
// gap, or the first of a new UTC day. Segments are evaluated independently of each other.
func (g *group) isCut(i int, gap int64) bool {
	if i == 0 {
		return true
	}
	a, b := g.entries[i-1].t, g.entries[i].t
	return b-a > gap || floorDiv(a, int64(horizon)) != floorDiv(b, int64(horizon))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// segmentStart returns the start of the segment holding entry i.
func (g *group) segmentStart(i int, gap int64) int {
	for i > 0 && !g.isCut(i, gap) {
		i--
	}
	return i
}

// episode is one alert being built: the entries [start, end).
type episode struct {
	id         string
	start, end int
	// suppressed is set when the rule's suppression period withholds the alert.
	suppressed bool
}

// recompute re-evaluates every segment from the one holding time from to the end, returning alerts that are
// new or grew, and ids of alerts emitted before that no longer exist.
func (g *group) recompute(r *Rule, from int64, now time.Time) (alerts []schema.Alert, superseded, suppressed []string) {
	gap := int64(r.gap())
	first := sort.Search(len(g.entries), func(i int) bool { return g.entries[i].t >= from })
	if first == len(g.entries) {
		first = len(g.entries) - 1
	}
	s := g.segmentStart(first, gap)
	startT := g.entries[s].t
	var eps []*episode
	for s < len(g.entries) {
		e := s + 1
		for e < len(g.entries) && !g.isCut(e, gap) {
			e++
		}
		eps = g.scan(r, s, e, eps)
		s = e
	}
	live := map[string]bool{}
	for _, ep := range eps {
		if ep.suppressed {
			if _, ok := g.suppressed[ep.id]; !ok {
				g.suppressed[ep.id] = g.entries[ep.start].t
				suppressed = append(suppressed, ep.id)
			}
			continue
		}
		delete(g.suppressed, ep.id)
		live[ep.id] = true
		n := ep.end - ep.start
		if prev, ok := g.emitted[ep.id]; ok && prev.n == n {
			continue
		}
		g.emitted[ep.id] = emitted{start: g.entries[ep.start].t, n: n}
		alerts = append(alerts, g.buildAlert(r, ep, now))
	}
	for id, em := range g.emitted {
		if em.start >= startT && !live[id] {
			superseded = append(superseded, id)
			delete(g.emitted, id)
		}
	}
	for id, start := range g.suppressed {
		if start >= startT && !slices.ContainsFunc(eps, func(ep *episode) bool { return ep.id == id && ep.suppressed }) {
			delete(g.suppressed, id) // the episode no longer exists (a late event moved its anchor)
		}
	}
	sort.Strings(superseded)
	return alerts, superseded, suppressed
}

// scan finds the episodes of segment [s, e). An episode is anchored at the earliest event not yet in an episode
// whose window [t, t+window] meets the threshold. It takes every event of [t, t+extent], where extent is the
// longer of the window and the dedup period, and the scan resumes after it. Membership depends only on the
// anchor and event times, so an event arriving late can add to an episode but never take one away.
func (g *group) scan(r *Rule, s, e int, eps []*episode) []*episode {
	first := len(eps)
	w := int64(r.window())
	extent := int64(r.extent())
	op, value := "gte", 1
	if r.Threshold != nil {
		op, value = r.Threshold.Op, r.Threshold.Value
	}
	meets := func(n int) bool {
		if op == "gt" {
			return n > value
		}
		return n >= value
	}
	counts := map[string]int{}
	j := s // exclusive end of the window of anchor i
	for i := s; i < e; {
		for j < e && g.entries[j].t-g.entries[i].t <= w {
			if r.distinct != nil {
				counts[g.entries[j].distinct]++
			}
			j++
		}
		n := j - i
		if r.distinct != nil {
			n = len(counts)
			if _, ok := counts[""]; ok {
				n-- // an absent value is not a distinct value
			}
		}
		if !meets(n) {
			if r.distinct != nil {
				d := g.entries[i].distinct
				if counts[d]--; counts[d] == 0 {
					delete(counts, d)
				}
			}
			i++
			continue
		}
		for j < e && g.entries[j].t-g.entries[i].t <= extent {
			j++
		}
		a := &g.entries[i]
		eps = append(eps, &episode{id: alertID(r, g.tenant, g.display, a.t, a.id), start: i, end: j})
		i = j
		clear(counts)
	}
	if r.Suppress > 0 {
		// Within a segment (the gap is at least the suppression period, so earlier segments cannot reach),
		// an episode that starts within the period after the last one kept is withheld.
		kept := int64(0)
		haveKept := false
		for _, ep := range eps[first:] {
			t := g.entries[ep.start].t
			if haveKept && t-kept < int64(r.Suppress) {
				ep.suppressed = true
				continue
			}
			kept, haveKept = t, true
		}
	}
	return eps
}

// prune removes whole segments that end before horizonT, and the emitted marks of alerts that start there.
func (g *group) prune(r *Rule, horizonT int64) {
	k := sort.Search(len(g.entries), func(i int) bool { return g.entries[i].t >= horizonT })
	if k == 0 {
		return
	}
	s := len(g.entries)
	if k < len(g.entries) {
		s = g.segmentStart(k, int64(r.gap()))
	}
	if s == 0 {
		return
	}
	for _, en := range g.entries[:s] {
		delete(g.ids, en.id)
	}
	cut := int64(1<<63 - 1)
	if s < len(g.entries) {
		cut = g.entries[s].t
	}
	for id, em := range g.emitted {
		if em.start < cut {
			delete(g.emitted, id)
		}
	}
	for id, start := range g.suppressed {
		if start < cut {
			delete(g.suppressed, id)
		}
	}
	g.entries = append(g.entries[:0:0], g.entries[s:]...)
}
