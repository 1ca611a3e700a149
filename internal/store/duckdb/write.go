package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/castwatch/castwatch/internal/rollup"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// KeySeparator joins the natural-key values of a row in RowKey and Keys.
const KeySeparator = "|"

// valuesPerStatement bounds the parameters of one multi-row INSERT … VALUES statement.
const valuesPerStatement = 4000

// RowKey returns the natural key of r joined with KeySeparator, in the form Keys returns: strings as they are,
// times as RFC 3339 with nanoseconds in UTC, other values with fmt.
func RowKey(t *schema.Table, r schema.Row) string {
	parts := make([]string, len(t.Key))
	for i, k := range t.Key {
		j := t.ColumnIndex(k)
		if j < 0 || j >= len(r) {
			continue
		}
		parts[i] = keyPart(r[j])
	}
	return strings.Join(parts, KeySeparator)
}

func keyPart(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case json.RawMessage:
		return string(x)
	}
	return fmt.Sprint(v)
}

// normalizeRow checks a row against the table and returns its values as the driver should receive them:
// times in UTC, dynamic values as JSON text, whole numbers in real columns as float64.
func normalizeRow(t *schema.Table, r schema.Row, isKey []bool) ([]driver.Value, error) {
	if len(r) != len(t.Columns) {
		return nil, fmt.Errorf("has %d values, table %s has %d columns", len(r), t.Name, len(t.Columns))
	}
	out := make([]driver.Value, len(r))
	for i, c := range t.Columns {
		v, err := normalizeValue(c.Type, r[i])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		if v == nil && isKey[i] {
			return nil, fmt.Errorf("key column %s is null", c.Name)
		}
		out[i] = v
	}
	return out, nil
}

func normalizeValue(typ schema.ColumnType, v any) (driver.Value, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case schema.String:
		if s, ok := v.(string); ok {
			if !utf8.ValidString(s) {
				return nil, errors.New("string is not valid UTF-8")
			}
			return s, nil
		}
	case schema.DateTime:
		switch x := v.(type) {
		case time.Time:
			return x.UTC(), nil
		case *time.Time:
			if x == nil {
				return nil, nil
			}
			return x.UTC(), nil
		}
	case schema.Real:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case int32:
			return float64(x), nil
		}
	case schema.Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case schema.Dynamic:
		var raw []byte
		switch x := v.(type) {
		case json.RawMessage:
			raw = x
		case []byte:
			raw = x
		case string:
			raw = []byte(x)
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return nil, fmt.Errorf("dynamic value: %w", err)
			}
			raw = b
		}
		if len(raw) == 0 {
			return nil, nil
		}
		if !json.Valid(raw) || !utf8.Valid(raw) {
			return nil, errors.New("dynamic value is not valid UTF-8 JSON")
		}
		return string(raw), nil
	default:
		return nil, fmt.Errorf("unknown column type %q", typ)
	}
	return nil, fmt.Errorf("want %s, got %T", typ, v)
}

// prepareBatch validates and normalizes rows and drops rows whose key repeats an earlier row of the batch.
func prepareBatch(t *schema.Table, rows []schema.Row) ([][]driver.Value, error) {
	if err := validateTable(t); err != nil {
		return nil, err
	}
	isKey := make([]bool, len(t.Columns))
	for _, k := range t.Key {
		isKey[t.ColumnIndex(k)] = true
	}
	// A key repeated within the batch keeps its first row, or for a snapshot table its last (the newest state).
	snapshot := schema.IsSnapshot(t.Name)
	seen := make(map[string]int, len(rows))
	out := make([][]driver.Value, 0, len(rows))
	var kb strings.Builder
	for i, r := range rows {
		vals, err := normalizeRow(t, r, isKey)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		kb.Reset()
		for _, k := range t.Key {
			kb.WriteString(keyPart(vals[t.ColumnIndex(k)]))
			kb.WriteByte(0)
		}
		k := kb.String()
		if at, dup := seen[k]; dup {
			if snapshot {
				out[at] = vals
			}
			continue
		}
		seen[k] = len(out)
		out = append(out, vals)
	}
	return out, nil
}

// WriteRows inserts rows into t, ignoring rows whose natural key is stored already or repeats an earlier row of
// the same batch (the first one wins); snapshot tables (schema.IsSnapshot) instead keep the newest row per key.
// It returns how many rows were new (for a snapshot table: new or replaced). A batch with any invalid row (wrong
// number of values, a value of the wrong type, a null key) writes nothing.
func (d *DB) WriteRows(ctx context.Context, t *schema.Table, rows []schema.Row) (int, error) {
	batch, err := prepareBatch(t, rows)
	if err != nil {
		return 0, fmt.Errorf("duckdb: write %s: %w", t.Name, err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return 0, err
	}
	var n int
	switch {
	case !schema.IsSnapshot(t.Name):
		n, err = d.writeEvents(ctx, c, t, batch)
	case d.strategy == strategyValues:
		n, err = writeValues(ctx, c, t, t.Name, batch)
	default:
		n, err = d.writeAppender(ctx, c, t, batch)
	}
	if err != nil {
		return 0, fmt.Errorf("duckdb: write %s: %w", t.Name, err)
	}
	return n, nil
}

// stageName is the temp staging table of t on the write connection.
func stageName(t *schema.Table) string { return "stage_" + t.Name }

// stageDefs are the staging table's columns: the table's, without constraints, and with dynamic columns as
// VARCHAR because the appender would encode a JSON column's text as a JSON string.
func stageDefs(t *schema.Table) string {
	defs := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		typ, _ := sqlType(c.Type)
		if c.Type == schema.Dynamic {
			typ = "VARCHAR"
		}
		defs[i] = ident(c.Name) + " " + typ
	}
	return strings.Join(defs, ", ")
}

// stageSelect reads the staging table's columns (qualified by q: "" or an alias and a dot) as the target table's
// types.
func stageSelect(t *schema.Table, q string) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = stageColumn(c, q)
	}
	return strings.Join(cols, ", ")
}

// stageColumn reads one staging column as the target column's type.
func stageColumn(c schema.Column, q string) string {
	if c.Type == schema.Dynamic {
		return fmt.Sprintf("CAST(%s%s AS JSON)", q, ident(c.Name))
	}
	return q + ident(c.Name)
}

// writeAppender first appends the batch straight into t when directAppend allows it, which is the whole write
// when every key is new. Otherwise, or when that append fails, it appends the batch to the staging table and
// moves it with one INSERT OR IGNORE … SELECT, which is atomic on its own. The staging table is emptied after
// every use, and before one if that failed.
func (d *DB) writeAppender(ctx context.Context, c *sql.Conn, t *schema.Table, batch [][]driver.Value) (int, error) {
	if directAppend(t, len(batch)) {
		err := c.Raw(func(dc any) error { return appendBatch(ctx, dc, "", "", t.Name, batch) })
		if err == nil {
			return len(batch), nil
		}
		// A failed commit wrote nothing. It is normally a key of the batch that is stored already (the driver
		// reports it as a plain append failure, not as a constraint error); the staging path merges such a batch,
		// and reports any other failure itself.
		var ce *commitError
		if !errors.As(err, &ce) || ctx.Err() != nil {
			return 0, err
		}
	}
	clear, err := d.stageBatch(ctx, c, t, batch)
	if err != nil {
		return 0, err
	}
	verb, onConflict := insertClauses(t)
	res, err := c.ExecContext(ctx, fmt.Sprintf("%s %s (%s) SELECT %s FROM %s%s",
		verb, ident(t.Name), identList(columnNames(t)), stageSelect(t, ""), ident(stageName(t)), onConflict))
	clear()
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return int(n), nil
}

// stageBatch puts the batch into t's staging table (created on first use), with the appender or, under
// strategyValues, with INSERT … VALUES. The returned clear empties the staging table; call it once the batch has
// been moved, or failed to. A staging table that could not be emptied is emptied before its next use.
func (d *DB) stageBatch(ctx context.Context, c *sql.Conn, t *schema.Table, batch [][]driver.Value) (clear func(), err error) {
	stage := stageName(t)
	if !d.staged[t.Name] {
		if _, err := c.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s (%s)", ident(stage), stageDefs(t))); err != nil {
			return nil, fmt.Errorf("create staging table: %w", err)
		}
		d.staged[t.Name] = true
	}
	empty := func() error {
		_, err := c.ExecContext(context.WithoutCancel(ctx), "DELETE FROM "+ident(stage))
		d.dirty[t.Name] = err != nil
		return err
	}
	if d.dirty[t.Name] {
		if err := empty(); err != nil {
			return nil, fmt.Errorf("clear staging table: %w", err)
		}
	}
	d.dirty[t.Name] = true
	if d.strategy == strategyValues {
		_, err = writeValues(ctx, c, t, stage, batch)
	} else {
		err = c.Raw(func(dc any) error { return appendBatch(ctx, dc, "temp", "main", stage, batch) })
	}
	if err != nil {
		_ = empty()
		return nil, err
	}
	return func() {
		if err := empty(); err != nil {
			d.log.Warn("duckdb staging table not cleared", "table", t.Name, "err", err)
		}
	}, nil
}

// directRows bounds the batches appended straight into the target table: DuckDB's appender commits what it holds
// in one transaction as long as it stays below its automatic flush threshold (204,800 rows).
const directRows = 100_000

// directAppend reports whether a batch of n rows of t is first appended straight into t. When no key of the batch
// is stored yet, every row is new and the append is the whole write; a stored key makes the appender's commit
// fail and write nothing, and the batch then goes through the staging table. Plain appends are about
// 3× cheaper than INSERT OR IGNORE … SELECT from the staging table, whose conflict handling dominates a
// page-sized batch. Tables with dynamic columns always stage (the appender would store JSON text as a JSON string).
func directAppend(t *schema.Table, n int) bool {
	if n > directRows {
		return false
	}
	for _, c := range t.Columns {
		if c.Type == schema.Dynamic {
			return false
		}
	}
	return true
}

// appendBatch appends the batch to catalog.schema.table with DuckDB's appender; the rows are committed together
// when the appender closes, or not at all.
func appendBatch(ctx context.Context, dc any, catalog, schemaName, table string, batch [][]driver.Value) error {
	conn, ok := dc.(driver.Conn)
	if !ok {
		return fmt.Errorf("unexpected driver connection %T", dc)
	}
	app, err := duck.NewAppender(conn, catalog, schemaName, table)
	if err != nil {
		return fmt.Errorf("appender: %w", err)
	}
	for i, r := range batch {
		if err := ctx.Err(); err != nil {
			_ = app.Clear()
			_ = app.Close()
			return err
		}
		if err := app.AppendRow(r...); err != nil {
			_ = app.Clear()
			_ = app.Close()
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	if err := app.Close(); err != nil {
		return &commitError{err}
	}
	return nil
}

// commitError is the appender's failure to commit the rows it holds; nothing of them is stored.
type commitError struct{ err error }

func (e *commitError) Error() string { return e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// insertClauses returns how a batch goes into t. Event tables keep the first row stored for a key (INSERT OR
// IGNORE): a record seen again is the same record. Snapshot tables (Awareness Training: current state per user)
// replace the stored row with a newer one, and only a newer one: a redelivered older batch never overwrites state
// written after it.
func insertClauses(t *schema.Table) (verb, onConflict string) {
	if !schema.IsSnapshot(t.Name) {
		return "INSERT OR IGNORE INTO", ""
	}
	key := map[string]bool{}
	for _, k := range t.Key {
		key[k] = true
	}
	var set []string
	for _, c := range t.Columns {
		if !key[c.Name] {
			set = append(set, fmt.Sprintf("%s = excluded.%s", ident(c.Name), ident(c.Name)))
		}
	}
	return "INSERT INTO", fmt.Sprintf(" ON CONFLICT (%s) DO UPDATE SET %s WHERE excluded.%s >= %s.%s",
		identList(t.Key), strings.Join(set, ", "), ident("TimeGenerated"), ident(t.Name), ident("TimeGenerated"))
}

// writeValues sends the batch as prepared multi-row INSERT … VALUES statements into target in one transaction:
// into t itself with t's conflict handling (insertClauses), or plainly into t's staging table.
func writeValues(ctx context.Context, c *sql.Conn, t *schema.Table, target string, batch [][]driver.Value) (n int, err error) {
	ncol := len(t.Columns)
	per := max(1, valuesPerStatement/ncol)
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", ncol), ", ") + ")"
	verb, onConflict := "INSERT INTO", ""
	if target == t.Name {
		verb, onConflict = insertClauses(t)
	}
	head := fmt.Sprintf("%s %s (%s) VALUES ", verb, ident(target), identList(columnNames(t)))
	stmtFor := func(rows int) string {
		return head + strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ") + onConflict
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var full *sql.Stmt
	args := make([]any, 0, per*ncol)
	for start := 0; start < len(batch); start += per {
		end := min(start+per, len(batch))
		args = args[:0]
		for _, r := range batch[start:end] {
			for _, v := range r {
				args = append(args, v)
			}
		}
		var res sql.Result
		if end-start == per {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, stmtFor(per)); err != nil {
					return 0, err
				}
				defer full.Close()
			}
			res, err = full.ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, stmtFor(end-start), args...)
		}
		if err != nil {
			return 0, fmt.Errorf("rows %d-%d: %w", start, end-1, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		n += int(k)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return n, nil
}

// Quarantine stores rejected inputs with their reasons. Items without a time get the store clock's time.
func (d *DB) Quarantine(ctx context.Context, q []store.Quarantined) (err error) {
	if len(q) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return err
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("duckdb: quarantine: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// A redelivered batch quarantines the same items again: positions are deterministic, so an item already held
	// (same tenant, source, position and reason) is not stored twice.
	st, err := tx.PrepareContext(ctx, `INSERT INTO quarantine (tenant, source, position, reason, raw, time)
		SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (
			SELECT 1 FROM quarantine WHERE tenant = $1 AND source = $2 AND position = $3 AND reason = $4)`)
	if err != nil {
		return fmt.Errorf("duckdb: quarantine: %w", err)
	}
	defer st.Close()
	for i, item := range q {
		at := item.Time
		if at.IsZero() {
			at = d.now()
		}
		if _, err := st.ExecContext(ctx, item.Tenant, item.Source, item.Position, item.Reason, item.Raw, at.UTC()); err != nil {
			return fmt.Errorf("duckdb: quarantine item %d: %w", i, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("duckdb: quarantine: commit: %w", err)
	}
	return nil
}

// QuarantineCount returns how many quarantined items are stored for tenant ("" counts all tenants).
func (d *DB) QuarantineCount(ctx context.Context, tenant string) (int64, error) {
	var n int64
	err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM quarantine WHERE ? = '' OR tenant = ?`, tenant, tenant).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("duckdb: quarantine count: %w", err)
	}
	return n, nil
}

// writeEvents writes a batch of an event table: the batch goes to the staging table; the rows whose natural key
// is not stored yet go to the temporary table "fresh" with their EventTimeColumn; then one transaction appends the
// fresh rows to t and, when t has rollups, to its rollup-pending table, whose rows are counted into the rollups
// later in larger steps (flushPending), so a rollup counts every stored row exactly once. For a
// time-keyed table the stored keys are looked up only among the rows whose event time lies within the batch's
// (a stored row with an equal key has an equal event time), which DuckDB reads from those row groups only.
//
// The statements are built once per table (eventWriter). They are not prepared: DuckDB plans a prepared statement
// with the statistics of the tables at that time, and a plan made over the empty temporary table reads nothing
// from it later.
func (d *DB) writeEvents(ctx context.Context, c *sql.Conn, t *schema.Table, batch [][]driver.Value) (int, error) {
	clear, err := d.stageBatch(ctx, c, t, batch)
	if err != nil {
		return 0, err
	}
	defer clear()
	w, err := d.eventWriter(ctx, c, t)
	if err != nil {
		return 0, err
	}
	var args []any
	if w.timeRange != "" {
		var lo, hi sql.NullTime
		if err := c.QueryRowContext(ctx, w.timeRange).Scan(&lo, &hi); err != nil {
			return 0, fmt.Errorf("event time range: %w", err)
		}
		args = []any{lo.Time, hi.Time}
	}
	var n int
	err = inTx(ctx, c, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, w.clearFresh); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, w.fillFresh, args...); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, w.insert)
		if err != nil {
			return err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("rows affected: %w", err)
		}
		n = int(k)
		if n > 0 && w.pending != "" {
			_, err = tx.ExecContext(ctx, w.pending)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	d.notePending(ctx, c, t, n)
	return n, nil
}

// eventWriterStmts are the statements of writeEvents for one table, on the write connection.
type eventWriterStmts struct {
	// timeRange reads the staged batch's event-time range (time-keyed tables only).
	timeRange string
	// clearFresh empties the fresh table; fillFresh fills it with the staged rows whose key is new ($1, $2: the
	// batch's event-time range, for time-keyed tables); insert appends them to the table.
	clearFresh, fillFresh, insert string
	// pending appends the fresh rows to the table's rollup-pending table ("" for a table without rollups).
	pending string
}

// eventWriter returns t's statements, creating its temporary fresh table and building them on first use.
// The caller holds d.mu and has staged a batch (the staging table exists).
func (d *DB) eventWriter(ctx context.Context, c *sql.Conn, t *schema.Table) (*eventWriterStmts, error) {
	if w := d.writers[t.Name]; w != nil {
		return w, nil
	}
	stage := ident(stageName(t))
	fresh := ident(freshName(t))
	cols := identList(columnNames(t))
	sel := make([]string, 0, len(t.Columns)+1)
	for _, col := range t.Columns {
		sel = append(sel, stageColumn(col, "s.")+" AS "+ident(col.Name))
	}
	if StoresEventTime(t) {
		cols += ", " + ident(EventTimeColumn)
		sel = append(sel, eventTimeExpr(t, "s.")+" AS "+ident(EventTimeColumn))
	}
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = fmt.Sprintf("x.%s = %s", ident(k), stageColumn(t.Columns[t.ColumnIndex(k)], "s."))
	}
	// The stored rows that may repeat a batch key: those with a probe value of the batch (their event time, or
	// their first key column after the tenant), within the batch's event times for a time-keyed table. DuckDB
	// builds the IN side's hash table from the small batch and reads one column of the stored rows to probe it.
	first := t.Key[0]
	for _, k := range t.Key {
		if k != "tenant" {
			first = k
			break
		}
	}
	probe, probeStage := ident(first), stageColumn(t.Columns[t.ColumnIndex(first)], "")
	window := ""
	if TimeKeyed(t) {
		probe, probeStage = ident(EventTimeColumn), eventTimeExpr(t, "")
		window = fmt.Sprintf("%s BETWEEN $1 AND $2 AND ", ident(EventTimeColumn))
	}
	candidates := fmt.Sprintf("(SELECT * FROM %s WHERE %s%s IN (SELECT %s FROM %s))", ident(t.Name), window, probe, probeStage, stage)
	cond := strings.Join(keys, " AND ")
	if _, err := c.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT %s FROM %s LIMIT 0",
		fresh, cols, ident(t.Name))); err != nil {
		return nil, fmt.Errorf("prepare writes of %s: %w", t.Name, err)
	}
	w := &eventWriterStmts{
		clearFresh: "DELETE FROM " + fresh,
		fillFresh: fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s AS s WHERE NOT EXISTS (SELECT 1 FROM %s AS x WHERE %s)",
			fresh, strings.Join(sel, ", "), stage, candidates, cond),
		insert: fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s", ident(t.Name), cols, cols, fresh),
	}
	if len(rollup.For(t.Name)) > 0 {
		w.pending = fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s", ident(rollup.PendingTable(t.Name)), cols, cols, fresh)
	}
	if TimeKeyed(t) {
		ev := eventTimeExpr(t, "")
		w.timeRange = fmt.Sprintf("SELECT min(%s), max(%s) FROM %s", ev, ev, stage)
	}
	d.writers[t.Name] = w
	return w, nil
}

// freshName is the temporary table holding the new rows of a write to t.
func freshName(t *schema.Table) string { return "fresh_" + t.Name }

// inTx runs fn in a transaction on c, committing when it returns nil.
func inTx(ctx context.Context, c *sql.Conn, fn func(*sql.Tx) error) (err error) {
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
