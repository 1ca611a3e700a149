package duckdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/rollup"
	"github.com/castwatch/castwatch/internal/schema"
)

// rowOf builds a row of t from column values; string key columns left out are "" (keys are never NULL).
func rowOf(t *schema.Table, at time.Time, vals map[string]any) schema.Row {
	r := make(schema.Row, len(t.Columns))
	for _, k := range t.Key {
		if i := t.ColumnIndex(k); t.Columns[i].Type == schema.String {
			r[i] = ""
		}
	}
	r[t.ColumnIndex("tenant")] = "acme"
	r[t.ColumnIndex("TimeGenerated")] = at
	for k, v := range vals {
		i := t.ColumnIndex(k)
		if i < 0 {
			panic("no column " + k)
		}
		r[i] = v
	}
	return r
}

// storeRollups are the rollups of the store's tables.
func storeRollups(d *DB) []rollup.Def {
	var out []rollup.Def
	for _, t := range d.rolledTables() {
		out = append(out, rollup.For(t.Name)...)
	}
	return out
}

// pick returns one of vs.
func pick[T any](rng *rand.Rand, vs ...T) T { return vs[rng.IntN(len(vs))] }

// gatewayRows are n random Seg_Cg_CL records over the three days from base: every value a panel counts by.
func gatewayRows(rng *rand.Rand, n int, base time.Time) []schema.Row {
	rows := make([]schema.Row, n)
	for i := range rows {
		at := base.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
		rows[i] = rowOf(&schema.SegCg, at, map[string]any{
			"timestamp": float64(at.UnixMilli()), "accountId": "C1", "aggregateId": fmt.Sprintf("a%d", i),
			"processingId": fmt.Sprintf("p%d", i), "messageId": fmt.Sprintf("<m%d@x>", i),
			"Logtype": pick(rng, "email_receipt", "email_delivery", "email_process", "email_spam", "email_av"),
			"action":  pick(rng, "Acc", "acc", "Rej", "Bnc", ""), "direction": pick(rng, "Inbound", "outbound", "Internal"),
			"delivered": pick(rng, "true", "false", "True", ""), "tlsUsed": pick(rng, "Yes", "No", ""),
			"tlsVersion": pick(rng, "TLSv1.2", "TLSv1.3", ""), "tlsCipher": pick(rng, "TLS_AES_256_GCM_SHA384", ""),
			"rejectionType": pick(rng, "", "Virus Signature Detection", "Spam"), "holdReason": pick(rng, "", "Spm"),
			"route": pick(rng, "Inbound", "Outbound"), "spamInfo": pick(rng, "", "[]", `["x"]`, `{"a":1}`),
			"virusFound": pick(rng, "", "Eicar"), "senderIp": pick(rng, "192.0.2.1", "198.51.100.7", ""),
			"destinationIp":  pick(rng, "203.0.113.9", ""),
			"recipients":     pick(rng, "a@corp.example", "b@Other.example", "c@corp.example"),
			"senderEnvelope": pick(rng, "x@ext.example", "y@EXT.example", "z@corp.example", ""),
		})
	}
	return rows
}

// ciRows are n random Cloud_Integrated_CL records over the three days from base.
func ciRows(rng *rand.Rand, n int, base time.Time) []schema.Row {
	rows := make([]schema.Row, n)
	for i := range rows {
		at := base.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
		rows[i] = rowOf(&schema.CloudIntegrated, at, map[string]any{
			"timestamp": float64(at.UnixMilli()), "accountId": "C1", "aggregateId": fmt.Sprintf("a%d", i),
			"processingId": fmt.Sprintf("p%d", i), "messageId": fmt.Sprintf("<m%d@x>", i),
			"type_": pick(rng, "entities", "urlclick", "mailflow"), "subtype": pick(rng, "", "NO_DETECTIONS", "phish"),
			"direction": pick(rng, "INBOUND", "OUTBOUND", ""), "tags": pick(rng, "", `["MALWARE"]`, `["SPAM","PHISHING"]`),
			"threatType": pick(rng, "", "MALWARE", "PHISHING"), "threatState": pick(rng, "", "BLOCKED", "ALLOWED"),
			"policiesApplied": pick(rng, "", "not json", `[{"action":"BLOCK_MESSAGE","mode":"ENFORCE"}]`,
				`[{"action":"ALLOW","mode":"MONITOR"},{"action":"BLOCK","mode":"x"}]`),
			"recipients":     pick(rng, `["a@corp.example","b@corp.example"]`, "c@corp.example", `[]`, ""),
			"senderEnvelope": pick(rng, "x@ext.example", "y@ext.example", "nobody"), "senderIp": pick(rng, "192.0.2.1", "198.51.100.7"),
		})
	}
	return rows
}

// writeInBatches writes rows in random batches, and writes some batches a second time (redelivery).
func writeInBatches(t *testing.T, d *DB, tab *schema.Table, rng *rand.Rand, rows []schema.Row) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < len(rows); {
		end := min(len(rows), start+1+rng.IntN(400))
		if _, err := d.WriteRows(ctx, tab, rows[start:end]); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(3) == 0 {
			if n, err := d.WriteRows(ctx, tab, rows[max(0, start-50):end]); err != nil || n != 0 {
				t.Fatalf("redelivered batch: %d new rows, err %v", n, err)
			}
		}
		start = end
	}
}

// sameCounts fails unless the two queries (tenant, bucket or not, dims…, count) return the same multiset.
func sameCounts(t *testing.T, d *DB, what, a, b string, args ...any) {
	t.Helper()
	q := fmt.Sprintf(`SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) UNION ALL SELECT count(*) FROM ((%s) EXCEPT ALL (%s))`, a, b, b, a)
	res, err := d.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if res.Rows[0][0] != int64(0) || res.Rows[1][0] != int64(0) {
		t.Errorf("%s: %v rows only in the rollup, %v only in the view", what, res.Rows[0][0], res.Rows[1][0])
	}
}

// grouped sums a relation's counts per tenant, bucket and dimension values.
func grouped(r rollup.Def, relation string) string {
	cols := ""
	for _, c := range r.Columns()[:len(r.Columns())-1] {
		cols += rollup.Ident(c) + ", "
	}
	return "SELECT " + cols + "CAST(sum(n) AS BIGINT) FROM " + relation + " GROUP BY ALL"
}

// totals sums a relation's counts per tenant and dimension values, over all buckets.
func totals(r rollup.Def, relation string) string {
	cols := ""
	for _, c := range r.Columns()[:len(r.Columns())-1] {
		if c != rollup.Time {
			cols += rollup.Ident(c) + ", "
		}
	}
	return "SELECT " + cols + "CAST(sum(n) AS BIGINT) FROM " + relation + " GROUP BY ALL"
}

// fillRollupStore writes random gateway, Cloud Integrated and audit rows, with redeliveries, frequent flushes of
// the pending rows and frequent compaction.
func fillRollupStore(t *testing.T, d *DB, seed uint64) time.Time {
	rng := rand.New(rand.NewPCG(seed, 7))
	base := time.Date(2026, 3, 1, 5, 17, 0, 0, time.UTC)
	d.compactEvery, d.flushEvery = 500, 700
	writeInBatches(t, d, &schema.SegCg, rng, gatewayRows(rng, 3000, base))
	writeInBatches(t, d, &schema.CloudIntegrated, rng, ciRows(rng, 2000, base))
	writeInBatches(t, d, &schema.Audit, rng, synthRows("acme", 1500, base))
	return base
}

func TestRollupsCountEveryStoredRowOnce(t *testing.T) {
	d := openMem(t)
	fillRollupStore(t, d, 1)
	check := func(stage string, withPending bool) {
		for _, r := range storeRollups(d) {
			for _, tb := range r.Tables() {
				stored := rollup.Ident(tb.Name)
				if withPending {
					stored = "(SELECT * FROM " + stored + " UNION ALL " + r.Summarise(rollup.Ident(rollup.PendingView(r.View)), tb.Unit) + ")"
				}
				sameCounts(t, d, stage+" "+tb.Name, grouped(r, stored), grouped(r, "("+r.Summarise(rollup.Ident(r.View), tb.Unit)+")"))
			}
		}
	}
	pending := query(t, d, `SELECT count(*) FROM rollup_pending_Seg_Cg_CL`).Rows[0][0].(int64)
	if pending == 0 || pending >= 700 {
		t.Errorf("%d gateway rows pending, want some and fewer than the flush size", pending)
	}
	check("maintained, with the pending rows", true)
	if err := d.FlushRollups(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("flushed", false)
	var rebuilt []string
	if err := d.RebuildRollups(context.Background(), func(table string, _ int64) { rebuilt = append(rebuilt, table) }); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, r := range rollup.All() {
		want += len(r.Tables())
	}
	if len(rebuilt) != want {
		t.Errorf("rebuilt %d tables (%v), want every rollup table (%d)", len(rebuilt), rebuilt, want)
	}
	check("rebuilt", false)
}

func TestRollupCompactionKeepsSums(t *testing.T) {
	d := openMem(t)
	fillRollupStore(t, d, 2)
	r := rollup.Get(rollup.SEG)
	before := query(t, d, `SELECT count(*), sum(n) FROM rollup_seg`).Rows[0]
	if err := d.compact(context.Background(), d.wconn, "Seg_Cg_CL", time.Time{}); err != nil {
		t.Fatal(err)
	}
	after := query(t, d, `SELECT count(*), sum(n) FROM rollup_seg`).Rows[0]
	if after[1] != before[1] {
		t.Errorf("compaction changed the total from %v to %v", before[1], after[1])
	}
	cols := ""
	for _, c := range r.Columns()[:len(r.Columns())-1] {
		cols += rollup.Ident(c) + ", "
	}
	groups := query(t, d, `SELECT count(*) FROM (SELECT DISTINCT `+cols[:len(cols)-2]+` FROM rollup_seg)`).Rows[0][0]
	if after[0] != groups {
		t.Errorf("after compaction %v rows for %v distinct buckets and values", after[0], groups)
	}
}

func TestRollupSourceMatchesView(t *testing.T) {
	d := openMem(t)
	base := fillRollupStore(t, d, 3)
	rng := rand.New(rand.NewPCG(9, 9))
	windows := [][2]time.Time{
		{base.Add(-time.Hour), base.Add(80 * time.Hour)},                  // everything, whole days inside
		{base.Add(5 * time.Minute), base.Add(10 * time.Minute)},           // inside one hour
		{base.Add(43 * time.Minute), base.Add(2*time.Hour + time.Minute)}, // partial hours both ends
		{base.Add(-17 * time.Hour), base.Add(-16 * time.Hour)},            // nothing
	}
	for range 6 {
		from := base.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
		windows = append(windows, [2]time.Time{from, from.Add(time.Duration(rng.Int64N(int64(60 * time.Hour))))})
	}
	for _, r := range storeRollups(d) {
		for _, w := range windows {
			for _, tenant := range []string{"", "acme", "other"} {
				var a, b []any
				add := func(args *[]any) func(any) string {
					return func(v any) string { *args = append(*args, v); return fmt.Sprintf("$%d", len(*args)) }
				}
				// Per hour too, where the rollup has no daily table (hour-bucket time charts read those).
				sum := totals
				if !r.Daily {
					sum = grouped
				}
				stored := sum(r, r.Source(w[0], w[1], tenant, add(&a)))
				raw := sum(r, r.Raw().Source(w[0], w[1], tenant, add(&b)))
				// Renumber the raw query's placeholders after the stored one's.
				for i := len(b); i >= 1; i-- {
					raw = replacePlaceholder(raw, i, len(a)+i)
				}
				sameCounts(t, d, fmt.Sprintf("%s %s..%s tenant %q", r.Name, w[0].Format(time.TimeOnly), w[1].Format(time.DateTime), tenant),
					stored, raw, append(a, b...)...)
			}
		}
	}
}

func TestTimeKeyedTablesHaveNoKeyIndex(t *testing.T) {
	d := openMem(t)
	keyed := map[string]bool{}
	for _, r := range query(t, d, `SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'`).Rows {
		keyed[r[0].(string)] = true
	}
	for _, tab := range schema.Tables() {
		if keyed[tab.Name] == TimeKeyed(tab) {
			t.Errorf("%s: primary key index %v, time-keyed %v", tab.Name, keyed[tab.Name], TimeKeyed(tab))
		}
	}
	if !TimeKeyed(&schema.SegCg) || !TimeKeyed(&schema.CloudIntegrated) || TimeKeyed(&schema.Audit) {
		t.Error("the gateway and Cloud Integrated tables must be time-keyed, Audit_CL not")
	}
	// Same key, written apart in time and in other batches: stored once.
	rng := rand.New(rand.NewPCG(4, 4))
	rows := gatewayRows(rng, 50, t0)
	ctx := context.Background()
	if n, err := d.WriteRows(ctx, &schema.SegCg, rows[:30]); err != nil || n != 30 {
		t.Fatalf("first write: %d, %v", n, err)
	}
	if n, err := d.WriteRows(ctx, &schema.SegCg, rows[20:]); err != nil || n != 20 {
		t.Fatalf("overlapping write: %d new rows, want 20 (%v)", n, err)
	}
	if c, _ := d.Count(ctx, "Seg_Cg_CL"); c != 50 {
		t.Errorf("%d rows stored, want 50", c)
	}
	// A record differing only in its time is another record.
	again := append(schema.Row(nil), rows[0]...)
	again[schema.SegCg.ColumnIndex("timestamp")] = rows[0][schema.SegCg.ColumnIndex("timestamp")].(float64) + 1
	if n, err := d.WriteRows(ctx, &schema.SegCg, []schema.Row{again}); err != nil || n != 1 {
		t.Errorf("record one millisecond later: %d new rows, %v", n, err)
	}
}

func TestOpenUpgradesKeyedTablesAndFillsRollups(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	rows := gatewayRows(rng, 500, t0)
	if _, err := d.WriteRows(ctx, &schema.SegCg, rows); err != nil {
		t.Fatal(err)
	}
	// Turn the table into the layout of earlier versions: a primary key, no event-time column, no rollups.
	tab := &schema.SegCg
	cols := identList(columnNames(tab))
	for _, s := range []string{
		`CREATE TABLE old AS SELECT ` + cols + ` FROM "Seg_Cg_CL"`,
		`DROP TABLE "Seg_Cg_CL"`,
		fmt.Sprintf(`CREATE TABLE "Seg_Cg_CL" (%s, PRIMARY KEY (%s))`, columnDefs(tab, true), identList(tab.Key)),
		`INSERT INTO "Seg_Cg_CL" SELECT * FROM old`,
		`DROP TABLE old`, `DROP TABLE rollup_seg`, `DROP TABLE rollup_seg_countries_day`,
		`CREATE TABLE rollup_seg_addresses ("tenant" VARCHAR, n BIGINT)`, // a rollup earlier versions kept
	} {
		if _, err := d.DB().ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if n := query(t, d, `SELECT count(*) FROM duckdb_tables() WHERE table_name = 'rollup_seg_addresses'`).Rows[0][0]; n != int64(0) {
		t.Error("the retired rollup table was not dropped")
	}
	if n := query(t, d, `SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'Seg_Cg_CL' AND constraint_type = 'PRIMARY KEY'`).Rows[0][0]; n != int64(0) {
		t.Error("the upgraded table kept its primary key index")
	}
	got := query(t, d, `SELECT count(*), count(*) FILTER (WHERE "_event_time" = epoch_ms(CAST("timestamp" AS BIGINT))) FROM "Seg_Cg_CL"`).Rows[0]
	if got[0] != int64(500) || got[1] != int64(500) {
		t.Errorf("after the upgrade %v rows, %v with their event time, want 500 and 500", got[0], got[1])
	}
	for _, name := range []string{"rollup_seg", "rollup_seg_countries_day"} {
		r := rollup.Get(rollup.SEG)
		unit := "hour"
		if name != "rollup_seg" {
			r, unit = rollup.Get(rollup.SEGCountries), "day"
		}
		sameCounts(t, d, name+" after the upgrade", grouped(r, rollup.Ident(name)), grouped(r, "("+r.Summarise(`"MimecastCG"`, unit)+")"))
	}
	if n, err := d.WriteRows(ctx, tab, rows[:100]); err != nil || n != 0 {
		t.Errorf("redelivery after the upgrade: %d new rows, %v", n, err)
	}
}

// replacePlaceholder renumbers $from as $to in q (placeholders are followed by a non-digit).
func replacePlaceholder(q string, from, to int) string {
	old := fmt.Sprintf("$%d", from)
	out := make([]byte, 0, len(q))
	for i := 0; i < len(q); {
		if i+len(old) <= len(q) && q[i:i+len(old)] == old && (i+len(old) == len(q) || q[i+len(old)] < '0' || q[i+len(old)] > '9') {
			out = append(out, fmt.Sprintf("$%d", to)...)
			i += len(old)
			continue
		}
		out = append(out, q[i])
		i++
	}
	return string(out)
}
