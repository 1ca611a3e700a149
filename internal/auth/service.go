package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Session lifetimes: a session ends after SessionIdleTimeout without a request, and at SessionMaxAge at the latest.
const (
	SessionIdleTimeout = 12 * time.Hour
	SessionMaxAge      = 7 * 24 * time.Hour
	// touchEvery limits how often a session's last activity is written: at most once per minute per session.
	touchEvery = time.Minute
)

// TokenPrefix starts every API token.
const TokenPrefix = "cw_"

// Options configures a Service.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// IdleTimeout and MaxAge override SessionIdleTimeout and SessionMaxAge when set.
	IdleTimeout, MaxAge time.Duration
}

// Service is the access-control logic over a Store. It is safe for concurrent use.
type Service struct {
	store        Store
	now          func() time.Time
	idle, maxAge time.Duration
	limits       *limiter
	dummyOnce    sync.Once
	dummyHash    string
}

// NewService returns the service over st.
func NewService(st Store, opts Options) *Service {
	s := &Service{store: st, now: opts.Now, idle: opts.IdleTimeout, maxAge: opts.MaxAge,
		limits: newLimiter(LoginFailureLimit, LoginFailureWindow)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.idle <= 0 {
		s.idle = SessionIdleTimeout
	}
	if s.maxAge <= 0 {
		s.maxAge = SessionMaxAge
	}
	return s
}

// Identity is who a request acts as: a user through a session, or an API token.
type Identity struct {
	// Name is the user name, or "token:<name>" for an API token.
	Name string
	Role Role
	// CSRF is the session's CSRF token; empty for API tokens, which need none.
	CSRF string
	// SessionID is the session's stored id (hash); empty for API tokens.
	SessionID string
}

// Can reports whether the identity's role grants at least min.
func (i Identity) Can(min Role) bool { return i.Role.Allows(min) }

// IsAdmin reports whether the identity is an admin (templates show admin controls by it).
func (i Identity) IsAdmin() bool { return i.Role.Allows(RoleAdmin) }

// IsAnalyst reports whether the identity may triage alerts and incidents.
func (i Identity) IsAnalyst() bool { return i.Role.Allows(RoleAnalyst) }

// NewSecret returns n random bytes, URL-safe base64 encoded.
func newSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashSecret is the stored form of a session id or API token.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// csrfFor derives a session's CSRF token from its secret id, so nothing more is stored and no one without the
// session cookie can compute it.
func csrfFor(sessionSecret string) string {
	m := hmac.New(sha256.New, []byte(sessionSecret))
	m.Write([]byte("castwatch csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF compares a submitted CSRF token with the identity's in constant time.
func (i Identity) CheckCSRF(submitted string) bool {
	return i.CSRF != "" && hmac.Equal([]byte(submitted), []byte(i.CSRF))
}

// dummy returns a hash verified for unknown users, so that their logins take as long as wrong passwords.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		h, err := HashPassword("castwatch dummy password")
		if err != nil {
			panic(err) // the system random source failed
		}
		s.dummyHash = h
	})
	return s.dummyHash
}

// Login checks a user name and password from client (its address, for rate limiting) and starts a session. It
// returns the secret session id for the cookie. Wrong names and wrong passwords both give ErrInvalidCredentials;
// too many recent failures give a *RateLimitedError before any check.
func (s *Service) Login(ctx context.Context, name, password, client string) (string, Identity, error) {
	now := s.now()
	norm := strings.ToLower(strings.TrimSpace(name))
	userKey, clientKey := "user:"+norm, "client:"+client
	if d := s.limits.wait(now, userKey, clientKey); d > 0 {
		return "", Identity{}, &RateLimitedError{RetryAfter: d}
	}
	u, err := s.store.AuthUser(ctx, norm)
	hash := u.PasswordHash
	if errors.Is(err, ErrUserNotFound) {
		hash = s.dummy()
	} else if err != nil {
		return "", Identity{}, fmt.Errorf("auth: login: %w", err)
	}
	ok, verr := VerifyPassword(hash, password)
	if err != nil || !ok || verr != nil {
		s.limits.fail(now, userKey, clientKey)
		return "", Identity{}, ErrInvalidCredentials
	}
	s.limits.reset(userKey)
	return s.StartSession(ctx, u.Name)
}

// StartSession starts a session for an existing user without a password check (after Login, and for tests and
// tools). It returns the secret session id for the cookie.
func (s *Service) StartSession(ctx context.Context, user string) (string, Identity, error) {
	u, err := s.store.AuthUser(ctx, user)
	if err != nil {
		return "", Identity{}, fmt.Errorf("auth: start session: %w", err)
	}
	secret, err := newSecret(32)
	if err != nil {
		return "", Identity{}, err
	}
	now := s.now().UTC()
	if err := s.store.PurgeSessions(ctx, now.Add(-s.idle), now); err != nil {
		return "", Identity{}, fmt.Errorf("auth: purge sessions: %w", err)
	}
	sess := Session{ID: hashSecret(secret), User: u.Name, Created: now, LastSeen: now, Expires: now.Add(s.maxAge)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", Identity{}, fmt.Errorf("auth: start session: %w", err)
	}
	return secret, Identity{Name: u.Name, Role: u.Role, CSRF: csrfFor(secret), SessionID: sess.ID}, nil
}

// SessionIdentity resolves a session id from a cookie. An unknown, idle or expired session, or one whose user is
// gone, gives ErrSessionNotFound (an expired session is deleted).
func (s *Service) SessionIdentity(ctx context.Context, secret string) (Identity, error) {
	if secret == "" {
		return Identity{}, ErrSessionNotFound
	}
	id := hashSecret(secret)
	sess, err := s.store.LoginSession(ctx, id)
	if err != nil {
		return Identity{}, err
	}
	now := s.now().UTC()
	if !now.Before(sess.Expires) || now.Sub(sess.LastSeen) >= s.idle {
		if err := s.store.DeleteSession(ctx, id); err != nil {
			return Identity{}, fmt.Errorf("auth: end expired session: %w", err)
		}
		return Identity{}, ErrSessionNotFound
	}
	u, err := s.store.AuthUser(ctx, sess.User)
	if errors.Is(err, ErrUserNotFound) {
		return Identity{}, ErrSessionNotFound
	} else if err != nil {
		return Identity{}, fmt.Errorf("auth: session user: %w", err)
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		if err := s.store.TouchSession(ctx, id, now); err != nil {
			return Identity{}, fmt.Errorf("auth: touch session: %w", err)
		}
	}
	return Identity{Name: u.Name, Role: u.Role, CSRF: csrfFor(secret), SessionID: id}, nil
}

// Logout ends the session with this secret id.
func (s *Service) Logout(ctx context.Context, secret string) error {
	if secret == "" {
		return nil
	}
	return s.store.DeleteSession(ctx, hashSecret(secret))
}

// TokenIdentity resolves an API token ("cw_…"). Unknown, revoked and expired tokens give ErrTokenNotFound.
func (s *Service) TokenIdentity(ctx context.Context, token string) (Identity, error) {
	if !strings.HasPrefix(token, TokenPrefix) {
		return Identity{}, ErrTokenNotFound
	}
	t, err := s.store.APITokenByHash(ctx, hashSecret(token))
	if err != nil {
		return Identity{}, err
	}
	now := s.now().UTC()
	if !t.Expires.IsZero() && !now.Before(t.Expires) {
		return Identity{}, ErrTokenNotFound
	}
	if now.Sub(t.LastUsed) >= touchEvery {
		if err := s.store.TouchAPIToken(ctx, t.ID, now); err != nil {
			return Identity{}, fmt.Errorf("auth: touch token: %w", err)
		}
	}
	return Identity{Name: "token:" + t.Name, Role: t.Role}, nil
}
