package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/collect/awareness"
	"github.com/castwatch/castwatch/internal/collect/siem"
	"github.com/castwatch/castwatch/internal/collect/siemlegacy"
	"github.com/castwatch/castwatch/internal/collect/threatintel"
	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/detect"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// This file is the explicit list of castwatch's components. Nothing registers itself: a new stream, store or rule
// source is added here, and the tests check that every configurable stream has a collector.

// Runner is one tenant's collector for one stream.
type Runner interface {
	// Run collects until caught up, or fails.
	Run(ctx context.Context) (collect.Stats, error)
	Tenant() string
	Stream() string
}

// Rewinder is a Runner that can collect again from an earlier time (a backfill).
type Rewinder interface {
	Rewind(ctx context.Context, since time.Time) error
}

// collectorDeps is what a stream's factory builds its collector from.
type collectorDeps struct {
	cfg    config.Config
	tenant config.Tenant
	client *mimecast.Client
	// clientOpts are the options the API 2.0 client was built with, for collectors that need another client.
	clientOpts []mimecast.Option
	bus        *bus.Bus
	now        func() time.Time
	log        *slog.Logger
	metrics    *collect.Metrics
	progress   func(collect.Progress)
}

// streamDef describes a stream castwatch can collect.
type streamDef struct {
	// Name is the stream name used in config, subjects, checkpoints and metrics.
	Name string
	// Interval is how often serve collects it unless sync.intervals says otherwise.
	Interval time.Duration
	// Build makes one tenant's collector.
	Build func(d collectorDeps) (Runner, error)
}

// streamDefs lists every stream, in collection order.
func streamDefs() []streamDef {
	const (
		apiEvery       = 15 * time.Minute // Sentinel polls these hourly; 15 minutes is the minimum window
		awarenessEvery = time.Hour        // snapshots change slowly; only changes are stored
		intelEvery     = time.Hour
		siemEvery      = 5 * time.Minute  // batch files appear about every 15 minutes; lists are cheap
		legacyEvery    = 15 * time.Minute // a new file about every 30 minutes
	)
	return []streamDef{
		{Name: collect.StreamAudit, Interval: apiEvery, Build: windowed(collect.AuditSpec())},
		{Name: collect.StreamDLP, Interval: apiEvery, Build: windowed(collect.DLPSpec())},
		{Name: collect.StreamTTPURL, Interval: apiEvery, Build: windowed(collect.TTPURLSpec())},
		{Name: collect.StreamTTPAttachment, Interval: apiEvery, Build: windowed(collect.TTPAttachmentSpec())},
		{Name: collect.StreamTTPImpersonation, Interval: apiEvery, Build: windowed(collect.TTPImpersonationSpec())},
		{Name: collect.StreamMessageRelease, Interval: apiEvery, Build: windowed(collect.MessageReleaseSpec())},
		{Name: collect.StreamArchiveSearch, Interval: apiEvery, Build: windowed(collect.ArchiveSearchSpec())},
		{Name: awareness.StreamPerformance, Interval: awarenessEvery, Build: snapshot(awareness.StreamPerformance)},
		{Name: awareness.StreamSafeScore, Interval: awarenessEvery, Build: snapshot(awareness.StreamSafeScore)},
		{Name: awareness.StreamWatchlist, Interval: awarenessEvery, Build: snapshot(awareness.StreamWatchlist)},
		{Name: awareness.StreamUserData, Interval: awarenessEvery, Build: snapshot(awareness.StreamUserData)},
		{Name: threatintel.Stream, Interval: intelEvery, Build: threatIntel},
		{Name: siem.StreamCG, Interval: siemEvery, Build: siemBatch(siem.StreamCG)},
		{Name: siem.StreamCI, Interval: siemEvery, Build: siemBatch(siem.StreamCI)},
		{Name: siemlegacy.Stream, Interval: legacyEvery, Build: siemLegacy},
	}
}

// siemBatch builds a SIEM batch-file collector (Cloud Gateway or Cloud Integrated).
func siemBatch(stream string) func(d collectorDeps) (Runner, error) {
	return func(d collectorDeps) (Runner, error) {
		return siem.New(siem.Config{
			Tenant: d.tenant.Name, Stream: stream, Client: d.client, Publisher: d.bus, Checkpoints: d.bus.Checkpoints(),
			Now: d.now, Logger: d.log, Metrics: d.metrics, Progress: d.progress, Lookback: time.Duration(d.cfg.Sync.Lookback),
		})
	}
}

// siemLegacy builds the API 1.0 get-siem-logs collector: the same client, signed with the tenant's HMAC keys.
func siemLegacy(d collectorDeps) (Runner, error) {
	v1 := d.tenant.V1
	if v1 == nil {
		return nil, fmt.Errorf("stream %s needs the tenant's API 1.0 credentials (v1)", siemlegacy.Stream)
	}
	signer, err := mimecast.NewHMACSigner(mimecast.HMACConfig{AppID: v1.AppID, AppKey: v1.AppKey.Reveal(),
		AccessKey: v1.AccessKey.Reveal(), SecretKey: v1.SecretKey.Reveal()}, d.now, nil)
	if err != nil {
		return nil, err
	}
	client, err := mimecast.New(mimecast.Config{BaseURL: v1.BaseURL}, append(d.clientOpts, mimecast.WithAuthorizer(signer))...)
	if err != nil {
		return nil, err
	}
	return siemlegacy.New(siemlegacy.Config{
		Tenant: d.tenant.Name, Client: client, Publisher: d.bus, Checkpoints: d.bus.Checkpoints(),
		Now: d.now, Logger: d.log, Metrics: d.metrics, Progress: d.progress,
	})
}

// snapshot builds an Awareness Training collector, which stores only the users whose state changed.
func snapshot(stream string) func(d collectorDeps) (Runner, error) {
	return func(d collectorDeps) (Runner, error) {
		return awareness.New(awareness.Config{
			Tenant: d.tenant.Name, Stream: stream, Client: d.client, Publisher: d.bus, Checkpoints: d.bus.Checkpoints(),
			Now: d.now, Logger: d.log, Metrics: d.metrics, Progress: d.progress,
		})
	}
}

// threatIntel builds the threat-intel feed collector (customer and grid feeds).
func threatIntel(d collectorDeps) (Runner, error) {
	return threatintel.New(threatintel.Config{
		Tenant: d.tenant.Name, Stream: threatintel.Stream, Client: d.client, Publisher: d.bus,
		Checkpoints: d.bus.Checkpoints(), Now: d.now, Logger: d.log, Metrics: d.metrics, Progress: d.progress,
		Lookback: time.Duration(d.cfg.Sync.Lookback),
	})
}

// windowed builds a collector for a windowed /api log function.
func windowed(spec collect.Spec) func(d collectorDeps) (Runner, error) {
	return func(d collectorDeps) (Runner, error) {
		spec.Lookback = time.Duration(d.cfg.Sync.Lookback)
		spec.PageSize = d.cfg.Sync.PageSize
		return collect.New(collect.Config{
			Tenant: d.tenant.Name, Spec: spec, Fetcher: d.client, Publisher: d.bus, Checkpoints: d.bus.Checkpoints(),
			Now: d.now, Logger: d.log, Metrics: d.metrics, Progress: d.progress,
		})
	}
}

// streamDefByName returns the named stream's definition.
func streamDefByName(name string) (streamDef, bool) {
	for _, s := range streamDefs() {
		if s.Name == name {
			return s, true
		}
	}
	return streamDef{}, false
}

// interval is how often serve runs a stream: sync.intervals, else the stream's default.
func interval(cfg config.Config, s streamDef) time.Duration {
	if d, ok := cfg.Sync.Intervals[s.Name]; ok {
		return time.Duration(d)
	}
	return s.Interval
}

// StorePath is where the embedded store keeps its file.
func StorePath(cfg config.Config) string { return filepath.Join(cfg.DataDir, "castwatch.duckdb") }

// openStore opens the embedded DuckDB store in the data directory; its maps' rollups locate addresses with the
// enrichment's GeoIP database.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger, now func() time.Time, e *enrichment) (*duckdb.DB, error) {
	return duckdb.Open(ctx, StorePath(cfg), duckdb.Options{Logger: log, Now: now, Country: e.Country,
		CountrySource: e.geo.Identity()})
}

// openBus starts the embedded NATS JetStream server under the data directory, or connects to nats.url.
func openBus(ctx context.Context, cfg config.Config, log *slog.Logger) (*bus.Bus, error) {
	return bus.Open(ctx, bus.Config{
		URL:             cfg.NATS.URL,
		DataDir:         filepath.Join(cfg.DataDir, "nats"),
		DuplicateWindow: time.Duration(cfg.NATS.DuplicateWindow),
		MaxAge:          time.Duration(cfg.NATS.Retention),
	}, log)
}

// loadRules returns the built-in rules, overridden and extended by the rules directory when one is configured.
func loadRules(cfg config.Config) ([]*detect.Rule, error) {
	rules, err := detect.LoadBuiltin()
	if err != nil {
		return nil, fmt.Errorf("built-in rules: %w", err)
	}
	if cfg.Detect.RulesDir != "" {
		extra, err := detect.LoadDir(cfg.Detect.RulesDir)
		if err != nil {
			return nil, fmt.Errorf("rules_dir: %w", err)
		}
		rules = detect.MergeRules(rules, extra)
	}
	return rules, nil
}
