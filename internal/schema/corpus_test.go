package schema

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// records returns the records of a corpus file: every non-empty line except API envelopes, which must unwrap to
// no records (they are the empty last pages of the Elastic mocks).
func records(t *testing.T, tab *Table, rel string) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for _, l := range corpusLines(t, rel) {
		if isEnvelope(l) {
			got, err := UnwrapRecords(tab.Name, l)
			if err != nil || len(got) != 0 {
				t.Fatalf("envelope line unwraps to %d records, err %v", len(got), err)
			}
			continue
		}
		out = append(out, l)
	}
	return out
}

// uniqueKeys asserts no two rows share a natural key.
func uniqueKeys(t *testing.T, tab *Table, rows []Row) {
	t.Helper()
	seen := map[string]int{}
	for i, r := range rows {
		k := keyOf(tab, r)
		if j, ok := seen[k]; ok {
			t.Errorf("%s rows %d and %d share key %s", tab.Name, j, i, k)
		}
		seen[k] = i
	}
}

// sameIDDifferentKey asserts two rows share the value of col (an id the corpus repeats) yet have different keys.
func sameIDDifferentKey(t *testing.T, tab *Table, a, b Row, col string) {
	t.Helper()
	if get(t, tab, a, col) != get(t, tab, b, col) {
		t.Fatalf("rows do not share %s: %v vs %v", col, get(t, tab, a, col), get(t, tab, b, col))
	}
	if keyOf(tab, a) == keyOf(tab, b) {
		t.Errorf("rows sharing %s have the same key %s", col, keyOf(tab, a))
	}
}

func TestSegCgCorpus(t *testing.T) {
	tab := &SegCg
	rows := decodeAll(t, tab, records(t, tab, "siem_logs/test-siem-v2-logs.log"))
	if len(rows) != 62 {
		t.Fatalf("%d rows, want 62", len(rows))
	}
	uniqueKeys(t, tab, rows)
	counts := map[any]int{}
	for _, r := range rows {
		counts[get(t, tab, r, "Logtype")]++
	}
	wantCounts := map[any]int{"email_ttp_ap": 10, "email_delivery": 10, "email_iep": 1, "email_journal": 10,
		"email_process": 10, "email_receipt": 10, "email_spam": 11}
	for k, n := range wantCounts {
		if counts[k] != n {
			t.Errorf("Logtype %v: %d rows, want %d", k, counts[k], n)
		}
	}
	t.Run("attachment protect", func(t *testing.T) {
		checkCols(t, tab, rows[0], []colWant{
			{"Logtype", "email_ttp_ap"},
			{"sha256", "22a65c438289353d96c707cf55e26be723e3157f0aa00734843a9bdc8f98bab0"},
			{"md5", "66f03bf072a74bb19db16c952ba3dc47"},
			{"fileName", "zero-day.pdf"},
			{"timestamp", 1731499059314.0},
			{"offset", 71203.0},
			{"partition", 60.0},
			{"subtype", ""}, // null, stored empty because it is a key column
			{"messageId", ""},
			{"subject", nil}, // absent, not a key column
		})
		ts, ok := EventTimeOf(tab, rows[0])
		if !ok || !ts.Equal(utc("2024-11-13T11:57:39.314Z")) {
			t.Errorf("event time %v, want 2024-11-13T11:57:39.314Z", ts)
		}
	})
	t.Run("delivery", func(t *testing.T) {
		checkCols(t, tab, rows[16], []colWant{
			{"Logtype", "email_delivery"},
			{"Hostname", "ha.hamilton321.net"},
			{"delivered", "true"},
			{"recipients", "richard.costigan@demo-int.elastic.mime-api.com"},
			{"tlsUsed", "No"},
			{"emailSize", "4031"},
			{"route", "Accept and drop messages"},
		})
	})
	t.Run("process attachments kept as sent", func(t *testing.T) {
		checkCols(t, tab, rows[34], []colWant{
			{"Logtype", "email_process"},
			{"action", "Acc"},
			{"attachments", `"attach-c567a248-467f-415f-b1ca-da6fde82347a.pdf"`},
			{"totalSizeAttachments", "1153"},
		})
		checkCols(t, tab, rows[31], []colWant{{"holdReason", "Spm"}, {"action", "Hld"}, {"attachments", nil}})
	})
	t.Run("receipt JSON string fields", func(t *testing.T) {
		checkCols(t, tab, rows[41], []colWant{
			{"Logtype", "email_receipt"},
			{"action", "Rej"},
			{"rejectionCode", "550"},
			{"rejectionType", "Manual Envelope Rejection"},
			{"spamProcessingDetail", `{"spf":{"allow":true,"info":"ALLOW"}}`},
			{"tlsVersion", "TLSv1.3"},
			{"messageId", ""},
		})
		checkCols(t, tab, rows[42], []colWant{{"spamInfo", "[]"}})
	})
	t.Run("internal email protect and spam", func(t *testing.T) {
		checkCols(t, tab, rows[20], []colWant{{"Logtype", "email_iep"}, {"urlCategory", "Compromised"},
			{"scanResults", "Blocked URL Category"}})
		checkCols(t, tab, rows[61], []colWant{{"Logtype", "email_spam"}, {"taggedExternal", "true"},
			{"taggedMalicious", "false"}, {"senderDomain", "arcadia-group.b41.one"}})
	})
	t.Run("shared ids stay distinct", func(t *testing.T) {
		// Nine delivery rows share processingId and aggregateId (one per delivered copy).
		for _, i := range []int{11, 12, 13, 14, 15, 17, 18, 19} {
			sameIDDifferentKey(t, tab, rows[10], rows[i], "processingId")
		}
		// Two spam rows share processingId and timestamp, differing in aggregateId and messageId.
		sameIDDifferentKey(t, tab, rows[60], rows[61], "processingId")
		sameIDDifferentKey(t, tab, rows[60], rows[61], "timestamp")
		// Two attachment protect rows share aggregateId and the same millisecond.
		sameIDDifferentKey(t, tab, rows[3], rows[5], "timestamp")
	})
	t.Run("replay has the same key", func(t *testing.T) {
		again, err := tab.Decode("acme", records(t, tab, "siem_logs/test-siem-v2-logs.log")[10], testIngested.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if keyOf(tab, again) != keyOf(tab, rows[10]) {
			t.Error("decoding the same record later gives another key")
		}
	})
}

func TestSegCgTypes(t *testing.T) {
	tab := &SegCg
	tests := []struct {
		name, typ, want string
	}{
		{"mapped", "av", "email_antivirus"},
		{"mapped with spaces", "url protect", "email_ttp_url"},
		{"impersonation", "impersonation protect", "email_ttp_impersonation"},
		{"unknown kept", "dlp", "dlp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := `{"accountId":"A","aggregateId":"g","processingId":"p","timestamp":1731499059314,"type":"` + tc.typ + `"}`
			row, err := tab.Decode("acme", json.RawMessage(raw), testIngested)
			if err != nil {
				t.Fatal(err)
			}
			checkCols(t, tab, row, []colWant{{"Logtype", tc.want}})
		})
	}
	t.Run("stream spelling eventType/subType", func(t *testing.T) {
		raw := `{"accountId":"A","aggregateId":"g","processingId":"p","timestamp":"1731499059314","eventType":"process","subType":"Acc"}`
		row, err := tab.Decode("acme", json.RawMessage(raw), testIngested)
		if err != nil {
			t.Fatal(err)
		}
		checkCols(t, tab, row, []colWant{{"Logtype", "email_process"}, {"subtype", "Acc"}, {"timestamp", 1731499059314.0}})
	})
	t.Run("nested values stored as JSON text", func(t *testing.T) {
		raw := `{"accountId":"A","aggregateId":"g","processingId":"p","timestamp":1,"type":"av","recipients":["a@x","b@x"],"spamProcessingDetail":{"spf":{"allow":true}}}`
		row, err := tab.Decode("acme", json.RawMessage(raw), testIngested)
		if err != nil {
			t.Fatal(err)
		}
		checkCols(t, tab, row, []colWant{{"recipients", `["a@x","b@x"]`},
			{"spamProcessingDetail", `{"spf":{"allow":true}}`}})
	})
}

func TestCloudIntegratedCorpus(t *testing.T) {
	tab := &CloudIntegrated
	recs := records(t, tab, "cloud_integrated_logs/test-cloud-integrated-logs.log")
	recs = append(recs, sampleOriginal(t, "cloud_integrated_logs/sample_event.json"))
	rows := decodeAll(t, tab, recs)
	if len(rows) != 22 {
		t.Fatalf("%d rows, want 22", len(rows))
	}
	uniqueKeys(t, tab, rows[:21])
	checkCols(t, tab, rows[0], []colWant{
		{"type_", "entities"},
		{"timestamp", 1732724425453.0},
		{"offset", 1825747.0},
		{"partition", 53.0},
		{"attachments", `["1-MB-Test_PCI-PII.xls"]`},
		{"recipients", `["darron.giron@demovation-ci.b41.one"]`},
		{"policiesApplied", `[{"action":"DO_NOTHING","mode":"ACTIVE","name":"Default O365 Mail policy"}]`},
		{"threatState", "DELIVERY_IN_PROGRESS"},
		{"direction", "INBOUND"},
		{"historicalMail", false},
		{"tags", nil},
		{"senderEnvelope", ""},
	})
	checkCols(t, tab, rows[4], []colWant{{"threatType", "MALWARE"}, {"tags", `["MALWARE"]`}, {"threatState", "BLOCKED"}})
	checkCols(t, tab, rows[10], []colWant{{"type_", "mailflow"}, {"subtype", ""}, {"historicalMail", nil}})
	checkCols(t, tab, rows[20], []colWant{{"direction", "Inbound"}, {"offset", nil},
		{"tags", `["UNTRUSTWORTHY","SPAM"]`}, {"threatType", "POLICIES_DISABLED"}})
	checkCols(t, tab, rows[21], []colWant{{"type_", "mailflow"},
		{"messageId", "<2ae37333-38e7-89ff-dc36-c8d48c6e3df3@demovation-ci.b41.one>"}})
	// The sample event is the corpus's line 20 again: same key, so it would not be stored twice.
	if keyOf(tab, rows[21]) != keyOf(tab, rows[19]) {
		t.Errorf("sample event and its corpus line have different keys")
	}
	ts, ok := EventTimeOf(tab, rows[0])
	if !ok || !ts.Equal(utc("2024-11-27T16:20:25.453Z")) {
		t.Errorf("event time %v", ts)
	}
}

func TestSegDlpCorpus(t *testing.T) {
	tab := &SegDlp
	recs := append(records(t, tab, "dlp_logs/test-dlp-logs.log"), sampleOriginal(t, "dlp_logs/sample_event.json"))
	rows := decodeAll(t, tab, recs)
	if len(rows) != 17 {
		t.Fatalf("%d rows, want 17", len(rows))
	}
	uniqueKeys(t, tab, rows)
	checkCols(t, tab, rows[0], []colWant{
		{"senderAddress", "<>"},
		{"action", "hold"},
		{"policy", "Content Inspection - Watermark"},
		{"eventTime", utc("2021-10-15T20:41:25Z")},
		{"messageId", "<20211015204122.2CA6DFCAE2@mail.emailsec.ninja>"},
	})
	checkCols(t, tab, rows[10], []colWant{{"eventTime", utc("2022-12-29T03:45:45Z")}}) // +0700 to UTC
	checkCols(t, tab, rows[16], []colWant{{"action", "notification"}, {"senderAddress", "<>"},
		{"messageId", "<20211118214115.B346F10021D@mail.emailsec.ninja>"}})
	// notification + hold, hold + block: one message, one time, several records.
	sameIDDifferentKey(t, tab, rows[0], rows[1], "messageId")
	sameIDDifferentKey(t, tab, rows[0], rows[1], "eventTime")
	sameIDDifferentKey(t, tab, rows[14], rows[15], "messageId")
}

func TestTtpURLCorpus(t *testing.T) {
	tab := &TtpURL
	recs := append(records(t, tab, "ttp_url_logs/test-ttp-url-logs.log"), sampleOriginal(t, "ttp_url_logs/sample_event.json"))
	rows := decodeAll(t, tab, recs)
	if len(rows) != 9 {
		t.Fatalf("%d rows, want 9", len(rows))
	}
	uniqueKeys(t, tab, rows)
	checkCols(t, tab, rows[4], []colWant{
		{"Date", utc("2024-11-17T17:02:30Z")},
		{"Category", "Compromised"},
		{"sendingIp", "Internal IP"},
		{"scanResult", "malicious"},
		{"action", "warn"},
		{"tagMap_UrlReputationScan_Status", `["CustomerAll","VerdictBlock"]`},
		{"tagMap_UrlReputationScan_Type", `["Compromised"]`},
		{"tagMap_UrlReputationScan_Url", `["http://www.enron.com/corp/pressroom/releases/2002/ene/012902Release.html"]`},
		{"tagMap_UrlReputationScan_UrlBlock", `["ORIGINAL:http://www.enron.com/corp/pressroom/releases/2002/ene/012902Release.html (Blocked as COMPROMISED)"]`},
		{"tagMap_DangerousFileExt_Status", nil},
		{"emailPartsDescription", `["Body"]`},
		{"actions", `"None"`},
	})
	checkCols(t, tab, rows[5], []colWant{
		{"Category", "Dangerous file extension"},
		{"tagMap_DangerousFileExt_Status", `["CustomerSpecific","VerdictBlock"]`},
		{"tagMap_DangerousFileExt_Inspect_FileExts", `["[exe]"]`},
		{"tagMap_DangerousFileExt_Inspect_MimeTypes", `["[]"]`},
		{"tagMap_DangerousFileExt_ContentCheck_ContentScannersBlocked", `[".exe"]`},
		{"tagMap_ContentCheck_DangerousMimetypesUrlFileDownload", `["application/x-msdownload"]`},
		{"tagMap_ContentCheck_DangerousExtsUrlFileDownload", `["dll"]`},
		{"emailPartsDescription", `["Attachment"]`},
	})
	checkCols(t, tab, rows[0], []colWant{{"Date", utc("2021-10-16T14:45:34Z")}, {"userAwarenessAction", "Continue"},
		{"Category", "Business"}, {"tagMap_UrlReputationScan_Status", nil}})
	checkCols(t, tab, rows[8], []colWant{{"Category", "Search Engines & Portals"},
		{"messageId", "<000000000000a02a0a05d0671c06@google.com>"}})
	// One message, one URL, clicked by two users.
	sameIDDifferentKey(t, tab, rows[6], rows[7], "messageId")
	sameIDDifferentKey(t, tab, rows[6], rows[7], "url")
}

func TestTtpURLAdvancedPhishing(t *testing.T) {
	tab := &TtpURL
	rows := decodeAll(t, tab, linesAt(t, "testdata/ttp_url_advanced_phishing.ndjson"))
	checkCols(t, tab, rows[0], []colWant{
		{"advancedPhishingResult_CredentialTheftBrands", `["Microsoft"]`},
		{"advancedPhishingResult_CredentialTheftEvidence", `["Password field","Brand logo"]`},
		{"advancedPhishingResult_CredentialTheftTags", `["credential-theft"]`},
		{"tagMap_AdvancedPhishing_CredentialTheftEvidence", `["Password field"]`},
		{"tagMap_AdvancedPhishing_CredentialTheftTags", `["credential-theft"]`},
		{"tagMap_CustomerManagedUrls_Blocklisted", `["true"]`},
		{"tagMap_AvScanning_ContentCheck_AvSignatureName", `["Eicar-Test-Signature"]`},
		{"mimecastEventId", "evt-1"},
		{"Date", utc("2025-10-22T18:07:16Z")},
	})
}

func TestTtpAttachmentCorpus(t *testing.T) {
	tab := &TtpAttachment
	recs := append(records(t, tab, "ttp_ap_logs/test-ttp-ap-logs.log"), sampleOriginal(t, "ttp_ap_logs/sample_event.json"))
	rows := decodeAll(t, tab, recs)
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	uniqueKeys(t, tab, rows[:3])
	checkCols(t, tab, rows[0], []colWant{
		{"fileHash", "eaeef09b60a59b913e9bfc0a4373e25d6182beff388957473fba517cc09345e3"},
		{"fileType", "application/pdf"},
		{"result", "safe"},
		{"actionTriggered", "user release, none"},
		{"Date", utc("2021-10-14T18:54:32Z")},
		{"definition", "Inbound - Safe file with On-Demand Sandbox"},
	})
	if d, _ := get(t, tab, rows[0], "details").(string); !strings.Contains(d, "\r\nTime taken: 0 hrs, 0 min, 4 sec") {
		t.Errorf("details %q lost its line break", d)
	}
	checkCols(t, tab, rows[2], []colWant{{"fileHash", "111b86e1244ce6389efb60cddc001d594d334c540e85f9976be467a4ce472973"}})
	// Two attachments of one message, scanned at the same second.
	sameIDDifferentKey(t, tab, rows[1], rows[2], "messageId")
	sameIDDifferentKey(t, tab, rows[1], rows[2], "Date")
	if keyOf(tab, rows[3]) != keyOf(tab, rows[0]) {
		t.Error("sample event (the corpus's first record) has another key")
	}
}

func TestTtpImpersonationCorpus(t *testing.T) {
	tab := &TtpImpersonation
	recs := append(records(t, tab, "ttp_ip_logs/test-ttp-ip-logs.log"), sampleOriginal(t, "ttp_ip_logs/sample_event.json"))
	rows := decodeAll(t, tab, recs)
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	uniqueKeys(t, tab, rows)
	checkCols(t, tab, rows[0], []colWant{
		{"senderAddress", "smtp@example.com"},
		{"hits", 1.0},
		{"identifiers", `["internal_user_name"]`},
		{"taggedExternal", false},
		{"taggedMalicious", true},
		{"senderIpAddress", "67.43.156.15"},
		{"eventTime", utc("2021-10-15T17:10:46Z")},
		{"impersonationResults", `[{"impersonationDomainSource":"internal_user_name","similarDomain":"John Doe Jr <johndoejr@example.com>","stringSimilarToDomain":"John Doe Jr","checkerResult":"hit"}]`},
	})
	checkCols(t, tab, rows[2], []colWant{{"hits", 2.0}, {"definition", "IP - 2 hits (Hold for Review / User Hold)"}})
	checkCols(t, tab, rows[3], []colWant{{"senderIpAddress", "8.8.8.8"},
		{"messageId", "<MN2PR16MB2719879CA4DB60C265F7FD8FB0959@MN2PR16MB2719.namprd16.prod.outlook.com>"}})
	// The API reuses one id for different messages (spec quirk): same id, other message, other key.
	other, err := WithField(recs[0], "messageId", "<another@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	row, err := tab.Decode("acme", other, testIngested)
	if err != nil {
		t.Fatal(err)
	}
	sameIDDifferentKey(t, tab, rows[0], row, "id")
}

func TestArchiveSearchCorpus(t *testing.T) {
	tab := &ArchiveSearch
	recs := append(records(t, tab, "archive_search_logs/test-archive-search-logs.log"),
		sampleOriginal(t, "archive_search_logs/sample_event.json"))
	rows := decodeAll(t, tab, recs)
	if len(rows) != 13 {
		t.Fatalf("%d rows, want 13", len(rows))
	}
	uniqueKeys(t, tab, rows[:12])
	checkCols(t, tab, rows[3], []colWant{
		{"createTime", utc("2023-07-19T20:58:43Z")},
		{"description", "Threat Remediation search"},
		{"searchText", "1b471db32c0875e2ec5729e7166f10cec038f47894e88021352ca241782b1bc0 [User : dhamilton@mc-hapi.hamilton321.net]"},
		{"source", "archive"},
	})
	checkCols(t, tab, rows[7], []colWant{{"searchReason", "sample search"}})
	checkCols(t, tab, rows[11], []colWant{{"emailAddr", "<>"}, {"searchText", "[User : dhamilton@mimecast.local]"}})
	// One person, one search text, two searches 15 s apart.
	sameIDDifferentKey(t, tab, rows[9], rows[10], "searchText")
	sameIDDifferentKey(t, tab, rows[9], rows[10], "emailAddr")
}

func TestMessageReleaseCorpus(t *testing.T) {
	tab := &MessageRelease
	b := corpusFile(t, "message_release_logs/test-release-logs.json")
	var file struct {
		Events []struct {
			Message string `json:"message"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Events) != 5 {
		t.Fatalf("%d events, want 5", len(file.Events))
	}
	recs := make([]json.RawMessage, 0, 6)
	for _, e := range file.Events {
		recs = append(recs, json.RawMessage(e.Message))
	}
	// The fifth record has no released time: it cannot be placed in time and is rejected with that reason.
	_, err := tab.Decode("acme", recs[4], testIngested)
	wantDecodeError(t, tab, err, "missing released")
	rows := decodeAll(t, tab, append(recs[:4], sampleOriginal(t, "message_release_logs/sample_event.json")))
	checkCols(t, tab, rows[0], []colWant{
		{"id", "eNpVj21LhEAUhf_LfN2VnRl1RpclCN..."},
		{"status", "released"},
		{"released", utc("2015-11-25T14:49:18Z")},
		{"operator", "admin@domain.tld"},
		{"fromEnv", "from_user@from_domain.tld"},
		{"fromHdr", "from_user@from_domain.tld"},
		{"to", `["to_user@to_domain.tld"]`},
		{"route", "inbound"},
		{"heldReason", "High-Confidence Impersonation Protection"},
		{"heldGroup", "IT Staff Global"},
		{"attachments", true},
		{"size", 5043.0},
		{"spamScore", 12.0},
		{"detectionLevel", "moderate"},
		{"rejectReason", "Message contains undesirable content"},
	})
	if d, _ := get(t, tab, rows[0], "spamProcessingDetail").(string); !strings.Contains(d, `"spamVerdict":{"categories"`) {
		t.Errorf("spamProcessingDetail = %q, want the nested object as JSON text", d)
	}
	// The corpus repeats one id for an inbound and an outbound release.
	sameIDDifferentKey(t, tab, rows[0], rows[1], "id")
	// Records 1 and 3 differ only in a recipient display name: the same release, the same key.
	if keyOf(tab, rows[0]) != keyOf(tab, rows[2]) {
		t.Error("the same release decoded twice has two keys")
	}
	checkCols(t, tab, rows[4], []colWant{{"fromEnv", "user@domain.tld"}, {"to", `["user@domain.tld"]`}})
}

func TestMessageReleaseOperatorObject(t *testing.T) {
	tab := &MessageRelease
	raw := `{"id":"x","status":"rejected","released":"2024-10-28T14:18:43+0000","operator":{"emailAddress":"op@x"},` +
		`"fromEnv":{"emailAddress":"a@x"},"fromHdr":{"emailAddress":"b@x"},"to":[{"emailAddress":"c@x"},{"emailAddress":"d@x"}],` +
		`"attachments":false,"size":7473,"spamScore":9,"route":"inbound"}`
	row, err := tab.Decode("acme", json.RawMessage(raw), testIngested)
	if err != nil {
		t.Fatal(err)
	}
	checkCols(t, tab, row, []colWant{{"operator", "op@x"}, {"fromEnv", "a@x"}, {"fromHdr", "b@x"},
		{"to", `["c@x","d@x"]`}, {"attachments", false}, {"released", utc("2024-10-28T14:18:43Z")}})
}

func TestThreatIntelCorpus(t *testing.T) {
	tab := &ThreatIntel
	for _, tc := range []struct {
		file, source string
		indicators   int
	}{
		{"threat_intel_malware_customer/test-threat-intel-malware-customer.log", "customer", 14},
		{"threat_intel_malware_grid/test-threat-intel-malware-grid.log", "grid", 7},
	} {
		t.Run(tc.source, func(t *testing.T) {
			var rows []Row
			for i, rec := range corpusLines(t, tc.file) {
				var h struct {
					Type        string `json:"type"`
					Disposition string `json:"Content-Disposition"`
				}
				if err := json.Unmarshal(rec, &h); err != nil {
					t.Fatal(err)
				}
				if h.Type != "indicator" {
					_, err := tab.Decode("acme", rec, testIngested)
					wantDecodeError(t, tab, err, "is not an indicator")
					continue
				}
				if h.Disposition == "" {
					// Without the file name the feed is unknown until the collector says which feed it read.
					_, err := tab.Decode("acme", rec, testIngested)
					wantDecodeError(t, tab, err, "missing feedType")
					var err2 error
					if rec, err2 = WithField(rec, "feedType", "malware_"+tc.source); err2 != nil {
						t.Fatal(err2)
					}
				}
				row, err := tab.Decode("acme", rec, testIngested)
				if err != nil {
					t.Fatalf("line %d: %v", i, err)
				}
				checkRow(t, tab, row)
				checkCols(t, tab, row, []colWant{{"source", tc.source}, {"type", "sha256"}})
				rows = append(rows, row)
			}
			if len(rows) != tc.indicators {
				t.Fatalf("%d indicators, want %d", len(rows), tc.indicators)
			}
			uniqueKeys(t, tab, rows)
			checkCols(t, tab, rows[0], []colWant{
				{"id", "indicator--18c62174-0d31-4653-afe6-d104c57b6b2c"},
				{"value", "c20d551424f2df6312f7fa700ed97cd199c3d5c8a0f4dfd683627f18913096de"},
				{"firstSeen", utc("2021-10-29T15:07:26.653Z")},
				{"lastSeen", utc("2021-10-29T15:07:26.653Z")},
				{"labels", `["malicious-activity"]`},
				{"pattern", "[file:hashes.'SHA-256' = 'c20d551424f2df6312f7fa700ed97cd199c3d5c8a0f4dfd683627f18913096de']"},
			})
			if tc.source == "customer" {
				// Seven sightings of one hash under seven ids: seven rows with one value.
				for _, r := range rows[8:] {
					checkCols(t, tab, r, []colWant{{"value", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}})
				}
				checkCols(t, tab, rows[13], []colWant{{"firstSeen", utc("2024-11-18T23:23:22.490Z")}})
				sameIDDifferentKey(t, tab, rows[7], rows[8], "value")
			}
		})
	}
	t.Run("same indicator id in both feeds", func(t *testing.T) {
		c := corpusLines(t, "threat_intel_malware_customer/test-threat-intel-malware-customer.log")[1]
		g := corpusLines(t, "threat_intel_malware_grid/test-threat-intel-malware-grid.log")[1]
		rc, err := tab.Decode("acme", c, testIngested)
		if err != nil {
			t.Fatal(err)
		}
		rg, err := tab.Decode("acme", g, testIngested)
		if err != nil {
			t.Fatal(err)
		}
		sameIDDifferentKey(t, tab, rc, rg, "id")
	})
	t.Run("sample event", func(t *testing.T) {
		rec, err := WithField(sampleOriginal(t, "threat_intel_malware_grid/sample_event.json"), "feedType", "malware_grid")
		if err != nil {
			t.Fatal(err)
		}
		row, err := tab.Decode("acme", rec, testIngested)
		if err != nil {
			t.Fatal(err)
		}
		checkCols(t, tab, row, []colWant{{"source", "grid"},
			{"value", "ec5a6c52acdc187fc6c1187f14cd685c686c2b283503a023c4a9d3a977b491be"},
			{"firstSeen", utc("2021-11-19T01:28:37.099Z")}})
	})
}
