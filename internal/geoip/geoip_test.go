package geoip

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeDB writes a test database mapping each CIDR to its record and returns its path.
func writeDB(t testing.TB, dbType string, records map[string]mmdbtype.Map) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IPVersion: 6})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range records {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "test.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// ipLocationDB is laid out like ip-location-db's country (and city) databases.
func ipLocationDB(t testing.TB) string {
	return writeDB(t, "geo-whois-asn-country", map[string]mmdbtype.Map{
		"81.2.69.0/24":    {"country_code": mmdbtype.String("gb")},
		"2a02:c7c::/32":   {"country_code": mmdbtype.String("GB")},
		"89.160.20.0/24":  {"country_code": mmdbtype.String("SE"), "city": mmdbtype.String("Linköping"), "latitude": mmdbtype.Float32(58.4167), "longitude": mmdbtype.Float32(15.6167)},
		"175.16.199.0/24": {"country_code": mmdbtype.String("")},
	})
}

// maxMindCity is laid out like a GeoLite2/GeoIP2 City database.
func maxMindCity(t testing.TB) string {
	names := func(en string) mmdbtype.Map {
		return mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + "-de")}}
	}
	return writeDB(t, "GeoLite2-City", map[string]mmdbtype.Map{
		"81.2.69.0/24": {
			"city":               names("London"),
			"continent":          mmdbtype.Map{"code": mmdbtype.String("EU")},
			"country":            mmdbtype.Map{"iso_code": mmdbtype.String("GB"), "geoname_id": mmdbtype.Uint32(2635167)},
			"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("GB")},
			"location":           mmdbtype.Map{"latitude": mmdbtype.Float64(51.5142), "longitude": mmdbtype.Float64(-0.0931), "accuracy_radius": mmdbtype.Uint16(10)},
			"subdivisions":       mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("ENG")}},
		},
		"2001:218::/32": {
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String("JP")},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(35.68536), "longitude": mmdbtype.Float64(139.75309)},
		},
		// A record with only the registered country (as for some satellite or anycast networks).
		"67.43.156.0/24": {"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("BT")}},
	})
}

func mustOpen(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

type lookupCase struct {
	ip   string
	want Location
	ok   bool
}

func checkLookups(t *testing.T, db *DB, cases []lookupCase) {
	t.Helper()
	for _, c := range cases {
		got, ok := db.Lookup(c.ip)
		if ok != c.ok || got != c.want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v, %v", c.ip, got, ok, c.want, c.ok)
		}
	}
}

// notFound are addresses every database must answer false for.
var notFound = []lookupCase{
	{ip: "8.8.8.8"},         // outside every network
	{ip: "2600::1"},         // outside every network
	{ip: "not-an-ip"},       // invalid
	{ip: ""},                // empty
	{ip: "81.2.69.999"},     // invalid octet
	{ip: "10.1.2.3"},        // private
	{ip: "192.168.1.1"},     // private
	{ip: "127.0.0.1"},       // loopback
	{ip: "169.254.1.1"},     // link-local
	{ip: "100.64.0.1"},      // shared address space
	{ip: "192.0.2.10"},      // documentation
	{ip: "fd00::1"},         // unique local
	{ip: "::1"},             // loopback
	{ip: "2001:db8::1"},     // documentation
	{ip: "224.0.0.1"},       // multicast
	{ip: "::ffff:10.0.0.1"}, // private, IPv4-mapped
	{ip: "255.255.255.255"}, // broadcast
}

func TestLookupIPLocationDBLayout(t *testing.T) {
	db := mustOpen(t, ipLocationDB(t))
	checkLookups(t, db, append([]lookupCase{
		{ip: "81.2.69.160", want: Location{Country: "GB"}, ok: true},
		{ip: "::ffff:81.2.69.160", want: Location{Country: "GB"}, ok: true},
		{ip: "2a02:c7c:1234::1", want: Location{Country: "GB"}, ok: true},
		{ip: "89.160.20.112", want: Location{Country: "SE", City: "Linköping", Lat: float64(float32(58.4167)), Lon: float64(float32(15.6167)), HasCoords: true}, ok: true},
		{ip: "175.16.199.1"}, // a record without a country is no location
	}, notFound...))
}

func TestLookupMaxMindCityLayout(t *testing.T) {
	db := mustOpen(t, maxMindCity(t))
	checkLookups(t, db, append([]lookupCase{
		{ip: "81.2.69.142", want: Location{Country: "GB", City: "London", Lat: 51.5142, Lon: -0.0931, HasCoords: true}, ok: true},
		{ip: "2001:218:1::5", want: Location{Country: "JP", Lat: 35.68536, Lon: 139.75309, HasCoords: true}, ok: true},
		{ip: "67.43.156.1", want: Location{Country: "BT"}, ok: true},
	}, notFound...))
	if db.Type() != "GeoLite2-City" || db.Built().IsZero() {
		t.Errorf("metadata: type %q built %v", db.Type(), db.Built())
	}
}

func TestNilAndClosedDB(t *testing.T) {
	var db *DB
	if _, ok := db.Lookup("81.2.69.142"); ok {
		t.Error("a nil DB must find nothing")
	}
	if db.Close() != nil || db.Source() != "" {
		t.Error("nil DB Close/Source")
	}
	open := mustOpen(t, maxMindCity(t))
	if err := open.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := open.Lookup("81.2.69.142"); ok {
		t.Error("a closed DB must find nothing")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.mmdb")
	_, err := Open(missing)
	if want := "geoip: cannot read database " + missing + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("missing file: %v, want %q", err, want)
	}

	corrupt := filepath.Join(dir, "corrupt.mmdb")
	if err := os.WriteFile(corrupt, []byte("this is not a database\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(corrupt)
	if want := "geoip: " + corrupt + " is not a valid MaxMind DB (mmdb) file: error opening database: invalid MaxMind DB file"; err == nil || err.Error() != want {
		t.Errorf("corrupt file: %v, want %q", err, want)
	}

	// A real database cut short keeps its metadata marker out of reach, or its tree breaks: either way invalid.
	b, err := os.ReadFile(maxMindCity(t))
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.mmdb")
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(truncated); err == nil || !strings.HasPrefix(err.Error(), "geoip: "+truncated+" is not a valid MaxMind DB (mmdb) file: ") {
		t.Errorf("truncated file: %v", err)
	}

	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(empty); err == nil || err.Error() != "geoip: "+empty+" is not a valid MaxMind DB (mmdb) file: file is empty" {
		t.Errorf("empty file: %v", err)
	}
}

// builtDefault reports whether `make web` put the default database into the embedded data folder.
func builtDefault(t *testing.T) bool {
	t.Helper()
	_, err := fs.Stat(data, defaultDBFile)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatalf("embedded data: %v", err)
	}
	return true
}

func TestDefault(t *testing.T) {
	if !builtDefault(t) {
		if _, err := Default(); !errors.Is(err, ErrNoDefault) || err.Error() != "geoip: no default database built in (run make web)" {
			t.Fatalf("Default without the built file: %v", err)
		}
		t.Skip("the default database is not built into this test binary: run make web to test it")
	}
	db, err := Default()
	if err != nil {
		t.Fatalf("the default database is embedded but cannot be opened: %v", err)
	}
	defer db.Close()
	if db.Source() != "built-in ip-location-db (CC BY 4.0)" {
		t.Errorf("Source() = %q", db.Source())
	}
	// Well-known, long-held allocations: a country database must place them in their registrant's country.
	for ip, want := range map[string]string{
		"8.8.8.8":              "US", // Google Public DNS
		"2001:4860:4860::8888": "US", // Google Public DNS, IPv6
		"193.0.6.139":          "NL", // RIPE NCC
		"202.12.29.205":        "AU", // APNIC
	} {
		loc, ok := db.Lookup(ip)
		if !ok || loc.Country != want {
			t.Errorf("default Lookup(%s) = %+v, %v; want country %s", ip, loc, ok, want)
		}
		if loc.HasCoords || loc.City != "" {
			t.Errorf("default Lookup(%s): a country database has no city or coordinates: %+v", ip, loc)
		}
	}
	if _, ok := db.Lookup("10.0.0.1"); ok {
		t.Error("private address found in the default database")
	}
}

func TestCountryInfo(t *testing.T) {
	if _, err := fs.Stat(data, countriesFile); errors.Is(err, fs.ErrNotExist) {
		if name, _, _, ok := CountryInfo("de"); ok || name != "DE" {
			t.Fatalf("without country data: %q %v, want the code and false", name, ok)
		}
		t.Skip("the country data is not built into this test binary: run make web to test it")
	}
	if err := CountryDataError(); err != nil {
		t.Fatalf("the embedded country data is unreadable: %v", err)
	}
	name, lat, lon, ok := CountryInfo("de")
	if !ok || name != "Germany" || lat < 47 || lat > 55 || lon < 5 || lon > 16 {
		t.Errorf("CountryInfo(de) = %q %v %v %v", name, lat, lon, ok)
	}
	if name, _, _, ok := CountryInfo("US"); !ok || name != "United States of America" {
		t.Errorf("CountryInfo(US) = %q %v", name, ok)
	}
	if name, _, _, ok := CountryInfo("zz"); ok || name != "ZZ" {
		t.Errorf("unknown code: %q %v, want ZZ false", name, ok)
	}
	if name, _, _, ok := CountryInfo("Germany"); ok || name != "Germany" {
		t.Errorf("not a code: %q %v", name, ok)
	}
}

func TestParseCountriesError(t *testing.T) {
	if _, err := parseCountries([]byte("{")); err == nil || !strings.HasPrefix(err.Error(), "geoip: country data: ") {
		t.Errorf("bad JSON: %v", err)
	}
}

func TestAttribution(t *testing.T) {
	a := Attribution()
	for _, want := range []string{"ip-location-db", "https://github.com/sapics/ip-location-db", "CC BY 4.0", "https://www.nro.net/"} {
		if !strings.Contains(a, want) {
			t.Errorf("Attribution() lacks %q: %s", want, a)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	for _, layout := range []struct {
		name string
		open func(testing.TB) string
	}{{"ip-location-db", ipLocationDB}, {"maxmind-city", maxMindCity}} {
		b.Run(layout.name, func(b *testing.B) {
			db := mustOpen(b, layout.open(b))
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := db.Lookup("81.2.69.160"); !ok {
					b.Fatal("not found")
				}
			}
		})
	}
	b.Run("default", func(b *testing.B) {
		db, err := Default()
		if errors.Is(err, ErrNoDefault) {
			b.Skip("run make web to benchmark the default database")
		}
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		ips := []string{"8.8.8.8", "193.0.6.139", "2001:4860:4860::8888", "202.12.29.205"}
		i := 0
		for b.Loop() {
			db.Lookup(ips[i%len(ips)])
			i++
		}
	})
}
