package rawlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/parse"
	"github.com/castwatch/castwatch/internal/testutil"
)

// benchLines is how many lines each benchmark input holds (built in memory from the corpus shapes).
const benchLines = 20000

// corpusJSONLines returns the one-record-per-line JSON inputs of the corpus.
func corpusJSONLines(b *testing.B) [][]byte {
	dir := testutil.CorpusDir(b)
	var out [][]byte
	for rel := range corpusExpect {
		if strings.HasSuffix(rel, ".json") {
			continue // the pretty-printed document is not line-oriented
		}
		f, err := os.Open(filepath.Join(dir, rel))
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) > 0 {
				out = append(out, bytes.Clone(sc.Bytes()))
			}
		}
		f.Close()
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out
}

// corpusKVLines renders the corpus's legacy SIEM JSON records as key_value lines, the way get-siem-logs writes
// them in its key_value file format.
func corpusKVLines(b *testing.B) [][]byte {
	dir := testutil.CorpusDir(b)
	var out [][]byte
	for _, rel := range []string{"siem_logs/test-siem-docs-logs.log", "siem_logs/test-siem-logs.log"} {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var objs []map[string]json.RawMessage
			if json.Unmarshal(append(append([]byte{'['}, line...), ']'), &objs) != nil {
				continue
			}
			for _, o := range objs {
				rec := parse.SIEMv1FromJSON(o)
				if rec.Time.IsZero() {
					continue
				}
				var kv strings.Builder
				kv.WriteString("datetime=" + rec.LocalTime)
				for _, f := range rec.Fields {
					if f.Key == "datetime" || f.Key == "Content-Disposition" {
						continue
					}
					kv.WriteString("|" + f.Key + "=" + f.Value)
				}
				out = append(out, []byte(kv.String()))
			}
		}
	}
	return out
}

// repeatTo builds an input of n lines cycling through lines; each copy changes a digit-free marker so that lines
// differ (the parsers do not cache, but real files never repeat a line).
func repeatTo(lines [][]byte, n int) []byte {
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		buf.Write(lines[i%len(lines)])
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func benchRun(b *testing.B, input []byte) {
	opts := Options{Tenant: "bench", Now: func() time.Time { return time.Unix(0, 0) }}
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	b.ResetTimer()
	var events, rows, rejected int
	start := time.Now()
	for i := 0; i < b.N; i++ {
		st, err := Run(context.Background(), bytes.NewReader(input), "bench", opts, func(Item) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		events += st.Events
		rows += st.Rows
		rejected += st.Rejected
	}
	elapsed := time.Since(start).Seconds()
	if rejected > 0 {
		b.Fatalf("%d rejections in the benchmark input", rejected)
	}
	b.ReportMetric(float64(events)/elapsed, "events/s")
	b.ReportMetric(float64(rows)/elapsed, "rows/s")
	b.ReportMetric(float64(benchLines*b.N)/elapsed, "lines/s")
}

// BenchmarkNormalizeJSON reads 20,000 JSON lines of every corpus table (API records and SIEM v2 batch lines)
// on one goroutine: detection, table inference, Decode and normalize. events/s is per core.
func BenchmarkNormalizeJSON(b *testing.B) {
	benchRun(b, repeatTo(corpusJSONLines(b), benchLines))
}

// BenchmarkNormalizeKV reads 20,000 legacy SIEM key_value lines (the corpus's legacy SIEM records rendered as
// key_value) on one goroutine: parsing, conversion to the v2 shape, Decode and normalize. events/s is per core.
func BenchmarkNormalizeKV(b *testing.B) {
	benchRun(b, repeatTo(corpusKVLines(b), benchLines))
}

// BenchmarkNormalizeExabeam reads 20,000 Splunk-forwarded and CEF lines of the testdata shapes.
func BenchmarkNormalizeExabeam(b *testing.B) {
	var lines [][]byte
	for _, name := range []string{"../../parse/testdata/exabeam_lines.log", "../../parse/testdata/cef_lines.log"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(l) == 0 || l[0] == '#' {
				continue
			}
			if _, err := parse.ParseExabeamLine(string(l)); err == nil {
				lines = append(lines, l)
			} else if _, err := parse.ParseCEF(string(l)); err == nil {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		b.Fatal(fmt.Errorf("no lines"))
	}
	benchRun(b, repeatTo(lines, benchLines))
}
