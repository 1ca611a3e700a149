package schema

import (
	"fmt"
	"regexp"
	"strings"
)

var threatIntel = recordTable{
	name: "Threat_Intel_CL",
	cols: []Column{
		{"source", String}, {"type", String}, {"value", String}, {"firstSeen", DateTime}, {"lastSeen", DateTime},
		{"id", String}, {"pattern", String}, {"labels", Dynamic},
	},
	required:  []string{"source", "id", "type", "value", "firstSeen"},
	key:       []string{"source", "id"},
	eventTime: "firstSeen",
	prepare:   prepareThreatIntel,
}

// ThreatIntel is Threat_Intel_CL (castwatch addition): indicators of the Mimecast threat-intel feeds from
// POST /api/ttp/threat-intel/get-feed (fileType stix; records are the indicator objects of the bundle's objects[]).
// source is customer (feedType malware_customer) or grid (malware_grid): the collector adds the feedType field
// to each object with WithField; an Elastic-style Content-Disposition field naming the feed file is read as well.
// type is the indicator kind (sha256, sha1, md5, url, domain, ipv4, ipv6, email) and value the indicator, both
// taken from the STIX pattern; firstSeen is valid_from (else created), lastSeen is modified (else created).
// Each row is one indicator object (one sighting): the feed repeats a value under new ids as it is seen again, so
// an indicator's first and last sighting are min(firstSeen) and max(lastSeen) over its rows.
var ThreatIntel = threatIntel.table()

// stixComparison matches one STIX comparison: [object-path = 'value'].
var stixComparison = regexp.MustCompile(`^\[\s*([A-Za-z0-9_\-]+:[^=\s]+)\s*=\s*'((?:[^'\\]|\\.)*)'\s*\]$`)

// stixTypes maps a STIX object path to the indicator type stored.
var stixTypes = map[string]string{
	"file:hashes.'sha-256'": "sha256",
	"file:hashes.sha256":    "sha256",
	"file:hashes.'sha-1'":   "sha1",
	"file:hashes.sha1":      "sha1",
	"file:hashes.md5":       "md5",
	"file:hashes.'md5'":     "md5",
	"url:value":             "url",
	"domain-name:value":     "domain",
	"ipv4-addr:value":       "ipv4",
	"ipv6-addr:value":       "ipv6",
	"email-addr:value":      "email",
}

// ParseSTIXPattern returns the indicator type and value of a single-comparison STIX pattern such as
// [file:hashes.'SHA-256' = 'c20d…']. An object path not in the known list is returned as the type, lower-cased.
func ParseSTIXPattern(p string) (typ, value string, err error) {
	sm := stixComparison.FindStringSubmatch(strings.TrimSpace(p))
	if sm == nil {
		return "", "", fmt.Errorf("unsupported STIX pattern %q", p)
	}
	path := strings.ToLower(sm[1])
	value = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(sm[2])
	if t, ok := stixTypes[path]; ok {
		typ = t
	} else {
		typ = path
	}
	if typ == "sha256" || typ == "sha1" || typ == "md5" {
		value = strings.ToLower(value)
	}
	return typ, value, nil
}

// feedFile matches the feed file name Elastic keeps in Content-Disposition, e.g. malware_grid_stix_2021….stix.
var feedFile = regexp.MustCompile(`malware_(customer|grid)_`)

func prepareThreatIntel(m fieldMap) error {
	if t := stringOf(m["type"]); t != "indicator" {
		return fmt.Errorf("STIX object type %q is not an indicator", t)
	}
	source := ""
	switch ft := stringOf(m["feedType"]); ft {
	case "malware_customer", "customer":
		source = "customer"
	case "malware_grid", "grid":
		source = "grid"
	case "":
		if sm := feedFile.FindStringSubmatch(stringOf(m["Content-Disposition"])); sm != nil {
			source = sm[1]
		}
	default:
		return fmt.Errorf("feedType: unknown feed %q", ft)
	}
	if source == "" {
		return fmt.Errorf("missing feedType")
	}
	setString(m, "source", source)
	if isEmpty(m["pattern"]) {
		return fmt.Errorf("missing pattern")
	}
	typ, value, err := ParseSTIXPattern(stringOf(m["pattern"]))
	if err != nil {
		return fmt.Errorf("pattern: %w", err)
	}
	setString(m, "type", typ)
	setString(m, "value", value)
	first := m["valid_from"]
	if isEmpty(first) {
		first = m["created"]
	}
	last := m["modified"]
	if isEmpty(last) {
		last = m["created"]
	}
	m["firstSeen"], m["lastSeen"] = first, last
	return nil
}
