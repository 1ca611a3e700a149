package normalize

import (
	"encoding/json"
	"fmt"

	"github.com/castwatch/castwatch/internal/schema"
)

// rawEventRows returns the normalized event a Raw_Event_CL row keeps: raw lines are normalized when read, so the
// stored event is given back as it was.
func rawEventRows(row schema.Row) ([]schema.Event, error) {
	t := &schema.RawEvent
	if len(row) != len(t.Columns) {
		return nil, &RowError{Table: t.Name, Reason: fmt.Sprintf("row has %d values, table has %d columns", len(row), len(t.Columns))}
	}
	var raw []byte
	switch v := row[t.ColumnIndex("event")].(type) {
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		return nil, &RowError{Table: t.Name, Reason: fmt.Sprintf("event column holds %T", v)}
	}
	var ev schema.Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, &RowError{Table: t.Name, Reason: "event: " + err.Error()}
	}
	if ev.Table == "" {
		ev.Table = t.Name
	}
	return []schema.Event{ev}, nil
}
