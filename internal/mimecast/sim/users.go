package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zone rules for eventInfo local times, independent of the host
)

// zoneStyle is how an eventInfo writes the zone after the local time.
type zoneStyle int

const (
	styleAbbrev  zoneStyle = iota // "18:17:30 BST"
	styleNumeric                  // "16:39:17 +0100"
	styleGMT                      // "13:50:07 GMT-04:00"
	styleCompact                  // "08:45:02+0000" (always UTC)
)

// zone is a user's home time zone and how their events spell it.
type zone struct {
	loc   *time.Location
	style zoneStyle
}

// zoneSpecs are the home zones users are drawn from.
var zoneSpecs = []struct {
	name  string
	style zoneStyle
}{
	{"Europe/London", styleAbbrev},
	{"America/New_York", styleAbbrev},
	{"America/Los_Angeles", styleAbbrev},
	{"Europe/Berlin", styleAbbrev},
	{"Africa/Johannesburg", styleNumeric},
	{"America/New_York", styleNumeric},
	{"America/Toronto", styleGMT},
	{"Asia/Kolkata", styleNumeric},
	{"UTC", styleCompact},
}

// accountZones are the candidate zones of the account itself (admin console times, working hours).
var accountZones = []string{"Europe/London", "America/New_York", "Europe/Berlin", "Africa/Johannesburg"}

// mustZone loads a zone from the embedded database; the names above are all known.
func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("sim: zone %s: %v", name, err))
	}
	return loc
}

// formatLocal renders "Time: …" content for t in z.
func (z zone) formatLocal(t time.Time) (date, clock string) {
	if z.style == styleCompact {
		u := t.UTC()
		return u.Format("2006-01-02"), u.Format("15:04:05-0700")
	}
	l := t.In(z.loc)
	switch z.style {
	case styleAbbrev:
		return l.Format("2006-01-02"), l.Format("15:04:05 MST")
	case styleGMT:
		return l.Format("2006-01-02"), l.Format("15:04:05") + " GMT" + l.Format("-07:00")
	default:
		return l.Format("2006-01-02"), l.Format("15:04:05 -0700")
	}
}

// user is one mailbox of the tenant with its habits.
type user struct {
	email   string
	display string // as written between <> in eventInfo
	name    string // "First Last"
	admin   bool
	zone    zone
	net     *countryNet // the country the user works and lives in
	office  string      // the office egress address of that country (set by New)
	homeIP  string      // used when not in the office, in the same country
	// personal is the user's one private address at a public mail provider, "" for users who never mail
	// themselves (see markPersonal).
	personal string
	remote   bool // works from home most of the time
	mfa      bool // logs on with a second factor
	apps     []string
	methods  []string
	steady   bool // always logs on from their office (the new-country story's victims)
	risky    bool // poor security awareness: SAFE score F (the malicious-click story's victims)
}

var firstNames = []string{
	"Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Sofia", "Leo", "Grace", "Oscar",
	"Priya", "Rahul", "Thandi", "Sipho", "Lena", "Jonas", "Chloe", "Lucas", "Hannah", "Ethan", "Zara", "Mateo",
	"Emily", "James", "Fatima", "Omar", "Ingrid", "Lars", "Nora", "Daniel", "Keiko", "Hiro", "Maria", "David",
}

var lastNames = []string{
	"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Khan", "Nkosi",
	"Dlamini", "Schmidt", "Mueller", "Dubois", "Martin", "Garcia", "Rossi", "Novak", "Larsen", "Hughes", "Walker",
	"Wright", "Evans", "Okafor", "Mensah", "Sato", "Tanaka", "Silva", "Cohen", "Murphy", "Kelly",
}

var loginApps = []string{"Mimecast Personal Portal", "Outlook", "Mobile", "SMTP-MTA2", "MPP", "mimecast-moa", "MfO"}

var loginMethods = []string{"Cloud", "SP-initiated SAML", "Office 365", "Two Step Auth"}

// makeUsers builds n deterministic mailboxes. Roughly one in fifteen (at least one) is an administrator.
func makeUsers(seed int64, n int, domain string) []user {
	r := rngFor(seed, "users", 0)
	acct := accountZone(seed).String()
	seen := map[string]int{}
	users := make([]user, 0, n)
	admins := max(1, n/15)
	for i := range n {
		first, last := pick(r, firstNames), pick(r, lastNames)
		local := strings.ToLower(first + "." + last)
		seen[local]++
		if c := seen[local]; c > 1 {
			local = fmt.Sprintf("%s%d", local, c)
		}
		u := user{
			email: local + "@" + domain,
			name:  first + " " + last,
			admin: i < admins,
		}
		if r.IntN(2) == 0 {
			u.display = last + ", " + first
		} else {
			u.display = first + " " + last
		}
		if r.Float64() < 0.6 {
			u.zone = zone{loc: mustZone(acct), style: styleAbbrev}
		} else {
			zs := pick(r, zoneSpecs)
			u.zone = zone{loc: mustZone(zs.name), style: zs.style}
		}
		u.net = zoneNet(u.zone.loc.String(), acct)
		u.homeIP = pick(r, u.net.home).draw(r)
		u.remote = r.Float64() < 0.3
		u.mfa = u.admin || r.Float64() < 0.4
		// Each user favours two or three applications and one or two logon methods.
		perm := r.Perm(len(loginApps))
		for _, k := range perm[:2+r.IntN(2)] {
			u.apps = append(u.apps, loginApps[k])
		}
		if u.admin {
			u.apps = append(u.apps, "Administration Console", "Administration Console")
		}
		u.methods = []string{pick(r, loginMethods)}
		if r.IntN(3) == 0 {
			u.methods = append(u.methods, pick(r, loginMethods))
		}
		users = append(users, u)
	}
	return users
}

// markHabits flags the steady users (who always log on from one place) and the risky users (poor awareness
// scores). Both depend on the seed and the user's position only; each set has at least one member.
func markHabits(seed int64, users []user) {
	steady, risky := -1, -1
	for i := range users {
		u := &users[i]
		if !u.admin && !u.remote && unitFloat(seed, "steady", uint64(i)) < 0.3 {
			u.steady = true
			steady = i
		}
		if !u.admin && unitFloat(seed, "risky", uint64(i)) < 0.1 {
			u.risky = true
			risky = i
		}
	}
	if len(users) == 0 {
		return
	}
	last := len(users) - 1
	if steady < 0 {
		users[last].steady = true
	}
	if risky < 0 {
		users[last].risky = true
	}
}

// accountZone is the account's own zone: working hours and administration console times follow it.
func accountZone(seed int64) *time.Location {
	return mustZone(pick(rngFor(seed, "account-zone", 0), accountZones))
}

// personalShare is the share of users who mail their own private address now and then.
const personalShare = 0.3

// personalStyles are the local parts of private addresses (first and last name, lower case), sometimes followed
// by a year of birth. Exfiltration stories invent first.last plus a two-digit number instead, so a story's
// address is never a user's own.
var personalStyles = []string{"%s.%s", "%s_%s", "%s%s", "%s-%s"}

// markPersonal gives about personalShare of the users one stable private address: a provider and local part
// that depend only on the seed and the user's position.
func markPersonal(seed int64, users []user) {
	seen := map[string]bool{}
	for i := range users {
		u := &users[i]
		if unitFloat(seed, "personal", uint64(i)) >= personalShare {
			continue
		}
		r := rngFor(seed, "personal-address", int64(i))
		first, last, _ := strings.Cut(strings.ToLower(u.name), " ")
		for {
			local := fmt.Sprintf(pick(r, personalStyles), first, last)
			if r.IntN(2) == 0 {
				local += strconv.Itoa(1960 + r.IntN(45))
			}
			addr := local + "@" + pick(r, personalDomains)
			if !seen[addr] {
				seen[addr], u.personal = true, addr
				break
			}
		}
	}
}
