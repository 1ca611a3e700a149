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

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/ueba"
)

// registerPeopleOpsPages registers the Users, human-risk, Connectors and Search pages and their API routes.
func (s *server) registerPeopleOpsPages(mux *http.ServeMux, opts Options) {
	u := &userPages{server: s, geo: opts.GeoLookup}
	mux.HandleFunc("GET /users", u.handleUsers)
	mux.HandleFunc("GET /users/risk", s.handleHumanRisk)
	mux.HandleFunc("GET /users/{email}", u.handleUser)
	s.registerConnectorPages(mux, opts)
	s.registerSearchPages(mux)
}

// userPages serves /users and /users/{email}.
type userPages struct {
	*server
	// geo maps a logon's source IP to a country; nil leaves the country empty.
	geo func(ip string) (string, bool)
}

// maxUserList caps the users list.
const maxUserList = 1000

// mailboxListPage is the users list's data.
type mailboxListPage struct {
	Base
	Ranges []rangeOption
	Window window
	Query  string
	Users  []mailboxStats
	// Capped is set when more users matched than the list shows.
	Capped bool
	Notice string
	Error  string
}

func (u *userPages) handleUsers(w http.ResponseWriter, r *http.Request) {
	win, notice := u.pageWindow(r)
	p := mailboxListPage{Base: u.base(r, "users"), Ranges: ranges, Window: win, Query: strings.TrimSpace(r.URL.Query().Get("q")), Notice: notice}
	stats, err := u.mailboxStats(r.Context(), win, p.Query)
	if err != nil {
		u.log.ErrorContext(r.Context(), "users", "error", err)
		p.Error = "Could not load data from the store; the server log has the details."
		u.renderPage(w, r, http.StatusInternalServerError, "users", p)
		return
	}
	// Most active first: alerts, then malicious clicks, DLP hits, logons.
	slices.SortStableFunc(stats, func(a, b mailboxStats) int {
		for _, d := range [][2]int64{{a.Alerts, b.Alerts}, {a.MaliciousURL, b.MaliciousURL}, {a.DLP, b.DLP}, {a.Logons, b.Logons}} {
			if d[0] != d[1] {
				if d[0] > d[1] {
					return -1
				}
				return 1
			}
		}
		return strings.Compare(a.Mailbox, b.Mailbox)
	})
	if len(stats) > maxUserList {
		stats, p.Capped = stats[:maxUserList], true
	}
	p.Users = stats
	u.renderPage(w, r, http.StatusOK, "users", p)
}

// awareness is the Awareness Training data of one user (latest snapshots).
type awareness struct {
	Name, Department, Risk, HumanError, Sentiment, Engagement, Knowledge string
	Watchlist                                                            int64
	CampaignsSent, CampaignsClicked                                      int64
	// ClickedTemplates are the phishing campaign templates the user clicked.
	ClickedTemplates []string
	Found            bool
}

// userPage is one user's page.
type userPage struct {
	Base
	Ranges    []rangeOption
	Window    window
	Mailbox   string
	Awareness awareness
	Timeline  []timelineEntry
	// Page is the 1-based timeline page; Prev and Next link to the neighbours ("" when there is none).
	Page       int
	Prev, Next string
	// Capped names the sources that had more entries in the range than were read.
	Capped []string
	Counts map[string]int
	// RiskSessions are the behaviour analytics' sessions of this mailbox in the range, highest score first.
	RiskSessions []ueba.Session
	Notice       string
	Error        string
}

// timelinePageSize is how many timeline entries one page shows.
const timelinePageSize = 100

func (u *userPages) handleUser(w http.ResponseWriter, r *http.Request) {
	mailbox := strings.ToLower(strings.TrimSpace(r.PathValue("email")))
	win, notice := u.pageWindow(r)
	p := userPage{Base: u.base(r, "users"), Ranges: ranges, Window: win, Mailbox: mailbox, Notice: notice, Page: 1}
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 {
		p.Page = n
	}
	if mailbox == "" || len(mailbox) > 320 {
		p.Error = "A mailbox address is required (at most 320 characters)."
		u.renderPage(w, r, http.StatusBadRequest, "user", p)
		return
	}
	err := u.loadUser(r.Context(), &p)
	if err == nil {
		p.RiskSessions, _, err = u.riskSessions(r.Context(), win, mailbox, false)
	}
	if err != nil {
		u.log.ErrorContext(r.Context(), "user page", "mailbox", mailbox, "error", err)
		p.Error = "Could not load data from the store; the server log has the details."
		u.renderPage(w, r, http.StatusInternalServerError, "user", p)
		return
	}
	u.renderPage(w, r, http.StatusOK, "user", p)
}

// loadUser fills the awareness header and the page of the merged timeline.
func (u *userPages) loadUser(ctx context.Context, p *userPage) error {
	var err error
	if p.Awareness, err = u.awareness(ctx, p.Mailbox); err != nil {
		return err
	}
	entries, capped, err := u.timeline(ctx, p.Mailbox, p.Window)
	if err != nil {
		return err
	}
	p.Capped = capped
	p.Counts = map[string]int{}
	for _, e := range entries {
		p.Counts[e.Kind]++
	}
	from := (p.Page - 1) * timelinePageSize
	if from > len(entries) {
		from = len(entries)
	}
	to := min(from+timelinePageSize, len(entries))
	p.Timeline = entries[from:to]
	link := func(page int) string {
		return "/users/" + url.PathEscape(p.Mailbox) + "?" + url.Values{"range": {p.Window.Range.Name}, "page": {strconv.Itoa(page)}}.Encode()
	}
	if p.Page > 1 {
		p.Prev = link(p.Page - 1)
	}
	if to < len(entries) {
		p.Next = link(p.Page + 1)
	}
	return nil
}

// awarenessQuery reads the user's SAFE score, watchlist and phishing campaign rows. Columns: source, a…h.
func awarenessQuery(mailbox string) query {
	return query{
		SQL: `SELECT 'safe' AS source, "name" AS a, "department" AS b, "risk" AS c, "humanError" AS d, "sentiment" AS e,
  "engagement" AS f, "knowledge" AS g, CAST(NULL AS DOUBLE) AS h, CAST(NULL AS DOUBLE) AS i
FROM "Awareness_SafeScore_Details_CL" WHERE lower(trim("emailAddress")) = $1
UNION ALL
SELECT 'watchlist', "name", "department", '', '', '', '', '', "watchlistCount", NULL
FROM "Awareness_Watchlist_Details_CL" WHERE lower(trim("email")) = $1
UNION ALL
SELECT 'campaign', "name", "department", "templateName", "status", '', '', '', "numCampaignsSent", "numCampaignsClicked"
FROM "Awareness_User_Data_CL" WHERE lower(trim("email")) = $1`,
		Args: []any{mailbox},
	}
}

func (u *userPages) awareness(ctx context.Context, mailbox string) (awareness, error) {
	res, c, err := u.run(ctx, awarenessQuery(mailbox), "source", "a", "b", "c", "d", "e", "f", "g", "h", "i")
	if err != nil {
		return awareness{}, fmt.Errorf("awareness: %w", err)
	}
	var a awareness
	str := func(row []any, col string) string { return asString(c.value(row, col)) }
	for _, row := range res.Rows {
		a.Found = true
		if a.Name == "" {
			a.Name, a.Department = str(row, "a"), str(row, "b")
		}
		switch str(row, "source") {
		case "safe":
			a.Name, a.Department, a.Risk, a.HumanError = str(row, "a"), str(row, "b"), str(row, "c"), str(row, "d")
			a.Sentiment, a.Engagement, a.Knowledge = str(row, "e"), str(row, "f"), str(row, "g")
		case "watchlist":
			a.Watchlist, _ = asInt(c.value(row, "h"))
		case "campaign":
			sent, _ := asInt(c.value(row, "h"))
			clicked, _ := asInt(c.value(row, "i"))
			a.CampaignsSent += sent
			a.CampaignsClicked += clicked
			if clicked > 0 || strings.EqualFold(str(row, "d"), "clicked") {
				a.ClickedTemplates = append(a.ClickedTemplates, str(row, "c"))
			}
		}
	}
	slices.Sort(a.ClickedTemplates)
	return a, nil
}

// timelineEntry is one item of a user's timeline.
type timelineEntry struct {
	Time time.Time
	// Kind is logon, alert, url, impersonation, attachment, dlp or mail.
	Kind string
	// Outcome classes the entry: success, failure, challenge, malicious, clean, blocked, … (shown as a chip).
	Outcome string
	Title   string
	// Fields are label/value details in display order.
	Fields []field
	// Link points at the entry's own page (alerts).
	Link string
}

// field is one labelled detail of a timeline entry.
type field struct{ Label, Value string }

// timelineSourceLimit caps how many entries each source contributes to one timeline.
const timelineSourceLimit = 500

// timelineSource is one table's part of the timeline: a query (newest first, $1 mailbox, $2 from, $3 to, at most
// timelineSourceLimit+1 rows) and how a row becomes an entry.
type timelineSource struct {
	kind  string
	sql   string
	entry func(u *userPages, row func(string) any) timelineEntry
}

// str reads a text column of a timeline row.
func str(row func(string) any, col string) string { return asString(row(col)) }

// timelineSources are the timeline's tables, in no particular order (entries are merged by time).
var timelineSources = []timelineSource{
	{"logon", `SELECT "Event Time" AS at, "Audit Type" AS audit_type, "Source IP" AS ip, "Application" AS app
FROM "MimecastAudit" WHERE lower(trim("User")) = $1 AND "Event Time" >= $2 AND "Event Time" < $3
  AND ` + logonCondition(`"Audit Type"`) + `
ORDER BY 1 DESC LIMIT {limit}`, func(u *userPages, row func(string) any) timelineEntry {
		typ, ip := str(row, "audit_type"), str(row, "ip")
		outcome := "success"
		switch lt := strings.ToLower(typ); {
		case strings.Contains(lt, "fail"):
			outcome = "failure"
		case strings.Contains(lt, "challenge"):
			outcome = "challenge"
		}
		country := ""
		if u.geo != nil && ip != "" {
			country, _ = u.geo(ip)
		}
		return timelineEntry{Outcome: outcome, Title: typ, Fields: []field{{"Application", str(row, "app")},
			{"Source IP", ip}, {"Country", country}}}
	}},
	{"url", `SELECT "Date" AS at, "url", "scanResult" AS scan, "action", "creationMethod" AS method, "fromUserEmailAddress" AS sender,
  "subject"
FROM "Ttp_Url_CL" WHERE lower(trim("userEmailAddress")) = $1 AND "Date" >= $2 AND "Date" < $3 ORDER BY 1 DESC LIMIT {limit}`,
		func(_ *userPages, row func(string) any) timelineEntry {
			return timelineEntry{Outcome: strings.ToLower(str(row, "scan")), Title: str(row, "method") + ": " + str(row, "url"),
				Fields: []field{{"Scan result", str(row, "scan")}, {"Action", str(row, "action")},
					{"From", str(row, "sender")}, {"Subject", str(row, "subject")}}}
		}},
	{"impersonation", `SELECT "eventTime" AS at, "senderAddress" AS sender, "subject", "definition", "action", "hits"
FROM "Ttp_Impersonation_CL" WHERE lower(trim("recipientAddress")) = $1 AND "eventTime" >= $2 AND "eventTime" < $3
ORDER BY 1 DESC LIMIT {limit}`, func(_ *userPages, row func(string) any) timelineEntry {
		return timelineEntry{Outcome: strings.ToLower(str(row, "action")), Title: "Impersonation from " + str(row, "sender"),
			Fields: []field{{"Subject", str(row, "subject")}, {"Definition", str(row, "definition")},
				{"Action", str(row, "action")}, {"Hits", str(row, "hits")}}}
	}},
	{"attachment", `SELECT "Date" AS at, "senderAddress" AS sender, "fileName" AS file, "result", "actionTriggered" AS action
FROM "Ttp_Attachment_CL" WHERE lower(trim("recipientAddress")) = $1 AND "Date" >= $2 AND "Date" < $3
ORDER BY 1 DESC LIMIT {limit}`, func(_ *userPages, row func(string) any) timelineEntry {
		return timelineEntry{Outcome: strings.ToLower(str(row, "result")), Title: "Attachment " + str(row, "file"),
			Fields: []field{{"From", str(row, "sender")}, {"Result", str(row, "result")}, {"Action", str(row, "action")}}}
	}},
	{"dlp", `SELECT "eventTime" AS at, "policy", "action", "recipientAddress" AS recipients, "subject"
FROM "Seg_Dlp_CL" WHERE lower(trim("senderAddress")) = $1 AND "eventTime" >= $2 AND "eventTime" < $3
ORDER BY 1 DESC LIMIT {limit}`, func(_ *userPages, row func(string) any) timelineEntry {
		return timelineEntry{Outcome: strings.ToLower(str(row, "action")), Title: "DLP policy " + str(row, "policy"),
			Fields: []field{{"Action", str(row, "action")}, {"Recipients", str(row, "recipients")}, {"Subject", str(row, "subject")}}}
	}},
	{"mail", `SELECT date_trunc('day', "Event Time") AS at,
  count(DISTINCT "Aggregate ID") FILTER (WHERE lower(trim("Sender Envelope")) = $1) AS sent,
  count(DISTINCT "Aggregate ID") FILTER (WHERE position($1 IN lower("Recipients")) > 0) AS received
FROM "MimecastCG" WHERE "Type" = 'email_receipt' AND "Event Time" >= $2 AND "Event Time" < $3
  AND (lower(trim("Sender Envelope")) = $1 OR position($1 IN lower("Recipients")) > 0)
GROUP BY 1 ORDER BY 1 DESC LIMIT {limit}`, func(_ *userPages, row func(string) any) timelineEntry {
		sent, _ := asInt(row("sent"))
		received, _ := asInt(row("received"))
		return timelineEntry{Title: fmt.Sprintf("Mail: %d sent, %d received", sent, received),
			Fields: []field{{"Sent", strconv.FormatInt(sent, 10)}, {"Received", strconv.FormatInt(received, 10)}}}
	}},
}

// timeline merges every source's entries for the mailbox in the window, newest first. capped names the sources
// that had more than timelineSourceLimit entries.
func (u *userPages) timeline(ctx context.Context, mailbox string, win window) ([]timelineEntry, []string, error) {
	var out []timelineEntry
	var capped []string
	for _, src := range timelineSources {
		q := query{SQL: strings.Replace(src.sql, "{limit}", strconv.Itoa(timelineSourceLimit+1), 1), Args: []any{mailbox, win.From, win.To}}
		res, c, err := u.run(ctx, q, "at")
		if err != nil {
			return nil, nil, fmt.Errorf("timeline %s: %w", src.kind, err)
		}
		if len(res.Rows) > timelineSourceLimit {
			res.Rows, capped = res.Rows[:timelineSourceLimit], append(capped, src.kind)
		}
		for _, r := range res.Rows {
			at, err := asTime(c.value(r, "at"))
			if err != nil {
				return nil, nil, fmt.Errorf("timeline %s: %w", src.kind, err)
			}
			e := src.entry(u, func(col string) any { return c.value(r, strings.ToLower(col)) })
			e.Time, e.Kind = at, src.kind
			out = append(out, e)
		}
	}
	alerts, err := u.alertsFor(ctx, mailbox, win)
	if err != nil {
		return nil, nil, err
	}
	out = append(out, alerts...)
	slices.SortStableFunc(out, func(a, b timelineEntry) int { return b.Time.Compare(a.Time) })
	return out, capped, nil
}

// alertsFor are the window's alerts naming the mailbox, as timeline entries.
func (u *userPages) alertsFor(ctx context.Context, mailbox string, win window) ([]timelineEntry, error) {
	list, err := u.alerts(ctx, win, "", "", maxUserAlerts)
	if err != nil {
		return nil, err
	}
	var out []timelineEntry
	for _, a := range list {
		at := alertTimeOf(a.LastEvent, a.Created)
		if !inWindow(at, win) || !slices.ContainsFunc(a.Entities, func(e schema.Entity) bool {
			return (e.Type == "mailbox" || e.Type == "user") && strings.EqualFold(strings.TrimSpace(e.Value), mailbox)
		}) {
			continue
		}
		out = append(out, timelineEntry{Time: at, Kind: "alert", Outcome: strings.ToLower(a.Severity), Title: a.Title,
			Fields: []field{{"Rule", a.RuleID}, {"Severity", a.Severity}, {"Status", a.Status}},
			Link:   "/alerts/" + url.PathEscape(a.ID)})
	}
	return out, nil
}
