package parse

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// zoneOffsets is the expected offset of every zone in the table, written independently of zones.go. A zone
// added to the table without an entry here fails TestZonesTableComplete.
var zoneOffsets = map[string]string{
	"UTC": "+00:00", "UT": "+00:00", "Z": "+00:00", "GMT": "+00:00", "BST": "+01:00", "WET": "+00:00", "WEST": "+01:00",
	"IST": "+05:30", "CET": "+01:00", "CEST": "+02:00", "MET": "+01:00", "MEST": "+02:00", "EET": "+02:00",
	"EEST": "+03:00", "MSK": "+03:00", "SAST": "+02:00", "CAT": "+02:00", "EAT": "+03:00", "WAT": "+01:00",
	"GST": "+04:00", "PKT": "+05:00", "ICT": "+07:00", "WIB": "+07:00", "SGT": "+08:00", "HKT": "+08:00",
	"PHT": "+08:00", "AWST": "+08:00", "JST": "+09:00", "KST": "+09:00", "ACST": "+09:30", "ACDT": "+10:30",
	"AEST": "+10:00", "AEDT": "+11:00", "NZST": "+12:00", "NZDT": "+13:00", "NST": "-03:30", "NDT": "-02:30",
	"AST": "-04:00", "ADT": "-03:00", "EST": "-05:00", "EDT": "-04:00", "CST": "-06:00", "CDT": "-05:00",
	"MST": "-07:00", "MDT": "-06:00", "PST": "-08:00", "PDT": "-07:00", "AKST": "-09:00", "AKDT": "-08:00",
	"HST": "-10:00", "BRT": "-03:00", "ART": "-03:00",
}

func TestZonesTableComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, z := range Zones() {
		if seen[z.Name] {
			t.Errorf("zone %s listed twice", z.Name)
		}
		seen[z.Name] = true
		if _, ok := zoneOffsets[z.Name]; !ok {
			t.Errorf("zone %s has no expected offset in the test", z.Name)
		}
		if z.Ambiguous && z.Alternatives == "" {
			t.Errorf("ambiguous zone %s lists no alternatives", z.Name)
		}
	}
	for name := range zoneOffsets {
		if !seen[name] {
			t.Errorf("test expects zone %s, table lacks it", name)
		}
	}
}

// TestEveryZone parses a local time in every zone of the table and checks the UTC result against the
// independent offsets above, in upper and lower case.
func TestEveryZone(t *testing.T) {
	for _, z := range Zones() {
		for _, name := range []string{z.Name, strings.ToLower(z.Name)} {
			t.Run(name, func(t *testing.T) {
				want, err := time.Parse("2006-01-02 15:04:05 -07:00", "2024-01-15 12:00:00 "+zoneOffsets[z.Name])
				if err != nil {
					t.Fatal(err)
				}
				got := ParseAuditInfo("Successful authentication for a@b.example, Date: 2024-01-15, Time: 12:00:00 " + name)
				if !got.Time.Equal(want) {
					t.Errorf("Time = %v, want %v", got.Time, want.UTC())
				}
				ambiguous := slices.ContainsFunc(got.Issues, func(s string) bool { return strings.HasPrefix(s, "ambiguous zone") })
				if ambiguous != z.Ambiguous {
					t.Errorf("ambiguity reported = %v, want %v (issues %q)", ambiguous, z.Ambiguous, got.Issues)
				}
			})
		}
	}
}

func TestNumericZones(t *testing.T) {
	tests := []struct {
		zone string
		want string // UTC time of 12:00:00 local on 2024-01-15
		bad  bool
	}{
		{"+0000", "2024-01-15T12:00:00Z", false},
		{"+0200", "2024-01-15T10:00:00Z", false},
		{"-0400", "2024-01-15T16:00:00Z", false},
		{"-04:00", "2024-01-15T16:00:00Z", false},
		{"+05:30", "2024-01-15T06:30:00Z", false},
		{"+530", "2024-01-15T06:30:00Z", false},
		{"+5", "2024-01-15T07:00:00Z", false},
		{"+14:00", "2024-01-14T22:00:00Z", false},
		{"GMT-04:00", "2024-01-15T16:00:00Z", false},
		{"GMT+1", "2024-01-15T11:00:00Z", false},
		{"UTC+02:00", "2024-01-15T10:00:00Z", false},
		{"utc-0330", "2024-01-15T15:30:00Z", false},
		{"+15:00", "", true},
		{"+01:60", "", true},
		{"+123456", "", true},
		{"++5", "", true},
		{"+", "", true},
		{"-ab", "", true},
		{"GMT+", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			got := ParseAuditInfo("X, Date: 2024-01-15, Time: 12:00:00 " + tt.zone)
			if tt.bad {
				if !got.Time.IsZero() || len(got.Issues) == 0 {
					t.Errorf("zone %q accepted: Time %v, issues %q", tt.zone, got.Time, got.Issues)
				}
				return
			}
			if s := got.Time.Format(time.RFC3339); s != tt.want || len(got.Issues) > 0 {
				t.Errorf("Time = %s (issues %q), want %s", s, got.Issues, tt.want)
			}
		})
	}
	// The offset may follow the clock without a space, as in "08:45:02+0000".
	if got := ParseAuditInfo("X, Date: 2021-10-18, Time: 08:45:02+0200"); got.Time.Format(time.RFC3339) != "2021-10-18T06:45:02Z" {
		t.Errorf("attached offset: %v", got.Time)
	}
}

// TestUKSummerTimeEdges covers the change-overs: the label decides, including the repeated hour in October.
func TestUKSummerTimeEdges(t *testing.T) {
	tests := []struct {
		name, date, clock, want string
		outsideBST              bool
	}{
		{"last GMT second before spring change", "2021-03-28", "00:59:59 GMT", "2021-03-28T00:59:59Z", false},
		{"first BST minute after spring change", "2021-03-28", "02:00:00 BST", "2021-03-28T01:00:00Z", false},
		{"repeated hour, first pass (BST)", "2021-10-31", "01:30:00 BST", "2021-10-31T00:30:00Z", false},
		{"repeated hour, second pass (GMT)", "2021-10-31", "01:30:00 GMT", "2021-10-31T01:30:00Z", false},
		{"summer BST", "2021-07-01", "12:00:00 BST", "2021-07-01T11:00:00Z", false},
		{"BST label in January is converted but reported", "2021-01-15", "10:00:00 BST", "2021-01-15T09:00:00Z", true},
		{"BST label just after autumn change is reported", "2021-10-31", "02:30:00 BST", "2021-10-31T01:30:00Z", true},
		{"winter GMT", "2022-01-11", "22:54:04 GMT", "2022-01-11T22:54:04Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseAuditInfo(fmt.Sprintf("X, Date: %s, Time: %s, IP: 192.0.2.1", tt.date, tt.clock))
			if s := got.Time.Format(time.RFC3339); s != tt.want {
				t.Errorf("Time = %s, want %s", s, tt.want)
			}
			flagged := slices.Contains(got.Issues, "BST on a date outside UK summer time")
			if flagged != tt.outsideBST {
				t.Errorf("outside-BST reported = %v, want %v (issues %q)", flagged, tt.outsideBST, got.Issues)
			}
		})
	}
}

func TestLookupZone(t *testing.T) {
	if z, ok := LookupZone(" cest "); !ok || z.Offset != 2*hour {
		t.Errorf("LookupZone(cest) = %+v, %v", z, ok)
	}
	if _, ok := LookupZone("QQQ"); ok {
		t.Error("LookupZone(QQQ) found a zone")
	}
}

func TestJavaExportTime(t *testing.T) {
	got := ParseAuditInfo("[Export type : Download,Name :v,Export time :Tue Oct 12 03:27:18 BST 2021,File name : f.xlsx], Application: x")
	if got.Time.Format(time.RFC3339) != "2021-10-12T02:27:18Z" || got.LocalTime != "2021-10-12 03:27:18 BST" {
		t.Errorf("Time = %v, LocalTime = %q", got.Time, got.LocalTime)
	}
	bad := ParseAuditInfo("[Export type : Download,Export time :yesterday]")
	if !bad.Time.IsZero() || !slices.Contains(bad.Issues, `unreadable export time "yesterday"`) {
		t.Errorf("bad export time: %v %q", bad.Time, bad.Issues)
	}
}
