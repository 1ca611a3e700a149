package schema

import "time"

// Entity is one thing an alert is about, typed as Sentinel's entity mapping types it.
type Entity struct {
	// Type is one of: ip, mailbox, url, filehash, message, application, user, domain.
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Alert is one detection result. Its ID is deterministic (rule id and version, group key, window start, first
// contributing event), so evaluating the same events again yields the same alert and never a second one.
type Alert struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"`
	RuleID      string    `json:"rule_id"`
	RuleVersion string    `json:"rule_version"`
	Title       string    `json:"title"`
	Severity    string    `json:"severity"`
	Tactics     []string  `json:"tactics"`
	Techniques  []string  `json:"techniques"`
	Entities    []Entity  `json:"entities"`
	EventIDs    []string  `json:"event_ids"`
	GroupKey    string    `json:"group_key"`
	FirstEvent  time.Time `json:"first_event"`
	LastEvent   time.Time `json:"last_event"`
	Created     time.Time `json:"created"`
	Explanation string    `json:"explanation"`
	Status      string    `json:"status"`
	// EventCount is how many events the alert matched in all (EventIDs and Events may hold fewer).
	EventCount int `json:"event_count,omitempty"`
	// Events is a snapshot of the first MaxAlertEvents matched events in (time, id) order, so the alert can show
	// why it fired after the events themselves are gone from memory. It is not part of the alert's identity.
	Events []Event `json:"events,omitempty"`
}

// MaxAlertEvents caps Alert.Events, the matched events an alert keeps a snapshot of.
const MaxAlertEvents = 50
