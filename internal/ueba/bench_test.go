//go:build unix

package ueba

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's CPU time so far (all threads, garbage collection included): on a shared machine it
// measures the work better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEvaluateTrain measures the evaluate+train path with all built-in content: 500 users' models learn
// ten days of generated traffic (not timed), then each iteration restores that state and processes the next
// working day. The organisation-wide models hold about a thousand values, so per-call scans of their histograms
// show up here.
// "facts" runs the fact and session rules without models, as castwatch bench ueba compares.
func BenchmarkEvaluateTrain(b *testing.B) {
	c, err := LoadBuiltin()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("all", func(b *testing.B) { benchmarkDay(b, c) })
	facts := Content{}
	for _, r := range c.Rules {
		if r.Model == "" {
			facts.Rules = append(facts.Rules, r)
		}
	}
	b.Run("facts", func(b *testing.B) { benchmarkDay(b, facts) })
}

func benchmarkDay(b *testing.B, c Content) {
	tr := newTraffic(500, 3)
	eng := New(c.Models, c.Rules, Options{Context: tr.ctx})
	for d := range 14 {
		eng.Process(tr.day(d))
	}
	snap, err := eng.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	day := tr.day(14)
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		eng = New(c.Models, c.Rules, Options{Context: tr.ctx})
		if err := eng.Restore(snap); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := cpuTime()
		eng.Process(day)
		cpu += cpuTime() - start
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(day)), "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(day)), "cpu-ns/event")
}

// BenchmarkLargeScope measures one evaluate+train round on an organisation-sized categorical scope (1,000 values):
// the convergence check (values seen once), the abnormal rule's rare share, the top rule's rank, then training.
func BenchmarkLargeScope(b *testing.B) {
	s := &scope{}
	for i := range 20000 {
		s.addCategorical(uint32(i*7919%1400), day(i/1000), MaxBins)
	}
	c := DefaultConvergence
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		v := uint32(i * 104729 % 1400)
		if s.converged(Categorical, c) && s.rareShare(v) <= DefaultRareShare {
			_ = s.rank(v)
		}
		s.addCategorical(v, 20, MaxBins)
		i++
	}
}
