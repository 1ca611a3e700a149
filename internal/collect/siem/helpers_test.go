package siem

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/collect/collecttest"
	"github.com/castwatch/castwatch/internal/mimecast"
)

// fakeFile is one batch file the fake API serves.
type fakeFile struct {
	name  string
	lines []string
	// behaviour of the first downloads: "500", "truncate", "expired" (403), consumed one per download
	faults []string
	// expiredListings: the first n listings hand out a URL whose signature is already refused (403)
	expiredListings int
	// stale: the first listing's expiry lies in the past
	stale bool
	// hidden: not listed; listOnce: hidden after its first listing (a file that disappeared)
	hidden, listOnce bool
}

// fakeAPI is a SIEM batch listing plus an object store of gzip NDJSON files. File URLs have a stable path
// (/files/<type>/<day>/<name>) and the signature in the query, like pre-signed object-store URLs.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server
	now func() time.Time

	mu        sync.Mutex
	files     map[string][]*fakeFile // type|day → files in listing order
	dupURL    bool                   // repeat each page's first URL at its end
	listCalls []string
	downloads map[string]int // path → downloads
	listings  map[string]int // path → listings
	refuse    map[string]bool
	badTokens bool           // refuse every nextPage
	failType  map[string]int // listing status per type
}

func newFakeAPI(t *testing.T, now func() time.Time) *fakeAPI {
	f := &fakeAPI{t: t, now: now, files: map[string][]*fakeFile{}, downloads: map[string]int{}, listings: map[string]int{},
		refuse: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /siem/v1/batch/events/{route}", f.list)
	mux.HandleFunc("GET /files/", f.file)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) add(typ, day string, files ...*fakeFile) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[typ+"|"+day] = append(f.files[typ+"|"+day], files...)
}

func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ, day := q.Get("type"), q.Get("dateRangeStartsAt")
	if day == "" || day != q.Get("dateRangeEndsAt") {
		http.Error(w, `{"fail":[{"code":"bad","message":"one day expected"}]}`, http.StatusBadRequest)
		return
	}
	size, err := strconv.Atoi(q.Get("pageSize"))
	if err != nil || size < 1 || size > 100 {
		http.Error(w, `{"fail":[{"code":"bad","message":"pageSize"}]}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listCalls = append(f.listCalls, r.URL.RawQuery)
	if code := f.failType[typ]; code != 0 {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"fail":[{"code":"forbidden","message":"product not enabled"}]}`))
		return
	}
	off := 0
	if tok := q.Get("nextPage"); tok != "" {
		raw, err := base64.StdEncoding.DecodeString(tok)
		parts := strings.SplitN(string(raw), "|", 3)
		if err != nil || f.badTokens || len(parts) != 3 || parts[0] != typ || parts[1] != day {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"fail":[{"code":"invalid_parameter","message":"nextPage is not valid"}]}`))
			return
		}
		off, _ = strconv.Atoi(parts[2])
	}
	var visible []*fakeFile
	for _, ff := range f.files[typ+"|"+day] {
		if !ff.hidden {
			visible = append(visible, ff)
		}
	}
	end := min(off+size, len(visible))
	value := []map[string]any{}
	for _, ff := range visible[min(off, end):end] {
		path := f.pathOf(typ, day, ff)
		f.listings[path]++
		n := f.listings[path]
		sig := "ok" + strconv.Itoa(n)
		if n <= ff.expiredListings {
			sig = "expired" + strconv.Itoa(n)
		}
		expiry := f.now().Add(time.Hour)
		if ff.stale && n == 1 {
			expiry = f.now().Add(-time.Minute)
			sig = "expired" + strconv.Itoa(n)
		}
		if ff.listOnce {
			ff.hidden = true
		}
		value = append(value, map[string]any{"url": f.srv.URL + path + "?X-Sig=" + sig,
			"expiry": expiry.UTC().Format("2006-01-02T15:04:05.000Z"), "size": len(gz(ff.lines))})
	}
	if f.dupURL && len(value) > 0 {
		value = append(value, value[0])
	}
	next := base64.StdEncoding.EncodeToString([]byte(typ + "|" + day + "|" + strconv.Itoa(end)))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"value": value, "@nextPage": next, "isCaughtUp": end >= len(visible)})
}

func (f *fakeAPI) pathOf(typ, day string, ff *fakeFile) string {
	return "/files/" + strings.ReplaceAll(typ, " ", "-") + "/" + day + "/" + ff.name
}

func (f *fakeAPI) file(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		f.t.Errorf("file download carried an Authorization header")
	}
	f.mu.Lock()
	var found *fakeFile
	for key, files := range f.files {
		typ, day, _ := strings.Cut(key, "|")
		for _, ff := range files {
			if f.pathOf(typ, day, ff) == r.URL.Path {
				found = ff
			}
		}
	}
	f.downloads[r.URL.Path]++
	fault := ""
	if found != nil && strings.HasPrefix(r.URL.Query().Get("X-Sig"), "ok") && len(found.faults) > 0 {
		fault, found.faults = found.faults[0], found.faults[1:]
	}
	f.mu.Unlock()
	switch {
	case found == nil:
		http.Error(w, "<Error><Code>NoSuchKey</Code></Error>", http.StatusNotFound)
		return
	case strings.HasPrefix(r.URL.Query().Get("X-Sig"), "expired") || fault == "expired":
		http.Error(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", http.StatusForbidden)
		return
	case fault == "500":
		http.Error(w, "<Error><Code>InternalError</Code></Error>", http.StatusInternalServerError)
		return
	}
	body := gz(found.lines)
	if fault == "truncate" {
		body = body[:len(body)*2/3]
	}
	w.Header().Set("Content-Type", "application/gzip")
	_, _ = w.Write(body)
}

func (f *fakeAPI) downloadsOf(typ, day, name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.downloads["/files/"+strings.ReplaceAll(typ, " ", "-")+"/"+day+"/"+name]
}

func gz(lines []string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	for _, l := range lines {
		_, _ = zw.Write([]byte(l + "\n"))
	}
	_ = zw.Close()
	return b.Bytes()
}

// cgLines returns n Cloud Gateway records of a type, with ids prefixed by tag.
func cgLines(typ, tag string, n int, at time.Time) []string {
	out := make([]string, n)
	for i := range out {
		rec := map[string]any{"_offset": i, "_partition": 1, "accountId": "C0A0", "aggregateId": fmt.Sprintf("%s-agg-%d", tag, i),
			"processingId": fmt.Sprintf("%s-proc-%d", tag, i), "timestamp": at.Add(time.Duration(i) * time.Second).UnixMilli(),
			"type": typ, "subtype": nil, "messageId": fmt.Sprintf("<%s-%d@example.com>", tag, i)}
		b, _ := json.Marshal(rec)
		out[i] = string(b)
	}
	return out
}

type noAuth struct{}

func (noAuth) Authorize(context.Context, *http.Request) error { return nil }
func (noAuth) Invalidate(*http.Request)                       {}

// newClient is a real API client for the fake: one attempt per call, so injected failures surface at once.
func newClient(t *testing.T, base string, attempts int) *mimecast.Client {
	t.Helper()
	c, err := mimecast.New(mimecast.Config{BaseURL: base, MaxRetries: attempts, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		Timeout: 2 * time.Minute}, mimecast.WithAuthorizer(noAuth{}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openBus(t *testing.T) *bus.Bus { return collecttest.OpenBus(t) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// drain reads every message on the bus.
func drain(t *testing.T, b *bus.Bus) []bus.Msg { return collecttest.Drain(t, b) }

// batches decodes drained messages.
func batches(t *testing.T, msgs []bus.Msg) []collect.Batch {
	t.Helper()
	out := make([]collect.Batch, 0, len(msgs))
	for _, m := range msgs {
		b, err := collect.DecodeBatch(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// recordCounts counts published records by their processingId.
func recordCounts(t *testing.T, bs []collect.Batch) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, b := range bs {
		for _, r := range b.Records {
			var m struct {
				ProcessingID string `json:"processingId"`
			}
			if err := json.Unmarshal(r, &m); err != nil {
				t.Fatal(err)
			}
			out[m.ProcessingID]++
		}
	}
	return out
}

// assertExactlyOnce checks that every record of lines was published exactly once, and nothing else.
func assertExactlyOnce(t *testing.T, got map[string]int, lines ...[]string) {
	t.Helper()
	want := map[string]bool{}
	for _, ls := range lines {
		for _, l := range ls {
			var m struct {
				ProcessingID string `json:"processingId"`
			}
			if json.Unmarshal([]byte(l), &m) == nil && m.ProcessingID != "" {
				want[m.ProcessingID] = true
			}
		}
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("record %s published %d times, want once", id, got[id])
		}
	}
	for id, n := range got {
		if !want[id] {
			t.Errorf("unexpected record %s published %d times", id, n)
		}
	}
}

type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
