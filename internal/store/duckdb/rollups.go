package duckdb

// Rollups (internal/rollup): the hourly and daily counts the dashboards read. The store creates their tables
// next to the views, fills new ones from the rows already stored, keeps every write's new rows also in the
// table's pending table (writeEvents), counts the pending rows into the rollups every flushAfter rows
// (flushPending: insert the counts and empty the pending table in one transaction), and compacts the partial
// counts the rollups accumulate.

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

// flushAfter is how many pending rows a table holds before they are counted into its rollups. Counting a few
// hundred rows at a time cost more than storing them (one statement per rollup table per write).
const flushAfter = 20_000

// compactLookback is how far before the newest bucket compaction starts after a restart, when the store does not
// know which buckets were appended to since the last compaction.
const compactLookback = 48 * time.Hour

// rollupState tracks the partial counts appended to one source table's rollups since their last compaction.
type rollupState struct {
	counted int       // source rows counted into the rollups since the last compaction
	since   time.Time // earliest event time counted since the last compaction
	pending int       // rows in the pending table
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

// rolledTables are the store's tables that have rollups.
func (d *DB) rolledTables() []*schema.Table {
	var out []*schema.Table
	for _, t := range d.tables {
		if len(rollup.For(t.Name)) > 0 {
			out = append(out, t)
		}
	}
	return out
}

// ensureRollups creates the pending tables and views, and missing rollup tables; a table with a new rollup table
// has all its rollups recounted from its stored rows.
func (d *DB) ensureRollups(ctx context.Context) error {
	return d.withWriteConn(func(c *sql.Conn) error {
		recount := map[string]bool{}
		for _, t := range d.rolledTables() {
			defs := rollup.For(t.Name)
			pending := rollup.PendingTable(t.Name)
			stmts := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s AS SELECT %s, %s FROM %s LIMIT 0",
				ident(pending), identList(columnNames(t)), ident(EventTimeColumn), ident(t.Name))}
			views := map[string]bool{}
			for _, r := range defs {
				if !views[r.View] {
					views[r.View] = true
					sel, err := viewOver(r.View, ident(pending))
					if err != nil {
						return fmt.Errorf("duckdb: rollup %s: %w", r.Name, err)
					}
					stmts = append(stmts, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS %s", ident(rollup.PendingView(r.View)), sel))
				}
				for _, tb := range r.Tables() {
					var exists bool
					if err := c.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
					WHERE table_schema = 'main' AND table_name = ?)`, tb.Name).Scan(&exists); err != nil {
						return fmt.Errorf("duckdb: rollup %s: %w", tb.Name, err)
					}
					if !exists {
						recount[t.Name] = true
						stmts = append(stmts, r.CreateSQL(tb.Name))
					}
				}
			}
			if _, err := c.ExecContext(ctx, stmts[0]); err != nil {
				return fmt.Errorf("duckdb: rollups of %s: %w", t.Name, err)
			}
			pt := *t // the pending table gains the columns its table gained
			pt.Name = pending
			if err := addMissingColumns(ctx, c, &pt); err != nil {
				return err
			}
			if err := execTx(ctx, c, stmts[1:]); err != nil {
				return fmt.Errorf("duckdb: rollups of %s: %w", t.Name, err)
			}
		}
		for _, tb := range rollup.Retired {
			if _, err := c.ExecContext(ctx, "DROP TABLE IF EXISTS "+ident(tb)); err != nil {
				return fmt.Errorf("duckdb: drop retired rollup %s: %w", tb, err)
			}
		}
		geoChanged, was, err := d.countrySourceChanged(ctx, c)
		if err != nil {
			return err
		}
		for _, t := range d.rolledTables() {
			if geoChanged && usesCountry(t.Name) && !recount[t.Name] {
				recount[t.Name] = true
				if was != "" {
					d.log.Info("recounting rollups by country: the GeoIP database changed", "table", t.Name,
						"geoip", d.countrySource, "counted_with", was)
				}
			}
			if !recount[t.Name] {
				continue
			}
			// Counting a big table takes minutes: say so, and how long it took (a new store is not worth a line).
			var stored bool
			if err := c.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+ident(t.Name)+")").Scan(&stored); err != nil {
				return fmt.Errorf("duckdb: %s: %w", t.Name, err)
			}
			start := time.Now()
			if stored {
				d.log.Info("counting rollups from the stored rows", "table", t.Name)
			}
			if err := d.recount(ctx, c, t.Name, nil); err != nil {
				return err
			}
			if stored {
				d.log.Info("rollups counted", "table", t.Name, "seconds", time.Since(start).Seconds())
			}
		}
		if err := d.saveCountrySource(ctx, c); err != nil {
			return err
		}
		return d.initRollupState(ctx, c)
	})
}

// recount recounts the rollups of one stored table from its rows and empties its pending table, in one
// transaction; progress, if not nil, gets each rollup table's rows.
func (d *DB) recount(ctx context.Context, c *sql.Conn, table string, progress func(table string, rows int64)) error {
	type done struct {
		name string
		rows int64
	}
	var tables []done
	err := inTx(ctx, c, func(tx *sql.Tx) error {
		for _, r := range rollup.For(table) {
			for _, tb := range r.Tables() {
				if _, err := tx.ExecContext(ctx, "DELETE FROM "+ident(tb.Name)); err != nil {
					return err
				}
				res, err := tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s %s", ident(tb.Name), r.Summarise(ident(r.View), tb.Unit)))
				if err != nil {
					return fmt.Errorf("%s: %w", tb.Name, err)
				}
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				tables = append(tables, done{tb.Name, n})
			}
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM "+ident(rollup.PendingTable(table)))
		return err
	})
	if err != nil {
		return fmt.Errorf("duckdb: recount rollups of %s: %w", table, err)
	}
	if st := d.rollupState[table]; st != nil {
		*st = rollupState{} // complete and compacted, nothing pending
	}
	for _, t := range tables {
		if progress != nil {
			progress(t.name, t.rows)
		}
	}
	return nil
}

// initRollupState starts compaction tracking after Open: the buckets of the last compactLookback before each
// table's newest event are taken as appended to.
func (d *DB) initRollupState(ctx context.Context, c *sql.Conn) error {
	d.rollupState = map[string]*rollupState{}
	for _, t := range d.rolledTables() {
		var newest sql.NullTime
		if err := c.QueryRowContext(ctx, fmt.Sprintf("SELECT max(%s) FROM %s", ident(EventTimeColumn), ident(t.Name))).Scan(&newest); err != nil {
			return fmt.Errorf("duckdb: newest event of %s: %w", t.Name, err)
		}
		st := &rollupState{}
		if newest.Valid {
			st.since = newest.Time.Add(-compactLookback)
		}
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM "+ident(rollup.PendingTable(t.Name))).Scan(&st.pending); err != nil {
			return fmt.Errorf("duckdb: pending rows of %s: %w", t.Name, err)
		}
		d.rollupState[t.Name] = st
	}
	return nil
}

// notePending records n new pending rows of t and counts the pending rows into the rollups once flushAfter have
// gathered. A failed flush leaves them pending (readers count them there); it is logged and retried later.
func (d *DB) notePending(ctx context.Context, c *sql.Conn, t *schema.Table, n int) {
	st := d.rollupState[t.Name]
	if st == nil || n == 0 {
		return
	}
	st.pending += n
	if st.pending < d.flushEvery {
		return
	}
	if err := d.flushPending(ctx, c, t); err != nil {
		d.log.Warn("duckdb rollup flush failed", "table", t.Name, "err", err)
	}
}

// flushPending counts t's pending rows into its rollups and empties the pending table, in one transaction.
func (d *DB) flushPending(ctx context.Context, c *sql.Conn, t *schema.Table) error {
	pending := ident(rollup.PendingTable(t.Name))
	var n int
	var since sql.NullTime
	err := inTx(ctx, c, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*), min(%s) FROM %s", ident(EventTimeColumn), pending)).Scan(&n, &since); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		for _, r := range rollup.For(t.Name) {
			for _, tb := range r.Tables() {
				if _, err := tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s %s", ident(tb.Name),
					r.Summarise(ident(rollup.PendingView(r.View)), tb.Unit))); err != nil {
					return fmt.Errorf("%s: %w", tb.Name, err)
				}
			}
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM "+pending)
		return err
	})
	if err != nil {
		return fmt.Errorf("flush pending rows of %s: %w", t.Name, err)
	}
	if st := d.rollupState[t.Name]; st != nil {
		st.pending = 0
	}
	d.noteRollupRows(ctx, c, t, n, since.Time)
	return nil
}

// FlushRollups counts every pending row into the rollups now (readers count pending rows anyway; this makes the
// rollup tables complete on their own).
func (d *DB) FlushRollups(ctx context.Context) error {
	return d.withWriteConn(func(c *sql.Conn) error {
		for _, t := range d.rolledTables() {
			if err := d.flushPending(ctx, c, t); err != nil {
				return fmt.Errorf("duckdb: %w", err)
			}
		}
		return nil
	})
}

// noteRollupRows records n rows of t counted into the rollups from event time since on, and compacts t's rollups when enough have
// accumulated. A failed compaction leaves correct, only larger, rollups; it is logged and retried later.
func (d *DB) noteRollupRows(ctx context.Context, c *sql.Conn, t *schema.Table, n int, since time.Time) {
	st := d.rollupState[t.Name]
	if st == nil || n == 0 {
		return
	}
	st.counted += n
	if st.since.IsZero() || since.Before(st.since) {
		st.since = since
	}
	if st.counted < d.compactEvery {
		return
	}
	if err := d.compact(ctx, c, t.Name, st.since); err != nil {
		d.log.Warn("duckdb rollup compaction failed", "table", t.Name, "err", err)
		return
	}
	st.counted, st.since = 0, time.Time{}
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

// RebuildRollups recounts every rollup from the stored rows, one stored table per transaction, and empties the
// pending tables. Use it after rows were written around WriteRows (bulk copies); progress, if not nil, gets a line
// per rollup table.
func (d *DB) RebuildRollups(ctx context.Context, progress func(table string, rows int64)) error {
	return d.withWriteConn(func(c *sql.Conn) error {
		for _, t := range d.rolledTables() {
			if err := d.recount(ctx, c, t.Name, progress); err != nil {
				return err
			}
		}
		return nil
	})
}

// RefreshEventTimes recomputes EventTimeColumn of every row of a table from the row's columns, after rows were
// changed around WriteRows (bulk SQL). Rollups are not recounted: call RebuildRollups afterwards.
func (d *DB) RefreshEventTimes(ctx context.Context, table string) error {
	return d.withWriteConn(func(c *sql.Conn) error {
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
	})
}
