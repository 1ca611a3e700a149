package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/castwatch/castwatch/internal/schema"
)

func statusCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each connector's state, rows per table, quarantined input by reason, and alerts by status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			db, err := openReader(cmd, g)
			if err != nil {
				return err
			}
			defer db.Close()
			ctx := cmd.Context()
			conns, err := db.Connectors(ctx)
			if err != nil {
				return err
			}
			now := time.Now()
			connRows := make([][]any, len(conns))
			for i, c := range conns {
				lag := ""
				if !c.LastSuccess.IsZero() {
					lag = now.Sub(c.LastSuccess).Round(time.Second).String()
				}
				connRows[i] = []any{c.Tenant, c.Stream, c.State, c.LastSuccess, lag, c.Rows, c.LastError}
			}
			var tableRows [][]any
			for _, t := range schema.Tables() {
				n, err := db.Count(ctx, t.Name)
				if err != nil {
					return err
				}
				tableRows = append(tableRows, []any{t.Name, n})
			}
			quarantine, err := db.Query(ctx, `SELECT source, reason, count(*) AS items, max(time) AS last
				FROM quarantine GROUP BY source, reason ORDER BY items DESC, source, reason LIMIT 50`)
			if err != nil {
				return err
			}
			alerts, err := db.Query(ctx, `SELECT status, count(*) AS alerts FROM alerts GROUP BY status ORDER BY status`)
			if err != nil {
				return err
			}
			sections := []struct {
				title   string
				columns []string
				rows    [][]any
			}{
				{"connectors", []string{"tenant", "stream", "state", "last_success", "since_success", "rows", "last_error"}, connRows},
				{"tables", []string{"table", "rows"}, tableRows},
				{"quarantine", quarantine.Columns, quarantine.Rows},
				{"alerts", alerts.Columns, alerts.Rows},
			}
			if format == "json" {
				out := map[string]any{}
				for _, s := range sections {
					objs := make([]map[string]any, len(s.rows))
					for i, r := range s.rows {
						objs[i] = map[string]any{}
						for j, c := range s.columns {
							objs[i][c] = r[j]
						}
					}
					out[s.title] = objs
				}
				return writeJSON(g.stdout, out)
			}
			for i, s := range sections {
				if i > 0 {
					fmt.Fprintln(g.stdout)
				}
				fmt.Fprintf(g.stdout, "%s\n", s.title)
				if err := writeResult(g.stdout, "table", s.columns, s.rows); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}
