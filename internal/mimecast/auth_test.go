package mimecast

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const auditPath = "/api/audit/get-audit-events"

func TestTokenCachedAcrossCalls(t *testing.T) {
	e := newEnv(t, map[string]http.HandlerFunc{auditPath: jsonHandler(200, okPage)})
	ctx := context.Background()
	for i := range 5 {
		if _, err := e.client.FetchPage(ctx, PageRequest{Path: auditPath, PageSize: 10}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := e.rec.count(TokenPath); got != 1 {
		t.Errorf("token calls = %d, want 1", got)
	}
	tok := e.rec.byPath(TokenPath)[0]
	if ct := tok.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("token Content-Type = %q", ct)
	}
	for _, r := range e.rec.byPath(auditPath) {
		if got := r.Header.Get("Authorization"); got != "Bearer tok-1" {
			t.Errorf("Authorization = %q, want Bearer tok-1", got)
		}
		if r.Header.Get("Accept") != "application/json" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers Accept=%q Content-Type=%q", r.Header.Get("Accept"), r.Header.Get("Content-Type"))
		}
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	// expires_in is 1799 s and the margin 60 s, so the token is replaced from 1739 s on.
	tests := []struct {
		name       string
		advance    time.Duration
		wantTokens int
		wantBearer string
	}{
		{name: "still fresh", advance: 1738 * time.Second, wantTokens: 1, wantBearer: "Bearer tok-1"},
		{name: "inside the margin", advance: 1739 * time.Second, wantTokens: 2, wantBearer: "Bearer tok-2"},
		{name: "long expired", advance: 2 * time.Hour, wantTokens: 2, wantBearer: "Bearer tok-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, map[string]http.HandlerFunc{
				TokenPath: tokenHandler("tok-1", "tok-2"),
				auditPath: jsonHandler(200, okPage),
			})
			ctx := context.Background()
			if _, err := e.client.FetchPage(ctx, PageRequest{Path: auditPath}); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(tt.advance)
			if _, err := e.client.FetchPage(ctx, PageRequest{Path: auditPath}); err != nil {
				t.Fatal(err)
			}
			if got := e.rec.count(TokenPath); got != tt.wantTokens {
				t.Errorf("token calls = %d, want %d", got, tt.wantTokens)
			}
			data := e.rec.byPath(auditPath)
			if got := data[len(data)-1].Header.Get("Authorization"); got != tt.wantBearer {
				t.Errorf("last Authorization = %q, want %q", got, tt.wantBearer)
			}
		})
	}
}

func TestUnauthorizedReauthenticatesOnce(t *testing.T) {
	expired := jsonHandler(401, `{"fail":[{"code":"token_expired","message":"Access Token Expired"}]}`)
	e := newEnv(t, map[string]http.HandlerFunc{
		TokenPath: tokenHandler("tok-1", "tok-2"),
		auditPath: func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer tok-2" {
				expired(w, r)
				return
			}
			jsonHandler(200, okPage)(w, r)
		},
	})
	page, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath})
	if err != nil {
		t.Fatalf("FetchPage: %v", err)
	}
	if len(page.Data) != 1 {
		t.Errorf("records = %d, want 1", len(page.Data))
	}
	if got := e.rec.count(TokenPath); got != 2 {
		t.Errorf("token calls = %d, want 2", got)
	}
	if got := e.rec.count(auditPath); got != 2 {
		t.Errorf("data calls = %d, want 2", got)
	}
	if got := counterValue(t, e.reg, "castwatch_mimecast_retries_total", map[string]string{"path": auditPath, "reason": "unauthorized"}); got != 1 {
		t.Errorf("unauthorized retries metric = %v, want 1", got)
	}
}

func TestUnauthorizedTwiceIsPermanent(t *testing.T) {
	e := newEnv(t, map[string]http.HandlerFunc{
		TokenPath: tokenHandler("tok-1", "tok-2", "tok-3"),
		auditPath: jsonHandler(401, `{"fail":[{"code":"unauthorized","message":"Unauthorized Request"}]}`),
	})
	_, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath})
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	if ae.Status != 401 || ae.Code != "unauthorized" || ae.Retryable || !IsPermanent(err) {
		t.Errorf("APIError = %+v, want permanent 401 unauthorized", ae)
	}
	if got := e.rec.count(auditPath); got != 2 {
		t.Errorf("data calls = %d, want 2 (one re-authenticated repeat)", got)
	}
	if got := e.rec.count(TokenPath); got != 2 {
		t.Errorf("token calls = %d, want 2", got)
	}
}

func TestBadCredentials(t *testing.T) {
	tests := []struct {
		name      string
		tokenBody string
		status    int
		wantCode  string
	}{
		{name: "invalid client identifier", status: 401, tokenBody: `{"fail":[{"code":"InvalidClientIdentifier","message":"Client credentials are invalid"}]}`, wantCode: "InvalidClientIdentifier"},
		{name: "server echoes the secret", status: 401, tokenBody: `{"fail":[{"code":"InvalidClientIdentifier","message":"bad secret ` + testSecret + `"}]}`, wantCode: "InvalidClientIdentifier"},
		{name: "oauth error shape", status: 400, tokenBody: `{"error":"invalid_client","error_description":"unknown client"}`, wantCode: "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, map[string]http.HandlerFunc{
				TokenPath: jsonHandler(tt.status, tt.tokenBody),
				auditPath: jsonHandler(200, okPage),
			})
			_, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath})
			if !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("err = %v, want ErrInvalidCredentials", err)
			}
			if !IsPermanent(err) {
				t.Errorf("IsPermanent = false for %v", err)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != tt.wantCode || ae.Path != TokenPath {
				t.Errorf("APIError = %+v, want code %q on %s", ae, tt.wantCode, TokenPath)
			}
			if !strings.Contains(err.Error(), "client id and client secret") {
				t.Errorf("error %q does not tell the operator what to fix", err)
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(e.logs.String(), testSecret) {
				t.Errorf("secret leaked: err=%q logs=%q", err, e.logs.String())
			}
			if got := e.rec.count(TokenPath); got != 1 {
				t.Errorf("token calls = %d, want 1 (no retry)", got)
			}
			if got := e.rec.count(auditPath); got != 0 {
				t.Errorf("data calls = %d, want 0", got)
			}
		})
	}
}

func TestTokenEndpointTransientErrorRetried(t *testing.T) {
	e := newEnv(t, map[string]http.HandlerFunc{
		TokenPath: sequence(jsonHandler(503, `{"fail":[{"code":"unavailable","message":"try later"}]}`), tokenHandler("tok-1")),
		auditPath: jsonHandler(200, okPage),
	})
	if _, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath}); err != nil {
		t.Fatalf("FetchPage: %v", err)
	}
	if got := e.rec.count(TokenPath); got != 2 {
		t.Errorf("token calls = %d, want 2", got)
	}
}

func TestTokenNeverLogged(t *testing.T) {
	e := newEnv(t, map[string]http.HandlerFunc{
		TokenPath: tokenHandler("very-secret-token-value"),
		auditPath: sequence(
			jsonHandler(401, `{"fail":[{"code":"token_expired","message":"Access Token Expired"}]}`),
			jsonHandler(500, `{"fail":[{"code":"internal-error","message":"token very-secret-token-value broke"}]}`),
			jsonHandler(200, okPage)),
	})
	if _, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath}); err != nil {
		t.Fatalf("FetchPage: %v", err)
	}
	if logs := e.logs.String(); strings.Contains(logs, "very-secret-token-value") || strings.Contains(logs, testSecret) {
		t.Errorf("credentials in logs: %s", logs)
	}
	if !strings.Contains(e.logs.String(), "[redacted]") {
		t.Errorf("expected the echoed token to be redacted in logs: %s", e.logs.String())
	}
}

func TestConcurrentCallsShareOneTokenFetch(t *testing.T) {
	e := newEnv(t, map[string]http.HandlerFunc{auditPath: jsonHandler(200, okPage)})
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.client.FetchPage(context.Background(), PageRequest{Path: auditPath})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := e.rec.count(TokenPath); got != 1 {
		t.Errorf("token calls = %d, want 1", got)
	}
	if got := e.rec.count(auditPath); got != n {
		t.Errorf("data calls = %d, want %d", got, n)
	}
}
