package web

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/ueba"
)

// riskStore is what the risk pages need from the store: the behaviour analytics' sessions. Stores without
// behaviour analytics leave the pages empty with a note.
type riskStore interface {
	RiskSessions(ctx context.Context, f store.RiskFilter) ([]ueba.Session, error)
	RiskSession(ctx context.Context, id string) (ueba.Session, error)
}

// riskPageLimit caps the sessions the risk list shows.
const riskPageLimit = 200

// riskListData is the risk list page.
type riskListData struct {
	Base
	Ranges    []rangeOption
	Window    window
	Notable   bool
	Sessions  []ueba.Session
	Available bool
	Error     string
}

// riskSessionData is one session's timeline.
type riskSessionData struct {
	Base
	Session ueba.Session
	// Running is the session score after each finding, in timeline order.
	Running []int
}

func (s *server) registerRiskPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /risk", s.handleRiskList)
	mux.HandleFunc("GET /risk/{id}", s.handleRiskSession)
	s.handleAPI(mux, "GET /api/v1/risk/sessions", s.handleRiskSessionsAPI)
	s.handleAPI(mux, "GET /api/v1/risk/sessions/{id}", s.handleRiskSessionAPI)
}

// riskSessions loads the sessions of the window: notable ones only unless all is asked for.
func (s *server) riskSessions(ctx context.Context, win window, user string, notableOnly bool) ([]ueba.Session, bool, error) {
	rs, ok := s.store.(riskStore)
	if !ok {
		return nil, false, nil
	}
	out, err := rs.RiskSessions(ctx, store.RiskFilter{User: user, NotableOnly: notableOnly, Since: win.From, Limit: riskPageLimit})
	return out, true, err
}

func (s *server) handleRiskList(w http.ResponseWriter, r *http.Request) {
	win, _ := s.pageWindow(r)
	notable := r.URL.Query().Get("all") == ""
	p := riskListData{Base: s.base(r, "risk"), Ranges: ranges, Window: win, Notable: notable}
	var err error
	p.Sessions, p.Available, err = s.riskSessions(r.Context(), win, r.URL.Query().Get("user"), notable)
	status := http.StatusOK
	if err != nil {
		s.log.ErrorContext(r.Context(), "risk sessions", "error", err)
		p.Error = "Could not load risk sessions; the server log has the details."
		status = http.StatusInternalServerError
	}
	s.renderPage(w, r, status, "risk", p)
}

func (s *server) handleRiskSession(w http.ResponseWriter, r *http.Request) {
	sess, status, err := s.riskSession(r)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	p := riskSessionData{Base: s.base(r, "risk"), Session: sess}
	total := 0
	for _, f := range sess.Findings {
		total += f.Points
		p.Running = append(p.Running, total)
	}
	s.renderPage(w, r, http.StatusOK, "risk_session", p)
}

// riskSession loads the session named in the path, with the status to answer when it cannot.
func (s *server) riskSession(r *http.Request) (ueba.Session, int, error) {
	rs, ok := s.store.(riskStore)
	if !ok {
		return ueba.Session{}, http.StatusNotFound, errors.New("behaviour analytics are not available on this store")
	}
	sess, err := rs.RiskSession(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return sess, http.StatusNotFound, errors.New("risk session not found")
	case err != nil:
		s.log.ErrorContext(r.Context(), "risk session", "error", err)
		return sess, http.StatusInternalServerError, errors.New("could not load the risk session")
	}
	return sess, http.StatusOK, nil
}

// riskSessionsResponse is the body of GET /api/v1/risk/sessions.
type riskSessionsResponse struct {
	Range    string         `json:"range"`
	From     time.Time      `json:"from"`
	Sessions []ueba.Session `json:"sessions"`
}

func (s *server) handleRiskSessionsAPI(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	win, err := resolveRange(q.Get("range"), s.now())
	if err != nil {
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{err.Error()})
		return
	}
	sessions, _, err := s.riskSessions(r.Context(), win, q.Get("user"), q.Get("notable") != "false")
	if err != nil {
		s.log.ErrorContext(r.Context(), "api: risk sessions", "error", err)
		s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"could not load risk sessions"})
		return
	}
	if sessions == nil {
		sessions = []ueba.Session{}
	}
	s.writeJSON(w, r, http.StatusOK, riskSessionsResponse{Range: win.Range.Name, From: win.From, Sessions: sessions})
}

func (s *server) handleRiskSessionAPI(w http.ResponseWriter, r *http.Request) {
	sess, status, err := s.riskSession(r)
	if err != nil {
		s.writeJSON(w, r, status, errorBody{err.Error()})
		return
	}
	s.writeJSON(w, r, http.StatusOK, sess)
}
