package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/castwatch/castwatch/internal/geoip"
	"github.com/castwatch/castwatch/internal/ingest"
	"github.com/castwatch/castwatch/internal/syslog"
	"github.com/castwatch/castwatch/internal/version"
	"github.com/castwatch/castwatch/internal/web"
)

// Serve runs castwatch until ctx ends: the store consumer, a collection pass at start and every sync interval
// (with up to 10% jitter; "sync now" requests start one at once), and the web UI on addr. ready, when set, is
// called with the UI's base URL once the listener is open.
func (a *App) Serve(ctx context.Context, addr string, ready func(baseURL string)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	stopConsumer, err := a.consumer.Start(ctx, a.bus, ingest.DefaultDurable)
	if err != nil {
		return fmt.Errorf("store consumer: %w", err)
	}
	defer stopConsumer()

	trigger := make(chan struct{}, 1)
	kicks := a.newKicks()
	handler, err := web.New(web.Options{
		Store: a.store, Auth: a.Auth(), Logger: a.log, Gatherer: a.registry, Registerer: a.registry, Version: version.Version,
		Now: a.now,
		Sync: func(context.Context) error {
			select {
			case trigger <- struct{}{}:
			default: // a pass is already requested
			}
			return nil
		},
		SyncStream: func(_ context.Context, tenant, stream string) error {
			return a.kickStream(kicks, tenant, stream)
		},
		TestCredentials: a.TestCredentials,
		Rules:           web.RuleCatalogue(a.engine.Rules()),
		GeoLookup:       a.enrich.CountryOf,
		CountryInfo:     geoip.CountryInfo,
		Attribution:     a.enrich.Attribution(),
	})
	if err != nil {
		return err
	}
	ln, scheme, err := a.webListener(addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	a.log.Info("web UI listening", "url", scheme+"://"+ln.Addr().String())
	if ready != nil {
		ready(scheme + "://" + ln.Addr().String())
	}

	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		a.schedule(ctx, trigger, kicks)
	}()
	go a.enrich.lists.Run(ctx)
	go a.analyticsLoop(ctx)
	syslogDone := make(chan error, 1)
	if a.cfg.Syslog.Enabled() {
		l, err := a.newSyslog()
		if err != nil {
			cancel()
			<-schedDone
			_ = srv.Shutdown(context.Background())
			return err
		}
		go func() { syslogDone <- l.Run(ctx) }()
	}

	select {
	case <-ctx.Done():
	case err = <-srvErr:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		cancel()
	case err = <-syslogDone:
		if err != nil {
			err = fmt.Errorf("syslog listener: %w", err)
		}
		cancel()
	}
	shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = srv.Shutdown(shutCtx)
	<-schedDone
	return err
}

// unavailableRetry is how often serve tries a stream again whose product or permission was missing.
const unavailableRetry = 6 * time.Hour

// schedule runs every connector on its own interval: at start, then every interval with up to 10% jitter, or at
// once when a sync is requested. Each stream runs in its own loop, so a slow or failing stream never delays another,
// and a stream never runs twice at once.
// kicks[i] starts collector i's next run at once (see newKicks).
func (a *App) schedule(ctx context.Context, trigger <-chan struct{}, kicks []chan struct{}) {
	var wg sync.WaitGroup
	for i, c := range a.collectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.loop(ctx, c, kicks[i])
		}()
	}
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-trigger:
			for _, k := range kicks {
				kick(k)
			}
		}
	}
}

// newKicks returns one "run now" channel per collector, in the order of a.collectors.
func (a *App) newKicks() []chan struct{} {
	kicks := make([]chan struct{}, len(a.collectors))
	for i := range kicks {
		kicks[i] = make(chan struct{}, 1)
	}
	return kicks
}

// kick requests a run without waiting; a run already requested is not requested twice.
func kick(k chan<- struct{}) {
	select {
	case k <- struct{}{}:
	default:
	}
}

// kickStream requests a run of one tenant's stream (the web UI's per-stream "Sync now").
func (a *App) kickStream(kicks []chan struct{}, tenant, stream string) error {
	for i, c := range a.collectors {
		if c.Tenant() == tenant && c.Stream() == stream {
			kick(kicks[i])
			return nil
		}
	}
	return fmt.Errorf("%w: tenant %q has no stream %q", web.ErrUnknownConnector, tenant, stream)
}

func (a *App) loop(ctx context.Context, c *connector, kick <-chan struct{}) {
	for {
		st, err := c.Run(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && c.unavailable():
			a.log.Warn("stream unavailable for this tenant; other streams continue", "tenant", c.Tenant(),
				"stream", c.Stream(), "err", err)
		case err != nil:
			a.log.Error("collection failed", "tenant", c.Tenant(), "stream", c.Stream(), "err", err)
		default:
			a.log.Info("collected", "tenant", c.Tenant(), "stream", c.Stream(), "pages", st.Pages, "rows", st.Rows)
			if st.Rows > 0 && slices.Contains(behaviourStreams, c.Stream()) {
				a.kickAnalytics()
			}
		}
		wait := c.interval
		if c.unavailable() {
			wait = unavailableRetry
		}
		wait += time.Duration(rand.Int64N(int64(wait)/10 + 1))
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-kick:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// newSyslog builds the syslog listener from the config; what it receives is stored like `castwatch ingest`.
func (a *App) newSyslog() (*syslog.Listener, error) {
	sc := a.cfg.Syslog
	return syslog.New(syslog.Config{
		UDP: sc.UDP, TCP: sc.TCP, TLS: sc.TLS, CertFile: sc.CertFile, KeyFile: sc.KeyFile,
		MaxMessageBytes: sc.MaxMessageBytes, Tenant: sc.Tenant,
	}, a.newRawWriter(sc.Tenant), syslog.WithLogger(a.log), syslog.WithClock(a.now), syslog.WithRegisterer(a.registry))
}
