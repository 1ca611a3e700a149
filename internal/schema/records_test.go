package schema

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestUnwrapRecords(t *testing.T) {
	tests := []struct {
		name    string
		table   string
		body    string
		want    []string // the records, exactly
		wantErr string
	}{
		{"dlp page", "Seg_Dlp_CL", `{"meta":{"pagination":{"next":"n"}},"data":[{"dlpLogs":[{"action":"hold"},{"action":"notification"}]}],"fail":[]}`,
			[]string{`{"action":"hold"}`, `{"action":"notification"}`}, ""},
		{"dlp empty last page", "Seg_Dlp_CL", `{"meta":{"status":200,"pagination":{"pageSize":10,"totalCount":519,"next":"nextToken"}},"data":[],"fail":[]}`, nil, ""},
		{"attachment page without list", "Ttp_Attachment_CL", `{"meta":{},"data":[{}]}`, nil, ""},
		{"url clickLogs", "Ttp_Url_CL", `{"data":[{"clickLogs":[{"url":"u"}]}]}`, []string{`{"url":"u"}`}, ""},
		{"impersonation logs", "Ttp_Impersonation_CL", `{"data":[{"impersonationLogs":[{"id":"1"}],"resultCount":1}]}`, []string{`{"id":"1"}`}, ""},
		{"release logs", "Message_Release_CL", `{"data":[{"heldReleaseLogs":[{"id":"1"}]}]}`, []string{`{"id":"1"}`}, ""},
		{"archive logs", "Archive_Search_CL", `{"data":[{"logs":[{"emailAddr":"a"}]}]}`, []string{`{"emailAddr":"a"}`}, ""},
		{"user data items", "Awareness_User_Data_CL", `{"data":[{"items":[{"email":"a"}]}]}`, []string{`{"email":"a"}`}, ""},
		{"safe score data", "Awareness_SafeScore_Details_CL", `{"data":[{"emailAddress":"a"},{"emailAddress":"b"}]}`,
			[]string{`{"emailAddress":"a"}`, `{"emailAddress":"b"}`}, ""},
		{"audit data", "Audit_CL", `{"data":[{"id":"1"}]}`, []string{`{"id":"1"}`}, ""},
		{"fail entries", "Seg_Dlp_CL", `{"data":[],"fail":[{"errors":[{"code":"err_validation"}]}]}`, nil, "response has fail entries"},
		{"not JSON", "Seg_Dlp_CL", `<html>`, nil, "invalid envelope"},
		{"list not a list", "Seg_Dlp_CL", `{"data":[{"dlpLogs":{"a":1}}]}`, nil, "data[0].dlpLogs is not a list"},
		{"data[0] not an object", "Seg_Dlp_CL", `{"data":[7]}`, nil, "data[0] is not an object"},
		{"ndjson", "Seg_Cg_CL", "{\"a\":1}\n\n  \r\n{\"b\":2}\r\nnot json\n", []string{`{"a":1}`, `{"b":2}`, `not json`}, ""},
		{"ndjson ci", "Cloud_Integrated_CL", "{\"a\":1}", []string{`{"a":1}`}, ""},
		{"stix indicators only", "Threat_Intel_CL", `{"type":"bundle","objects":[{"type":"malware","id":"m"},{"type":"indicator","id":"i"},{"type":"relationship"}]}`,
			[]string{`{"type":"indicator","id":"i"}`}, ""},
		{"stix empty bundle", "Threat_Intel_CL", `{"type":"bundle","id":"bundle--0ea0ae62","spec_version":"2.0","objects":[]}`, nil, ""},
		{"stix not JSON", "Threat_Intel_CL", `PK\x03`, nil, "invalid STIX bundle"},
		{"unknown table", "Nope_CL", `{}`, nil, `unknown table "Nope_CL"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UnwrapRecords(tc.table, []byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d records, want %d: %s", len(got), len(tc.want), got)
			}
			for i := range got {
				if string(got[i]) != tc.want[i] {
					t.Errorf("record %d = %s, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// The corpus files, rebuilt into the pages the API sends, unwrap to exactly their records.
func TestUnwrapCorpusPages(t *testing.T) {
	tests := []struct {
		table, file, key string
	}{
		{"Seg_Dlp_CL", "dlp_logs/test-dlp-logs.log", "dlpLogs"},
		{"Ttp_Url_CL", "ttp_url_logs/test-ttp-url-logs.log", "clickLogs"},
		{"Ttp_Attachment_CL", "ttp_ap_logs/test-ttp-ap-logs.log", "attachmentLogs"},
		{"Ttp_Impersonation_CL", "ttp_ip_logs/test-ttp-ip-logs.log", "impersonationLogs"},
		{"Archive_Search_CL", "archive_search_logs/test-archive-search-logs.log", "logs"},
	}
	for _, tc := range tests {
		t.Run(tc.table, func(t *testing.T) {
			if RecordListKey(tc.table) != tc.key {
				t.Fatalf("RecordListKey = %q, want %q", RecordListKey(tc.table), tc.key)
			}
			var recs []json.RawMessage
			for _, l := range corpusLines(t, tc.file) {
				if !isEnvelope(l) {
					recs = append(recs, l)
				}
			}
			page, err := json.Marshal(map[string]any{"meta": map[string]any{"status": 200},
				"data": []map[string]any{{tc.key: recs}}, "fail": []any{}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnwrapRecords(tc.table, page)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(recs) {
				t.Fatalf("%d records, want %d", len(got), len(recs))
			}
			tab := TableByName(tc.table)
			for i := range got {
				if _, err := tab.Decode("acme", got[i], testIngested); err != nil {
					t.Errorf("record %d: %v", i, err)
				}
			}
		})
	}
	t.Run("siem ndjson file", func(t *testing.T) {
		body := corpusFile(t, "siem_logs/test-siem-v2-logs.log")
		got, err := UnwrapRecords("Seg_Cg_CL", body)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 62 {
			t.Fatalf("%d records, want 62", len(got))
		}
	})
	t.Run("stix bundle", func(t *testing.T) {
		objs := corpusLines(t, "threat_intel_malware_grid/test-threat-intel-malware-grid.log")
		bundle, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--x", "objects": objs})
		got, err := UnwrapRecords("Threat_Intel_CL", bundle)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 7 {
			t.Fatalf("%d indicators, want 7", len(got))
		}
	})
}

func TestWithField(t *testing.T) {
	got, err := WithField(json.RawMessage(`{"a":1,"feedType":"old"}`), "feedType", "malware_grid")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	if m["feedType"] != "malware_grid" || m["a"] != 1.0 {
		t.Errorf("WithField = %s", got)
	}
	for _, bad := range []string{`[1]`, `nope`, `null`} {
		if _, err := WithField(json.RawMessage(bad), "x", 1); err == nil || !strings.HasPrefix(err.Error(), "with field x:") {
			t.Errorf("WithField(%s) err = %v", bad, err)
		}
	}
}

func TestEventTimeOf(t *testing.T) {
	cg, err := SegCg.Decode("acme", json.RawMessage(`{"accountId":"A","aggregateId":"g","processingId":"p","timestamp":1731499059314,"type":"av"}`), testIngested)
	if err != nil {
		t.Fatal(err)
	}
	dlp, err := SegDlp.Decode("acme", json.RawMessage(`{"eventTime":"2021-10-15T22:41:25+0200","action":"hold","messageId":"m"}`), testIngested)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tab    *Table
		row    Row
		want   time.Time
		wantOK bool
	}{
		{"epoch ms", &SegCg, cg, utc("2024-11-13T11:57:39.314Z"), true},
		{"datetime", &SegDlp, dlp, utc("2021-10-15T20:41:25Z"), true},
		{"missing value", &SegDlp, Row{"acme", testIngested, nil}, time.Time{}, false},
		{"short row", &SegCg, Row{"acme"}, time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := EventTimeOf(tc.tab, tc.row)
			if ok != tc.wantOK || !got.Equal(tc.want) {
				t.Errorf("EventTimeOf = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestParseSTIXPattern(t *testing.T) {
	tests := []struct {
		in, typ, value, err string
	}{
		{"[file:hashes.'SHA-256' = 'C20D55']", "sha256", "c20d55", ""},
		{"[file:hashes.'SHA-1' = 'ab12']", "sha1", "ab12", ""},
		{"[file:hashes.MD5 = 'AB12']", "md5", "ab12", ""},
		{"[url:value = 'http://x.example/a?b=1']", "url", "http://x.example/a?b=1", ""},
		{"[domain-name:value = 'bad.example']", "domain", "bad.example", ""},
		{"[ipv4-addr:value = '192.0.2.1']", "ipv4", "192.0.2.1", ""},
		{"[email-addr:value = 'o\\'neil@x.example']", "email", "o'neil@x.example", ""},
		{"[x-custom:thing = 'v']", "x-custom:thing", "v", ""},
		{"  [url:value='http://x']  ", "url", "http://x", ""},
		{"[url:value = 'a'] OR [url:value = 'b']", "", "", "unsupported STIX pattern"},
		{"url:value = 'a'", "", "", "unsupported STIX pattern"},
		{"", "", "", "unsupported STIX pattern"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			typ, value, err := ParseSTIXPattern(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || typ != tc.typ || value != tc.value {
				t.Errorf("= %q, %q, %v; want %q, %q", typ, value, err, tc.typ, tc.value)
			}
		})
	}
}
