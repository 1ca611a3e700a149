package sim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// logPage is the envelope of the mail-log functions (records in data[0].<listKey>).
type logPage struct {
	Meta struct {
		Pagination struct {
			Next string `json:"next"`
		} `json:"pagination"`
	} `json:"meta"`
	Data []map[string]json.RawMessage `json:"data"`
	Fail []json.RawMessage            `json:"fail"`
}

// postRaw posts body to path with the client's token and decodes the answer into out.
func (c *rawClient) postRaw(path string, body any, out any) int {
	c.t.Helper()
	buf, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(buf))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		c.t.Fatalf("%s: %v", path, err)
	}
	return resp.StatusCode
}

// collectLogs pages through a mail-log function and returns the records in order.
func (c *rawClient) collectLogs(path string, filter map[string]any, pageSize int) ([]json.RawMessage, error) {
	listKey := logListKeys[path]
	var out []json.RawMessage
	next := ""
	for range 1000 {
		pg := map[string]any{"pageSize": pageSize}
		if next != "" {
			pg["pageToken"] = next
		}
		var page logPage
		if status := c.postRaw(path, map[string]any{"meta": map[string]any{"pagination": pg}, "data": []any{filter}}, &page); status != http.StatusOK {
			return nil, fmt.Errorf("status %d", status)
		}
		if len(page.Fail) > 0 {
			return nil, fmt.Errorf("fail %s", page.Fail[0])
		}
		if len(page.Data) != 1 {
			return nil, fmt.Errorf("data has %d items, want 1 wrapper", len(page.Data))
		}
		var recs []json.RawMessage
		if err := json.Unmarshal(page.Data[0][listKey], &recs); err != nil {
			return nil, fmt.Errorf("data[0].%s: %w", listKey, err)
		}
		out = append(out, recs...)
		if next = page.Meta.Pagination.Next; next == "" {
			return out, nil
		}
	}
	return nil, fmt.Errorf("pagination did not end")
}

func canonical(t *testing.T, raws []json.RawMessage) []string {
	t.Helper()
	out := make([]string, len(raws))
	for i, r := range raws {
		var v any
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		out[i] = string(b)
	}
	return out
}

func TestMailLogFunctions(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 21, Mailboxes: 40, Days: 3})
	c := newRawClient(t, s, srv)
	c.login()
	from, to := testNow.Add(-72*time.Hour), testNow
	window := map[string]any{"from": "2026-03-07T12:00:00+0000", "to": "2026-03-10T12:00:00Z"}
	tests := []struct {
		path  string
		table *schema.Table
		keys  []string
	}{
		{PathTTPURL, &schema.TtpURL, []string{"userEmailAddress", "fromUserEmailAddress", "url", "ttpDefinition", "action", "scanResult", "category", "sendingIp", "date", "route", "creationMethod", "messageId", "emailPartsDescription"}},
		{PathTTPAttachment, &schema.TtpAttachment, []string{"senderAddress", "recipientAddress", "fileName", "fileType", "result", "actionTriggered", "date", "details", "route", "messageId", "subject", "fileHash", "definition"}},
		{PathTTPImpersonation, &schema.TtpImpersonation, []string{"id", "senderAddress", "recipientAddress", "subject", "definition", "hits", "identifiers", "action", "taggedExternal", "taggedMalicious", "senderIpAddress", "eventTime", "impersonationResults", "messageId"}},
		{PathDLP, &schema.SegDlp, []string{"senderAddress", "recipientAddress", "subject", "eventTime", "route", "policy", "action", "messageId"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			want, err := s.LogRecords(tt.path, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) < 3 {
				t.Fatalf("only %d records in 3 days", len(want))
			}
			got, err := c.collectLogs(tt.path, window, 2)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(canonical(t, got), canonical(t, want)) {
				t.Fatalf("paged %d records, ground truth %d, or they differ", len(got), len(want))
			}
			for _, raw := range got {
				var m map[string]any
				_ = json.Unmarshal(raw, &m)
				for _, k := range tt.keys {
					if _, ok := m[k]; !ok {
						t.Fatalf("record lacks %q: %s", k, raw)
					}
				}
				if _, err := tt.table.Decode("t1", raw, testNow); err != nil {
					t.Fatalf("%s rejects %s: %v", tt.table.Name, raw, err)
				}
			}
			oldest, err := c.collectLogs(tt.path, map[string]any{"from": window["from"], "to": window["to"], "oldestFirst": true}, 500)
			if err != nil {
				t.Fatal(err)
			}
			rev := canonical(t, oldest)
			slices.Reverse(rev)
			if !slices.Equal(rev, canonical(t, want)) {
				t.Error("oldestFirst is not the reverse of the default order")
			}
		})
	}
	t.Run("unknown function", func(t *testing.T) {
		if _, err := s.LogRecords("/api/nope", from, to); err == nil {
			t.Error("LogRecords accepted an unknown path")
		}
	})
}

func TestMailLogFiltersAndTokens(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 22, Mailboxes: 40, Days: 3})
	c := newRawClient(t, s, srv)
	c.login()
	base := map[string]any{"from": "2026-03-07T12:00:00+0000", "to": "2026-03-10T12:00:00+0000"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{k: v}
		for kk, vv := range base {
			m[kk] = vv
		}
		return m
	}
	all, err := c.collectLogs(PathTTPURL, base, 500)
	if err != nil {
		t.Fatal(err)
	}
	mal, err := c.collectLogs(PathTTPURL, with("scanResult", "malicious"), 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(mal) == 0 || len(mal) >= len(all) {
		t.Fatalf("scanResult=malicious kept %d of %d", len(mal), len(all))
	}
	for _, r := range mal {
		if !strings.Contains(string(r), `"scanResult":"malicious"`) {
			t.Fatalf("non-malicious record in filtered result: %s", r)
		}
	}
	holds, err := c.collectLogs(PathDLP, with("actions", []string{"hold"}), 500)
	if err != nil {
		t.Fatal(err)
	}
	dlp, _ := c.collectLogs(PathDLP, base, 500)
	if len(holds)*2 != len(dlp) {
		t.Errorf("DLP holds %d, all %d; every hit has a notification and a hold", len(holds), len(dlp))
	}

	// A token is bound to its function and filter.
	var first logPage
	c.postRaw(PathTTPURL, map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": 1}}, "data": []any{base}}, &first)
	next := first.Meta.Pagination.Next
	if next == "" {
		t.Fatal("no next token")
	}
	cases := []struct {
		name string
		path string
		data []any
		ok   bool
	}{
		{"same function and filter", PathTTPURL, []any{base}, true},
		{"token only", PathTTPURL, nil, true},
		{"other filter", PathTTPURL, []any{with("route", "inbound")}, false},
		{"other function", PathTTPAttachment, []any{base}, false},
		{"other function, token only", PathDLP, nil, false},
		{"audit function", "/api/audit/get-audit-events", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": 1, "pageToken": next}}}
			if tc.data != nil {
				body["data"] = tc.data
			}
			var page logPage
			c.postRaw(tc.path, body, &page)
			if got := len(page.Fail) == 0; got != tc.ok {
				t.Errorf("accepted = %t, want %t (fail %s)", got, tc.ok, page.Fail)
			}
		})
	}
	t.Run("bad dates", func(t *testing.T) {
		var page apiResponse
		c.postRaw(PathTTPAttachment, map[string]any{"data": []any{map[string]any{"from": "yesterday", "to": "2026-03-10T12:00:00+0000"}}}, &page)
		if page.failCode() != codeDateFormat {
			t.Errorf("fail code %q, want %q", page.failCode(), codeDateFormat)
		}
	})
}

// siemList is the batch listing answer.
type siemList struct {
	Value []struct {
		URL    string `json:"url"`
		Expiry string `json:"expiry"`
		Size   int    `json:"size"`
	} `json:"value"`
	NextPage   string `json:"@nextPage"`
	IsCaughtUp bool   `json:"isCaughtUp"`
	Error      *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c *rawClient) listBatches(params url.Values) (int, siemList) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+PathSIEMBatchCG+"?"+params.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out siemList
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, out
}

// fetchBatch downloads one batch file without Authorization and returns its NDJSON lines.
func fetchBatch(t *testing.T, u string, size int) ([]json.RawMessage, int) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode
	}
	if len(body) != size {
		t.Errorf("file is %d bytes, listing said %d", len(body), size)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	var lines []json.RawMessage
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, json.RawMessage(slices.Clone(sc.Bytes())))
	}
	return lines, resp.StatusCode
}

func TestSIEMBatch(t *testing.T) {
	clock := newFakeClock(testNow)
	s, srv := newTestSim(t, Options{Seed: 23, Mailboxes: 40, Days: 2, Now: clock.Now, Start: testNow})
	c := newRawClient(t, s, srv)
	c.login()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

	for _, typ := range []string{"receipt", "process", "delivery", "spam"} {
		t.Run(typ, func(t *testing.T) {
			params := url.Values{"type": {typ}, "dateRangeStartsAt": {"2026-03-10"}, "dateRangeEndsAt": {"2026-03-10"}, "pageSize": {"3"}}
			var got []json.RawMessage
			urls := map[string]bool{}
			for pages := 0; ; pages++ {
				status, list := c.listBatches(params)
				if status != http.StatusOK || list.NextPage == "" {
					t.Fatalf("status %d, nextPage %q", status, list.NextPage)
				}
				if len(list.Value) > 3 {
					t.Fatalf("%d files on a page of 3", len(list.Value))
				}
				for _, v := range list.Value {
					if urls[v.URL] {
						t.Fatalf("file listed twice: %s", v.URL)
					}
					urls[v.URL] = true
					if _, err := time.Parse("2006-01-02T15:04:05.000Z", v.Expiry); err != nil {
						t.Errorf("expiry %q: %v", v.Expiry, err)
					}
					lines, status := fetchBatch(t, v.URL, v.Size)
					if status != http.StatusOK {
						t.Fatalf("file status %d", status)
					}
					got = append(got, lines...)
				}
				params.Set("nextPage", list.NextPage)
				if list.IsCaughtUp {
					break
				}
				if pages > 200 {
					t.Fatal("never caught up")
				}
			}
			want, err := s.SIEMEvents(typ, day, s.SIEMAvailableUntil().Add(-time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 || !slices.Equal(canonical(t, got), canonical(t, want)) {
				t.Fatalf("files hold %d events, ground truth %d (or they differ)", len(got), len(want))
			}
			for _, line := range got {
				if _, err := schema.SegCg.Decode("t1", line, testNow); err != nil {
					t.Fatalf("Seg_Cg_CL rejects %s: %v", line, err)
				}
			}

			// Caught up: the same cursor lists nothing new until time passes, then only new files.
			_, again := c.listBatches(params)
			if len(again.Value) != 0 || !again.IsCaughtUp {
				t.Errorf("caught-up cursor listed %d files", len(again.Value))
			}
			clock.Advance(time.Hour)
			c.login() // the old token expired with the hour
			params.Set("dateRangeEndsAt", "2026-03-11")
			status, more := c.listBatches(params)
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			for _, v := range more.Value {
				if urls[v.URL] {
					t.Errorf("file listed again after advancing: %s", v.URL)
				}
			}
			if len(more.Value) == 0 {
				t.Fatal("no new files an hour later")
			}
			// URLs expire an hour after listing.
			first := more.Value[0]
			clock.Advance(siemURLTTL + time.Second)
			if _, status := fetchBatch(t, first.URL, first.Size); status != http.StatusForbidden {
				t.Errorf("expired URL status %d, want 403", status)
			}
			clock.Advance(-time.Hour - siemURLTTL - time.Second)
		})
	}
}

func TestSIEMBatchErrors(t *testing.T) {
	s, srv := newTestSim(t, Options{Seed: 24})
	c := newRawClient(t, s, srv)
	tests := []struct {
		name   string
		params url.Values
		token  bool
		want   int
	}{
		{"no token", url.Values{"type": {"receipt"}}, false, http.StatusUnauthorized},
		{"missing type", url.Values{}, true, http.StatusBadRequest},
		{"unknown type", url.Values{"type": {"mta"}}, true, http.StatusBadRequest},
		{"bad date", url.Values{"type": {"receipt"}, "dateRangeStartsAt": {"2026-03-10T00:00:00Z"}}, true, http.StatusBadRequest},
		{"page size too large", url.Values{"type": {"receipt"}, "pageSize": {"101"}}, true, http.StatusBadRequest},
		{"bad cursor", url.Values{"type": {"receipt"}, "nextPage": {"NDU1NA=="}}, true, http.StatusBadRequest},
		{"valid", url.Values{"type": {"url protect"}, "dateRangeStartsAt": {"2026-03-09"}}, true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.token = ""
			if tt.token {
				c.login()
			}
			status, list := c.listBatches(tt.params)
			if status != tt.want {
				t.Fatalf("status %d, want %d", status, tt.want)
			}
			if status == http.StatusBadRequest && (list.Error == nil || list.Error.Code == "") {
				t.Errorf("400 without the error object")
			}
		})
	}
	t.Run("unsigned file URL", func(t *testing.T) {
		if _, status := fetchBatch(t, srv.URL+siemFilePrefix+"forged", 0); status != http.StatusNotFound {
			t.Errorf("status %d, want 404", status)
		}
	})
	t.Run("cursor of another type", func(t *testing.T) {
		c.login()
		_, list := c.listBatches(url.Values{"type": {"receipt"}})
		status, _ := c.listBatches(url.Values{"type": {"process"}, "nextPage": {list.NextPage}})
		if status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", status)
		}
	})
}
