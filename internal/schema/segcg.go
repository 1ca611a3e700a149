package schema

import "fmt"

// SegCgLogtypes maps a SIEM v2 Cloud Gateway record's type to the Logtype value Sentinel stores. A type missing
// from the map is stored unchanged (Sentinel stores null there and loses the record's kind).
var SegCgLogtypes = map[string]string{
	"av":                     "email_antivirus",
	"delivery":               "email_delivery",
	"internal email protect": "email_iep",
	"impersonation protect":  "email_ttp_impersonation",
	"journal":                "email_journal",
	"process":                "email_process",
	"receipt":                "email_receipt",
	"attachment protect":     "email_ttp_ap",
	"spam":                   "email_spam",
	"url protect":            "email_ttp_url",
}

// Logtype returns the Logtype stored for a SIEM v2 Cloud Gateway type: the Sentinel name, or the type itself.
func Logtype(siemType string) string {
	if lt, ok := SegCgLogtypes[siemType]; ok {
		return lt
	}
	return siemType
}

var segCg = recordTable{
	name: "Seg_Cg_CL",
	cols: []Column{
		{"urlCategory", String}, {"scanResults", String}, {"fileName", String}, {"sha256", String},
		{"fileExtension", String}, {"virusFound", String}, {"sha1", String}, {"senderDomain", String},
		{"md5", String}, {"customThreatDictionary", String}, {"itemsDetected", String},
		{"similarCustomExternalDomain", String}, {"taggedExternal", String}, {"similarInternalDomain", String},
		{"newDomain", String}, {"internalUserName", String}, {"mimecastThreatDictionary", String},
		{"similarMimecastExternalDomain", String}, {"customNameMatch", String}, {"taggedMalicious", String},
		{"replyMismatch", String}, {"aggregateId", String}, {"rejectionType", String}, {"rejectionCode", String},
		{"rejectionInfo", String}, {"delivered", String}, {"destinationIp", String}, {"Hostname", String},
		{"deliveryAttempts", String}, {"tlsUsed", String}, {"deliveryErrors", String}, {"attachments", String},
		{"route", String}, {"processingId", String}, {"accountId", String}, {"action", String},
		{"timestamp", Real}, {"senderEnvelope", String}, {"messageId", String}, {"subject", String},
		{"totalSizeAttachments", String}, {"numberAttachments", String}, {"emailSize", String},
		{"Logtype", String}, {"subtype", String}, {"monitoredDomainSource", String}, {"similarDomain", String},
		{"offset", Real}, {"partition", Real}, {"holdReason", String}, {"recipients", String},
		{"senderIp", String}, {"direction", String}, {"senderHeader", String}, {"tlsVersion", String},
		{"tlsCipher", String}, {"spamInfo", String}, {"spamProcessingDetail", String},
	},
	source:    map[string]string{"offset": "_offset", "partition": "_partition"},
	required:  []string{"type", "timestamp", "accountId", "aggregateId", "processingId"},
	key:       []string{"accountId", "aggregateId", "processingId", "messageId", "timestamp", "Logtype", "subtype", "action", "recipients", "sha256"},
	eventTime: "timestamp",
	prepare:   prepareSiemV2(true),
}

// SegCg is Seg_Cg_CL: Cloud Gateway SIEM v2 events from the gzip NDJSON files of GET /siem/v1/batch/events/cg
// (one Decode per NDJSON line).
var SegCg = segCg.table()

// prepareSiemV2 accepts the stream API's eventType/subType spellings, checks the epoch-ms timestamp and, for
// Cloud Gateway records, derives Logtype from type.
func prepareSiemV2(logtype bool) func(m fieldMap) error {
	return func(m fieldMap) error {
		rename(m, "eventType", "type")
		rename(m, "subType", "subtype")
		if !isNull(m["timestamp"]) {
			ms, err := realOf(m["timestamp"])
			if f, ok := ms.(float64); err != nil || !ok || f <= 0 {
				return fmt.Errorf("timestamp: not epoch milliseconds: %s", stringOf(m["timestamp"]))
			}
		}
		if logtype && !isEmpty(m["type"]) {
			setString(m, "Logtype", Logtype(stringOf(m["type"])))
		}
		return nil
	}
}
