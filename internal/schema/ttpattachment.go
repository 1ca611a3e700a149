package schema

var ttpAttachment = recordTable{
	name: "Ttp_Attachment_CL",
	cols: append([]Column{{"Date", DateTime}},
		cols(String, "senderAddress", "recipientAddress", "fileName", "fileType", "result", "actionTriggered",
			"details", "route", "messageId", "subject", "fileHash", "definition")...),
	source:    map[string]string{"Date": "date"},
	required:  []string{"date"},
	anyOf:     []string{"fileHash", "messageId"},
	key:       []string{"Date", "messageId", "recipientAddress", "fileHash", "fileName"},
	eventTime: "Date",
}

// TtpAttachment is Ttp_Attachment_CL: attachment sandbox results from POST /api/ttp/attachment/get-logs
// (records in data[0].attachmentLogs).
var TtpAttachment = ttpAttachment.table()
