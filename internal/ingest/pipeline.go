package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/castwatch/castwatch/internal/collect"
)

// Runner is one collector run. *collect.Collector satisfies it.
type Runner interface {
	Run(ctx context.Context) (collect.Stats, error)
}

// DefaultMaxConsecutiveFailures is how many failed deliveries in a row make a Pipeline give up waiting.
const DefaultMaxConsecutiveFailures = 5

// Pipeline runs one collection pass end to end, as `castwatch sync --once` does: it starts the store consumer,
// runs every collector until caught up, waits until the consumer has stored everything published, and stops.
type Pipeline struct {
	// Source is the bus.
	Source Source
	// Consumer is the store consumer the pipeline starts and stops.
	Consumer *Consumer
	// Durable is the consumer name; default DefaultDurable.
	Durable string
	// Collectors are run one after the other.
	Collectors []Runner
	// Logger receives a summary line; nil discards it.
	Logger *slog.Logger
	// MaxConsecutiveFailures ends the wait for the consumer when this many deliveries in a row failed (the store
	// is refusing writes). The batches stay on the bus for the next run. Default 5.
	MaxConsecutiveFailures int
}

// PipelineStats summarises a pipeline run.
type PipelineStats struct {
	// Collect sums the collectors' stats.
	Collect collect.Stats
	// Pages and Fetched are the pages and records the collectors fetched.
	Pages   int
	Fetched int
	// New counts rows the store did not hold before; Quarantined the records set aside.
	New         int
	Quarantined int
	// Stored is the consumer's activity during the run.
	Stored Stats
}

// Run runs the pipeline. Every collector runs even if another fails; their errors are joined. Whatever was
// published is drained into the store before Run returns, unless ctx ends or the store keeps failing.
func (p *Pipeline) Run(ctx context.Context) (PipelineStats, error) {
	var ps PipelineStats
	if p.Source == nil || p.Consumer == nil {
		return ps, errors.New("pipeline: source and consumer are required")
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	durable := p.Durable
	if durable == "" {
		durable = DefaultDurable
	}
	maxFail := p.MaxConsecutiveFailures
	if maxFail <= 0 {
		maxFail = DefaultMaxConsecutiveFailures
	}
	before := p.Consumer.Stats()
	stop, err := p.Consumer.Start(ctx, p.Source, durable)
	if err != nil {
		return ps, fmt.Errorf("pipeline: %w", err)
	}
	defer stop()

	var errs []error
	for _, r := range p.Collectors {
		st, err := r.Run(ctx)
		ps.Collect = ps.Collect.Add(st)
		if err != nil {
			errs = append(errs, err)
		}
	}
	ps.Pages, ps.Fetched = ps.Collect.Pages, ps.Collect.Rows

	if err := p.drain(ctx, durable, maxFail); err != nil {
		errs = append(errs, err)
	}
	stop()
	ps.Stored = p.Consumer.Stats().Sub(before)
	ps.New, ps.Quarantined = ps.Stored.New, ps.Stored.Quarantined
	log.Info("sync pass done", "pages", ps.Pages, "fetched", ps.Fetched, "new", ps.New,
		"quarantined", ps.Quarantined, "errors", len(errs))
	return ps, errors.Join(errs...)
}

// drain waits for the consumer to store everything, giving up when the consumer keeps failing.
func (p *Pipeline) drain(ctx context.Context, durable string, maxFail int) error {
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchDone := make(chan struct{})
	defer close(watchDone)
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-watchDone:
				return
			case <-dctx.Done():
				return
			case <-t.C:
				if n, lastErr := p.Consumer.failing(); n >= maxFail {
					cancel(fmt.Errorf("store consumer failed %d times in a row, batches stay on the bus for the next run: %w", n, lastErr))
					return
				}
			}
		}
	}()
	if err := p.Source.WaitDrained(dctx, durable); err != nil {
		if cause := context.Cause(dctx); cause != nil && !errors.Is(cause, context.Canceled) && ctx.Err() == nil {
			return fmt.Errorf("pipeline: %w", cause)
		}
		return fmt.Errorf("pipeline: %w", err)
	}
	return nil
}
