package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/store"
)

// SearchQuery is the query a person types (the web UI's SQL search). Unlike Query, which runs the statements
// castwatch writes itself, it trusts nothing in the text:
//
//   - DuckDB's own parser reads the text (json_serialize_sql, the statement passed as a parameter), so quoting,
//     comments, escapes and dollar strings are seen exactly as the engine sees them. The text must hold exactly
//     one statement and it must be a query (SELECT, WITH … SELECT, VALUES, FROM-first, set operations); every
//     other statement (COPY, ATTACH, INSTALL, LOAD, PRAGMA, SET, CALL, EXPORT, DDL, DML, …) is refused, as are
//     PIVOT statements, DESCRIBE, SHOW and SUMMARIZE.
//   - Every relation the parse tree names must be one of the store's tables or parser views (schema main, no
//     other catalog), or a common table expression in scope whose name is a plain identifier. A table function
//     anywhere (read_csv, read_text, read_parquet, glob, query_table, duckdb_settings, …), a quoted file name
//     ('/etc/passwd', 'x.csv' — DuckDB's replacement scans), information_schema, pg_catalog, system catalogs and
//     attached databases are refused. Any element of the parse tree the check does not know is refused too
//     (it fails closed when a DuckDB upgrade adds syntax).
//   - Scalar functions that reveal or change the process state (getenv, current_setting, getvariable, nextval,
//     currval, setseed) and functions of the duckdb_/pragma_/read_ families are refused.
//   - The statement then runs like Query (statement type checked again, a transaction that is rolled back),
//     under a deadline (SearchTimeout) and reads at most maxRows rows.
//
// It returns the rows read and whether more rows were left unread. Refusals wrap ErrReadOnlyQuery.
func (d *DB) SearchQuery(ctx context.Context, query string, maxRows int) (*store.Result, bool, error) {
	if maxRows <= 0 || maxRows > MaxSearchRows {
		return nil, false, fmt.Errorf("query: row limit %d is outside 1…%d", maxRows, MaxSearchRows)
	}
	ctx, cancel := context.WithTimeout(ctx, SearchTimeout)
	defer cancel()
	res, more, err := d.runReadOnly(ctx, query, maxRows, d.checkSearch)
	if errors.Is(err, context.DeadlineExceeded) || (err != nil && ctx.Err() != nil) {
		return nil, false, fmt.Errorf("query: stopped after %s: %w", SearchTimeout, context.DeadlineExceeded)
	}
	return res, more, err
}

// MaxSearchRows is the largest row limit SearchQuery accepts.
const MaxSearchRows = 100_000

// SearchTimeout bounds one SearchQuery.
var SearchTimeout = 30 * time.Second

// deniedFunctions are scalar functions a search may not call: they read settings, variables or the environment,
// or change sequence and random state.
var deniedFunctions = map[string]bool{
	"getenv": true, "current_setting": true, "getvariable": true, "nextval": true, "currval": true, "setseed": true,
}

// deniedFunctionPrefixes are function families a search may not call (catalog and file access).
var deniedFunctionPrefixes = []string{"duckdb_", "pragma_", "read_", "sniff_", "parquet_", "glob"}

// plainIdentifier is what a common table expression may be called: no dots, slashes or quotes, so a reference
// to it can never be taken for a file name.
var plainIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// allowedRefTypes are the table reference kinds a search may use besides BASE_TABLE (checked by name).
var allowedRefTypes = map[string]bool{"SUBQUERY": true, "JOIN": true, "EXPRESSION_LIST": true, "EMPTY": true}

// allowedNodeTypes are the query node kinds and ORDER BY directions a search may use.
var allowedNodeTypes = map[string]bool{
	"SELECT_NODE": true, "SET_OPERATION_NODE": true, "RECURSIVE_CTE_NODE": true, "CTE_NODE": true,
	"ORDER_DEFAULT": true, "ASCENDING": true, "DESCENDING": true,
}

// checkSearch parses query with DuckDB and refuses it unless it is one query over the store's relations.
func (d *DB) checkSearch(ctx context.Context, c *sql.Conn, query string) error {
	var raw string
	err := c.QueryRowContext(ctx, `SELECT CAST(json_serialize_sql(CAST(? AS VARCHAR)) AS VARCHAR)`, query).Scan(&raw)
	if err != nil {
		return fmt.Errorf("query: parse: %w", err)
	}
	var parsed struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(raw), &parsed); err != nil {
		return fmt.Errorf("query: parse: %w", err)
	}
	switch {
	case parsed.Error && parsed.ErrorType == "not implemented":
		return fmt.Errorf("%w: only a single SELECT (or WITH … SELECT) statement is allowed", ErrReadOnlyQuery)
	case parsed.Error:
		return fmt.Errorf("query: %s error: %s", parsed.ErrorType, parsed.ErrorMessage)
	case len(parsed.Statements) != 1:
		return fmt.Errorf("%w: exactly one statement is allowed, got %d", ErrReadOnlyQuery, len(parsed.Statements))
	}
	var tree any
	if err := json.Unmarshal(parsed.Statements[0], &tree); err != nil {
		return fmt.Errorf("query: parse: %w", err)
	}
	w := treeWalker{relations: d.searchRelations()}
	return w.walk(tree, nil)
}

// searchRelations are the lower-cased names of the tables and parser views a search may read.
func (d *DB) searchRelations() map[string]bool {
	names := make(map[string]bool, len(d.tables)+len(sentinelViews))
	for _, t := range d.tables {
		names[strings.ToLower(t.Name)] = true
	}
	for _, v := range sentinelViews {
		if names[strings.ToLower(v.source)] {
			names[strings.ToLower(v.name)] = true
		}
	}
	return names
}

// SearchRelations returns the names of the tables and parser views SearchQuery may read, tables first.
func (d *DB) SearchRelations() []string {
	var out []string
	have := map[string]bool{}
	for _, t := range d.tables {
		out = append(out, t.Name)
		have[t.Name] = true
	}
	for _, v := range sentinelViews {
		if have[v.source] {
			out = append(out, v.name)
		}
	}
	return out
}

// treeWalker checks a json_serialize_sql parse tree.
type treeWalker struct {
	relations map[string]bool
}

// walk checks node and everything below it; ctes are the common table expression names in scope.
func (w treeWalker) walk(node any, ctes map[string]bool) error {
	switch n := node.(type) {
	case []any:
		for _, e := range n {
			if err := w.walk(e, ctes); err != nil {
				return err
			}
		}
	case map[string]any:
		scope, err := withCTEs(n, ctes)
		if err != nil {
			return err
		}
		if err := w.checkObject(n, scope); err != nil {
			return err
		}
		for _, v := range n {
			if err := w.walk(v, scope); err != nil {
				return err
			}
		}
	}
	return nil
}

// withCTEs returns ctes plus the names node's cte_map defines (visible in node and everything below it).
func withCTEs(node map[string]any, ctes map[string]bool) (map[string]bool, error) {
	cm, ok := node["cte_map"].(map[string]any)
	if !ok {
		return ctes, nil
	}
	entries, _ := cm["map"].([]any)
	if len(entries) == 0 {
		return ctes, nil
	}
	scope := make(map[string]bool, len(ctes)+len(entries))
	for k := range ctes {
		scope[k] = true
	}
	for _, e := range entries {
		entry, _ := e.(map[string]any)
		name, _ := entry["key"].(string)
		if !plainIdentifier.MatchString(name) {
			return nil, fmt.Errorf("%w: a WITH name must be a plain identifier (letters, digits, _), not %q", ErrReadOnlyQuery, name)
		}
		scope[strings.ToLower(name)] = true
	}
	return scope, nil
}

// checkObject checks one object of the parse tree: expressions (they carry "class") for denied functions, and
// query nodes, table references and modifiers (they carry a string "type") against the allowed kinds.
func (w treeWalker) checkObject(n map[string]any, ctes map[string]bool) error {
	if class, ok := n["class"].(string); ok {
		if class == "FUNCTION" {
			return checkFunction(n)
		}
		return nil
	}
	typ, ok := n["type"].(string)
	if !ok {
		return nil
	}
	switch {
	case typ == "BASE_TABLE":
		return w.checkTable(n, ctes)
	case typ == "TABLE_FUNCTION":
		name := "?"
		if f, ok := n["function"].(map[string]any); ok {
			name, _ = f["function_name"].(string)
		}
		return fmt.Errorf("%w: table function %s() is not allowed; read the store's tables and views", ErrReadOnlyQuery, name)
	case allowedRefTypes[typ], allowedNodeTypes[typ], strings.HasSuffix(typ, "_MODIFIER"):
		return nil
	case typ == "SHOW_REF":
		return fmt.Errorf("%w: DESCRIBE, SHOW and SUMMARIZE are not allowed; use SELECT", ErrReadOnlyQuery)
	}
	return fmt.Errorf("%w: %s is not allowed in a search", ErrReadOnlyQuery, strings.ToLower(strings.ReplaceAll(typ, "_", " ")))
}

// checkTable allows a base table reference to one of the store's relations or a CTE in scope.
func (w treeWalker) checkTable(n map[string]any, ctes map[string]bool) error {
	name, _ := n["table_name"].(string)
	schemaName, _ := n["schema_name"].(string)
	catalog, _ := n["catalog_name"].(string)
	lower := strings.ToLower(name)
	switch {
	case catalog != "" || (schemaName != "" && !strings.EqualFold(schemaName, "main")):
		return fmt.Errorf("%w: %q is outside the store's tables and views", ErrReadOnlyQuery, strings.Trim(catalog+"."+schemaName+"."+name, "."))
	case schemaName == "" && ctes[lower]:
		return nil
	case w.relations[lower]:
		return nil
	}
	return fmt.Errorf("%w: %q is not one of the store's tables or views", ErrReadOnlyQuery, name)
}

// checkFunction refuses denied scalar functions and functions qualified with a catalog or schema.
func checkFunction(n map[string]any) error {
	name, _ := n["function_name"].(string)
	lower := strings.ToLower(name)
	if catalog, _ := n["catalog"].(string); catalog != "" {
		return fmt.Errorf("%w: function %s.%s() is not allowed", ErrReadOnlyQuery, catalog, name)
	}
	if schemaName, _ := n["schema"].(string); schemaName != "" && !strings.EqualFold(schemaName, "main") {
		return fmt.Errorf("%w: function %s.%s() is not allowed", ErrReadOnlyQuery, schemaName, name)
	}
	if deniedFunctions[lower] {
		return fmt.Errorf("%w: function %s() is not allowed", ErrReadOnlyQuery, name)
	}
	for _, p := range deniedFunctionPrefixes {
		if strings.HasPrefix(lower, p) {
			return fmt.Errorf("%w: function %s() is not allowed", ErrReadOnlyQuery, name)
		}
	}
	return nil
}
