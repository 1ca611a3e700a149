// Package auth is castwatch's access control: local users with roles, argon2id password hashes, login sessions
// with CSRF tokens, login rate limiting and API tokens. It keeps its state in a Store (the DuckDB store implements
// it; MemoryStore serves tests); only hashes of session ids, API tokens and passwords are ever stored.
package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Role is what a user or an API token may do. Roles are ordered: each allows everything the ones below it do.
type Role string

// The roles, from least to most privileged.
const (
	// RoleViewer reads pages and the API.
	RoleViewer Role = "viewer"
	// RoleAnalyst also triages: alert status, incident state, owner and comments.
	RoleAnalyst Role = "analyst"
	// RoleAdmin also changes connectors, users, API tokens and rules, and starts collection runs.
	RoleAdmin Role = "admin"
)

// Roles lists every role, least privileged first.
var Roles = []Role{RoleViewer, RoleAnalyst, RoleAdmin}

// rank orders the roles; 0 is not a role.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleAnalyst:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows reports whether r grants at least min. An unknown role allows nothing.
func (r Role) Allows(min Role) bool { return r.rank() > 0 && r.rank() >= min.rank() }

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if r.rank() == 0 {
		return "", fmt.Errorf("unknown role %q (roles: viewer, analyst, admin)", s)
	}
	return r, nil
}

// Errors callers test with errors.Is.
var (
	// ErrInvalidCredentials is the one answer to a wrong user name or a wrong password.
	ErrInvalidCredentials = errors.New("wrong user name or password")
	// ErrUserNotFound reports a user the store does not hold.
	ErrUserNotFound = errors.New("user not found")
	// ErrUserExists reports a user name already taken.
	ErrUserExists = errors.New("user already exists")
	// ErrSessionNotFound reports a session that does not exist, has expired or was logged out.
	ErrSessionNotFound = errors.New("session not found or expired")
	// ErrTokenNotFound reports an API token that does not exist, has expired or was revoked.
	ErrTokenNotFound = errors.New("API token not found or expired")
	// ErrLastAdmin refuses to delete or demote the last admin, which would lock everyone out of administration.
	ErrLastAdmin = errors.New("the last admin cannot be deleted or demoted")
)

// RateLimitedError reports a login refused because of too many recent failures.
type RateLimitedError struct {
	// RetryAfter is how long until another attempt is accepted.
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many failed logins; try again in %s", e.RetryAfter.Round(time.Second))
}

// User is a local account.
type User struct {
	Name string
	Role Role
	// PasswordHash is the argon2id hash in PHC string form ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
	PasswordHash string
	Created      time.Time
	Updated      time.Time
}

// Session is a login. The browser holds the random session id; the store keeps only its SHA-256 (ID).
type Session struct {
	// ID is the hex SHA-256 of the session id in the cookie.
	ID       string
	User     string
	Created  time.Time
	LastSeen time.Time
	// Expires is the absolute end of the session, however active it is.
	Expires time.Time
}

// Token is an API token for the REST API. The caller holds "cw_<random>"; the store keeps only its SHA-256 (Hash).
type Token struct {
	// ID names the token for listing and revoking; it is not secret.
	ID   string
	Name string
	Role Role
	// Hash is the hex SHA-256 of the whole token.
	Hash     string
	Created  time.Time
	LastUsed time.Time
	// Expires is zero for a token that does not expire.
	Expires time.Time
	// CreatedBy is the admin who created it.
	CreatedBy string
}

// Store keeps users, sessions and API tokens.
type Store interface {
	// AuthUsers lists every user by name.
	AuthUsers(ctx context.Context) ([]User, error)
	// AuthUser returns one user or ErrUserNotFound.
	AuthUser(ctx context.Context, name string) (User, error)
	// CreateAuthUser adds a user or returns ErrUserExists.
	CreateAuthUser(ctx context.Context, u User) error
	// UpdateAuthUser replaces a user's role, password hash and updated time, or returns ErrUserNotFound.
	UpdateAuthUser(ctx context.Context, u User) error
	// DeleteAuthUser removes a user and its sessions, or returns ErrUserNotFound.
	DeleteAuthUser(ctx context.Context, name string) error

	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s Session) error
	// LoginSession returns the session with this id hash or ErrSessionNotFound.
	LoginSession(ctx context.Context, id string) (Session, error)
	// TouchSession records activity on a session.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// DeleteSession removes one session (logout); a missing one is not an error.
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions removes every session of a user (password change, role change).
	DeleteUserSessions(ctx context.Context, user string) error
	// PurgeSessions removes sessions idle since before idleBefore or expired at or before now.
	PurgeSessions(ctx context.Context, idleBefore, now time.Time) error

	// CreateAPIToken stores a new API token.
	CreateAPIToken(ctx context.Context, t Token) error
	// APITokens lists every API token, oldest first.
	APITokens(ctx context.Context) ([]Token, error)
	// APITokenByHash returns the token with this hash or ErrTokenNotFound.
	APITokenByHash(ctx context.Context, hash string) (Token, error)
	// TouchAPIToken records a use of a token.
	TouchAPIToken(ctx context.Context, id string, at time.Time) error
	// DeleteAPIToken removes a token (revocation) or returns ErrTokenNotFound.
	DeleteAPIToken(ctx context.Context, id string) error
}

// userName is what a user name may look like: letters, digits and . _ @ - (e-mail addresses fit), at most 64.
var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9._@+-]{0,63}$`)

// NormalizeName lower-cases a user name and checks its form.
func NormalizeName(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if !userName.MatchString(n) {
		return "", fmt.Errorf("invalid user name %q: use 1 to 64 letters, digits and . _ @ + - (starting with a letter or digit)", name)
	}
	return n, nil
}
