package sim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTokenEndpoint(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 1})
	c := newRawClient(t, s, srv)
	tests := []struct {
		name       string
		id, secret string
		grant      string
		wantStatus int
		wantCode   string
	}{
		{"valid credentials", s.Options().ClientID, s.Options().ClientSecret, "client_credentials", http.StatusOK, ""},
		{"wrong secret", s.Options().ClientID, "nope", "client_credentials", http.StatusUnauthorized, "InvalidClientIdentifier"},
		{"unknown client", "someone", s.Options().ClientSecret, "client_credentials", http.StatusUnauthorized, "InvalidClientIdentifier"},
		{"empty credentials", "", "", "client_credentials", http.StatusUnauthorized, "InvalidClientIdentifier"},
		{"wrong grant type", s.Options().ClientID, s.Options().ClientSecret, "password", http.StatusBadRequest, "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := c.tokenResponse(tt.id, tt.secret, tt.grant)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%v)", status, tt.wantStatus, body)
			}
			if tt.wantCode == "" {
				if tok, _ := body["access_token"].(string); tok == "" {
					t.Errorf("no access_token in %v", body)
				}
				if body["token_type"] != "Bearer" || body["expires_in"] != float64(1799) || body["scope"] != "" {
					t.Errorf("token body = %v, want Bearer/1799/\"\"", body)
				}
				return
			}
			fails, _ := body["fail"].([]any)
			if len(fails) != 1 {
				t.Fatalf("fail = %v, want one item", body["fail"])
			}
			f := fails[0].(map[string]any)
			if f["code"] != tt.wantCode {
				t.Errorf("code = %v, want %s", f["code"], tt.wantCode)
			}
			if tt.wantCode == "InvalidClientIdentifier" && f["message"] != "Client credentials are invalid" {
				t.Errorf("message = %v", f["message"])
			}
		})
	}
	if got := s.Stats(); got.TokensIssued != 1 || got.BadCredentials != 3 {
		t.Errorf("stats = %+v, want 1 token issued and 3 bad credentials", got)
	}
}

func TestTokenEndpointRejectsGet(t *testing.T) {
	_, srv := newTestSim(t, Options{Seed: 1})
	resp, err := http.Get(srv.URL + "/oauth/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /oauth/token = %d, want 405", resp.StatusCode)
	}
}

func TestBearerRequired(t *testing.T) {
	clock := newFakeClock(testNow)
	s, srv := newTestSim(t, Options{Seed: 1, Now: clock.Now, TokenTTL: time.Minute})
	body := auditBody("2026-03-10T00:00:00+0000", "2026-03-10T12:00:00+0000", 10, "")

	c := newRawClient(t, s, srv)
	c.login()
	good := c.token
	tests := []struct {
		name     string
		token    string
		advance  time.Duration
		want     int
		wantCode string
	}{
		{"valid token", good, 0, http.StatusOK, ""},
		{"missing token", "", 0, http.StatusUnauthorized, "unauthorized"},
		{"unknown token", "forged-token", 0, http.StatusUnauthorized, "unauthorized"},
		{"token still valid just before expiry", good, 59 * time.Second, http.StatusOK, ""},
		{"expired token", good, 2 * time.Second, http.StatusUnauthorized, "token_expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			c.token = tt.token
			status, _, resp := c.post("/api/audit/get-audit-events", body)
			if status != tt.want {
				t.Fatalf("status = %d, want %d", status, tt.want)
			}
			if got := resp.failCode(); got != tt.wantCode {
				t.Errorf("fail code = %q, want %q", got, tt.wantCode)
			}
			if tt.wantCode == "token_expired" && resp.Fail[0].Message != "Access Token Expired" {
				t.Errorf("message = %q", resp.Fail[0].Message)
			}
		})
	}
	// A fresh token works again after expiry.
	c.login()
	if status, _, _ := c.post("/api/audit/get-audit-events", body); status != http.StatusOK {
		t.Errorf("after re-auth status = %d", status)
	}
	if st := s.Stats(); st.Unauthorized != 2 || st.TokenExpired != 1 {
		t.Errorf("stats = %+v, want 2 unauthorized, 1 expired", st)
	}
}

func TestUnknownRoute(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 1})
	c := newRawClient(t, s, srv)
	c.login()
	status, _, resp := c.post("/api/nope", "{}")
	if status != http.StatusNotFound || !strings.Contains(resp.failCode(), "not_found") {
		t.Errorf("status %d code %q, want 404 not_found", status, resp.failCode())
	}
}
