package collect

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/castwatch/castwatch/internal/metrics"
)

// Metrics holds the collectors' Prometheus metrics, labelled by tenant and stream. Build it once with NewMetrics
// and share it between collectors.
type Metrics struct {
	// Pages counts fetched pages.
	Pages *prometheus.CounterVec
	// Rows counts fetched records.
	Rows *prometheus.CounterVec
	// Errors counts failed runs.
	Errors *prometheus.CounterVec
	// LastSuccess is the Unix time a run last caught up.
	LastSuccess *prometheus.GaugeVec
	// Lag is how far, in seconds, the end of the last completed window is behind the clock.
	Lag *prometheus.GaugeVec
}

// NewMetrics builds the collector metrics and registers them with reg when reg is not nil. A registry that
// already holds them (NewMetrics called twice) hands back the registered ones instead of failing.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	labels := []string{"tenant", "stream"}
	m := &Metrics{
		Pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castwatch_collect_pages_total", Help: "Pages fetched by collectors.",
		}, labels),
		Rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castwatch_collect_rows_total", Help: "Records fetched by collectors.",
		}, labels),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castwatch_collect_errors_total", Help: "Collector runs that failed.",
		}, labels),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "castwatch_collect_last_success_timestamp_seconds", Help: "Unix time a collector last caught up.",
		}, labels),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "castwatch_collect_lag_seconds", Help: "Seconds between the clock and the end of the last completed window.",
		}, labels),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.Pages, err = metrics.Register(reg, m.Pages); err != nil {
		return nil, err
	}
	if m.Rows, err = metrics.Register(reg, m.Rows); err != nil {
		return nil, err
	}
	if m.Errors, err = metrics.Register(reg, m.Errors); err != nil {
		return nil, err
	}
	if m.LastSuccess, err = metrics.Register(reg, m.LastSuccess); err != nil {
		return nil, err
	}
	if m.Lag, err = metrics.Register(reg, m.Lag); err != nil {
		return nil, err
	}
	return m, nil
}
