package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/castwatch/castwatch/internal/store"
)

// SaveConnector stores a connector's status. Rows and Pages are what the run added: they are summed into the
// stored totals, so the totals survive restarts.
func (d *DB) SaveConnector(ctx context.Context, c store.Connector) error {
	if c.Tenant == "" || c.Stream == "" || c.State == "" {
		return fmt.Errorf("duckdb: save connector: tenant, stream and state are required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	conn, err := d.writeConn()
	if err != nil {
		return err
	}
	updated := c.Updated
	if updated.IsZero() {
		updated = d.now()
	}
	_, err = conn.ExecContext(ctx, `INSERT INTO connectors (tenant, stream, state, last_run, last_success, last_error,
			last_error_at, rows, pages, interval_seconds, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, stream) DO UPDATE SET state = excluded.state,
			last_run = coalesce(excluded.last_run, connectors.last_run),
			last_success = coalesce(excluded.last_success, connectors.last_success),
			last_error = coalesce(excluded.last_error, connectors.last_error),
			last_error_at = coalesce(excluded.last_error_at, connectors.last_error_at),
			rows = connectors.rows + excluded.rows, pages = connectors.pages + excluded.pages,
			interval_seconds = excluded.interval_seconds, updated = excluded.updated`,
		c.Tenant, c.Stream, c.State, nullTime(c.LastRun), nullTime(c.LastSuccess), nullString(c.LastError),
		nullTime(c.LastErrorAt), c.Rows, c.Pages, int64(c.Interval/time.Second), updated.UTC())
	if err != nil {
		return fmt.Errorf("duckdb: save connector %s/%s: %w", c.Tenant, c.Stream, err)
	}
	return nil
}

// Connectors lists the saved connector statuses by tenant and stream.
func (d *DB) Connectors(ctx context.Context) ([]store.Connector, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT tenant, stream, state, last_run, last_success, last_error,
		last_error_at, rows, pages, interval_seconds, updated FROM connectors ORDER BY tenant, stream`)
	if err != nil {
		return nil, fmt.Errorf("duckdb: connectors: %w", err)
	}
	defer rows.Close()
	var out []store.Connector
	for rows.Next() {
		var (
			c                          store.Connector
			lastRun, lastOK, lastErrAt sql.NullTime
			lastErr                    sql.NullString
			interval                   sql.NullInt64
		)
		if err := rows.Scan(&c.Tenant, &c.Stream, &c.State, &lastRun, &lastOK, &lastErr, &lastErrAt, &c.Rows, &c.Pages,
			&interval, &c.Updated); err != nil {
			return nil, fmt.Errorf("duckdb: connectors: %w", err)
		}
		c.LastRun, c.LastSuccess, c.LastErrorAt = lastRun.Time.UTC(), lastOK.Time.UTC(), lastErrAt.Time.UTC()
		if !lastRun.Valid {
			c.LastRun = time.Time{}
		}
		if !lastOK.Valid {
			c.LastSuccess = time.Time{}
		}
		if !lastErrAt.Valid {
			c.LastErrorAt = time.Time{}
		}
		c.LastError = lastErr.String
		c.Interval = time.Duration(interval.Int64) * time.Second
		c.Updated = c.Updated.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
