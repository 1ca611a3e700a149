package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMissingProducts(t *testing.T) {
	t.Parallel()
	endpoints := []struct {
		product, method, path, body string
	}{
		{ProductAudit, http.MethodPost, PathAuditEvents, `{"data":[{"startDateTime":"2026-03-10T00:00:00Z","endDateTime":"2026-03-10T01:00:00Z"}]}`},
		{ProductTTP, http.MethodPost, PathTTPURL, `{"data":[{"from":"2026-03-10T00:00:00Z","to":"2026-03-10T01:00:00Z"}]}`},
		{ProductDLP, http.MethodPost, PathDLP, `{"data":[{"from":"2026-03-10T00:00:00Z","to":"2026-03-10T01:00:00Z"}]}`},
		{ProductSIEM, http.MethodGet, PathSIEMBatchCI + "?type=entities", ""},
		{ProductSIEM, http.MethodPost, PathSIEMLogs, `{"data":[{"type":"MTA"}]}`},
		{ProductAwareness, http.MethodPost, PathATSafeScore, `{}`},
		{ProductAwareness, http.MethodPost, PathATCampaigns, ``},
		{ProductGateway, http.MethodPost, PathHeldRelease, `{"data":[{"start":"2026-03-10T00:00:00Z","end":"2026-03-10T01:00:00Z"}]}`},
		{ProductArchive, http.MethodPost, PathArchiveSearch, `{"data":[{"start":"2026-03-10T00:00:00Z","end":"2026-03-10T01:00:00Z"}]}`},
		{ProductThreatIntel, http.MethodPost, PathThreatIntel, `{"data":[{"feedType":"malware_grid"}]}`},
	}
	call := func(t *testing.T, c *rawClient, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out apiResponse
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.failCode()
	}
	for _, missing := range []string{ProductAwareness, ProductSIEM, ProductThreatIntel, ProductGateway} {
		t.Run("without "+missing, func(t *testing.T) {
			s, srv := newTestSim(t, Options{Seed: 81, Mailboxes: 5, Days: 1, MissingProducts: []string{missing}})
			c := newRawClient(t, s, srv)
			c.login()
			forbidden := 0
			for _, ep := range endpoints {
				status, code := call(t, c, ep.method, ep.path, ep.body)
				if ep.product == missing {
					forbidden++
					if status != http.StatusForbidden || code != "app_forbidden" {
						t.Errorf("%s: status %d code %q, want 403 app_forbidden", ep.path, status, code)
					}
				} else if status != http.StatusOK {
					t.Errorf("%s: status %d, want 200", ep.path, status)
				}
			}
			if st := s.Stats(); st.Forbidden != forbidden {
				t.Errorf("Forbidden = %d, want %d", st.Forbidden, forbidden)
			}
			c.token = "forged"
			for _, ep := range endpoints {
				if status, _ := call(t, c, ep.method, ep.path, ep.body); status != http.StatusUnauthorized {
					t.Errorf("%s without a valid token: status %d, want 401 before the licence check", ep.path, status)
				}
			}
		})
	}
	t.Run("unknown product", func(t *testing.T) {
		if _, err := New(Options{MissingProducts: []string{"email"}}); err == nil || !strings.Contains(err.Error(), `unknown product "email"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("secret key not base64", func(t *testing.T) {
		if _, err := New(Options{SecretKey: "%%%"}); err == nil || !strings.Contains(err.Error(), "secret key must be base64") {
			t.Errorf("err = %v", err)
		}
	})
}

// resilientPage pages through any /api function like a careful client (re-login on 401, wait out 429 on a
// virtual clock, retry 5xx, follow real next tokens past empty pages, stop at the dummy "String" on an empty page)
// and returns the records of data[] or data[0].<listKey>.
func (c *rawClient) resilientPage(path string, data []any, listKey string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	next := ""
	for calls := 0; calls < 5000; calls++ {
		if c.token == "" {
			c.login()
		}
		body := map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": 9}}, "data": data}
		if next != "" {
			body["meta"].(map[string]any)["pagination"].(map[string]any)["pageToken"] = next
		}
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		var p rawPage
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			c.reauths++
			c.token = ""
			continue
		case resp.StatusCode == http.StatusTooManyRequests:
			ms, _ := strconv.Atoi(resp.Header.Get("X-RateLimit-Reset"))
			c.retries++
			c.sleep(time.Duration(ms) * time.Millisecond)
			continue
		case resp.StatusCode >= 500:
			c.retries++
			continue
		case resp.StatusCode != http.StatusOK || len(p.Fail) > 0:
			return nil, fmt.Errorf("status %d, fail %s", resp.StatusCode, p.Fail)
		}
		recs := p.Data
		if listKey != "" && len(p.Data) > 0 {
			var wrap map[string][]json.RawMessage
			_ = json.Unmarshal(p.Data[0], &wrap)
			recs = wrap[listKey]
		}
		out = append(out, recs...)
		n := p.Meta.Pagination.Next
		if n == "" || (len(recs) == 0 && n == dummyNext) {
			return out, nil
		}
		next = n
	}
	return nil, fmt.Errorf("pagination did not end")
}

func TestTransportFaultsOnNewEndpoints(t *testing.T) {
	t.Parallel()
	faults, _ := ParseFaults("all")
	var tick sync.Mutex
	wall := testNow
	step := func() time.Time {
		tick.Lock()
		defer tick.Unlock()
		wall = wall.Add(time.Millisecond)
		return wall
	}
	s, srv := newTestSim(t, Options{Seed: 82, Mailboxes: 25, Days: 2, Faults: faults, RateLimitCalls: 4,
		RateLimitWindow: 20 * time.Millisecond, Wall: step, TokenUses: 3, ServerErrorRate: 0.3})
	c := newRawClient(t, s, srv)
	c.sleep = func(d time.Duration) {
		tick.Lock()
		wall = wall.Add(d)
		tick.Unlock()
	}
	camps, _ := s.AwarenessRecords(PathATCampaigns, testNow, "")
	var camp struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(camps[0], &camp)
	tests := []struct {
		name    string
		path    string
		data    []any
		listKey string
		want    func() []json.RawMessage
	}{
		{"safe score", PathATSafeScore, nil, "", func() []json.RawMessage {
			r, _ := s.AwarenessRecords(PathATSafeScore, testNow, "")
			return r
		}},
		{"user data", PathATUserData, []any{map[string]any{"id": camp.ID}}, "items", func() []json.RawMessage {
			r, _ := s.AwarenessRecords(PathATUserData, testNow, camp.ID)
			return r
		}},
		{"held release", PathHeldRelease, []any{map[string]any{"start": "2026-03-09T00:00:00Z", "end": "2026-03-10T12:00:00Z"}}, "heldReleaseLogs", func() []json.RawMessage {
			r, _ := s.LogRecords(PathHeldRelease, time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), testNow)
			return r
		}},
		{"archive search", PathArchiveSearch, []any{map[string]any{"start": "2026-03-09T00:00:00Z", "end": "2026-03-10T12:00:00Z"}}, "logs", func() []json.RawMessage {
			r, _ := s.LogRecords(PathArchiveSearch, time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), testNow)
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.resilientPage(tt.path, tt.data, tt.listKey)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.want(); len(want) == 0 || !slices.Equal(canonical(t, got), canonical(t, want)) {
				t.Fatalf("collected %d records, ground truth %d (or they differ)", len(got), len(want))
			}
		})
	}
	st := s.Stats()
	if st.RateLimited == 0 || st.ServerErrors == 0 || st.TokenExpired == 0 || st.EmptyPages == 0 || st.EmptyMidPages == 0 || st.Slowed == 0 {
		t.Errorf("some fault never fired: %+v", st)
	}
}
