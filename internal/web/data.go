package web

import (
	"context"
	"fmt"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// topLimit is how many rows the top-users and top-IPs tables show.
const topLimit = 10

// alertLimit is how many alerts the overview page and the alerts API return by default.
const alertLimit = 100

// chartSeries is the failed-logons chart: one count per UTC hour of the window, zero-filled.
type chartSeries struct {
	Range   string      `json:"range"`
	Bucket  string      `json:"bucket"`
	From    time.Time   `json:"from"`
	To      time.Time   `json:"to"`
	Buckets []time.Time `json:"buckets"`
	Counts  []int64     `json:"counts"`
	Total   int64       `json:"total"`
}

// summary are the headline numbers of the overview page.
type summary struct {
	Events       int64
	Failures     int64
	FailingUsers int64
	Alerts       int
}

// userRow is one row of the top failing users table.
type userRow struct {
	User     string
	Failures int64
	LastSeen time.Time
}

// ipRow is one row of the top source IPs table.
type ipRow struct {
	IP       string
	Failures int64
	Users    int64
	LastSeen time.Time
}

func (s *server) run(ctx context.Context, q query, want ...string) (*store.Result, columns, error) {
	res, err := s.store.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, nil, fmt.Errorf("query: %w", err)
	}
	if res == nil {
		res = &store.Result{}
	}
	if len(res.Rows) == 0 && len(res.Columns) == 0 {
		return res, columns{}, nil
	}
	c, err := columnsOf(res, want...)
	if err != nil {
		return nil, nil, err
	}
	return res, c, nil
}

func (s *server) failedLogonSeries(ctx context.Context, win window, tenant string) (chartSeries, error) {
	buckets := win.hourBuckets()
	out := chartSeries{
		Range:   win.Range.Name,
		Bucket:  "1h",
		From:    win.From,
		To:      win.To,
		Buckets: buckets,
		Counts:  make([]int64, len(buckets)),
	}
	res, c, err := s.run(ctx, failedLogonsHourly(win, tenant), "bucket", "failures")
	if err != nil {
		return chartSeries{}, fmt.Errorf("failed logons per hour: %w", err)
	}
	index := make(map[time.Time]int, len(buckets))
	for i, b := range buckets {
		index[b] = i
	}
	for _, row := range res.Rows {
		t, err := asTime(c.value(row, "bucket"))
		if err != nil {
			return chartSeries{}, fmt.Errorf("failed logons per hour: bucket: %w", err)
		}
		n, err := asInt(c.value(row, "failures"))
		if err != nil {
			return chartSeries{}, fmt.Errorf("failed logons per hour: failures: %w", err)
		}
		// Re-truncate in UTC so a store session in another time zone still lands on the UTC hour.
		i, ok := index[t.Truncate(time.Hour)]
		if !ok {
			continue
		}
		out.Counts[i] += n
		out.Total += n
	}
	return out, nil
}

func (s *server) topUsers(ctx context.Context, win window, tenant string) ([]userRow, error) {
	res, c, err := s.run(ctx, topFailingUsers(win, tenant, topLimit), "user_name", "failures", "last_seen")
	if err != nil {
		return nil, fmt.Errorf("top failing users: %w", err)
	}
	out := make([]userRow, 0, len(res.Rows))
	for _, row := range res.Rows {
		n, err := asInt(c.value(row, "failures"))
		if err != nil {
			return nil, fmt.Errorf("top failing users: failures: %w", err)
		}
		last, err := asTime(c.value(row, "last_seen"))
		if err != nil {
			return nil, fmt.Errorf("top failing users: last_seen: %w", err)
		}
		out = append(out, userRow{User: asString(c.value(row, "user_name")), Failures: n, LastSeen: last})
	}
	return out, nil
}

func (s *server) topIPs(ctx context.Context, win window, tenant string) ([]ipRow, error) {
	res, c, err := s.run(ctx, topFailingIPs(win, tenant, topLimit), "ip", "failures", "users", "last_seen")
	if err != nil {
		return nil, fmt.Errorf("top failing source IPs: %w", err)
	}
	out := make([]ipRow, 0, len(res.Rows))
	for _, row := range res.Rows {
		n, err := asInt(c.value(row, "failures"))
		if err != nil {
			return nil, fmt.Errorf("top failing source IPs: failures: %w", err)
		}
		users, err := asInt(c.value(row, "users"))
		if err != nil {
			return nil, fmt.Errorf("top failing source IPs: users: %w", err)
		}
		last, err := asTime(c.value(row, "last_seen"))
		if err != nil {
			return nil, fmt.Errorf("top failing source IPs: last_seen: %w", err)
		}
		out = append(out, ipRow{IP: asString(c.value(row, "ip")), Failures: n, Users: users, LastSeen: last})
	}
	return out, nil
}

func (s *server) summary(ctx context.Context, win window, tenant string) (summary, error) {
	res, c, err := s.run(ctx, auditSummary(win, tenant), "events", "failures", "failing_users")
	if err != nil {
		return summary{}, fmt.Errorf("audit summary: %w", err)
	}
	var out summary
	if len(res.Rows) == 0 {
		return out, nil
	}
	row := res.Rows[0]
	if out.Events, err = asInt(c.value(row, "events")); err != nil {
		return summary{}, fmt.Errorf("audit summary: events: %w", err)
	}
	if out.Failures, err = asInt(c.value(row, "failures")); err != nil {
		return summary{}, fmt.Errorf("audit summary: failures: %w", err)
	}
	if out.FailingUsers, err = asInt(c.value(row, "failing_users")); err != nil {
		return summary{}, fmt.Errorf("audit summary: failing users: %w", err)
	}
	return out, nil
}

func (s *server) alerts(ctx context.Context, win window, tenant, ruleID string, limit int) ([]schema.Alert, error) {
	alerts, err := s.store.Alerts(ctx, store.AlertFilter{Tenant: tenant, RuleID: ruleID, Since: win.From, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	if alerts == nil {
		alerts = []schema.Alert{}
	}
	return alerts, nil
}
