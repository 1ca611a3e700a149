package web

// dashboards returns every dashboard in index order, built afresh (the values are small and immutable once
// returned). Each workbook's definition lives in its own dash_<workbook>.go file.
func dashboards() []*Dashboard {
	return []*Dashboard{
		auditDashboard(),
		awarenessDashboard(),
		ciDashboard(),
		segDashboard(),
		ttpDashboard(),
	}
}

// DashboardPanel is one panel of one dashboard tab, as AllPanels lists it.
type DashboardPanel struct {
	Dashboard string
	Tab       string
	Panel     Panel
}

// AllPanels lists every panel of every dashboard, so each query can be timed on its own (the benchmark runs
// Panel.Query with a Params from PanelParams).
func AllPanels() []DashboardPanel {
	var out []DashboardPanel
	for _, d := range dashboards() {
		for _, t := range d.Tabs {
			for _, p := range t.Panels {
				out = append(out, DashboardPanel{Dashboard: d.ID, Tab: t.ID, Panel: p})
			}
		}
	}
	return out
}

// findDashboard returns the dashboard with the given id.
func findDashboard(list []*Dashboard, id string) (*Dashboard, bool) {
	for _, d := range list {
		if d.ID == id {
			return d, true
		}
	}
	return nil, false
}
