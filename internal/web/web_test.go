package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// testNow is the fixed clock of these tests.
var testNow = time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)

// builtAssets is a static tree with the vendored files present.
func builtAssets() fstest.MapFS {
	return fstest.MapFS{
		"app.js":                {Data: []byte("// app")},
		"app.css":               {Data: []byte("body{}")},
		"vendor/htmx.min.js":    {Data: []byte("// htmx")},
		"vendor/echarts.min.js": {Data: []byte("// echarts")},
	}
}

// unbuiltAssets is a static tree as a fresh checkout has it: no vendor/ folder.
func unbuiltAssets() fstest.MapFS {
	return fstest.MapFS{
		"app.js":  {Data: []byte("// app")},
		"app.css": {Data: []byte("body{}")},
	}
}

func loadAlerts(t *testing.T) []schema.Alert {
	t.Helper()
	raw, err := os.ReadFile("testdata/alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	var alerts []schema.Alert
	if err := json.Unmarshal(raw, &alerts); err != nil {
		t.Fatal(err)
	}
	return alerts
}

// populatedStore returns a fake store with two failing users (one hostile), two IPs and the fixture alerts.
func populatedStore(t *testing.T) *fakeStore {
	t.Helper()
	last := time.Date(2026, 3, 10, 8, 14, 0, 0, time.UTC)
	return &fakeStore{
		connectors: []store.Connector{{Tenant: "acme", Stream: "audit", State: "ok", LastSuccess: last, Rows: 42}},
		results: map[string]*store.Result{
			"summary": {
				Columns: []string{"events", "failures", "failing_users"},
				Rows:    [][]any{{int64(4321), int64(17), int64(2)}},
			},
			"users": {
				Columns: []string{"user_name", "failures", "last_seen"},
				Rows: [][]any{
					{"<script>alert('x')</script>@evil.example", int64(12), last},
					{"alice@example.com", int64(5), last.Add(-time.Hour)},
				},
			},
			"ips": {
				Columns: []string{"ip", "failures", "users", "last_seen"},
				Rows: [][]any{
					{"203.0.113.7", int64(12), int64(1), last},
					{"2001:db8::1", int64(5), int64(2), last.Add(-2 * time.Hour)},
				},
			},
		},
		alertList: loadAlerts(t),
	}
}

type harness struct {
	h     http.Handler
	store *fakeStore
}

func newHarness(t *testing.T, st *fakeStore, mod func(*Options)) harness {
	t.Helper()
	opts := Options{
		Store:   st,
		Version: "1.2.3",
		Now:     func() time.Time { return testNow },
		Static:  builtAssets(),
		Sync:    func(context.Context) error { return nil },
	}
	if mod != nil {
		mod(&opts)
	}
	return harness{h: newTestHandler(t, opts), store: st}
}

func (hs harness) do(t *testing.T, method, target string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func TestNewRequiresStore(t *testing.T) {
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "store is required") {
		t.Fatalf("New without store: err = %v, want store is required", err)
	}
	if _, err := New(Options{Store: &fakeStore{}}); err != nil {
		t.Fatalf("New with only a store: %v", err)
	}
}

func TestHealthz(t *testing.T) {
	hs := newHarness(t, &fakeStore{}, nil)
	res, body := hs.do(t, http.MethodGet, "/healthz", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type = %q", ct)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if got["status"] != "ok" || got["version"] != "1.2.3" || len(got) != 2 {
		t.Errorf("body = %v", got)
	}
	res, _ = hs.do(t, http.MethodPost, "/healthz", nil)
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz status = %d, want 405", res.StatusCode)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "castwatch_test_events_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)

	t.Run("gatherer exposed", func(t *testing.T) {
		hs := newHarness(t, &fakeStore{}, func(o *Options) { o.Gatherer = reg })
		res, body := hs.do(t, http.MethodGet, "/metrics", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status = %d", res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("content type = %q, want text/plain exposition format", ct)
		}
		if !strings.Contains(body, "castwatch_test_events_total 3") {
			t.Errorf("metrics body lacks the counter:\n%s", body)
		}
	})
	t.Run("request metrics by route", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		hs := newHarness(t, &fakeStore{}, func(o *Options) { o.Gatherer = reg; o.Registerer = reg })
		hs.do(t, http.MethodGet, "/healthz", nil)
		hs.do(t, http.MethodGet, "/healthz", nil)
		hs.do(t, http.MethodGet, "/static/app.js", nil)
		hs.do(t, http.MethodGet, "/no/such/page/42", nil)
		_, body := hs.do(t, http.MethodGet, "/metrics", nil)
		for _, want := range []string{
			`castwatch_http_requests_total{code="200",route="GET /healthz"} 2`,
			`castwatch_http_requests_total{code="200",route="GET /static/"} 1`,
			`castwatch_http_requests_total{code="404",route="unmatched"} 1`,
			`castwatch_http_request_duration_seconds_count{route="GET /healthz"} 2`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if strings.Contains(body, "/no/such/page") {
			t.Error("raw path used as a label")
		}
	})
	t.Run("registering twice fails", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		newHarness(t, &fakeStore{}, func(o *Options) { o.Registerer = reg })
		if _, err := New(Options{Store: &fakeStore{}, Registerer: reg}); err == nil || !strings.Contains(err.Error(), "register http metrics") {
			t.Errorf("second New on one registry: err = %v", err)
		}
	})
	t.Run("no gatherer", func(t *testing.T) {
		hs := newHarness(t, &fakeStore{}, nil)
		res, _ := hs.do(t, http.MethodGet, "/metrics", nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("status = %d, want 404", res.StatusCode)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	hs := newHarness(t, populatedStore(t), nil)
	for _, target := range []string{"/", "/healthz", "/static/app.js", "/api/v1/alerts", "/no-such-page"} {
		t.Run(target, func(t *testing.T) {
			res, _ := hs.do(t, http.MethodGet, target, nil)
			csp := res.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self';") {
				t.Errorf("CSP = %q, want script-src 'self' only", csp)
			}
			if m := regexp.MustCompile(`script-src[^;]*`).FindString(csp); strings.Contains(m, "unsafe") {
				t.Errorf("CSP script-src allows unsafe sources: %q", m)
			}
			if !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP = %q, want frame-ancestors 'none'", csp)
			}
			if got := res.Header.Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("X-Frame-Options = %q", got)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
		})
	}
}

var scriptTag = regexp.MustCompile(`(?i)<script\b[^>]*>`)

func TestPageHasNoInlineScript(t *testing.T) {
	hs := newHarness(t, populatedStore(t), nil)
	_, body := hs.do(t, http.MethodGet, "/", nil)
	tags := scriptTag.FindAllString(body, -1)
	if len(tags) != 3 {
		t.Fatalf("script tags = %q, want htmx, echarts and app.js", tags)
	}
	for _, tag := range tags {
		if !strings.Contains(tag, ` src="/static/`) {
			t.Errorf("inline or foreign script: %s", tag)
		}
	}
	if m := regexp.MustCompile(`(?i)<[a-z][^>]*\son[a-z]+=`).FindString(body); m != "" {
		t.Errorf("page has an inline event handler attribute %q", m)
	}
}

func TestOverviewPage(t *testing.T) {
	st := populatedStore(t)
	hs := newHarness(t, st, nil)
	res, body := hs.do(t, http.MethodGet, "/", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d\n%s", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("content type = %q", ct)
	}

	counts := map[string]int{`class="user-row"`: 2, `class="ip-row"`: 2, `class="alert-row"`: 2, `class="connector-row"`: 1,
		`class="empty-row"`: 0}
	for marker, want := range counts {
		if got := strings.Count(body, marker); got != want {
			t.Errorf("%s rendered %d times, want %d", marker, got, want)
		}
	}
	for _, want := range []string{
		`id="failed-logons-chart"`,
		`data-src="/api/v1/charts/failed-logons?range=14d"`,
		`data-user="alice@example.com"`,
		`data-ip="2001:db8::1"`,
		`data-alert-id="al-1"`,
		`data-alert-id="al-2"`,
		"Mimecast support accessed the account",
		`<option value="14d" selected>`,
		"2026-03-10 08:14:00",                      // alert al-1 last event, UTC
		"Last failure (UTC)",                       // times are labelled UTC
		`data-stat="events">4` + "\u202f" + `321<`, // summary card with thousands separator
		`data-stat="alerts">2<`,
		"castwatch 1.2.3",
		`id="sync-now"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Hostile values from the store are escaped, never markup.
	for _, bad := range []string{"<script>alert", "<img src=x", "<img"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;@evil.example",
		"Burst of failed logons for &lt;script&gt;alert(1)&lt;/script&gt;",
		"mallory&lt;img src=x onerror=alert(2)&gt;@example.com",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks escaped %q", want)
		}
	}
	if strings.Contains(body, `id="assets-missing"`) || strings.Contains(body, `id="no-data"`) {
		t.Error("page shows the assets-missing note or the empty state although both assets and data exist")
	}

	// The SQL asked: summary, users and IPs, all over the 14-day window of failed logons.
	qs := st.recorded()
	var kinds []string
	for _, q := range qs {
		kinds = append(kinds, q.Kind)
		wantArgs := []any{failedLogonType, testNow.Add(-14 * day), testNow}
		if len(q.Args) != len(wantArgs) {
			t.Errorf("%s args = %v, want %v", q.Kind, q.Args, wantArgs)
			continue
		}
		for i := range wantArgs {
			if q.Args[i] != wantArgs[i] {
				t.Errorf("%s arg %d = %v, want %v", q.Kind, i+1, q.Args[i], wantArgs[i])
			}
		}
		if !strings.Contains(q.SQL, `FROM "Audit_CL"`) || !strings.Contains(q.SQL, `"eventTime" >= $2 AND "eventTime" < $3`) {
			t.Errorf("%s SQL does not read the Audit_CL window:\n%s", q.Kind, q.SQL)
		}
	}
	if strings.Join(kinds, ",") != "summary,users,ips" {
		t.Errorf("queries = %v, want summary, users, ips", kinds)
	}
	for _, q := range qs {
		if q.Kind == "ips" && !strings.Contains(q.SQL, `regexp_extract("eventInfo", 'IP: ([0-9a-fA-F.:]+)', 1)`) {
			t.Errorf("IP query does not extract the IP from eventInfo:\n%s", q.SQL)
		}
		if q.Kind == "users" && !strings.Contains(q.SQL, `"auditType" = $1`) {
			t.Errorf("users query does not filter the audit type:\n%s", q.SQL)
		}
	}
	f := st.filters()
	if len(f) != 1 || !f[0].Since.Equal(testNow.Add(-14*day)) || f[0].Limit != alertLimit || f[0].Tenant != "" {
		t.Errorf("alert filters = %+v", f)
	}
}

func TestOverviewRangeAndTenant(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		wantFrom   time.Time
		wantOption string
		wantNotice bool
		wantTenant string
	}{
		{"default", "/", testNow.Add(-14 * day), "14d", false, ""},
		{"seven days", "/?range=7d", testNow.Add(-7 * day), "7d", false, ""},
		{"five minutes", "/?range=5m", testNow.Add(-5 * time.Minute), "5m", false, ""},
		{"unknown falls back", "/?range=1y", testNow.Add(-14 * day), "14d", true, ""},
		{"tenant", "/?range=1d&tenant=acme", testNow.Add(-day), "1d", false, "acme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := populatedStore(t)
			hs := newHarness(t, st, nil)
			res, body := hs.do(t, http.MethodGet, tc.target, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d", res.StatusCode)
			}
			if !strings.Contains(body, `<option value="`+tc.wantOption+`" selected>`) {
				t.Errorf("option %s not selected", tc.wantOption)
			}
			if got := strings.Contains(body, `id="notice"`); got != tc.wantNotice {
				t.Errorf("notice shown = %v, want %v", got, tc.wantNotice)
			}
			for _, q := range st.recorded() {
				if q.Args[1] != tc.wantFrom {
					t.Errorf("%s from = %v, want %v", q.Kind, q.Args[1], tc.wantFrom)
				}
				hasTenant := strings.Contains(q.SQL, `"tenant" = $4`)
				if hasTenant != (tc.wantTenant != "") {
					t.Errorf("%s tenant clause = %v, want %v", q.Kind, hasTenant, tc.wantTenant != "")
				}
				if tc.wantTenant != "" && (len(q.Args) != 4 || q.Args[3] != tc.wantTenant) {
					t.Errorf("%s args = %v, want tenant %q last", q.Kind, q.Args, tc.wantTenant)
				}
			}
			if f := st.filters(); len(f) != 1 || f[0].Tenant != tc.wantTenant {
				t.Errorf("alert filter = %+v, want tenant %q", f, tc.wantTenant)
			}
		})
	}
}

func TestOverviewEmptyStates(t *testing.T) {
	t.Run("no data", func(t *testing.T) {
		hs := newHarness(t, &fakeStore{}, nil)
		res, body := hs.do(t, http.MethodGet, "/", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status = %d", res.StatusCode)
		}
		for _, want := range []string{`id="no-data"`, "No data yet", "castwatch sync", "No alerts in this range", "No failed logons in this range", "No collection has run yet"} {
			if !strings.Contains(body, want) {
				t.Errorf("empty page lacks %q", want)
			}
		}
		if n := strings.Count(body, `class="empty-row"`); n != 4 {
			t.Errorf("empty rows = %d, want 4 (users, IPs, alerts, connectors)", n)
		}
	})
	t.Run("events but no failures", func(t *testing.T) {
		st := &fakeStore{results: map[string]*store.Result{
			"summary": {Columns: []string{"events", "failures", "failing_users"}, Rows: [][]any{{int64(50), int64(0), int64(0)}}},
		}}
		hs := newHarness(t, st, nil)
		_, body := hs.do(t, http.MethodGet, "/", nil)
		if strings.Contains(body, `id="no-data"`) {
			t.Error("shows no-data although the store has events")
		}
		if !strings.Contains(body, "No failed logons in this range.") {
			t.Error("lacks the no-failures note")
		}
	})
	t.Run("sync unavailable", func(t *testing.T) {
		hs := newHarness(t, &fakeStore{}, func(o *Options) { o.Sync = nil })
		_, body := hs.do(t, http.MethodGet, "/", nil)
		if strings.Contains(body, `id="sync-now"`) {
			t.Error("Sync now button shown without a Sync function")
		}
		if !strings.Contains(body, "castwatch sync") {
			t.Error("empty state lacks the castwatch sync hint")
		}
	})
}

func TestOverviewStoreErrors(t *testing.T) {
	tests := []struct {
		name  string
		store *fakeStore
	}{
		{"query fails", &fakeStore{queryErr: errors.New("duckdb: secret detail")}},
		{"alerts fail", &fakeStore{alertsErr: errors.New("duckdb: secret detail")}},
		{"missing column", &fakeStore{results: map[string]*store.Result{
			"summary": {Columns: []string{"events"}, Rows: [][]any{{int64(1)}}},
		}}},
		{"bad count type", &fakeStore{results: map[string]*store.Result{
			"summary": {Columns: []string{"events", "failures", "failing_users"}, Rows: [][]any{{"many", int64(0), int64(0)}}},
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, tc.store, nil)
			res, body := hs.do(t, http.MethodGet, "/", nil)
			if res.StatusCode != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", res.StatusCode)
			}
			if !strings.Contains(body, `id="load-error"`) || !strings.Contains(body, "<html") {
				t.Error("page does not render with the error banner")
			}
			if strings.Contains(body, "secret detail") {
				t.Error("store error details leak to the page")
			}
		})
	}
}

func TestOverviewFragment(t *testing.T) {
	hs := newHarness(t, populatedStore(t), nil)
	res, body := hs.do(t, http.MethodGet, "/fragments/overview?range=3d", map[string]string{"HX-Request": "true"})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", res.StatusCode)
	}
	if strings.Contains(body, "<html") || strings.Contains(body, "<script") {
		t.Error("fragment contains the page shell")
	}
	for _, want := range []string{`class="overview" data-range="3d"`, `class="alert-row"`, `data-src="/api/v1/charts/failed-logons?range=3d"`} {
		if !strings.Contains(body, want) {
			t.Errorf("fragment lacks %q", want)
		}
	}
}

func TestAssetsMissing(t *testing.T) {
	tests := []struct {
		name        string
		static      fstest.MapFS
		wantNote    bool
		wantScripts int
	}{
		{"built", builtAssets(), false, 3},
		{"not built", unbuiltAssets(), true, 1},
		{"half built", fstest.MapFS{"app.js": {}, "vendor/htmx.min.js": {}}, true, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, populatedStore(t), func(o *Options) { o.Static = tc.static })
			res, body := hs.do(t, http.MethodGet, "/", nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d", res.StatusCode)
			}
			if got := strings.Contains(body, `id="assets-missing"`); got != tc.wantNote {
				t.Errorf("assets note = %v, want %v", got, tc.wantNote)
			}
			if tc.wantNote && !strings.Contains(body, "make web") {
				t.Error("note does not say to run make web")
			}
			if got := len(scriptTag.FindAllString(body, -1)); got != tc.wantScripts {
				t.Errorf("script tags = %d, want %d", got, tc.wantScripts)
			}
			if strings.Count(body, `class="alert-row"`) != 2 {
				t.Error("tables are not rendered")
			}
		})
	}
}

// TestEmbeddedStatic checks the files built into the binary: own files are always there, vendored ones are
// reported missing exactly when the folder is absent.
func TestEmbeddedStatic(t *testing.T) {
	hs := newHarness(t, &fakeStore{}, func(o *Options) { o.Static = nil })
	for _, tc := range []struct {
		target string
		status int
		ctype  string
	}{
		{"/static/app.js", http.StatusOK, "text/javascript"},
		{"/static/app.css", http.StatusOK, "text/css"},
		{"/static/", http.StatusNotFound, ""},
		{"/static/vendor/", http.StatusNotFound, ""},
		{"/static/nope.js", http.StatusNotFound, ""},
	} {
		t.Run(tc.target, func(t *testing.T) {
			res, _ := hs.do(t, http.MethodGet, tc.target, nil)
			if res.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if tc.ctype != "" && !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) {
				t.Errorf("content type = %q, want %s", res.Header.Get("Content-Type"), tc.ctype)
			}
		})
	}
	_, vendorErr := embeddedStatic.Open("static/" + htmxAsset)
	_, body := hs.do(t, http.MethodGet, "/", nil)
	if got, want := strings.Contains(body, `id="assets-missing"`), vendorErr != nil; got != want {
		t.Errorf("assets note = %v, want %v (vendor open error: %v)", got, want, vendorErr)
	}
}

func TestFailedLogonsChart(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	st := &fakeStore{results: map[string]*store.Result{
		"hourly": {
			Columns: []string{"bucket", "failures"},
			Rows: [][]any{
				{time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC), int64(7)},
				// Same instant as 2026-03-10T09:00Z, returned in another zone.
				{time.Date(2026, 3, 10, 10, 0, 0, 0, berlin), int64(2)},
				{"2026-03-01 00:00:00", int64(1)},
				// Outside the window: ignored.
				{time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), int64(99)},
			},
		},
	}}
	hs := newHarness(t, st, nil)
	res, body := hs.do(t, http.MethodGet, "/api/v1/charts/failed-logons?range=14d", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d: %s", res.StatusCode, body)
	}
	var got struct {
		Range   string    `json:"range"`
		Bucket  string    `json:"bucket"`
		From    time.Time `json:"from"`
		To      time.Time `json:"to"`
		Buckets []string  `json:"buckets"`
		Counts  []int64   `json:"counts"`
		Total   int64     `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if got.Range != "14d" || got.Bucket != "1h" || !got.From.Equal(testNow.Add(-14*day)) || !got.To.Equal(testNow) {
		t.Errorf("header = %+v", got)
	}
	if len(got.Buckets) != 14*24+1 || len(got.Counts) != len(got.Buckets) {
		t.Fatalf("buckets = %d counts = %d, want %d each", len(got.Buckets), len(got.Counts), 14*24+1)
	}
	if got.Buckets[0] != "2026-02-24T12:00:00Z" || got.Buckets[len(got.Buckets)-1] != "2026-03-10T12:00:00Z" {
		t.Errorf("bucket span = %s … %s", got.Buckets[0], got.Buckets[len(got.Buckets)-1])
	}
	want := map[string]int64{"2026-03-10T08:00:00Z": 7, "2026-03-10T09:00:00Z": 2, "2026-03-01T00:00:00Z": 1}
	var sum int64
	for i, b := range got.Buckets {
		if got.Counts[i] != want[b] {
			t.Errorf("count at %s = %d, want %d", b, got.Counts[i], want[b])
		}
		sum += got.Counts[i]
	}
	if got.Total != 10 || sum != 10 {
		t.Errorf("total = %d, sum = %d, want 10", got.Total, sum)
	}
	qs := st.recorded()
	if len(qs) != 1 || qs[0].Kind != "hourly" || !strings.Contains(qs[0].SQL, `date_trunc('hour', "eventTime")`) ||
		qs[0].Args[0] != failedLogonType {
		t.Errorf("queries = %+v", qs)
	}

	t.Run("bad range", func(t *testing.T) {
		res, body := hs.do(t, http.MethodGet, "/api/v1/charts/failed-logons?range=forever", nil)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error":"unknown range`) {
			t.Errorf("status = %d body = %s", res.StatusCode, body)
		}
	})
	t.Run("store error", func(t *testing.T) {
		hs := newHarness(t, &fakeStore{queryErr: errors.New("boom")}, nil)
		res, body := hs.do(t, http.MethodGet, "/api/v1/charts/failed-logons", nil)
		if res.StatusCode != http.StatusInternalServerError || strings.Contains(body, "boom") {
			t.Errorf("status = %d body = %s", res.StatusCode, body)
		}
	})
	t.Run("empty store", func(t *testing.T) {
		hs := newHarness(t, &fakeStore{}, nil)
		_, body := hs.do(t, http.MethodGet, "/api/v1/charts/failed-logons?range=1h", nil)
		if !strings.Contains(body, `"total":0`) || !strings.Contains(body, `"counts":[0,0]`) {
			t.Errorf("body = %s, want two zero buckets", body)
		}
	})
}

func TestAlertsAPI(t *testing.T) {
	st := populatedStore(t)
	hs := newHarness(t, st, nil)
	res, body := hs.do(t, http.MethodGet, "/api/v1/alerts?range=7d&tenant=acme&rule=r1&limit=5", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d: %s", res.StatusCode, body)
	}
	var got struct {
		Range  string           `json:"range"`
		Alerts []map[string]any `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Range != "7d" || len(got.Alerts) != 2 || got.Alerts[0]["id"] != "al-1" || got.Alerts[1]["title"] != "Mimecast support accessed the account" {
		t.Errorf("body = %s", body)
	}
	if _, ok := got.Alerts[0]["entities"].([]any); !ok {
		t.Errorf("alert entities missing: %v", got.Alerts[0])
	}
	f := st.filters()
	want := store.AlertFilter{Tenant: "acme", RuleID: "r1", Since: testNow.Add(-7 * day), Limit: 5}
	if len(f) != 1 || !reflect.DeepEqual(f[0], want) {
		t.Errorf("filter = %+v, want %+v", f, want)
	}

	for _, tc := range []struct {
		name, target string
		store        *fakeStore
		status       int
		contains     string
	}{
		{"empty list is an array", "/api/v1/alerts", &fakeStore{}, http.StatusOK, `"alerts":[]`},
		{"bad limit", "/api/v1/alerts?limit=0", &fakeStore{}, http.StatusBadRequest, "limit must be"},
		{"huge limit", "/api/v1/alerts?limit=100000", &fakeStore{}, http.StatusBadRequest, "limit must be"},
		{"bad range", "/api/v1/alerts?range=2w", &fakeStore{}, http.StatusBadRequest, "unknown range"},
		{"store error", "/api/v1/alerts", &fakeStore{alertsErr: errors.New("boom")}, http.StatusInternalServerError, "could not load alerts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, tc.store, nil)
			res, body := hs.do(t, http.MethodGet, tc.target, nil)
			if res.StatusCode != tc.status || !strings.Contains(body, tc.contains) {
				t.Errorf("status = %d body = %s, want %d containing %q", res.StatusCode, body, tc.status, tc.contains)
			}
			if res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("content type = %q", res.Header.Get("Content-Type"))
			}
		})
	}
}

func TestSync(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		hdr       map[string]string
		syncErr   error
		noSync    bool
		status    int
		wantCalls int32
		contains  string
	}{
		{name: "post starts sync", method: http.MethodPost, status: http.StatusAccepted, wantCalls: 1, contains: `"status":"accepted"`},
		{name: "get refused", method: http.MethodGet, status: http.StatusMethodNotAllowed},
		{name: "sync error", method: http.MethodPost, syncErr: errors.New("collector busy"), status: http.StatusInternalServerError, wantCalls: 1, contains: "collector busy"},
		{name: "no sync configured", method: http.MethodPost, noSync: true, status: http.StatusNotImplemented, contains: "not available"},
		{name: "htmx gets html", method: http.MethodPost, hdr: map[string]string{"HX-Request": "true"}, status: http.StatusAccepted, wantCalls: 1, contains: `data-sync-status="accepted"`},
		{name: "htmx error html", method: http.MethodPost, hdr: map[string]string{"HX-Request": "true"}, syncErr: errors.New("<b>busy</b>"), status: http.StatusInternalServerError, wantCalls: 1, contains: "&lt;b&gt;busy&lt;/b&gt;"},
		{name: "cross-site post refused", method: http.MethodPost, hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: http.StatusForbidden},
		{name: "same-origin post allowed", method: http.MethodPost, hdr: map[string]string{"Sec-Fetch-Site": "same-origin"}, status: http.StatusAccepted, wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			hs := newHarness(t, &fakeStore{}, func(o *Options) {
				o.Sync = func(ctx context.Context) error {
					calls.Add(1)
					return tc.syncErr
				}
				if tc.noSync {
					o.Sync = nil
				}
			})
			res, body := hs.do(t, tc.method, "/api/v1/sync", tc.hdr)
			if res.StatusCode != tc.status {
				t.Errorf("status = %d, want %d (%s)", res.StatusCode, tc.status, body)
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("sync calls = %d, want %d", got, tc.wantCalls)
			}
			if !strings.Contains(body, tc.contains) {
				t.Errorf("body = %q, want it to contain %q", body, tc.contains)
			}
			if strings.Contains(body, "<b>") {
				t.Error("error text not escaped")
			}
		})
	}
}

// TestFooterAttribution: the data-source credit (the built-in GeoIP database's licence asks for it) is on every
// page, escaped, and absent when there is none.
func TestFooterAttribution(t *testing.T) {
	hs := newHarness(t, &fakeStore{}, func(o *Options) { o.Attribution = "IP data by <Example> (CC BY 4.0)" })
	for _, path := range []string{"/", "/alerts", "/dashboards"} {
		_, body := hs.do(t, http.MethodGet, path, nil)
		if !strings.Contains(body, `id="attribution">IP data by &lt;Example&gt; (CC BY 4.0)<`) {
			t.Errorf("%s lacks the escaped attribution", path)
		}
	}
	_, body := newHarness(t, &fakeStore{}, nil).do(t, http.MethodGet, "/", nil)
	if strings.Contains(body, `id="attribution"`) {
		t.Error("an empty attribution is shown")
	}
}
