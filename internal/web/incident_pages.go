package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// Choices of the incident pages.
var (
	incidentSorts = []string{store.IncidentSortLast, store.IncidentSortSeverity, store.IncidentSortCreated}
	// classifications are Sentinel's incident classifications.
	classifications = []string{"true_positive", "benign_positive", "false_positive", store.ClassificationUndetermined}
)

// incidentsPage is what incidents.html renders.
type incidentsPage struct {
	Base
	Ranges          []rangeOption
	Window          window
	Q               listQuery
	Incidents       []store.Incident
	Pager           pager
	States          []string
	Severities      []string
	Sorts           []string
	Classifications []string
	Notice          string
	Error           string
}

// incidentFilter turns the incidents page query into a store filter: incidents with alerts in the range.
func incidentFilter(q url.Values, win window) (store.IncidentFilter, error) {
	f := store.IncidentFilter{Since: win.From, Until: win.To, Tenant: q.Get("tenant"), State: q.Get("state"),
		Severity: q.Get("severity"), Owner: q.Get("owner"), Sort: q.Get("sort")}
	for _, err := range []error{choiceErr("state", f.State, incidentStates), choiceErr("severity", f.Severity, severities),
		choiceErr("sort", f.Sort, incidentSorts)} {
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

// handleIncidentsPage lists incidents with filters, sort and pages.
func (t *triagePages) handleIncidentsPage(w http.ResponseWriter, r *http.Request) {
	win, notice := t.pageWindow(r)
	q := r.URL.Query()
	p := incidentsPage{Base: t.base(r, "incidents", "triage.js"), Ranges: ranges, Window: win, Q: listQuery{Values: q},
		States: incidentStates, Severities: severities, Sorts: incidentSorts, Classifications: classifications,
		Notice: notice}
	f, err := incidentFilter(q, win)
	if err == nil {
		p.Q.Page, err = parsePage(q.Get("page"))
	}
	if err != nil {
		p.Error = err.Error()
		t.renderPage(w, r, http.StatusBadRequest, "incidents", p)
		return
	}
	f.Offset, f.Limit = (p.Q.Page-1)*pageSize, pageSize+1
	incs, err := t.store.Incidents(r.Context(), f)
	if err != nil {
		t.log.ErrorContext(r.Context(), "incidents page", "error", err)
		p.Error = "Could not load incidents from the store; the server log has the details."
		t.renderPage(w, r, http.StatusInternalServerError, "incidents", p)
		return
	}
	p.Pager = newPager("/incidents", p.Q, len(incs))
	p.Incidents = incs[:min(len(incs), pageSize)]
	t.renderPage(w, r, http.StatusOK, "incidents", p)
}

// incidentPage is what incident.html renders.
type incidentPage struct {
	Base
	Incident        store.Incident
	Alerts          []schema.Alert
	Missing         []string
	Techniques      []techniqueRef
	Tactics         []string
	States          []string
	Classifications []string
	Error           string
}

// handleIncidentPage shows one incident: its alerts in time order, entities, techniques, triage form and comments.
func (t *triagePages) handleIncidentPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p := incidentPage{Base: t.base(r, "incidents", "triage.js"), States: incidentStates, Classifications: classifications}
	inc, err := t.store.Incident(r.Context(), id)
	if errors.Is(err, store.ErrIncidentNotFound) {
		p.Error = fmt.Sprintf("No incident with id %q.", id)
		t.renderPage(w, r, http.StatusNotFound, "incident", p)
		return
	}
	var alerts []schema.Alert
	if err == nil {
		alerts, err = t.store.Alerts(r.Context(), store.AlertFilter{IDs: inc.AlertIDs, Sort: store.AlertSortTime})
	}
	if err != nil {
		t.log.ErrorContext(r.Context(), "incident page", "id", id, "error", err)
		p.Error = "Could not load the incident from the store; the server log has the details."
		t.renderPage(w, r, http.StatusInternalServerError, "incident", p)
		return
	}
	slices.Reverse(alerts) // the timeline reads oldest first
	p.Incident, p.Alerts = inc, alerts
	for _, aid := range inc.AlertIDs {
		if !slices.ContainsFunc(alerts, func(a schema.Alert) bool { return a.ID == aid }) {
			p.Missing = append(p.Missing, aid)
		}
	}
	p.Techniques = techniqueRefs(inc.Techniques)
	p.Tactics = tacticNames(inc.Tactics)
	t.renderPage(w, r, http.StatusOK, "incident", p)
}
