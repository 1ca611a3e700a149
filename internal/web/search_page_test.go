package web

import (
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/castwatch/castwatch/internal/auth"
)

func searchURL(v url.Values) string { return "/search?" + v.Encode() }

// resultRows counts the result table's rows.
func resultRows(body string) int { return strings.Count(body, `class="result-row"`) }

func TestSearchFilter(t *testing.T) {
	hs, _ := peopleHarness(t, nil)
	body := hs.get(t, "/search")
	for _, want := range []string{`<option value="Audit_CL">`, `<option value="MimecastAudit">`, `<option value="MimecastTTPUrl">`} {
		if !strings.Contains(body, want) {
			t.Errorf("relation list lacks %s", want)
		}
	}
	// Choosing a relation lists its columns.
	body = hs.get(t, "/search?rel=MimecastAudit")
	if !strings.Contains(body, `<option value="Source IP">`) || strings.Contains(body, `id="results"`) {
		t.Error("columns of MimecastAudit not offered, or a search ran without run=1")
	}

	cases := []struct {
		name string
		q    url.Values
		rows int
		has  string
	}{
		// Audit_CL in 14 days: l1–l4 (l5 is older).
		{"table, no condition", url.Values{"rel": {"Audit_CL"}}, 4, ""},
		{"90 days", url.Values{"rel": {"Audit_CL"}, "range": {"90d"}}, 5, ""},
		{"equals", url.Values{"rel": {"Audit_CL"}, "col": {"user"}, "op": {"eq"}, "val": {"bob@example.com"}}, 1, "l3"},
		{"contains, case-insensitive", url.Values{"rel": {"Audit_CL"}, "col": {"eventInfo"}, "op": {"contains"}, "val": {"owa"}}, 2, ""},
		{"starts with", url.Values{"rel": {"MimecastAudit"}, "col": {"Audit Type"}, "op": {"starts"}, "val": {"Logon"}}, 2, ""},
		{"like characters are literal", url.Values{"rel": {"Audit_CL"}, "col": {"eventInfo"}, "op": {"contains"}, "val": {"%"}}, 0, ""},
		{"two conditions", url.Values{"rel": {"MimecastAudit"}, "col": {"Source IP", "User"}, "op": {"eq", "contains"},
			"val": {"203.0.113.7", "alice"}}, 1, "l1"},
		{"greater than on a number", url.Values{"rel": {"Ttp_Impersonation_CL"}, "col": {"hits"}, "op": {"gt"}, "val": {"1"}}, 2, ""},
		{"less than on a time", url.Values{"rel": {"MimecastDLP"}, "col": {"Event Time"}, "op": {"lt"}, "val": {"2026-03-09 12:00:00"}}, 2, ""},
		{"SIEM epoch milliseconds", url.Values{"rel": {"Seg_Cg_CL"}, "range": {"1d"}}, 3, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.q.Set("run", "1")
			body := hs.get(t, searchURL(c.q))
			if n := resultRows(body); n != c.rows {
				t.Errorf("%d rows, want %d", n, c.rows)
			}
			if c.has != "" && !strings.Contains(body, "<td>"+c.has+"</td>") {
				t.Errorf("results lack %s", c.has)
			}
		})
	}
}

func TestSearchFilterRefusals(t *testing.T) {
	hs, _ := peopleHarness(t, nil)
	cases := []struct {
		q    url.Values
		want string
	}{
		{url.Values{"rel": {"alerts"}}, `unknown: &#34;alerts&#34;`},
		{url.Values{"rel": {`Audit_CL" ; DROP TABLE x; --`}}, "Choose a table or view"},
		{url.Values{"rel": {"Audit_CL"}, "col": {`user" = '' OR 1=1 --`}, "op": {"eq"}, "val": {"x"}}, "is not a column of Audit_CL"},
		{url.Values{"rel": {"Audit_CL"}, "col": {"user"}, "op": {"regex"}, "val": {"x"}}, "unknown operator"},
		{url.Values{"rel": {"Audit_CL"}, "range": {"1y"}}, "unknown range"},
	}
	for _, c := range cases {
		c.q.Set("run", "1")
		res, body := hs.do(t, http.MethodGet, searchURL(c.q), nil)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("%v = %d, want 400 with %q", c.q, res.StatusCode, c.want)
		}
	}
	// A value is a parameter: an injection attempt matches nothing and changes nothing.
	body := hs.get(t, searchURL(url.Values{"run": {"1"}, "rel": {"Audit_CL"}, "col": {"user"}, "op": {"eq"},
		"val": {`x' OR '1'='1`}}))
	if resultRows(body) != 0 {
		t.Error("a value was spliced into the SQL")
	}
}

func TestSearchSQL(t *testing.T) {
	hs, _ := peopleHarness(t, nil)
	run := func(sql string) (*http.Response, string) {
		return hs.do(t, http.MethodGet, searchURL(url.Values{"mode": {"sql"}, "run": {"1"}, "sql": {sql}}), nil)
	}
	res, body := run(`SELECT "user", count(*) AS n FROM "Audit_CL" GROUP BY 1 ORDER BY n DESC, 1`)
	if res.StatusCode != http.StatusOK || resultRows(body) != 3 || !strings.Contains(body, "<td>alice@example.com</td><td>3</td>") {
		t.Errorf("SELECT over Audit_CL: %d rows %d", res.StatusCode, resultRows(body))
	}
	res, body = run(`SELECT "Source IP" FROM "MimecastAudit" WHERE "Source IP" <> '' ORDER BY 1`)
	if res.StatusCode != http.StatusOK || resultRows(body) != 4 {
		t.Errorf("SELECT over a view: %d rows %d", res.StatusCode, resultRows(body))
	}
	for _, bad := range []struct{ sql, want string }{
		{`SELECT * FROM read_csv('/etc/passwd')`, "table function read_csv() is not allowed"},
		{`SELECT * FROM '/etc/passwd'`, "is not one of the store"},
		{`COPY "Audit_CL" TO '/tmp/x.csv'`, "only a single SELECT"},
		{`SELECT 1; SELECT 2`, "exactly one statement"},
		{`WITH x AS (SELECT * FROM read_text('/etc/hostname')) SELECT * FROM x`, "read_text() is not allowed"},
		{`SELEC 1`, "syntax error"},
		{``, "Type a SELECT statement."},
	} {
		res, body := run(bad.sql)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, bad.want) || resultRows(body) != 0 {
			t.Errorf("%q = %d, want 400 with %q", bad.sql, res.StatusCode, bad.want)
		}
	}
}

func TestSearchCSV(t *testing.T) {
	hs, _ := peopleHarness(t, nil)
	q := url.Values{"mode": {"sql"}, "run": {"1"}, "sql": {`SELECT id, "eventTime", '=cmd' AS f FROM "Audit_CL" ORDER BY id`}}
	body := hs.get(t, searchURL(q))
	if !strings.Contains(body, `id="search-csv"`) {
		t.Fatal("no CSV link")
	}
	q.Set("format", "csv")
	res, csvBody := hs.do(t, http.MethodGet, searchURL(q), nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("csv: %d %v", res.StatusCode, res.Header)
	}
	recs, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 || strings.Join(recs[0], ",") != "id,eventTime,f" ||
		strings.Join(recs[1], ",") != "l1,2026-03-10T08:05:00Z,'=cmd" {
		t.Errorf("csv = %v", recs)
	}
	// The filter mode's CSV holds the same rows as its table.
	fq := url.Values{"run": {"1"}, "rel": {"Seg_Dlp_CL"}, "col": {"senderAddress"}, "op": {"eq"}, "val": {"dave@example.com"}, "format": {"csv"}}
	_, csvBody = hs.do(t, http.MethodGet, searchURL(fq), nil)
	if recs, _ := csv.NewReader(strings.NewReader(csvBody)).ReadAll(); len(recs) != 4 {
		t.Errorf("filter csv has %d records, want header + 3", len(recs))
	}
}

// TestSearchRoles: the filter mode is open to viewers, the SQL mode needs an analyst.
func TestSearchRoles(t *testing.T) {
	db := openPeopleStore(t)
	ts := newTestServer(t, Options{Store: db})
	sqlQ := searchURL(url.Values{"mode": {"sql"}, "run": {"1"}, "sql": {`SELECT 1`}})
	filterQ := searchURL(url.Values{"run": {"1"}, "rel": {"Audit_CL"}})
	get := func(h http.Handler, target string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		return rec
	}
	viewer := ts.as(t, auth.RoleViewer)
	if rec := get(viewer, sqlQ); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "analyst role") {
		t.Errorf("viewer SQL search = %d", rec.Code)
	}
	if rec := get(viewer, filterQ); rec.Code != http.StatusOK || resultRows(rec.Body.String()) != 4 {
		t.Errorf("viewer filter search = %d", rec.Code)
	}
	if rec := get(viewer, "/search"); strings.Contains(rec.Body.String(), "mode=sql") {
		t.Error("viewer is offered the SQL mode")
	}
	if rec := get(ts.as(t, auth.RoleAnalyst), sqlQ); rec.Code != http.StatusOK || resultRows(rec.Body.String()) != 1 {
		t.Errorf("analyst SQL search = %d", rec.Code)
	}
}

// TestSearchSQLNeedsSafeStore: a store without SearchQuery offers the filter mode only.
func TestSearchSQLNeedsSafeStore(t *testing.T) {
	hs := newHarness(t, &fakeStore{}, nil)
	res, body := hs.do(t, http.MethodGet, searchURL(url.Values{"mode": {"sql"}, "run": {"1"}, "sql": {`SELECT 1`}}), nil)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "SQL search") {
		t.Errorf("SQL search on a store without SearchQuery = %d", res.StatusCode)
	}
}
