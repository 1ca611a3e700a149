package web

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/castwatch/castwatch/internal/parse"
)

// countBy counts rows by key, skipping rows for which key returns ok false.
func countBy(rows []fixRow, key func(r fixRow) (string, bool)) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rows {
		if k, ok := key(r); ok {
			out[k]++
		}
	}
	return out
}

// wantTop10 is what a pie shows of the counts: the ten largest (ties by label), the rest summed as "Other".
func wantTop10(counts map[string]float64) map[string]float64 {
	labels := slices.Collect(maps.Keys(counts))
	slices.SortFunc(labels, func(a, b string) int {
		if counts[a] != counts[b] {
			if counts[a] > counts[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	out := map[string]float64{}
	for i, l := range labels {
		if i < 10 {
			out[l] = counts[l]
		} else {
			out["Other"] += counts[l]
		}
	}
	return out
}

// sameCounts fails the test when got differs from want; it also refuses an empty want (nothing proven).
func sameCounts(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the fixture gives nothing to compare", what)
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// auditIn returns the fixture's audit rows in a range (by eventTime, which every simulated record has).
func auditIn(t *testing.T, f *simFixture, rng string) []fixRow {
	var out []fixRow
	for _, r := range f.rows(t, "Audit_CL") {
		if f.inRange(r.time("eventTime"), rng) {
			out = append(out, r)
		}
	}
	return out
}

func TestAuditDashboard(t *testing.T) {
	f := loadSimFixture(t)
	for _, rng := range []string{"1d", "3d"} {
		q := url.Values{"range": {rng}}
		rows := auditIn(t, f, rng)
		byType := countBy(rows, func(r fixRow) (string, bool) { return r.str("auditType"), true })

		// Events by category: the sum over all buckets per labelled category.
		got := map[string]float64{}
		res := f.panel(t, "audit", "by-category", q)
		for i := range res.Rows {
			got[res.str(i, 1)] += res.num(i, 2)
		}
		want := countBy(rows, func(r fixRow) (string, bool) {
			if l, ok := auditCategoryLabels[r.str("category")]; ok {
				return l, true
			}
			return r.str("category"), true
		})
		sameCounts(t, rng+" by-category", got, want)
		if _, ok := got["Authentication"]; !ok {
			t.Errorf("%s: authentication_logs is not labelled Authentication: %v", rng, got)
		}

		sameCounts(t, rng+" by-type", f.panel(t, "audit", "by-type", q).counts(), wantTop10(byType))
		for id, cat := range map[string]string{"account": "account_logs", "authentication": "authentication_logs",
			"support-access": "mimecast_access_logs", "archive-service": "archive_service_logs",
			"user-account-roles": "user_account_and_role_logs", "policy": "policy_logs"} {
			want := wantTop10(countBy(rows, func(r fixRow) (string, bool) { return r.str("auditType"), r.str("category") == cat }))
			got := f.panel(t, "audit", id, q).counts()
			if len(want) == 0 && len(got) == 0 {
				continue // the simulated tenant has no such events in this range
			}
			sameCounts(t, rng+" "+id, got, want)
		}

		parsed := map[string]parse.AuditInfo{}
		info := func(r fixRow) parse.AuditInfo {
			a, ok := parsed[r.str("id")]
			if !ok {
				a = parse.ParseAuditInfo(r.str("eventInfo"))
				parsed[r.str("id")] = a
			}
			return a
		}
		sameCounts(t, rng+" logins-by-app", f.panel(t, "audit", "logins-by-app", q).counts(),
			wantTop10(countBy(rows, func(r fixRow) (string, bool) {
				return info(r).Application, r.str("auditType") == auditLoggedOn && info(r).Application != ""
			})))

		// Login tables: one row per user, application, source IP and time; the counts add up to the logins.
		for id, typ := range map[string]string{"successful-logins": auditLoggedOn, "failed-logins": auditLogonFailed} {
			res := f.panel(t, "audit", id, q)
			groups := countBy(rows, func(r fixRow) (string, bool) {
				k := strings.Join([]string{r.str("user"), info(r).Application, info(r).SourceIP(), r.time("eventTime").Format("2006-01-02T15:04:05Z")}, "|")
				return k, r.str("auditType") == typ
			})
			got := map[string]float64{}
			for i := range res.Rows {
				got[strings.Join([]string{res.str(i, 0), res.str(i, 1), res.str(i, 2), res.str(i, 3)}, "|")] += res.num(i, 4)
			}
			sameCounts(t, rng+" "+id, got, groups)
		}
	}

	// The range changes the counts: the last day holds fewer events than the last three.
	total := func(rng string) (n float64) {
		for _, v := range f.panel(t, "audit", "by-type", url.Values{"range": {rng}}).counts() {
			n += v
		}
		return n
	}
	if a, b := total("1d"), total("3d"); a == 0 || a >= b || b != float64(len(auditIn(t, f, "3d"))) {
		t.Errorf("events 1d = %v, 3d = %v, want 0 < 1d < 3d = %d", a, b, len(auditIn(t, f, "3d")))
	}
}

// TestAuditDrillDown clicks the largest Audit Type slice: the drilled table lists exactly that type's events.
func TestAuditDrillDown(t *testing.T) {
	f := loadSimFixture(t)
	pie := f.panel(t, "audit", "by-type", url.Values{"range": {"3d"}})
	if pie.Drill == nil || pie.Drill.Param != "auditType" {
		t.Fatalf("by-type drill = %+v", pie.Drill)
	}
	typ := pie.str(0, 0)
	res := f.panel(t, "audit", "type-events", url.Values{"range": {"3d"}, "auditType": {typ}})
	var want []string
	for _, r := range auditIn(t, f, "3d") {
		if r.str("auditType") == typ {
			want = append(want, r.str("id"))
		}
	}
	var got []string
	for i := range res.Rows {
		got = append(got, res.str(i, 7))
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) || res.Title != "Audit Events of Type: "+typ {
		t.Errorf("type-events %q (%s): %d ids, want %d", typ, res.Title, len(got), len(want))
	}
}
