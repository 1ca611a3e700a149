package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/mimecast"
)

// PageFetcher fetches one page of a paginated Mimecast log function. *mimecast.Client satisfies it; it retries
// transient failures itself, so any error it returns ends the run.
type PageFetcher interface {
	FetchPage(ctx context.Context, req mimecast.PageRequest) (mimecast.Page, error)
}

// Publisher stores a message durably and reports whether its id was already stored. *bus.Bus satisfies it.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID string, data []byte) (duplicate bool, err error)
}

// CheckpointStore keeps checkpoints. bus.Checkpoints satisfies it.
type CheckpointStore interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Put(ctx context.Context, key string, value []byte) error
}

// Checkpoint is a stream's saved position. While Open, the window [WindowStart, WindowEnd] is being paged and
// NextToken is the token of the next page to fetch (empty: its first page). When not Open, the window is done and
// the next one starts at WindowEnd.
type Checkpoint struct {
	// WindowStart and WindowEnd bound the current (Open) or last completed window, both inclusive.
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Open is true while the window is being paged.
	Open bool `json:"open"`
	// NextToken is the page token of the next page of the open window; empty for its first page.
	NextToken string `json:"next_token,omitempty"`
	// AfterEmpty is true when NextToken came with an empty page: if the API then refuses that token, it was the
	// documented dummy end-of-data marker, and the window is complete.
	AfterEmpty bool `json:"after_empty,omitempty"`
	// EmptyRun counts consecutive empty pages followed in the open window.
	EmptyRun int `json:"empty_run,omitempty"`
	// Pages and Rows count what the window has yielded so far.
	Pages int `json:"pages"`
	Rows  int `json:"rows"`
	// Updated is when the checkpoint was saved.
	Updated time.Time `json:"updated"`
}

// CheckpointKey is the checkpoint store key of a tenant's stream.
func CheckpointKey(tenant, stream string) string { return bus.Token(tenant) + "." + bus.Token(stream) }

// LoadCheckpoint reads a tenant's stream checkpoint; found is false when the stream has never run.
func LoadCheckpoint(ctx context.Context, s CheckpointStore, tenant, stream string) (cp Checkpoint, found bool, err error) {
	raw, found, err := s.Get(ctx, CheckpointKey(tenant, stream))
	if err != nil || !found {
		return Checkpoint{}, false, err
	}
	if err := json.Unmarshal(raw, &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("checkpoint %s: %w", CheckpointKey(tenant, stream), err)
	}
	return cp, true, nil
}

// Progress reports a collector's progress after each page.
type Progress struct {
	// Tenant and Stream identify the collector.
	Tenant string
	Stream string
	// WindowStart and WindowEnd bound the window being paged.
	WindowStart time.Time
	WindowEnd   time.Time
	// Pages and Rows count this run's pages and records so far.
	Pages int
	Rows  int
}

// Stats summarises one run.
type Stats struct {
	// Windows counts windows completed.
	Windows int
	// Pages counts pages fetched, including empty last pages.
	Pages int
	// Rows counts records fetched.
	Rows int
	// Batches counts batches published; Duplicates those the bus already held.
	Batches    int
	Duplicates int
}

// Add returns the sum of two stats.
func (s Stats) Add(o Stats) Stats {
	return Stats{Windows: s.Windows + o.Windows, Pages: s.Pages + o.Pages, Rows: s.Rows + o.Rows,
		Batches: s.Batches + o.Batches, Duplicates: s.Duplicates + o.Duplicates}
}

// Config configures a Collector.
type Config struct {
	// Tenant names the Mimecast account; it labels batches, checkpoints and metrics.
	Tenant string
	// Spec describes the stream.
	Spec Spec
	// Fetcher is the tenant's API client.
	Fetcher PageFetcher
	// Publisher is the bus batches are published on.
	Publisher Publisher
	// Checkpoints keeps the stream's position.
	Checkpoints CheckpointStore
	// Now is the clock; default time.Now.
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
	// Progress, when set, is called after every page.
	Progress func(Progress)
	// BeforeCheckpoint, when set, is called after a page is published and before its checkpoint is saved; an
	// error ends the run there. It exists to prove that a crash at that point loses and doubles nothing.
	BeforeCheckpoint func(ctx context.Context, b Batch) error
}

// Collector pulls one tenant's stream window by window.
type Collector struct {
	cfg  Config
	spec Spec
	log  *slog.Logger
	now  func() time.Time
	key  string
}

// New checks cfg and returns a Collector.
func New(cfg Config) (*Collector, error) {
	if cfg.Tenant == "" {
		return nil, errors.New("collector: tenant is required")
	}
	if err := cfg.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	if cfg.Fetcher == nil || cfg.Publisher == nil || cfg.Checkpoints == nil {
		return nil, errors.New("collector: fetcher, publisher and checkpoint store are required")
	}
	c := &Collector{cfg: cfg, spec: cfg.Spec.withDefaults(), log: cfg.Logger, now: cfg.Now,
		key: CheckpointKey(cfg.Tenant, cfg.Spec.Name)}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("tenant", cfg.Tenant, "stream", c.spec.Name)
	if c.now == nil {
		c.now = time.Now
	}
	if c.cfg.Metrics == nil {
		m, _ := NewMetrics(nil)
		c.cfg.Metrics = m
	}
	return c, nil
}

// Tenant is the collector's tenant.
func (c *Collector) Tenant() string { return c.cfg.Tenant }

// Stream is the collector's stream name.
func (c *Collector) Stream() string { return c.spec.Name }

// RunError is why a run stopped early. The checkpoint still points at the last page the bus accepted.
type RunError struct {
	// Tenant and Stream identify the collector.
	Tenant string
	Stream string
	// WindowStart and WindowEnd bound the window being paged, zero when none was open.
	WindowStart time.Time
	WindowEnd   time.Time
	// Page is the 1-based page within the window, 0 when the failure was not about a page.
	Page int
	// Op is what failed: "fetch", "extract", "publish", "checkpoint".
	Op string
	// Err is the cause.
	Err error
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("collect %s/%s: %s", e.Tenant, e.Stream, e.Op)
	if e.Page > 0 {
		msg += fmt.Sprintf(" page %d", e.Page)
	}
	if !e.WindowEnd.IsZero() {
		msg += fmt.Sprintf(" of window %s..%s", e.WindowStart.Format(time.RFC3339), e.WindowEnd.Format(time.RFC3339))
	}
	if e.Permanent() {
		msg += " (permanent: retrying will not help; check the credentials, permissions and settings)"
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *RunError) Unwrap() error { return e.Err }

// Permanent reports whether retrying cannot fix the error (the API refused the request).
func (e *RunError) Permanent() bool { return mimecast.IsPermanent(e.Err) }

// Run collects until caught up (nil error) or until something fails. Each page is fetched, published and
// acknowledged by the bus, and only then is the checkpoint moved past it, so a failure or crash at any point
// leaves the checkpoint at the last published page: the next run fetches that page again or the one after it.
// A page published twice carries the same message id and the bus drops the copy.
func (c *Collector) Run(ctx context.Context) (Stats, error) {
	var st Stats
	labels := []string{c.cfg.Tenant, c.spec.Name}
	fail := func(err error) (Stats, error) {
		c.cfg.Metrics.Errors.WithLabelValues(labels...).Inc()
		c.log.Error("collector run failed", "err", err)
		return st, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return fail(&RunError{Tenant: c.cfg.Tenant, Stream: c.spec.Name, Op: "run", Err: err})
		}
		cp, found, err := LoadCheckpoint(ctx, c.cfg.Checkpoints, c.cfg.Tenant, c.spec.Name)
		if err != nil {
			return fail(&RunError{Tenant: c.cfg.Tenant, Stream: c.spec.Name, Op: "checkpoint", Err: err})
		}
		if !cp.Open {
			next, ok := c.nextWindow(cp, found)
			if !ok {
				now := c.now()
				c.cfg.Metrics.LastSuccess.WithLabelValues(labels...).Set(float64(now.Unix()))
				if found {
					c.cfg.Metrics.Lag.WithLabelValues(labels...).Set(now.Sub(cp.WindowEnd).Seconds())
				}
				return st, nil
			}
			// The window is saved before its first page is fetched, so that a crash after publishing that page
			// resumes this same window (and republishes under the same message id) rather than a new one.
			if err := c.save(ctx, &next); err != nil {
				return fail(&RunError{Tenant: c.cfg.Tenant, Stream: c.spec.Name, Op: "checkpoint",
					WindowStart: next.WindowStart, WindowEnd: next.WindowEnd, Err: err})
			}
			cp = next
		}
		if err := c.runWindow(ctx, cp, &st); err != nil {
			return fail(err)
		}
		st.Windows++
	}
}

// nextWindow computes the window after a finished one, or the first window when there is no checkpoint.
//
// Windows are contiguous: each starts exactly at the previous end. The API's time filter includes both bounds, so
// a record stamped exactly on a boundary can be returned by both windows; the store writes rows idempotently on
// the table's natural key, which makes that second copy harmless, and nothing between windows is ever skipped.
// Times are whole seconds because that is the filter's resolution.
func (c *Collector) nextWindow(prev Checkpoint, found bool) (Checkpoint, bool) {
	now := c.now().UTC().Truncate(time.Second)
	start := now.Add(-c.spec.Lookback)
	if found {
		start = prev.WindowEnd.UTC()
	}
	if now.Sub(start) < c.spec.MinWindow {
		return Checkpoint{}, false
	}
	end := now
	if c.spec.MaxWindow > 0 && end.Sub(start) > c.spec.MaxWindow {
		end = start.Add(c.spec.MaxWindow)
	}
	return Checkpoint{WindowStart: start, WindowEnd: end, Open: true}, true
}

// runWindow pages through the open window cp, starting at cp.NextToken. Page tokens belong to their window: the
// token is stored with the window in the checkpoint and cleared when the window ends, so it is never sent with
// another window's filter.
func (c *Collector) runWindow(ctx context.Context, cp Checkpoint, st *Stats) error {
	labels := []string{c.cfg.Tenant, c.spec.Name}
	filter := c.spec.Filter(cp.WindowStart, cp.WindowEnd)
	restarted := false
	runErr := func(op string, page int, err error) error {
		return &RunError{Tenant: c.cfg.Tenant, Stream: c.spec.Name, WindowStart: cp.WindowStart,
			WindowEnd: cp.WindowEnd, Page: page, Op: op, Err: err}
	}
	for {
		token := cp.NextToken
		pageNo := cp.Pages + 1
		page, err := c.cfg.Fetcher.FetchPage(ctx, mimecast.PageRequest{
			Path: c.spec.Path, Filter: filter, PageSize: c.spec.PageSize, PageToken: token,
		})
		if err != nil && token != "" && cp.AfterEmpty && mimecast.IsPermanent(err) {
			// The token came with an empty page and the API refuses it: it was the documented dummy "next" of the
			// last page (spec §3.3), not a real continuation. The window is complete.
			c.log.Info("the token that came with an empty page was refused: end of the window", "page", pageNo, "err", err)
			return c.closeWindow(ctx, cp, pageNo, runErr)
		}
		if err != nil && token != "" && !restarted && mimecast.IsPermanent(err) {
			// A page token can expire (the API keeps them for a limited time) or be refused after an upgrade.
			// Page the same window again from its first page, once: pages already published come back with the
			// same ids or are ignored by the store's natural key, so nothing is doubled and nothing skipped.
			restarted = true
			c.log.Warn("page token refused; paging the window again from its first page", "page", pageNo, "err", err)
			cp.NextToken, cp.Pages, cp.Rows, cp.AfterEmpty, cp.EmptyRun = "", 0, 0, false, 0
			if err := c.save(ctx, &cp); err != nil {
				return runErr("checkpoint", pageNo, err)
			}
			continue
		}
		if err != nil {
			return runErr("fetch", pageNo, err)
		}
		records, err := c.spec.Records(page)
		if err != nil {
			return runErr("extract", pageNo, fmt.Errorf("malformed page: %w", err))
		}
		c.cfg.Metrics.Pages.WithLabelValues(labels...).Inc()
		c.cfg.Metrics.Rows.WithLabelValues(labels...).Add(float64(len(records)))
		st.Pages++
		st.Rows += len(records)
		if len(records) > 0 {
			b := Batch{Tenant: c.cfg.Tenant, Stream: c.spec.Name, Table: c.spec.Table,
				WindowStart: cp.WindowStart, WindowEnd: cp.WindowEnd, PageToken: token, Page: pageNo,
				Records: records, Fetched: c.now().UTC()}
			data, err := b.Encode()
			if err != nil {
				return runErr("publish", pageNo, err)
			}
			dup, err := c.cfg.Publisher.Publish(ctx, b.Subject(), b.MsgID(), data)
			if err != nil {
				return runErr("publish", pageNo, err)
			}
			st.Batches++
			if dup {
				st.Duplicates++
				c.log.Info("page was already on the bus; copy dropped", "page", pageNo, "msg_id", b.MsgID())
			}
			if c.cfg.BeforeCheckpoint != nil {
				if err := c.cfg.BeforeCheckpoint(ctx, b); err != nil {
					return runErr("checkpoint", pageNo, err)
				}
			}
		}
		// End of the window: the API leaves out meta.pagination.next on the last page. An empty page that still
		// carries a next token is followed: the API can answer an empty page in the middle of a result set, and
		// stopping there would lose every record after it. Its documented end-of-data quirk, an empty last page
		// with a dummy next ("String"), ends the window when that token is refused (above) or when empty pages
		// keep coming (maxEmptyRun), so a dummy token can neither fail the run nor loop it.
		last := page.Next == ""
		if len(records) == 0 {
			cp.EmptyRun++
			if !last && cp.EmptyRun > maxEmptyRun {
				c.log.Warn("several empty pages in a row still carry a next token; ending the window", "empty_pages", cp.EmptyRun)
				last = true
			}
		} else {
			cp.EmptyRun = 0
		}
		if !last && page.Next == token {
			return runErr("fetch", pageNo, fmt.Errorf("pagination did not advance: next token equals the current one"))
		}
		cp.Pages++
		cp.Rows += len(records)
		if c.cfg.Progress != nil {
			c.cfg.Progress(Progress{Tenant: c.cfg.Tenant, Stream: c.spec.Name, WindowStart: cp.WindowStart,
				WindowEnd: cp.WindowEnd, Pages: st.Pages, Rows: st.Rows})
		}
		if last {
			return c.closeWindow(ctx, cp, pageNo, runErr)
		}
		cp.NextToken, cp.AfterEmpty = page.Next, len(records) == 0
		if err := c.save(ctx, &cp); err != nil {
			return runErr("checkpoint", pageNo, err)
		}
		c.log.Debug("page collected", "page", pageNo, "rows", len(records), "window_end", cp.WindowEnd)
	}
}

// maxEmptyRun is how many empty pages in a row carrying a next token are followed before the window is taken
// as complete.
const maxEmptyRun = 5

// closeWindow records that the open window cp has been paged to its end.
func (c *Collector) closeWindow(ctx context.Context, cp Checkpoint, pageNo int, runErr func(string, int, error) error) error {
	cp.Open, cp.NextToken, cp.AfterEmpty, cp.EmptyRun = false, "", false, 0
	if err := c.save(ctx, &cp); err != nil {
		return runErr("checkpoint", pageNo, err)
	}
	c.cfg.Metrics.Lag.WithLabelValues(c.cfg.Tenant, c.spec.Name).Set(c.now().Sub(cp.WindowEnd).Seconds())
	c.log.Info("window collected", "window_start", cp.WindowStart, "window_end", cp.WindowEnd,
		"pages", cp.Pages, "rows", cp.Rows)
	return nil
}

func (c *Collector) save(ctx context.Context, cp *Checkpoint) error {
	cp.Updated = c.now().UTC()
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	return c.cfg.Checkpoints.Put(ctx, c.key, data)
}
