package parse

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/testutil"
)

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Format
	}{
		{"json record", `{"auditType":"x"}`, FormatJSON},
		{"json array", `[{"a":1}]`, FormatJSON},
		{"json with leading spaces and BOM", "\xef\xbb\xbf  { \"id\": 1 }", FormatJSON},
		{"cef", "CEF:0|Mimecast|x|1|a|b|3|src=1.2.3.4", FormatCEF},
		{"cef behind a syslog prefix", "<134>Feb 17 10:25:00 host CEF:0|V|P|1|c|n|1|", FormatCEF},
		{"cef behind the splunk prefix", "exabeam_host=arc@ 10.0.0.5 2021-02-17T10:20:00.000Z sky01 Skyformation CEF:0|Skyformation|SkyFormation Cloud Apps Security|2.0|x|y|5|cat=access", FormatCEF},
		{"splunk audit line", actLine, FormatAuditKV},
		{"splunk dlp line", dlpLine, FormatAuditKV},
		{"sumo audit line without a prefix", `date=2021-01-01T00:00:00+0000|mcType=auditLog|user=a|auditType="x"|eventInfo="y"`, FormatAuditKV},
		{"legacy siem line", "datetime=2017-05-26T16:47:41+0100|aCode=7O7I|acc=C0A0|Dir=Internal", FormatSIEMKV},
		{"legacy siem line without datetime", "aCode=x|acc=C0A0|Act=Acc", FormatSIEMKV},
		{"blank", "   ", FormatUnknown},
		{"text", "just some text without keys", FormatUnknown},
		{"one key only", "datetime=yesterday", FormatUnknown},
		{"bars and equals without keys", "||==||", FormatUnknown},
		{"CEF word without a header", "CEF: something", FormatUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectFormat([]byte(tt.line)); got != tt.want {
				t.Errorf("DetectFormat = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"", FormatAuto, false}, {"auto", FormatAuto, false}, {"SIEM-KV", FormatSIEMKV, false}, {"audit-kv", FormatAuditKV, false},
		{"json", FormatJSON, false}, {" cef ", FormatCEF, false}, {"xml", "", true}, {"unknown", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseFormat(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
}

// corpusTables maps each corpus input file to the table (or kind) its JSON records belong to.
var corpusTables = map[string]string{
	"archive_search_logs/test-archive-search-logs.log":                     schema.ArchiveSearch.Name,
	"audit_events/test-audit-events.log":                                   schema.Audit.Name,
	"cloud_integrated_logs/test-cloud-integrated-logs.log":                 schema.CloudIntegrated.Name,
	"dlp_logs/test-dlp-logs.log":                                           schema.SegDlp.Name,
	"siem_logs/test-siem-v2-logs.log":                                      schema.SegCg.Name,
	"siem_logs/test-siem-docs-logs.log":                                    JSONSIEMv1,
	"siem_logs/test-siem-logs.log":                                         JSONSIEMv1,
	"threat_intel_malware_customer/test-threat-intel-malware-customer.log": schema.ThreatIntel.Name,
	"threat_intel_malware_grid/test-threat-intel-malware-grid.log":         schema.ThreatIntel.Name,
	"ttp_ap_logs/test-ttp-ap-logs.log":                                     schema.TtpAttachment.Name,
	"ttp_ip_logs/test-ttp-ip-logs.log":                                     schema.TtpImpersonation.Name,
	"ttp_url_logs/test-ttp-url-logs.log":                                   schema.TtpURL.Name,
}

// TestDetectCorpus checks that every line of every corpus input is detected as JSON and that its objects
// classify as the file's table (envelopes, STIX bundles and non-indicator STIX objects aside), and that the
// legacy SIEM key_value fixture's lines are siem-kv.
func TestDetectCorpus(t *testing.T) {
	dir := testutil.CorpusDir(t)
	inputs, err := filepath.Glob(filepath.Join(dir, "*", "test-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range inputs {
		rel, _ := filepath.Rel(dir, f)
		if _, ok := corpusTables[filepath.ToSlash(rel)]; !ok {
			t.Errorf("corpus input %s is not checked", rel)
		}
	}
	// message_release_logs/test-release-logs.json is one pretty-printed JSON document, not a line format:
	// internal/rawlog reads it whole (its TestCorpus); here only its first line is checked.
	if data, err := os.ReadFile(filepath.Join(dir, "message_release_logs", "test-release-logs.json")); err != nil {
		t.Error(err)
	} else if first, _, _ := strings.Cut(string(data), "\n"); DetectFormat([]byte(first)) != FormatJSON {
		t.Errorf("release document starts with %q", first)
	}
	for file, table := range corpusTables {
		t.Run(file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			n, records := 0, 0
			for sc.Scan() {
				n++
				line := sc.Bytes()
				if strings.TrimSpace(string(line)) == "" {
					if got := DetectFormat(line); got != FormatUnknown {
						t.Errorf("line %d blank detected as %q", n, got)
					}
					continue
				}
				if got := DetectFormat(line); got != FormatJSON {
					t.Errorf("line %d detected as %q", n, got)
					continue
				}
				var objs []map[string]json.RawMessage
				var one map[string]json.RawMessage
				if json.Unmarshal(line, &one) == nil {
					objs = append(objs, one)
				} else if err := json.Unmarshal([]byte("["+string(line)+"]"), &objs); err != nil {
					t.Errorf("line %d: %v", n, err)
					continue
				}
				for _, o := range objs {
					shape := ClassifyJSON(o)
					switch shape.Kind {
					case JSONEnvelope, JSONBundle, JSONSTIXObject:
						continue
					case JSONSIEMv1:
						records++
						if table != JSONSIEMv1 || shape.Table != schema.SegCg.Name {
							t.Errorf("line %d: legacy SIEM record in a %s file (table %q)", n, table, shape.Table)
						}
					case JSONRecord:
						records++
						if shape.Table != table {
							t.Errorf("line %d classified as %s, want %s", n, shape.Table, table)
						}
					default:
						t.Errorf("line %d: kind %q", n, shape.Kind)
					}
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if records == 0 {
				t.Error("no records classified")
			}
		})
	}
	t.Run("siem_kv.log", func(t *testing.T) {
		for i, line := range readLines(t, "siem_kv.log") {
			want := FormatSIEMKV
			if line == "just some text without keys" || line == "||==||" {
				want = FormatUnknown
			}
			if got := DetectFormat([]byte(line)); got != want {
				t.Errorf("line %d %.40q detected as %q, want %q", i+1, line, got, want)
			}
		}
	})
}

func TestClassifyJSON(t *testing.T) {
	tests := []struct {
		name  string
		obj   string
		kind  string
		table string
	}{
		{"audit", `{"id":"x","auditType":"User Logged On","eventTime":"2021-01-01T00:00:00+0000"}`, JSONRecord, schema.Audit.Name},
		{"siem v2 receipt", `{"type":"receipt","timestamp":1,"aggregateId":"a","processingId":"p"}`, JSONRecord, schema.SegCg.Name},
		{"siem v2 stream spelling", `{"eventType":"delivery","timestamp":1}`, JSONRecord, schema.SegCg.Name},
		{"cloud integrated", `{"type":"mailflow","timestamp":1,"aggregateId":"a"}`, JSONRecord, schema.CloudIntegrated.Name},
		{"ttp url", `{"url":"http://x","userEmailAddress":"a@b","date":"2021-01-01T00:00:00+0000"}`, JSONRecord, schema.TtpURL.Name},
		{"ttp attachment", `{"fileHash":"ab","fileName":"x.pdf"}`, JSONRecord, schema.TtpAttachment.Name},
		{"ttp impersonation", `{"id":"x","impersonationResults":[]}`, JSONRecord, schema.TtpImpersonation.Name},
		{"dlp", `{"policy":"p","action":"hold","eventTime":"2021-01-01T00:00:00+0000"}`, JSONRecord, schema.SegDlp.Name},
		{"message release", `{"id":"x","status":"released","released":"2021-01-01T00:00:00+0000","operator":"a@b"}`, JSONRecord, schema.MessageRelease.Name},
		{"archive search", `{"createTime":"2023-01-01T00:00:00+0000","emailAddr":"a@b"}`, JSONRecord, schema.ArchiveSearch.Name},
		{"awareness user data", `{"campaignId":"c","email":"a@b"}`, JSONRecord, schema.AwarenessUserData.Name},
		{"awareness safe score", `{"emailAddress":"a@b","risk":"A"}`, JSONRecord, schema.AwarenessSafeScore.Name},
		{"awareness watchlist", `{"email":"a@b","watchlistCount":2}`, JSONRecord, schema.AwarenessWatchlist.Name},
		{"awareness performance", `{"email":"a@b","numCorrect":2}`, JSONRecord, schema.AwarenessPerformance.Name},
		{"stix indicator", `{"type":"indicator","id":"indicator--1","pattern":"[url:value = 'x']"}`, JSONRecord, schema.ThreatIntel.Name},
		{"stix malware", `{"type":"malware","id":"malware--1"}`, JSONSTIXObject, ""},
		{"stix bundle", `{"type":"bundle","id":"bundle--1","objects":[]}`, JSONBundle, ""},
		{"api envelope", `{"meta":{"status":200},"data":[],"fail":[]}`, JSONEnvelope, ""},
		{"legacy siem json file", `{"type":"MTA","data":[]}`, JSONEnvelope, ""},
		{"legacy siem record", `{"datetime":"2017-05-26T16:47:41+0100","aCode":"x","acc":"C0A0","Act":"Acc"}`, JSONSIEMv1, schema.SegCg.Name},
		{"legacy url protect record", `{"datetime":"2017-05-26T16:47:41+0100","reason":"malicious","url":"http://x"}`, JSONSIEMv1, schema.SegCg.Name},
		{"type without a SIEM marker", `{"type":"receipt"}`, JSONUnknown, ""},
		{"datetime alone", `{"datetime":"2017-05-26T16:47:41+0100"}`, JSONUnknown, ""},
		{"empty object", `{}`, JSONUnknown, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tt.obj), &obj); err != nil {
				t.Fatal(err)
			}
			got := ClassifyJSON(obj)
			if got.Kind != tt.kind || got.Table != tt.table {
				t.Errorf("ClassifyJSON = %+v, want %s %q", got, tt.kind, tt.table)
			}
		})
	}
}
