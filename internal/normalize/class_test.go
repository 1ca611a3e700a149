package normalize

import (
	"strings"
	"testing"

	"github.com/castwatch/castwatch/internal/schema"
)

func TestSegCgClass(t *testing.T) {
	const (
		in      = schema.EventDLPEmailAlertIn
		inFail  = schema.EventDLPEmailAlertInFail
		out     = schema.EventDLPEmailAlertOut
		outFail = schema.EventDLPEmailAlertOutFail
		mail    = EventEmailActivity
		alert   = schema.EventSecurityAlert
		ok      = schema.OutcomeSuccess
		fail    = schema.OutcomeFailure
	)
	tests := []struct {
		logtype, dir, action, delivered string
		rejected                        bool
		wantType, wantOutcome           string
	}{
		// receipt: direction × accepted / rejected / bounced / no decision
		{lgReceipt, "inbound", "Acc", "", false, in, ok},
		{lgReceipt, "inbound", "Rej", "", false, inFail, fail},
		{lgReceipt, "inbound", "Bnc", "", false, inFail, fail},
		{lgReceipt, "inbound", "Hld", "", false, in, ""},
		{lgReceipt, "inbound", "", "", true, inFail, fail},
		{lgReceipt, "inbound", "Acc", "", true, in, ok}, // the action decides when it says something
		{lgReceipt, "outbound", "Acc", "", false, out, ok},
		{lgReceipt, "outbound", "Rej", "", false, outFail, fail},
		{lgReceipt, "outbound", "", "", false, out, ""},
		{lgReceipt, "internal", "Acc", "", false, out, ok},
		{lgReceipt, "internal", "rej", "", false, outFail, fail},
		{lgReceipt, "external", "Acc", "", false, mail, ok},
		{lgReceipt, "external", "Rej", "", false, mail, fail},
		{lgReceipt, "", "Acc", "", false, mail, ok},
		{lgReceipt, "", "Rej", "", false, mail, fail},
		// delivery: direction × delivered / failed delivery / unknown
		{lgDelivery, "inbound", "", "true", false, in, ok},
		{lgDelivery, "inbound", "", "false", false, inFail, fail},
		{lgDelivery, "inbound", "", "", true, inFail, fail},
		{lgDelivery, "inbound", "", "", false, in, ""},
		{lgDelivery, "outbound", "", "true", false, out, ok},
		{lgDelivery, "outbound", "", "False", false, outFail, fail},
		{lgDelivery, "outbound", "", "", true, outFail, fail},
		{lgDelivery, "internal", "", "true", false, out, ok},
		{lgDelivery, "internal", "", "false", false, outFail, fail},
		{lgDelivery, "internal", "", "true", true, out, ok}, // delivered=true wins over a logged retry error
		{lgDelivery, "external", "", "false", false, mail, fail},
		{lgDelivery, "", "", "true", false, mail, ok},
		// detections
		{lgAV, "inbound", "", "", false, alert, ""},
		{lgSpam, "inbound", "", "", false, alert, ""},
		{lgURLProtect, "inbound", "", "", false, alert, ""},
		{lgImpersonation, "", "", "", false, alert, ""},
		{lgAttachment, "", "", "", false, alert, ""},
		{lgIEP, "internal", "", "", false, alert, ""},
		// journal and process
		{lgJournal, "internal", "", "", false, mail, ""},
		{lgJournal, "inbound", "", "", false, mail, ""},
		{lgProcess, "", "Acc", "", false, mail, ok},
		{lgProcess, "", "Rej", "", false, mail, fail},
		{lgProcess, "", "Hld", "", false, mail, ""},
		{lgProcess, "", "Sdbx", "", false, mail, ""},
		// unknown Logtypes keep their own name
		{"dlp", "inbound", "Acc", "", false, "dlp", ""},
		{"email_archive", "", "", "", false, "email_archive", ""},
	}
	for _, tc := range tests {
		name := strings.Join([]string{tc.logtype, tc.dir, tc.action, tc.delivered}, "/")
		t.Run(name, func(t *testing.T) {
			gotType, gotOutcome := SegCgClass(tc.logtype, tc.dir, tc.action, tc.delivered, tc.rejected)
			if gotType != tc.wantType || gotOutcome != tc.wantOutcome {
				t.Errorf("got %s/%q, want %s/%q", gotType, gotOutcome, tc.wantType, tc.wantOutcome)
			}
		})
	}
}

func TestSegCgLogtypesAllDecided(t *testing.T) {
	// Every Logtype schema knows must have a decision of its own, never the unknown-type fallback.
	for siem, lt := range schema.SegCgLogtypes {
		t.Run(siem, func(t *testing.T) {
			if got, _ := SegCgClass(lt, "inbound", "Acc", "true", false); got == lt {
				t.Errorf("Logtype %s falls through to the unknown-type rule", lt)
			}
		})
	}
}

func TestCIClass(t *testing.T) {
	tests := []struct {
		typ, dir, state       string
		wantType, wantOutcome string
	}{
		{"entities", "inbound", "DELIVERY_IN_PROGRESS", schema.EventDLPEmailAlertIn, ""},
		{"entities", "inbound", "DELIVERED", schema.EventDLPEmailAlertIn, schema.OutcomeSuccess},
		{"entities", "inbound", "BLOCKED", schema.EventDLPEmailAlertInFail, schema.OutcomeFailure},
		{"entities", "outbound", "DELIVERED", schema.EventDLPEmailAlertOut, schema.OutcomeSuccess},
		{"entities", "outbound", "blocked", schema.EventDLPEmailAlertOutFail, schema.OutcomeFailure},
		{"entities", "internal", "DELIVERED", schema.EventDLPEmailAlertOut, schema.OutcomeSuccess},
		{"entities", "internal", "BLOCKED", schema.EventDLPEmailAlertOutFail, schema.OutcomeFailure},
		{"entities", "", "DELIVERED", EventEmailActivity, schema.OutcomeSuccess},
		{"entities", "", "BLOCKED", EventEmailActivity, schema.OutcomeFailure},
		{"mailflow", "", "", EventEmailActivity, ""},
		{"mailflow", "inbound", "BLOCKED", EventEmailActivity, ""},
		{"urlclick", "", "", schema.EventWebActivity, ""},
		{"dmarc", "", "", "dmarc", ""},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.dir+"/"+tc.state, func(t *testing.T) {
			gotType, gotOutcome := CIClass(tc.typ, tc.dir, tc.state)
			if gotType != tc.wantType || gotOutcome != tc.wantOutcome {
				t.Errorf("got %s/%q, want %s/%q", gotType, gotOutcome, tc.wantType, tc.wantOutcome)
			}
		})
	}
}

func TestCIThreat(t *testing.T) {
	tests := []struct {
		name       string
		threatType string
		tags       []string
		wantReason string
		wantAlert  bool
	}{
		{"no detections", "NO_DETECTIONS", nil, "", false},
		{"none at all", "", nil, "", false},
		{"policies disabled without tags", "POLICIES_DISABLED", nil, "", false},
		{"policies disabled with tags", "POLICIES_DISABLED", []string{"UNTRUSTWORTHY", "SPAM"}, "UNTRUSTWORTHY, SPAM", true},
		{"malware", "MALWARE", []string{"MALWARE"}, "MALWARE", true},
		{"threat type without tags", "PHISHING", nil, "PHISHING", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reason, alert := CIThreat(tc.threatType, tc.tags)
			if reason != tc.wantReason || alert != tc.wantAlert {
				t.Errorf("got %q/%v, want %q/%v", reason, alert, tc.wantReason, tc.wantAlert)
			}
		})
	}
}

func TestTtpURLClass(t *testing.T) {
	tests := []struct {
		method, action, aware string
		wantType, wantOutcome string
	}{
		{"User Click", "allow", "N/A", schema.EventWebActivity, schema.OutcomeSuccess},
		{"User Click", "block", "N/A", schema.EventWebActivity, schema.OutcomeFailure},
		{"User Click", "warn", "Continue", schema.EventWebActivity, schema.OutcomeSuccess},
		{"User Click", "warn", "N/A", schema.EventWebActivity, schema.OutcomeChallenge},
		{"User Click", "Warn", "", schema.EventWebActivity, schema.OutcomeChallenge},
		{"User Click", "isolate", "", schema.EventWebActivity, ""},
		{"", "allow", "", schema.EventWebActivity, schema.OutcomeSuccess},
		{"Entry Scan", "warn", "N/A", EventEmailActivity, ""},
		{"entry scan", "block", "", EventEmailActivity, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+"/"+tc.action+"/"+tc.aware, func(t *testing.T) {
			gotType, gotOutcome := TtpURLClass(tc.method, tc.action, tc.aware)
			if gotType != tc.wantType || gotOutcome != tc.wantOutcome {
				t.Errorf("got %s/%q, want %s/%q", gotType, gotOutcome, tc.wantType, tc.wantOutcome)
			}
		})
	}
}

func TestTtpAttachmentClass(t *testing.T) {
	tests := []struct{ result, want string }{
		{"safe", EventEmailActivity},
		{"Safe ", EventEmailActivity},
		{"malicious", schema.EventSecurityAlert},
		{"unsafe", schema.EventSecurityAlert},
		{"timeout", schema.EventSecurityAlert},
		{"error", schema.EventSecurityAlert},
		{"", schema.EventSecurityAlert},
	}
	for _, tc := range tests {
		t.Run(tc.result, func(t *testing.T) {
			if got := TtpAttachmentClass(tc.result); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
