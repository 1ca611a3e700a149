package sim

import (
	"fmt"
	"math/rand/v2"
)

// ipRange is a block of public IPv4 addresses: first octet a, second octet lo..hi, any third and fourth octet.
type ipRange struct{ a, lo, hi int }

// draw returns a random address of the block.
func (b ipRange) draw(r *rand.Rand) string {
	return fmt.Sprintf("%d.%d.%d.%d", b.a, b.lo+r.IntN(b.hi-b.lo+1), r.IntN(256), 1+r.IntN(250))
}

// countryNet is where the users of one country connect from: the office egress, residential broadband, mobile
// carriers and the cloud region the tenant's integrations run in. Every block is a long-held allocation whose
// registrant country (RIR WHOIS and ASN data, as GeoIP country databases report it) is the country itself.
type countryNet struct {
	code   string    // ISO 3166-1 alpha-2
	office string    // the office /24, e.g. "81.2.69"
	home   []ipRange // residential broadband
	mobile []ipRange // mobile carriers
	cloud  ipRange   // the cloud region of the integrations
}

// countryNets are the countries the tenant has offices in. A user works from the office of the country of their
// home zone and lives, and carries a phone, in that country too: benign activity never spans two countries.
var countryNets = []countryNet{
	{"GB", "81.2.69", []ipRange{{86, 128, 191}, {92, 16, 31}}, []ipRange{{92, 40, 41}, {31, 94, 94}}, ipRange{20, 26, 26}},
	{"US", "67.43.156", []ipRange{{73, 0, 255}}, []ipRange{{172, 56, 63}, {174, 192, 255}}, ipRange{20, 14, 14}},
	{"DE", "62.153.208", []ipRange{{79, 192, 255}, {91, 0, 63}, {87, 128, 191}}, []ipRange{{80, 187, 187}, {109, 40, 47}}, ipRange{20, 52, 52}},
	{"ZA", "196.209.244", []ipRange{{41, 144, 151}}, []ipRange{{41, 13, 13}, {102, 132, 132}}, ipRange{20, 87, 87}},
	{"CA", "206.47.117", []ipRange{{99, 224, 255}, {70, 48, 55}}, []ipRange{{24, 114, 114}, {174, 88, 95}}, ipRange{20, 104, 104}},
	{"IN", "203.200.41", []ipRange{{117, 192, 255}, {182, 64, 79}}, []ipRange{{49, 32, 47}, {106, 192, 223}}, ipRange{20, 192, 192}},
}

// zoneCountries maps the home zones (zoneSpecs, accountZones) to the country of their office. The UTC zone has no
// country: its users belong to the account's own country.
var zoneCountries = map[string]string{
	"Europe/London": "GB", "America/New_York": "US", "America/Los_Angeles": "US", "Europe/Berlin": "DE",
	"Africa/Johannesburg": "ZA", "America/Toronto": "CA", "Asia/Kolkata": "IN",
}

// netOf returns the network of a country code; an unknown code (never produced by the tables above) panics.
func netOf(code string) *countryNet {
	for i := range countryNets {
		if countryNets[i].code == code {
			return &countryNets[i]
		}
	}
	panic("sim: no network for country " + code)
}

// zoneNet returns the network of the country of zone name, or acct's for a zone without a country.
func zoneNet(name, acct string) *countryNet {
	if c, ok := zoneCountries[name]; ok {
		return netOf(c)
	}
	return netOf(zoneCountries[acct])
}

// officeIPs draws each country's office egress address from the seed.
func officeIPs(seed int64) map[string]string {
	out := make(map[string]string, len(countryNets))
	for _, n := range countryNets {
		r := rngFor(seed, "office-"+n.code, 0)
		out[n.code] = fmt.Sprintf("%s.%d", n.office, 2+r.IntN(250))
	}
	return out
}

// foreignSource is a block (and its country) the new-country story's attacker logs on from; none of these
// countries has an office, so the logon is always from a country new to the victim.
type foreignSource struct {
	block   ipRange
	country string
}

// foreignSources are the attacker networks of the new-country story.
var foreignSources = []foreignSource{
	{ipRange{102, 89, 89}, "NG"}, {ipRange{177, 54, 54}, "BR"}, {ipRange{14, 160, 191}, "VN"},
	{ipRange{95, 24, 31}, "RU"}, {ipRange{197, 210, 210}, "NG"}, {ipRange{181, 4, 15}, "AR"},
}

// publicIP draws an address of an outside mail server from a few public /8 ranges (American, European and
// Asia-Pacific registries), so GeoIP places them in many countries.
func publicIP(r *rand.Rand) string {
	return fmt.Sprintf("%d.%d.%d.%d", pick(r, []int{40, 52, 104, 185, 203, 209}), r.IntN(256), r.IntN(256), 1+r.IntN(250))
}
