package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Human risk: users ranked by what Awareness Training says of them joined with what actually reached them.
//
//	score = safe + 15 × malicious clicks + 10 × impersonation + 5 × DLP + 8 × alerts
//
//	safe            SAFE score risk grade → points: A 0, B 5, C 10, D 20, E 30, F 40 (no grade: 0)
//	malicious clicks Ttp_Url_CL rows of the user with creationMethod "User Click" and scanResult "malicious"
//	impersonation   Ttp_Impersonation_CL detections whose recipient is the user
//	DLP             Seg_Dlp_CL events whose sender is the user
//	alerts          alerts naming the user as a mailbox or user entity
//
// Counts are over the selected time range; the grade is the latest Awareness Training snapshot. One malicious
// click outweighs a whole grade step, because it is exposure that happened, not a propensity.
const (
	riskPointsClick         = 15
	riskPointsImpersonation = 10
	riskPointsDLP           = 5
	riskPointsAlert         = 8
)

// safePoints maps a SAFE score risk grade to points.
var safePoints = map[string]int64{"A": 0, "B": 5, "C": 10, "D": 20, "E": 30, "F": 40}

// riskFormula is the formula as the page shows it.
const riskFormula = "score = SAFE grade points (A 0, B 5, C 10, D 20, E 30, F 40) + 15 × malicious URL clicks + " +
	"10 × impersonation detections + 5 × DLP hits as sender + 8 × alerts"

// mailboxStats is what the store knows of one mailbox in a time range.
type mailboxStats struct {
	Mailbox       string
	Name          string
	Department    string
	Risk          string
	Logons        int64
	FailedLogons  int64
	Clicks        int64
	MaliciousURL  int64
	Impersonation int64
	Attachments   int64
	DLP           int64
	Alerts        int64
}

// SafePoints are the points of the SAFE score grade.
func (m mailboxStats) SafePoints() int64 {
	return safePoints[strings.ToUpper(strings.TrimSpace(m.Risk))]
}

// Score is the human-risk score (see the formula above).
func (m mailboxStats) Score() int64 {
	return m.SafePoints() + riskPointsClick*m.MaliciousURL + riskPointsImpersonation*m.Impersonation +
		riskPointsDLP*m.DLP + riskPointsAlert*m.Alerts
}

// logonCondition selects the audit records that are logons (successful, failed or challenged) by their audit type
// column (quoted identifier).
func logonCondition(col string) string {
	return `(lower(` + col + `) LIKE '%logon%' OR lower(` + col + `) LIKE '%logged on%' OR lower(` + col + `) LIKE '%login%')`
}

// mailboxStatsQuery counts, per mailbox, what the tables hold in [$1, $2), joined with the SAFE score snapshot.
// $3 is a text the mailbox must contain (empty for all).
func mailboxStatsQuery(win window, contains string) query {
	return query{
		SQL: `WITH ev AS (
  SELECT lower(trim("user")) AS mailbox,
    CASE WHEN NOT ` + logonCondition(`"auditType"`) + ` THEN 'audit' WHEN lower("auditType") LIKE '%fail%' THEN 'logon_failed' ELSE 'logon' END AS kind
  FROM "Audit_CL" WHERE "eventTime" >= $1 AND "eventTime" < $2
  UNION ALL
  SELECT lower(trim("userEmailAddress")),
    CASE WHEN "creationMethod" <> 'User Click' THEN 'scan' WHEN lower("scanResult") = 'malicious' THEN 'malicious_click' ELSE 'click' END
  FROM "Ttp_Url_CL" WHERE "Date" >= $1 AND "Date" < $2
  UNION ALL
  SELECT lower(trim("recipientAddress")), 'impersonation' FROM "Ttp_Impersonation_CL" WHERE "eventTime" >= $1 AND "eventTime" < $2
  UNION ALL
  SELECT lower(trim("recipientAddress")), 'attachment' FROM "Ttp_Attachment_CL" WHERE "Date" >= $1 AND "Date" < $2
  UNION ALL
  SELECT lower(trim("senderAddress")), 'dlp' FROM "Seg_Dlp_CL" WHERE "eventTime" >= $1 AND "eventTime" < $2
), counts AS (
  SELECT mailbox,
    count(*) FILTER (WHERE kind IN ('logon', 'logon_failed')) AS logons,
    count(*) FILTER (WHERE kind = 'logon_failed') AS failed_logons,
    count(*) FILTER (WHERE kind IN ('click', 'malicious_click')) AS clicks,
    count(*) FILTER (WHERE kind = 'malicious_click') AS malicious_clicks,
    count(*) FILTER (WHERE kind = 'impersonation') AS impersonation,
    count(*) FILTER (WHERE kind = 'attachment') AS attachments,
    count(*) FILTER (WHERE kind = 'dlp') AS dlp
  FROM ev WHERE mailbox IS NOT NULL AND mailbox <> '' GROUP BY mailbox
), safe AS (
  SELECT lower(trim("emailAddress")) AS mailbox, max("name") AS name, max("department") AS department, max("risk") AS risk
  FROM "Awareness_SafeScore_Details_CL" GROUP BY 1
)
SELECT coalesce(c.mailbox, s.mailbox) AS mailbox, coalesce(s.name, '') AS name, coalesce(s.department, '') AS department,
  coalesce(s.risk, '') AS risk, coalesce(c.logons, 0) AS logons, coalesce(c.failed_logons, 0) AS failed_logons,
  coalesce(c.clicks, 0) AS clicks, coalesce(c.malicious_clicks, 0) AS malicious_clicks,
  coalesce(c.impersonation, 0) AS impersonation, coalesce(c.attachments, 0) AS attachments, coalesce(c.dlp, 0) AS dlp
FROM counts c FULL OUTER JOIN safe s ON c.mailbox = s.mailbox
WHERE position($3 IN coalesce(c.mailbox, s.mailbox)) > 0
ORDER BY 1`,
		Args: []any{win.From, win.To, strings.ToLower(strings.TrimSpace(contains))},
	}
}

// mailboxStatColumns are the integer columns of mailboxStatsQuery and where each goes.
var mailboxStatColumns = []struct {
	name string
	dst  func(*mailboxStats) *int64
}{
	{"logons", func(m *mailboxStats) *int64 { return &m.Logons }},
	{"failed_logons", func(m *mailboxStats) *int64 { return &m.FailedLogons }},
	{"clicks", func(m *mailboxStats) *int64 { return &m.Clicks }},
	{"malicious_clicks", func(m *mailboxStats) *int64 { return &m.MaliciousURL }},
	{"impersonation", func(m *mailboxStats) *int64 { return &m.Impersonation }},
	{"attachments", func(m *mailboxStats) *int64 { return &m.Attachments }},
	{"dlp", func(m *mailboxStats) *int64 { return &m.DLP }},
}

// mailboxStats loads the per-mailbox counts of the window plus alerts naming each mailbox; mailboxes seen only in
// alerts are included. contains filters by address.
func (s *server) mailboxStats(ctx context.Context, win window, contains string) ([]mailboxStats, error) {
	want := []string{"mailbox", "name", "department", "risk"}
	for _, c := range mailboxStatColumns {
		want = append(want, c.name)
	}
	res, c, err := s.run(ctx, mailboxStatsQuery(win, contains), want...)
	if err != nil {
		return nil, fmt.Errorf("mailbox statistics: %w", err)
	}
	out := make([]mailboxStats, 0, len(res.Rows))
	index := map[string]int{}
	for _, row := range res.Rows {
		m := mailboxStats{Mailbox: asString(c.value(row, "mailbox")), Name: asString(c.value(row, "name")),
			Department: asString(c.value(row, "department")), Risk: asString(c.value(row, "risk"))}
		for _, col := range mailboxStatColumns {
			if *col.dst(&m), err = asInt(c.value(row, col.name)); err != nil {
				return nil, fmt.Errorf("mailbox statistics: %s: %w", col.name, err)
			}
		}
		index[m.Mailbox] = len(out)
		out = append(out, m)
	}
	alerts, err := s.alertsByMailbox(ctx, win)
	if err != nil {
		return nil, err
	}
	needle := strings.ToLower(strings.TrimSpace(contains))
	for mb, n := range alerts {
		if i, ok := index[mb]; ok {
			out[i].Alerts = n
		} else if strings.Contains(mb, needle) {
			out = append(out, mailboxStats{Mailbox: mb, Alerts: n})
		}
	}
	return out, nil
}

// maxUserAlerts caps how many alerts of a window the user pages read.
const maxUserAlerts = 10000

// alertsByMailbox counts the window's alerts per mailbox or user entity (lower-cased).
func (s *server) alertsByMailbox(ctx context.Context, win window) (map[string]int64, error) {
	list, err := s.alerts(ctx, win, "", "", maxUserAlerts)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, a := range list {
		if !inWindow(alertTimeOf(a.LastEvent, a.Created), win) {
			continue
		}
		seen := map[string]bool{}
		for _, e := range a.Entities {
			v := strings.ToLower(strings.TrimSpace(e.Value))
			if (e.Type == "mailbox" || e.Type == "user") && v != "" && !seen[v] {
				seen[v] = true
				out[v]++
			}
		}
	}
	return out, nil
}

// alertTimeOf is an alert's time: its last event, else its creation.
func alertTimeOf(last, created time.Time) time.Time {
	if !last.IsZero() {
		return last
	}
	return created
}

func inWindow(t time.Time, win window) bool { return !t.Before(win.From) && t.Before(win.To) }

// riskColumns are the sortable columns of the human-risk table: key, header, and the value sorted on.
var riskColumns = []struct {
	Key, Label string
	value      func(m mailboxStats) any
}{
	{"mailbox", "Mailbox", func(m mailboxStats) any { return m.Mailbox }},
	{"department", "Department", func(m mailboxStats) any { return m.Department }},
	{"risk", "SAFE risk", func(m mailboxStats) any { return m.Risk }},
	{"safe", "SAFE points", func(m mailboxStats) any { return m.SafePoints() }},
	{"clicks", "Malicious clicks", func(m mailboxStats) any { return m.MaliciousURL }},
	{"impersonation", "Impersonation", func(m mailboxStats) any { return m.Impersonation }},
	{"dlp", "DLP hits", func(m mailboxStats) any { return m.DLP }},
	{"alerts", "Alerts", func(m mailboxStats) any { return m.Alerts }},
	{"score", "Score", func(m mailboxStats) any { return m.Score() }},
}

// riskRow is one ranked user.
type riskRow struct {
	Rank int
	mailboxStats
}

// riskPage is the human-risk page's data.
type riskPage struct {
	Base
	Ranges  []rangeOption
	Window  window
	Sort    string
	Desc    bool
	Columns []sortLink
	Rows    []riskRow
	Formula string
	CSVURL  string
	Notice  string
	Error   string
}

// sortLink is a sortable column header.
type sortLink struct {
	Key, Label, Href string
	Current, Desc    bool
}

// rankRisk orders users by the chosen column (score, highest first, by default); ties go by mailbox. Users with
// nothing to score (score 0 and no grade) are left out.
func rankRisk(stats []mailboxStats, key string, desc bool) []riskRow {
	col := riskColumns[len(riskColumns)-1]
	for _, c := range riskColumns {
		if c.Key == key {
			col = c
		}
	}
	var rows []riskRow
	for _, m := range stats {
		if m.Score() > 0 || m.Risk != "" {
			rows = append(rows, riskRow{mailboxStats: m})
		}
	}
	slices.SortStableFunc(rows, func(a, b riskRow) int {
		c := compareValues(col.value(a.mailboxStats), col.value(b.mailboxStats))
		if desc {
			c = -c
		}
		if c == 0 {
			c = strings.Compare(a.Mailbox, b.Mailbox)
		}
		return c
	})
	for i := range rows {
		rows[i].Rank = i + 1
	}
	return rows
}

func compareValues(a, b any) int {
	if x, ok := a.(int64); ok {
		y, _ := b.(int64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// riskSort reads sort and dir: an unknown column falls back to score; numbers sort high first unless dir=asc.
func riskSort(q url.Values) (string, bool) {
	key := q.Get("sort")
	known := false
	for _, c := range riskColumns {
		known = known || c.Key == key
	}
	if !known {
		key = "score"
	}
	switch q.Get("dir") {
	case "asc":
		return key, false
	case "desc":
		return key, true
	}
	return key, key != "mailbox" && key != "department" && key != "risk"
}

func (s *server) handleHumanRisk(w http.ResponseWriter, r *http.Request) {
	win, notice := s.pageWindow(r)
	key, desc := riskSort(r.URL.Query())
	p := riskPage{Base: s.base(r, "users", "pages.js"), Ranges: ranges, Window: win, Sort: key, Desc: desc,
		Formula: riskFormula, Notice: notice}
	stats, err := s.mailboxStats(r.Context(), win, "")
	if err != nil {
		s.log.ErrorContext(r.Context(), "human risk", "error", err)
		p.Error = "Could not load data from the store; the server log has the details."
		s.renderPage(w, r, http.StatusInternalServerError, "humanrisk", p)
		return
	}
	p.Rows = rankRisk(stats, key, desc)
	if r.URL.Query().Get("format") == "csv" {
		header := []string{"rank"}
		for _, c := range riskColumns {
			header = append(header, c.Key)
		}
		out := make([][]string, len(p.Rows))
		for i, row := range p.Rows {
			out[i] = []string{strconv.Itoa(row.Rank)}
			for _, c := range riskColumns {
				out[i] = append(out[i], fmt.Sprint(c.value(row.mailboxStats)))
			}
		}
		writeCSV(w, "human-risk-"+win.Range.Name+".csv", header, out)
		return
	}
	for _, c := range riskColumns {
		q := url.Values{"range": {win.Range.Name}, "sort": {c.Key}, "dir": {"desc"}}
		if c.Key == key && desc {
			q.Set("dir", "asc")
		}
		p.Columns = append(p.Columns, sortLink{Key: c.Key, Label: c.Label, Href: "/users/risk?" + q.Encode(),
			Current: c.Key == key, Desc: desc})
	}
	p.CSVURL = "/users/risk?" + url.Values{"range": {win.Range.Name}, "sort": {key}, "dir": {map[bool]string{true: "desc", false: "asc"}[desc]}, "format": {"csv"}}.Encode()
	s.renderPage(w, r, http.StatusOK, "humanrisk", p)
}
