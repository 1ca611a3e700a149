package schema

import (
	"encoding/json"
	"time"
)

// Audit is Audit_CL: the account audit log from POST /api/audit/get-audit-events.
var Audit = Table{
	Name: "Audit_CL",
	Columns: append(append([]Column{}, commonColumns...),
		Column{"id", String},
		Column{"auditType", String},
		Column{"user", String},
		Column{"eventTime", DateTime},
		Column{"eventInfo", String},
		Column{"category", String},
	),
	Key:       []string{"tenant", "id"},
	EventTime: "eventTime",
	Decode:    decodeAudit,
}

// AuditRecord is one record of /api/audit/get-audit-events as the API returns it.
type AuditRecord struct {
	ID        string `json:"id"`
	AuditType string `json:"auditType"`
	User      string `json:"user"`
	EventTime string `json:"eventTime"`
	EventInfo string `json:"eventInfo"`
	Category  string `json:"category"`
}

func decodeAudit(tenant string, raw json.RawMessage, ingested time.Time) (Row, error) {
	var r AuditRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, &DecodeError{Table: "Audit_CL", Reason: "invalid JSON: " + err.Error()}
	}
	if r.ID == "" {
		return nil, &DecodeError{Table: "Audit_CL", Reason: "missing id"}
	}
	t, err := ParseTime(r.EventTime)
	if err != nil {
		return nil, &DecodeError{Table: "Audit_CL", Reason: "eventTime: " + err.Error()}
	}
	return Row{tenant, ingested.UTC(), r.ID, r.AuditType, r.User, t, r.EventInfo, r.Category}, nil
}
