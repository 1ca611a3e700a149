package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// rawPage is a page of any /api function with its records left raw.
type rawPage struct {
	Meta struct {
		Pagination struct {
			Next string `json:"next"`
		} `json:"pagination"`
	} `json:"meta"`
	Data []json.RawMessage `json:"data"`
	Fail []json.RawMessage `json:"fail"`
}

// postBody posts a raw body (nil: no body at all) and decodes the page.
func (c *rawClient) postBody(path string, body []byte) (int, rawPage) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var p rawPage
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		c.t.Fatalf("%s: %v", path, err)
	}
	return resp.StatusCode, p
}

// collectAT pages through an Awareness Training function the way Sentinel's connector does: the first call with
// data (or none), follow-ups with the token alone. listKey "" means records in data[].
func (c *rawClient) collectAT(path string, data []any, pageSize int, listKey string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	next := ""
	for range 500 {
		body := map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": pageSize}}}
		if next != "" {
			body["meta"].(map[string]any)["pagination"].(map[string]any)["pageToken"] = next
		} else if data != nil {
			body["data"] = data
		}
		b, _ := json.Marshal(body)
		status, p := c.postBody(path, b)
		if status != http.StatusOK || len(p.Fail) > 0 {
			return nil, fmt.Errorf("status %d, fail %s", status, p.Fail)
		}
		recs := p.Data
		if listKey != "" && len(p.Data) > 0 {
			var wrap map[string][]json.RawMessage
			if err := json.Unmarshal(p.Data[0], &wrap); err != nil {
				return nil, err
			}
			recs = wrap[listKey]
		}
		out = append(out, recs...)
		if next = p.Meta.Pagination.Next; next == "" {
			return out, nil
		}
	}
	return nil, fmt.Errorf("pagination did not end")
}

func TestAwarenessTraining(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Options{Seed: 51, Mailboxes: 23, Days: 10})
	c := newRawClient(t, s, srv)
	c.login()

	// get-campaign is called with no body at all.
	status, camp := c.postBody(PathATCampaigns, nil)
	if status != http.StatusOK || len(camp.Fail) > 0 || len(camp.Data) < 2 {
		t.Fatalf("get-campaign: status %d, fail %s, %d campaigns", status, camp.Fail, len(camp.Data))
	}
	wantCamps, _ := s.AwarenessRecords(PathATCampaigns, testNow, "")
	if !slices.Equal(canonical(t, camp.Data), canonical(t, wantCamps)) {
		t.Fatal("campaigns differ from ground truth")
	}

	tests := []struct {
		name  string
		path  string
		data  []any
		table *schema.Table
	}{
		{"performance", PathATPerformance, []any{map[string]any{"includeUserDetails": true}}, &schema.AwarenessPerformance},
		{"safe score", PathATSafeScore, nil, &schema.AwarenessSafeScore},
		{"watchlist", PathATWatchlist, nil, &schema.AwarenessWatchlist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.collectAT(tt.path, tt.data, 7, "")
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.AwarenessRecords(tt.path, testNow, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 23 || !slices.Equal(canonical(t, got), canonical(t, want)) {
				t.Fatalf("paged %d records, ground truth %d, or they differ", len(got), len(want))
			}
			for _, raw := range got {
				if _, err := tt.table.Decode("t1", raw, testNow); err != nil {
					t.Fatalf("%s rejects %s: %v", tt.table.Name, raw, err)
				}
			}
		})
	}
	for _, raw := range camp.Data {
		var cm struct {
			ID         string `json:"id"`
			NumClicked int    `json:"numClicked"`
		}
		_ = json.Unmarshal(raw, &cm)
		t.Run("user data "+cm.ID, func(t *testing.T) {
			got, err := c.collectAT(PathATUserData, []any{map[string]any{"id": cm.ID}}, 7, "items")
			if err != nil {
				t.Fatal(err)
			}
			want, _ := s.AwarenessRecords(PathATUserData, testNow, cm.ID)
			if len(got) != 23 || !slices.Equal(canonical(t, got), canonical(t, want)) {
				t.Fatalf("paged %d items, ground truth %d, or they differ", len(got), len(want))
			}
			clicked := 0
			for _, raw := range got {
				if _, err := schema.AwarenessUserData.Decode("t1", raw, testNow); err == nil {
					t.Fatalf("an item without campaignId decoded: %s", raw)
				}
				with, err := schema.WithField(raw, "campaignId", cm.ID)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := schema.AwarenessUserData.Decode("t1", with, testNow); err != nil {
					t.Fatalf("rejects %s: %v", with, err)
				}
				var item struct {
					TimeClicked *string `json:"timeClicked"`
				}
				_ = json.Unmarshal(raw, &item)
				if item.TimeClicked != nil {
					clicked++
				}
			}
			if clicked != cm.NumClicked {
				t.Errorf("%d items clicked, campaign says %d", clicked, cm.NumClicked)
			}
		})
	}
	t.Run("user data errors", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			data []any
			code string
		}{
			{"no id", []any{map[string]any{}}, codeNull},
			{"unknown id", []any{map[string]any{"id": "nope"}}, "err_campaign_not_found"},
		} {
			b, _ := json.Marshal(map[string]any{"data": tc.data})
			_, p := c.postBody(PathATUserData, b)
			if len(p.Fail) == 0 || !bytes.Contains(p.Fail[0], []byte(tc.code)) {
				t.Errorf("%s: fail %s, want %s", tc.name, p.Fail, tc.code)
			}
		}
	})
	t.Run("token of another function", func(t *testing.T) {
		b, _ := json.Marshal(map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": 2}}})
		_, first := c.postBody(PathATWatchlist, b)
		b, _ = json.Marshal(map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageToken": first.Meta.Pagination.Next}}})
		if _, p := c.postBody(PathATSafeScore, b); len(p.Fail) == 0 {
			t.Error("a watchlist token was accepted by get-safe-score-details")
		}
	})
	t.Run("safe score filter", func(t *testing.T) {
		got, err := c.collectAT(PathATSafeScore, []any{map[string]any{"filterBy": []any{map[string]any{"fieldName": "type", "value": "F"}}}}, 50, "")
		if err != nil {
			t.Fatal(err)
		}
		risky := 0
		for _, u := range s.users {
			if u.risky {
				risky++
			}
		}
		if len(got) != risky {
			t.Errorf("%d users graded F, %d risky users", len(got), risky)
		}
	})
}

func TestAwarenessSnapshotsChangeSlowly(t *testing.T) {
	t.Parallel()
	s := mustSim(t, Options{Seed: 52, Mailboxes: 40, Days: 30})
	for _, path := range []string{PathATSafeScore, PathATPerformance, PathATWatchlist} {
		t.Run(path, func(t *testing.T) {
			morning, _ := s.AwarenessRecords(path, testNow.Add(-3*time.Hour), "")
			noon, _ := s.AwarenessRecords(path, testNow, "")
			if !slices.Equal(canonical(t, morning), canonical(t, noon)) {
				t.Error("snapshot changed within a day")
			}
			changed := 0
			prev := canonical(t, noon)
			for d := 1; d <= 14; d++ {
				recs, _ := s.AwarenessRecords(path, testNow.Add(time.Duration(d)*24*time.Hour), "")
				cur := canonical(t, recs)
				n := 0
				for i := range cur {
					if cur[i] != prev[i] {
						n++
					}
				}
				if n > len(cur)/2 {
					t.Errorf("day %d: %d of %d records changed", d, n, len(cur))
				}
				changed += n
				prev = cur
			}
			if changed == 0 {
				t.Error("nothing changed in two weeks")
			}
		})
	}
	t.Run("risky users are graded F, the others never", func(t *testing.T) {
		recs, _ := s.AwarenessRecords(PathATSafeScore, testNow, "")
		for i, raw := range recs {
			var r struct {
				Risk string `json:"risk"`
			}
			_ = json.Unmarshal(raw, &r)
			if (r.Risk == "F") != s.users[i].risky {
				t.Errorf("user %d risky=%t has risk %s", i, s.users[i].risky, r.Risk)
			}
		}
	})
	t.Run("malicious-click stories are by F users", func(t *testing.T) {
		grades := map[string]string{}
		recs, _ := s.AwarenessRecords(PathATSafeScore, testNow, "")
		for _, raw := range recs {
			var r struct {
				Email string `json:"emailAddress"`
				Risk  string `json:"risk"`
			}
			_ = json.Unmarshal(raw, &r)
			grades[r.Email] = r.Risk
		}
		n := 0
		for _, st := range s.Stories(testNow.Add(-5*24*time.Hour), testNow) {
			if st.Kind == StoryMaliciousClick {
				n++
				if grades[st.Users[0]] != "F" {
					t.Errorf("clicker %s has SAFE score %q", st.Users[0], grades[st.Users[0]])
				}
			}
		}
		if n == 0 {
			t.Error("no malicious-click story")
		}
	})
	t.Run("unknown function", func(t *testing.T) {
		if _, err := s.AwarenessRecords("/api/awareness-training/nope", testNow, ""); err == nil {
			t.Error("accepted an unknown function")
		}
	})
}
