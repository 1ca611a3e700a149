package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// awarenessPage unwraps one hand-written Awareness Training page the way a collector does.
func awarenessPage(t *testing.T, tab *Table, file string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/awareness", file))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := UnwrapRecords(tab.Name, b)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestAwarenessPerformance(t *testing.T) {
	tab := &AwarenessPerformance
	rows := decodeAll(t, tab, awarenessPage(t, tab, "get-performance-details.json"))
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	uniqueKeys(t, tab, rows)
	checkCols(t, tab, rows[0], []colWant{
		{"email", "ann@example.com"},
		{"numIncorrect", 1.0},
		{"numCorrect", 4.0},
		{"numNotWatched", 2.0},
		{"userState", "ACTIVE"},
		{"userId", "u-1"},
	})
	var details []map[string]any
	if err := json.Unmarshal(get(t, tab, rows[0], "userDetails").(json.RawMessage), &details); err != nil ||
		len(details) != 2 || details[1]["status"] != "Not Watched" {
		t.Errorf("userDetails = %s (%v)", get(t, tab, rows[0], "userDetails"), err)
	}
	checkCols(t, tab, rows[1], []colWant{{"userDetails", `[]`}})
	if ts, ok := EventTimeOf(tab, rows[0]); !ok || !ts.Equal(testIngested) {
		t.Errorf("snapshot event time %v, want the ingestion time", ts)
	}
}

func TestAwarenessSafeScore(t *testing.T) {
	tab := &AwarenessSafeScore
	rows := decodeAll(t, tab, awarenessPage(t, tab, "get-safe-score-details.json"))
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	checkCols(t, tab, rows[0], []colWant{{"emailAddress", "ann@example.com"}, {"risk", "D"}, {"knowledge", "F"},
		{"humanError", "C"}, {"sentiment", "B"}, {"engagement", "D"}, {"department", "Finance"}})
	// A later snapshot of the same user has the same key, so the store replaces the row.
	later, err := WithField(awarenessPage(t, tab, "get-safe-score-details.json")[0], "risk", "B")
	if err != nil {
		t.Fatal(err)
	}
	row, err := tab.Decode("acme", later, testIngested)
	if err != nil {
		t.Fatal(err)
	}
	if keyOf(tab, row) != keyOf(tab, rows[0]) {
		t.Error("a new snapshot of one user has another key")
	}
	checkCols(t, tab, row, []colWant{{"risk", "B"}})
	if keyOf(tab, rows[0]) == keyOf(tab, rows[1]) {
		t.Error("two users share a key")
	}
}

func TestAwarenessWatchlist(t *testing.T) {
	tab := &AwarenessWatchlist
	rows := decodeAll(t, tab, awarenessPage(t, tab, "get-watchlist-details.json"))
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	checkCols(t, tab, rows[0], []colWant{{"email", "ann@example.com"}, {"watchlistCount", 3.0}, {"userId", "u-1"}})
}

func TestAwarenessUserData(t *testing.T) {
	tab := &AwarenessUserData
	items := awarenessPage(t, tab, "get-user-data.json")
	if len(items) != 2 {
		t.Fatalf("%d items, want 2", len(items))
	}
	// Items do not name their campaign: without campaignId the row has no key.
	_, err := tab.Decode("acme", items[0], testIngested)
	wantDecodeError(t, tab, err, "missing campaignId")
	var rows []Row
	for _, campaign := range []string{"camp-1", "camp-2"} {
		for _, it := range items {
			rec, err := WithField(it, "campaignId", campaign)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, decodeAll(t, tab, []json.RawMessage{rec})...)
		}
	}
	uniqueKeys(t, tab, rows)
	checkCols(t, tab, rows[0], []colWant{
		{"campaignId", "camp-1"},
		{"email", "ann@example.com"},
		{"status", "CLICKED"},
		{"timeReported", nil},
		{"timeClicked", utc("2025-09-01T09:01:35Z")},
		{"clickedIp", "198.51.100.7"},
		{"reactionTime", 95.0},
		{"numCampaignsClicked", 2.0},
	})
	checkCols(t, tab, rows[1], []colWant{{"timeReported", utc("2025-09-01T09:30:00Z")}, {"reactionTime", nil}})
	// One user in two campaigns: two rows.
	sameIDDifferentKey(t, tab, rows[0], rows[2], "email")
}
