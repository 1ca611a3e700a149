package auth

import (
	"sync"
	"time"
)

// Login rate limits: this many failures within the window, per client address and per user name, refuse further
// attempts until the oldest failure leaves the window.
const (
	LoginFailureLimit  = 5
	LoginFailureWindow = 15 * time.Minute
	// maxLimiterKeys bounds the limiter's memory; past it, keys without recent failures are dropped first.
	maxLimiterKeys = 100_000
)

// limiter counts recent login failures per key (a client address or a user name).
type limiter struct {
	mu       sync.Mutex
	limit    int
	window   time.Duration
	failures map[string][]time.Time
}

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, failures: map[string][]time.Time{}}
}

// recent returns the key's failures still inside the window at now; the caller holds mu.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	fs := l.failures[key]
	i := 0
	for i < len(fs) && !fs[i].After(now.Add(-l.window)) {
		i++
	}
	if i == len(fs) {
		delete(l.failures, key)
		return nil
	}
	fs = fs[i:]
	l.failures[key] = fs
	return fs
}

// wait returns how long until any of keys may try again; 0 means now.
func (l *limiter) wait(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var longest time.Duration
	for _, k := range keys {
		fs := l.recent(k, now)
		if len(fs) < l.limit {
			continue
		}
		// The attempt is allowed again when enough failures have aged out to fall below the limit.
		if d := fs[len(fs)-l.limit].Add(l.window).Sub(now); d > longest {
			longest = d
		}
	}
	return longest
}

// fail records a failure for every key.
func (l *limiter) fail(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) >= maxLimiterKeys {
		l.prune(now)
	}
	for _, k := range keys {
		l.failures[k] = append(l.recent(k, now), now)
	}
}

// reset forgets a key's failures (a successful login clears its user name).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}

// prune drops keys without failures in the window; the caller holds mu.
func (l *limiter) prune(now time.Time) {
	for k := range l.failures {
		l.recent(k, now)
	}
}
