package collect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/testutil"
)

func TestWindowedSpecsShape(t *testing.T) {
	specs := WindowedSpecs()
	want := map[string]string{
		"audit": "Audit_CL", "dlp": "Seg_Dlp_CL", "ttp_url": "Ttp_Url_CL", "ttp_attachment": "Ttp_Attachment_CL",
		"ttp_impersonation": "Ttp_Impersonation_CL", "message_release": "Message_Release_CL",
		"archive_search": "Archive_Search_CL",
	}
	if len(specs) != len(want) {
		t.Errorf("%d specs, want %d", len(specs), len(want))
	}
	for name, table := range want {
		t.Run(name, func(t *testing.T) {
			s, ok := specs[name]
			if !ok {
				t.Fatalf("stream %s missing", name)
			}
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			if s.Name != name || s.Table != table {
				t.Errorf("name/table = %s/%s, want %s/%s", s.Name, s.Table, name, table)
			}
			src, ok := schema.SourceOf(table)
			if !ok || src.Endpoint != "POST "+s.Path {
				t.Errorf("path %s, table source %q", s.Path, src.Endpoint)
			}
			if s.PageSize != 500 || s.MinWindow != 15*time.Minute || s.MaxWindow != DefaultMaxWindow || s.Lookback != DefaultLookback {
				t.Errorf("page size %d, min window %s, max window %s, lookback %s", s.PageSize, s.MinWindow, s.MaxWindow, s.Lookback)
			}
		})
	}
	// Each call hands out fresh specs.
	specs["dlp"] = Spec{}
	if WindowedSpecs()["dlp"].Path == "" {
		t.Error("changing a returned map changed the next call's specs")
	}
}

func TestWindowedSpecFilters(t *testing.T) {
	start := time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)
	end := start.Add(90 * time.Minute)
	tests := []struct {
		spec Spec
		want string
	}{
		{AuditSpec(), `{"startDateTime":"2026-03-10T11:00:00+0000","endDateTime":"2026-03-10T12:30:00+0000"}`},
		{DLPSpec(), `{"from":"2026-03-10T11:00:00+0000","to":"2026-03-10T12:30:00+0000","oldestFirst":true}`},
		{TTPURLSpec(), `{"from":"2026-03-10T11:00:00+0000","to":"2026-03-10T12:30:00+0000","route":"all","scanResult":"all","oldestFirst":true}`},
		{TTPAttachmentSpec(), `{"from":"2026-03-10T11:00:00+0000","to":"2026-03-10T12:30:00+0000","route":"all","result":"all","oldestFirst":true}`},
		{TTPImpersonationSpec(), `{"from":"2026-03-10T11:00:00+0000","to":"2026-03-10T12:30:00+0000","oldestFirst":true}`},
		{MessageReleaseSpec(), `{"start":"2026-03-10T11:00:00+0000","end":"2026-03-10T12:30:00+0000"}`},
		{ArchiveSearchSpec(), `{"start":"2026-03-10T11:00:00+0000","end":"2026-03-10T12:30:00+0000"}`},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Name, func(t *testing.T) {
			got, err := json.Marshal(tt.spec.Filter(start, end))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("filter\n got %s\nwant %s", got, tt.want)
			}
			// A window given in another zone is sent in UTC.
			zoned, _ := json.Marshal(tt.spec.Filter(start.In(time.FixedZone("x", 2*3600)), end))
			if !bytes.Equal(zoned, got) {
				t.Errorf("zoned window gives %s", zoned)
			}
		})
	}
}

// corpusRecordLines returns the bare records of a corpus file (API envelopes left out) and the envelopes.
func corpusRecordLines(t *testing.T, rel string) (records, envelopes []json.RawMessage) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	if rel == "message_release_logs/test-release-logs.json" {
		var file struct {
			Events []struct {
				Message string `json:"message"`
			} `json:"events"`
		}
		if err := json.Unmarshal(b, &file); err != nil {
			t.Fatal(err)
		}
		for _, e := range file.Events {
			records = append(records, json.RawMessage(e.Message))
		}
		return records, nil
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(line, &probe); err != nil {
			t.Fatalf("%s: line is not JSON: %v", rel, err)
		}
		if _, ok := probe["meta"]; ok {
			envelopes = append(envelopes, json.RawMessage(line))
			continue
		}
		records = append(records, json.RawMessage(line))
	}
	return records, envelopes
}

// pageOf parses an API response body the way the client does.
func pageOf(t *testing.T, body []byte) mimecast.Page {
	t.Helper()
	var env struct {
		Meta struct {
			Pagination struct {
				Next string `json:"next"`
			} `json:"pagination"`
		} `json:"meta"`
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	return mimecast.Page{Data: env.Data, Next: env.Meta.Pagination.Next}
}

func TestWindowedSpecRecordsFromCorpus(t *testing.T) {
	ingested := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		spec    Spec
		file    string
		list    string
		decoded int // records the table stores
		refused int // records the table rejects (quarantined by the store consumer)
	}{
		{DLPSpec(), "dlp_logs/test-dlp-logs.log", "dlpLogs", 16, 0},
		{TTPURLSpec(), "ttp_url_logs/test-ttp-url-logs.log", "clickLogs", 8, 0},
		{TTPAttachmentSpec(), "ttp_ap_logs/test-ttp-ap-logs.log", "attachmentLogs", 3, 0},
		{TTPImpersonationSpec(), "ttp_ip_logs/test-ttp-ip-logs.log", "impersonationLogs", 3, 0},
		{MessageReleaseSpec(), "message_release_logs/test-release-logs.json", "heldReleaseLogs", 4, 1},
		{ArchiveSearchSpec(), "archive_search_logs/test-archive-search-logs.log", "logs", 12, 0},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Name, func(t *testing.T) {
			table := schema.TableByName(tt.spec.Table)
			recs, envelopes := corpusRecordLines(t, tt.file)
			// A page as the API sends it: one wrapper object holding the list (impersonation adds a count).
			wrapper := map[string]any{tt.list: recs}
			if tt.spec.Name == StreamTTPImpersonation {
				wrapper["resultCount"] = len(recs)
			}
			body, err := json.Marshal(map[string]any{"meta": map[string]any{"status": 200}, "data": []any{wrapper}, "fail": []any{}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.spec.Records(pageOf(t, body))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(recs) {
				t.Fatalf("extracted %d records, want %d", len(got), len(recs))
			}
			decoded, refused := 0, 0
			for i, raw := range got {
				var a, b any
				if json.Unmarshal(raw, &a) != nil || json.Unmarshal(recs[i], &b) != nil || !jsonEqual(a, b) {
					t.Errorf("record %d changed in extraction:\n got %s\nwant %s", i, raw, recs[i])
				}
				if _, err := table.Decode("acme", raw, ingested); err != nil {
					var de *schema.DecodeError
					if !errors.As(err, &de) {
						t.Errorf("record %d: %v is not a decode error", i, err)
					}
					refused++
					continue
				}
				decoded++
			}
			if decoded != tt.decoded || refused != tt.refused {
				t.Errorf("decoded %d, refused %d; want %d, %d", decoded, refused, tt.decoded, tt.refused)
			}
			// The same body through the schema's own unwrapping gives the same records.
			viaSchema, err := schema.UnwrapRecords(tt.spec.Table, body)
			if err != nil || len(viaSchema) != len(got) {
				t.Errorf("schema unwraps %d records (err %v), spec %d", len(viaSchema), err, len(got))
			}
			// The corpus's empty last pages hold no records.
			for _, env := range envelopes {
				if got, err := tt.spec.Records(pageOf(t, env)); err != nil || len(got) != 0 {
					t.Errorf("empty page gives %d records, err %v", len(got), err)
				}
			}
		})
	}
}

func TestWindowedSpecRecordsMalformed(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    int
		wantErr string
	}{
		{"list present", `[{"dlpLogs":[{"a":1},{"a":2}]}]`, 2, ""},
		{"list empty", `[{"dlpLogs":[]}]`, 0, ""},
		{"list null", `[{"dlpLogs":null}]`, 0, ""},
		{"other list only", `[{"clickLogs":[{"a":1}]}]`, 0, ""},
		{"no data", `[]`, 0, ""},
		{"wrapper not an object", `[["x"]]`, 0, "not an object"},
		{"list not an array", `[{"dlpLogs":{"a":1}}]`, 0, "not an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var data []json.RawMessage
			if err := json.Unmarshal([]byte(tt.data), &data); err != nil {
				t.Fatal(err)
			}
			got, err := DLPSpec().Records(mimecast.Page{Data: data})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("got %d records, err %v; want %d", len(got), err, tt.want)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// canonical re-encodes a JSON value with sorted keys, so records compare whatever escaping the server used.
func canonical(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("record %s: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestWindowedSpecsAgainstSimulator runs each windowed stream end to end: the real client against the simulated
// tenant's route, the engine, the embedded bus. What reaches the bus is exactly what the tenant holds for the
// collected span, each record decodes into its table, and a second run fetches nothing.
func TestWindowedSpecsAgainstSimulator(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	s, err := sim.New(sim.Options{Seed: 7, Mailboxes: 40, Days: 2, Start: now, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client, err := mimecast.New(mimecast.Config{BaseURL: srv.URL, ClientID: sim.DefaultClientID,
		ClientSecret: sim.DefaultClientSecret, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	lookback := 36 * time.Hour
	for _, spec := range []Spec{DLPSpec(), TTPURLSpec(), TTPAttachmentSpec(), TTPImpersonationSpec(),
		MessageReleaseSpec(), ArchiveSearchSpec()} {
		t.Run(spec.Name, func(t *testing.T) {
			e := newEnv(t)
			e.clock.t = now
			spec.Lookback = lookback
			spec.PageSize = 25 // several pages per window
			c, err := New(Config{Tenant: "acme.example", Spec: spec, Fetcher: client, Publisher: e.rec,
				Checkpoints: e.bus.Checkpoints(), Now: e.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.Run(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Windows != 2 {
				t.Errorf("windows = %d, want 2 (36 h in 24-hour windows)", st.Windows)
			}
			truth, err := s.LogRecords(spec.Path, now.Add(-lookback), now)
			if err != nil {
				t.Fatal(err)
			}
			if len(truth) < 5 {
				t.Fatalf("the tenant holds only %d records for %s; the test needs more", len(truth), spec.Path)
			}
			want := map[string]bool{}
			for _, r := range truth {
				want[canonical(t, r)] = true
			}
			table := schema.TableByName(spec.Table)
			got := map[string]int{}
			rows := 0
			for _, b := range e.rec.batches {
				if b.Table != spec.Table || b.Stream != spec.Name {
					t.Fatalf("batch for %s/%s", b.Stream, b.Table)
				}
				for _, r := range b.Records {
					rows++
					got[canonical(t, r)]++
					if _, err := table.Decode("acme.example", r, now); err != nil {
						t.Errorf("published record does not decode: %v: %s", err, r)
					}
				}
			}
			for k := range want {
				if got[k] == 0 {
					t.Errorf("record held by the tenant was not collected: %s", k)
				}
			}
			for k := range got {
				if !want[k] {
					t.Errorf("collected a record the tenant does not hold for the span: %s", k)
				}
			}
			// Inclusive windows may return a record stamped on the shared boundary twice, never more.
			if extra := rows - len(want); extra < 0 || extra > 1 {
				t.Errorf("published %d rows for %d records", rows, len(want))
			}
			if st.Rows != rows {
				t.Errorf("stats rows %d, published %d", st.Rows, rows)
			}
			// Caught up: a second run at the same time fetches nothing.
			again, err := c.Run(e.ctx)
			if err != nil || again.Pages != 0 || again.Batches != 0 {
				t.Errorf("second run: %+v, err %v", again, err)
			}
		})
	}
}

// TestWindowedSpecForbidden: a tenant without the product answers 403 app_forbidden, and the run error lets the
// caller recognise it.
func TestWindowedSpecForbidden(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	s, err := sim.New(sim.Options{Seed: 7, Mailboxes: 5, Days: 1, Start: now, Now: func() time.Time { return now },
		MissingProducts: []string{sim.ProductDLP}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client, err := mimecast.New(mimecast.Config{BaseURL: srv.URL, ClientID: sim.DefaultClientID,
		ClientSecret: sim.DefaultClientSecret, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		spec      Spec
		forbidden bool
	}{{DLPSpec(), true}, {TTPURLSpec(), false}} {
		t.Run(tt.spec.Name, func(t *testing.T) {
			e := newEnv(t)
			e.clock.t = now
			c, err := New(Config{Tenant: "acme.example", Spec: tt.spec, Fetcher: client, Publisher: e.rec,
				Checkpoints: e.bus.Checkpoints(), Now: e.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Run(context.Background())
			var ae *mimecast.APIError
			isForbidden := errors.As(err, &ae) && ae.Status == 403 && ae.Code == "app_forbidden"
			if isForbidden != tt.forbidden {
				t.Fatalf("err = %v; forbidden %v, want %v", err, isForbidden, tt.forbidden)
			}
		})
	}
}
