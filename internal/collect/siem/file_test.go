package siem

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/castwatch/castwatch/internal/collect"
)

func TestLineReader(t *testing.T) {
	type line struct {
		text    string
		tooLong bool
	}
	tests := []struct {
		name string
		in   string
		max  int
		want []line
	}{
		{"lf lines", "a\nbb\n", 10, []line{{"a", false}, {"bb", false}}},
		{"crlf and no final newline", "a\r\nbb", 10, []line{{"a", false}, {"bb", false}}},
		{"blank lines kept as empty", "\n\nx\n", 10, []line{{"", false}, {"", false}, {"x", false}}},
		{"exactly the limit", "12345\n", 5, []line{{"12345", false}}},
		{"one over the limit", "123456\nok\n", 5, []line{{"12345", true}, {"ok", false}}},
		{"far longer than the buffer", strings.Repeat("x", 3*readBufferSize) + "\nend", 100,
			[]line{{strings.Repeat("x", 100), true}, {"end", false}}},
		{"empty input", "", 10, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lr := NewLineReader(strings.NewReader(tc.in), tc.max)
			var got []line
			for {
				l, long, err := lr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, line{string(l), long})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if cap(lr.buf) > tc.max+readBufferSize+1 {
				t.Fatalf("line buffer grew to %d bytes for a %d-byte limit", cap(lr.buf), tc.max)
			}
		})
	}
}

func TestLineReaderReportsTruncation(t *testing.T) {
	data := gz([]string{`{"a":1}`, `{"b":2}`, strings.Repeat(`{"c":3}`, 400)})
	zr, err := gzip.NewReader(bytes.NewReader(data[:len(data)-12]))
	if err != nil {
		t.Fatal(err)
	}
	lr := NewLineReader(zr, 1<<20)
	n := 0
	for {
		_, _, err = lr.Next()
		if err != nil {
			break
		}
		n++
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error %v after %d lines: want io.ErrUnexpectedEOF", err, n)
	}
	// A read error in the middle of the stream surfaces as is, and no partial line is returned.
	lr = NewLineReader(iotest.TimeoutReader(strings.NewReader("abc\ndef")), 100)
	if l, _, err := lr.Next(); err != nil || string(l) != "abc" {
		t.Fatalf("first line %q %v", l, err)
	}
	if l, _, err := lr.Next(); !errors.Is(err, iotest.ErrTimeout) || l != nil {
		t.Fatalf("second read %q %v: want the reader's error", l, err)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name, line string
		tooLong    bool
		wantRec    bool
		wantReason string
	}{
		{"object", `{"a":1}`, false, true, ""},
		{"object with spaces", "  {\"a\":1}\t", false, true, ""},
		{"blank", "   ", false, false, ""},
		{"array", `[1,2]`, false, false, "not a JSON object"},
		{"cut object", `{"a":`, false, false, "invalid JSON: unexpected end of JSON input"},
		{"two objects", `{"a":1}{"b":2}`, false, false, "invalid JSON"},
		{"too long", `{"a":1}`, true, false, "line longer than 7 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, reason := classify([]byte(tc.line), tc.tooLong, 7)
			if (rec != nil) != tc.wantRec || !strings.HasPrefix(reason, tc.wantReason) || (tc.wantReason == "" && reason != "") {
				t.Fatalf("classify = %q, %q; want record %v, reason %q", rec, reason, tc.wantRec, tc.wantReason)
			}
		})
	}
}

func TestChunkMsgID(t *testing.T) {
	base := ChunkMsgID("acme", StreamCG, "receipt", "https://h/f1", 500, 0)
	if base != ChunkMsgID("acme", StreamCG, "receipt", "https://h/f1", 500, 0) {
		t.Fatal("message id is not deterministic")
	}
	others := map[string]string{
		"tenant":     ChunkMsgID("other", StreamCG, "receipt", "https://h/f1", 500, 0),
		"stream":     ChunkMsgID("acme", StreamCI, "receipt", "https://h/f1", 500, 0),
		"type":       ChunkMsgID("acme", StreamCG, "process", "https://h/f1", 500, 0),
		"file":       ChunkMsgID("acme", StreamCG, "receipt", "https://h/f2", 500, 0),
		"chunk size": ChunkMsgID("acme", StreamCG, "receipt", "https://h/f1", 250, 0),
		"chunk":      ChunkMsgID("acme", StreamCG, "receipt", "https://h/f1", 500, 1),
	}
	for what, id := range others {
		if id == base {
			t.Errorf("a different %s gives the same message id", what)
		}
	}
}

func TestFileID(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"https://bucket.s3.amazonaws.com/siem/receipt/f1.json.gz?X-Amz-Signature=abc&X-Amz-Expires=900",
			"https://bucket.s3.amazonaws.com/siem/receipt/f1.json.gz", ""},
		{"https://bucket.s3.amazonaws.com/siem/receipt/f1.json.gz?X-Amz-Signature=def",
			"https://bucket.s3.amazonaws.com/siem/receipt/f1.json.gz", ""},
		{"/relative/path", "", "not an absolute url"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := FileID(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("FileID = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestEncodeBatchMatchesCollectEncoding(t *testing.T) {
	start, end := dayBounds(today)
	tests := []struct {
		name string
		b    collect.Batch
	}{
		{"records and malformed", collect.Batch{Tenant: "acme \"records\":null", Stream: StreamCG, Table: "Seg_Cg_CL",
			WindowStart: start, WindowEnd: end, PageToken: `"records":null`, Page: 3,
			Records:   []json.RawMessage{json.RawMessage(`{"a":"<b>&"}`), json.RawMessage(`{ "c" : [1, 2] }`)},
			Malformed: []collect.Malformed{{Position: "p", Reason: "r", Raw: `"records":null`}}, Fetched: testNow}},
		{"malformed only", collect.Batch{Tenant: "acme", Stream: StreamCG, Table: "Seg_Cg_CL", Page: 1,
			Malformed: []collect.Malformed{{Position: "p", Reason: "r", Raw: "x"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fast, err := EncodeBatch(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := tc.b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := collect.DecodeBatch(fast)
			if err != nil {
				t.Fatalf("fast encoding does not decode: %v\n%s", err, fast)
			}
			want, _ := collect.DecodeBatch(slow)
			if len(got.Records) != len(want.Records) {
				t.Fatalf("%d records, want %d", len(got.Records), len(want.Records))
			}
			for i := range got.Records {
				var a, b any
				_ = json.Unmarshal(got.Records[i], &a)
				_ = json.Unmarshal(want.Records[i], &b)
				if fmt.Sprint(a) != fmt.Sprint(b) {
					t.Fatalf("record %d: %s, want %s", i, got.Records[i], want.Records[i])
				}
			}
			got.Records, want.Records = nil, nil
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
				t.Fatalf("batch %+v, want %+v", got, want)
			}
		})
	}
}

// countingPublisher counts batches and records and samples the heap while the file streams.
type countingPublisher struct {
	mu        sync.Mutex
	batches   int
	records   int
	maxBatch  int
	peakHeap  uint64
	sampleAll int
}

func (p *countingPublisher) Publish(_ context.Context, _ string, _ string, data []byte) (bool, error) {
	b, err := collect.DecodeBatch(data)
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batches++
	p.records += len(b.Records)
	p.maxBatch = max(p.maxBatch, len(b.Records))
	if p.batches%p.sampleAll == 0 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		p.peakHeap = max(p.peakHeap, ms.HeapAlloc)
	}
	return false, nil
}

type memCheckpoints struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *memCheckpoints) Get(_ context.Context, k string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok, nil
}

func (c *memCheckpoints) Put(_ context.Context, k string, v []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = append([]byte(nil), v...)
	return nil
}

// generatedFile streams a gzip NDJSON file of n lines of about 300 bytes, produced on the fly.
func generatedFile(w io.Writer, n int) {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	at := testNow.UnixMilli()
	for i := range n {
		fmt.Fprintf(zw, `{"_offset":%d,"_partition":7,"accountId":"C0A0","aggregateId":"agg-%d","processingId":"proc-%d","timestamp":%d,"type":"receipt","subtype":"Acc","action":"Acc","senderEnvelope":"sender%d@example.net","recipients":"user%d@example.com","subject":"generated message number %d for the memory test","senderIp":"192.0.2.%d"}`+"\n",
			i, i, i, at+int64(i), i%97, i%53, i, i%250)
	}
	_ = zw.Close()
}

func TestLargeFileIsStreamedInBoundedMemory(t *testing.T) {
	lines := 200_000
	if raceEnabled {
		lines = 40_000
	}
	mux := http.NewServeMux()
	var srvURL string
	mux.HandleFunc("GET /siem/v1/batch/events/cg", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"value": []map[string]any{{"url": srvURL + "/files/big.json.gz?sig=1",
			"expiry": testNow.Add(time.Hour).Format(time.RFC3339), "size": 1}}, "@nextPage": "end", "isCaughtUp": true})
	})
	mux.HandleFunc("GET /files/big.json.gz", func(w http.ResponseWriter, r *http.Request) { generatedFile(w, lines) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	srvURL = srv.URL

	pub := &countingPublisher{sampleAll: 100}
	c, err := New(Config{Tenant: "acme", Stream: StreamCG, Types: []string{"receipt"}, Client: newClient(t, srv.URL, 1),
		Publisher: pub, Checkpoints: &memCheckpoints{m: map[string][]byte{}}, Now: func() time.Time { return testNow },
		Lookback: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := c.Collect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != lines || pub.records != lines {
		t.Fatalf("rows %d published %d, want %d", st.Rows, pub.records, lines)
	}
	if pub.batches != lines/DefaultChunkSize || pub.maxBatch != DefaultChunkSize {
		t.Fatalf("%d batches of at most %d records, want %d of %d", pub.batches, pub.maxBatch, lines/DefaultChunkSize, DefaultChunkSize)
	}
	// The file is about 60 MB uncompressed; holding it would show in the heap.
	const limit = 24 << 20
	grew := int64(pub.peakHeap) - int64(before.HeapAlloc)
	t.Logf("heap growth while streaming: %d KB", grew>>10)
	if grew > limit {
		t.Fatalf("heap grew by %d MB while streaming, want under %d MB", grew>>20, limit>>20)
	}
}

// BenchmarkSIEMFileToBatches measures rows per second from a gzip NDJSON body to encoded batches on one core.
func BenchmarkSIEMFileToBatches(b *testing.B) {
	const lines = 20_000
	var buf bytes.Buffer
	generatedFile(&buf, lines)
	data := buf.Bytes()
	pub := &nopPublisher{}
	c, err := New(Config{Tenant: "acme", Stream: StreamCG, Client: nopClient{}, Publisher: pub,
		Checkpoints: &memCheckpoints{m: map[string][]byte{}}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		f := &FileWork{ID: "https://h/big.json.gz", Day: today, ChunkSize: DefaultChunkSize}
		res, err := c.publishFile(context.Background(), fileJob{typ: "receipt", f: f}, bytes.NewReader(data), func(int) error { return nil })
		if err != nil || res.rows != lines {
			b.Fatalf("rows %d err %v", res.rows, err)
		}
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "rows/s")
}

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, string, string, []byte) (bool, error) { return false, nil }

type nopClient struct{}

func (nopClient) Do(context.Context, string, string, any, any) error { return errors.New("no api") }
func (nopClient) GetFile(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("no api")
}
