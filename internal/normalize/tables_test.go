package normalize

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// decodeRow decodes one hand-written API record as a row of tab.
func decodeRow(t *testing.T, tab *schema.Table, raw string) schema.Row {
	t.Helper()
	row, err := tab.Decode("acme", json.RawMessage(raw), corpusIngested)
	if err != nil {
		t.Fatalf("decode %s: %v", tab.Name, err)
	}
	return row
}

// mapRow runs the registered mapping of tab on row.
func mapRow(t *testing.T, tab *schema.Table, row schema.Row) []schema.Event {
	t.Helper()
	f, ok := For(tab.Name)
	if !ok {
		t.Fatalf("no mapping for %s", tab.Name)
	}
	evs, err := f(row)
	if err != nil {
		t.Fatalf("%s: %v", tab.Name, err)
	}
	return evs
}

const segCgBase = `"accountId":"C1","aggregateId":"agg","processingId":"p1","timestamp":1731454605992`

func TestSegCgRow(t *testing.T) {
	tests := []struct {
		name  string
		rec   string
		check func(t *testing.T, ev schema.Event)
	}{
		{"receipt: recipients list split, envelope sender, IP, size, rejection reason",
			`{` + segCgBase + `,"type":"receipt","action":"Rej","direction":"Outbound","recipients":["A@Partner.example","b@other.example","a@partner.example"],"senderEnvelope":"Ann@Corp.example","senderIp":"::ffff:192.0.2.7","emailSize":"2048","rejectionInfo":"Mailbox unavailable","rejectionType":"Recipient rejected","subject":"Q3"}`,
			func(t *testing.T, ev schema.Event) {
				want(t, "event_type", ev.EventType, schema.EventDLPEmailAlertOutFail)
				want(t, "outcome", ev.Outcome, schema.OutcomeFailure)
				want(t, "failure_reason", ev.FailureReason, "Mailbox unavailable")
				want(t, "sender", ev.Sender, "ann@corp.example")
				want(t, "sender_domain", ev.SenderDomain, "corp.example")
				wantList(t, "recipients", ev.Recipients, []string{"a@partner.example", "b@other.example"})
				wantList(t, "recipient_domains", ev.RecipientDomains, []string{"other.example", "partner.example"})
				want(t, "src_ip", ev.SrcIP, "192.0.2.7")
				want(t, "bytes", ev.Bytes, int64(2048))
				want(t, "direction", ev.Direction, "outbound")
				want(t, "user", ev.User, "ann@corp.example")
				want(t, "action", ev.Action, "Rej")
				want(t, "fields.rejectionType", ev.Fields["rejectionType"], "Recipient rejected")
			}},
		{"receipt: comma-separated recipients, null sender falls back to the header",
			`{` + segCgBase + `,"type":"receipt","action":"Acc","direction":"Inbound","recipients":"x@corp.example; y@corp.example","senderEnvelope":"<>","senderHeader":"News <news@list.example>","senderIp":"Internal IP"}`,
			func(t *testing.T, ev schema.Event) {
				want(t, "event_type", ev.EventType, schema.EventDLPEmailAlertIn)
				want(t, "sender", ev.Sender, "")
				wantList(t, "recipients", ev.Recipients, []string{"x@corp.example", "y@corp.example"})
				want(t, "user", ev.User, "x@corp.example")
				want(t, "src_ip", ev.SrcIP, "")
			}},
		{"delivery failure keeps the delivery error",
			`{` + segCgBase + `,"type":"delivery","delivered":"false","direction":"Outbound","recipients":"z@partner.example","senderEnvelope":"ann@corp.example","deliveryErrors":"451 try later"}`,
			func(t *testing.T, ev schema.Event) {
				want(t, "event_type", ev.EventType, schema.EventDLPEmailAlertOutFail)
				want(t, "failure_reason", ev.FailureReason, "451 try later")
			}},
		{"av: file and hashes, reason is the virus",
			`{` + segCgBase + `,"type":"av","fileName":"Invoice.DOCM","sha256":"ABC","md5":"def","virusFound":"W97M.Downloader","route":"Inbound","recipients":"v@corp.example"}`,
			func(t *testing.T, ev schema.Event) {
				want(t, "event_type", ev.EventType, schema.EventSecurityAlert)
				wantList(t, "attachment_names", ev.AttachmentNames, []string{"Invoice.DOCM"})
				wantList(t, "attachment_extensions", ev.AttachmentExtensions, []string{"docm"})
				wantList(t, "attachment_hashes", ev.AttachmentHashes, []string{"abc", "def"})
				want(t, "reason", ev.Fields[reasonField], "W97M.Downloader")
				want(t, "direction", ev.Direction, "inbound")
				want(t, "user", ev.User, "v@corp.example")
			}},
		{"impersonation protect: reason lists the indicators that hit",
			`{` + segCgBase + `,"type":"impersonation protect","newDomain":"true","replyMismatch":"true","internalUserName":"false","action":"Hold"}`,
			func(t *testing.T, ev schema.Event) {
				want(t, "event_type", ev.EventType, schema.EventSecurityAlert)
				want(t, "reason", ev.Fields[reasonField], "newDomain, replyMismatch")
				want(t, "action", ev.Action, "Hold")
			}},
		{"process attachments text is split into names",
			`{` + segCgBase + `,"type":"process","action":"Hld","holdReason":"Spm","attachments":"\"a.pdf\", \"b.XLSX\""}`,
			func(t *testing.T, ev schema.Event) {
				want(t, "event_type", ev.EventType, EventEmailActivity)
				wantList(t, "attachment_names", ev.AttachmentNames, []string{"a.pdf", "b.XLSX"})
				wantList(t, "attachment_extensions", ev.AttachmentExtensions, []string{"pdf", "xlsx"})
				want(t, "reason", ev.Fields[reasonField], "Spm")
				want(t, "outcome", ev.Outcome, "")
			}},
		{"unknown type is kept as its own event type",
			`{` + segCgBase + `,"type":"dlp","recipients":"q@corp.example"}`,
			func(t *testing.T, ev schema.Event) {
				want(t, "event_type", ev.EventType, "dlp")
				want(t, "activity", ev.Activity, "dlp")
			}},
		{"a size that is not a number is left out",
			`{` + segCgBase + `,"type":"process","action":"Acc","emailSize":"n/a"}`,
			func(t *testing.T, ev schema.Event) {
				want(t, "bytes", ev.Bytes, int64(0))
				want(t, "outcome", ev.Outcome, schema.OutcomeSuccess)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs := mapRow(t, &schema.SegCg, decodeRow(t, &schema.SegCg, tc.rec))
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			ev := evs[0]
			want(t, "table", ev.Table, "Seg_Cg_CL")
			want(t, "tenant", ev.Tenant, "acme")
			want(t, "time", ev.Time, time.UnixMilli(1731454605992).UTC())
			if !strings.HasPrefix(ev.ID, "acme/Seg_Cg_CL/C1|agg|p1|") {
				t.Errorf("id %q", ev.ID)
			}
			if _, ok := ev.Fields["timestamp"]; ok {
				t.Error("the event time column is repeated in Fields")
			}
			tc.check(t, ev)
		})
	}
}

func TestRowShapeErrors(t *testing.T) {
	good := decodeRow(t, &schema.SegCg, `{`+segCgBase+`,"type":"receipt"}`)
	short := good[:len(good)-1]
	wrongType := append(schema.Row(nil), good...)
	wrongType[schema.SegCg.ColumnIndex("subject")] = 42.0
	noLogtype := append(schema.Row(nil), good...)
	noLogtype[schema.SegCg.ColumnIndex("Logtype")] = nil
	tests := []struct {
		name string
		tab  *schema.Table
		row  schema.Row
		want string
	}{
		{"short row", &schema.SegCg, short, "row has"},
		{"wrong Go type", &schema.SegCg, wrongType, "column subject is float64"},
		{"empty Logtype", &schema.SegCg, noLogtype, "empty Logtype"},
		{"Seg_Cg row given to Seg_Dlp", &schema.SegDlp, good, "row has"},
		{"Seg_Cg row given to a no-event table", &schema.ThreatIntel, good, "row has"},
		{"Seg_Cg row given to Message_Release", &schema.MessageRelease, good, "row has"},
		{"Seg_Cg row given to Ttp_Url", &schema.TtpURL, good, "row has"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := For(tc.tab.Name)
			evs, err := f(tc.row)
			var re *RowError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a RowError containing %q", err, tc.want)
			}
			if evs != nil {
				t.Errorf("events returned with an error: %v", evs)
			}
		})
	}
	t.Run("the good row maps", func(t *testing.T) {
		if evs := mapRow(t, &schema.SegCg, good); len(evs) != 1 {
			t.Errorf("%d events", len(evs))
		}
	})
}

func TestEventIDs(t *testing.T) {
	a := decodeRow(t, &schema.SegDlp, `{"eventTime":"2024-11-18T05:11:02+0000","action":"hold","messageId":"<m|1>","policy":"P","senderAddress":"s@x.example","recipientAddress":"r@y.example"}`)
	b := decodeRow(t, &schema.SegDlp, `{"eventTime":"2024-11-18T05:11:02+0000","action":"hold","messageId":"<m","policy":"1>|P","senderAddress":"s@x.example","recipientAddress":"r@y.example"}`)
	later, err := schema.SegDlp.Decode("acme", json.RawMessage(`{"eventTime":"2024-11-18T05:11:02+0000","action":"hold","messageId":"<m|1>","policy":"P","senderAddress":"s@x.example","recipientAddress":"r@y.example"}`), corpusIngested.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	idA := mapRow(t, &schema.SegDlp, a)[0].ID
	idB := mapRow(t, &schema.SegDlp, b)[0].ID
	idLater := mapRow(t, &schema.SegDlp, later)[0].ID
	t.Run("key columns joined in key order, UTC time", func(t *testing.T) {
		want(t, "id", idA, `acme/Seg_Dlp_CL/<m\|1>|2024-11-18T05:11:02Z|hold|P|s@x.example|r@y.example`)
	})
	t.Run("a separator inside a value cannot make two keys collide", func(t *testing.T) {
		if idA == idB {
			t.Errorf("different keys share id %s", idA)
		}
	})
	t.Run("replay later gives the same id", func(t *testing.T) {
		want(t, "id", idLater, idA)
	})
}

func TestCloudIntegratedRow(t *testing.T) {
	const base = `"accountId":"A","aggregateId":"g","processingId":"p","messageId":"<m@x>","timestamp":1731943475250`
	t.Run("blocked malware gives the mail event and a security-alert", func(t *testing.T) {
		evs := mapRow(t, &schema.CloudIntegrated, decodeRow(t, &schema.CloudIntegrated, `{`+base+`,"type":"entities","direction":"OUTBOUND","threatState":"BLOCKED","threatType":"MALWARE","tags":["MALWARE"],"senderEnvelope":"ann@corp.example","recipients":["x@partner.example"],"policiesApplied":[{"action":null,"name":"First"},{"action":"BLOCK","mode":"ACTIVE","name":"Malware policy"}]}`))
		if len(evs) != 2 {
			t.Fatalf("%d events, want 2", len(evs))
		}
		want(t, "event_type", evs[0].EventType, schema.EventDLPEmailAlertOutFail)
		want(t, "failure_reason", evs[0].FailureReason, "MALWARE")
		want(t, "policy", evs[0].Policy, "Malware policy")
		want(t, "action", evs[0].Action, "BLOCK")
		want(t, "user", evs[0].User, "ann@corp.example")
		want(t, "alert type", evs[1].EventType, schema.EventSecurityAlert)
		want(t, "alert id", evs[1].ID, evs[0].ID+"#security-alert")
		want(t, "alert outcome", evs[1].Outcome, "")
		want(t, "alert reason", evs[1].Fields[reasonField], "MALWARE")
		if _, ok := evs[0].Fields[reasonField]; ok {
			t.Error("the alert's reason leaked into the mail event")
		}
	})
	t.Run("clean mail gives one event", func(t *testing.T) {
		evs := mapRow(t, &schema.CloudIntegrated, decodeRow(t, &schema.CloudIntegrated, `{`+base+`,"type":"entities","direction":"INBOUND","threatState":"DELIVERED","threatType":"NO_DETECTIONS","tags":null}`))
		if len(evs) != 1 || evs[0].EventType != schema.EventDLPEmailAlertIn || evs[0].Outcome != schema.OutcomeSuccess {
			t.Fatalf("got %+v", evs)
		}
	})
	t.Run("urlclick is web-activity by the recipient", func(t *testing.T) {
		evs := mapRow(t, &schema.CloudIntegrated, decodeRow(t, &schema.CloudIntegrated, `{`+base+`,"type":"urlclick","recipients":["Kim@Corp.example"],"tags":["PHISHING"]}`))
		if len(evs) != 1 {
			t.Fatalf("%d events, want 1 (only entities records add an alert)", len(evs))
		}
		want(t, "event_type", evs[0].EventType, schema.EventWebActivity)
		want(t, "user", evs[0].User, "kim@corp.example")
	})
}

func TestTtpURLRow(t *testing.T) {
	const rec = `{"date":"2024-11-14T19:44:02+0000","url":"https://bad.example/x.exe","userEmailAddress":"Jo@Corp.example","fromUserEmailAddress":"a@b.example","action":"block","scanResult":"%s","creationMethod":"%s","sendingIp":"198.51.100.9","route":"inbound","category":"Phishing & Fraud","ttpDefinition":"Default"}`
	tests := []struct {
		name, scan, method string
		wantTypes          []string
		wantSrc            []string
	}{
		{"clean click", "clean", "User Click", []string{schema.EventWebActivity}, []string{""}},
		{"malicious click adds an alert with the sending IP", "malicious", "User Click",
			[]string{schema.EventWebActivity, schema.EventSecurityAlert}, []string{"", "198.51.100.9"}},
		{"malicious entry scan", "malicious", "Entry Scan",
			[]string{EventEmailActivity, schema.EventSecurityAlert}, []string{"198.51.100.9", "198.51.100.9"}},
		{"suspicious is not an alert", "suspicious", "User Click", []string{schema.EventWebActivity}, []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := strings.Replace(strings.Replace(rec, "%s", tc.scan, 1), "%s", tc.method, 1)
			evs := mapRow(t, &schema.TtpURL, decodeRow(t, &schema.TtpURL, raw))
			var types, srcs []string
			for _, ev := range evs {
				types = append(types, ev.EventType)
				srcs = append(srcs, ev.SrcIP)
				want(t, "url", ev.URL, "https://bad.example/x.exe")
				want(t, "user", ev.User, "jo@corp.example")
				want(t, "policy", ev.Policy, "Default")
			}
			wantList(t, "types", types, tc.wantTypes)
			wantList(t, "src_ips", srcs, tc.wantSrc)
			if evs[0].EventType == schema.EventWebActivity {
				want(t, "outcome", evs[0].Outcome, schema.OutcomeFailure)
				want(t, "failure_reason", evs[0].FailureReason, "Phishing & Fraud")
			}
		})
	}
}

func TestActivityRows(t *testing.T) {
	t.Run("release by an operator", func(t *testing.T) {
		ev := mapRow(t, &schema.MessageRelease, decodeRow(t, &schema.MessageRelease, `{"id":"h1","status":"rejected","released":"2024-10-28T14:18:43+0000","operator":{"emailAddress":"Op@Corp.example"},"fromEnv":{"emailAddress":"a@x.example"},"to":[{"emailAddress":"c@corp.example"}],"route":"inbound","size":7473,"rejectReason":"Spam"}`))[0]
		want(t, "event_type", ev.EventType, schema.EventAppActivity)
		want(t, "user", ev.User, "op@corp.example")
		want(t, "activity", ev.Activity, "Held Message rejected")
		want(t, "action", ev.Action, "rejected")
		want(t, "object", ev.Object, "h1") // no subject: the held message id
		want(t, "outcome", ev.Outcome, schema.OutcomeSuccess)
		want(t, "bytes", ev.Bytes, int64(7473))
		wantList(t, "recipients", ev.Recipients, []string{"c@corp.example"})
		want(t, "fields.rejectReason", ev.Fields["rejectReason"], "Spam")
		want(t, "fields.id", ev.Fields["id"], "h1")
	})
	t.Run("search by nobody", func(t *testing.T) {
		ev := mapRow(t, &schema.ArchiveSearch, decodeRow(t, &schema.ArchiveSearch, `{"createTime":"2024-11-12T16:21:27+0000","emailAddr":"<>","source":"","searchText":"x","description":"Audit"}`))[0]
		want(t, "user", ev.User, "")
		want(t, "app", ev.App, AppArchive)
		want(t, "object", ev.Object, "x")
		want(t, "activity", ev.Activity, "Audit")
	})
}

func TestListValues(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`["a@x","b@x"]`, []string{"a@x", "b@x"}},
		{`"a.pdf", "b.docx"`, []string{"a.pdf", "b.docx"}},
		{`a@x; b@x,c@x`, []string{"a@x", "b@x", "c@x"}},
		{`<>`, nil},
		{``, nil},
		{`null`, nil},
		{`[1,"x"]`, []string{"x"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) { wantList(t, "values", listValues(tc.in), tc.want) })
	}
}

func TestAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Ann@Corp.Example", "ann@corp.example"},
		{"<ann@corp.example>", "ann@corp.example"},
		{"<>", ""},
		{"John Doe", ""},
		{"a@b@c", ""},
		{"@corp.example", ""},
		{"Name <a@b>", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) { want(t, "address", address(tc.in), tc.want) })
	}
}

func want[T comparable](t *testing.T, field string, got, wantV T) {
	t.Helper()
	if got != wantV {
		t.Errorf("%s = %v, want %v", field, got, wantV)
	}
}

func wantList(t *testing.T, field string, got, wantV []string) {
	t.Helper()
	if len(got) == 0 && len(wantV) == 0 {
		return
	}
	if !reflect.DeepEqual(got, wantV) {
		t.Errorf("%s = %q, want %q", field, got, wantV)
	}
}
