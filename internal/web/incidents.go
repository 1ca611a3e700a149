package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/castwatch/castwatch/internal/auth"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// Limits of the incident endpoints.
const (
	incidentLimit    = 100
	maxIncidentLimit = 1000
	// maxBodyBytes caps the JSON body of a change request.
	maxBodyBytes = 64 << 10
)

// incidentStates are the states an incident may be set to.
var incidentStates = []string{store.IncidentNew, store.IncidentActive, store.IncidentClosed}

// alertStatuses are the statuses an analyst may give an alert ("superseded" is the engine's own).
var alertStatuses = []string{"new", "active", "closed"}

// registerIncidentRoutes adds the incident API and the alert status endpoint to mux.
func (s *server) registerIncidentRoutes(mux *http.ServeMux) {
	s.handleAPI(mux, "GET /api/v1/incidents", s.handleIncidents)
	s.handleAPI(mux, "GET /api/v1/incidents/{id}", s.handleIncident)
	s.handleAPIAs(mux, auth.RoleAnalyst, "POST /api/v1/incidents/{id}", s.handleUpdateIncident)
	s.handleAPIAs(mux, auth.RoleAnalyst, "POST /api/v1/incidents/{id}/comments", s.handleAddComment)
	s.handleAPIAs(mux, auth.RoleAnalyst, "POST /api/v1/alerts/{id}/status", s.handleAlertStatus)
	s.handleAPIAs(mux, auth.RoleAnalyst, "POST /api/v1/alerts/status", s.handleBulkAlertStatus)
	s.handleAPIAs(mux, auth.RoleAnalyst, "POST /api/v1/incidents/state", s.handleBulkIncidentState)
}

// incidentsResponse is the body of GET /api/v1/incidents.
type incidentsResponse struct {
	Incidents []store.Incident `json:"incidents"`
}

// handleIncidents lists incidents, latest last alert first; tenant, state and limit narrow the list.
func (s *server) handleIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.IncidentFilter{Tenant: q.Get("tenant"), State: q.Get("state"), Limit: incidentLimit}
	if f.State != "" && !slices.Contains(incidentStates, f.State) {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{stateMessage(f.State)})
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxIncidentLimit {
			s.writeJSON(w, r, http.StatusBadRequest, errorBody{fmt.Sprintf("limit must be a number from 1 to %d", maxIncidentLimit)})
			return
		}
		f.Limit = n
	}
	incs, err := s.store.Incidents(r.Context(), f)
	if err != nil {
		s.log.ErrorContext(r.Context(), "api: incidents", "error", err)
		s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"could not load incidents"})
		return
	}
	if incs == nil {
		incs = []store.Incident{}
	}
	s.writeJSON(w, r, http.StatusOK, incidentsResponse{Incidents: incs})
}

// handleIncident answers one incident with its comments.
func (s *server) handleIncident(w http.ResponseWriter, r *http.Request) {
	inc, err := s.store.Incident(r.Context(), r.PathValue("id"))
	if err != nil {
		s.incidentError(w, r, "api: incident", err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, inc)
}

// handleUpdateIncident applies a JSON {"state", "owner", "classification"} change and answers the incident.
func (s *server) handleUpdateIncident(w http.ResponseWriter, r *http.Request) {
	var u store.IncidentUpdate
	if !s.decodeBody(w, r, &u) {
		return
	}
	if u == (store.IncidentUpdate{}) {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{"nothing to change: set state, owner or classification"})
		return
	}
	if u.State != "" && !slices.Contains(incidentStates, u.State) {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{stateMessage(u.State)})
		return
	}
	inc, err := s.store.UpdateIncident(r.Context(), r.PathValue("id"), u)
	if err != nil {
		s.incidentError(w, r, "api: update incident", err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, inc)
}

// commentRequest is the body of POST /api/v1/incidents/{id}/comments.
type commentRequest struct {
	Author string `json:"author"`
	Text   string `json:"text"`
}

// handleAddComment adds a comment and answers the incident with all its comments.
func (s *server) handleAddComment(w http.ResponseWriter, r *http.Request) {
	var c commentRequest
	if !s.decodeBody(w, r, &c) {
		return
	}
	id := r.PathValue("id")
	if c.Author == "" {
		c.Author = userFrom(r).Name
	}
	err := s.store.AddComment(r.Context(), id, store.IncidentComment{Author: c.Author, Text: c.Text, Time: s.now().UTC()})
	if err != nil {
		s.incidentError(w, r, "api: comment", err)
		return
	}
	inc, err := s.store.Incident(r.Context(), id)
	if err != nil {
		s.incidentError(w, r, "api: comment", err)
		return
	}
	s.writeJSON(w, r, http.StatusCreated, inc)
}

// alertStatusRequest is the body of POST /api/v1/alerts/{id}/status.
type alertStatusRequest struct {
	Status string `json:"status"`
}

// alertStatusResponse answers POST /api/v1/alerts/{id}/status; Changed is false when the alert had that status.
type alertStatusResponse struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Changed bool   `json:"changed"`
}

// handleAlertStatus sets one alert's status.
func (s *server) handleAlertStatus(w http.ResponseWriter, r *http.Request) {
	var req alertStatusRequest
	if !s.decodeBody(w, r, &req) {
		return
	}
	if !slices.Contains(alertStatuses, req.Status) {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{fmt.Sprintf("invalid alert status %q (use %s)", req.Status,
			strings.Join(alertStatuses, ", "))})
		return
	}
	id := r.PathValue("id")
	res, err := s.store.Query(r.Context(), `SELECT count(*) AS n FROM alerts WHERE id = ?`, id)
	if err != nil || len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		s.log.ErrorContext(r.Context(), "api: alert status", "error", err)
		s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"could not load the alert"})
		return
	}
	if n, _ := strconv.Atoi(fmt.Sprint(res.Rows[0][0])); n == 0 {
		s.writeJSON(w, r, http.StatusNotFound, errorBody{"alert not found"})
		return
	}
	changed, err := s.store.SetAlertStatus(r.Context(), []string{id}, req.Status)
	if err != nil {
		s.log.ErrorContext(r.Context(), "api: alert status", "error", err)
		s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"could not set the alert status"})
		return
	}
	s.writeJSON(w, r, http.StatusOK, alertStatusResponse{ID: id, Status: req.Status, Changed: changed > 0})
}

// maxBulkIDs caps the ids of one bulk change.
const maxBulkIDs = 500

// bulkAlertStatusRequest is the body of POST /api/v1/alerts/status.
type bulkAlertStatusRequest struct {
	IDs    []string `json:"ids"`
	Status string   `json:"status"`
}

// bulkResponse answers a bulk change: how many of the given items changed.
type bulkResponse struct {
	IDs     []string `json:"ids"`
	Changed int      `json:"changed"`
}

// checkBulkIDs answers 400 and returns false unless ids holds 1 to maxBulkIDs distinct, non-empty ids.
func (s *server) checkBulkIDs(w http.ResponseWriter, r *http.Request, ids []string) bool {
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			s.writeJSON(w, r, http.StatusBadRequest, errorBody{fmt.Sprintf("ids: empty or repeated id %q", id)})
			return false
		}
		seen[id] = true
	}
	if len(ids) == 0 || len(ids) > maxBulkIDs {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{fmt.Sprintf("ids must list 1 to %d ids", maxBulkIDs)})
		return false
	}
	return true
}

// handleBulkAlertStatus sets the status of several alerts; an unknown id refuses the whole change (404).
func (s *server) handleBulkAlertStatus(w http.ResponseWriter, r *http.Request) {
	var req bulkAlertStatusRequest
	if !s.decodeBody(w, r, &req) || !s.checkBulkIDs(w, r, req.IDs) {
		return
	}
	if !slices.Contains(alertStatuses, req.Status) {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{fmt.Sprintf("invalid alert status %q (use %s)", req.Status,
			strings.Join(alertStatuses, ", "))})
		return
	}
	found, err := s.store.Alerts(r.Context(), store.AlertFilter{IDs: req.IDs})
	if err == nil && len(found) != len(req.IDs) {
		var missing []string
		for _, id := range req.IDs {
			if !slices.ContainsFunc(found, func(a schema.Alert) bool { return a.ID == id }) {
				missing = append(missing, id)
			}
		}
		s.writeJSON(w, r, http.StatusNotFound, errorBody{"alerts not found: " + strings.Join(missing, ", ")})
		return
	}
	changed := 0
	if err == nil {
		changed, err = s.store.SetAlertStatus(r.Context(), req.IDs, req.Status)
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "api: bulk alert status", "error", err)
		s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"could not set the alert status"})
		return
	}
	s.writeJSON(w, r, http.StatusOK, bulkResponse{IDs: req.IDs, Changed: changed})
}

// bulkIncidentRequest is the body of POST /api/v1/incidents/state.
type bulkIncidentRequest struct {
	IDs []string `json:"ids"`
	store.IncidentUpdate
}

// handleBulkIncidentState applies one state/owner/classification change to several incidents. Every id is checked
// first: an unknown one refuses the whole change (404).
func (s *server) handleBulkIncidentState(w http.ResponseWriter, r *http.Request) {
	var req bulkIncidentRequest
	if !s.decodeBody(w, r, &req) || !s.checkBulkIDs(w, r, req.IDs) {
		return
	}
	if req.IncidentUpdate == (store.IncidentUpdate{}) {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{"nothing to change: set state, owner or classification"})
		return
	}
	if req.State != "" && !slices.Contains(incidentStates, req.State) {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{stateMessage(req.State)})
		return
	}
	before := map[string]store.Incident{}
	for _, id := range req.IDs {
		inc, err := s.store.Incident(r.Context(), id)
		if err != nil {
			s.incidentError(w, r, "api: bulk incident state", fmt.Errorf("%s: %w", id, err))
			return
		}
		before[id] = inc
	}
	changed := 0
	for _, id := range req.IDs {
		inc, err := s.store.UpdateIncident(r.Context(), id, req.IncidentUpdate)
		if err != nil {
			s.incidentError(w, r, "api: bulk incident state", err)
			return
		}
		if b := before[id]; inc.State != b.State || inc.Owner != b.Owner || inc.Classification != b.Classification {
			changed++
		}
	}
	s.writeJSON(w, r, http.StatusOK, bulkResponse{IDs: req.IDs, Changed: changed})
}

// decodeBody reads a JSON object into v, answering 400 and returning false when it is not one.
func (s *server) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{"invalid JSON body: " + err.Error()})
		return false
	}
	if dec.More() {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{"invalid JSON body: more than one value"})
		return false
	}
	return true
}

// incidentError answers a store error: 404 for an unknown incident, 400 for a rejected change, 500 otherwise.
func (s *server) incidentError(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, store.ErrIncidentNotFound):
		s.writeJSON(w, r, http.StatusNotFound, errorBody{"incident not found"})
	case errors.Is(err, store.ErrInvalidIncidentState):
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{"invalid change: a classification needs state closed"})
	case errors.Is(err, store.ErrEmptyComment):
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{"comment text is empty"})
	default:
		s.log.ErrorContext(r.Context(), what, "error", err)
		s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"could not load or change the incident"})
	}
}

func stateMessage(state string) string {
	return fmt.Sprintf("invalid state %q (use %s)", state, strings.Join(incidentStates, ", "))
}
