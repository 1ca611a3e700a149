package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/castwatch/castwatch/internal/metrics"
)

// Metrics holds the store consumer's Prometheus metrics, labelled by tenant and table. Build it once with
// NewMetrics.
type Metrics struct {
	// Batches counts batches stored and acknowledged.
	Batches *prometheus.CounterVec
	// Rows counts decoded rows written; New those the store did not already hold.
	Rows *prometheus.CounterVec
	New  *prometheus.CounterVec
	// Quarantined counts records set aside.
	Quarantined *prometheus.CounterVec
	// Failures counts batch deliveries that failed and were left for redelivery.
	Failures *prometheus.CounterVec
}

// NewMetrics builds the metrics and registers them with reg when reg is not nil. A registry that already holds
// them (NewMetrics called twice) hands back the registered ones instead of failing.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	labels := []string{"tenant", "table"}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		Batches:     counter("castwatch_ingest_batches_total", "Batches stored and acknowledged."),
		Rows:        counter("castwatch_ingest_rows_total", "Rows decoded and written to the store."),
		New:         counter("castwatch_ingest_rows_new_total", "Rows the store did not hold before."),
		Quarantined: counter("castwatch_ingest_quarantined_total", "Records quarantined as undecodable."),
		Failures:    counter("castwatch_ingest_failures_total", "Batch deliveries that failed and will be redelivered."),
	}
	if reg == nil {
		return m, nil
	}
	for _, p := range []**prometheus.CounterVec{&m.Batches, &m.Rows, &m.New, &m.Quarantined, &m.Failures} {
		got, err := metrics.Register(reg, *p)
		if err != nil {
			return nil, err
		}
		*p = got
	}
	return m, nil
}
