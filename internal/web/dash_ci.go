package web

// The Mimecast Cloud Integrated workbook (spec sentinel-solution §5.3) over the MimecastCloudIntegrated view.
// Every panel counts the records whose "Event Time" falls in the window.
//
// Translations of the workbook's KQL:
//   - `Tags contains "MALWARE"` (case-insensitive) is contains(lower(Tags), lower(tag)).
//   - parse-kv of the first "action" / "mode" in Policies Applied (a JSON array of {action, mode, name}) reads
//     the first policy's fields with json_extract_string; a value that is not JSON gives "".
//   - Labels with `_` shown as spaces (Threat Type, Subtype, Action) are compared in that form by the drill-down
//     tables, so a click on "NO DETECTIONS" selects NO_DETECTIONS.
//   - Bars and pies of Threat Type and Subtype leave out records without one (mail-flow records carry neither);
//     the workbook would show them as one unlabelled bar.

import (
	"slices"
	"strings"
)

// CI parameters set by drill-down clicks.
const (
	ciTag         = "tag"
	ciAction      = "action"
	ciMode        = "mode"
	ciThreatType  = "threatType"
	ciThreatState = "threatState"
	ciSubtype     = "subtype"
)

// ciTags are the tag tiles, in the workbook's order.
var ciTags = []struct{ id, tag, title string }{
	{"malware-tags", "MALWARE", "Malware Tags Count"},
	{"phishing-tags", "PHISHING", "Phishing Tags Count"},
	{"untrustworthy-tags", "UNTRUSTWORTHY", "Untrustworthy Tags Count"},
	{"spam-tags", "SPAM", "Spam Tags Count"},
}

// ciPolicyField is the first policy's field of Policies Applied, `_` shown as space.
func ciPolicyField(field string) string {
	return `replace(trim(coalesce(CASE WHEN json_valid("Policies Applied") THEN json_extract_string("Policies Applied", '$[0].` +
		field + `') END, '')), '_', ' ')`
}

// ciSpaced shows a column with `_` as spaces.
func ciSpaced(col string) string { return `replace(` + col + `, '_', ' ')` }

// ciCleanList turns a JSON list column into "a, b" (the workbook removes quotes, spaces commas and trims []).
func ciCleanList(col string) string {
	return `trim(replace(replace(` + col + `, '"', ''), ',', ', '), '[]')`
}

// ciFrom is the FROM/WHERE head of every CI query.
func ciFrom(p Params, a *Args) string {
	return ` FROM "MimecastCloudIntegrated" WHERE ` + p.Window(a, `"Event Time"`)
}

// ciCount counts records by one label expression, leaving out empty labels.
func ciCount(label, alias, where string) func(p Params) (string, []any) {
	return func(p Params) (string, []any) {
		var a Args
		return `SELECT ` + label + ` AS ` + quoteIdent(alias) + `, count(*) AS "Count"` + ciFrom(p, &a) + where +
			` AND ` + label + ` <> '' GROUP BY 1 ORDER BY 2 DESC, 1`, a
	}
}

// ciEmails is a drill-down details table of e-mails matching label expressions equal to parameters.
func ciEmails(id, title string, cond map[string]string) Panel {
	needs := make([]string, 0, len(cond))
	for param := range cond {
		needs = append(needs, param)
	}
	slices.Sort(needs)
	return Panel{ID: id, Title: title, Kind: KindTable, Wide: true, Needs: needs,
		Query: func(p Params) (string, []any) {
			var a Args
			where := ciFrom(p, &a)
			for _, param := range needs {
				where += ` AND ` + a.Equals(cond[param], p.Get(param))
			}
			return `SELECT "Event Time", "Sender Envelope" AS "Sender", ` + ciCleanList(`"Recipients"`) + ` AS "Recipients",
  "Subject", "Threat State", "Threat Type"` + where + ` ORDER BY "Event Time" DESC, "Processing ID"`, a
		}}
}

// ciDashboard is the Mimecast Cloud Integrated workbook.
func ciDashboard() *Dashboard {
	var panels []Panel
	tagValues := make([]string, 0, len(ciTags))
	for _, t := range ciTags {
		tagValues = append(tagValues, t.tag)
		panels = append(panels, Panel{ID: t.id, Title: t.title, Kind: KindTile, Drill: &Drill{Param: ciTag, Value: t.tag},
			Note: "Click for the details", Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT count(*) AS "Count"` + ciFrom(p, &a) + ` AND contains(lower("Tags"), ` + a.Add(strings.ToLower(t.tag)) + `)`, a
			}})
	}
	panels = append(panels, Panel{
		ID: "tag-details", Title: "{tag} Tags Details", Kind: KindTable, Wide: true, Needs: []string{ciTag},
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT "Sender Envelope" AS "Sender", "Sender IP", ` + ciCleanList(`"Recipients"`) + ` AS "Recipients", ` +
				ciCleanList(`"Tags"`) + ` AS "Tags", "Policies Applied", "Account ID", "Aggregate ID", "Processing ID",
  trim("Message ID", '<>') AS "Message ID", "Threat State", "Threat Type", "Event Time", ` + ciCleanList(`"Attachments"`) +
				` AS "Attachments", "Subject", "Source", "Direction", "Sender Header", "Historical Mail", "Type", "Subtype"` +
				ciFrom(p, &a) + ` AND contains(lower("Tags"), lower(` + a.Add(p.Get(ciTag)) + `))
ORDER BY "Event Time" DESC, "Processing ID"`, a
		},
	}, Panel{
		ID: "traffic-by-route", Title: "Email Traffic by Route", Kind: KindTimeseries, Wide: true,
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT date_trunc('` + p.Bucket() + `', "Event Time") AS "Time", "Direction", count(*) AS "Count"` +
				ciFrom(p, &a) + ` AND "Direction" <> '' GROUP BY 1, 2`, a
		},
	}, Panel{
		ID: "policy-actions", Title: "Types of Policy Action", Kind: KindBar, Drill: &Drill{Param: ciAction},
		Query: ciCount(ciPolicyField("action"), "Action", ""),
	}, Panel{
		ID: "policy-modes", Title: "Policy Mode for Action: {action}", Kind: KindPie, Needs: []string{ciAction},
		Drill: &Drill{Param: ciMode},
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT ` + ciPolicyField("mode") + ` AS "Mode", count(*) AS "Count"` + ciFrom(p, &a) + ` AND ` +
				a.Equals(ciPolicyField("action"), p.Get(ciAction)) + ` GROUP BY 1`, a
		},
	}, ciEmails("policy-emails", "Details of Emails for Policy Mode: {mode} and Policy Action: {action}",
		map[string]string{ciAction: ciPolicyField("action"), ciMode: ciPolicyField("mode")}),
		Panel{
			ID: "threat-types", Title: "Threat Detection", Kind: KindBar, Drill: &Drill{Param: ciThreatType},
			Query: ciCount(ciSpaced(`"Threat Type"`), "Threat Type", ""),
		}, Panel{
			ID: "threat-states", Title: "Threat State for Type: {threatType}", Kind: KindPie, Needs: []string{ciThreatType},
			Drill: &Drill{Param: ciThreatState},
			Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT "Threat State", count(*) AS "Count"` + ciFrom(p, &a) + ` AND ` +
					a.Equals(ciSpaced(`"Threat Type"`), p.Get(ciThreatType)) + ` GROUP BY 1`, a
			},
		}, ciEmails("threat-emails", "Details of Emails for Threat State: {threatState} and Threat Type: {threatType}",
			map[string]string{ciThreatType: ciSpaced(`"Threat Type"`), ciThreatState: `"Threat State"`}),
		Panel{
			ID: "by-country", Title: "Messages Sent by Country", Kind: KindMap, Wide: true, Note: "Sender IP located with GeoIP",
			Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT "Sender IP", count(*) AS "Count"` + ciFrom(p, &a) + ` GROUP BY 1`, a
			},
		}, Panel{
			ID: "inbound-origin", Title: "Top 10 Inbound Email Detections by Origin", Kind: KindPie, ByCountry: true,
			Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT "Sender IP", count(*) AS "Count"` + ciFrom(p, &a) + ` AND "Direction" = 'INBOUND' GROUP BY 1`, a
			},
		}, Panel{
			ID: "sender-domains", Title: "Top 10 Sender Domains", Kind: KindPie,
			Query: ciCount(`split_part("Sender Envelope", '@', 2)`, "Sender Domain", ""),
		}, Panel{
			ID: "sub-types", Title: "Threat Sub Types", Kind: KindPie, Drill: &Drill{Param: ciSubtype},
			Query: ciCount(ciSpaced(`"Subtype"`), "Subtype", ""),
		}, ciEmails("subtype-emails", "Details of Emails for Sub Type: {subtype}", map[string]string{ciSubtype: ciSpaced(`"Subtype"`)}),
		Panel{
			ID: "senders", Title: "Top 10 Senders", Kind: KindPie,
			Query: ciCount(`"Sender Envelope"`, "Sender", ` AND contains("Sender Envelope", '@')`),
		}, Panel{
			ID: "receivers", Title: "Top 10 Receivers", Kind: KindPie,
			Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT r AS "Recipient", count(*) AS "Count" FROM (SELECT unnest(CASE
    WHEN json_valid("Recipients") AND json_type("Recipients") = 'ARRAY' THEN json_extract_string("Recipients", '$[*]')
    ELSE ["Recipients"] END) AS r` + ciFrom(p, &a) + `) WHERE r <> '' GROUP BY 1`, a
			},
		},
		ciTypeTable("url-protect", "Url Protect Overview", "urlclick"),
		ciTypeTable("entities", "Entities Overview", "entities"),
	)
	return &Dashboard{ID: "ci", Title: "Mimecast Cloud Integrated",
		Description: "Cloud Integrated detections: tags, policy actions, threats, origins, senders and receivers.",
		Tabs: []Tab{{ID: "ci", Title: "Cloud Integrated", Panels: panels, Params: []Param{
			{Name: ciTag, Label: "Tag", Check: oneOf(tagValues...)},
			{Name: ciAction, Label: "Policy Action"}, {Name: ciMode, Label: "Policy Mode"},
			{Name: ciThreatType, Label: "Threat Type"}, {Name: ciThreatState, Label: "Threat State"},
			{Name: ciSubtype, Label: "Sub Type"},
		}}}}
}

// ciTypeTable lists the records of one Type.
func ciTypeTable(id, title, typ string) Panel {
	return Panel{ID: id, Title: title, Kind: KindTable, Wide: true, Query: func(p Params) (string, []any) {
		var a Args
		return `SELECT "Event Time", "Type", "Subtype", "Sender Envelope", ` + ciCleanList(`"Recipients"`) + ` AS "Recipients",
  "Subject", "Direction", "Sender IP", "Threat Type", "Threat State", "Aggregate ID", "Processing ID",
  trim("Message ID", '<>') AS "Message ID"` + ciFrom(p, &a) + ` AND ` + a.Equals(`"Type"`, typ) + `
ORDER BY "Event Time" DESC, "Processing ID"`, a
	}}
}
