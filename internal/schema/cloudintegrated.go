package schema

var cloudIntegrated = recordTable{
	name: "Cloud_Integrated_CL",
	cols: append(append(append([]Column{{"timestamp", Real}},
		cols(String, "accountId", "aggregateId", "processingId", "messageId", "attachments", "recipients",
			"policiesApplied", "senderIp", "senderEnvelope", "subject", "source", "threatState", "threatType",
			"direction", "senderHeader", "type_", "subtype")...),
		cols(Real, "offset", "partition")...),
		Column{"category", String}, Column{"tags", String}, Column{"historicalMail", Bool}),
	source:    map[string]string{"type_": "type", "offset": "_offset", "partition": "_partition"},
	required:  []string{"type", "timestamp"},
	anyOf:     []string{"processingId", "aggregateId", "messageId"},
	key:       []string{"accountId", "aggregateId", "processingId", "messageId", "timestamp", "type_", "subtype"},
	eventTime: "timestamp",
	prepare:   prepareSiemV2(false),
}

// CloudIntegrated is Cloud_Integrated_CL: Cloud Integrated SIEM v2 events (entities, mailflow, urlclick) from the
// gzip NDJSON files of GET /siem/v1/batch/events/ci (one Decode per NDJSON line).
var CloudIntegrated = cloudIntegrated.table()
