package duckdb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/auth"
)

// TestAuthStore runs the access-control service over a DuckDB file: users, sessions and tokens survive a reopen,
// only hashes are stored, and deleting a user ends its sessions.
func TestAuthStore(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	db, err := Open(ctx, path, Options{Tables: testTables(), Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	svc := auth.NewService(db, auth.Options{Now: func() time.Time { return now }})
	created, pw, err := svc.EnsureAdmin(ctx, "")
	if err != nil || !created {
		t.Fatal(created, err)
	}
	if err := svc.AddUser(ctx, "ann@example.com", auth.RoleAnalyst, "a long password"); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddUser(ctx, "ANN@example.com", auth.RoleViewer, "a long password"); !errors.Is(err, auth.ErrUserExists) {
		t.Errorf("duplicate user: %v", err)
	}
	secret, _, err := svc.Login(ctx, "ann@example.com", "a long password", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	token, tok, err := svc.CreateToken(ctx, "export", auth.RoleViewer, 0, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, path, Options{Tables: testTables(), Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now = now.Add(2 * time.Hour)
	svc = auth.NewService(db, auth.Options{Now: func() time.Time { return now }})
	if _, _, err := svc.Login(ctx, "admin", pw, "192.0.2.1"); err != nil {
		t.Errorf("admin after reopen: %v", err)
	}
	if id, err := svc.SessionIdentity(ctx, secret); err != nil || id.Name != "ann@example.com" || id.Role != auth.RoleAnalyst {
		t.Errorf("session after reopen: %+v %v", id, err)
	}
	if id, err := svc.TokenIdentity(ctx, token); err != nil || id.Role != auth.RoleViewer {
		t.Errorf("token after reopen: %+v %v", id, err)
	}
	ts, err := db.APITokens(ctx)
	if err != nil || len(ts) != 1 || ts[0].ID != tok.ID || ts[0].LastUsed.IsZero() || ts[0].CreatedBy != "admin" {
		t.Errorf("tokens %+v %v", ts, err)
	}
	var leaked int
	if err := db.DB().QueryRowContext(ctx, `SELECT count(*) FROM api_tokens WHERE hash = ? OR id = ?`, token, token).Scan(&leaked); err != nil || leaked != 0 {
		t.Errorf("the raw token is stored (%d rows, %v)", leaked, err)
	}
	if err := db.DB().QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = ?`, secret).Scan(&leaked); err != nil || leaked != 0 {
		t.Errorf("the raw session id is stored (%d rows, %v)", leaked, err)
	}
	us, err := db.AuthUsers(ctx)
	if err != nil || len(us) != 2 || !strings.HasPrefix(us[1].PasswordHash, "$argon2id$") {
		t.Errorf("users %+v %v", us, err)
	}
	if err := svc.DeleteUser(ctx, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SessionIdentity(ctx, secret); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Errorf("session of a deleted user: %v", err)
	}
	if err := svc.DeleteUser(ctx, "ann@example.com"); !errors.Is(err, auth.ErrUserNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	if err := svc.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TokenIdentity(ctx, token); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Errorf("revoked token: %v", err)
	}
}
