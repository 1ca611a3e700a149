package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// peopleAt is a time on testNow's day (10 March 2026) or days before it.
func peopleAt(daysBefore, hour, minute int) time.Time {
	return time.Date(2026, 3, 10-daysBefore, hour, minute, 0, 0, time.UTC)
}

// peopleRecords are API records per table, written through the tables' own decoders. Every count the users,
// human-risk and search tests expect is worked out by hand from this list (see the comments there).
var peopleRecords = map[*schema.Table][]string{
	&schema.Audit: {
		`{"id":"l1","auditType":"Logon Authentication Failed","user":"Alice@Example.com","eventTime":"2026-03-10T08:05:00+0000","eventInfo":"Failed, IP: 203.0.113.7, Application: OWA","category":"authentication_logs"}`,
		`{"id":"l2","auditType":"User Logged On","user":"alice@example.com","eventTime":"2026-03-10T08:20:00+0000","eventInfo":"IP: 198.51.100.9, Application: Mimecast Personal Portal","category":"authentication_logs"}`,
		`{"id":"l3","auditType":"Logon Authentication Failed","user":"bob@example.com","eventTime":"2026-03-09T10:00:00+0000","eventInfo":"IP: 192.0.2.44, Application: OWA","category":"authentication_logs"}`,
		`{"id":"l4","auditType":"Search Action","user":"alice@example.com","eventTime":"2026-03-10T09:00:00+0000","eventInfo":"Search: x","category":"case_review_logs"}`,
		`{"id":"l5","auditType":"User Logged On","user":"alice@example.com","eventTime":"2026-01-10T08:20:00+0000","eventInfo":"IP: 203.0.113.7","category":"authentication_logs"}`,
	},
	&schema.TtpURL: {
		// alice: two malicious clicks (one from an entry scan that does not count), one clean click.
		`{"date":"2026-03-10T10:00:00+0000","userEmailAddress":"alice@example.com","url":"http://evil.example/a","scanResult":"malicious","action":"block","creationMethod":"User Click","fromUserEmailAddress":"x@evil.example","subject":"Invoice"}`,
		`{"date":"2026-03-09T10:00:00+0000","userEmailAddress":"alice@example.com","url":"http://evil.example/b","scanResult":"malicious","action":"warn","creationMethod":"User Click","fromUserEmailAddress":"x@evil.example","subject":"Invoice 2"}`,
		`{"date":"2026-03-09T09:00:00+0000","userEmailAddress":"alice@example.com","url":"http://evil.example/b","scanResult":"malicious","action":"block","creationMethod":"Entry Scan","fromUserEmailAddress":"x@evil.example","subject":"Invoice 2"}`,
		`{"date":"2026-03-08T10:00:00+0000","userEmailAddress":"alice@example.com","url":"http://good.example/","scanResult":"clean","action":"allow","creationMethod":"User Click","subject":"News"}`,
		// carol: one malicious click.
		`{"date":"2026-03-10T11:00:00+0000","userEmailAddress":"carol@example.com","url":"http://evil.example/c","scanResult":"malicious","action":"block","creationMethod":"User Click"}`,
	},
	&schema.TtpImpersonation: {
		`{"id":"i1","senderAddress":"ceo@examp1e.com","recipientAddress":"bob@example.com","subject":"Wire","definition":"Default","hits":3,"action":"hold","eventTime":"2026-03-10T07:00:00+0000","messageId":"<m1>"}`,
		`{"id":"i2","senderAddress":"ceo@examp1e.com","recipientAddress":"bob@example.com","subject":"Wire 2","definition":"Default","hits":2,"action":"hold","eventTime":"2026-03-09T07:00:00+0000","messageId":"<m2>"}`,
		`{"id":"i3","senderAddress":"ceo@examp1e.com","recipientAddress":"alice@example.com","subject":"Gift cards","definition":"Default","hits":1,"action":"none","eventTime":"2026-03-10T06:00:00+0000","messageId":"<m3>"}`,
	},
	&schema.TtpAttachment: {
		`{"date":"2026-03-10T05:00:00+0000","senderAddress":"x@evil.example","recipientAddress":"alice@example.com","fileName":"invoice.xlsm","fileType":"xlsm","result":"malicious","actionTriggered":"sandbox","messageId":"<m4>","fileHash":"ab"}`,
	},
	&schema.SegDlp: {
		`{"eventTime":"2026-03-10T04:00:00+0000","senderAddress":"dave@example.com","recipientAddress":"out@other.example","subject":"Card numbers","route":"outbound","policy":"PCI","action":"block","messageId":"<d1>"}`,
		`{"eventTime":"2026-03-09T04:00:00+0000","senderAddress":"dave@example.com","recipientAddress":"out@other.example","subject":"More","route":"outbound","policy":"PCI","action":"notify","messageId":"<d2>"}`,
		`{"eventTime":"2026-03-08T04:00:00+0000","senderAddress":"dave@example.com","recipientAddress":"out2@other.example","subject":"Even more","route":"outbound","policy":"PII","action":"notify","messageId":"<d3>"}`,
		`{"eventTime":"2026-03-10T03:00:00+0000","senderAddress":"alice@example.com","recipientAddress":"bob@other.example","subject":"Salaries","route":"outbound","policy":"HR","action":"notify","messageId":"<d4>"}`,
	},
	&schema.AwarenessSafeScore: {
		`{"emailAddress":"alice@example.com","name":"Alice Adams","department":"Finance","risk":"D","humanError":"C","sentiment":"B","engagement":"A","knowledge":"D","userState":"active"}`,
		`{"emailAddress":"bob@example.com","name":"Bob Brown","department":"Sales","risk":"B","humanError":"B","sentiment":"B","engagement":"B","knowledge":"B","userState":"active"}`,
		`{"emailAddress":"erin@example.com","name":"Erin East","department":"IT","risk":"F","humanError":"F","sentiment":"E","engagement":"F","knowledge":"F","userState":"active"}`,
		`{"emailAddress":"frank@example.com","name":"Frank Fox","department":"IT","risk":"A","humanError":"A","sentiment":"A","engagement":"A","knowledge":"A","userState":"active"}`,
	},
	&schema.AwarenessWatchlist: {
		`{"email":"alice@example.com","name":"Alice Adams","department":"Finance","watchlistCount":2,"userState":"active"}`,
	},
	&schema.AwarenessUserData: {
		`{"campaignId":"c1","email":"alice@example.com","name":"Alice Adams","department":"Finance","templateName":"Parcel delivery","status":"CLICKED","numCampaignsSent":1,"numCampaignsClicked":1}`,
		`{"campaignId":"c2","email":"alice@example.com","name":"Alice Adams","department":"Finance","templateName":"Payroll","status":"OPENED","numCampaignsSent":1,"numCampaignsClicked":0}`,
	},
	&schema.SegCg: {
		// alice sends two messages on 10 March (one logged twice, for two recipients) and receives one on 9 March.
		`{"type":"receipt","timestamp":1773129600000,"accountId":"A1","aggregateId":"g1","processingId":"p1","senderEnvelope":"alice@example.com","recipients":"x@other.example","messageId":"<s1>"}`,
		`{"type":"receipt","timestamp":1773129600000,"accountId":"A1","aggregateId":"g1","processingId":"p1","senderEnvelope":"alice@example.com","recipients":"y@other.example","messageId":"<s1>"}`,
		`{"type":"receipt","timestamp":1773133200000,"accountId":"A1","aggregateId":"g2","processingId":"p2","senderEnvelope":"alice@example.com","recipients":"z@other.example","messageId":"<s2>"}`,
		`{"type":"receipt","timestamp":1773050400000,"accountId":"A1","aggregateId":"g3","processingId":"p3","senderEnvelope":"x@other.example","recipients":"alice@example.com","messageId":"<s3>"}`,
	},
}

// peopleAlerts: alice in two alerts (one as user entity), dave in one, one alert outside 14 days.
var peopleAlerts = []schema.Alert{
	{ID: "al-1", Tenant: "acme", RuleID: "rule-a", RuleVersion: "1", Title: "Malicious URL clicked by alice", Severity: "High",
		Status: "new", Created: peopleAt(0, 10, 5), LastEvent: peopleAt(0, 10, 0),
		Entities: []schema.Entity{{Type: "mailbox", Value: "alice@example.com"}, {Type: "url", Value: "http://evil.example/a"}}},
	{ID: "al-2", Tenant: "acme", RuleID: "rule-b", RuleVersion: "1", Title: "Failed logons for Alice", Severity: "Medium",
		Status: "new", Created: peopleAt(0, 8, 10), LastEvent: peopleAt(0, 8, 5),
		Entities: []schema.Entity{{Type: "user", Value: "ALICE@example.com"}, {Type: "ip", Value: "203.0.113.7"}}},
	{ID: "al-3", Tenant: "acme", RuleID: "rule-c", RuleVersion: "1", Title: "DLP burst by dave", Severity: "Low",
		Status: "new", Created: peopleAt(0, 4, 30), LastEvent: peopleAt(0, 4, 0),
		Entities: []schema.Entity{{Type: "mailbox", Value: "dave@example.com"}}},
	{ID: "al-old", Tenant: "acme", RuleID: "rule-c", RuleVersion: "1", Title: "Old alert", Severity: "Low",
		Status: "new", Created: peopleAt(40, 4, 30), LastEvent: peopleAt(40, 4, 0),
		Entities: []schema.Entity{{Type: "mailbox", Value: "dave@example.com"}}},
}

// openPeopleStore returns a DuckDB store with peopleRecords and peopleAlerts.
func openPeopleStore(t testing.TB) *duckdb.DB {
	t.Helper()
	ctx := context.Background()
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1})
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	for table, records := range peopleRecords {
		rows := make([]schema.Row, 0, len(records))
		for _, rec := range records {
			row, err := table.Decode("acme", json.RawMessage(rec), testNow)
			if err != nil {
				t.Fatalf("%s: decode %s: %v", table.Name, rec, err)
			}
			rows = append(rows, row)
		}
		if n, err := db.WriteRows(ctx, table, rows); err != nil || n != len(rows) {
			t.Fatalf("%s: wrote %d of %d rows: %v", table.Name, n, len(rows), err)
		}
	}
	if _, err := db.UpsertAlerts(ctx, peopleAlerts); err != nil {
		t.Fatal(err)
	}
	return db
}

// fakeGeo is the tests' GeoIP: two documentation ranges get countries.
func fakeGeo(ip string) (string, bool) {
	switch {
	case strings.HasPrefix(ip, "203.0.113."):
		return "NL", true
	case strings.HasPrefix(ip, "198.51.100."):
		return "US", true
	}
	return "", false
}

func peopleHarness(t *testing.T, mod func(*Options)) (harness, *duckdb.DB) {
	t.Helper()
	db := openPeopleStore(t)
	opts := Options{Store: db, GeoLookup: fakeGeo, Sync: func(context.Context) error { return nil }}
	if mod != nil {
		mod(&opts)
	}
	return harness{h: newTestHandler(t, opts)}, db
}

// get fails the test unless target answers 200 and returns the body.
func (hs harness) get(t *testing.T, target string) string {
	t.Helper()
	res, body := hs.do(t, http.MethodGet, target, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", target, res.StatusCode, body)
	}
	return body
}

func TestUsersList(t *testing.T) {
	hs, _ := peopleHarness(t, nil)
	body := hs.get(t, "/users")
	// Ordered by alerts, malicious clicks, DLP hits, logons: alice (2 alerts), dave (1 alert, 3 DLP), carol
	// (1 malicious click), bob (1 logon); erin and frank (grade only) by address.
	assertOrder(t, body, []string{`data-mailbox="alice@example.com"`, `data-mailbox="dave@example.com"`,
		`data-mailbox="carol@example.com"`, `data-mailbox="bob@example.com"`, `data-mailbox="erin@example.com"`,
		`data-mailbox="frank@example.com"`})
	alice := rowOf(t, body, `data-mailbox="alice@example.com"`)
	// 2 logons in 14 days (l1 failed, l2; l5 is older; l4 is no logon), 3 clicks of which 2 malicious, 1 DLP, 2 alerts.
	for _, want := range []string{`data-risk="D"`, `<td class="num">2</td><td class="num">1</td><td class="num">3</td>`,
		`<td class="num">2</td><td class="num">1</td><td class="num" data-alerts="2">`} {
		if !strings.Contains(alice, want) {
			t.Errorf("alice's row lacks %s:\n%s", want, alice)
		}
	}

	body = hs.get(t, "/users?q=DAV")
	if !strings.Contains(body, `data-mailbox="dave@example.com"`) || strings.Count(body, `class="user-row"`) != 1 {
		t.Errorf("search for DAV: %d rows", strings.Count(body, `class="user-row"`))
	}
	body = hs.get(t, "/users?q=nobody")
	if !strings.Contains(body, "No mailbox containing “nobody”") {
		t.Error("empty search result not explained")
	}
}

// rowOf returns the table row (<tr …>…</tr>) holding marker.
func rowOf(t *testing.T, body, marker string) string {
	t.Helper()
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatalf("no row %s", marker)
	}
	start := strings.LastIndex(body[:i], "<tr")
	end := strings.Index(body[i:], "</tr>")
	return body[start : i+end]
}

func TestUserTimeline(t *testing.T) {
	hs, _ := peopleHarness(t, nil)
	body := hs.get(t, "/users/Alice@Example.com")
	for _, want := range []string{`data-field="name">Alice Adams<`, `data-field="department">Finance<`,
		`data-field="risk">D<`, `data-field="human-error">C<`, `data-field="watchlist">2<`,
		`data-field="campaigns">1 clicked of 2 sent<`, `<span class="chip">Parcel delivery</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("awareness header lacks %s", want)
		}
	}
	// Newest first over every source; times from peopleRecords and peopleAlerts.
	want := []string{
		`data-kind="url" data-outcome="malicious" data-time="2026-03-10T10:00:00Z"`,
		`data-kind="alert" data-outcome="high" data-time="2026-03-10T10:00:00Z"`,
		`data-kind="logon" data-outcome="success" data-time="2026-03-10T08:20:00Z"`,
		`data-kind="logon" data-outcome="failure" data-time="2026-03-10T08:05:00Z"`,
		`data-kind="alert" data-outcome="medium" data-time="2026-03-10T08:05:00Z"`,
		`data-kind="impersonation" data-outcome="none" data-time="2026-03-10T06:00:00Z"`,
		`data-kind="attachment" data-outcome="malicious" data-time="2026-03-10T05:00:00Z"`,
		`data-kind="dlp" data-outcome="notify" data-time="2026-03-10T03:00:00Z"`,
		`data-kind="mail" data-outcome="" data-time="2026-03-10T00:00:00Z"`,
		`data-kind="url" data-outcome="malicious" data-time="2026-03-09T10:00:00Z"`,
		`data-kind="url" data-outcome="malicious" data-time="2026-03-09T09:00:00Z"`,
		`data-kind="mail" data-outcome="" data-time="2026-03-09T00:00:00Z"`,
		`data-kind="url" data-outcome="clean" data-time="2026-03-08T10:00:00Z"`,
	}
	if n := strings.Count(body, `class="tl-row"`); n != len(want) {
		t.Errorf("timeline has %d entries, want %d", n, len(want))
	}
	// The URL click and the alert share 10:00; their order is the sources' order, so check them as a set.
	assertOrder(t, body, want[2:])
	for _, w := range want[:2] {
		if !strings.Contains(body, w) {
			t.Errorf("timeline lacks %s", w)
		}
	}
	logon := rowOf(t, body, `data-time="2026-03-10T08:20:00Z"`)
	for _, w := range []string{"User Logged On", "<b>Source IP</b>198.51.100.9", "<b>Country</b>US", "<b>Application</b>Mimecast Personal Portal"} {
		if !strings.Contains(logon, w) {
			t.Errorf("logon entry lacks %q: %s", w, logon)
		}
	}
	mail := rowOf(t, body, `data-kind="mail" data-outcome="" data-time="2026-03-10T00:00:00Z"`)
	if !strings.Contains(mail, "Mail: 2 sent, 0 received") {
		t.Errorf("mail per day: %s", mail)
	}
	if mail := rowOf(t, body, `data-time="2026-03-09T00:00:00Z"`); !strings.Contains(mail, "Mail: 0 sent, 1 received") {
		t.Errorf("mail per day (9 March): %s", mail)
	}
	dlp := rowOf(t, body, `data-kind="dlp"`)
	if !strings.Contains(dlp, "DLP policy HR") || !strings.Contains(dlp, "<b>Recipients</b>bob@other.example") {
		t.Errorf("dlp entry: %s", dlp)
	}
	if !strings.Contains(body, `href="/alerts/al-1"`) {
		t.Error("alert entry does not link to the alert")
	}
	// The 90-day range adds the January logon at the end.
	body = hs.get(t, "/users/alice@example.com?range=90d")
	if !strings.Contains(body, `data-time="2026-01-10T08:20:00Z"`) {
		t.Error("90-day timeline lacks the January logon")
	}
}

func TestUserTimelinePaging(t *testing.T) {
	db := openPeopleStore(t)
	// 130 failed logons of one user: two pages of 100 and 30.
	rows := make([]schema.Row, 130)
	for i := range rows {
		rows[i] = schema.Row{"acme", testNow, fmt.Sprintf("p%03d", i), "Logon Authentication Failed", "paula@example.com",
			testNow.Add(-time.Duration(i+1) * time.Minute), "IP: 203.0.113.9", "authentication_logs"}
	}
	if _, err := db.WriteRows(context.Background(), &schema.Audit, rows); err != nil {
		t.Fatal(err)
	}
	hs := harness{h: newTestHandler(t, Options{Store: db})}
	body := hs.get(t, "/users/paula@example.com")
	if n := strings.Count(body, `class="tl-row"`); n != timelinePageSize {
		t.Errorf("first page has %d entries", n)
	}
	if !strings.Contains(body, `id="next" href="/users/paula@example.com?page=2&amp;range=14d"`) || strings.Contains(body, `id="prev"`) {
		t.Error("first page links wrong")
	}
	body = hs.get(t, "/users/paula@example.com?page=2")
	if n := strings.Count(body, `class="tl-row"`); n != 30 || !strings.Contains(body, `id="prev"`) || strings.Contains(body, `id="next"`) {
		t.Errorf("second page has %d entries", n)
	}
	// Newest of page 2 is the 101st minute before now.
	if !strings.Contains(body, `data-time="`+testNow.Add(-101*time.Minute).Format(time.RFC3339)+`"`) {
		t.Error("page 2 does not continue where page 1 ended")
	}
}

func TestUserPageErrors(t *testing.T) {
	hs, _ := peopleHarness(t, nil)
	res, body := hs.do(t, http.MethodGet, "/users/"+strings.Repeat("a", 321), nil)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "at most 320 characters") {
		t.Errorf("long mailbox: %d", res.StatusCode)
	}
	body = hs.get(t, "/users/nobody@example.com")
	if !strings.Contains(body, "No Awareness Training data") || !strings.Contains(body, "Nothing recorded for this mailbox") {
		t.Error("unknown mailbox page not explained")
	}
	// The risk-sessions hook renders (empty) for the behaviour analytics to fill.
	if !strings.Contains(body, `id="awareness"`) {
		t.Error("page incomplete")
	}
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/users/x@example.com?range=bogus", nil))
	if !strings.Contains(rec.Body.String(), "Unknown time range") {
		t.Error("bogus range not reported")
	}
}
