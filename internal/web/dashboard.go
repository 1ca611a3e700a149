package web

// The dashboards framework: the five Sentinel workbooks (spec sentinel-solution §5) as declarative values. A
// Dashboard has tabs, a tab has panels and parameters, a panel has a kind and a query builder. The page
// (templates/pages/dashboard.html) renders one placeholder per panel; static/dash.js fills each from
// GET /api/v1/dashboards/{id}/panels/{panel}, which runs the panel's query and shapes the rows for its kind
// (dashboard_data.go). Panels are registered in dashboard_registry.go; each workbook's panels live in
// dash_<workbook>.go.

import (
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/rollup"
)

// PanelKind is how a panel's rows are drawn. Each kind expects its query's columns in a fixed order.
type PanelKind string

// The panel kinds and the columns their query returns.
const (
	// KindTile is one big number: one row; column 0 the value (number or text), an optional column 1 a caption.
	KindTile PanelKind = "tile"
	// KindBar is a categorical bar chart: columns label, value (one bar per row, in query order).
	KindBar PanelKind = "bar"
	// KindStackedBar is a stacked bar chart in long form: columns x, series, value. With Panel.TimeX the x column
	// is a time bucket (see Params.Bucket) and the framework fills absent buckets with 0.
	KindStackedBar PanelKind = "stacked-bar"
	// KindPie is a pie: columns label, value. The framework keeps the 10 largest slices and sums the rest into
	// one "Other" slice, as the workbooks' top-10 pies do.
	KindPie PanelKind = "pie"
	// KindTimeseries is a line chart in long form: columns bucket (timestamp from Params.Bucket), series, value.
	// The framework fills absent buckets with 0 (KQL make-series default=0).
	KindTimeseries PanelKind = "timeseries"
	// KindTable is a grid: any columns, at most MaxTableRows rows (the workbooks' rowLimit); the query must not
	// carry its own LIMIT (the framework appends one to detect truncation).
	KindTable PanelKind = "table"
	// KindMap places senders by country: columns ip, value. The framework looks each address up in GeoIP and
	// answers columns country, name, lat, lon, value (addresses without a country count as "Unknown").
	KindMap PanelKind = "map"
)

// MaxTableRows caps a table panel, like the workbooks' grid rowLimit.
const MaxTableRows = 10000

// tableRowCap is the cap runPanel applies: MaxTableRows, lowered by tests to exercise truncation on small data.
var tableRowCap = MaxTableRows

// pieSlices is how many slices a pie keeps before the rest becomes "Other".
const pieSlices = 10

// otherLabel names the slice that sums the slices past the top ten.
const otherLabel = "Other"

// Dashboard is one workbook.
type Dashboard struct {
	// ID is the URL name (/dashboards/{ID}); lower case, digits and '-'.
	ID string
	// Title is shown in the index and as the page heading.
	Title string
	// Description is one sentence for the index page.
	Description string
	// Tabs are shown in order; a dashboard without tabs in the workbook has exactly one.
	Tabs []Tab
}

// Tab is one tab of a dashboard.
type Tab struct {
	// ID is the tab's URL value (?tab=ID); unique within the dashboard.
	ID    string
	Title string
	// Params are the tab's parameters besides range and tenant: text inputs shown above the panels (Input) and
	// the values that drill-down clicks set. A panel request may carry only these (else 400).
	Params []Param
	// Panels are laid out in order.
	Panels []Panel
}

// Param is a tab parameter passed as a URL query value.
type Param struct {
	// Name is the URL query name, also used in panel titles as {Name}.
	Name string
	// Label is shown beside an input, and in the hint of panels that wait for a drill-down value.
	Label string
	// Default is the value when the request has none (e.g. "*" for the e-mail filter meaning "all").
	Default string
	// Input shows the parameter as a text box on the tab; otherwise only drill-down clicks set it.
	Input bool
	// Check validates a non-empty value; nil accepts any value of up to maxParamLen bytes.
	Check func(v string) error
}

// maxParamLen bounds every parameter value.
const maxParamLen = 512

// Panel is one chart, tile, table or map.
type Panel struct {
	// ID is the panel's URL name; unique within the dashboard (not only the tab).
	ID string
	// Title may name tab parameters in braces ("Policy Mode for Action: {action}"); the page fills them in.
	Title string
	Kind  PanelKind
	// Query builds the panel's SQL from the window, tenant and parameters. Every value from the request goes in
	// args ($1, $2, … through Args.Add), never into the SQL text.
	Query func(p Params) (sql string, args []any)
	// Needs lists parameters that must be set before the panel loads (drill-down targets). Until then the page
	// shows a hint, and the API answers 400.
	Needs []string
	// Drill makes the panel clickable: a click sets a tab parameter and loads the panels that need it.
	Drill *Drill
	// TimeX says column 0 of a stacked-bar is a time bucket (see KindStackedBar).
	TimeX bool
	// ByCountry says a pie's query returns country code, value: the framework names the countries first.
	ByCountry bool
	// Wide lays the panel across the full width (tables and time charts); others take half.
	Wide bool
	// Note is a short caption under the title (e.g. what the panel filters on).
	Note string
	// Newest, on a table whose query orders by "Event Time" DESC first, lets the framework run the query over
	// only the newest part of the window that holds the first MaxTableRows+1 rows (see newestRows).
	Newest *Newest
	// KeyCut, on a table ordered by plain columns first, lets the framework bound the rows by those columns
	// before the view computes its parsed ones (see keyCutRows).
	KeyCut *KeyCut
}

// KeyCut declares a table whose ORDER BY starts with plain view columns (stored values, not parsed ones) and
// whose query reads Params.Cut: a first query finds the (cap+1)-th distinct tuple of those columns in the table's
// order, and the table then runs with Cut set to it. Its query adds Bound, a condition on plain columns that
// DuckDB applies before computing the view's parsed columns, so a table of many rows parses only about the cap.
type KeyCut struct {
	// Keys are the leading ORDER BY columns (quoted), and Desc says which sort descending.
	Keys []string
	Desc []bool
	// From is the table's FROM and WHERE (window and filters), without the bound.
	From func(p Params, a *Args) string
}

// Bound is the condition keeping the rows whose key tuple comes no later than p.Cut in the table's order (""
// when Cut is unset).
func (k *KeyCut) Bound(p Params, a *Args) string {
	if len(p.Cut) != len(k.Keys) {
		return ""
	}
	var or []string
	for i := range k.Keys {
		var and []string
		for j := range i {
			and = append(and, k.Keys[j]+" = "+a.Add(p.Cut[j]))
		}
		op := "<"
		if k.Desc[i] {
			op = ">"
		}
		if i == len(k.Keys)-1 {
			op += "="
		}
		and = append(and, k.Keys[i]+" "+op+" "+a.Add(p.Cut[i]))
		or = append(or, "("+strings.Join(and, " AND ")+")")
	}
	return "(" + strings.Join(or, " OR ") + ")"
}

// order is the keys as an ORDER BY list.
func (k *KeyCut) order() string {
	terms := make([]string, len(k.Keys))
	for i, c := range k.Keys {
		terms[i] = c
		if k.Desc[i] {
			terms[i] += " DESC"
		}
	}
	return strings.Join(terms, ", ")
}

// Newest declares a newest-first table and how to find how far back its first rows reach.
type Newest struct {
	// Rollup names the rollup (internal/rollup) whose hourly counts bound the table's records per hour; empty
	// means the framework widens a window from the last hour instead.
	Rollup string
	// Where is the condition over the rollup's dimensions that matches exactly the records the table's own WHERE
	// matches (besides the window and tenant), so that its hourly counts are the table's records per hour. Every
	// request value goes in a (Args.Add).
	Where func(p Params, a *Args) string
}

// Drill is what a click on a panel sets.
type Drill struct {
	// Param is the tab parameter the click sets.
	Param string
	// Value is a fixed value to set (tiles: "MALWARE"); empty means the clicked row's label (column 0 of a bar
	// or pie, the value column 0 of a tile, the clicked cell's row column Column of a table).
	Value string
	// Column is the table column whose value a click on a table row sets (tables only).
	Column int
}

// Params are a panel request's resolved inputs.
type Params struct {
	// From and To bound the window: From <= time < To.
	From, To time.Time
	// Range is the range name (e.g. "14d").
	Range string
	// Tenant restricts to one tenant; empty means all.
	Tenant string
	// Values are the tab parameters (defaults applied).
	Values map[string]string
	// Cut is the key tuple a KeyCut table's rows are bounded by (nil: no bound).
	Cut []any
}

// Get returns a tab parameter's value ("" when unset).
func (p Params) Get(name string) string { return p.Values[name] }

// Bucket is the date_trunc unit of time charts: "hour" for ranges up to 3 days, else "day" (the workbooks' step
// 1d). It is a constant chosen by the server, safe to splice into SQL.
func (p Params) Bucket() string {
	if p.To.Sub(p.From) <= 3*day {
		return "hour"
	}
	return "day"
}

// bucketStep is the length of one Bucket.
func (p Params) bucketStep() time.Duration {
	if p.Bucket() == "hour" {
		return time.Hour
	}
	return day
}

// Args collects a query's parameters and names each by its position.
type Args []any

// Add appends v and returns its placeholder ($1, $2, …).
func (a *Args) Add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// Window returns the filter `col >= $i AND col < $j` for the request window, plus `AND "tenant" = $k` when a
// tenant is selected. col is a quoted column or expression written by the panel author, never user input.
func (p Params) Window(a *Args, col string) string {
	w := col + " >= " + a.Add(p.From) + " AND " + col + " < " + a.Add(p.To)
	return w + p.TenantFilter(a)
}

// TenantFilter returns ` AND "tenant" = $k` when a tenant is selected, else "".
func (p Params) TenantFilter(a *Args) string {
	if p.Tenant == "" {
		return ""
	}
	return ` AND "tenant" = ` + a.Add(p.Tenant)
}

// rollupOf returns the rollup a panel reads. Tests replace it with one returning Def.Raw(), whose counts come
// from the views: the reference the stored rollups must agree with.
var rollupOf = rollup.Get

// rollupCount is the count of a query over a rollup: the sum of its partial counts (column rollup.Count) as a
// BIGINT, not DuckDB's HUGEINT sum.
const rollupCount = `CAST(sum("` + rollup.Count + `") AS BIGINT)`

// RollupFrom returns ` FROM <relation> AS src` where the relation holds the counts of the named rollup over the
// request window and tenant (rollup.Def.Source), so the query adds only conditions over the rollup's dimensions.
// Its "Event Time" is the start of an hour, or of a day for the whole UTC days of a rollup with a daily table:
// time charts (date_trunc with p.Bucket(), which is "hour" up to 3 days) read only rollups without one.
func (p Params) RollupFrom(a *Args, name string) string {
	return ` FROM ` + rollupOf(name).Source(p.From, p.To, p.Tenant, a.Add) + ` AS src`
}

// Equals returns `col = $i` for a parameter value.
func (a *Args) Equals(col, value string) string { return col + " = " + a.Add(value) }

// MatchAll returns `($i = '*' OR col = $i)`: the workbooks' `('{Email}' == "*" or Email == '{Email}')`.
func (a *Args) MatchAll(col, value string) string {
	ph := a.Add(value)
	return "(" + ph + " = '*' OR " + col + " = " + ph + ")"
}

// panelRef is a panel with where it sits.
type panelRef struct {
	Dashboard *Dashboard
	Tab       *Tab
	Panel     *Panel
}

// findPanel returns the panel with the given id.
func (d *Dashboard) findPanel(id string) (panelRef, bool) {
	for ti := range d.Tabs {
		t := &d.Tabs[ti]
		for pi := range t.Panels {
			if t.Panels[pi].ID == id {
				return panelRef{d, t, &t.Panels[pi]}, true
			}
		}
	}
	return panelRef{}, false
}

// findTab returns the tab with the given id; "" is the first tab.
func (d *Dashboard) findTab(id string) (*Tab, bool) {
	if id == "" && len(d.Tabs) > 0 {
		return &d.Tabs[0], true
	}
	for i := range d.Tabs {
		if d.Tabs[i].ID == id {
			return &d.Tabs[i], true
		}
	}
	return nil, false
}

// param returns the tab's parameter with the given name.
func (t *Tab) param(name string) (Param, bool) {
	for _, p := range t.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// fillTitle replaces {name} in a title with the parameter values.
func fillTitle(title string, values map[string]string) string {
	if !strings.Contains(title, "{") {
		return title
	}
	for k, v := range values {
		title = strings.ReplaceAll(title, "{"+k+"}", v)
	}
	return title
}

// sqlString quotes a constant written in this package as a SQL string literal. Never use it for request values.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// quoteIdent quotes a constant column alias written in this package. Never use it for request values.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
