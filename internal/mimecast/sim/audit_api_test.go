package sim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPageThroughWindow(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 7, Mailboxes: 30, Days: 2})
	tests := []struct {
		name       string
		start, end string
		from, to   time.Time
		pageSize   int
	}{
		{"colon-less offsets, small pages", "2026-03-09T00:00:00+0000", "2026-03-10T12:00:00+0000",
			time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), testNow, 7},
		{"RFC 3339 Z, default page size", "2026-03-09T06:00:00Z", "2026-03-09T18:00:00Z",
			time.Date(2026, 3, 9, 6, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 18, 0, 0, 0, time.UTC), 0},
		{"non-UTC offset", "2026-03-09T08:00:00+0200", "2026-03-09T20:30:00-0400",
			time.Date(2026, 3, 9, 6, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC), 100},
		{"page size above the maximum is clamped", "2026-03-08T12:00:00+0000", "2026-03-10T12:00:00+0000",
			time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), testNow, 5000},
		{"window reaching into the future", "2026-03-10T06:00:00+0000", "2026-03-11T06:00:00+0000",
			time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC), time.Date(2026, 3, 11, 6, 0, 0, 0, time.UTC), 50},
		{"window before the data starts", "2026-01-01T00:00:00+0000", "2026-01-02T00:00:00+0000",
			time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newRawClient(t, s, srv)
			c.pageSize = tt.pageSize
			got, err := c.collectAll(tt.start, tt.end)
			if err != nil {
				t.Fatal(err)
			}
			want := s.AuditRecords(tt.from, tt.to)
			if err := sameRecords(got, want); err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for i, r := range got {
				if seen[r.ID] {
					t.Fatalf("duplicate id %s", r.ID)
				}
				seen[r.ID] = true
				if i > 0 && r.EventTime > got[i-1].EventTime {
					t.Fatalf("record %d is newer than record %d: not newest first", i, i-1)
				}
			}
		})
	}
}

func TestPaginationEnvelope(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 3})
	c := newRawClient(t, s, srv)
	c.login()
	start, end := "2026-03-09T00:00:00+0000", "2026-03-10T00:00:00+0000"
	want := s.AuditRecords(time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC))
	if len(want) < 30 {
		t.Fatalf("need at least 30 records for this test, have %d", len(want))
	}

	status, _, first := c.post("/api/audit/get-audit-events", auditBody(start, end, 0, ""))
	if status != http.StatusOK || first.Meta.Status != http.StatusOK {
		t.Fatalf("status %d meta.status %d", status, first.Meta.Status)
	}
	p := first.Meta.Pagination
	if p.PageSize != DefaultPageSize || len(first.Data) != DefaultPageSize || p.TotalCount != len(want) {
		t.Errorf("pagination = %+v with %d records, want pageSize %d, totalCount %d", p, len(first.Data), DefaultPageSize, len(want))
	}
	if p.Next == "" || p.Previous != "" {
		t.Errorf("first page next=%q previous=%q, want a next and no previous", p.Next, p.Previous)
	}
	if strings.ContainsAny(p.Next, "+/= ") {
		t.Errorf("next token %q is not base64url", p.Next)
	}

	// A follow-up in the v1 style: only the token, no filter.
	status, _, second := c.post("/api/audit/get-audit-events",
		map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": "25", "pageToken": p.Next}}})
	if status != http.StatusOK || len(second.Fail) > 0 {
		t.Fatalf("token-only follow-up: status %d fail %s", status, second.failCode())
	}
	if err := sameRecords(second.Data, want[DefaultPageSize:min(2*DefaultPageSize, len(want))]); err != nil {
		t.Errorf("second page: %v", err)
	}
	if second.Meta.Pagination.Previous == "" {
		t.Error("second page has no previous token")
	}

	// The last page carries no next.
	status, _, last := c.post("/api/audit/get-audit-events", auditBody(start, end, len(want), ""))
	if status != http.StatusOK || len(last.Data) != len(want) || last.Meta.Pagination.Next != "" {
		t.Errorf("single full page: %d records, next %q", len(last.Data), last.Meta.Pagination.Next)
	}
}

func TestValidationFailures(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 1})
	c := newRawClient(t, s, srv)
	c.login()
	good := "2026-03-09T00:00:00+0000"
	tests := []struct {
		name string
		body any
		want string
	}{
		{"space instead of T", auditBody("2026-03-09 00:00:00", good, 10, ""), codeDateFormat},
		{"date only", auditBody("2026-03-09", good, 10, ""), codeDateFormat},
		{"day-first date", auditBody(good, "10/03/2026 00:00", 10, ""), codeDateFormat},
		{"missing offset", auditBody("2026-03-09T00:00:00", good, 10, ""), codeDateFormat},
		{"blank start", auditBody("", good, 10, ""), codeBlank},
		{"missing end", `{"data":[{"startDateTime":"2026-03-09T00:00:00+0000"}]}`, codeNull},
		{"start after end", auditBody("2026-03-10T00:00:00+0000", good, 10, ""), codeDateRange},
		{"negative page size", `{"meta":{"pagination":{"pageSize":-1}},"data":[{"startDateTime":"` + good + `","endDateTime":"` + good + `"}]}`, codePageSize},
		{"non-numeric page size", `{"meta":{"pagination":{"pageSize":"ten"}},"data":[{"startDateTime":"` + good + `","endDateTime":"` + good + `"}]}`, codePageSize},
		{"no data and no token", `{"meta":{"pagination":{"pageSize":10}}}`, codeNull},
		{"garbage page token", auditBody(good, good, 10, "not-a-token"), codePageToken},
		{"dummy next as token", auditBody(good, good, 10, "String"), codePageToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, resp := c.post("/api/audit/get-audit-events", tt.body)
			if status != http.StatusOK {
				t.Fatalf("status = %d, want 200 with fail[]", status)
			}
			if got := resp.failCode(); got != tt.want {
				t.Fatalf("fail code = %q, want %q", got, tt.want)
			}
			if len(resp.Data) != 0 || resp.Fail[0].Errors[0].Retryable || resp.Fail[0].Errors[0].Message == "" {
				t.Errorf("fail item = %+v, want no data, a message, retryable false", resp.Fail[0])
			}
			if !json.Valid(resp.Fail[0].Key) {
				t.Errorf("fail key %q is not JSON", resp.Fail[0].Key)
			}
		})
	}
	t.Run("key echoes the request item", func(t *testing.T) {
		_, _, resp := c.post("/api/audit/get-audit-events", auditBody("yesterday", good, 10, ""))
		var key map[string]any
		if err := json.Unmarshal(resp.Fail[0].Key, &key); err != nil || key["startDateTime"] != "yesterday" {
			t.Errorf("key = %s, want the request item", resp.Fail[0].Key)
		}
	})
	t.Run("malformed JSON body is a 400", func(t *testing.T) {
		status, _, _ := c.post("/api/audit/get-audit-events", `{"data":[`)
		if status != http.StatusBadRequest {
			t.Errorf("status = %d, want 400", status)
		}
	})
	if got := s.Stats().ValidationFailures; got != len(tests)+1 {
		t.Errorf("ValidationFailures = %d, want %d", got, len(tests)+1)
	}
}

func TestPageTokenScopedToQuery(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 5})
	other, otherSrv := newTestSim(t, Options{Seed: 6})
	c := newRawClient(t, s, srv)
	c.login()
	start, end := "2026-03-09T00:00:00+0000", "2026-03-10T00:00:00+0000"
	_, _, first := c.post("/api/audit/get-audit-events", auditBody(start, end, 5, ""))
	next := first.Meta.Pagination.Next
	if next == "" {
		t.Fatal("no next token")
	}
	withFilter := func(filter map[string]any) map[string]any {
		return map[string]any{
			"meta": map[string]any{"pagination": map[string]any{"pageSize": 5, "pageToken": next}},
			"data": []any{filter},
		}
	}
	tests := []struct {
		name string
		body any
		want string
	}{
		{"same window", auditBody(start, end, 5, next), ""},
		{"same window, other spelling", auditBody("2026-03-09T00:00:00Z", "2026-03-10T00:00:00Z", 5, next), ""},
		{"different end", auditBody(start, "2026-03-10T00:00:01+0000", 5, next), codePageToken},
		{"different start", auditBody("2026-03-08T00:00:00+0000", end, 5, next), codePageToken},
		{"added query text", withFilter(map[string]any{"startDateTime": start, "endDateTime": end, "query": "x"}), codePageToken},
		{"added categories", withFilter(map[string]any{"startDateTime": start, "endDateTime": end, "categories": []string{catAuth}}), codePageToken},
		{"tampered token", auditBody(start, end, 5, next[:len(next)-2]+"AA"), codePageToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, resp := c.post("/api/audit/get-audit-events", tt.body)
			if got := resp.failCode(); got != tt.want {
				t.Errorf("fail code = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("token from another tenant", func(t *testing.T) {
		oc := newRawClient(t, other, otherSrv)
		oc.login()
		_, _, resp := oc.post("/api/audit/get-audit-events", auditBody(start, end, 5, next))
		if got := resp.failCode(); got != codePageToken {
			t.Errorf("fail code = %q, want %q", got, codePageToken)
		}
	})
}

func TestPaginationStableWhileClockAdvances(t *testing.T) {
	clock := newFakeClock(testNow)
	s, srv := newTestSim(t, Options{Seed: 11, Now: clock.Now, Start: testNow, TokenTTL: 24 * time.Hour})
	c := newRawClient(t, s, srv)
	c.login()
	start, end := "2026-03-09T00:00:00+0000", "2026-03-11T00:00:00+0000"
	want := s.AuditRecords(time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), testNow)
	var got []string
	next := ""
	for {
		status, _, resp := c.post("/api/audit/get-audit-events", auditBody(start, end, 10, next))
		if status != http.StatusOK || len(resp.Fail) > 0 {
			t.Fatalf("status %d fail %q", status, resp.failCode())
		}
		for _, r := range resp.Data {
			got = append(got, r.ID)
		}
		clock.Advance(17 * time.Minute) // new records arrive between pages
		if next = resp.Meta.Pagination.Next; next == "" {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want the %d that existed at the first page", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i].ID {
			t.Fatalf("record %d differs", i)
		}
	}
	if later := s.AuditRecords(time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), clock.Now()); len(later) <= len(want) {
		t.Errorf("advancing the clock revealed no records (%d then %d)", len(want), len(later))
	}
}

func TestQueryAndCategoryFilters(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 9, Mailboxes: 30})
	c := newRawClient(t, s, srv)
	c.login()
	start, end := "2026-03-08T12:00:00+0000", "2026-03-10T12:00:00+0000"
	all := s.AuditRecords(time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), testNow)
	tests := []struct {
		name   string
		filter map[string]any
		keep   func(cat, info string) bool
	}{
		{"categories", map[string]any{"categories": []string{catCase, catPolicy}},
			func(cat, _ string) bool { return cat == catCase || cat == catPolicy }},
		{"query text", map[string]any{"query": "reason: wrong password"},
			func(_, info string) bool { return strings.Contains(strings.ToLower(info), "reason: wrong password") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.filter["startDateTime"], tt.filter["endDateTime"] = start, end
			body := map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": 500}}, "data": []any{tt.filter}}
			_, _, resp := c.post("/api/audit/get-audit-events", body)
			var want []string
			for _, r := range all {
				if tt.keep(r.Category, r.EventInfo) {
					want = append(want, r.ID)
				}
			}
			if len(want) == 0 || len(want) == len(all) {
				t.Fatalf("filter keeps %d of %d records; the test needs a real subset", len(want), len(all))
			}
			if len(resp.Data) != len(want) {
				t.Fatalf("got %d records, want %d", len(resp.Data), len(want))
			}
			for i, r := range resp.Data {
				if r.ID != want[i] {
					t.Fatalf("record %d differs", i)
				}
			}
		})
	}
}

func TestAuditCategories(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 1})
	c := newRawClient(t, s, srv)
	c.login()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/audit/get-categories", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []struct{ Code string } `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, d := range body.Data {
		codes[d.Code] = true
	}
	for _, r := range s.AuditRecords(testNow.Add(-48*time.Hour), testNow) {
		if !codes[r.Category] {
			t.Errorf("category %q of a record is not listed by get-categories", r.Category)
		}
	}
}
