package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterTwiceReturnsTheFirst(t *testing.T) {
	reg := prometheus.NewRegistry()
	newVec := func() *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"a"})
	}
	first, err := Register(reg, newVec())
	if err != nil {
		t.Fatal(err)
	}
	second, err := Register(reg, newVec())
	if err != nil || second != first {
		t.Fatalf("second registration: %v, same collector %v", err, second == first)
	}
	// A different collector under the same name is a real conflict.
	clash := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "x_total", Help: "other"}, []string{"a"})
	if _, err := Register(reg, clash); err == nil {
		t.Fatal("a conflicting collector was accepted")
	}
}
