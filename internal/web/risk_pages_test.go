package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/store/duckdb"
	"github.com/castwatch/castwatch/internal/ueba"
)

// riskFixture stores one notable session (three findings) and one below the threshold in a real DuckDB store.
func riskFixture(t *testing.T) (*duckdb.DB, ueba.Session, ueba.Session) {
	t.Helper()
	ctx := context.Background()
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	start := testNow.Add(-26 * time.Hour)
	notable := ueba.Session{ID: "s-notable", Tenant: "acme", User: "ann@acme.example", PeerGroup: "Finance",
		Start: start, End: start.Add(3 * time.Hour), Events: 42, Score: 95, Notable: true,
		NotableAt: start.Add(2 * time.Hour), Findings: []ueba.Finding{
			{RuleID: "APP-UC-F", RuleName: "First country for user", Time: start.Add(time.Hour), Points: 40,
				Reason: "first login from country Brazil for user ann@acme.example", Techniques: []string{"T1078"}},
			{RuleID: "EM-InRule-Public", RuleName: "Forwarding to a public domain", Time: start.Add(90 * time.Minute),
				Points: 40, Reason: "forwarding to a public mail domain set by user ann@acme.example"},
			{RuleID: "APP-F-FL", RuleName: "Failed login", Time: start.Add(2 * time.Hour), Points: 15,
				Reason: "failed login to application MPP"},
		}}
	quiet := ueba.Session{ID: "s-quiet", Tenant: "acme", User: "bob@acme.example", Start: start,
		End: start.Add(time.Hour), Events: 7, Score: 10, Findings: []ueba.Finding{
			{RuleID: "APP-AppU-F", Time: start, Points: 10, Reason: "first application MfO for user bob@acme.example"}}}
	if err := db.SaveRiskSessions(ctx, []ueba.Session{notable, quiet}); err != nil {
		t.Fatal(err)
	}
	return db, notable, quiet
}

func TestRiskPages(t *testing.T) {
	db, notable, quiet := riskFixture(t)
	hs := harness{h: newTestHandler(t, Options{Store: db})}

	res, body := hs.do(t, http.MethodGet, "/risk?range=7d", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /risk = %d: %s", res.StatusCode, body)
	}
	if !strings.Contains(body, `data-session="s-notable"`) || strings.Contains(body, `data-session="s-quiet"`) {
		t.Errorf("the default list shows notable sessions only:\n%s", body)
	}
	_, body = hs.do(t, http.MethodGet, "/risk?range=7d&all=1", nil)
	if !strings.Contains(body, `data-session="s-notable"`) || !strings.Contains(body, `data-session="s-quiet"`) {
		t.Errorf("all=1 lists both sessions:\n%s", body)
	}
	// Highest risk first.
	assertOrder(t, body, []string{`data-session="s-notable"`, `data-session="s-quiet"`})
	_, body = hs.do(t, http.MethodGet, "/risk?range=1h&all=1", nil)
	if strings.Contains(body, `data-session="s-notable"`) {
		t.Error("a session that ended before the range is listed")
	}

	res, body = hs.do(t, http.MethodGet, "/risk/"+notable.ID, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /risk/{id} = %d: %s", res.StatusCode, body)
	}
	if got := strings.Count(body, `class="finding-row"`); got != len(notable.Findings) {
		t.Errorf("timeline has %d rows, want %d", got, len(notable.Findings))
	}
	for _, want := range []string{"first login from country Brazil for user ann@acme.example", ">40<", ">80<", ">95<",
		`href="/incidents/ueba-s-notable"`} {
		if !strings.Contains(body, want) {
			t.Errorf("session page lacks %q (reasons and a running score)", want)
		}
	}
	// The user's page lists the user's sessions, notable or not.
	res, body = hs.do(t, http.MethodGet, "/users/ann@acme.example?range=7d", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="user-risk"`) ||
		!strings.Contains(body, `href="/risk/s-notable"`) || strings.Contains(body, `href="/risk/s-quiet"`) {
		t.Errorf("user page = %d, want ann's session only:\n%s", res.StatusCode, body)
	}
	if res, _ := hs.do(t, http.MethodGet, "/risk/nope", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown session = %d, want 404", res.StatusCode)
	}

	res, body = hs.do(t, http.MethodGet, "/api/v1/risk/sessions?range=7d&notable=false", nil)
	var list riskSessionsResponse
	if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("API list = %d: %s", res.StatusCode, body)
	}
	if len(list.Sessions) != 2 || list.Sessions[0].ID != notable.ID || list.Sessions[1].ID != quiet.ID {
		t.Errorf("API list = %+v", list.Sessions)
	}
	res, body = hs.do(t, http.MethodGet, "/api/v1/risk/sessions/"+notable.ID, nil)
	var one ueba.Session
	if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &one) != nil || one.Score != 95 ||
		len(one.Findings) != 3 || one.Findings[0].Reason != notable.Findings[0].Reason {
		t.Errorf("API session = %d %+v", res.StatusCode, one)
	}
	if res, _ := hs.do(t, http.MethodGet, "/api/v1/risk/sessions?range=bogus", nil); res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad range = %d, want 400", res.StatusCode)
	}
}

func TestRiskPagesWithoutAnalytics(t *testing.T) {
	hs := newHarness(t, &fakeStore{}, nil)
	res, body := hs.do(t, http.MethodGet, "/risk", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Behaviour analytics are not available") {
		t.Errorf("GET /risk on a store without analytics = %d:\n%s", res.StatusCode, body)
	}
	if res, _ := hs.do(t, http.MethodGet, "/risk/x", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("session on a store without analytics = %d, want 404", res.StatusCode)
	}
}
