package detect

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/castwatch/castwatch/internal/schema"
)

//go:embed rules/*.yaml
var builtinRules embed.FS

var (
	idPattern        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	versionPattern   = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,2}$`)
	techniquePattern = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
	templatePattern  = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.]+)\s*\}\}`)
)

// knownEventTypes are the normalized event types a rule may read.
var knownEventTypes = []string{
	schema.EventAppLogin, schema.EventFailedAppLogin, schema.EventAppActivity,
	schema.EventDLPEmailAlertIn, schema.EventDLPEmailAlertInFail, schema.EventDLPEmailAlertOut,
	schema.EventDLPEmailAlertOutFail, schema.EventDLPAlert, schema.EventSecurityAlert, schema.EventWebActivity,
	schema.EventEmailActivity,
}

// LoadBuiltin loads the rules embedded in the binary (internal/detect/rules/*.yaml).
func LoadBuiltin() ([]*Rule, error) {
	return loadFS(builtinRules, "rules")
}

// LoadDir loads every *.yaml and *.yml file of dir as one rule each. Use MergeRules to let them add to or
// override the built-in rules.
func LoadDir(dir string) ([]*Rule, error) {
	return loadFS(os.DirFS(dir), ".")
}

func loadFS(fsys fs.FS, dir string) ([]*Rule, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	var rules []*Rule
	var errs []error
	seen := map[string]string{}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		p := e.Name()
		if dir != "." {
			p = dir + "/" + e.Name()
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", p, err))
			continue
		}
		r, err := ParseRule(p, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, ok := seen[r.ID]; ok {
			errs = append(errs, fmt.Errorf("%s: id %q is already used by %s", p, r.ID, prev))
			continue
		}
		seen[r.ID] = p
		rules = append(rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rules, nil
}

// MergeRules returns base with every rule of extra added, an extra rule replacing the base rule with the same ID.
// The result is ordered by rule ID.
func MergeRules(base, extra []*Rule) []*Rule {
	byID := map[string]*Rule{}
	for _, r := range base {
		byID[r.ID] = r
	}
	for _, r := range extra {
		byID[r.ID] = r
	}
	out := make([]*Rule, 0, len(byID))
	for _, r := range byID {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ruleParser carries the file name into every error: "<file>:<line>: <field>: <problem>".
type ruleParser struct {
	file string
	// resolve looks a field name up; Sigma rules also accept the source columns of their tables.
	resolve func(name string) (*field, error)
}

// lookup resolves a field name with the parser's resolver (lookupField unless the rule is a Sigma rule).
func (p *ruleParser) lookup(name string) (*field, error) {
	if p.resolve != nil {
		return p.resolve(name)
	}
	return lookupField(name)
}

func (p *ruleParser) errf(n *yaml.Node, path, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return fmt.Errorf("%s:%d: %s: %s", p.file, line, path, fmt.Sprintf(format, args...))
}

// fields checks that n is a mapping with only allowed keys and returns its values by key.
func (p *ruleParser) fields(n *yaml.Node, path string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, path, "must be a map")
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		kp := k.Value
		if path != "" {
			kp = path + "." + k.Value
		}
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			return nil, p.errf(k, kp, "unknown field")
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.errf(k, kp, "duplicate field")
		}
		out[k.Value] = n.Content[i+1]
	}
	return out, nil
}

func (p *ruleParser) str(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.errf(n, path, "must be a string")
	}
	return n.Value, nil
}

func (p *ruleParser) strList(n *yaml.Node, path string, scalarOK bool) ([]string, error) {
	if scalarOK && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, path, "must be a list of strings")
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
			return nil, p.errf(c, fmt.Sprintf("%s[%d]", path, i), "must be a string")
		}
		out = append(out, c.Value)
	}
	return out, nil
}

func (p *ruleParser) duration(n *yaml.Node, path string) (time.Duration, error) {
	s, err := p.str(n, path)
	if err != nil {
		return 0, err
	}
	d, err := parseDuration(s)
	if err != nil || d <= 0 {
		return 0, p.errf(n, path, "invalid duration %q (use e.g. 30m, 1h, 1d)", s)
	}
	if d > MaxWindow {
		return 0, p.errf(n, path, "%s is longer than the maximum of %s", s, formatDuration(MaxWindow))
	}
	return d, nil
}

// parseDuration parses Go durations and a "d" (24 h) suffix.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(v) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// fieldChain resolves a list of fallback field names.
func (p *ruleParser) fieldChain(n *yaml.Node, path string, names []string) ([]*field, error) {
	var out []*field
	for _, name := range names {
		f, err := p.lookup(name)
		if err != nil {
			return nil, p.errf(n, path, "%v", err)
		}
		out = append(out, f)
	}
	return out, nil
}

var topFields = []string{"id", "version", "title", "description", "severity", "status", "tactics", "techniques",
	"references", "reads", "event_label", "detection", "threshold", "entities", "dedup", "suppress", "tests"}

// ParseRule parses and validates one rule. name is used in error messages.
func ParseRule(name string, data []byte) (*Rule, error) {
	p := &ruleParser{file: name}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %w", name, err)
	}
	if len(doc.Content) != 1 {
		return nil, fmt.Errorf("%s: empty rule", name)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%s: one rule per file: found a second YAML document", name)
	}
	root := doc.Content[0]
	sigma := isSigma(root)
	if sigma {
		var err error
		if root, err = p.fromSigma(root); err != nil {
			return nil, err
		}
	}
	m, err := p.fields(root, "", topFields...)
	if err != nil {
		if root.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: a rule must be a map", name)
		}
		return nil, err
	}
	for _, req := range []string{"id", "version", "title", "description", "severity", "reads", "detection"} {
		if m[req] == nil {
			return nil, p.errf(root, req, "required")
		}
	}
	r := &Rule{Source: name, Status: "experimental", EventLabel: "matching events", Sigma: sigma}
	if r.ID, err = p.str(m["id"], "id"); err != nil {
		return nil, err
	}
	if !idPattern.MatchString(r.ID) {
		return nil, p.errf(m["id"], "id", "invalid id %q", r.ID)
	}
	if r.Version, err = p.str(m["version"], "version"); err != nil {
		return nil, err
	}
	if !versionPattern.MatchString(r.Version) {
		return nil, p.errf(m["version"], "version", "invalid version %q (use e.g. 1.0.0)", r.Version)
	}
	if r.Title, err = p.str(m["title"], "title"); err != nil {
		return nil, err
	}
	if r.Description, err = p.str(m["description"], "description"); err != nil {
		return nil, err
	}
	r.Description = strings.TrimSpace(r.Description)
	if r.Severity, err = p.str(m["severity"], "severity"); err != nil {
		return nil, err
	}
	if !slices.Contains(severities, r.Severity) {
		return nil, p.errf(m["severity"], "severity", "%q is not one of %s", r.Severity, strings.Join(severities, ", "))
	}
	if n := m["status"]; n != nil {
		if r.Status, err = p.str(n, "status"); err != nil {
			return nil, err
		}
		if !slices.Contains(statuses, r.Status) {
			return nil, p.errf(n, "status", "%q is not one of %s", r.Status, strings.Join(statuses, ", "))
		}
	}
	if n := m["event_label"]; n != nil {
		if r.EventLabel, err = p.str(n, "event_label"); err != nil {
			return nil, err
		}
	}
	if n := m["tactics"]; n != nil {
		if r.Tactics, err = p.strList(n, "tactics", false); err != nil {
			return nil, err
		}
		for i, t := range r.Tactics {
			if !slices.Contains(tactics, t) {
				return nil, p.errf(n.Content[i], fmt.Sprintf("tactics[%d]", i), "unknown tactic %q", t)
			}
		}
	}
	if n := m["techniques"]; n != nil {
		if r.Techniques, err = p.strList(n, "techniques", false); err != nil {
			return nil, err
		}
		for i, t := range r.Techniques {
			if !techniquePattern.MatchString(t) {
				return nil, p.errf(n.Content[i], fmt.Sprintf("techniques[%d]", i),
					"invalid technique id %q (want T1234 or T1234.001)", t)
			}
		}
	}
	if n := m["references"]; n != nil {
		if r.References, err = p.strList(n, "references", false); err != nil {
			return nil, err
		}
	}
	if err := p.reads(r, m["reads"]); err != nil {
		return nil, err
	}
	if err := p.detection(r, m["detection"]); err != nil {
		return nil, err
	}
	if n := m["threshold"]; n != nil {
		if err := p.threshold(r, n); err != nil {
			return nil, err
		}
	}
	if n := m["entities"]; n != nil {
		if err := p.entities(r, n); err != nil {
			return nil, err
		}
	}
	r.Dedup.Period = DefaultDedupPeriod
	if n := m["dedup"]; n != nil {
		if err := p.dedup(r, n); err != nil {
			return nil, err
		}
	}
	if n := m["suppress"]; n != nil {
		sm, err := p.fields(n, "suppress", "period")
		if err != nil {
			return nil, err
		}
		if sm["period"] == nil {
			return nil, p.errf(n, "suppress.period", "required")
		}
		if r.Suppress, err = p.duration(sm["period"], "suppress.period"); err != nil {
			return nil, err
		}
		if r.Suppress <= r.extent() {
			return nil, p.errf(sm["period"], "suppress.period", "%s is not longer than the alert's extent %s (window or dedup period), so it would withhold nothing",
				formatDuration(r.Suppress), formatDuration(r.extent()))
		}
	}
	if err := p.compileKeys(r, m["dedup"]); err != nil {
		return nil, err
	}
	if err := p.compileTitle(r, m["title"]); err != nil {
		return nil, err
	}
	if n := m["tests"]; n != nil {
		if err := p.tests(r, n); err != nil {
			return nil, err
		}
	}
	// A Sigma rule keeps its tests outside the rule (SigmaHQ regression data), so only castwatch rules must
	// carry both kinds of inline test to be stable.
	if r.Status == "stable" && (!sigma || len(r.Tests) > 0) {
		pos, neg := false, false
		for _, t := range r.Tests {
			if len(t.Expect) > 0 {
				pos = true
			} else {
				neg = true
			}
		}
		if !pos || !neg {
			return nil, p.errf(root, "tests", "a stable rule needs a test that expects an alert and one that expects none")
		}
	}
	return r, nil
}

func (p *ruleParser) reads(r *Rule, n *yaml.Node) error {
	m, err := p.fields(n, "reads", "event_types", "tables")
	if err != nil {
		return err
	}
	if v := m["event_types"]; v != nil {
		if r.Reads.EventTypes, err = p.strList(v, "reads.event_types", false); err != nil {
			return err
		}
		for i, t := range r.Reads.EventTypes {
			if !slices.Contains(knownEventTypes, t) {
				return p.errf(v.Content[i], fmt.Sprintf("reads.event_types[%d]", i), "unknown event type %q", t)
			}
		}
	}
	if v := m["tables"]; v != nil {
		if r.Reads.Tables, err = p.strList(v, "reads.tables", false); err != nil {
			return err
		}
		for i, t := range r.Reads.Tables {
			if t != "raw" && schema.TableByName(t) == nil {
				return p.errf(v.Content[i], fmt.Sprintf("reads.tables[%d]", i), "unknown table %q", t)
			}
		}
	}
	if len(r.Reads.EventTypes) == 0 && len(r.Reads.Tables) == 0 {
		return p.errf(n, "reads", "needs event_types or tables")
	}
	return nil
}

func (p *ruleParser) detection(r *Rule, n *yaml.Node) error {
	m, err := p.fields(n, "detection")
	if err != nil {
		return err
	}
	cn := m["condition"]
	if cn == nil {
		return p.errf(n, "detection.condition", "required")
	}
	sels := map[string]*selection{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "condition" {
			continue
		}
		if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(k.Value) {
			return p.errf(k, "detection."+k.Value, "invalid selection name")
		}
		s, err := compileSelectionWith(v, p.lookup)
		if err != nil {
			return p.errf(v, "detection."+k.Value, "%v", err)
		}
		sels[k.Value] = s
	}
	if len(sels) == 0 {
		return p.errf(n, "detection", "needs at least one selection")
	}
	conds, err := p.strList(cn, "detection.condition", true)
	if err != nil {
		return err
	}
	var nodes []condNode
	var anc anchor
	for i, c := range conds {
		node, a, err := compileConditionAnchor(c, sels)
		if err != nil {
			return p.errf(cn, "detection.condition", "%v", err)
		}
		nodes = append(nodes, node)
		if i == 0 {
			anc = a
		} else {
			anc = anchorOr(anc, a)
		}
	}
	r.anchor = anc.best()
	r.Condition = strings.Join(conds, " or ")
	if len(nodes) == 1 {
		r.cond = nodes[0]
	} else {
		r.cond = func(e *schema.Event) bool {
			for _, c := range nodes {
				if c(e) {
					return true
				}
			}
			return false
		}
	}
	return nil
}

func (p *ruleParser) threshold(r *Rule, n *yaml.Node) error {
	m, err := p.fields(n, "threshold", "group_by", "count", "distinct", "op", "value", "window")
	if err != nil {
		return err
	}
	t := &Threshold{}
	if v := m["group_by"]; v != nil {
		if t.GroupBy, err = p.strList(v, "threshold.group_by", false); err != nil {
			return err
		}
		for i, g := range t.GroupBy {
			f, err := p.lookup(g)
			if err != nil {
				return p.errf(v.Content[i], fmt.Sprintf("threshold.group_by[%d]", i), "%v", err)
			}
			r.groupBy = append(r.groupBy, []*field{f})
		}
	}
	if v := m["count"]; v != nil {
		if s, _ := p.str(v, "threshold.count"); s != "events" {
			return p.errf(v, "threshold.count", "must be \"events\" (use distinct: <field> to count values)")
		}
		if m["distinct"] != nil {
			return p.errf(v, "threshold.count", "give count or distinct, not both")
		}
	}
	if v := m["distinct"]; v != nil {
		if t.Distinct, err = p.str(v, "threshold.distinct"); err != nil {
			return err
		}
		if r.distinct, err = p.lookup(t.Distinct); err != nil {
			return p.errf(v, "threshold.distinct", "%v", err)
		}
	}
	for _, req := range []string{"op", "value", "window"} {
		if m[req] == nil {
			return p.errf(n, "threshold."+req, "required")
		}
	}
	if t.Op, err = p.str(m["op"], "threshold.op"); err != nil {
		return err
	}
	if t.Op != "gt" && t.Op != "gte" {
		return p.errf(m["op"], "threshold.op", "%q is not one of gt, gte", t.Op)
	}
	vs, err := p.str(m["value"], "threshold.value")
	if err != nil {
		return err
	}
	if t.Value, err = strconv.Atoi(vs); err != nil || t.Value < 0 {
		return p.errf(m["value"], "threshold.value", "must be a non-negative integer, got %q", vs)
	}
	if t.Window, err = p.duration(m["window"], "threshold.window"); err != nil {
		return err
	}
	r.Threshold = t
	return nil
}

func (p *ruleParser) entities(r *Rule, n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return p.errf(n, "entities", "must be a list")
	}
	for i, item := range n.Content {
		path := fmt.Sprintf("entities[%d]", i)
		m, err := p.fields(item, path, "type", "field")
		if err != nil {
			return err
		}
		if m["type"] == nil || m["field"] == nil {
			return p.errf(item, path, "needs type and field")
		}
		var em EntityMapping
		if em.Type, err = p.str(m["type"], path+".type"); err != nil {
			return err
		}
		if !slices.Contains(entityTypes, em.Type) {
			return p.errf(m["type"], path+".type", "%q is not one of %s", em.Type, strings.Join(entityTypes, ", "))
		}
		if em.Fields, err = p.strList(m["field"], path+".field", true); err != nil {
			return err
		}
		chain, err := p.fieldChain(m["field"], path+".field", em.Fields)
		if err != nil {
			return err
		}
		r.Entities = append(r.Entities, em)
		r.entities = append(r.entities, chain)
	}
	return nil
}

func (p *ruleParser) dedup(r *Rule, n *yaml.Node) error {
	m, err := p.fields(n, "dedup", "key", "period")
	if err != nil {
		return err
	}
	if v := m["key"]; v != nil {
		if v.Kind != yaml.SequenceNode {
			return p.errf(v, "dedup.key", "must be a list of fields (an item may be a list of fallback fields)")
		}
		for i, item := range v.Content {
			chain, err := p.strList(item, fmt.Sprintf("dedup.key[%d]", i), true)
			if err != nil {
				return err
			}
			if len(chain) == 0 {
				return p.errf(item, fmt.Sprintf("dedup.key[%d]", i), "needs at least one field")
			}
			r.Dedup.Key = append(r.Dedup.Key, chain)
		}
	}
	if v := m["period"]; v != nil {
		if r.Dedup.Period, err = p.duration(v, "dedup.period"); err != nil {
			return err
		}
	}
	return nil
}

// compileKeys resolves the dedup key. A single-event rule groups by it (by default by its primary entity):
// all matches with one key within the period are one alert. A threshold rule alerts per group already.
func (p *ruleParser) compileKeys(r *Rule, dn *yaml.Node) error {
	if r.Threshold != nil && len(r.Dedup.Key) > 0 {
		return p.errf(dn, "dedup.key", "a threshold rule dedups per group; put the fields in threshold.group_by")
	}
	var keys [][]*field
	for i, chain := range r.Dedup.Key {
		var fs []*field
		for _, k := range chain {
			f, err := p.lookup(k)
			if err != nil {
				return p.errf(dn, fmt.Sprintf("dedup.key[%d]", i), "%v", err)
			}
			fs = append(fs, f)
		}
		keys = append(keys, fs)
	}
	if r.Threshold == nil {
		r.groupBy = keys
		if len(keys) == 0 && len(r.entities) > 0 {
			r.groupBy = [][]*field{r.entities[0]}
		}
	}
	return nil
}

// titlePart is literal text or a templated field (field index into needed, or a special value).
type titlePart struct {
	lit     string
	special string
	field   *field
}

func (p *ruleParser) compileTitle(r *Rule, n *yaml.Node) error {
	s := r.Title
	last := 0
	for _, loc := range templatePattern.FindAllStringSubmatchIndex(s, -1) {
		r.title = append(r.title, titlePart{lit: s[last:loc[0]]})
		name := s[loc[2]:loc[3]]
		switch name {
		case "count", "distinct_count", "group":
			r.title = append(r.title, titlePart{special: name})
		default:
			f, err := p.lookup(name)
			if err != nil {
				return p.errf(n, "title", "template %q: %v", name, err)
			}
			r.title = append(r.title, titlePart{field: f})
		}
		last = loc[1]
	}
	rest := s[last:]
	if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
		return p.errf(n, "title", "unterminated template in %q", s)
	}
	r.title = append(r.title, titlePart{lit: rest})
	// Retained events keep only the fields alerts are built from.
	add := func(f *field) {
		for _, g := range r.needed {
			if g.name == f.name {
				return
			}
		}
		r.needed = append(r.needed, f)
	}
	for _, chain := range r.entities {
		for _, f := range chain {
			add(f)
		}
	}
	for _, tp := range r.title {
		if tp.field != nil {
			add(tp.field)
		}
	}
	return nil
}

var testFields = []string{"name", "defaults", "events", "expect"}

func (p *ruleParser) tests(r *Rule, n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return p.errf(n, "tests", "must be a list")
	}
	for i, item := range n.Content {
		path := fmt.Sprintf("tests[%d]", i)
		m, err := p.fields(item, path, testFields...)
		if err != nil {
			return err
		}
		for _, req := range []string{"name", "events", "expect"} {
			if m[req] == nil {
				return p.errf(item, path+"."+req, "required")
			}
		}
		var t RuleTest
		if t.Name, err = p.str(m["name"], path+".name"); err != nil {
			return err
		}
		defaults := map[string]any{}
		if d := m["defaults"]; d != nil {
			if err := d.Decode(&defaults); err != nil {
				return p.errf(d, path+".defaults", "%v", err)
			}
		}
		evs := m["events"]
		if evs.Kind != yaml.SequenceNode {
			return p.errf(evs, path+".events", "must be a list")
		}
		for j, en := range evs.Content {
			ep := fmt.Sprintf("%s.events[%d]", path, j)
			ev, err := p.testEvent(en, ep, defaults, j)
			if err != nil {
				return err
			}
			t.Events = append(t.Events, ev)
		}
		exp := m["expect"]
		if exp.Kind != yaml.SequenceNode {
			return p.errf(exp, path+".expect", "must be a list ([] for no alert)")
		}
		for j, xn := range exp.Content {
			xp := fmt.Sprintf("%s.expect[%d]", path, j)
			x, err := p.expect(xn, xp)
			if err != nil {
				return err
			}
			t.Expect = append(t.Expect, x)
		}
		r.Tests = append(r.Tests, t)
	}
	return nil
}

func (p *ruleParser) testEvent(n *yaml.Node, path string, defaults map[string]any, idx int) (schema.Event, error) {
	var ev schema.Event
	m := map[string]any{}
	if err := n.Decode(&m); err != nil {
		return ev, p.errf(n, path, "must be a map of event fields")
	}
	merged := map[string]any{}
	for k, v := range defaults {
		merged[k] = v
	}
	for k, v := range m {
		merged[k] = v
	}
	if _, ok := merged["id"]; !ok {
		merged["id"] = fmt.Sprintf("event-%d", idx+1)
	}
	if _, ok := merged["time"]; !ok {
		return ev, p.errf(n, path+".time", "required")
	}
	b, err := json.Marshal(merged)
	if err != nil {
		return ev, p.errf(n, path, "%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return ev, p.errf(n, path, "%v", strings.TrimPrefix(err.Error(), "json: "))
	}
	ev.Time = ev.Time.UTC()
	return ev, nil
}

func (p *ruleParser) expect(n *yaml.Node, path string) (ExpectedAlert, error) {
	var x ExpectedAlert
	m, err := p.fields(n, path, "count", "entities", "group_key", "title", "event_ids")
	if err != nil {
		return x, err
	}
	if v := m["count"]; v != nil {
		s, _ := p.str(v, path+".count")
		if x.Count, err = strconv.Atoi(s); err != nil || x.Count < 1 {
			return x, p.errf(v, path+".count", "must be a positive integer")
		}
	}
	if v := m["group_key"]; v != nil {
		s, err := p.str(v, path+".group_key")
		if err != nil {
			return x, err
		}
		x.GroupKey = &s
	}
	if v := m["title"]; v != nil {
		if x.Title, err = p.str(v, path+".title"); err != nil {
			return x, err
		}
	}
	if v := m["event_ids"]; v != nil {
		if x.EventIDs, err = p.strList(v, path+".event_ids", false); err != nil {
			return x, err
		}
	}
	if v := m["entities"]; v != nil {
		if v.Kind != yaml.SequenceNode {
			return x, p.errf(v, path+".entities", "must be a list")
		}
		for k, en := range v.Content {
			ep := fmt.Sprintf("%s.entities[%d]", path, k)
			em, err := p.fields(en, ep, "type", "value")
			if err != nil {
				return x, err
			}
			if em["type"] == nil || em["value"] == nil {
				return x, p.errf(en, ep, "needs type and value")
			}
			var e schema.Entity
			if e.Type, err = p.str(em["type"], ep+".type"); err != nil {
				return x, err
			}
			if e.Value, err = p.str(em["value"], ep+".value"); err != nil {
				return x, err
			}
			x.Entities = append(x.Entities, e)
		}
	}
	return x, nil
}
