package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// alertColumns are the alerts table's columns in the order alertArgs and scanAlert use.
const alertColumns = `id, tenant, rule_id, rule_version, title, severity, tactics, techniques, entities, event_ids,
	group_key, first_event, last_event, created, explanation, status`

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
		)
		err := tx.QueryRowContext(ctx, `SELECT event_ids, first_event, last_event FROM alerts WHERE id = ?`, a.ID).Scan(&ids, &first, &last)
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
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET event_ids = ?, first_event = ?, last_event = ? WHERE id = ?`,
			merged, newFirst, newLast, a.ID); err != nil {
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
	_, err = tx.ExecContext(ctx, `INSERT INTO alerts (`+alertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Tenant, a.RuleID, a.RuleVersion, a.Title, a.Severity, nonNil(a.Tactics), nonNil(a.Techniques), string(ents),
		mergeIDs(nil, a.EventIDs), a.GroupKey, nullTime(a.FirstEvent), nullTime(a.LastEvent), created.UTC(), a.Explanation, status)
	return err
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

// Alerts lists stored alerts matching f, newest first (by creation time, then last event, then id). Since keeps
// alerts created at or after it; Limit 0 means no limit.
func (d *DB) Alerts(ctx context.Context, f store.AlertFilter) ([]schema.Alert, error) {
	var (
		where []string
		args  []any
	)
	if f.Tenant != "" {
		where = append(where, "tenant = ?")
		args = append(args, f.Tenant)
	}
	if f.RuleID != "" {
		where = append(where, "rule_id = ?")
		args = append(args, f.RuleID)
	}
	if !f.Since.IsZero() {
		where = append(where, "created >= ?")
		args = append(args, f.Since.UTC())
	}
	q := `SELECT ` + alertColumns + `, CAST(entities AS VARCHAR) FROM alerts`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created DESC, last_event DESC NULLS LAST, id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: alerts: %w", err)
	}
	defer rows.Close()
	var out []schema.Alert
	for rows.Next() {
		var (
			a                                      schema.Alert
			ruleVersion, title, severity, groupKey sql.NullString
			explanation                            sql.NullString
			tactics, techniques, eventIDs          []any
			entitiesAny                            any
			entities                               sql.NullString
			first, last                            sql.NullTime
		)
		if err := rows.Scan(&a.ID, &a.Tenant, &a.RuleID, &ruleVersion, &title, &severity, &tactics, &techniques, &entitiesAny,
			&eventIDs, &groupKey, &first, &last, &a.Created, &explanation, &a.Status, &entities); err != nil {
			return nil, fmt.Errorf("duckdb: alerts: %w", err)
		}
		a.RuleVersion, a.Title, a.Severity = ruleVersion.String, title.String, severity.String
		a.GroupKey, a.Explanation = groupKey.String, explanation.String
		a.Tactics, a.Techniques, a.EventIDs = anyStrings(tactics), anyStrings(techniques), anyStrings(eventIDs)
		a.FirstEvent, a.LastEvent = first.Time.UTC(), last.Time.UTC()
		if !first.Valid {
			a.FirstEvent = time.Time{}
		}
		if !last.Valid {
			a.LastEvent = time.Time{}
		}
		a.Created = a.Created.UTC()
		if entities.Valid && entities.String != "" {
			if err := json.Unmarshal([]byte(entities.String), &a.Entities); err != nil {
				return nil, fmt.Errorf("duckdb: alert %s entities: %w", a.ID, err)
			}
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckdb: alerts: %w", err)
	}
	return out, nil
}
