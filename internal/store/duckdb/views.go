package duckdb

// The Sentinel Mimecast solution reads its tables through eleven KQL parser functions (MimecastAudit, MimecastCG,
// …) that rename the raw columns to spaced names ("Source IP", "Audit Type"), and its analytic rules and workbooks
// query those names. The views below are the same eleven functions in DuckDB SQL, with the same view names and
// output column names, so a question asked of Sentinel translates one to one:
//
//	MimecastAudit | where ['Source IP'] != "" and ['Audit Type'] == "Logon Authentication Failed"
//	SELECT * FROM "MimecastAudit" WHERE "Source IP" <> '' AND "Audit Type" = 'Logon Authentication Failed'
//
// Every view has one extra column, tenant, first.
//
// Where KQL and DuckDB differ, the views do what the KQL means:
//
//   - KQL strings are never null (column_ifexists(…, '') and missing values read as ""), so every string column of
//     a view is coalesced to ''. `x != "safe"` is then true for an empty x in SQL as it is in KQL, and
//     `isnotempty(x)` is `x <> ''`. Numbers, booleans and datetimes stay NULL when absent, as in KQL.
//   - KQL `==` / `!=` on strings are case-sensitive, like SQL `=` / `<>`; the case-insensitive KQL operators
//     (`=~`, `in~`, `has`, `contains`) translate to lower(x) = lower(y), ILIKE and the like.
//   - The built-in column Type (the table name) is a literal.
//   - DuckDB column names are case-insensitive, so MimecastTTPUrl cannot have both "Mimecast Event ID" (the
//     constant 'ttp_url') and "Mimecast Event Id" (the record's mimecastEventId); the latter is named
//     "Mimecast Event Id_", the way the Sentinel parser itself names "Mimecast Event Category_".
//   - The parsers de-duplicate re-ingested rows with summarize arg_max(TimeGenerated, *) by <columns>. The store
//     needs no such step: it keeps one row per natural key (schema.Table.Key), and every natural key is part of
//     what the view shows, so the views select rows as they are.
//
// Bugs of the Sentinel parsers (spec sentinel-solution §3, §7) fixed here, each covered by a test in views_test.go:
//
//	F1  MimecastAudit: parse-kv cuts eventInfo at every comma, so an application name holding a comma
//	    ("Acme, Inc. Mail Portal") is cut. A comma ends a value only when a "Key:" follows it.
//	F2  MimecastAudit: a doubled separator ("IP: : 1.2.3.4,,") gives no IP. It is read.
//	F3  MimecastAudit: the space-separated layout ("Action Performed - … by x Date: … IP: … Application: …")
//	    gives neither IP nor Application. Both are read.
//	F4  MimecastAudit: lower-case keys ("remote IP : x application : LFS") and "Remote IP is x" are not read.
//	    Keys match case-insensitively, and "Source IP" falls back to the remote IP when there is no IP.
//	F5  MimecastAudit: "Source IP" is whatever text follows "IP:" ("unknown", "null", "x"); rule R1's
//	    ['Source IP'] != "" then counts failures without an address and maps garbage to an IP entity. Only a
//	    valid address is kept (port and IPv6 zone dropped, IPv4-mapped IPv6 unmapped), else ''.
//	    Source IP and Application agree with internal/parse.ParseAuditInfo (SourceIP(), Application).
//	F6  every parser: an empty Event Time becomes now(), so the value changes on every query and a record without
//	    a time falls into every scheduled rule's window again. It falls back to TimeGenerated (ingestion time).
//	    The store computes it once per row on write (EventTimeColumn), and every view reads that column.
//	F7  MimecastDLP: Event Time is todatetime(tolong(<datetime>)), which turns the time into a number and back;
//	    it is eventTime as stored.
//	F8  AwarenessWatchlist: "Time Generated" reads the nonexistent column 'Time Generated' and is always empty;
//	    it is TimeGenerated.
//	F9  AwarenessPerformanceDetails, AwarenessSafeScore, AwarenessWatchlist and MimecastTTPImpersonation read the
//	    legacy suffixed columns (email_s, hits_d, taggedMalicious_b, eventTime_t, …), which are all blank on the
//	    Logs-Ingestion (3.1.0) tables; they read the 3.1.0 columns.
//	F10 the Awareness parsers group by every column, so each past state of a user remains a row of its own (a user
//	    whose watchlist count went from 1 to 2 is counted twice by the workbook pies). The store holds one row per
//	    user (per user and campaign for user data), so each view has one row per user.
//	F11 MimecastTTPAttachment de-duplicates on sender, recipient and message id only, so two attachments of one
//	    message collapse into one row; MimecastTTPImpersonation de-duplicates on id alone, which Mimecast reuses
//	    for different messages; MimecastTTPUrl de-duplicates on user, sender, sending IP, message id and url, so a
//	    later click of a link collapses into its entry scan. Every stored record is kept.
//	F12 MimecastTTPUrl reads column 'category' while the table's column is Category (KQL column names are
//	    case-sensitive), so "Category" is always empty; it reads Category.
//	F13 MimecastTTPUrl's "Tag Map Dangerous File Ext Content Check Dangerous Mimetypes|Exts Url File Download"
//	    read columns the table does not have and are always empty. Those tagMap.DangerousFileExt leaves are stored
//	    in tagMap_ContentCheck_* (see schema.TtpURL), which both these and the "Tag Map ContentCheck …" columns read.
//	F14 MimecastCG: Type (Logtype) is null for a SIEM type the connector does not map; the store keeps an
//	    unmapped type as it came (schema.Logtype), and the view shows it.

import (
	"context"
	"database/sql"
	"fmt"
)

// sentinelView is one Sentinel parser function as a DuckDB view.
type sentinelView struct {
	// name is the parser function's name, used as the view name.
	name string
	// source is the stored table the view reads; the view is created only when the store has that table.
	source string
	// sql is the CREATE OR REPLACE VIEW statement.
	sql string
}

// viewMimecastAudit is the MimecastAudit parser over Audit_CL. Instead of parse-kv it reads eventInfo with
// regular expressions that agree with internal/parse.ParseAuditInfo:
//
//   - "Source IP" is the first valid address after "IP:" or "IP Address:" (any case and spacing, after a doubled
//     ": " separator — F2; the value ends at a space, ',', ';' or ']'; "Remote IP" is masked first), else the
//     first valid one after "Remote IP is" or "Remote IP:" (F4), else the empty string. Valid (F5): IPv4 with an optional
//     port, IPv4-mapped IPv6 (unmapped), IPv6 with optional brackets, zone and port (lower-cased); "null",
//     "unknown", "-", "n/a" and anything else give the empty string.
//   - "Application" is the first non-empty value after "Application:" (any case — F4). The value runs to the next
//     ", Key:" (a key is short, starts with a letter or digit and holds only letters, digits, spaces and
//     ()/_.'-) — so "Acme, Inc. Mail Portal" stays whole (F1) —, to ", Remote IP is", a newline, a space before a
//     key of the space-separated layout (F3), or the end.
//
// Known differences from ParseAuditInfo, none of them in the corpus: a comma inside <…>, (…), […], {…} or "…" ends
// an Application value when a "Key:" follows it; a key after a space is read anywhere (ParseAuditInfo reads
// space-separated keys in the last field only), so "Client IP: x" counts as "IP: x"; IPv6 addresses are
// lower-cased but not compressed to the canonical form, and IPv6 with an embedded IPv4 tail is not recognised.
const viewMimecastAudit = `CREATE OR REPLACE VIEW "MimecastAudit" AS
SELECT
    "tenant",
    "TimeGenerated" AS "Time Generated",
    coalesce(list_filter(list_transform(list_concat(
        regexp_extract_all(regexp_replace(coalesce("eventInfo", ''), '(?i)remote(\s+)ip', 'remote\1_ip', 'g'),
            '(?i)(?:^|[\s,\[])ip(?:\s+address)?\s*:\s*(?::\s+)*([^\s,;\]]*)', 1),
        regexp_extract_all(coalesce("eventInfo", ''),
            '(?i)(?:^|[\s,\[])remote\s+ip(?:\s+is\s+|\s*:\s*(?::\s+)*)([^\s,;\]]*)', 1)),
        lambda v: CASE
            WHEN regexp_full_match(v, '(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?::[0-9]{1,5})?')
                THEN regexp_extract(v, '^[0-9.]+')
            WHEN regexp_full_match(lower(v), '::ffff:(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])')
                THEN substr(v, 8)
            WHEN regexp_full_match(lower(v), '\[?[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%[^\]]*)?(?:\](?::[0-9]{1,5})?)?')
                THEN regexp_extract(lower(v), '^\[?([0-9a-f:]+)', 1)
            ELSE '' END),
        lambda v: v <> '')[1], '') AS "Source IP",
    coalesce(list_filter(regexp_extract_all(coalesce("eventInfo", ''),
        '(?i)(?:^|[\s,])application\s*:\s*(?::\s+)*(.*?)\s*(?:,\s*[a-z0-9][a-z0-9 ()/_.''-]{0,47}?\s*:|,\s*remote\s+ip\s+is|\n|\s(?:remote ip|date|time|ip|application|method|2fa|reason)\s?:|$)', 1),
        lambda v: v <> '')[1], '') AS "Application",
    coalesce("category", '') AS "Category",
    coalesce("auditType", '') AS "Audit Type",
    coalesce("user", '') AS "User",
    coalesce("eventInfo", '') AS "Event Info",
    "_event_time" AS "Event Time",
    coalesce("id", '') AS "Id"
FROM "Audit_CL"`

// viewAwarenessPerformanceDetails is the AwarenessPerformanceDetails parser over Awareness_Performance_Details_CL
// (F9, F10).
const viewAwarenessPerformanceDetails = `CREATE OR REPLACE VIEW "AwarenessPerformanceDetails" AS
SELECT
    "tenant",
    coalesce("email", '') AS "Email",
    coalesce("name", '') AS "Name",
    "numCorrect" AS "Num of Correct",
    "numIncorrect" AS "Num of Incorrect",
    "numNotWatched" AS "Num of Not Watched",
    "userDetails" AS "User Details",
    coalesce("userState", '') AS "User State",
    coalesce("department", '') AS "Department"
FROM "Awareness_Performance_Details_CL"`

// viewAwarenessSafeScore is the AwarenessSafeScore parser over Awareness_SafeScore_Details_CL (F9, F10).
const viewAwarenessSafeScore = `CREATE OR REPLACE VIEW "AwarenessSafeScore" AS
SELECT
    "tenant",
    coalesce("emailAddress", '') AS "Email Address",
    coalesce("name", '') AS "Name",
    coalesce("risk", '') AS "Risk",
    coalesce("humanError", '') AS "Human Error",
    coalesce("sentiment", '') AS "Sentiment",
    coalesce("engagement", '') AS "Engagement",
    coalesce("knowledge", '') AS "Knowledge",
    coalesce("userState", '') AS "User State",
    coalesce("department", '') AS "Department"
FROM "Awareness_SafeScore_Details_CL"`

// viewAwarenessUserData is the AwarenessUserData parser (v1.0.1) over Awareness_User_Data_CL (F10). Like the
// parser it does not show Time Generated.
const viewAwarenessUserData = `CREATE OR REPLACE VIEW "AwarenessUserData" AS
SELECT
    "tenant",
    "timeReported" AS "Time Reported",
    coalesce("name", '') AS "Name",
    coalesce("email", '') AS "Email",
    coalesce("templateName", '') AS "Template Name",
    coalesce("status", '') AS "Status",
    "numCampaignsClicked" AS "Num of Campaigns Clicked",
    "numCampaignsSent" AS "Num of Campaigns Sent",
    "numCorrectAnswers" AS "Num of Correct Answers",
    "numTrainingModulesAssigned" AS "Num of Training Modules Assigned",
    "numIncorrectAnswers" AS "Num of Incorrect Answers",
    coalesce("userState", '') AS "User State",
    coalesce("clickedIp", '') AS "Clicked IP",
    "reactionTime" AS "Reaction Time",
    "timeOpened" AS "Time Opened",
    coalesce("department", '') AS "Department",
    "timeScheduled" AS "Time Scheduled",
    "timeClicked" AS "Time Clicked",
    "numCampaignsScanned" AS "Num of Campaigns Scanned",
    "numCampaignsClickedScanned" AS "Num of Campaigns Clicked Scanned",
    "timeScanned" AS "Time Scanned",
    "timeSubmitted" AS "Time Submitted",
    coalesce("items", '') AS "Items"
FROM "Awareness_User_Data_CL"`

// viewAwarenessWatchlist is the AwarenessWatchlist parser over Awareness_Watchlist_Details_CL (F8, F9, F10). A
// missing watchlist count is 0, as in the parser.
const viewAwarenessWatchlist = `CREATE OR REPLACE VIEW "AwarenessWatchlist" AS
SELECT
    "tenant",
    "TimeGenerated" AS "Time Generated",
    coalesce("email", '') AS "Email",
    coalesce("name", '') AS "Name",
    coalesce("watchlistCount", 0) AS "Watchlist Count",
    coalesce("userState", '') AS "User State",
    coalesce("department", '') AS "Department"
FROM "Awareness_Watchlist_Details_CL"`

// viewMimecastCloudIntegrated is the MimecastCloudIntegrated parser over Cloud_Integrated_CL (F6). Event Time is
// the stored EventTimeColumn: the epoch-millisecond timestamp truncated to whole milliseconds, as tolong does; a
// value outside DuckDB's timestamp range counts as absent instead of failing the query.
const viewMimecastCloudIntegrated = `CREATE OR REPLACE VIEW "MimecastCloudIntegrated" AS
SELECT
    "tenant",
    "_event_time" AS "Event Time",
    "TimeGenerated" AS "Time Generated",
    coalesce("accountId", '') AS "Account ID",
    coalesce("aggregateId", '') AS "Aggregate ID",
    coalesce("processingId", '') AS "Processing ID",
    coalesce("messageId", '') AS "Message ID",
    coalesce("attachments", '') AS "Attachments",
    coalesce("recipients", '') AS "Recipients",
    coalesce("tags", '') AS "Tags",
    coalesce("policiesApplied", '') AS "Policies Applied",
    "historicalMail" AS "Historical Mail",
    coalesce("senderIp", '') AS "Sender IP",
    coalesce("senderEnvelope", '') AS "Sender Envelope",
    coalesce("subject", '') AS "Subject",
    coalesce("source", '') AS "Source",
    coalesce("threatState", '') AS "Threat State",
    coalesce("threatType", '') AS "Threat Type",
    coalesce("direction", '') AS "Direction",
    coalesce("senderHeader", '') AS "Sender Header",
    coalesce("type_", '') AS "Type",
    coalesce("subtype", '') AS "Subtype"
FROM "Cloud_Integrated_CL"`

// viewMimecastCG is the MimecastCG parser (v1.0.1) over Seg_Cg_CL (F6, F14). Message ID loses its enclosing
// angle brackets (KQL trim(@"[\<\>]", …)).
const viewMimecastCG = `CREATE OR REPLACE VIEW "MimecastCG" AS
SELECT
    "tenant",
    "TimeGenerated" AS "Time Generated",
    coalesce("urlCategory", '') AS "Url Category",
    coalesce("scanResults", '') AS "Scan Results",
    coalesce("fileName", '') AS "File Name",
    coalesce("sha256", '') AS "Sha256",
    coalesce("fileExtension", '') AS "File Extension",
    coalesce("virusFound", '') AS "Virus Found",
    coalesce("sha1", '') AS "Sha1",
    coalesce("senderDomain", '') AS "Sender Domain",
    coalesce("md5", '') AS "Md5",
    coalesce("customThreatDictionary", '') AS "Custom Threat Dictionary",
    coalesce("itemsDetected", '') AS "Items Detected",
    coalesce("similarCustomExternalDomain", '') AS "Similar Custom External Domain",
    coalesce("taggedExternal", '') AS "Tagged External",
    coalesce("similarInternalDomain", '') AS "Similar Internal Domain",
    coalesce("newDomain", '') AS "New Domain",
    coalesce("internalUserName", '') AS "Internal User Name",
    coalesce("mimecastThreatDictionary", '') AS "Mimecast Threat Dictionary",
    coalesce("similarMimecastExternalDomain", '') AS "Similar Mimecast External Domain",
    coalesce("customNameMatch", '') AS "Custom Name Match",
    coalesce("taggedMalicious", '') AS "Tagged Malicious",
    coalesce("replyMismatch", '') AS "Reply Mismatch",
    coalesce("aggregateId", '') AS "Aggregate ID",
    coalesce("rejectionType", '') AS "Rejection Type",
    coalesce("rejectionCode", '') AS "Rejection Code",
    coalesce("rejectionInfo", '') AS "Rejection Info",
    coalesce("delivered", '') AS "Delivered",
    coalesce("destinationIp", '') AS "Destination IP",
    coalesce("Hostname", '') AS "Host Name",
    coalesce("deliveryAttempts", '') AS "Delivery Attempts",
    coalesce("tlsUsed", '') AS "TLS Used",
    coalesce("deliveryErrors", '') AS "Delivery Errors",
    coalesce("attachments", '') AS "Attachments",
    coalesce("route", '') AS "Route",
    coalesce("processingId", '') AS "Processing ID",
    coalesce("accountId", '') AS "Account ID",
    coalesce("action", '') AS "Action",
    "_event_time" AS "Event Time",
    coalesce("senderEnvelope", '') AS "Sender Envelope",
    trim(coalesce("messageId", ''), '<>') AS "Message ID",
    coalesce("subject", '') AS "Subject",
    coalesce("totalSizeAttachments", '') AS "Total of Size Attachments",
    coalesce("numberAttachments", '') AS "Number of Attachments",
    coalesce("emailSize", '') AS "Email Size",
    coalesce("Logtype", '') AS "Type",
    coalesce("subtype", '') AS "Sub Type",
    coalesce("monitoredDomainSource", '') AS "Monitored Domain Source",
    coalesce("similarDomain", '') AS "Similar Domain",
    "offset" AS "Offset",
    "partition" AS "Partition",
    coalesce("holdReason", '') AS "Hold Reason",
    coalesce("recipients", '') AS "Recipients",
    coalesce("senderIp", '') AS "Sender IP",
    coalesce("direction", '') AS "Direction",
    coalesce("senderHeader", '') AS "Sender Header",
    coalesce("tlsVersion", '') AS "TLS Version",
    coalesce("tlsCipher", '') AS "TLS Cipher",
    coalesce("spamInfo", '') AS "Spam Info",
    coalesce("spamProcessingDetail", '') AS "Spam Processing Detail"
FROM "Seg_Cg_CL"`

// viewMimecastDLP is the MimecastDLP parser over Seg_Dlp_CL (F6, F7).
const viewMimecastDLP = `CREATE OR REPLACE VIEW "MimecastDLP" AS
SELECT
    "tenant",
    coalesce("senderAddress", '') AS "Sender Address",
    coalesce("recipientAddress", '') AS "Recipient Address",
    coalesce("subject", '') AS "Subject",
    "_event_time" AS "Event Time",
    coalesce("route", '') AS "Route",
    coalesce("policy", '') AS "Policy",
    coalesce("action", '') AS "Action",
    coalesce("messageId", '') AS "Message ID",
    "TimeGenerated" AS "Time Generated"
FROM "Seg_Dlp_CL"`

// viewMimecastTTPAttachment is the MimecastTTPAttachment parser over Ttp_Attachment_CL (F6, F11).
const viewMimecastTTPAttachment = `CREATE OR REPLACE VIEW "MimecastTTPAttachment" AS
SELECT
    "tenant",
    "TimeGenerated" AS "Time Generated",
    'Ttp_Attachment_CL' AS "Type",
    'ttp_attachment' AS "Mimecast Event ID",
    'ttp_attachment' AS "Mimecast Event Category",
    coalesce("actionTriggered", '') AS "Action Triggered",
    "_event_time" AS "Event Time",
    coalesce("definition", '') AS "Definition",
    coalesce("details", '') AS "Details",
    coalesce("fileHash", '') AS "File Hash",
    coalesce("fileName", '') AS "File Name",
    coalesce("fileType", '') AS "File Type",
    coalesce("messageId", '') AS "Message ID",
    coalesce("recipientAddress", '') AS "Recipient Address",
    coalesce("result", '') AS "Result",
    coalesce("route", '') AS "Route",
    coalesce("senderAddress", '') AS "Sender Address",
    coalesce("subject", '') AS "Subject"
FROM "Ttp_Attachment_CL"`

// viewMimecastTTPImpersonation is the MimecastTTPImpersonation parser over Ttp_Impersonation_CL (F6, F9, F11).
const viewMimecastTTPImpersonation = `CREATE OR REPLACE VIEW "MimecastTTPImpersonation" AS
SELECT
    "tenant",
    "TimeGenerated" AS "Time Generated",
    'Ttp_Impersonation_CL' AS "Type",
    'ttp_impersonation' AS "Mimecast Event ID",
    'ttp_impersonation' AS "Mimecast Event Category",
    coalesce("action", '') AS "Action",
    coalesce("definition", '') AS "Definition",
    "_event_time" AS "Event Time",
    "hits" AS "Hits",
    coalesce("id", '') AS "ID",
    "identifiers" AS "Identifiers",
    coalesce("impersonationResults", '') AS "Impersonation Results",
    coalesce("messageId", '') AS "Message ID",
    coalesce("recipientAddress", '') AS "Recipient Address",
    coalesce("senderAddress", '') AS "Sender Address",
    coalesce("senderIpAddress", '') AS "Sender IP Address",
    coalesce("subject", '') AS "Subject",
    "taggedExternal" AS "Tagged External",
    "taggedMalicious" AS "Tagged Malicious"
FROM "Ttp_Impersonation_CL"`

// viewMimecastTTPUrl is the MimecastTTPUrl parser (v1.0.1) over Ttp_Url_CL (F6, F11, F12, F13), columns in the
// parser's project order.
const viewMimecastTTPUrl = `CREATE OR REPLACE VIEW "MimecastTTPUrl" AS
SELECT
    "tenant",
    coalesce("Category", '') AS "Category",
    "TimeGenerated" AS "Time Generated",
    'ttp_url' AS "Mimecast Event ID",
    'ttp_url' AS "Mimecast Event Category",
    coalesce("userEmailAddress", '') AS "User Email Address",
    coalesce("fromUserEmailAddress", '') AS "From User Email Address",
    coalesce("url", '') AS "Url",
    coalesce("ttpDefinition", '') AS "Ttp Definition",
    coalesce("subject", '') AS "Subject",
    coalesce("action", '') AS "Action",
    coalesce("adminOverride", '') AS "Admin Override",
    coalesce("userOverride", '') AS "User Override",
    coalesce("scanResult", '') AS "Scan Result",
    coalesce("sendingIp", '') AS "Sending IP",
    coalesce("userAwarenessAction", '') AS "User Awareness Action",
    "_event_time" AS "Event Time",
    "actions" AS "Actions",
    coalesce("route", '') AS "Route",
    coalesce("creationMethod", '') AS "Creation Method",
    "emailPartsDescription" AS "Email Parts Description",
    coalesce("messageId", '') AS "Message ID",
    coalesce("tagMap_ContentCheck_DangerousMimetypesUrlFileDownload", '')
        AS "Tag Map Dangerous File Ext Content Check Dangerous Mimetypes Url File Download",
    coalesce("tagMap_ContentCheck_DangerousExtsUrlFileDownload", '')
        AS "Tag Map Dangerous File Ext Content Check Dangerous Exts Url File Download",
    coalesce("tagMap_AdvancedPhishing_CredentialTheftEvidence", '') AS "Tag Map Advanced Phishing Credential Theft Evidence",
    coalesce("tagMap_AdvancedPhishing_CredentialTheftTags", '') AS "Tag Map Advanced Phishing Credential Theft Tags",
    coalesce("advancedPhishingResult_CredentialTheftBrands", '') AS "Advanced Phishing Result Credential Theft Brands",
    coalesce("advancedPhishingResult_CredentialTheftEvidence", '') AS "Advanced Phishing Result Credential Theft Evidence",
    coalesce("advancedPhishingResult_CredentialTheftTags", '') AS "Advanced Phishing Result Credential Theft Tags",
    coalesce("tagMap_UrlReputationScan_Type", '') AS "Tag Map Url Reputation Scan Type",
    coalesce("tagMap_UrlReputationScan_Url", '') AS "Tag Map Url Reputation Scan Url",
    coalesce("tagMap_DangerousFileExt_Inspect_FileExts", '') AS "Tag Map Dangerous File Ext Inspect File Exts",
    coalesce("tagMap_DangerousFileExt_Inspect_MimeTypes", '') AS "Tag Map Dangerous File Ext Inspect Mime Types",
    coalesce("tagMap_DangerousFileExt_ContentCheck_ContentScannersBlocked", '')
        AS "Tag Map Dangerous File Ext Content Check Content Scanners Blocked",
    coalesce("tagMap_UrlReputationScan_UrlBlock", '') AS "Tag Map Url Reputation Scan Url Block",
    coalesce("tagMap_CustomerManagedUrls_ManagedUrlEntry", '') AS "Tag Map Customer Managed Urls Managed Url Entry",
    coalesce("tagMap_CustomerManagedUrls_Blocklisted", '') AS "Tag Map Customer Managed Urls Blocklisted",
    coalesce("tagMap_AvScanning_ContentCheck_AvSignatureName", '') AS "Tag Map Av Scanning Content Check Av Signature Name",
    coalesce("tagMap_AvScanning_ScannerInfo_CategoryTrigger", '') AS "Tag Map Av Scanning Scanner Info Category Trigger",
    coalesce("tagMap_AvScanning_ContentCheck_AvSignatureFileExts", '')
        AS "Tag Map Av Scanning Content Check Av Signature File Exts",
    coalesce("tagMap_AvScanning_ContentCheck_UrlFileDownloadFilename", '')
        AS "Tag Map Av Scanning Content Check Url File Download Filename",
    'Ttp_Url_CL' AS "Type",
    coalesce("tagMap_DangerousFileExt_Status", '') AS "Tag Map Dangerous File Ext Status",
    coalesce("tagMap_UrlReputationScan_Status", '') AS "Tag Map Url Reputation Scan Status",
    coalesce("tagMap_ContentCheck_DangerousMimetypesUrlFileDownload", '')
        AS "Tag Map ContentCheck Dangerous Mimetypes Url File Download",
    coalesce("tagMap_ContentCheck_DangerousExtsUrlFileDownload", '') AS "Tag Map ContentCheck Dangerous Exts Url File Download",
    coalesce("mimecastEventId", '') AS "Mimecast Event Id_",
    coalesce("mimecastEventCategory", '') AS "Mimecast Event Category_",
    coalesce("tagMap_CustomerManagedUrls_Status", '') AS "Tag Map Customer Managed Urls Status"
FROM "Ttp_Url_CL"`

// sentinelViews lists the eleven parser views in the order the spec numbers the parsers.
var sentinelViews = []sentinelView{
	{"MimecastAudit", "Audit_CL", viewMimecastAudit},
	{"AwarenessPerformanceDetails", "Awareness_Performance_Details_CL", viewAwarenessPerformanceDetails},
	{"AwarenessSafeScore", "Awareness_SafeScore_Details_CL", viewAwarenessSafeScore},
	{"AwarenessUserData", "Awareness_User_Data_CL", viewAwarenessUserData},
	{"AwarenessWatchlist", "Awareness_Watchlist_Details_CL", viewAwarenessWatchlist},
	{"MimecastCloudIntegrated", "Cloud_Integrated_CL", viewMimecastCloudIntegrated},
	{"MimecastCG", "Seg_Cg_CL", viewMimecastCG},
	{"MimecastDLP", "Seg_Dlp_CL", viewMimecastDLP},
	{"MimecastTTPAttachment", "Ttp_Attachment_CL", viewMimecastTTPAttachment},
	{"MimecastTTPImpersonation", "Ttp_Impersonation_CL", viewMimecastTTPImpersonation},
	{"MimecastTTPUrl", "Ttp_Url_CL", viewMimecastTTPUrl},
}

// SentinelViews returns the names of the Sentinel parser views a store creates, in a stable order. A view is
// created only when the store was opened with its source table.
func SentinelViews() []string {
	names := make([]string, len(sentinelViews))
	for i, v := range sentinelViews {
		names[i] = v.name
	}
	return names
}

// createViews (re)creates the parser views whose source table the store has, in one transaction. It runs at every
// read-write Open after the tables and migrations, so a view always matches the current table columns.
func (d *DB) createViews(ctx context.Context) error {
	have := make(map[string]bool, len(d.tables))
	for _, t := range d.tables {
		have[t.Name] = true
	}
	return d.withWriteConn(func(c *sql.Conn) error {
		err := inTx(ctx, c, func(tx *sql.Tx) error {
			for _, v := range sentinelViews {
				if !have[v.source] {
					continue
				}
				if _, err := tx.ExecContext(ctx, v.sql); err != nil {
					return fmt.Errorf("view %s: %w", v.name, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("duckdb: create views: %w", err)
		}
		return nil
	})
}
