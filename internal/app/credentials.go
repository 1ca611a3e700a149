package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/web"
)

// credentialsTimeout bounds one credentials test (one token request, no retries).
const credentialsTimeout = 20 * time.Second

// credentialsProbePath is the request that makes a fresh client fetch its token; tokenOnlyTransport answers it
// locally, so it never reaches the API.
const credentialsProbePath = "/castwatch/credentials-test"

// TestCredentials checks a tenant's API 2.0 credentials by requesting an OAuth2 token with them, the way the
// tenant's collectors do (mimecast.Client: client-credentials grant, 400/401/403 reported as
// mimecast.ErrInvalidCredentials with the API's message). The client is a fresh one, so a token cached by the
// collectors does not hide a changed secret, and it makes one attempt only. Nothing but the token request is
// sent: the call that triggers it is answered in-process. An unknown tenant is an error wrapping
// web.ErrUnknownConnector.
func (a *App) TestCredentials(ctx context.Context, tenant string) error {
	t, ok := a.tenantConfig(tenant)
	if !ok {
		return fmt.Errorf("%w: no tenant %q is configured", web.ErrUnknownConnector, tenant)
	}
	if t.ClientID == "" || t.ClientSecret.Reveal() == "" {
		return fmt.Errorf("tenant %s has no API 2.0 client id and secret to test", tenant)
	}
	client, err := mimecast.New(mimecast.Config{
		BaseURL: t.BaseURL, ClientID: t.ClientID, ClientSecret: t.ClientSecret.Reveal(),
		MaxRetries: 1, Timeout: credentialsTimeout,
	}, mimecast.WithLogger(a.log.With("tenant", t.Name)), mimecast.WithClock(a.now),
		mimecast.WithHTTPClient(&http.Client{Transport: tokenOnlyTransport{next: http.DefaultTransport}}))
	if err != nil {
		return fmt.Errorf("tenant %s: %w", tenant, err)
	}
	ctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
	defer cancel()
	if err := client.Do(ctx, http.MethodPost, credentialsProbePath, nil, nil); err != nil {
		return fmt.Errorf("tenant %s: %w", tenant, err)
	}
	return nil
}

// tenantConfig returns the configured tenant with the given name.
func (a *App) tenantConfig(name string) (config.Tenant, bool) {
	for _, t := range a.cfg.Tenants {
		if t.Name == name {
			return t, true
		}
	}
	return config.Tenant{}, false
}

// tokenOnlyTransport sends the OAuth2 token request on and answers every other request itself with an empty
// success, so a credentials test reaches the token endpoint only.
type tokenOnlyTransport struct {
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t tokenOnlyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, mimecast.TokenPath) {
		return t.next.RoundTrip(r)
	}
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(strings.NewReader(`{"meta":{"status":200},"data":[],"fail":[]}`)),
		Request: r,
	}, nil
}
