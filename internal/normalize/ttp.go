package normalize

import (
	"strings"

	"github.com/castwatch/castwatch/internal/schema"
)

// TTP URL log values the mapping decides on.
const (
	urlEntryScan     = "entry scan"
	urlMalicious     = "malicious"
	urlAwareContinue = "continue"
	attachmentSafe   = "safe"
	urlActionAllow   = "allow"
	urlActionWarn    = "warn"
	urlActionBlock   = "block"
)

var segDlpPromoted = []string{"senderAddress", "recipientAddress", "subject", "route", "policy", "action", "messageId"}

// SegDlp normalizes one Seg_Dlp_CL row (a DLP policy hit) into a dlp-alert event: policy, action (hold,
// notification, block, …), sender, recipient, subject, message id and direction (route).
func SegDlp(row schema.Row) (schema.Event, error) {
	t := &schema.SegDlp
	ev, err := baseEvent(t, row, segDlpPromoted...)
	if err != nil {
		return schema.Event{}, err
	}
	r := newRowReader(t, row)
	ev.EventType = schema.EventDLPAlert
	setSender(&ev, r.str("senderAddress"))
	setRecipients(&ev, addresses(r.str("recipientAddress")))
	ev.Subject = r.str("subject")
	ev.Direction = direction(r.str("route"))
	ev.Policy = r.str("policy")
	ev.Action = strings.TrimSpace(r.str("action"))
	ev.MessageID = strings.TrimSpace(r.str("messageId"))
	if r.err != nil {
		return schema.Event{}, r.err
	}
	setMailUser(&ev)
	return ev, nil
}

var ttpURLPromoted = []string{
	"userEmailAddress", "fromUserEmailAddress", "url", "ttpDefinition", "subject", "action", "route", "messageId",
	"mimecastEventId",
}

// TtpURL normalizes one Ttp_Url_CL row. A user click (any creationMethod but "Entry Scan") is web-activity by
// userEmailAddress; an entry scan (Mimecast scanning the link when the message arrived; nobody clicked) is
// email-activity. Either way a malicious scanResult adds a security-alert. sendingIp is the address of the server
// that sent the message (it reads "Internal IP" for internal mail), not of the clicking user, so it is the
// src_ip of the mail-side events (email-activity, security-alert) and not of web-activity.
func TtpURL(row schema.Row) ([]schema.Event, error) {
	t := &schema.TtpURL
	ev, err := baseEvent(t, row, ttpURLPromoted...)
	if err != nil {
		return nil, err
	}
	r := newRowReader(t, row)
	ev.URL = strings.TrimSpace(r.str("url"))
	ev.Subject = r.str("subject")
	ev.Direction = direction(r.str("route"))
	ev.Policy = r.str("ttpDefinition")
	ev.Action = strings.TrimSpace(r.str("action"))
	ev.MessageID = strings.TrimSpace(r.str("messageId"))
	ev.AlertID = r.str("mimecastEventId")
	method := strings.TrimSpace(r.str("creationMethod"))
	scan := strings.TrimSpace(r.str("scanResult"))
	aware := r.str("userAwarenessAction")
	category := r.str("Category")
	sendingIP := validIP(r.str("sendingIp"))
	user := r.str("userEmailAddress")
	setSender(&ev, r.str("fromUserEmailAddress"))
	setRecipients(&ev, addresses(user))
	if r.err != nil {
		return nil, r.err
	}
	ev.Activity = method
	ev.EventType, ev.Outcome = TtpURLClass(method, ev.Action, aware)
	if ev.EventType != schema.EventWebActivity {
		ev.SrcIP = sendingIP
	}
	if ev.Outcome == schema.OutcomeFailure {
		ev.FailureReason = firstNonEmpty(category, scan)
	}
	setUser(&ev, user)
	out := []schema.Event{ev}
	if strings.EqualFold(scan, urlMalicious) {
		alert := withAlert(ev, firstNonEmpty(category, scan))
		alert.SrcIP = sendingIP
		out = append(out, alert)
	}
	return out, nil
}

// TtpURLClass decides the event type and outcome of a Ttp_Url_CL row: creationMethod "Entry Scan" is
// email-activity with no outcome; any other (User Click) is web-activity whose outcome follows the action:
// allow → success, block → failure, warn → success when the user chose to continue past the warning page
// (userAwarenessAction Continue), else challenge (the warning was shown and not passed). An unknown action has
// no outcome.
func TtpURLClass(creationMethod, action, awarenessAction string) (eventType, outcome string) {
	if strings.EqualFold(strings.TrimSpace(creationMethod), urlEntryScan) {
		return EventEmailActivity, ""
	}
	switch strings.ToLower(action) {
	case urlActionAllow:
		outcome = schema.OutcomeSuccess
	case urlActionBlock:
		outcome = schema.OutcomeFailure
	case urlActionWarn:
		outcome = schema.OutcomeChallenge
		if strings.EqualFold(strings.TrimSpace(awarenessAction), urlAwareContinue) {
			outcome = schema.OutcomeSuccess
		}
	}
	return schema.EventWebActivity, outcome
}

var ttpAttachmentPromoted = []string{
	"senderAddress", "recipientAddress", "fileName", "route", "messageId", "subject", "fileHash", "definition",
	"actionTriggered",
}

// TtpAttachment normalizes one Ttp_Attachment_CL row (an attachment sandbox verdict). A result other than
// "safe" (malicious, unsafe, timeout, error — Sentinel's rule fires on the same condition) is a security-alert
// whose reason is the result; a safe file is email-activity.
func TtpAttachment(row schema.Row) (schema.Event, error) {
	t := &schema.TtpAttachment
	ev, err := baseEvent(t, row, ttpAttachmentPromoted...)
	if err != nil {
		return schema.Event{}, err
	}
	r := newRowReader(t, row)
	setSender(&ev, r.str("senderAddress"))
	setRecipients(&ev, addresses(r.str("recipientAddress")))
	ev.Subject = r.str("subject")
	ev.Direction = direction(r.str("route"))
	ev.MessageID = strings.TrimSpace(r.str("messageId"))
	ev.Policy = r.str("definition")
	ev.Action = strings.TrimSpace(r.str("actionTriggered"))
	name := r.str("fileName")
	addAttachment(&ev, name, "", r.str("fileHash"))
	result := strings.TrimSpace(r.str("result"))
	if r.err != nil {
		return schema.Event{}, r.err
	}
	ev.Object = name
	ev.EventType = TtpAttachmentClass(result)
	if ev.EventType == schema.EventSecurityAlert {
		setReason(&ev, result)
	}
	setMailUser(&ev)
	return ev, nil
}

// TtpAttachmentClass is email-activity for a "safe" result and security-alert for any other.
func TtpAttachmentClass(result string) string {
	if strings.EqualFold(strings.TrimSpace(result), attachmentSafe) {
		return EventEmailActivity
	}
	return schema.EventSecurityAlert
}

var ttpImpersonationPromoted = []string{
	"id", "senderAddress", "recipientAddress", "subject", "definition", "action", "senderIpAddress", "messageId",
}

// TtpImpersonation normalizes one Ttp_Impersonation_CL row into a security-alert: every record is an
// Impersonation Protect hit. The reason is the matched identifiers; the user is the recipient (the person the
// sender pretends to know); src_ip is senderIpAddress.
func TtpImpersonation(row schema.Row) (schema.Event, error) {
	t := &schema.TtpImpersonation
	ev, err := baseEvent(t, row, ttpImpersonationPromoted...)
	if err != nil {
		return schema.Event{}, err
	}
	r := newRowReader(t, row)
	ev.EventType = schema.EventSecurityAlert
	ev.AlertID = r.str("id")
	setSender(&ev, r.str("senderAddress"))
	setRecipients(&ev, addresses(r.str("recipientAddress")))
	ev.Subject = r.str("subject")
	ev.Policy = r.str("definition")
	ev.Action = strings.TrimSpace(r.str("action"))
	ev.SrcIP = validIP(r.str("senderIpAddress"))
	ev.MessageID = strings.TrimSpace(r.str("messageId"))
	// hits and taggedMalicious stay in Fields; reading them checks the row has the table's types.
	_, _ = r.real("hits")
	_ = r.flag("taggedMalicious")
	ids := listValues(r.dynamic("identifiers"))
	if r.err != nil {
		return schema.Event{}, r.err
	}
	setReason(&ev, strings.Join(ids, ", "))
	if len(ev.Recipients) > 0 {
		setUser(&ev, ev.Recipients[0])
	}
	return ev, nil
}

func segDlpRows(row schema.Row) ([]schema.Event, error)           { return one(SegDlp(row)) }
func ttpURLRows(row schema.Row) ([]schema.Event, error)           { return TtpURL(row) }
func ttpAttachmentRows(row schema.Row) ([]schema.Event, error)    { return one(TtpAttachment(row)) }
func ttpImpersonationRows(row schema.Row) ([]schema.Event, error) { return one(TtpImpersonation(row)) }
