package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/castwatch/castwatch/internal/detect"
	"github.com/castwatch/castwatch/internal/normalize"
	"github.com/castwatch/castwatch/internal/schema"
)

// ReplayStats sums a replay.
type ReplayStats struct {
	Days   int
	Events int
	Alerts int
	New    int
}

// Replay evaluates the stored history from since to now through a fresh detection engine with the current rules,
// one UTC day at a time with every table's events merged in time order, and stores the alerts. Alert ids are
// deterministic, so alerts found before are updated, not doubled; a changed or new rule adds its alerts.
// progress, when set, is called after each day.
func (a *App) Replay(ctx context.Context, since time.Time, progress func(day time.Time, st ReplayStats)) (ReplayStats, error) {
	var st ReplayStats
	rules, err := loadRules(a.cfg)
	if err != nil {
		return st, err
	}
	eng := detect.New(rules, detect.Options{Clock: a.now, Logger: a.log, Lateness: time.Duration(a.cfg.Detect.Lateness)})
	end := a.now().UTC()
	for day := since.UTC().Truncate(24 * time.Hour); day.Before(end); day = day.Add(24 * time.Hour) {
		events, err := a.storedEvents(ctx, day, day.Add(24*time.Hour))
		if err != nil {
			return st, err
		}
		res, err := eng.Evaluate(ctx, events)
		if err != nil {
			return st, fmt.Errorf("replay %s: %w", day.Format(time.DateOnly), err)
		}
		if len(res.Alerts) > 0 {
			n, err := a.store.UpsertAlerts(ctx, res.Alerts)
			if err != nil {
				return st, fmt.Errorf("replay %s: store alerts: %w", day.Format(time.DateOnly), err)
			}
			st.New += n
		}
		if len(res.Superseded) > 0 {
			if _, err := a.store.SetAlertStatus(ctx, res.Superseded, "superseded"); err != nil {
				return st, err
			}
		}
		st.Days++
		st.Events += len(events)
		st.Alerts += len(res.Alerts)
		if progress != nil {
			progress(day, st)
		}
	}
	return st, nil
}

// storedEvents normalizes every stored row with an event time in [from, to), all tables merged in time order.
func (a *App) storedEvents(ctx context.Context, from, to time.Time) ([]schema.Event, error) {
	var events []schema.Event
	for _, m := range normalize.Mappings() {
		t := schema.TableByName(m.Table)
		if t == nil {
			continue
		}
		err := a.store.ScanRows(ctx, t, from, to, func(r schema.Row) error {
			evs, err := m.Map(r)
			if err != nil {
				a.log.Warn("stored row not normalized", "table", t.Name, "err", err)
				return nil
			}
			events = append(events, evs...)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", t.Name, err)
		}
	}
	slices.SortStableFunc(events, func(x, y schema.Event) int { return x.Time.Compare(y.Time) })
	return events, nil
}
