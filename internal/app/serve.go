package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/castwatch/castwatch/internal/ingest"
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
	handler, err := web.New(web.Options{
		Store: a.store, Logger: a.log, Gatherer: a.registry, Registerer: a.registry, Version: version.Version,
		Now: a.now,
		Sync: func(context.Context) error {
			select {
			case trigger <- struct{}{}:
			default: // a pass is already requested
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	a.log.Info("web UI listening", "url", "http://"+ln.Addr().String())
	if ready != nil {
		ready("http://" + ln.Addr().String())
	}

	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		a.schedule(ctx, trigger)
	}()

	select {
	case <-ctx.Done():
	case err = <-srvErr:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		cancel()
	}
	shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = srv.Shutdown(shutCtx)
	<-schedDone
	return err
}

// schedule runs a collection pass at start, then every interval, or at once when triggered. Passes never overlap.
func (a *App) schedule(ctx context.Context, trigger <-chan struct{}) {
	interval := time.Duration(a.cfg.Sync.Interval)
	for {
		a.collectOnce(ctx)
		wait := interval + time.Duration(rand.Int64N(int64(interval)/10+1))
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-trigger:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// collectOnce runs every collector once; the running store consumer stores what they publish.
func (a *App) collectOnce(ctx context.Context) {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	for _, c := range a.collectors {
		if ctx.Err() != nil {
			return
		}
		st, err := c.Run(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Error("collection failed", "tenant", c.Tenant(), "stream", c.Stream(), "err", err)
			}
			continue
		}
		a.log.Info("collected", "tenant", c.Tenant(), "stream", c.Stream(), "pages", st.Pages, "rows", st.Rows)
	}
}
