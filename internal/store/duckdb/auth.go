package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/castwatch/castwatch/internal/auth"
)

var _ auth.Store = (*DB)(nil)

// authTables are the users, login sessions and API tokens (migration "users, sessions and API tokens"). Sessions
// and tokens are stored by the SHA-256 of their secret, users by their argon2id password hash.
var authTables = []string{
	`CREATE TABLE IF NOT EXISTS users (
		name VARCHAR PRIMARY KEY,
		role VARCHAR NOT NULL,
		password_hash VARCHAR NOT NULL,
		created TIMESTAMP NOT NULL,
		updated TIMESTAMP NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS sessions (
		id VARCHAR PRIMARY KEY,
		user_name VARCHAR NOT NULL,
		created TIMESTAMP NOT NULL,
		last_seen TIMESTAMP NOT NULL,
		expires TIMESTAMP NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS api_tokens (
		id VARCHAR PRIMARY KEY,
		name VARCHAR NOT NULL,
		role VARCHAR NOT NULL,
		hash VARCHAR NOT NULL UNIQUE,
		created TIMESTAMP NOT NULL,
		last_used TIMESTAMP,
		expires TIMESTAMP,
		created_by VARCHAR
	)`,
}

// authExec runs one write statement under the write lock and returns how many rows it changed.
func (d *DB) authExec(ctx context.Context, what, query string, args ...any) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return 0, err
	}
	res, err := c.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("duckdb: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("duckdb: %s: %w", what, err)
	}
	return n, nil
}

// authExecOne is authExec for a statement that must change one row; none gives notFound.
func (d *DB) authExecOne(ctx context.Context, what string, notFound error, query string, args ...any) error {
	n, err := d.authExec(ctx, what, query, args...)
	if err == nil && n == 0 {
		return notFound
	}
	return err
}

const userColumns = `name, role, password_hash, created, updated`

func scanUser(sc interface{ Scan(...any) error }) (auth.User, error) {
	var u auth.User
	var role string
	if err := sc.Scan(&u.Name, &role, &u.PasswordHash, &u.Created, &u.Updated); err != nil {
		return auth.User{}, err
	}
	u.Role, u.Created, u.Updated = auth.Role(role), u.Created.UTC(), u.Updated.UTC()
	return u, nil
}

// AuthUsers implements auth.Store.
func (d *DB) AuthUsers(ctx context.Context) ([]auth.User, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("duckdb: users: %w", err)
	}
	defer rows.Close()
	var out []auth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("duckdb: users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// AuthUser implements auth.Store.
func (d *DB) AuthUser(ctx context.Context, name string) (auth.User, error) {
	u, err := scanUser(d.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return auth.User{}, auth.ErrUserNotFound
	} else if err != nil {
		return auth.User{}, fmt.Errorf("duckdb: user: %w", err)
	}
	return u, nil
}

// CreateAuthUser implements auth.Store.
func (d *DB) CreateAuthUser(ctx context.Context, u auth.User) error {
	n, err := d.authExec(ctx, "create user", `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, u.Name, string(u.Role), u.PasswordHash, u.Created.UTC(), u.Updated.UTC())
	if err == nil && n == 0 {
		return auth.ErrUserExists
	}
	return err
}

// UpdateAuthUser implements auth.Store.
func (d *DB) UpdateAuthUser(ctx context.Context, u auth.User) error {
	return d.authExecOne(ctx, "update user", auth.ErrUserNotFound,
		`UPDATE users SET role = ?, password_hash = ?, updated = ? WHERE name = ?`,
		string(u.Role), u.PasswordHash, u.Updated.UTC(), u.Name)
}

// DeleteAuthUser implements auth.Store.
func (d *DB) DeleteAuthUser(ctx context.Context, name string) error {
	if err := d.DeleteUserSessions(ctx, name); err != nil {
		return err
	}
	return d.authExecOne(ctx, "delete user", auth.ErrUserNotFound, `DELETE FROM users WHERE name = ?`, name)
}

// CreateSession implements auth.Store.
func (d *DB) CreateSession(ctx context.Context, s auth.Session) error {
	_, err := d.authExec(ctx, "create session", `INSERT INTO sessions (id, user_name, created, last_seen, expires)
		VALUES (?, ?, ?, ?, ?)`, s.ID, s.User, s.Created.UTC(), s.LastSeen.UTC(), s.Expires.UTC())
	return err
}

// LoginSession implements auth.Store.
func (d *DB) LoginSession(ctx context.Context, id string) (auth.Session, error) {
	s := auth.Session{ID: id}
	err := d.db.QueryRowContext(ctx, `SELECT user_name, created, last_seen, expires FROM sessions WHERE id = ?`, id).
		Scan(&s.User, &s.Created, &s.LastSeen, &s.Expires)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Session{}, auth.ErrSessionNotFound
	} else if err != nil {
		return auth.Session{}, fmt.Errorf("duckdb: session: %w", err)
	}
	s.Created, s.LastSeen, s.Expires = s.Created.UTC(), s.LastSeen.UTC(), s.Expires.UTC()
	return s, nil
}

// TouchSession implements auth.Store.
func (d *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	_, err := d.authExec(ctx, "touch session", `UPDATE sessions SET last_seen = ? WHERE id = ?`, at.UTC(), id)
	return err
}

// DeleteSession implements auth.Store.
func (d *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := d.authExec(ctx, "delete session", `DELETE FROM sessions WHERE id = ?`, id)
	return err
}

// DeleteUserSessions implements auth.Store.
func (d *DB) DeleteUserSessions(ctx context.Context, user string) error {
	_, err := d.authExec(ctx, "delete sessions", `DELETE FROM sessions WHERE user_name = ?`, user)
	return err
}

// PurgeSessions implements auth.Store.
func (d *DB) PurgeSessions(ctx context.Context, idleBefore, now time.Time) error {
	_, err := d.authExec(ctx, "purge sessions", `DELETE FROM sessions WHERE last_seen < ? OR expires <= ?`,
		idleBefore.UTC(), now.UTC())
	return err
}

const tokenColumns = `id, name, role, hash, created, last_used, expires, created_by`

func scanToken(sc interface{ Scan(...any) error }) (auth.Token, error) {
	var (
		t               auth.Token
		role            string
		lastUsed, until sql.NullTime
		by              sql.NullString
	)
	if err := sc.Scan(&t.ID, &t.Name, &role, &t.Hash, &t.Created, &lastUsed, &until, &by); err != nil {
		return auth.Token{}, err
	}
	t.Role, t.Created, t.CreatedBy = auth.Role(role), t.Created.UTC(), by.String
	if lastUsed.Valid {
		t.LastUsed = lastUsed.Time.UTC()
	}
	if until.Valid {
		t.Expires = until.Time.UTC()
	}
	return t, nil
}

// CreateAPIToken implements auth.Store.
func (d *DB) CreateAPIToken(ctx context.Context, t auth.Token) error {
	_, err := d.authExec(ctx, "create API token", `INSERT INTO api_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, string(t.Role), t.Hash, t.Created.UTC(), nullTime(t.LastUsed), nullTime(t.Expires), nullString(t.CreatedBy))
	return err
}

// APITokens implements auth.Store.
func (d *DB) APITokens(ctx context.Context) ([]auth.Token, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("duckdb: API tokens: %w", err)
	}
	defer rows.Close()
	var out []auth.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("duckdb: API tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// APITokenByHash implements auth.Store.
func (d *DB) APITokenByHash(ctx context.Context, hash string) (auth.Token, error) {
	t, err := scanToken(d.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Token{}, auth.ErrTokenNotFound
	} else if err != nil {
		return auth.Token{}, fmt.Errorf("duckdb: API token: %w", err)
	}
	return t, nil
}

// TouchAPIToken implements auth.Store.
func (d *DB) TouchAPIToken(ctx context.Context, id string, at time.Time) error {
	_, err := d.authExec(ctx, "touch API token", `UPDATE api_tokens SET last_used = ? WHERE id = ?`, at.UTC(), id)
	return err
}

// DeleteAPIToken implements auth.Store.
func (d *DB) DeleteAPIToken(ctx context.Context, id string) error {
	return d.authExecOne(ctx, "revoke API token", auth.ErrTokenNotFound, `DELETE FROM api_tokens WHERE id = ?`, id)
}
