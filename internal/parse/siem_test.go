package parse

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSplitSIEMRecords(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one per line", "datetime=2019-01-01T00:00:00+0000|a=1\ndatetime=2019-01-01T00:00:01+0000|a=2\n", []string{
			"datetime=2019-01-01T00:00:00+0000|a=1", "datetime=2019-01-01T00:00:01+0000|a=2"}},
		{"CRLF and blank lines", "datetime=2019-01-01T00:00:00+0000|a=1\r\n\r\n  \n", []string{"datetime=2019-01-01T00:00:00+0000|a=1"}},
		{"concatenated after an empty value", "datetime=2019-01-01T00:00:00+0000|h=datetime=2019-01-01T00:00:01+0000|a=2", []string{
			"datetime=2019-01-01T00:00:00+0000|h=", "datetime=2019-01-01T00:00:01+0000|a=2"}},
		{"concatenated after a value", "datetime=2019-01-01T00:00:00+0000|t=Todatetime=2019-01-01T00:00:01+0000|a=2", []string{
			"datetime=2019-01-01T00:00:00+0000|t=To", "datetime=2019-01-01T00:00:01+0000|a=2"}},
		{"datetime key after a bar is not a new record", "aCode=1|datetime=2019-01-01T00:00:00+0000|a=1", []string{
			"aCode=1|datetime=2019-01-01T00:00:00+0000|a=1"}},
		{"datetime word without a date", "datetime=soon|x=datetime=later", []string{"datetime=soon|x=datetime=later"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SplitSIEMRecords(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseSIEMLine(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		typ    string
		time   string
		values map[string]string
		issue  string
	}{
		{"receipt from the docs", `datetime=2017-05-26T16:47:41+0100|aCode=7O7I|acc=C0A0|SpamLimit=0|IP=123.123.123.123|Dir=Internal|Subject=\message subject\|SpamProcessingDetail={"spf":{"info":"SPF_FAIL","allow":true}}|SpamScore=1`,
			SIEMReceipt, "2017-05-26T15:47:41Z", map[string]string{"Subject": "message subject", "SpamProcessingDetail": `{"spf":{"info":"SPF_FAIL","allow":true}}`, "IP": "123.123.123.123"}, ""},
		{"rejected receipt has no receipt key", "datetime=2019-11-25T13:44:46+0200|aCode=Y|acc=C|Act=Rej|RejInfo=Poor Reputation Sender.|RejType=IP Found in RBL|RejCode=550|Dir=Inbound|headerFrom=",
			SIEMReceipt, "2019-11-25T11:44:46Z", map[string]string{"RejType": "IP Found in RBL", "headerFrom": ""}, ""},
		{"process with quoted names", `datetime=2019-11-25T13:45:02+0200|Act=Acc|AttNames="a.docx", "b|c.xlsx"|MsgSize=10`,
			SIEMProcess, "2019-11-25T11:45:02Z", map[string]string{"AttNames": `"a.docx", "b|c.xlsx"`, "MsgSize": "10"}, ""},
		{"delivery with wrapped error", `datetime=2021-02-17T10:26:00+0000|Delivered=false|Err=\550 5.1.1 user unknown\|Snt=2048|`,
			SIEMDelivery, "2021-02-17T10:26:00Z", map[string]string{"Err": "550 5.1.1 user unknown", "Snt": "2048"}, ""},
		{"journal", "datetime=2019-11-25T13:45:18+0200|RcptActType=Jnl|RcptHdrType=To", SIEMJournal, "2019-11-25T11:45:18Z", map[string]string{"RcptHdrType": "To"}, ""},
		{"av before attachment protect", "datetime=2021-03-05T16:25:17+0000|CustomerIP=true|fileName=x.xlsm", SIEMAV, "2021-03-05T16:25:17Z", nil, ""},
		{"attachment protect", "datetime=2017-05-23T21:45:21+0100|fileName=1XCOLUMN.PVC|md5=7b52", SIEMAttachmentProtect, "2017-05-23T20:45:21Z", nil, ""},
		{"url protect", "datetime=2017-05-26T19:22:37+0100|reason=malicious|url=http://x.example/?a=1", SIEMURLProtect, "2017-05-26T18:22:37Z", map[string]string{"url": "http://x.example/?a=1"}, ""},
		{"bar inside a value", "datetime=2021-03-04T21:31:08+0000|ScanResultInfo=Blocked|URL=https://d.example/?a=1|b=2|UrlCategory=Phishing",
			SIEMInternalEmailProtect, "2021-03-04T21:31:08Z", map[string]string{"URL": "https://d.example/?a=1", "b": "2"}, ""},
		{"spam event", "datetime=2021-03-05T18:18:39+0000|SourceIP=0.0.0.0|Sender=a@b", SIEMSpam, "2021-03-05T18:18:39Z", nil, ""},
		{"impersonation", "datetime=2020-07-27T00:39:59+0100|Action=Hold|TaggedMalicious=true", SIEMImpersonationProtect, "2020-07-26T23:39:59Z", nil, ""},
		{"negative offset", "datetime=2017-05-26T16:47:41-0400|Act=Acc|Dir=Inbound", SIEMReceipt, "2017-05-26T20:47:41Z", nil, ""},
		{"unterminated backslash keeps the text", `datetime=2017-05-26T16:47:41+0000|Subject=\open|IP=192.0.2.1`, "", "2017-05-26T16:47:41Z", map[string]string{"Subject": `\open`, "IP": "192.0.2.1"}, ""},
		{"no datetime", "aCode=x|Act=Acc|Dir=Inbound", SIEMReceipt, "", nil, "no datetime"},
		{"bad datetime", "datetime=yesterday|aCode=x", "", "", map[string]string{"datetime": "yesterday"}, `unreadable datetime "yesterday"`},
		{"no keys", "just some text", "", "", nil, "no key=value fields"},
		{"empty", "", "", "", nil, "empty record"},
		{"text without a key stays in the previous value", "datetime=2019-01-01T00:00:00+0000|a=1|???", "", "2019-01-01T00:00:00Z", map[string]string{"a": "1|???"}, ""},
		{"leading text without a key", "???|datetime=2019-01-01T00:00:00+0000|a=1", "", "2019-01-01T00:00:00Z", map[string]string{"a": "1"}, "text without a key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ParseSIEMLine(tt.in)
			if r.Raw != tt.in {
				t.Errorf("Raw = %q", r.Raw)
			}
			if r.Type != tt.typ {
				t.Errorf("Type = %q, want %q", r.Type, tt.typ)
			}
			gotTime := ""
			if !r.Time.IsZero() {
				gotTime = r.Time.Format(time.RFC3339)
			}
			if gotTime != tt.time {
				t.Errorf("Time = %q, want %q", gotTime, tt.time)
			}
			for k, v := range tt.values {
				if got, ok := r.Get(k); !ok || got != v {
					t.Errorf("Get(%q) = %q, %v; want %q", k, got, ok, v)
				}
			}
			if tt.issue == "" && len(r.Issues) > 0 {
				t.Errorf("unexpected issues %q", r.Issues)
			}
			if tt.issue != "" && !slices.ContainsFunc(r.Issues, func(s string) bool { return strings.Contains(s, tt.issue) }) {
				t.Errorf("Issues = %q, want one containing %q", r.Issues, tt.issue)
			}
		})
	}
}

func TestSIEMGetCase(t *testing.T) {
	r := ParseSIEMLine("datetime=2019-01-01T00:00:00+0000|sourceIp=192.0.2.1|IP=192.0.2.2")
	if v, _ := r.Get("SourceIP"); v != "192.0.2.1" {
		t.Errorf("case-insensitive Get = %q", v)
	}
	if _, ok := r.Get("Rcpt"); ok {
		t.Error("Get found an absent key")
	}
}

// TestParseSIEMGolden parses testdata/siem_kv.log (split into records) and compares with
// testdata/siem_kv.golden.json. Regenerate with: go test ./internal/parse -update
func TestParseSIEMGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "siem_kv.log"))
	if err != nil {
		t.Fatal(err)
	}
	var got []SIEMRecord
	for _, rec := range SplitSIEMRecords(string(in)) {
		got = append(got, ParseSIEMLine(rec))
	}
	out, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	golden := filepath.Join("testdata", "siem_kv.golden.json")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/parse -update)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("output differs from %s; inspect and regenerate with -update", golden)
	}
}

// FuzzParseSIEMLine checks that parsing never panics, keeps the raw text, gives UTC times, produces keys that
// would be read back as keys, and that splitting loses no non-blank byte.
func FuzzParseSIEMLine(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "siem_kv.log")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f.Add(line)
		}
	}
	f.Add(`datetime=2017-05-26T16:47:41+0100|Subject=\a|b\|x=datetime=2017-05-26T16:47:42+0100|y=1`)
	f.Fuzz(func(t *testing.T, s string) {
		r := ParseSIEMLine(s)
		if r.Raw != s {
			t.Fatal("Raw changed")
		}
		if !r.Time.IsZero() && r.Time.Location() != time.UTC {
			t.Fatalf("Time %v not UTC", r.Time)
		}
		for _, fld := range r.Fields {
			if !siemKeyAt.MatchString(fld.Key + "=") {
				t.Fatalf("bad key %q", fld.Key)
			}
		}
		if len(r.Fields) == 0 && len(r.Issues) == 0 {
			t.Fatal("nothing read and no issue reported")
		}
		recs := SplitSIEMRecords(s)
		if joined := strings.Join(recs, ""); joined != nonBlankLines(s) {
			t.Fatalf("split lost or added text: %q -> %q", s, recs)
		}
	})
}

// nonBlankLines returns the concatenation of s's non-blank lines (what SplitSIEMRecords keeps).
func nonBlankLines(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString(line)
		}
	}
	return b.String()
}
