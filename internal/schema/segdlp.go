package schema

var segDlp = recordTable{
	name: "Seg_Dlp_CL",
	cols: append([]Column{{"eventTime", DateTime}},
		cols(String, "senderAddress", "recipientAddress", "subject", "route", "policy", "action", "messageId")...),
	required:  []string{"eventTime", "action"},
	anyOf:     []string{"messageId", "recipientAddress"},
	key:       []string{"messageId", "eventTime", "action", "policy", "senderAddress", "recipientAddress"},
	eventTime: "eventTime",
}

// SegDlp is Seg_Dlp_CL: DLP policy hits from POST /api/dlp/get-logs (records in data[0].dlpLogs).
var SegDlp = segDlp.table()
