package normalize

import (
	"encoding/json"
	"strings"

	"github.com/castwatch/castwatch/internal/schema"
)

// Cloud Integrated record types and the threat values the mapping decides on.
const (
	ciEntities       = "entities"
	ciMailflow       = "mailflow"
	ciURLClick       = "urlclick"
	ciBlocked        = "BLOCKED"
	ciDelivered      = "DELIVERED"
	ciNoDetections   = "NO_DETECTIONS"
	ciPolicyDisabled = "POLICIES_DISABLED"
)

var ciPromoted = []string{
	"type_", "aggregateId", "messageId", "attachments", "recipients", "senderIp", "senderEnvelope", "subject",
	"direction",
}

// CloudIntegrated normalizes one Cloud_Integrated_CL row (a SIEM v2 Cloud Integrated event). entities records
// are mail events typed by direction and threatState like gateway receipts (CIClass), plus a security-alert when
// the record carries a detection (CIThreat); mailflow records are email-activity; urlclick records are
// web-activity; any other type is kept as its own event type.
func CloudIntegrated(row schema.Row) ([]schema.Event, error) {
	t := &schema.CloudIntegrated
	ev, err := baseEvent(t, row, ciPromoted...)
	if err != nil {
		return nil, err
	}
	r := newRowReader(t, row)
	typ := strings.TrimSpace(r.str("type_"))
	state := r.str("threatState")
	threatType := r.str("threatType")
	tags := listValues(r.str("tags"))
	ev.AlertID = r.str("aggregateId")
	ev.MessageID = strings.TrimSpace(r.str("messageId"))
	ev.Subject = r.str("subject")
	ev.SrcIP = validIP(r.str("senderIp"))
	ev.Direction = direction(r.str("direction"))
	ev.Activity = typ
	setSender(&ev, r.str("senderEnvelope"), r.str("senderHeader"))
	setRecipients(&ev, addresses(r.str("recipients")))
	for _, name := range listValues(r.str("attachments")) {
		addAttachment(&ev, name, "")
	}
	ev.Policy, ev.Action = appliedPolicy(r.str("policiesApplied"))
	if r.err != nil {
		return nil, r.err
	}
	if typ == "" {
		return nil, &RowError{Table: t.Name, Reason: "empty type"}
	}
	ev.EventType, ev.Outcome = CIClass(typ, ev.Direction, state)
	if ev.Outcome == schema.OutcomeFailure {
		ev.FailureReason = firstNonEmpty(threatType, state)
	}
	if typ == ciURLClick {
		// The clicking user is the recipient of the message whose link was clicked (no urlclick record has been
		// seen; see README.md).
		if len(ev.Recipients) > 0 {
			setUser(&ev, ev.Recipients[0])
		}
	} else {
		setMailUser(&ev)
	}
	out := []schema.Event{ev}
	if reason, ok := CIThreat(threatType, tags); ok && typ == ciEntities {
		out = append(out, withAlert(ev, reason))
	}
	return out, nil
}

// CIClass decides the event type and outcome of a Cloud_Integrated_CL row. entities: dlp-email-alert-in for
// inbound, -out for outbound and internal, email-activity for other or missing directions; threatState BLOCKED
// is outcome failure (and the -failed variant), DELIVERED success, anything else (DELIVERY_IN_PROGRESS) none.
// mailflow: email-activity. urlclick: web-activity. Other types: the type itself.
func CIClass(typ, dir, threatState string) (eventType, outcome string) {
	switch typ {
	case ciEntities:
		switch strings.ToUpper(strings.TrimSpace(threatState)) {
		case ciBlocked:
			outcome = schema.OutcomeFailure
		case ciDelivered:
			outcome = schema.OutcomeSuccess
		}
		failed := outcome == schema.OutcomeFailure
		switch dir {
		case dirInbound:
			if failed {
				return schema.EventDLPEmailAlertInFail, outcome
			}
			return schema.EventDLPEmailAlertIn, outcome
		case dirOutbound, dirInternal:
			if failed {
				return schema.EventDLPEmailAlertOutFail, outcome
			}
			return schema.EventDLPEmailAlertOut, outcome
		}
		return EventEmailActivity, outcome
	case ciMailflow:
		return EventEmailActivity, ""
	case ciURLClick:
		return schema.EventWebActivity, ""
	}
	return typ, ""
}

// CIThreat reports whether a Cloud Integrated record carries a detection, and its reason: any tag (MALWARE,
// SPAM, UNTRUSTWORTHY, …), or a threatType other than NO_DETECTIONS and POLICIES_DISABLED. The reason is the tags
// joined by ", ", else the threatType.
func CIThreat(threatType string, tags []string) (string, bool) {
	if len(tags) > 0 {
		return strings.Join(tags, ", "), true
	}
	switch t := strings.ToUpper(strings.TrimSpace(threatType)); t {
	case "", ciNoDetections, ciPolicyDisabled:
		return "", false
	}
	return threatType, true
}

// appliedPolicy returns the name and action of the first applied policy that took an action, else the first
// policy's name. The column holds the JSON array [{"action","mode","name"}].
func appliedPolicy(s string) (name, action string) {
	var list []struct {
		Action *string `json:"action"`
		Name   string  `json:"name"`
	}
	if json.Unmarshal([]byte(s), &list) != nil || len(list) == 0 {
		return "", ""
	}
	for _, p := range list {
		if p.Action != nil && *p.Action != "" {
			return p.Name, *p.Action
		}
	}
	return list[0].Name, ""
}

// cloudIntegratedRows is the registry form of CloudIntegrated.
func cloudIntegratedRows(row schema.Row) ([]schema.Event, error) { return CloudIntegrated(row) }
