package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/detect"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// This file is the explicit list of castwatch's components. Nothing registers itself: a new stream, store or rule
// source is added here, and the tests check that every configurable stream has a collector.

// streamSpecs returns the collector spec of every stream a tenant can enable, by the name used in config.
func streamSpecs() map[string]collect.Spec {
	return map[string]collect.Spec{
		"audit": collect.AuditSpec(),
	}
}

// specFor returns the spec of a configured stream with the configured look-back and page size applied.
func specFor(cfg config.Config, stream string) (collect.Spec, error) {
	s, ok := streamSpecs()[stream]
	if !ok {
		return collect.Spec{}, fmt.Errorf("stream %q has no collector", stream)
	}
	s.Lookback = time.Duration(cfg.Sync.Lookback)
	s.PageSize = cfg.Sync.PageSize
	return s, nil
}

// StorePath is where the embedded store keeps its file.
func StorePath(cfg config.Config) string { return filepath.Join(cfg.DataDir, "castwatch.duckdb") }

// openStore opens the embedded DuckDB store in the data directory.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger, now func() time.Time) (*duckdb.DB, error) {
	return duckdb.Open(ctx, StorePath(cfg), duckdb.Options{Logger: log, Now: now})
}

// openBus starts the embedded NATS JetStream server under the data directory, or connects to nats.url.
func openBus(ctx context.Context, cfg config.Config, log *slog.Logger) (*bus.Bus, error) {
	return bus.Open(ctx, bus.Config{
		URL:             cfg.NATS.URL,
		DataDir:         filepath.Join(cfg.DataDir, "nats"),
		DuplicateWindow: time.Duration(cfg.NATS.DuplicateWindow),
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
