// Package duckdb is the embedded store: it keeps collected tables, quarantined input and alerts in one DuckDB file.
// It is the only package that imports the DuckDB driver.
//
// Every schema.Table becomes a table of the same name. Column types map as string→VARCHAR, datetime→TIMESTAMP,
// real→DOUBLE, bool→BOOLEAN and dynamic→JSON. TIMESTAMP has no zone: every time is stored as UTC and read back as
// a time.Time in UTC. WriteRows is idempotent on each table's natural key (schema.Table.Key): a table whose key
// holds its event time looks for stored keys within the batch's event times (see TimeKeyed); the others have a
// PRIMARY KEY on it. Event tables also store their event time (EventTimeColumn); the tables the dashboards'
// rollups (internal/rollup) count keep each write's new rows in a pending table too, in the write's transaction.
//
// A DuckDB file can be open read-write by one process only; Open and OpenReadOnly report a file held by another
// process with an error wrapping ErrLocked.
package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

var _ store.Store = (*DB)(nil)

// ErrLocked reports that another process holds the database file (DuckDB allows one writer process per file).
var ErrLocked = errors.New("database file is locked by another process")

// ErrReadOnlyQuery is returned by Query for anything but a single read-only statement.
var ErrReadOnlyQuery = errors.New("query: only read-only statements are allowed")

// Options tunes a store. The zero value is usable.
type Options struct {
	// Logger receives store events; nil discards them.
	Logger *slog.Logger
	// Now is the clock used for timestamps the store sets itself (migrations, quarantine rows without a time);
	// nil means time.Now.
	Now func() time.Time
	// Threads caps DuckDB's worker threads; 0 leaves DuckDB's default (one per core).
	Threads int
	// MemoryLimit caps DuckDB's memory, in DuckDB's syntax (e.g. "1GB"); "" leaves the default.
	MemoryLimit string
	// Tables are the tables to create; nil means schema.Tables().
	Tables []*schema.Table
	// Country gives an IP address's ISO country code ("" when unknown) for the rollups that count by country
	// (rollup.CountryFunc); nil counts every address as unknown, and then a store that was counted with a GeoIP
	// database keeps its counts as they are.
	Country func(ip string) string
	// CountrySource names the GeoIP database behind Country (path and build time): when it differs from the one
	// the rollups were counted with, Open recounts the rollups that count by country.
	CountrySource string
}

// writeStrategy selects how WriteRows moves a batch into DuckDB.
type writeStrategy int

const (
	// strategyAppender appends the batch into a per-connection temp staging table with DuckDB's appender, then
	// copies it with one INSERT OR IGNORE … SELECT. Measured with BenchmarkWriteRows (new Audit_CL rows into a
	// file store; 2 shared, busy cores, so absolute numbers are low and noisy): 500-row batches 9k–20k rows/s
	// against 3k–6k rows/s for prepared multi-row INSERT OR IGNORE … VALUES (≈3× faster), 50,000-row batches
	// 37k–89k rows/s against 5k rows/s (7–16× faster). It is the default.
	strategyAppender writeStrategy = iota
	// strategyValues sends prepared multi-row INSERT OR IGNORE … VALUES statements in one transaction. Kept for
	// the benchmark that justifies the default.
	strategyValues
)

// DB is a DuckDB-backed store.Store. It is safe for concurrent use.
type DB struct {
	db       *sql.DB
	path     string
	readOnly bool
	log      *slog.Logger
	now      func() time.Time
	tables   []*schema.Table

	// mu serialises writes: DuckDB's optimistic concurrency would otherwise fail one of two writers that touch
	// the same keys, and the staging tables live on the single write connection.
	mu       sync.Mutex
	wconn    *sql.Conn
	staged   map[string]bool // staging table created
	dirty    map[string]bool // staging table may hold rows
	strategy writeStrategy
	closed   bool
	// rollupState tracks, per source table, the rollup counts appended since their last compaction.
	rollupState map[string]*rollupState
	// compactEvery is how many new rows of a table trigger its rollups' compaction (compactAfter), flushEvery
	// how many pending rows are counted into the rollups at once (flushAfter).
	compactEvery, flushEvery int
	// writers are the prepared write statements per event table (see eventWriter).
	writers map[string]*eventWriterStmts
	// countryLookup and countrySource are Options.Country and Options.CountrySource.
	countryLookup func(ip string) string
	countrySource string
}

// Open opens or creates the DuckDB file at path ("" opens a private in-memory database), creates every table
// that is missing, applies pending migrations and (re)creates the Sentinel parser views (see SentinelViews).
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	d, err := open(ctx, path, false, opts)
	if err != nil {
		return nil, err
	}
	if err := d.migrate(ctx); err != nil {
		_ = d.db.Close()
		return nil, err
	}
	if err := d.createViews(ctx); err != nil {
		_ = d.db.Close()
		return nil, err
	}
	if err := d.ensureRollups(ctx); err != nil {
		_ = d.db.Close()
		return nil, err
	}
	return d, nil
}

// OpenReadOnly opens an existing DuckDB file for reading only, for CLI commands that inspect the store. It creates
// nothing; writes fail.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("duckdb: read-only open needs a file path")
	}
	return open(ctx, path, true, Options{})
}

func open(ctx context.Context, path string, readOnly bool, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	tables := opts.Tables
	if tables == nil {
		tables = schema.Tables()
	}
	q := url.Values{}
	if readOnly {
		q.Set("access_mode", "READ_ONLY")
	}
	if opts.Threads > 0 {
		q.Set("threads", fmt.Sprint(opts.Threads))
	}
	if opts.MemoryLimit != "" {
		q.Set("memory_limit", opts.MemoryLimit)
	}
	dsn := path
	if len(q) > 0 {
		dsn += "?" + q.Encode()
	}
	c, err := duck.NewConnector(dsn, nil)
	if err != nil {
		return nil, openError(path, err)
	}
	db := sql.OpenDB(c)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, openError(path, err)
	}
	d := &DB{
		db:       db,
		path:     path,
		readOnly: readOnly,
		log:      log,
		now:      now,
		tables:   tables,
		staged:   map[string]bool{},
		dirty:    map[string]bool{},

		compactEvery: compactAfter,
		flushEvery:   flushAfter,
		writers:      map[string]*eventWriterStmts{},

		countryLookup: opts.Country,
		countrySource: opts.CountrySource,
	}
	if err := registerCountry(ctx, db, opts.Country); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("duckdb: open %s: %w", path, err)
	}
	if !readOnly {
		w, err := db.Conn(ctx)
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("duckdb: open %s: write connection: %w", path, err)
		}
		d.wconn = w
	}
	log.Debug("duckdb store opened", "path", path, "read_only", readOnly)
	return d, nil
}

// openError turns DuckDB's lock failure into an error wrapping ErrLocked that says what to do about it.
func openError(path string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "Could not set lock") || strings.Contains(msg, "Conflicting lock") {
		return fmt.Errorf("duckdb: open %s: %w (is \"castwatch serve\" running? stop it, or query through it): %s",
			path, ErrLocked, lockDetail(msg))
	}
	return fmt.Errorf("duckdb: open %s: %w", path, err)
}

// lockDetail keeps the part of DuckDB's lock message that names the holder (its PID), if present.
func lockDetail(msg string) string {
	if i := strings.Index(msg, "Conflicting lock"); i >= 0 {
		msg = msg[i:]
	}
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// DB returns the underlying database handle for callers that need SQL the Store interface does not offer.
// Writes through it bypass the store's write serialisation.
func (d *DB) DB() *sql.DB { return d.db }

// Path returns the database file path ("" for in-memory).
func (d *DB) Path() string { return d.path }

// Close checkpoints the file (folding the write-ahead log into it) and releases the database.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	if d.wconn != nil {
		if d.path != "" {
			if _, err := d.wconn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
				errs = append(errs, fmt.Errorf("duckdb: checkpoint: %w", err))
			}
		}
		if err := d.wconn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("duckdb: close write connection: %w", err))
		}
	}
	if err := d.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("duckdb: close: %w", err))
	}
	return errors.Join(errs...)
}

// withWriteConn runs fn on the write connection while holding d.mu, which serialises writes.
func (d *DB) withWriteConn(fn func(c *sql.Conn) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.writeConn()
	if err != nil {
		return err
	}
	return fn(c)
}

// writeConn returns the write connection; the caller holds d.mu.
func (d *DB) writeConn() (*sql.Conn, error) {
	if d.closed {
		return nil, errors.New("duckdb: store is closed")
	}
	if d.readOnly || d.wconn == nil {
		return nil, errors.New("duckdb: store is open read-only")
	}
	return d.wconn, nil
}
