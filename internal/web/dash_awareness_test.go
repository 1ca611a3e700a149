package web

import (
	"net/url"
	"slices"
	"strconv"
	"testing"
)

// intLabel is a real count as the AT panels label it ("" when absent).
func intLabel(r fixRow, col string) string {
	v, ok := r.num(col)
	if !ok {
		return ""
	}
	return strconv.FormatInt(int64(v), 10)
}

// atEmailMatch is the workbook's e-mail filter.
func atEmailMatch(filter, email string) bool {
	return email != "" && (filter == "*" || filter == email)
}

// campaignIn says whether a user-data row's campaign was sent in the range (rows without a send time always are).
func campaignIn(f *simFixture, r fixRow, rng string) bool {
	at := r.time("timeScheduled")
	return at.IsZero() || f.inRange(at, rng)
}

func TestAwarenessTrainingTab(t *testing.T) {
	f := loadSimFixture(t)
	watch := f.rows(t, "Awareness_Watchlist_Details_CL")
	perf := f.rows(t, "Awareness_Performance_Details_CL")
	data := f.rows(t, "Awareness_User_Data_CL")
	one := perf[3].str("email")
	for _, email := range []string{"*", one} {
		q := url.Values{"range": {"14d"}, "email": {email}}
		sameCounts(t, email+" watchlist-breakdown", f.panel(t, "awareness", "watchlist-breakdown", q).counts(),
			wantTop10(countBy(watch, func(r fixRow) (string, bool) {
				return intLabel(r, "watchlistCount"), atEmailMatch(email, r.str("email"))
			})))
		if n := len(f.panel(t, "awareness", "watchlist-overview", q).Rows); n != len(watch) {
			t.Errorf("%s: watchlist-overview %d rows, want every user (%d)", email, n, len(watch))
		}
		res := f.panel(t, "awareness", "performance-overview", q)
		var want []string
		for _, r := range perf {
			if atEmailMatch(email, r.str("email")) {
				want = append(want, r.str("email"))
			}
		}
		var got []string
		for i := range res.Rows {
			got = append(got, res.str(i, 0))
		}
		if !slices.Equal(got, want) && !slices.Equal(sorted(got), sorted(want)) || len(want) == 0 {
			t.Errorf("%s: performance-overview %v, want %v", email, got, want)
		}
		for id, col := range map[string]string{"correct-by-count": "numCorrect", "incorrect-by-count": "numIncorrect", "not-watched-by-count": "numNotWatched"} {
			sameCounts(t, email+" "+id, f.panel(t, "awareness", id, q).counts(),
				countBy(perf, func(r fixRow) (string, bool) { return intLabel(r, col), atEmailMatch(email, r.str("email")) }))
		}
		inData := func(r fixRow) bool { return atEmailMatch(email, r.str("email")) && campaignIn(f, r, "14d") }
		n := 0
		for _, r := range data {
			if inData(r) {
				n++
			}
		}
		if got := len(f.panel(t, "awareness", "user-stats", q).Rows); got != n || n == 0 {
			t.Errorf("%s: user-stats %d rows, want %d", email, got, n)
		}
		for id, col := range map[string]string{"campaigns-sent": "numCampaignsSent", "campaigns-clicked": "numCampaignsClicked",
			"training-modules": "numTrainingModulesAssigned", "correct-answers": "numCorrectAnswers", "incorrect-answers": "numIncorrectAnswers"} {
			sameCounts(t, email+" "+id, f.panel(t, "awareness", id, q).counts(),
				wantTop10(countBy(data, func(r fixRow) (string, bool) { return intLabel(r, col), inData(r) && r.str("templateName") != "" })))
		}
		wantIP := wantTop10(countBy(data, func(r fixRow) (string, bool) { return r.str("clickedIp"), inData(r) && r.str("clickedIp") != "" }))
		if got := f.panel(t, "awareness", "clicked-ip", q).counts(); len(wantIP) > 0 || len(got) > 0 {
			sameCounts(t, email+" clicked-ip", got, wantIP)
		}
	}

	// The template filter keeps one template's rows.
	tmpl := data[0].str("templateName")
	q := url.Values{"range": {"14d"}, "template": {tmpl}}
	res := f.panel(t, "awareness", "user-stats", q)
	n := 0
	for _, r := range data {
		if r.str("templateName") == tmpl && campaignIn(f, r, "14d") {
			n++
		}
	}
	if len(res.Rows) != n || n == 0 {
		t.Errorf("template %q: %d rows, want %d", tmpl, len(res.Rows), n)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestAwarenessRange checks the range selects the phishing campaign rows by their send time.
func TestAwarenessRange(t *testing.T) {
	f := loadSimFixture(t)
	data := f.rows(t, "Awareness_User_Data_CL")
	counts := map[string]int{}
	for _, rng := range []string{"5m", "1d", "90d"} {
		want := 0
		for _, r := range data {
			if campaignIn(f, r, rng) {
				want++
			}
		}
		got := len(f.panel(t, "awareness", "user-stats", url.Values{"range": {rng}}).Rows)
		if got != want {
			t.Errorf("%s: user-stats %d rows, want %d", rng, got, want)
		}
		counts[rng] = got
	}
	if counts["90d"] == 0 || counts["5m"] >= counts["90d"] {
		t.Errorf("the range does not change the campaign rows: %v", counts)
	}
}

func TestAwarenessHumanRiskTab(t *testing.T) {
	f := loadSimFixture(t)
	safe := f.rows(t, "Awareness_SafeScore_Details_CL")
	q := url.Values{"range": {"14d"}}
	highest := ""
	for _, r := range safe {
		if r.str("risk") > highest {
			highest = r.str("risk")
		}
	}
	byRisk := countBy(safe, func(r fixRow) (string, bool) { return r.str("risk"), r.str("emailAddress") != "" })
	tile := f.panel(t, "awareness", "highest-risk", q)
	if len(tile.Rows) != 1 || tile.str(0, 0) != highest || tile.str(0, 1) != strconv.Itoa(int(byRisk[highest]))+" users" {
		t.Fatalf("highest-risk = %v, want %s with %v users", tile.Rows, highest, byRisk[highest])
	}
	// Drill-down: the tile's value selects the users of that grade.
	if tile.Drill == nil || tile.Drill.Param != "risk" {
		t.Fatalf("highest-risk drill = %+v", tile.Drill)
	}
	details := f.panel(t, "awareness", "highest-risk-details", url.Values{"range": {"14d"}, "risk": {tile.str(0, 0)}})
	if len(details.Rows) != int(byRisk[highest]) || details.Title != "Highest Risk Details: "+highest {
		t.Errorf("highest-risk-details: %d rows (%s), want %v", len(details.Rows), details.Title, byRisk[highest])
	}
	for i := range details.Rows {
		if details.str(i, 2) != highest {
			t.Errorf("details row %v has another risk", details.Rows[i])
		}
	}
	for _, c := range []struct{ id, col string }{{"by-risk", "risk"}, {"by-human-error", "humanError"}, {"by-sentiment", "sentiment"},
		{"by-engagement", "engagement"}, {"by-knowledge", "knowledge"}, {"by-user-state", "userState"}} {
		sameCounts(t, c.id, f.panel(t, "awareness", c.id, q).counts(),
			wantTop10(countBy(safe, func(r fixRow) (string, bool) { return r.str(c.col), r.str("emailAddress") != "" })))
	}
	// The e-mail filter narrows every panel to one user.
	one := safe[1]
	q.Set("email", one.str("emailAddress"))
	if res := f.panel(t, "awareness", "safe-scores", q); len(res.Rows) != 1 || res.str(0, 0) != one.str("emailAddress") {
		t.Errorf("safe-scores for %s: %v", one.str("emailAddress"), res.Rows)
	}
	if res := f.panel(t, "awareness", "highest-risk", q); res.str(0, 0) != one.str("risk") {
		t.Errorf("highest-risk for %s: %v, want %s", one.str("emailAddress"), res.Rows, one.str("risk"))
	}
}

func TestAwarenessPhishingTab(t *testing.T) {
	f := loadSimFixture(t)
	data := f.rows(t, "Awareness_User_Data_CL")
	q := url.Values{"range": {"90d"}}
	users := map[string]map[string]bool{}
	for _, r := range data {
		if tm := r.str("templateName"); tm != "" && r.str("email") != "" && campaignIn(f, r, "90d") {
			if users[tm] == nil {
				users[tm] = map[string]bool{}
			}
			users[tm][r.str("email")] = true
		}
	}
	want := map[string]float64{}
	for tm, us := range users {
		want[tm] = float64(len(us))
	}
	if len(want) > 10 {
		t.Fatalf("fixture has %d templates; the test expects at most 10", len(want))
	}
	sameCounts(t, "top-templates", f.panel(t, "awareness", "top-templates", q).counts(), want)

	clicked := countBy(data, func(r fixRow) (string, bool) {
		return r.str("email") + "|" + r.str("templateName"), r.str("status") == "CLICKED" && campaignIn(f, r, "90d")
	})
	res := f.panel(t, "awareness", "clicked", q)
	got := map[string]float64{}
	for i := range res.Rows {
		got[res.str(i, 0)+"|"+res.str(i, 4)] = 1
		if i > 0 && res.num(i, 1) < res.num(i-1, 1) {
			t.Errorf("clicked not ordered by reaction time at row %d", i)
		}
	}
	for k := range clicked {
		clicked[k] = 1
	}
	if len(clicked) > 0 || len(got) > 0 {
		sameCounts(t, "clicked", got, clicked)
	}
}
