package parse

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Zone is one entry of the time-zone abbreviation table used for the local times Mimecast writes into audit
// eventInfo text ("Time: 18:17:30 BST").
type Zone struct {
	// Name is the abbreviation as it appears in the text, upper-case.
	Name string
	// Offset is the zone's offset from UTC in seconds.
	Offset int
	// Meaning says which zone the abbreviation is taken to be.
	Meaning string
	// Ambiguous is true when the abbreviation is used by more than one zone with different offsets; Alternatives
	// lists the ones not chosen.
	Ambiguous    bool
	Alternatives string
}

const hour = 3600

// Zones returns the abbreviation table, in a stable order. Mimecast's platform formats local times with Java's
// zone short names, so the choice for an ambiguous abbreviation follows what a Java formatter prints for the
// regions Mimecast serves (UK, Europe, North America, South Africa, Australia and New Zealand), not what a Java
// parser would guess: Elastic's pipeline read "BST" as +11:00 (Bougainville) and produced times 10 hours off.
//
// Choices for ambiguous names:
//   - BST: British Summer Time (+01:00). Not Bangladesh (+06:00) or Bougainville (+11:00). The corpus confirms it:
//     eventTime 17:17:30Z is written "18:17:30 BST". Not flagged ambiguous because the evidence settles it.
//   - IST: India Standard Time (+05:30). Irish Standard Time (+01:00) and Israel Standard Time (+02:00) also use it;
//     Java's own zone ID "IST" is Asia/Kolkata. Flagged ambiguous.
//   - CST/CDT: US Central (-06:00/-05:00). China Standard Time (+08:00) and Cuba (-05:00) also use CST; Java's
//     "CST" is America/Chicago. Flagged ambiguous.
//   - AST: Atlantic Standard Time (-04:00), not Arabia Standard Time (+03:00). Flagged ambiguous.
//   - GST: Gulf Standard Time (+04:00), not South Georgia (-02:00). Flagged ambiguous.
//   - MST: US Mountain Standard Time (-07:00); Malaysia's MST (+08:00) is rare in practice. Flagged ambiguous.
func Zones() []Zone {
	return []Zone{
		{Name: "UTC", Offset: 0, Meaning: "Coordinated Universal Time"},
		{Name: "UT", Offset: 0, Meaning: "Universal Time"},
		{Name: "Z", Offset: 0, Meaning: "Zulu (UTC)"},
		{Name: "GMT", Offset: 0, Meaning: "Greenwich Mean Time"},
		{Name: "BST", Offset: 1 * hour, Meaning: "British Summer Time", Alternatives: "Bangladesh Standard Time +06:00, Bougainville Standard Time +11:00"},
		{Name: "WET", Offset: 0, Meaning: "Western European Time"},
		{Name: "WEST", Offset: 1 * hour, Meaning: "Western European Summer Time"},
		{Name: "IST", Offset: 5*hour + 1800, Meaning: "India Standard Time", Ambiguous: true, Alternatives: "Irish Standard Time +01:00, Israel Standard Time +02:00"},
		{Name: "CET", Offset: 1 * hour, Meaning: "Central European Time"},
		{Name: "CEST", Offset: 2 * hour, Meaning: "Central European Summer Time"},
		{Name: "MET", Offset: 1 * hour, Meaning: "Middle European Time"},
		{Name: "MEST", Offset: 2 * hour, Meaning: "Middle European Summer Time"},
		{Name: "EET", Offset: 2 * hour, Meaning: "Eastern European Time"},
		{Name: "EEST", Offset: 3 * hour, Meaning: "Eastern European Summer Time"},
		{Name: "MSK", Offset: 3 * hour, Meaning: "Moscow Time"},
		{Name: "SAST", Offset: 2 * hour, Meaning: "South Africa Standard Time"},
		{Name: "CAT", Offset: 2 * hour, Meaning: "Central Africa Time"},
		{Name: "EAT", Offset: 3 * hour, Meaning: "East Africa Time"},
		{Name: "WAT", Offset: 1 * hour, Meaning: "West Africa Time"},
		{Name: "GST", Offset: 4 * hour, Meaning: "Gulf Standard Time", Ambiguous: true, Alternatives: "South Georgia Time -02:00"},
		{Name: "PKT", Offset: 5 * hour, Meaning: "Pakistan Standard Time"},
		{Name: "ICT", Offset: 7 * hour, Meaning: "Indochina Time"},
		{Name: "WIB", Offset: 7 * hour, Meaning: "Western Indonesia Time"},
		{Name: "SGT", Offset: 8 * hour, Meaning: "Singapore Time"},
		{Name: "HKT", Offset: 8 * hour, Meaning: "Hong Kong Time"},
		{Name: "PHT", Offset: 8 * hour, Meaning: "Philippine Time"},
		{Name: "AWST", Offset: 8 * hour, Meaning: "Australian Western Standard Time"},
		{Name: "JST", Offset: 9 * hour, Meaning: "Japan Standard Time"},
		{Name: "KST", Offset: 9 * hour, Meaning: "Korea Standard Time"},
		{Name: "ACST", Offset: 9*hour + 1800, Meaning: "Australian Central Standard Time"},
		{Name: "ACDT", Offset: 10*hour + 1800, Meaning: "Australian Central Daylight Time"},
		{Name: "AEST", Offset: 10 * hour, Meaning: "Australian Eastern Standard Time"},
		{Name: "AEDT", Offset: 11 * hour, Meaning: "Australian Eastern Daylight Time"},
		{Name: "NZST", Offset: 12 * hour, Meaning: "New Zealand Standard Time"},
		{Name: "NZDT", Offset: 13 * hour, Meaning: "New Zealand Daylight Time"},
		{Name: "NST", Offset: -(3*hour + 1800), Meaning: "Newfoundland Standard Time"},
		{Name: "NDT", Offset: -(2*hour + 1800), Meaning: "Newfoundland Daylight Time"},
		{Name: "AST", Offset: -4 * hour, Meaning: "Atlantic Standard Time", Ambiguous: true, Alternatives: "Arabia Standard Time +03:00"},
		{Name: "ADT", Offset: -3 * hour, Meaning: "Atlantic Daylight Time"},
		{Name: "EST", Offset: -5 * hour, Meaning: "US Eastern Standard Time"},
		{Name: "EDT", Offset: -4 * hour, Meaning: "US Eastern Daylight Time"},
		{Name: "CST", Offset: -6 * hour, Meaning: "US Central Standard Time", Ambiguous: true, Alternatives: "China Standard Time +08:00, Cuba Standard Time -05:00"},
		{Name: "CDT", Offset: -5 * hour, Meaning: "US Central Daylight Time", Ambiguous: true, Alternatives: "Cuba Daylight Time -04:00"},
		{Name: "MST", Offset: -7 * hour, Meaning: "US Mountain Standard Time", Ambiguous: true, Alternatives: "Malaysia Standard Time +08:00"},
		{Name: "MDT", Offset: -6 * hour, Meaning: "US Mountain Daylight Time"},
		{Name: "PST", Offset: -8 * hour, Meaning: "US Pacific Standard Time"},
		{Name: "PDT", Offset: -7 * hour, Meaning: "US Pacific Daylight Time"},
		{Name: "AKST", Offset: -9 * hour, Meaning: "Alaska Standard Time"},
		{Name: "AKDT", Offset: -8 * hour, Meaning: "Alaska Daylight Time"},
		{Name: "HST", Offset: -10 * hour, Meaning: "Hawaii Standard Time"},
		{Name: "BRT", Offset: -3 * hour, Meaning: "Brasilia Time"},
		{Name: "ART", Offset: -3 * hour, Meaning: "Argentina Time"},
	}
}

// LookupZone returns the table entry for an abbreviation (case-insensitive).
func LookupZone(name string) (Zone, bool) {
	name = strings.ToUpper(strings.TrimSpace(name))
	for _, z := range Zones() {
		if z.Name == name {
			return z, true
		}
	}
	return Zone{}, false
}

// zoneResult is the outcome of reading a zone designator.
type zoneResult struct {
	offset int
	note   string // set for ambiguous names
}

// parseZone reads a zone designator: empty, a name from the table, a numeric offset (+0100, -04:00, +5, +0530),
// or a name followed by an offset (GMT-04:00, UTC+2).
func parseZone(s string) (zoneResult, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return zoneResult{}, fmt.Errorf("no zone")
	}
	if s[0] == '+' || s[0] == '-' {
		off, err := parseOffset(s)
		return zoneResult{offset: off}, err
	}
	upper := strings.ToUpper(s)
	for _, prefix := range []string{"GMT", "UTC", "UT"} {
		if rest, ok := strings.CutPrefix(upper, prefix); ok && rest != "" && (rest[0] == '+' || rest[0] == '-') {
			off, err := parseOffset(rest)
			return zoneResult{offset: off}, err
		}
	}
	z, ok := LookupZone(s)
	if !ok {
		return zoneResult{}, fmt.Errorf("unknown zone %q", s)
	}
	r := zoneResult{offset: z.Offset}
	if z.Ambiguous {
		r.note = fmt.Sprintf("ambiguous zone %s taken as %s (%s); alternatives: %s", z.Name, z.Meaning, formatOffset(z.Offset), z.Alternatives)
	}
	return r, nil
}

// parseOffset reads ±HH, ±HHMM, ±HH:MM or ±H and returns seconds east of UTC.
func parseOffset(s string) (int, error) {
	if len(s) < 2 || (s[0] != '+' && s[0] != '-') {
		return 0, fmt.Errorf("bad offset %q", s)
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	body := strings.Replace(s[1:], ":", "", 1)
	var hh, mm string
	switch len(body) {
	case 1, 2:
		hh, mm = body, "00"
	case 3:
		hh, mm = body[:1], body[1:]
	case 4:
		hh, mm = body[:2], body[2:]
	default:
		return 0, fmt.Errorf("bad offset %q", s)
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h > 14 || m > 59 || strings.ContainsAny(hh+mm, "+- ") {
		return 0, fmt.Errorf("bad offset %q", s)
	}
	return sign * (h*hour + m*60), nil
}

func formatOffset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign = '-'
		sec = -sec
	}
	return fmt.Sprintf("%c%02d:%02d", sign, sec/hour, sec%hour/60)
}

// ukSummerTime reports whether the UTC instant t falls in British Summer Time (last Sunday of March 01:00 UTC
// to last Sunday of October 01:00 UTC, the rule in force since 1996).
func ukSummerTime(t time.Time) bool {
	y := t.Year()
	start := lastSunday(y, time.March).Add(time.Hour)
	end := lastSunday(y, time.October).Add(time.Hour)
	return !t.Before(start) && t.Before(end)
}

func lastSunday(year int, month time.Month) time.Time {
	d := time.Date(year, month+1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	return d.AddDate(0, 0, -int(d.Weekday()))
}
