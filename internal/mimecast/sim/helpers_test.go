package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// testNow is the fixed tenant clock most tests use.
var testNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestSim builds a tenant on a fixed clock with fast fault settings, serves it and returns both.
func newTestSim(t *testing.T, opts Options) (*Sim, *httptest.Server) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	if opts.Mailboxes == 0 {
		opts.Mailboxes = 20
	}
	if opts.Days == 0 {
		opts.Days = 2
	}
	if opts.SlowMin == 0 && opts.SlowMax == 0 {
		opts.SlowMin, opts.SlowMax = time.Millisecond, 3*time.Millisecond
	}
	if opts.RateLimitWindow == 0 {
		opts.RateLimitWindow = 30 * time.Millisecond
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

// apiResponse is the documented response envelope.
type apiResponse struct {
	Meta struct {
		Status     int `json:"status"`
		Pagination struct {
			PageSize   int    `json:"pageSize"`
			TotalCount int    `json:"totalCount"`
			Next       string `json:"next"`
			Previous   string `json:"previous"`
		} `json:"pagination"`
	} `json:"meta"`
	Data []schema.AuditRecord `json:"data"`
	Fail []struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Key     json.RawMessage `json:"key"`
		Errors  []struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			Retryable bool   `json:"retryable"`
		} `json:"errors"`
	} `json:"fail"`
}

// failCode returns the first fail code of either shape.
func (r *apiResponse) failCode() string {
	if len(r.Fail) == 0 {
		return ""
	}
	if r.Fail[0].Code != "" {
		return r.Fail[0].Code
	}
	if len(r.Fail[0].Errors) > 0 {
		return r.Fail[0].Errors[0].Code
	}
	return "?"
}

// rawClient is a minimal hand-written API client for the tests (deliberately not castwatch's client).
type rawClient struct {
	t        *testing.T
	base     string
	id, sec  string
	token    string
	reauths  int
	retries  int
	pageSize int
	// sleep waits out a 429; time.Sleep unless a test runs the rate limiter on a virtual clock.
	sleep func(time.Duration)
}

func newRawClient(t *testing.T, s *Sim, srv *httptest.Server) *rawClient {
	return &rawClient{t: t, base: srv.URL, id: s.Options().ClientID, sec: s.Options().ClientSecret}
}

// tokenResponse posts client credentials and returns status and decoded body.
func (c *rawClient) tokenResponse(id, secret, grant string) (int, map[string]any) {
	c.t.Helper()
	form := url.Values{"client_id": {id}, "client_secret": {secret}, "grant_type": {grant}}
	resp, err := http.Post(c.base+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		c.t.Fatalf("token body: %v", err)
	}
	return resp.StatusCode, body
}

func (c *rawClient) login() {
	c.t.Helper()
	status, body := c.tokenResponse(c.id, c.sec, "client_credentials")
	if status != http.StatusOK {
		c.t.Fatalf("token status %d: %v", status, body)
	}
	c.token, _ = body["access_token"].(string)
}

// post sends one JSON call with the current token.
func (c *rawClient) post(path string, body any) (int, http.Header, apiResponse) {
	c.t.Helper()
	var buf []byte
	switch b := body.(type) {
	case string:
		buf = []byte(b)
	default:
		var err error
		if buf, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(buf))
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("post %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out apiResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("post %s: decode %q: %v", path, raw, err)
	}
	return resp.StatusCode, resp.Header, out
}

// auditBody builds a get-audit-events request.
func auditBody(start, end string, pageSize int, token string) map[string]any {
	pg := map[string]any{}
	if pageSize > 0 {
		pg["pageSize"] = pageSize
	}
	if token != "" {
		pg["pageToken"] = token
	}
	return map[string]any{
		"meta": map[string]any{"pagination": pg},
		"data": []any{map[string]any{"startDateTime": start, "endDateTime": end}},
	}
}

// collectAll pages through a window like a careful client: re-authenticates on 401, waits out 429 and retries
// 5xx, follows every real next token (also past empty pages) and stops when next is absent or is the dummy
// "String" on an empty page.
func (c *rawClient) collectAll(start, end string) ([]schema.AuditRecord, error) {
	var out []schema.AuditRecord
	next := ""
	for calls := 0; calls < 5000; calls++ {
		if c.token == "" {
			c.login()
		}
		status, hdr, resp := c.post("/api/audit/get-audit-events", auditBody(start, end, c.pageSize, next))
		switch {
		case status == http.StatusUnauthorized:
			c.reauths++
			c.token = ""
			continue
		case status == http.StatusTooManyRequests:
			ms, err := strconv.Atoi(hdr.Get("X-RateLimit-Reset"))
			if err != nil {
				return nil, fmt.Errorf("429 without X-RateLimit-Reset: %v", hdr)
			}
			c.retries++
			if c.sleep != nil {
				c.sleep(time.Duration(ms) * time.Millisecond)
			} else {
				time.Sleep(time.Duration(ms) * time.Millisecond)
			}
			continue
		case status >= 500:
			c.retries++
			continue
		case status != http.StatusOK:
			return nil, fmt.Errorf("status %d", status)
		case len(resp.Fail) > 0:
			return nil, fmt.Errorf("fail: %s", resp.failCode())
		}
		out = append(out, resp.Data...)
		n := resp.Meta.Pagination.Next
		if n == "" || (len(resp.Data) == 0 && n == "String") {
			return out, nil
		}
		next = n
	}
	return nil, fmt.Errorf("pagination did not end")
}

// sameRecords reports the first difference between two record lists.
func sameRecords(got, want []schema.AuditRecord) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("record %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	return nil
}
