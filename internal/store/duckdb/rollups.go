package duckdb

// Rollups (internal/rollup): the hourly and daily counts the dashboards read. The store creates their tables
// next to the views, fills new ones from the rows already stored, appends the counts of every write's new rows in
// the write's transaction (writeEvents), and compacts the partial counts a table accumulates.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/rollup"
	"github.com/castwatch/castwatch/internal/schema"
)

// compactAfter is how many new source rows a table takes before its rollups' recent buckets are compacted.
const compactAfter = 200_000

// compactLookback is how far before the newest bucket compaction starts after a restart, when the store does not
// know which buckets were appended to since the last compaction.
const compactLookback = 48 * time.Hour

// rollupState tracks the partial counts appended to one source table's rollups since their last compaction.
type rollupState struct {
	pending int       // source rows written since the last compaction
	since   time.Time // earliest event time written since the last compaction
}

// viewOver returns the SELECT of a parser view reading relation instead of its stored table.
func viewOver(view, relation string) (string, error) {
	for _, v := range sentinelViews {
		if v.name != view {
			continue
		}
		head := fmt.Sprintf("CREATE OR REPLACE VIEW %s AS\n", ident(v.name))
		tail := "FROM " + ident(v.source)
		if !strings.HasPrefix(v.sql, head) || !strings.HasSuffix(v.sql, tail) {
			return "", fmt.Errorf("view %s does not read its table as the last clause", view)
		}
		return strings.TrimSuffix(strings.TrimPrefix(v.sql, head), tail) + "FROM " + relation, nil
	}
	return "", fmt.Errorf("no view %s", view)
}

// rollups are the rollups the store keeps: those whose table and view it has.
func (d *DB) rollups() []rollup.Def {
	var out []rollup.Def
	for _, t := range d.tables {
		out = append(out, rollup.For(t.Name)...)
	}
	return out
}

// rollupInserts are the statements appending the counts of the rows in relation fresh (t's new rows, with
// EventTimeColumn) to t's rollups.
func (d *DB) rollupInserts(t *schema.Table, fresh string) ([]string, error) {
	var out []string
	for _, r := range rollup.For(t.Name) {
		rel, err := viewOver(r.View, fresh)
		if err != nil {
			return nil, fmt.Errorf("rollup %s: %w", r.Name, err)
		}
		for _, tb := range r.Tables() {
			out = append(out, fmt.Sprintf("INSERT INTO %s %s", ident(tb.Name), r.Summarise("("+rel+")", tb.Unit)))
		}
	}
	return out, nil
}

// ensureRollups creates missing rollup tables and fills each new one from the rows stored already.
func (d *DB) ensureRollups(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return err
	}
	for _, r := range d.rollups() {
		for _, tb := range r.Tables() {
			var exists bool
			if err := c.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
				WHERE table_schema = 'main' AND table_name = ?)`, tb.Name).Scan(&exists); err != nil {
				return fmt.Errorf("duckdb: rollup %s: %w", tb.Name, err)
			}
			if exists {
				continue
			}
			err := inTx(ctx, c, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, r.CreateSQL(tb.Name)); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s %s", ident(tb.Name), r.Summarise(ident(r.View), tb.Unit)))
				return err
			})
			if err != nil {
				return fmt.Errorf("duckdb: create rollup %s: %w", tb.Name, err)
			}
		}
	}
	return d.initRollupState(ctx, c)
}

// initRollupState starts compaction tracking after Open: the buckets of the last compactLookback before each
// table's newest event are taken as appended to.
func (d *DB) initRollupState(ctx context.Context, c *sql.Conn) error {
	d.rollupState = map[string]*rollupState{}
	for _, t := range d.tables {
		if len(rollup.For(t.Name)) == 0 {
			continue
		}
		var newest sql.NullTime
		if err := c.QueryRowContext(ctx, fmt.Sprintf("SELECT max(%s) FROM %s", ident(EventTimeColumn), ident(t.Name))).Scan(&newest); err != nil {
			return fmt.Errorf("duckdb: newest event of %s: %w", t.Name, err)
		}
		st := &rollupState{}
		if newest.Valid {
			st.since = newest.Time.Add(-compactLookback)
		}
		d.rollupState[t.Name] = st
	}
	return nil
}

// noteRollupRows records n new rows of t from event time since on, and compacts t's rollups when enough have
// accumulated. A failed compaction leaves correct, only larger, rollups; it is logged and retried later.
func (d *DB) noteRollupRows(ctx context.Context, c *sql.Conn, t *schema.Table, n int, since time.Time) {
	st := d.rollupState[t.Name]
	if st == nil || n == 0 {
		return
	}
	st.pending += n
	if st.since.IsZero() || since.Before(st.since) {
		st.since = since
	}
	if st.pending < d.compactEvery {
		return
	}
	if err := d.compact(ctx, c, t.Name, st.since); err != nil {
		d.log.Warn("duckdb rollup compaction failed", "table", t.Name, "err", err)
		return
	}
	st.pending, st.since = 0, time.Time{}
}

// compact merges the partial counts of table's rollups from since on.
func (d *DB) compact(ctx context.Context, c *sql.Conn, table string, since time.Time) error {
	for _, r := range rollup.For(table) {
		for _, tb := range r.Tables() {
			from := since.UTC().Truncate(time.Hour)
			if tb.Unit == "day" {
				from = from.Truncate(24 * time.Hour)
			}
			if err := execTx(ctx, c, r.CompactSQL(tb.Name), from); err != nil {
				return fmt.Errorf("rollup %s: %w", tb.Name, err)
			}
		}
	}
	return nil
}

// RebuildRollups recounts every rollup from the stored rows, one rollup table per transaction. Use it after
// rows were written around WriteRows (bulk copies); progress, if not nil, gets a line per table.
func (d *DB) RebuildRollups(ctx context.Context, progress func(table string, rows int64)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return err
	}
	for _, r := range d.rollups() {
		for _, tb := range r.Tables() {
			var n int64
			err := inTx(ctx, c, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, "DELETE FROM "+ident(tb.Name)); err != nil {
					return err
				}
				res, err := tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s %s", ident(tb.Name), r.Summarise(ident(r.View), tb.Unit)))
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return fmt.Errorf("duckdb: rebuild rollup %s: %w", tb.Name, err)
			}
			if progress != nil {
				progress(tb.Name, n)
			}
		}
	}
	for _, st := range d.rollupState {
		st.pending, st.since = 0, time.Time{}
	}
	return nil
}

// RefreshEventTimes recomputes EventTimeColumn of every row of a table from the row's columns, after rows were
// changed around WriteRows (bulk SQL). Rollups are not recounted: call RebuildRollups afterwards.
func (d *DB) RefreshEventTimes(ctx context.Context, table string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return err
	}
	for _, t := range d.tables {
		if t.Name != table {
			continue
		}
		if !StoresEventTime(t) {
			return fmt.Errorf("duckdb: %s has no %s column", table, EventTimeColumn)
		}
		_, err := c.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET %s = %s", ident(t.Name), ident(EventTimeColumn), eventTimeExpr(t, "")))
		if err != nil {
			return fmt.Errorf("duckdb: refresh event times of %s: %w", table, err)
		}
		return nil
	}
	return fmt.Errorf("duckdb: no table %s", table)
}
