package bench

// The dashboard panel benchmark: how long every panel of the five workbook dashboards takes over a generated
// tenant of N mailboxes and D days in a real DuckDB file.
//
// Generating 10,000 mailboxes × 30 days through the simulator would take hours (about 50 µs per SIEM record), so
// the tenant is a realistic sample multiplied inside DuckDB: the simulator generates SampleMailboxes mailboxes
// over SampleDays days, its records go through the collectors' decode path (schema.Table.Decode) and the store's
// WriteRows, and then INSERT … SELECT statements add copies of the sample: one per further block of SampleDays
// days (times shifted back) and per further block of SampleMailboxes mailboxes (addresses, IPv4 addresses and
// record ids remapped), so row counts and distinct counts grow as a real tenant's would.
//
// The simulated gateway accepts every message over TLS and delivers everything it does not hold, and its audit
// log and URL scans lack some categories the workbooks chart, so before multiplying, the sample gains what a real
// tenant also has (sampleExtras): rejected receipts (spam, virus, envelope rejections), failed deliveries, receipts
// and deliveries without TLS, archive service audit events and advanced phishing results. Every panel thus has
// rows to compute.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/geoip"
	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store/duckdb"
	"github.com/castwatch/castwatch/internal/web"
)

// PanelGoal is the per-panel p95 goal.
const PanelGoal = time.Second

// PanelsOptions sizes the panel benchmark. Zero values take the defaults.
type PanelsOptions struct {
	// Mailboxes and Days size the tenant (default 10,000 and 30).
	Mailboxes int `json:"mailboxes"`
	Days      int `json:"days"`
	// SampleMailboxes and SampleDays size the simulated sample that is multiplied (default 250 and 3, at most
	// Mailboxes and Days). The tenant holds whole copies of it: Mailboxes/SampleMailboxes × Days/SampleDays.
	SampleMailboxes int `json:"sample_mailboxes"`
	SampleDays      int `json:"sample_days"`
	// Runs is how often each panel runs per range (default 5); the first run is a warm-up and not counted.
	Runs int `json:"runs"`
	// Ranges are the dashboard ranges every panel runs with (default 30d and the dashboards' default 14d).
	Ranges []string `json:"ranges"`
	// Threads caps DuckDB's threads (default: every core) and MemoryLimit its memory (default "4GB").
	Threads     int    `json:"threads"`
	MemoryLimit string `json:"memory_limit"`
	// Dir is where the working directory for the database is made ("": the system's temporary directory); it is
	// removed afterwards.
	Dir string `json:"-"`
	// Progress receives a line per step (nil: none).
	Progress io.Writer `json:"-"`
}

func (o PanelsOptions) withDefaults() PanelsOptions {
	o.Mailboxes = cmpOr(o.Mailboxes, 10_000)
	o.Days = cmpOr(o.Days, 30)
	o.SampleMailboxes = min(cmpOr(o.SampleMailboxes, 250), o.Mailboxes)
	o.SampleDays = min(cmpOr(o.SampleDays, 3), o.Days)
	o.Runs = cmpOr(o.Runs, 5)
	if len(o.Ranges) == 0 {
		o.Ranges = []string{"30d", "14d"}
	}
	o.Threads = cmpOr(o.Threads, runtime.NumCPU())
	if o.MemoryLimit == "" {
		o.MemoryLimit = "4GB"
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// cmpOr is v, or def when v is not positive.
func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func (o PanelsOptions) validate() error {
	switch {
	case o.Mailboxes < 0 || o.Days < 0 || o.SampleMailboxes < 0 || o.SampleDays < 0 || o.Runs < 0 || o.Threads < 0:
		return errors.New("panels: sizes must not be negative")
	case o.Days > 90:
		return fmt.Errorf("panels: --days %d is over 90, the longest dashboard range", o.Days)
	case o.Runs == 1:
		return errors.New("panels: --runs must be at least 2 (the first run is a warm-up)")
	}
	return nil
}

// TableRows is how many rows one table holds.
type TableRows struct {
	Table string `json:"table"`
	// Sample is the rows the simulated sample stored; Rows the rows after multiplying it.
	Sample int64 `json:"sample"`
	Rows   int64 `json:"rows"`
	// Expected is Sample × the copies the table gets; Rows is less when copies collided on the natural key.
	Expected int64 `json:"expected"`
	// Keyed says the table has a natural-key index (the store's time-keyed tables have none; see
	// duckdb.TimeKeyed).
	Keyed bool `json:"keyed"`
}

// PanelTenant describes a generated tenant.
type PanelTenant struct {
	// Mailboxes and Days are the tenant's size (whole copies of the sample).
	Mailboxes int `json:"mailboxes"`
	Days      int `json:"days"`
	// MailboxCopies and DayCopies are how often the sample is repeated across mailboxes and days.
	MailboxCopies int `json:"mailbox_copies"`
	DayCopies     int `json:"day_copies"`
	// Now is the tenant's clock: the data covers the Days days before it.
	Now    time.Time   `json:"now"`
	Tables []TableRows `json:"tables"`
	// SampleSeconds is the time to simulate, decode and store the sample; CopySeconds the time to multiply it.
	SampleSeconds float64 `json:"sample_seconds"`
	CopySeconds   float64 `json:"copy_seconds"`
	// Rollups are the rollup tables' rows after they were recounted over the copies, in RollupSeconds.
	Rollups       []TableRows `json:"rollups"`
	RollupSeconds float64     `json:"rollup_seconds"`
	// FileBytes is the database file's size after a checkpoint (0 in memory).
	FileBytes int64 `json:"file_bytes"`
}

// PanelTiming is one panel's figures for one range.
type PanelTiming struct {
	Dashboard string `json:"dashboard"`
	Tab       string `json:"tab"`
	Panel     string `json:"panel"`
	Kind      string `json:"kind"`
	Range     string `json:"range"`
	// Params are the drill-down values the panel ran with (taken from its source panel's first row).
	Params map[string]string `json:"params,omitempty"`
	Rows   int               `json:"rows"`
	// P50 and P95 are the median and 95th percentile (nearest rank) of the counted runs, Max the slowest, in
	// milliseconds.
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	Max float64 `json:"max_ms"`
	// Skipped says why the panel did not run (a drill-down source without rows); the figures are then 0.
	Skipped string `json:"skipped,omitempty"`
}

// PanelsResult is the whole benchmark.
type PanelsResult struct {
	Options PanelsOptions `json:"options"`
	Tenant  PanelTenant   `json:"tenant"`
	Panels  []PanelTiming `json:"panels"`
	// Slow lists the panels whose p95 is over PanelGoal, as dashboard/panel@range.
	Slow []string `json:"slow"`
	// GeoIP names the GeoIP database the maps used ("" none: every address counts as Unknown).
	GeoIP   string  `json:"geoip"`
	Machine Machine `json:"machine"`
}

// Machine is what the figures were measured on.
type Machine struct {
	CPUs    int    `json:"cpus"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	Go      string `json:"go"`
	Threads int    `json:"duckdb_threads"`
}

// Panels generates a tenant into a fresh DuckDB file and times every dashboard panel over it.
func Panels(ctx context.Context, opts PanelsOptions) (PanelsResult, error) {
	if err := opts.validate(); err != nil {
		return PanelsResult{}, err
	}
	opts = opts.withDefaults()
	res := PanelsResult{Options: opts, Machine: Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		Go: runtime.Version(), Threads: opts.Threads}}
	dir, cleanup, err := workDir(opts.Dir)
	if err != nil {
		return res, err
	}
	defer cleanup()
	db, err := duckdb.Open(ctx, filepath.Join(dir, "panels.duckdb"), duckdb.Options{Threads: opts.Threads,
		MemoryLimit: opts.MemoryLimit, Tables: panelTables()})
	if err != nil {
		return res, fmt.Errorf("panels: %w", err)
	}
	defer db.Close()
	if res.Tenant, err = GeneratePanelTenant(ctx, db, opts); err != nil {
		return res, err
	}
	var geo web.PanelGeo
	if g, err := geoip.Default(); err == nil {
		defer g.Close()
		geo = web.PanelGeo{Lookup: func(ip string) (string, bool) {
			loc, ok := g.Lookup(ip)
			return loc.Country, ok && loc.Country != ""
		}, CountryInfo: geoip.CountryInfo}
		res.GeoIP = g.Source()
	}
	res.Panels, err = RunPanels(ctx, db, geo, res.Tenant.Now, opts)
	for _, p := range res.Panels {
		if p.P95 > float64(PanelGoal.Milliseconds()) {
			res.Slow = append(res.Slow, p.Dashboard+"/"+p.Panel+"@"+p.Range)
		}
	}
	return res, err
}

// panelSource is one table the dashboards read and where the simulator keeps its records.
type panelSource struct {
	table   *schema.Table
	records func(s *sim.Sim, from, to time.Time) ([]json.RawMessage, error)
}

// panelSources are the tables the dashboards read.
var panelSources = []panelSource{
	{&schema.Audit, func(s *sim.Sim, from, to time.Time) ([]json.RawMessage, error) {
		var out []json.RawMessage
		for _, a := range s.AuditRecords(from, to) {
			b, err := json.Marshal(a)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return out, nil
	}},
	{&schema.SegDlp, logRecords(sim.PathDLP)},
	{&schema.TtpURL, logRecords(sim.PathTTPURL)},
	{&schema.TtpAttachment, logRecords(sim.PathTTPAttachment)},
	{&schema.TtpImpersonation, logRecords(sim.PathTTPImpersonation)},
	{&schema.SegCg, siemEvents(sim.SIEMTypes)},
	{&schema.CloudIntegrated, siemEvents(sim.CITypes)},
	{&schema.AwarenessPerformance, atSnapshot(sim.PathATPerformance)},
	{&schema.AwarenessSafeScore, atSnapshot(sim.PathATSafeScore)},
	{&schema.AwarenessWatchlist, atSnapshot(sim.PathATWatchlist)},
	{&schema.AwarenessUserData, atUserData},
}

// panelTables are the tables of panelSources.
func panelTables() []*schema.Table {
	out := make([]*schema.Table, len(panelSources))
	for i, s := range panelSources {
		out[i] = s.table
	}
	return out
}

func logRecords(path string) func(*sim.Sim, time.Time, time.Time) ([]json.RawMessage, error) {
	return func(s *sim.Sim, from, to time.Time) ([]json.RawMessage, error) { return s.LogRecords(path, from, to) }
}

func siemEvents(types []string) func(*sim.Sim, time.Time, time.Time) ([]json.RawMessage, error) {
	return func(s *sim.Sim, from, to time.Time) ([]json.RawMessage, error) {
		var out []json.RawMessage
		for _, typ := range types {
			lines, err := s.SIEMEvents(typ, from, to)
			if err != nil {
				return nil, err
			}
			out = append(out, lines...)
		}
		return out, nil
	}
}

func atSnapshot(path string) func(*sim.Sim, time.Time, time.Time) ([]json.RawMessage, error) {
	return func(s *sim.Sim, _, to time.Time) ([]json.RawMessage, error) { return s.AwarenessRecords(path, to, "") }
}

// atUserData are every campaign's user records, each with its campaignId added as the collector adds it.
func atUserData(s *sim.Sim, _, to time.Time) ([]json.RawMessage, error) {
	return s.AwarenessUserDataByCampaign(to)
}

// GeneratePanelTenant fills db (opened with at least the dashboards' tables) with a tenant of opts.Mailboxes
// mailboxes over opts.Days days before trafficEpoch: the simulated sample, then its copies (see the file comment).
func GeneratePanelTenant(ctx context.Context, db *duckdb.DB, opts PanelsOptions) (PanelTenant, error) {
	opts = opts.withDefaults()
	mc, dc := opts.Mailboxes/opts.SampleMailboxes, opts.Days/opts.SampleDays
	t := PanelTenant{Mailboxes: mc * opts.SampleMailboxes, Days: dc * opts.SampleDays, MailboxCopies: mc, DayCopies: dc,
		Now: trafficEpoch}
	start := time.Now()
	sample, err := storeSample(ctx, db, opts)
	if err != nil {
		return t, err
	}
	t.SampleSeconds = time.Since(start).Seconds()
	fmt.Fprintf(opts.Progress, "sample: %d mailboxes × %d days simulated and stored in %.1f s\n",
		opts.SampleMailboxes, opts.SampleDays, t.SampleSeconds)
	start = time.Now()
	for _, src := range panelSources {
		if err := ctx.Err(); err != nil {
			return t, err
		}
		c := copier{table: src.table, mailboxes: mc, days: dc, dayLen: opts.SampleDays}
		tr, err := c.run(ctx, db, sample[src.table.Name])
		if err != nil {
			return t, err
		}
		t.Tables = append(t.Tables, tr)
		fmt.Fprintf(opts.Progress, "%s: %d rows (%.0f s so far)\n", tr.Table, tr.Rows, time.Since(start).Seconds())
	}
	t.CopySeconds = time.Since(start).Seconds()
	// The copies went around WriteRows, so the rollups count the sample only until they are recounted.
	start = time.Now()
	err = db.RebuildRollups(ctx, func(table string, rows int64) {
		t.Rollups = append(t.Rollups, TableRows{Table: table, Rows: rows})
		fmt.Fprintf(opts.Progress, "%s: %d rows (%.0f s so far)\n", table, rows, time.Since(start).Seconds())
	})
	if err != nil {
		return t, fmt.Errorf("panels: %w", err)
	}
	t.RollupSeconds = time.Since(start).Seconds()
	if _, err := db.DB().ExecContext(ctx, "CHECKPOINT"); err != nil {
		return t, fmt.Errorf("panels: checkpoint: %w", err)
	}
	if st, err := os.Stat(db.Path()); err == nil {
		t.FileBytes = st.Size()
	}
	return t, nil
}

// storeSample simulates the sample tenant, decodes its records as the collectors do and stores them; it
// returns the rows stored per table.
func storeSample(ctx context.Context, db *duckdb.DB, opts PanelsOptions) (map[string]int64, error) {
	now := trafficEpoch
	clock := func() time.Time { return now.Add(6 * time.Hour) } // every SIEM file of the window is listed
	s, err := sim.New(sim.Options{Seed: 1, Mailboxes: opts.SampleMailboxes, Days: opts.SampleDays, Start: now,
		Now: clock, Wall: clock})
	if err != nil {
		return nil, fmt.Errorf("panels: sample: %w", err)
	}
	from := now.AddDate(0, 0, -opts.SampleDays)
	out := map[string]int64{}
	for _, src := range panelSources {
		recs, err := src.records(s, from, now)
		if err != nil {
			return nil, fmt.Errorf("panels: sample %s: %w", src.table.Name, err)
		}
		rows := make([]schema.Row, 0, len(recs))
		for i, raw := range recs {
			row, err := src.table.Decode(benchTenant, raw, now)
			if err != nil {
				return nil, fmt.Errorf("panels: sample %s record %d: %w", src.table.Name, i, err)
			}
			rows = append(rows, row)
		}
		for len(rows) > 0 {
			n := min(len(rows), 10_000)
			k, err := db.WriteRows(ctx, src.table, rows[:n])
			if err != nil {
				return nil, fmt.Errorf("panels: sample: %w", err)
			}
			out[src.table.Name] += int64(k)
			rows = rows[n:]
		}
	}
	changed := map[string]bool{}
	for _, e := range sampleExtras {
		res, err := db.DB().ExecContext(ctx, e.sql())
		if err != nil {
			return nil, fmt.Errorf("panels: sample %s: %w", e.table.Name, err)
		}
		changed[e.table.Name] = true
		if e.added {
			n, err := res.RowsAffected()
			if err != nil {
				return nil, fmt.Errorf("panels: sample %s: %w", e.table.Name, err)
			}
			out[e.table.Name] += n
		}
	}
	for name := range changed {
		if err := db.RefreshEventTimes(ctx, name); err != nil {
			return nil, fmt.Errorf("panels: sample: %w", err)
		}
	}
	return out, nil
}

// sampleExtra is one change to the sample's rows: set columns to expressions on the rows matching where, in
// place, or (added) on new rows copied from them.
type sampleExtra struct {
	table *schema.Table
	where string
	set   map[string]string
	added bool
}

// sql is the UPDATE or INSERT … SELECT statement of the change.
func (e sampleExtra) sql() string {
	name := sqlIdent(e.table.Name)
	if !e.added {
		var set []string
		for _, col := range e.table.Columns {
			if v, ok := e.set[col.Name]; ok {
				set = append(set, sqlIdent(col.Name)+" = "+v)
			}
		}
		return "UPDATE " + name + " SET " + strings.Join(set, ", ") + " WHERE " + e.where
	}
	cols := make([]string, len(e.table.Columns))
	names := make([]string, len(e.table.Columns))
	for i, col := range e.table.Columns {
		names[i] = sqlIdent(col.Name)
		cols[i] = sqlIdent(col.Name)
		if v, ok := e.set[col.Name]; ok {
			cols[i] = v
		}
	}
	return "INSERT INTO " + name + " (" + strings.Join(names, ", ") + ") SELECT " + strings.Join(cols, ", ") + " FROM " +
		name + " WHERE " + e.where
}

// Spread of the sample extras: a stable share of rows chosen by a hash of the record's processing id.
const (
	cgShare = `hash("processingId") % 100`
	cgKind  = `hash("processingId") % 5`
)

// sampleExtras are what a real tenant has and the simulator does not produce (see the file comment).
var sampleExtras = []sampleExtra{
	{table: &schema.SegCg, added: true, where: `"Logtype" = 'email_receipt' AND ` + cgShare + ` < 15`, set: map[string]string{
		"processingId": `"processingId" || '~rejected'`, "action": `'Rej'`, "subtype": `'Rej'`, "rejectionCode": `'550'`,
		"rejectionType": `CASE ` + cgKind + ` WHEN 0 THEN 'Virus Signature Detection' WHEN 1 THEN 'Spam Signature'
  WHEN 2 THEN 'Manual Envelope Rejection' WHEN 3 THEN 'IP Reputation' ELSE 'Invalid Recipient' END`,
		"rejectionInfo": `'Message rejected by policy'`,
		"virusFound":    `CASE WHEN ` + cgKind + ` = 0 THEN 'Eicar-Test-Signature' END`,
		"spamInfo":      `CASE WHEN ` + cgKind + ` = 1 THEN '["Spam Signature", "Bulk"]' ELSE '[]' END`,
	}},
	{table: &schema.SegCg, added: true, where: `"Logtype" = 'email_delivery' AND ` + cgShare + ` < 4`, set: map[string]string{
		"processingId": `"processingId" || '~retry'`, "timestamp": `"timestamp" - 60000`, "delivered": `'false'`,
		"rejectionType": `CASE WHEN ` + cgKind + ` < 3 THEN 'Recipient Server Unavailable' ELSE 'Mailbox Full' END`,
		"rejectionCode": `'451'`, "deliveryErrors": `'Connection timed out'`,
	}},
	{table: &schema.SegCg, where: `"Logtype" IN ('email_receipt', 'email_delivery') AND ` + cgShare + ` BETWEEN 90 AND 95`,
		set: map[string]string{"tlsVersion": `''`, "tlsCipher": `''`, "tlsUsed": `CASE WHEN "tlsUsed" IS NOT NULL THEN 'No' END`}},
	{table: &schema.Audit, where: `hash("id") % 100 < 3`, set: map[string]string{
		"category": `'archive_service_logs'`, "auditType": `'Archive Message Viewed'`}},
	{table: &schema.TtpURL, where: `"scanResult" = 'malicious' AND hash("messageId") % 2 = 0`, set: map[string]string{
		"advancedPhishingResult_CredentialTheftBrands":   `'Microsoft'`,
		"advancedPhishingResult_CredentialTheftEvidence": `'Credential harvesting form'`,
		"advancedPhishingResult_CredentialTheftTags":     `'credential-theft'`,
	}},
}

// copier multiplies one table's sample rows inside DuckDB.
type copier struct {
	table *schema.Table
	// mailboxes and days are the copies across mailboxes and across blocks of dayLen days.
	mailboxes, days, dayLen int
}

// run adds the copies of the table's sample: copy (m, d) remaps addresses and IPv4 addresses by m, shifts times
// back by d blocks and suffixes record ids with its number. A table whose key holds neither a time nor an id
// (the per-user Awareness snapshots) gets mailbox copies only.
func (c copier) run(ctx context.Context, db *duckdb.DB, sample int64) (TableRows, error) {
	name := sqlIdent(c.table.Name)
	tr := TableRows{Table: c.table.Name, Sample: sample}
	x := db.DB()
	if _, err := x.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE bench_sample AS SELECT * FROM "+name); err != nil {
		return tr, fmt.Errorf("panels: copy %s: %w", c.table.Name, err)
	}
	defer func() { _, _ = x.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS bench_sample") }()
	withAt, err := c.columnsWithAt(ctx, db)
	if err != nil {
		return tr, err
	}
	days := c.days
	if !c.hasTimeOrIDKey() {
		days = 1
	}
	tr.Expected = sample * int64(c.mailboxes*days)
	// Copies are distinct records (new ids, addresses or times); a keyed table ignores any that collide.
	tr.Keyed = !duckdb.TimeKeyed(c.table)
	verb := "INSERT INTO"
	if tr.Keyed {
		verb = "INSERT OR IGNORE INTO"
	}
	names := make([]string, 0, len(c.table.Columns)+1)
	for _, col := range c.table.Columns {
		names = append(names, sqlIdent(col.Name))
	}
	if duckdb.StoresEventTime(c.table) {
		names = append(names, sqlIdent(duckdb.EventTimeColumn))
	}
	for d := range days {
		exprs := c.exprs(d, withAt)
		q := fmt.Sprintf("%s %s (%s) SELECT %s FROM bench_sample, range(%d) AS copies(m)", verb, name,
			strings.Join(names, ", "), strings.Join(exprs, ", "), c.mailboxes)
		if d == 0 {
			q += " WHERE m > 0"
		}
		if _, err := x.ExecContext(ctx, q); err != nil {
			return tr, fmt.Errorf("panels: copy %s day block %d: %w", c.table.Name, d, err)
		}
	}
	err = x.QueryRowContext(ctx, "SELECT count(*) FROM "+name).Scan(&tr.Rows)
	return tr, err
}

// columnsWithAt reports the text columns holding an '@' in some sample row (addresses, message ids).
func (c copier) columnsWithAt(ctx context.Context, db *duckdb.DB) (map[string]bool, error) {
	var names, tests []string
	for _, col := range c.table.Columns {
		if (col.Type == schema.String || col.Type == schema.Dynamic) && col.Name != "tenant" {
			names = append(names, col.Name)
			tests = append(tests, "coalesce(bool_or(contains(CAST("+sqlIdent(col.Name)+" AS VARCHAR), '@')), false)")
		}
	}
	out := map[string]bool{}
	if len(names) == 0 {
		return out, nil
	}
	vals := make([]any, len(names))
	flags := make([]bool, len(names))
	for i := range flags {
		vals[i] = &flags[i]
	}
	if err := db.DB().QueryRowContext(ctx, "SELECT "+strings.Join(tests, ", ")+" FROM bench_sample").Scan(vals...); err != nil {
		return nil, fmt.Errorf("panels: copy %s: %w", c.table.Name, err)
	}
	for i, n := range names {
		out[n] = flags[i]
	}
	return out, nil
}

// hasTimeOrIDKey says whether the table's key holds a time or a record id, so day copies stay distinct.
func (c copier) hasTimeOrIDKey() bool {
	for _, k := range c.table.Key {
		col := c.table.Columns[c.table.ColumnIndex(k)]
		if col.Type == schema.DateTime || k == c.table.EventTime || isIDColumn(c.table, k) {
			return true
		}
	}
	return false
}

// isIDColumn says whether a key column is a record id that copies suffix (not the tenant's account id).
func isIDColumn(t *schema.Table, name string) bool {
	l := strings.ToLower(name)
	return slices.Contains(t.Key, name) && strings.HasSuffix(l, "id") && l != "accountid"
}

// isIPColumn says whether a text column holds an IP address.
func isIPColumn(name string) bool {
	l := strings.ToLower(name)
	return strings.HasSuffix(l, "ip") || strings.HasSuffix(l, "ipaddress")
}

// exprs are the SELECT expressions of the copies of day block d; column m of the FROM is the mailbox copy.
func (c copier) exprs(d int, withAt map[string]bool) []string {
	shiftDays := d * c.dayLen
	copyNo := "(" + strconv.Itoa(d*c.mailboxes) + " + m)"
	out := make([]string, len(c.table.Columns), len(c.table.Columns)+1)
	for i, col := range c.table.Columns {
		q := sqlIdent(col.Name)
		e := q
		switch {
		case col.Name == "tenant":
		case col.Type == schema.DateTime && shiftDays > 0:
			e = fmt.Sprintf("%s - INTERVAL %d DAY", q, shiftDays)
		case col.Type == schema.Real && col.Name == c.table.EventTime && shiftDays > 0:
			e = fmt.Sprintf("%s - %d", q, int64(shiftDays)*int64(24*time.Hour/time.Millisecond))
		case withAt[col.Name]:
			// a.b@x → a.b.u3@x in copy m=3: the copies' mailboxes and correspondents are new addresses
			e = fmt.Sprintf(`CASE WHEN m = 0 THEN %[1]s ELSE replace(CAST(%[1]s AS VARCHAR), '@', '.u' || m || '@') END`, q)
			if col.Type == schema.Dynamic {
				e = "CAST(" + e + " AS JSON)"
			}
		case col.Type == schema.String && isIDColumn(c.table, col.Name):
			e = fmt.Sprintf(`CASE WHEN %[1]s = '' OR %[2]s = 0 THEN %[1]s ELSE %[1]s || '~' || %[2]s END`, q, copyNo)
		case col.Type == schema.String && isIPColumn(col.Name):
			// a.b.c.d → a.b.(c+m mod 256).d: a new address in the same network region
			e = fmt.Sprintf(`CASE WHEN m = 0 OR NOT regexp_full_match(%[1]s, '[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}')
  THEN %[1]s ELSE split_part(%[1]s, '.', 1) || '.' || split_part(%[1]s, '.', 2) || '.' ||
  ((CAST(split_part(%[1]s, '.', 3) AS INTEGER) + m) %% 256) || '.' || split_part(%[1]s, '.', 4) END`, q)
		}
		out[i] = e
	}
	if duckdb.StoresEventTime(c.table) {
		e := sqlIdent(duckdb.EventTimeColumn)
		if shiftDays > 0 {
			e = fmt.Sprintf("%s - INTERVAL %d DAY", e, shiftDays)
		}
		out = append(out, e)
	}
	return out
}

// RunPanels runs every panel of every dashboard opts.Runs times for each of opts.Ranges at server time now.
// Within a tab, panels run in order; a drill-down source's first row (or its fixed value) supplies the value
// of the parameter it sets to the panels that need it, as a click on its largest slice or first row would.
func RunPanels(ctx context.Context, db *duckdb.DB, geo web.PanelGeo, now time.Time, opts PanelsOptions) ([]PanelTiming, error) {
	opts = opts.withDefaults()
	var out []PanelTiming
	for _, rng := range opts.Ranges {
		for _, d := range web.Dashboards() {
			for _, tab := range d.Tabs {
				values := map[string]string{}
				for _, p := range tab.Panels {
					pt, err := runPanelTimed(ctx, db, geo, now, opts.Runs, d.ID, tab.ID, p, rng, values)
					if err != nil {
						return out, err
					}
					out = append(out, pt)
					fmt.Fprintf(opts.Progress, "%s/%s %s: %d rows, p50 %.0f ms, p95 %.0f ms%s\n", pt.Dashboard, pt.Panel,
						pt.Range, pt.Rows, pt.P50, pt.P95, pt.Skipped)
				}
			}
		}
	}
	return out, nil
}

// runPanelTimed runs one panel runs times (the first a warm-up) and records the drill-down value it sets.
func runPanelTimed(ctx context.Context, db *duckdb.DB, geo web.PanelGeo, now time.Time, runs int, dash, tab string,
	p web.Panel, rng string, values map[string]string) (PanelTiming, error) {
	pt := PanelTiming{Dashboard: dash, Tab: tab, Panel: p.ID, Kind: string(p.Kind), Range: rng}
	q := url.Values{"range": {rng}}
	for _, need := range p.Needs {
		v, ok := values[need]
		if !ok {
			pt.Skipped = "no value for " + need + ": its source panel returned no rows"
			return pt, nil
		}
		q.Set(need, v)
		if pt.Params == nil {
			pt.Params = map[string]string{}
		}
		pt.Params[need] = v
	}
	times := make([]float64, 0, runs-1)
	for i := range runs {
		start := time.Now()
		res, err := web.RunPanel(ctx, db, geo, dash, p.ID, q, now)
		ms := float64(time.Since(start).Microseconds()) / 1000
		if err != nil {
			return pt, fmt.Errorf("panels: %w", err)
		}
		if i == 0 {
			pt.Rows = len(res.Rows)
			setDrillValue(p, res, values)
			continue
		}
		times = append(times, ms)
	}
	slices.Sort(times)
	pt.P50, pt.P95, pt.Max = percentile(times, 0.5), percentile(times, 0.95), times[len(times)-1]
	return pt, nil
}

// setDrillValue records the value a click on the panel's first row would set, unless an earlier panel set it.
func setDrillValue(p web.Panel, res web.PanelOutput, values map[string]string) {
	if p.Drill == nil || len(res.Rows) == 0 {
		return
	}
	if _, done := values[p.Drill.Param]; done {
		return
	}
	v := p.Drill.Value
	if v == "" {
		col := 0
		if p.Kind == web.KindTable {
			col = p.Drill.Column
		}
		if col >= len(res.Rows[0]) || res.Rows[0][col] == nil {
			return
		}
		v = fmt.Sprint(res.Rows[0][col])
	}
	values[p.Drill.Param] = v
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}
