package mimecast

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/castwatch/castwatch/internal/testutil"
)

// mockRule is one request/response rule of the recorded Elastic mock (_mock_api/v2-mock-api-examples.json in the corpus beside the repository).
type mockRule struct {
	Path             string              `json:"path"`
	Method           string              `json:"method"`
	QueryParams      map[string]string   `json:"query_params"`
	RequestHeaders   map[string][]string `json:"request_headers"`
	RequestBodyRegex string              `json:"request_body_regex"`
	Response         struct {
		StatusCode int                 `json:"status_code"`
		Headers    map[string][]string `json:"headers"`
		Body       json.RawMessage     `json:"body"`
	} `json:"response"`

	bodyRE *regexp.Regexp
}

// mockHit is one request the mock saw and the index of the rule that answered it (-1: none, answered 404).
type mockHit struct {
	Path string
	Body string
	Form map[string][]string
	Rule int
}

// mockAPI serves the recorded rules: the first rule whose path, method, parameters, headers and body regex all
// match answers; an unmatched request gets 404, as the recorded mock server does.
type mockAPI struct {
	rules []mockRule
	mu    sync.Mutex
	hits  []mockHit
}

func loadMockAPI(t *testing.T) *mockAPI {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), "_mock_api", "v2-mock-api-examples.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Rules []mockRule `json:"rules"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	for i := range file.Rules {
		if re := file.Rules[i].RequestBodyRegex; re != "" {
			file.Rules[i].bodyRE = regexp.MustCompile(re)
		}
	}
	return &mockAPI{rules: file.Rules}
}

func (m *mockAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form := map[string][]string{}
	if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if err := r.ParseForm(); err == nil {
			form = r.PostForm
		}
	}
	hit := mockHit{Path: r.URL.Path, Body: string(body), Form: form, Rule: -1}
	for i, rule := range m.rules {
		if m.matches(rule, r, string(body)) {
			hit.Rule = i
			break
		}
	}
	m.mu.Lock()
	m.hits = append(m.hits, hit)
	m.mu.Unlock()
	if hit.Rule < 0 {
		http.NotFound(w, r)
		return
	}
	resp := m.rules[hit.Rule].Response
	for k, vs := range resp.Headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(resp.Body)
}

func (m *mockAPI) matches(rule mockRule, r *http.Request, body string) bool {
	if rule.Path != r.URL.Path || !strings.EqualFold(rule.Method, r.Method) {
		return false
	}
	if len(rule.QueryParams) > 0 {
		// The credentials may arrive in the query or, as documented, in the form body.
		if err := r.ParseForm(); err != nil {
			return false
		}
		for k, v := range rule.QueryParams {
			if r.Form.Get(k) != v {
				return false
			}
		}
	}
	for k, want := range rule.RequestHeaders {
		got := r.Header.Values(k)
		for _, w := range want {
			found := false
			for _, g := range got {
				if g == w {
					found = true
				}
			}
			if !found {
				return false
			}
		}
	}
	return rule.bodyRE == nil || rule.bodyRE.MatchString(body)
}

func (m *mockAPI) allHits() []mockHit {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mockHit(nil), m.hits...)
}

// countRecords counts log records in a page: data[] items, or for wrapper objects (one list next to optional
// counts such as resultCount) the items of the list.
func countRecords(t *testing.T, p Page) int {
	t.Helper()
	n := 0
	for _, d := range p.Data {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(d, &obj); err != nil {
			t.Fatalf("data item %s: %v", d, err)
		}
		var lists [][]json.RawMessage
		for _, v := range obj {
			var list []json.RawMessage
			if json.Unmarshal(v, &list) == nil && list != nil {
				lists = append(lists, list)
			}
		}
		if len(lists) == 1 {
			n += len(lists[0])
		} else {
			n++
		}
	}
	return n
}

func TestRecordedMockAPI(t *testing.T) {
	mock := loadMockAPI(t)
	tokenRule := mock.rules[0]
	if tokenRule.Path != TokenPath {
		t.Fatalf("first rule is %s, want the token rule", tokenRule.Path)
	}
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	clock := newFakeClock()
	c, err := New(Config{
		BaseURL:      srv.URL,
		ClientID:     tokenRule.QueryParams["client_id"],
		ClientSecret: tokenRule.QueryParams["client_secret"],
	}, WithHTTPClient(srv.Client()), WithClock(clock.Now), WithSleep(clock.Sleep))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		path  string
		start string
		// wantRecords and wantPages count what reached the callback.
		wantRecords int
		wantPages   int
		wantTotal   int
		// wantTokens are the page tokens the client sent, in order.
		wantTokens []string
		// wantUnmatched: the excerpt lacks the rule for the client's last (correct) request, so the mock
		// answers 404 and paging ends with a permanent error.
		wantUnmatched bool
	}{
		{path: "/api/archive/get-archive-search-logs", wantRecords: 4, wantPages: 2, wantTotal: 7, wantTokens: []string{"", "nexttoken", "lasttoken"}},
		{path: "/api/dlp/get-logs", wantRecords: 4, wantPages: 2, wantTotal: 3, wantTokens: []string{"", "nexttoken", "lasttoken"}},
		{path: "/api/ttp/attachment/get-logs", wantRecords: 4, wantPages: 2, wantTotal: 6322, wantTokens: []string{"", "nexttoken", "lasttoken"}},
		{path: "/api/ttp/impersonation/get-logs", wantRecords: 2, wantPages: 1, wantTotal: 20, wantTokens: []string{"", "nexttoken"}, wantUnmatched: true},
		{path: "/api/ttp/impersonation/get-logs", start: "lasttoken", wantTokens: []string{"lasttoken"}},
		{path: "/api/ttp/url/get-logs", wantRecords: 2, wantPages: 1, wantTotal: 42, wantTokens: []string{"", "nexttoken"}, wantUnmatched: true},
		{path: "/api/gateway/get-held-release-logs", start: "nexttoken", wantRecords: 2, wantPages: 1, wantTotal: 6376, wantTokens: []string{"nexttoken", "lasttoken"}, wantUnmatched: true},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.path, "/api/")+"@"+tt.start, func(t *testing.T) {
			before := len(mock.allHits())
			records, pages, total := 0, 0, 0
			err := c.Paginate(context.Background(), PageRequest{Path: tt.path, PageSize: 2, PageToken: tt.start}, func(p Page) error {
				pages++
				records += countRecords(t, p)
				if pages == 1 {
					total = p.TotalCount
				}
				return nil
			})
			if tt.wantUnmatched {
				var ae *APIError
				if !IsPermanent(err) || !asAPIError(err, &ae) || ae.Status != http.StatusNotFound {
					t.Fatalf("err = %v, want the mock's 404 for the request it has no rule for", err)
				}
			} else if err != nil {
				t.Fatalf("Paginate: %v", err)
			}
			if records != tt.wantRecords || pages != tt.wantPages || total != tt.wantTotal {
				t.Errorf("records=%d pages=%d total=%d, want %d %d %d", records, pages, total, tt.wantRecords, tt.wantPages, tt.wantTotal)
			}
			var sent []string
			hits := mock.allHits()[before:]
			for i, h := range hits {
				if h.Path == TokenPath {
					continue
				}
				var env struct {
					Meta struct {
						Pagination struct {
							PageToken string `json:"pageToken"`
						} `json:"pagination"`
					} `json:"meta"`
				}
				if err := json.Unmarshal([]byte(h.Body), &env); err != nil {
					t.Fatalf("request %d body %q: %v", i, h.Body, err)
				}
				sent = append(sent, env.Meta.Pagination.PageToken)
				last := i == len(hits)-1
				if h.Rule < 0 && !(tt.wantUnmatched && last) {
					t.Errorf("request %d matched no rule: %s", i, h.Body)
				}
				if h.Rule >= 0 && mock.rules[h.Rule].Path != tt.path {
					t.Errorf("request %d matched a rule for %s", i, mock.rules[h.Rule].Path)
				}
			}
			if strings.Join(sent, ",") != strings.Join(tt.wantTokens, ",") {
				t.Errorf("tokens sent = %q, want %q", sent, tt.wantTokens)
			}
		})
	}

	// One token call served every data call, and it matched the recorded token rule with a form body.
	var tokenHits []mockHit
	for _, h := range mock.allHits() {
		if h.Path == TokenPath {
			tokenHits = append(tokenHits, h)
		}
	}
	if len(tokenHits) != 1 {
		t.Fatalf("token calls = %d, want 1", len(tokenHits))
	}
	if tokenHits[0].Rule != 0 {
		t.Errorf("token request did not match the recorded rule")
	}
	for k, v := range tokenRule.QueryParams {
		if got := tokenHits[0].Form[k]; len(got) != 1 || got[0] != v {
			t.Errorf("form %s = %v, want %q in the body", k, got, v)
		}
	}
}

func asAPIError(err error, target **APIError) bool {
	for err != nil {
		if ae, ok := err.(*APIError); ok {
			*target = ae
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
