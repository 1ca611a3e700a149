package sim

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// writeJSON writes v as the JSON body with the given HTTP status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// flatFail is the v2 auth-layer error item: {"code","message"}.
func flatFail(code, message string) map[string]any {
	return map[string]any{"code": code, "message": message}
}

// failBody is the v2 flat error envelope {"fail":[{"code","message"}]}.
func failBody(code, message string) map[string]any {
	return map[string]any{"fail": []any{flatFail(code, message)}}
}

// withCommon counts every call and applies the slow fault before routing.
func (s *Sim) withCommon(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.Calls++
		n := s.stats.Calls
		if s.opts.Faults.Slow {
			s.stats.Slowed++
		}
		s.mu.Unlock()
		if s.opts.Faults.Slow {
			d := s.opts.SlowMin
			if span := s.opts.SlowMax - s.opts.SlowMin; span > 0 {
				d += time.Duration(unitFloat(s.opts.Seed, "slow", uint64(n)) * float64(span))
			}
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// handleToken serves POST /oauth/token (client credentials grant, form body).
func (s *Sim) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, failBody("method_not_allowed", "Method Not Allowed"))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, failBody("invalid_request", "Malformed form body"))
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok && id == "" {
		id, secret = bid, bsecret
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, failBody("unsupported_grant_type", "Grant type must be client_credentials"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		s.count(func(st *Stats) { st.BadCredentials++ })
		writeJSON(w, http.StatusUnauthorized, failBody("InvalidClientIdentifier", "Client credentials are invalid"))
		return
	}
	now := s.opts.Now()
	s.mu.Lock()
	s.tokenN++
	tok := base64.RawURLEncoding.EncodeToString(hashBytes(s.opts.Seed, "access-token", strconv.FormatUint(s.tokenN, 10)))
	s.tokens[tok] = &token{expires: now.Add(s.opts.TokenTTL)}
	s.stats.TokensIssued++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(s.opts.TokenTTL / time.Second),
		"scope":        "",
	})
}

// dataCall wraps a data endpoint of a product: method check (method), authentication (a bearer token, or for
// /api/... functions an API 1.0 HMAC signature), the product licence (403 app_forbidden), rate limiting and 5xx
// injection.
func (s *Sim) dataCall(product, method string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeJSON(w, http.StatusMethodNotAllowed, failBody("method_not_allowed", "Method Not Allowed"))
			return
		}
		v1 := strings.HasPrefix(r.Header.Get("Authorization"), "MC ") && strings.HasPrefix(r.URL.Path, "/api/")
		if v1 && !s.authorizeV1(w, r) || !v1 && !s.authorize(w, r) {
			return
		}
		if slices.Contains(s.opts.MissingProducts, product) {
			s.count(func(st *Stats) { st.Forbidden++ })
			writeJSON(w, http.StatusForbidden, failBody("app_forbidden", "Forbidden to perform the requested operation"))
			return
		}
		if s.rateLimited(w, r.URL.Path) {
			return
		}
		if s.injectServerError(w, r.URL.Path) {
			return
		}
		h(w, r)
	})
}

// authorize checks the bearer token and writes the 401 answer when it is missing, unknown or expired.
func (s *Sim) authorize(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	tok = strings.TrimSpace(tok)
	now := s.opts.Now()
	s.mu.Lock()
	t := s.tokens[tok]
	switch {
	case !ok || tok == "" || t == nil:
		s.stats.Unauthorized++
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, failBody("unauthorized", "Unauthorized Request"))
		return false
	case now.After(t.expires), s.opts.Faults.TokenExpiry && t.uses >= s.opts.TokenUses:
		s.stats.TokenExpired++
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, failBody("token_expired", "Access Token Expired"))
		return false
	}
	t.uses++
	s.mu.Unlock()
	return true
}

// rateLimited applies the ratelimit fault: a fixed window per path with RateLimitCalls calls. Headers are only
// set once the budget is exceeded, as Mimecast does.
func (s *Sim) rateLimited(w http.ResponseWriter, path string) bool {
	if !s.opts.Faults.RateLimit {
		return false
	}
	now := s.opts.Wall()
	s.mu.Lock()
	rw := s.windows[path]
	if rw == nil || !now.Before(rw.start.Add(s.opts.RateLimitWindow)) {
		rw = &rateWindow{start: now}
		s.windows[path] = rw
	}
	if rw.used < s.opts.RateLimitCalls {
		rw.used++
		s.mu.Unlock()
		return false
	}
	s.stats.RateLimited++
	reset := rw.start.Add(s.opts.RateLimitWindow).Sub(now)
	s.mu.Unlock()
	ms := (reset + time.Millisecond - 1) / time.Millisecond
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimitCalls))
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(int64(ms), 10))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"meta": map[string]any{"status": http.StatusTooManyRequests},
		"fail": []any{flatFail("too_many_requests", "Rate limit exceeded, retry after "+strconv.FormatInt(int64(ms), 10)+" ms")},
	})
	return true
}

// injectServerError applies the 5xx fault. Decisions depend on the seed and the per-path call number; at most two
// consecutive calls on a path fail, so a retrying client always gets through.
func (s *Sim) injectServerError(w http.ResponseWriter, path string) bool {
	if !s.opts.Faults.ServerError {
		return false
	}
	s.mu.Lock()
	s.callN[path]++
	n := s.callN[path]
	fail := s.faultRun[path] < 2 && unitFloat(s.opts.Seed, "5xx:"+path, n) < s.opts.ServerErrorRate
	if fail {
		s.faultRun[path]++
		s.stats.ServerErrors++
	} else {
		s.faultRun[path] = 0
	}
	s.mu.Unlock()
	if !fail {
		return false
	}
	if unitFloat(s.opts.Seed, "5xx-kind:"+path, n) < 0.75 {
		writeJSON(w, http.StatusInternalServerError,
			failBody("internal-error", "An unexpected error occurred while processing the batch request"))
		return true
	}
	writeJSON(w, http.StatusServiceUnavailable, failBody("service_unavailable", "The service is temporarily unavailable"))
	return true
}
