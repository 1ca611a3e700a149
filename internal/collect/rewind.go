package collect

import (
	"context"
	"fmt"
	"time"
)

// Rewind makes the next run collect again from since: the checkpoint is set as if the last completed window
// ended there. An open window is abandoned (its pages already published stay stored). Records collected before
// are fetched again and ignored by the store's natural keys, so a backfill never doubles anything. A since later
// than the checkpoint does nothing: rewinding never skips data.
func (c *Collector) Rewind(ctx context.Context, since time.Time) error {
	cp, found, err := LoadCheckpoint(ctx, c.cfg.Checkpoints, c.cfg.Tenant, c.spec.Name)
	if err != nil {
		return fmt.Errorf("rewind %s/%s: %w", c.cfg.Tenant, c.spec.Name, err)
	}
	since = since.UTC()
	if found && !cp.Open && !since.Before(cp.WindowEnd) {
		return nil
	}
	if found && cp.Open && !since.Before(cp.WindowStart) {
		return nil
	}
	next := Checkpoint{WindowStart: since, WindowEnd: since}
	if err := c.save(ctx, &next); err != nil {
		return fmt.Errorf("rewind %s/%s: %w", c.cfg.Tenant, c.spec.Name, err)
	}
	c.log.Info("rewound for a backfill", "since", since)
	return nil
}
