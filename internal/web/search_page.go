package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/auth"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// Search has two modes:
//
//   - filter (any signed-in user, viewer up): one table or parser view, the time range and up to
//     maxSearchConditions conditions. The SQL is built here: the relation and columns are checked against the
//     store's own list and quoted, values are parameters. It runs through store.Query.
//   - sql (analyst or admin): one SELECT typed by the user, run by the store's SearchQuery, which parses it with
//     DuckDB and refuses anything but a query over the store's tables and views (see duckdb.SearchQuery). A store
//     without SearchQuery offers the filter mode only.
//
// Both show at most searchRowLimit rows as a table, and the same query as CSV (format=csv).

// searchRowLimit caps a search's rows (table and CSV).
const searchRowLimit = 10000

// searchTableRows caps the rows the page's table shows (the CSV has all of searchRowLimit).
const searchTableRows = 500

// maxSearchConditions is how many field conditions the filter form offers.
const maxSearchConditions = 5

// maxSQLLength caps the text of a SQL search.
const maxSQLLength = 20000

// sqlSearcher is the store's safe query for user-written SQL (duckdb.DB implements it).
type sqlSearcher interface {
	SearchQuery(ctx context.Context, sql string, maxRows int) (*store.Result, bool, error)
}

// relationLister lists the tables and parser views a search may read (duckdb.DB implements it).
type relationLister interface {
	SearchRelations() []string
}

// searchOp is a filter operator: key, label, the SQL condition for a quoted column and a parameter, and how
// the typed value becomes the parameter (nil: as typed).
type searchOp struct {
	Key, Label string
	cond       func(col, param string) string
	value      func(v string) string
}

// searchOps are the filter operators.
var searchOps = []searchOp{
	{"eq", "equals", func(c, p string) string { return "CAST(" + c + " AS VARCHAR) = " + p }, nil},
	{"contains", "contains", func(c, p string) string { return "CAST(" + c + ` AS VARCHAR) ILIKE ` + p + ` ESCAPE '\'` },
		func(v string) string { return "%" + likeEscape(v) + "%" }},
	{"starts", "starts with", func(c, p string) string { return "CAST(" + c + ` AS VARCHAR) ILIKE ` + p + ` ESCAPE '\'` },
		func(v string) string { return likeEscape(v) + "%" }},
	{"gt", "greater than", func(c, p string) string { return c + " > " + p }, nil},
	{"lt", "less than", func(c, p string) string { return c + " < " + p }, nil},
}

func likeEscape(v string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(v)
}

// timeColumnCandidates are the event-time columns of the parser views, in order of preference.
var timeColumnCandidates = []string{"Event Time", "Date", "Time Generated", "TimeGenerated"}

// searchCondition is one filter row as submitted.
type searchCondition struct{ Column, Op, Value string }

// searchPage is the search page's data.
type searchPage struct {
	Base
	Mode       string
	CanSQL     bool
	Relations  []string
	Relation   string
	Columns    []string
	Ranges     []rangeOption
	Range      string
	Conditions []searchCondition
	Ops        []struct{ Key, Label string }
	SQL        string
	// Ran is set when a search was run; Result holds its rows (formatted), Truncated when more rows matched.
	Ran       bool
	Result    [][]string
	Header    []string
	Total     int
	Truncated bool
	Shown     int
	CSVURL    string
	// Statement is the filter mode's SQL, shown for transparency.
	Statement string
	Error     string
}

func (s *server) registerSearchPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /search", s.handleSearch)
}

// searchError is a problem with the search itself (shown to the user, status 400).
type searchError struct{ msg string }

func (e *searchError) Error() string { return e.msg }

func (s *server) handleSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := s.newSearchPage(r)
	if p.Mode == "sql" && !p.CanSQL {
		s.refuse(w, r, http.StatusForbidden, "SQL search needs the analyst role; the filter search is open to everyone")
		return
	}
	if q.Get("run") == "" && q.Get("format") == "" {
		s.renderPage(w, r, http.StatusOK, "search", p)
		return
	}
	res, more, err := s.runSearch(r.Context(), &p)
	if err != nil {
		status := http.StatusBadRequest
		var se *searchError
		if !errors.As(err, &se) && !isUserSQLError(err) {
			s.log.ErrorContext(r.Context(), "search", "error", err)
			status = http.StatusInternalServerError
		}
		p.Error = err.Error()
		if q.Get("format") == "csv" {
			http.Error(w, p.Error, status)
			return
		}
		s.renderPage(w, r, status, "search", p)
		return
	}
	rows := make([][]string, len(res.Rows))
	for i, row := range res.Rows {
		rows[i] = make([]string, len(row))
		for j, v := range row {
			rows[i][j] = cellText(v)
		}
	}
	if q.Get("format") == "csv" {
		writeCSV(w, "search.csv", res.Columns, rows)
		return
	}
	p.Ran, p.Header, p.Total, p.Truncated = true, res.Columns, len(rows), more
	p.Result = rows[:min(len(rows), searchTableRows)]
	p.Shown = len(p.Result)
	csvQuery := url.Values{}
	for k, v := range q {
		csvQuery[k] = v
	}
	csvQuery.Set("format", "csv")
	p.CSVURL = "/search?" + csvQuery.Encode()
	s.renderPage(w, r, http.StatusOK, "search", p)
}

// isUserSQLError reports whether a store error comes from the statement (refused, invalid or too slow) rather
// than from the store itself.
func isUserSQLError(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || strings.HasPrefix(err.Error(), "query:")
}

// newSearchPage reads the form.
func (s *server) newSearchPage(r *http.Request) searchPage {
	q := r.URL.Query()
	_, canSQL := s.store.(sqlSearcher)
	p := searchPage{Base: s.base(r, "search", "pages.js"), Mode: "filter", Ranges: ranges, Range: q.Get("range"),
		CanSQL: canSQL && userFrom(r).Can(auth.RoleAnalyst), Relations: s.searchRelations(),
		Relation: q.Get("rel"), SQL: q.Get("sql")}
	if q.Get("mode") == "sql" {
		p.Mode = "sql"
	}
	if p.Range == "" {
		p.Range = DefaultRange
	}
	for _, o := range searchOps {
		p.Ops = append(p.Ops, struct{ Key, Label string }{o.Key, o.Label})
	}
	cols, ops, vals := q["col"], q["op"], q["val"]
	for i := range min(len(cols), maxSearchConditions) {
		c := searchCondition{Column: cols[i]}
		if i < len(ops) {
			c.Op = ops[i]
		}
		if i < len(vals) {
			c.Value = vals[i]
		}
		p.Conditions = append(p.Conditions, c)
	}
	for len(p.Conditions) < maxSearchConditions {
		p.Conditions = append(p.Conditions, searchCondition{})
	}
	if slices.Contains(p.Relations, p.Relation) {
		p.Columns, _ = s.relationColumns(r.Context(), p.Relation)
	}
	return p
}

// searchRelations lists the relations a search may read: the store's list, else the schema's tables.
func (s *server) searchRelations() []string {
	if l, ok := s.store.(relationLister); ok {
		return l.SearchRelations()
	}
	var out []string
	for _, t := range schema.Tables() {
		out = append(out, t.Name)
	}
	return out
}

// relationColumns returns a relation's column names. rel must be one of searchRelations (a known name, so quoting
// it is safe).
func (s *server) relationColumns(ctx context.Context, rel string) ([]string, error) {
	res, err := s.store.Query(ctx, `SELECT * FROM `+quoteIdent(rel)+` LIMIT 0`)
	if err != nil {
		return nil, err
	}
	return res.Columns, nil
}

func (s *server) runSearch(ctx context.Context, p *searchPage) (*store.Result, bool, error) {
	if p.Mode == "sql" {
		text := strings.TrimSpace(p.SQL)
		switch {
		case text == "":
			return nil, false, &searchError{"Type a SELECT statement."}
		case len(text) > maxSQLLength:
			return nil, false, &searchError{fmt.Sprintf("The statement is longer than %d characters.", maxSQLLength)}
		}
		return s.store.(sqlSearcher).SearchQuery(ctx, text, searchRowLimit)
	}
	q, err := p.filterQuery(s.now())
	if err != nil {
		return nil, false, err
	}
	p.Statement = q.SQL
	res, err := s.store.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, false, err
	}
	more := len(res.Rows) > searchRowLimit
	if more {
		res.Rows = res.Rows[:searchRowLimit]
	}
	return res, more, nil
}

// filterQuery builds the filter mode's statement: the relation and columns are checked against the known lists
// and quoted; every value is a parameter.
func (p *searchPage) filterQuery(now time.Time) (query, error) {
	if !slices.Contains(p.Relations, p.Relation) {
		return query{}, &searchError{fmt.Sprintf("Choose a table or view (unknown: %q).", p.Relation)}
	}
	win, err := resolveRange(p.Range, now)
	if err != nil {
		return query{}, &searchError{err.Error()}
	}
	var where []string
	var args []any
	param := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if tc := p.timeColumn(); tc != "" {
		where = append(where, tc+" >= "+param(win.From), tc+" < "+param(win.To))
	}
	for i, c := range p.Conditions {
		if c.Column == "" && c.Value == "" {
			continue
		}
		if !slices.Contains(p.Columns, c.Column) {
			return query{}, &searchError{fmt.Sprintf("Condition %d: %q is not a column of %s.", i+1, c.Column, p.Relation)}
		}
		k := slices.IndexFunc(searchOps, func(o searchOp) bool { return o.Key == c.Op })
		if k < 0 {
			return query{}, &searchError{fmt.Sprintf("Condition %d: unknown operator %q.", i+1, c.Op)}
		}
		v := c.Value
		if searchOps[k].value != nil {
			v = searchOps[k].value(v)
		}
		where = append(where, searchOps[k].cond(quoteIdent(c.Column), param(v)))
	}
	sql := `SELECT * FROM ` + quoteIdent(p.Relation)
	if len(where) > 0 {
		sql += "\nWHERE " + strings.Join(where, "\n  AND ")
	}
	if tc := p.timeColumn(); tc != "" {
		sql += "\nORDER BY " + tc + " DESC"
	}
	sql += fmt.Sprintf("\nLIMIT %d", searchRowLimit+1)
	return query{SQL: sql, Args: args}, nil
}

// timeColumn is the relation's event-time expression (quoted), or "" when it has none: a table's
// schema.Table.EventTime (epoch milliseconds converted), else the first known time column of a view.
func (p *searchPage) timeColumn() string {
	if t := schema.TableByName(p.Relation); t != nil && t.EventTime != "" {
		col := quoteIdent(t.EventTime)
		if i := t.ColumnIndex(t.EventTime); i >= 0 && t.Columns[i].Type == schema.Real {
			return "epoch_ms(CAST(trunc(" + col + ") AS BIGINT))"
		}
		return col
	}
	for _, c := range timeColumnCandidates {
		if slices.Contains(p.Columns, c) {
			return quoteIdent(c)
		}
	}
	return ""
}

// cellText formats a result value for the table and CSV: times in UTC RFC 3339, lists and objects as JSON.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	return asString(v)
}

// writeCSV answers with a CSV download. Cells that a spreadsheet would run as a formula are prefixed with '.
func writeCSV(w http.ResponseWriter, filename string, header []string, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	for _, r := range rows {
		safe := make([]string, len(r))
		for i, c := range r {
			safe[i] = c
			if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				if _, err := strconv.ParseFloat(c, 64); err != nil {
					safe[i] = "'" + c
				}
			}
		}
		_ = cw.Write(safe)
	}
	cw.Flush()
}
