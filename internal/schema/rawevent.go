package schema

import (
	"encoding/json"
	"time"
)

// RawEvent is Raw_Event_CL: normalized events read from raw log lines that belong to no API table (Exabeam's
// Splunk-forwarded lines, Mimecast CEF). Keeping them lets `castwatch detect --since` replay them through the same
// rules as everything else.
var RawEvent = Table{
	Name: "Raw_Event_CL",
	Columns: append(append([]Column{}, commonColumns...),
		Column{"id", String},
		Column{"eventTime", DateTime},
		Column{"eventType", String},
		Column{"format", String},
		Column{"source", String},
		Column{"event", Dynamic},
	),
	Key:       []string{"tenant", "id"},
	EventTime: "eventTime",
	Decode:    decodeRawEvent,
}

// RawEventRecord is what Raw_Event_CL decodes: one normalized event and where it was read.
type RawEventRecord struct {
	Format string `json:"format"`
	Source string `json:"source"`
	Event  Event  `json:"event"`
}

func decodeRawEvent(tenant string, raw json.RawMessage, ingested time.Time) (Row, error) {
	var r RawEventRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, &DecodeError{Table: "Raw_Event_CL", Reason: "invalid JSON: " + err.Error()}
	}
	if r.Event.ID == "" {
		return nil, &DecodeError{Table: "Raw_Event_CL", Reason: "missing event id"}
	}
	if r.Event.Time.IsZero() {
		return nil, &DecodeError{Table: "Raw_Event_CL", Reason: "missing event time"}
	}
	r.Event.Tenant = tenant
	ev, err := json.Marshal(r.Event)
	if err != nil {
		return nil, &DecodeError{Table: "Raw_Event_CL", Reason: "event: " + err.Error()}
	}
	return Row{tenant, ingested.UTC(), r.Event.ID, r.Event.Time.UTC(), r.Event.EventType, r.Format, r.Source,
		json.RawMessage(ev)}, nil
}
