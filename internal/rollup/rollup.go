// Package rollup defines the summary tables the dashboards read instead of scanning a month of raw records.
//
// A rollup counts the rows of one Sentinel view (MimecastCG, MimecastCloudIntegrated, MimecastAudit) per tenant,
// time bucket and a few dimensions. Each has an hourly table, and those with many distinct values (addresses,
// domains) also a daily one. The store (internal/store/duckdb) puts every new row of a table also into the
// table's pending table (PendingTable), in the transaction that stores it, and from time to time counts the
// pending rows into the rollups and removes them in one transaction; so every stored row is counted exactly once,
// either in a rollup or as a pending row. The store also compacts the rollups' partial counts.
//
// Readers take Source: a relation with the rollup's columns over a window, whose whole days come from the daily
// table, whose whole hours from the hourly one (each plus the pending rows of those days and hours, read through
// PendingView), and whose partial hours at either end from the view itself, so the answer is exact for any
// window, not only whole hours.
package rollup

import (
	"fmt"
	"strings"
	"time"
)

// Count is the count column of every rollup.
const Count = "n"

// Time is the bucket column of every rollup (the bucket's start), named like the views' event time so that
// panel SQL reads the same over a view and over a rollup.
const Time = "Event Time"

// Dim is one dimension: a column of the rollup and the expression over the view's columns that fills it.
type Dim struct {
	Name string
	// Expr is SQL over the view's columns; empty means the view column Name itself.
	Expr string
}

// Def is one rollup.
type Def struct {
	// Name is the hourly table's name; the daily table, if any, is Name + "_day".
	Name string
	// View is the Sentinel view summarised, and Table the stored table under it (whose writes maintain the rollup).
	View, Table string
	// Dims are the counted dimensions (all text).
	Dims []Dim
	// Where keeps only the view rows it matches (constant SQL over view columns); empty keeps all.
	Where string
	// Unnest, when set, counts one row per element of the list its Expr yields, in a column Unnest.Name; empty
	// elements are left out. Dims may name that column.
	Unnest *Dim
	// Daily adds the daily table, for rollups with many distinct values per hour.
	Daily bool
	// rawOnly makes Source count the whole window from the view (Raw), the reference its answers must equal.
	rawOnly bool
}

// Raw is the rollup whose Source counts the whole window from the view instead of the stored tables: slower,
// and the reference the stored tables must agree with.
func (d Def) Raw() Def {
	d.rawOnly = true
	return d
}

// DayTable is the daily table's name ("" when the rollup has none).
func (d Def) DayTable() string {
	if !d.Daily {
		return ""
	}
	return d.Name + "_day"
}

// Tables are the rollup's tables with their bucket units.
func (d Def) Tables() []Table {
	t := []Table{{d.Name, "hour"}}
	if d.Daily {
		t = append(t, Table{d.DayTable(), "day"})
	}
	return t
}

// Table is one stored table of a rollup and the date_trunc unit of its buckets.
type Table struct {
	Name, Unit string
}

// PendingTable is the table holding a stored table's rows not yet counted into its rollups.
func PendingTable(table string) string { return "rollup_pending_" + table }

// PendingView is the view applying a Sentinel view to its table's pending rows.
func PendingView(view string) string { return "rollup_pending_" + view }

// Ident quotes an SQL identifier.
func Ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Columns are the rollup's column names in order: tenant, the bucket, the dimensions, the count.
func (d Def) Columns() []string {
	c := []string{"tenant", Time}
	for _, x := range d.Dims {
		c = append(c, x.Name)
	}
	return append(c, Count)
}

// CreateSQL is the CREATE TABLE statement of one of the rollup's tables. Rollup tables have no key: a write
// appends partial counts, and readers sum them (compaction merges them later).
func (d Def) CreateSQL(table string) string {
	cols := []string{`"tenant" VARCHAR NOT NULL`, Ident(Time) + ` TIMESTAMP NOT NULL`}
	for _, x := range d.Dims {
		cols = append(cols, Ident(x.Name)+` VARCHAR NOT NULL`)
	}
	cols = append(cols, Ident(Count)+` BIGINT NOT NULL`)
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", Ident(table), strings.Join(cols, ", "))
}

// dimList is the dimension columns, quoted.
func (d Def) dimList() string {
	q := make([]string, len(d.Dims))
	for i, x := range d.Dims {
		q[i] = Ident(x.Name)
	}
	return strings.Join(q, ", ")
}

// Summarise is the SELECT counting the view rows of relation (a parenthesised query or a quoted view name with
// the view's columns) into buckets of unit ("hour" or "day"), with the rollup's columns in order.
func (d Def) Summarise(relation, unit string) string {
	from := relation
	where := d.Where
	if d.Unnest != nil {
		from = "(SELECT *, unnest(" + d.Unnest.Expr + ") AS " + Ident(d.Unnest.Name) + " FROM " + relation + ")"
		if where != "" {
			// Where is over the view's columns, which the unnesting select keeps.
			where = "(" + where + ") AND "
		}
		where += Ident(d.Unnest.Name) + " <> ''"
	}
	sel := []string{`"tenant"`, fmt.Sprintf("date_trunc('%s', %s) AS %s", unit, Ident(Time), Ident(Time))}
	for _, x := range d.Dims {
		e := x.Expr
		if e == "" {
			e = Ident(x.Name)
		}
		sel = append(sel, "coalesce("+e+", '') AS "+Ident(x.Name))
	}
	sel = append(sel, "count(*) AS "+Ident(Count))
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + from + " AS v"
	if where != "" {
		q += " WHERE " + where
	}
	return q + " GROUP BY ALL"
}

// CompactSQL merges the partial counts of table (unit its bucket) from since on into one row per bucket and
// dimension values. Run the statements in order in one transaction; $1 is since.
func (d Def) CompactSQL(table string) []string {
	cols := d.Columns()
	q := make([]string, len(cols)-1)
	for i, c := range cols[:len(cols)-1] {
		q[i] = Ident(c)
	}
	keys := strings.Join(q, ", ")
	tmp := Ident("compact_" + table)
	return []string{
		fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT %s, sum(%s)::BIGINT AS %s FROM %s WHERE %s >= $1 GROUP BY ALL",
			tmp, keys, Ident(Count), Ident(Count), Ident(table), Ident(Time)),
		fmt.Sprintf("DELETE FROM %s WHERE %s >= $1", Ident(table), Ident(Time)),
		fmt.Sprintf("INSERT INTO %s SELECT * FROM %s", Ident(table), tmp),
		fmt.Sprintf("DROP TABLE %s", tmp),
	}
}

// Source is a parenthesised relation with the rollup's columns holding the counts of the view rows whose event
// time is in [from, to) (and of one tenant, when tenant is not empty): whole days from the daily table, whole
// hours from the hourly table, and the partial hours at either end counted from the view. add appends a query
// parameter and returns its placeholder. Rows are partial counts: sum Count per group.
func (d Def) Source(from, to time.Time, tenant string, add func(any) string) string {
	from, to = from.UTC(), to.UTC()
	tenantCond := ""
	if tenant != "" {
		tenantCond = ` AND "tenant" = ` + add(tenant)
	}
	cols := `"tenant", ` + Ident(Time) + ", " + d.dimList() + ", " + Ident(Count)
	var parts []string
	window := func(view string, lo, hi time.Time) string {
		return "(SELECT * FROM " + Ident(view) + " WHERE " + Ident(Time) + " >= " + add(lo) + " AND " + Ident(Time) +
			" < " + add(hi) + tenantCond + ")"
	}
	stored := func(table, unit string, lo, hi time.Time) {
		parts = append(parts, "SELECT "+cols+" FROM "+Ident(table)+" WHERE "+Ident(Time)+" >= "+add(lo)+" AND "+
			Ident(Time)+" < "+add(hi)+tenantCond, d.Summarise(window(PendingView(d.View), lo, hi), unit))
	}
	raw := func(lo, hi time.Time) { parts = append(parts, d.Summarise(window(d.View, lo, hi), "hour")) }
	spans := d.split(from, to)
	if d.rawOnly {
		spans = []span{{from, to, ""}}
	}
	for _, s := range spans {
		switch s.unit {
		case "day":
			stored(d.DayTable(), "day", s.lo, s.hi)
		case "hour":
			stored(d.Name, "hour", s.lo, s.hi)
		default:
			raw(s.lo, s.hi)
		}
	}
	if len(parts) == 0 {
		return "(SELECT " + cols + " FROM " + Ident(d.Name) + " WHERE false)"
	}
	return "(" + strings.Join(parts, "\nUNION ALL\n") + ")"
}

// span is a part of a window and where it is read: "day", "hour" (a rollup table) or "" (the view).
type span struct {
	lo, hi time.Time
	unit   string
}

// split cuts [from, to) into whole days (when the rollup has a daily table), whole hours and partial hours.
func (d Def) split(from, to time.Time) []span {
	if !from.Before(to) {
		return nil
	}
	h0, h1 := ceil(from, time.Hour), to.Truncate(time.Hour)
	if !h0.Before(h1) {
		return []span{{from, to, ""}}
	}
	var out []span
	if from.Before(h0) {
		out = append(out, span{from, h0, ""})
	}
	d0, d1 := ceil(h0, 24*time.Hour), h1.Truncate(24*time.Hour)
	if d.Daily && d0.Before(d1) {
		if h0.Before(d0) {
			out = append(out, span{h0, d0, "hour"})
		}
		out = append(out, span{d0, d1, "day"})
		if d1.Before(h1) {
			out = append(out, span{d1, h1, "hour"})
		}
	} else {
		out = append(out, span{h0, h1, "hour"})
	}
	if h1.Before(to) {
		out = append(out, span{h1, to, ""})
	}
	return out
}

// ceil rounds t up to a multiple of unit (UTC).
func ceil(t time.Time, unit time.Duration) time.Time {
	f := t.Truncate(unit)
	if f.Before(t) {
		return f.Add(unit)
	}
	return f
}

// For returns the rollups maintained on writes to a stored table.
func For(table string) []Def {
	var out []Def
	for _, d := range All() {
		if d.Table == table {
			out = append(out, d)
		}
	}
	return out
}

// Get returns the rollup with the given hourly table name; it panics on an unknown name (names are constants).
func Get(name string) Def {
	for _, d := range All() {
		if d.Name == name {
			return d
		}
	}
	panic("rollup: unknown rollup " + name)
}

// UsesCountry reports whether the rollup counts by country (CountryFunc), and so must be recounted when the
// GeoIP database changes.
func (d Def) UsesCountry() bool {
	for _, x := range d.Dims {
		if strings.Contains(x.Expr, CountryFunc+"(") {
			return true
		}
	}
	return false
}
