package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// alertColumns are the alerts table's columns in the order alertArgs and scanAlert use.
const alertColumns = `id, tenant, rule_id, rule_version, title, severity, tactics, techniques, entities, event_ids,
	group_key, first_event, last_event, created, explanation, status, event_count, events`

// StatusNew is the status an alert is stored with when it has none.
const StatusNew = "new"

// UpsertAlerts stores alerts by id. A new alert is inserted (status "new" unless set). An alert already stored
// keeps its status, title and other fields; it gains the event ids it did not have (stored order first, then new
// ones in the given order), and its first and last event times widen to cover both. Alerts repeated within the
// call are merged the same way. It returns how many alerts were new.
func (d *DB) UpsertAlerts(ctx context.Context, alerts []schema.Alert) (inserted int, err error) {
	if len(alerts) == 0 {
		return 0, nil
	}
	for i, a := range alerts {
		if a.ID == "" {
			return 0, fmt.Errorf("duckdb: upsert alerts: alert %d has no id", i)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return 0, err
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("duckdb: upsert alerts: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, a := range alerts {
		var (
			ids         []any
			first, last sql.NullTime
			count       sql.NullInt64
			events      sql.NullString
		)
		err := tx.QueryRowContext(ctx, `SELECT event_ids, first_event, last_event, event_count, CAST(events AS VARCHAR)
			FROM alerts WHERE id = ?`, a.ID).Scan(&ids, &first, &last, &count, &events)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := insertAlert(ctx, tx, a, d.now()); err != nil {
				return 0, fmt.Errorf("duckdb: insert alert %s: %w", a.ID, err)
			}
			inserted++
			continue
		case err != nil:
			return 0, fmt.Errorf("duckdb: read alert %s: %w", a.ID, err)
		}
		merged := mergeIDs(anyStrings(ids), a.EventIDs)
		newFirst := widen(first, a.FirstEvent, func(x, y time.Time) bool { return y.Before(x) })
		newLast := widen(last, a.LastEvent, func(x, y time.Time) bool { return y.After(x) })
		snap, err := mergeSnapshot(events, a.Events)
		if err != nil {
			return 0, fmt.Errorf("duckdb: alert %s events: %w", a.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET event_ids = ?, first_event = ?, last_event = ?,
			event_count = ?, events = ? WHERE id = ? `, merged, newFirst, newLast,
			max(int(count.Int64), a.EventCount), snap, a.ID); err != nil {
			return 0, fmt.Errorf("duckdb: update alert %s: %w", a.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("duckdb: upsert alerts: commit: %w", err)
	}
	return inserted, nil
}

// SetAlertStatus sets the status of the alerts with the given ids and returns how many it changed.
func (d *DB) SetAlertStatus(ctx context.Context, ids []string, status string) (int, error) {
	if status == "" {
		return 0, errors.New("duckdb: set alert status: empty status")
	}
	if len(ids) == 0 {
		return 0, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return 0, err
	}
	res, err := c.ExecContext(ctx, `UPDATE alerts SET status = ? WHERE list_contains(?, id) AND status <> ?`, status, ids, status)
	if err != nil {
		return 0, fmt.Errorf("duckdb: set alert status: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("duckdb: set alert status: %w", err)
	}
	return int(n), nil
}

// widen returns the stored time, or t if t is set and better (per better) or nothing is stored.
func widen(stored sql.NullTime, t time.Time, better func(x, y time.Time) bool) any {
	switch {
	case t.IsZero() && !stored.Valid:
		return nil
	case t.IsZero():
		return stored.Time.UTC()
	case !stored.Valid || better(stored.Time, t):
		return t.UTC()
	}
	return stored.Time.UTC()
}

// mergeIDs appends to have the ids of add it lacks, keeping order.
func mergeIDs(have, add []string) []string {
	seen := make(map[string]bool, len(have)+len(add))
	out := make([]string, 0, len(have)+len(add))
	for _, l := range [][]string{have, add} {
		for _, id := range l {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

func insertAlert(ctx context.Context, tx *sql.Tx, a schema.Alert, now time.Time) error {
	entities := a.Entities
	if entities == nil {
		entities = []schema.Entity{}
	}
	ents, err := json.Marshal(entities)
	if err != nil {
		return fmt.Errorf("entities: %w", err)
	}
	status := a.Status
	if status == "" {
		status = StatusNew
	}
	created := a.Created
	if created.IsZero() {
		created = now
	}
	snap, err := mergeSnapshot(sql.NullString{}, a.Events)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO alerts (`+alertColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Tenant, a.RuleID, a.RuleVersion, a.Title, a.Severity, nonNil(a.Tactics), nonNil(a.Techniques), string(ents),
		mergeIDs(nil, a.EventIDs), a.GroupKey, nullTime(a.FirstEvent), nullTime(a.LastEvent), created.UTC(), a.Explanation, status,
		a.EventCount, snap)
	return err
}

// mergeSnapshot joins a stored event snapshot (JSON, may be null) with new events: one per event id, in (time, id)
// order, at most schema.MaxAlertEvents. It returns the JSON to store, or nil when there are no events.
func mergeSnapshot(stored sql.NullString, add []schema.Event) (any, error) {
	var have []schema.Event
	if stored.Valid && stored.String != "" {
		if err := json.Unmarshal([]byte(stored.String), &have); err != nil {
			return nil, fmt.Errorf("stored snapshot: %w", err)
		}
	}
	if len(add) == 0 && have == nil {
		return nil, nil
	}
	seen := make(map[string]bool, len(have)+len(add))
	out := make([]schema.Event, 0, len(have)+len(add))
	for _, l := range [][]schema.Event{have, add} {
		for _, ev := range l {
			if !seen[ev.ID] {
				seen[ev.ID] = true
				out = append(out, ev)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b schema.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	b, err := json.Marshal(out[:min(len(out), schema.MaxAlertEvents)])
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// anyStrings converts a scanned VARCHAR[] to []string.
func anyStrings(l []any) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// alertTime is an alert's time for ranges and sorting: its last event, else its creation.
const alertTime = "coalesce(last_event, created)"

// severityRank ranks a severity column for sorting, highest 5 (critical), unknown 0.
const severityRank = `CASE lower(severity) WHEN 'critical' THEN 5 WHEN 'high' THEN 4 WHEN 'medium' THEN 3
	WHEN 'low' THEN 2 WHEN 'informational' THEN 1 ELSE 0 END`

// alertOrders are the ORDER BY clauses of the store.AlertSort values.
var alertOrders = map[string]string{
	"":                      "created DESC, last_event DESC NULLS LAST, id",
	store.AlertSortCreated:  "created DESC, last_event DESC NULLS LAST, id",
	store.AlertSortTime:     alertTime + " DESC, id",
	store.AlertSortSeverity: severityRank + " DESC, " + alertTime + " DESC, id",
	store.AlertSortRule:     "rule_id, " + alertTime + " DESC, id",
}

// alertWhere renders f's conditions as a WHERE clause (empty when f has none) and its arguments.
func alertWhere(f store.AlertFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.Tenant != "" {
		add("tenant = ?", f.Tenant)
	}
	if f.RuleID != "" {
		add("rule_id = ?", f.RuleID)
	}
	if !f.Since.IsZero() {
		add("created >= ?", f.Since.UTC())
	}
	if !f.From.IsZero() {
		add(alertTime+" >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		add(alertTime+" < ?", f.To.UTC())
	}
	if f.IDs != nil {
		add("list_contains(?, id)", nonNil(f.IDs))
	}
	if f.Severity != "" {
		add("lower(severity) = lower(?)", f.Severity)
	}
	if len(f.Statuses) > 0 {
		add("list_contains(?, status)", f.Statuses)
	}
	if t := strings.TrimSpace(f.Text); t != "" {
		add(`(contains(lower(coalesce(title, '')), lower(?)) OR contains(lower(rule_id), lower(?))
			OR contains(lower(CAST(entities AS VARCHAR)), lower(?)))`, t, t, t)
	}
	if f.Technique != "" {
		// Listed ids are joined with commas; the technique matches whole, or as the parent of a sub-technique.
		pattern := regexp.QuoteMeta(f.Technique)
		if !strings.Contains(f.Technique, ".") {
			pattern += `(\.[0-9]+)?`
		}
		add("regexp_matches(',' || array_to_string(techniques, ',') || ',', ?)", ","+pattern+",")
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// Alerts lists stored alerts matching f in f.Sort order (newest created first by default). Limit 0 means no
// limit. The matched-event snapshot is loaded only with f.WithEvents.
func (d *DB) Alerts(ctx context.Context, f store.AlertFilter) ([]schema.Alert, error) {
	order, ok := alertOrders[f.Sort]
	if !ok {
		return nil, fmt.Errorf("duckdb: alerts: unknown sort %q (use created, time, severity or rule)", f.Sort)
	}
	if f.Offset < 0 || f.Limit < 0 {
		return nil, fmt.Errorf("duckdb: alerts: negative offset or limit")
	}
	events := "NULL"
	if f.WithEvents {
		events = "CAST(events AS VARCHAR)"
	}
	where, args := alertWhere(f)
	q := `SELECT ` + strings.TrimSuffix(alertColumns, "events") + events + `, CAST(entities AS VARCHAR) FROM alerts` +
		where + " ORDER BY " + order
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	if f.Offset > 0 {
		q += fmt.Sprintf(" OFFSET %d", f.Offset)
	}
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: alerts: %w", err)
	}
	defer rows.Close()
	var out []schema.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("duckdb: alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckdb: alerts: %w", err)
	}
	return out, nil
}

// scanAlert reads one row of the Alerts query.
func scanAlert(rows rowScanner) (schema.Alert, error) {
	var (
		a                                      schema.Alert
		ruleVersion, title, severity, groupKey sql.NullString
		explanation, events, entities          sql.NullString
		tactics, techniques, eventIDs          []any
		entitiesAny                            any
		first, last                            sql.NullTime
		count                                  sql.NullInt64
	)
	if err := rows.Scan(&a.ID, &a.Tenant, &a.RuleID, &ruleVersion, &title, &severity, &tactics, &techniques, &entitiesAny,
		&eventIDs, &groupKey, &first, &last, &a.Created, &explanation, &a.Status, &count, &events, &entities); err != nil {
		return a, err
	}
	a.RuleVersion, a.Title, a.Severity = ruleVersion.String, title.String, severity.String
	a.GroupKey, a.Explanation = groupKey.String, explanation.String
	a.Tactics, a.Techniques, a.EventIDs = anyStrings(tactics), anyStrings(techniques), anyStrings(eventIDs)
	if first.Valid {
		a.FirstEvent = first.Time.UTC()
	}
	if last.Valid {
		a.LastEvent = last.Time.UTC()
	}
	a.Created = a.Created.UTC()
	a.EventCount = int(count.Int64)
	if entities.Valid && entities.String != "" {
		if err := json.Unmarshal([]byte(entities.String), &a.Entities); err != nil {
			return a, fmt.Errorf("alert %s entities: %w", a.ID, err)
		}
	}
	if events.Valid && events.String != "" {
		if err := json.Unmarshal([]byte(events.String), &a.Events); err != nil {
			return a, fmt.Errorf("alert %s events: %w", a.ID, err)
		}
	}
	return a, nil
}
