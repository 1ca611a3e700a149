package auth

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemoryStore is a Store in memory, for tests and tools that need no persistence.
type MemoryStore struct {
	mu       sync.Mutex
	users    map[string]User
	sessions map[string]Session
	tokens   map[string]Token
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{users: map[string]User{}, sessions: map[string]Session{}, tokens: map[string]Token{}}
}

// AuthUsers implements Store.
func (m *MemoryStore) AuthUsers(context.Context) ([]User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.SortedFunc(maps.Values(m.users), func(a, b User) int { return strings.Compare(a.Name, b.Name) }), nil
}

// AuthUser implements Store.
func (m *MemoryStore) AuthUser(_ context.Context, name string) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return User{}, ErrUserNotFound
	}
	return u, nil
}

// CreateAuthUser implements Store.
func (m *MemoryStore) CreateAuthUser(_ context.Context, u User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.Name]; ok {
		return ErrUserExists
	}
	m.users[u.Name] = u
	return nil
}

// UpdateAuthUser implements Store.
func (m *MemoryStore) UpdateAuthUser(_ context.Context, u User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.users[u.Name]
	if !ok {
		return ErrUserNotFound
	}
	u.Created = old.Created
	m.users[u.Name] = u
	return nil
}

// DeleteAuthUser implements Store.
func (m *MemoryStore) DeleteAuthUser(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[name]; !ok {
		return ErrUserNotFound
	}
	delete(m.users, name)
	m.deleteSessionsWhere(func(s Session) bool { return s.User == name })
	return nil
}

// deleteSessionsWhere removes matching sessions; the caller holds mu.
func (m *MemoryStore) deleteSessionsWhere(match func(Session) bool) {
	maps.DeleteFunc(m.sessions, func(_ string, s Session) bool { return match(s) })
}

// CreateSession implements Store.
func (m *MemoryStore) CreateSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.ID] = s
	return nil
}

// LoginSession implements Store.
func (m *MemoryStore) LoginSession(_ context.Context, id string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return Session{}, ErrSessionNotFound
	}
	return s, nil
}

// TouchSession implements Store.
func (m *MemoryStore) TouchSession(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[id]; ok {
		s.LastSeen = at
		m.sessions[id] = s
	}
	return nil
}

// DeleteSession implements Store.
func (m *MemoryStore) DeleteSession(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
	return nil
}

// DeleteUserSessions implements Store.
func (m *MemoryStore) DeleteUserSessions(_ context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleteSessionsWhere(func(s Session) bool { return s.User == user })
	return nil
}

// PurgeSessions implements Store.
func (m *MemoryStore) PurgeSessions(_ context.Context, idleBefore, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleteSessionsWhere(func(s Session) bool { return s.LastSeen.Before(idleBefore) || !s.Expires.After(now) })
	return nil
}

// CreateAPIToken implements Store.
func (m *MemoryStore) CreateAPIToken(_ context.Context, t Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens[t.ID] = t
	return nil
}

// APITokens implements Store.
func (m *MemoryStore) APITokens(context.Context) ([]Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.SortedFunc(maps.Values(m.tokens), func(a, b Token) int { return a.Created.Compare(b.Created) }), nil
}

// APITokenByHash implements Store.
func (m *MemoryStore) APITokenByHash(_ context.Context, hash string) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tokens {
		if t.Hash == hash {
			return t, nil
		}
	}
	return Token{}, ErrTokenNotFound
}

// TouchAPIToken implements Store.
func (m *MemoryStore) TouchAPIToken(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.tokens[id]; ok {
		t.LastUsed = at
		m.tokens[id] = t
	}
	return nil
}

// DeleteAPIToken implements Store.
func (m *MemoryStore) DeleteAPIToken(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[id]; !ok {
		return ErrTokenNotFound
	}
	delete(m.tokens, id)
	return nil
}
