// Package detect is castwatch's detection engine: rules written as YAML (Sigma-style selections and conditions,
// sliding event-time thresholds, entity mappings, deduplication and inline tests), evaluated over normalized
// events with deterministic alert identities.
package detect

import (
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// Severities in increasing order.
var severities = []string{"informational", "low", "medium", "high", "critical"}

// Statuses a rule may carry (Sigma's set).
var statuses = []string{"stable", "test", "experimental", "deprecated", "unsupported"}

// Entity types an alert entity may have.
var entityTypes = []string{"ip", "mailbox", "application", "url", "filehash", "message", "user", "domain"}

// tactics are the ATT&CK tactic names as Sentinel spells them (enterprise and ICS).
var tactics = []string{
	"Reconnaissance", "ResourceDevelopment", "InitialAccess", "Execution", "Persistence", "PrivilegeEscalation",
	"DefenseEvasion", "CredentialAccess", "Discovery", "LateralMovement", "Collection", "CommandAndControl",
	"Exfiltration", "Impact", "ImpairProcessControl", "InhibitResponseFunction", "PreAttack",
}

const (
	// DefaultLateness is how far behind the watermark an event may arrive and still be evaluated.
	DefaultLateness = 48 * time.Hour
	// DefaultDedupPeriod is how long alerts with the same dedup key are merged into one.
	DefaultDedupPeriod = time.Hour
	// MaxWindow bounds threshold windows and dedup periods; it equals the episode horizon.
	MaxWindow = 24 * time.Hour
	// MaxEntityValues caps the distinct values an alert lists per entity mapping.
	MaxEntityValues = 25
	// MaxEventIDs caps the event ids one alert emission carries.
	MaxEventIDs = 10000
)

// Rule is one detection rule, loaded from one YAML file and validated.
type Rule struct {
	// ID identifies the rule; a rules directory overrides a built-in rule with the same ID.
	ID string
	// Version is part of every alert identity: a changed rule makes new alerts.
	Version string
	// Title may template values of the matched events, e.g. "{{src_ip}}".
	Title       string
	Description string
	// Severity is informational, low, medium, high or critical.
	Severity string
	// Status is stable, test, experimental, deprecated or unsupported.
	Status     string
	Tactics    []string
	Techniques []string
	References []string
	// Reads says which events the rule sees.
	Reads Reads
	// EventLabel is a plural noun phrase for the matched events, used in explanations.
	EventLabel string
	// Condition is the condition expression as written (alternatives of a list joined by " or ").
	Condition string
	// Threshold makes the rule count matching events in a sliding window; nil alerts on every match.
	Threshold *Threshold
	// Entities map event fields onto alert entities; the first is the primary entity.
	Entities []EntityMapping
	// Dedup merges alerts with the same key within a period.
	Dedup Dedup
	// Suppress, when set, withholds the alerts of a group that start within this period after the start of
	// the group's last alert that was not withheld (Sentinel's suppression, per alert group). Withheld alerts are
	// reported in Result.Suppressed, never silently dropped. Suppression restarts at each UTC day boundary.
	Suppress time.Duration
	// Tests are the rule's inline tests.
	Tests []RuleTest
	// Source is the file the rule was loaded from.
	Source string
	// Sigma is set when the file was a Sigma rule, translated on load (see sigma.go).
	Sigma bool

	cond     condNode
	groupBy  [][]*field
	distinct *field
	entities [][]*field
	needed   []*field
	title    []titlePart
	// anchor, when set, is a field whose value an event must have one of to match (the engine's index key).
	anchor *anchorField
}

// Reads lists the normalized event types and/or stored tables a rule reads. When both are given an event must
// match both.
type Reads struct {
	EventTypes []string
	Tables     []string
}

// Threshold counts matching events (or distinct values of a field) per group in a sliding event-time window.
type Threshold struct {
	// GroupBy lists the fields that split events into groups; empty means one group per tenant.
	GroupBy []string
	// Distinct, when set, counts distinct values of this field instead of events.
	Distinct string
	// Op is gt or gte.
	Op string
	// Value is the number compared against.
	Value int
	// Window is the sliding window length (at most MaxWindow).
	Window time.Duration
}

// EntityMapping maps event fields onto one alert entity type; the first non-empty field of Fields is used.
type EntityMapping struct {
	Type   string
	Fields []string
}

// Dedup merges matches into one alert: once an alert starts, every later match of its group within Period
// (or within the threshold window, when longer) joins it.
type Dedup struct {
	// Key lists the keys a single-event rule groups its alerts by; by default its primary entity. Each key is a
	// fallback chain: the first field of it with a value is used (YAML: a field name, or a list of names).
	// A threshold rule dedups per threshold group and takes no key.
	Key    [][]string
	Period time.Duration
}

// RuleTest is one inline test: events in, expected alerts out.
type RuleTest struct {
	Name   string
	Events []schema.Event
	// Expect lists the expected alerts in order of their first event; empty means no alert.
	Expect []ExpectedAlert
}

// ExpectedAlert describes one alert a test expects. Zero-valued fields are not checked.
type ExpectedAlert struct {
	// Count is the number of events the alert carries.
	Count int
	// Entities must all be present in the alert.
	Entities []schema.Entity
	// GroupKey, when not nil, must equal the alert's group key.
	GroupKey *string
	Title    string
	// EventIDs, when given, must equal the alert's event ids.
	EventIDs []string
}

// window is the episode window: the threshold window, or the dedup period for single-event rules.
func (r *Rule) window() time.Duration {
	if r.Threshold != nil {
		return r.Threshold.Window
	}
	return r.Dedup.Period
}

// extent is how long an episode lasts from its anchor: the longer of the window and the dedup period.
func (r *Rule) extent() time.Duration {
	return max(r.window(), r.Dedup.Period)
}

// gap is the quiet time that separates two episode segments of one group: the extent, or the suppression
// period when longer (episodes that can suppress each other must be evaluated together).
func (r *Rule) gap() time.Duration {
	return max(r.extent(), r.Suppress)
}
