package duckdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// selectList renders the table's columns for reading back as schema.Row values; dynamic columns come back as
// JSON text so they can be returned as json.RawMessage.
func selectList(t *schema.Table) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		if c.Type == schema.Dynamic {
			cols[i] = fmt.Sprintf("CAST(%s AS VARCHAR)", ident(c.Name))
		} else {
			cols[i] = ident(c.Name)
		}
	}
	return strings.Join(cols, ", ")
}

// rowValue converts a scanned value to the Go type schema.Row documents for the column type.
func rowValue(typ schema.ColumnType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case schema.String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case schema.DateTime:
		if t, ok := v.(time.Time); ok {
			return t.UTC(), nil
		}
	case schema.Real:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		}
	case schema.Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case schema.Dynamic:
		switch x := v.(type) {
		case string:
			return json.RawMessage(x), nil
		case []byte:
			return json.RawMessage(x), nil
		}
	}
	return nil, fmt.Errorf("unexpected %T for a %s column", v, typ)
}

// ScanRows calls fn for every row of t whose event time is in [from, to), ordered by event time and then by the
// natural key. A zero to means no upper bound. An error from fn stops the scan and is returned as is.
func (d *DB) ScanRows(ctx context.Context, t *schema.Table, from, to time.Time, fn func(schema.Row) error) error {
	if err := validateTable(t); err != nil {
		return fmt.Errorf("duckdb: scan: %w", err)
	}
	if t.EventTime == "" {
		return fmt.Errorf("duckdb: scan %s: table has no event time column", t.Name)
	}
	et := ident(t.EventTime)
	// Most tables hold their event time as a timestamp; the SIEM tables keep Sentinel's epoch-milliseconds real.
	bound := func(tm time.Time) any { return tm.UTC() }
	if i := t.ColumnIndex(t.EventTime); i >= 0 && t.Columns[i].Type == schema.Real {
		bound = func(tm time.Time) any { return float64(tm.UnixMilli()) }
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s >= ?", selectList(t), ident(t.Name), et)
	args := []any{bound(from)}
	if !to.IsZero() {
		q += fmt.Sprintf(" AND %s < ?", et)
		args = append(args, bound(to))
	}
	q += fmt.Sprintf(" ORDER BY %s, %s", et, identList(t.Key))
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("duckdb: scan %s: %w", t.Name, err)
	}
	defer rows.Close()
	n := len(t.Columns)
	raw := make([]any, n)
	ptrs := make([]any, n)
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("duckdb: scan %s: %w", t.Name, err)
		}
		r := make(schema.Row, n)
		for i, c := range t.Columns {
			v, err := rowValue(c.Type, raw[i])
			if err != nil {
				return fmt.Errorf("duckdb: scan %s column %s: %w", t.Name, c.Name, err)
			}
			r[i] = v
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("duckdb: scan %s: %w", t.Name, err)
	}
	return nil
}

// Count returns the number of rows in the named table (a data table, "quarantine" or "alerts").
func (d *DB) Count(ctx context.Context, table string) (int64, error) {
	if table == "" {
		return 0, errors.New("duckdb: count: empty table name")
	}
	var n int64
	if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM "+ident(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("duckdb: count %s: %w", table, err)
	}
	return n, nil
}

// Keys returns the natural key of every row of t, formatted as RowKey formats it, ordered by the key columns.
// Tests use it to check that data was stored exactly once.
func (d *DB) Keys(ctx context.Context, t *schema.Table) ([]string, error) {
	if err := validateTable(t); err != nil {
		return nil, fmt.Errorf("duckdb: keys: %w", err)
	}
	rows, err := d.db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", identList(t.Key), ident(t.Name), identList(t.Key)))
	if err != nil {
		return nil, fmt.Errorf("duckdb: keys of %s: %w", t.Name, err)
	}
	defer rows.Close()
	raw := make([]any, len(t.Key))
	ptrs := make([]any, len(t.Key))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var keys []string
	parts := make([]string, len(t.Key))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("duckdb: keys of %s: %w", t.Name, err)
		}
		for i, v := range raw {
			parts[i] = keyPart(v)
		}
		keys = append(keys, strings.Join(parts, KeySeparator))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckdb: keys of %s: %w", t.Name, err)
	}
	return keys, nil
}
