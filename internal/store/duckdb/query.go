package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strings"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/castwatch/castwatch/internal/store"
)

// explainPrefix matches EXPLAIN [ANALYZE] [(options)] in front of the statement it explains.
var explainPrefix = regexp.MustCompile(`(?is)^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?:\([^)]*\)\s*)?`)

// Query runs one read-only SQL statement and returns its rows with DuckDB values converted to plain Go values:
// nil, bool, int64, float64, string, []byte, time.Time, time.Duration (intervals, a month counted as 30 days),
// []any for lists and map[string]any for structs, maps and JSON objects (JSON arrays become []any).
//
// Accepted are exactly one statement that DuckDB classifies as a SELECT — SELECT, WITH, VALUES, FROM-first
// queries, DESCRIBE, SHOW, SUMMARIZE and table-valued PRAGMAs such as PRAGMA table_info — or an EXPLAIN of one.
// Anything else fails with an error wrapping ErrReadOnlyQuery. The statement runs in a transaction that is always
// rolled back.
func (d *DB) Query(ctx context.Context, query string, args ...any) (*store.Result, error) {
	res, _, err := d.runReadOnly(ctx, query, 0, nil, args...)
	return res, err
}

// runReadOnly runs one read-only statement on its own connection: check (when set) sees the text first, then
// checkReadOnly, then the statement runs in a transaction that is rolled back. maxRows > 0 stops reading after
// that many rows and reports whether more were left.
func (d *DB) runReadOnly(ctx context.Context, query string, maxRows int,
	check func(context.Context, *sql.Conn, string) error, args ...any) (*store.Result, bool, error) {
	c, err := d.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("query: %w", err)
	}
	defer c.Close()
	if check != nil {
		if err := check(ctx, c, query); err != nil {
			return nil, false, err
		}
	}
	if err := c.Raw(func(dc any) error { return checkReadOnly(dc, query) }); err != nil {
		return nil, false, err
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, fmt.Errorf("query: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, false, fmt.Errorf("query: %w", err)
	}
	res := &store.Result{Columns: cols, Rows: [][]any{}}
	raw := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if maxRows > 0 && len(res.Rows) == maxRows {
			return res, true, nil
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, false, fmt.Errorf("query: %w", err)
		}
		row := make([]any, len(cols))
		for i, v := range raw {
			row[i] = plain(v)
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("query: %w", err)
	}
	return res, false, nil
}

// checkReadOnly prepares query without running it and rejects it unless it is one read-only statement.
// The driver's context-free Prepare refuses multi-statement text instead of running all but the last statement.
func checkReadOnly(dc any, query string) error {
	conn, ok := dc.(*duck.Conn)
	if !ok {
		return fmt.Errorf("query: unexpected driver connection %T", dc)
	}
	if strings.TrimSpace(strings.Trim(strings.TrimSpace(query), ";")) == "" {
		return fmt.Errorf("%w: empty statement", ErrReadOnlyQuery)
	}
	typ, err := statementType(conn, query)
	if err != nil {
		return err
	}
	switch typ {
	case duck.STATEMENT_TYPE_SELECT:
		return nil
	case duck.STATEMENT_TYPE_EXPLAIN:
		loc := explainPrefix.FindStringIndex(query)
		if loc == nil {
			return fmt.Errorf("%w: unrecognised EXPLAIN", ErrReadOnlyQuery)
		}
		inner, err := statementType(conn, query[loc[1]:])
		if err != nil {
			return err
		}
		if inner != duck.STATEMENT_TYPE_SELECT {
			return fmt.Errorf("%w: EXPLAIN of a %s statement", ErrReadOnlyQuery, statementName(inner))
		}
		return nil
	}
	return fmt.Errorf("%w: got a %s statement", ErrReadOnlyQuery, statementName(typ))
}

// statementType prepares one statement and returns its type.
func statementType(conn *duck.Conn, query string) (duck.StmtType, error) {
	st, err := conn.Prepare(query)
	if err != nil {
		if strings.Contains(err.Error(), "multi-statement") {
			return 0, fmt.Errorf("%w: exactly one statement is allowed", ErrReadOnlyQuery)
		}
		return 0, fmt.Errorf("query: %w", err)
	}
	defer st.Close()
	ds, ok := st.(*duck.Stmt)
	if !ok {
		return 0, fmt.Errorf("query: unexpected statement %T", st)
	}
	typ, err := ds.StatementType()
	if err != nil {
		return 0, fmt.Errorf("query: %w", err)
	}
	return typ, nil
}

// statementName names a statement type for error messages.
func statementName(t duck.StmtType) string {
	names := map[duck.StmtType]string{
		duck.STATEMENT_TYPE_INSERT: "INSERT", duck.STATEMENT_TYPE_UPDATE: "UPDATE", duck.STATEMENT_TYPE_DELETE: "DELETE",
		duck.STATEMENT_TYPE_CREATE: "CREATE", duck.STATEMENT_TYPE_ALTER: "ALTER", duck.STATEMENT_TYPE_DROP: "DROP",
		duck.STATEMENT_TYPE_COPY: "COPY", duck.STATEMENT_TYPE_ATTACH: "ATTACH", duck.STATEMENT_TYPE_DETACH: "DETACH",
		duck.STATEMENT_TYPE_PRAGMA: "PRAGMA", duck.STATEMENT_TYPE_SET: "SET", duck.STATEMENT_TYPE_VARIABLE_SET: "SET",
		duck.STATEMENT_TYPE_CALL: "CALL", duck.STATEMENT_TYPE_TRANSACTION: "transaction", duck.STATEMENT_TYPE_EXPORT: "EXPORT",
		duck.STATEMENT_TYPE_LOAD: "LOAD/INSTALL", duck.STATEMENT_TYPE_VACUUM: "VACUUM", duck.STATEMENT_TYPE_ANALYZE: "ANALYZE",
		duck.STATEMENT_TYPE_PREPARE: "PREPARE", duck.STATEMENT_TYPE_EXECUTE: "EXECUTE", duck.STATEMENT_TYPE_CREATE_FUNC: "CREATE FUNCTION",
		duck.STATEMENT_TYPE_EXPLAIN: "EXPLAIN", duck.STATEMENT_TYPE_SELECT: "SELECT",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return fmt.Sprintf("type-%d", t)
}

// plain converts a value scanned from DuckDB into a plain Go value.
func plain(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64, float64, []byte:
		return x
	case time.Time:
		return x.UTC()
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return float64(x)
	case float32:
		return float64(x)
	case *big.Int:
		if x == nil {
			return nil
		}
		if x.IsInt64() {
			return x.Int64()
		}
		f, _ := new(big.Float).SetInt(x).Float64()
		return f
	case duck.Decimal:
		return x.Float64()
	case duck.Interval:
		return time.Duration(x.Micros)*time.Microsecond + time.Duration(x.Days)*24*time.Hour +
			time.Duration(x.Months)*30*24*time.Hour
	case duck.UUID:
		return x.String()
	case *duck.UUID:
		if x == nil {
			return nil
		}
		return x.String()
	case duck.Union:
		return plain(x.Value)
	case duck.Map:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[fmt.Sprint(plain(k))] = plain(val)
		}
		return m
	case duck.OrderedMap:
		keys, vals := x.Keys(), x.Values()
		m := make(map[string]any, len(keys))
		for i, k := range keys {
			m[fmt.Sprint(plain(k))] = plain(vals[i])
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case driver.Valuer:
		dv, err := x.Value()
		if err != nil {
			return fmt.Sprint(x)
		}
		return plain(dv)
	case fmt.Stringer:
		return x.String()
	}
	return v
}
