package web

// The Mimecast Awareness Training workbook (spec sentinel-solution §5.2): tabs Awareness Training, Human Risk
// Overview and Phishing Training, each with the e-mail filter (default "*", all users).
//
// Time range. The workbook sets the range as the time context of every query, so in Sentinel it filters
// TimeGenerated: the time a 12-hourly snapshot was ingested. Any range of 12 hours or more therefore shows every
// user's snapshots (and, the parsers grouping by every column, each past state again: F10), and a shorter range
// shows only what happened to be ingested in it. castwatch keeps one row per user, written only when the user's
// state changes, so TimeGenerated is "last changed", not "last seen": filtering on it would hide every user whose
// state has been stable for longer than the range. Hence:
//   - the snapshot tables (watchlist, performance, SAFE score) show each user's current state whatever the range
//     (the state the workbook shows for every range of 12 hours and more);
//   - the phishing campaign results (AwarenessUserData, one row per user and campaign) are events: the range
//     selects the campaigns sent in it ("Time Scheduled"); a row without a send time is always shown.

// AT parameters.
const (
	atEmail    = "email"
	atTemplate = "template"
	atRisk     = "risk"
)

// atEmailParam is the workbook's Email text parameter.
var atEmailParam = Param{Name: atEmail, Label: "E-mail (* for all)", Default: "*", Input: true}

// awarenessDashboard is the Mimecast Awareness Training workbook.
func awarenessDashboard() *Dashboard {
	return &Dashboard{ID: "awareness", Title: "Mimecast Awareness Training",
		Description: "Watchlist, training performance, SAFE scores (human risk) and phishing campaign results per user.",
		Tabs:        []Tab{atTrainingTab(), atRiskTab(), atPhishingTab()}}
}

// atUsers is the filter of the snapshot panels: a non-empty e-mail matching the filter, and the tenant.
func atUsers(p Params, a *Args, emailCol string) string {
	return emailCol + ` <> '' AND ` + a.MatchAll(emailCol, p.Get(atEmail)) + p.TenantFilter(a)
}

// atCampaigns is the filter of the user-data panels: e-mail, template, tenant, and campaigns sent in the window.
func atCampaigns(p Params, a *Args) string {
	return atPhishing(p, a) + ` AND ` + a.MatchAll(`"Template Name"`, p.Get(atTemplate))
}

// atIntLabel shows a count column as an integer label ("3"), as the workbook's tostring(toint(x)).
func atIntLabel(col string) string {
	return `coalesce(CAST(CAST(` + col + ` AS BIGINT) AS VARCHAR), '')`
}

func atTrainingTab() Tab {
	panels := []Panel{{
		ID: "watchlist-breakdown", Title: "Breakdown by Watchlist Count", Kind: KindPie,
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT ` + atIntLabel(`"Watchlist Count"`) + ` AS "Watchlist Count", count(*) AS "Count"
FROM "AwarenessWatchlist" WHERE ` + atUsers(p, &a, `"Email"`) + ` GROUP BY 1`, a
		},
	}, {
		ID: "watchlist-overview", Title: "Watchlist Overview", Kind: KindTable, Note: "All users (the workbook applies no e-mail filter here)",
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT "Email", "Name", "Watchlist Count", "User State" FROM "AwarenessWatchlist" WHERE true` +
				p.TenantFilter(&a) + ` ORDER BY "Watchlist Count" DESC, "Email"`, a
		},
	}, {
		ID: "performance-overview", Title: "Performance Overview", Kind: KindTable, Wide: true,
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT "Email", "Num of Correct", "Num of Incorrect", "Num of Not Watched", "Name", "User Details",
  "User State", "Department"
FROM "AwarenessPerformanceDetails" WHERE ` + atUsers(p, &a, `"Email"`) + ` ORDER BY "Email"`, a
		},
	}}
	for _, c := range []struct{ id, title, col string }{
		{"correct-by-count", "Correct Number by Count", "Num of Correct"},
		{"incorrect-by-count", "Incorrect Number by Count", "Num of Incorrect"},
		{"not-watched-by-count", "Not Watched by Count", "Num of Not Watched"},
	} {
		col := quoteIdent(c.col)
		panels = append(panels, Panel{ID: c.id, Title: c.title, Kind: KindBar, Note: "Users per " + c.col,
			Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT ` + atIntLabel(col) + ` AS ` + col + `, count(*) AS "Users"
FROM "AwarenessPerformanceDetails" WHERE ` + atUsers(p, &a, `"Email"`) + `
GROUP BY 1 ORDER BY min(` + col + `) NULLS LAST`, a
			}})
	}
	panels = append(panels, Panel{
		ID: "user-stats", Title: "User Stats Overview", Kind: KindTable, Wide: true, Note: "Campaigns sent in the time range",
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT "Name", "Email", "Status", "Template Name", "Num of Campaigns Clicked", "Num of Campaigns Sent",
  "Num of Correct Answers", "Num of Incorrect Answers", "Num of Training Modules Assigned", "User State",
  "Clicked IP", "Reaction Time", "Time Clicked", "Time Opened", "Time Reported", "Time Scheduled"
FROM "AwarenessUserData" WHERE ` + atCampaigns(p, &a) + ` ORDER BY "Time Scheduled" DESC NULLS LAST, "Email", "Template Name"`, a
		},
	})
	for _, c := range []struct{ id, title, col string }{
		{"campaigns-sent", "Breakdown by Number of Campaigns Sent", "Num of Campaigns Sent"},
		{"campaigns-clicked", "Breakdown by Number of Campaigns Clicked", "Num of Campaigns Clicked"},
		{"training-modules", "Breakdown by Number of Training Modules Assigned", "Num of Training Modules Assigned"},
		{"correct-answers", "Breakdown by Number of Correct Answers", "Num of Correct Answers"},
		{"incorrect-answers", "Breakdown by Number of Incorrect Answers", "Num of Incorrect Answers"},
		{"clicked-ip", "Breakdown by Clicked Ip", "Clicked IP"},
	} {
		panels = append(panels, atUserDataPie(c.id, c.title, c.col))
	}
	return Tab{ID: "training", Title: "Awareness Training", Panels: panels,
		Params: []Param{atEmailParam, {Name: atTemplate, Label: "Template Name (* for all)", Default: "*", Input: true}}}
}

// atUserDataPie counts the campaign rows (non-empty template) by one column.
func atUserDataPie(id, title, col string) Panel {
	label, extra := atIntLabel(quoteIdent(col)), ""
	if col == "Clicked IP" {
		label, extra = `"Clicked IP"`, ` AND "Clicked IP" <> ''`
	}
	return Panel{ID: id, Title: title, Kind: KindPie, Query: func(p Params) (string, []any) {
		var a Args
		return `SELECT ` + label + ` AS ` + quoteIdent(col) + `, count(*) AS "Count"
FROM "AwarenessUserData" WHERE "Template Name" <> '' AND ` + atCampaigns(p, &a) + extra + ` GROUP BY 1`, a
	}}
}

// safeScoreColumns are the grades the Human Risk Overview breaks down.
var safeScoreColumns = []struct{ id, col string }{
	{"risk", "Risk"}, {"human-error", "Human Error"}, {"sentiment", "Sentiment"}, {"engagement", "Engagement"},
	{"knowledge", "Knowledge"}, {"user-state", "User State"},
}

func atRiskTab() Tab {
	panels := []Panel{{
		ID: "highest-risk", Title: "Highest Risk", Kind: KindTile, Drill: &Drill{Param: atRisk},
		Note: "The worst risk grade held by any user (click for the users)",
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT "Risk", count(*) || ' users' AS "Users" FROM "AwarenessSafeScore"
WHERE "Risk" <> '' AND ` + atUsers(p, &a, `"Email Address"`) + ` GROUP BY 1 ORDER BY 1 DESC LIMIT 1`, a
		},
	}, {
		ID: "highest-risk-details", Title: "Highest Risk Details: {risk}", Kind: KindTable, Wide: true, Needs: []string{atRisk},
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT "Email Address", "Name", "Risk", "Human Error", "Sentiment", "Engagement", "Knowledge", "User State"
FROM "AwarenessSafeScore" WHERE ` + a.Equals(`"Risk"`, p.Get(atRisk)) + ` AND ` + atUsers(p, &a, `"Email Address"`) + `
ORDER BY "Risk" DESC, "Email Address"`, a
		},
	}}
	for _, c := range safeScoreColumns {
		col := quoteIdent(c.col)
		panels = append(panels, Panel{ID: "by-" + c.id, Title: "Breakdown by " + c.col, Kind: KindPie,
			Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT ` + col + `, count(*) AS "Count" FROM "AwarenessSafeScore" WHERE ` +
					atUsers(p, &a, `"Email Address"`) + ` GROUP BY 1`, a
			}})
	}
	panels = append(panels, Panel{ID: "safe-scores", Title: "Safe Scores Overview", Kind: KindTable, Wide: true,
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT "Email Address", "Name", "Risk", "Human Error", "Sentiment", "Engagement", "Knowledge",
  "User State", "Department"
FROM "AwarenessSafeScore" WHERE ` + atUsers(p, &a, `"Email Address"`) + ` ORDER BY "Email Address"`, a
		}})
	return Tab{ID: "human-risk", Title: "Human Risk Overview", Panels: panels,
		Params: []Param{atEmailParam, {Name: atRisk, Label: "Risk"}}}
}

func atPhishingTab() Tab {
	return Tab{ID: "phishing", Title: "Phishing Training", Params: []Param{atEmailParam},
		Panels: []Panel{{
			ID: "top-templates", Title: "Breakdown of Top 10 Template Names", Kind: KindBar, Note: "Users sent each template",
			Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT "Template Name", count(DISTINCT "Email") AS "Users"
FROM "AwarenessUserData" WHERE "Template Name" <> '' AND ` + atPhishing(p, &a) + `
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`, a
			},
		}, {
			ID: "clicked", Title: "Users Clicked on Phishing data", Kind: KindTable, Wide: true,
			Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT "Email", max("Reaction Time") AS "Reaction Time",
  arg_max("Time Clicked", "Reaction Time") AS "Time Clicked", arg_max("Time Opened", "Reaction Time") AS "Time Opened",
  "Template Name"
FROM "AwarenessUserData" WHERE "Status" = 'CLICKED' AND ` + atPhishing(p, &a) + `
GROUP BY "Email", "Template Name" ORDER BY "Reaction Time" ASC NULLS LAST, "Email", "Template Name"`, a
			},
		}}}
}

// atPhishing is atCampaigns without the template filter (the Phishing Training tab has only the e-mail filter).
func atPhishing(p Params, a *Args) string {
	return atUsers(p, a, `"Email"`) +
		` AND ("Time Scheduled" IS NULL OR ("Time Scheduled" >= ` + a.Add(p.From) + ` AND "Time Scheduled" < ` + a.Add(p.To) + `))`
}
