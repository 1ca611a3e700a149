// Package store defines what castwatch needs from a store. Implementations live in store/duckdb (embedded,
// the default) and, later, store/postgres; only those packages import a database driver.
package store

import (
	"context"
	"errors"
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

// AlertFilter narrows Alerts. Empty fields do not filter.
type AlertFilter struct {
	Tenant string
	RuleID string
	// Since keeps alerts created at or after it.
	Since time.Time
	// From and To keep alerts whose time (last event, else creation) is in [From, To).
	From, To time.Time
	// IDs keeps the alerts with these ids (nil: no filter; empty non-nil: none).
	IDs      []string
	Severity string
	// Statuses keeps alerts with any of these statuses.
	Statuses []string
	// Text keeps alerts whose title, rule id or an entity value contains it, ignoring case.
	Text string
	// Technique keeps alerts naming this ATT&CK technique (T1566 also matches its sub-techniques T1566.001…).
	Technique string
	// Sort orders the list (AlertSortCreated when empty).
	Sort string
	// Offset skips that many alerts of the sorted list.
	Offset int
	Limit  int
	// WithEvents loads each alert's matched-event snapshot (schema.Alert.Events); lists leave it empty.
	WithEvents bool
}

// Alert list orders (AlertFilter.Sort); ties are broken by id.
const (
	// AlertSortCreated is newest created first (the default).
	AlertSortCreated = "created"
	// AlertSortTime is latest alert time (last event, else creation) first.
	AlertSortTime = "time"
	// AlertSortSeverity is highest severity first, then latest alert time.
	AlertSortSeverity = "severity"
	// AlertSortRule is by rule id, then latest alert time.
	AlertSortRule = "rule"
)

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

// Incident states (Sentinel's New, Active, Closed).
const (
	IncidentNew    = "new"
	IncidentActive = "active"
	IncidentClosed = "closed"
)

// ClassificationUndetermined is the classification an incident closed without one gets (Sentinel's Undetermined).
const ClassificationUndetermined = "undetermined"

// Errors of incident changes; callers test them with errors.Is.
var (
	// ErrIncidentNotFound reports an incident id the store does not hold.
	ErrIncidentNotFound = errors.New("incident not found")
	// ErrInvalidIncidentState reports a state other than new, active or closed, or a classification on an incident
	// that is not closed.
	ErrInvalidIncidentState = errors.New("invalid incident state")
	// ErrEmptyComment reports a comment without text.
	ErrEmptyComment = errors.New("comment text is empty")
)

// Incident is a stored group of alerts (see detect.Group) with its triage state.
type Incident struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	RuleID string `json:"rule_id"`
	Title  string `json:"title"`
	// Severity is the highest severity of the incident's alerts.
	Severity       string          `json:"severity"`
	State          string          `json:"state"`
	Owner          string          `json:"owner"`
	Classification string          `json:"classification"`
	Tactics        []string        `json:"tactics"`
	Techniques     []string        `json:"techniques"`
	Entities       []schema.Entity `json:"entities"`
	AlertIDs       []string        `json:"alert_ids"`
	// FirstAlert and LastAlert are the first event times of the earliest and the latest alert.
	FirstAlert time.Time `json:"first_alert"`
	LastAlert  time.Time `json:"last_alert"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	// Closed is when the incident was last closed; zero while it is open.
	Closed time.Time `json:"closed,omitzero"`
	// Comments are filled by Incident (one incident), oldest first; lists leave them empty.
	Comments []IncidentComment `json:"comments,omitempty"`
}

// IncidentComment is an analyst's note on an incident.
type IncidentComment struct {
	Author string    `json:"author"`
	Text   string    `json:"text"`
	Time   time.Time `json:"time"`
}

// IncidentFilter narrows Incidents. Empty fields do not filter.
type IncidentFilter struct {
	Tenant string
	State  string
	// OpenOnly keeps incidents that are new or active.
	OpenOnly bool
	// Since keeps incidents whose last alert is at or after it.
	Since time.Time
	// AlertIDs keeps incidents holding any of these alerts (nil: no filter; empty non-nil: none).
	AlertIDs []string
	// Until keeps incidents whose first alert is before it.
	Until    time.Time
	Severity string
	// Owner keeps incidents with this owner; NoOwner keeps unassigned ones.
	Owner string
	// Sort orders the list (IncidentSortLast when empty).
	Sort string
	// Offset skips that many incidents of the sorted list.
	Offset int
	Limit  int
}

// NoOwner is the IncidentFilter.Owner value that keeps incidents without an owner.
const NoOwner = "-"

// Incident list orders (IncidentFilter.Sort); ties are broken by id.
const (
	// IncidentSortLast is latest last alert first (the default).
	IncidentSortLast = "last"
	// IncidentSortSeverity is highest severity first, then latest last alert.
	IncidentSortSeverity = "severity"
	// IncidentSortCreated is newest created first.
	IncidentSortCreated = "created"
)

// IncidentUpdate is a change to an incident's triage fields; empty fields are left as they are.
type IncidentUpdate struct {
	State          string `json:"state,omitempty"`
	Owner          string `json:"owner,omitempty"`
	Classification string `json:"classification,omitempty"`
}

// RiskFilter narrows the behaviour analytics' risk sessions. Empty fields do not filter.
type RiskFilter struct {
	Tenant      string
	User        string
	NotableOnly bool
	// Since keeps sessions that ended at or after it.
	Since time.Time
	Limit int
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
	// SaveIncidents stores incidents by id: a new incident is inserted; one already stored keeps its state, owner,
	// classification and comments and gains the alert ids, entities, tactics and techniques it lacked, its alert
	// times widen and its severity rises to the highest seen. It returns how many incidents were new.
	SaveIncidents(ctx context.Context, incs []Incident) (inserted int, err error)
	// Incidents lists incidents without comments, latest last alert first.
	Incidents(ctx context.Context, f IncidentFilter) ([]Incident, error)
	// Incident returns one incident with its comments, or an error wrapping ErrIncidentNotFound.
	Incident(ctx context.Context, id string) (Incident, error)
	// UpdateIncident changes an incident's state, owner or classification and returns it as stored.
	UpdateIncident(ctx context.Context, id string, u IncidentUpdate) (Incident, error)
	// AddComment appends a comment to an incident.
	AddComment(ctx context.Context, id string, c IncidentComment) error
	// SaveConnector stores a connector's status; Rows and Pages are added to the stored totals.
	SaveConnector(ctx context.Context, c Connector) error
	// Connectors lists the saved connector statuses by tenant and stream.
	Connectors(ctx context.Context) ([]Connector, error)
	// Query runs one read-only SQL statement.
	Query(ctx context.Context, sql string, args ...any) (*Result, error)
	// Close releases the store.
	Close() error
}
