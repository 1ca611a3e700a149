package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/castwatch/castwatch/internal/app"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

func syncCmd(g *globals) *cobra.Command {
	var once bool
	var since string
	var tenants, streams []string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Collect from Mimecast now (--once: one pass until caught up, then exit)",
		Long: "sync collects every enabled stream of every configured tenant, stores it and runs detection.\n" +
			"With --once it runs one pass until caught up and exits 0, or non-zero with the reason; without it, it\n" +
			"repeats every sync.interval until interrupted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			var from time.Time
			if since != "" {
				if from, err = parseSince(since, time.Now()); err != nil {
					return err
				}
			}
			log := g.logger(cfg.LogLevel)
			a, err := app.Open(cmd.Context(), cfg, app.Options{Logger: log})
			if err != nil {
				return err
			}
			defer a.Close()
			for {
				req := app.SyncRequest{Tenants: tenants, Streams: streams, Since: from}
				from = time.Time{} // a backfill rewinds once; later passes continue from the checkpoint
				if err := syncPass(cmd.Context(), g, a, req); err != nil || once {
					return err
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(time.Duration(cfg.Sync.Interval)):
				}
			}
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run one pass until caught up, then exit")
	cmd.Flags().StringVar(&since, "since", "", "backfill: collect again from this far back (30d, 12h) or this date (2026-01-02)")
	cmd.Flags().StringSliceVar(&tenants, "tenant", nil, "only these tenants (repeatable)")
	cmd.Flags().StringSliceVar(&streams, "stream", nil, "only these streams (repeatable; known: "+strings.Join(config.KnownStreams, ", ")+")")
	return cmd
}

func syncPass(ctx context.Context, g *globals, a *app.App, req app.SyncRequest) error {
	pr := newProgressPrinter(g.stderr)
	start := time.Now()
	req.Progress = pr.update
	st, err := a.Sync(ctx, req)
	pr.done()
	fmt.Fprintf(g.stdout, "sync: %d pages, %d records fetched, %d new rows stored, %d quarantined in %s\n",
		st.Pages, st.Fetched, st.New, st.Quarantined, time.Since(start).Round(time.Millisecond))
	for _, c := range a.Connectors() {
		if c.State == app.StateUnavailable {
			fmt.Fprintf(g.stdout, "sync: %s/%s unavailable (the API application lacks this product or permission): %s\n",
				c.Tenant, c.Stream, c.LastError)
		}
	}
	if err != nil {
		return fmt.Errorf("sync failed: %w", err)
	}
	ast, err := a.RunAnalytics(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("behaviour analytics failed: %w", err)
	case ast.Held != "":
		fmt.Fprintf(g.stdout, "analytics: waiting: %s\n", ast.Held)
	default:
		fmt.Fprintf(g.stdout, "analytics: %d events up to %s UTC, %d findings, %d notable sessions\n",
			ast.Events, ast.To.UTC().Format("2006-01-02 15:04"), ast.Findings, ast.Notable)
	}
	return nil
}

// progressPrinter shows one updating line per pass on a terminal; elsewhere it stays silent.
type progressPrinter struct {
	w   *os.File
	tty bool
	len int
}

func newProgressPrinter(w any) *progressPrinter {
	f, _ := w.(*os.File)
	p := &progressPrinter{w: f}
	if f != nil {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progressPrinter) update(pr collect.Progress) {
	p.line(fmt.Sprintf("%s/%s  window %s → %s  pages %d  rows %d", pr.Tenant, pr.Stream,
		pr.WindowStart.UTC().Format("2006-01-02 15:04"), pr.WindowEnd.UTC().Format("2006-01-02 15:04"), pr.Pages, pr.Rows))
}

// line replaces the progress line.
func (p *progressPrinter) line(line string) {
	if !p.tty {
		return
	}
	pad := ""
	if n := p.len - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.len = len(line)
	fmt.Fprint(p.w, "\r"+line+pad)
}

func (p *progressPrinter) done() {
	if p.tty && p.len > 0 {
		fmt.Fprintln(p.w)
	}
}

// openReader opens the store for reading by a CLI command.
func openReader(cmd *cobra.Command, g *globals) (*duckdb.DB, error) {
	cfg, err := g.load()
	if err != nil {
		return nil, err
	}
	path := app.StorePath(cfg)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no store at %s: run `castwatch sync --once` first (or pass --data-dir)", path)
	}
	return duckdb.OpenReadOnly(cmd.Context(), path)
}

func queryCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "query [--format table|json|csv] 'SQL'",
		Short: "Run one read-only SQL statement over the store",
		Example: `  castwatch query 'SELECT auditType, count(*) FROM Audit_CL GROUP BY 1 ORDER BY 2 DESC'
  castwatch query --format csv 'SELECT * FROM alerts'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "table", "json", "csv"); err != nil {
				return err
			}
			db, err := openReader(cmd, g)
			if err != nil {
				return err
			}
			defer db.Close()
			res, err := db.Query(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return writeResult(g.stdout, format, res.Columns, res.Rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, json or csv")
	return cmd
}

// sinceDuration reads a --since duration ("" for none) as the time that far back from now.
func sinceDuration(since string) (time.Time, error) {
	if since == "" {
		return time.Time{}, nil
	}
	d, err := config.ParseDuration(since)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since: %w", err)
	}
	return time.Now().Add(-d), nil
}

func checkFormat(f string, allowed ...string) error {
	for _, a := range allowed {
		if f == a {
			return nil
		}
	}
	return fmt.Errorf("unknown format %q (use %s)", f, strings.Join(allowed, ", "))
}

func alertsCmd(g *globals) *cobra.Command {
	var format, tenant, rule string
	var limit int
	var since string
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List alerts, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			f := store.AlertFilter{Tenant: tenant, RuleID: rule, Limit: limit}
			var err error
			if f.Since, err = sinceDuration(since); err != nil {
				return err
			}
			db, err := openReader(cmd, g)
			if err != nil {
				return err
			}
			defer db.Close()
			alerts, err := db.Alerts(cmd.Context(), f)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(g.stdout, alerts)
			}
			rows := make([][]any, 0, len(alerts))
			for _, al := range alerts {
				var ents []string
				for _, e := range al.Entities {
					ents = append(ents, e.Type+"="+e.Value)
				}
				rows = append(rows, []any{al.FirstEvent, al.Severity, al.Tenant, al.Title, len(al.EventIDs),
					strings.Join(ents, " "), al.Status, al.ID})
			}
			return writeResult(g.stdout, "table", []string{"first_event", "severity", "tenant", "title", "events", "entities", "status", "id"}, rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant")
	cmd.Flags().StringVar(&rule, "rule", "", "only this rule id")
	cmd.Flags().StringVar(&since, "since", "", "only alerts whose events are newer than this (e.g. 24h, 7d)")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many alerts (0: all)")
	return cmd
}

func serveCmd(g *globals) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the collector scheduler, the store consumer and the web UI",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			if addr != "" {
				cfg.HTTP.Addr = addr
			}
			log := g.logger(cfg.LogLevel)
			if len(cfg.Tenants) == 0 {
				log.Warn("no Mimecast tenant configured: serving stored data only (set MIMECAST_CLIENT_ID and MIMECAST_CLIENT_SECRET, or try `castwatch demo`)")
			}
			a, err := app.Open(cmd.Context(), cfg, app.Options{Logger: log})
			if err != nil {
				return err
			}
			defer a.Close()
			if err := printFirstAdmin(cmd, g, a); err != nil {
				return err
			}
			return a.Serve(cmd.Context(), cfg.HTTP.Addr, func(url string) {
				fmt.Fprintf(g.stdout, "castwatch is serving on %s\n", url)
			})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen address (default http.addr, 127.0.0.1:8080)")
	return cmd
}

// simFlags are the simulated tenant's settings shared by simulate and demo.
type simFlags struct {
	seed      int64
	mailboxes int
	days      int
	faults    string
	// storyDays: only the last storyDays days carry attack stories and password sprays (0: every day), so that
	// behaviour models learn a clean baseline on the days before.
	storyDays int
}

// register adds the flags; storyDays is the default of --story-days.
func (f *simFlags) register(cmd *cobra.Command, storyDays int) {
	cmd.Flags().Int64Var(&f.seed, "seed", 1, "seed of the simulated data")
	cmd.Flags().IntVar(&f.mailboxes, "mailboxes", 50, "number of simulated mailboxes")
	cmd.Flags().IntVar(&f.days, "days", 7, "days of simulated history")
	cmd.Flags().IntVar(&f.storyDays, "story-days", storyDays, "only the last N days carry attack stories and password sprays (0: every day)")
	cmd.Flags().StringVar(&f.faults, "faults", "", "comma-separated faults to inject: "+strings.Join([]string{"ratelimit", "5xx", "tokenexpiry", "emptypage", "emptymid", "slow", "all", "dupes", "gzipfail", "expiredurl", "badjson", "data"}, ", "))
}

func (f *simFlags) options(clientID, secret string) (sim.Options, error) {
	faults, err := sim.ParseFaults(f.faults)
	if err != nil {
		return sim.Options{}, err
	}
	if f.mailboxes < 1 {
		return sim.Options{}, errors.New("--mailboxes must be at least 1")
	}
	if f.days < 1 {
		return sim.Options{}, errors.New("--days must be at least 1")
	}
	if f.storyDays < 0 {
		return sim.Options{}, errors.New("--story-days must not be negative")
	}
	opts := sim.Options{Seed: f.seed, Mailboxes: f.mailboxes, Days: f.days, Faults: faults,
		ClientID: clientID, ClientSecret: secret}
	if f.storyDays > 0 && f.storyDays < f.days {
		today := time.Now().UTC().Truncate(24 * time.Hour)
		opts.QuietUntil = today.AddDate(0, 0, 1-f.storyDays)
	}
	return opts, nil
}

func simulateCmd(g *globals) *cobra.Command {
	var sf simFlags
	var addr, clientID, secret string
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Serve a simulated Mimecast tenant (API 2.0) for tests and demos",
		Example: `  castwatch simulate --addr 127.0.0.1:9000 --seed 7 --mailboxes 100 --days 14 --faults ratelimit,5xx
  MIMECAST_BASE_URL=http://127.0.0.1:9000 MIMECAST_CLIENT_ID=sim-client MIMECAST_CLIENT_SECRET=sim-secret castwatch sync --once`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := sf.options(clientID, secret)
			if err != nil {
				return err
			}
			s, err := sim.New(opts)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			fmt.Fprintf(g.stdout, "simulated Mimecast tenant on http://%s (client id %s; %d mailboxes, %d days, faults: %s)\n",
				ln.Addr(), clientID, sf.mailboxes, sf.days, orNone(sf.faults))
			err = s.Serve(cmd.Context(), ln)
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	sf.register(cmd, 0)
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9000", "listen address")
	cmd.Flags().StringVar(&clientID, "client-id", "sim-client", "the OAuth2 client id the tenant accepts")
	cmd.Flags().StringVar(&secret, "client-secret", "sim-secret", "the OAuth2 client secret the tenant accepts")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func demoCmd(g *globals) *cobra.Command {
	var sf simFlags
	var addr string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run castwatch against a built-in simulated tenant with a fresh data directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			const id, secret = "demo-client", "demo-secret"
			opts, err := sf.options(id, secret)
			if err != nil {
				return err
			}
			s, err := sim.New(opts)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			simCtx, stopSim := context.WithCancel(ctx)
			defer stopSim()
			go func() { _ = s.Serve(simCtx, ln) }()

			dataDir := g.dataDir
			if dataDir == "" {
				if dataDir, err = os.MkdirTemp("", "castwatch-demo-"); err != nil {
					return err
				}
				defer os.RemoveAll(dataDir)
			} else if entries, err := os.ReadDir(dataDir); err == nil && len(entries) > 0 {
				return fmt.Errorf("--data-dir %s is not empty: the demo starts from a fresh data directory", dataDir)
			}
			cfg := config.Default()
			cfg.DataDir = dataDir
			cfg.HTTP.Addr = addr
			cfg.Sync.Lookback = config.Duration(time.Duration(sf.days) * 24 * time.Hour)
			cfg.Tenants = []config.Tenant{{
				Name: "demo", BaseURL: "http://" + ln.Addr().String(), ClientID: id,
				ClientSecret: config.NewSecret(secret),
				// Every API 2.0 stream. The legacy SIEM stream carries the same mail as siem_cg, so a tenant uses
				// one or the other; the demo shows the current one.
				Streams: slices.DeleteFunc(slices.Clone(config.KnownStreams), func(s string) bool { return s == config.LegacyStream }),
			}}
			if err := cfg.Validate(); err != nil {
				return err
			}
			log := g.logger(orDefault(g.logLevel, "info"))
			a, err := app.Open(ctx, cfg, app.Options{Logger: log})
			if err != nil {
				return err
			}
			defer a.Close()
			login, err := demoLogin(ctx, a)
			if err != nil {
				return err
			}
			return a.Serve(ctx, cfg.HTTP.Addr, func(url string) {
				fmt.Fprintf(g.stdout, "castwatch demo: open %s (simulated tenant at http://%s, %d mailboxes, %d days; data in %s)\n"+
					"%s\npress Ctrl-C to stop\n", url, ln.Addr(), sf.mailboxes, sf.days, dataDir, login)
			})
		},
	}
	sf.register(cmd, 2)
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address of the web UI")
	return cmd
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
