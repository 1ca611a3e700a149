package duckdb

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// searchStore is an in-memory store with three Audit_CL rows.
func searchStore(t *testing.T) *DB {
	t.Helper()
	d := openMem(t)
	rows := []schema.Row{
		{"acme", t0, "a1", "Logon Authentication Failed", "alice@example.com", t0, "IP: 203.0.113.7, Application: OWA", "c"},
		{"acme", t0, "a2", "User Logged On", "alice@example.com", t0.Add(time.Minute), "IP: 203.0.113.7", "c"},
		{"acme", t0, "a3", "Logon Authentication Failed", "bob@example.com", t0.Add(2 * time.Minute), "IP: 198.51.100.1", "c"},
	}
	if _, err := d.WriteRows(context.Background(), &schema.Audit, rows); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSearchQueryReads(t *testing.T) {
	d := searchStore(t)
	ctx := context.Background()
	cases := []struct {
		sql  string
		rows int
	}{
		{`SELECT id, "user" FROM "Audit_CL" ORDER BY id DESC`, 3},
		{`select * from audit_cl where "auditType" = 'User Logged On'`, 1},
		{`SELECT "Source IP", count(*) AS n FROM "MimecastAudit" GROUP BY ALL ORDER BY n DESC LIMIT 5`, 2},
		{`WITH f AS (SELECT * FROM main."Audit_CL" WHERE "auditType" LIKE 'Logon%') SELECT f.id FROM f JOIN "Audit_CL" a USING (id)`, 2},
		{`FROM "Audit_CL" SELECT id`, 3},
		{`SELECT 1 AS one UNION ALL SELECT 2 -- a comment; DROP TABLE x`, 2},
		{`SELECT id, row_number() OVER (PARTITION BY "user" ORDER BY "eventTime") FROM "Audit_CL" WHERE id IN (SELECT id FROM "Audit_CL")`, 3},
		{`SELECT * FROM (VALUES (1, 'a'), (2, 'b')) v(n, s)`, 2},
		{`SELECT 'read_csv(''/etc/passwd'')' AS text_only`, 1},
		{`SELECT "user", count(*) FILTER (WHERE "auditType" LIKE 'Logon%') AS f FROM "Audit_CL" GROUP BY 1 HAVING f > 0 QUALIFY row_number() OVER (ORDER BY f DESC NULLS LAST) < 9`, 2},
		{`SELECT DISTINCT ON ("user") "user", id FROM "Audit_CL" ORDER BY "user", id ASC LIMIT 10 OFFSET 0`, 2},
		{`SELECT list_transform([1, 2], x -> x + 1) AS l, CASE WHEN true THEN 1 END, CAST('1' AS INT), 'a' || 'b', e'A'`, 1},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			res, more, err := d.SearchQuery(ctx, c.sql, 100)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(res.Rows) != c.rows || more {
				t.Errorf("rows = %d (more %v), want %d: %v", len(res.Rows), more, c.rows, res.Rows)
			}
		})
	}
}

func TestSearchQueryRowCap(t *testing.T) {
	d := searchStore(t)
	res, more, err := d.SearchQuery(context.Background(), `SELECT id FROM "Audit_CL" ORDER BY id`, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || !more || res.Rows[1][0] != "a2" {
		t.Errorf("capped result = %v more=%v, want a1, a2 and more", res.Rows, more)
	}
	res, more, err = d.SearchQuery(context.Background(), `SELECT id FROM "Audit_CL"`, 3)
	if err != nil || len(res.Rows) != 3 || more {
		t.Errorf("exact cap: %v more=%v err=%v", res, more, err)
	}
	if _, _, err := d.SearchQuery(context.Background(), `SELECT 1`, 0); err == nil {
		t.Error("a zero row limit was accepted")
	}
}

func TestSearchQueryTimeout(t *testing.T) {
	d := searchStore(t)
	old := SearchTimeout
	SearchTimeout = 200 * time.Millisecond
	t.Cleanup(func() { SearchTimeout = old })
	start := time.Now()
	_, _, err := d.SearchQuery(context.Background(), `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000000)
SELECT count(*) FROM r`, 10)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stopped after 200ms") {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("the query ran %s past its deadline", el)
	}
}

// TestSearchQueryRefuses tries ways out of the store's tables; each must be refused with a clear reason before
// anything runs.
func TestSearchQueryRefuses(t *testing.T) {
	d := searchStore(t)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "out.csv")
	cases := []struct{ sql, reason string }{
		{`SELECT * FROM read_csv('/etc/passwd')`, "table function read_csv() is not allowed"},
		{`SELECT * FROM read_text('/etc/hostname')`, "table function read_text() is not allowed"},
		{`SELECT * FROM read_blob('/etc/hostname')`, "table function read_blob() is not allowed"},
		{`SELECT * FROM read_json_auto('/etc/x.json')`, "table function read_json_auto() is not allowed"},
		{`SELECT * FROM read_parquet('x.parquet')`, "table function read_parquet() is not allowed"},
		{`SELECT * FROM glob('/etc/*')`, "table function glob() is not allowed"},
		{`SELECT * FROM "read_csv"('/etc/passwd')`, "table function read_csv() is not allowed"},
		{`SELECT * FROM '/etc/passwd'`, `"/etc/passwd" is not one of the store's tables or views`},
		{`SELECT * FROM 'secrets.csv'`, `"secrets.csv" is not one of the store's tables or views`},
		{`SELECT * FROM "Audit_CL.csv"`, `"Audit_CL.csv" is not one of the store's tables or views`},
		{`WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM x`, "table function read_csv() is not allowed"},
		{`WITH "/etc/passwd" AS (SELECT 1) SELECT * FROM "/etc/passwd"`, "a WITH name must be a plain identifier"},
		{`SELECT * FROM (WITH x AS (SELECT 1) SELECT 1), "x.csv"`, `"x.csv" is not one of the store's tables`},
		{`SELECT (SELECT count(*) FROM read_text('/etc/passwd'))`, "table function read_text() is not allowed"},
		{`SELECT * FROM "Audit_CL" a, LATERAL (SELECT * FROM read_csv(a.id))`, "table function read_csv() is not allowed"},
		{`SELECT * FROM "Audit_CL" WHERE id IN (SELECT content FROM read_text('/etc/passwd'))`, "read_text() is not allowed"},
		{`SELECT * FROM duckdb_settings()`, "table function duckdb_settings() is not allowed"},
		{`SELECT * FROM system.main.duckdb_tables()`, "table function duckdb_tables() is not allowed"},
		{`SELECT * FROM information_schema.tables`, "is outside the store's tables and views"},
		{`SELECT * FROM pg_catalog.pg_class`, "is outside the store's tables and views"},
		{`SELECT * FROM other.main."Audit_CL"`, "is outside the store's tables and views"},
		{`SELECT * FROM alerts`, `"alerts" is not one of the store's tables or views`},
		{`SELECT getenv('HOME')`, "function getenv() is not allowed"},
		{`SELECT current_setting('memory_limit')`, "function current_setting() is not allowed"},
		{`SELECT * FROM query('SELECT 1')`, "table function query() is not allowed"},
		{`SELECT * FROM query_table('Audit_CL')`, "table function query_table() is not allowed"},
		{`COPY "Audit_CL" TO '` + out + `'`, "only a single SELECT"},
		{`COPY (SELECT 1) TO '` + out + `'`, "only a single SELECT"},
		{`ATTACH '/tmp/x.duckdb' AS x`, "only a single SELECT"},
		{`INSTALL httpfs`, "only a single SELECT"},
		{`LOAD httpfs`, "only a single SELECT"},
		{`PRAGMA enable_profiling`, "only a single SELECT"},
		{`SET enable_external_access = true`, "only a single SELECT"},
		{`CALL duckdb_settings()`, "only a single SELECT"},
		{`EXPORT DATABASE '` + t.TempDir() + `'`, "only a single SELECT"},
		{`DELETE FROM "Audit_CL"`, "only a single SELECT"},
		{`EXPLAIN SELECT 1`, "only a single SELECT"},
		{`SELECT 1; SELECT 2`, "exactly one statement is allowed, got 2"},
		{`SELECT 1; COPY "Audit_CL" TO '` + out + `'`, "only a single SELECT"},
		{`SELECT 1 /* ; */ ; DROP TABLE "Audit_CL"`, "only a single SELECT"},
		{`SELECT $$x;$$; SELECT * FROM read_csv('/etc/passwd')`, "exactly one statement is allowed, got 2"},
		{`SELECT $$x; SELECT * FROM read_csv('/etc/passwd')$$ AS s, * FROM read_csv('/etc/passwd')`, "table function read_csv() is not allowed"},
		{`SUMMARIZE "Audit_CL"`, "DESCRIBE, SHOW and SUMMARIZE are not allowed"},
		{`DESCRIBE SELECT * FROM read_csv('/etc/passwd')`, "not allowed"},
		{`SELECT * FROM "Audit_CL" PIVOT (count(*) FOR "auditType" IN ('x'))`, "is not allowed in a search"},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			res, _, err := d.SearchQuery(ctx, c.sql, 100)
			if err == nil {
				t.Fatalf("accepted: %v", res)
			}
			if !errors.Is(err, ErrReadOnlyQuery) || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q, want a refusal saying %q", err, c.reason)
			}
		})
	}
	if c, _ := d.Count(ctx, "Audit_CL"); c != 3 {
		t.Errorf("Audit_CL has %d rows after the refused statements, want 3", c)
	}
}

func TestSearchQuerySyntaxError(t *testing.T) {
	d := searchStore(t)
	_, _, err := d.SearchQuery(context.Background(), `SELEC nonsense`, 10)
	if err == nil || errors.Is(err, ErrReadOnlyQuery) || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("syntax error reported as %v", err)
	}
}

func TestSearchRelations(t *testing.T) {
	d := openMem(t)
	got := strings.Join(d.SearchRelations(), ",")
	for _, want := range []string{"Audit_CL", "Kitchen_CL", "MimecastAudit", "MimecastTTPUrl"} {
		if !strings.Contains(got, want) {
			t.Errorf("relations %s lack %s", got, want)
		}
	}
}
