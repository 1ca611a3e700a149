// Package schema describes the stored tables (the Sentinel 3.1.0 custom-log tables plus a tenant column)
// and the normalized event model that detection and dashboards read.
package schema

import (
	"encoding/json"
	"fmt"
	"time"
)

// ColumnType is a logical column type; each store maps it to its own SQL type.
type ColumnType string

// Column types used by the Sentinel tables. Sentinel's "real" is Double, "dynamic" is JSON.
const (
	String   ColumnType = "string"
	DateTime ColumnType = "datetime"
	Real     ColumnType = "real"
	Bool     ColumnType = "bool"
	Dynamic  ColumnType = "dynamic"
)

// Column is one column of a stored table.
type Column struct {
	Name string
	Type ColumnType
}

// Row is one stored row, values in the order of Table.Columns. Values are string, time.Time, float64, bool,
// json.RawMessage (dynamic) or nil.
type Row []any

// Table describes one stored table: its name, columns, natural key and how an API record becomes a row.
type Table struct {
	// Name is the table name as Sentinel spells it, e.g. "Audit_CL".
	Name string
	// Columns are the table's columns in order. The first two are always tenant and TimeGenerated.
	Columns []Column
	// Key lists the columns that identify a record (natural key); writes are idempotent on it.
	Key []string
	// EventTime is the column holding the event time, used for windows and dashboards.
	EventTime string
	// Decode turns one raw API record into a row. ingested is the TimeGenerated value.
	Decode func(tenant string, raw json.RawMessage, ingested time.Time) (Row, error)
}

// ColumnIndex returns the position of the named column, or -1.
func (t *Table) ColumnIndex(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// common columns every table starts with.
var commonColumns = []Column{{"tenant", String}, {"TimeGenerated", DateTime}}

// DecodeError is returned by Table.Decode for a record that cannot be stored; the record is quarantined with Reason.
type DecodeError struct {
	Table  string
	Reason string
}

func (e *DecodeError) Error() string { return fmt.Sprintf("%s: %s", e.Table, e.Reason) }
