package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/castwatch/castwatch/internal/app"
	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/detect"
	"github.com/castwatch/castwatch/internal/parse"
	"github.com/castwatch/castwatch/internal/rawlog"
)

func parseCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "parse [--format auto|siem-kv|audit-kv|json|cef] FILE|-",
		Short: "Print raw Mimecast log lines as normalized events (JSON lines); rejected lines go to stderr",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parse.ParseFormat(format)
			if err != nil {
				return err
			}
			out := bufio.NewWriter(g.stdout)
			defer out.Flush()
			enc := json.NewEncoder(out)
			st, err := rawlog.RunFile(cmd.Context(), args[0], rawlog.Options{Format: f}, func(it rawlog.Item) error {
				if it.Rejection != nil {
					r := it.Rejection
					fmt.Fprintf(g.stderr, "%s:%d: rejected: %s %s\n", r.Source, r.Line, r.Reason, r.Detail)
					return nil
				}
				for _, ev := range it.Events {
					if err := enc.Encode(ev); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "%d lines: %d events, %d rejected%s\n", st.Lines, st.Events, st.Rejected, reasons(st.Reasons))
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "auto", "input format: auto, siem-kv, audit-kv, json or cef")
	return cmd
}

func reasons(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func ingestCmd(g *globals) *cobra.Command {
	var format, tenant string
	cmd := &cobra.Command{
		Use:   "ingest [--format …] [--tenant T] FILE|- ...",
		Short: "Store raw Mimecast log files (plain, .gz, .zip) and run detection on them",
		Long: "ingest reads each file line by line, stores every record in its table (lines of no API table as\n" +
			"normalized events in Raw_Event_CL), quarantines rejected lines with their reason and line number, and\n" +
			"evaluates the rules. Ingesting the same file again stores nothing new.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parse.ParseFormat(format)
			if err != nil {
				return err
			}
			cfg, err := g.load()
			if err != nil {
				return err
			}
			a, err := app.Open(cmd.Context(), cfg, app.Options{Logger: g.logger(cfg.LogLevel)})
			if err != nil {
				return err
			}
			defer a.Close()
			st, err := a.Ingest(cmd.Context(), args, app.IngestOptions{Tenant: tenant, Format: f,
				Progress: func(path string, rs rawlog.Stats) {
					fmt.Fprintf(g.stderr, "%s: %d lines, %d rejected%s\n", path, rs.Lines, rs.Rejected, reasons(rs.Reasons))
				}})
			fmt.Fprintf(g.stdout, "ingest: %d files, %d lines, %d rows (%d new), %d quarantined\n",
				st.Files, st.Read.Lines, st.Rows, st.New, st.Quarantined)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "auto", "input format: auto, siem-kv, audit-kv, json or cef")
	cmd.Flags().StringVar(&tenant, "tenant", "default", "tenant name stored with every row")
	return cmd
}

func detectCmd(g *globals) *cobra.Command {
	var since string
	var rebuildModels bool
	cmd := &cobra.Command{
		Use:   "detect --since 30d|2026-01-02",
		Short: "Replay stored history through the current rules and store the alerts (never doubles an alert)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			cfg, err := g.load()
			if err != nil {
				return err
			}
			a, err := app.Open(cmd.Context(), cfg, app.Options{Logger: g.logger(cfg.LogLevel)})
			if err != nil {
				return err
			}
			defer a.Close()
			pr := newProgressPrinter(g.stderr)
			st, err := a.Replay(cmd.Context(), from, func(day time.Time, st app.ReplayStats) {
				pr.line(fmt.Sprintf("replay %s  events %d  alerts %d (%d new)", day.Format(time.DateOnly), st.Events, st.Alerts, st.New))
			})
			pr.done()
			fmt.Fprintf(g.stdout, "detect: %d days, %d events, %d alerts (%d new)\n", st.Days, st.Events, st.Alerts, st.New)
			if err != nil || !rebuildModels {
				return err
			}
			ast, err := a.RebuildAnalytics(cmd.Context(), from, func(day time.Time, st app.AnalyticsStats) {
				pr.line(fmt.Sprintf("models %s  events %d  findings %d  notable %d", day.Format(time.DateOnly), st.Events, st.Findings, st.Notable))
			})
			pr.done()
			fmt.Fprintf(g.stdout, "models: rebuilt from %s to %s UTC: %d events, %d findings, %d notable sessions\n",
				ast.From.UTC().Format("2006-01-02 15:04"), ast.To.UTC().Format("2006-01-02 15:04"), ast.Events, ast.Findings, ast.Notable)
			return err
		},
	}
	cmd.Flags().StringVar(&since, "since", "30d", "how far back: a duration (30d, 12h) or a date (2026-01-02)")
	cmd.Flags().BoolVar(&rebuildModels, "rebuild-models", false, "also forget the behaviour models and risk sessions and rebuild them from the same history")
	return cmd
}

// parseSince reads a duration back from now, or a date or RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := config.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--since %s: must be positive", s)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.After(now) {
				return time.Time{}, fmt.Errorf("--since %s is in the future", s)
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: use a duration such as 30d or 12h, or a date such as 2026-01-02", s)
}

func rulesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "List, check and test detection rules"}
	var dir string
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "also load the rules of this directory (default detect.rules_dir)")
	load := func() ([]*detect.Rule, error) {
		rules, err := detect.LoadBuiltin()
		if err != nil {
			return nil, err
		}
		if dir == "" {
			if cfg, err := g.load(); err == nil {
				dir = cfg.Detect.RulesDir
			}
		}
		if dir != "" {
			extra, err := detect.LoadDir(dir)
			if err != nil {
				return nil, err
			}
			rules = detect.MergeRules(rules, extra)
		}
		return rules, nil
	}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List the rules", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := load()
			if err != nil {
				return err
			}
			rows := make([][]any, len(rules))
			for i, r := range rules {
				rows[i] = []any{r.ID, r.Severity, r.Title, strings.Join(r.Techniques, " "), r.Status}
			}
			return writeResult(g.stdout, "table", []string{"id", "severity", "title", "techniques", "status"}, rows)
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use: "lint", Short: "Load and validate every rule; exit non-zero with each problem", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := load()
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%d rules OK\n", len(rules))
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use: "test", Short: "Run every rule's inline tests", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := load()
			if err != nil {
				return err
			}
			failed := 0
			results := detect.RunTests(rules)
			for _, r := range results {
				status := "ok  "
				if !r.Passed {
					status = "FAIL"
					failed++
				}
				fmt.Fprintf(g.stdout, "%s %s: %s\n", status, r.RuleID, r.Name)
				for _, f := range r.Failures {
					fmt.Fprintf(g.stdout, "       %s\n", f)
				}
			}
			fmt.Fprintf(g.stdout, "%d passed, %d failed\n", len(results)-failed, failed)
			if failed > 0 {
				return fmt.Errorf("%d rule tests failed", failed)
			}
			return nil
		},
	})
	var out string
	layer := &cobra.Command{
		Use: "attack-layer [--out FILE]", Short: "Write an ATT&CK Navigator layer of the techniques the rules cover", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := load()
			if err != nil {
				return err
			}
			b, err := detect.AttackLayer(rules, nil)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = g.stdout.Write(append(b, '\n'))
				return err
			}
			return os.WriteFile(out, b, 0o644)
		},
	}
	layer.Flags().StringVar(&out, "out", "", "write to this file instead of standard output")
	cmd.AddCommand(layer)
	return cmd
}
