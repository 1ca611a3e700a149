// Package awareness collects the Mimecast Awareness Training snapshots: training performance, SAFE scores, the
// watchlist and phishing-campaign results per user. These functions answer the current state of every user on
// each call rather than events in a time window, so the collector keeps a hash of each user's last published row
// and publishes only the rows that changed since, each with the time the change was seen.
package awareness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/schema"
)

// Stream names of the Awareness Training snapshots.
const (
	StreamPerformance = "at_performance"
	StreamSafeScore   = "at_safescore"
	StreamWatchlist   = "at_watchlist"
	StreamUserData    = "at_userdata"
)

// API functions of the Awareness Training snapshots.
const (
	PathPerformance = "/api/awareness-training/company/get-performance-details"
	PathSafeScore   = "/api/awareness-training/company/get-safe-score-details"
	PathWatchlist   = "/api/awareness-training/company/get-watchlist-details"
	PathCampaigns   = "/api/awareness-training/phishing/campaign/get-campaign"
	PathUserData    = "/api/awareness-training/phishing/campaign/get-user-data"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultPageSize  = 500
	DefaultBatchSize = 500
)

// maxEmptyRun is how many empty pages in a row that still carry a next token are followed before the snapshot is
// taken as complete (the API's last page can carry a dummy next).
const maxEmptyRun = 5

// Client is the part of the Mimecast client the collector uses. *mimecast.Client satisfies it.
type Client interface {
	FetchPage(ctx context.Context, req mimecast.PageRequest) (mimecast.Page, error)
}

// snapshotDef describes one snapshot stream.
type snapshotDef struct {
	table *schema.Table
	path  string
	// filter is data[0] of the request; nil is sent as an empty object.
	filter any
	// perCampaign: the snapshot is taken per phishing campaign listed by get-campaign.
	perCampaign bool
	// volatile lists top-level fields left out of the content hash: values that change on every call without
	// the user's state changing. None of the documented fields is volatile; the list exists so that one found
	// in production can be excluded without touching the hashing.
	volatile []string
}

// performanceFilter asks for the per-video results, as Sentinel's connector does.
type performanceFilter struct {
	IncludeUserDetails bool `json:"includeUserDetails"`
}

// userDataFilter selects one campaign's results.
type userDataFilter struct {
	ID string `json:"id"`
}

func definition(stream string) (snapshotDef, bool) {
	switch stream {
	case StreamPerformance:
		return snapshotDef{table: &schema.AwarenessPerformance, path: PathPerformance,
			filter: performanceFilter{IncludeUserDetails: true}}, true
	case StreamSafeScore:
		return snapshotDef{table: &schema.AwarenessSafeScore, path: PathSafeScore}, true
	case StreamWatchlist:
		return snapshotDef{table: &schema.AwarenessWatchlist, path: PathWatchlist}, true
	case StreamUserData:
		return snapshotDef{table: &schema.AwarenessUserData, path: PathUserData, perCampaign: true}, true
	}
	return snapshotDef{}, false
}

// Streams lists the snapshot streams this package collects.
func Streams() []string {
	return []string{StreamPerformance, StreamSafeScore, StreamWatchlist, StreamUserData}
}

// Config configures a Collector.
type Config struct {
	// Tenant names the Mimecast account; it labels batches, state keys and metrics.
	Tenant string
	// Stream is one of Streams().
	Stream string
	// Client is the tenant's API client.
	Client Client
	// Publisher is the bus batches are published on.
	Publisher collect.Publisher
	// Checkpoints keeps the per-user hash state.
	Checkpoints collect.CheckpointStore
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives the run's log; default discards.
	Logger *slog.Logger
	// Metrics are the collector metrics; default unregistered ones.
	Metrics *collect.Metrics
	// Progress, when set, is called after every page.
	Progress func(collect.Progress)
	// PageSize is the requested page size. Default 500.
	PageSize int
	// BatchSize is the most changed rows published in one batch. Default 500.
	BatchSize int
	// BeforeCheckpoint, when set, is called after each batch is published and before the hash state is saved; an
	// error ends the run there. It exists to prove that a crash at that point loses and doubles nothing.
	BeforeCheckpoint func(ctx context.Context, b collect.Batch) error
}

// Collector takes one tenant's Awareness Training snapshot and publishes what changed.
type Collector struct {
	cfg Config
	def snapshotDef
	log *slog.Logger
	now func() time.Time
}

// New checks cfg and returns a Collector.
func New(cfg Config) (*Collector, error) {
	if cfg.Tenant == "" {
		return nil, errors.New("awareness collector: tenant is required")
	}
	def, ok := definition(cfg.Stream)
	if !ok {
		return nil, fmt.Errorf("awareness collector: unknown stream %q (valid: %s)", cfg.Stream, strings.Join(Streams(), ", "))
	}
	if cfg.Client == nil || cfg.Publisher == nil || cfg.Checkpoints == nil {
		return nil, errors.New("awareness collector: client, publisher and checkpoint store are required")
	}
	if cfg.PageSize < 0 || cfg.BatchSize < 0 {
		return nil, errors.New("awareness collector: page size and batch size must not be negative")
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	c := &Collector{cfg: cfg, def: def, log: cfg.Logger, now: cfg.Now}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("tenant", cfg.Tenant, "stream", cfg.Stream)
	if c.now == nil {
		c.now = time.Now
	}
	if c.cfg.Metrics == nil {
		m, err := collect.NewMetrics(nil)
		if err != nil {
			return nil, fmt.Errorf("awareness collector: %w", err)
		}
		c.cfg.Metrics = m
	}
	return c, nil
}

// Tenant is the collector's tenant.
func (c *Collector) Tenant() string { return c.cfg.Tenant }

// Stream is the collector's stream name.
func (c *Collector) Stream() string { return c.cfg.Stream }

// Table is the table the collector's rows decode into.
func (c *Collector) Table() string { return c.def.table.Name }

// unit is one snapshot taken in a run: the whole stream, or one campaign of the user-data stream.
type unit struct {
	filter   any
	campaign string
	stateKey string
}

// Run takes the snapshot and publishes the rows that changed since the last acknowledged one. Stats.Windows
// counts snapshots taken (one per campaign for user data), Rows the rows fetched, Batches the batches of changed
// rows published. A failure leaves the hash state at the last acknowledged snapshot: the next run publishes the
// same changes again under the same message ids, and the bus drops the copies.
//
// A product the tenant lacks answers HTTP 403 app_forbidden; the returned error then wraps that
// *mimecast.APIError.
func (c *Collector) Run(ctx context.Context) (collect.Stats, error) {
	var st collect.Stats
	labels := []string{c.cfg.Tenant, c.cfg.Stream}
	fail := func(err error) (collect.Stats, error) {
		c.cfg.Metrics.Errors.WithLabelValues(labels...).Inc()
		c.log.Error("awareness collector run failed", "err", err)
		return st, err
	}
	base := collect.CheckpointKey(c.cfg.Tenant, c.cfg.Stream) + ".hashes"
	units := []unit{{filter: c.def.filter, stateKey: base}}
	if c.def.perCampaign {
		ids, err := c.campaigns(ctx, &st)
		if err != nil {
			return fail(err)
		}
		units = units[:0]
		for _, id := range ids {
			units = append(units, unit{filter: userDataFilter{ID: id}, campaign: id, stateKey: base + ".c." + bus.Token(id)})
		}
	}
	for _, u := range units {
		if err := ctx.Err(); err != nil {
			return fail(c.runErr("run", 0, err))
		}
		if err := c.snapshot(ctx, u, &st); err != nil {
			return fail(err)
		}
		st.Windows++
	}
	now := c.now()
	c.cfg.Metrics.LastSuccess.WithLabelValues(labels...).Set(float64(now.Unix()))
	c.cfg.Metrics.Lag.WithLabelValues(labels...).Set(0)
	return st, nil
}

func (c *Collector) runErr(op string, page int, err error) error {
	return &collect.RunError{Tenant: c.cfg.Tenant, Stream: c.cfg.Stream, Op: op, Page: page, Err: err}
}

// campaigns lists the ids of the tenant's phishing campaigns, every page of get-campaign.
func (c *Collector) campaigns(ctx context.Context, st *collect.Stats) ([]string, error) {
	recs, err := c.fetchAll(ctx, PathCampaigns, nil, collect.FlatRecords, st, false)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for i, r := range recs {
		var camp struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(r, &camp); err != nil {
			return nil, c.runErr("extract", 0, fmt.Errorf("campaign %d: %w", i, err))
		}
		if camp.ID == "" {
			c.log.Warn("campaign without an id skipped", "campaign", string(r))
			continue
		}
		if !seen[camp.ID] {
			seen[camp.ID] = true
			ids = append(ids, camp.ID)
		}
	}
	return ids, nil
}

// fetchAll reads every page of one function. Page tokens belong to this call only. An empty page that still
// carries a next token is followed (the API can answer one mid-set), up to maxEmptyRun in a row; a token refused
// after an empty page was the documented dummy end marker. A token refused otherwise (expired) restarts the
// snapshot once from its first page.
func (c *Collector) fetchAll(ctx context.Context, path string, filter any, extract func(mimecast.Page) ([]json.RawMessage, error),
	st *collect.Stats, countRows bool) ([]json.RawMessage, error) {
	labels := []string{c.cfg.Tenant, c.cfg.Stream}
	var out []json.RawMessage
	token, pageNo, emptyRun, afterEmpty, restarted := "", 0, 0, false, false
	for {
		pageNo++
		page, err := c.cfg.Client.FetchPage(ctx, mimecast.PageRequest{Path: path, Filter: filter, PageSize: c.cfg.PageSize, PageToken: token})
		switch {
		case err != nil && token != "" && afterEmpty && mimecast.IsPermanent(err):
			c.log.Info("the token that came with an empty page was refused: end of the snapshot", "path", path, "err", err)
			return out, nil
		case err != nil && token != "" && !restarted && mimecast.IsPermanent(err):
			c.log.Warn("page token refused; taking the snapshot again from its first page", "path", path, "err", err)
			restarted, token, pageNo, emptyRun, afterEmpty, out = true, "", 0, 0, false, nil
			continue
		case err != nil:
			return nil, c.runErr("fetch", pageNo, err)
		}
		recs, err := extract(page)
		if err != nil {
			return nil, c.runErr("extract", pageNo, fmt.Errorf("malformed page: %w", err))
		}
		out = append(out, recs...)
		st.Pages++
		c.cfg.Metrics.Pages.WithLabelValues(labels...).Inc()
		if countRows {
			st.Rows += len(recs)
			c.cfg.Metrics.Rows.WithLabelValues(labels...).Add(float64(len(recs)))
		}
		if c.cfg.Progress != nil {
			c.cfg.Progress(collect.Progress{Tenant: c.cfg.Tenant, Stream: c.cfg.Stream, Pages: st.Pages, Rows: st.Rows})
		}
		if len(recs) == 0 {
			emptyRun++
		} else {
			emptyRun = 0
		}
		if page.Next == "" || emptyRun > maxEmptyRun {
			return out, nil
		}
		if page.Next == token {
			return nil, c.runErr("fetch", pageNo, errors.New("pagination did not advance: next token equals the current one"))
		}
		token, afterEmpty = page.Next, len(recs) == 0
	}
}

// row is one snapshot row with its hashes.
type row struct {
	key  uint64
	hash uint64
	raw  json.RawMessage
}

// snapshot takes one unit's snapshot and publishes its changed rows.
func (c *Collector) snapshot(ctx context.Context, u unit, st *collect.Stats) error {
	extract := collect.FlatRecords
	if c.def.perCampaign {
		extract = collect.WrappedRecords(schema.RecordListKey(c.def.table.Name))
	}
	recs, err := c.fetchAll(ctx, c.def.path, u.filter, extract, st, true)
	if err != nil {
		return err
	}
	fetched := c.now().UTC()
	rows := make(map[uint64]row, len(recs))
	dupKeys := 0
	for i, raw := range recs {
		if u.campaign != "" {
			if raw, err = schema.WithField(raw, "campaignId", u.campaign); err != nil {
				return c.runErr("extract", 0, fmt.Errorf("record %d: %w", i, err))
			}
		}
		r, err := c.hashRow(raw)
		if err != nil {
			return c.runErr("extract", 0, fmt.Errorf("record %d: %w", i, err))
		}
		if _, ok := rows[r.key]; ok {
			dupKeys++
		}
		rows[r.key] = r // the last row of a key wins, as it would in the store
	}
	if dupKeys > 0 {
		c.log.Warn("snapshot holds several rows for one user; the last one is kept", "rows", dupKeys, "campaign", u.campaign)
	}
	state, err := loadState(ctx, c.cfg.Checkpoints, u.stateKey, c.log.Warn)
	if err != nil {
		return c.runErr("checkpoint", 0, err)
	}
	var changed []row
	for k, r := range rows {
		if prev, ok := state.entries[k]; !ok || prev != r.hash {
			changed = append(changed, r)
		}
	}
	// Sorted by key, the changed rows split into the same batches when a run is repeated, so each batch gets the
	// same message id again.
	slices.SortFunc(changed, func(a, b row) int { return cmpUint(a.key, b.key) })
	for i, n := 0, 1; i < len(changed); i, n = i+c.cfg.BatchSize, n+1 {
		part := changed[i:min(i+c.cfg.BatchSize, len(changed))]
		b := collect.Batch{Tenant: c.cfg.Tenant, Stream: c.cfg.Stream, Table: c.def.table.Name,
			PageToken: snapshotToken(u.campaign, state.gen), Page: n, Fetched: fetched}
		for _, r := range part {
			b.Records = append(b.Records, r.raw)
		}
		data, err := b.Encode()
		if err != nil {
			return c.runErr("publish", n, err)
		}
		dup, err := c.cfg.Publisher.Publish(ctx, b.Subject(), b.MsgID(), data)
		if err != nil {
			return c.runErr("publish", n, err)
		}
		st.Batches++
		if dup {
			st.Duplicates++
			c.log.Info("changes were already on the bus; copy dropped", "batch", n, "msg_id", b.MsgID())
		}
		if c.cfg.BeforeCheckpoint != nil {
			if err := c.cfg.BeforeCheckpoint(ctx, b); err != nil {
				return c.runErr("checkpoint", n, err)
			}
		}
	}
	// Every change is acknowledged: the state becomes this snapshot. Users no longer listed are dropped from it
	// (their last row stays in the store). An empty answer keeps the state, so that a glitch answering no users
	// does not make the next run send every user again.
	next := state.entries
	if len(rows) > 0 {
		next = make(map[uint64]uint64, len(rows))
		for k, r := range rows {
			next[k] = r.hash
		}
	}
	if len(changed) == 0 && len(next) == len(state.entries) {
		c.log.Debug("snapshot unchanged", "rows", len(rows), "campaign", u.campaign)
		return nil
	}
	if err := saveState(ctx, c.cfg.Checkpoints, u.stateKey, state.gen+1, fetched, next); err != nil {
		return c.runErr("checkpoint", 0, err)
	}
	c.log.Info("snapshot collected", "rows", len(rows), "changed", len(changed), "campaign", u.campaign)
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// snapshotToken names a batch of changes for its message id: the campaign and the generation of the hash state
// the changes were computed against. The records alone are not enough: a user whose row goes B → D → B → D within
// the bus's duplicate window would publish the same batch twice and the bus would drop the second, leaving B in
// the store. A rerun after a crash before the state was saved computes against the same generation and gets the
// same id again.
func snapshotToken(campaign string, gen uint64) string {
	tok := "snapshot"
	if campaign != "" {
		tok += " campaign " + campaign
	}
	return tok + " since state " + strconv.FormatUint(gen, 10)
}

// hashRow computes a row's natural-key hash (the table's key columns after tenant) and content hash (canonical
// JSON of the record without its volatile fields: key order and white space do not matter).
func (c *Collector) hashRow(raw json.RawMessage) (row, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return row{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if m == nil {
		return row{}, errors.New("not a JSON object")
	}
	for _, f := range c.def.volatile {
		delete(m, f)
	}
	content, err := json.Marshal(m)
	if err != nil {
		return row{}, fmt.Errorf("canonical form: %w", err)
	}
	sum := sha256.Sum256(content)
	r := row{hash: binary.BigEndian.Uint64(sum[:8]), raw: raw}
	var key strings.Builder
	complete := true
	for _, col := range c.def.table.Key {
		if col == "tenant" {
			continue
		}
		v, ok := m[col]
		s, isString := v.(string)
		switch {
		case !ok || v == nil:
			complete = false
		case isString:
			if s == "" {
				complete = false
			}
			key.WriteString(s)
		default:
			b, _ := json.Marshal(v)
			key.Write(b)
		}
		key.WriteByte(0)
	}
	if !complete {
		// A row without its key cannot be told apart from another user's: it is keyed by its content, so it is
		// published once (and quarantined by the store consumer) instead of on every run.
		key.Reset()
		key.WriteString("\x00content\x00")
		key.Write(sum[:])
	}
	ks := sha256.Sum256([]byte(key.String()))
	r.key = binary.BigEndian.Uint64(ks[:8])
	return r, nil
}
