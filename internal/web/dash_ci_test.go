package web

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// ciIn returns the fixture's Cloud Integrated rows whose timestamp falls in the range.
func ciIn(t *testing.T, f *simFixture, rng string) []fixRow {
	var out []fixRow
	for _, r := range f.rows(t, "Cloud_Integrated_CL") {
		if f.inRange(r.timeMs("timestamp"), rng) {
			out = append(out, r)
		}
	}
	return out
}

// firstPolicy reads a field of the first applied policy, `_` as space.
func firstPolicy(r fixRow, field string) string {
	var ps []map[string]any
	if json.Unmarshal([]byte(r.str("policiesApplied")), &ps) != nil || len(ps) == 0 {
		return ""
	}
	s, _ := ps[0][field].(string)
	return strings.ReplaceAll(strings.TrimSpace(s), "_", " ")
}

func spaced(s string) string { return strings.ReplaceAll(s, "_", " ") }

func TestCloudIntegratedDashboard(t *testing.T) {
	f := loadSimFixture(t)
	for _, rng := range []string{"1d", "3d"} {
		q := url.Values{"range": {rng}}
		rows := ciIn(t, f, rng)
		for _, tag := range ciTags {
			n := 0
			for _, r := range rows {
				if strings.Contains(strings.ToLower(r.str("tags")), strings.ToLower(tag.tag)) {
					n++
				}
			}
			tile := f.panel(t, "ci", tag.id, q)
			if len(tile.Rows) != 1 || tile.num(0, 0) != float64(n) || (rng == "3d" && n == 0) {
				t.Errorf("%s %s = %v, want %d", rng, tag.id, tile.Rows, n)
			}
			if tile.Drill == nil || tile.Drill.Value != tag.tag {
				t.Errorf("%s drill = %+v", tag.id, tile.Drill)
			}
			details := f.panel(t, "ci", "tag-details", url.Values{"range": {rng}, "tag": {tag.tag}})
			if len(details.Rows) != n || details.Title != tag.tag+" Tags Details" {
				t.Errorf("%s tag-details %q: %d rows, want %d", rng, details.Title, len(details.Rows), n)
			}
		}

		got := map[string]float64{}
		res := f.panel(t, "ci", "traffic-by-route", q)
		for i := range res.Rows {
			got[res.str(i, 1)] += res.num(i, 2)
		}
		sameCounts(t, rng+" traffic-by-route", got, countBy(rows, func(r fixRow) (string, bool) { return r.str("direction"), r.str("direction") != "" }))

		bars := func(key func(r fixRow) string) map[string]float64 {
			return countBy(rows, func(r fixRow) (string, bool) { return key(r), key(r) != "" })
		}
		sameCounts(t, rng+" policy-actions", f.panel(t, "ci", "policy-actions", q).counts(), bars(func(r fixRow) string { return firstPolicy(r, "action") }))
		sameCounts(t, rng+" threat-types", f.panel(t, "ci", "threat-types", q).counts(), bars(func(r fixRow) string { return spaced(r.str("threatType")) }))
		sameCounts(t, rng+" sub-types", f.panel(t, "ci", "sub-types", q).counts(), wantTop10(bars(func(r fixRow) string { return spaced(r.str("subtype")) })))
		sameCounts(t, rng+" sender-domains", f.panel(t, "ci", "sender-domains", q).counts(), wantTop10(bars(func(r fixRow) string {
			_, d, _ := strings.Cut(r.str("senderEnvelope"), "@")
			return strings.Split(d, "@")[0]
		})))
		sameCounts(t, rng+" senders", f.panel(t, "ci", "senders", q).counts(), wantTop10(bars(func(r fixRow) string {
			if strings.Contains(r.str("senderEnvelope"), "@") {
				return r.str("senderEnvelope")
			}
			return ""
		})))
		receivers := map[string]float64{}
		for _, r := range rows {
			var rs []string
			if r.str("recipients") == "" {
				continue
			}
			if err := json.Unmarshal([]byte(r.str("recipients")), &rs); err != nil {
				t.Fatalf("recipients %q: %v", r.str("recipients"), err)
			}
			for _, x := range rs {
				if x != "" {
					receivers[x]++
				}
			}
		}
		sameCounts(t, rng+" receivers", f.panel(t, "ci", "receivers", q).counts(), wantTop10(receivers))

		// Map and origin pie: GeoIP per sender address, unknown addresses under "Unknown".
		country := func(r fixRow) string {
			if c, ok := fakeCountry(r.str("senderIp")); ok {
				return c
			}
			return "Unknown"
		}
		mp := f.panel(t, "ci", "by-country", q)
		gotMap := map[string]float64{}
		for i := range mp.Rows {
			gotMap[mp.str(i, 0)] = mp.num(i, 4)
			if name, lat, _, ok := fakeCountryInfo(mp.str(i, 0)); ok && (mp.str(i, 1) != name || mp.num(i, 2) != lat) {
				t.Errorf("map row %v: want %s at %v", mp.Rows[i], name, lat)
			}
		}
		sameCounts(t, rng+" by-country", gotMap, countBy(rows, func(r fixRow) (string, bool) { return country(r), true }))
		sameCounts(t, rng+" inbound-origin", f.panel(t, "ci", "inbound-origin", q).counts(), wantTop10(countBy(rows, func(r fixRow) (string, bool) {
			name, _, _, ok := fakeCountryInfo(country(r))
			if !ok {
				name = "Unknown"
			}
			return name, r.str("direction") == "INBOUND"
		})))

		for id, typ := range map[string]string{"url-protect": "urlclick", "entities": "entities"} {
			n := 0
			for _, r := range rows {
				if r.str("type_") == typ {
					n++
				}
			}
			if got := len(f.panel(t, "ci", id, q).Rows); got != n || n == 0 {
				t.Errorf("%s %s: %d rows, want %d", rng, id, got, n)
			}
		}
	}
	// The range changes the counts.
	if a, b := f.panel(t, "ci", "entities", url.Values{"range": {"1d"}}), f.panel(t, "ci", "entities", url.Values{"range": {"3d"}}); len(a.Rows) >= len(b.Rows) {
		t.Errorf("entities 1d %d rows, 3d %d", len(a.Rows), len(b.Rows))
	}
}

// TestCloudIntegratedDrillDowns follows the two three-step chains: policy action → mode → e-mails, and threat
// type → state → e-mails, plus sub type → e-mails.
func TestCloudIntegratedDrillDowns(t *testing.T) {
	f := loadSimFixture(t)
	rows := ciIn(t, f, "3d")
	q := func(kv ...string) url.Values {
		v := url.Values{"range": {"3d"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, chain := range []struct {
		first, second, third string
		p1, p2               string
		k1, k2               func(r fixRow) string
	}{
		{"policy-actions", "policy-modes", "policy-emails", "action", "mode",
			func(r fixRow) string { return firstPolicy(r, "action") }, func(r fixRow) string { return firstPolicy(r, "mode") }},
		{"threat-types", "threat-states", "threat-emails", "threatType", "threatState",
			func(r fixRow) string { return spaced(r.str("threatType")) }, func(r fixRow) string { return r.str("threatState") }},
	} {
		top := f.panel(t, "ci", chain.first, q())
		// Take a label that is not the most common one, so the filter visibly narrows.
		v1 := top.str(len(top.Rows)-1, 0)
		second := f.panel(t, "ci", chain.second, q(chain.p1, v1))
		sameCounts(t, chain.second, second.counts(), wantTop10(countBy(rows, func(r fixRow) (string, bool) { return chain.k2(r), chain.k1(r) == v1 })))
		if second.Drill == nil || second.Drill.Param != chain.p2 {
			t.Fatalf("%s drill = %+v", chain.second, second.Drill)
		}
		v2 := second.str(0, 0)
		third := f.panel(t, "ci", chain.third, q(chain.p1, v1, chain.p2, v2))
		want := 0
		for _, r := range rows {
			if chain.k1(r) == v1 && chain.k2(r) == v2 {
				want++
			}
		}
		if len(third.Rows) != want || want == 0 || !strings.Contains(third.Title, v1) || !strings.Contains(third.Title, v2) {
			t.Errorf("%s (%s): %d rows, want %d", chain.third, third.Title, len(third.Rows), want)
		}
	}
	sub := f.panel(t, "ci", "sub-types", q())
	v := sub.str(0, 0)
	emails := f.panel(t, "ci", "subtype-emails", q("subtype", v))
	if want := sub.num(0, 1); float64(len(emails.Rows)) != want {
		t.Errorf("subtype-emails %q: %d rows, want %v", v, len(emails.Rows), want)
	}
}
