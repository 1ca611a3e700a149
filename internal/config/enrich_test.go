package config

import (
	"strings"
	"testing"
	"time"
)

func TestEnrichFromFile(t *testing.T) {
	path := writeFile(t, "c.yaml", `
enrich:
  geoip: /srv/GeoLite2-City.mmdb
  peer_groups: /srv/peers.csv
  refresh: 30m
  lists:
    tor_exit_nodes:
      url: https://lists.example.org/exit-addresses
      refresh: 2h
    public_mail_domains:
      file: /srv/more-mail.txt
      mode: extend
    executives:
      file: /srv/executives.txt
      mode: replace
`)
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Enrich
	if e.GeoIP != "/srv/GeoLite2-City.mmdb" || e.PeerGroups != "/srv/peers.csv" || time.Duration(e.Refresh) != 30*time.Minute {
		t.Errorf("enrich: %+v", e)
	}
	tor := e.Lists["tor_exit_nodes"]
	if tor.URL != "https://lists.example.org/exit-addresses" || time.Duration(tor.Refresh) != 2*time.Hour || tor.Extend() {
		t.Errorf("tor_exit_nodes: %+v", tor)
	}
	if m := e.Lists["public_mail_domains"]; m.File != "/srv/more-mail.txt" || !m.Extend() {
		t.Errorf("public_mail_domains: %+v", m)
	}
	if x := e.Lists["executives"]; x.Extend() {
		t.Errorf("executives must replace: %+v", x)
	}
}

func TestEnrichDefaultsValid(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Enrich.GeoIP != "" || len(cfg.Enrich.Lists) != 0 || cfg.Enrich.Refresh != 0 {
		t.Errorf("enrich defaults: %+v", cfg.Enrich)
	}
}

func TestEnrichValidate(t *testing.T) {
	known := strings.Join(KnownLists, ", ")
	for _, c := range []struct {
		name string
		e    Enrich
		want []string
	}{
		{"unknown list", Enrich{Lists: map[string]ListSource{"tor_exits": {File: "x"}}},
			[]string{"enrich.lists.tor_exits: unknown list (known: " + known + ")"}},
		{"file and url", Enrich{Lists: map[string]ListSource{"blocklisted_ips": {File: "x", URL: "https://h/x"}}},
			[]string{"enrich.lists.blocklisted_ips: set file or url, not both"}},
		{"neither", Enrich{Lists: map[string]ListSource{"executives": {Mode: "extend"}}},
			[]string{"enrich.lists.executives: set file or url"}},
		{"bad url", Enrich{Lists: map[string]ListSource{"ransomware_ips": {URL: "ftp://h/x"}}},
			[]string{`enrich.lists.ransomware_ips.url "ftp://h/x": must be an http or https URL`}},
		{"bad mode", Enrich{Lists: map[string]ListSource{"privacy_keywords": {File: "x", Mode: "append"}}},
			[]string{`enrich.lists.privacy_keywords.mode "append": must be replace or extend`}},
		{"negative list refresh", Enrich{Lists: map[string]ListSource{"suspicious_countries": {File: "x", Refresh: Duration(-time.Hour)}}},
			[]string{"enrich.lists.suspicious_countries.refresh -1h0m0s: must not be negative"}},
		{"short list refresh", Enrich{Lists: map[string]ListSource{"suspicious_countries": {File: "x", Refresh: Duration(time.Second)}}},
			[]string{"enrich.lists.suspicious_countries.refresh 1s: must be at least 1m (or 0 for the default)"}},
		{"negative refresh", Enrich{Refresh: Duration(-time.Minute)},
			[]string{"enrich.refresh -1m0s: must not be negative"}},
		{"several, sorted by list", Enrich{Lists: map[string]ListSource{
			"service_accounts": {}, "competitor_domains": {File: "a", URL: "http://b/c", Mode: "x"}}},
			[]string{"enrich.lists.competitor_domains: set file or url, not both",
				`enrich.lists.competitor_domains.mode "x": must be replace or extend`,
				"enrich.lists.service_accounts: set file or url"}},
		{"valid", Enrich{Refresh: Duration(time.Hour), Lists: map[string]ListSource{
			"tor_exit_nodes":      {URL: "https://h/exits", Refresh: Duration(10 * time.Minute)},
			"disabled_accounts":   {File: "/srv/disabled.txt", Mode: "replace"},
			"public_mail_domains": {File: "/srv/mail.txt", Mode: "extend"}}}, nil},
	} {
		got := c.e.validate()
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestEnrichProblemsReachValidate(t *testing.T) {
	path := writeFile(t, "c.yaml", "enrich:\n  lists:\n    executives:\n      mode: extend\n")
	_, err := Load(path, env(nil))
	if err == nil || err.Error() != "config: enrich.lists.executives: set file or url" {
		t.Fatalf("Load: %v", err)
	}
}
