package sim

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/geoip"
)

// tableCountry is the country the network table (countryNets, foreignSources) gives an IPv4 address, "" when no
// block of the table holds it.
func tableCountry(ip string) string {
	parts := strings.Split(ip, ".")
	if len(parts) != 4 {
		return ""
	}
	a, _ := strconv.Atoi(parts[0])
	b, _ := strconv.Atoi(parts[1])
	in := func(blocks ...ipRange) bool {
		return slices.ContainsFunc(blocks, func(x ipRange) bool { return a == x.a && b >= x.lo && b <= x.hi })
	}
	for _, n := range countryNets {
		if strings.HasPrefix(ip, n.office+".") || in(n.home...) || in(n.mobile...) || in(n.cloud) {
			return n.code
		}
	}
	for _, f := range foreignSources {
		if in(f.block) {
			return f.country
		}
	}
	return ""
}

var infoIP = regexp.MustCompile(`IP: ([0-9.]+)[, ]`)

// TestUsersStayInOneCountry checks that on benign days every address a user acts from (office, home, phone, and
// the integration acting for the first administrator) lies in the country of the user's office, by the network
// table, so behaviour analytics never sees one session span two countries.
func TestUsersStayInOneCountry(t *testing.T) {
	t.Parallel()
	s := mustSim(t, Options{Seed: 52, Mailboxes: 50, Days: 7, QuietUntil: testNow.Add(24 * time.Hour)})
	countries := map[string]bool{}
	for _, u := range s.users {
		home, office := tableCountry(u.homeIP), tableCountry(u.office)
		if home == "" || home != office || office != u.net.code {
			t.Errorf("%s: home %s (%q), office %s (%q), network %s", u.email, u.homeIP, home, u.office, office, u.net.code)
		}
		countries[office] = true
	}
	if len(countries) < 2 {
		t.Errorf("all 50 users in %v: the zones should spread them over several countries", countries)
	}
	if got, want := tableCountry(s.integIP), s.users[0].net.code; got != want {
		t.Errorf("integration address %s is in %q, its administrator's office in %q", s.integIP, got, want)
	}
	byUser := map[string]*user{}
	for i := range s.users {
		byUser[s.users[i].email] = &s.users[i]
	}
	seen := 0
	for _, rec := range s.AuditRecords(testNow.Add(-7*24*time.Hour), testNow) {
		u, m := byUser[rec.User], infoIP.FindStringSubmatch(rec.EventInfo)
		if u == nil || m == nil {
			continue
		}
		seen++
		if c := tableCountry(m[1]); c != u.net.code {
			t.Errorf("%s acted from %s (%q), the office is in %s: %s", u.email, m[1], c, u.net.code, rec.EventInfo)
		}
	}
	if seen < 1000 {
		t.Fatalf("only %d audit records with a user and an address in a week", seen)
	}
}

// TestNetworkTableMatchesGeoIP checks the network table against the GeoIP country database built into castwatch
// (ip-location-db, RIR WHOIS and ASN country): every office /24 and a sample of every other block is located in
// the table's country, and no attacker country of the new-country story has an office.
func TestNetworkTableMatchesGeoIP(t *testing.T) {
	t.Parallel()
	for _, f := range foreignSources {
		if slices.ContainsFunc(countryNets, func(n countryNet) bool { return n.code == f.country }) {
			t.Errorf("attacker country %s has an office: the new-country story would not be new", f.country)
		}
	}
	db, err := geoip.Default()
	if errors.Is(err, geoip.ErrNoDefault) {
		t.Skip("castwatch was built without the GeoIP database (make web): the table cannot be checked against it")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check := func(ip, want string) {
		if loc, ok := db.Lookup(ip); !ok || loc.Country != want {
			t.Errorf("%s: GeoIP says %q (found %v), the table %s", ip, loc.Country, ok, want)
		}
	}
	blocks := func(want string, bs ...ipRange) {
		for _, b := range bs {
			for second := b.lo; second <= b.hi; second++ {
				for _, third := range []int{0, 77, 160, 255} {
					check(fmt.Sprintf("%d.%d.%d.9", b.a, second, third), want)
				}
			}
		}
	}
	for _, n := range countryNets {
		for last := 1; last < 255; last += 7 {
			check(fmt.Sprintf("%s.%d", n.office, last), n.code)
		}
		blocks(n.code, n.home...)
		blocks(n.code, n.mobile...)
		blocks(n.code, n.cloud)
	}
	for _, f := range foreignSources {
		blocks(f.country, f.block)
	}
}
