package mimecast

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/castwatch/castwatch/internal/metrics"
)

// Metrics holds the client's Prometheus collectors. One Metrics value may be shared by many clients (one per
// tenant); build it once with NewMetrics and pass it with WithMetrics.
type Metrics struct {
	// Requests counts HTTP requests by path and status ("200", "429", … or "error" for transport failures).
	Requests *prometheus.CounterVec
	// Duration observes request latency in seconds by path.
	Duration *prometheus.HistogramVec
	// Retries counts retried attempts by path and reason (status code, "network", "timeout", "unauthorized").
	Retries *prometheus.CounterVec
	// RateLimitWaits counts calls that waited for a rate-limit window to reset, by path.
	RateLimitWaits *prometheus.CounterVec
}

// NewMetrics builds the client collectors and registers them with reg when reg is not nil. Registering with a
// registry that already holds the same collectors reuses the registered ones instead of failing, so calling
// NewMetrics twice with one registry is safe.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castwatch_mimecast_requests_total",
			Help: "Mimecast API requests by path and HTTP status.",
		}, []string{"path", "status"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "castwatch_mimecast_request_seconds",
			Help:    "Mimecast API request latency in seconds by path.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
		}, []string{"path"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castwatch_mimecast_retries_total",
			Help: "Mimecast API request retries by path and reason.",
		}, []string{"path", "reason"}),
		RateLimitWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castwatch_mimecast_ratelimit_waits_total",
			Help: "Mimecast API calls delayed until a rate-limit window reset, by path.",
		}, []string{"path"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.Requests, err = metrics.Register(reg, m.Requests); err != nil {
		return nil, err
	}
	if m.Duration, err = metrics.Register(reg, m.Duration); err != nil {
		return nil, err
	}
	if m.Retries, err = metrics.Register(reg, m.Retries); err != nil {
		return nil, err
	}
	if m.RateLimitWaits, err = metrics.Register(reg, m.RateLimitWaits); err != nil {
		return nil, err
	}
	return m, nil
}
