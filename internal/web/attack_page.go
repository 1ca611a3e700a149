package web

import (
	"bufio"
	_ "embed"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// attackData is the ATT&CK Enterprise matrix (tactics, techniques, some sub-techniques), with its source and
// attribution in the file's header.
//
//go:embed attackdata/enterprise.tsv
var attackData string

// attackAttribution is shown on every page that displays ATT&CK data.
const attackAttribution = "MITRE ATT&CK® Enterprise matrix v17, © The MITRE Corporation, reproduced and distributed " +
	"with the permission of The MITRE Corporation. ATT&CK is a registered trademark of The MITRE Corporation."

// techniqueID matches an ATT&CK technique or sub-technique id.
var techniqueID = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

// attackTactic is one column of the matrix.
type attackTactic struct {
	ID, Name string
	// Techniques are the ids of the column's techniques, in the file's order.
	Techniques []string
}

// attackCatalogue is the parsed matrix.
type attackCatalogue struct {
	Tactics []attackTactic
	// Names maps technique and sub-technique ids to names.
	Names map[string]string
}

// catalogue is parsed once from attackData; parseAttackCatalogue's test guards the file.
var catalogue = mustCatalogue(attackData)

func mustCatalogue(data string) *attackCatalogue {
	c, err := parseAttackCatalogue(data)
	if err != nil {
		panic(err)
	}
	return c
}

// parseAttackCatalogue reads the tab-separated matrix: "tactic ID NAME", "technique ID NAME TACTIC-IDS",
// "subtechnique ID NAME"; # starts a comment line.
func parseAttackCatalogue(data string) (*attackCatalogue, error) {
	c := &attackCatalogue{Names: map[string]string{}}
	col := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		bad := func(why string) error { return fmt.Errorf("attack data line %d: %s: %q", n, why, line) }
		switch {
		case f[0] == "tactic" && len(f) == 3:
			col[f[1]] = len(c.Tactics)
			c.Tactics = append(c.Tactics, attackTactic{ID: f[1], Name: f[2]})
		case f[0] == "technique" && len(f) == 4 && techniqueID.MatchString(f[1]) && !strings.Contains(f[1], "."):
			c.Names[f[1]] = f[2]
			for _, t := range strings.Split(f[3], ",") {
				i, ok := col[t]
				if !ok {
					return nil, bad("unknown tactic " + t)
				}
				c.Tactics[i].Techniques = append(c.Tactics[i].Techniques, f[1])
			}
		case f[0] == "subtechnique" && len(f) == 3 && techniqueID.MatchString(f[1]) && strings.Contains(f[1], "."):
			if _, ok := c.Names[parentTechnique(f[1])]; !ok {
				return nil, bad("sub-technique of an unknown technique")
			}
			c.Names[f[1]] = f[2]
		default:
			return nil, bad("not a tactic, technique or sub-technique line")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(c.Tactics) == 0 {
		return nil, fmt.Errorf("attack data has no tactics")
	}
	return c, nil
}

// parentTechnique returns T1566 for T1566.001 (and T1566 for T1566).
func parentTechnique(id string) string {
	p, _, _ := strings.Cut(id, ".")
	return p
}

// techniqueName names a technique or sub-technique ("" when the catalogue does not hold it).
func (c *attackCatalogue) techniqueName(id string) string {
	if n, ok := c.Names[id]; ok {
		if p := parentTechnique(id); p != id {
			return c.Names[p] + ": " + n
		}
		return n
	}
	return ""
}

// tacticByKey finds a tactic by its id or its name in any spelling ("InitialAccess", "initial-access").
func (c *attackCatalogue) tacticByKey(key string) (attackTactic, bool) {
	norm := func(s string) string {
		return strings.NewReplacer(" ", "", "-", "", "_", "").Replace(strings.ToLower(s))
	}
	for _, t := range c.Tactics {
		if t.ID == key || norm(t.Name) == norm(key) {
			return t, true
		}
	}
	return attackTactic{}, false
}

// attackCell is one technique in one tactic column.
type attackCell struct {
	ID, Name string
	// Rules are the titles (else ids) of the rules covering the technique or one of its sub-techniques.
	Rules []string
	// Subs are the covered or fired sub-techniques, with names.
	Subs []techniqueRef
	// Fired is how many alerts in the range name the technique or one of its sub-techniques.
	Fired int
	// AlertsURL lists those alerts.
	AlertsURL string
	// Focus marks the technique the page was opened for.
	Focus bool
}

// Covered reports whether a rule covers the cell.
func (c attackCell) Covered() bool { return len(c.Rules) > 0 }

// techniqueRef is a technique id with its name and the ATT&CK page link.
type techniqueRef struct {
	ID, Name string
	Fired    int
}

// attackColumn is a tactic with its cells.
type attackColumn struct {
	ID, Name string
	Cells    []attackCell
	Covered  int
	Fired    int
}

// attackPage is what attack.html renders.
type attackPage struct {
	Base
	Ranges      []rangeOption
	Window      window
	Tenant      string
	Focus       string
	Columns     []attackColumn
	Covered     int
	Fired       int
	Alerts      int
	Techniques  int
	Unknown     []techniqueRef
	Attribution string
	Notice      string
	Error       string
	HasRules    bool
}

// coverage maps parent technique ids to the rules naming them and the sub-techniques named.
type coverage struct {
	rules map[string][]string
	subs  map[string]map[string]int
}

func newCoverage() coverage {
	return coverage{rules: map[string][]string{}, subs: map[string]map[string]int{}}
}

func (cv coverage) addSub(id string, fired int) {
	p := parentTechnique(id)
	if p == id {
		return
	}
	if cv.subs[p] == nil {
		cv.subs[p] = map[string]int{}
	}
	cv.subs[p][id] += fired
}

// ruleCoverage collects the techniques the loaded rules name.
func ruleCoverage(rules []RuleInfo) coverage {
	cv := newCoverage()
	for _, r := range rules {
		name := r.Title
		if name == "" {
			name = r.ID
		}
		for _, t := range r.Techniques {
			p := parentTechnique(t)
			if !slices.Contains(cv.rules[p], name) {
				cv.rules[p] = append(cv.rules[p], name)
			}
			cv.addSub(t, 0)
		}
	}
	return cv
}

// firedTechniques counts the alerts naming each technique (by parent) and sub-technique.
func firedTechniques(alerts []schema.Alert) (byParent map[string]int, subs coverage) {
	byParent = map[string]int{}
	subs = newCoverage()
	for _, a := range alerts {
		seen := map[string]bool{}
		for _, t := range a.Techniques {
			if p := parentTechnique(t); !seen[p] {
				seen[p] = true
				byParent[p]++
			}
			subs.addSub(t, 1)
		}
	}
	return byParent, subs
}

// handleAttackPage renders the matrix with rule coverage and the techniques that fired in the range.
func (t *triagePages) handleAttackPage(w http.ResponseWriter, r *http.Request) {
	win, notice := t.pageWindow(r)
	q := r.URL.Query()
	p := attackPage{Base: t.base(r, "attack", "triage.js"), Ranges: ranges, Window: win, Tenant: q.Get("tenant"),
		Focus: q.Get("technique"), Attribution: attackAttribution, Notice: notice}
	status := http.StatusOK
	if p.Focus != "" && !techniqueID.MatchString(p.Focus) {
		p.Error = fmt.Sprintf("Invalid technique %q: use an id like T1566 or T1566.001.", p.Focus)
		p.Focus = ""
		status = http.StatusBadRequest
	}
	rules := t.loadRules()
	p.HasRules = len(rules) > 0
	alerts, err := t.store.Alerts(r.Context(), store.AlertFilter{Tenant: p.Tenant, From: win.From, To: win.To,
		Statuses: []string{"new", "active", "closed"}})
	if err != nil {
		t.log.ErrorContext(r.Context(), "attack page: alerts", "error", err)
		p.Error = "Could not load alerts from the store; the server log has the details."
		status = http.StatusInternalServerError
	}
	p.Alerts = len(alerts)
	p.build(ruleCoverage(rules), alerts)
	t.renderPage(w, r, status, "attack", p)
}

// build fills the columns and totals from coverage and fired alerts.
func (p *attackPage) build(cv coverage, alerts []schema.Alert) {
	fired, firedSubs := firedTechniques(alerts)
	for _, subs := range firedSubs.subs {
		for id, n := range subs {
			cv.addSub(id, n)
		}
	}
	covered, hit := map[string]bool{}, map[string]bool{}
	for _, tac := range catalogue.Tactics {
		col := attackColumn{ID: tac.ID, Name: tac.Name}
		for _, id := range tac.Techniques {
			cell := attackCell{ID: id, Name: catalogue.Names[id], Rules: cv.rules[id], Fired: fired[id],
				Focus: p.Focus != "" && parentTechnique(p.Focus) == id}
			for sub, n := range cv.subs[id] {
				cell.Subs = append(cell.Subs, techniqueRef{ID: sub, Name: catalogue.Names[sub], Fired: n})
			}
			slices.SortFunc(cell.Subs, func(a, b techniqueRef) int { return strings.Compare(a.ID, b.ID) })
			if cell.Fired > 0 {
				cell.AlertsURL = alertsURL(p.Window.Range.Name, p.Tenant, id)
				col.Fired++
				hit[id] = true
			}
			if cell.Covered() {
				col.Covered++
				covered[id] = true
			}
			col.Cells = append(col.Cells, cell)
		}
		p.Columns = append(p.Columns, col)
	}
	p.Covered, p.Fired, p.Techniques = len(covered), len(hit), len(catalogue.Names)
	for id := range cv.rules {
		if _, ok := catalogue.Names[id]; !ok {
			p.Unknown = append(p.Unknown, techniqueRef{ID: id, Fired: fired[id]})
		}
	}
	for id, n := range fired {
		if _, ok := catalogue.Names[id]; !ok && cv.rules[id] == nil {
			p.Unknown = append(p.Unknown, techniqueRef{ID: id, Fired: n})
		}
	}
	slices.SortFunc(p.Unknown, func(a, b techniqueRef) int { return strings.Compare(a.ID, b.ID) })
}

// alertsURL is the alerts list filtered by range, tenant and technique.
func alertsURL(rng, tenant, technique string) string {
	v := url.Values{"range": {rng}, "technique": {technique}}
	if tenant != "" {
		v.Set("tenant", tenant)
	}
	return "/alerts?" + v.Encode()
}
