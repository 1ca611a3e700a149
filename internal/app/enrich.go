package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/geoip"
	"github.com/castwatch/castwatch/internal/lists"
	"github.com/castwatch/castwatch/internal/schema"
)

// enrichment is the context behaviour analytics and the dashboards use: IP locations (internal/geoip) and the
// context lists and peer groups (internal/lists). It implements ueba.Context.
type enrichment struct {
	geo   *geoip.DB
	lists *lists.Set
	// builtinGeo: geo is the built-in database, whose licence asks for attribution.
	builtinGeo bool
}

// openEnrichment opens the GeoIP database (the configured one, else the built-in one; without either, countries
// are unknown and a warning says why) and loads the context lists.
func (a *App) openEnrichment(ctx context.Context, cfg config.Enrich) (*enrichment, error) {
	e := &enrichment{}
	var err error
	if cfg.GeoIP != "" {
		if e.geo, err = geoip.Open(cfg.GeoIP); err != nil {
			return nil, fmt.Errorf("enrich.geoip: %w", err)
		}
	} else if e.geo, err = geoip.Default(); err != nil {
		a.log.Warn("no GeoIP database: countries of addresses are unknown", "err", err)
	} else {
		e.builtinGeo = true
	}
	srcs := map[string]lists.Source{}
	for name, s := range cfg.Lists {
		srcs[name] = lists.Source{File: s.File, URL: s.URL, Extend: s.Mode == "extend", Refresh: time.Duration(s.Refresh)}
	}
	if e.lists, err = lists.New(lists.Options{Sources: srcs, PeerGroups: cfg.PeerGroups,
		Refresh: time.Duration(cfg.Refresh), Logger: a.log}); err != nil {
		return nil, fmt.Errorf("enrich: %w", err)
	}
	if err := e.lists.Load(ctx); err != nil {
		return nil, fmt.Errorf("enrich: %w", err)
	}
	return e, nil
}

// Country implements ueba.Context.
func (e *enrichment) Country(ip string) string {
	if loc, ok := e.geo.Lookup(ip); ok {
		return loc.Country
	}
	return ""
}

// CountryOf is the ISO country code of ip, if the GeoIP database knows it (the dashboards' maps).
func (e *enrichment) CountryOf(ip string) (string, bool) {
	c := e.Country(ip)
	return c, c != ""
}

// Attribution is the credit the web UI shows for the GeoIP data: the built-in database's licence requires it; a
// user's own database (e.g. MaxMind) carries its own terms, named by its type.
func (e *enrichment) Attribution() string {
	switch {
	case e.builtinGeo:
		return geoip.Attribution()
	case e.geo == nil:
		return ""
	}
	return "IP address locations: " + e.geo.Type() + " database " + e.geo.Source() + "."
}

// PeerGroup implements ueba.Context.
func (e *enrichment) PeerGroup(user string) string { return e.lists.PeerGroups().Group(user) }

// InList implements ueba.Context by the list's kind.
func (e *enrichment) InList(list, value string) bool {
	kind, _ := lists.KindOf(list)
	switch kind {
	case lists.KindIP:
		return e.lists.HasIP(list, value)
	case lists.KindCountry:
		return e.lists.HasCountry(list, value)
	case lists.KindDomain:
		return e.lists.HasDomain(list, value)
	case lists.KindUser:
		return e.lists.HasUser(list, value)
	case lists.KindExtension:
		return e.lists.HasExtension(list, value)
	case lists.KindKeyword:
		_, ok := e.lists.MatchKeyword(list, value)
		return ok
	}
	return false
}

// Keyword implements ueba.Context.
func (e *enrichment) Keyword(list, text string) (string, bool) {
	return e.lists.MatchKeyword(list, text)
}

// Close releases the GeoIP database.
func (e *enrichment) Close() error { return e.geo.Close() }

// loadPeerGroups sets each Awareness Training user's department as their peer group (a configured CSV overrides
// it): per e-mail address the department of the newest snapshot, the campaign user data's over the performance
// details' when both know the user.
func (a *App) loadPeerGroups(ctx context.Context) error {
	base := map[string]string{}
	for _, t := range []*schema.Table{&schema.AwarenessPerformance, &schema.AwarenessUserData} {
		res, err := a.store.Query(ctx, fmt.Sprintf(`SELECT lower("email"), arg_max("department", "TimeGenerated") FROM %q
			WHERE "email" IS NOT NULL AND "department" IS NOT NULL AND "department" <> '' GROUP BY 1`, t.Name))
		if err != nil {
			return fmt.Errorf("peer groups from %s: %w", t.Name, err)
		}
		for _, row := range res.Rows {
			user, _ := row[0].(string)
			dept, _ := row[1].(string)
			if user != "" && strings.TrimSpace(dept) != "" {
				base[user] = strings.TrimSpace(dept)
			}
		}
	}
	a.enrich.lists.PeerGroups().SetBase(base)
	return nil
}
