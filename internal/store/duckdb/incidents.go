package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// incidentColumns are the incidents table's columns in the order insertIncident and scanIncident use.
const incidentColumns = `id, tenant, rule_id, title, severity, state, owner, classification, tactics, techniques,
	entities, alert_ids, first_alert, last_alert, created, updated, closed`

// incidentSelect selects incidentColumns for scanIncident (entities as JSON text).
const incidentSelect = `SELECT id, tenant, rule_id, title, severity, state, owner, classification, tactics, techniques,
	CAST(entities AS VARCHAR), alert_ids, first_alert, last_alert, created, updated, closed FROM incidents`

// severityOrder ranks alert severities, lowest first; an unknown severity ranks below all of them.
var severityOrder = []string{"informational", "low", "medium", "high", "critical"}

// higherSeverity returns the higher of two severities.
func higherSeverity(a, b string) string {
	if slices.Index(severityOrder, b) > slices.Index(severityOrder, a) {
		return b
	}
	return a
}

// ValidIncidentState reports whether s is new, active or closed.
func ValidIncidentState(s string) bool {
	return s == store.IncidentNew || s == store.IncidentActive || s == store.IncidentClosed
}

// micro truncates t to the precision DuckDB's TIMESTAMP keeps, in UTC, so stored and given times compare equal.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// earlier and later pick the earlier or later of two times, ignoring zero times.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// mergeEntities appends to have the entities of add it lacks, then sorts by type and value.
func mergeEntities(have, add []schema.Entity) []schema.Entity {
	out := make([]schema.Entity, 0, len(have)+len(add))
	seen := map[schema.Entity]bool{}
	for _, l := range [][]schema.Entity{have, add} {
		for _, e := range l {
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// mergeIncident returns stored with what inc adds: alert ids, entities, tactics and techniques it lacks, widened
// alert times and the higher severity. Triage fields (state, owner, classification) and the title stay.
func mergeIncident(stored, inc store.Incident) store.Incident {
	m := stored
	m.AlertIDs = mergeIDs(stored.AlertIDs, inc.AlertIDs)
	m.Entities = mergeEntities(stored.Entities, inc.Entities)
	m.Tactics = mergeIDs(stored.Tactics, inc.Tactics)
	m.Techniques = mergeIDs(stored.Techniques, inc.Techniques)
	m.Severity = higherSeverity(stored.Severity, inc.Severity)
	m.FirstAlert = micro(earlier(stored.FirstAlert, inc.FirstAlert))
	m.LastAlert = micro(later(stored.LastAlert, inc.LastAlert))
	return m
}

// sameSummary reports whether two incidents have the same alert-derived fields.
func sameSummary(a, b store.Incident) bool {
	return slices.Equal(a.AlertIDs, b.AlertIDs) && slices.Equal(a.Entities, b.Entities) &&
		slices.Equal(a.Tactics, b.Tactics) && slices.Equal(a.Techniques, b.Techniques) && a.Severity == b.Severity &&
		a.FirstAlert.Equal(b.FirstAlert) && a.LastAlert.Equal(b.LastAlert)
}

// SaveIncidents stores incidents by id in one transaction. A new incident is inserted with its state (new when
// unset), owner and classification; Created and Updated default to the store's clock. An incident already stored
// keeps its title, state, owner, classification and comments, and gains what the given one adds (see
// mergeIncident); it is written, and its Updated time set, only when that changes something, so saving the same
// incidents again changes nothing. Incidents repeated within the call are merged first. Comments are not saved
// (use AddComment). It returns how many incidents were new.
func (d *DB) SaveIncidents(ctx context.Context, incs []store.Incident) (inserted int, err error) {
	if len(incs) == 0 {
		return 0, nil
	}
	var (
		order []string
		byID  = map[string]store.Incident{}
	)
	for i, inc := range incs {
		if inc.ID == "" || inc.Tenant == "" || inc.RuleID == "" {
			return 0, fmt.Errorf("duckdb: save incidents: incident %d needs an id, a tenant and a rule id", i)
		}
		if inc.State != "" && !ValidIncidentState(inc.State) {
			return 0, fmt.Errorf("duckdb: save incident %s: %w %q", inc.ID, store.ErrInvalidIncidentState, inc.State)
		}
		if prev, ok := byID[inc.ID]; ok {
			byID[inc.ID] = mergeIncident(prev, inc)
			continue
		}
		inc.FirstAlert, inc.LastAlert = micro(inc.FirstAlert), micro(inc.LastAlert)
		inc.AlertIDs = mergeIDs(nil, inc.AlertIDs)
		inc.Entities = mergeEntities(nil, inc.Entities)
		byID[inc.ID] = inc
		order = append(order, inc.ID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return 0, err
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("duckdb: save incidents: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	now := micro(d.now())
	for _, id := range order {
		inc := byID[id]
		stored, err := scanIncident(tx.QueryRowContext(ctx, incidentSelect+` WHERE id = ?`, id))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := insertIncident(ctx, tx, inc, now); err != nil {
				return 0, fmt.Errorf("duckdb: insert incident %s: %w", id, err)
			}
			inserted++
			continue
		case err != nil:
			return 0, fmt.Errorf("duckdb: read incident %s: %w", id, err)
		}
		merged := mergeIncident(stored, inc)
		if sameSummary(stored, merged) {
			continue
		}
		ents, err := json.Marshal(merged.Entities)
		if err != nil {
			return 0, fmt.Errorf("duckdb: incident %s entities: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET alert_ids = ?, entities = ?, tactics = ?, techniques = ?,
			severity = ?, first_alert = ?, last_alert = ?, updated = ? WHERE id = ?`,
			merged.AlertIDs, string(ents), nonNil(merged.Tactics), nonNil(merged.Techniques), merged.Severity,
			nullTime(merged.FirstAlert), nullTime(merged.LastAlert), now, id); err != nil {
			return 0, fmt.Errorf("duckdb: update incident %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("duckdb: save incidents: commit: %w", err)
	}
	return inserted, nil
}

func insertIncident(ctx context.Context, tx *sql.Tx, inc store.Incident, now time.Time) error {
	ents, err := json.Marshal(mergeEntities(nil, inc.Entities))
	if err != nil {
		return fmt.Errorf("entities: %w", err)
	}
	state := inc.State
	if state == "" {
		state = store.IncidentNew
	}
	created, updated := inc.Created, inc.Updated
	if created.IsZero() {
		created = now
	}
	if updated.IsZero() {
		updated = created
	}
	var closed any
	if state == store.IncidentClosed {
		closed = micro(later(inc.Closed, updated))
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO incidents (`+incidentColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inc.ID, inc.Tenant, inc.RuleID, inc.Title, inc.Severity, state, nullString(inc.Owner),
		nullString(inc.Classification), nonNil(inc.Tactics), nonNil(inc.Techniques), string(ents),
		nonNil(inc.AlertIDs), nullTime(inc.FirstAlert), nullTime(inc.LastAlert), micro(created), micro(updated), closed)
	return err
}

// rowScanner is what *sql.Row and *sql.Rows share.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanIncident reads one row of incidentSelect.
func scanIncident(r rowScanner) (store.Incident, error) {
	var (
		inc                                          store.Incident
		title, severity, owner, classification, ents sql.NullString
		tactics, techniques, alertIDs                []any
		first, last, closed                          sql.NullTime
	)
	if err := r.Scan(&inc.ID, &inc.Tenant, &inc.RuleID, &title, &severity, &inc.State, &owner, &classification,
		&tactics, &techniques, &ents, &alertIDs, &first, &last, &inc.Created, &inc.Updated, &closed); err != nil {
		return store.Incident{}, err
	}
	inc.Title, inc.Severity, inc.Owner, inc.Classification = title.String, severity.String, owner.String, classification.String
	inc.Tactics, inc.Techniques, inc.AlertIDs = anyStrings(tactics), anyStrings(techniques), anyStrings(alertIDs)
	if first.Valid {
		inc.FirstAlert = first.Time.UTC()
	}
	if last.Valid {
		inc.LastAlert = last.Time.UTC()
	}
	if closed.Valid {
		inc.Closed = closed.Time.UTC()
	}
	inc.Created, inc.Updated = inc.Created.UTC(), inc.Updated.UTC()
	inc.Entities = []schema.Entity{}
	if ents.Valid && ents.String != "" {
		if err := json.Unmarshal([]byte(ents.String), &inc.Entities); err != nil {
			return store.Incident{}, fmt.Errorf("incident %s entities: %w", inc.ID, err)
		}
	}
	return inc, nil
}

// incidentOrders are the ORDER BY clauses of the store.IncidentSort values.
var incidentOrders = map[string]string{
	"":                         "last_alert DESC NULLS LAST, id",
	store.IncidentSortLast:     "last_alert DESC NULLS LAST, id",
	store.IncidentSortSeverity: severityRank + " DESC, last_alert DESC NULLS LAST, id",
	store.IncidentSortCreated:  "created DESC, id",
}

// Incidents lists incidents matching f in f.Sort order (latest last alert first by default), without their
// comments. Limit 0 means no limit.
func (d *DB) Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	if f.State != "" && !ValidIncidentState(f.State) {
		return nil, fmt.Errorf("duckdb: incidents: %w %q", store.ErrInvalidIncidentState, f.State)
	}
	if f.AlertIDs != nil && len(f.AlertIDs) == 0 {
		return nil, nil
	}
	var (
		where []string
		args  []any
	)
	if f.Tenant != "" {
		where = append(where, "tenant = ?")
		args = append(args, f.Tenant)
	}
	if f.State != "" {
		where = append(where, "state = ?")
		args = append(args, f.State)
	}
	if f.OpenOnly {
		where = append(where, "state <> ?")
		args = append(args, store.IncidentClosed)
	}
	if !f.Since.IsZero() {
		where = append(where, "last_alert >= ?")
		args = append(args, f.Since.UTC())
	}
	if f.AlertIDs != nil {
		where = append(where, "list_has_any(alert_ids, ?)")
		args = append(args, f.AlertIDs)
	}
	if !f.Until.IsZero() {
		where = append(where, "first_alert < ?")
		args = append(args, f.Until.UTC())
	}
	if f.Severity != "" {
		where = append(where, "lower(severity) = lower(?)")
		args = append(args, f.Severity)
	}
	switch f.Owner {
	case "":
	case store.NoOwner:
		where = append(where, "coalesce(owner, '') = ''")
	default:
		where = append(where, "lower(owner) = lower(?)")
		args = append(args, f.Owner)
	}
	order, ok := incidentOrders[f.Sort]
	if !ok {
		return nil, fmt.Errorf("duckdb: incidents: unknown sort %q (use last, severity or created)", f.Sort)
	}
	if f.Offset < 0 || f.Limit < 0 {
		return nil, fmt.Errorf("duckdb: incidents: negative offset or limit")
	}
	q := incidentSelect
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY " + order
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	if f.Offset > 0 {
		q += fmt.Sprintf(" OFFSET %d", f.Offset)
	}
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: incidents: %w", err)
	}
	defer rows.Close()
	var out []store.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("duckdb: incidents: %w", err)
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckdb: incidents: %w", err)
	}
	return out, nil
}

// Incident returns the incident with the given id and its comments, oldest first. An unknown id gives an error
// wrapping store.ErrIncidentNotFound.
func (d *DB) Incident(ctx context.Context, id string) (store.Incident, error) {
	inc, err := scanIncident(d.db.QueryRowContext(ctx, incidentSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Incident{}, fmt.Errorf("duckdb: incident %q: %w", id, store.ErrIncidentNotFound)
	}
	if err != nil {
		return store.Incident{}, fmt.Errorf("duckdb: incident %s: %w", id, err)
	}
	rows, err := d.db.QueryContext(ctx, `SELECT author, text, time FROM incident_comments WHERE incident_id = ?
		ORDER BY seq`, id)
	if err != nil {
		return store.Incident{}, fmt.Errorf("duckdb: incident %s comments: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c      store.IncidentComment
			author sql.NullString
		)
		if err := rows.Scan(&author, &c.Text, &c.Time); err != nil {
			return store.Incident{}, fmt.Errorf("duckdb: incident %s comments: %w", id, err)
		}
		c.Author, c.Time = author.String, c.Time.UTC()
		inc.Comments = append(inc.Comments, c)
	}
	if err := rows.Err(); err != nil {
		return store.Incident{}, fmt.Errorf("duckdb: incident %s comments: %w", id, err)
	}
	return inc, nil
}

// UpdateIncident applies u to the incident and returns it as stored, with its comments. The state must be new,
// active or closed (else an error wrapping store.ErrInvalidIncidentState). Setting an owner on a new incident
// makes it active (as assigning it does in Sentinel) unless u sets a state too. Closing without a classification
// classifies it undetermined; a classification is accepted only for an incident that is or becomes closed.
// Reopening a closed incident (state new or active) clears its classification. An unknown id gives an error
// wrapping store.ErrIncidentNotFound. Updated is set to the store's clock when something changed.
func (d *DB) UpdateIncident(ctx context.Context, id string, u store.IncidentUpdate) (store.Incident, error) {
	u.State = strings.ToLower(strings.TrimSpace(u.State))
	u.Owner, u.Classification = strings.TrimSpace(u.Owner), strings.TrimSpace(u.Classification)
	if u.State != "" && !ValidIncidentState(u.State) {
		return store.Incident{}, fmt.Errorf("duckdb: update incident %s: %w %q (use new, active or closed)",
			id, store.ErrInvalidIncidentState, u.State)
	}
	if err := d.updateIncident(ctx, id, u); err != nil {
		return store.Incident{}, err
	}
	return d.Incident(ctx, id)
}

func (d *DB) updateIncident(ctx context.Context, id string, u store.IncidentUpdate) (err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return err
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("duckdb: update incident %s: %w", id, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	cur, err := scanIncident(tx.QueryRowContext(ctx, incidentSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("duckdb: update incident %q: %w", id, store.ErrIncidentNotFound)
	}
	if err != nil {
		return fmt.Errorf("duckdb: update incident %s: %w", id, err)
	}
	next := cur
	if u.Owner != "" {
		next.Owner = u.Owner
		if u.State == "" && cur.State == store.IncidentNew {
			next.State = store.IncidentActive
		}
	}
	if u.State != "" {
		next.State = u.State
	}
	now := micro(d.now())
	switch {
	case next.State != store.IncidentClosed && u.Classification != "":
		return fmt.Errorf("duckdb: update incident %s: %w: a classification needs state closed", id, store.ErrInvalidIncidentState)
	case next.State == store.IncidentClosed:
		if u.Classification != "" {
			next.Classification = u.Classification
		} else if next.Classification == "" {
			next.Classification = store.ClassificationUndetermined
		}
		if cur.State != store.IncidentClosed {
			next.Closed = now
		}
	default:
		next.Classification = ""
		next.Closed = time.Time{}
	}
	if next.State == cur.State && next.Owner == cur.Owner && next.Classification == cur.Classification {
		return tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = ?, owner = ?, classification = ?, closed = ?,
		updated = ? WHERE id = ?`, next.State, nullString(next.Owner), nullString(next.Classification),
		nullTime(next.Closed), now, id); err != nil {
		return fmt.Errorf("duckdb: update incident %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("duckdb: update incident %s: commit: %w", id, err)
	}
	return nil
}

// AddComment appends a comment to the incident and sets its Updated time. The text must not be blank (else an
// error wrapping store.ErrEmptyComment); a zero Time means the store's clock. Closed incidents take comments too.
// An unknown id gives an error wrapping store.ErrIncidentNotFound.
func (d *DB) AddComment(ctx context.Context, id string, cm store.IncidentComment) (err error) {
	if strings.TrimSpace(cm.Text) == "" {
		return fmt.Errorf("duckdb: comment on incident %s: %w", id, store.ErrEmptyComment)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return err
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("duckdb: comment on incident %s: %w", id, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM incidents WHERE id = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("duckdb: comment on incident %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("duckdb: comment on incident %q: %w", id, store.ErrIncidentNotFound)
	}
	at := cm.Time
	if at.IsZero() {
		at = d.now()
	}
	at = micro(at)
	if _, err := tx.ExecContext(ctx, `INSERT INTO incident_comments (incident_id, seq, author, text, time)
		SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ? FROM incident_comments WHERE incident_id = ?`,
		id, nullString(cm.Author), cm.Text, at, id); err != nil {
		return fmt.Errorf("duckdb: comment on incident %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET updated = ? WHERE id = ?`, micro(d.now()), id); err != nil {
		return fmt.Errorf("duckdb: comment on incident %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("duckdb: comment on incident %s: commit: %w", id, err)
	}
	return nil
}
