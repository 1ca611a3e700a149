package mimecast

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	testClientID = "test-client-id"
	testSecret   = "s3cr3t-VALUE-never-shown"
)

// fakeClock is a manual clock whose Sleep advances time instantly.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.t = f.t.Add(d)
	return nil
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// recorded is one request the test server saw.
type recorded struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   string
	At     time.Time
}

// recorder wraps a handler and keeps every request it served, stamped with the fake clock.
type recorder struct {
	mu    sync.Mutex
	clock *fakeClock
	reqs  []recorded
}

func (r *recorder) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := recorded{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Header: req.Header.Clone(), Body: string(body)}
		if r.clock != nil {
			rec.At = r.clock.Now()
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, rec)
		r.mu.Unlock()
		h(w, req)
	}
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func (r *recorder) count(path string) int {
	n := 0
	for _, q := range r.all() {
		if q.Path == path {
			n++
		}
	}
	return n
}

func (r *recorder) byPath(path string) []recorded {
	var out []recorded
	for _, q := range r.all() {
		if q.Path == path {
			out = append(out, q)
		}
	}
	return out
}

// env is a test server, its recorder, a fake clock and a client pointed at the server.
type env struct {
	srv    *httptest.Server
	rec    *recorder
	clock  *fakeClock
	reg    *prometheus.Registry
	logs   *bytes.Buffer
	client *Client
}

// tokenHandler serves /oauth/token with the given tokens in turn (the last one repeats).
func tokenHandler(tokens ...string) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") != testClientID ||
			r.PostForm.Get("client_secret") != testSecret || r.PostForm.Get("grant_type") != "client_credentials" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"fail":[{"code":"InvalidClientIdentifier","message":"Client credentials are invalid"}]}`)
			return
		}
		mu.Lock()
		tok := tokens[min(i, len(tokens)-1)]
		i++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"`+tok+`","token_type":"Bearer","expires_in":1799,"scope":""}`)
	}
}

// newEnv starts a server whose mux has the token endpoint plus the given handlers, and builds a client with a
// fake clock, instant sleeps and maximal jitter.
func newEnv(t *testing.T, handlers map[string]http.HandlerFunc, opts ...Option) *env {
	t.Helper()
	e := &env{clock: newFakeClock(), reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}}
	e.rec = &recorder{clock: e.clock}
	mux := http.NewServeMux()
	if _, ok := handlers[TokenPath]; !ok {
		mux.HandleFunc(TokenPath, e.rec.wrap(tokenHandler("tok-1")))
	}
	for p, h := range handlers {
		mux.HandleFunc(p, e.rec.wrap(h))
	}
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.client = e.newClient(t, Config{}, opts...)
	return e
}

// newClient builds another client against e's server; cfg's zero fields get test values.
func (e *env) newClient(t *testing.T, cfg Config, opts ...Option) *Client {
	t.Helper()
	if cfg.BaseURL == "" {
		cfg.BaseURL = e.srv.URL
	}
	if cfg.ClientID == "" {
		cfg.ClientID = testClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = testSecret
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	base := []Option{
		WithHTTPClient(e.srv.Client()),
		WithClock(e.clock.Now),
		WithSleep(e.clock.Sleep),
		WithJitter(func(n int64) int64 { return n - 1 }),
		WithRegisterer(e.reg),
		WithLogger(slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
	c, err := New(cfg, append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// counterValue reads a counter or histogram sample count from the registry for the given labels.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			if m.GetHistogram() != nil {
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// jsonHandler answers every request with status and body.
func jsonHandler(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// sequence answers the n-th request with handlers[n] (the last one repeats).
func sequence(handlers ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := handlers[min(i, len(handlers)-1)]
		i++
		mu.Unlock()
		h(w, r)
	}
}

const okPage = `{"meta":{"status":200,"pagination":{"pageSize":100,"totalCount":1}},"data":[{"id":"a"}],"fail":[]}`
