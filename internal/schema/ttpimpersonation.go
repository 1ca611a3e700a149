package schema

var ttpImpersonation = recordTable{
	name: "Ttp_Impersonation_CL",
	cols: []Column{
		{"id", String}, {"senderAddress", String}, {"recipientAddress", String}, {"subject", String},
		{"definition", String}, {"hits", Real}, {"identifiers", Dynamic}, {"action", String},
		{"taggedExternal", Bool}, {"taggedMalicious", Bool}, {"senderIpAddress", String},
		{"eventTime", DateTime}, {"impersonationResults", String}, {"messageId", String},
	},
	required:  []string{"id", "eventTime"},
	key:       []string{"id", "messageId", "eventTime", "recipientAddress"},
	eventTime: "eventTime",
}

// TtpImpersonation is Ttp_Impersonation_CL: impersonation protection hits from POST /api/ttp/impersonation/get-logs
// (records in data[0].impersonationLogs).
var TtpImpersonation = ttpImpersonation.table()
