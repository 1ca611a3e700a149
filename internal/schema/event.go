package schema

import "time"

// Event types. The first seven are Exabeam's Mimecast event types; the rest are the ones detection needs beyond them.
const (
	EventAppLogin             = "app-login"
	EventFailedAppLogin       = "failed-app-login"
	EventAppActivity          = "app-activity"
	EventDLPEmailAlertIn      = "dlp-email-alert-in"
	EventDLPEmailAlertInFail  = "dlp-email-alert-in-failed"
	EventDLPEmailAlertOut     = "dlp-email-alert-out"
	EventDLPEmailAlertOutFail = "dlp-email-alert-out-failed"
	EventDLPAlert             = "dlp-alert"
	EventSecurityAlert        = "security-alert"
	EventWebActivity          = "web-activity"
	// EventEmailActivity is mail handling that is neither a directed receipt or delivery nor a detection:
	// journal and process records, external-direction hops, TTP entry scans, safe attachment scans.
	EventEmailActivity = "email-activity"
)

// Outcome values of Event.Outcome.
const (
	OutcomeSuccess   = "success"
	OutcomeFailure   = "failure"
	OutcomeChallenge = "challenge"
)

// Event is the normalized view of one stored record: one shape for detection, behaviour models and dashboards,
// whatever table or raw format it came from. Field names in JSON (and in rule conditions) are snake_case.
type Event struct {
	// ID identifies the event: the table's natural key joined into one string. Stable across replays.
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Tenant string    `json:"tenant"`
	// Table is the stored table the event came from (e.g. Audit_CL), or "raw" for ingested lines.
	Table     string `json:"table"`
	EventType string `json:"event_type"`

	User        string `json:"user,omitempty"`
	UserEmail   string `json:"user_email,omitempty"`
	EmailDomain string `json:"email_domain,omitempty"`
	SrcIP       string `json:"src_ip,omitempty"`
	SrcCountry  string `json:"src_country,omitempty"`
	App         string `json:"app,omitempty"`
	Activity    string `json:"activity,omitempty"`
	Object      string `json:"object,omitempty"`
	Outcome     string `json:"outcome,omitempty"`
	// FailureReason says why an action failed (bad password, rejection text, …).
	FailureReason string `json:"failure_reason,omitempty"`

	Sender           string   `json:"sender,omitempty"`
	SenderDomain     string   `json:"sender_domain,omitempty"`
	Recipients       []string `json:"recipients,omitempty"`
	RecipientDomains []string `json:"recipient_domains,omitempty"`
	// Direction is inbound, outbound, internal or external as the source says, lower-cased.
	Direction string `json:"direction,omitempty"`
	Subject   string `json:"subject,omitempty"`
	Bytes     int64  `json:"bytes,omitempty"`

	AttachmentNames      []string `json:"attachment_names,omitempty"`
	AttachmentExtensions []string `json:"attachment_extensions,omitempty"`
	AttachmentHashes     []string `json:"attachment_hashes,omitempty"`

	URL       string `json:"url,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	AlertID   string `json:"alert_id,omitempty"`
	Policy    string `json:"policy,omitempty"`
	Action    string `json:"action,omitempty"`

	// Fields holds source columns not promoted to a typed field, by their stored column name.
	Fields map[string]any `json:"fields,omitempty"`
}
