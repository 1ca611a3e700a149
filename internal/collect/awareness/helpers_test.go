package awareness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/mimecast"
)

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// fakeAPI serves Awareness Training functions from in-memory records, paginated with opaque tokens bound to the
// path and filter that issued them.
type fakeAPI struct {
	mu sync.Mutex
	// flat holds the records of the data[] functions by path.
	flat map[string][]map[string]any
	// campaigns holds get-user-data items by campaign id; get-campaign lists the ids in campaignOrder.
	campaigns     map[string][]map[string]any
	campaignOrder []string
	// fail, when set, answers a request instead (call counts from 1).
	fail  func(call int, req mimecast.PageRequest) error
	calls []mimecast.PageRequest
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{flat: map[string][]map[string]any{}, campaigns: map[string][]map[string]any{}}
}

func (f *fakeAPI) set(path string, recs []map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flat[path] = recs
}

func (f *fakeAPI) setCampaign(id string, items []map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.campaigns[id]; !ok {
		f.campaignOrder = append(f.campaignOrder, id)
	}
	f.campaigns[id] = items
}

func (f *fakeAPI) FetchPage(ctx context.Context, req mimecast.PageRequest) (mimecast.Page, error) {
	if err := ctx.Err(); err != nil {
		return mimecast.Page{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	if f.fail != nil {
		if err := f.fail(len(f.calls), req); err != nil {
			return mimecast.Page{}, err
		}
	}
	filter, _ := json.Marshal(req.Filter)
	query := req.Path + "|" + string(filter)
	offset := 0
	if req.PageToken != "" {
		q, off, ok := strings.Cut(req.PageToken, "#")
		n, err := strconv.Atoi(off)
		if !ok || q != query || err != nil {
			return mimecast.Page{}, &mimecast.APIError{Path: req.Path, Status: 200, Code: "err_validation_invalid_page_token",
				Message: fmt.Sprintf("token %q does not belong to %s", req.PageToken, query)}
		}
		offset = n
	}
	var recs []map[string]any
	wrap := false
	switch req.Path {
	case PathCampaigns:
		for _, id := range f.campaignOrder {
			recs = append(recs, map[string]any{"id": id, "name": "campaign " + id})
		}
	case PathUserData:
		var uf userDataFilter
		_ = json.Unmarshal(filter, &uf)
		items, ok := f.campaigns[uf.ID]
		if !ok {
			return mimecast.Page{}, &mimecast.APIError{Path: req.Path, Status: 200, Code: "err_campaign_not_found", Message: "no campaign " + uf.ID}
		}
		recs, wrap = items, true
	default:
		recs = f.flat[req.Path]
	}
	end := min(offset+req.PageSize, len(recs))
	page := mimecast.Page{TotalCount: len(recs)}
	if end < len(recs) {
		page.Next = query + "#" + strconv.Itoa(end)
	}
	var list []json.RawMessage
	for _, r := range recs[offset:end] {
		b, _ := json.Marshal(r)
		list = append(list, b)
	}
	if wrap {
		b, _ := json.Marshal(map[string]any{"items": list})
		page.Data = []json.RawMessage{b}
	} else {
		page.Data = list
	}
	return page, nil
}

// safeScores builds n SAFE score records, user i graded grade(i).
func safeScores(n int, grade func(i int) string) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"emailAddress": fmt.Sprintf("user%05d@example.com", i), "name": fmt.Sprintf("User %d", i),
			"department": "Finance", "risk": grade(i), "humanError": "A", "sentiment": "B", "engagement": "A",
			"knowledge": grade(i), "userState": "ACTIVE"}
	}
	return out
}

func allGrade(g string) func(int) string { return func(int) string { return g } }

// recorder publishes on the real bus and remembers what was stored.
type recorder struct {
	b       *bus.Bus
	mu      sync.Mutex
	batches []collect.Batch
	ids     []string
	dups    []string
	fail    func(n int) error
	n       int
}

func (r *recorder) Publish(ctx context.Context, subject, msgID string, data []byte) (bool, error) {
	r.mu.Lock()
	r.n++
	n := r.n
	r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(n); err != nil {
			return false, err
		}
	}
	dup, err := r.b.Publish(ctx, subject, msgID, data)
	if err != nil {
		return dup, err
	}
	b, err := collect.DecodeBatch(data)
	if err != nil {
		return dup, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if dup {
		r.dups = append(r.dups, msgID)
	} else {
		r.batches = append(r.batches, b)
		r.ids = append(r.ids, msgID)
	}
	return dup, nil
}

// take returns the batches stored since the last call, and the ids of the copies the bus dropped.
func (r *recorder) take() (stored []collect.Batch, dropped []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stored, dropped = r.batches, r.dups
	r.batches, r.dups = nil, nil
	return stored, dropped
}

// records flattens batches into their records decoded as maps.
func records(t *testing.T, bs []collect.Batch) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, b := range bs {
		for _, raw := range b.Records {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

type env struct {
	t   *testing.T
	ctx context.Context
	bus *bus.Bus
	rec *recorder
	api *fakeAPI
	now time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir(), RelaxedSync: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return &env{t: t, ctx: ctx, bus: b, rec: &recorder{b: b}, api: newFakeAPI(), now: t0}
}

func (e *env) collector(stream string, mod func(*Config)) *Collector {
	e.t.Helper()
	cfg := Config{Tenant: "acme.example", Stream: stream, Client: e.api, Publisher: e.rec,
		Checkpoints: e.bus.Checkpoints(), Now: func() time.Time { return e.now }, PageSize: 7}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) run(c *Collector) collect.Stats {
	e.t.Helper()
	st, err := c.Run(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func asAPIError(err error, target **mimecast.APIError) bool { return errors.As(err, target) }
