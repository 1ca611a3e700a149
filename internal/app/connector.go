package app

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/store"
)

// Connector states.
const (
	StateIdle        = "idle"
	StateRunning     = "running"
	StateOK          = "ok"
	StateError       = "error"
	StateUnavailable = "unavailable"
)

// ConnectorStatus is what castwatch knows of one tenant's stream: the same record the store keeps, with
// Rows and Pages as totals. State is idle (never run), running, ok, error, or unavailable (the tenant lacks the
// product or permission).
type ConnectorStatus = store.Connector

// connector is a collector with its schedule and status.
type connector struct {
	Runner
	interval time.Duration
	// save, when set, persists the status after each run with that run's rows and pages.
	save func(ctx context.Context, st ConnectorStatus, run collect.Stats)

	mu     sync.Mutex
	status ConnectorStatus
	runMu  sync.Mutex // one run per stream at a time
}

// Run runs the collector once, recording the outcome in the status.
func (c *connector) Run(ctx context.Context) (collect.Stats, error) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	start := time.Now()
	c.mu.Lock()
	c.status.State, c.status.LastRun = StateRunning, start
	c.mu.Unlock()
	st, err := c.Runner.Run(ctx)
	defer func() {
		if c.save != nil {
			c.save(context.WithoutCancel(ctx), c.Status(), st)
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status.Rows += int64(st.Rows)
	c.status.Pages += int64(st.Pages)
	switch {
	case err == nil:
		c.status.State, c.status.LastSuccess = StateOK, time.Now()
	case isUnavailable(err):
		c.status.State, c.status.LastError, c.status.LastErrorAt = StateUnavailable, err.Error(), time.Now()
	default:
		c.status.State, c.status.LastError, c.status.LastErrorAt = StateError, err.Error(), time.Now()
	}
	return st, err
}

// Status returns a copy of the connector's status.
func (c *connector) Status() ConnectorStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Tenant, s.Stream, s.Interval = c.Tenant(), c.Stream(), c.interval
	if s.State == "" {
		s.State = StateIdle
	}
	return s
}

// unavailable reports whether the connector's last run found its product or permission missing.
func (c *connector) unavailable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status.State == StateUnavailable
}

// isUnavailable reports whether err says the tenant's API application may not use this stream: the documented
// HTTP 403 app_forbidden. Such a stream is marked unavailable; the tenant's other streams keep running.
func isUnavailable(err error) bool {
	var ae *mimecast.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusForbidden
}

// saveConnector stores a connector's status after a run; a failure to save is logged, never fatal.
func (a *App) saveConnector(ctx context.Context, st ConnectorStatus, run collect.Stats) {
	// The store adds Rows and Pages to its totals: hand it this run's counts.
	st.Rows, st.Pages, st.Updated = int64(run.Rows), int64(run.Pages), a.now()
	err := a.store.SaveConnector(ctx, st)
	if err != nil {
		a.log.Warn("connector status not saved", "tenant", st.Tenant, "stream", st.Stream, "err", err)
	}
}

// loadConnectorStatus starts each connector's status from what the store saved, so totals and the last success
// survive restarts.
func (a *App) loadConnectorStatus(ctx context.Context) error {
	saved, err := a.store.Connectors(ctx)
	if err != nil {
		return err
	}
	for _, c := range a.collectors {
		for _, s := range saved {
			if s.Tenant == c.Tenant() && s.Stream == c.Stream() {
				c.status = s
			}
		}
	}
	return nil
}

// Connectors returns the status of every configured tenant stream.
func (a *App) Connectors() []ConnectorStatus {
	out := make([]ConnectorStatus, len(a.collectors))
	for i, c := range a.collectors {
		out[i] = c.Status()
	}
	return out
}
