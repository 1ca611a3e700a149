package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/ueba"
)

// uebaTables are the behaviour analytics' risk sessions and engine state (migration "behaviour analytics").
// A session's findings are kept with it as JSON: they are read and written as a whole.
var uebaTables = []string{
	`CREATE TABLE IF NOT EXISTS risk_sessions (
		id VARCHAR PRIMARY KEY,
		tenant VARCHAR NOT NULL,
		user_name VARCHAR NOT NULL,
		peer_group VARCHAR,
		start_time TIMESTAMP NOT NULL,
		end_time TIMESTAMP NOT NULL,
		events INTEGER NOT NULL,
		score INTEGER NOT NULL,
		notable BOOLEAN NOT NULL,
		notable_at TIMESTAMP,
		open BOOLEAN NOT NULL,
		findings JSON
	)`,
	`CREATE TABLE IF NOT EXISTS ueba_state (
		name VARCHAR PRIMARY KEY,
		state BLOB NOT NULL,
		processed_to TIMESTAMP NOT NULL,
		updated TIMESTAMP NOT NULL
	)`,
}

// SaveRiskSessions stores sessions by id, replacing what was stored (a session only grows).
func (d *DB) SaveRiskSessions(ctx context.Context, sessions []ueba.Session) error {
	if len(sessions) == 0 {
		return nil
	}
	return d.withWriteConn(func(c *sql.Conn) error {
		err := inTx(ctx, c, func(tx *sql.Tx) error {
			for _, s := range sessions {
				findings, err := json.Marshal(s.Findings)
				if err != nil {
					return fmt.Errorf("session %s: %w", s.ID, err)
				}
				_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO risk_sessions (id, tenant, user_name, peer_group, start_time,
				end_time, events, score, notable, notable_at, open, findings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					s.ID, s.Tenant, s.User, nullString(s.PeerGroup), s.Start.UTC(), s.End.UTC(), s.Events, s.Score, s.Notable,
					nullTime(s.NotableAt), s.Open, string(findings))
				if err != nil {
					return fmt.Errorf("session %s: %w", s.ID, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("duckdb: save risk sessions: %w", err)
		}
		return nil
	})
}

// RiskSessions lists sessions, highest score first, then latest first.
func (d *DB) RiskSessions(ctx context.Context, f store.RiskFilter) ([]ueba.Session, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.Tenant != "" {
		add("tenant = ?", f.Tenant)
	}
	if f.User != "" {
		add("user_name = ?", strings.ToLower(f.User))
	}
	if f.NotableOnly {
		where = append(where, "notable")
	}
	if !f.Since.IsZero() {
		add("end_time >= ?", f.Since.UTC())
	}
	q := `SELECT id, tenant, user_name, peer_group, start_time, end_time, events, score, notable, notable_at, open,
		CAST(findings AS VARCHAR) FROM risk_sessions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY score DESC, end_time DESC, id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return d.scanRiskSessions(ctx, q, args...)
}

// RiskSession returns one session, or an error wrapping sql.ErrNoRows.
func (d *DB) RiskSession(ctx context.Context, id string) (ueba.Session, error) {
	out, err := d.scanRiskSessions(ctx, `SELECT id, tenant, user_name, peer_group, start_time, end_time, events, score,
		notable, notable_at, open, CAST(findings AS VARCHAR) FROM risk_sessions WHERE id = ?`, id)
	if err != nil {
		return ueba.Session{}, err
	}
	if len(out) == 0 {
		return ueba.Session{}, fmt.Errorf("duckdb: risk session %s: %w", id, sql.ErrNoRows)
	}
	return out[0], nil
}

func (d *DB) scanRiskSessions(ctx context.Context, q string, args ...any) ([]ueba.Session, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: risk sessions: %w", err)
	}
	defer rows.Close()
	var out []ueba.Session
	for rows.Next() {
		var (
			s         ueba.Session
			peer      sql.NullString
			notableAt sql.NullTime
			findings  sql.NullString
		)
		if err := rows.Scan(&s.ID, &s.Tenant, &s.User, &peer, &s.Start, &s.End, &s.Events, &s.Score, &s.Notable,
			&notableAt, &s.Open, &findings); err != nil {
			return nil, fmt.Errorf("duckdb: risk sessions: %w", err)
		}
		s.PeerGroup = peer.String
		s.Start, s.End = s.Start.UTC(), s.End.UTC()
		if notableAt.Valid {
			s.NotableAt = notableAt.Time.UTC()
		}
		if findings.Valid && findings.String != "" {
			if err := json.Unmarshal([]byte(findings.String), &s.Findings); err != nil {
				return nil, fmt.Errorf("duckdb: risk session %s findings: %w", s.ID, err)
			}
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SaveUEBAState stores the behaviour engine's state and the event time it has processed up to.
func (d *DB) SaveUEBAState(ctx context.Context, state []byte, processedTo time.Time) error {
	return d.withWriteConn(func(c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT OR REPLACE INTO ueba_state (name, state, processed_to, updated) VALUES ('engine', ?, ?, ?)`,
			state, processedTo.UTC(), d.now().UTC())
		if err != nil {
			return fmt.Errorf("duckdb: save behaviour state: %w", err)
		}
		return nil
	})
}

// LoadUEBAState returns the stored engine state, or nil and the zero time when there is none.
func (d *DB) LoadUEBAState(ctx context.Context) ([]byte, time.Time, error) {
	var (
		state []byte
		to    time.Time
	)
	err := d.db.QueryRowContext(ctx, `SELECT state, processed_to FROM ueba_state WHERE name = 'engine'`).Scan(&state, &to)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("duckdb: load behaviour state: %w", err)
	}
	return state, to.UTC(), nil
}

// ClearUEBA deletes the behaviour engine's state and risk sessions, before a rebuild from history.
func (d *DB) ClearUEBA(ctx context.Context) error {
	return d.withWriteConn(func(c *sql.Conn) error {
		for _, q := range []string{`DELETE FROM risk_sessions`, `DELETE FROM ueba_state`} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("duckdb: clear behaviour analytics: %w", err)
			}
		}
		return nil
	})
}
