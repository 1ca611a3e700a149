package siemlegacy

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/testutil"
)

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// decoded decodes a converted record into a Seg_Cg_CL row and returns its columns by name.
func decoded(t *testing.T, rec json.RawMessage) map[string]any {
	t.Helper()
	row, err := schema.SegCg.Decode("acme", rec, testNow)
	if err != nil {
		t.Fatalf("converted record does not decode into Seg_Cg_CL: %v\n%s", err, rec)
	}
	out := map[string]any{}
	for i, c := range schema.SegCg.Columns {
		if i < len(row) {
			out[c.Name] = row[i]
		}
	}
	return out
}

func TestConvertKeyValueLines(t *testing.T) {
	lines := readLines(t, filepath.Join("testdata", "kv_lines.log"))
	want := []struct {
		logtype, account, sender string
		utc                      time.Time
	}{
		{"email_receipt", "C0A0", "from@mimecast.com", time.Date(2017, 5, 26, 15, 47, 41, 0, time.UTC)},
		{"email_receipt", "CSA44A118", "sender1@example.net", time.Date(2019, 11, 25, 11, 44, 46, 0, time.UTC)},
		{"email_receipt", "CSA44A118", "noreply@example.com", time.Date(2019, 11, 25, 11, 45, 1, 0, time.UTC)},
		{"email_process", "CSA44A118", "", time.Date(2019, 11, 25, 11, 45, 2, 0, time.UTC)},
		{"email_delivery", "CSA44A118", "noreply@example.com", time.Date(2019, 11, 25, 11, 45, 2, 0, time.UTC)},
		{"email_journal", "CSA44A118", "user3@example.com", time.Date(2019, 11, 25, 11, 45, 18, 0, time.UTC)},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines in testdata", len(lines))
	}
	for i, line := range lines {
		t.Run(want[i].logtype+"/"+want[i].utc.Format(time.TimeOnly), func(t *testing.T) {
			convs := ConvertLine(line, "")
			if len(convs) != 1 || convs[0].Record == nil {
				t.Fatalf("conversion %+v", convs)
			}
			var rec map[string]any
			_ = json.Unmarshal(convs[0].Record, &rec)
			if ms := int64(rec["timestamp"].(float64)); ms != want[i].utc.UnixMilli() {
				t.Fatalf("timestamp %d, want %s in UTC (%d)", ms, want[i].utc, want[i].utc.UnixMilli())
			}
			cols := decoded(t, convs[0].Record)
			if cols["Logtype"] != want[i].logtype || cols["accountId"] != want[i].account {
				t.Fatalf("Logtype %v account %v, want %s %s", cols["Logtype"], cols["accountId"], want[i].logtype, want[i].account)
			}
			if want[i].sender != "" && cols["senderEnvelope"] != want[i].sender {
				t.Fatalf("senderEnvelope %v, want %s", cols["senderEnvelope"], want[i].sender)
			}
		})
	}
	// Records concatenated without a separator are split.
	convs := ConvertLine(lines[1]+lines[2], "")
	if len(convs) != 2 || convs[0].Record == nil || convs[1].Record == nil {
		t.Fatalf("concatenated records: %+v", convs)
	}
}

func TestConvertRejectsWhatIsNotARecord(t *testing.T) {
	tests := []struct {
		name, line, reason string
	}{
		{"no datetime", "aCode=x|acc=C0A0|Act=Acc|Dir=Inbound", "no datetime"},
		{"bad datetime", "datetime=2019-13-45T99:00:00+0200|aCode=x|acc=C0A0|Act=Acc|Dir=Inbound", "datetime"},
		{"no type", "datetime=2019-11-25T13:44:46+0200|aCode=x|acc=C0A0|Foo=bar", "unknown siem log type"},
		{"broken json", `{"Act":"Acc","datetime":`, "invalid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			convs := ConvertLine(tc.line, "")
			if len(convs) != 1 || convs[0].Record != nil || !strings.Contains(convs[0].Reason, tc.reason) || convs[0].Raw == "" {
				t.Fatalf("conversion %+v, want a failure mentioning %q", convs, tc.reason)
			}
		})
	}
	if got := ConvertLine("   ", ""); got != nil {
		t.Fatalf("blank line gave %+v", got)
	}
}

// TestConvertCorpusJSONLines converts the recorded json-format legacy lines, including a line with two objects.
func TestConvertCorpusJSONLines(t *testing.T) {
	dir := filepath.Join(testutil.CorpusDir(t), "siem_logs")
	tests := []struct {
		file string
		want int
	}{
		{"test-siem-logs.log", 8},
		{"test-siem-docs-logs.log", 11},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			n := 0
			logtypes := map[any]int{}
			for i, line := range readLines(t, filepath.Join(dir, tc.file)) {
				for _, conv := range ConvertLine(line, "C0A0") {
					if conv.Record == nil {
						t.Fatalf("line %d: %s", i+1, conv.Reason)
					}
					cols := decoded(t, conv.Record)
					logtypes[cols["Logtype"]]++
					n++
				}
			}
			if n != tc.want {
				t.Fatalf("%d records, want %d", n, tc.want)
			}
			if len(logtypes) < 3 {
				t.Fatalf("log types %v: want the records told apart", logtypes)
			}
		})
	}
}

type env struct {
	api *fakeV1
	bus *bus.Bus
	cfg Config
}

func newEnv(t *testing.T, files ...*legacyFile) *env {
	api := newFakeV1(t, files...)
	b := openBus(t)
	return &env{api: api, bus: b, cfg: Config{Tenant: "acme", Client: newHTTPClient(t, api.srv.URL, newSigner(t, testSecret)),
		Publisher: b, Checkpoints: b.Checkpoints(), Now: func() time.Time { return testNow }, ChunkSize: 2, TempDir: t.TempDir()}}
}

func (e *env) collector(t *testing.T) *Collector {
	t.Helper()
	c, err := New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func kvFiles(t *testing.T) []*legacyFile {
	lines := readLines(t, filepath.Join("testdata", "kv_lines.log"))
	return []*legacyFile{
		{name: "receipt_20191125134532478.log", body: strings.Join(lines[:3], "\n") + "\n"},
		{name: "process_20191125134532478.log", body: lines[3] + "\r\n"},
		{name: "delivery_20191125134532478.log", body: strings.Join(lines[4:], "\n")},
	}
}

func processingIDs(t *testing.T, bs []collect.Batch) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, b := range bs {
		if b.Table != schema.SegCg.Name || b.Stream != Stream {
			t.Fatalf("batch %s/%s", b.Stream, b.Table)
		}
		for _, r := range b.Records {
			cols := decoded(t, r)
			out[cols["processingId"].(string)]++
		}
	}
	return out
}

func TestFollowsTokenChainToLastToken(t *testing.T) {
	e := newEnv(t, kvFiles(t)...)
	c := e.collector(t)
	st, err := c.Collect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Pages != 3 || st.Rows != 6 || !st.CaughtUp || st.Malformed != 0 {
		t.Fatalf("stats %+v: want 3 files, 6 records, caught up", st)
	}
	if got := e.api.tokensAsked(); strings.Join(got, ",") != ",tok-1,tok-2,tok-3" {
		t.Fatalf("tokens asked %q", got)
	}
	cp, found, err := LoadCheckpoint(testCtx(t), e.cfg.Checkpoints, "acme")
	if err != nil || !found || cp.Token != "tok-3" || cp.Files != 3 || cp.LastFile != "delivery_20191125134532478.zip" {
		t.Fatalf("checkpoint %+v %v %v", cp, found, err)
	}
	// The next run asks with the saved token and finds nothing new.
	st, err = c.Collect(testCtx(t))
	if err != nil || st.Pages != 0 || !st.CaughtUp {
		t.Fatalf("second run %+v %v", st, err)
	}
	ids := processingIDs(t, drainBatches(t, e.bus))
	if len(ids) != 6 {
		t.Fatalf("%d distinct records on the bus, want 6", len(ids))
	}
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("record %s published %d times", id, n)
		}
	}
}

func TestWrongKeyIsAPermanentError(t *testing.T) {
	e := newEnv(t, kvFiles(t)...)
	e.cfg.Client = newHTTPClient(t, e.api.srv.URL, newSigner(t, "d3Jvbmc="))
	_, err := e.collector(t).Collect(testCtx(t))
	var re *collect.RunError
	var ae *mimecast.APIError
	if !errors.As(err, &re) || !re.Permanent() || !errors.As(err, &ae) || ae.Code != "err_xdk_invalid_signature" {
		t.Fatalf("error %v: want a permanent invalid-signature RunError", err)
	}
	if e.api.sigFails != 2 {
		t.Fatalf("%d signed attempts refused, want 2 (one fresh signature, then give up)", e.api.sigFails)
	}
	if _, found, _ := LoadCheckpoint(testCtx(t), e.cfg.Checkpoints, "acme"); found {
		t.Fatal("checkpoint written after a refused call")
	}
}

func TestInvalidTokenRestartsWithoutToken(t *testing.T) {
	e := newEnv(t, kvFiles(t)...)
	cp, _ := json.Marshal(Checkpoint{Token: "tok-expired"})
	if err := e.cfg.Checkpoints.Put(testCtx(t), collect.CheckpointKey("acme", Stream), cp); err != nil {
		t.Fatal(err)
	}
	e.api.invalid["tok-expired"] = true
	st, err := e.collector(t).Collect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Restarts != 1 || st.Pages != 3 || !st.CaughtUp {
		t.Fatalf("stats %+v: want one restart and the whole chain", st)
	}
	if got := e.api.tokensAsked(); strings.Join(got, ",") != "tok-expired,,tok-1,tok-2,tok-3" {
		t.Fatalf("tokens asked %q", got)
	}
}

func TestEmptyOrNonZipAnswerIsRetriedLater(t *testing.T) {
	for _, answer := range []string{"empty", "notzip"} {
		t.Run(answer, func(t *testing.T) {
			files := kvFiles(t)
			files[1].answer = []string{answer}
			e := newEnv(t, files...)
			c := e.collector(t)
			st, err := c.Collect(testCtx(t))
			if err != nil {
				t.Fatalf("no-data answer failed the run: %v", err)
			}
			if st.NoData != 1 || st.Pages != 1 || st.CaughtUp {
				t.Fatalf("stats %+v: want the run to stop after the first file", st)
			}
			if cp, _, _ := LoadCheckpoint(testCtx(t), e.cfg.Checkpoints, "acme"); cp.Token != "tok-1" {
				t.Fatalf("token %q moved past a file that was not read", cp.Token)
			}
			st, err = c.Collect(testCtx(t))
			if err != nil || st.Pages != 2 || !st.CaughtUp {
				t.Fatalf("next run %+v %v", st, err)
			}
			if ids := processingIDs(t, drainBatches(t, e.bus)); len(ids) != 6 {
				t.Fatalf("%d records", len(ids))
			}
		})
	}
}

func TestPublishFailureMidFileThenRerun(t *testing.T) {
	e := newEnv(t, kvFiles(t)...)
	// receipt file: 3 records in chunks of 2 → publishes 1 and 2; the second fails.
	e.cfg.Publisher = &failingPublisher{next: e.bus, failAt: 2}
	c := e.collector(t)
	st, err := c.Collect(testCtx(t))
	var re *collect.RunError
	if !errors.As(err, &re) || re.Op != "publish" || st.Pages != 0 {
		t.Fatalf("run 1: %+v %v: want a publish failure on the first file", st, err)
	}
	if _, found, _ := LoadCheckpoint(testCtx(t), e.cfg.Checkpoints, "acme"); found {
		t.Fatal("token advanced although the file was not fully published")
	}
	st, err = c.Collect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Pages != 3 || st.Duplicates != 1 {
		t.Fatalf("rerun %+v: want all files and the first chunk dropped as a duplicate", st)
	}
	ids := processingIDs(t, drainBatches(t, e.bus))
	if len(ids) != 6 {
		t.Fatalf("%d records", len(ids))
	}
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("record %s on the bus %d times", id, n)
		}
	}
}

func TestMalformedRecordsCarryPositions(t *testing.T) {
	lines := readLines(t, filepath.Join("testdata", "kv_lines.log"))
	body := lines[0] + "\n\nthis is not a record\n" + lines[1] + "\n" + "aCode=x|acc=C0A0|Act=Acc|Dir=Inbound\n"
	e := newEnv(t, &legacyFile{name: "receipt_1.log", body: body})
	st, err := e.collector(t).Collect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 2 || st.Malformed != 2 {
		t.Fatalf("stats %+v: want 2 records and 2 malformed", st)
	}
	var bad []collect.Malformed
	for _, b := range drainBatches(t, e.bus) {
		bad = append(bad, b.Malformed...)
	}
	if len(bad) != 2 || bad[0].Position != "file receipt_1.log line 3" || bad[1].Position != "file receipt_1.log line 5" {
		t.Fatalf("malformed %+v", bad)
	}
	if !strings.Contains(bad[1].Reason, "no datetime") || bad[0].Raw != "this is not a record" {
		t.Fatalf("malformed %+v", bad)
	}
}

func TestJSONFileFormat(t *testing.T) {
	doc := `{"type":"MTA","data":[
 {"acc":"SSSSSS","Sender":"noreply@example.com","datetime":"2021-05-12T02:18:02-0400","AttSize":0,"Act":"Acc","aCode":"SSSSSSS","AttCnt":0,"AttNames":null,"MsgSize":6065,"MsgId":"<id>","Subject":"Re: [SUB] ENG-0000"},
 "not an object",
 {"acc":"C0A0","datetime":"2021-03-05T18:18:39+0000","MsgId":"<a@b>","Recipient":"r@x.tld","Route":"Inbound","Sender":"s@y.tld","SenderDomain":"y.tld","SourceIP":"0.0.0.0","Subject":"VP","aCode":"azYw"}
]}`
	e := newEnv(t, &legacyFile{name: "process_1.json", body: doc})
	e.cfg.FileFormat = FormatJSON
	st, err := e.collector(t).Collect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 2 || st.Malformed != 1 {
		t.Fatalf("stats %+v", st)
	}
	if got := e.api.requests[0]["data"].([]any)[0].(map[string]any)["fileFormat"]; got != "json" {
		t.Fatalf("fileFormat %v", got)
	}
	var logtypes []any
	var bad []collect.Malformed
	for _, b := range drainBatches(t, e.bus) {
		for _, r := range b.Records {
			cols := decoded(t, r)
			logtypes = append(logtypes, cols["Logtype"])
			if cols["Logtype"] == "email_process" && cols["timestamp"] != float64(time.Date(2021, 5, 12, 6, 18, 2, 0, time.UTC).UnixMilli()) {
				t.Fatalf("timestamp %v: -0400 not converted to UTC", cols["timestamp"])
			}
		}
		bad = append(bad, b.Malformed...)
	}
	if len(logtypes) != 2 || len(bad) != 1 || bad[0].Position != "file process_1.json record 2" {
		t.Fatalf("logtypes %v malformed %+v", logtypes, bad)
	}
}

func TestNewValidates(t *testing.T) {
	b := openBus(t)
	base := Config{Tenant: "acme", Client: newHTTPClient(t, "https://eu-api.mimecast.com", newSigner(t, testSecret)), Publisher: b, Checkpoints: b.Checkpoints()}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"json", func(c *Config) { c.FileFormat = FormatJSON }, ""},
		{"no tenant", func(c *Config) { c.Tenant = "" }, "siem legacy collector: tenant is required"},
		{"no client", func(c *Config) { c.Client = nil }, "siem legacy collector: client, publisher and checkpoint store are required"},
		{"bad format", func(c *Config) { c.FileFormat = "csv" }, `siem legacy collector: file format "csv" is not key_value or json`},
		{"negative", func(c *Config) { c.ChunkSize = -1 }, "must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mod(&cfg)
			c, err := New(cfg)
			if tc.wantErr == "" {
				if err != nil || c.Tenant() != "acme" || c.Stream() != Stream {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}
