package web

// The Mimecast Cloud Integrated workbook (spec sentinel-solution §5.3) over the MimecastCloudIntegrated view.
// Every panel counts the records whose "Event Time" falls in the window. Counts and charts read the Cloud
// Integrated rollups (internal/rollup: CI per type, tags, threat and first policy; CICountries, CISenders,
// CIRecipients); the e-mail tables read the view, over the newest part of the window (Panel.Newest), filtered
// by the same expressions the rollup's dimensions hold.
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

	"github.com/castwatch/castwatch/internal/rollup"
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

// ciSpaced shows a column with `_` as spaces.
func ciSpaced(col string) string { return `replace(` + col + `, '_', ' ')` }

// ciCleanList turns a JSON list column into "a, b" (the workbook removes quotes, spaces commas and trims []).
func ciCleanList(col string) string {
	return `trim(replace(replace(` + col + `, '"', ''), ',', ', '), '[]')`
}

// ciFrom is the FROM/WHERE head of every query over the view.
func ciFrom(p Params, a *Args) string {
	return ` FROM "MimecastCloudIntegrated" WHERE ` + p.Window(a, `"Event Time"`)
}

// ciRollupFrom is the FROM/WHERE head of a count over a Cloud Integrated rollup; conditions follow as AND ….
func ciRollupFrom(p Params, a *Args, name string) string {
	return p.RollupFrom(a, name) + ` WHERE TRUE`
}

// ciCount counts the records of a rollup by one label expression over its dimensions, leaving out empty labels.
func ciCount(name, label, alias, where string) func(p Params) (string, []any) {
	return func(p Params) (string, []any) {
		var a Args
		return `SELECT ` + label + ` AS ` + quoteIdent(alias) + `, ` + rollupCount + ` AS "Count"` + ciRollupFrom(p, &a, name) +
			where + ` AND ` + label + ` <> '' GROUP BY 1 ORDER BY 2 DESC, 1`, a
	}
}

// ciFilter compares a parameter with an expression over the view (view) and the same value as a dimension of
// the CI rollup (dim).
type ciFilter struct{ param, view, dim string }

// The drill-down filters: first policy action and mode, threat type and state, subtype.
var (
	ciActionFilter  = ciFilter{ciAction, rollup.PolicyField("action"), `"Policy Action"`}
	ciModeFilter    = ciFilter{ciMode, rollup.PolicyField("mode"), `"Policy Mode"`}
	ciThreatFilter  = ciFilter{ciThreatType, ciSpaced(`"Threat Type"`), ciSpaced(`"Threat Type"`)}
	ciStateFilter   = ciFilter{ciThreatState, `"Threat State"`, `"Threat State"`}
	ciSubtypeFilter = ciFilter{ciSubtype, ciSpaced(`"Subtype"`), ciSpaced(`"Subtype"`)}
)

// ciFilters returns ` AND col = $i …` for each filter, over the view (dim false) or the CI rollup.
func ciFilters(p Params, a *Args, filters []ciFilter, dim bool) string {
	var b strings.Builder
	for _, f := range filters {
		col := f.view
		if dim {
			col = f.dim
		}
		b.WriteString(` AND ` + a.Equals(col, p.Get(f.param)))
	}
	return b.String()
}

// ciEmails is a drill-down details table of e-mails whose filter expressions equal parameters, newest first.
func ciEmails(id, title string, filters ...ciFilter) Panel {
	needs := make([]string, len(filters))
	for i, f := range filters {
		needs[i] = f.param
	}
	slices.Sort(needs)
	return Panel{ID: id, Title: title, Kind: KindTable, Wide: true, Needs: needs,
		Query: func(p Params) (string, []any) {
			var a Args
			where := ciFrom(p, &a) + ciFilters(p, &a, filters, false)
			return `SELECT "Event Time", "Sender Envelope" AS "Sender", ` + ciCleanList(`"Recipients"`) + ` AS "Recipients",
  "Subject", "Threat State", "Threat Type"` + where + ` ORDER BY "Event Time" DESC, "Processing ID"`, a
		},
		// The dimensions hold the filter expressions' values, so the CI rollup counts exactly the table's records.
		Newest: &Newest{Rollup: rollup.CI, Where: func(p Params, a *Args) string {
			return `TRUE` + ciFilters(p, a, filters, true)
		}}}
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
				return `SELECT coalesce(` + rollupCount + `, 0) AS "Count"` + ciRollupFrom(p, &a, rollup.CI) + ` AND ` +
					ciTagCond(&a, t.tag), a
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
				ciFrom(p, &a) + ` AND ` + ciTagCond(&a, p.Get(ciTag)) + `
ORDER BY "Event Time" DESC, "Processing ID"`, a
		},
		// Tags is a dimension of the CI rollup, which therefore counts exactly the table's records.
		Newest: &Newest{Rollup: rollup.CI, Where: func(p Params, a *Args) string { return ciTagCond(a, p.Get(ciTag)) }},
	}, Panel{
		ID: "traffic-by-route", Title: "Email Traffic by Route", Kind: KindTimeseries, Wide: true,
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT date_trunc('` + p.Bucket() + `', "Event Time") AS "Time", "Direction", ` + rollupCount +
				` AS "Count"` + ciRollupFrom(p, &a, rollup.CI) + ` AND "Direction" <> '' GROUP BY 1, 2`, a
		},
	}, Panel{
		ID: "policy-actions", Title: "Types of Policy Action", Kind: KindBar, Drill: &Drill{Param: ciAction},
		Query: ciCount(rollup.CI, ciActionFilter.dim, "Action", ""),
	}, Panel{
		ID: "policy-modes", Title: "Policy Mode for Action: {action}", Kind: KindPie, Needs: []string{ciAction},
		Drill: &Drill{Param: ciMode},
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT ` + ciModeFilter.dim + ` AS "Mode", ` + rollupCount + ` AS "Count"` + ciRollupFrom(p, &a, rollup.CI) +
				ciFilters(p, &a, []ciFilter{ciActionFilter}, true) + ` GROUP BY 1`, a
		},
	}, ciEmails("policy-emails", "Details of Emails for Policy Mode: {mode} and Policy Action: {action}",
		ciActionFilter, ciModeFilter),
		Panel{
			ID: "threat-types", Title: "Threat Detection", Kind: KindBar, Drill: &Drill{Param: ciThreatType},
			Query: ciCount(rollup.CI, ciThreatFilter.dim, "Threat Type", ""),
		}, Panel{
			ID: "threat-states", Title: "Threat State for Type: {threatType}", Kind: KindPie, Needs: []string{ciThreatType},
			Drill: &Drill{Param: ciThreatState},
			Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT "Threat State", ` + rollupCount + ` AS "Count"` + ciRollupFrom(p, &a, rollup.CI) +
					ciFilters(p, &a, []ciFilter{ciThreatFilter}, true) + ` GROUP BY 1`, a
			},
		}, ciEmails("threat-emails", "Details of Emails for Threat State: {threatState} and Threat Type: {threatType}",
			ciThreatFilter, ciStateFilter),
		Panel{
			ID: "by-country", Title: "Messages Sent by Country", Kind: KindMap, Wide: true, Note: "Sender IP located with GeoIP",
			Query: ciByCountry(""),
		}, Panel{
			ID: "inbound-origin", Title: "Top 10 Inbound Email Detections by Origin", Kind: KindPie, ByCountry: true,
			Query: ciByCountry(` AND "Direction" = 'INBOUND'`),
		}, Panel{
			ID: "sender-domains", Title: "Top 10 Sender Domains", Kind: KindPie,
			Query: ciCount(rollup.CISenders, `split_part("Sender Envelope", '@', 2)`, "Sender Domain", ""),
		}, Panel{
			ID: "sub-types", Title: "Threat Sub Types", Kind: KindPie, Drill: &Drill{Param: ciSubtype},
			Query: ciCount(rollup.CI, ciSubtypeFilter.dim, "Subtype", ""),
		}, ciEmails("subtype-emails", "Details of Emails for Sub Type: {subtype}", ciSubtypeFilter),
		Panel{
			ID: "senders", Title: "Top 10 Senders", Kind: KindPie,
			Query: ciCount(rollup.CISenders, `"Sender Envelope"`, "Sender", ` AND contains("Sender Envelope", '@')`),
		}, Panel{
			// CIRecipients holds one row per element of the Recipients JSON list (the list itself when not JSON).
			ID: "receivers", Title: "Top 10 Receivers", Kind: KindPie,
			Query: ciCount(rollup.CIRecipients, `"Recipient"`, "Recipient", ""),
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

// ciTypeTable lists the records of one Type, newest first.
func ciTypeTable(id, title, typ string) Panel {
	return Panel{ID: id, Title: title, Kind: KindTable, Wide: true, Query: func(p Params) (string, []any) {
		var a Args
		return `SELECT "Event Time", "Type", "Subtype", "Sender Envelope", ` + ciCleanList(`"Recipients"`) + ` AS "Recipients",
  "Subject", "Direction", "Sender IP", "Threat Type", "Threat State", "Aggregate ID", "Processing ID",
  trim("Message ID", '<>') AS "Message ID"` + ciFrom(p, &a) + ` AND ` + a.Equals(`"Type"`, typ) + `
ORDER BY "Event Time" DESC, "Processing ID"`, a
	},
		// Type is a dimension of the CI rollup, which therefore counts exactly the table's records.
		Newest: &Newest{Rollup: rollup.CI, Where: func(_ Params, a *Args) string { return a.Equals(`"Type"`, typ) }}}
}

// ciTagCond is the tag filter (case-insensitive contains over Tags), over the view or the CI rollup.
func ciTagCond(a *Args, tag string) string {
	return `contains(lower("Tags"), ` + a.Add(strings.ToLower(tag)) + `)`
}

// ciByCountry counts the records per sender country (CICountries, located with GeoIP when stored), with extra
// conditions over its dimensions.
func ciByCountry(where string) func(p Params) (string, []any) {
	return func(p Params) (string, []any) {
		var a Args
		return `SELECT "Sender Country" AS "Country", ` + rollupCount + ` AS "Count"` + ciRollupFrom(p, &a, rollup.CICountries) + where +
			` GROUP BY 1`, a
	}
}
