// Package store defines what castwatch needs from a store. Implementations live in store/duckdb (embedded,
// the default) and, later, store/postgres; only those packages import a database driver.
package store

import (
	"context"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// Quarantined is one input that could not be stored, kept aside with the reason instead of being dropped.
type Quarantined struct {
	Tenant string
	// Source names where it came from: "<stream>" for API pages, a file path for raw files.
	Source string
	// Position is the page token and record index, or a line number.
	Position string
	Reason   string
	Raw      string
	Time     time.Time
}

// AlertFilter narrows Alerts.
type AlertFilter struct {
	Tenant string
	RuleID string
	Since  time.Time
	Limit  int
}

// Result is the answer to a read-only query.
type Result struct {
	Columns []string
	Rows    [][]any
}

// Connector is the saved status of one tenant's stream, as serve and sync last saw it.
type Connector struct {
	Tenant      string        `json:"tenant"`
	Stream      string        `json:"stream"`
	State       string        `json:"state"`
	LastRun     time.Time     `json:"last_run,omitzero"`
	LastSuccess time.Time     `json:"last_success,omitzero"`
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt time.Time     `json:"last_error_at,omitzero"`
	Rows        int64         `json:"rows"`
	Pages       int64         `json:"pages"`
	Interval    time.Duration `json:"interval"`
	Updated     time.Time     `json:"updated"`
}

// Store is the storage castwatch writes collected data, quarantined input and alerts to.
type Store interface {
	// WriteRows inserts rows into t, ignoring rows whose natural key is already stored. It returns how many rows
	// were new. The write is atomic: all rows or none.
	WriteRows(ctx context.Context, t *schema.Table, rows []schema.Row) (inserted int, err error)
	// Quarantine stores inputs that were rejected, with their reasons.
	Quarantine(ctx context.Context, q []Quarantined) error
	// ScanRows calls fn for every row of t whose event time is in [from, to), in event-time order.
	ScanRows(ctx context.Context, t *schema.Table, from, to time.Time, fn func(schema.Row) error) error
	// UpsertAlerts stores alerts by id; an alert already stored keeps its status and gains any new event ids.
	// It returns how many alerts were new.
	UpsertAlerts(ctx context.Context, alerts []schema.Alert) (inserted int, err error)
	// SetAlertStatus sets the status of the alerts with the given ids (unknown ids are ignored) and returns how many
	// alerts it changed.
	SetAlertStatus(ctx context.Context, ids []string, status string) (int, error)
	// Alerts lists alerts, newest first.
	Alerts(ctx context.Context, f AlertFilter) ([]schema.Alert, error)
	// SaveConnector stores a connector's status; Rows and Pages are added to the stored totals.
	SaveConnector(ctx context.Context, c Connector) error
	// Connectors lists the saved connector statuses by tenant and stream.
	Connectors(ctx context.Context) ([]Connector, error)
	// Query runs one read-only SQL statement.
	Query(ctx context.Context, sql string, args ...any) (*Result, error)
	// Close releases the store.
	Close() error
}
