package rollup

import (
	"testing"
	"time"
)

// TestSplit checks how a window is cut: partial hours from the view, whole hours from the hourly table, whole
// days from the daily table when the rollup has one, with no gap and no overlap.
func TestSplit(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	type want struct{ lo, hi, unit string }
	cases := []struct {
		name     string
		daily    bool
		from, to string
		want     []want
	}{
		{"inside one hour", true, "2026-03-01 10:05:00", "2026-03-01 10:50:00",
			[]want{{"2026-03-01 10:05:00", "2026-03-01 10:50:00", ""}}},
		{"partial hours at both ends", false, "2026-03-01 10:05:00", "2026-03-01 13:20:00", []want{
			{"2026-03-01 10:05:00", "2026-03-01 11:00:00", ""}, {"2026-03-01 11:00:00", "2026-03-01 13:00:00", "hour"},
			{"2026-03-01 13:00:00", "2026-03-01 13:20:00", ""}}},
		{"days in the middle", true, "2026-03-01 22:30:00", "2026-03-04 01:00:00", []want{
			{"2026-03-01 22:30:00", "2026-03-01 23:00:00", ""}, {"2026-03-01 23:00:00", "2026-03-02 00:00:00", "hour"},
			{"2026-03-02 00:00:00", "2026-03-04 00:00:00", "day"}, {"2026-03-04 00:00:00", "2026-03-04 01:00:00", "hour"}}},
		{"no daily table", false, "2026-03-01 22:00:00", "2026-03-04 01:00:00", []want{
			{"2026-03-01 22:00:00", "2026-03-04 01:00:00", "hour"}}},
		{"empty", true, "2026-03-01 10:00:00", "2026-03-01 10:00:00", nil},
	}
	for _, c := range cases {
		got := Def{Daily: c.daily}.split(at(c.from), at(c.to))
		if len(got) != len(c.want) {
			t.Errorf("%s: %d spans %v, want %d", c.name, len(got), got, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !got[i].lo.Equal(at(w.lo)) || !got[i].hi.Equal(at(w.hi)) || got[i].unit != w.unit {
				t.Errorf("%s span %d: %v..%v %q, want %s..%s %q", c.name, i, got[i].lo, got[i].hi, got[i].unit, w.lo, w.hi, w.unit)
			}
		}
	}
}

// TestDefsNameTheirTables checks every rollup has a unique name, a view, a table and dimensions.
func TestDefsNameTheirTables(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range All() {
		if d.Name == "" || d.View == "" || d.Table == "" || len(d.Dims) == 0 || seen[d.Name] {
			t.Errorf("rollup %+v: needs a unique name, a view, a table and dimensions", d)
		}
		seen[d.Name] = true
		if Get(d.Name).Name != d.Name {
			t.Errorf("Get(%q) returns another rollup", d.Name)
		}
	}
}
