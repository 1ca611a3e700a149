package duckdb

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

func TestQueryRefusesWrites(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	if _, err := d.WriteRows(ctx, &kitchen, []schema.Row{kitchenRow("t", "a", t0)}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.csv")
	refused := []string{
		`INSERT INTO "Kitchen_CL" (tenant, id) VALUES ('t', 'z')`,
		`DELETE FROM "Kitchen_CL"`,
		`UPDATE "Kitchen_CL" SET note = 'x'`,
		`CREATE TABLE x (a INT)`,
		`DROP TABLE "Kitchen_CL"`,
		`ALTER TABLE "Kitchen_CL" ADD COLUMN z INT`,
		`COPY "Kitchen_CL" TO '` + out + `'`,
		`ATTACH ':memory:' AS other`,
		`DETACH other`,
		`SELECT 1; DELETE FROM "Kitchen_CL"`,
		`DELETE FROM "Kitchen_CL"; SELECT 1`,
		`SELECT 1; SELECT 2`,
		`PRAGMA enable_profiling`,
		`SET threads = 1`,
		`CALL pragma_table_info('Kitchen_CL')`,
		`CHECKPOINT`,
		`BEGIN TRANSACTION`,
		`INSTALL httpfs`,
		`LOAD json`,
		`EXPORT DATABASE '` + t.TempDir() + `'`,
		`EXPLAIN DELETE FROM "Kitchen_CL"`,
		`EXPLAIN ANALYZE DELETE FROM "Kitchen_CL"`,
		`VACUUM`,
		``,
		` ; `,
	}
	for _, q := range refused {
		t.Run(q, func(t *testing.T) {
			res, err := d.Query(ctx, q)
			if err == nil {
				t.Fatalf("accepted: %v", res)
			}
			if !errors.Is(err, ErrReadOnlyQuery) || !strings.Contains(err.Error(), "query: only read-only statements are allowed") {
				t.Errorf("error %q is not the read-only refusal", err)
			}
		})
	}
	if c, _ := d.Count(ctx, "Kitchen_CL"); c != 1 {
		t.Errorf("Kitchen_CL has %d rows after refused statements, want 1", c)
	}
	if _, err := d.Count(ctx, "x"); err == nil {
		t.Error("refused CREATE TABLE created a table")
	}
}

func TestQueryInvalidSQL(t *testing.T) {
	d := openMem(t)
	_, err := d.Query(context.Background(), `SELEC nonsense`)
	if err == nil || errors.Is(err, ErrReadOnlyQuery) || !strings.HasPrefix(err.Error(), "query:") {
		t.Errorf("syntax error reported as %v", err)
	}
	_, err = d.Query(context.Background(), `SELECT * FROM "Missing_CL"`)
	if err == nil {
		t.Error("query of a missing table succeeded")
	}
}

func TestQueryReadsWithGoTypes(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	rows := []schema.Row{kitchenRow("t", "a", t0), kitchenRow("t", "b", t0.Add(time.Hour))}
	if _, err := d.WriteRows(ctx, &kitchen, rows); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sql  string
		args []any
		cols []string
		want [][]any
	}{
		{"columns", `SELECT id, eventTime, score, flagged, extra, note FROM "Kitchen_CL" WHERE id = ?`, []any{"a"},
			[]string{"id", "eventTime", "score", "flagged", "extra", "note"},
			[][]any{{"a", t0, 1.5, true, map[string]any{"k": []any{"v", 1.0}}, "note a"}}},
		{"aggregates", `SELECT count(*) AS n, sum(score) AS s, max(eventTime) AS m, sum(1) AS hs FROM "Kitchen_CL"`, nil,
			[]string{"n", "s", "m", "hs"}, [][]any{{int64(2), 3.0, t0.Add(time.Hour), int64(2)}}},
		{"with", `WITH x AS (SELECT id FROM "Kitchen_CL") SELECT id FROM x ORDER BY id`, nil,
			[]string{"id"}, [][]any{{"a"}, {"b"}}},
		{"small ints, decimal, list, struct, null", `SELECT 1::TINYINT AS a, 2::INTEGER AS b, 1.25::DECIMAL(5,2) AS c, [1, 2] AS d, {'x': 'y'} AS e, NULL AS f, 7::UBIGINT AS g, INTERVAL 90 MINUTE AS h`, nil,
			[]string{"a", "b", "c", "d", "e", "f", "g", "h"},
			[][]any{{int64(1), int64(2), 1.25, []any{int64(1), int64(2)}, map[string]any{"x": "y"}, nil, int64(7), 90 * time.Minute}}},
		{"json array", `SELECT '[1,"a"]'::JSON AS j`, nil, []string{"j"}, [][]any{{[]any{1.0, "a"}}}},
		{"no rows", `SELECT id FROM "Kitchen_CL" WHERE false`, nil, []string{"id"}, [][]any{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := d.Query(ctx, tc.sql, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Columns, tc.cols) {
				t.Errorf("columns = %v, want %v", res.Columns, tc.cols)
			}
			if !reflect.DeepEqual(res.Rows, tc.want) {
				t.Errorf("rows:\n got %#v\nwant %#v", res.Rows, tc.want)
			}
		})
	}
}

func TestQueryAcceptsReadStatements(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	if _, err := d.WriteRows(ctx, &kitchen, []schema.Row{kitchenRow("t", "a", t0)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sql     string
		minRows int
	}{
		{`DESCRIBE "Kitchen_CL"`, len(kitchen.Columns)},
		{`SHOW TABLES`, 4},
		{`SUMMARIZE "Kitchen_CL"`, len(kitchen.Columns)},
		{`PRAGMA table_info('Kitchen_CL')`, len(kitchen.Columns)},
		{`EXPLAIN SELECT * FROM "Kitchen_CL"`, 1},
		{`EXPLAIN ANALYZE SELECT count(*) FROM "Kitchen_CL"`, 1},
		{`FROM "Kitchen_CL"`, 1},
		{`VALUES (1), (2)`, 2},
		{`SELECT 1;`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			res, err := d.Query(ctx, tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) < tc.minRows {
				t.Errorf("%d rows, want at least %d", len(res.Rows), tc.minRows)
			}
		})
	}
	res, err := d.Query(ctx, `DESCRIBE "Kitchen_CL"`)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, r := range res.Rows {
		types[r[0].(string)] = r[1].(string)
	}
	want := map[string]string{"tenant": "VARCHAR", "TimeGenerated": "TIMESTAMP", "id": "VARCHAR", "eventTime": "TIMESTAMP",
		"score": "DOUBLE", "flagged": "BOOLEAN", "extra": "JSON", "note": "VARCHAR", EventTimeColumn: "TIMESTAMP"}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("column types = %v, want %v", types, want)
	}
}
