package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// KnownLists are the context list names enrich.lists may configure, in the order internal/lists shows them (that
// package defines the same names as constants; its tests keep the two equal).
var KnownLists = []string{
	"tor_exit_nodes", "blocklisted_ips", "ransomware_ips", "suspicious_countries", "public_mail_domains",
	"disposable_domains", "competitor_domains", "executives", "privileged_users", "service_accounts",
	"disabled_accounts", "privacy_keywords", "job_search_keywords", "source_code_extensions",
}

// Enrich configures the context behaviour analytics adds to events: IP locations, named lists and peer groups.
type Enrich struct {
	// GeoIP is the path of a MaxMind GeoLite2/GeoIP2 Country or City database or an ip-location-db mmdb; empty
	// uses the built-in ip-location-db country database.
	GeoIP string `yaml:"geoip"`
	// Lists replaces or extends named lists (see KnownLists) from a file or a URL.
	Lists map[string]ListSource `yaml:"lists"`
	// PeerGroups is a CSV file (header user,group) that overrides the peer group (by default the Awareness
	// Training department) of the users it lists.
	PeerGroups string `yaml:"peer_groups"`
	// Refresh is how often list sources and the peer groups file are read again; 0 means 1h.
	Refresh Duration `yaml:"refresh"`
}

// ListSource is where one list's entries come from: a file or an http(s) URL, one entry per line.
type ListSource struct {
	File string `yaml:"file"`
	URL  string `yaml:"url"`
	// Mode is "replace" (the default: the source replaces the list's built-in default) or "extend" (adds to it).
	Mode string `yaml:"mode"`
	// Refresh overrides enrich.refresh for this list; 0 means enrich.refresh.
	Refresh Duration `yaml:"refresh"`
}

// Extend reports whether the source adds to the list's built-in default rather than replacing it.
func (s ListSource) Extend() bool { return s.Mode == "extend" }

// minRefresh is the shortest reload interval accepted, so that a URL is not fetched in a tight loop.
const minRefresh = time.Minute

// validate returns every problem of the enrich section, one message each.
func (e Enrich) validate() []string {
	var probs []string
	add := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	if msg := checkRefresh(e.Refresh); msg != "" {
		add("enrich.refresh %s: %s", time.Duration(e.Refresh), msg)
	}
	for _, name := range sortedKeys(e.Lists) {
		s, p := e.Lists[name], "enrich.lists."+name
		if !slices.Contains(KnownLists, name) {
			add("%s: unknown list (known: %s)", p, strings.Join(KnownLists, ", "))
			continue
		}
		switch {
		case s.File != "" && s.URL != "":
			add("%s: set file or url, not both", p)
		case s.File == "" && s.URL == "":
			add("%s: set file or url", p)
		case s.URL != "":
			if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add("%s.url %q: must be an http or https URL", p, s.URL)
			}
		}
		if s.Mode != "" && s.Mode != "replace" && s.Mode != "extend" {
			add("%s.mode %q: must be replace or extend", p, s.Mode)
		}
		if msg := checkRefresh(s.Refresh); msg != "" {
			add("%s.refresh %s: %s", p, time.Duration(s.Refresh), msg)
		}
	}
	return probs
}

func checkRefresh(d Duration) string {
	switch {
	case d < 0:
		return "must not be negative"
	case d > 0 && time.Duration(d) < minRefresh:
		return "must be at least 1m (or 0 for the default)"
	}
	return ""
}
