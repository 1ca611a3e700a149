package mimecast

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate-limit response headers (Mimecast documents Reset in milliseconds until the window resets).
const (
	headerRateLimit     = "X-RateLimit-Limit"
	headerRateRemaining = "X-RateLimit-Remaining"
	headerRateReset     = "X-RateLimit-Reset"
)

// RateLimit is the state the API last reported for one path through the X-RateLimit-* headers.
type RateLimit struct {
	// Limit is X-RateLimit-Limit, or -1 when absent.
	Limit int
	// Remaining is X-RateLimit-Remaining, or -1 when absent.
	Remaining int
	// Reset is X-RateLimit-Reset converted to a duration, or -1 when absent.
	Reset time.Duration
}

// parseRateLimit reads the X-RateLimit-* headers; absent or malformed values are -1.
func parseRateLimit(h http.Header) RateLimit {
	rl := RateLimit{Limit: headerInt(h, headerRateLimit), Remaining: headerInt(h, headerRateRemaining), Reset: -1}
	if ms := headerInt(h, headerRateReset); ms >= 0 {
		rl.Reset = time.Duration(ms) * time.Millisecond
	}
	return rl
}

func headerInt(h http.Header, key string) int {
	v := strings.TrimSpace(h.Get(key))
	if v == "" {
		return -1
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return -1
	}
	return int(n)
}

// limiter holds, per endpoint path, the earliest time the next call may be sent and the last reported quota.
type limiter struct {
	mu        sync.Mutex
	notBefore map[string]time.Time
	last      map[string]RateLimit
}

func newLimiter() *limiter {
	return &limiter{notBefore: make(map[string]time.Time), last: make(map[string]RateLimit)}
}

// block makes calls to path wait until t (later times win).
func (l *limiter) block(path string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.notBefore[path]) {
		l.notBefore[path] = t
	}
}

// observe records a response's rate-limit headers. It blocks path until the window resets when the quota is used
// up (Remaining 0) or the call was throttled (429). It reports whether it knew the reset time.
func (l *limiter) observe(path string, status int, rl RateLimit, now time.Time) bool {
	if rl.Limit >= 0 || rl.Remaining >= 0 || rl.Reset >= 0 {
		l.mu.Lock()
		l.last[path] = rl
		l.mu.Unlock()
	}
	if rl.Reset < 0 {
		return false
	}
	if status == http.StatusTooManyRequests || rl.Remaining == 0 {
		l.block(path, now.Add(rl.Reset))
		return true
	}
	return false
}

// until returns how long calls to path must still wait at now.
func (l *limiter) until(path string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	nb, ok := l.notBefore[path]
	if !ok {
		return 0
	}
	if !now.Before(nb) {
		delete(l.notBefore, path)
		return 0
	}
	return nb.Sub(now)
}

// wait blocks until path may be called, using the client's clock and sleep so it honours ctx.
func (c *Client) waitRateLimit(ctx context.Context, path string) error {
	counted := false
	for {
		d := c.limits.until(path, c.now())
		if d <= 0 {
			return nil
		}
		if !counted {
			counted = true
			c.metrics.RateLimitWaits.WithLabelValues(path).Inc()
			c.log.Debug("mimecast rate limit: waiting for window reset", "path", path, "wait", d.String())
		}
		if err := c.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// LastRateLimit returns the X-RateLimit-* values the API last sent for path (without query), and false when it
// has sent none yet (Mimecast may omit them until a limit is exceeded). Schedulers can use it to spread calls.
func (c *Client) LastRateLimit(path string) (RateLimit, bool) {
	c.limits.mu.Lock()
	defer c.limits.mu.Unlock()
	rl, ok := c.limits.last[path]
	return rl, ok
}
