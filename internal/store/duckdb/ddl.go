package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/castwatch/castwatch/internal/schema"
)

// sqlType maps a logical column type to its DuckDB type.
func sqlType(t schema.ColumnType) (string, error) {
	switch t {
	case schema.String:
		return "VARCHAR", nil
	case schema.DateTime:
		// TIMESTAMP without zone; the store writes and reads UTC only.
		return "TIMESTAMP", nil
	case schema.Real:
		return "DOUBLE", nil
	case schema.Bool:
		return "BOOLEAN", nil
	case schema.Dynamic:
		return "JSON", nil
	}
	return "", fmt.Errorf("unknown column type %q", t)
}

// ident quotes an SQL identifier.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// identList quotes and joins identifiers.
func identList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = ident(n)
	}
	return strings.Join(q, ", ")
}

// columnNames returns the table's column names in order.
func columnNames(t *schema.Table) []string {
	n := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		n[i] = c.Name
	}
	return n
}

// validateTable checks what the store relies on: known column types, and key and event-time columns that exist.
func validateTable(t *schema.Table) error {
	if t.Name == "" || len(t.Columns) == 0 {
		return fmt.Errorf("table %q has no name or no columns", t.Name)
	}
	for _, c := range t.Columns {
		if _, err := sqlType(c.Type); err != nil {
			return fmt.Errorf("table %s column %s: %w", t.Name, c.Name, err)
		}
	}
	if len(t.Key) == 0 {
		return fmt.Errorf("table %s has no key", t.Name)
	}
	for _, k := range t.Key {
		if t.ColumnIndex(k) < 0 {
			return fmt.Errorf("table %s: key column %s is not a column", t.Name, k)
		}
	}
	if t.EventTime != "" && t.ColumnIndex(t.EventTime) < 0 {
		return fmt.Errorf("table %s: event time column %s is not a column", t.Name, t.EventTime)
	}
	return nil
}

// columnDefs renders "name TYPE, …", with NOT NULL on key columns when withKey is set.
func columnDefs(t *schema.Table, withKey bool) string {
	key := map[string]bool{}
	if withKey {
		for _, k := range t.Key {
			key[k] = true
		}
	}
	defs := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		typ, _ := sqlType(c.Type)
		defs[i] = ident(c.Name) + " " + typ
		if key[c.Name] {
			defs[i] += " NOT NULL"
		}
	}
	return strings.Join(defs, ", ")
}

// EventTimeColumn is the column every event table stores its event time in, beside the record's own columns: the
// record's event time as the Sentinel parsers read it (an epoch-millisecond SIEM timestamp as a time), or
// TimeGenerated when the record has none. The views' "Event Time" reads it, so a window on "Event Time" skips
// the row groups outside it instead of computing every row's time.
const EventTimeColumn = "_event_time"

// StoresEventTime reports whether t stores EventTimeColumn: every table but the snapshot tables, whose event time is
// TimeGenerated itself.
func StoresEventTime(t *schema.Table) bool {
	return t.EventTime != "" && t.EventTime != "TimeGenerated" && !schema.IsSnapshot(t.Name)
}

// TimeKeyed reports whether t's natural key holds its event time. Such a table has no PRIMARY KEY index (DuckDB
// keeps that index in memory, about 300 bytes per row: 35 GB for a month of a 10,000-mailbox gateway); a write
// looks for its keys only among the stored rows whose event time lies within the batch's, which equal keys share.
func TimeKeyed(t *schema.Table) bool {
	return StoresEventTime(t) && slices.Contains(t.Key, t.EventTime)
}

// eventTimeExpr is the SQL computing EventTimeColumn from t's columns, qualified by q ("" or an alias and a dot):
// a real (SIEM epoch milliseconds) truncated to whole milliseconds, as KQL tolong does, and outside DuckDB's
// timestamp range counted as absent; a datetime as it is; TimeGenerated when absent (Sentinel's parsers use now()
// instead, spec §7).
func eventTimeExpr(t *schema.Table, q string) string {
	col := q + ident(t.EventTime)
	if i := t.ColumnIndex(t.EventTime); i >= 0 && t.Columns[i].Type == schema.Real {
		col = fmt.Sprintf("CASE WHEN %s BETWEEN 0 AND 253402300799999 THEN epoch_ms(CAST(trunc(%s) AS BIGINT)) END", col, col)
	}
	return fmt.Sprintf("coalesce(%s, %s%s)", col, q, ident("TimeGenerated"))
}

// createTableSQL is the CREATE TABLE statement of a data table: its columns, EventTimeColumn when it has one, and
// a PRIMARY KEY on the natural key unless the table is time-keyed.
func createTableSQL(t *schema.Table) string {
	defs := columnDefs(t, true)
	if StoresEventTime(t) {
		defs += ", " + ident(EventTimeColumn) + " TIMESTAMP"
	}
	if !TimeKeyed(t) {
		defs += fmt.Sprintf(", PRIMARY KEY (%s)", identList(t.Key))
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", ident(t.Name), defs)
}

// migration is one numbered schema change, applied once in a transaction.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations are applied in order; append new ones, never edit applied ones.
var migrations = []migration{
	{1, "quarantine and alerts", []string{
		`CREATE TABLE IF NOT EXISTS quarantine (
			tenant VARCHAR NOT NULL,
			source VARCHAR NOT NULL,
			position VARCHAR NOT NULL,
			reason VARCHAR NOT NULL,
			raw VARCHAR,
			time TIMESTAMP NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS alerts (
			id VARCHAR PRIMARY KEY,
			tenant VARCHAR NOT NULL,
			rule_id VARCHAR NOT NULL,
			rule_version VARCHAR,
			title VARCHAR,
			severity VARCHAR,
			tactics VARCHAR[],
			techniques VARCHAR[],
			entities JSON,
			event_ids VARCHAR[],
			group_key VARCHAR,
			first_event TIMESTAMP,
			last_event TIMESTAMP,
			created TIMESTAMP NOT NULL,
			explanation VARCHAR,
			status VARCHAR NOT NULL DEFAULT 'new'
		)`,
	}},
	{2, "connectors", []string{
		`CREATE TABLE IF NOT EXISTS connectors (
			tenant VARCHAR NOT NULL,
			stream VARCHAR NOT NULL,
			state VARCHAR NOT NULL,
			last_run TIMESTAMP,
			last_success TIMESTAMP,
			last_error VARCHAR,
			last_error_at TIMESTAMP,
			rows BIGINT NOT NULL DEFAULT 0,
			pages BIGINT NOT NULL DEFAULT 0,
			interval_seconds BIGINT,
			updated TIMESTAMP NOT NULL,
			PRIMARY KEY (tenant, stream)
		)`,
	}},
	{3, "incidents", []string{
		`CREATE TABLE IF NOT EXISTS incidents (
			id VARCHAR PRIMARY KEY,
			tenant VARCHAR NOT NULL,
			rule_id VARCHAR NOT NULL,
			title VARCHAR,
			severity VARCHAR,
			state VARCHAR NOT NULL DEFAULT 'new',
			owner VARCHAR,
			classification VARCHAR,
			tactics VARCHAR[],
			techniques VARCHAR[],
			entities JSON,
			alert_ids VARCHAR[],
			first_alert TIMESTAMP,
			last_alert TIMESTAMP,
			created TIMESTAMP NOT NULL,
			updated TIMESTAMP NOT NULL,
			closed TIMESTAMP
		)`,
		`CREATE TABLE IF NOT EXISTS incident_comments (
			incident_id VARCHAR NOT NULL,
			seq INTEGER NOT NULL,
			author VARCHAR,
			text VARCHAR NOT NULL,
			time TIMESTAMP NOT NULL,
			PRIMARY KEY (incident_id, seq)
		)`,
	}},
	{4, "alert event snapshots", []string{
		// events holds the first schema.MaxAlertEvents matched events (JSON array); event_count all of them.
		`ALTER TABLE alerts ADD COLUMN IF NOT EXISTS events JSON`,
		`ALTER TABLE alerts ADD COLUMN IF NOT EXISTS event_count INTEGER`,
	}},
	{5, "users, sessions and API tokens", authTables},
	{6, "behaviour analytics", uebaTables},
}

// SchemaVersion is the migration version a store opened by this build is at.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// migrate records and applies pending migrations, creates missing data tables and adds columns a table has gained.
func (d *DB) migrate(ctx context.Context) error {
	return d.withWriteConn(func(c *sql.Conn) error {
		if _, err := c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied TIMESTAMP NOT NULL)`); err != nil {
			return fmt.Errorf("duckdb: migrate: %w", err)
		}
		var current int
		if err := c.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("duckdb: migrate: read version: %w", err)
		}
		for _, m := range migrations {
			if m.version <= current {
				continue
			}
			if err := d.apply(ctx, c, m); err != nil {
				return err
			}
			d.log.Info("duckdb migration applied", "version", m.version, "name", m.name)
		}
		for _, t := range d.tables {
			if err := validateTable(t); err != nil {
				return fmt.Errorf("duckdb: migrate: %w", err)
			}
			if _, err := c.ExecContext(ctx, createTableSQL(t)); err != nil {
				return fmt.Errorf("duckdb: create table %s: %w", t.Name, err)
			}
			if err := addMissingColumns(ctx, c, t); err != nil {
				return err
			}
			if err := d.upgradeTable(ctx, c, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// upgradeTable brings a table created by an earlier version to the current layout: it adds and fills
// EventTimeColumn, and rebuilds a time-keyed table that still has its PRIMARY KEY index without it (DuckDB cannot
// drop a constraint), in event-time order. Each step runs in one transaction.
func (d *DB) upgradeTable(ctx context.Context, c *sql.Conn, t *schema.Table) error {
	if !StoresEventTime(t) {
		return nil
	}
	var hasCol, hasKey bool
	err := c.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'main' AND table_name = $1 AND column_name = $2),
		EXISTS (SELECT 1 FROM duckdb_constraints() WHERE schema_name = 'main' AND table_name = $1 AND constraint_type = 'PRIMARY KEY')`,
		t.Name, EventTimeColumn).Scan(&hasCol, &hasKey)
	if err != nil {
		return fmt.Errorf("duckdb: inspect %s: %w", t.Name, err)
	}
	var stmts []string
	switch {
	case TimeKeyed(t) && hasKey:
		tmp := ident(t.Name + "__rebuild")
		cols := identList(columnNames(t))
		stmts = []string{
			fmt.Sprintf("CREATE TABLE %s (%s, %s TIMESTAMP)", tmp, columnDefs(t, true), ident(EventTimeColumn)),
			fmt.Sprintf("INSERT INTO %s (%s, %s) SELECT %s, %s AS e FROM %s ORDER BY e", tmp, cols, ident(EventTimeColumn),
				cols, eventTimeExpr(t, ""), ident(t.Name)),
			"DROP TABLE " + ident(t.Name),
			fmt.Sprintf("ALTER TABLE %s RENAME TO %s", tmp, ident(t.Name)),
		}
	case !hasCol:
		stmts = []string{
			fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s TIMESTAMP", ident(t.Name), ident(EventTimeColumn)),
			fmt.Sprintf("UPDATE %s SET %s = %s", ident(t.Name), ident(EventTimeColumn), eventTimeExpr(t, "")),
		}
	default:
		return nil
	}
	if err := execTx(ctx, c, stmts); err != nil {
		return fmt.Errorf("duckdb: upgrade %s: %w", t.Name, err)
	}
	d.log.Info("duckdb table upgraded", "table", t.Name, "rebuilt_without_key_index", TimeKeyed(t) && hasKey)
	return nil
}

// execTx runs statements in one transaction on c; args go to the statements that use $1.
func execTx(ctx context.Context, c *sql.Conn, stmts []string, args ...any) error {
	return inTx(ctx, c, func(tx *sql.Tx) error {
		for _, s := range stmts {
			a := args
			if !strings.Contains(s, "$1") {
				a = nil
			}
			if _, err := tx.ExecContext(ctx, s, a...); err != nil {
				return err
			}
		}
		return nil
	})
}

func (d *DB) apply(ctx context.Context, c *sql.Conn, m migration) error {
	err := inTx(ctx, c, func(tx *sql.Tx) error {
		for _, s := range m.stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("duckdb: migration %d (%s): %w", m.version, m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, ?)`, m.version, m.name, d.now().UTC()); err != nil {
			return fmt.Errorf("duckdb: migration %d: record: %w", m.version, err)
		}
		return nil
	})
	if err != nil && !strings.HasPrefix(err.Error(), "duckdb: migration") {
		return fmt.Errorf("duckdb: migration %d: %w", m.version, err)
	}
	return err
}

// addMissingColumns adds columns a table definition has gained since the stored table was created.
func addMissingColumns(ctx context.Context, c *sql.Conn, t *schema.Table) error {
	rows, err := c.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = 'main' AND table_name = ?`, t.Name)
	if err != nil {
		return fmt.Errorf("duckdb: columns of %s: %w", t.Name, err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("duckdb: columns of %s: %w", t.Name, err)
		}
		have[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("duckdb: columns of %s: %w", t.Name, err)
	}
	for _, col := range t.Columns {
		if have[col.Name] {
			continue
		}
		typ, _ := sqlType(col.Type)
		if _, err := c.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", ident(t.Name), ident(col.Name), typ)); err != nil {
			return fmt.Errorf("duckdb: add column %s.%s: %w", t.Name, col.Name, err)
		}
	}
	return nil
}
