package mimecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "defaults", cfg: Config{ClientID: "id", ClientSecret: "hush-value"}},
		{name: "regional base with slash", cfg: Config{BaseURL: "https://uk-api.services.mimecast.com/", ClientID: "id", ClientSecret: "hush-value"}},
		{name: "missing secret", cfg: Config{ClientID: "id"}, wantErr: "client id and client secret are required"},
		{name: "missing id", cfg: Config{ClientSecret: "hush-value"}, wantErr: "client id and client secret are required"},
		{name: "relative base", cfg: Config{BaseURL: "api.services.mimecast.com", ClientID: "id", ClientSecret: "hush-value"}, wantErr: "must be an absolute http(s) url"},
		{name: "negative retries", cfg: Config{MaxRetries: -1, ClientID: "id", ClientSecret: "hush-value"}, wantErr: "must not be negative"},
		{name: "backoff bounds swapped", cfg: Config{MinBackoff: time.Minute, MaxBackoff: time.Second, ClientID: "id", ClientSecret: "hush-value"}, wantErr: "max backoff 1s is below min backoff 1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if c.cfg.Timeout != DefaultTimeout || c.cfg.MaxRetries != DefaultMaxRetries || strings.HasSuffix(c.cfg.BaseURL, "/") {
					t.Errorf("defaults not applied: %+v", c.cfg)
				}
				if tt.cfg.BaseURL == "" && c.cfg.BaseURL != DefaultBaseURL {
					t.Errorf("BaseURL = %q", c.cfg.BaseURL)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
			if tt.cfg.ClientSecret != "" && strings.Contains(err.Error(), tt.cfg.ClientSecret) {
				t.Errorf("error mentions the secret: %v", err)
			}
		})
	}
}

func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("second NewMetrics: %v", err)
	}
	if m1.Requests != m2.Requests || m1.Retries != m2.Retries || m1.Duration != m2.Duration || m1.RateLimitWaits != m2.RateLimitWaits {
		t.Error("second registration did not reuse the registered collectors")
	}
	for range 2 {
		if _, err := New(Config{ClientID: "id", ClientSecret: "x"}, WithRegisterer(reg)); err != nil {
			t.Fatalf("New with shared registry: %v", err)
		}
	}
	// A different collector under the same name is a real conflict and must be reported.
	clash := prometheus.NewCounter(prometheus.CounterOpts{Name: "castwatch_mimecast_retries_total", Help: "other"})
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(clash)
	if _, err := NewMetrics(reg2); err == nil {
		t.Error("NewMetrics with a clashing collector: want error")
	}
}

func TestBackoffFullJitterBounds(t *testing.T) {
	tests := []struct {
		attempt  int
		wantCeil time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second}, {6, 30 * time.Second}, {40, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.attempt), func(t *testing.T) {
			var asked int64
			hi, err := New(Config{ClientID: "id", ClientSecret: "x"}, WithJitter(func(n int64) int64 { asked = n; return n - 1 }))
			if err != nil {
				t.Fatal(err)
			}
			if got := hi.backoff(tt.attempt); got != tt.wantCeil {
				t.Errorf("max jitter backoff = %s, want %s", got, tt.wantCeil)
			}
			if time.Duration(asked) != tt.wantCeil+1 {
				t.Errorf("jitter range = %d, want %d", asked, tt.wantCeil+1)
			}
			lo, _ := New(Config{ClientID: "id", ClientSecret: "x"}, WithJitter(func(int64) int64 { return 0 }))
			if got := lo.backoff(tt.attempt); got != time.Second {
				t.Errorf("min jitter backoff = %s, want the 1s floor", got)
			}
		})
	}
}

func TestFailOnHTTP200(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		wantCode      string
		wantMsg       string
		wantRetryable bool
	}{
		{
			name:     "v1 errors shape",
			body:     `{"meta":{"status":200},"data":[],"fail":[{"key":{"startDateTime":"x"},"errors":[{"code":"err_validation_blank","message":"startDateTime is blank","retryable":false}]}]}`,
			wantCode: "err_validation_blank", wantMsg: "startDateTime is blank",
		},
		{
			name:     "v1 retryable flag kept",
			body:     `{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"err_busy","message":"busy","retryable":true}]}]}`,
			wantCode: "err_busy", wantMsg: "busy", wantRetryable: true,
		},
		{
			name:     "v2 flat shape",
			body:     `{"fail":[{"code":"app_forbidden","message":"Forbidden to perform the requested operation"}]}`,
			wantCode: "app_forbidden", wantMsg: "Forbidden to perform the requested operation",
		},
		{
			name:     "error object shape",
			body:     `{"error":{"code":"bad_range","message":"dateRangeStartsAt too old"}}`,
			wantCode: "bad_range", wantMsg: "dateRangeStartsAt too old",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, map[string]http.HandlerFunc{auditPath: jsonHandler(200, tt.body)})
			_, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath})
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if ae.Status != 200 || ae.Code != tt.wantCode || ae.Message != tt.wantMsg || ae.Retryable != tt.wantRetryable {
				t.Errorf("APIError = %+v", ae)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q lacks the message", err)
			}
		})
	}
	t.Run("empty fail is success", func(t *testing.T) {
		e := newEnv(t, map[string]http.HandlerFunc{auditPath: jsonHandler(200, okPage)})
		if _, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath}); err != nil {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("null error is success", func(t *testing.T) {
		e := newEnv(t, map[string]http.HandlerFunc{auditPath: jsonHandler(200, `{"data":[],"error":null}`)})
		if _, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath}); err != nil {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not json is an error", func(t *testing.T) {
		e := newEnv(t, map[string]http.HandlerFunc{auditPath: jsonHandler(200, `<html>`)})
		if _, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath}); err == nil {
			t.Fatal("want error for a non-JSON body")
		}
	})
}

func TestRetryTransientStatuses(t *testing.T) {
	for _, status := range []int{500, 502, 503, 504, 509, 429} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			e := newEnv(t, map[string]http.HandlerFunc{auditPath: sequence(
				jsonHandler(status, `{"fail":[{"code":"internal-error","message":"An unexpected error occurred"}]}`),
				jsonHandler(status, `{}`),
				jsonHandler(200, okPage),
			)})
			page, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath})
			if err != nil {
				t.Fatalf("FetchPage: %v", err)
			}
			if len(page.Data) != 1 {
				t.Errorf("records = %d", len(page.Data))
			}
			if got := e.rec.count(auditPath); got != 3 {
				t.Errorf("requests = %d, want 3", got)
			}
			// Max jitter: waits of 1 s then 2 s, all on the fake clock.
			reqs := e.rec.byPath(auditPath)
			if gap := reqs[1].At.Sub(reqs[0].At); gap != time.Second {
				t.Errorf("first wait = %s, want 1s", gap)
			}
			if gap := reqs[2].At.Sub(reqs[1].At); gap != 2*time.Second {
				t.Errorf("second wait = %s, want 2s", gap)
			}
			if got := counterValue(t, e.reg, "castwatch_mimecast_retries_total", map[string]string{"path": auditPath, "reason": strconv.Itoa(status)}); got != 2 {
				t.Errorf("retries metric = %v, want 2", got)
			}
			if got := counterValue(t, e.reg, "castwatch_mimecast_requests_total", map[string]string{"path": auditPath, "status": "200"}); got != 1 {
				t.Errorf("requests{status=200} = %v, want 1", got)
			}
		})
	}
}

func TestRetryGivesUp(t *testing.T) {
	tests := []struct {
		name         string
		maxRetries   int
		wantRequests int
	}{
		{name: "default five attempts", wantRequests: 5},
		{name: "configured three attempts", maxRetries: 3, wantRequests: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, map[string]http.HandlerFunc{auditPath: jsonHandler(503, `{"fail":[{"code":"unavailable","message":"down"}]}`)})
			c := e.newClient(t, Config{MaxRetries: tt.maxRetries})
			_, err := c.FetchPage(context.Background(), PageRequest{Path: auditPath})
			if err == nil {
				t.Fatal("want error")
			}
			if got := e.rec.count(auditPath); got != tt.wantRequests {
				t.Errorf("requests = %d, want %d", got, tt.wantRequests)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != 503 || !ae.Retryable || IsPermanent(err) {
				t.Errorf("err = %v (%+v), want retryable 503", err, ae)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("giving up after %d attempts", tt.wantRequests)) {
				t.Errorf("err = %q", err)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("secret in error: %q", err)
			}
		})
	}
}

func TestPermanentStatusNotRetried(t *testing.T) {
	for _, status := range []int{400, 403, 404, 405, 409, 418} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			e := newEnv(t, map[string]http.HandlerFunc{auditPath: jsonHandler(status, `{"fail":[{"code":"app_forbidden","message":"nope"}]}`)})
			_, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath})
			if !IsPermanent(err) {
				t.Fatalf("err = %v, want permanent", err)
			}
			var ae *APIError
			errors.As(err, &ae)
			if ae.Status != status || ae.Code != "app_forbidden" || ae.Message != "nope" || ae.Path != auditPath {
				t.Errorf("APIError = %+v", ae)
			}
			if got := e.rec.count(auditPath); got != 1 {
				t.Errorf("requests = %d, want exactly 1", got)
			}
			if len(e.clock.Sleeps()) != 0 {
				t.Errorf("slept %v before giving up on a permanent error", e.clock.Sleeps())
			}
		})
	}
	t.Run("status text when body has no message", func(t *testing.T) {
		e := newEnv(t, map[string]http.HandlerFunc{auditPath: jsonHandler(404, ``)})
		_, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath})
		if err == nil || !strings.Contains(err.Error(), "HTTP 404: Not Found") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRateLimit429WaitsForReset(t *testing.T) {
	const resetMS = 7500
	throttled := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "50")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.Itoa(resetMS))
		w.WriteHeader(http.StatusTooManyRequests)
	}
	e := newEnv(t, map[string]http.HandlerFunc{
		auditPath:           sequence(throttled, jsonHandler(200, okPage)),
		"/api/dlp/get-logs": jsonHandler(200, okPage),
	})
	if _, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath}); err != nil {
		t.Fatalf("FetchPage: %v", err)
	}
	reqs := e.rec.byPath(auditPath)
	if len(reqs) != 2 {
		t.Fatalf("requests = %d, want 2", len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < resetMS*time.Millisecond {
		t.Errorf("retry sent %s after the 429, before the %dms reset", gap, resetMS)
	}
	if got := counterValue(t, e.reg, "castwatch_mimecast_ratelimit_waits_total", map[string]string{"path": auditPath}); got != 1 {
		t.Errorf("ratelimit waits = %v, want 1", got)
	}
	// Other paths are not held by this path's window.
	before := e.clock.Now()
	if _, err := e.client.FetchPage(context.Background(), PageRequest{Path: "/api/dlp/get-logs"}); err != nil {
		t.Fatal(err)
	}
	if !e.clock.Now().Equal(before) {
		t.Errorf("a call to another path waited %s", e.clock.Now().Sub(before))
	}
}

func TestRateLimitRemainingZeroHoldsNextCall(t *testing.T) {
	const resetMS = 4000
	lastOfWindow := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.Itoa(resetMS))
		jsonHandler(200, okPage)(w, r)
	}
	plenty := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "10")
		w.Header().Set("X-RateLimit-Reset", "90000")
		jsonHandler(200, okPage)(w, r)
	}
	e := newEnv(t, map[string]http.HandlerFunc{
		auditPath:           sequence(plenty, lastOfWindow, plenty),
		"/api/dlp/get-logs": jsonHandler(200, okPage),
	})
	ctx := context.Background()
	for range 2 {
		if _, err := e.client.FetchPage(ctx, PageRequest{Path: auditPath}); err != nil {
			t.Fatal(err)
		}
	}
	if rl, ok := e.client.LastRateLimit(auditPath); !ok || rl.Remaining != 0 || rl.Reset != resetMS*time.Millisecond || rl.Limit != -1 {
		t.Errorf("LastRateLimit = %+v, %v", rl, ok)
	}
	if _, ok := e.client.LastRateLimit("/api/dlp/get-logs"); ok {
		t.Error("LastRateLimit reports headers for a path that never sent any")
	}
	reqs := e.rec.byPath(auditPath)
	if reqs[1].At.Sub(reqs[0].At) != 0 {
		t.Errorf("second call waited %s although the quota had room", reqs[1].At.Sub(reqs[0].At))
	}
	if _, err := e.client.FetchPage(ctx, PageRequest{Path: "/api/dlp/get-logs"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.FetchPage(ctx, PageRequest{Path: auditPath}); err != nil {
		t.Fatal(err)
	}
	reqs = e.rec.byPath(auditPath)
	if gap := reqs[2].At.Sub(reqs[1].At); gap != resetMS*time.Millisecond {
		t.Errorf("call after Remaining=0 sent %s later, want exactly the %dms reset", gap, resetMS)
	}
	if dlp := e.rec.byPath("/api/dlp/get-logs"); !dlp[0].At.Equal(reqs[1].At) {
		t.Errorf("other path was delayed by %s", dlp[0].At.Sub(reqs[1].At))
	}
}

func Test429WithoutHeadersBacksOffExponentially(t *testing.T) {
	e := newEnv(t, map[string]http.HandlerFunc{auditPath: sequence(
		jsonHandler(429, ``), jsonHandler(429, ``), jsonHandler(429, ``), jsonHandler(200, okPage))})
	if _, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath}); err != nil {
		t.Fatal(err)
	}
	reqs := e.rec.byPath(auditPath)
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	for i, w := range want {
		if gap := reqs[i+1].At.Sub(reqs[i].At); gap != w {
			t.Errorf("wait %d = %s, want %s", i+1, gap, w)
		}
	}
}

func TestContextCancelStopsWait(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{name: "rate-limit window", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-RateLimit-Reset", strconv.Itoa(int(time.Hour/time.Millisecond)))
			w.WriteHeader(http.StatusTooManyRequests)
		}},
		{name: "retry backoff", handler: jsonHandler(503, ``)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, map[string]http.HandlerFunc{auditPath: tt.handler})
			// Real clock and real sleep; backoff of an hour so only cancellation can end the wait.
			c, err := New(Config{BaseURL: e.srv.URL, ClientID: testClientID, ClientSecret: testSecret, MinBackoff: time.Hour, MaxBackoff: time.Hour},
				WithHTTPClient(e.srv.Client()))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			start := time.Now()
			_, err = c.FetchPage(ctx, PageRequest{Path: auditPath})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("cancel took %s", d)
			}
			if got := e.rec.count(auditPath); got != 1 {
				t.Errorf("requests = %d, want 1", got)
			}
		})
	}
}

func TestNetworkErrorRetried(t *testing.T) {
	drop := func(w http.ResponseWriter, _ *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("no hijacker")
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
	t.Run("dropped connection then success", func(t *testing.T) {
		e := newEnv(t, map[string]http.HandlerFunc{auditPath: sequence(drop, jsonHandler(200, okPage))})
		if _, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath}); err != nil {
			t.Fatalf("FetchPage: %v", err)
		}
		if got := counterValue(t, e.reg, "castwatch_mimecast_requests_total", map[string]string{"path": auditPath, "status": "error"}); got != 1 {
			t.Errorf("requests{status=error} = %v, want 1", got)
		}
	})
	t.Run("unreachable host gives up retryable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		clock := newFakeClock()
		c, err := New(Config{BaseURL: "http://" + addr, ClientID: testClientID, ClientSecret: testSecret, MaxRetries: 2},
			WithClock(clock.Now), WithSleep(clock.Sleep))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.FetchPage(context.Background(), PageRequest{Path: auditPath})
		if err == nil || IsPermanent(err) {
			t.Fatalf("err = %v, want a retryable failure", err)
		}
		if strings.Contains(err.Error(), testSecret) {
			t.Errorf("secret in error %q", err)
		}
		if len(clock.Sleeps()) != 1 {
			t.Errorf("sleeps = %v, want one between two attempts", clock.Sleeps())
		}
	})
}

func TestAttemptTimeoutRetried(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}
	e := newEnv(t, map[string]http.HandlerFunc{auditPath: sequence(slow, jsonHandler(200, okPage))})
	c := e.newClient(t, Config{Timeout: 100 * time.Millisecond})
	if _, err := c.FetchPage(context.Background(), PageRequest{Path: auditPath}); err != nil {
		t.Fatalf("FetchPage: %v", err)
	}
	if got := counterValue(t, e.reg, "castwatch_mimecast_retries_total", map[string]string{"path": auditPath, "reason": "timeout"}); got != 1 {
		t.Errorf("timeout retries = %v, want 1", got)
	}
}

func TestDo(t *testing.T) {
	const siemPath = "/siem/v1/batch/events/cg"
	e := newEnv(t, map[string]http.HandlerFunc{
		siemPath: func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || r.URL.Query().Get("type") != "url protect" {
				jsonHandler(400, `{"error":{"code":"bad_request","message":"bad type"}}`)(w, r)
				return
			}
			jsonHandler(200, `{"value":[{"url":"https://example.com/f.gz","expiry":"2000-01-10T00:10:00.000Z","size":354}],"@nextPage":"NDU1NA==","isCaughtUp":true}`)(w, r)
		},
		"/api/echo": func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("x-mc-threat-feed-next-token", "next-1")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		},
	})
	ctx := context.Background()
	t.Run("get with query decodes", func(t *testing.T) {
		var out struct {
			Value []struct {
				URL  string `json:"url"`
				Size int    `json:"size"`
			} `json:"value"`
			NextPage   string `json:"@nextPage"`
			IsCaughtUp bool   `json:"isCaughtUp"`
		}
		if err := e.client.Do(ctx, http.MethodGet, siemPath+"?type=url+protect&pageSize=100", nil, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Value) != 1 || out.Value[0].Size != 354 || out.NextPage != "NDU1NA==" || !out.IsCaughtUp {
			t.Errorf("out = %+v", out)
		}
		last := e.rec.byPath(siemPath)
		if h := last[len(last)-1].Header; h.Get("Content-Type") != "" || h.Get("Authorization") != "Bearer tok-1" {
			t.Errorf("GET headers = %v", h)
		}
		if got := counterValue(t, e.reg, "castwatch_mimecast_requests_total", map[string]string{"path": siemPath, "status": "200"}); got != 1 {
			t.Errorf("metric path label should drop the query; got %v", got)
		}
	})
	t.Run("error object on 400", func(t *testing.T) {
		err := e.client.Do(ctx, http.MethodGet, siemPath+"?type=nope", nil, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != "bad_request" || ae.Message != "bad type" || !IsPermanent(err) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("struct body is json and raw out", func(t *testing.T) {
		var raw []byte
		if err := e.client.Do(ctx, http.MethodPost, "/api/echo", map[string]any{"data": []int{1}}, &raw); err != nil {
			t.Fatal(err)
		}
		if string(raw) != `{"data":[1]}` {
			t.Errorf("raw = %s", raw)
		}
	})
	t.Run("headers come back", func(t *testing.T) {
		raw, h, err := e.client.DoHeader(ctx, http.MethodPost, "/api/echo", map[string]any{"data": []int{2}})
		if err != nil {
			t.Fatal(err)
		}
		if h.Get("x-mc-threat-feed-next-token") != "next-1" || string(raw) != `{"data":[2]}` {
			t.Errorf("header %q, body %s", h.Get("x-mc-threat-feed-next-token"), raw)
		}
	})
	t.Run("unencodable body", func(t *testing.T) {
		if err := e.client.Do(ctx, http.MethodPost, "/api/echo", map[string]any{"f": func() {}}, nil); err == nil {
			t.Error("want encode error")
		}
	})
	t.Run("undecodable response", func(t *testing.T) {
		var out []int
		if err := e.client.Do(ctx, http.MethodPost, "/api/echo", json.RawMessage(`{"a":1}`), &out); err == nil {
			t.Error("want decode error")
		}
	})
}
