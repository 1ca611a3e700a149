package web

// The Mimecast Targeted Threat Protection workbook (spec sentinel-solution §5.5) over the MimecastTTPUrl,
// MimecastTTPAttachment and MimecastTTPImpersonation views. Every panel counts the records whose "Event Time"
// falls in the window. The workbook's header chart ("Advanced Threat Detections", all three logs by day) stands
// above its tabs; here it heads each tab.
//
// Translations of the workbook's KQL:
//   - The URL Protect pies count malicious scans (`Scan Result == "malicious"`); the Attachment Protect pies count
//     results other than "safe", except "Attachment Event Results", which counts every result; the Impersonation
//     Protect pies count every record. Empty labels are left out (the workbook would show one unlabelled slice).
//   - "Actions" and "Identifiers" are JSON: an array counts once per element, a single value once.
//   - "Grouped by Impersonation Result" strips [ ] { } and " from the results text, as the workbook does.

// ttpTableLabels are the workbook's names of the three logs in the header chart.
var ttpTableLabels = []struct{ view, label string }{
	{"MimecastTTPUrl", "URL Protect"},
	{"MimecastTTPAttachment", "Attachment Protect"},
	{"MimecastTTPImpersonation", "Impersonation Protect"},
}

// Detection filters of the three tabs (constant SQL over the views' columns).
const (
	ttpURLMalicious        = `"Scan Result" = 'malicious'`
	ttpAttachmentMalicious = `"Result" <> 'safe'`
	ttpImpMalicious        = `"Tagged Malicious"`
	ttpAll                 = `TRUE`
)

// ttpHeader is the "Advanced Threat Detections" chart, one copy per tab (panel ids are unique per dashboard).
func ttpHeader(id string) Panel {
	return Panel{ID: id, Title: "Advanced Threat Detections", Kind: KindStackedBar, TimeX: true, Wide: true,
		Note: "URL, attachment and impersonation protection logs",
		Query: func(p Params) (string, []any) {
			var a Args
			parts := make([]string, len(ttpTableLabels))
			for i, t := range ttpTableLabels {
				parts[i] = `SELECT date_trunc('` + p.Bucket() + `', "Event Time") AS "Time", ` + sqlString(t.label) +
					` AS "Type" FROM ` + quoteIdent(t.view) + ` WHERE ` + p.Window(&a, `"Event Time"`)
			}
			sql := `SELECT "Time", "Type", count(*) AS "Count" FROM (`
			for i, part := range parts {
				if i > 0 {
					sql += "\n  UNION ALL "
				}
				sql += part
			}
			return sql + `) GROUP BY 1, 2`, a
		}}
}

// ttpURLParam is the URL Protect tab's drill-down value: a malicious URL clicked in its pie (an addition to the
// workbook, which has no drill-downs), listing that URL's clicks.
const ttpURLParam = "url"

// withDrill makes a pie's slices set a tab parameter.
func withDrill(p Panel, param string) Panel {
	p.Drill = &Drill{Param: param}
	return p
}

// ttpDaily is a tab's detections bar: the records of a view matching cond per time bucket.
func ttpDaily(id, title, view, cond, series string) Panel {
	return Panel{ID: id, Title: title, Kind: KindStackedBar, TimeX: true, Wide: true,
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT date_trunc('` + p.Bucket() + `', "Event Time") AS "Time", ` + sqlString(series) +
				` AS "Detections", count(*) AS "Count" FROM ` + quoteIdent(view) + ` WHERE ` + cond + ` AND ` +
				p.Window(&a, `"Event Time"`) + ` GROUP BY 1, 2`, a
		}}
}

// ttpPie is a top-10 pie of a view's records matching cond by a label expression (empty labels left out).
func ttpPie(id, title, view, cond, label, alias string) Panel {
	return Panel{ID: id, Title: title, Kind: KindPie, Query: func(p Params) (string, []any) {
		var a Args
		return `SELECT ` + label + ` AS ` + quoteIdent(alias) + `, count(*) AS "Count" FROM ` + quoteIdent(view) +
			` WHERE ` + cond + ` AND ` + p.Window(&a, `"Event Time"`) + ` AND ` + label + ` <> '' GROUP BY 1`, a
	}}
}

// ttpJSONItems is one label per element of a JSON column: the elements of an array, or the value itself.
func ttpJSONItems(view, col, cond string, p Params, a *Args) string {
	return `SELECT unnest(CASE WHEN json_type(` + col + `) = 'ARRAY' THEN json_extract_string(` + col + `, '$[*]')
    ELSE [json_extract_string(` + col + `, '$')] END) AS item FROM ` + quoteIdent(view) + ` WHERE ` + cond + ` AND ` +
		p.Window(a, `"Event Time"`)
}

// ttpJSONPie is a top-10 pie of the elements of a JSON column.
func ttpJSONPie(id, title, view, cond, col, alias string) Panel {
	return Panel{ID: id, Title: title, Kind: KindPie, Query: func(p Params) (string, []any) {
		var a Args
		return `SELECT item AS ` + quoteIdent(alias) + `, count(*) AS "Count" FROM (` + ttpJSONItems(view, col, cond, p, &a) +
			`) WHERE coalesce(item, '') <> '' GROUP BY 1`, a
	}}
}

// ttpDashboard is the Mimecast TTP workbook.
func ttpDashboard() *Dashboard {
	return &Dashboard{ID: "ttp", Title: "Mimecast Targeted Threat Protection",
		Description: "URL, attachment and impersonation protection: detections, senders, recipients and verdicts.",
		Tabs:        []Tab{ttpURLTab(), ttpAttachmentTab(), ttpImpersonationTab()}}
}

func ttpURLTab() Tab {
	const v, c = "MimecastTTPUrl", ttpURLMalicious
	pie := func(id, title, col, alias string) Panel { return ttpPie(id, title, v, c, col, alias) }
	return Tab{ID: "url", Title: "URL Protect", Params: []Param{{Name: ttpURLParam, Label: "Malicious URL"}}, Panels: []Panel{
		ttpHeader("url-threats"),
		ttpDaily("malicious-urls", "Malicious URL Detections", v, c, "Malicious URLs"),
		ttpPie("url-senders", "Top 10 Senders of Malicious URLs", v, c+` AND contains("From User Email Address", '@')`,
			`"From User Email Address"`, "Sender"),
		withDrill(pie("url-urls", "Top 10 Malicious URLs", `"Url"`, "Url"), ttpURLParam),
		{ID: "url-clicks", Title: "Malicious URL Clicks: {url}", Kind: KindTable, Wide: true, Needs: []string{ttpURLParam},
			Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT "Event Time", "User Email Address", "From User Email Address", "Url", "Action", "Scan Result",
  "Sending IP", "Subject", "Message ID", "Ttp Definition", "Creation Method" FROM "MimecastTTPUrl" WHERE ` + c + ` AND ` +
					p.Window(&a, `"Event Time"`) + ` AND ` + a.Equals(`"Url"`, p.Get(ttpURLParam)) + `
ORDER BY "Event Time" DESC, "User Email Address"`, a
			}},
		pie("url-recipients", "Top 10 Targeted Recipients", `"User Email Address"`, "Recipient"),
		pie("url-phish-brands", "Advanced Phishing Results – Credential Theft Brands",
			`"Advanced Phishing Result Credential Theft Brands"`, "Brands"),
		pie("url-phish-evidence", "Advanced Phishing Results – Credential Theft Evidence",
			`"Advanced Phishing Result Credential Theft Evidence"`, "Evidence"),
		pie("url-phish-tags", "Advanced Phishing Results – Credential Theft Tags",
			`"Advanced Phishing Result Credential Theft Tags"`, "Tags"),
		pie("url-definitions", "URL Protect Definitions", `"Ttp Definition"`, "Definition"),
		pie("url-admin-overrides", "Admin Over-rides", `"Admin Override"`, "Admin Override"),
		pie("url-actions", "URL Protect Actions", `"Action"`, "Action"),
		pie("url-user-overrides", "User Over-rides", `"User Override"`, "User Override"),
		pie("url-sending-ips", "Sending IP Addresses", `"Sending IP"`, "Sending IP"),
		pie("url-categories", "Categories", `"Category"`, "Category"),
		pie("url-awareness", "User Awareness Action", `"User Awareness Action"`, "User Awareness Action"),
		pie("url-subjects", "Email Subjects", `"Subject"`, "Subject"),
		ttpJSONPie("url-mitigations", "Internal Email Protect Mitigations by Actions", v, c, `"Actions"`, "Actions"),
	}}
}

func ttpAttachmentTab() Tab {
	const v, c = "MimecastTTPAttachment", ttpAttachmentMalicious
	pie := func(id, title, col, alias string) Panel { return ttpPie(id, title, v, c, col, alias) }
	return Tab{ID: "attachment", Title: "Attachment Protect", Panels: []Panel{
		ttpHeader("attachment-threats"),
		ttpDaily("malicious-attachments", "Malicious Attachment Detections", v, c, "Malicious attachments"),
		pie("attachment-recipients", "Top 10 Recipients", `"Recipient Address"`, "Recipient"),
		pie("attachment-actions", "Protection Actions Triggered", `"Action Triggered"`, "Action Triggered"),
		pie("attachment-senders", "Top 10 Senders", `"Sender Address"`, "Sender"),
		pie("attachment-file-types", "File Types", `"File Type"`, "File Type"),
		pie("attachment-details", "Attachment Protect Event Details", `trim("Details")`, "Details"),
		ttpPie("attachment-results", "Attachment Event Results", v, ttpAll, `"Result"`, "Result"),
		pie("attachment-subjects", "Subjects", `"Subject"`, "Subject"),
		pie("attachment-hashes", "Malicious Sha256 File Hashes", `"File Hash"`, "File Hash"),
	}}
}

func ttpImpersonationTab() Tab {
	const v, c = "MimecastTTPImpersonation", ttpAll
	return Tab{ID: "impersonation", Title: "Impersonation Protect", Panels: []Panel{
		ttpHeader("impersonation-threats"),
		ttpDaily("malicious-impersonations", "Malicious Impersonation Detections", v, ttpImpMalicious, "Malicious impersonations"),
		ttpPie("impersonation-recipients", "Top 10 Recipients", v, c, `"Recipient Address"`, "Recipient"),
		ttpPie("impersonation-senders", "Top 10 Senders", v, c, `"Sender Address"`, "Sender"),
		ttpPie("impersonation-results", "Grouped by Impersonation Result", v, c,
			`regexp_replace("Impersonation Results", '[\[\]{}"]', '', 'g')`, "Impersonation Result"),
		ttpJSONPie("impersonation-identifiers", "Grouped by Impersonation Identifiers", v, c, `"Identifiers"`, "Identifier"),
	}}
}
