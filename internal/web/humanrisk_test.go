package web

import (
	"encoding/csv"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// riskRanking reads (mailbox, score) pairs from the human-risk table in page order.
func riskRanking(t *testing.T, body string) [][2]string {
	t.Helper()
	re := regexp.MustCompile(`class="risk-row" data-mailbox="([^"]+)" data-score="(\d+)"`)
	var out [][2]string
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		out = append(out, [2]string{m[1], m[2]})
	}
	return out
}

func assertRanking(t *testing.T, got [][2]string, want [][2]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("ranking = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rank %d = %v, want %v (ranking %v)", i+1, got[i], want[i], got)
		}
	}
}

// TestHumanRisk checks the ranking against scores worked out by hand from peopleRecords and peopleAlerts:
//
//	14 days  alice D 20 + 2 malicious clicks 30 + 1 impersonation 10 + 1 DLP 5 + 2 alerts 16 = 81
//	         erin  F 40                                                                   = 40
//	         bob   B 5 + 2 impersonation 20                                               = 25
//	         dave  3 DLP 15 + 1 alert 8 (the other alert is 40 days old)                   = 23
//	         carol 1 malicious click 15                                                   = 15
//	         frank A 0 (listed: it has a grade)                                           =  0
//	1 day    alice 20 + 15 + 10 + 5 + 16 = 66, erin 40, carol 15, bob 5 + 10 = 15, dave 5 + 8 = 13, frank 0
func TestHumanRisk(t *testing.T) {
	hs, _ := peopleHarness(t, nil)
	body := hs.get(t, "/users/risk")
	assertRanking(t, riskRanking(t, body), [][2]string{
		{"alice@example.com", "81"}, {"erin@example.com", "40"}, {"bob@example.com", "25"},
		{"dave@example.com", "23"}, {"carol@example.com", "15"}, {"frank@example.com", "0"}})
	alice := regexp.MustCompile(`>\s+<`).ReplaceAllString(rowOf(t, body, `data-mailbox="alice@example.com" data-score`), "><")
	if !strings.Contains(alice, `<td>Finance</td><td>D</td><td class="num">20</td><td class="num">2</td><td class="num">1</td><td class="num">1</td><td class="num">2</td>`) {
		t.Errorf("alice's components: %s", alice)
	}
	if !strings.Contains(body, "How the score is computed") || !strings.Contains(body, "15 × malicious URL clicks") {
		t.Error("the page does not explain the score")
	}
	if !strings.Contains(body, `aria-current="page" data-nav="users"`) {
		t.Error("the Users tab is not marked")
	}

	assertRanking(t, riskRanking(t, hs.get(t, "/users/risk?range=1d")), [][2]string{
		{"alice@example.com", "66"}, {"erin@example.com", "40"}, {"bob@example.com", "15"},
		{"carol@example.com", "15"}, {"dave@example.com", "13"}, {"frank@example.com", "0"}})

	// Sorted by DLP hits, most first; ties by mailbox.
	assertRanking(t, riskRanking(t, hs.get(t, "/users/risk?sort=dlp")), [][2]string{
		{"dave@example.com", "23"}, {"alice@example.com", "81"}, {"bob@example.com", "25"},
		{"carol@example.com", "15"}, {"erin@example.com", "40"}, {"frank@example.com", "0"}})
	// Ascending score.
	got := riskRanking(t, hs.get(t, "/users/risk?sort=score&dir=asc"))
	if got[0][0] != "frank@example.com" || got[5][0] != "alice@example.com" {
		t.Errorf("ascending: %v", got)
	}
}

func TestHumanRiskCSV(t *testing.T) {
	hs, _ := peopleHarness(t, nil)
	res, body := hs.do(t, http.MethodGet, "/users/risk?format=csv", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.Contains(res.Header.Get("Content-Disposition"), `filename="human-risk-14d.csv"`) {
		t.Fatalf("csv answer %d %v", res.StatusCode, res.Header)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"rank", "mailbox", "department", "risk", "safe", "clicks", "impersonation", "dlp", "alerts", "score"},
		{"1", "alice@example.com", "Finance", "D", "20", "2", "1", "1", "2", "81"},
		{"2", "erin@example.com", "IT", "F", "40", "0", "0", "0", "0", "40"},
	}
	if len(recs) != 7 {
		t.Fatalf("csv has %d records: %v", len(recs), recs)
	}
	for i, w := range want {
		if strings.Join(recs[i], ",") != strings.Join(w, ",") {
			t.Errorf("csv line %d = %v, want %v", i, recs[i], w)
		}
	}
}

func TestRiskScoreFormula(t *testing.T) {
	m := mailboxStats{Risk: "e", MaliciousURL: 1, Impersonation: 2, DLP: 3, Alerts: 4}
	// E 30 + 15 + 20 + 15 + 32
	if got := m.Score(); got != 112 {
		t.Errorf("score = %d, want 112", got)
	}
	if got := (mailboxStats{Risk: "unknown"}).SafePoints(); got != 0 {
		t.Errorf("unknown grade = %d points", got)
	}
}
