package web

// The Mimecast Secure Email Gateway workbook (spec sentinel-solution §5.4): nine tabs over the MimecastCG view
// (Cloud Gateway SIEM records, one "Type" per kind: email_receipt, email_process, email_delivery, …) and the
// MimecastDLP view. Every panel counts the records whose "Event Time" falls in the window. Counts and charts read
// the MimecastCG rollups (internal/rollup: SEG, SEGCountries for the maps, SEGNoTLS for the domains not using TLS),
// whose dimensions keep the view's column names and values, so the record filters below read the same over a
// rollup and over the view; the message tables read the view, over the newest part of the window (Panel.Newest).
//
// Translations of the workbook's KQL, and the workbook bugs fixed (spec §7):
//   - `Action in~ ("Acc","RTY")` and the like compare lower("Action"); Direction, Delivered and TLS Used are
//     compared case-insensitively too (the workbook's case-sensitive `Direction == "Outbound"` and
//     `Delivered == "true"` miss the lower-case values Mimecast also sends).
//   - "Total Inbound Delivery Failures" counts failed inbound deliveries (the workbook's filter names only the
//     direction).
//   - "Total Viruses Rejected" counts receipts whose Rejection Type is "Virus Signature Detection" (the workbook
//     also requires an accepted action, which no rejected message has).
//   - The Rejections, Delivery Failures and Held grids show the trend over the window in the time-chart step
//     (hour up to 3 days, else day) instead of from the first event ever seen.
//   - Top-10 bars and the TLS charts show an empty TLS Version or Cipher as "None".

import "github.com/castwatch/castwatch/internal/rollup"

// SEG tab parameters set by tile clicks.
const (
	segReceiptParam  = "receipt"
	segDeliveryParam = "delivery"
	segAVASParam     = "avas"
)

// MimecastCG record types the workbook reads.
const (
	segReceipt   = "email_receipt"
	segProcess   = "email_process"
	segDelivery  = "email_delivery"
	segAntivirus = "email_antivirus"
	segSpam      = "email_spam"
	segIEP       = "email_iep"
	segJournal   = "email_journal"
)

// Record filters (constant SQL over MimecastCG columns, which are also dimensions of the SEG rollup). The rollup
// keeps of "Spam Info" and "Virus Found" only whether they are empty (any other value becomes '*'), which is all
// segSpamInfo and the virus table's filter ask.
const (
	segAccepted  = `lower("Action") IN ('acc', 'rty')`
	segRejected  = `lower("Action") IN ('rej', 'bnc')`
	segNoTLSRcpt = segAccepted + ` AND "TLS Version" = ''`
	segDelivered = `lower("Delivered") = 'true'`
	segNoTLSDlv  = segDelivered + ` AND lower("TLS Used") = 'no'`
	segOutFailed = `lower("Delivered") = 'false' AND lower("Direction") = 'outbound'`
	segInFailed  = `lower("Delivered") = 'false' AND lower("Direction") = 'inbound'`
	segOutDlv    = segDelivered + ` AND lower("Direction") = 'outbound'`
	segVirusRej  = `"Rejection Type" = 'Virus Signature Detection'`
	segSpamInfo  = `"Spam Info" NOT IN ('', '[]')`
	segSpamHeld  = `"Hold Reason" = 'Spm'`
	segAll       = `TRUE`
)

// Columns of the drill-down and event tables, per record type.
const (
	segReceiptCols = `"Aggregate ID", "Processing ID", "Account ID", "Action", "Type", "Sender Envelope", "Message ID",
  "Subject", "Recipients", "Sender IP", "Rejection Type", "Rejection Code", "Direction", "Number of Attachments",
  "Sender Header", "Rejection Info", "TLS Version", "TLS Cipher", "Spam Info", "Spam Processing Detail", "Virus Found",
  "Event Time", "Sub Type"`
	segDeliveryCols = `"Aggregate ID", "Processing ID", "Delivered", "Destination IP", "Host Name", "Delivery Attempts",
  "TLS Used", "Route", "Account ID", "Event Time", "Sender Envelope", "Message ID", "Subject",
  "Total of Size Attachments", "Number of Attachments", "Email Size", "Type", "Sub Type", "Recipients", "Direction",
  "TLS Version", "TLS Cipher", "Delivery Errors", "Rejection Type", "Rejection Code", "Rejection Info"`
	segProcessCols = `"Aggregate ID", "Processing ID", "Account ID", "Action", "Type", "Sub Type", "Hold Reason",
  "Sender Envelope", "Message ID", "Subject", "Number of Attachments", "Attachments", "Total of Size Attachments",
  "Email Size", "Event Time"`
	segSpamCols = `"Event Time", "Sender Envelope", "Recipients", "Subject", "Message ID", "Sender IP", "Sender Domain",
  "Sender Header", "Route", "Sub Type"`
	segIEPCols = `"Event Time", "Sender Envelope", "Recipients", "Subject", "Url Category", "Scan Results", "Route",
  "Message ID", "Monitored Domain Source", "Similar Domain"`
	segJournalCols = `"Event Time", "Sender Envelope", "Recipients", "Subject", "Direction", "Message ID", "Sub Type"`
)

// segColumnsOf are the detail columns of each record type a tile counts.
var segColumnsOf = map[string]string{segReceipt: segReceiptCols, segDelivery: segDeliveryCols, segProcess: segProcessCols}

// segTypeCond is the filter of one record type and a constant condition, over the view or a rollup.
func segTypeCond(a *Args, typ, cond string) string { return `"Type" = ` + a.Add(typ) + ` AND ` + cond }

// segFrom is the FROM/WHERE head of a MimecastCG query: one record type, a constant filter and the window.
func segFrom(p Params, a *Args, typ, cond string) string {
	return ` FROM "MimecastCG" WHERE ` + segTypeCond(a, typ, cond) + ` AND ` + p.Window(a, `"Event Time"`)
}

// segRollupFrom is the FROM/WHERE head of a count over a MimecastCG rollup: one record type and a constant
// filter over the rollup's dimensions, in the window.
func segRollupFrom(p Params, a *Args, name, typ, cond string) string {
	return p.RollupFrom(a, name) + ` WHERE ` + segTypeCond(a, typ, cond)
}

// segNewest narrows a table of the records of a type matching cond: the SEG rollup counts exactly those records.
func segNewest(typ, cond string) *Newest {
	return &Newest{Rollup: rollup.SEG, Where: func(_ Params, a *Args) string { return segTypeCond(a, typ, cond) }}
}

// segNone shows an empty value as "None".
func segNone(col string) string { return `CASE WHEN ` + col + ` = '' THEN 'None' ELSE ` + col + ` END` }

// segCount is a tile: the number of records of a type matching cond.
func segCount(typ, cond string) func(Params) (string, []any) {
	return func(p Params) (string, []any) {
		var a Args
		return `SELECT coalesce(` + rollupCount + `, 0) AS "Count"` + segRollupFrom(p, &a, rollup.SEG, typ, cond), a
	}
}

// segSeries is a time chart of records of a type matching cond, one series per value of a column.
func segSeries(typ, cond, series string) func(Params) (string, []any) {
	return func(p Params) (string, []any) {
		var a Args
		return `SELECT date_trunc('` + p.Bucket() + `', "Event Time") AS "Time", ` + series + `, ` + rollupCount +
			` AS "Count"` + segRollupFrom(p, &a, rollup.SEG, typ, cond) + ` GROUP BY 1, 2`, a
	}
}

// segEvents is a table of the records of a type matching cond, newest first.
func segEvents(typ, cond, cols string) func(Params) (string, []any) {
	return func(p Params) (string, []any) {
		var a Args
		return `SELECT ` + cols + segFrom(p, &a, typ, cond) + `
ORDER BY "Event Time" DESC, "Processing ID", "Recipients"`, a
	}
}

// segEventsPanel is a wide table of the records of a type matching cond, newest first.
func segEventsPanel(id, title, typ, cond, cols string) Panel {
	return Panel{ID: id, Title: title, Kind: KindTable, Wide: true, Query: segEvents(typ, cond, cols),
		Newest: segNewest(typ, cond)}
}

// segByCountry counts the records of a type matching cond per country of an address (a dimension of
// SEGCountries, located with GeoIP when stored), for a map.
func segByCountry(typ, cond, countryCol string) func(Params) (string, []any) {
	return func(p Params) (string, []any) {
		var a Args
		return `SELECT ` + countryCol + ` AS "Country", ` + rollupCount + ` AS "Count"` +
			segRollupFrom(p, &a, rollup.SEGCountries, typ, cond) + ` GROUP BY 1`, a
	}
}

// segTop10 is a bar of the ten most frequent values of a label expression over a rollup's dimensions (empty
// labels left out).
func segTop10(name, typ, cond, label, alias string) func(Params) (string, []any) {
	return func(p Params) (string, []any) {
		var a Args
		return `SELECT ` + label + ` AS ` + quoteIdent(alias) + `, ` + rollupCount + ` AS "Count"` +
			segRollupFrom(p, &a, name, typ, cond) + ` AND ` + label + ` <> '' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`, a
	}
}

// segTrendGrid is the workbook's "count + sparkline" grid: records of a type per value of a column (empty
// values left out), largest first, with the count per time-chart bucket of the window as "Trend".
func segTrendGrid(typ, col string) func(Params) (string, []any) {
	return func(p Params) (string, []any) {
		var a Args
		unit := p.Bucket()
		head := segRollupFrom(p, &a, rollup.SEG, typ, col+` <> ''`)
		from, to := a.Add(p.From), a.Add(p.To)
		return `WITH counts AS (
  SELECT ` + col + ` AS label, date_trunc('` + unit + `', "Event Time") AS bucket, ` + rollupCount + ` AS n` + head + `
  GROUP BY 1, 2
), buckets AS (
  SELECT unnest(generate_series(date_trunc('` + unit + `', CAST(` + from + ` AS TIMESTAMP)), CAST(` + to +
			` AS TIMESTAMP) - INTERVAL 1 MICROSECOND, INTERVAL 1 ` + unit + `)) AS bucket
), labels AS (SELECT DISTINCT label FROM counts)
SELECT l.label AS ` + col + `, CAST(sum(coalesce(c.n, 0)) AS BIGINT) AS "Count", list(coalesce(c.n, 0) ORDER BY b.bucket) AS "Trend"
FROM labels l CROSS JOIN buckets b LEFT JOIN counts c ON c.label = l.label AND c.bucket = b.bucket
GROUP BY 1
ORDER BY 2 DESC, 1`, a
	}
}

// segTile is one tile of a tile group: a count whose click shows its records in the group's details table.
type segTile struct {
	value, title, typ, cond string
}

// segTileGroup makes the tiles of a group, the tab parameter they set and the details table that needs it.
func segTileGroup(param, label, detailsID, detailsTitle string, tiles []segTile) ([]Panel, Param) {
	values := make([]string, 0, len(tiles))
	byValue := make(map[string]segTile, len(tiles))
	panels := make([]Panel, 0, len(tiles)+1)
	for _, t := range tiles {
		values = append(values, t.value)
		byValue[t.value] = t
		panels = append(panels, Panel{ID: t.value, Title: t.title, Kind: KindTile, Note: "Click for the messages",
			Drill: &Drill{Param: param, Value: t.value}, Query: segCount(t.typ, t.cond)})
	}
	// Param.Check admits only the tiles' values.
	panels = append(panels, Panel{ID: detailsID, Title: detailsTitle, Kind: KindTable, Wide: true, Needs: []string{param},
		Query: func(p Params) (string, []any) {
			t := byValue[p.Get(param)]
			return segEvents(t.typ, t.cond, segColumnsOf[t.typ])(p)
		},
		Newest: &Newest{Rollup: rollup.SEG, Where: func(p Params, a *Args) string {
			t := byValue[p.Get(param)]
			return segTypeCond(a, t.typ, t.cond)
		}}})
	return panels, Param{Name: param, Label: label, Check: oneOf(values...)}
}

// segDashboard is the Mimecast SEG workbook.
func segDashboard() *Dashboard {
	return &Dashboard{ID: "seg", Title: "Mimecast Secure Email Gateway",
		Description: "Gateway mail flow: receipt, delivery, anti-virus and spam, TLS, internal email protection, journaling and DLP.",
		Tabs: []Tab{segActivityTab(), segReceiptTab(), segDeliveryTab(), segAVASTab(), segTLSTab(), segSpamTab(),
			segIEPTab(), segJournalTab(), segDLPTab()}}
}

func segActivityTab() Tab {
	return Tab{ID: "activity", Title: "Email Activity Summary", Panels: []Panel{
		{ID: "email-traffic", Title: "Email Traffic", Kind: KindTimeseries, Wide: true, Note: "Deliveries by direction",
			Query: segSeries(segDelivery, segAll, `"Direction"`)},
		{ID: "rejections", Title: "Rejections", Kind: KindTable, Note: "Receipts by rejection type",
			Query: segTrendGrid(segReceipt, `"Rejection Type"`)},
		{ID: "delivery-failures", Title: "Delivery Failures", Kind: KindTable, Note: "Deliveries by rejection type",
			Query: segTrendGrid(segDelivery, `"Rejection Type"`)},
		{ID: "held", Title: "Held", Kind: KindTable, Wide: true, Note: "Processed messages by hold reason",
			Query: segTrendGrid(segProcess, `"Hold Reason"`)},
	}}
}

func segReceiptTab() Tab {
	tiles, param := segTileGroup(segReceiptParam, "Receipt tile", "receipt-details", "Received Messages: {receipt}", []segTile{
		{"received", "Total Messages Received", segReceipt, segAll},
		{"accepted", "Total Messages Accepted", segReceipt, segAccepted},
		{"rejected", "Total Messages Rejected", segReceipt, segRejected},
		{"accepted-without-tls", "Total Messages Accepted without TLS", segReceipt, segNoTLSRcpt},
	})
	return Tab{ID: "receipt", Title: "Email Receipt", Params: []Param{param}, Panels: append(tiles,
		Panel{ID: "accepted-by-route", Title: "Messages Accepted by Route", Kind: KindTimeseries, Wide: true,
			Query: segSeries(segReceipt, segAccepted, `"Direction"`)},
		Panel{ID: "accepted-by-country", Title: "Messages Accepted by Source Country", Kind: KindMap,
			Note: "Sender IP located with GeoIP", Query: segByCountry(segReceipt, segAccepted, `"Sender Country"`)},
		Panel{ID: "rejected-by-country", Title: "Messages Rejected by Source Country", Kind: KindMap,
			Note: "Sender IP located with GeoIP", Query: segByCountry(segReceipt, segRejected, `"Sender Country"`)},
	)}
}

func segDeliveryTab() Tab {
	tiles, param := segTileGroup(segDeliveryParam, "Delivery tile", "delivery-details", "Delivery Events: {delivery}", []segTile{
		{"delivered", "Total Messages Delivered", segDelivery, segDelivered},
		{"outbound-failures", "Total Outbound Delivery Failures", segDelivery, segOutFailed},
		{"inbound-failures", "Total Inbound Delivery Failures", segDelivery, segInFailed},
		{"delivered-without-tls", "Total Messages Delivered without TLS", segDelivery, segNoTLSDlv},
	})
	return Tab{ID: "delivery", Title: "Email Delivery", Params: []Param{param}, Panels: append(tiles,
		Panel{ID: "delivered-by-route", Title: "Messages Delivered by Route", Kind: KindTimeseries, Wide: true,
			Query: segSeries(segDelivery, segDelivered, `"Direction"`)},
		segEventsPanel("delivery-events", "Message Delivery Events", segDelivery, segAll, segDeliveryCols),
		Panel{ID: "delivered-by-country", Title: "Messages Delivered Outbound by Destination Country", Kind: KindMap,
			Wide: true, Note: "Destination IP located with GeoIP", Query: segByCountry(segDelivery, segOutDlv, `"Destination Country"`)},
	)}
}

// segListed is the per-message count table of receipts carrying a value (virus name, spam information); cond
// is a filter the SEG rollup's dimensions express too.
func segListed(id, title, cond, col, alias string) Panel {
	return Panel{ID: id, Title: title, Kind: KindTable, Wide: true, Newest: segNewest(segReceipt, cond),
		Query: func(p Params) (string, []any) {
			var a Args
			return `SELECT "Sender Envelope" AS "Sender", "Recipients" AS "Recipient", "Sender IP" AS "Source IP", ` + col +
				` AS ` + quoteIdent(alias) + `, "Event Time", count(*) AS "Count"` + segFrom(p, &a, segReceipt, cond) + `
GROUP BY ALL ORDER BY "Event Time" DESC, 1, 2`, a
		}}
}

func segAVASTab() Tab {
	tiles, param := segTileGroup(segAVASParam, "AV / AS tile", "avas-details", "Messages: {avas}", []segTile{
		{"viruses-rejected", "Total Viruses Rejected", segReceipt, segVirusRej},
		{"rejected-as-spam", "Total Messages Rejected as Spam", segReceipt, segSpamInfo},
		{"held-as-spam", "Total Messages Held as Spam", segProcess, segSpamHeld},
	})
	return Tab{ID: "av-as", Title: "AV / AS", Params: []Param{param}, Panels: append([]Panel{
		{ID: "antivirus-traffic", Title: "Anti-Virus Traffic", Kind: KindTimeseries, Wide: true, Note: "By route",
			Query: segSeries(segAntivirus, segAll, `"Route"`)},
	}, append(tiles,
		segListed("virus-messages", "Messages Rejected Due to Virus", `"Virus Found" <> ''`, `"Virus Found"`, "Virus Name"),
		segListed("spam-messages", "Messages Rejected as Spam", segSpamInfo, `"Spam Info"`, "Spam Information"),
	)...)}
}

// segTLSVersions is the daily stacked bar of TLS versions of a record type.
func segTLSVersions(typ string) func(Params) (string, []any) {
	return segSeries(typ, segAll, segNone(`"TLS Version"`)+` AS "TLS Version"`)
}

func segTLSTab() Tab {
	return Tab{ID: "tls", Title: "TLS", Panels: []Panel{
		{ID: "tls-delivery", Title: "TLS Delivery", Kind: KindTimeseries, Wide: true, Note: "Delivered messages by TLS Used",
			Query: segSeries(segDelivery, segDelivered, `"TLS Used"`)},
		{ID: "tls-versions-delivery", Title: "TLS Versions (Delivery)", Kind: KindStackedBar, TimeX: true,
			Query: segTLSVersions(segDelivery)},
		{ID: "tls-versions-receipt", Title: "TLS Versions (Receipt)", Kind: KindStackedBar, TimeX: true,
			Query: segTLSVersions(segReceipt)},
		{ID: "delivery-ciphers", Title: "Delivery Ciphers", Kind: KindBar,
			Query: segTop10(rollup.SEG, segDelivery, segAll, segNone(`"TLS Cipher"`), "TLS Cipher")},
		{ID: "receipt-ciphers", Title: "Receipt Ciphers", Kind: KindBar,
			Query: segTop10(rollup.SEG, segReceipt, segAll, segNone(`"TLS Cipher"`), "TLS Cipher")},
		// SEGNoTLS keeps the lower-cased domain after '@' of the recipients and of the envelope sender.
		{ID: "recipient-domains-without-tls", Title: "Top 10 Recipient Domains not Using TLS", Kind: KindBar,
			Query: segTop10(rollup.SEGNoTLS, segDelivery, segNoTLSDlv, `"Recipient Domain"`, "Recipient Domain")},
		{ID: "sender-domains-without-tls", Title: "Top 10 Sending Domains not Using TLS", Kind: KindBar,
			Query: segTop10(rollup.SEGNoTLS, segReceipt, segNoTLSRcpt, `"Envelope Domain"`, "Sender Domain")},
	}}
}

func segSpamTab() Tab {
	return Tab{ID: "spam", Title: "Email Spam", Panels: []Panel{
		{ID: "spam-by-route", Title: "Spam Messages by Route", Kind: KindTimeseries, Wide: true,
			Query: segSeries(segSpam, segAll, `"Route"`)},
		segEventsPanel("spam-events", "Spam Message Events", segSpam, segAll, segSpamCols),
		{ID: "spam-by-country", Title: "Spam Messages by Source Country", Kind: KindMap, Wide: true,
			Note: "Sender IP located with GeoIP", Query: segByCountry(segSpam, segAll, `"Sender Country"`)},
	}}
}

func segIEPTab() Tab {
	return Tab{ID: "internal-email-protect", Title: "Internal Email Protect", Panels: []Panel{
		{ID: "iep-by-route", Title: "Internal Email Protection by Route", Kind: KindTimeseries, Wide: true,
			Query: segSeries(segIEP, segAll, `"Route"`)},
		segEventsPanel("iep-events", "Internal Email Protection Events", segIEP, segAll, segIEPCols),
	}}
}

func segJournalTab() Tab {
	return Tab{ID: "journal", Title: "Email Journal", Panels: []Panel{
		{ID: "journal-by-direction", Title: "Journal Messages by Direction", Kind: KindTimeseries, Wide: true,
			Query: segSeries(segJournal, segAll, `"Direction"`)},
		segEventsPanel("journal-events", "Journal Message Events", segJournal, segAll, segJournalCols),
	}}
}

// segDLPCount counts MimecastDLP events by one column (empty values left out).
func segDLPCount(col string) func(Params) (string, []any) {
	return func(p Params) (string, []any) {
		var a Args
		return `SELECT ` + col + `, count(*) AS "Count" FROM "MimecastDLP" WHERE ` + p.Window(&a, `"Event Time"`) +
			` AND ` + col + ` <> '' GROUP BY 1`, a
	}
}

func segDLPTab() Tab {
	return Tab{ID: "dlp", Title: "Data Leak Prevention", Panels: []Panel{
		{ID: "dlp-events", Title: "Data Leak Prevention Events", Kind: KindTimeseries, Wide: true, Note: "By action",
			Query: func(p Params) (string, []any) {
				var a Args
				return `SELECT date_trunc('` + p.Bucket() + `', "Event Time") AS "Time", "Action", count(*) AS "Count"
FROM "MimecastDLP" WHERE ` + p.Window(&a, `"Event Time"`) + ` GROUP BY 1, 2`, a
			}},
		{ID: "dlp-by-route", Title: "DLP Events by Route", Kind: KindPie, Query: segDLPCount(`"Route"`)},
		{ID: "dlp-by-action", Title: "DLP Events by Actions Triggered", Kind: KindPie, Query: segDLPCount(`"Action"`)},
		{ID: "dlp-by-policy", Title: "DLP Events by Policies Triggered", Kind: KindPie, Query: segDLPCount(`"Policy"`)},
	}}
}
