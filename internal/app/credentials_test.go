package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/web"
)

// credentialsApp is an App with only what TestCredentials reads: tenants "good" and "wrong" against the
// simulator (the second with a wrong secret) and "down", whose API is not listening.
func credentialsApp(t *testing.T, simURL, downURL string) *App {
	t.Helper()
	tenant := func(name, base, secret string) config.Tenant {
		return config.Tenant{Name: name, BaseURL: base, ClientID: simID, ClientSecret: config.NewSecret(secret)}
	}
	cfg := config.Default()
	cfg.Tenants = []config.Tenant{
		tenant("good", simURL, simSecret), tenant("wrong", simURL, "not-the-secret"), tenant("down", downURL, simSecret),
	}
	return &App{cfg: cfg, log: slog.New(slog.DiscardHandler), now: time.Now}
}

func TestTestCredentials(t *testing.T) {
	s := simTenant(t, "", time.Now().UTC())
	api := httptest.NewServer(s.Handler())
	defer api.Close()
	down := httptest.NewServer(nil)
	downURL := down.URL
	down.Close()
	a := credentialsApp(t, api.URL, downURL)
	ctx := context.Background()

	before := s.Stats()
	if err := a.TestCredentials(ctx, "good"); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	after := s.Stats()
	if after.TokensIssued != before.TokensIssued+1 || after.Calls != before.Calls+1 {
		t.Errorf("the test sent %d requests and got %d tokens, want exactly one token request",
			after.Calls-before.Calls, after.TokensIssued-before.TokensIssued)
	}

	err := a.TestCredentials(ctx, "wrong")
	if !errors.Is(err, mimecast.ErrInvalidCredentials) || !strings.Contains(err.Error(), "check the client id and client secret") ||
		!strings.HasPrefix(err.Error(), "tenant wrong: ") {
		t.Errorf("wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("the error shows the secret: %v", err)
	}
	if got := s.Stats().BadCredentials; got != 1 {
		t.Errorf("simulator refused %d token requests, want 1 (no retry)", got)
	}

	start := time.Now()
	if err := a.TestCredentials(ctx, "down"); err == nil || errors.Is(err, mimecast.ErrInvalidCredentials) {
		t.Errorf("unreachable API: %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("unreachable API took %s (retried?)", el)
	}

	if err := a.TestCredentials(ctx, "nobody"); !errors.Is(err, web.ErrUnknownConnector) {
		t.Errorf("unknown tenant: %v", err)
	}
}
