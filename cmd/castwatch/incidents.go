package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/castwatch/castwatch/internal/app"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// openWriter opens the store for a CLI command that changes it. It fails while another process (serve) holds
// the file.
func openWriter(cmd *cobra.Command, g *globals) (*duckdb.DB, error) {
	cfg, err := g.load()
	if err != nil {
		return nil, err
	}
	path := app.StorePath(cfg)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no store at %s: run `castwatch sync --once` first (or pass --data-dir)", path)
	}
	return duckdb.Open(cmd.Context(), path, duckdb.Options{})
}

// checkState accepts "" or an incident state.
func checkState(s string) error {
	if s != "" && !duckdb.ValidIncidentState(s) {
		return fmt.Errorf("unknown state %q (use new, active or closed)", s)
	}
	return nil
}

func incidentsCmd(g *globals) *cobra.Command {
	var format, tenant, state, since string
	var limit int
	cmd := &cobra.Command{
		Use:   "incidents",
		Short: "List incidents (alerts grouped by rule and shared entities), latest first",
		Example: `  castwatch incidents --state new
  castwatch incidents show 3f2a…
  castwatch incidents set 3f2a… --owner ann@example.com
  castwatch incidents set 3f2a… --state closed --classification "false positive"
  castwatch incidents comment 3f2a… --text "user confirmed the message"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			if err := checkState(state); err != nil {
				return err
			}
			f := store.IncidentFilter{Tenant: tenant, State: state, Limit: limit}
			var err error
			if f.Since, err = sinceDuration(since); err != nil {
				return err
			}
			db, err := openReader(cmd, g)
			if err != nil {
				return err
			}
			defer db.Close()
			incs, err := db.Incidents(cmd.Context(), f)
			if err != nil {
				return err
			}
			if format == "json" {
				if incs == nil {
					incs = []store.Incident{}
				}
				return writeJSON(g.stdout, incs)
			}
			rows := make([][]any, 0, len(incs))
			for _, inc := range incs {
				rows = append(rows, []any{inc.LastAlert, inc.Severity, inc.State, inc.Tenant, inc.Title,
					len(inc.AlertIDs), entityText(inc), orNone(inc.Owner), inc.ID})
			}
			return writeResult(g.stdout, "table", []string{"last_alert", "severity", "state", "tenant", "title", "alerts",
				"entities", "owner", "id"}, rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant")
	cmd.Flags().StringVar(&state, "state", "", "only this state: new, active or closed")
	cmd.Flags().StringVar(&since, "since", "", "only incidents with an alert newer than this (e.g. 24h, 7d)")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many incidents (0: all)")
	cmd.AddCommand(incidentShowCmd(g), incidentSetCmd(g), incidentCommentCmd(g))
	return cmd
}

// entityText renders an incident's entities as type=value pairs.
func entityText(inc store.Incident) string {
	parts := make([]string, 0, len(inc.Entities))
	for _, e := range inc.Entities {
		parts = append(parts, e.Type+"="+e.Value)
	}
	return strings.Join(parts, " ")
}

// printIncident writes one incident with its alerts and comments.
func printIncident(g *globals, format string, inc store.Incident) error {
	if format == "json" {
		return writeJSON(g.stdout, inc)
	}
	closed := ""
	if !inc.Closed.IsZero() {
		closed = inc.Closed.UTC().Format(time.RFC3339)
	}
	fields := [][]any{
		{"id", inc.ID}, {"title", inc.Title}, {"tenant", inc.Tenant}, {"rule", inc.RuleID},
		{"severity", inc.Severity}, {"state", inc.State}, {"owner", orNone(inc.Owner)},
		{"classification", inc.Classification}, {"closed", closed}, {"entities", entityText(inc)},
		{"tactics", strings.Join(inc.Tactics, " ")}, {"techniques", strings.Join(inc.Techniques, " ")},
		{"first_alert", inc.FirstAlert}, {"last_alert", inc.LastAlert}, {"created", inc.Created},
		{"updated", inc.Updated}, {"alerts", strings.Join(inc.AlertIDs, " ")},
	}
	if err := writeResult(g.stdout, "table", []string{"field", "value"}, fields); err != nil {
		return err
	}
	comments := make([][]any, 0, len(inc.Comments))
	for _, c := range inc.Comments {
		comments = append(comments, []any{c.Time, orNone(c.Author), c.Text})
	}
	fmt.Fprintln(g.stdout)
	return writeResult(g.stdout, "table", []string{"time", "author", "comment"}, comments)
}

func incidentShowCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an incident with its alerts and comments",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			db, err := openReader(cmd, g)
			if err != nil {
				return err
			}
			defer db.Close()
			inc, err := db.Incident(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printIncident(g, format, inc)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func incidentSetCmd(g *globals) *cobra.Command {
	var u store.IncidentUpdate
	cmd := &cobra.Command{
		Use:   "set ID [--state new|active|closed] [--owner O] [--classification C]",
		Short: "Change an incident's state, owner or classification",
		Long: `Change an incident's state, owner or classification. Setting an owner on a new incident makes it active.
Closing without --classification classifies the incident undetermined.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if u == (store.IncidentUpdate{}) {
				return fmt.Errorf("nothing to change: pass --state, --owner or --classification")
			}
			if err := checkState(u.State); err != nil {
				return err
			}
			db, err := openWriter(cmd, g)
			if err != nil {
				return err
			}
			defer db.Close()
			inc, err := db.UpdateIncident(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "incident %s: state %s, owner %s%s\n", inc.ID, inc.State, orNone(inc.Owner),
				classificationSuffix(inc))
			return err
		},
	}
	cmd.Flags().StringVar(&u.State, "state", "", "new, active or closed")
	cmd.Flags().StringVar(&u.Owner, "owner", "", "the analyst the incident is assigned to")
	cmd.Flags().StringVar(&u.Classification, "classification", "", "why it is closed (e.g. true positive, false positive)")
	return cmd
}

func classificationSuffix(inc store.Incident) string {
	if inc.Classification == "" {
		return ""
	}
	return ", classification " + inc.Classification
}

func incidentCommentCmd(g *globals) *cobra.Command {
	var text, author string
	cmd := &cobra.Command{
		Use:   "comment ID --text T [--author A]",
		Short: "Add a comment to an incident",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if author == "" {
				author = os.Getenv("USER")
			}
			db, err := openWriter(cmd, g)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.AddComment(cmd.Context(), args[0], store.IncidentComment{Author: author, Text: text}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "comment added to incident %s\n", args[0])
			return err
		},
	}
	cmd.Flags().StringVar(&text, "text", "", "the comment (required)")
	cmd.Flags().StringVar(&author, "author", "", "who writes it (default $USER)")
	_ = cmd.MarkFlagRequired("text")
	return cmd
}
