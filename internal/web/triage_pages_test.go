package web

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/auth"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// triageRules is the rule catalogue the triage tests serve.
var triageRules = []RuleInfo{
	{ID: "r-logon", Version: "1.2.0", Title: "Failed logons from one address", Description: "Counts failed logons per source IP.",
		Severity: "high", Tactics: []string{"CredentialAccess"}, Techniques: []string{"T1110"}},
	{ID: "r-phish", Version: "2.0.0", Title: "Phishing delivered", Description: "A phishing message reached a mailbox.",
		Severity: "medium", Tactics: []string{"InitialAccess"}, Techniques: []string{"T1566", "T1566.001"}},
	{ID: "r-dlp", Version: "1.0.0", Title: "Large transfer", Description: "Data leaving in large messages.",
		Severity: "low", Tactics: []string{"Exfiltration"}, Techniques: []string{"T1030"}},
}

// triageEvent is a matched event of the fixture alerts.
func triageEvent(id string, at time.Time) schema.Event {
	return schema.Event{ID: id, Time: at, Tenant: "acme", Table: "Audit_CL", EventType: "failed-app-login",
		UserEmail: "ann@acme.example", SrcIP: "203.0.113.7", Outcome: "failure",
		Fields: map[string]any{"auditType": "Logon Authentication Failed"}}
}

// triageAlert builds a fixture alert whose last event is ago before testNow.
func triageAlert(id, rule, sev, status string, ago time.Duration, techniques []string, ents ...schema.Entity) schema.Alert {
	last := testNow.Add(-ago)
	return schema.Alert{ID: id, Tenant: "acme", RuleID: rule, RuleVersion: "1.0.0", Title: "Alert " + id, Severity: sev,
		Status: status, Techniques: techniques, Tactics: []string{"CredentialAccess"}, Entities: ents,
		EventIDs: []string{id + "-e1"}, FirstEvent: last.Add(-time.Minute), LastEvent: last, Created: last,
		Explanation: "why " + id}
}

// triageFixture: al-a (2h ago, 3 matched events), al-b (26 hours), al-c (3 days), al-d (20 days, outside 14d and 7d),
// and two incidents grouping al-a + al-b and al-c.
func triageFixture() ([]schema.Alert, []store.Incident) {
	ip := schema.Entity{Type: "ip", Value: "203.0.113.7"}
	ann := schema.Entity{Type: "mailbox", Value: "ann@acme.example"}
	a := triageAlert("al-a", "r-logon", "high", "new", 2*time.Hour, []string{"T1110"}, ip)
	a.EventIDs, a.EventCount = []string{"ev1", "ev2", "ev3"}, 3
	a.Events = []schema.Event{triageEvent("ev1", testNow.Add(-3*time.Hour)), triageEvent("ev2", testNow.Add(-150*time.Minute)),
		triageEvent("ev3", testNow.Add(-2*time.Hour))}
	alerts := []schema.Alert{
		a,
		triageAlert("al-b", "r-phish", "medium", "new", 26*time.Hour, []string{"T1566.001"}, ann),
		triageAlert("al-c", "r-phish", "low", "active", 72*time.Hour, []string{"T1566.002"}, schema.Entity{Type: "mailbox", Value: "bob@acme.example"}),
		triageAlert("al-d", "r-logon", "high", "closed", 20*24*time.Hour, []string{"T1110"}, ip),
	}
	incs := []store.Incident{
		{ID: "inc-1", Tenant: "acme", RuleID: "r-logon", Title: "Ann under attack", Severity: "high",
			Entities: []schema.Entity{ip, ann}, Techniques: []string{"T1110", "T1566.001"}, Tactics: []string{"CredentialAccess"},
			AlertIDs: []string{"al-a", "al-b"}, FirstAlert: alerts[1].LastEvent, LastAlert: alerts[0].LastEvent},
		{ID: "inc-2", Tenant: "acme", RuleID: "r-phish", Title: "Bob phished", Severity: "low", Owner: "carol",
			AlertIDs: []string{"al-c"}, FirstAlert: alerts[2].LastEvent, LastAlert: alerts[2].LastEvent},
	}
	return alerts, incs
}

// triageHarness serves the handler over a real in-memory DuckDB store holding triageFixture.
type triageHarness struct {
	ts *testServer
	h  http.Handler
	db *duckdb.DB
}

// newTriageHarness builds the harness; static overrides the served static files (nil: the test default).
func newTriageHarness(t *testing.T, static fs.FS) triageHarness {
	t.Helper()
	ctx := context.Background()
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1, Tables: []*schema.Table{&schema.Audit},
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	alerts, incs := triageFixture()
	if _, err := db.UpsertAlerts(ctx, alerts); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SaveIncidents(ctx, incs); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, Options{Store: db, Static: static, Rules: func() []RuleInfo { return triageRules }})
	return triageHarness{ts: ts, h: ts.as(t, auth.RoleAdmin), db: db}
}

func (th triageHarness) get(t *testing.T, target string) (int, string) {
	t.Helper()
	return serve(th.h, http.MethodGet, target, "")
}

func (th triageHarness) post(t *testing.T, target, body string) (int, string) {
	t.Helper()
	return serve(th.h, http.MethodPost, target, body)
}

func serve(h http.Handler, method, target, body string) (int, string) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

var (
	alertRowRe    = regexp.MustCompile(`class="alert-row" data-alert-id="([^"]+)"`)
	incidentRowRe = regexp.MustCompile(`class="incident-row" data-incident-id="([^"]+)"`)
)

func rowIDs(re *regexp.Regexp, body string) []string {
	ids := []string{}
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestAlertsPageFiltersAndSort(t *testing.T) {
	th := newTriageHarness(t, nil)
	cases := []struct {
		query string
		want  []string
	}{
		{"range=7d", []string{"al-a", "al-b", "al-c"}},
		{"", []string{"al-a", "al-b", "al-c"}}, // 14 days: al-d is 20 days old
		{"range=28d", []string{"al-a", "al-b", "al-c", "al-d"}},
		{"range=28d&severity=high", []string{"al-a", "al-d"}},
		{"range=28d&status=open", []string{"al-a", "al-b", "al-c"}},
		{"range=28d&status=closed", []string{"al-d"}},
		{"range=28d&rule=r-phish", []string{"al-b", "al-c"}},
		{"range=28d&tenant=globex", []string{}},
		{"q=ANN%40acme", []string{"al-b"}},
		{"q=alert+al-c", []string{"al-c"}},
		{"range=28d&technique=T1566", []string{"al-b", "al-c"}},
		{"range=28d&technique=T1566.002", []string{"al-c"}},
		{"range=28d&technique=T1110", []string{"al-a", "al-d"}},
		{"range=28d&sort=severity", []string{"al-a", "al-d", "al-b", "al-c"}},
		{"range=28d&sort=rule", []string{"al-a", "al-d", "al-b", "al-c"}},
		{"range=1d", []string{"al-a"}},
	}
	for _, tc := range cases {
		status, body := th.get(t, "/alerts?"+tc.query)
		if status != http.StatusOK {
			t.Fatalf("%s: status %d\n%s", tc.query, status, body)
		}
		if got := rowIDs(alertRowRe, body); !slices.Equal(got, tc.want) {
			t.Errorf("/alerts?%s: rows %v, want %v", tc.query, got, tc.want)
		}
	}
	for q, msg := range map[string]string{
		"severity=extreme":  `invalid severity &#34;extreme&#34;`,
		"status=open-ish":   `invalid status &#34;open-ish&#34;`,
		"sort=colour":       `invalid sort &#34;colour&#34;`,
		"page=0":            "page must be a number",
		"technique=phish":   `invalid technique &#34;phish&#34;`,
		"page=1&sort=rule2": "invalid sort",
	} {
		status, body := th.get(t, "/alerts?"+q)
		if status != http.StatusBadRequest || !strings.Contains(body, msg) {
			t.Errorf("/alerts?%s: status %d, want 400 with %q\n%s", q, status, msg, body)
		}
	}
}

func TestAlertsPagePagination(t *testing.T) {
	th := newTriageHarness(t, nil)
	var many []schema.Alert
	for i := range pageSize + 5 {
		many = append(many, triageAlert(fmt.Sprintf("bulk-%02d", i), "r-dlp", "low", "new",
			time.Duration(10+i)*time.Minute, []string{"T1030"}))
	}
	if _, err := th.db.UpsertAlerts(context.Background(), many); err != nil {
		t.Fatal(err)
	}
	_, body := th.get(t, "/alerts?rule=r-dlp")
	ids := rowIDs(alertRowRe, body)
	if len(ids) != pageSize || ids[0] != "bulk-00" || ids[pageSize-1] != fmt.Sprintf("bulk-%02d", pageSize-1) {
		t.Fatalf("page 1: %d rows %v…", len(ids), ids[:min(3, len(ids))])
	}
	if !strings.Contains(body, `href="/alerts?page=2&amp;rule=r-dlp"`) || strings.Contains(body, `id="prev-page"`) {
		t.Errorf("page 1 should link to page 2 only\n%s", body)
	}
	_, body = th.get(t, "/alerts?rule=r-dlp&page=2")
	ids = rowIDs(alertRowRe, body)
	want := []string{"bulk-50", "bulk-51", "bulk-52", "bulk-53", "bulk-54"}
	if !slices.Equal(ids, want) {
		t.Errorf("page 2: %v, want %v", ids, want)
	}
	if strings.Contains(body, `id="next-page"`) || !strings.Contains(body, `href="/alerts?rule=r-dlp"`) {
		t.Errorf("page 2 should link back to page 1 only")
	}
	if _, body = th.get(t, "/alerts?rule=r-dlp&page=3"); len(rowIDs(alertRowRe, body)) != 0 {
		t.Errorf("page 3 should be empty")
	}
}

func TestAlertDetailPage(t *testing.T) {
	th := newTriageHarness(t, nil)
	status, body := th.get(t, "/alerts/al-a")
	if status != http.StatusOK {
		t.Fatalf("status %d\n%s", status, body)
	}
	for _, want := range []string{
		"Alert al-a", "why al-a", // title, explanation
		`id="rule-title">Failed logons from one address</b>`, "version 1.2.0", "Counts failed logons per source IP.", "r-logon",
		`href="/attack?technique=T1110"`, "Brute Force", "Credential Access",
		`data-entity-type="ip"`, "203.0.113.7",
		`href="/incidents/inc-1"`,
		`id="status-form"`,
		"Logon Authentication Failed", // a matched event's source field
	} {
		if !strings.Contains(body, want) {
			t.Errorf("alert page lacks %q", want)
		}
	}
	events := regexp.MustCompile(`class="event-row" data-event-id="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(events) != 3 || events[0][1] != "ev1" || events[2][1] != "ev3" {
		t.Errorf("matched events %v, want ev1, ev2, ev3 in time order", events)
	}
	// An alert stored without a snapshot says so and lists its event ids.
	if _, body = th.get(t, "/alerts/al-c"); !strings.Contains(body, "No event snapshot") || !strings.Contains(body, "al-c-e1") {
		t.Errorf("alert without snapshot:\n%s", body)
	}
	if status, _ = th.get(t, "/alerts/nope"); status != http.StatusNotFound {
		t.Errorf("unknown alert: status %d, want 404", status)
	}
	// A viewer sees the alert without the status form.
	if _, body = serve(th.ts.as(t, auth.RoleViewer), http.MethodGet, "/alerts/al-a", ""); strings.Contains(body, `id="status-form"`) {
		t.Errorf("viewer sees the status form")
	}
}

// statuses returns every stored alert's status by id.
func (th triageHarness) statuses(t *testing.T) map[string]string {
	t.Helper()
	as, err := th.db.Alerts(context.Background(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range as {
		out[a.ID] = a.Status
	}
	return out
}

func TestBulkAlertStatus(t *testing.T) {
	th := newTriageHarness(t, nil)
	before := th.statuses(t)
	for body, want := range map[string]int{
		`{"ids":["al-a","nope"],"status":"closed"}`: http.StatusNotFound,
		`{"ids":["al-a"],"status":"done"}`:          http.StatusBadRequest,
		`{"ids":[],"status":"closed"}`:              http.StatusBadRequest,
		`{"ids":["al-a","al-a"],"status":"closed"}`: http.StatusBadRequest,
		`{"ids":["al-a"],"status":"closed","x":1}`:  http.StatusBadRequest,
	} {
		if status, resp := th.post(t, "/api/v1/alerts/status", body); status != want {
			t.Errorf("%s: status %d, want %d: %s", body, status, want, resp)
		}
	}
	if got := th.statuses(t); !mapsEqual(got, before) {
		t.Fatalf("refused requests changed statuses: %v → %v", before, got)
	}
	if status, _ := serve(th.ts.as(t, auth.RoleViewer), http.MethodPost, "/api/v1/alerts/status",
		`{"ids":["al-a"],"status":"closed"}`); status != http.StatusForbidden {
		t.Errorf("viewer bulk close: status %d, want 403", status)
	}
	status, resp := serve(th.ts.as(t, auth.RoleAnalyst), http.MethodPost, "/api/v1/alerts/status",
		`{"ids":["al-a","al-c","al-d"],"status":"closed"}`)
	if status != http.StatusOK || !strings.Contains(resp, `"changed":2`) {
		t.Fatalf("bulk close: %d %s", status, resp)
	}
	want := map[string]string{"al-a": "closed", "al-b": "new", "al-c": "closed", "al-d": "closed"}
	if got := th.statuses(t); !mapsEqual(got, want) {
		t.Errorf("after bulk close: %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestIncidentsPage(t *testing.T) {
	th := newTriageHarness(t, nil)
	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{"inc-1", "inc-2"}},
		{"range=1d", []string{"inc-1"}},
		{"state=new", []string{"inc-1", "inc-2"}},
		{"state=closed", []string{}},
		{"owner=carol", []string{"inc-2"}},
		{"owner=-", []string{"inc-1"}},
		{"severity=low", []string{"inc-2"}},
		{"sort=created", []string{"inc-1", "inc-2"}},
	}
	for _, tc := range cases {
		status, body := th.get(t, "/incidents?"+tc.query)
		if status != http.StatusOK {
			t.Fatalf("%s: status %d\n%s", tc.query, status, body)
		}
		if got := rowIDs(incidentRowRe, body); !slices.Equal(got, tc.want) {
			t.Errorf("/incidents?%s: rows %v, want %v", tc.query, got, tc.want)
		}
	}
	if status, body := th.get(t, "/incidents?state=open"); status != http.StatusBadRequest || !strings.Contains(body, "invalid state") {
		t.Errorf("bad state: %d", status)
	}
}

func TestIncidentDetailAndTriage(t *testing.T) {
	th := newTriageHarness(t, nil)
	status, body := th.get(t, "/incidents/inc-1")
	if status != http.StatusOK {
		t.Fatalf("status %d\n%s", status, body)
	}
	timeline := regexp.MustCompile(`class="timeline-item" data-alert-id="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(timeline) != 2 || timeline[0][1] != "al-b" || timeline[1][1] != "al-a" {
		t.Errorf("timeline %v, want al-b then al-a (oldest first)", timeline)
	}
	for _, want := range []string{"ann@acme.example", "203.0.113.7", `href="/attack?technique=T1566.001"`,
		"Phishing: Spearphishing Attachment", `id="triage-form"`, "No comments yet."} {
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	analyst := th.ts.as(t, auth.RoleAnalyst)
	if status, resp := serve(analyst, http.MethodPost, "/api/v1/incidents/inc-1", `{"owner":"dana"}`); status != http.StatusOK {
		t.Fatalf("assign: %d %s", status, resp)
	}
	if status, resp := serve(analyst, http.MethodPost, "/api/v1/incidents/inc-1/comments", `{"text":"looking at it"}`); status != http.StatusCreated {
		t.Fatalf("comment: %d %s", status, resp)
	}
	_, body = th.get(t, "/incidents/inc-1")
	for _, want := range []string{`id="incident-owner">dana<`, `id="incident-state">active<`, "looking at it", "<b>analyst-user</b>"} {
		if !strings.Contains(body, want) {
			t.Errorf("after assign and comment, page lacks %q", want)
		}
	}
	if status, _ := th.get(t, "/incidents/nope"); status != http.StatusNotFound {
		t.Errorf("unknown incident: %d", status)
	}
	// Bulk close with a classification; an unknown id refuses the whole change.
	if status, _ := serve(analyst, http.MethodPost, "/api/v1/incidents/state", `{"ids":["inc-1","nope"],"state":"closed"}`); status != http.StatusNotFound {
		t.Errorf("bulk close with unknown id: %d, want 404", status)
	}
	if inc, _ := th.db.Incident(context.Background(), "inc-1"); inc.State != store.IncidentActive {
		t.Fatalf("refused bulk close changed inc-1 to %s", inc.State)
	}
	status, resp := serve(analyst, http.MethodPost, "/api/v1/incidents/state",
		`{"ids":["inc-1","inc-2"],"state":"closed","classification":"true_positive"}`)
	if status != http.StatusOK || !strings.Contains(resp, `"changed":2`) {
		t.Fatalf("bulk close: %d %s", status, resp)
	}
	for _, id := range []string{"inc-1", "inc-2"} {
		inc, err := th.db.Incident(context.Background(), id)
		if err != nil || inc.State != store.IncidentClosed || inc.Classification != "true_positive" {
			t.Errorf("%s after bulk close: %s %s %v", id, inc.State, inc.Classification, err)
		}
	}
}

// attackCellState reads the first matrix cell of a technique: its classes, fired count and listed sub-techniques.
func attackCellState(t *testing.T, body, id string) (classes string, fired string, subs []string) {
	t.Helper()
	re := regexp.MustCompile(`(?s)<div class="tcell([^"]*)" data-technique="` + regexp.QuoteMeta(id) + `".*?</div>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no matrix cell for %s", id)
	}
	if c := regexp.MustCompile(`class="fired-count"[^>]*>(\d+)<`).FindStringSubmatch(m[0]); c != nil {
		fired = c[1]
	}
	for _, s := range regexp.MustCompile(`<li data-technique="([^"]+)"`).FindAllStringSubmatch(m[0], -1) {
		subs = append(subs, s[1])
	}
	return strings.TrimSpace(m[1]), fired, subs
}

func TestAttackPage(t *testing.T) {
	th := newTriageHarness(t, nil)
	status, body := th.get(t, "/attack?range=7d")
	if status != http.StatusOK {
		t.Fatalf("status %d\n%s", status, body)
	}
	cases := []struct {
		id, classes, fired string
		subs               []string
	}{
		{"T1110", "covered fired", "1", nil},                                // al-a; al-d is 20 days old
		{"T1566", "covered fired", "2", []string{"T1566.001", "T1566.002"}}, // al-b, al-c; the rule names T1566.001
		{"T1030", "covered", "", nil},
		{"T1114", "", "", nil},
	}
	for _, tc := range cases {
		classes, fired, subs := attackCellState(t, body, tc.id)
		if classes != tc.classes || fired != tc.fired || !slices.Equal(subs, tc.subs) {
			t.Errorf("7d %s: classes %q fired %q subs %v, want %q %q %v", tc.id, classes, fired, subs, tc.classes, tc.fired, tc.subs)
		}
	}
	if !strings.Contains(body, `href="/alerts?range=7d&amp;technique=T1566"`) {
		t.Errorf("fired cell does not link to the filtered alerts list")
	}
	// Tactics in the matrix's order, and the attribution.
	cols := regexp.MustCompile(`<th class="tactic" data-tactic="(TA\d+)"`).FindAllStringSubmatch(body, -1)
	if len(cols) != 14 || cols[0][1] != "TA0043" || cols[2][1] != "TA0001" || cols[13][1] != "TA0040" {
		t.Errorf("tactic columns %v", cols)
	}
	if !strings.Contains(body, "The MITRE Corporation") {
		t.Errorf("no ATT&CK attribution")
	}
	// T1110 sits in Credential Access: count its cells across columns (one).
	if n := strings.Count(body, `data-technique="T1110"`); n != 1 {
		t.Errorf("T1110 appears in %d cells, want 1", n)
	}
	_, body = th.get(t, "/attack?range=28d")
	if classes, fired, _ := attackCellState(t, body, "T1110"); classes != "covered fired" || fired != "2" {
		t.Errorf("28d T1110: %q %q, want both alerts", classes, fired)
	}
	if status, _ := th.get(t, "/attack?technique=bogus"); status != http.StatusBadRequest {
		t.Errorf("bad technique: %d", status)
	}
}

func TestAttackCatalogue(t *testing.T) {
	c := catalogue
	if len(c.Tactics) != 14 || c.Tactics[0].Name != "Reconnaissance" || c.Tactics[13].Name != "Impact" {
		t.Fatalf("tactics: %+v", c.Tactics)
	}
	in := func(tactic, technique string) bool {
		tac, ok := c.tacticByKey(tactic)
		return ok && slices.Contains(tac.Techniques, technique)
	}
	for _, tc := range [][2]string{{"InitialAccess", "T1566"}, {"CredentialAccess", "T1110"}, {"Collection", "T1114"},
		{"Persistence", "T1078"}, {"DefenseEvasion", "T1078"}, {"Exfiltration", "T1030"}, {"LateralMovement", "T1534"}} {
		if !in(tc[0], tc[1]) {
			t.Errorf("%s is not under %s", tc[1], tc[0])
		}
	}
	if got := c.techniqueName("T1566.001"); got != "Phishing: Spearphishing Attachment" {
		t.Errorf("name of T1566.001: %q", got)
	}
	for _, bad := range []string{
		"tactic\tTA0001\tInitial Access\ntechnique\tT1566\tPhishing\tTA9999\n",
		"tactic\tTA0001\tInitial Access\nsubtechnique\tT1566.001\tSpearphishing Attachment\n",
		"tactic\tTA0001\n",
		"# only a comment\n",
	} {
		if _, err := parseAttackCatalogue(bad); err == nil {
			t.Errorf("accepted bad data %q", bad)
		}
	}
}
