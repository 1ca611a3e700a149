package web

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
)

// dashService serves the dashboards: the index, one page per dashboard tab, and one JSON/CSV endpoint per panel.
type dashService struct {
	s    *server
	list []*Dashboard
	geo  geoFuncs
}

// registerDashboards adds the dashboard routes.
func (s *server) registerDashboards(mux *http.ServeMux, opts Options) {
	d := &dashService{s: s, list: dashboards(), geo: geoFuncs{lookup: opts.GeoLookup, country: opts.CountryInfo}}
	mux.HandleFunc("GET /dashboards", d.handleIndex)
	mux.HandleFunc("GET /dashboards/{id}", d.handlePage)
	s.handleAPI(mux, "GET /api/v1/dashboards/{id}/panels/{panel}", d.handlePanel)
}

// dashboardsIndex is the data of templates/pages/dashboards.html.
type dashboardsIndex struct {
	Base
	Dashboards []*Dashboard
}

func (d *dashService) handleIndex(w http.ResponseWriter, r *http.Request) {
	d.s.renderPage(w, r, http.StatusOK, "dashboards", dashboardsIndex{Base: d.s.base(r, "dashboards"), Dashboards: d.list})
}

// dashboardPage is the data of templates/pages/dashboard.html.
type dashboardPage struct {
	Base
	Dashboard *Dashboard
	Tab       *Tab
	Ranges    []rangeOption
	Window    window
	Tenant    string
	// Values are the tab parameters as requested (defaults applied).
	Values map[string]string
	Panels []panelView
	// Notice explains a replaced value (e.g. an unknown range).
	Notice string
}

// panelView is one panel placeholder on the page.
type panelView struct {
	Panel
	// Src is the panel's API path (dash.js adds the query values).
	Src string
	// TitleNow is the title with the current parameter values.
	TitleNow string
	// Waiting says a needed drill-down value is not set yet.
	Waiting bool
	// Hint tells what to click to fill a waiting panel.
	Hint string
	// NeedsAttr is Needs joined by spaces, for data-needs.
	NeedsAttr string
}

func (d *dashService) handlePage(w http.ResponseWriter, r *http.Request) {
	dash, ok := findDashboard(d.list, r.PathValue("id"))
	if !ok {
		http.Error(w, fmt.Sprintf("no dashboard %q: see /dashboards", r.PathValue("id")), http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	tab, ok := dash.findTab(q.Get("tab"))
	if !ok {
		http.Error(w, fmt.Sprintf("dashboard %q has no tab %q", dash.ID, q.Get("tab")), http.StatusNotFound)
		return
	}
	win, notice := d.s.pageWindow(r)
	q.Del("range") // the page falls back to the default range with a notice instead of refusing it
	p, err := PanelParams(tab, nil, q, d.s.now(), "tab")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	page := dashboardPage{Base: d.s.base(r, "dashboards", "dash.js"), Dashboard: dash, Tab: tab, Ranges: ranges,
		Window: win, Tenant: p.Tenant, Values: p.Values, Notice: notice}
	for _, pn := range tab.Panels {
		page.Panels = append(page.Panels, d.panelView(dash, tab, pn, p.Values))
	}
	d.s.renderPage(w, r, http.StatusOK, "dashboard", page)
}

// panelView prepares one panel's placeholder.
func (d *dashService) panelView(dash *Dashboard, tab *Tab, pn Panel, values map[string]string) panelView {
	v := panelView{Panel: pn, Src: "/api/v1/dashboards/" + dash.ID + "/panels/" + pn.ID,
		TitleNow: fillTitle(pn.Title, values), NeedsAttr: strings.Join(pn.Needs, " ")}
	for _, need := range pn.Needs {
		if values[need] == "" {
			v.Waiting = true
		}
	}
	v.Hint = "Click " + strings.Join(drillSources(tab, pn.Needs), " then ") + " to see this."
	return v
}

// drillSources names the panels whose clicks set the given parameters.
func drillSources(tab *Tab, params []string) []string {
	var names []string
	for _, need := range params {
		for _, src := range tab.Panels {
			if src.Drill != nil && src.Drill.Param == need {
				names = append(names, "“"+fillTitle(src.Title, nil)+"”")
				break
			}
		}
	}
	return names
}

func (d *dashService) handlePanel(w http.ResponseWriter, r *http.Request) {
	dash, ok := findDashboard(d.list, r.PathValue("id"))
	if !ok {
		d.s.writeJSON(w, r, http.StatusNotFound, errorBody{fmt.Sprintf("no dashboard %q", r.PathValue("id"))})
		return
	}
	ref, ok := dash.findPanel(r.PathValue("panel"))
	if !ok {
		d.s.writeJSON(w, r, http.StatusNotFound, errorBody{fmt.Sprintf("dashboard %q has no panel %q", dash.ID, r.PathValue("panel"))})
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		d.s.writeJSON(w, r, http.StatusBadRequest, errorBody{fmt.Sprintf("unknown format %q: use json or csv", format)})
		return
	}
	p, err := PanelParams(ref.Tab, ref.Panel, q, d.s.now())
	if err != nil {
		d.s.writeJSON(w, r, http.StatusBadRequest, errorBody{err.Error()})
		return
	}
	res, err := runPanel(r.Context(), d.s.store, d.geo, ref, p)
	if err != nil {
		d.s.log.ErrorContext(r.Context(), "dashboard panel", "dashboard", dash.ID, "panel", ref.Panel.ID, "error", err)
		d.s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"could not load panel " + ref.Panel.ID})
		return
	}
	if format == "csv" {
		d.writeCSV(w, r, res)
		return
	}
	d.s.writeJSON(w, r, http.StatusOK, res)
}

// writeCSV answers a panel's rows as a CSV download.
func (d *dashService) writeCSV(w http.ResponseWriter, r *http.Request, res panelResult) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write(res.Columns)
	cells := make([]string, len(res.Columns))
	for _, row := range res.Rows {
		for i, v := range row {
			cells[i] = csvCell(v)
		}
		_ = cw.Write(cells)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		d.s.log.ErrorContext(r.Context(), "dashboard csv", "panel", res.Panel, "error", err)
		d.s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"could not write csv"})
		return
	}
	name := fmt.Sprintf("%s-%s-%s.csv", res.Dashboard, res.Panel, res.Range)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}
