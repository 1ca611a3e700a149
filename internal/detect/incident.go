package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// IncidentLookback is how long after an incident's first alert a matching alert still joins it (Sentinel's
// incident grouping lookbackDuration P7D).
const IncidentLookback = 7 * 24 * time.Hour

// Incident states (Sentinel's New, Active, Closed).
const (
	IncidentNew    = "new"
	IncidentActive = "active"
	IncidentClosed = "closed"
)

// Incident is a group of alerts of one rule and tenant with the same entities, as Sentinel groups them with
// matchingMethod AllEntities and a 7-day lookback. Group builds incidents; the caller stores them.
type Incident struct {
	// ID is deterministic: a hash of tenant, rule, entity set and the first alert's id.
	ID     string
	Tenant string
	RuleID string
	// Title is the title of the first alert.
	Title string
	// Severity is the highest severity of the incident's alerts.
	Severity   string
	Tactics    []string
	Techniques []string
	// Entities is the entity set every alert of the incident has (sorted by type, then value).
	Entities []schema.Entity
	// AlertIDs lists the alerts in order of their first event.
	AlertIDs []string
	// FirstAlert and LastAlert are the first event times of the earliest and the latest alert.
	FirstAlert time.Time
	LastAlert  time.Time
	// Status is new, active or closed. A closed incident takes no more alerts (reopenClosedIncident false): a
	// later matching alert starts a new incident.
	Status string
	// Owner is the analyst the incident is assigned to; empty when unassigned.
	Owner string
	// Classification says why a closed incident was closed (e.g. true positive, false positive).
	Classification string
	Comments       []Comment
	// Updated is when the incident last changed through Assign, AddComment, Activate or Close.
	Updated time.Time
}

// Comment is an analyst's note on an incident.
type Comment struct {
	Author string
	Time   time.Time
	Text   string
}

// entityKey renders an alert's entity set in a canonical order; empty when the alert has no entity.
func entityKey(ents []schema.Entity) (string, []schema.Entity) {
	set := slices.Clone(ents)
	sort.Slice(set, func(i, j int) bool {
		if set[i].Type != set[j].Type {
			return set[i].Type < set[j].Type
		}
		return set[i].Value < set[j].Value
	})
	set = slices.Compact(set)
	var b strings.Builder
	for _, e := range set {
		b.WriteString(e.Type)
		b.WriteByte('=')
		b.WriteString(strings.ToLower(e.Value))
		b.WriteByte(0)
	}
	return b.String(), set
}

func incidentID(tenant, rule, key, firstAlert string) string {
	h := sha256.New()
	for _, s := range []string{"incident", tenant, rule, key, firstAlert} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// severityRank orders severities; unknown ones rank lowest.
func severityRank(s string) int { return slices.Index(severities, s) }

// Group adds alerts to incidents and returns every incident (the existing ones, updated, and new ones), ordered
// by first alert time and id. It does not modify its arguments.
//
// An alert joins an open incident (new or active) of the same tenant and rule whose entity set equals the
// alert's (AllEntities) and whose first alert is at most IncidentLookback older than it; otherwise it starts an
// incident. An alert without entities is an incident of its own. An alert already in an incident (the engine
// returns an alert again when its event set grows) stays there. Alerts are taken in order of their first event
// (then id), so one call gives the same incidents whatever the order of alerts, and alerts delivered in event
// time order give the same incidents however they are split into calls. An alert older than the first alert
// of the matching open incident starts its own incident (incident ids never change once made).
func Group(alerts []schema.Alert, existing []Incident) []Incident {
	out := make([]Incident, len(existing))
	keys := make([]string, len(existing))
	byAlert := map[string]int{}
	for i, inc := range existing {
		keys[i], _ = entityKey(inc.Entities)
		inc.AlertIDs = slices.Clone(inc.AlertIDs)
		inc.Entities = slices.Clone(inc.Entities)
		inc.Tactics = slices.Clone(inc.Tactics)
		inc.Techniques = slices.Clone(inc.Techniques)
		inc.Comments = slices.Clone(inc.Comments)
		out[i] = inc
		for _, id := range inc.AlertIDs {
			byAlert[id] = i
		}
	}
	sorted := slices.Clone(alerts)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].FirstEvent.Equal(sorted[j].FirstEvent) {
			return sorted[i].FirstEvent.Before(sorted[j].FirstEvent)
		}
		return sorted[i].ID < sorted[j].ID
	})
	for _, a := range sorted {
		if i, ok := byAlert[a.ID]; ok {
			out[i].absorb(a)
			continue
		}
		key, set := entityKey(a.Entities)
		target := -1
		if key != "" {
			for i := range out {
				inc := &out[i]
				if inc.Status == IncidentClosed || inc.Tenant != a.Tenant || inc.RuleID != a.RuleID {
					continue
				}
				if a.FirstEvent.Before(inc.FirstAlert) || a.FirstEvent.Sub(inc.FirstAlert) > IncidentLookback {
					continue
				}
				if keys[i] == key && (target < 0 || inc.FirstAlert.Before(out[target].FirstAlert)) {
					target = i
				}
			}
		}
		if target < 0 {
			idKey := key
			if idKey == "" {
				idKey = "alert=" + a.ID
			}
			out = append(out, Incident{
				ID: incidentID(a.Tenant, a.RuleID, idKey, a.ID), Tenant: a.Tenant, RuleID: a.RuleID, Title: a.Title,
				Severity: a.Severity, Entities: set, FirstAlert: a.FirstEvent, LastAlert: a.FirstEvent, Status: IncidentNew,
			})
			keys = append(keys, key)
			target = len(out) - 1
		}
		out[target].AlertIDs = append(out[target].AlertIDs, a.ID)
		out[target].absorb(a)
		byAlert[a.ID] = target
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].FirstAlert.Equal(out[j].FirstAlert) {
			return out[i].FirstAlert.Before(out[j].FirstAlert)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// absorb updates the incident's summary from one of its alerts.
func (inc *Incident) absorb(a schema.Alert) {
	if severityRank(a.Severity) > severityRank(inc.Severity) {
		inc.Severity = a.Severity
	}
	for _, t := range a.Tactics {
		if !slices.Contains(inc.Tactics, t) {
			inc.Tactics = append(inc.Tactics, t)
		}
	}
	for _, t := range a.Techniques {
		if !slices.Contains(inc.Techniques, t) {
			inc.Techniques = append(inc.Techniques, t)
		}
	}
	if a.FirstEvent.After(inc.LastAlert) {
		inc.LastAlert = a.FirstEvent
	}
}

// ErrIncidentClosed is returned when a closed incident is changed.
var ErrIncidentClosed = errors.New("incident is closed")

// Assign sets the owner; a new incident becomes active.
func (inc *Incident) Assign(owner string, at time.Time) error {
	if inc.Status == IncidentClosed {
		return fmt.Errorf("assign %s: %w", inc.ID, ErrIncidentClosed)
	}
	if strings.TrimSpace(owner) == "" {
		return fmt.Errorf("assign %s: empty owner", inc.ID)
	}
	inc.Owner = owner
	inc.Status = IncidentActive
	inc.Updated = at
	return nil
}

// Activate marks a new incident as being worked on.
func (inc *Incident) Activate(at time.Time) error {
	if inc.Status == IncidentClosed {
		return fmt.Errorf("activate %s: %w", inc.ID, ErrIncidentClosed)
	}
	inc.Status = IncidentActive
	inc.Updated = at
	return nil
}

// AddComment appends a comment; closed incidents take comments too (the reasoning after closing matters).
func (inc *Incident) AddComment(author, text string, at time.Time) error {
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("comment on %s: empty text", inc.ID)
	}
	inc.Comments = append(inc.Comments, Comment{Author: author, Time: at, Text: text})
	inc.Updated = at
	return nil
}

// Close closes the incident with a classification; later matching alerts start a new incident.
func (inc *Incident) Close(classification string, at time.Time) error {
	if inc.Status == IncidentClosed {
		return fmt.Errorf("close %s: %w", inc.ID, ErrIncidentClosed)
	}
	if strings.TrimSpace(classification) == "" {
		return fmt.Errorf("close %s: a classification is required", inc.ID)
	}
	inc.Status = IncidentClosed
	inc.Classification = classification
	inc.Updated = at
	return nil
}
