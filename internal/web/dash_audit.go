package web

// The Mimecast Audit workbook (spec sentinel-solution §5.1) over the MimecastAudit view. Every panel counts the
// events whose "Event Time" falls in the window. "Source IP" and "Application" are regular expressions over
// Event Info, so the counts read the Audit rollup (internal/rollup: category, type and application per hour)
// and the event tables read the view over the newest part of the window only (Panel.Newest).

import (
	"sort"
	"strings"

	"github.com/castwatch/castwatch/internal/rollup"
)

// auditCategoryLabels are the workbook's series labels for the audit categories (its spelling "Mimecast Acess"
// corrected); categories not listed show as stored.
var auditCategoryLabels = map[string]string{
	"reporting_logs":             "Reporting",
	"authentication_logs":        "Authentication",
	"case_review_logs":           "Case Review",
	"account_logs":               "Account",
	"profile_group_logs":         "Profile Group",
	"user_account_and_role_logs": "User Account and Roles",
	"mimecast_access_logs":       "Mimecast Access",
	"archive_service_logs":       "Archive Service",
	"policy_logs":                "Policy",
	"awareness_training_logs":    "Awareness Training",
	"secure_messaging_logs":      "Secure Messaging",
	"integrations_and_apis":      "Integrations and API's",
}

// Audit types the login panels filter on.
const (
	auditLoggedOn    = "User Logged On"
	auditLogonFailed = "Logon Authentication Failed"
)

// auditCategoryLabel is a SQL CASE mapping "Category" to its label (constants only).
func auditCategoryLabel() string {
	keys := make([]string, 0, len(auditCategoryLabels))
	for k := range auditCategoryLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(`CASE "Category"`)
	for _, k := range keys {
		b.WriteString(" WHEN " + sqlString(k) + " THEN " + sqlString(auditCategoryLabels[k]))
	}
	b.WriteString(` ELSE "Category" END`)
	return b.String()
}

// auditDashboard is the Mimecast Audit workbook.
func auditDashboard() *Dashboard {
	panels := []Panel{{
		ID: "by-category", Title: "Audit & Authentication Events by Category", Kind: KindStackedBar, TimeX: true, Wide: true,
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT date_trunc('` + p.Bucket() + `', "Event Time") AS "Time", ` + auditCategoryLabel() + ` AS "Category",
  ` + rollupCount + ` AS "Count"` + p.RollupFrom(&a, rollup.Audit) + `
GROUP BY 1, 2`, a
		},
	}, {
		ID: "by-type", Title: "Audit Events by Type", Kind: KindPie, Drill: &Drill{Param: "auditType"},
		Note:  "Click a slice to list its events.",
		Query: auditTypeCounts(""),
	}, {
		ID: "type-events", Title: "Audit Events of Type: {auditType}", Kind: KindTable, Wide: true, Needs: []string{"auditType"},
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT "Event Time", "User", "Category", "Audit Type", "Source IP", "Application", "Event Info", "Id"
FROM "MimecastAudit" WHERE ` + a.Equals(`"Audit Type"`, p.Get("auditType")) + ` AND ` + p.Window(&a, `"Event Time"`) + `
ORDER BY "Event Time" DESC, "Id"`, a
		},
		Newest: auditNewest(func(p Params) string { return p.Get("auditType") }),
	}}
	for _, c := range []struct{ id, title, category string }{
		{"account", "Account Events", "account_logs"},
		{"authentication", "Authentication Events", "authentication_logs"},
		{"support-access", "Mimecast Support Access Events", "mimecast_access_logs"},
		{"archive-service", "Archive Service Events", "archive_service_logs"},
		{"user-account-roles", "User Account and Role Events", "user_account_and_role_logs"},
		{"policy", "Policy Events", "policy_logs"},
	} {
		panels = append(panels, Panel{ID: c.id, Title: c.title, Kind: KindPie, Query: auditTypeCounts(c.category),
			Note: "Category " + c.category + ", by Audit Type"})
	}
	panels = append(panels, Panel{
		ID: "logins-by-app", Title: "Successful Logins by Application", Kind: KindPie,
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT "Application", ` + rollupCount + ` AS "Count"` + p.RollupFrom(&a, rollup.Audit) + `
WHERE ` + a.Equals(`"Audit Type"`, auditLoggedOn) + ` AND "Application" <> ''
GROUP BY 1`, a
		},
	},
		auditLoginTable("successful-logins", "Successful Logins by User, App and Source IP", auditLoggedOn, "Successful Logins",
			`"Event Time" DESC, "User"`, true),
		// Ordered by user first: bounded by the (user, time) of its last row (KeyCut) instead of by time.
		auditLoginTable("failed-logins", "Failed Logins by User, App and Source IP", auditLogonFailed, "Failed Login",
			`"User", "Event Time" DESC, "Application", "Source IP"`, false),
	)
	return &Dashboard{ID: "audit", Title: "Mimecast Audit",
		Description: "Audit and authentication events by category and type, and successful and failed logins.",
		Tabs:        []Tab{{ID: "audit", Title: "Audit", Params: []Param{{Name: "auditType", Label: "Audit Type"}}, Panels: panels}}}
}

// auditTypeCounts counts events by Audit Type, of one category or ("") all.
func auditTypeCounts(category string) func(p Params) (string, []any) {
	return func(p Params) (string, []any) {
		var a Args
		q := `SELECT "Audit Type", ` + rollupCount + ` AS "Count"` + p.RollupFrom(&a, rollup.Audit)
		if category != "" {
			q += ` WHERE ` + a.Equals(`"Category"`, category)
		}
		return q + ` GROUP BY 1`, a
	}
}

// auditNewest narrows a table of the events of one Audit Type (a dimension of the Audit rollup, which therefore
// counts exactly the table's events).
func auditNewest(auditType func(p Params) string) *Newest {
	return &Newest{Rollup: rollup.Audit, Where: func(p Params, a *Args) string {
		return a.Equals(`"Audit Type"`, auditType(p))
	}}
}

// auditLoginTable counts logins of one audit type by user, application, source IP and time. The workbook also
// requires Source IP != "unknown"; the view already turns anything that is not an address into "", so that
// filter has nothing left to remove and a login without an address still counts. newest says order starts with
// "Event Time" DESC, so the table reads only the newest part of the window (Panel.Newest).
func auditLoginTable(id, title, auditType, countLabel, order string, newest bool) Panel {
	from := func(p Params, a *Args) string {
		return `FROM "MimecastAudit" WHERE ` + a.Equals(`"Audit Type"`, auditType) + ` AND ` + p.Window(a, `"Event Time"`)
	}
	var cut *KeyCut
	if !newest {
		// Source IP and Application are parsed out of the event text, the cost of this table: parse only the
		// rows up to the last one shown.
		cut = &KeyCut{Keys: []string{`"User"`, `"Event Time"`}, Desc: []bool{false, true}, From: from}
	}
	pn := Panel{ID: id, Title: title, Kind: KindTable, Wide: true, KeyCut: cut}
	if newest {
		pn.Newest = auditNewest(func(Params) string { return auditType })
	}
	pn.Query = func(p Params) (string, []any) {
		var a Args
		where := from(p, &a)
		if cut != nil {
			if b := cut.Bound(p, &a); b != "" {
				where += ` AND ` + b
			}
		}
		return `SELECT "User", "Application", "Source IP", "Event Time", count(*) AS ` + quoteIdent(countLabel) + `
` + where + `
GROUP BY ALL ORDER BY ` + order, a
	}
	return pn
}
