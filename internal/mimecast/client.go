package mimecast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by New to zero Config fields. Timeout and attempts follow the Sentinel connectors
// (120 s per request, 5 attempts).
const (
	DefaultBaseURL            = "https://api.services.mimecast.com"
	DefaultTimeout            = 120 * time.Second
	DefaultMaxRetries         = 5
	DefaultMinBackoff         = 1 * time.Second
	DefaultMaxBackoff         = 30 * time.Second
	DefaultTokenRefreshMargin = 60 * time.Second
	DefaultPageSize           = 100
	DefaultUserAgent          = "castwatch"
)

// maxErrorBody caps how much of a failed response is read for its error message.
const maxErrorBody = 1 << 20

// Config configures a Client. Zero values take the defaults above.
type Config struct {
	// BaseURL is the API 2.0 base, e.g. https://api.services.mimecast.com or a regional pin.
	BaseURL string
	// ClientID and ClientSecret are the API 2.0 application's OAuth2 client credentials. They are required
	// unless an Authorizer is supplied with WithAuthorizer.
	ClientID     string
	ClientSecret string
	// Timeout bounds each HTTP attempt (connect, headers and body).
	Timeout time.Duration
	// MaxRetries is the maximum number of attempts per call (the first try included).
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff with full jitter between attempts.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// TokenRefreshMargin is how long before expiry a cached token is replaced.
	TokenRefreshMargin time.Duration
	// UserAgent is sent on every request.
	UserAgent string
}

// withDefaults returns cfg with zero fields filled in and validates it.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("mimecast config: base url %q must be an absolute http(s) url", cfg.BaseURL)
	}
	if cfg.Timeout < 0 || cfg.MaxRetries < 0 || cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 || cfg.TokenRefreshMargin < 0 {
		return cfg, errors.New("mimecast config: timeout, max retries, backoff and token refresh margin must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return cfg, fmt.Errorf("mimecast config: max backoff %s is below min backoff %s", cfg.MaxBackoff, cfg.MinBackoff)
	}
	if cfg.TokenRefreshMargin == 0 {
		cfg.TokenRefreshMargin = DefaultTokenRefreshMargin
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	return cfg, nil
}

// SleepFunc waits for d or until ctx ends, returning ctx's error in that case.
type SleepFunc func(ctx context.Context, d time.Duration) error

// Option customises a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (transport, proxies, TLS). Its own Timeout should be zero or larger than
// Config.Timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithClock sets the time source used for token expiry and rate-limit windows.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithSleep sets the function used to wait between attempts and for rate-limit windows.
func WithSleep(sleep SleepFunc) Option { return func(c *Client) { c.sleep = sleep } }

// WithRegisterer registers the client's metrics with reg. Ignored when WithMetrics is also given.
func WithRegisterer(reg prometheus.Registerer) Option { return func(c *Client) { c.reg = reg } }

// WithMetrics sets prebuilt metrics (see NewMetrics), e.g. to share one set between several tenants' clients.
func WithMetrics(m *Metrics) Option { return func(c *Client) { c.metrics = m } }

// WithAuthorizer replaces the OAuth2 client-credentials flow, e.g. with an API 1.0 HMACSigner.
func WithAuthorizer(a Authorizer) Option { return func(c *Client) { c.auth = a } }

// WithJitter sets the source of backoff jitter: it returns a value in [0, n). Tests use it for determinism.
func WithJitter(randN func(n int64) int64) Option { return func(c *Client) { c.randN = randN } }

// Client talks to the Mimecast API. It is safe for concurrent use.
type Client struct {
	cfg     Config
	http    *http.Client
	log     *slog.Logger
	now     func() time.Time
	sleep   SleepFunc
	randN   func(n int64) int64
	reg     prometheus.Registerer
	metrics *Metrics
	auth    Authorizer
	oauth   *oauth2
	limits  *limiter
}

// New builds a Client from cfg and opts.
func New(cfg Config, opts ...Option) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, limits: newLimiter()}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.randN == nil {
		c.randN = rand.Int64N
	}
	if c.metrics == nil {
		if c.metrics, err = NewMetrics(c.reg); err != nil {
			return nil, err
		}
	}
	if c.auth == nil {
		if cfg.ClientID == "" || cfg.ClientSecret == "" {
			return nil, errors.New("mimecast config: client id and client secret are required")
		}
		c.oauth = newOAuth2(c, cfg.ClientID, cfg.ClientSecret, cfg.TokenRefreshMargin)
		c.auth = c.oauth
	}
	return c, nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call describes one logical API call; exec runs it with authorization, rate limits and retries.
type call struct {
	method string
	// path is relative to the base URL and may carry a query string.
	path string
	// rawURL, when set, is an absolute URL used instead of base+path (pre-signed file URLs).
	rawURL      string
	body        []byte
	contentType string
	accept      string
	// authorize runs the Authorizer on each attempt.
	authorize bool
	// stream leaves the body of a 2xx response unread in result.stream.
	stream bool
}

// label is the metric label and rate-limit key: the path without its query.
func (cl call) label() string {
	if cl.rawURL != "" {
		return "file"
	}
	p, _, _ := strings.Cut(cl.path, "?")
	return p
}

// result is a successful (2xx) response.
type result struct {
	status int
	header http.Header
	body   []byte
	stream io.ReadCloser
}

// attemptFailure classifies a failed attempt.
type attemptFailure struct {
	err    error
	retry  bool
	reason string
	wait   time.Duration // explicit wait before the next attempt; 0 = backoff, negative = none

	unauthorized bool
	req          *http.Request
}

// exec runs cl until it succeeds, fails permanently or runs out of attempts.
func (c *Client) exec(ctx context.Context, cl call) (*result, error) {
	label := cl.label()
	reauthed := false
	for attempt := 1; ; attempt++ {
		if err := c.waitRateLimit(ctx, label); err != nil {
			return nil, fmt.Errorf("mimecast %s: waiting for rate limit: %w", label, err)
		}
		res, f := c.attempt(ctx, cl, label, attempt)
		if f == nil {
			return res, nil
		}
		if f.unauthorized {
			if reauthed || !cl.authorize {
				ae := f.err.(*APIError)
				ae.Retryable = false
				if reauthed {
					ae.Message += " (after re-authentication)"
				}
				return nil, ae
			}
			reauthed = true
			c.auth.Invalidate(f.req)
			c.metrics.Retries.WithLabelValues(label, "unauthorized").Inc()
			c.log.Debug("mimecast call unauthorized; re-authenticating once", "path", label)
			attempt-- // the single re-authentication does not use up an attempt
			continue
		}
		if !f.retry {
			return nil, f.err
		}
		if attempt >= c.cfg.MaxRetries {
			c.log.Warn("mimecast call failed; giving up", "path", label, "attempts", attempt, "error", f.err.Error())
			return nil, fmt.Errorf("mimecast %s: giving up after %d attempts: %w", label, attempt, f.err)
		}
		wait := f.wait
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		c.metrics.Retries.WithLabelValues(label, f.reason).Inc()
		c.log.Debug("mimecast call failed; retrying", "path", label, "attempt", attempt, "reason", f.reason, "wait", max(wait, 0).String(), "error", f.err.Error())
		if wait > 0 {
			if err := c.sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("mimecast %s: %w (while retrying after: %v)", label, err, f.err)
			}
		}
	}
}

// backoff returns the wait after the given failed attempt: full jitter over an exponentially growing cap,
// never below MinBackoff nor above MaxBackoff.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.cfg.MinBackoff
	for i := 1; i < attempt && ceiling < c.cfg.MaxBackoff; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, c.cfg.MaxBackoff)
	d := time.Duration(c.randN(int64(ceiling) + 1))
	return max(d, c.cfg.MinBackoff)
}

// attempt sends cl once.
func (c *Client) attempt(ctx context.Context, cl call, label string, n int) (*result, *attemptFailure) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	keepCtx := false
	defer func() {
		if !keepCtx {
			cancel()
		}
	}()

	target := cl.rawURL
	if target == "" {
		target = c.cfg.BaseURL + cl.path
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, target, body)
	if err != nil {
		return nil, &attemptFailure{err: fmt.Errorf("mimecast %s: build request: %w", label, err)}
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	accept := cl.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if cl.body != nil {
		ct := cl.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if cl.authorize {
		if err := c.auth.Authorize(ctx, req); err != nil {
			return nil, &attemptFailure{err: err}
		}
	}

	start := c.now()
	resp, err := c.http.Do(req)
	c.metrics.Duration.WithLabelValues(label).Observe(c.now().Sub(start).Seconds())
	if err != nil {
		c.metrics.Requests.WithLabelValues(label, "error").Inc()
		return nil, c.transportFailure(ctx, actx, label, err)
	}
	c.metrics.Requests.WithLabelValues(label, strconv.Itoa(resp.StatusCode)).Inc()
	c.limits.observe(label, resp.StatusCode, parseRateLimit(resp.Header), c.now())

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if cl.stream {
			keepCtx = true
			return &result{status: resp.StatusCode, header: resp.Header, stream: &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}}, nil
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, c.transportFailure(ctx, actx, label, fmt.Errorf("read body: %w", err))
		}
		return &result{status: resp.StatusCode, header: resp.Header, body: data}, nil
	}

	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	ae := statusError(label, resp.StatusCode, data)
	ae.Message = c.redact(ae.Message)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, &attemptFailure{err: ae, unauthorized: true, req: req}
	case resp.StatusCode == http.StatusTooManyRequests:
		// The next attempt waits in the limiter: until the reported reset, or, when the API gave no reset
		// time, for an exponential backoff that holds every other call to this path as well.
		if rl := parseRateLimit(resp.Header); rl.Reset < 0 {
			c.limits.block(label, c.now().Add(c.backoff(n)))
		}
		return nil, &attemptFailure{err: ae, retry: true, reason: "429", wait: -1}
	case ae.Retryable:
		return nil, &attemptFailure{err: ae, retry: true, reason: strconv.Itoa(resp.StatusCode)}
	default:
		return nil, &attemptFailure{err: ae}
	}
}

// transportFailure classifies an error that produced no HTTP status.
func (c *Client) transportFailure(ctx, actx context.Context, label string, err error) *attemptFailure {
	if ctx.Err() != nil {
		return &attemptFailure{err: fmt.Errorf("mimecast %s: %w", label, ctx.Err())}
	}
	reason := "network"
	if actx.Err() != nil {
		reason = "timeout"
		err = fmt.Errorf("no response within %s: %w", c.cfg.Timeout, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// Drop the query: pre-signed file URLs carry their signature there.
		err = fmt.Errorf("%s %s: %w", ue.Op, stripQuery(ue.URL), ue.Err)
	}
	return &attemptFailure{
		err:    &APIError{Path: label, Message: c.redact(err.Error()), Retryable: true},
		retry:  true,
		reason: reason,
	}
}

// stripQuery returns raw without its query string and fragment.
func stripQuery(raw string) string {
	raw, _, _ = strings.Cut(raw, "#")
	raw, _, _ = strings.Cut(raw, "?")
	return raw
}

// redact removes the client secret and the current token from s.
func (c *Client) redact(s string) string {
	if c.cfg.ClientSecret != "" {
		s = strings.ReplaceAll(s, c.cfg.ClientSecret, "[redacted]")
	}
	if c.oauth != nil {
		if tok := c.oauth.current(); tok != "" {
			s = strings.ReplaceAll(s, tok, "[redacted]")
		}
	}
	return s
}

// cancelOnClose releases the attempt's context when the streamed body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

// Close closes the body and releases its context.
func (r *cancelOnClose) Close() error {
	err := r.ReadCloser.Close()
	r.cancel()
	return err
}

// Do calls an API function. path is relative to the base URL and may include a query string
// ("/siem/v1/batch/events/cg?type=receipt"). body is sent as JSON unless it is nil, []byte or
// json.RawMessage (sent as is). out receives the response: nil discards it, *[]byte gets the raw bytes,
// anything else is JSON-decoded. A 2xx response whose body reports a failure (fail[] or error) is an *APIError.
func (c *Client) Do(ctx context.Context, method, path string, body any, out any) error {
	raw, _, err := c.DoHeader(ctx, method, path, body)
	if err != nil {
		return err
	}
	switch o := out.(type) {
	case nil:
	case *[]byte:
		*o = raw
	default:
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("mimecast %s: decode response: %w", call{method: method, path: path}.label(), err)
		}
	}
	return nil
}

// DoHeader is Do returning the raw response body and headers, for functions that carry data in headers (the
// threat-intel feed's next token, the SIEM file name).
func (c *Client) DoHeader(ctx context.Context, method, path string, body any) ([]byte, http.Header, error) {
	cl := call{method: method, path: path, authorize: true}
	switch b := body.(type) {
	case nil:
	case []byte:
		cl.body = b
	case json.RawMessage:
		cl.body = b
	default:
		data, err := json.Marshal(body)
		if err != nil {
			return nil, nil, fmt.Errorf("mimecast %s: encode request: %w", cl.label(), err)
		}
		cl.body = data
	}
	res, err := c.exec(ctx, cl)
	if err != nil {
		return nil, nil, err
	}
	if err := c.checkBody(cl.label(), res); err != nil {
		return nil, res.header, err
	}
	return res.body, res.header, nil
}

// checkBody turns a 2xx body that reports a failure into an *APIError.
func (c *Client) checkBody(label string, res *result) error {
	f, ok := parseFailure(res.body)
	if !ok {
		return nil
	}
	msg := c.redact(f.Message)
	if msg == "" {
		msg = "the response reports a failure"
	}
	return &APIError{Path: label, Status: res.status, Code: f.Code, Message: msg, Retryable: f.Retryable}
}

// PostFile calls a function that answers with a file (API 1.0 get-siem-logs): the request body is JSON, and the
// response headers and unread body are returned; the caller closes the body. Retries, rate limits and
// authorization work as for Do.
func (c *Client) PostFile(ctx context.Context, path string, body any) (http.Header, io.ReadCloser, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, nil, fmt.Errorf("mimecast %s: encode request: %w", path, err)
	}
	cl := call{method: http.MethodPost, path: path, body: data, accept: "*/*", authorize: true, stream: true}
	res, err := c.exec(ctx, cl)
	if err != nil {
		return nil, nil, err
	}
	if mt, _, _ := mime.ParseMediaType(res.header.Get("Content-Type")); mt != "application/json" {
		return res.header, res.stream, nil
	}
	// A JSON answer is no file: an end marker, or a failure reported with HTTP 200.
	defer res.stream.Close()
	raw, err := io.ReadAll(io.LimitReader(res.stream, maxJSONAnswer))
	if err != nil {
		return nil, nil, fmt.Errorf("mimecast %s: read response: %w", cl.label(), err)
	}
	if err := c.checkBody(cl.label(), &result{status: res.status, header: res.header, body: raw}); err != nil {
		return res.header, nil, err
	}
	return res.header, io.NopCloser(bytes.NewReader(raw)), nil
}

// maxJSONAnswer caps a JSON answer of a file function read into memory.
const maxJSONAnswer = 1 << 20

// GetFile downloads a pre-signed file URL (SIEM batch files) and returns its body as a stream. It never sends
// the Mimecast credentials. Transient failures are retried; an expired URL (403/404) is a permanent *APIError.
// The caller must close the stream; Config.Timeout bounds the whole download.
func (c *Client) GetFile(ctx context.Context, fileURL string) (io.ReadCloser, error) {
	u, err := url.Parse(fileURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("mimecast file: url must be an absolute http(s) url")
	}
	res, err := c.exec(ctx, call{method: http.MethodGet, rawURL: fileURL, accept: "*/*", stream: true})
	if err != nil {
		return nil, err
	}
	return res.stream, nil
}
