// Package geoip finds the country (and, where the database has it, the city and coordinates) of an IP address in
// a MaxMind DB (mmdb) file. It reads two record layouts, detected per record: ip-location-db's flat one
// (country_code, and city/latitude/longitude in its city databases) and MaxMind's GeoLite2/GeoIP2 Country and City
// one (country.iso_code, city.names.en, location.latitude/longitude). Default opens the ip-location-db country
// database embedded at build time (`make web`); Open reads a database the user points to.
package geoip

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

//go:embed data
var data embed.FS

const (
	defaultDBFile = "data/geo-whois-asn-country.mmdb"
	defaultSource = "built-in ip-location-db (CC BY 4.0)"
)

// ErrNoDefault is returned by Default when the binary was built without the default database.
var ErrNoDefault = errors.New("geoip: no default database built in (run make web)")

// Location is where an IP address is registered or located.
type Location struct {
	// Country is the ISO 3166-1 alpha-2 code, upper case.
	Country string
	// City is the English city name, empty when the database has none.
	City string
	// Lat and Lon are the database's coordinates, valid when HasCoords is set. A country database has none: use
	// CountryInfo for the country's centre point.
	Lat, Lon  float64
	HasCoords bool
}

// DB is an open GeoIP database. Lookups are safe for concurrent use; Close must not run concurrently with them.
type DB struct {
	r      *maxminddb.Reader
	source string
}

// Open reads the mmdb file at path (a MaxMind GeoLite2/GeoIP2 Country or City database, or an ip-location-db one).
// It checks the file's metadata and search tree size; it does not run the full structural verification, which
// rejects databases that merely lack optional metadata such as a description (ip-location-db's do).
func Open(path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("geoip: cannot read database %s: %w", path, unwrapPathError(err))
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: %s is not a valid MaxMind DB (mmdb) file: %w", path, err)
	}
	return &DB{r: r, source: path}, nil
}

// Default opens the ip-location-db country database embedded in the binary. It returns ErrNoDefault when the
// binary was built without it.
func Default() (*DB, error) {
	b, err := data.ReadFile(defaultDBFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoDefault
	}
	if err != nil {
		return nil, fmt.Errorf("geoip: built-in database: %w", err)
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geoip: built-in database is not a valid MaxMind DB file: %w", err)
	}
	return &DB{r: r, source: defaultSource}, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Lookup returns the location of ip. It reports false for a nil DB, an address that does not parse, a private,
// loopback, link-local, multicast or otherwise reserved address, and an address the database does not know.
func (d *DB) Lookup(ip string) (Location, bool) {
	if d == nil || d.r == nil {
		return Location{}, false
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return Location{}, false
	}
	addr = addr.Unmap()
	if !isPublic(addr) {
		return Location{}, false
	}
	rec := records.Get().(*record)
	defer records.Put(rec)
	*rec = record{}
	if err := d.r.Lookup(addr).Decode(rec); err != nil {
		return Location{}, false
	}
	return rec.location()
}

// records reuses decoding targets so that a lookup does not allocate.
var records = sync.Pool{New: func() any { return new(record) }}

// Close releases the database.
func (d *DB) Close() error {
	if d == nil || d.r == nil {
		return nil
	}
	return d.r.Close()
}

// Source is the database's path, or "built-in ip-location-db (CC BY 4.0)" for the default one.
func (d *DB) Source() string {
	if d == nil {
		return ""
	}
	return d.source
}

// Type is the database type its metadata names, e.g. "GeoLite2-City".
func (d *DB) Type() string {
	if d == nil || d.r == nil {
		return ""
	}
	return d.r.Metadata.DatabaseType
}

// Built is when the database was built, from its metadata.
func (d *DB) Built() time.Time {
	if d == nil || d.r == nil {
		return time.Time{}
	}
	return d.r.Metadata.BuildTime().UTC()
}

// Identity names the database and its build ("none" for a nil DB): a store's counts by country record it to
// tell when they were made with another database.
func (d *DB) Identity() string {
	if d == nil || d.r == nil {
		return "none"
	}
	return fmt.Sprintf("%s (%s, built %s)", d.Source(), d.Type(), d.Built().Format(time.RFC3339))
}

// Attribution is the credit the UI must show wherever it uses locations from the default database.
func Attribution() string {
	return "IP address country data: ip-location-db geo-whois-asn-country (https://github.com/sapics/ip-location-db), " +
		"based on data by the Number Resource Organization (https://www.nro.net/), licensed under CC BY 4.0 " +
		"(https://creativecommons.org/licenses/by/4.0/)."
}

// reserved are special-purpose ranges (RFC 6890 and successors) that netip's predicates do not already cover.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("3fff::/20"),
}

// isPublic reports whether addr is a global unicast address outside the private and reserved ranges.
func isPublic(addr netip.Addr) bool {
	if !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// normalizeCode upper-cases a two-letter country code; anything else gives "".
func normalizeCode(code string) string {
	code = strings.TrimSpace(code)
	if len(code) != 2 {
		return ""
	}
	return strings.ToUpper(code)
}
