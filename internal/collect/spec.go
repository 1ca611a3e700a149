package collect

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/schema"
)

// Window defaults.
const (
	DefaultLookback  = 7 * 24 * time.Hour
	DefaultMinWindow = 15 * time.Minute
	DefaultMaxWindow = 24 * time.Hour
	DefaultPageSize  = 500
)

// Spec describes one windowed log stream: which function to call, how to filter it by time and where the records
// sit in a page. DLP and TTP streams reuse the engine with their own Spec.
type Spec struct {
	// Name is the stream name used in subjects, checkpoints and metrics, e.g. "audit".
	Name string
	// Table is the schema table name the records decode into, e.g. "Audit_CL".
	Table string
	// Path is the API function, e.g. "/api/audit/get-audit-events".
	Path string
	// PageSize is the requested page size. Default 500.
	PageSize int
	// Filter builds the request's filter object for the window [start, end].
	Filter func(start, end time.Time) any
	// Records extracts the records from a page.
	Records func(mimecast.Page) ([]json.RawMessage, error)
	// Lookback is how far back the first run starts. Default 7 days.
	Lookback time.Duration
	// MinWindow is the shortest window worth asking for; a run with less time than this since the last window's
	// end fetches nothing. Default 15 minutes.
	MinWindow time.Duration
	// MaxWindow caps a window's length, so a long history is paged as several windows, each with its own
	// checkpoint and page tokens. Default 24 hours; negative means no cap.
	MaxWindow time.Duration
}

func (s Spec) withDefaults() Spec {
	if s.PageSize <= 0 {
		s.PageSize = DefaultPageSize
	}
	if s.Lookback <= 0 {
		s.Lookback = DefaultLookback
	}
	if s.MinWindow <= 0 {
		s.MinWindow = DefaultMinWindow
	}
	if s.MaxWindow == 0 {
		s.MaxWindow = DefaultMaxWindow
	}
	return s
}

// Validate reports a spec the engine cannot run.
func (s Spec) Validate() error {
	switch {
	case s.Name == "":
		return errors.New("stream spec: name is required")
	case s.Table == "":
		return fmt.Errorf("stream spec %s: table is required", s.Name)
	case schema.TableByName(s.Table) == nil:
		return fmt.Errorf("stream spec %s: unknown table %q", s.Name, s.Table)
	case s.Path == "":
		return fmt.Errorf("stream spec %s: path is required", s.Name)
	case s.Filter == nil:
		return fmt.Errorf("stream spec %s: filter builder is required", s.Name)
	case s.Records == nil:
		return fmt.Errorf("stream spec %s: records extractor is required", s.Name)
	}
	return nil
}

// auditFilter is the get-audit-events filter. The API treats both bounds as inclusive.
type auditFilter struct {
	StartDateTime string `json:"startDateTime"`
	EndDateTime   string `json:"endDateTime"`
}

// AuditSpec is the Audit_CL stream: POST /api/audit/get-audit-events, records flat in data[], 500 per page.
func AuditSpec() Spec {
	return Spec{
		Name:     "audit",
		Table:    schema.Audit.Name,
		Path:     "/api/audit/get-audit-events",
		PageSize: DefaultPageSize,
		Filter: func(start, end time.Time) any {
			return auditFilter{StartDateTime: schema.FormatAPITime(start), EndDateTime: schema.FormatAPITime(end)}
		},
		Records:   FlatRecords,
		Lookback:  DefaultLookback,
		MinWindow: DefaultMinWindow,
		MaxWindow: DefaultMaxWindow,
	}
}

// FlatRecords returns a page's data[] as the records (audit, awareness safe-score).
func FlatRecords(p mimecast.Page) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(p.Data))
	for _, r := range p.Data {
		if len(r) > 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// WrappedRecords returns an extractor for functions that wrap their records in data[0].<list>[] (TTP, DLP).
func WrappedRecords(list string) func(mimecast.Page) ([]json.RawMessage, error) {
	return func(p mimecast.Page) ([]json.RawMessage, error) {
		var out []json.RawMessage
		for i, d := range p.Data {
			var wrapper map[string]json.RawMessage
			if err := json.Unmarshal(d, &wrapper); err != nil {
				return nil, fmt.Errorf("data[%d]: not an object: %w", i, err)
			}
			raw, ok := wrapper[list]
			if !ok || string(raw) == "null" {
				continue
			}
			var recs []json.RawMessage
			if err := json.Unmarshal(raw, &recs); err != nil {
				return nil, fmt.Errorf("data[%d].%s: not an array: %w", i, list, err)
			}
			out = append(out, recs...)
		}
		return out, nil
	}
}
