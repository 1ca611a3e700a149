// Package siem collects the SIEM batch streams of Mimecast API 2.0: GET /siem/v1/batch/events/cg (Cloud Gateway,
// table Seg_Cg_CL) and /siem/v1/batch/events/ci (Cloud Integrated, Cloud_Integrated_CL).
//
// For each log type it lists the day's batch files page by page (one type at a time, so the documented budget of
// 50 listing calls per 15 minutes is spent in sequence), keeps a durable work list of the files in the checkpoint
// store, and downloads them with bounded concurrency. A file is streamed (gzip, then line by line with a bounded
// line length) and cut into batches of at most ChunkSize lines, each published on the bus under a deterministic
// message id (tenant, stream, type, file identity, chunk size, chunk index) and recorded in the work list once
// the bus has accepted it. So:
//
//   - a file that fails (download error, truncated gzip, expired URL) stays in the work list and is retried by the
//     next run, which skips the chunks already published; it never silently disappears as in Sentinel's
//     connectors, and a chunk published twice carries the same id, which the bus drops;
//   - an expired pre-signed URL (403/404, or an expiry already past) is refreshed by listing the file's page
//     again and matching the file by identity (the URL without its signature);
//   - the same URL listed twice, in one page or across pages, is downloaded once;
//   - a day is closed only when the listing is caught up, the day is over (plus DayGrace, for late batches) and
//     none of its files is still in the work list;
//   - lines that are not JSON objects travel in Batch.Malformed with their position, to the store's quarantine.
//
// Records repeated across files or days (the API does that) are published as they come; the store writes each
// row once by the table's natural key, so they are stored once.
package siem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/schema"
)

// Stream names.
const (
	StreamCG = "siem_cg"
	StreamCI = "siem_ci"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultLookback     = 7 * 24 * time.Hour
	MaxLookback         = 7 * 24 * time.Hour // the documented retention of batch files
	DefaultConcurrency  = 4
	DefaultChunkSize    = 500
	DefaultPageSize     = 100
	DefaultMaxLineBytes = 1 << 20
	DefaultDayGrace     = time.Hour
	DefaultMaxAttempts  = 5
)

// CGTypes are the documented Cloud Gateway batch types.
var CGTypes = []string{"receipt", "process", "delivery", "av", "spam", "internal email protect",
	"impersonation protect", "url protect", "attachment protect", "journal"}

// CITypes are the documented Cloud Integrated batch types.
var CITypes = []string{"entities", "mailflow", "urlclick"}

// maxEmptyPages is how many listing pages in a row without files and without isCaughtUp are followed.
const maxEmptyPages = 5

// maxRelistPages bounds the pages one re-list for a fresh URL reads.
const maxRelistPages = 10

// Client is what the collector needs from the Mimecast API client; *mimecast.Client satisfies it.
type Client interface {
	// Do calls a GET JSON route and decodes the response into out.
	Do(ctx context.Context, method, path string, body any, out any) error
	// GetFile downloads a pre-signed file URL without the Mimecast credentials; an expired URL is a permanent
	// *mimecast.APIError with status 403 or 404.
	GetFile(ctx context.Context, fileURL string) (io.ReadCloser, error)
}

// Config configures a Collector.
type Config struct {
	// Tenant names the Mimecast account.
	Tenant string
	// Stream is StreamCG or StreamCI.
	Stream string
	// Types are the log types to collect; default all of the stream's (CGTypes or CITypes).
	Types []string
	// Client is the tenant's API client.
	Client Client
	// Publisher is the bus; Checkpoints keeps the work lists.
	Publisher   collect.Publisher
	Checkpoints collect.CheckpointStore
	// Now is the clock; default time.Now.
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *collect.Metrics
	// Progress, when set, is called after every file.
	Progress func(collect.Progress)
	// Lookback is how far back the first run starts; default and maximum 7 days (the files' retention).
	Lookback time.Duration
	// Concurrency bounds simultaneous file downloads; default 4.
	Concurrency int
	// ChunkSize is the most lines one batch holds; default 500.
	ChunkSize int
	// PageSize is the listing's pageSize (1–100); default 100.
	PageSize int
	// MaxLineBytes is the longest line read as a record; longer lines are malformed. Default 1 MiB.
	MaxLineBytes int
	// DayGrace is how long after a day ends its listing stays open for late batches; default 1 hour.
	DayGrace time.Duration
	// MaxAttempts is how many runs a failing file is tried in before it is given up, loudly: its loss is
	// published as a malformed entry (so it shows in the quarantine) and logged as an error. Default 5.
	MaxAttempts int
	// ListBudget caps listing calls per run (0: no cap); a run that reaches it stops cleanly and the next run
	// continues where it stopped.
	ListBudget int
}

// Stats summarises one run: the common collector counts (Windows are days closed, Pages listing calls, Rows
// records published) and the file counts.
type Stats struct {
	collect.Stats
	// Files counts files fully published; FilesFailed files that failed in this run and stay in the work list;
	// FilesAbandoned files given up after MaxAttempts.
	Files          int
	FilesFailed    int
	FilesAbandoned int
	// DuplicateURLs counts listed files already listed before (in the same page or earlier).
	DuplicateURLs int
	// Relists counts listings made to refresh an expired URL.
	Relists int
	// Malformed counts lines that were not records.
	Malformed int
}

// Collector collects one tenant's SIEM batch stream.
type Collector struct {
	cfg     Config
	types   []string
	table   string
	path    string
	log     *slog.Logger
	now     func() time.Time
	maxLine int

	mu        sync.Mutex
	listCalls int
}

// New checks cfg and returns a Collector.
func New(cfg Config) (*Collector, error) {
	if cfg.Tenant == "" {
		return nil, errors.New("siem collector: tenant is required")
	}
	var all []string
	c := &Collector{}
	switch cfg.Stream {
	case StreamCG:
		all, c.table, c.path = CGTypes, schema.SegCg.Name, "/siem/v1/batch/events/cg"
	case StreamCI:
		all, c.table, c.path = CITypes, schema.CloudIntegrated.Name, "/siem/v1/batch/events/ci"
	default:
		return nil, fmt.Errorf("siem collector: unknown stream %q (want %s or %s)", cfg.Stream, StreamCG, StreamCI)
	}
	if cfg.Client == nil || cfg.Publisher == nil || cfg.Checkpoints == nil {
		return nil, errors.New("siem collector: client, publisher and checkpoint store are required")
	}
	if len(cfg.Types) == 0 {
		cfg.Types = all
	}
	seen := map[string]bool{}
	for _, t := range cfg.Types {
		if !slices.Contains(all, t) {
			return nil, fmt.Errorf("siem collector: %s has no type %q (types: %s)", cfg.Stream, t, strings.Join(all, ", "))
		}
		if !seen[t] {
			seen[t] = true
			c.types = append(c.types, t)
		}
	}
	if cfg.PageSize < 0 || cfg.PageSize > 100 {
		return nil, fmt.Errorf("siem collector: page size %d is not within 1–100", cfg.PageSize)
	}
	if cfg.Concurrency < 0 || cfg.ChunkSize < 0 || cfg.MaxLineBytes < 0 || cfg.Lookback < 0 || cfg.DayGrace < 0 ||
		cfg.MaxAttempts < 0 || cfg.ListBudget < 0 {
		return nil, errors.New("siem collector: lookback, concurrency, chunk size, line limit, day grace, attempts and list budget must not be negative")
	}
	if cfg.Lookback == 0 {
		cfg.Lookback = DefaultLookback
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.DayGrace == 0 {
		cfg.DayGrace = DefaultDayGrace
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	c.log = cfg.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("tenant", cfg.Tenant, "stream", cfg.Stream)
	if cfg.Lookback > MaxLookback {
		c.log.Warn("lookback exceeds the 7-day retention of batch files; using 7 days", "lookback", cfg.Lookback)
		cfg.Lookback = MaxLookback
	}
	c.now = cfg.Now
	if c.now == nil {
		c.now = time.Now
	}
	if cfg.Metrics == nil {
		m, _ := collect.NewMetrics(nil)
		cfg.Metrics = m
	}
	c.maxLine = cfg.MaxLineBytes
	c.cfg = cfg
	return c, nil
}

// Tenant is the collector's tenant.
func (c *Collector) Tenant() string { return c.cfg.Tenant }

// Stream is the collector's stream name.
func (c *Collector) Stream() string { return c.cfg.Stream }

// Types are the log types the collector lists, in order.
func (c *Collector) Types() []string { return slices.Clone(c.types) }

// Run collects every type once (see Collect) and returns the common stats.
func (c *Collector) Run(ctx context.Context) (collect.Stats, error) {
	st, err := c.Collect(ctx)
	return st.Stats, err
}

// Collect lists and downloads each type in turn until it is caught up. A type that fails does not stop the
// others; the error joins every type's *collect.RunError. Files that failed stay in their work list for the next
// run.
func (c *Collector) Collect(ctx context.Context) (Stats, error) {
	var st Stats
	c.mu.Lock()
	c.listCalls = 0
	c.mu.Unlock()
	var errs []error
	for _, typ := range c.types {
		if err := ctx.Err(); err != nil {
			errs = append(errs, &collect.RunError{Tenant: c.cfg.Tenant, Stream: c.cfg.Stream, Op: "run", Err: err})
			break
		}
		if err := c.runType(ctx, typ, &st); err != nil {
			errs = append(errs, err)
		}
	}
	labels := []string{c.cfg.Tenant, c.cfg.Stream}
	if err := errors.Join(errs...); err != nil {
		c.cfg.Metrics.Errors.WithLabelValues(labels...).Inc()
		c.log.Error("siem collection failed", "err", err, "files", st.Files, "files_failed", st.FilesFailed)
		return st, err
	}
	c.cfg.Metrics.LastSuccess.WithLabelValues(labels...).Set(float64(c.now().Unix()))
	return st, nil
}

// typeRun is one type's pass: its state, saved under a lock because file downloads update it concurrently.
type typeRun struct {
	c   *Collector
	typ string
	key string

	mu sync.Mutex
	st State
	// stats of the pass, merged into the run's at the end
	stats Stats
}

func (r *typeRun) saveLocked(ctx context.Context) error {
	r.st.pruneDone()
	r.st.Updated = r.c.now().UTC()
	data, err := json.Marshal(r.st)
	if err != nil {
		return fmt.Errorf("encode siem state: %w", err)
	}
	return r.c.cfg.Checkpoints.Put(ctx, r.key, data)
}

func (r *typeRun) save(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.saveLocked(ctx)
}

func (r *typeRun) runErr(op string, err error) error {
	r.mu.Lock()
	day := r.st.Day
	r.mu.Unlock()
	start, end := dayBounds(day)
	return &collect.RunError{Tenant: r.c.cfg.Tenant, Stream: r.c.cfg.Stream + "/" + r.typ, WindowStart: start,
		WindowEnd: end, Op: op, Err: err}
}

// retentionStart is the oldest day whose files can still be listed.
func (c *Collector) retentionStart() string {
	return c.now().UTC().Add(-MaxLookback).Format(dayLayout)
}

// runType runs one type: files left from earlier runs first, then the listing from the saved position.
func (c *Collector) runType(ctx context.Context, typ string, total *Stats) error {
	r := &typeRun{c: c, typ: typ, key: StateKey(c.cfg.Tenant, c.cfg.Stream, typ)}
	defer func() { mergeStats(total, r.stats) }()
	st, found, err := LoadState(ctx, c.cfg.Checkpoints, c.cfg.Tenant, c.cfg.Stream, typ)
	if err != nil {
		return r.runErr("checkpoint", err)
	}
	if !found {
		st = State{Day: c.now().UTC().Add(-c.cfg.Lookback).Format(dayLayout)}
		c.log.Info("first run of siem type", "type", typ, "day", st.Day)
	}
	if oldest := c.retentionStart(); st.Day < oldest {
		c.log.Warn("siem day cursor is older than the 7-day retention; moving it forward (files of the days in between are gone)",
			"type", typ, "day", st.Day, "to", oldest)
		st.Day, st.NextPage, st.CaughtUp = oldest, "", false
	}
	r.st = st
	var fileErrs []error
	// Files left over from earlier runs: retried before anything new is listed.
	if len(st.Files) > 0 {
		c.log.Info("retrying files left in the work list", "type", typ, "files", len(st.Files))
		fileErrs = append(fileErrs, r.processFiles(ctx, slices.Clone(st.Files))...)
	}
	listErr := r.listLoop(ctx, &fileErrs)
	if listErr != nil {
		fileErrs = append(fileErrs, listErr)
	}
	if len(fileErrs) > 0 {
		var re *collect.RunError
		if len(fileErrs) == 1 && errors.As(fileErrs[0], &re) {
			return re
		}
		return r.runErr("download", errors.Join(fileErrs...))
	}
	return nil
}

// listLoop lists the type from its saved position until caught up, processing each page's new files.
func (r *typeRun) listLoop(ctx context.Context, fileErrs *[]error) error {
	c := r.c
	empty := 0
	restarted := false
	for {
		if err := ctx.Err(); err != nil {
			return r.runErr("run", err)
		}
		if !c.takeListCall() {
			c.log.Info("listing budget of this run used up; the next run continues", "type", r.typ, "budget", c.cfg.ListBudget)
			return nil
		}
		r.mu.Lock()
		day, token := r.st.Day, r.st.NextPage
		r.mu.Unlock()
		resp, err := c.list(ctx, r.typ, day, token)
		if err != nil && token != "" && !restarted && mimecast.IsPermanent(err) {
			// The saved @nextPage was refused (expired or from another deployment): list the day again from its
			// first page; the done set and the work list keep files already seen from being collected twice.
			restarted = true
			c.log.Warn("saved nextPage refused; listing the day again from its first page", "type", r.typ, "day", day, "err", err)
			r.mu.Lock()
			r.st.NextPage = ""
			err := r.saveLocked(ctx)
			r.mu.Unlock()
			if err != nil {
				return r.runErr("checkpoint", err)
			}
			continue
		}
		if err != nil {
			return r.runErr("list", err)
		}
		r.stats.Pages++
		c.cfg.Metrics.Pages.WithLabelValues(c.cfg.Tenant, c.cfg.Stream).Inc()
		added := r.addListed(day, token, resp)
		r.mu.Lock()
		if resp.NextPage != "" {
			r.st.NextPage = resp.NextPage
		}
		r.st.CaughtUp = resp.IsCaughtUp
		err = r.saveLocked(ctx) // the work list holds the page's files before any is downloaded
		r.mu.Unlock()
		if err != nil {
			return r.runErr("checkpoint", err)
		}
		if len(added) > 0 {
			*fileErrs = append(*fileErrs, r.processFiles(ctx, added)...)
		}
		if len(resp.Value) == 0 {
			empty++
		} else {
			empty = 0
		}
		if resp.IsCaughtUp {
			closed, err := r.closeDay(ctx)
			if err != nil {
				return err
			}
			if closed {
				empty = 0
				continue
			}
			return nil
		}
		if resp.NextPage == "" || (resp.NextPage == token && len(resp.Value) == 0) {
			c.log.Warn("listing is not caught up but gives no way forward; stopping until the next run", "type", r.typ, "day", day)
			return nil
		}
		if empty > maxEmptyPages {
			c.log.Warn("several empty listing pages in a row without isCaughtUp; stopping until the next run", "type", r.typ, "day", day)
			return nil
		}
	}
}

// closeDay moves the cursor to the next day when the listed day is complete: caught up, over (plus the grace
// for late batches) and without files left in the work list.
func (r *typeRun) closeDay(ctx context.Context) (bool, error) {
	c := r.c
	r.mu.Lock()
	defer r.mu.Unlock()
	_, end := dayBounds(r.st.Day)
	if end.IsZero() {
		return false, r.runErrLocked("checkpoint", fmt.Errorf("saved day %q is not a date", r.st.Day))
	}
	now := c.now().UTC()
	if now.Before(end.Add(time.Second + c.cfg.DayGrace)) {
		c.cfg.Metrics.Lag.WithLabelValues(c.cfg.Tenant, c.cfg.Stream).Set(0)
		return false, nil
	}
	if r.st.pendingOn(r.st.Day) {
		c.log.Warn("day stays open: some of its files are still in the work list", "type", r.typ, "day", r.st.Day)
		return false, nil
	}
	next := end.Add(time.Second).Format(dayLayout)
	c.log.Info("siem day collected", "type", r.typ, "day", r.st.Day)
	r.st.Day, r.st.NextPage, r.st.CaughtUp = next, "", false
	r.stats.Windows++
	if err := r.saveLocked(ctx); err != nil {
		return false, r.runErrLocked("checkpoint", err)
	}
	c.cfg.Metrics.Lag.WithLabelValues(c.cfg.Tenant, c.cfg.Stream).Set(now.Sub(end).Seconds())
	return true, nil
}

func (r *typeRun) runErrLocked(op string, err error) error {
	start, end := dayBounds(r.st.Day)
	return &collect.RunError{Tenant: r.c.cfg.Tenant, Stream: r.c.cfg.Stream + "/" + r.typ, WindowStart: start,
		WindowEnd: end, Op: op, Err: err}
}

// takeListCall counts one listing call against the run's budget; false when it is used up.
func (c *Collector) takeListCall() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.ListBudget > 0 && c.listCalls >= c.cfg.ListBudget {
		return false
	}
	c.listCalls++
	return true
}

// listEntry is one value[] item of a listing.
type listEntry struct {
	URL    string `json:"url"`
	Expiry string `json:"expiry"`
	Size   int64  `json:"size"`
}

// listResponse is a batch listing page.
type listResponse struct {
	Value      []listEntry `json:"value"`
	NextPage   string      `json:"@nextPage"`
	IsCaughtUp bool        `json:"isCaughtUp"`
}

// list fetches one listing page of a type and day.
func (c *Collector) list(ctx context.Context, typ, day, token string) (listResponse, error) {
	q := url.Values{}
	q.Set("type", typ)
	q.Set("dateRangeStartsAt", day)
	q.Set("dateRangeEndsAt", day)
	q.Set("pageSize", strconv.Itoa(c.cfg.PageSize))
	if token != "" {
		q.Set("nextPage", token)
	}
	// Spaces in type names ("url protect") are sent as %20, which every server reads as a space.
	path := c.path + "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	var resp listResponse
	if err := c.cfg.Client.Do(ctx, http.MethodGet, path, nil, &resp); err != nil {
		return listResponse{}, err
	}
	return resp, nil
}

// addListed adds a page's files that are neither in the work list nor done, and returns them. A file already in
// the work list gets the fresh URL.
func (r *typeRun) addListed(day, token string, resp listResponse) []*FileWork {
	r.mu.Lock()
	defer r.mu.Unlock()
	var added []*FileWork
	seen := map[string]bool{}
	for i, v := range resp.Value {
		id, err := FileID(v.URL)
		if err != nil {
			r.c.log.Warn("listing holds an unusable file url; skipped", "type", r.typ, "day", day, "err", err)
			continue
		}
		if seen[id] || r.st.isDone(id) {
			r.stats.DuplicateURLs++
			continue
		}
		seen[id] = true
		if f := r.st.pending(id); f != nil {
			r.stats.DuplicateURLs++
			f.URL, f.Expiry = v.URL, parseExpiry(v.Expiry)
			continue
		}
		f := &FileWork{ID: id, URL: v.URL, Expiry: parseExpiry(v.Expiry), Size: v.Size, Day: day,
			ListToken: token, ListIndex: i, ChunkSize: r.c.cfg.ChunkSize}
		r.st.Files = append(r.st.Files, f)
		added = append(added, f)
	}
	return added
}

func parseExpiry(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// errExpired marks a download refused because the pre-signed URL has expired.
type errExpired struct{ err error }

func (e *errExpired) Error() string { return "expired url: " + e.err.Error() }
func (e *errExpired) Unwrap() error { return e.err }

// isExpiredStatus reports an object-store refusal of an expired pre-signed URL.
func isExpiredStatus(err error) bool {
	var ae *mimecast.APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound)
}

// processFiles downloads files with bounded concurrency. Files whose URL has expired are re-listed for a fresh
// URL and tried once more. It returns the failures; failed files stay in the work list.
func (r *typeRun) processFiles(ctx context.Context, files []*FileWork) []error {
	var expired []*FileWork
	errs := r.download(ctx, files, &expired)
	for _, f := range expired {
		ok, err := r.relist(ctx, f)
		if err != nil {
			errs = append(errs, r.fail(ctx, f, fmt.Errorf("file %s: re-list for a fresh url: %w", f.Name(), err))...)
			continue
		}
		if !ok {
			errs = append(errs, r.fail(ctx, f, fmt.Errorf("file %s: url expired and the file is not listed again", f.Name()))...)
			continue
		}
		var again []*FileWork
		errs = append(errs, r.download(ctx, []*FileWork{f}, &again)...)
		for _, f := range again {
			errs = append(errs, r.fail(ctx, f, fmt.Errorf("file %s: the re-listed url is expired too", f.Name()))...)
		}
	}
	return errs
}

// download runs files through fetchFile, at most Concurrency at a time. Files that met an expired URL are
// appended to expired instead of failing.
func (r *typeRun) download(ctx context.Context, files []*FileWork, expired *[]*FileWork) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, r.c.cfg.Concurrency)
	)
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		r.mu.Lock()
		stale := !f.Expiry.IsZero() && r.c.now().After(f.Expiry)
		r.mu.Unlock()
		if stale {
			// Known to be expired from its listing: no point downloading it.
			mu.Lock()
			*expired = append(*expired, f)
			mu.Unlock()
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := r.fetchFile(ctx, f)
			var ee *errExpired
			switch {
			case err == nil:
			case errors.As(err, &ee):
				mu.Lock()
				*expired = append(*expired, f)
				mu.Unlock()
			default:
				fe := r.fail(ctx, f, err)
				mu.Lock()
				errs = append(errs, fe...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// fetchFile downloads and publishes one file and removes it from the work list.
func (r *typeRun) fetchFile(ctx context.Context, f *FileWork) error {
	c := r.c
	r.mu.Lock()
	fileURL := f.URL
	r.mu.Unlock()
	body, err := c.cfg.Client.GetFile(ctx, fileURL)
	if err != nil {
		if isExpiredStatus(err) {
			return &errExpired{err: err}
		}
		return fmt.Errorf("file %s: download: %w", f.Name(), err)
	}
	defer body.Close()
	res, err := c.publishFile(ctx, fileJob{typ: r.typ, f: f}, body, func(done int) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		f.Chunks = done
		return r.saveLocked(ctx)
	})
	r.mu.Lock()
	r.stats.Rows += res.rows
	r.stats.Batches += res.batches
	r.stats.Duplicates += res.dups
	r.stats.Malformed += res.malformed
	r.mu.Unlock()
	c.cfg.Metrics.Rows.WithLabelValues(c.cfg.Tenant, c.cfg.Stream).Add(float64(res.rows))
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.st.finish(f)
	r.stats.Files++
	err = r.saveLocked(ctx)
	day, pages, rows := f.Day, r.stats.Pages, r.stats.Rows
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("file %s: checkpoint: %w", f.Name(), err)
	}
	c.log.Debug("batch file collected", "type", r.typ, "day", day, "file", f.Name(), "rows", res.rows, "malformed", res.malformed)
	if c.cfg.Progress != nil {
		start, end := dayBounds(day)
		c.cfg.Progress(collect.Progress{Tenant: c.cfg.Tenant, Stream: c.cfg.Stream, WindowStart: start, WindowEnd: end,
			Pages: pages, Rows: rows})
	}
	return nil
}

// fail records a failed attempt of a file. After MaxAttempts the file is given up: a malformed entry naming it is
// published (so the loss shows in the quarantine), it leaves the work list and the failure is reported.
func (r *typeRun) fail(ctx context.Context, f *FileWork, cause error) []error {
	c := r.c
	if ctx.Err() != nil {
		return []error{cause} // cancelled: not the file's fault
	}
	r.mu.Lock()
	f.Attempts++
	f.LastError = cause.Error()
	attempts := f.Attempts
	r.stats.FilesFailed++
	r.mu.Unlock()
	c.log.Warn("batch file failed; it stays in the work list", "type", r.typ, "day", f.Day, "file", f.Name(),
		"attempt", attempts, "chunks_done", f.Chunks, "err", cause)
	if attempts >= c.cfg.MaxAttempts {
		start, end := dayBounds(f.Day)
		b := collect.Batch{Tenant: c.cfg.Tenant, Stream: c.cfg.Stream, Table: c.table, WindowStart: start, WindowEnd: end,
			PageToken: fmt.Sprintf("%s/%s file %s abandoned", r.typ, f.Day, f.Name()), Page: f.Chunks + 1,
			Malformed: []collect.Malformed{{
				Position: fmt.Sprintf("%s/%s file %s after line %d", r.typ, f.Day, f.Name(), f.Chunks*f.ChunkSize),
				Reason:   fmt.Sprintf("batch file given up after %d attempts; its remaining lines are lost: %v", attempts, cause),
				Raw:      f.ID,
			}},
			Fetched: c.now().UTC()}
		if _, err := c.publish(ctx, b, ChunkMsgID(c.cfg.Tenant, c.cfg.Stream, r.typ, f.ID, f.ChunkSize, -1)); err != nil {
			return []error{cause, fmt.Errorf("file %s: record the abandoned file: %w", f.Name(), err)}
		}
		c.log.Error("batch file given up", "type", r.typ, "day", f.Day, "file", f.Name(), "attempts", attempts, "err", cause)
		r.mu.Lock()
		r.st.finish(f)
		r.stats.FilesAbandoned++
		r.mu.Unlock()
	}
	if err := r.save(ctx); err != nil {
		return []error{cause, fmt.Errorf("file %s: checkpoint: %w", f.Name(), err)}
	}
	return []error{cause}
}

// relist lists the page that held f again (from its saved token, else the day's first page) to get a fresh URL.
// The file is matched by identity; when its URL path changes between listings, by its position and size in the
// page it was first listed on. ok is false when the listing no longer holds it.
func (r *typeRun) relist(ctx context.Context, f *FileWork) (bool, error) {
	c := r.c
	token := f.ListToken
	first := true
	for pages := 0; pages < maxRelistPages; pages++ {
		if !c.takeListCall() {
			return false, errors.New("listing budget of this run used up")
		}
		resp, err := c.list(ctx, r.typ, f.Day, token)
		if err != nil && token != "" && first && mimecast.IsPermanent(err) {
			token, first = "", false
			continue
		}
		if err != nil {
			return false, err
		}
		r.mu.Lock()
		r.stats.Relists++
		r.stats.Pages++
		r.mu.Unlock()
		c.cfg.Metrics.Pages.WithLabelValues(c.cfg.Tenant, c.cfg.Stream).Inc()
		if e, ok := r.match(f, resp, pages == 0 && token == f.ListToken); ok {
			r.mu.Lock()
			f.URL, f.Expiry = e.URL, parseExpiry(e.Expiry)
			err := r.saveLocked(ctx)
			r.mu.Unlock()
			c.log.Info("fresh url for an expired batch file", "type", r.typ, "file", f.Name())
			return true, err
		}
		if resp.IsCaughtUp || resp.NextPage == "" || resp.NextPage == token {
			return false, nil
		}
		token = resp.NextPage
	}
	return false, nil
}

// match finds f in a listing page: by identity, else (samePage) by position and size when the entry there is no
// other known file.
func (r *typeRun) match(f *FileWork, resp listResponse, samePage bool) (listEntry, bool) {
	for _, e := range resp.Value {
		if id, err := FileID(e.URL); err == nil && id == f.ID {
			return e, true
		}
	}
	if !samePage || f.ListIndex >= len(resp.Value) {
		return listEntry{}, false
	}
	e := resp.Value[f.ListIndex]
	id, err := FileID(e.URL)
	if err != nil || e.Size != f.Size {
		return listEntry{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.isDone(id) || r.st.pending(id) != nil {
		return listEntry{}, false
	}
	return e, true
}

func mergeStats(dst *Stats, s Stats) {
	dst.Stats = dst.Stats.Add(s.Stats)
	dst.Files += s.Files
	dst.FilesFailed += s.FilesFailed
	dst.FilesAbandoned += s.FilesAbandoned
	dst.DuplicateURLs += s.DuplicateURLs
	dst.Relists += s.Relists
	dst.Malformed += s.Malformed
}
