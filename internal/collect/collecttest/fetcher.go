// Package collecttest provides a fake Mimecast log function for collector and pipeline tests: it serves a fixed
// record set newest first, in pages, for inclusive time windows, and checks that page tokens are only ever used
// with the window they were issued for.
package collecttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/schema"
)

// DummyNext is the placeholder token the API is documented to put on an empty last page.
const DummyNext = "String"

// Record is one fake log record.
type Record struct {
	ID   string
	Time time.Time
	Raw  json.RawMessage
}

// AuditRecord builds an audit event record with the given id and event time.
func AuditRecord(id string, t time.Time) Record {
	raw, _ := json.Marshal(schema.AuditRecord{
		ID: id, AuditType: "User Logged On", User: "user@example.com", EventTime: schema.FormatAPITime(t),
		EventInfo: "Successful authentication for user@example.com, IP: 192.0.2.1, Application: Administration Console",
		Category:  "authentication_logs",
	})
	return Record{ID: id, Time: t.UTC().Truncate(time.Second), Raw: raw}
}

// AuditRecords builds n audit records with ids "<prefix>-0001"… spread evenly over [from, to).
func AuditRecords(prefix string, n int, from, to time.Time) []Record {
	out := make([]Record, 0, n)
	step := to.Sub(from) / time.Duration(n)
	for i := 0; i < n; i++ {
		out = append(out, AuditRecord(fmt.Sprintf("%s-%04d", prefix, i+1), from.Add(time.Duration(i)*step)))
	}
	return out
}

type tokenState struct {
	window string
	offset int
}

// Fetcher is a fake paginated log function. The zero value is not usable; call NewFetcher.
type Fetcher struct {
	// EndWithDummyNext makes the last page of records carry a next token that leads to an empty page whose
	// next is DummyNext, as the API is documented to do.
	EndWithDummyNext bool
	// EmptyMid answers the first request for each follow-up page with an empty data array that carries a real
	// next token leading to that same page, as the API can do in the middle of a result set.
	EmptyMid bool
	// Fail, when set, is called before every request (call counts from 1); a non-nil error is returned as the
	// fetch result.
	Fail func(call int, req mimecast.PageRequest) error

	mu         sync.Mutex
	records    []Record
	calls      []mimecast.PageRequest
	tokens     map[string]tokenState
	violations []string
	emptied    map[string]bool
	dummyUsed  int
}

// NewFetcher returns a fetcher serving records.
func NewFetcher(records ...Record) *Fetcher {
	return &Fetcher{records: append([]Record(nil), records...), tokens: map[string]tokenState{}}
}

// Add makes more records available.
func (f *Fetcher) Add(records ...Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records = append(f.records, records...)
}

// Calls returns the requests received so far.
func (f *Fetcher) Calls() []mimecast.PageRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mimecast.PageRequest(nil), f.calls...)
}

// Violations lists protocol misuse seen: unknown tokens, tokens used with another window, the dummy token.
func (f *Fetcher) Violations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.violations...)
}

type window struct {
	Start string `json:"startDateTime"`
	End   string `json:"endDateTime"`
}

// FetchPage serves one page: the records with start <= time <= end (both bounds inclusive, like the API), newest
// first, PageSize at a time.
func (f *Fetcher) FetchPage(ctx context.Context, req mimecast.PageRequest) (mimecast.Page, error) {
	if err := ctx.Err(); err != nil {
		return mimecast.Page{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	if f.Fail != nil {
		if err := f.Fail(len(f.calls), req); err != nil {
			return mimecast.Page{}, err
		}
	}
	raw, err := json.Marshal(req.Filter)
	if err != nil {
		return mimecast.Page{}, f.refuse("filter is not JSON: %v", err)
	}
	var w window
	if err := json.Unmarshal(raw, &w); err != nil {
		return mimecast.Page{}, f.refuse("filter %s: %v", raw, err)
	}
	start, err1 := time.Parse("2006-01-02T15:04:05-0700", w.Start)
	end, err2 := time.Parse("2006-01-02T15:04:05-0700", w.End)
	if err1 != nil || err2 != nil {
		return mimecast.Page{}, f.refuse("bad window %s", raw)
	}
	key := string(raw)
	offset := 0
	if req.PageToken == DummyNext && f.EndWithDummyNext {
		// The documented dummy token is no real continuation; the API refuses it as it refuses any bad token.
		f.dummyUsed++
		return mimecast.Page{}, &mimecast.APIError{Path: "fake", Status: 200, Code: "err_validation_invalid_page_token",
			Message: "invalid page token"}
	}
	if req.PageToken != "" {
		st, ok := f.tokens[req.PageToken]
		switch {
		case !ok:
			return mimecast.Page{}, f.refuse("unknown page token %q with window %s", req.PageToken, key)
		case st.window != key:
			return mimecast.Page{}, f.refuse("page token %q issued for window %s used with window %s",
				req.PageToken, st.window, key)
		}
		offset = st.offset
	}
	if f.EmptyMid && req.PageToken != "" && !f.emptied[req.PageToken] {
		if f.emptied == nil {
			f.emptied = map[string]bool{}
		}
		next := f.issue(key+"|after-empty", offset)
		f.tokens[next] = tokenState{window: key, offset: offset}
		f.emptied[next] = true
		return mimecast.Page{Next: next}, nil
	}
	var sel []Record
	for _, r := range f.records {
		if !r.Time.Before(start) && !r.Time.After(end) {
			sel = append(sel, r)
		}
	}
	sort.Slice(sel, func(i, j int) bool {
		if !sel[i].Time.Equal(sel[j].Time) {
			return sel[i].Time.After(sel[j].Time)
		}
		return sel[i].ID > sel[j].ID
	})
	size := req.PageSize
	if size <= 0 {
		size = 100
	}
	if offset > len(sel) {
		offset = len(sel)
	}
	endIdx := min(offset+size, len(sel))
	page := mimecast.Page{TotalCount: len(sel)}
	for _, r := range sel[offset:endIdx] {
		page.Data = append(page.Data, r.Raw)
	}
	switch {
	case endIdx < len(sel):
		page.Next = f.issue(key, endIdx)
	case len(page.Data) > 0 && f.EndWithDummyNext:
		page.Next = f.issue(key, endIdx)
	case len(page.Data) == 0 && f.EndWithDummyNext:
		page.Next = DummyNext
	}
	return page, nil
}

// DummyUsed is how many requests sent the dummy next token.
func (f *Fetcher) DummyUsed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dummyUsed
}

func (f *Fetcher) issue(window string, offset int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d", window, offset))
	tok := "tok-" + hex.EncodeToString(sum[:6])
	f.tokens[tok] = tokenState{window: window, offset: offset}
	return tok
}

func (f *Fetcher) refuse(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	f.violations = append(f.violations, msg)
	return &mimecast.APIError{Path: "fake", Status: 400, Code: "err_validation", Message: msg}
}
