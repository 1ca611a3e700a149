package sim

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// feedCall posts one get-feed request and returns the status, the next-token header and the body.
func (c *rawClient) feedCall(data map[string]any) (int, http.Header, []byte) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{"data": []any{data}})
	req, _ := http.NewRequest(http.MethodPost, c.base+PathThreatIntel, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

// bundleObjects returns the objects of a STIX bundle.
func bundleObjects(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var b struct {
		Type    string           `json:"type"`
		ID      string           `json:"id"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.Type != "bundle" || !strings.HasPrefix(b.ID, "bundle--") {
		t.Fatalf("not a STIX bundle (%v): %.200s", err, body)
	}
	return b.Objects
}

func TestThreatIntelFeed(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(testNow)
	s, srv := newTestSim(t, Options{Seed: 61, Mailboxes: 20, Days: 2, Now: clock.Now})
	c := newRawClient(t, s, srv)
	c.login()
	for _, feed := range []string{FeedCustomer, FeedGrid} {
		t.Run(feed, func(t *testing.T) {
			var indicators []json.RawMessage
			kinds := map[string]int{}
			tok, calls := "", 0
			for ; calls < 100; calls++ {
				data := map[string]any{"feedType": feed, "fileType": "stix", "start": "2026-03-08T12:00:00+0000"}
				if tok != "" {
					data["token"] = tok
				}
				status, hdr, body := c.feedCall(data)
				next := hdr.Get(threatFeedToken)
				if status != http.StatusOK || next == "" {
					t.Fatalf("status %d, token %q: %s", status, next, body)
				}
				objs := bundleObjects(t, body)
				for _, o := range objs {
					kinds[o["type"].(string)]++
				}
				recs, err := schema.UnwrapRecords("Threat_Intel_CL", body)
				if err != nil {
					t.Fatal(err)
				}
				indicators = append(indicators, recs...)
				if next == tok {
					if len(objs) != 0 {
						t.Errorf("the end of the feed carried %d objects", len(objs))
					}
					break
				}
				tok = next
			}
			want, err := s.ThreatIntelIndicators(feed, time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), testNow)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 || !slices.Equal(canonical(t, indicators), canonical(t, want)) {
				t.Fatalf("feed gave %d indicators in %d calls, ground truth %d (or they differ)", len(indicators), calls, len(want))
			}
			if kinds["malware"] != len(want) || kinds["relationship"] != len(want) {
				t.Errorf("objects per kind %v for %d indicators", kinds, len(want))
			}
			for _, raw := range indicators {
				if _, err := schema.ThreatIntel.Decode("t1", raw, testNow); err == nil {
					t.Fatalf("an indicator without feedType decoded: %s", raw)
				}
				with, _ := schema.WithField(raw, "feedType", feed)
				if _, err := schema.ThreatIntel.Decode("t1", with, testNow); err != nil {
					t.Fatalf("Threat_Intel_CL rejects %s: %v", with, err)
				}
			}
			// New sightings appear behind the last token.
			clock.Advance(6 * time.Hour)
			defer clock.Advance(-6 * time.Hour)
			c.login()
			_, hdr, body := c.feedCall(map[string]any{"feedType": feed, "token": tok})
			more, _ := schema.UnwrapRecords("Threat_Intel_CL", body)
			later, _ := s.ThreatIntelIndicators(feed, testNow, clock.Now())
			if hdr.Get(threatFeedToken) == tok || len(more) != len(later) {
				t.Errorf("after 6 h: %d new indicators, ground truth %d", len(more), len(later))
			}
		})
	}
	t.Run("customer feed holds the hashes of malicious attachments", func(t *testing.T) {
		from := time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
		hashes := map[string]bool{}
		for _, typ := range []string{"av", "attachment protect"} {
			evs, _ := s.SIEMEvents(typ, from, testNow)
			for _, e := range evs {
				var m map[string]any
				_ = json.Unmarshal(e, &m)
				hashes[m["sha256"].(string)] = true
			}
		}
		recs, _ := s.ThreatIntelIndicators(FeedCustomer, from, testNow)
		for _, raw := range recs {
			with, _ := schema.WithField(raw, "feedType", FeedCustomer)
			row, err := schema.ThreatIntel.Decode("t1", with, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if v := row[schema.ThreatIntel.ColumnIndex("value")].(string); !hashes[v] {
				t.Errorf("indicator %s is not a malicious attachment seen in mail", v)
			}
		}
	})
	t.Run("compressed", func(t *testing.T) {
		status, hdr, body := c.feedCall(map[string]any{"feedType": FeedGrid, "start": "2026-03-09T00:00:00+0000", "compress": true})
		if status != http.StatusOK || !strings.Contains(hdr.Get("Content-Disposition"), "malware_grid_stix_") {
			t.Fatalf("status %d, disposition %q", status, hdr.Get("Content-Disposition"))
		}
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if err != nil || len(zr.File) != 1 {
			t.Fatalf("not a zip with one file: %v", err)
		}
		f, _ := zr.File[0].Open()
		inner, _ := io.ReadAll(f)
		_, _, plain := c.feedCall(map[string]any{"feedType": FeedGrid, "start": "2026-03-09T00:00:00+0000"})
		if len(bundleObjects(t, inner)) == 0 || len(bundleObjects(t, inner)) != len(bundleObjects(t, plain)) {
			t.Error("zipped bundle differs from the plain one")
		}
	})
	for _, tc := range []struct {
		name string
		data map[string]any
		code string
	}{
		{"unknown feed", map[string]any{"feedType": "malware_other"}, "err_validation_invalid_feed_type"},
		{"csv", map[string]any{"feedType": FeedGrid, "fileType": "csv"}, "err_validation_invalid_file_type"},
		{"bad start", map[string]any{"feedType": FeedGrid, "start": "yesterday"}, codeDateFormat},
		{"forged token", map[string]any{"feedType": FeedGrid, "token": "abc"}, "err_threat_intel_invalid_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, body := c.feedCall(tc.data)
			var p apiResponse
			_ = json.Unmarshal(body, &p)
			if p.failCode() != tc.code {
				t.Errorf("fail code %q, want %q", p.failCode(), tc.code)
			}
		})
	}
}

func TestHeldReleaseAndArchiveSearch(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Options{Seed: 62, Mailboxes: 20, Days: 2})
	c := newRawClient(t, s, srv)
	c.login()
	from := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	held, err := c.collectLogs(PathHeldRelease, map[string]any{"start": "2026-03-09T00:00:00+0000", "end": "2026-03-10T12:00:00+0000"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{}
	for _, raw := range held {
		var r struct {
			Status, Released string
			Operator         struct{ EmailAddress string }
		}
		_ = json.Unmarshal(raw, &r)
		statuses[r.Status]++
		rel, err := time.Parse("2006-01-02T15:04:05-0700", r.Released)
		if err != nil || rel.Before(from) || rel.After(testNow) || !slices.Contains(s.Mailboxes()[:max(1, s.admins)], r.Operator.EmailAddress) {
			t.Errorf("release %s at %v by %q", r.Status, rel, r.Operator.EmailAddress)
		}
	}
	if statuses["released"] == 0 || statuses["rejected"] == 0 {
		t.Errorf("statuses %v", statuses)
	}
	searches, err := c.collectLogs(PathArchiveSearch, map[string]any{"start": "2026-03-09T00:00:00+0000", "end": "2026-03-10T12:00:00+0000"}, 10)
	if err != nil || len(searches) == 0 {
		t.Fatalf("%d searches, %v", len(searches), err)
	}
	for _, tc := range []struct {
		name   string
		path   string
		filter map[string]any
		code   string
	}{
		{"held release with from/to", PathHeldRelease, map[string]any{"from": "2026-03-09T00:00:00+0000", "to": "2026-03-10T00:00:00+0000"}, codeNull},
		{"archive with a bad end", PathArchiveSearch, map[string]any{"start": "2026-03-09T00:00:00+0000", "end": "soon"}, codeDateFormat},
		{"archive with start after end", PathArchiveSearch, map[string]any{"start": "2026-03-10T00:00:00+0000", "end": "2026-03-09T00:00:00+0000"}, codeDateRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p apiResponse
			c.postRaw(tc.path, map[string]any{"data": []any{tc.filter}}, &p)
			if p.failCode() != tc.code {
				t.Errorf("fail code %q, want %q", p.failCode(), tc.code)
			}
		})
	}
}
