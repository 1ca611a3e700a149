// Package app wires castwatch's components together and runs them: one sync pass for the CLI, or the long-running
// server with its scheduler, store consumer and web UI.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/detect"
	"github.com/castwatch/castwatch/internal/ingest"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/normalize"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// Options are the process-level dependencies of an App. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// HTTPClient is used for Mimecast API calls; default a client with the API timeouts.
	HTTPClient *http.Client
	// Sleep replaces the client's back-off sleep (tests).
	Sleep mimecast.SleepFunc
}

// App is a running castwatch: store, bus, detection engine and one collector per tenant and stream.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	now      func() time.Time
	registry *prometheus.Registry

	store    *duckdb.DB
	bus      *bus.Bus
	engine   *detect.Engine
	consumer *ingest.Consumer
	// enrich answers GeoIP, list and peer-group questions; ueba is the behaviour analytics run over stored events.
	enrich *enrichment
	ueba   *analytics
	// analyticsKick starts serve's next analytics run early (kickAnalytics).
	analyticsKick chan struct{}

	collectors []*connector

	syncMu   sync.Mutex
	progress atomic.Pointer[func(collect.Progress)]
}

// Open starts the components for cfg: it opens the store and the bus, loads the rules, rebuilds the detection
// state from recent stored events, and prepares a collector for every enabled stream of every tenant.
func Open(ctx context.Context, cfg config.Config, opts Options) (_ *App, err error) {
	a := &App{cfg: cfg, log: opts.Logger, now: opts.Now, registry: prometheus.NewRegistry(), analyticsKick: make(chan struct{}, 1)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	defer func() {
		if err != nil { // release what was opened before the failure
			a.Close()
		}
	}()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if a.enrich, err = a.openEnrichment(ctx, cfg.Enrich); err != nil {
		return nil, err
	}
	if a.store, err = openStore(ctx, cfg, a.log, a.now, a.enrich); err != nil {
		return nil, err
	}
	if a.bus, err = openBus(ctx, cfg, a.log); err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	rules, err := loadRules(cfg)
	if err != nil {
		return nil, err
	}
	a.engine = detect.New(rules, detect.Options{Clock: a.now, Logger: a.log, Lateness: time.Duration(cfg.Detect.Lateness)})
	if err := a.rebuildDetection(ctx); err != nil {
		return nil, err
	}
	if err := a.loadPeerGroups(ctx); err != nil {
		return nil, err
	}
	if err := a.openAnalytics(ctx); err != nil {
		return nil, err
	}

	ingestMetrics, err := ingest.NewMetrics(a.registry)
	if err != nil {
		return nil, err
	}
	a.consumer, err = ingest.NewConsumer(ingest.Config{
		Store: a.store, AfterWrite: a.detectRows, Logger: a.log, Metrics: ingestMetrics, Now: a.now,
	})
	if err != nil {
		return nil, err
	}
	if err := a.buildCollectors(cfg, opts); err != nil {
		return nil, err
	}
	if err := a.loadConnectorStatus(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) buildCollectors(cfg config.Config, opts Options) error {
	clientMetrics, err := mimecast.NewMetrics(a.registry)
	if err != nil {
		return err
	}
	collectMetrics, err := collect.NewMetrics(a.registry)
	if err != nil {
		return err
	}
	for _, t := range cfg.Tenants {
		copts := []mimecast.Option{mimecast.WithLogger(a.log.With("tenant", t.Name)), mimecast.WithMetrics(clientMetrics),
			mimecast.WithClock(a.now)}
		if opts.HTTPClient != nil {
			copts = append(copts, mimecast.WithHTTPClient(opts.HTTPClient))
		}
		if opts.Sleep != nil {
			copts = append(copts, mimecast.WithSleep(opts.Sleep))
		}
		client, err := mimecast.New(mimecast.Config{
			BaseURL: t.BaseURL, ClientID: t.ClientID, ClientSecret: t.ClientSecret.Reveal(),
		}, copts...)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", t.Name, err)
		}
		for _, stream := range t.Streams {
			def, ok := streamDefByName(stream)
			if !ok {
				return fmt.Errorf("tenant %s: stream %q has no collector", t.Name, stream)
			}
			r, err := def.Build(collectorDeps{
				cfg: cfg, tenant: t, client: client, clientOpts: copts, bus: a.bus, now: a.now,
				log: a.log, metrics: collectMetrics, progress: a.reportProgress,
			})
			if err != nil {
				return fmt.Errorf("tenant %s stream %s: %w", t.Name, stream, err)
			}
			a.collectors = append(a.collectors, &connector{Runner: r, interval: interval(cfg, def), save: a.saveConnector})
		}
	}
	return nil
}

// Registry is the Prometheus registry every component reports to.
func (a *App) Registry() *prometheus.Registry { return a.registry }

// Store is the app's store.
func (a *App) Store() *duckdb.DB { return a.store }

// Close stops the bus and closes the store.
func (a *App) Close() error {
	var errs []error
	if a.bus != nil {
		a.bus.Close()
	}
	if a.enrich != nil {
		errs = append(errs, a.enrich.Close())
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	return errors.Join(errs...)
}

// SyncRequest selects what one sync pass collects. Empty lists mean everything configured.
type SyncRequest struct {
	Tenants []string
	Streams []string
	// Since, when set, first rewinds the selected streams to collect again from this time (a backfill). Records
	// already stored are ignored by their natural keys.
	Since time.Time
	// Progress, when set, is called after every page.
	Progress func(collect.Progress)
}

// Sync runs one collection pass end to end: every selected collector until caught up, then waits until the store
// holds everything published. Only one pass runs at a time.
func (a *App) Sync(ctx context.Context, req SyncRequest) (ingest.PipelineStats, error) {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	selected, err := a.selectCollectors(req)
	if err != nil {
		return ingest.PipelineStats{}, err
	}
	if !req.Since.IsZero() {
		for _, c := range selected {
			rw, ok := c.Runner.(Rewinder)
			if !ok {
				// SIEM files (7-day retention), snapshots and feeds keep their own positions.
				a.log.Warn("stream has no backfill by date; it continues from its checkpoint", "tenant", c.Tenant(),
					"stream", c.Stream())
				continue
			}
			if err := rw.Rewind(ctx, req.Since); err != nil {
				return ingest.PipelineStats{}, err
			}
		}
	}
	if req.Progress != nil {
		a.progress.Store(&req.Progress)
		defer a.progress.Store(nil)
	}
	runners := make([]ingest.Runner, len(selected))
	for i, c := range selected {
		runners[i] = tolerateUnavailable{c, a.log}
	}
	p := &ingest.Pipeline{Source: a.bus, Consumer: a.consumer, Collectors: runners, Logger: a.log}
	return p.Run(ctx)
}

// tolerateUnavailable runs a connector in a sync pass: a stream the tenant's product or permissions do not cover
// is reported in its status (and by the CLI) but does not fail the pass of the other streams.
type tolerateUnavailable struct {
	c   *connector
	log *slog.Logger
}

func (t tolerateUnavailable) Run(ctx context.Context) (collect.Stats, error) {
	st, err := t.c.Run(ctx)
	if err != nil && isUnavailable(err) {
		t.log.Warn("stream unavailable for this tenant", "tenant", t.c.Tenant(), "stream", t.c.Stream(), "err", err)
		return st, nil
	}
	return st, err
}

func (a *App) selectCollectors(req SyncRequest) ([]*connector, error) {
	for _, t := range req.Tenants {
		if _, ok := a.cfg.TenantByName(t); !ok {
			return nil, fmt.Errorf("unknown tenant %q", t)
		}
	}
	for _, s := range req.Streams {
		if _, ok := streamDefByName(s); !ok {
			return nil, fmt.Errorf("unknown stream %q", s)
		}
	}
	var out []*connector
	for _, c := range a.collectors {
		if len(req.Tenants) > 0 && !slices.Contains(req.Tenants, c.Tenant()) {
			continue
		}
		if len(req.Streams) > 0 && !slices.Contains(req.Streams, c.Stream()) {
			continue
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("nothing to collect: no configured tenant enables the selected streams (set MIMECAST_CLIENT_ID and MIMECAST_CLIENT_SECRET or add tenants to the config file)")
	}
	return out, nil
}

// reportProgress forwards a collector's progress to the running sync pass's callback, if it has one.
func (a *App) reportProgress(p collect.Progress) {
	if f := a.progress.Load(); f != nil {
		(*f)(p)
	}
}

// detectRows is the store consumer's hook: it normalizes a stored batch and evaluates it. Alerts have
// deterministic ids, so a redelivered batch updates the same alerts instead of adding new ones.
func (a *App) detectRows(ctx context.Context, t *schema.Table, rows []schema.Row) error {
	norm, ok := normalize.For(t.Name)
	if !ok {
		return nil
	}
	events := make([]schema.Event, 0, len(rows))
	for _, r := range rows {
		evs, err := norm(r)
		if err != nil {
			a.log.Warn("row not normalized", "table", t.Name, "err", err)
			continue
		}
		events = append(events, evs...)
	}
	return a.evaluate(ctx, events)
}

func (a *App) evaluate(ctx context.Context, events []schema.Event) error {
	if len(events) == 0 {
		return nil
	}
	res, err := a.engine.Evaluate(ctx, events)
	if err != nil {
		return fmt.Errorf("detect: %w", err)
	}
	if len(res.Late) > 0 {
		a.log.Warn("events arrived later than the allowed lateness; stored but not evaluated", "count", len(res.Late))
	}
	if len(res.Alerts) > 0 {
		n, err := a.store.UpsertAlerts(ctx, res.Alerts)
		if err != nil {
			return fmt.Errorf("store alerts: %w", err)
		}
		if n > 0 {
			a.log.Info("new alerts", "count", n)
		}
		if err := a.groupIncidents(ctx, res.Alerts); err != nil {
			return fmt.Errorf("group incidents: %w", err)
		}
	}
	if len(res.Superseded) > 0 {
		// A late event moved an alert's start earlier; the alert that replaces it is stored above.
		if _, err := a.store.SetAlertStatus(ctx, res.Superseded, "superseded"); err != nil {
			return fmt.Errorf("mark superseded alerts: %w", err)
		}
	}
	return nil
}

// rebuildDetection replays the stored events the engine's windows and lateness still need, every table merged in
// event-time order, so that a restarted process evaluates new events exactly as the one before it would have.
func (a *App) rebuildDetection(ctx context.Context) error {
	now := a.now()
	events, err := a.storedEvents(ctx, a.engine.ReplayFrom(now), now.Add(24*time.Hour)) // slightly future-stamped events count too
	if err != nil {
		return fmt.Errorf("rebuild detection state: %w", err)
	}
	return a.evaluate(ctx, events)
}
