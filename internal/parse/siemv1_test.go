package parse

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

func TestSIEMv1Record(t *testing.T) {
	tests := []struct {
		name string
		line string
		want map[string]any // v2 fields and their values (JSON-decoded)
		gone []string       // v2 fields that must be absent
	}{
		{"receipt", `datetime=2017-05-26T16:47:41+0100|aCode=7O7I|acc=C0A0|SpamLimit=0|IP=123.123.123.123|Dir=Internal|MsgId=<81ce15@mail01.example.com>|Subject=\message subject\|headerFrom=from@mimecast.com|Sender=from@mimecast.com|Rcpt=auser@mimecast.com|SpamInfo=[]|Act=Acc|TlsVer=TLSv1|Cphr=TLS_X|SpamScore=1`,
			map[string]any{"type": "receipt", "timestamp": float64(1495813661000), "accountId": "C0A0", "aggregateId": "7O7I", "senderIp": "123.123.123.123",
				"direction": "Internal", "messageId": "<81ce15@mail01.example.com>", "subject": "message subject", "senderHeader": "from@mimecast.com",
				"senderEnvelope": "from@mimecast.com", "recipients": "auser@mimecast.com", "spamInfo": "[]", "action": "Acc", "subtype": "Acc",
				"tlsVersion": "TLSv1", "tlsCipher": "TLS_X"}, []string{"destinationIp"}},
		{"delivery: IP is the destination", `datetime=2019-11-25T13:45:02+0200|aCode=Bc5H|acc=CSA|Delivered=true|IP=198.51.100.30|AttCnt=0|Dir=Outbound|Attempt=1|Snt=2484|UseTls=Yes|Route=MX|Err=\550 no\`,
			map[string]any{"type": "delivery", "destinationIp": "198.51.100.30", "delivered": "true", "subtype": "true", "numberAttachments": "0",
				"deliveryAttempts": "1", "tlsUsed": "Yes", "route": "MX", "deliveryErrors": "550 no"}, []string{"senderIp"}},
		{"process", `datetime=2019-11-25T13:45:02+0200|aCode=bFvT|acc=CSA|AttSize=0|Act=Hld|Hld=Spm|AttCnt=1|AttNames="a.txt"|MsgSize=4677`,
			map[string]any{"type": "process", "totalSizeAttachments": "0", "action": "Hld", "subtype": "Hld", "holdReason": "Spm", "attachments": `"a.txt"`, "emailSize": "4677"}, nil},
		{"journal", "datetime=2019-11-25T13:45:18+0200|aCode=xl|acc=CSA|Sender=a@b.example|Rcpt=c@d.example|RcptActType=Jnl|Dir=Internal",
			map[string]any{"type": "journal", "senderEnvelope": "a@b.example", "recipients": "c@d.example"}, []string{"subtype"}},
		{"av", "datetime=2021-03-05T16:25:17+0000|acc=C0A0|CustomerIP=true|MsgId=<m@x>|Recipient=r@x.example|Virus=Anomali:Phishing|fileName=Invoice|fileExt=xlsm|sha256=abc|Size=1648832|SenderDomain=s.example",
			map[string]any{"type": "av", "aggregateId": "<m@x>", "recipients": "r@x.example", "virusFound": "Anomali:Phishing", "fileName": "Invoice",
				"fileExtension": "xlsm", "sha256": "abc", "emailSize": "1648832", "senderDomain": "s.example"}, nil},
		{"spam", "datetime=2021-03-05T18:18:39+0000|MsgId=<A@B>|Recipient=r@a.example|Route=Inbound|Sender=s@d.example|SourceIP=0.0.0.0|acc=C0A0",
			map[string]any{"type": "spam", "senderIp": "0.0.0.0", "route": "Inbound"}, nil},
		{"internal email protect", "datetime=2021-03-04T21:31:08+0000|aCode=v|acc=C46A75|ScanResultInfo=Blocked URL Category|UrlCategory=Phishing",
			map[string]any{"type": "internal email protect", "scanResults": "Blocked URL Category", "urlCategory": "Phishing"}, nil},
		{"impersonation protect", "datetime=2020-07-27T00:39:59+0100|aCode=q4|acc=C0A0|Action=Hold|CustomName=false|Hits=1|InternalName=true|TaggedMalicious=true|ThreatDictionary=false",
			map[string]any{"type": "impersonation protect", "action": "Hold", "customNameMatch": "false", "itemsDetected": "1", "internalUserName": "true",
				"taggedMalicious": "true", "mimecastThreatDictionary": "false"}, nil},
		{"url protect, no acc: the tenant is the account", "datetime=2017-05-26T19:22:37+0100|reason=malicious|recipient=auser@mimecast.com|route=inbound|sourceIp=81.2.69.144|urlCategory=Blocked",
			map[string]any{"type": "url protect", "accountId": "tenant-1", "senderIp": "81.2.69.144", "recipients": "auser@mimecast.com", "urlCategory": "Blocked"}, nil},
		{"attachment protect, no aCode or MsgId", "datetime=2017-05-23T21:45:21+0100|acc=C1A1|IP=81.2.69.144|fileName=1XCOLUMN.PVC|md5=7b52",
			map[string]any{"type": "attachment protect", "fileName": "1XCOLUMN.PVC", "md5": "7b52"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := ParseSIEMLine(tt.line)
			raw, err := SIEMv1Record(rec, "tenant-1")
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
			for _, k := range tt.gone {
				if _, ok := got[k]; ok {
					t.Errorf("%s = %v, want absent", k, got[k])
				}
			}
			if pid, _ := got["processingId"].(string); !strings.HasPrefix(pid, "v1-") || len(pid) != 3+22 {
				t.Errorf("processingId = %q", pid)
			}
			if agg, _ := got["aggregateId"].(string); agg == "" {
				t.Error("no aggregateId")
			}
			row, err := schema.SegCg.Decode("tenant-1", raw, time.Unix(0, 0))
			if err != nil {
				t.Fatalf("Seg_Cg_CL decode: %v", err)
			}
			if ts, ok := schema.EventTimeOf(&schema.SegCg, row); !ok || !ts.Equal(rec.Time) {
				t.Errorf("stored event time %v, want %v", ts, rec.Time)
			}
		})
	}
}

func TestSIEMv1RecordStableID(t *testing.T) {
	a := ParseSIEMLine("datetime=2019-11-25T13:45:18+0200|aCode=x|acc=C|Rcpt=a@b.example|RcptActType=Jnl")
	b := ParseSIEMLine("datetime=2019-11-25T13:45:18+0200|acc=C|aCode=x|RcptActType=Jnl|Rcpt=a@b.example")
	c := ParseSIEMLine("datetime=2019-11-25T13:45:18+0200|aCode=x|acc=C|Rcpt=c@d.example|RcptActType=Jnl")
	pid := func(r SIEMRecord) string {
		raw, err := SIEMv1Record(r, "")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return m["processingId"].(string)
	}
	if pid(a) != pid(b) {
		t.Error("the same fields in another order give another processingId")
	}
	if pid(a) == pid(c) {
		t.Error("another recipient gives the same processingId")
	}
}

func TestSIEMv1RecordErrors(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		reason string
	}{
		{"no datetime", "aCode=x|acc=C|Act=Acc|Dir=Inbound", ReasonNoTime},
		{"bad datetime", "datetime=yesterday|aCode=x|Act=Acc|Dir=Inbound", ReasonBadTime},
		{"no type key", "datetime=2019-11-25T13:45:18+0200|aCode=x|acc=C", ReasonSIEMType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SIEMv1Record(ParseSIEMLine(tt.line), "t")
			var le *LineError
			if !errors.As(err, &le) || le.Reason != tt.reason {
				t.Errorf("err = %v, want reason %q", err, tt.reason)
			}
		})
	}
}

func TestSIEMv1FromJSON(t *testing.T) {
	var obj map[string]json.RawMessage
	in := `{"Act":"Acc","AttCnt":0,"AttNames":null,"Delivered":false,"SpamProcessingDetail":{"spf":{"info":"SPF_FAIL"}},"aCode":"7O","acc":"C0A0","datetime":"2017-05-26T16:47:41+0100"}`
	if err := json.Unmarshal([]byte(in), &obj); err != nil {
		t.Fatal(err)
	}
	r := SIEMv1FromJSON(obj)
	if _, ok := r.Get("AttNames"); ok {
		t.Error("null value kept")
	}
	for k, v := range map[string]string{"AttCnt": "0", "Delivered": "false", "SpamProcessingDetail": `{"spf":{"info":"SPF_FAIL"}}`, "acc": "C0A0"} {
		if got, _ := r.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if r.Type != SIEMReceipt || !r.Time.Equal(time.Date(2017, 5, 26, 15, 47, 41, 0, time.UTC)) {
		t.Errorf("type %q time %v", r.Type, r.Time)
	}
	if empty := SIEMv1FromJSON(map[string]json.RawMessage{}); len(empty.Issues) == 0 {
		t.Error("an empty object reported no issue")
	}
}

func TestSIEMv1RecordEscaping(t *testing.T) {
	tests := []struct{ in, want string }{
		{`say "hi"\now`, `say "hi"\now`},
		{"tab\there\nnew\rline\x01", "tab\there\nnew\rline\x01"},
		{"ünïcödé ✓", "ünïcödé ✓"},
		{"bad \xff byte", "bad \ufffd byte"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			rec := SIEMRecord{Type: SIEMReceipt, LocalTime: "x", Time: time.Unix(1, 0).UTC(),
				Fields: []Field{{Key: "Subject", Value: tt.in}, {Key: "Act", Value: "Acc"}}}
			raw, err := SIEMv1Record(rec, "t")
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(raw) {
				t.Fatalf("invalid JSON %s", raw)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if m["subject"] != tt.want || m["timestamp"] != float64(1000) {
				t.Errorf("subject %q timestamp %v", m["subject"], m["timestamp"])
			}
		})
	}
}
