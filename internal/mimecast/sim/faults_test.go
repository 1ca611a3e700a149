package sim

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	tests := []struct {
		in      string
		want    Faults
		wantErr string
	}{
		{"", Faults{}, ""},
		{"none", Faults{}, ""},
		{"ratelimit", Faults{RateLimit: true}, ""},
		{"ratelimit,5xx,tokenexpiry,emptypage,slow", Faults{RateLimit: true, ServerError: true, TokenExpiry: true, EmptyPage: true, Slow: true}, ""},
		{" Slow , EMPTYMID ", Faults{Slow: true, EmptyMid: true}, ""},
		{"all", Faults{RateLimit: true, ServerError: true, TokenExpiry: true, EmptyPage: true, EmptyMid: true, Slow: true}, ""},
		{"ratelimit,flaky", Faults{}, `unknown fault "flaky" (valid: ratelimit, 5xx, tokenexpiry, emptypage, emptymid, slow, all, none)`},
		{"500", Faults{}, `unknown fault "500"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFaults(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseFaults(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			back, err := ParseFaults(got.String())
			if err != nil || back != got {
				t.Errorf("String() %q does not round-trip: %+v, %v", got.String(), back, err)
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"negative mailboxes", Options{Mailboxes: -1}, "mailboxes must not be negative"},
		{"too many days", Options{Days: 91}, "days must be between 0 and 90"},
		{"negative days", Options{Days: -2}, "days must be between 0 and 90"},
		{"server error rate 1", Options{ServerErrorRate: 1}, "server error rate"},
		{"inverted slow range", Options{SlowMin: time.Second, SlowMax: time.Millisecond}, "slow latency range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	s, err := New(Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if o := s.Options(); o.Mailboxes != DefaultMailboxes || o.Days != DefaultDays || o.PageSizeMax != 500 || o.TokenTTL != DefaultTokenTTL {
		t.Errorf("defaults not applied: %+v", o)
	}
}

func TestRateLimitFault(t *testing.T) {
	wall := newFakeClock(testNow)
	s, srv := newTestSim(t, Options{Seed: 1, Faults: Faults{RateLimit: true}, RateLimitCalls: 3, RateLimitWindow: time.Second, Wall: wall.Now})
	c := newRawClient(t, s, srv)
	c.login()
	body := auditBody("2026-03-10T00:00:00+0000", "2026-03-10T12:00:00+0000", 10, "")
	for i := range 3 {
		status, hdr, _ := c.post("/api/audit/get-audit-events", body)
		if status != http.StatusOK {
			t.Fatalf("call %d: status %d", i, status)
		}
		if hdr.Get("X-RateLimit-Limit") != "" {
			t.Errorf("call %d: rate-limit headers set before the limit was exceeded", i)
		}
	}
	steps := []struct {
		advance   time.Duration
		want      int
		wantReset string
	}{
		{250 * time.Millisecond, http.StatusTooManyRequests, "750"},
		{500 * time.Millisecond, http.StatusTooManyRequests, "250"}, // again before the reset
		{250 * time.Millisecond, http.StatusOK, ""},                 // window over
	}
	for i, st := range steps {
		wall.Advance(st.advance)
		status, hdr, resp := c.post("/api/audit/get-audit-events", body)
		if status != st.want {
			t.Fatalf("step %d: status %d, want %d", i, status, st.want)
		}
		if st.want != http.StatusTooManyRequests {
			continue
		}
		if hdr.Get("X-RateLimit-Limit") != "3" || hdr.Get("X-RateLimit-Remaining") != "0" || hdr.Get("X-RateLimit-Reset") != st.wantReset {
			t.Errorf("step %d: headers Limit=%q Remaining=%q Reset=%q, want 3/0/%s", i,
				hdr.Get("X-RateLimit-Limit"), hdr.Get("X-RateLimit-Remaining"), hdr.Get("X-RateLimit-Reset"), st.wantReset)
		}
		if resp.Meta.Status != http.StatusTooManyRequests || resp.failCode() == "" {
			t.Errorf("step %d: body meta.status %d fail %q", i, resp.Meta.Status, resp.failCode())
		}
	}
	// The budget is per path: the categories function is not throttled by audit calls.
	wall.Advance(10 * time.Millisecond)
	for range 3 {
		c.post("/api/audit/get-audit-events", body)
	}
	if status, _, _ := c.post("/api/audit/get-categories", "{}"); status != http.StatusOK {
		t.Errorf("other path status %d, want 200", status)
	}
	if got := s.Stats().RateLimited; got != 3 {
		t.Errorf("RateLimited = %d, want 3", got)
	}
}

func TestServerErrorFault(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 2, Faults: Faults{ServerError: true}, ServerErrorRate: 0.5})
	c := newRawClient(t, s, srv)
	c.login()
	body := auditBody("2026-03-10T00:00:00+0000", "2026-03-10T12:00:00+0000", 10, "")
	codes := map[int]int{}
	run := 0
	for i := range 60 {
		status, _, resp := c.post("/api/audit/get-audit-events", body)
		codes[status]++
		switch status {
		case http.StatusInternalServerError:
			if resp.failCode() != "internal-error" || resp.Fail[0].Message != "An unexpected error occurred while processing the batch request" {
				t.Errorf("call %d: 500 body %+v", i, resp.Fail)
			}
		case http.StatusServiceUnavailable:
		case http.StatusOK:
			run = -1
		default:
			t.Fatalf("call %d: unexpected status %d", i, status)
		}
		if run++; run > 2 {
			t.Fatalf("more than two consecutive injected errors at call %d", i)
		}
	}
	if codes[http.StatusInternalServerError] == 0 || codes[http.StatusServiceUnavailable] == 0 || codes[http.StatusOK] == 0 {
		t.Errorf("status mix %v, want 200, 500 and 503", codes)
	}
	if got := s.Stats().ServerErrors; got != codes[500]+codes[503] {
		t.Errorf("ServerErrors = %d, want %d", got, codes[500]+codes[503])
	}

	// Deterministic: the same seed gives the same pattern.
	s2, srv2 := newTestSim(t, Options{Seed: 2, Faults: Faults{ServerError: true}, ServerErrorRate: 0.5})
	c2 := newRawClient(t, s2, srv2)
	c2.login()
	codes2 := map[int]int{}
	for range 60 {
		status, _, _ := c2.post("/api/audit/get-audit-events", body)
		codes2[status]++
	}
	for k, v := range codes {
		if codes2[k] != v {
			t.Errorf("same seed gave a different fault pattern: %v vs %v", codes, codes2)
			break
		}
	}
}

func TestTokenExpiryFault(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 4, Faults: Faults{TokenExpiry: true}, TokenUses: 2})
	c := newRawClient(t, s, srv)
	c.login()
	body := auditBody("2026-03-10T00:00:00+0000", "2026-03-10T12:00:00+0000", 10, "")
	for i, want := range []int{200, 200, 401, 401} {
		status, _, resp := c.post("/api/audit/get-audit-events", body)
		if status != want {
			t.Fatalf("call %d: status %d, want %d", i, status, want)
		}
		if want == 401 && resp.failCode() != "token_expired" {
			t.Errorf("call %d: code %q, want token_expired", i, resp.failCode())
		}
	}
	c.login()
	if status, _, _ := c.post("/api/audit/get-audit-events", body); status != http.StatusOK {
		t.Errorf("after re-auth: status %d", status)
	}
}

func TestEmptyPageFault(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 5, Faults: Faults{EmptyPage: true}})
	c := newRawClient(t, s, srv)
	c.login()
	start, end := "2026-03-10T00:00:00+0000", "2026-03-10T12:00:00+0000"
	want := s.AuditRecords(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), testNow)

	// One page holds everything, yet it carries a next token.
	_, _, full := c.post("/api/audit/get-audit-events", auditBody(start, end, 500, ""))
	if len(full.Data) != len(want) || full.Meta.Pagination.Next == "" {
		t.Fatalf("full page: %d records, next %q; want %d and a next", len(full.Data), full.Meta.Pagination.Next, len(want))
	}
	_, _, last := c.post("/api/audit/get-audit-events", auditBody(start, end, 500, full.Meta.Pagination.Next))
	p := last.Meta.Pagination
	if len(last.Data) != 0 || p.Next != "String" || p.Previous != "String" || len(last.Fail) != 0 {
		t.Fatalf("dummy last page: %d records, next %q previous %q fail %q", len(last.Data), p.Next, p.Previous, last.failCode())
	}
	// Following the dummy token is an error, not more data.
	_, _, bad := c.post("/api/audit/get-audit-events", auditBody(start, end, 500, "String"))
	if bad.failCode() != codePageToken {
		t.Errorf("dummy token: fail %q", bad.failCode())
	}
	// A client that stops on empty data gets exactly the ground truth.
	c.pageSize = 9
	got, err := c.collectAll(start, end)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameRecords(got, want); err != nil {
		t.Fatal(err)
	}
	if s.Stats().EmptyPages < 2 {
		t.Errorf("EmptyPages = %d, want at least 2", s.Stats().EmptyPages)
	}
}

func TestEmptyMidFault(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 6, Faults: Faults{EmptyMid: true}, EmptyMidRate: 0.5})
	c := newRawClient(t, s, srv)
	c.login()
	start, end := "2026-03-09T00:00:00+0000", "2026-03-10T12:00:00+0000"
	want := s.AuditRecords(time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), testNow)

	// A client that stops on the first empty page (elastic's rule) misses records.
	var naive int
	next := ""
	for {
		_, _, resp := c.post("/api/audit/get-audit-events", auditBody(start, end, 20, next))
		naive += len(resp.Data)
		next = resp.Meta.Pagination.Next
		if next == "" || len(resp.Data) == 0 {
			break
		}
	}
	if naive >= len(want) {
		t.Fatalf("naive client got %d of %d records; the fault injected nothing", naive, len(want))
	}
	// Following real next tokens past empty pages reaches everything.
	c.pageSize = 20
	got, err := c.collectAll(start, end)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameRecords(got, want); err != nil {
		t.Fatal(err)
	}
	if s.Stats().EmptyMidPages == 0 {
		t.Error("EmptyMidPages = 0")
	}
}

func TestSlowFault(t *testing.T) {
	tests := []struct {
		name    string
		faults  Faults
		atLeast time.Duration
		atMost  time.Duration
	}{
		{"slow", Faults{Slow: true}, 40 * time.Millisecond, 5 * time.Second},
		{"not slow", Faults{}, 0, 5 * time.Second}, // timing of fast calls is not asserted on a shared machine
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := newTestSim(t, Options{Seed: 1, Faults: tt.faults, SlowMin: 40 * time.Millisecond, SlowMax: 60 * time.Millisecond})
			c := newRawClient(t, s, srv)
			c.login()
			began := time.Now()
			c.post("/api/audit/get-audit-events", auditBody("2026-03-10T11:00:00+0000", "2026-03-10T12:00:00+0000", 5, ""))
			took := time.Since(began)
			if took < tt.atLeast || took > tt.atMost {
				t.Errorf("call took %s, want between %s and %s", took, tt.atLeast, tt.atMost)
			}
			if want := map[bool]int{true: 2, false: 0}[tt.faults.Slow]; s.Stats().Slowed != want {
				t.Errorf("Slowed = %d, want %d", s.Stats().Slowed, want)
			}
		})
	}
}

func TestAllFaultsKeepGroundTruth(t *testing.T) {
	faults, err := ParseFaults("all")
	if err != nil {
		t.Fatal(err)
	}
	// The rate-limit clock ticks 1 ms per call and the client waits on it, so the limit fires however slow or
	// fast the machine is.
	var tick sync.Mutex
	wall := testNow
	step := func() time.Time {
		tick.Lock()
		defer tick.Unlock()
		wall = wall.Add(time.Millisecond)
		return wall
	}
	s, srv := newTestSim(t, Options{Seed: 8, Mailboxes: 25, Faults: faults, RateLimitCalls: 4,
		RateLimitWindow: 20 * time.Millisecond, Wall: step, TokenUses: 3, ServerErrorRate: 0.3})
	c := newRawClient(t, s, srv)
	c.pageSize = 15
	c.sleep = func(d time.Duration) {
		tick.Lock()
		wall = wall.Add(d)
		tick.Unlock()
	}
	start, end := "2026-03-08T12:00:00Z", "2026-03-10T12:00:00Z"
	got, err := c.collectAll(start, end)
	if err != nil {
		t.Fatal(err)
	}
	want := s.AuditRecords(time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), testNow)
	if err := sameRecords(got, want); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.RateLimited == 0 || st.ServerErrors == 0 || st.TokenExpired == 0 || st.EmptyPages == 0 || st.EmptyMidPages == 0 || st.Slowed == 0 {
		t.Errorf("some fault never fired: %+v", st)
	}
	if c.reauths == 0 || c.retries == 0 {
		t.Errorf("client never had to recover (reauths %d, retries %d)", c.reauths, c.retries)
	}
	t.Logf("%d records in %s calls; stats %+v", len(got), strconv.Itoa(st.Calls), st)
}
