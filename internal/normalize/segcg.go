package normalize

import (
	"strconv"
	"strings"

	"github.com/castwatch/castwatch/internal/schema"
)

// Logtype values of Seg_Cg_CL (schema.SegCgLogtypes) the mapping decides on.
const (
	lgReceipt       = "email_receipt"
	lgDelivery      = "email_delivery"
	lgProcess       = "email_process"
	lgJournal       = "email_journal"
	lgAV            = "email_antivirus"
	lgSpam          = "email_spam"
	lgURLProtect    = "email_ttp_url"
	lgImpersonation = "email_ttp_impersonation"
	lgAttachment    = "email_ttp_ap"
	lgIEP           = "email_iep"
)

// segCgPromoted are the Seg_Cg_CL columns copied into typed event fields; the others stay in Fields.
var segCgPromoted = []string{
	"Logtype", "aggregateId", "senderEnvelope", "recipients", "subject", "emailSize", "fileName", "fileExtension",
	"sha256", "sha1", "md5", "senderIp", "messageId", "direction", "action",
}

// impersonationIndicators are the Seg_Cg_CL impersonation-protect columns that name a matched indicator when
// "true"; they make up the reason of the alert, in this order.
var impersonationIndicators = []string{
	"newDomain", "similarInternalDomain", "similarCustomExternalDomain", "similarMimecastExternalDomain",
	"internalUserName", "customNameMatch", "replyMismatch", "customThreatDictionary", "mimecastThreatDictionary",
	"taggedMalicious",
}

// SegCg normalizes one Seg_Cg_CL row (a SIEM v2 Cloud Gateway event) into one event. The event type is decided
// by SegCgClass; the field rules are listed in README.md.
func SegCg(row schema.Row) (schema.Event, error) {
	t := &schema.SegCg
	ev, err := baseEvent(t, row, segCgPromoted...)
	if err != nil {
		return schema.Event{}, err
	}
	r := newRowReader(t, row)
	logtype := r.str("Logtype")
	dir := direction(r.str("direction"))
	if dir == "" {
		dir = direction(r.str("route")) // spam, IEP and URL protect records say it in route
	}
	action := strings.TrimSpace(r.str("action"))
	delivered := r.str("delivered")
	ev.AlertID = r.str("aggregateId")
	ev.MessageID = strings.TrimSpace(r.str("messageId"))
	ev.Subject = r.str("subject")
	ev.SrcIP = validIP(r.str("senderIp"))
	ev.Direction = dir
	ev.Action = action
	ev.Activity = logtype
	setSender(&ev, r.str("senderEnvelope"), r.str("senderHeader"))
	if ev.SenderDomain == "" {
		ev.SenderDomain = strings.ToLower(strings.TrimSpace(r.str("senderDomain")))
	}
	setRecipients(&ev, addresses(r.str("recipients")))
	if n, err := strconv.ParseInt(strings.TrimSpace(r.str("emailSize")), 10, 64); err == nil && n > 0 {
		ev.Bytes = n
	}
	if name, ext := r.str("fileName"), r.str("fileExtension"); name != "" || ext != "" || r.str("sha256") != "" {
		addAttachment(&ev, name, ext, r.str("sha256"), r.str("sha1"), r.str("md5"))
	}
	for _, name := range listValues(r.str("attachments")) {
		addAttachment(&ev, name, "")
	}
	ev.Object = firstNonEmpty(ev.AttachmentNames...)
	rejectionInfo, deliveryErrors, rejectionType := r.str("rejectionInfo"), r.str("deliveryErrors"), r.str("rejectionType")
	virus, scanResults, urlCategory, holdReason := r.str("virusFound"), r.str("scanResults"), r.str("urlCategory"), r.str("holdReason")
	var matched []string
	for _, c := range impersonationIndicators {
		if strings.EqualFold(r.str(c), "true") {
			matched = append(matched, c)
		}
	}
	if r.err != nil {
		return schema.Event{}, r.err
	}
	if logtype == "" {
		return schema.Event{}, &RowError{Table: t.Name, Reason: "empty Logtype"}
	}

	ev.EventType, ev.Outcome = SegCgClass(logtype, dir, action, delivered, rejectionType != "" || deliveryErrors != "")
	if ev.Outcome == schema.OutcomeFailure {
		ev.FailureReason = firstNonEmpty(rejectionInfo, deliveryErrors, rejectionType)
	}
	if ev.EventType == schema.EventSecurityAlert {
		switch logtype {
		case lgAV:
			setReason(&ev, firstNonEmpty(virus, "virus found"))
		case lgIEP, lgURLProtect:
			setReason(&ev, firstNonEmpty(scanResults, urlCategory))
		case lgImpersonation:
			setReason(&ev, strings.Join(matched, ", "))
		}
	}
	if ev.EventType == EventEmailActivity && logtype == lgProcess {
		setReason(&ev, holdReason)
	}
	setMailUser(&ev)
	return ev, nil
}

// SegCgClass decides the event type and outcome of a Seg_Cg_CL row from its Logtype, its direction (lower-case,
// from direction or route), its action (receipt and process: Acc, Rej, Hld, Sdbx, Bnc) and its delivered flag
// (delivery). rejected says whether the row carries a rejection type or delivery error.
//
//   - receipt, delivery: dlp-email-alert-in for inbound, dlp-email-alert-out for outbound and internal; the
//     -failed variant when the outcome is failure (receipt Rej/Bnc; delivery delivered=false, or a rejection or
//     delivery error when delivered is not given). Outcome success for receipt Acc and delivered=true. Any other
//     direction (external, none) gives email-activity with the same outcome.
//   - av, spam, url protect, impersonation protect, attachment protect, internal email protect: security-alert.
//   - journal, process: email-activity; process Acc is success, Rej/Bnc failure, Hld/Sdbx no outcome.
//   - any other Logtype: its own name as the event type (never dropped).
func SegCgClass(logtype, dir, action, delivered string, rejected bool) (eventType, outcome string) {
	switch logtype {
	case lgReceipt, lgDelivery:
		if logtype == lgReceipt {
			outcome = actionOutcome(action)
			if outcome == "" && rejected {
				outcome = schema.OutcomeFailure
			}
		} else {
			switch strings.ToLower(strings.TrimSpace(delivered)) {
			case "true":
				outcome = schema.OutcomeSuccess
			case "false":
				outcome = schema.OutcomeFailure
			default:
				if rejected {
					outcome = schema.OutcomeFailure
				}
			}
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
	case lgAV, lgSpam, lgURLProtect, lgImpersonation, lgAttachment, lgIEP:
		return schema.EventSecurityAlert, ""
	case lgJournal:
		return EventEmailActivity, ""
	case lgProcess:
		return EventEmailActivity, actionOutcome(action)
	}
	return logtype, ""
}

// actionOutcome reads a gateway action code: Acc is success, Rej and Bnc are failure, anything else (Hld, Sdbx)
// has no outcome.
func actionOutcome(action string) string {
	switch strings.ToLower(strings.TrimSpace(action)) {
	case "acc":
		return schema.OutcomeSuccess
	case "rej", "bnc":
		return schema.OutcomeFailure
	}
	return ""
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// segCgRows is the registry form of SegCg.
func segCgRows(row schema.Row) ([]schema.Event, error) { return one(SegCg(row)) }
