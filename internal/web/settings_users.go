package web

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/castwatch/castwatch/internal/auth"
	"github.com/castwatch/castwatch/internal/config"
)

// usersPage is the admin page listing users and API tokens.
const usersPage = "/settings/users"

// settingsUsersData is the data of templates/pages/settings_users.html.
type settingsUsersData struct {
	Base
	Users  []auth.User
	Tokens []auth.Token
	Roles  []auth.Role
	// Notice reports the last change; Error a refused one.
	Notice, Error string
	// NewToken is a token just created, shown this once.
	NewToken     string
	NewTokenName string
}

// registerUserSettings adds the admin page for users and API tokens. Every route needs the admin role.
func (s *server) registerUserSettings(mux *http.ServeMux) {
	s.handleAs(mux, auth.RoleAdmin, "GET "+usersPage, s.handleUsersPage)
	s.handleAs(mux, auth.RoleAdmin, "POST "+usersPage, s.handleAddUser)
	s.handleAs(mux, auth.RoleAdmin, "POST "+usersPage+"/{name}/role", s.handleUserRole)
	s.handleAs(mux, auth.RoleAdmin, "POST "+usersPage+"/{name}/password", s.handleUserPassword)
	s.handleAs(mux, auth.RoleAdmin, "POST "+usersPage+"/{name}/delete", s.handleDeleteUser)
	s.handleAs(mux, auth.RoleAdmin, "POST /settings/tokens", s.handleCreateToken)
	s.handleAs(mux, auth.RoleAdmin, "POST /settings/tokens/{id}/revoke", s.handleRevokeToken)
}

func (s *server) handleUsersPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.renderUsers(w, r, http.StatusOK, settingsUsersData{Notice: q.Get("done")})
}

// renderUsers fills the lists into data and renders the page.
func (s *server) renderUsers(w http.ResponseWriter, r *http.Request, status int, data settingsUsersData) {
	data.Base, data.Roles = s.base(r, "settings"), auth.Roles
	var err error
	if data.Users, err = s.auth.Users(r.Context()); err == nil {
		data.Tokens, err = s.auth.Tokens(r.Context())
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "settings: users", "error", err)
		data.Error, status = "Could not load users and tokens; see the server log.", http.StatusInternalServerError
	}
	s.renderPage(w, r, status, "settings_users", data)
}

// userChangeDone answers a change: back to the page with a notice, or the page with the error (400 for a refused
// change such as a short password or the last admin, 500 otherwise).
func (s *server) userChangeDone(w http.ResponseWriter, r *http.Request, err error, notice string) {
	if err == nil {
		http.Redirect(w, r, usersPage+"?done="+url.QueryEscape(notice), http.StatusSeeOther)
		return
	}
	status := http.StatusBadRequest
	if !isUserError(err) {
		s.log.ErrorContext(r.Context(), "settings: change", "error", err)
		status, err = http.StatusInternalServerError, errors.New("the change failed; see the server log")
	}
	s.renderUsers(w, r, status, settingsUsersData{Error: err.Error()})
}

// isUserError reports an error caused by the input, whose message is safe and useful to show.
func isUserError(err error) bool {
	var plain interface{ Unwrap() error }
	return !errors.As(err, &plain) || errors.Is(err, auth.ErrUserExists) || errors.Is(err, auth.ErrUserNotFound) ||
		errors.Is(err, auth.ErrLastAdmin) || errors.Is(err, auth.ErrTokenNotFound)
}

func (s *server) handleAddUser(w http.ResponseWriter, r *http.Request) {
	role, err := auth.ParseRole(r.PostFormValue("role"))
	if err == nil {
		err = s.auth.AddUser(r.Context(), r.PostFormValue("name"), role, r.PostFormValue("password"))
	}
	s.userChangeDone(w, r, err, "added user "+r.PostFormValue("name"))
}

func (s *server) handleUserRole(w http.ResponseWriter, r *http.Request) {
	role, err := auth.ParseRole(r.PostFormValue("role"))
	if err == nil {
		err = s.auth.SetRole(r.Context(), r.PathValue("name"), role)
	}
	s.userChangeDone(w, r, err, r.PathValue("name")+" is now "+string(role))
}

func (s *server) handleUserPassword(w http.ResponseWriter, r *http.Request) {
	err := s.auth.SetPassword(r.Context(), r.PathValue("name"), r.PostFormValue("password"))
	s.userChangeDone(w, r, err, "password of "+r.PathValue("name")+" changed")
}

func (s *server) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	err := s.auth.DeleteUser(r.Context(), r.PathValue("name"))
	s.userChangeDone(w, r, err, "deleted user "+r.PathValue("name"))
}

// handleCreateToken creates an API token and shows it on the page this once (never in a URL).
func (s *server) handleCreateToken(w http.ResponseWriter, r *http.Request) {
	role, err := auth.ParseRole(r.PostFormValue("role"))
	var ttl time.Duration
	if v := r.PostFormValue("expires"); err == nil && v != "" {
		if ttl, err = config.ParseDuration(v); err == nil && ttl <= 0 {
			err = errors.New("expiry must be positive")
		}
	}
	var token string
	var t auth.Token
	if err == nil {
		token, t, err = s.auth.CreateToken(r.Context(), r.PostFormValue("name"), role, ttl, userFrom(r).Name)
	}
	if err != nil {
		s.userChangeDone(w, r, err, "")
		return
	}
	s.renderUsers(w, r, http.StatusOK, settingsUsersData{NewToken: token, NewTokenName: t.Name,
		Notice: "created API token " + t.Name})
}

func (s *server) handleRevokeToken(w http.ResponseWriter, r *http.Request) {
	err := s.auth.RevokeToken(r.Context(), r.PathValue("id"))
	s.userChangeDone(w, r, err, "revoked API token "+r.PathValue("id"))
}
