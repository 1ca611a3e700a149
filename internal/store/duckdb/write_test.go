package duckdb

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

func strategies() []struct {
	name string
	s    writeStrategy
} {
	return []struct {
		name string
		s    writeStrategy
	}{{"appender", strategyAppender}, {"values", strategyValues}}
}

func TestWriteRowsIdempotent(t *testing.T) {
	ctx := context.Background()
	for _, st := range strategies() {
		t.Run(st.name, func(t *testing.T) {
			d := openMem(t)
			d.strategy = st.s
			rows := auditRows(t, "tenant-a")
			want := distinctKeys(&schema.Audit, rows)
			if want == len(rows) {
				t.Fatal("fixture should contain repeated ids to exercise in-batch duplicates")
			}

			n, err := d.WriteRows(ctx, &schema.Audit, rows)
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("first write: %d new rows, want %d distinct", n, want)
			}
			n, err = d.WriteRows(ctx, &schema.Audit, rows)
			if err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("same page again: %d new rows, want 0", n)
			}
			if c, _ := d.Count(ctx, "Audit_CL"); c != int64(want) {
				t.Errorf("stored %d rows, want %d", c, want)
			}

			// Same records for another tenant are different rows; a partly new page counts only the new ones.
			other := auditRows(t, "tenant-b")
			mixed := append(append([]schema.Row{}, other[:3]...), rows[:5]...)
			n, err = d.WriteRows(ctx, &schema.Audit, mixed)
			if err != nil {
				t.Fatal(err)
			}
			if wantNew := distinctKeys(&schema.Audit, other[:3]); n != wantNew {
				t.Errorf("mixed page: %d new rows, want %d", n, wantNew)
			}

			keys, err := d.Keys(ctx, &schema.Audit)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, k := range keys {
				if seen[k] {
					t.Errorf("key %s stored twice", k)
				}
				seen[k] = true
			}
			for _, r := range rows {
				if !seen[RowKey(&schema.Audit, r)] {
					t.Errorf("key %s missing", RowKey(&schema.Audit, r))
				}
			}
		})
	}
}

func TestWriteRowsFirstDuplicateWins(t *testing.T) {
	ctx := context.Background()
	for _, st := range strategies() {
		t.Run(st.name, func(t *testing.T) {
			d := openMem(t)
			d.strategy = st.s
			first := kitchenRow("t", "dup", t0)
			second := kitchenRow("t", "dup", t0)
			second[7] = "second"
			n, err := d.WriteRows(ctx, &kitchen, []schema.Row{first, second, kitchenRow("t", "other", t0)})
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("%d new rows, want 2", n)
			}
			res, err := d.Query(ctx, `SELECT note FROM "Kitchen_CL" WHERE id = 'dup'`)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != 1 || res.Rows[0][0] != "note dup" {
				t.Errorf("stored %v, want the first row's note", res.Rows)
			}
		})
	}
}

func TestWriteRowsAtomic(t *testing.T) {
	ctx := context.Background()
	bad := map[string]func(r schema.Row) schema.Row{
		"too few values":      func(r schema.Row) schema.Row { return r[:len(r)-1] },
		"too many values":     func(r schema.Row) schema.Row { return append(r, "x") },
		"null key":            func(r schema.Row) schema.Row { r[2] = nil; return r },
		"string in datetime":  func(r schema.Row) schema.Row { r[3] = "2026-01-01"; return r },
		"string in real":      func(r schema.Row) schema.Row { r[4] = "1.5"; return r },
		"int in bool":         func(r schema.Row) schema.Row { r[5] = 1; return r },
		"invalid json":        func(r schema.Row) schema.Row { r[6] = json.RawMessage(`{"a":`); return r },
		"number in string":    func(r schema.Row) schema.Row { r[7] = 42; return r },
		"invalid utf-8":       func(r schema.Row) schema.Row { r[7] = "bad \xff utf-8"; return r },
		"invalid utf-8 json":  func(r schema.Row) schema.Row { r[6] = json.RawMessage("\"\xff\""); return r },
		"unmarshalable value": func(r schema.Row) schema.Row { r[6] = func() {}; return r },
	}
	for _, st := range strategies() {
		t.Run(st.name, func(t *testing.T) {
			d := openMem(t)
			d.strategy = st.s
			for name, mutate := range bad {
				t.Run(name, func(t *testing.T) {
					// Each case writes under its own tenant so the cases share one store.
					batch := []schema.Row{kitchenRow(name, "a", t0), kitchenRow(name, "b", t0), mutate(kitchenRow(name, "c", t0)), kitchenRow(name, "d", t0)}
					n, err := d.WriteRows(ctx, &kitchen, batch)
					if err == nil {
						t.Fatal("bad batch accepted")
					}
					if n != 0 {
						t.Errorf("bad batch reported %d new rows", n)
					}
					if !strings.Contains(err.Error(), "row 2") {
						t.Errorf("error %q does not name the bad row", err)
					}
					res, err := d.Query(ctx, `SELECT count(*) FROM "Kitchen_CL" WHERE tenant = ?`, name)
					if err != nil {
						t.Fatal(err)
					}
					if c := res.Rows[0][0]; c != int64(0) {
						t.Errorf("bad batch left %v rows", c)
					}
					// The store stays usable.
					if n, err := d.WriteRows(ctx, &kitchen, batch[:2]); err != nil || n != 2 {
						t.Errorf("good batch after a bad one: n=%d err=%v", n, err)
					}
				})
			}
		})
	}
}

func TestWriteRowsAtomicOnDatabaseError(t *testing.T) {
	ctx := context.Background()
	// The stored table carries a CHECK constraint the Go definition knows nothing about, so the last row of the
	// batch passes every Go check and is refused by DuckDB after the rows before it were handed over.
	for _, st := range strategies() {
		t.Run(st.name, func(t *testing.T) {
			d, err := Open(ctx, "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			d.strategy = st.s
			if _, err := d.DB().ExecContext(ctx, fmt.Sprintf(`CREATE TABLE "Kitchen_CL" (%s, %s TIMESTAMP, PRIMARY KEY (tenant, id), CHECK (note <> 'boom'))`,
				columnDefs(&kitchen, true), ident(EventTimeColumn))); err != nil {
				t.Fatal(err)
			}
			batch := make([]schema.Row, 0, 3000)
			for i := range 3000 {
				batch = append(batch, kitchenRow("t", fmt.Sprint(i), t0))
			}
			batch[2999][7] = "boom"
			if _, err := d.WriteRows(ctx, &kitchen, batch); err == nil {
				t.Fatal("batch violating the table's constraint accepted")
			}
			if c, _ := d.Count(ctx, "Kitchen_CL"); c != 0 {
				t.Errorf("failed batch left %d rows", c)
			}
			if n, err := d.WriteRows(ctx, &kitchen, batch[:10]); err != nil || n != 10 {
				t.Errorf("good batch after a refused one: n=%d err=%v", n, err)
			}
		})
	}
}

func TestWriteRowsRoundTripTypes(t *testing.T) {
	ctx := context.Background()
	for _, st := range strategies() {
		t.Run(st.name, func(t *testing.T) {
			d := openMem(t)
			d.strategy = st.s
			loc := time.FixedZone("BST", 3600)
			in := schema.Row{"t", t0, "x", time.Date(2026, 3, 1, 13, 30, 0, 123456000, loc), 2, false, map[string]any{"a": []int{1, 2}}, nil}
			if _, err := d.WriteRows(ctx, &kitchen, []schema.Row{in}); err != nil {
				t.Fatal(err)
			}
			var got []schema.Row
			if err := d.ScanRows(ctx, &kitchen, time.Time{}, time.Time{}, func(r schema.Row) error { got = append(got, r); return nil }); err != nil {
				t.Fatal(err)
			}
			want := schema.Row{"t", t0, "x", time.Date(2026, 3, 1, 12, 30, 0, 123456000, time.UTC), 2.0, false, json.RawMessage(`{"a":[1,2]}`), nil}
			if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestWriteRowsConcurrent(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, tempPath(t), Options{Tables: testTables()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const writers, perWriter = 8, 300
	// Every writer writes overlapping pages: rows 0..perWriter-1 shared by all, plus its own rows.
	shared := synthRows("t", perWriter, t0)
	var wg sync.WaitGroup
	totals := make([]int, writers)
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			own := synthRows(fmt.Sprintf("own-%d", w), perWriter, t0)
			for i := 0; i < perWriter; i += 100 {
				page := append(append([]schema.Row{}, shared[i:i+100]...), own[i:i+100]...)
				n, err := d.WriteRows(ctx, &schema.Audit, page)
				if err != nil {
					errs[w] = err
					return
				}
				totals[w] += n
			}
		})
	}
	wg.Wait()
	sum := 0
	for w := range writers {
		if errs[w] != nil {
			t.Fatalf("writer %d: %v", w, errs[w])
		}
		sum += totals[w]
	}
	want := perWriter * (writers + 1)
	if sum != want {
		t.Errorf("writers reported %d new rows in total, want %d", sum, want)
	}
	if c, _ := d.Count(ctx, "Audit_CL"); c != int64(want) {
		t.Errorf("stored %d rows, want %d", c, want)
	}
}

func TestWriteRowsEmptyAndCancelled(t *testing.T) {
	d := openMem(t)
	if n, err := d.WriteRows(context.Background(), &kitchen, nil); err != nil || n != 0 {
		t.Errorf("empty batch: n=%d err=%v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.WriteRows(ctx, &kitchen, []schema.Row{kitchenRow("t", "a", t0)}); err == nil {
		t.Error("write with a cancelled context succeeded")
	}
	if c, _ := d.Count(context.Background(), "Kitchen_CL"); c != 0 {
		t.Errorf("cancelled write left %d rows", c)
	}
}

func TestWriteAfterClose(t *testing.T) {
	d, err := Open(context.Background(), "", Options{Tables: testTables()})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteRows(context.Background(), &kitchen, []schema.Row{kitchenRow("t", "a", t0)}); err == nil {
		t.Error("write after close succeeded")
	}
}

func TestQuarantine(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	at := time.Date(2026, 2, 1, 8, 0, 0, 0, time.FixedZone("X", -5*3600))
	items := []store.Quarantined{
		{Tenant: "t1", Source: "audit", Position: "token-1#3", Reason: "missing id", Raw: `{"x":1}`, Time: at},
		{Tenant: "t2", Source: "/data/raw.log", Position: "line 7", Reason: "invalid JSON", Raw: `{`},
	}
	if err := d.Quarantine(ctx, items); err != nil {
		t.Fatal(err)
	}
	if err := d.Quarantine(ctx, nil); err != nil {
		t.Errorf("empty quarantine: %v", err)
	}
	for tenant, want := range map[string]int64{"": 2, "t1": 1, "t2": 1, "t3": 0} {
		if n, err := d.QuarantineCount(ctx, tenant); err != nil || n != want {
			t.Errorf("QuarantineCount(%q) = %d, %v; want %d", tenant, n, err, want)
		}
	}
	res, err := d.Query(ctx, `SELECT tenant, source, position, reason, raw, time FROM quarantine ORDER BY tenant`)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{"t1", "audit", "token-1#3", "missing id", `{"x":1}`, at.UTC()},
		{"t2", "/data/raw.log", "line 7", "invalid JSON", `{`, t0},
	}
	if !reflect.DeepEqual(res.Rows, want) {
		t.Errorf("quarantine rows:\n got %v\nwant %v", res.Rows, want)
	}
}

func TestRowKey(t *testing.T) {
	tests := []struct {
		name string
		t    *schema.Table
		row  schema.Row
		want string
	}{
		{"audit", &schema.Audit, schema.Row{"ten", t0, "abc", "", "", t0, "", ""}, "ten|abc"},
		{"time key", &schema.Table{Name: "x", Columns: []schema.Column{{Name: "a", Type: schema.DateTime}}, Key: []string{"a"}},
			schema.Row{time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("Y", 3600))}, "2026-01-02T02:04:05.000000006Z"},
		{"short row", &schema.Audit, schema.Row{"ten"}, "ten|"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RowKey(tc.t, tc.row); got != tc.want {
				t.Errorf("RowKey = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKeysMatchRowKey(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	rows := auditRows(t, "tn")
	if _, err := d.WriteRows(ctx, &schema.Audit, rows); err != nil {
		t.Fatal(err)
	}
	got, err := d.Keys(ctx, &schema.Audit)
	if err != nil {
		t.Fatal(err)
	}
	wantSet := map[string]bool{}
	for _, r := range rows {
		wantSet[RowKey(&schema.Audit, r)] = true
	}
	var want []string
	for k := range wantSet {
		want = append(want, k)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Keys = %v\nwant %v", got, want)
	}
}

func TestQuarantineIsIdempotentPerPosition(t *testing.T) {
	ctx := context.Background()
	db := openMem(t)
	item := store.Quarantined{Tenant: "t", Source: "audit", Position: "page 2 record 7", Reason: "missing id", Raw: "{}"}
	other := item
	other.Position = "page 2 record 8"
	for range 2 { // a redelivered batch quarantines the same items again
		if err := db.Quarantine(ctx, []store.Quarantined{item, other}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.QuarantineCount(ctx, ""); err != nil || n != 2 {
		t.Fatalf("QuarantineCount = %d, %v; want 2", n, err)
	}
}

func TestWriteRowsSnapshotKeepsNewestState(t *testing.T) {
	ctx := context.Background()
	db := openMem(t)
	tab := &schema.AwarenessSafeScore
	at := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	row := func(risk string, ingested time.Time) schema.Row {
		r, err := tab.Decode("acme", json.RawMessage(fmt.Sprintf(
			`{"emailAddress":"amy@example.com","name":"Amy","department":"Sales","risk":%q,"humanError":"B","sentiment":"C","engagement":"D","knowledge":"A","userState":"ACTIVE"}`,
			risk)), ingested)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	risk := func() string {
		res, err := db.Query(ctx, `SELECT risk FROM Awareness_SafeScore_Details_CL`)
		if err != nil || len(res.Rows) != 1 {
			t.Fatalf("want one row per user, got %v %v", res, err)
		}
		return res.Rows[0][0].(string)
	}
	if n, err := db.WriteRows(ctx, tab, []schema.Row{row("C", at)}); err != nil || n != 1 {
		t.Fatalf("first write: %d %v", n, err)
	}
	if n, err := db.WriteRows(ctx, tab, []schema.Row{row("F", at.Add(time.Hour))}); err != nil || n != 1 || risk() != "F" {
		t.Fatalf("a newer snapshot must replace the row: %d %v %s", n, err, risk())
	}
	// A redelivered older batch does not overwrite the newer state.
	if _, err := db.WriteRows(ctx, tab, []schema.Row{row("C", at)}); err != nil || risk() != "F" {
		t.Fatalf("an older snapshot overwrote the newer one: %v %s", err, risk())
	}
	// Within one batch the last row for a key wins.
	if _, err := db.WriteRows(ctx, tab, []schema.Row{row("B", at.Add(2*time.Hour)), row("A", at.Add(2*time.Hour))}); err != nil || risk() != "A" {
		t.Fatalf("the batch's newest row must win: %v %s", err, risk())
	}
}

// plain is a table without dynamic columns, whose new batches WriteRows appends straight into the table.
var plainTable = schema.Table{
	Name: "Plain_CL",
	Columns: []schema.Column{
		{Name: "tenant", Type: schema.String},
		{Name: "TimeGenerated", Type: schema.DateTime},
		{Name: "id", Type: schema.String},
		{Name: "score", Type: schema.Real},
		{Name: "note", Type: schema.String},
	},
	Key:       []string{"tenant", "id"},
	EventTime: "TimeGenerated",
}

func plainRows(tenant string, from, n int) []schema.Row {
	rows := make([]schema.Row, 0, n)
	for i := from; i < from+n; i++ {
		rows = append(rows, schema.Row{tenant, t0, fmt.Sprint(i), float64(i), "note"})
	}
	return rows
}

func TestWriteRowsDirectAppend(t *testing.T) {
	ctx := context.Background()
	if !directAppend(&plainTable, 3000) || directAppend(&kitchen, 10) || directAppend(&plainTable, directRows+1) {
		t.Fatal("directAppend: unexpected choice")
	}
	d, err := Open(ctx, tempPath(t), Options{Tables: []*schema.Table{&plainTable}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Several appender chunks (2,048 rows each) of new rows.
	if n, err := d.WriteRows(ctx, &plainTable, plainRows("a", 0, 5000)); err != nil || n != 5000 {
		t.Fatalf("new batch: n=%d err=%v", n, err)
	}
	// A batch whose last row is stored already: only the new rows count, nothing is stored twice.
	mixed := append(plainRows("a", 5000, 4000), plainRows("a", 4999, 1)...)
	if n, err := d.WriteRows(ctx, &plainTable, mixed); err != nil || n != 4000 {
		t.Fatalf("mixed batch: n=%d err=%v", n, err)
	}
	if n, err := d.WriteRows(ctx, &plainTable, plainRows("a", 0, 9000)); err != nil || n != 0 {
		t.Fatalf("same rows again: n=%d err=%v", n, err)
	}
	if c, _ := d.Count(ctx, "Plain_CL"); c != 9000 {
		t.Errorf("stored %d rows, want 9000", c)
	}
	// A database error on the last row of a multi-chunk batch stores none of it.
	e, err := Open(ctx, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.DB().ExecContext(ctx, fmt.Sprintf(`CREATE TABLE "Plain_CL" (%s, PRIMARY KEY (tenant, id), CHECK (note <> 'boom'))`,
		columnDefs(&plainTable, true))); err != nil {
		t.Fatal(err)
	}
	batch := plainRows("t", 0, 5000)
	batch[4999][4] = "boom"
	if _, err := e.WriteRows(ctx, &plainTable, batch); err == nil {
		t.Fatal("batch violating the table's constraint accepted")
	}
	if c, _ := e.Count(ctx, "Plain_CL"); c != 0 {
		t.Errorf("failed batch left %d rows", c)
	}
	if n, err := e.WriteRows(ctx, &plainTable, batch[:10]); err != nil || n != 10 {
		t.Errorf("good batch after a refused one: n=%d err=%v", n, err)
	}
}
