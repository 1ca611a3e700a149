package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/castwatch/castwatch/internal/detect"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// pageSize is how many rows the alerts and incidents lists show per page.
const pageSize = 50

// maxPage bounds the page parameter, so an offset never grows past what a person pages through.
const maxPage = 10000

// RuleInfo describes one loaded detection rule for the alert and ATT&CK pages.
type RuleInfo struct {
	ID, Version, Title, Description, Severity string
	Tactics, Techniques                       []string
}

// RuleCatalogue returns an Options.Rules function listing rules.
func RuleCatalogue(rules []*detect.Rule) func() []RuleInfo {
	out := make([]RuleInfo, 0, len(rules))
	for _, r := range rules {
		out = append(out, RuleInfo{ID: r.ID, Version: r.Version, Title: r.Title, Description: r.Description,
			Severity: r.Severity, Tactics: r.Tactics, Techniques: r.Techniques})
	}
	return func() []RuleInfo { return out }
}

// triagePages serves the alerts, incidents and ATT&CK pages.
type triagePages struct {
	*server
	rules func() []RuleInfo
}

// registerTriagePages adds the alerts, incidents and ATT&CK pages.
func (s *server) registerTriagePages(mux *http.ServeMux, opts Options) {
	t := &triagePages{server: s, rules: opts.Rules}
	mux.HandleFunc("GET /alerts", t.handleAlertsPage)
	mux.HandleFunc("GET /alerts/{id}", t.handleAlertPage)
	mux.HandleFunc("GET /incidents", t.handleIncidentsPage)
	mux.HandleFunc("GET /incidents/{id}", t.handleIncidentPage)
	mux.HandleFunc("GET /attack", t.handleAttackPage)
}

func (t *triagePages) loadRules() []RuleInfo {
	if t.rules == nil {
		return nil
	}
	return t.rules()
}

// rule returns the loaded rule with id, or nil.
func (t *triagePages) rule(id string) *RuleInfo {
	for _, r := range t.loadRules() {
		if r.ID == id {
			return &r
		}
	}
	return nil
}

// Choices of the list filters.
var (
	severities  = []string{"critical", "high", "medium", "low", "informational"}
	alertSorts  = []string{store.AlertSortTime, store.AlertSortSeverity, store.AlertSortRule}
	statusOpen  = "open"
	alertStates = []string{statusOpen, "new", "active", "closed", "superseded"}
)

// listQuery is a list page's parsed query: the form values to show again and the links that keep them.
type listQuery struct {
	Values url.Values
	Page   int
}

// Get returns a parameter's value.
func (q listQuery) Get(k string) string { return q.Values.Get(k) }

// pageURL is the list URL with the same filters at page n.
func (q listQuery) pageURL(path string, n int) string {
	v := url.Values{}
	for k, vs := range q.Values {
		if k != "page" && len(vs) > 0 && vs[0] != "" {
			v.Set(k, vs[0])
		}
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// pager links the previous and next pages of a list.
type pager struct {
	Page      int
	From, To  int
	Prev      string
	Next      string
	Truncated bool
}

// newPager builds the links of page q.Page; got holds up to pageSize+1 rows (one more means a next page).
func newPager(path string, q listQuery, got int) pager {
	p := pager{Page: q.Page, From: (q.Page-1)*pageSize + 1, To: (q.Page-1)*pageSize + min(got, pageSize)}
	if got == 0 {
		p.From = 0
	}
	if q.Page > 1 {
		p.Prev = q.pageURL(path, q.Page-1)
	}
	if got > pageSize && q.Page < maxPage {
		p.Next = q.pageURL(path, q.Page+1)
	}
	return p
}

// parsePage reads the page parameter (1 when absent).
func parsePage(v string) (int, error) {
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPage {
		return 0, fmt.Errorf("page must be a number from 1 to %d", maxPage)
	}
	return n, nil
}

// choiceErr checks an optional choice parameter.
func choiceErr(name, v string, allowed []string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("invalid %s %q (use %s)", name, v, strings.Join(allowed, ", "))
}

// alertsPage is what alerts.html renders.
type alertsPage struct {
	Base
	Ranges     []rangeOption
	Window     window
	Q          listQuery
	Alerts     []schema.Alert
	Pager      pager
	Rules      []RuleInfo
	Severities []string
	Statuses   []string
	Sorts      []string
	Notice     string
	Error      string
}

// alertFilter turns the alerts page query into a store filter; the error says which parameter is wrong.
func alertFilter(q url.Values, win window) (store.AlertFilter, error) {
	f := store.AlertFilter{From: win.From, To: win.To, Tenant: q.Get("tenant"), RuleID: q.Get("rule"),
		Severity: q.Get("severity"), Text: q.Get("q"), Sort: q.Get("sort"), Technique: q.Get("technique")}
	if f.Sort == "" {
		f.Sort = store.AlertSortTime
	}
	for _, err := range []error{choiceErr("severity", f.Severity, severities), choiceErr("status", q.Get("status"), alertStates),
		choiceErr("sort", q.Get("sort"), alertSorts)} {
		if err != nil {
			return f, err
		}
	}
	if f.Technique != "" && !techniqueID.MatchString(f.Technique) {
		return f, fmt.Errorf("invalid technique %q (use an id like T1566 or T1566.001)", f.Technique)
	}
	switch st := q.Get("status"); st {
	case "":
	case statusOpen:
		f.Statuses = []string{"new", "active"}
	default:
		f.Statuses = []string{st}
	}
	return f, nil
}

// handleAlertsPage lists alerts with filters, sort and pages.
func (t *triagePages) handleAlertsPage(w http.ResponseWriter, r *http.Request) {
	win, notice := t.pageWindow(r)
	q := r.URL.Query()
	p := alertsPage{Base: t.base(r, "alerts", "triage.js"), Ranges: ranges, Window: win, Q: listQuery{Values: q},
		Rules: t.loadRules(), Severities: severities, Statuses: alertStates, Sorts: alertSorts, Notice: notice}
	sort.Slice(p.Rules, func(i, j int) bool { return p.Rules[i].Title < p.Rules[j].Title })
	f, err := alertFilter(q, win)
	if err == nil {
		p.Q.Page, err = parsePage(q.Get("page"))
	}
	if err != nil {
		p.Error = err.Error()
		t.renderPage(w, r, http.StatusBadRequest, "alerts", p)
		return
	}
	f.Offset, f.Limit = (p.Q.Page-1)*pageSize, pageSize+1
	alerts, err := t.store.Alerts(r.Context(), f)
	if err != nil {
		t.log.ErrorContext(r.Context(), "alerts page", "error", err)
		p.Error = "Could not load alerts from the store; the server log has the details."
		t.renderPage(w, r, http.StatusInternalServerError, "alerts", p)
		return
	}
	p.Pager = newPager("/alerts", p.Q, len(alerts))
	p.Alerts = alerts[:min(len(alerts), pageSize)]
	t.renderPage(w, r, http.StatusOK, "alerts", p)
}

// alertPage is what alert.html renders.
type alertPage struct {
	Base
	Alert      schema.Alert
	Rule       *RuleInfo
	Tactics    []string
	Techniques []techniqueRef
	Events     []eventRow
	Incidents  []store.Incident
	Statuses   []string
	Error      string
}

// eventRow is one matched event as the alert page shows it.
type eventRow struct {
	ID, Table, Type, User, SrcIP, Sender, Subject, Outcome string
	Time                                                   string
	Recipients                                             []string
	// Details are the event's other non-empty fields, by name.
	Details [][2]string
}

// eventRows turns a snapshot into table rows.
func eventRows(evs []schema.Event) []eventRow {
	out := make([]eventRow, 0, len(evs))
	for _, ev := range evs {
		row := eventRow{ID: ev.ID, Table: ev.Table, Type: ev.EventType, User: firstOf(ev.UserEmail, ev.User),
			SrcIP: ev.SrcIP, Sender: ev.Sender, Subject: ev.Subject, Recipients: ev.Recipients,
			Outcome: strings.TrimSpace(strings.Join(nonEmpty(ev.Action, ev.Outcome), " / ")),
			Time:    ev.Time.UTC().Format("2006-01-02 15:04:05")}
		for _, kv := range [][2]string{{"activity", ev.Activity}, {"app", ev.App}, {"object", ev.Object},
			{"failure_reason", ev.FailureReason}, {"src_country", ev.SrcCountry}, {"direction", ev.Direction},
			{"url", ev.URL}, {"message_id", ev.MessageID}, {"policy", ev.Policy},
			{"attachments", strings.Join(ev.AttachmentNames, ", ")}, {"attachment_hashes", strings.Join(ev.AttachmentHashes, ", ")}} {
			if kv[1] != "" {
				row.Details = append(row.Details, kv)
			}
		}
		keys := make([]string, 0, len(ev.Fields))
		for k := range ev.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if v := fmt.Sprint(ev.Fields[k]); v != "" && ev.Fields[k] != nil {
				row.Details = append(row.Details, [2]string{k, v})
			}
		}
		out = append(out, row)
	}
	return out
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func nonEmpty(vals ...string) []string {
	var out []string
	for _, v := range vals {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// techniqueRefs names technique ids from the catalogue.
func techniqueRefs(ids []string) []techniqueRef {
	out := make([]techniqueRef, 0, len(ids))
	for _, id := range ids {
		out = append(out, techniqueRef{ID: id, Name: catalogue.techniqueName(id)})
	}
	return out
}

// tacticNames spells tactics as the matrix does ("InitialAccess" → "Initial Access"), keeping unknown ones.
func tacticNames(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if t, ok := catalogue.tacticByKey(k); ok {
			out = append(out, t.Name)
		} else {
			out = append(out, k)
		}
	}
	return out
}

// handleAlertPage shows one alert: why it fired, its matched events and its incidents.
func (t *triagePages) handleAlertPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p := alertPage{Base: t.base(r, "alerts", "triage.js"), Statuses: alertStatuses}
	alerts, err := t.store.Alerts(r.Context(), store.AlertFilter{IDs: []string{id}, WithEvents: true})
	if err == nil && len(alerts) == 1 {
		p.Incidents, err = t.store.Incidents(r.Context(), store.IncidentFilter{AlertIDs: []string{id}})
	}
	switch {
	case err != nil:
		t.log.ErrorContext(r.Context(), "alert page", "id", id, "error", err)
		p.Error = "Could not load the alert from the store; the server log has the details."
		t.renderPage(w, r, http.StatusInternalServerError, "alert", p)
		return
	case len(alerts) == 0:
		p.Error = fmt.Sprintf("No alert with id %q.", id)
		t.renderPage(w, r, http.StatusNotFound, "alert", p)
		return
	}
	p.Alert = alerts[0]
	p.Rule = t.rule(p.Alert.RuleID)
	p.Tactics = tacticNames(p.Alert.Tactics)
	p.Techniques = techniqueRefs(p.Alert.Techniques)
	p.Events = eventRows(p.Alert.Events)
	t.renderPage(w, r, http.StatusOK, "alert", p)
}
