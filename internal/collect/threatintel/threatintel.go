// Package threatintel collects the Mimecast threat-intel feeds (customer and grid malware indicators, STIX 2
// bundles) into Threat_Intel_CL. Each feed is a token chain: every answer carries the token of the next one in a
// response header, and the feed is caught up when the API repeats the token it was sent or sends none. The token
// is checkpointed per feed type only after the indicators of its answer are acknowledged by the bus.
package threatintel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/schema"
)

// Stream is the default stream name.
const Stream = "threat_intel"

// Path is the feed function (API 1.0 route, also served behind API 2.0 gateways).
const Path = "/api/ttp/threat-intel/get-feed"

// Feed types.
const (
	FeedCustomer = "malware_customer"
	FeedGrid     = "malware_grid"
)

// NextTokenHeader is the response header carrying the feed's continuation token.
const NextTokenHeader = "x-mc-threat-feed-next-token"

// Defaults applied by New to zero Config fields.
const (
	DefaultLookback = 7 * 24 * time.Hour
	DefaultBatch    = 500
	DefaultMaxCalls = 1000
)

// Client is the part of the Mimecast client the collector uses: a call that returns the response body and
// headers, because the feed sends its continuation token in a header. Failures are *mimecast.APIError values as
// from (*mimecast.Client).Do.
type Client interface {
	DoHeader(ctx context.Context, method, path string, body any) ([]byte, http.Header, error)
}

// Config configures a Collector.
type Config struct {
	// Tenant names the Mimecast account; it labels batches, checkpoints and metrics.
	Tenant string
	// Stream is the stream name. Default "threat_intel".
	Stream string
	// Client is the tenant's API client.
	Client Client
	// Publisher is the bus batches are published on.
	Publisher collect.Publisher
	// Checkpoints keeps each feed's token.
	Checkpoints collect.CheckpointStore
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives the run's log; default discards.
	Logger *slog.Logger
	// Metrics are the collector metrics; default unregistered ones.
	Metrics *collect.Metrics
	// Progress, when set, is called after every feed answer.
	Progress func(collect.Progress)
	// FeedTypes are the feeds collected, in order. Default both (customer, grid).
	FeedTypes []string
	// Lookback is how far back a feed starts on its first run. Default 7 days.
	Lookback time.Duration
	// BatchSize is the most indicators published in one batch. Default 500.
	BatchSize int
	// MaxCalls bounds the feed calls of one run per feed, so that a feed that keeps issuing new tokens cannot
	// hold a run forever; the next run continues from the checkpoint. Default 1000.
	MaxCalls int
	// BeforeCheckpoint, when set, is called after each batch is published and before the feed's checkpoint is
	// saved; an error ends the run there. It exists to prove that a crash at that point loses and doubles nothing.
	BeforeCheckpoint func(ctx context.Context, b collect.Batch) error
}

// Collector pulls one tenant's threat-intel feeds.
type Collector struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// New checks cfg and returns a Collector.
func New(cfg Config) (*Collector, error) {
	if cfg.Tenant == "" {
		return nil, errors.New("threat-intel collector: tenant is required")
	}
	if cfg.Client == nil || cfg.Publisher == nil || cfg.Checkpoints == nil {
		return nil, errors.New("threat-intel collector: client, publisher and checkpoint store are required")
	}
	if cfg.Lookback < 0 || cfg.BatchSize < 0 || cfg.MaxCalls < 0 {
		return nil, errors.New("threat-intel collector: lookback, batch size and max calls must not be negative")
	}
	if cfg.Stream == "" {
		cfg.Stream = Stream
	}
	if len(cfg.FeedTypes) == 0 {
		cfg.FeedTypes = []string{FeedCustomer, FeedGrid}
	}
	for i, f := range cfg.FeedTypes {
		if f != FeedCustomer && f != FeedGrid {
			return nil, fmt.Errorf("threat-intel collector: unknown feed type %q (valid: %s, %s)", f, FeedCustomer, FeedGrid)
		}
		if slices.Contains(cfg.FeedTypes[:i], f) {
			return nil, fmt.Errorf("threat-intel collector: feed type %s listed twice", f)
		}
	}
	cfg.FeedTypes = slices.Clone(cfg.FeedTypes)
	if cfg.Lookback == 0 {
		cfg.Lookback = DefaultLookback
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatch
	}
	if cfg.MaxCalls == 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	c := &Collector{cfg: cfg, log: cfg.Logger, now: cfg.Now}
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
			return nil, fmt.Errorf("threat-intel collector: %w", err)
		}
		c.cfg.Metrics = m
	}
	return c, nil
}

// Tenant is the collector's tenant.
func (c *Collector) Tenant() string { return c.cfg.Tenant }

// Stream is the collector's stream name.
func (c *Collector) Stream() string { return c.cfg.Stream }

// Checkpoint is one feed's saved position.
type Checkpoint struct {
	// Token is the continuation token to send next; empty before the first answer that carried one.
	Token string `json:"token,omitempty"`
	// Start is the time sent as start when there is no token: the look-back on a first run, or the newest
	// indicator seen when a token was refused or the API sent none.
	Start time.Time `json:"start"`
	// LastSeen is the newest indicator time (valid_from, else created) published so far.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Calls and Rows count the answers and indicators collected under this checkpoint.
	Calls int `json:"calls"`
	Rows  int `json:"rows"`
	// Updated is when the checkpoint was saved.
	Updated time.Time `json:"updated"`
}

// CheckpointKey is the checkpoint store key of a tenant's feed.
func CheckpointKey(tenant, stream, feed string) string {
	return collect.CheckpointKey(tenant, stream) + "." + bus.Token(feed)
}

// LoadCheckpoint reads a feed's checkpoint; found is false when the feed has never run.
func LoadCheckpoint(ctx context.Context, s collect.CheckpointStore, tenant, stream, feed string) (cp Checkpoint, found bool, err error) {
	key := CheckpointKey(tenant, stream, feed)
	raw, found, err := s.Get(ctx, key)
	if err != nil || !found {
		return Checkpoint{}, false, err
	}
	if err := json.Unmarshal(raw, &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("checkpoint %s: %w", key, err)
	}
	return cp, true, nil
}

// feedRequest is data[0] of get-feed.
type feedRequest struct {
	FeedType string `json:"feedType"`
	FileType string `json:"fileType"`
	Start    string `json:"start,omitempty"`
	Token    string `json:"token,omitempty"`
}

// Run collects every feed until caught up. Stats.Windows counts feeds caught up, Pages the feed answers, Rows the
// indicators. A product the tenant lacks answers HTTP 403 app_forbidden; the returned error then wraps that
// *mimecast.APIError.
func (c *Collector) Run(ctx context.Context) (collect.Stats, error) {
	var st collect.Stats
	labels := []string{c.cfg.Tenant, c.cfg.Stream}
	for _, feed := range c.cfg.FeedTypes {
		if err := c.runFeed(ctx, feed, &st); err != nil {
			c.cfg.Metrics.Errors.WithLabelValues(labels...).Inc()
			c.log.Error("threat-intel collector run failed", "feed", feed, "err", err)
			return st, err
		}
		st.Windows++
	}
	c.cfg.Metrics.LastSuccess.WithLabelValues(labels...).Set(float64(c.now().Unix()))
	return st, nil
}

func (c *Collector) runErr(feed, op string, call int, err error) error {
	return &collect.RunError{Tenant: c.cfg.Tenant, Stream: c.cfg.Stream + "/" + feed, Op: op, Page: call, Err: err}
}

// runFeed follows one feed's token chain from its checkpoint until the API has nothing new.
func (c *Collector) runFeed(ctx context.Context, feed string, st *collect.Stats) error {
	labels := []string{c.cfg.Tenant, c.cfg.Stream}
	key := CheckpointKey(c.cfg.Tenant, c.cfg.Stream, feed)
	cp, found, err := LoadCheckpoint(ctx, c.cfg.Checkpoints, c.cfg.Tenant, c.cfg.Stream, feed)
	if err != nil {
		return c.runErr(feed, "checkpoint", 0, err)
	}
	if !found {
		cp.Start = c.now().UTC().Add(-c.cfg.Lookback).Truncate(time.Second)
	}
	restarted := false
	for call := 1; ; call++ {
		if err := ctx.Err(); err != nil {
			return c.runErr(feed, "run", call, err)
		}
		if call > c.cfg.MaxCalls {
			c.log.Warn("feed still has more after the most calls one run makes; the next run continues", "feed", feed, "calls", c.cfg.MaxCalls)
			return nil
		}
		req := feedRequest{FeedType: feed, FileType: "stix", Token: cp.Token}
		if cp.Token == "" {
			req.Start = schema.FormatAPITime(cp.Start)
		}
		body, header, err := c.cfg.Client.DoHeader(ctx, http.MethodPost, Path, map[string]any{"data": []any{req}})
		if err != nil && cp.Token != "" && !restarted && mimecast.IsPermanent(err) && !forbidden(err) {
			// The token expired or was refused: start again from the newest indicator already published. The
			// overlap comes back with the same indicator ids, which the store keeps once.
			restarted = true
			c.log.Warn("feed token refused; continuing from the newest indicator seen", "feed", feed, "start", cp.Start, "err", err)
			if !cp.LastSeen.IsZero() {
				cp.Start = cp.LastSeen
			}
			cp.Token = ""
			if err := c.save(ctx, key, &cp); err != nil {
				return c.runErr(feed, "checkpoint", call, err)
			}
			continue
		}
		if err != nil {
			return c.runErr(feed, "fetch", call, err)
		}
		records, newest, err := indicators(body, feed)
		if err != nil {
			return c.runErr(feed, "extract", call, err)
		}
		st.Pages++
		st.Rows += len(records)
		c.cfg.Metrics.Pages.WithLabelValues(labels...).Inc()
		c.cfg.Metrics.Rows.WithLabelValues(labels...).Add(float64(len(records)))
		sent := req.Token
		if sent == "" {
			sent = "start " + req.Start
		}
		fetched := c.now().UTC()
		for i, part := 0, 1; i < len(records); i, part = i+c.cfg.BatchSize, part+1 {
			b := collect.Batch{Tenant: c.cfg.Tenant, Stream: c.cfg.Stream, Table: schema.ThreatIntel.Name,
				PageToken: fmt.Sprintf("%s %s part %d", feed, sent, part), Page: call,
				Records: records[i:min(i+c.cfg.BatchSize, len(records))], Fetched: fetched}
			if err := c.publish(ctx, b, st); err != nil {
				return c.runErr(feed, "publish", call, err)
			}
		}
		if c.cfg.Progress != nil {
			c.cfg.Progress(collect.Progress{Tenant: c.cfg.Tenant, Stream: c.cfg.Stream, Pages: st.Pages, Rows: st.Rows})
		}
		if newest.After(cp.LastSeen) {
			cp.LastSeen = newest
		}
		cp.Calls++
		cp.Rows += len(records)
		next := strings.TrimSpace(header.Get(NextTokenHeader))
		done := next == "" || next == cp.Token
		switch {
		case next == "" && !cp.LastSeen.IsZero() && cp.LastSeen.After(cp.Start):
			// No token to continue with: the next run starts at the newest indicator seen.
			cp.Start, cp.Token = cp.LastSeen, ""
		case next != "":
			cp.Token = next
		}
		if err := c.save(ctx, key, &cp); err != nil {
			return c.runErr(feed, "checkpoint", call, err)
		}
		if done {
			c.log.Info("feed caught up", "feed", feed, "calls", call, "rows", cp.Rows)
			return nil
		}
	}
}

// forbidden reports the 403 of a product the tenant lacks; restarting the chain cannot help it.
func forbidden(err error) bool {
	var ae *mimecast.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusForbidden
}

func (c *Collector) publish(ctx context.Context, b collect.Batch, st *collect.Stats) error {
	data, err := b.Encode()
	if err != nil {
		return err
	}
	dup, err := c.cfg.Publisher.Publish(ctx, b.Subject(), b.MsgID(), data)
	if err != nil {
		return err
	}
	st.Batches++
	if dup {
		st.Duplicates++
		c.log.Info("indicators were already on the bus; copy dropped", "msg_id", b.MsgID())
	}
	if c.cfg.BeforeCheckpoint != nil {
		return c.cfg.BeforeCheckpoint(ctx, b)
	}
	return nil
}

func (c *Collector) save(ctx context.Context, key string, cp *Checkpoint) error {
	cp.Updated = c.now().UTC()
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	return c.cfg.Checkpoints.Put(ctx, key, data)
}

// indicators returns the indicator objects of a STIX bundle with the feed type added, and the newest indicator
// time (valid_from, else created).
func indicators(body []byte, feed string) ([]json.RawMessage, time.Time, error) {
	objs, err := schema.UnwrapRecords(schema.ThreatIntel.Name, body)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("feed answer: %w", err)
	}
	var newest time.Time
	out := make([]json.RawMessage, 0, len(objs))
	for i, o := range objs {
		var t struct {
			ValidFrom string `json:"valid_from"`
			Created   string `json:"created"`
		}
		if json.Unmarshal(o, &t) == nil {
			s := t.ValidFrom
			if s == "" {
				s = t.Created
			}
			if ts, err := time.Parse(time.RFC3339Nano, s); err == nil && ts.After(newest) {
				newest = ts.UTC()
			}
		}
		rec, err := schema.WithField(o, "feedType", feed)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("indicator %d: %w", i, err)
		}
		out = append(out, rec)
	}
	return out, newest, nil
}
