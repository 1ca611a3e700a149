package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/castwatch/castwatch/internal/auth"
)

// Auth returns the access-control service over the store (users, sessions, API tokens). Each call has its own
// login rate limits, so a server uses one.
func (a *App) Auth() *auth.Service {
	return auth.NewService(a.store, auth.Options{Now: a.now})
}

// EnsureAdmin creates the first admin ("admin") when the store has no users, with http.admin_password
// (CASTWATCH_ADMIN_PASSWORD) or, without one, a generated password that it returns: the caller shows it once.
func (a *App) EnsureAdmin(ctx context.Context) (created bool, generated string, err error) {
	created, generated, err = a.Auth().EnsureAdmin(ctx, a.cfg.HTTP.AdminPassword.Reveal())
	if err != nil {
		return false, "", fmt.Errorf("first admin: %w", err)
	}
	if created {
		a.log.Info("created the first admin user", "user", auth.AdminUser, "password_generated", generated != "")
	}
	return created, generated, nil
}

// webListener listens on addr, with TLS when http.tls_cert_file and http.tls_key_file are set; it returns the
// listener and the URL scheme.
func (a *App) webListener(addr string) (net.Listener, string, error) {
	var tlsCfg *tls.Config
	if a.cfg.HTTP.TLS() {
		cert, err := tls.LoadX509KeyPair(a.cfg.HTTP.TLSCertFile, a.cfg.HTTP.TLSKeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("web TLS certificate: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	if tlsCfg == nil {
		return ln, "http", nil
	}
	return tls.NewListener(ln, tlsCfg), "https", nil
}
