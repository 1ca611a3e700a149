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
}
