package web

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// recordedQuery is one Store.Query call the fake saw.
type recordedQuery struct {
	Kind string
	SQL  string
	Args []any
}

// fakeStore answers Query by the kind of statement (see queryKind) and Alerts from a fixed list.
type fakeStore struct {
	mu           sync.Mutex
	results      map[string]*store.Result
	alertList    []schema.Alert
	queryErr     error
	alertsErr    error
	queries      []recordedQuery
	alertFilters []store.AlertFilter
	connectors   []store.Connector
}

// queryKind names a statement from queries.go by the column aliases it selects.
func queryKind(sql string) string {
	switch {
	case strings.Contains(sql, "AS bucket"):
		return "hourly"
	case strings.Contains(sql, "AS events"):
		return "summary"
	case strings.Contains(sql, "AS ip,"):
		return "ips"
	case strings.Contains(sql, "AS user_name, count(*)"):
		return "users"
	default:
		return "unknown"
	}
}

func (f *fakeStore) Query(_ context.Context, sql string, args ...any) (*store.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kind := queryKind(sql)
	f.queries = append(f.queries, recordedQuery{Kind: kind, SQL: sql, Args: args})
	if f.queryErr != nil {
		return nil, f.queryErr
	}
	if r, ok := f.results[kind]; ok {
		return r, nil
	}
	return &store.Result{}, nil
}

func (f *fakeStore) Alerts(_ context.Context, flt store.AlertFilter) ([]schema.Alert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alertFilters = append(f.alertFilters, flt)
	if f.alertsErr != nil {
		return nil, f.alertsErr
	}
	return f.alertList, nil
}

func (f *fakeStore) recorded() []recordedQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedQuery(nil), f.queries...)
}

func (f *fakeStore) filters() []store.AlertFilter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.AlertFilter(nil), f.alertFilters...)
}

var errNotUsed = errors.New("not used by the web package")

func (f *fakeStore) WriteRows(context.Context, *schema.Table, []schema.Row) (int, error) {
	return 0, errNotUsed
}

func (f *fakeStore) Quarantine(context.Context, []store.Quarantined) error { return errNotUsed }

func (f *fakeStore) ScanRows(context.Context, *schema.Table, time.Time, time.Time, func(schema.Row) error) error {
	return errNotUsed
}

func (f *fakeStore) UpsertAlerts(context.Context, []schema.Alert) (int, error) { return 0, errNotUsed }
func (f *fakeStore) SetAlertStatus(context.Context, []string, string) (int, error) {
	return 0, errNotUsed
}

func (f *fakeStore) Close() error { return nil }

func (f *fakeStore) SaveConnector(context.Context, store.Connector) error { return errNotUsed }

func (f *fakeStore) Connectors(context.Context) ([]store.Connector, error) { return f.connectors, nil }

func (f *fakeStore) SaveIncidents(context.Context, []store.Incident) (int, error) {
	return 0, errNotUsed
}

func (f *fakeStore) Incidents(context.Context, store.IncidentFilter) ([]store.Incident, error) {
	return nil, errNotUsed
}

func (f *fakeStore) Incident(context.Context, string) (store.Incident, error) {
	return store.Incident{}, errNotUsed
}

func (f *fakeStore) UpdateIncident(context.Context, string, store.IncidentUpdate) (store.Incident, error) {
	return store.Incident{}, errNotUsed
}

func (f *fakeStore) AddComment(context.Context, string, store.IncidentComment) error {
	return errNotUsed
}
