package ueba

import (
	"math"
	"slices"
)

// day numbers UTC days since 1970-01-01.
type day = int32

// bin is one value of a categorical histogram. Values are interned (see interner), so a bin is 16 bytes.
type bin struct {
	Val   uint32
	Count uint32
	First day
	Last  day
}

// numDay holds one day's observations of a numerical model, in log space (log1p of the value).
type numDay struct {
	Day   day
	N     uint32
	Sum   float64
	SumSq float64
	Max   float64
}

// scope is one model's state for one scope key (one user, one peer group, the organisation, one application …).
type scope struct {
	// N is the number of observations held (after aging).
	N uint32
	// Days counts the distinct days with an observation; FirstDay and LastDay bound them.
	Days     uint16
	FirstDay day
	LastDay  day
	// Bins are the categorical values, sorted by Val.
	Bins []bin
	// Tow counts observations per hour of the week (time-of-week models).
	Tow []uint32
	// Num holds a numerical model's days, oldest first, within the aging window.
	Num []numDay
	// idx indexes the values' counts of a large categorical scope; nil until asked for (it is not saved: Restore
	// rebuilds it on first use).
	idx *countIndex
}

// indexFrom is the number of values from which a scope keeps a count index; smaller scopes are scanned.
const indexFrom = 64

// countIndex answers for a categorical scope, in O(log n), how many values have a count and how many observations
// they hold: two Fenwick trees over the count, and the number of values seen once.
type countIndex struct {
	singles uint32
	// values[k] and obs[k] (cumulative, Fenwick-style) count the values with count k and their observations.
	values, obs fenwick
}

// fenwick is a Fenwick (binary indexed) tree over 1..len-1.
type fenwick []int64

func (f fenwick) add(i int, d int64) {
	for ; i < len(f); i += i & -i {
		f[i] += d
	}
}

// sum is the total over 1..i.
func (f fenwick) sum(i int) int64 {
	var t int64
	for i = min(i, len(f)-1); i > 0; i -= i & -i {
		t += f[i]
	}
	return t
}

// index returns the scope's count index, building it when the scope is large enough; nil for a small scope.
func (s *scope) index() *countIndex {
	if s.idx != nil || len(s.Bins) < indexFrom {
		return s.idx
	}
	var top uint32
	for _, b := range s.Bins {
		top = max(top, b.Count)
	}
	size := 64
	for size <= int(top)*2 {
		size *= 2
	}
	ix := &countIndex{values: make(fenwick, size), obs: make(fenwick, size)}
	for _, b := range s.Bins {
		ix.move(0, b.Count)
	}
	s.idx = ix
	return ix
}

// move records that a value's count went from one number to another (0: absent).
func (ix *countIndex) move(from, to uint32) {
	if from == 1 {
		ix.singles--
	}
	if to == 1 {
		ix.singles++
	}
	if from > 0 {
		ix.values.add(int(from), -1)
		ix.obs.add(int(from), -int64(from))
	}
	if to > 0 {
		ix.values.add(int(to), 1)
		ix.obs.add(int(to), int64(to))
	}
}

// recount updates the index, if any, for a value whose count changed; a count beyond the index's range drops it,
// to be rebuilt larger when next asked for.
func (s *scope) recount(from, to uint32) {
	if s.idx == nil {
		return
	}
	if int(to) >= len(s.idx.values) {
		s.idx = nil
		return
	}
	s.idx.move(from, to)
}

// observeDay records that an observation happened on d.
func (s *scope) observeDay(d day) {
	if s.Days == 0 {
		s.FirstDay = d
	}
	if s.Days == 0 || d > s.LastDay {
		if s.Days < math.MaxUint16 {
			s.Days++
		}
		s.LastDay = d
	}
}

// find returns the index of value v in Bins and whether it is there.
func (s *scope) find(v uint32) (int, bool) {
	return slices.BinarySearchFunc(s.Bins, v, func(b bin, v uint32) int {
		switch {
		case b.Val < v:
			return -1
		case b.Val > v:
			return 1
		}
		return 0
	})
}

// count returns how often v was observed.
func (s *scope) count(v uint32) uint32 {
	if i, ok := s.find(v); ok {
		return s.Bins[i].Count
	}
	return 0
}

// addCategorical counts one observation of v on d. When the histogram is full, the least recently seen value
// makes room.
func (s *scope) addCategorical(v uint32, d day, limit int) {
	s.observeDay(d)
	s.N++
	if i, ok := s.find(v); ok {
		s.Bins[i].Count++
		s.Bins[i].Last = max(s.Bins[i].Last, d)
		s.recount(s.Bins[i].Count-1, s.Bins[i].Count)
		return
	}
	nb := bin{Val: v, Count: 1, First: d, Last: d}
	i, _ := s.find(v)
	s.recount(0, 1)
	if len(s.Bins) < limit {
		s.Bins = slices.Insert(s.Bins, i, nb)
		return
	}
	oldest := 0
	for j, b := range s.Bins {
		if b.Last < s.Bins[oldest].Last {
			oldest = j
		}
	}
	s.N -= s.Bins[oldest].Count
	s.recount(s.Bins[oldest].Count, 0)
	// Replace the evicted value by the new one with one shift of the values between them.
	if oldest < i {
		copy(s.Bins[oldest:i-1], s.Bins[oldest+1:i])
		s.Bins[i-1] = nb
	} else {
		copy(s.Bins[i+1:oldest+1], s.Bins[i:oldest])
		s.Bins[i] = nb
	}
}

// singles counts values seen exactly once.
func (s *scope) singles() uint32 {
	if ix := s.index(); ix != nil {
		return ix.singles
	}
	var n uint32
	for _, b := range s.Bins {
		if b.Count == 1 {
			n++
		}
	}
	return n
}

// confidence is the model's confidence factor: 1 − (values seen once / observations), the Good–Turing estimate
// of the chance that the next observation repeats a known value. Numerical and time-of-week models, which have
// no values to repeat, are as confident as they have observations (n / (n + 1) ≥ 0.8 from four on).
func (s *scope) confidence(kind string) float64 {
	if s.N == 0 {
		return 0
	}
	if kind != Categorical {
		return float64(s.N) / float64(s.N+1)
	}
	return 1 - float64(s.singles())/float64(s.N)
}

// converged reports whether the scope's model may be used by rules.
func (s *scope) converged(kind string, c Convergence) bool {
	return s != nil && int(s.N) >= c.MinObservations && int(s.Days) >= c.MinDays && s.confidence(kind) >= c.Confidence
}

// rareShare is the share of observations of values at most as frequent as v (v itself included): a value is
// abnormal when the rare tail it belongs to is small.
func (s *scope) rareShare(v uint32) float64 {
	c := s.count(v)
	if c == 0 || s.N == 0 {
		return 0
	}
	if ix := s.index(); ix != nil {
		return float64(ix.obs.sum(int(c))) / float64(s.N)
	}
	var tail uint32
	for _, b := range s.Bins {
		if b.Count <= c {
			tail += b.Count
		}
	}
	return float64(tail) / float64(s.N)
}

// rank is 1 + the number of values more frequent than v.
func (s *scope) rank(v uint32) int {
	c := s.count(v)
	if ix := s.index(); ix != nil {
		return 1 + len(s.Bins) - int(ix.values.sum(int(c)))
	}
	r := 1
	for _, b := range s.Bins {
		if b.Count > c {
			r++
		}
	}
	return r
}

// addTow counts one observation at hour-of-week h.
func (s *scope) addTow(h int, d day) {
	if s.Tow == nil {
		s.Tow = make([]uint32, 168)
	}
	s.observeDay(d)
	s.N++
	s.Tow[h]++
}

// towShare is the smoothed share of observations at hour h: the hour counts twice, the hours before and after it
// and the same hour of the day before and of the day after once each (the week is cyclic: Sunday 23:00 is next to
// Monday 00:00, Sunday next to Monday), over six times the total. Counting the neighbouring days makes a working
// hour usual once the user has worked it on a neighbouring day, so a first Thursday 09:00 after Monday to
// Wednesday 09:00 is not rare; an hour the user never works in, nor next to, stays rare.
func (s *scope) towShare(h int) float64 {
	if s.N == 0 || s.Tow == nil {
		return 0
	}
	at := func(d int) uint32 { return s.Tow[(h+d+168)%168] }
	return float64(2*at(0)+at(-1)+at(1)+at(-24)+at(24)) / float64(6*s.N)
}

// addNumber records one numerical observation on d.
func (s *scope) addNumber(x float64, d day) {
	s.observeDay(d)
	s.N++
	l := math.Log1p(max(x, 0))
	if n := len(s.Num); n > 0 && s.Num[n-1].Day == d {
		nd := &s.Num[n-1]
		nd.N++
		nd.Sum += l
		nd.SumSq += l * l
		nd.Max = max(nd.Max, x)
		return
	}
	s.Num = append(s.Num, numDay{Day: d, N: 1, Sum: l, SumSq: l * l, Max: x})
}

// numUpper is the top of the fitted range: the larger of the largest value seen and exp(μ+3σ)−1 of the log-normal
// fitted to the observations.
func (s *scope) numUpper() float64 {
	var n, sum, sq, mx float64
	for _, d := range s.Num {
		n += float64(d.N)
		sum += d.Sum
		sq += d.SumSq
		mx = max(mx, d.Max)
	}
	if n == 0 {
		return 0
	}
	mu := sum / n
	sigma := math.Sqrt(max(sq/n-mu*mu, 0))
	return max(mx, math.Expm1(mu+3*sigma))
}

// age drops what is older than the aging window on day today: categorical values last seen before it, numerical
// days before it; time-of-week counts are halved once per window. It reports whether the scope is now empty.
func (s *scope) age(today day, window day, kind string) bool {
	cut := today - window
	switch kind {
	case Categorical:
		s.idx = nil
		kept := s.Bins[:0]
		s.N = 0
		for _, b := range s.Bins {
			if b.Last >= cut {
				kept = append(kept, b)
				s.N += b.Count
			}
		}
		s.Bins = kept
	case Numerical:
		i := 0
		for i < len(s.Num) && s.Num[i].Day < cut {
			i++
		}
		s.Num = s.Num[i:]
		s.N = 0
		for _, d := range s.Num {
			s.N += d.N
		}
	case TimeOfWeek:
		if window > 0 && (today-s.FirstDay) > 0 && (today-s.FirstDay)%window == 0 && s.Tow != nil {
			s.N = 0
			for h := range s.Tow {
				s.Tow[h] /= 2
				s.N += s.Tow[h]
			}
		}
	}
	if s.N == 0 {
		return true
	}
	if s.FirstDay < cut {
		// The days counted before the window no longer vouch for the model.
		span := int(s.LastDay-cut) + 1
		s.Days = uint16(min(int(s.Days), max(span, 1)))
		s.FirstDay = cut
	}
	return false
}
