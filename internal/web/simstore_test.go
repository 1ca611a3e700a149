package web

// The shared dashboard test fixture: an in-memory DuckDB store filled with a small simulated tenant's records
// (every table the dashboards read), built once per test binary, with the decoded rows kept so tests can compute
// the expected panel values in Go, independently of the panels' SQL.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// Fixture tenant size and clock.
const (
	fixtureTenant    = "acme"
	fixtureMailboxes = 20
	fixtureDays      = 3
)

// fixtureNow is the server clock of the fixture; the tenant's data spans the fixtureDays days before it.
var fixtureNow = time.Date(2025, 11, 20, 12, 30, 0, 0, time.UTC)

// simFixture is the filled store and the rows it holds.
type simFixture struct {
	// Now is the server clock (fixtureNow).
	Now time.Time
	Sim *sim.Sim
	DB  *duckdb.DB
	// byTable are the stored rows (one per natural key) by table name.
	byTable map[string][]fixRow
}

var (
	fixtureOnce sync.Once
	fixture     *simFixture
	fixtureErr  error
)

// loadSimFixture returns the shared fixture, building it on first use.
func loadSimFixture(t testing.TB) *simFixture {
	t.Helper()
	fixtureOnce.Do(func() { fixture, fixtureErr = buildSimFixture() })
	if fixtureErr != nil {
		t.Fatalf("sim fixture: %v", fixtureErr)
	}
	return fixture
}

// fixtureSource is where one table's records come from in the simulated tenant.
type fixtureSource struct {
	table   *schema.Table
	records func(s *sim.Sim, from, to time.Time) ([]json.RawMessage, error)
}

func apiRecords(path string) func(*sim.Sim, time.Time, time.Time) ([]json.RawMessage, error) {
	return func(s *sim.Sim, from, to time.Time) ([]json.RawMessage, error) {
		tr, err := s.APITruth(path, from, to)
		return tr.Records, err
	}
}

func siemRecords(types []string) func(*sim.Sim, time.Time, time.Time) ([]json.RawMessage, error) {
	return func(s *sim.Sim, from, to time.Time) ([]json.RawMessage, error) {
		var out []json.RawMessage
		for _, typ := range types {
			tr, err := s.SIEMTruth(typ, from, to)
			if err != nil {
				return nil, err
			}
			out = append(out, tr.Records...)
		}
		return out, nil
	}
}

func atRecords(path string) func(*sim.Sim, time.Time, time.Time) ([]json.RawMessage, error) {
	return func(s *sim.Sim, _, to time.Time) ([]json.RawMessage, error) { return s.AwarenessRecords(path, to, "") }
}

// atUserDataRecords are every campaign's user data, each record with its campaignId (as the collector adds it).
func atUserDataRecords(s *sim.Sim, _, to time.Time) ([]json.RawMessage, error) {
	return s.AwarenessUserDataByCampaign(to)
}

// fixtureSources are the tables the dashboards read.
var fixtureSources = []fixtureSource{
	{&schema.Audit, apiRecords(sim.PathAuditEvents)},
	{&schema.SegDlp, apiRecords(sim.PathDLP)},
	{&schema.TtpURL, apiRecords(sim.PathTTPURL)},
	{&schema.TtpAttachment, apiRecords(sim.PathTTPAttachment)},
	{&schema.TtpImpersonation, apiRecords(sim.PathTTPImpersonation)},
	{&schema.SegCg, siemRecords(sim.SIEMTypes)},
	{&schema.CloudIntegrated, siemRecords(sim.CITypes)},
	{&schema.AwarenessPerformance, atRecords(sim.PathATPerformance)},
	{&schema.AwarenessSafeScore, atRecords(sim.PathATSafeScore)},
	{&schema.AwarenessWatchlist, atRecords(sim.PathATWatchlist)},
	{&schema.AwarenessUserData, atUserDataRecords},
}

func buildSimFixture() (*simFixture, error) {
	now := fixtureNow
	s, err := sim.New(sim.Options{Seed: 7, Mailboxes: fixtureMailboxes, Days: fixtureDays, Start: now,
		Now: func() time.Time { return now }})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 2, Country: func(ip string) string {
		c, _ := fakeCountry(ip)
		return c
	}, CountrySource: "fake"})
	if err != nil {
		return nil, err
	}
	f := &simFixture{Now: now, Sim: s, DB: db, byTable: map[string][]fixRow{}}
	from, to := now.Add(-time.Duration(fixtureDays+1)*day), now.Add(time.Hour)
	for _, src := range fixtureSources {
		recs, err := src.records(s, from, to)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.table.Name, err)
		}
		seen := map[string]bool{}
		var rows []schema.Row
		for _, raw := range recs {
			row, err := src.table.Decode(fixtureTenant, raw, now)
			if err != nil {
				return nil, fmt.Errorf("%s: decode %s: %w", src.table.Name, raw, err)
			}
			if k := duckdb.RowKey(src.table, row); !seen[k] {
				seen[k] = true
				rows = append(rows, row)
				f.byTable[src.table.Name] = append(f.byTable[src.table.Name], fixRow{src.table, row})
			}
		}
		if n, err := db.WriteRows(ctx, src.table, rows); err != nil || n != len(rows) {
			return nil, fmt.Errorf("%s: wrote %d of %d rows: %v", src.table.Name, n, len(rows), err)
		}
	}
	return f, nil
}

// fixRow is one stored row, read by raw column name.
type fixRow struct {
	table *schema.Table
	row   schema.Row
}

func (r fixRow) value(col string) any {
	i := r.table.ColumnIndex(col)
	if i < 0 {
		panic(fmt.Sprintf("%s has no column %q", r.table.Name, col))
	}
	return r.row[i]
}

// str is a string column ("" when absent, like the views).
func (r fixRow) str(col string) string {
	s, _ := r.value(col).(string)
	return s
}

// num is a real column (ok false when absent).
func (r fixRow) num(col string) (float64, bool) {
	f, ok := r.value(col).(float64)
	return f, ok
}

// time is a datetime column (zero when absent).
func (r fixRow) time(col string) time.Time {
	t, _ := r.value(col).(time.Time)
	return t
}

// timeMs is an epoch-millisecond real column as a time.
func (r fixRow) timeMs(col string) time.Time {
	f, ok := r.num(col)
	if !ok {
		return time.Time{}
	}
	return time.UnixMilli(int64(f)).UTC()
}

// rows returns a table's stored rows; it fails the test when the fixture holds none (an assertion over no rows
// proves nothing).
func (f *simFixture) rows(t testing.TB, table string) []fixRow {
	t.Helper()
	rs := f.byTable[table]
	if len(rs) == 0 {
		t.Fatalf("fixture holds no %s rows", table)
	}
	return rs
}

// inRange says whether at falls in the window of a range name, as the server resolves it at f.Now.
func (f *simFixture) inRange(at time.Time, rangeName string) bool {
	w, err := resolveRange(rangeName, f.Now)
	if err != nil {
		panic(err)
	}
	return !at.Before(w.From) && at.Before(w.To)
}

// handler is the web handler over the fixture's store, logged in, with the fake GeoIP.
func (f *simFixture) handler(t testing.TB) http.Handler {
	t.Helper()
	return newTestHandler(t, Options{Store: f.DB, Now: func() time.Time { return f.Now },
		GeoLookup: fakeCountry, CountryInfo: fakeCountryInfo})
}

// get performs a GET on the fixture's handler.
func (f *simFixture) get(t testing.TB, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	f.handler(t).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// panel fetches a panel's JSON and fails the test unless the answer is 200.
func (f *simFixture) panel(t testing.TB, dash, panel string, q url.Values) panelResult {
	t.Helper()
	rec := f.get(t, "/api/v1/dashboards/"+dash+"/panels/"+panel+"?"+q.Encode())
	if rec.Code != http.StatusOK {
		t.Fatalf("%s/%s?%s: status %d: %s", dash, panel, q.Encode(), rec.Code, rec.Body)
	}
	var res panelResult
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatalf("%s/%s: %v: %s", dash, panel, err, rec.Body)
	}
	return res
}

// num reads a JSON number cell.
func (p panelResult) num(r, c int) float64 {
	f, _ := p.Rows[r][c].(float64)
	return f
}

// str reads a cell as text.
func (p panelResult) str(r, c int) string {
	if s, ok := p.Rows[r][c].(string); ok {
		return s
	}
	return fmt.Sprint(p.Rows[r][c])
}

// counts maps column 0 to the last column of every row (bar, pie, table of counts).
func (p panelResult) counts() map[string]float64 {
	out := map[string]float64{}
	for i, r := range p.Rows {
		out[p.str(i, 0)] += p.num(i, len(r)-1)
	}
	return out
}

// fakeCountries places public IPv4 addresses by their first octet; other addresses have no country.
var fakeCountries = []struct {
	code, name string
	lat, lon   float64
}{
	{"US", "United States", 39.8, -98.6}, {"GB", "United Kingdom", 54.0, -2.0}, {"DE", "Germany", 51.2, 10.4},
	{"JP", "Japan", 36.2, 138.3}, {"BR", "Brazil", -14.2, -51.9},
}

// fakeCountry is the fixture's GeoIP lookup.
func fakeCountry(ip string) (string, bool) {
	a := net.ParseIP(ip).To4()
	if a == nil || a.IsPrivate() || a.IsLoopback() {
		return "", false
	}
	return fakeCountries[int(a[0])%len(fakeCountries)].code, true
}

// fakeCountryInfo names the fake countries.
func fakeCountryInfo(code string) (string, float64, float64, bool) {
	for _, c := range fakeCountries {
		if c.code == code {
			return c.name, c.lat, c.lon, true
		}
	}
	return "", 0, 0, false
}
