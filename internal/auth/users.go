package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AdminUser is the name of the first admin created on an empty store.
const AdminUser = "admin"

// Users lists every user (without their password hashes).
func (s *Service) Users(ctx context.Context) ([]User, error) {
	us, err := s.store.AuthUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: users: %w", err)
	}
	for i := range us {
		us[i].PasswordHash = ""
	}
	return us, nil
}

// AddUser creates a user with a role and a password.
func (s *Service) AddUser(ctx context.Context, name string, role Role, password string) error {
	n, err := NormalizeName(name)
	if err != nil {
		return err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if err := s.store.CreateAuthUser(ctx, User{Name: n, Role: role, PasswordHash: hash, Created: now, Updated: now}); err != nil {
		return fmt.Errorf("auth: add user %s: %w", n, err)
	}
	return nil
}

// SetPassword changes a user's password and ends the user's sessions.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	u, err := s.user(ctx, name)
	if err != nil {
		return err
	}
	if u.PasswordHash, err = HashPassword(password); err != nil {
		return err
	}
	return s.update(ctx, u)
}

// SetRole changes a user's role; the last admin cannot be demoted.
func (s *Service) SetRole(ctx context.Context, name string, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	u, err := s.user(ctx, name)
	if err != nil {
		return err
	}
	if u.Role == RoleAdmin && role != RoleAdmin {
		if err := s.keepAnAdmin(ctx); err != nil {
			return err
		}
	}
	u.Role = role
	return s.update(ctx, u)
}

// DeleteUser removes a user and its sessions; the last admin cannot be deleted.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	u, err := s.user(ctx, name)
	if err != nil {
		return err
	}
	if u.Role == RoleAdmin {
		if err := s.keepAnAdmin(ctx); err != nil {
			return err
		}
	}
	if err := s.store.DeleteAuthUser(ctx, u.Name); err != nil {
		return fmt.Errorf("auth: delete user %s: %w", u.Name, err)
	}
	return nil
}

func (s *Service) user(ctx context.Context, name string) (User, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return User{}, err
	}
	u, err := s.store.AuthUser(ctx, n)
	if err != nil {
		return User{}, fmt.Errorf("auth: user %s: %w", n, err)
	}
	return u, nil
}

// update stores a changed user and ends its sessions, so the change applies at once.
func (s *Service) update(ctx context.Context, u User) error {
	u.Updated = s.now().UTC()
	if err := s.store.UpdateAuthUser(ctx, u); err != nil {
		return fmt.Errorf("auth: update user %s: %w", u.Name, err)
	}
	if err := s.store.DeleteUserSessions(ctx, u.Name); err != nil {
		return fmt.Errorf("auth: end sessions of %s: %w", u.Name, err)
	}
	return nil
}

// keepAnAdmin fails with ErrLastAdmin unless at least two admins exist.
func (s *Service) keepAnAdmin(ctx context.Context) error {
	us, err := s.store.AuthUsers(ctx)
	if err != nil {
		return fmt.Errorf("auth: users: %w", err)
	}
	admins := 0
	for _, u := range us {
		if u.Role == RoleAdmin {
			admins++
		}
	}
	if admins < 2 {
		return ErrLastAdmin
	}
	return nil
}

// EnsureAdmin creates the first admin ("admin") when the store has no admin (a new store, or one where only
// other roles were added before the first start). The password is password when given (from
// CASTWATCH_ADMIN_PASSWORD); otherwise a random one is generated and returned, the only time it is known. On a
// store that has an admin it does nothing and returns "".
func (s *Service) EnsureAdmin(ctx context.Context, password string) (created bool, generated string, err error) {
	us, err := s.store.AuthUsers(ctx)
	if err != nil {
		return false, "", fmt.Errorf("auth: users: %w", err)
	}
	for _, u := range us {
		if u.Role == RoleAdmin {
			return false, "", nil
		}
	}
	if password == "" {
		if generated, err = GeneratePassword(); err != nil {
			return false, "", err
		}
		password = generated
	} else if err := CheckPassword(password); err != nil {
		return false, "", fmt.Errorf("admin password: %w", err)
	}
	if err := s.AddUser(ctx, AdminUser, RoleAdmin, password); err != nil {
		return false, "", err
	}
	return true, generated, nil
}

// passwordAlphabet avoids look-alike characters (0/O, 1/l/I) so a printed password is easy to type.
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// GeneratePassword returns a random 20-character password (about 116 bits).
func GeneratePassword() (string, error) {
	const n = 20
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("auth: random: %w", err)
		}
		// Rejection sampling keeps every character equally likely.
		if int(buf[0]) < 256-256%len(passwordAlphabet) {
			b.WriteByte(passwordAlphabet[int(buf[0])%len(passwordAlphabet)])
		}
	}
	return b.String(), nil
}

// CreateToken creates an API token with a name, a role and an optional expiry (0: none). It returns the token,
// the only time it is known, and its stored record.
func (s *Service) CreateToken(ctx context.Context, name string, role Role, ttl time.Duration, createdBy string) (string, Token, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", Token{}, errors.New("token name is required (at most 100 characters)")
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", Token{}, err
	}
	if ttl < 0 {
		return "", Token{}, errors.New("token expiry must not be negative")
	}
	secret, err := newSecret(32)
	if err != nil {
		return "", Token{}, err
	}
	id, err := newSecret(9)
	if err != nil {
		return "", Token{}, err
	}
	token := TokenPrefix + secret
	now := s.now().UTC()
	t := Token{ID: id, Name: name, Role: role, Hash: hashSecret(token), Created: now, CreatedBy: createdBy}
	if ttl > 0 {
		t.Expires = now.Add(ttl)
	}
	if err := s.store.CreateAPIToken(ctx, t); err != nil {
		return "", Token{}, fmt.Errorf("auth: create token: %w", err)
	}
	return token, t, nil
}

// Tokens lists the API tokens (without their hashes).
func (s *Service) Tokens(ctx context.Context) ([]Token, error) {
	ts, err := s.store.APITokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: tokens: %w", err)
	}
	for i := range ts {
		ts[i].Hash = ""
	}
	return ts, nil
}

// RevokeToken deletes an API token by id.
func (s *Service) RevokeToken(ctx context.Context, id string) error {
	if err := s.store.DeleteAPIToken(ctx, id); err != nil {
		return fmt.Errorf("auth: revoke token %s: %w", id, err)
	}
	return nil
}
