package sim

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

func mustSim(t *testing.T, opts Options) *Sim {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ids(recs []schema.AuditRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func TestDeterminism(t *testing.T) {
	from := testNow.Add(-7 * 24 * time.Hour)
	base := mustSim(t, Options{Seed: 42, Mailboxes: 30, Days: 7}).AuditRecords(from, testNow)
	if len(base) < 500 {
		t.Fatalf("only %d records in 7 days for 30 mailboxes", len(base))
	}
	tests := []struct {
		name string
		opts Options
		same bool
	}{
		{"same seed", Options{Seed: 42, Mailboxes: 30, Days: 7}, true},
		{"different seed", Options{Seed: 43, Mailboxes: 30, Days: 7}, false},
		{"different mailbox count", Options{Seed: 42, Mailboxes: 31, Days: 7}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustSim(t, tt.opts).AuditRecords(from, testNow)
			if tt.same {
				if err := sameRecords(got, base); err != nil {
					t.Fatal(err)
				}
				return
			}
			shared := 0
			baseIDs := map[string]bool{}
			for _, id := range ids(base) {
				baseIDs[id] = true
			}
			for _, id := range ids(got) {
				if baseIDs[id] {
					shared++
				}
			}
			if shared > len(got)/10 {
				t.Errorf("%d of %d ids shared with the base seed", shared, len(got))
			}
		})
	}
}

func TestPastNeverChanges(t *testing.T) {
	clock := newFakeClock(testNow)
	s := mustSim(t, Options{Seed: 5, Mailboxes: 20, Days: 3, Now: clock.Now, Start: testNow})
	from := testNow.Add(-3 * 24 * time.Hour)
	before := s.AuditRecords(from, testNow)
	clock.Advance(5 * time.Hour)
	after := s.AuditRecords(from, clock.Now())
	if len(after) <= len(before) {
		t.Fatalf("no new records after 5 hours (%d then %d)", len(before), len(after))
	}
	// The newest-first list ends with exactly the records that existed before.
	if err := sameRecords(after[len(after)-len(before):], before); err != nil {
		t.Fatalf("past records changed: %v", err)
	}
	// A tenant switched on later (same seed) holds the same records for the shared period.
	later := mustSim(t, Options{Seed: 5, Mailboxes: 20, Days: 3, Now: clock.Now, Start: clock.Now()})
	if err := sameRecords(later.AuditRecords(from.Add(6*time.Hour), testNow), s.AuditRecords(from.Add(6*time.Hour), testNow)); err != nil {
		t.Errorf("later start changed records: %v", err)
	}
	// Nothing exists before Start-Days.
	if old := s.AuditRecords(from.Add(-48*time.Hour), from.Add(-time.Second)); len(old) != 0 {
		t.Errorf("%d records before the start of data", len(old))
	}
}

var idPattern = regexp.MustCompile(`^eNq[A-Za-z0-9_-]{70,}$`)

func TestRecordShapes(t *testing.T) {
	s := mustSim(t, Options{Seed: 3, Mailboxes: 40, Days: 7, Domain: "corp.example"})
	recs := s.AuditRecords(testNow.Add(-7*24*time.Hour), testNow)
	mailboxes := map[string]bool{}
	for _, m := range s.Mailboxes() {
		mailboxes[m] = true
	}
	seen := map[string]bool{}
	types := map[string]int{}
	apps := map[string]bool{}
	appRe := regexp.MustCompile(`Application: ([^,]+)`)
	for _, r := range recs {
		if !idPattern.MatchString(r.ID) {
			t.Fatalf("id %q is not base64url-shaped", r.ID)
		}
		if seen[r.ID] {
			t.Fatalf("duplicate id %s", r.ID)
		}
		seen[r.ID] = true
		if r.User != "" && !mailboxes[r.User] {
			t.Errorf("user %q is not a mailbox", r.User)
		}
		if _, err := time.Parse("2006-01-02T15:04:05-0700", r.EventTime); err != nil {
			t.Errorf("eventTime %q: %v", r.EventTime, err)
		}
		if r.Category == "" || r.AuditType == "" || r.EventInfo == "" {
			t.Errorf("record with an empty field: %+v", r)
		}
		types[r.AuditType]++
		if m := appRe.FindStringSubmatch(r.EventInfo); m != nil {
			apps[m[1]] = true
		}
	}
	for _, want := range []string{typeLogon, typeFailed, typeChallenge, "Search Action", "Threat Intel Feed Download", "Policy Changed", "Role Changed"} {
		if types[want] == 0 {
			t.Errorf("no %q records in a week (types %v)", want, types)
		}
	}
	if types[typeLogon] < types[typeFailed]*3 {
		t.Errorf("failed logons (%d) are not rare next to successful ones (%d)", types[typeFailed], types[typeLogon])
	}
	for _, want := range []string{"Administration Console", "Mimecast Personal Portal", "Outlook", "Mobile", "SMTP-MTA2"} {
		if !apps[want] {
			t.Errorf("application %q never appears", want)
		}
	}
	for _, m := range s.Mailboxes() {
		if !strings.HasSuffix(m, "@corp.example") {
			t.Fatalf("mailbox %q outside the domain", m)
		}
	}
}

// zoneOffsets maps the abbreviations the generator writes to their UTC offsets.
var zoneOffsets = map[string]time.Duration{
	"GMT": 0, "BST": time.Hour, "SAST": 2 * time.Hour, "CET": time.Hour, "CEST": 2 * time.Hour,
	"EST": -5 * time.Hour, "EDT": -4 * time.Hour, "PST": -8 * time.Hour, "PDT": -7 * time.Hour,
}

var dateTimeRe = regexp.MustCompile(`Date: (\d{4}-\d\d-\d\d),? Time: (\d\d:\d\d:\d\d) ?(\S+)`)

// parseInfoTime reads the local date/time/zone of an eventInfo back into UTC.
func parseInfoTime(info string) (time.Time, string, error) {
	m := dateTimeRe.FindStringSubmatch(info)
	if m == nil {
		return time.Time{}, "", fmt.Errorf("no Date/Time in %q", info)
	}
	local, err := time.Parse("2006-01-02 15:04:05", m[1]+" "+m[2])
	if err != nil {
		return time.Time{}, "", err
	}
	zone := strings.TrimSuffix(m[3], ",")
	var off time.Duration
	switch {
	case strings.HasPrefix(zone, "GMT") && len(zone) > 3:
		z, err := time.Parse("-07:00", zone[3:])
		if err != nil {
			return time.Time{}, "", err
		}
		_, o := z.Zone()
		off = time.Duration(o) * time.Second
	case zone[0] == '+' || zone[0] == '-':
		z, err := time.Parse("-0700", zone)
		if err != nil {
			return time.Time{}, "", err
		}
		_, o := z.Zone()
		off = time.Duration(o) * time.Second
	default:
		o, ok := zoneOffsets[zone]
		if !ok {
			return time.Time{}, "", fmt.Errorf("unknown zone %q", zone)
		}
		off = o
	}
	return local.Add(-off), zone, nil
}

func TestEventInfoLocalTimeMatchesEventTime(t *testing.T) {
	zones := map[string]int{}
	for _, seed := range []int64{1, 2, 3} {
		// Days span a DST change in both Europe and North America (March) to exercise both abbreviations.
		s := mustSim(t, Options{Seed: seed, Mailboxes: 40, Days: 30, Now: func() time.Time { return time.Date(2026, 4, 5, 0, 0, 0, 0, time.UTC) }})
		for _, r := range s.AuditRecords(time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 5, 0, 0, 0, 0, time.UTC)) {
			if !strings.Contains(r.EventInfo, "Time: ") {
				continue
			}
			got, zone, err := parseInfoTime(r.EventInfo)
			if err != nil {
				t.Fatalf("%s: %v", r.AuditType, err)
			}
			want, _ := schema.ParseTime(r.EventTime)
			if !got.Equal(want) {
				t.Fatalf("eventInfo %q reads as %s, eventTime %s", r.EventInfo, got, want)
			}
			zones[zone]++
		}
	}
	for _, want := range []string{"GMT", "BST", "EST", "EDT", "PST", "PDT", "CET", "CEST", "+0000", "+0200", "-0400", "+0530"} {
		if zones[want] == 0 {
			t.Errorf("zone %q never appears (seen %v)", want, zones)
		}
	}
	if !slices.ContainsFunc(keys(zones), func(z string) bool { return strings.HasPrefix(z, "GMT-") }) {
		t.Errorf("no GMT-hh:mm style zone (seen %v)", zones)
	}
}

func keys[M ~map[K]V, K comparable, V any](m M) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestInfoTimeParserRejectsNonsense(t *testing.T) {
	for _, info := range []string{"No changes found.", "Date: 2026-03-01, Time: 10:00:00 XYZ, IP: 1.2.3.4"} {
		if _, _, err := parseInfoTime(info); err == nil {
			t.Errorf("parseInfoTime(%q) succeeded", info)
		}
	}
}

// failureTimes returns the times of failed logons, split by whether they came from a spray IP.
func failureTimes(recs []schema.AuditRecord, sprayIPs map[string]bool) (benign, spray []time.Time) {
	ipRe := regexp.MustCompile(`IP: ([0-9.]+)`)
	for _, r := range recs {
		if r.AuditType != typeFailed {
			continue
		}
		tm, _ := schema.ParseTime(r.EventTime)
		if m := ipRe.FindStringSubmatch(r.EventInfo); m != nil && sprayIPs[m[1]] {
			spray = append(spray, tm)
			continue
		}
		benign = append(benign, tm)
	}
	slices.SortFunc(benign, time.Time.Compare)
	slices.SortFunc(spray, time.Time.Compare)
	return benign, spray
}

// maxIn30 is the largest number of times inside any inclusive 30-minute window.
func maxIn30(ts []time.Time) int {
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) > 30*time.Minute {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func TestPasswordSprayStory(t *testing.T) {
	for _, mailboxes := range []int{5, 50, 200} {
		t.Run(fmt.Sprintf("%d mailboxes", mailboxes), func(t *testing.T) {
			s := mustSim(t, Options{Seed: int64(mailboxes), Mailboxes: mailboxes, Days: 14})
			from := testNow.Add(-14 * 24 * time.Hour)
			sprays := s.Sprays(from, testNow)
			if len(sprays) < 13 || len(sprays) > 15 {
				t.Fatalf("%d sprays in 14 days, want one per day", len(sprays))
			}
			ips := map[string]bool{}
			for _, sp := range sprays {
				if sp.Failures <= 3 || sp.End.Sub(sp.Start) > 30*time.Minute || len(sp.IPs) < 2 {
					t.Errorf("spray %+v does not make >3 failures from a few IPs within 30 minutes", sp)
				}
				for _, ip := range sp.IPs {
					ips[ip] = true
				}
			}
			recs := s.AuditRecords(from, testNow)
			benign, spray := failureTimes(recs, ips)
			if got := maxIn30(benign); got > 3 {
				t.Errorf("benign traffic alone has %d failures within 30 minutes", got)
			}
			if len(benign) == 0 {
				t.Error("no benign failed logons at all")
			}
			want := 0
			for _, sp := range sprays {
				want += sp.Failures
			}
			if len(spray) != want {
				t.Errorf("%d spray failures in the records, ground truth says %d", len(spray), want)
			}
			// Each spray day fires the ">3 failures in 30 minutes" rule on all traffic.
			all := append(append([]time.Time{}, benign...), spray...)
			slices.SortFunc(all, time.Time.Compare)
			if maxIn30(all) <= 3 {
				t.Error("the rule would never fire")
			}
		})
	}
}

func TestMaxIn30(t *testing.T) {
	b := testNow
	tests := []struct {
		name string
		ts   []time.Time
		want int
	}{
		{"empty", nil, 0},
		{"four within 30 minutes", []time.Time{b, b.Add(10 * time.Minute), b.Add(20 * time.Minute), b.Add(30 * time.Minute)}, 4},
		{"four spread wider", []time.Time{b, b.Add(10 * time.Minute), b.Add(20 * time.Minute), b.Add(31 * time.Minute)}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxIn30(tt.ts); got != tt.want {
				t.Errorf("maxIn30 = %d, want %d", got, tt.want)
			}
		})
	}
}
