package web

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/castwatch/castwatch/internal/store"
)

// unknownCountry is the map row of addresses GeoIP does not place (private, reserved or absent from the database).
const unknownCountry = "Unknown"

// reservedParams are the query values every panel request may carry besides its tab's parameters.
var reservedParams = []string{"range", "tenant", "format"}

// paramError is a request parameter problem, answered with 400.
type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }

func badParam(format string, args ...any) error { return &paramError{fmt.Sprintf(format, args...)} }

// PanelParams resolves a panel request's query values: the range (default 14d) ending at now, the tenant, and the
// tab's parameters with their defaults. Unknown names, repeated values, over-long or invalid values and missing
// drill-down values are errors naming the parameter. extra are further names the caller accepts (e.g. "tab").
func PanelParams(tab *Tab, panel *Panel, q url.Values, now time.Time, extra ...string) (Params, error) {
	var p Params
	for name, vs := range q {
		if _, ok := tab.param(name); !ok && !slices.Contains(reservedParams, name) && !slices.Contains(extra, name) {
			return p, badParam("unknown parameter %q: this panel accepts %s", name, strings.Join(allowedParams(tab), ", "))
		}
		if len(vs) > 1 {
			return p, badParam("parameter %q is given %d times; give it once", name, len(vs))
		}
	}
	win, err := resolveRange(q.Get("range"), now)
	if err != nil {
		return p, &paramError{err.Error()}
	}
	p = Params{From: win.From, To: win.To, Range: win.Range.Name, Tenant: q.Get("tenant"), Values: map[string]string{}}
	if err := checkValue("tenant", p.Tenant, nil); err != nil {
		return p, err
	}
	for _, tp := range tab.Params {
		v := q.Get(tp.Name)
		if v == "" {
			v = tp.Default
		}
		if err := checkValue(tp.Name, v, tp.Check); err != nil {
			return p, err
		}
		p.Values[tp.Name] = v
	}
	if panel != nil {
		for _, need := range panel.Needs {
			if p.Values[need] == "" {
				return p, badParam("panel %q needs parameter %q (a drill-down value: click the panel that sets it)", panel.ID, need)
			}
		}
	}
	return p, nil
}

// allowedParams lists the names a tab's panel requests accept.
func allowedParams(tab *Tab) []string {
	names := slices.Clone(reservedParams)
	for _, tp := range tab.Params {
		names = append(names, tp.Name)
	}
	return names
}

// checkValue validates one parameter value.
func checkValue(name, v string, check func(string) error) error {
	switch {
	case len(v) > maxParamLen:
		return badParam("parameter %q is longer than %d bytes", name, maxParamLen)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return badParam("parameter %q is not valid text", name)
	case v != "" && check != nil:
		if err := check(v); err != nil {
			return badParam("parameter %q: %v", name, err)
		}
	}
	return nil
}

// oneOf returns a Param.Check accepting only the given values.
func oneOf(values ...string) func(string) error {
	return func(v string) error {
		if slices.Contains(values, v) {
			return nil
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(values, ", "))
	}
}

// panelResult is a panel's answer (JSON of GET /api/v1/dashboards/{id}/panels/{panel}).
type panelResult struct {
	Dashboard string    `json:"dashboard"`
	Tab       string    `json:"tab"`
	Panel     string    `json:"panel"`
	Title     string    `json:"title"`
	Kind      PanelKind `json:"kind"`
	Columns   []string  `json:"columns"`
	Rows      [][]any   `json:"rows"`
	// Truncated says a table had more than MaxTableRows rows.
	Truncated bool      `json:"truncated"`
	Range     string    `json:"range"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	// Bucket is the time-chart step ("hour" or "day").
	Bucket string     `json:"bucket"`
	Drill  *drillJSON `json:"drill,omitempty"`
	// GeoMissing says maps had no GeoIP database: every address counts as Unknown.
	GeoMissing bool `json:"geo_missing,omitempty"`
}

// drillJSON is a panel's Drill as dash.js reads it.
type drillJSON struct {
	Param  string `json:"param"`
	Value  string `json:"value,omitempty"`
	Column int    `json:"column"`
}

// geoFuncs are the GeoIP lookups the maps use (Options.GeoLookup, Options.CountryInfo): the rows arrive by
// country code, located by the store; lookup only tells whether there is a GeoIP database at all.
type geoFuncs struct {
	lookup  func(ip string) (country string, ok bool)
	country func(code string) (name string, lat, lon float64, ok bool)
}

// runPanel runs a panel's query and shapes the rows for its kind.
func runPanel(ctx context.Context, q store.Store, geo geoFuncs, ref panelRef, p Params) (panelResult, error) {
	pn := ref.Panel
	res := panelResult{Dashboard: ref.Dashboard.ID, Tab: ref.Tab.ID, Panel: pn.ID, Title: fillTitle(pn.Title, p.Values),
		Kind: pn.Kind, Range: p.Range, From: p.From, To: p.To, Bucket: p.Bucket()}
	if pn.Drill != nil {
		res.Drill = &drillJSON{Param: pn.Drill.Param, Value: pn.Drill.Value, Column: pn.Drill.Column}
	}
	out, err := panelRows(ctx, q, pn, p)
	if err != nil {
		return res, fmt.Errorf("panel %s/%s: %w", ref.Dashboard.ID, pn.ID, err)
	}
	res.Columns, res.Rows = out.Columns, out.Rows
	switch {
	case pn.Kind == KindPie && pn.ByCountry:
		res.Rows, err = countrySlices(res.Rows, geo)
		res.Columns = []string{"Country", res.Columns[1]}
	case pn.Kind == KindPie:
		res.Rows = topSlices(res.Rows)
	case pn.Kind == KindTimeseries || (pn.Kind == KindStackedBar && pn.TimeX):
		res.Rows, err = fillBuckets(res.Rows, p)
	case pn.Kind == KindTable && len(res.Rows) > tableRowCap:
		res.Rows, res.Truncated = res.Rows[:tableRowCap], true
	case pn.Kind == KindMap:
		res.Columns, res.Rows, err = byCountry(res.Rows, geo)
		res.GeoMissing = geo.lookup == nil
	}
	if err != nil {
		return res, fmt.Errorf("panel %s/%s: %w", ref.Dashboard.ID, pn.ID, err)
	}
	for _, row := range res.Rows {
		for i, v := range row {
			row[i] = jsonValue(v)
		}
	}
	return res, nil
}

// panelRows runs a panel's query over the request window; a table gets a LIMIT one past the cap (to detect
// truncation), and a newest-first table runs over the newest part of the window only (newestRows).
func panelRows(ctx context.Context, q store.Store, pn *Panel, p Params) (*store.Result, error) {
	switch {
	case pn.Kind == KindTable && pn.Newest != nil:
		return newestRows(ctx, q, pn, p)
	case pn.Kind == KindTable && pn.KeyCut != nil:
		return keyCutRows(ctx, q, pn, p)
	case pn.Kind == KindTable:
		return tableRows(ctx, q, pn, p)
	}
	sql, args := pn.Query(p)
	return q.Query(ctx, sql, args...)
}

// tableRows runs a table's query with a LIMIT one past the cap.
func tableRows(ctx context.Context, q store.Store, pn *Panel, p Params) (*store.Result, error) {
	sql, args := pn.Query(p)
	return q.Query(ctx, sql+fmt.Sprintf("\nLIMIT %d", tableRowCap+1), args...)
}

// keyCutRows answers a KeyCut table: it reads the (cap+1)-th distinct key tuple of the table's rows in its order
// and runs the table bounded by it (unbounded when there are fewer tuples).
//
// The answer is the whole window's: the first cap+1 rows of the table (its ORDER BY is the keys, then columns
// that break every tie) have key tuples no later than the (cap+1)-th distinct one, so the bound keeps all their
// records; it only drops rows that sort after them.
func keyCutRows(ctx context.Context, q store.Store, pn *Panel, p Params) (*store.Result, error) {
	kc := pn.KeyCut
	var a Args
	cols := strings.Join(kc.Keys, ", ")
	sql := `SELECT ` + cols + ` FROM (SELECT DISTINCT ` + cols + ` ` + kc.From(p, &a) + `) ORDER BY ` + kc.order() +
		fmt.Sprintf(` LIMIT 1 OFFSET %d`, tableRowCap)
	out, err := q.Query(ctx, sql, a...)
	if err != nil {
		return nil, fmt.Errorf("key cut: %w", err)
	}
	p.Cut = nil
	if len(out.Rows) == 1 {
		p.Cut = out.Rows[0]
	}
	return tableRows(ctx, q, pn, p)
}

// newestWiden is the factor by which newestRows widens a window that holds too few rows.
const newestWiden = 8

// newestRows answers a newest-first table (ordered by "Event Time" DESC first) from the newest part of the
// window: it runs the table over [from, To) and, while that gives no more than the cap and from is after the
// window's start, over a window newestWiden times as long (at most the whole window). from starts at the cutoff
// the table's rollup counts give (newestCutoff), or at the last hour without a rollup.
//
// The answer is the whole window's: when [from, To) holds more rows than the cap, every row left out has an
// "Event Time" before from, later than none of the rows kept, so it falls after the first cap+1 rows (each row
// has one "Event Time": tables that group records group by it too).
func newestRows(ctx context.Context, q store.Store, pn *Panel, p Params) (*store.Result, error) {
	from := p.To.Add(-time.Hour)
	if pn.Newest.Rollup != "" {
		var err error
		if from, err = newestCutoff(ctx, q, pn.Newest, p); err != nil {
			return nil, err
		}
	}
	for {
		from = later(from, p.From)
		np := p
		np.From = from
		out, err := tableRows(ctx, q, pn, np)
		if err != nil || len(out.Rows) > tableRowCap || !from.After(p.From) {
			return out, err
		}
		from = p.To.Add(-newestWiden * p.To.Sub(from))
	}
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// newestCutoff returns the start of the newest hour from which on the table's rollup counts more than the cap
// of the table's records (so [cutoff, To) holds at least cap+1 of them), or p.From when the whole hours of the
// window hold no more. It reads the rollup's hourly table over the window's whole hours only: a lower bound of
// the records in the window, which is all the cutoff needs.
func newestCutoff(ctx context.Context, q store.Store, nw *Newest, p Params) (time.Time, error) {
	counts, err := newestCounts(ctx, q, nw, p)
	if err != nil {
		return p.From, err
	}
	var sum float64
	for _, c := range counts {
		if sum += c.n; sum > float64(tableRowCap) {
			return c.hour, nil
		}
	}
	return p.From, nil
}

// hourCount is the number of a table's records in one hour.
type hourCount struct {
	hour time.Time
	n    float64
}

// newestCounts are the table's records per whole hour of the window, newest first, from its rollup (hourly table
// and pending rows) filtered by Newest.Where.
func newestCounts(ctx context.Context, q store.Store, nw *Newest, p Params) ([]hourCount, error) {
	var a Args
	from, to := p.From.UTC().Truncate(time.Hour), p.To.UTC().Truncate(time.Hour)
	if from.Before(p.From) {
		from = from.Add(time.Hour)
	}
	// Over whole hours, Source reads the hourly table and the pending rows only (these rollups have no daily
	// table), so "Event Time" is each hour.
	sql := `SELECT "Event Time", ` + rollupCount + ` FROM ` + rollupOf(nw.Rollup).Source(from, to, p.Tenant, a.Add) +
		` AS src WHERE (` + nw.Where(p, &a) + `) GROUP BY 1 ORDER BY 1 DESC`
	out, err := q.Query(ctx, sql, a...)
	if err != nil {
		return nil, fmt.Errorf("rollup counts: %w", err)
	}
	counts := make([]hourCount, len(out.Rows))
	for i, r := range out.Rows {
		at, ok := r[0].(time.Time)
		n, isNum := number(r[1])
		if !ok || !isNum {
			return nil, fmt.Errorf("rollup counts: row %v is not an hour and a count", r)
		}
		counts[i] = hourCount{at, n}
	}
	return counts, nil
}

// jsonValue turns a store value into what the panel JSON and CSV show: times as RFC 3339 UTC strings.
func jsonValue(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.UTC().Format(time.RFC3339)
	}
	return v
}

// number reads a count column as float64.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case int32:
		return float64(x), true
	case int:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// countValue returns v as an int64 when it is a whole number, else as float64 (JSON shows 3, not 3.0).
func countValue(f float64) any {
	if f == float64(int64(f)) {
		return int64(f)
	}
	return f
}

// topSlices sorts label/value rows by value (largest first, then label) and sums the rows past the first ten
// into one "Other" row.
func topSlices(rows [][]any) [][]any {
	sort.SliceStable(rows, func(i, j int) bool {
		a, _ := number(rows[i][1])
		b, _ := number(rows[j][1])
		if a != b {
			return a > b
		}
		return fmt.Sprint(rows[i][0]) < fmt.Sprint(rows[j][0])
	})
	if len(rows) <= pieSlices {
		return rows
	}
	var rest float64
	for _, r := range rows[pieSlices:] {
		v, _ := number(r[1])
		rest += v
	}
	return append(rows[:pieSlices:pieSlices], []any{otherLabel, countValue(rest)})
}

// fillBuckets completes long-form bucket/series/value rows so every series has every bucket of the window (0
// where the query had no row), ordered by bucket then series, like KQL make-series default=0.
func fillBuckets(rows [][]any, p Params) ([][]any, error) {
	type key struct {
		at     int64
		series string
	}
	step := p.bucketStep()
	got := make(map[key]any, len(rows))
	seriesSet := map[string]bool{}
	for _, r := range rows {
		at, ok := r[0].(time.Time)
		if !ok {
			return nil, fmt.Errorf("bucket column holds %T, not a time", r[0])
		}
		s := fmt.Sprint(r[1])
		seriesSet[s] = true
		got[key{at.UTC().Truncate(step).Unix(), s}] = r[2]
	}
	series := make([]string, 0, len(seriesSet))
	for s := range seriesSet {
		series = append(series, s)
	}
	slices.Sort(series)
	var out [][]any
	for at := p.From.UTC().Truncate(step); at.Before(p.To); at = at.Add(step) {
		for _, s := range series {
			v, ok := got[key{at.Unix(), s}]
			if !ok {
				v = int64(0)
			}
			out = append(out, []any{at, s, v})
		}
	}
	if out == nil {
		out = [][]any{}
	}
	return out, nil
}

// byCountry sums country/value rows (the store locates addresses with GeoIP as it counts them, see
// rollup.CountryFunc) and names the countries. Addresses without a country ("") count under "Unknown", so the
// map's total equals the query's.
func byCountry(rows [][]any, geo geoFuncs) ([]string, [][]any, error) {
	sums := map[string]float64{}
	for _, r := range rows {
		code, _ := r[0].(string)
		v, ok := number(r[1])
		if !ok {
			return nil, nil, errors.New("map value column is not a number")
		}
		if code == "" {
			code = unknownCountry
		}
		sums[code] += v
	}
	out := make([][]any, 0, len(sums))
	for code, v := range sums {
		name, lat, lon, ok := code, any(nil), any(nil), false
		if geo.country != nil && code != unknownCountry {
			var la, lo float64
			var n string
			if n, la, lo, ok = geo.country(code); ok {
				name, lat, lon = n, la, lo
			}
		}
		out = append(out, []any{code, name, lat, lon, countValue(v)})
	}
	slices.SortFunc(out, func(a, b []any) int {
		x, _ := number(a[4])
		y, _ := number(b[4])
		if c := cmp.Compare(y, x); c != 0 {
			return c
		}
		return cmp.Compare(a[0].(string), b[0].(string))
	})
	return []string{"Country", "Name", "Latitude", "Longitude", "Count"}, out, nil
}

// countrySlices sums country/value rows per country name and keeps the top slices.
func countrySlices(rows [][]any, geo geoFuncs) ([][]any, error) {
	_, byC, err := byCountry(rows, geo)
	if err != nil {
		return nil, err
	}
	out := make([][]any, len(byC))
	for i, r := range byC {
		out[i] = []any{r[1], r[4]}
	}
	return topSlices(out), nil
}

// csvCell writes one value for CSV: nil as empty, lists and objects as JSON.
func csvCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	return fmt.Sprint(v)
}
