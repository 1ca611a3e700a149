package ueba

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCountIndexAgreesWithScan trains a large scope at random (new values, repeats, evictions when full, aging)
// and checks after every step that the indexed answers equal a scan of the bins.
func TestCountIndexAgreesWithScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := &scope{}
	full := false
	for step := range 20000 {
		d := day(step / 400)
		v := uint32(r.IntN(1500))
		if r.IntN(4) > 0 {
			v = uint32(r.NormFloat64()*30) + 2000
		}
		s.addCategorical(v, d, MaxBins)
		full = full || len(s.Bins) == MaxBins
		if step%2500 == 2499 {
			s.age(d+20, 30, Categorical)
		}
		if step%97 != 0 && step < 19990 {
			continue
		}
		var singles uint32
		for _, b := range s.Bins {
			if b.Count == 1 {
				singles++
			}
		}
		probe := s.Bins[r.IntN(len(s.Bins))]
		var tail uint32
		rank := 1
		for _, b := range s.Bins {
			if b.Count <= probe.Count {
				tail += b.Count
			} else {
				rank++
			}
		}
		if !slices.IsSortedFunc(s.Bins, func(a, b bin) int { return cmp.Compare(a.Val, b.Val) }) {
			t.Fatalf("step %d: values are not sorted", step)
		}
		if len(s.Bins) >= indexFrom && s.index() == nil {
			t.Fatalf("step %d: a scope of %d values has no index", step, len(s.Bins))
		}
		if got := s.singles(); got != singles {
			t.Fatalf("step %d: singles %d, scan %d", step, got, singles)
		}
		if got, want := s.rareShare(probe.Val), float64(tail)/float64(s.N); got != want {
			t.Fatalf("step %d: rareShare %v, scan %v", step, got, want)
		}
		if got := s.rank(probe.Val); got != rank {
			t.Fatalf("step %d: rank %d, scan %d", step, got, rank)
		}
	}
	if !full {
		t.Error("the test should fill the scope, so that values are evicted")
	}
}

// TestWideScopesHoldMoreValues: an organisation's histogram sees every user's values, so it must not evict at the
// per-user cap (each evicted value would be "first for the organisation" again the next time anyone uses it).
func TestWideScopesHoldMoreValues(t *testing.T) {
	c, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	limits := map[string]int{}
	for _, m := range c.Models {
		limits[m.Scope] = max(limits[m.Scope], m.maxBins())
	}
	if limits[ScopeOrg] != MaxBinsOrg || limits[ScopePeer] != MaxBinsPeer || limits[ScopeUser] != MaxBins {
		t.Fatalf("caps by scope = %v", limits)
	}
	org, user := &scope{}, &scope{}
	for v := range uint32(3 * MaxBins) {
		org.addCategorical(v, 1, MaxBinsOrg)
		user.addCategorical(v, 1, MaxBins)
	}
	if len(org.Bins) != 3*MaxBins || org.count(0) != 1 {
		t.Errorf("organisation histogram kept %d of %d values", len(org.Bins), 3*MaxBins)
	}
	if len(user.Bins) != MaxBins {
		t.Errorf("user histogram holds %d values, cap %d", len(user.Bins), MaxBins)
	}
}
