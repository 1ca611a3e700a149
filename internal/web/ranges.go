package web

import (
	"fmt"
	"time"
)

// DefaultRange is the time range a page or API call uses when none is given, as in the Sentinel workbooks.
const DefaultRange = "14d"

// rangeOption is one selectable time range.
type rangeOption struct {
	Name     string
	Label    string
	Duration time.Duration
}

const day = 24 * time.Hour

// ranges are the Sentinel workbook time ranges, shortest first.
var ranges = []rangeOption{
	{"5m", "Last 5 minutes", 5 * time.Minute},
	{"15m", "Last 15 minutes", 15 * time.Minute},
	{"30m", "Last 30 minutes", 30 * time.Minute},
	{"1h", "Last hour", time.Hour},
	{"4h", "Last 4 hours", 4 * time.Hour},
	{"12h", "Last 12 hours", 12 * time.Hour},
	{"1d", "Last 24 hours", day},
	{"2d", "Last 2 days", 2 * day},
	{"3d", "Last 3 days", 3 * day},
	{"7d", "Last 7 days", 7 * day},
	{"14d", "Last 14 days", 14 * day},
	{"28d", "Last 28 days", 28 * day},
	{"30d", "Last 30 days", 30 * day},
	{"60d", "Last 60 days", 60 * day},
	{"90d", "Last 90 days", 90 * day},
}

// window is a resolved time range: events with From <= time < To.
type window struct {
	Range rangeOption
	From  time.Time
	To    time.Time
}

// resolveRange turns a range name ("" means DefaultRange) into a window ending at now.
func resolveRange(name string, now time.Time) (window, error) {
	if name == "" {
		name = DefaultRange
	}
	for _, r := range ranges {
		if r.Name == name {
			to := now.UTC()
			return window{Range: r, From: to.Add(-r.Duration), To: to}, nil
		}
	}
	return window{}, fmt.Errorf("unknown range %q: use one of 5m, 15m, 30m, 1h, 4h, 12h, 1d, 2d, 3d, 7d, 14d, 28d, 30d, 60d, 90d", name)
}

// hourBuckets returns the start of every UTC hour that overlaps the window, oldest first.
func (w window) hourBuckets() []time.Time {
	var out []time.Time
	for t := w.From.Truncate(time.Hour); t.Before(w.To); t = t.Add(time.Hour) {
		out = append(out, t)
	}
	return out
}
