package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const testPassword = "correct horse battery"

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestService(t *testing.T) (*Service, *MemoryStore, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	st := NewMemoryStore()
	s := NewService(st, Options{Now: c.now})
	if err := s.AddUser(context.Background(), "Ann@Example.com", RoleAnalyst, testPassword); err != nil {
		t.Fatal(err)
	}
	return s, st, c
}

func TestPasswordHashIsArgon2id(t *testing.T) {
	h, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the expected parameters", h)
	}
	if ok, err := VerifyPassword(h, testPassword); err != nil || !ok {
		t.Errorf("the right password does not verify: %v %v", ok, err)
	}
	if ok, _ := VerifyPassword(h, testPassword+"!"); ok {
		t.Error("a wrong password verifies")
	}
	h2, _ := HashPassword(testPassword)
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "$2a$10$abc", strings.Replace(h, "m=19456", "m=99999999", 1), "$argon2id$v=19$m=19456,t=2,p=1$!!$!!"} {
		if _, err := VerifyPassword(bad, testPassword); err == nil {
			t.Errorf("malformed hash %q verified without error", bad)
		}
	}
	if err := CheckPassword("short"); err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("short password: %v", err)
	}
}

func TestLoginSameErrorAndRateLimit(t *testing.T) {
	s, _, c := newTestService(t)
	ctx := context.Background()
	if _, id, err := s.Login(ctx, "ann@example.com", testPassword, "192.0.2.1"); err != nil || id.Role != RoleAnalyst || id.CSRF == "" {
		t.Fatalf("login: %+v %v", id, err)
	}
	_, _, errUnknown := s.Login(ctx, "nobody", testPassword, "192.0.2.9")
	_, _, errWrong := s.Login(ctx, "ann@example.com", "wrong password!", "192.0.2.9")
	if !errors.Is(errUnknown, ErrInvalidCredentials) || errUnknown != errWrong {
		t.Errorf("unknown user %v and wrong password %v differ", errUnknown, errWrong)
	}
	if s.dummyHash == "" {
		t.Error("an unknown user's login verified no dummy hash (timing oracle)")
	}

	// Per user name: with the wrong password above, five failures from several addresses; the sixth attempt is
	// refused even with the right password.
	for i := range 4 {
		if _, _, err := s.Login(ctx, "ann@example.com", "wrong password!", "198.51.100."+string(rune('1'+i))); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	_, _, err := s.Login(ctx, "ann@example.com", testPassword, "203.0.113.50")
	var limited *RateLimitedError
	if !errors.As(err, &limited) || limited.RetryAfter <= 0 || limited.RetryAfter > LoginFailureWindow {
		t.Fatalf("sixth attempt: %v, want rate limited", err)
	}
	c.t = c.t.Add(LoginFailureWindow + time.Second)
	if _, _, err := s.Login(ctx, "ann@example.com", testPassword, "203.0.113.50"); err != nil {
		t.Fatalf("after the window: %v", err)
	}

	// Per client address: five failures for different names block the address.
	for i := range 5 {
		_, _, _ = s.Login(ctx, "user"+string(rune('a'+i)), "wrong password!", "192.0.2.77")
	}
	if _, _, err := s.Login(ctx, "ann@example.com", testPassword, "192.0.2.77"); !errors.As(err, &limited) {
		t.Errorf("address after five failures: %v, want rate limited", err)
	}
}

func TestSessionLifetime(t *testing.T) {
	s, st, c := newTestService(t)
	ctx := context.Background()
	secret, id, err := s.Login(ctx, "ann@example.com", testPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.LoginSession(ctx, secret); err == nil {
		t.Error("the session is stored under its secret id, not its hash")
	}
	if got, err := s.SessionIdentity(ctx, secret); err != nil || got.Name != "ann@example.com" || got.CSRF != id.CSRF {
		t.Fatalf("session: %+v %v", got, err)
	}
	if !id.CheckCSRF(id.CSRF) || id.CheckCSRF("") || id.CheckCSRF(id.CSRF+"x") {
		t.Error("CSRF check")
	}
	// Activity every 11 hours keeps it alive past the idle timeout, up to the absolute maximum.
	start := c.t
	for c.t.Add(11 * time.Hour).Before(start.Add(SessionMaxAge)) {
		c.t = c.t.Add(11 * time.Hour)
		if _, err := s.SessionIdentity(ctx, secret); err != nil {
			t.Fatalf("active session ended at %s: %v", c.t, err)
		}
	}
	c.t = start.Add(SessionMaxAge)
	if _, err := s.SessionIdentity(ctx, secret); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("after the maximum age: %v", err)
	}

	// Idle timeout.
	secret, _, _ = s.StartSession(ctx, "ann@example.com")
	c.t = c.t.Add(SessionIdleTimeout)
	if _, err := s.SessionIdentity(ctx, secret); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("after the idle timeout: %v", err)
	}
	// Logout.
	secret, _, _ = s.StartSession(ctx, "ann@example.com")
	if err := s.Logout(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionIdentity(ctx, secret); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("after logout: %v", err)
	}
	// A role change ends the user's sessions.
	secret, _, _ = s.StartSession(ctx, "ann@example.com")
	if err := s.AddUser(ctx, "root", RoleAdmin, testPassword); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRole(ctx, "ann@example.com", RoleViewer); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionIdentity(ctx, secret); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("after a role change: %v", err)
	}
}

func TestAPITokens(t *testing.T) {
	s, st, c := newTestService(t)
	ctx := context.Background()
	token, rec, err := s.CreateToken(ctx, "siem export", RoleViewer, 24*time.Hour, "root")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, "cw_") || len(token) < 40 {
		t.Fatalf("token %q", token)
	}
	stored, _ := st.APITokens(ctx)
	if len(stored) != 1 || stored[0].Hash == "" || strings.Contains(stored[0].Hash, strings.TrimPrefix(token, "cw_")) ||
		stored[0].Hash != hashSecret(token) {
		t.Fatalf("stored token %+v is not the hash of the token", stored)
	}
	if id, err := s.TokenIdentity(ctx, token); err != nil || id.Role != RoleViewer || id.CSRF != "" || id.Name != "token:siem export" {
		t.Fatalf("token identity %+v %v", id, err)
	}
	if _, err := s.TokenIdentity(ctx, token+"x"); !errors.Is(err, ErrTokenNotFound) {
		t.Errorf("altered token: %v", err)
	}
	c.t = c.t.Add(24 * time.Hour)
	if _, err := s.TokenIdentity(ctx, token); !errors.Is(err, ErrTokenNotFound) {
		t.Errorf("expired token: %v", err)
	}
	if err := s.RevokeToken(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, rec.ID); !errors.Is(err, ErrTokenNotFound) {
		t.Errorf("revoking twice: %v", err)
	}
	if _, _, err := s.CreateToken(ctx, "x", Role("root"), 0, ""); err == nil {
		t.Error("a token with an unknown role was created")
	}
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	s := NewService(NewMemoryStore(), Options{})
	created, pw, err := s.EnsureAdmin(ctx, "")
	if err != nil || !created || len(pw) != 20 {
		t.Fatalf("first start: %v %q %v", created, pw, err)
	}
	if _, _, err := s.Login(ctx, AdminUser, pw, "192.0.2.1"); err != nil {
		t.Fatalf("the generated password does not log in: %v", err)
	}
	created, pw2, err := s.EnsureAdmin(ctx, "")
	if err != nil || created || pw2 != "" {
		t.Errorf("second start printed a password again: %v %q %v", created, pw2, err)
	}

	s = NewService(NewMemoryStore(), Options{})
	if created, pw, err := s.EnsureAdmin(ctx, "from the environment"); err != nil || !created || pw != "" {
		t.Fatalf("with a given password: %v %q %v", created, pw, err)
	}
	if _, id, err := s.Login(ctx, "admin", "from the environment", "192.0.2.1"); err != nil || id.Role != RoleAdmin {
		t.Fatalf("the given password does not log in as admin: %v", err)
	}
	if err := s.DeleteUser(ctx, "admin"); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("deleting the last admin: %v", err)
	}
	if err := s.SetRole(ctx, "admin", RoleViewer); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("demoting the last admin: %v", err)
	}
	if _, _, err := NewService(NewMemoryStore(), Options{}).EnsureAdmin(ctx, "short"); err == nil {
		t.Error("a short admin password was accepted")
	}

	// Users added before the first start do not stand in for an admin.
	s = NewService(NewMemoryStore(), Options{})
	if err := s.AddUser(ctx, "ann", RoleAnalyst, testPassword); err != nil {
		t.Fatal(err)
	}
	if created, pw, err := s.EnsureAdmin(ctx, ""); err != nil || !created || pw == "" {
		t.Errorf("store with an analyst only: %v %q %v", created, pw, err)
	}
}

func TestRoles(t *testing.T) {
	if !RoleAdmin.Allows(RoleAnalyst) || !RoleAnalyst.Allows(RoleViewer) || RoleViewer.Allows(RoleAnalyst) ||
		RoleAnalyst.Allows(RoleAdmin) || Role("root").Allows(RoleViewer) {
		t.Error("role order")
	}
	if _, err := ParseRole("Owner"); err == nil {
		t.Error("unknown role parsed")
	}
	if _, err := NormalizeName("bad name"); err == nil {
		t.Error("a name with a space was accepted")
	}
}
