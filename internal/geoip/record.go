package geoip

import (
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// record is the part of a database record castwatch uses, in either layout:
//
//	ip-location-db: {country_code: "DE", city: "Berlin", latitude: 52.5, longitude: 13.4}
//	MaxMind:        {country: {iso_code: "DE"}, registered_country: {iso_code: "DE"},
//	                 city: {names: {en: "Berlin"}}, location: {latitude: 52.5, longitude: 13.4}}
//
// It decodes only these keys and skips every other one.
type record struct {
	countryCode, isoCode, registeredISO string
	city                                string
	lat, lon                            float64
	hasLat, hasLon                      bool
}

// location turns the record into a Location; a record with neither a country nor coordinates is not a location.
func (r *record) location() (Location, bool) {
	loc := Location{City: r.city}
	for _, c := range []string{r.countryCode, r.isoCode, r.registeredISO} {
		if loc.Country = normalizeCode(c); loc.Country != "" {
			break
		}
	}
	if r.hasLat && r.hasLon {
		loc.Lat, loc.Lon, loc.HasCoords = r.lat, r.lon, true
	}
	return loc, loc.Country != "" || loc.HasCoords
}

// mapFields walks the map at c, calling field for every key with the value's cursor. field returns the value's
// successor (from reading or skipping it).
func mapFields(c mmdbdata.Cursor, field func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error)) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, err
	}
	var next mmdbdata.Cursor
	for {
		key, v, ok := m.Next(next)
		if !ok {
			break
		}
		if next, err = field(key, v); err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End()
}

// UnmarshalMaxMindDBCursor decodes a record of either layout.
func (r *record) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	return mapFields(c, func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
		switch string(key) {
		case "country_code":
			return readString(v, &r.countryCode)
		case "country":
			return readField(v, "iso_code", &r.isoCode)
		case "registered_country":
			return readField(v, "iso_code", &r.registeredISO)
		case "city":
			return r.readCity(v)
		case "location":
			return r.readCoords(v)
		case "latitude":
			return readFloat(v, &r.lat, &r.hasLat)
		case "longitude":
			return readFloat(v, &r.lon, &r.hasLon)
		}
		return v.Skip()
	})
}

// readCity reads a flat city name or MaxMind's {names: {en: ...}}.
func (r *record) readCity(v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	if k, err := v.Kind(); err == nil && k == mmdbdata.KindString {
		return readString(v, &r.city)
	}
	return mapFields(v, func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
		if string(key) == "names" {
			return readField(v, "en", &r.city)
		}
		return v.Skip()
	})
}

// readCoords reads MaxMind's {latitude: ..., longitude: ...}.
func (r *record) readCoords(v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	return mapFields(v, func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
		switch string(key) {
		case "latitude":
			return readFloat(v, &r.lat, &r.hasLat)
		case "longitude":
			return readFloat(v, &r.lon, &r.hasLon)
		}
		return v.Skip()
	})
}

// readField reads the string under name in the map at v.
func readField(v mmdbdata.Cursor, name string, dst *string) (mmdbdata.Cursor, error) {
	return mapFields(v, func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
		if string(key) == name {
			return readString(v, dst)
		}
		return v.Skip()
	})
}

func readString(v mmdbdata.Cursor, dst *string) (mmdbdata.Cursor, error) {
	s, next, err := v.ReadString()
	if err == nil {
		*dst = s
	}
	return next, err
}

func readFloat(v mmdbdata.Cursor, dst *float64, has *bool) (mmdbdata.Cursor, error) {
	f, next, err := v.ReadFloat()
	if err == nil {
		*dst, *has = f, true
	}
	return next, err
}
