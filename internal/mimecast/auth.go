package mimecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TokenPath is the API 2.0 OAuth2 token endpoint, relative to the base URL.
const TokenPath = "/oauth/token"

// defaultTokenLifetime applies when the token response carries no usable expires_in (documented lifetime: 30 min).
const defaultTokenLifetime = 30 * time.Minute

// ErrInvalidCredentials marks a permanent failure to authenticate: the API rejected the client id or secret
// (or, for API 1.0, the signing keys). Retrying will not help; the operator must fix the configuration.
var ErrInvalidCredentials = errors.New("mimecast credentials rejected")

// Authorizer adds credentials to outgoing API requests. API 2.0 uses OAuth2 bearer tokens (the default);
// API 1.0 uses HMAC-signed headers (HMACSigner). Implementations must be safe for concurrent use.
type Authorizer interface {
	// Authorize sets the credential headers on req, fetching or refreshing credentials first when needed.
	// req.URL.Path is final when Authorize is called.
	Authorize(ctx context.Context, req *http.Request) error
	// Invalidate reports that the API answered req with HTTP 401, so the credentials req carried must not be
	// reused by the next Authorize.
	Invalidate(req *http.Request)
}

// tokenResponse is the body of a successful POST /oauth/token.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// oauth2 is the API 2.0 client-credentials Authorizer. It caches the token and fetches a new one margin
// before it expires; concurrent callers share one fetch.
type oauth2 struct {
	c      *Client
	id     string
	secret string
	margin time.Duration

	// lock serialises token fetches while letting waiting callers give up when their ctx ends.
	lock chan struct{}

	mu     sync.Mutex
	token  string
	expiry time.Time
}

func newOAuth2(c *Client, id, secret string, margin time.Duration) *oauth2 {
	return &oauth2{c: c, id: id, secret: secret, margin: margin, lock: make(chan struct{}, 1)}
}

// cached returns the cached token when it is still fresh.
func (o *oauth2) cached() (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token == "" || !o.c.now().Before(o.expiry) {
		return "", false
	}
	return o.token, true
}

// current returns the cached token, fresh or not (used only to redact it from messages).
func (o *oauth2) current() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.token
}

// Authorize implements Authorizer.
func (o *oauth2) Authorize(ctx context.Context, req *http.Request) error {
	tok, err := o.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Invalidate implements Authorizer: it drops the cached token if req carried it.
func (o *oauth2) Invalidate(req *http.Request) {
	used := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	o.mu.Lock()
	defer o.mu.Unlock()
	if used == o.token {
		o.token = ""
		o.expiry = time.Time{}
	}
}

// Token returns a valid access token, fetching a new one when none is cached or the cached one is about to
// expire.
func (o *oauth2) Token(ctx context.Context) (string, error) {
	if tok, ok := o.cached(); ok {
		return tok, nil
	}
	select {
	case o.lock <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("mimecast token: %w", ctx.Err())
	}
	defer func() { <-o.lock }()
	// Another caller may have fetched a token while this one waited.
	if tok, ok := o.cached(); ok {
		return tok, nil
	}
	tok, lifetime, err := o.fetch(ctx)
	if err != nil {
		return "", err
	}
	refreshIn := lifetime - o.margin
	if refreshIn <= 0 {
		refreshIn = lifetime / 2
	}
	o.mu.Lock()
	o.token = tok
	o.expiry = o.c.now().Add(refreshIn)
	o.mu.Unlock()
	o.c.log.Debug("mimecast token fetched", "expires_in", lifetime.String())
	return tok, nil
}

// fetch performs the client-credentials grant.
func (o *oauth2) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{}
	form.Set("client_id", o.id)
	form.Set("client_secret", o.secret)
	form.Set("grant_type", "client_credentials")
	res, err := o.c.exec(ctx, call{
		method:      http.MethodPost,
		path:        TokenPath,
		body:        []byte(form.Encode()),
		contentType: "application/x-www-form-urlencoded",
	})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && !ae.Retryable && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) {
			return "", 0, fmt.Errorf("%w (check the client id and client secret): %w", ErrInvalidCredentials, err)
		}
		return "", 0, fmt.Errorf("fetch mimecast token: %w", err)
	}
	var tr tokenResponse
	if err := json.Unmarshal(res.body, &tr); err != nil {
		return "", 0, &APIError{Path: TokenPath, Status: res.status, Message: "token response is not JSON"}
	}
	if tr.AccessToken == "" {
		return "", 0, &APIError{Path: TokenPath, Status: res.status, Message: "token response has no access_token"}
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return "", 0, &APIError{Path: TokenPath, Status: res.status, Message: fmt.Sprintf("unsupported token type %q", tr.TokenType)}
	}
	return tr.AccessToken, parseExpiresIn(tr.ExpiresIn), nil
}

// parseExpiresIn reads expires_in as a number or numeric string of seconds.
func parseExpiresIn(raw json.RawMessage) time.Duration {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return defaultTokenLifetime
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return defaultTokenLifetime
	}
	return time.Duration(f * float64(time.Second))
}
