// Package normalize turns stored rows into normalized events (schema.Event): one mapping per table, listed in
// one place (mappings). The rules of every mapping are described in README.md.
package normalize

import (
	"fmt"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// Func maps one stored row of a table to zero or more normalized events.
type Func = func(schema.Row) ([]schema.Event, error)

// Mapping ties a stored table to its mapping function.
type Mapping struct {
	// Table is the stored table name, e.g. "Audit_CL".
	Table string
	// Map normalizes one row of Table.
	Map Func
}

// Mappings returns every table mapping, in a stable order. Adding a table's mapping means adding it here.
func Mappings() []Mapping {
	return []Mapping{
		{Table: schema.Audit.Name, Map: auditRows},
		{Table: schema.SegCg.Name, Map: segCgRows},
		{Table: schema.SegDlp.Name, Map: segDlpRows},
		{Table: schema.CloudIntegrated.Name, Map: cloudIntegratedRows},
		{Table: schema.TtpURL.Name, Map: ttpURLRows},
		{Table: schema.TtpAttachment.Name, Map: ttpAttachmentRows},
		{Table: schema.TtpImpersonation.Name, Map: ttpImpersonationRows},
		{Table: schema.AwarenessPerformance.Name, Map: noEvents(&schema.AwarenessPerformance)},
		{Table: schema.AwarenessSafeScore.Name, Map: noEvents(&schema.AwarenessSafeScore)},
		{Table: schema.AwarenessWatchlist.Name, Map: noEvents(&schema.AwarenessWatchlist)},
		{Table: schema.AwarenessUserData.Name, Map: noEvents(&schema.AwarenessUserData)},
		{Table: schema.MessageRelease.Name, Map: messageReleaseRows},
		{Table: schema.ArchiveSearch.Name, Map: archiveSearchRows},
		{Table: schema.ThreatIntel.Name, Map: noEvents(&schema.ThreatIntel)},
		{Table: schema.RawEvent.Name, Map: rawEventRows},
	}
}

// For returns the mapping for a stored table, and false when the table has none.
func For(table string) (func(schema.Row) ([]schema.Event, error), bool) {
	for _, m := range Mappings() {
		if m.Table == table {
			return m.Map, true
		}
	}
	return nil, false
}

// RowError reports a row that does not have the shape of its table.
type RowError struct {
	Table  string
	Reason string
}

func (e *RowError) Error() string { return fmt.Sprintf("normalize %s: %s", e.Table, e.Reason) }

// rowReader reads named columns of a row, checking their Go types.
type rowReader struct {
	table *schema.Table
	row   schema.Row
	err   error
}

func newRowReader(t *schema.Table, row schema.Row) *rowReader {
	r := &rowReader{table: t, row: row}
	if len(row) != len(t.Columns) {
		r.err = &RowError{Table: t.Name, Reason: fmt.Sprintf("row has %d values, table has %d columns", len(row), len(t.Columns))}
	}
	return r
}

func (r *rowReader) value(col string) any {
	if r.err != nil {
		return nil
	}
	i := r.table.ColumnIndex(col)
	if i < 0 {
		r.err = &RowError{Table: r.table.Name, Reason: fmt.Sprintf("no column %s", col)}
		return nil
	}
	return r.row[i]
}

// str reads a string column; NULL reads as "".
func (r *rowReader) str(col string) string {
	switch v := r.value(col).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		if r.err == nil {
			r.err = &RowError{Table: r.table.Name, Reason: fmt.Sprintf("column %s is %T, want string", col, v)}
		}
		return ""
	}
}

// time reads a datetime column; NULL reads as the zero time.
func (r *rowReader) time(col string) time.Time {
	switch v := r.value(col).(type) {
	case nil:
		return time.Time{}
	case time.Time:
		return v.UTC()
	default:
		if r.err == nil {
			r.err = &RowError{Table: r.table.Name, Reason: fmt.Sprintf("column %s is %T, want time.Time", col, v)}
		}
		return time.Time{}
	}
}
