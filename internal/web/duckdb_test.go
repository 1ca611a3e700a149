package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// openAuditStore returns an in-memory DuckDB store holding testdata/audit_events.ndjson in Audit_CL.
func openAuditStore(t *testing.T) *duckdb.DB {
	t.Helper()
	ctx := context.Background()
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1, Tables: []*schema.Table{&schema.Audit}})
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })

	f, err := os.Open("testdata/audit_events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []schema.Row
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		row, err := schema.Audit.Decode("acme", json.RawMessage(sc.Bytes()), testNow)
		if err != nil {
			t.Fatalf("decode %s: %v", sc.Text(), err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := db.WriteRows(ctx, &schema.Audit, rows); err != nil || n != len(rows) {
		t.Fatalf("write rows: inserted %d of %d: %v", n, len(rows), err)
	}
	return db
}

// TestDuckDBStore runs the overview queries against a real DuckDB store.
func TestDuckDBStore(t *testing.T) {
	db := openAuditStore(t)
	hs := harness{h: newTestHandler(t, Options{Store: db, Now: func() time.Time { return testNow }, Static: builtAssets()})}

	t.Run("hourly buckets", func(t *testing.T) {
		res, body := hs.do(t, http.MethodGet, "/api/v1/charts/failed-logons?range=14d", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status = %d: %s", res.StatusCode, body)
		}
		var got chartSeries
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		want := map[time.Time]int64{
			time.Date(2026, 3, 9, 23, 0, 0, 0, time.UTC): 1, // a4
			time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC): 1, // a8, sent as 07:00+0100
			time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC): 2, // a1, a2 (a5 is a successful logon)
			time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC): 2, // a3, a7
		}
		if got.Total != 6 {
			t.Errorf("total = %d, want 6 (a6 is outside the window)", got.Total)
		}
		for i, b := range got.Buckets {
			if got.Counts[i] != want[b.UTC()] {
				t.Errorf("bucket %s = %d, want %d", b.Format(time.RFC3339), got.Counts[i], want[b.UTC()])
			}
		}
	})

	t.Run("short range", func(t *testing.T) {
		_, body := hs.do(t, http.MethodGet, "/api/v1/charts/failed-logons?range=4h", nil)
		var got chartSeries
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		// 08:30–12:30: a2 (08:40), a3 and a7 (09:xx); a1 at 08:05 is before the window.
		if got.Total != 3 || len(got.Buckets) != 5 || got.Counts[0] != 1 || got.Counts[1] != 2 {
			t.Errorf("4h series = %+v", got)
		}
	})

	t.Run("tenant filter", func(t *testing.T) {
		_, body := hs.do(t, http.MethodGet, "/api/v1/charts/failed-logons?tenant=other", nil)
		if !strings.Contains(body, `"total":0`) {
			t.Errorf("other tenant sees acme's data: %s", body)
		}
		_, body = hs.do(t, http.MethodGet, "/api/v1/charts/failed-logons?tenant=acme", nil)
		if !strings.Contains(body, `"total":6`) {
			t.Errorf("acme series: %s", body)
		}
	})

	t.Run("overview tables", func(t *testing.T) {
		res, body := hs.do(t, http.MethodGet, "/", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status = %d: %s", res.StatusCode, body)
		}
		users := []string{
			`data-user="alice@example.com"`,
			`data-user="&lt;script&gt;x&lt;/script&gt;@evil.example"`,
			`data-user="bob@example.com"`,
			`data-user="carol@example.com"`,
			`data-user="dave@example.com"`,
		}
		assertOrder(t, body, users)
		ips := []string{`data-ip="203.0.113.7"`, `data-ip="192.0.2.44"`, `data-ip="198.51.100.9"`, `data-ip="2001:db8::1"`}
		assertOrder(t, body, ips)
		if n := strings.Count(body, `class="ip-row"`); n != 4 {
			t.Errorf("ip rows = %d, want 4 (dave's event has no IP)", n)
		}
		for _, want := range []string{`data-stat="events">7<`, `data-stat="failures">6<`, `data-stat="failing-users">5<`} {
			if !strings.Contains(body, want) {
				t.Errorf("summary lacks %s", want)
			}
		}
		if strings.Contains(body, "<script>x") {
			t.Error("hostile user name not escaped")
		}
	})
}

// assertOrder checks every marker appears in body, in the given order.
func assertOrder(t *testing.T, body string, markers []string) {
	t.Helper()
	last := -1
	for _, m := range markers {
		i := strings.Index(body, m)
		if i < 0 {
			t.Errorf("missing %s", m)
			continue
		}
		if i < last {
			t.Errorf("%s out of order", m)
		}
		last = i
	}
}

func TestConnectorsFromTheStore(t *testing.T) {
	db := openAuditStore(t)
	ctx := t.Context()
	if err := db.SaveConnector(ctx, store.Connector{Tenant: "acme", Stream: "audit", State: "ok", LastSuccess: testNow,
		Rows: 1234}); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveConnector(ctx, store.Connector{Tenant: "acme", Stream: "dlp", State: "unavailable",
		LastError: "HTTP 403 app_forbidden: <not allowed>", LastErrorAt: testNow}); err != nil {
		t.Fatal(err)
	}
	hs := harness{h: newTestHandler(t, Options{Store: db, Now: func() time.Time { return testNow }, Static: builtAssets()})}
	res, body := hs.do(t, http.MethodGet, "/api/v1/connectors", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	var got struct {
		Connectors []store.Connector `json:"connectors"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got.Connectors) != 2 || got.Connectors[0].Rows != 1234 {
		t.Fatalf("connectors API: %v %s", err, body)
	}
	_, page := hs.do(t, http.MethodGet, "/", nil)
	for _, want := range []string{`data-stream="audit" data-state="ok"`, `data-stream="dlp" data-state="unavailable"`,
		"1\u202f234", "HTTP 403 app_forbidden: &lt;not allowed&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
