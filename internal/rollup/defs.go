package rollup

// The rollups, one per question family of the workbooks. Dimensions keep the view's column names and raw values,
// so a panel's filter over the view (lower("Action") IN ('acc', 'rty'), "TLS Version" = '') reads the same over
// the rollup; where a panel only asks whether a long text is empty, the rollup keeps only that ('*' for any
// other value).

// Rollup names, for readers.
const (
	// SEG is the gateway's mail flow per record type, action, direction, delivery, TLS, rejection, hold reason
	// and route (MimecastCG).
	SEG = "rollup_seg"
	// SEGCountries counts receipts, deliveries and spam records per sender and destination country (the maps).
	SEGCountries = "rollup_seg_countries"
	// SEGNoTLS counts the messages accepted or delivered without TLS per sender and recipient domain.
	SEGNoTLS = "rollup_seg_notls"
	// CI is Cloud Integrated detections per type, subtype, direction, tags, threat and first policy action and mode.
	CI = "rollup_ci"
	// CISenders counts Cloud Integrated records per sender envelope address.
	CISenders = "rollup_ci_senders"
	// CICountries counts Cloud Integrated records per direction and sender country (the map and origin pie).
	CICountries = "rollup_ci_countries"
	// CIRecipients counts Cloud Integrated records per recipient (one per element of Recipients).
	CIRecipients = "rollup_ci_recipients"
	// Audit counts audit events per category, type and application (MimecastAudit).
	Audit = "rollup_audit"
)

// PolicyField is the first policy's field ("action", "mode") of the Cloud Integrated "Policies Applied" JSON
// list, `_` shown as space; "" when the value is not JSON. The CI rollup and the CI panels read it the same way.
func PolicyField(field string) string {
	return `replace(trim(coalesce(CASE WHEN json_valid("Policies Applied") THEN json_extract_string("Policies Applied", '$[0].` +
		field + `') END, '')), '_', ' ')`
}

// CountryFunc is the SQL function the store provides that gives an IP address's ISO country code from the
// GeoIP database (empty when unknown). Counting per country when rows are written keeps a map's query as small as
// the number of countries, where counting per address grew with every sender.
const CountryFunc = "castwatch_country"

// Country is the country code of an address column.
func Country(col string) string { return CountryFunc + "(" + Ident(col) + ")" }

// Retired are rollup tables older versions kept; the store drops them.
var Retired = []string{"rollup_seg_addresses", "rollup_seg_addresses_day", "rollup_ci_addresses", "rollup_ci_addresses_day"}

// flag keeps whether a text column is empty: the value itself when it is one of empties, else '*'.
func flag(col, empties string) string {
	return `CASE WHEN ` + Ident(col) + ` IN (` + empties + `) THEN ` + Ident(col) + ` ELSE '*' END`
}

// All are the rollups.
func All() []Def {
	return []Def{
		{Name: SEG, View: "MimecastCG", Table: "Seg_Cg_CL", Dims: []Dim{
			{Name: "Type"}, {Name: "Action"}, {Name: "Direction"}, {Name: "Delivered"}, {Name: "TLS Used"},
			{Name: "TLS Version"}, {Name: "TLS Cipher"}, {Name: "Rejection Type"}, {Name: "Hold Reason"},
			{Name: "Route"},
			{Name: "Spam Info", Expr: flag("Spam Info", `'', '[]'`)},
			{Name: "Virus Found", Expr: flag("Virus Found", `''`)},
		}},
		{Name: SEGCountries, View: "MimecastCG", Table: "Seg_Cg_CL", Daily: true,
			Where: `"Type" IN ('email_receipt', 'email_delivery', 'email_spam')`,
			Dims: []Dim{{Name: "Type"}, {Name: "Action"}, {Name: "Direction"}, {Name: "Delivered"},
				{Name: "Sender Country", Expr: Country("Sender IP")},
				{Name: "Destination Country", Expr: Country("Destination IP")}}},
		{Name: SEGNoTLS, View: "MimecastCG", Table: "Seg_Cg_CL", Daily: true,
			Where: `(lower("Delivered") = 'true' AND lower("TLS Used") = 'no') OR (lower("Action") IN ('acc', 'rty') AND "TLS Version" = '')`,
			Dims: []Dim{{Name: "Type"}, {Name: "Action"}, {Name: "Delivered"}, {Name: "TLS Used"}, {Name: "TLS Version"},
				{Name: "Recipient Domain", Expr: `lower(split_part("Recipients", '@', 2))`},
				{Name: "Envelope Domain", Expr: `lower(split_part("Sender Envelope", '@', 2))`}}},
		{Name: CI, View: "MimecastCloudIntegrated", Table: "Cloud_Integrated_CL", Dims: []Dim{
			{Name: "Type"}, {Name: "Subtype"}, {Name: "Direction"}, {Name: "Tags"}, {Name: "Threat Type"},
			{Name: "Threat State"},
			{Name: "Policy Action", Expr: PolicyField("action")},
			{Name: "Policy Mode", Expr: PolicyField("mode")},
		}},
		{Name: CISenders, View: "MimecastCloudIntegrated", Table: "Cloud_Integrated_CL", Daily: true,
			Dims: []Dim{{Name: "Sender Envelope"}}},
		{Name: CICountries, View: "MimecastCloudIntegrated", Table: "Cloud_Integrated_CL", Daily: true,
			Dims: []Dim{{Name: "Direction"}, {Name: "Sender Country", Expr: Country("Sender IP")}}},
		{Name: CIRecipients, View: "MimecastCloudIntegrated", Table: "Cloud_Integrated_CL", Daily: true,
			Unnest: &Dim{Name: "Recipient", Expr: `CASE WHEN json_valid("Recipients") AND json_type("Recipients") = 'ARRAY'
    THEN json_extract_string("Recipients", '$[*]') ELSE ["Recipients"] END`},
			Dims: []Dim{{Name: "Recipient"}}},
		{Name: Audit, View: "MimecastAudit", Table: "Audit_CL", Dims: []Dim{
			{Name: "Category"}, {Name: "Audit Type"}, {Name: "Application"}}},
	}
}
