package normalize

import (
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/parse"
	"github.com/castwatch/castwatch/internal/schema"
)

// Audit types with a fixed event type. Any other audit type is app-activity unless its eventInfo says
// "Successful/Failed/Intermediate authentication" (see auditClass).
const (
	AuditUserLoggedOn        = "User Logged On"
	AuditSupportLogin        = "Mimecast Support Login"
	AuditLogonFailed         = "Logon Authentication Failed"
	AuditLogonChallenge      = "Logon Requires Challenge"
	auditActionSuccess       = "successful authentication"
	auditActionFailure       = "failed authentication"
	auditActionIntermediate  = "intermediate authentication"
	auditFailedEntryAction   = "creating the auditlog entry for failed authentication"
	auditFieldPrefix         = "eventInfo."
	auditEventIDTableSegment = "/Audit_CL/"
)

// Audit normalizes one Audit_CL row. The event id is "<tenant>/Audit_CL/<id>". The mapping rules are listed in
// README.md; in short: logins (User Logged On, Mimecast Support Login, "Successful authentication") are app-login
// with outcome success; Logon Authentication Failed (and "Failed authentication" text) is failed-app-login with
// outcome failure; Logon Requires Challenge is app-login with outcome challenge; everything else is app-activity
// with activity = auditType and object parsed from eventInfo.
func Audit(row schema.Row) (schema.Event, error) {
	r := newRowReader(&schema.Audit, row)
	tenant := r.str("tenant")
	generated := r.time("TimeGenerated")
	id := r.str("id")
	auditType := strings.TrimSpace(r.str("auditType"))
	user := strings.TrimSpace(r.str("user"))
	eventTime := r.time("eventTime")
	eventInfo := r.str("eventInfo")
	category := r.str("category")
	if r.err != nil {
		return schema.Event{}, r.err
	}
	if id == "" {
		return schema.Event{}, &RowError{Table: schema.Audit.Name, Reason: "empty id"}
	}

	info := parse.ParseAuditInfo(eventInfo)
	eventType, outcome := auditClass(auditType, info)

	ev := schema.Event{
		ID:        tenant + auditEventIDTableSegment + id,
		Time:      firstTime(eventTime, info.Time, generated),
		Tenant:    tenant,
		Table:     schema.Audit.Name,
		EventType: eventType,
		Outcome:   outcome,
		SrcIP:     info.SourceIP(),
		App:       info.Application,
		Activity:  auditType,
		Object:    info.Object(),
		Action:    info.Action,
		Fields:    map[string]any{"category": category, "eventInfo": eventInfo},
	}
	if user == "" {
		// Directory syncs and similar system records name nobody in `user`; take the actor the text names.
		user = info.Actor
	}
	ev.User, ev.UserEmail, ev.EmailDomain = splitUser(user)
	if eventType == schema.EventFailedAppLogin {
		ev.FailureReason = failureReason(info)
	}
	addInfoFields(ev.Fields, info)
	return ev, nil
}

// auditRows is the registry form of Audit.
func auditRows(row schema.Row) ([]schema.Event, error) {
	ev, err := Audit(row)
	if err != nil {
		return nil, err
	}
	return []schema.Event{ev}, nil
}

// auditClass decides the event type and outcome from the audit type, then from the eventInfo action phrase.
func auditClass(auditType string, info parse.AuditInfo) (eventType, outcome string) {
	switch auditType {
	case AuditUserLoggedOn, AuditSupportLogin:
		return schema.EventAppLogin, schema.OutcomeSuccess
	case AuditLogonFailed:
		return schema.EventFailedAppLogin, schema.OutcomeFailure
	case AuditLogonChallenge:
		return schema.EventAppLogin, schema.OutcomeChallenge
	}
	switch strings.ToLower(info.Action) {
	case auditActionSuccess:
		return schema.EventAppLogin, schema.OutcomeSuccess
	case auditActionFailure, auditFailedEntryAction:
		return schema.EventFailedAppLogin, schema.OutcomeFailure
	case auditActionIntermediate:
		return schema.EventAppLogin, schema.OutcomeChallenge
	}
	return schema.EventAppActivity, ""
}

// failureReason is the "Reason:" field, else the action phrase when it says more than "failed authentication".
func failureReason(info parse.AuditInfo) string {
	if info.Reason != "" {
		return info.Reason
	}
	switch strings.ToLower(info.Action) {
	case "", auditActionFailure, auditFailedEntryAction:
		return ""
	}
	return info.Action
}

// splitUser returns user, user_email and email_domain. An address (one "@" with text on both sides) is
// lower-cased and is also the user_email; anything else is the user alone.
func splitUser(u string) (user, email, domain string) {
	local, dom, ok := strings.Cut(u, "@")
	if !ok || local == "" || dom == "" || strings.ContainsAny(dom, "@ <>") || strings.ContainsAny(local, " <>") {
		return u, "", ""
	}
	u = strings.ToLower(u)
	return u, u, strings.ToLower(dom)
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t.UTC()
		}
	}
	return time.Time{}
}

// addInfoFields keeps what eventInfo said beyond the typed fields, under "eventInfo.<name>".
func addInfoFields(m map[string]any, info parse.AuditInfo) {
	set := func(k, v string) {
		if v != "" {
			m[auditFieldPrefix+k] = v
		}
	}
	set("layout", info.Layout)
	set("target", info.Target)
	set("target_name", info.TargetName)
	set("actor", info.Actor)
	set("actor_name", info.ActorName)
	set("detail", info.Detail)
	set("method", info.Method)
	set("2fa", info.TwoFA)
	set("reason", info.Reason)
	set("remote_ip", info.RemoteIP)
	set("local_time", info.LocalTime)
	if !info.Time.IsZero() {
		m[auditFieldPrefix+"time"] = info.Time.UTC().Format(time.RFC3339)
	}
	if len(info.Issues) > 0 {
		m[auditFieldPrefix+"issues"] = append([]string(nil), info.Issues...)
	}
}
