package rawlog

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/normalize"
	"github.com/castwatch/castwatch/internal/parse"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/testutil"
)

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testOpts() Options {
	return Options{Tenant: "acme", Now: func() time.Time { return testNow }}
}

// collect runs src and returns every item.
func collect(t *testing.T, src io.Reader, name string, opts Options) ([]Item, Stats, error) {
	t.Helper()
	var items []Item
	st, err := Run(context.Background(), src, name, opts, func(it Item) error {
		items = append(items, it)
		return nil
	})
	return items, st, err
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expectedEvents is what normalize gives for a stored row (0 when the table has no mapping).
func expectedEvents(t *testing.T, it Item) int {
	t.Helper()
	f, ok := normalize.For(it.Table.Name)
	if !ok {
		return 0
	}
	evs, err := f(it.Row)
	if err != nil {
		t.Fatalf("normalize %s: %v", it.Table.Name, err)
	}
	return len(evs)
}

func TestMixedFile(t *testing.T) {
	items, st, err := collect(t, bytes.NewReader(readFixture(t, "mixed.log")), "mixed.log", testOpts())
	if err != nil {
		t.Fatal(err)
	}
	wantReasons := map[string]int{
		ReasonAPIFailure: 1, "decode Audit_CL": 1, ReasonInvalidJSON: 1, ReasonNoTable: 1, ReasonNotObject: 2,
		ReasonUnknownFormat: 1, parse.ReasonCEFUnmatched: 1, parse.ReasonSIEMType: 1,
	}
	if !reflect.DeepEqual(st.Reasons, wantReasons) {
		t.Errorf("reasons = %v, want %v", st.Reasons, wantReasons)
	}
	if st.Lines != 16 || st.Blank != 1 || st.Rows != 4 || st.Rejected != 9 || st.Skipped != 1 || st.Skips["empty page"] != 1 {
		t.Errorf("stats = %+v", st)
	}
	wantFormats := map[parse.Format]int{parse.FormatSIEMKV: 3, parse.FormatAuditKV: 2, parse.FormatCEF: 2, parse.FormatJSON: 7, parse.FormatUnknown: 1}
	if !reflect.DeepEqual(st.Formats, wantFormats) {
		t.Errorf("formats = %v, want %v", st.Formats, wantFormats)
	}
	rawTypes := map[int]string{3: schema.EventAppActivity, 4: schema.EventDLPEmailAlertOutFail, 5: schema.EventFailedAppLogin}
	events := 0
	for _, it := range items {
		events += len(it.Events)
		switch {
		case it.Row != nil:
			if it.Rejection != nil || it.Skip != "" {
				t.Errorf("line %d: row with a rejection or skip", it.Line)
			}
			if got, want := len(it.Events), expectedEvents(t, it); got != want {
				t.Errorf("line %d: %d events, normalize gives %d", it.Line, got, want)
			}
			if it.Row[0] != "acme" || it.Row[1] != testNow {
				t.Errorf("line %d: tenant/TimeGenerated = %v/%v", it.Line, it.Row[0], it.Row[1])
			}
		case rawTypes[it.Line] != "":
			if len(it.Events) != 1 || it.Events[0].EventType != rawTypes[it.Line] {
				t.Fatalf("line %d: events %+v, want one %s", it.Line, it.Events, rawTypes[it.Line])
			}
			ev := it.Events[0]
			if ev.Tenant != "acme" || !strings.HasPrefix(ev.ID, "acme/raw/") || ev.Table != parse.RawTable {
				t.Errorf("line %d: tenant %q id %q table %q", it.Line, ev.Tenant, ev.ID, ev.Table)
			}
		}
	}
	if events != st.Events {
		t.Errorf("items carry %d events, stats say %d", events, st.Events)
	}
	byLine := map[int][]Item{}
	for _, it := range items {
		byLine[it.Line] = append(byLine[it.Line], it)
	}
	if l2 := byLine[2]; len(l2) != 2 || l2[0].Index != 0 || l2[1].Index != 1 || l2[0].Table != &schema.SegCg || l2[1].Table != &schema.SegCg {
		t.Errorf("concatenated SIEM records on line 2: %+v", l2)
	}
	if l6 := byLine[6]; len(l6) != 1 || l6[0].Table != &schema.Audit || len(l6[0].Events) != 1 || l6[0].Events[0].EventType != schema.EventAppLogin {
		t.Errorf("audit JSON line 6: %+v", l6)
	}
	if l13 := byLine[13]; len(l13) != 2 || l13[1].Index != 1 || l13[1].Rejection == nil || l13[1].Rejection.Reason != ReasonNotObject {
		t.Errorf("array line 13: %+v", l13)
	}
	if r := byLine[14][0].Rejection; r == nil || r.Source != "mixed.log" || r.Line != 14 || r.Raw != "just some text" {
		t.Errorf("garbage line 14: %+v", r)
	}
}

func TestOversizeLine(t *testing.T) {
	long := strings.Repeat("x", 5000)
	tests := []struct {
		name    string
		input   string
		max     int
		rejects []int // line numbers rejected as too long
		read    int   // lines read as records/events after them
	}{
		{"long line in the middle", "datetime=2017-05-26T16:47:41+0100|" + long + "\n" + testKV + "\n", 200, []int{1}, 1},
		{"long last line without a newline", testKV + "\n" + long, 200, []int{2}, 1},
		{"line exactly at the limit is read", testKV + "\n", len(testKV), nil, 1},
		{"one byte over the limit", testKV + "\n" + testKV + "\n", len(testKV) - 1, []int{1, 2}, 0},
		{"CRLF does not count", testKV + "\r\n" + testKV + "\r\n", len(testKV), nil, 2},
		{"two long lines, records between", long + "\n" + testKV + "\n" + long + long + "\n" + testKV, 1000, []int{1, 3}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOpts()
			opts.MaxLineBytes = tt.max
			opts.MaxRawBytes = 64
			items, st, err := collect(t, strings.NewReader(tt.input), "big.log", opts)
			if err != nil {
				t.Fatal(err)
			}
			var rejected []int
			read := 0
			for _, it := range items {
				if it.Rejection != nil {
					if it.Rejection.Reason != ReasonLineTooLong || it.Rejection.Line != it.Line || it.Rejection.Source != "big.log" {
						t.Errorf("rejection %+v", it.Rejection)
					}
					if len(it.Rejection.Raw) > 64+len("…") {
						t.Errorf("raw kept %d bytes", len(it.Rejection.Raw))
					}
					rejected = append(rejected, it.Line)
				} else if it.Row != nil {
					read++
				}
			}
			if !reflect.DeepEqual(rejected, tt.rejects) || read != tt.read {
				t.Errorf("rejected lines %v read %d, want %v and %d", rejected, read, tt.rejects, tt.read)
			}
			if st.Reasons[ReasonLineTooLong] != len(tt.rejects) {
				t.Errorf("count %d", st.Reasons[ReasonLineTooLong])
			}
		})
	}
}

// TestOversizeLineNotHeld feeds a 64 MiB line through a reader that fails if anything asks for it whole: the
// bufio reader is bounded by the line limit, so reading works in small pieces.
func TestOversizeLineNotHeld(t *testing.T) {
	const size = 64 << 20
	src := io.MultiReader(strings.NewReader("{"), &repeatReader{b: 'a', n: size}, strings.NewReader("\n"+testKV+"\n"))
	opts := testOpts()
	items, st, err := collect(t, &maxReadSize{r: src, max: 1 << 20}, "huge.log", opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reasons[ReasonLineTooLong] != 1 || st.Rows != 1 || len(items) != 2 || items[1].Line != 2 {
		t.Errorf("stats %+v items %d", st, len(items))
	}
	if st.Bytes < size {
		t.Errorf("bytes %d", st.Bytes)
	}
}

type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = r.b
	}
	r.n -= k
	return k, nil
}

// maxReadSize fails when asked to read into a buffer larger than max.
type maxReadSize struct {
	r   io.Reader
	max int
}

func (m *maxReadSize) Read(p []byte) (int, error) {
	if len(p) > m.max {
		return 0, errors.New("read buffer larger than the line limit")
	}
	return m.r.Read(p)
}

const testKV = "datetime=2019-11-25T13:45:18+0200|aCode=xl|acc=CSA44A118|Sender=a@b.example|Rcpt=c@d.example|RcptActType=Jnl|Dir=Internal"

func TestCompressedInputs(t *testing.T) {
	plain := readFixture(t, "mixed.log")
	_, want, err := collect(t, bytes.NewReader(plain), "mixed.log", testOpts())
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()

	var zbuf bytes.Buffer
	zipw := zip.NewWriter(&zbuf)
	for _, name := range []string{"receipt_20191125134532478.log", "dir/process_20191125134532478.log"} {
		w, err := zipw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(plain)
	}
	zipw.Close()
	zipPath := filepath.Join(t.TempDir(), "siem.zip")
	if err := os.WriteFile(zipPath, zbuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	double := func(s Stats) Stats {
		d := newStats()
		d.Bytes, d.Lines, d.Blank, d.Rows, d.Events, d.Rejected, d.Skipped = 2*s.Bytes, 2*s.Lines, 2*s.Blank, 2*s.Rows, 2*s.Events, 2*s.Rejected, 2*s.Skipped
		for k, v := range s.Reasons {
			d.Reasons[k] = 2 * v
		}
		for k, v := range s.Skips {
			d.Skips[k] = 2 * v
		}
		for k, v := range s.Formats {
			d.Formats[k] = 2 * v
		}
		return d
	}
	tests := []struct {
		name    string
		run     func(emit func(Item) error) (Stats, error)
		want    Stats
		sources []string
	}{
		{"gzip stream", func(emit func(Item) error) (Stats, error) {
			return Run(context.Background(), bytes.NewReader(gz.Bytes()), "mixed.log.gz", testOpts(), emit)
		}, want, []string{"mixed.log.gz"}},
		{"zip stream", func(emit func(Item) error) (Stats, error) {
			return Run(context.Background(), bytes.NewReader(zbuf.Bytes()), "siem.zip", testOpts(), emit)
		}, double(want), []string{"siem.zip!receipt_20191125134532478.log", "siem.zip!dir/process_20191125134532478.log"}},
		{"zip file", func(emit func(Item) error) (Stats, error) {
			return RunFile(context.Background(), zipPath, testOpts(), emit)
		}, double(want), []string{zipPath + "!receipt_20191125134532478.log", zipPath + "!dir/process_20191125134532478.log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sources []string
			got, err := tt.run(func(it Item) error {
				if len(sources) == 0 || sources[len(sources)-1] != it.Source {
					sources = append(sources, it.Source)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("stats = %+v\nwant %+v", got, tt.want)
			}
			if !reflect.DeepEqual(sources, tt.sources) {
				t.Errorf("sources = %q, want %q", sources, tt.sources)
			}
		})
	}
	t.Run("corrupt gzip", func(t *testing.T) {
		bad := append([]byte{}, gz.Bytes()[:20]...)
		_, _, err := collect(t, bytes.NewReader(bad), "bad.gz", testOpts())
		if err == nil {
			t.Error("no error for a truncated gzip stream")
		}
	})
	t.Run("corrupt zip", func(t *testing.T) {
		bad := append([]byte("PK\x03\x04"), bytes.Repeat([]byte{0}, 50)...)
		_, _, err := collect(t, bytes.NewReader(bad), "bad.zip", testOpts())
		if err == nil {
			t.Error("no error for a zip without a directory")
		}
	})
}

func TestMaxFileBytes(t *testing.T) {
	input := strings.Repeat(testKV+"\n", 100)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(input))
	zw.Close()
	tests := []struct {
		name  string
		src   []byte
		max   int64
		fails bool
	}{
		{"under the limit", []byte(input), int64(len(input)), false},
		{"over the limit", []byte(input), int64(len(input)) - 1, true},
		{"decompressed size counts", gz.Bytes(), int64(len(input)) / 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOpts()
			opts.MaxFileBytes = tt.max
			items, st, err := collect(t, bytes.NewReader(tt.src), "f.log", opts)
			if !tt.fails {
				if err != nil || st.Rows != 100 {
					t.Errorf("err %v rows %d", err, st.Rows)
				}
				return
			}
			if !errors.Is(err, ErrFileTooLarge) {
				t.Fatalf("err = %v, want ErrFileTooLarge", err)
			}
			last := items[len(items)-1]
			if last.Rejection == nil || last.Rejection.Reason != ReasonFileTooLarge || st.Reasons[ReasonFileTooLarge] != 1 {
				t.Errorf("last item %+v", last)
			}
			if st.Rows >= 100 {
				t.Errorf("read %d rows past the limit", st.Rows)
			}
		})
	}
}

func TestForcedFormat(t *testing.T) {
	tests := []struct {
		name   string
		format parse.Format
		line   string
		event  string // event type of a raw event, "" for none
		row    bool
		reason string
	}{
		{"siem line read the way Exabeam reads it", parse.FormatAuditKV, "datetime=2021-02-17T10:25:00+0000|aCode=f|acc=C0A0|Dir=Outbound|Sender=a@example.com|Rcpt=b@gmail.com|Act=Acc", schema.EventDLPEmailAlertOut, false, ""},
		{"the same line auto-detected is stored", parse.FormatAuto, "datetime=2021-02-17T10:25:00+0000|aCode=f|acc=C0A0|Dir=Outbound|Sender=a@example.com|Rcpt=b@gmail.com|Act=Acc", "", true, ""},
		{"json forced on a kv line", parse.FormatJSON, testKV, "", false, ReasonInvalidJSON},
		{"cef forced on a kv line", parse.FormatCEF, testKV, "", false, parse.ReasonNotCEF},
		{"siem-kv forced on text", parse.FormatSIEMKV, "no keys here", "", false, ReasonSIEMNoFields},
		{"audit-kv forced on json", parse.FormatAuditKV, `{"a":1}`, "", false, parse.ReasonNotExabeam},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOpts()
			opts.Format = tt.format
			items, _, err := collect(t, strings.NewReader(tt.line+"\n"), "f", opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 1 {
				t.Fatalf("%d items", len(items))
			}
			it := items[0]
			if it.Format != tt.format && tt.format != parse.FormatAuto {
				t.Errorf("format %q", it.Format)
			}
			if (it.Row != nil) != tt.row {
				t.Errorf("row = %v", it.Row != nil)
			}
			if tt.event != "" && (len(it.Events) != 1 || it.Events[0].EventType != tt.event) {
				t.Errorf("events %+v", it.Events)
			}
			if tt.reason != "" && (it.Rejection == nil || it.Rejection.Reason != tt.reason) {
				t.Errorf("rejection %+v, want %q", it.Rejection, tt.reason)
			}
		})
	}
}

func TestJSONDocuments(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		rows   int
		table  string
		skips  int
		reason string
	}{
		{"pretty-printed API response", "{\n  \"meta\": {\"status\": 200},\n  \"data\": [\n    {\"dlpLogs\": [\n      {\"senderAddress\":\"a@b.example\",\"recipientAddress\":\"c@d.example\",\"eventTime\":\"2021-10-15T20:41:25+0000\",\"route\":\"inbound\",\"policy\":\"p\",\"action\":\"hold\",\"messageId\":\"<m1@x>\"},\n      {\"senderAddress\":\"a@b.example\",\"recipientAddress\":\"c@d.example\",\"eventTime\":\"2021-10-15T20:41:26+0000\",\"route\":\"inbound\",\"policy\":\"p\",\"action\":\"notification\",\"messageId\":\"<m1@x>\"}\n    ]}\n  ],\n  \"fail\": []\n}\n",
			2, schema.SegDlp.Name, 0, ""},
		{"legacy SIEM json file", `{"type":"MTA","data":[{"acc":"SSSSSS","Sender":"noreply@example.com","datetime":"2021-05-12T02:18:02-0400","AttSize":0,"Act":"Acc","aCode":"S1","AttCnt":0,"AttNames":null,"MsgSize":6065,"MsgId":"<id>","Subject":"Re: x"}]}`,
			1, schema.SegCg.Name, 0, ""},
		{"one-line envelope with a record list", `{"meta":{"status":200},"data":[{"clickLogs":[{"userEmailAddress":"a@b.example","url":"http://x.example","date":"2021-10-16T14:45:34+0000","action":"allow"}]}],"fail":[]}`,
			1, schema.TtpURL.Name, 0, ""},
		{"empty record list", `{"meta":{"status":200},"data":[{"clickLogs":[]}],"fail":[]}`, 0, "", 1, ""},
		{"STIX bundle on one line", `{"type":"bundle","id":"bundle--1","objects":[{"type":"malware","id":"malware--1"},{"type":"indicator","id":"indicator--1","created":"2021-10-29T15:07:26.653Z","pattern":"[url:value = 'http://x.example']","feedType":"malware_grid"}]}`,
			1, schema.ThreatIntel.Name, 1, ""},
		{"broken document", "{\n  \"data\": [\n", 0, "", 0, ReasonInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, st, err := collect(t, strings.NewReader(tt.input), "doc.json", testOpts())
			if err != nil {
				t.Fatal(err)
			}
			if st.Rows != tt.rows || st.Skipped != tt.skips {
				t.Errorf("rows %d skips %d, want %d %d (%+v)", st.Rows, st.Skipped, tt.rows, tt.skips, st)
			}
			for _, it := range items {
				if it.Row != nil && it.Table.Name != tt.table {
					t.Errorf("table %s, want %s", it.Table.Name, tt.table)
				}
			}
			if tt.reason != "" && st.Reasons[tt.reason] != 1 {
				t.Errorf("reasons %v", st.Reasons)
			}
			if tt.reason == "" && st.Rejected != 0 {
				t.Errorf("rejections %v", st.Reasons)
			}
		})
	}
}

// corpusExpect is what each corpus input gives: its table, and the rejections a correct reader must make.
var corpusExpect = map[string]struct {
	table   string
	rejects map[string]int
}{
	"archive_search_logs/test-archive-search-logs.log":                     {schema.ArchiveSearch.Name, nil},
	"audit_events/test-audit-events.log":                                   {schema.Audit.Name, nil},
	"cloud_integrated_logs/test-cloud-integrated-logs.log":                 {schema.CloudIntegrated.Name, nil},
	"dlp_logs/test-dlp-logs.log":                                           {schema.SegDlp.Name, nil},
	"siem_logs/test-siem-v2-logs.log":                                      {schema.SegCg.Name, nil},
	"siem_logs/test-siem-docs-logs.log":                                    {schema.SegCg.Name, nil},
	"siem_logs/test-siem-logs.log":                                         {schema.SegCg.Name, nil},
	"threat_intel_malware_customer/test-threat-intel-malware-customer.log": {schema.ThreatIntel.Name, nil},
	"threat_intel_malware_grid/test-threat-intel-malware-grid.log":         {schema.ThreatIntel.Name, nil},
	"ttp_ap_logs/test-ttp-ap-logs.log":                                     {schema.TtpAttachment.Name, nil},
	"ttp_ip_logs/test-ttp-ip-logs.log":                                     {schema.TtpImpersonation.Name, nil},
	"ttp_url_logs/test-ttp-url-logs.log":                                   {schema.TtpURL.Name, nil},
	// Elastic's pipeline-test wrapper around five release records; the fifth has "released": null, which
	// Message_Release_CL requires (its event time), so it is quarantined.
	"message_release_logs/test-release-logs.json": {schema.MessageRelease.Name, map[string]int{"decode Message_Release_CL": 1}},
}

// TestCorpus reads every raw input of the corpus through detection → table → row → normalized events.
func TestCorpus(t *testing.T) {
	dir := testutil.CorpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*", "test-*"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		if strings.HasSuffix(rel, "-expected.json") {
			continue
		}
		want, ok := corpusExpect[filepath.ToSlash(rel)]
		if !ok {
			t.Errorf("corpus input %s has no expectation", rel)
			continue
		}
		checked++
		t.Run(rel, func(t *testing.T) {
			items, st, err := collect(t, openFile(t, f), rel, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			got := st.Reasons
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, want.rejects) {
				for _, it := range items {
					if it.Rejection != nil {
						t.Logf("line %d: %s: %s", it.Line, it.Rejection.Reason, it.Rejection.Detail)
					}
				}
				t.Errorf("rejections %v, want %v", st.Reasons, want.rejects)
			}
			if st.Rows == 0 {
				t.Fatal("no rows")
			}
			for _, it := range items {
				if it.Row == nil {
					continue
				}
				if it.Table.Name != want.table {
					t.Errorf("line %d: table %s, want %s", it.Line, it.Table.Name, want.table)
				}
				if got, w := len(it.Events), expectedEvents(t, it); got != w {
					t.Errorf("line %d: %d events, normalize gives %d", it.Line, got, w)
				}
				for _, ev := range it.Events {
					if ev.Tenant != "acme" || ev.EventType == "" {
						t.Errorf("line %d: event %+v", it.Line, ev)
					}
				}
			}
			if want.table == schema.Audit.Name && st.Events != st.Rows {
				t.Errorf("audit: %d events for %d rows", st.Events, st.Rows)
			}
		})
	}
	if checked != len(corpusExpect) {
		t.Errorf("checked %d corpus inputs, expected %d", checked, len(corpusExpect))
	}
}

func openFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestQuarantined(t *testing.T) {
	r := Rejection{Source: "a.log", Line: 7, Reason: ReasonInvalidJSON, Detail: "unexpected end", Raw: "{"}
	q := r.Quarantined("acme", time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("x", 3600)))
	if q.Tenant != "acme" || q.Source != "a.log" || q.Position != "line 7" || q.Reason != "invalid json: unexpected end" || q.Raw != "{" || q.Time != time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("%+v", q)
	}
	if q := (Rejection{Reason: ReasonUnknownFormat}).Quarantined("", time.Time{}); q.Reason != ReasonUnknownFormat {
		t.Errorf("reason without detail = %q", q.Reason)
	}
}

func TestTruncateRaw(t *testing.T) {
	opts := testOpts()
	opts.MaxRawBytes = 5
	items, _, _ := collect(t, strings.NewReader("ééééé garbage\n"), "x", opts)
	if raw := items[0].Rejection.Raw; raw != "éé…" {
		t.Errorf("raw = %q (cut inside a rune?)", raw)
	}
}

func TestStopsAndCancels(t *testing.T) {
	input := strings.Repeat(testKV+"\n", 10)
	t.Run("emit error", func(t *testing.T) {
		boom := errors.New("boom")
		n := 0
		_, err := Run(context.Background(), strings.NewReader(input), "x", testOpts(), func(Item) error {
			n++
			if n == 3 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) || n != 3 {
			t.Errorf("err %v after %d items", err, n)
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		_, err := Run(ctx, strings.NewReader(input), "x", testOpts(), func(Item) error {
			n++
			if n == 2 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || n != 2 {
			t.Errorf("err %v after %d items", err, n)
		}
	})
	t.Run("iterator break", func(t *testing.T) {
		n := 0
		for it, err := range Parse(context.Background(), strings.NewReader(input), "x", testOpts()) {
			if err != nil {
				t.Fatal(err)
			}
			if it.Row == nil {
				t.Fatal("no row")
			}
			n++
			if n == 4 {
				break
			}
		}
		if n != 4 {
			t.Errorf("n = %d", n)
		}
	})
	t.Run("iterator reports a read error last", func(t *testing.T) {
		opts := testOpts()
		opts.MaxFileBytes = int64(len(testKV)) * 3
		var last error
		items := 0
		for _, err := range Parse(context.Background(), strings.NewReader(input), "x", opts) {
			if err != nil {
				last = err
				continue
			}
			items++
		}
		if !errors.Is(last, ErrFileTooLarge) || items == 0 {
			t.Errorf("last err %v after %d items", last, items)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := RunFile(context.Background(), filepath.Join(t.TempDir(), "nope.log"), testOpts(), func(Item) error { return nil }); err == nil {
			t.Error("no error")
		}
	})
}

func TestReplayIsStable(t *testing.T) {
	in := readFixture(t, "mixed.log")
	ids := func() []string {
		var out []string
		_, _, err := collect(t, bytes.NewReader(in), "m", testOpts())
		if err != nil {
			t.Fatal(err)
		}
		items, _, _ := collect(t, bytes.NewReader(in), "m", testOpts())
		for _, it := range items {
			for _, ev := range it.Events {
				out = append(out, ev.ID)
			}
		}
		return out
	}
	a, b := ids(), ids()
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Errorf("event ids differ between reads: %v vs %v", a, b)
	}
}
