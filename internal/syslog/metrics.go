package syslog

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/castwatch/castwatch/internal/metrics"
)

// maxReasonLabels bounds the distinct reason labels of castwatch_syslog_rejected_total; further reasons are
// counted as "other" (a parser error text could otherwise grow the label set without bound).
const maxReasonLabels = 64

// Metrics holds the listener's Prometheus metrics. Build it with NewMetrics.
type Metrics struct {
	// Received counts messages read, by transport (udp, tcp, tls), oversize ones included.
	Received *prometheus.CounterVec
	// Rejected counts rejection items, by reason: the listener's (message too large, truncated frame) and
	// rawlog's (unknown format, invalid json, …).
	Rejected *prometheus.CounterVec
	// Dropped counts messages thrown away before parsing, by transport and reason (queue full).
	Dropped *prometheus.CounterVec
	// ConnectionsRefused counts TCP and TLS connections closed at once (too many connections, TLS handshake).
	ConnectionsRefused *prometheus.CounterVec
	// Batches counts batches the sink accepted; Items the items in them.
	Batches prometheus.Counter
	Items   prometheus.Counter
	// DeliveryFailures counts failed sink calls (every attempt).
	DeliveryFailures prometheus.Counter
	// LostBatches counts batches given up after the last attempt; LostItems the items in them.
	LostBatches prometheus.Counter
	LostItems   prometheus.Counter

	mu      sync.Mutex
	reasons map[string]bool
}

// NewMetrics builds the metrics and registers them with reg when reg is not nil. A registry that already holds
// them (NewMetrics called twice) hands back the registered ones instead of failing.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		Received: vec("castwatch_syslog_messages_received_total", "Syslog messages read, by transport.", "transport"),
		Rejected: vec("castwatch_syslog_rejected_total", "Syslog messages and records rejected (quarantined), by reason.", "reason"),
		Dropped: vec("castwatch_syslog_dropped_total",
			"Syslog messages dropped before parsing, by transport and reason.", "transport", "reason"),
		ConnectionsRefused: vec("castwatch_syslog_connections_refused_total",
			"Syslog TCP/TLS connections closed at once, by transport and reason.", "transport", "reason"),
		Batches:          counter("castwatch_syslog_batches_delivered_total", "Batches of syslog items the sink accepted."),
		Items:            counter("castwatch_syslog_items_delivered_total", "Syslog items in the batches the sink accepted."),
		DeliveryFailures: counter("castwatch_syslog_delivery_failures_total", "Failed deliveries of a batch to the sink (each attempt)."),
		LostBatches:      counter("castwatch_syslog_batches_lost_total", "Batches given up after the last delivery attempt."),
		LostItems:        counter("castwatch_syslog_items_lost_total", "Syslog items in the batches given up."),
		reasons:          map[string]bool{},
	}
	if reg == nil {
		return m, nil
	}
	var err error
	for _, p := range []**prometheus.CounterVec{&m.Received, &m.Rejected, &m.Dropped, &m.ConnectionsRefused} {
		if *p, err = metrics.Register(reg, *p); err != nil {
			return nil, err
		}
	}
	for _, p := range []*prometheus.Counter{&m.Batches, &m.Items, &m.DeliveryFailures, &m.LostBatches, &m.LostItems} {
		if *p, err = metrics.Register(reg, *p); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// reject counts one rejection, folding reasons past maxReasonLabels into "other".
func (m *Metrics) reject(reason string) {
	m.mu.Lock()
	if !m.reasons[reason] {
		if len(m.reasons) >= maxReasonLabels {
			reason = "other"
		}
		m.reasons[reason] = true
	}
	m.mu.Unlock()
	m.Rejected.WithLabelValues(reason).Inc()
}
