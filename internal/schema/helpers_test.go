package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/testutil"
)

// corpusDir is the recorded Mimecast corpus beside the repository.
func corpusDir(t testing.TB) string { return testutil.CorpusDir(t) }

var testIngested = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))

// corpusLines returns the non-empty lines of a corpus file.
func corpusLines(t *testing.T, rel string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir(t), rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return splitLines(t, b)
}

// splitLines returns the non-empty lines of b.
func splitLines(t *testing.T, b []byte) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, json.RawMessage(bytes.Clone(l)))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sampleOriginal returns event.original of a corpus sample_event.json: the raw record Elastic received.
func sampleOriginal(t *testing.T, rel string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Event struct {
			Original string `json:"original"`
		} `json:"event"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Event.Original == "" {
		t.Fatalf("%s has no event.original", rel)
	}
	return json.RawMessage(doc.Event.Original)
}

// isEnvelope reports whether a corpus line is an API response envelope rather than a record.
func isEnvelope(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	_, meta := m["meta"]
	_, data := m["data"]
	return meta && data
}

// decodeAll decodes every record, failing the test on any error.
func decodeAll(t *testing.T, tab *Table, recs []json.RawMessage) []Row {
	t.Helper()
	rows := make([]Row, 0, len(recs))
	for i, r := range recs {
		row, err := tab.Decode("acme", r, testIngested)
		if err != nil {
			t.Fatalf("%s record %d: %v\n%s", tab.Name, i, err, r)
		}
		checkRow(t, tab, row)
		rows = append(rows, row)
	}
	return rows
}

// checkRow asserts the row shape: one value per column, tenant and TimeGenerated set, values of the column's
// type, key columns never nil.
func checkRow(t *testing.T, tab *Table, row Row) {
	t.Helper()
	if len(row) != len(tab.Columns) {
		t.Fatalf("%s: row has %d values for %d columns", tab.Name, len(row), len(tab.Columns))
	}
	if row[0] != "acme" {
		t.Errorf("%s: tenant = %v", tab.Name, row[0])
	}
	if tg, ok := row[1].(time.Time); !ok || !tg.Equal(testIngested) || tg.Location() != time.UTC {
		t.Errorf("%s: TimeGenerated = %v, want %v in UTC", tab.Name, row[1], testIngested)
	}
	for i, c := range tab.Columns {
		v := row[i]
		if v == nil {
			continue
		}
		ok := false
		switch c.Type {
		case String:
			_, ok = v.(string)
		case Real:
			_, ok = v.(float64)
		case Bool:
			_, ok = v.(bool)
		case DateTime:
			var tm time.Time
			tm, ok = v.(time.Time)
			ok = ok && tm.Location() == time.UTC
		case Dynamic:
			var rm json.RawMessage
			rm, ok = v.(json.RawMessage)
			ok = ok && json.Valid(rm)
		}
		if !ok {
			t.Errorf("%s.%s (%s): value %#v has the wrong type", tab.Name, c.Name, c.Type, v)
		}
	}
	for _, k := range tab.Key {
		if row[tab.ColumnIndex(k)] == nil {
			t.Errorf("%s: key column %s is nil", tab.Name, k)
		}
	}
}

// get returns the named column of a row.
func get(t *testing.T, tab *Table, row Row, col string) any {
	t.Helper()
	i := tab.ColumnIndex(col)
	if i < 0 {
		t.Fatalf("%s has no column %s", tab.Name, col)
	}
	return row[i]
}

// keyOf joins a row's key values.
func keyOf(tab *Table, row Row) string {
	var parts []string
	for _, k := range tab.Key {
		b, _ := json.Marshal(row[tab.ColumnIndex(k)])
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "|")
}

// wantDecodeError asserts err is a *DecodeError for tab whose reason contains want.
func wantDecodeError(t *testing.T, tab *Table, err error, want string) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
	}
	if de.Table != tab.Name {
		t.Errorf("DecodeError.Table = %q, want %q", de.Table, tab.Name)
	}
	if !strings.Contains(de.Reason, want) {
		t.Errorf("reason %q does not contain %q", de.Reason, want)
	}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

type colWant struct {
	col  string
	want any
}

// checkCols asserts column values of one row; times compare with Equal, dynamic values as compact JSON text.
func checkCols(t *testing.T, tab *Table, row Row, wants []colWant) {
	t.Helper()
	for _, w := range wants {
		got := get(t, tab, row, w.col)
		switch g := got.(type) {
		case time.Time:
			wt, ok := w.want.(time.Time)
			if !ok || !g.Equal(wt) {
				t.Errorf("%s.%s = %v, want %v", tab.Name, w.col, g, w.want)
			}
		case json.RawMessage:
			if string(g) != w.want {
				t.Errorf("%s.%s = %s, want %v", tab.Name, w.col, g, w.want)
			}
		default:
			if got != w.want {
				t.Errorf("%s.%s = %#v, want %#v", tab.Name, w.col, got, w.want)
			}
		}
	}
}

// corpusFile reads a corpus file.
func corpusFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// linesAt returns the non-empty lines of a file given by its path from the package directory.
func linesAt(t *testing.T, path string) []json.RawMessage {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	return splitLines(t, b)
}
