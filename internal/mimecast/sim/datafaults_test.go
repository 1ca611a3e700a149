package sim

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// apiTables are the /api log functions with the table that decodes their records and their window fields.
var apiTables = []struct {
	path   string
	table  *schema.Table
	window map[string]any
}{
	{PathTTPURL, &schema.TtpURL, map[string]any{"from": "2026-03-09T00:00:00+0000", "to": "2026-03-10T12:00:00+0000"}},
	{PathTTPAttachment, &schema.TtpAttachment, map[string]any{"from": "2026-03-09T00:00:00+0000", "to": "2026-03-10T12:00:00+0000"}},
	{PathTTPImpersonation, &schema.TtpImpersonation, map[string]any{"from": "2026-03-09T00:00:00+0000", "to": "2026-03-10T12:00:00+0000"}},
	{PathDLP, &schema.SegDlp, map[string]any{"from": "2026-03-09T00:00:00+0000", "to": "2026-03-10T12:00:00+0000"}},
	{PathHeldRelease, &schema.MessageRelease, map[string]any{"start": "2026-03-09T00:00:00+0000", "end": "2026-03-10T12:00:00+0000"}},
	{PathArchiveSearch, &schema.ArchiveSearch, map[string]any{"start": "2026-03-09T00:00:00+0000", "end": "2026-03-10T12:00:00+0000"}},
}

func TestAPIDataFaults(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	clean := mustSim(t, Options{Seed: 43, Mailboxes: 15, Days: 2, Now: func() time.Time { return testNow }})
	for _, faults := range []string{"", "dupes", "badjson", "dupes,badjson,emptymid"} {
		f, err := ParseFaults(faults)
		if err != nil {
			t.Fatal(err)
		}
		s, srv := newTestSim(t, Options{Seed: 43, Mailboxes: 15, Days: 2, Faults: f})
		c := newRawClient(t, s, srv)
		c.login()
		for _, tt := range apiTables {
			t.Run(faults+" "+tt.path, func(t *testing.T) {
				got, err := c.collectLogs(tt.path, tt.window, 100)
				if err != nil {
					t.Fatal(err)
				}
				truth, err := s.APITruth(tt.path, from, testNow)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := clean.LogRecords(tt.path, from, testNow)
				if !slices.Equal(canonical(t, truth.Records), canonical(t, want)) {
					t.Fatalf("truth under faults %q differs from the fault-free tenant", faults)
				}
				var valid, bad []json.RawMessage
				for _, raw := range got {
					if _, err := tt.table.Decode("t1", raw, testNow); err != nil {
						bad = append(bad, raw)
						continue
					}
					valid = append(valid, raw)
				}
				seen := counts(valid)
				if len(seen) != len(truth.Records) {
					t.Fatalf("%d distinct valid records, truth %d", len(seen), len(truth.Records))
				}
				for _, r := range truth.Records {
					if seen[canonicalOne(r)] == 0 {
						t.Fatalf("record missing: %s", r)
					}
				}
				if extra := len(valid) - len(seen); extra != len(truth.Duplicated) {
					t.Errorf("%d repeated records, truth says %d", extra, len(truth.Duplicated))
				}
				for _, d := range truth.Duplicated {
					if seen[canonicalOne(d)] != 2 {
						t.Errorf("duplicated record served %d times", seen[canonicalOne(d)])
					}
				}
				if !slices.Equal(canonical(t, sortedRaw(bad)), canonical(t, sortedRaw(truth.Malformed))) {
					t.Errorf("%d records rejected by %s, truth says %d malformed", len(bad), tt.table.Name, len(truth.Malformed))
				}
			})
		}
		t.Run(faults+" audit", func(t *testing.T) {
			truth, err := s.APITruth(PathAuditEvents, from, testNow)
			if err != nil {
				t.Fatal(err)
			}
			body := func(tok string) map[string]any {
				return auditBody("2026-03-09T00:00:00+0000", "2026-03-10T12:00:00+0000", 200, tok)
			}
			var raws []json.RawMessage
			next := ""
			for range 500 {
				var page struct {
					Meta struct {
						Pagination struct {
							Next string `json:"next"`
						} `json:"pagination"`
					} `json:"meta"`
					Data []json.RawMessage `json:"data"`
				}
				c.postRaw(PathAuditEvents, body(next), &page)
				raws = append(raws, page.Data...)
				if next = page.Meta.Pagination.Next; next == "" || len(page.Data) == 0 && next == dummyNext {
					break
				}
			}
			var bad int
			for _, raw := range raws {
				if _, err := schema.Audit.Decode("t1", raw, testNow); err != nil {
					bad++
				}
			}
			if len(raws) != len(truth.Records)+len(truth.Duplicated)+len(truth.Malformed) || bad != len(truth.Malformed) {
				t.Errorf("served %d (%d bad), truth %d + %d dupes + %d malformed", len(raws), bad, len(truth.Records), len(truth.Duplicated), len(truth.Malformed))
			}
			if (f.Dupes && len(truth.Duplicated) == 0) || (!f.Dupes && len(truth.Duplicated) > 0) ||
				(f.BadJSON && len(truth.Malformed) == 0) || (!f.BadJSON && len(truth.Malformed) > 0) {
				t.Errorf("faults %q: %d dupes, %d malformed", faults, len(truth.Duplicated), len(truth.Malformed))
			}
		})
	}
	t.Run("unknown function", func(t *testing.T) {
		if _, err := clean.APITruth("/api/nope", from, testNow); err == nil {
			t.Error("APITruth accepted an unknown function")
		}
	})
}

func sortedRaw(raws []json.RawMessage) []json.RawMessage {
	out := slices.Clone(raws)
	slices.SortFunc(out, func(a, b json.RawMessage) int { return compareStrings(canonicalOne(a), canonicalOne(b)) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestParseDataFaults(t *testing.T) {
	tests := []struct {
		in   string
		want Faults
	}{
		{"dupes", Faults{Dupes: true}},
		{"GzipFail, expiredurl", Faults{GzipFail: true, ExpiredURL: true}},
		{"badjson,5xx", Faults{BadJSON: true, ServerError: true}},
		{"data", Faults{Dupes: true, GzipFail: true, ExpiredURL: true, BadJSON: true}},
		{"all,data", Faults{RateLimit: true, ServerError: true, TokenExpiry: true, EmptyPage: true, EmptyMid: true, Slow: true,
			Dupes: true, GzipFail: true, ExpiredURL: true, BadJSON: true}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFaults(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseFaults(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if back, err := ParseFaults(got.String()); err != nil || back != got {
				t.Errorf("String() %q does not round-trip", got.String())
			}
		})
	}
	t.Run("all leaves the data faults off", func(t *testing.T) {
		f, _ := ParseFaults("all")
		if f.Dupes || f.GzipFail || f.ExpiredURL || f.BadJSON {
			t.Errorf("all = %+v", f)
		}
	})
	t.Run("unknown data fault", func(t *testing.T) {
		_, err := ParseFaults("dupes,truncated")
		if err == nil || !strings.Contains(err.Error(), "data faults: dupes, gzipfail, expiredurl, badjson, data") {
			t.Errorf("err = %v", err)
		}
	})
}
