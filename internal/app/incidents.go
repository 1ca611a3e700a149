package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/castwatch/castwatch/internal/detect"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// groupIncidents adds freshly stored alerts to incidents and logs how many incidents are new.
func (a *App) groupIncidents(ctx context.Context, alerts []schema.Alert) error {
	n, err := GroupIncidents(ctx, a.store, alerts)
	if err != nil {
		return err
	}
	if n > 0 {
		a.log.Info("new incidents", "count", n)
	}
	return nil
}

// GroupIncidents groups alerts into incidents with detect.Group and saves the incidents they changed or started.
// The incidents an alert can join are read from st: the open incidents whose last alert is within
// detect.IncidentLookback of the earliest alert, and every incident (closed ones too) that already holds one of
// the alerts, so an alert the engine returns again stays in its incident. Incident ids are deterministic, so
// grouping the same alerts again adds and changes nothing. It returns how many incidents were new.
func GroupIncidents(ctx context.Context, st store.Store, alerts []schema.Alert) (int, error) {
	if len(alerts) == 0 {
		return 0, nil
	}
	ids := make([]string, 0, len(alerts))
	earliest := alerts[0].FirstEvent
	for _, al := range alerts {
		ids = append(ids, al.ID)
		if al.FirstEvent.Before(earliest) {
			earliest = al.FirstEvent
		}
	}
	holding, err := st.Incidents(ctx, store.IncidentFilter{AlertIDs: ids})
	if err != nil {
		return 0, fmt.Errorf("incidents holding the alerts: %w", err)
	}
	open, err := st.Incidents(ctx, store.IncidentFilter{OpenOnly: true, Since: earliest.Add(-detect.IncidentLookback)})
	if err != nil {
		return 0, fmt.Errorf("open incidents: %w", err)
	}
	seen := map[string]bool{}
	var existing []detect.Incident
	for _, inc := range slices.Concat(holding, open) {
		if !seen[inc.ID] {
			seen[inc.ID] = true
			existing = append(existing, toDetect(inc))
		}
	}
	grouped := detect.Group(alerts, existing)
	// Only incidents holding one of the alerts can have changed.
	var changed []store.Incident
	for _, inc := range grouped {
		if slices.ContainsFunc(inc.AlertIDs, func(id string) bool { return slices.Contains(ids, id) }) {
			changed = append(changed, fromDetect(inc))
		}
	}
	n, err := st.SaveIncidents(ctx, changed)
	if err != nil {
		return 0, fmt.Errorf("save incidents: %w", err)
	}
	return n, nil
}

// toDetect converts a stored incident for detect.Group.
func toDetect(inc store.Incident) detect.Incident {
	return detect.Incident{
		ID: inc.ID, Tenant: inc.Tenant, RuleID: inc.RuleID, Title: inc.Title, Severity: inc.Severity,
		Tactics: inc.Tactics, Techniques: inc.Techniques, Entities: inc.Entities, AlertIDs: inc.AlertIDs,
		FirstAlert: inc.FirstAlert, LastAlert: inc.LastAlert, Status: inc.State, Owner: inc.Owner,
		Classification: inc.Classification, Updated: inc.Updated,
	}
}

// fromDetect converts a grouped incident for the store; the store keeps the triage fields of stored incidents.
func fromDetect(inc detect.Incident) store.Incident {
	return store.Incident{
		ID: inc.ID, Tenant: inc.Tenant, RuleID: inc.RuleID, Title: inc.Title, Severity: inc.Severity,
		State: inc.Status, Owner: inc.Owner, Classification: inc.Classification,
		Tactics: inc.Tactics, Techniques: inc.Techniques, Entities: inc.Entities, AlertIDs: inc.AlertIDs,
		FirstAlert: inc.FirstAlert, LastAlert: inc.LastAlert, Updated: inc.Updated,
	}
}
