package ueba

import (
	"slices"
	"strings"
)

// Defaults of a rule's Rare threshold by model kind.
const (
	// DefaultRareShare: a categorical value is abnormal when it and the values no more frequent than it make up at
	// most 10% of the observations (Exabeam's example PercentileThreshold is 0.1).
	DefaultRareShare = 0.1
	// DefaultRareHour: an hour of the week is abnormal when its smoothed share is under 0.2% (a user active 40
	// working hours a week has about 2.5% per hour).
	DefaultRareHour = 0.002
)

// evalRule runs one rule on an event whose condition held.
func (e *Engine) evalRule(r *Rule, x *ev) {
	switch r.Kind {
	case KindFact:
		vals := []string{""}
		if r.value != nil {
			if vals = r.listed(x, r.value(x)); len(vals) == 0 {
				return
			}
		}
		for _, v := range vals {
			e.score(r, x, v)
		}
	case KindSessionCount:
		x.sess.Acc[r.ID]++
		if x.sess.Acc[r.ID] == r.Threshold {
			e.score(r, x, formatNumber(r.Threshold))
		}
	case KindSessionSum:
		v, ok := r.sum(x)
		if !ok {
			return
		}
		before := x.sess.Acc[r.ID]
		x.sess.Acc[r.ID] = before + v
		if before <= r.Threshold && before+v > r.Threshold {
			e.score(r, x, formatNumber(before+v))
		}
	case KindSessionDistinct:
		d := x.sess.Distinct[r.ID]
		for _, v := range r.value(x) {
			if !slices.Contains(d, v) {
				d = append(d, v)
				if float64(len(d)) == r.Threshold {
					x.sess.Distinct[r.ID] = d
					e.score(r, x, strings.Join(d, ", "))
				}
			}
		}
		x.sess.Distinct[r.ID] = d
	default:
		e.evalModelRule(r, x)
	}
}

// evalModelRule runs a first, abnormal, seen or top rule against its model, before the event trains it.
func (e *Engine) evalModelRule(r *Rule, x *ev) {
	m := r.model
	defer func() { x.scope = "" }()
	for _, sk := range m.scope(x) {
		x.scope = sk
		sc := e.st.Scopes[m.ID][sk]
		switch r.Kind {
		case KindFirst:
			e.evalFirst(r, x, sc)
		case KindAbnormal:
			e.evalAbnormal(r, x, sc)
		case KindSeen:
			e.evalSeen(r, x, sk, sc)
		case KindTop:
			for _, v := range m.feature(x) {
				id, ok := e.lookup(v)
				if ok && sc != nil && int(sc.count(id)) >= r.MinCount && sc.rank(id) <= r.Top {
					e.score(r, x, v)
				}
			}
		}
	}
}

func (e *Engine) evalFirst(r *Rule, x *ev, sc *scope) {
	m := r.model
	vals := m.feature(x)
	if len(vals) == 0 {
		return
	}
	if r.NoHistory {
		start, ok := e.st.ModelStart[m.ID]
		mature := ok && int(dayOf(x.Time)-start) >= m.Convergence.MinDays
		if mature && (sc == nil || sc.N == 0) {
			e.score(r, x, vals[0])
		}
		return
	}
	if !sc.converged(m.Kind, m.Convergence) {
		return
	}
	for _, v := range vals {
		if id, ok := e.lookup(v); ok && sc.count(id) > 0 {
			continue
		}
		if r.NewInSession == 0 {
			e.score(r, x, v)
			continue
		}
		seen := x.sess.New[m.ID]
		if !slices.Contains(seen, v) {
			seen = append(seen, v)
			x.sess.New[m.ID] = seen
		}
		if len(seen) >= r.NewInSession {
			e.score(r, x, strings.Join(seen, ", "))
		}
	}
}

func (e *Engine) evalAbnormal(r *Rule, x *ev, sc *scope) {
	m := r.model
	if !sc.converged(m.Kind, m.Convergence) {
		return
	}
	switch m.Kind {
	case Numerical:
		v, ok := numbers[m.Feature](x)
		if m.SessionTotal {
			v, ok = x.sess.Totals[m.ID], true
			if nv, nok := numbers[m.Feature](x); nok {
				v += nv
			}
		}
		if ok && v > sc.numUpper() {
			e.score(r, x, formatNumber(v))
		}
	case TimeOfWeek:
		h := towHour(x.Time)
		if sc.towShare(h) < r.Rare {
			e.score(r, x, towLabel(h))
		}
	default:
		for _, v := range m.feature(x) {
			id, ok := e.lookup(v)
			if ok && sc.count(id) > 0 && sc.rareShare(id) <= r.Rare {
				e.score(r, x, v)
			}
		}
	}
}

func (e *Engine) evalSeen(r *Rule, x *ev, sk string, sc *scope) {
	if sc == nil || sc.N == 0 {
		return
	}
	if r.AnyValue {
		e.score(r, x, sk)
		return
	}
	for _, v := range r.model.feature(x) {
		if id, ok := e.lookup(v); ok && sc.count(id) > 0 {
			e.score(r, x, v)
		}
	}
}

// listed keeps the values on the rule's value_list (all of them when it has none).
func (r *Rule) listed(x *ev, vals []string) []string {
	if r.ValueList == "" {
		return vals
	}
	out := vals[:0:0]
	for _, v := range vals {
		if x.ctx.InList(r.ValueList, r.listKey(v)) {
			out = append(out, v)
		}
	}
	return out
}
