package web

// Running panels outside an HTTP request, for the panel benchmark (castwatch bench panels): the same lookup,
// parameter resolution, query and shaping as GET /api/v1/dashboards/{id}/panels/{panel}, without the HTTP and
// JSON layers.

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/castwatch/castwatch/internal/store"
)

// Dashboards returns every dashboard in index order, built afresh.
func Dashboards() []*Dashboard { return dashboards() }

// PanelGeo are the GeoIP lookups RunPanel gives maps and country pies (Options.GeoLookup, Options.CountryInfo);
// nil lookups count every address as "Unknown".
type PanelGeo struct {
	Lookup      func(ip string) (country string, ok bool)
	CountryInfo func(code string) (name string, lat, lon float64, ok bool)
}

// PanelOutput is a panel's answer as the API shapes it.
type PanelOutput struct {
	Columns []string
	Rows    [][]any
	// Truncated says a table had more than MaxTableRows rows.
	Truncated bool
}

// RunPanel runs one panel of one dashboard as its API request with query values q would at server time now. An
// unknown dashboard or panel, and the values the API refuses with 400, are errors.
func RunPanel(ctx context.Context, st store.Store, geo PanelGeo, dashboardID, panelID string, q url.Values,
	now time.Time) (PanelOutput, error) {
	dash, ok := findDashboard(dashboards(), dashboardID)
	if !ok {
		return PanelOutput{}, fmt.Errorf("no dashboard %q", dashboardID)
	}
	ref, ok := dash.findPanel(panelID)
	if !ok {
		return PanelOutput{}, fmt.Errorf("dashboard %q has no panel %q", dashboardID, panelID)
	}
	p, err := PanelParams(ref.Tab, ref.Panel, q, now)
	if err != nil {
		return PanelOutput{}, fmt.Errorf("%s/%s: %w", dashboardID, panelID, err)
	}
	res, err := runPanel(ctx, st, geoFuncs{lookup: geo.Lookup, country: geo.CountryInfo}, ref, p)
	if err != nil {
		return PanelOutput{}, err
	}
	return PanelOutput{Columns: res.Columns, Rows: res.Rows, Truncated: res.Truncated}, nil
}
