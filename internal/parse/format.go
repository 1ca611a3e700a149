package parse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/castwatch/castwatch/internal/schema"
)

// Format is a raw-line format.
type Format string

// Raw-line formats. FormatAuto asks for detection; DetectFormat never returns it.
const (
	// FormatAuto detects the format of every line by its content.
	FormatAuto Format = "auto"
	// FormatSIEMKV is the legacy SIEM (API 1.0 get-siem-logs) key_value line: "datetime=…|aCode=…|acc=…".
	FormatSIEMKV Format = "siem-kv"
	// FormatAuditKV is a Splunk-forwarded Mimecast line as Exabeam's s-mimecast-* parsers read it:
	// "exabeam_host=… date=…|mcType=auditLog|user=…|auditType=…|eventInfo=…" or a prefixed SIEM line.
	FormatAuditKV Format = "audit-kv"
	// FormatJSON is one JSON value per line: an API record, an NDJSON SIEM line, or an API envelope.
	FormatJSON Format = "json"
	// FormatCEF is an ArcSight CEF line ("CEF:0|vendor|product|…|extension").
	FormatCEF Format = "cef"
	// FormatUnknown is a line none of the formats fits.
	FormatUnknown Format = "unknown"
)

// Formats lists the formats a caller may ask for (FormatAuto included), in a stable order.
func Formats() []Format {
	return []Format{FormatAuto, FormatSIEMKV, FormatAuditKV, FormatJSON, FormatCEF}
}

// ParseFormat reads a format name as given on a command line; "" means FormatAuto.
func ParseFormat(s string) (Format, error) {
	if strings.TrimSpace(s) == "" {
		return FormatAuto, nil
	}
	for _, f := range Formats() {
		if string(f) == strings.ToLower(strings.TrimSpace(s)) {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want one of auto, siem-kv, audit-kv, json, cef)", s)
}

var (
	// cefStart finds a CEF header anywhere in a line (syslog or SkyFormation prefixes come before it).
	cefStart = regexp.MustCompile(`CEF:\d+\|`)
	// kvPairStart is "key=value|key=" at the start of a line: the SIEM key_value shape.
	kvPairStart = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}=[^|]*\|[A-Za-z][A-Za-z0-9_.-]{0,63}=`)
	// splunkPrefix is the Splunk host/index prefix Exabeam fetches with each line.
	splunkPrefix = regexp.MustCompile(`^exabeam_(?:host|index)=`)
)

// DetectFormat tells a line's format from its content: a JSON object or array is FormatJSON; a line holding a
// "CEF:<n>|" header is FormatCEF; a Splunk-forwarded line (exabeam_host=/exabeam_index= prefix, or an audit line
// with mcType=auditLog) is FormatAuditKV; a "key=value|key=…" line is FormatSIEMKV; anything else, blank lines
// included, is FormatUnknown.
func DetectFormat(line []byte) Format {
	s := bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")))
	if len(s) == 0 {
		return FormatUnknown
	}
	if s[0] == '{' || s[0] == '[' {
		return FormatJSON
	}
	if cefStart.Match(s) {
		return FormatCEF
	}
	if splunkPrefix.Match(s) || bytes.Contains(s, []byte("mcType=auditLog")) {
		return FormatAuditKV
	}
	if kvPairStart.Match(s) {
		return FormatSIEMKV
	}
	return FormatUnknown
}

// JSON record kinds returned by ClassifyJSON.
const (
	// JSONRecord is a record of one stored table (JSONShape.Table names it).
	JSONRecord = "record"
	// JSONSIEMv1 is a legacy SIEM (API 1.0) record in the json file format; SIEMv1Record converts it to the
	// SIEM v2 shape stored in Seg_Cg_CL.
	JSONSIEMv1 = "siem-v1"
	// JSONEnvelope is an API response envelope ({"meta":…,"data":[…],"fail":[…]}) or a legacy SIEM json file
	// ({"type":"MTA","data":[…]}); its records are inside.
	JSONEnvelope = "envelope"
	// JSONBundle is a STIX bundle; its objects are inside.
	JSONBundle = "stix-bundle"
	// JSONSTIXObject is a STIX object that is not an indicator (malware, relationship): nothing to store.
	JSONSTIXObject = "stix-object"
	// JSONUnknown is an object whose fields match no table.
	JSONUnknown = "unknown"
)

// JSONShape says what a JSON object is.
type JSONShape struct {
	// Kind is one of JSONRecord, JSONSIEMv1, JSONEnvelope, JSONBundle, JSONSTIXObject, JSONUnknown.
	Kind string
	// Table is the stored table a JSONRecord (or, after conversion, a JSONSIEMv1 record) belongs to.
	Table string
}

// siemV1Keys are keys only legacy SIEM records carry (compared ignoring case, like ParseSIEMLine's types).
var siemV1Keys = []string{"aCode", "Act", "Dir", "Rcpt", "MsgId", "RejType", "Hld", "Delivered", "RcptActType",
	"CustomerIP", "ScanResultInfo", "SourceIP", "fileMime", "TaggedMalicious", "acc"}

// ClassifyJSON infers from its fields what a decoded JSON object is and, for a record, its table:
//
//   - Audit_CL: auditType with eventTime (or eventInfo);
//   - Seg_Cg_CL: a SIEM v2 record, type one of the Cloud Gateway types, with timestamp or aggregateId;
//   - Cloud_Integrated_CL: a SIEM v2 record of any other type (entities, mailflow, …);
//   - Ttp_Url_CL: url with userEmailAddress, ttpDefinition or scanResult;
//   - Ttp_Attachment_CL: fileHash or actionTriggered with fileName;
//   - Ttp_Impersonation_CL: impersonationResults, or hits/identifiers/taggedMalicious with senderIpAddress;
//   - Seg_Dlp_CL: policy and action with eventTime;
//   - Message_Release_CL: heldReason, or released with operator/status;
//   - Archive_Search_CL: createTime with emailAddr or searchText;
//   - Threat_Intel_CL: a STIX indicator (other STIX objects are JSONSTIXObject, a bundle JSONBundle);
//   - the Awareness tables by their identifying fields;
//   - a legacy SIEM record: datetime with one of the v1 keys (aCode, acc, Act, Dir, …) → JSONSIEMv1.
func ClassifyJSON(obj map[string]json.RawMessage) JSONShape {
	has := func(k string) bool { _, ok := obj[k]; return ok }
	str := func(k string) string {
		var s string
		if v, ok := obj[k]; ok {
			_ = json.Unmarshal(v, &s)
		}
		return s
	}
	record := func(t *schema.Table) JSONShape { return JSONShape{Kind: JSONRecord, Table: t.Name} }
	switch {
	case has("data") && (has("meta") || has("fail") || str("type") == "MTA"):
		return JSONShape{Kind: JSONEnvelope}
	case str("type") == "bundle" && has("objects"):
		return JSONShape{Kind: JSONBundle}
	case strings.HasPrefix(str("id"), str("type")+"--") && str("type") != "":
		if str("type") == "indicator" {
			return record(&schema.ThreatIntel)
		}
		return JSONShape{Kind: JSONSTIXObject}
	case has("auditType") && (has("eventTime") || has("eventInfo")):
		return record(&schema.Audit)
	case (has("type") || has("eventType")) && (has("timestamp") || has("aggregateId") || has("processingId")):
		typ := str("type")
		if typ == "" {
			typ = str("eventType")
		}
		if _, ok := schema.SegCgLogtypes[typ]; ok {
			return record(&schema.SegCg)
		}
		return record(&schema.CloudIntegrated)
	case has("url") && (has("userEmailAddress") || has("ttpDefinition") || has("scanResult")):
		return record(&schema.TtpURL)
	case has("fileHash") || (has("actionTriggered") && has("fileName")):
		return record(&schema.TtpAttachment)
	case has("impersonationResults") || (has("senderIpAddress") && (has("hits") || has("identifiers") || has("taggedMalicious"))):
		return record(&schema.TtpImpersonation)
	case has("policy") && has("action") && has("eventTime"):
		return record(&schema.SegDlp)
	case has("heldReason") || (has("released") && (has("operator") || has("status"))):
		return record(&schema.MessageRelease)
	case has("createTime") && (has("emailAddr") || has("searchText")):
		return record(&schema.ArchiveSearch)
	case has("campaignId") || (has("email") && (has("timeReported") || has("numCampaignsSent"))):
		return record(&schema.AwarenessUserData)
	case has("emailAddress") && (has("risk") || has("humanError") || has("sentiment") || has("knowledge")):
		return record(&schema.AwarenessSafeScore)
	case has("email") && has("watchlistCount"):
		return record(&schema.AwarenessWatchlist)
	case has("email") && (has("numCorrect") || has("numIncorrect") || has("numNotWatched")):
		return record(&schema.AwarenessPerformance)
	}
	if has("datetime") || has("acc") {
		for _, k := range siemV1Keys {
			for name := range obj {
				if strings.EqualFold(name, k) {
					return JSONShape{Kind: JSONSIEMv1, Table: schema.SegCg.Name}
				}
			}
		}
		if has("reason") && (has("url") || has("urlCategory")) {
			return JSONShape{Kind: JSONSIEMv1, Table: schema.SegCg.Name}
		}
	}
	return JSONShape{Kind: JSONUnknown}
}
