package bench

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

var (
	tinyOnce    sync.Once
	tinyTraffic *Traffic
	tinyErr     error
)

// tiny is a small simulated tenant shared by the tests.
func tiny(t *testing.T) *Traffic {
	t.Helper()
	tinyOnce.Do(func() { tinyTraffic, tinyErr = NewTraffic(context.Background(), 5, 1) })
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyTraffic
}

func TestTrafficLinesAreDistinct(t *testing.T) {
	tr := tiny(t)
	for _, tc := range []struct {
		name   string
		sample int
		line   func(int) []byte
		orig   func(int) []byte
	}{
		{"siem", len(tr.SIEM), tr.SIEMLine, func(i int) []byte { return tr.SIEM[i] }},
		{"api", len(tr.API), tr.APILine, func(i int) []byte { return tr.API[i] }},
		{"kv", len(tr.Legacy), tr.KVLine, func(i int) []byte { return tr.Legacy[i] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.sample == 0 {
				t.Fatal("empty sample")
			}
			seen := map[string]int{}
			for i := range 3 * tc.sample {
				l := tc.line(i)
				if i < tc.sample && !bytes.Equal(l, tc.orig(i)) {
					t.Fatalf("line %d is not the sample's line", i)
				}
				if at, dup := seen[string(l)]; dup {
					t.Fatalf("line %d repeats line %d: %s", i, at, l)
				}
				seen[string(l)] = i
			}
		})
	}
}

func TestSIEMCopiesHaveDistinctKeys(t *testing.T) {
	tr := tiny(t)
	keys := map[string]bool{}
	n := 2*len(tr.SIEM) + 7
	for i := range n {
		row, err := schema.SegCg.Decode(benchTenant, tr.SIEMLine(i), trafficEpoch)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		keys[duckdb.RowKey(&schema.SegCg, row)] = true
	}
	if len(keys) != n {
		t.Fatalf("%d distinct keys in %d lines", len(keys), n)
	}
}

func TestWithSuffix(t *testing.T) {
	for _, tc := range []struct {
		name, line, field, want string
	}{
		{"first field", `{"id":"a1","x":"b"}`, "id", `{"id":"a1~2","x":"b"}`},
		{"later field", `{"a":1,"messageId":"\u003cm@x\u003e"}`, "messageId", `{"a":1,"messageId":"\u003cm@x\u003e~2"}`},
		{"escaped quote", `{"id":"a\"b","z":"c"}`, "id", `{"id":"a\"b~2","z":"c"}`},
		{"absent", `{"other":"v"}`, "id", `{"other":"v"}`},
		{"not a string", `{"id":12}`, "id", `{"id":12}`},
		{"unterminated", `{"id":"abc`, "id", `{"id":"abc`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(withSuffix([]byte(tc.line), tc.field, "~2")); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestWithKVSuffix(t *testing.T) {
	for _, tc := range []struct {
		name, line, key, want string
	}{
		{"first", "aCode=x|acc=y", "aCode", "aCode=x~3|acc=y"},
		{"middle", "datetime=d|aCode=x|acc=y", "aCode", "datetime=d|aCode=x~3|acc=y"},
		{"last", "datetime=d|MsgId=<m>", "MsgId", "datetime=d|MsgId=<m>~3"},
		{"key as value suffix only", "xaCode=v|b=c", "aCode", "xaCode=v|b=c"},
		{"absent", "datetime=d|acc=y", "aCode", "datetime=d|acc=y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(withKVSuffix([]byte(tc.line), tc.key, "~3")); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNewTrafficRejectsEmptySizes(t *testing.T) {
	for _, tc := range []struct{ mailboxes, days int }{{0, 1}, {1, 0}, {-1, 1}} {
		if _, err := NewTraffic(context.Background(), tc.mailboxes, tc.days); err == nil {
			t.Fatalf("mailboxes %d days %d: no error", tc.mailboxes, tc.days)
		}
	}
}
