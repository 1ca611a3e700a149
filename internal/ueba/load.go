package ueba

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/castwatch/castwatch/internal/lists"
	"github.com/castwatch/castwatch/internal/schema"
)

//go:embed models/*.yaml rules/*.yaml
var builtin embed.FS

var (
	idPattern        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	techniquePattern = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
)

// eventTypes are the event types models and rules may read: Exabeam's seven.
var eventTypes = []string{
	schema.EventAppActivity, schema.EventAppLogin, schema.EventFailedAppLogin, schema.EventDLPEmailAlertIn,
	schema.EventDLPEmailAlertInFail, schema.EventDLPEmailAlertOut, schema.EventDLPEmailAlertOutFail,
}

// Content is a loaded set of models and rules.
type Content struct {
	Models []*Model
	Rules  []*Rule
}

// LoadBuiltin loads the models and rules built into the binary.
func LoadBuiltin() (Content, error) { return LoadFS(builtin) }

// LoadFS loads models/*.yaml and rules/*.yaml of fsys: every file is one model or rule. All errors are reported
// together, each with its file.
func LoadFS(fsys fs.FS) (Content, error) {
	var c Content
	var errs []error
	models := map[string]*Model{}
	for _, p := range yamlFiles(fsys, "models", &errs) {
		m, err := parseModel(fsys, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, ok := models[m.ID]; ok {
			errs = append(errs, fmt.Errorf("%s: model id %s already defined in %s", p, m.ID, prev.Source))
			continue
		}
		models[m.ID] = m
		c.Models = append(c.Models, m)
	}
	rules := map[string]string{}
	for _, p := range yamlFiles(fsys, "rules", &errs) {
		r, err := parseRule(fsys, p, models)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, ok := rules[r.ID]; ok {
			errs = append(errs, fmt.Errorf("%s: rule id %s already defined in %s", p, r.ID, prev))
			continue
		}
		rules[r.ID] = p
		c.Rules = append(c.Rules, r)
	}
	errs = append(errs, checkDependencies(c.Rules)...)
	return c, errors.Join(errs...)
}

// checkDependencies checks every rule's unless list and its tests' with lists: known rule ids, not itself, a
// shared event type (else the precedence could never apply), and no cycle.
func checkDependencies(rules []*Rule) []error {
	byID := map[string]*Rule{}
	for _, r := range rules {
		byID[r.ID] = r
	}
	var errs []error
	for _, r := range rules {
		for _, id := range r.Unless {
			u := byID[id]
			switch {
			case u == nil:
				errs = append(errs, fmt.Errorf("%s: unless: rule %q is not defined", r.Source, id))
			case u == r:
				errs = append(errs, fmt.Errorf("%s: unless: a rule cannot depend on itself", r.Source))
			case len(without(r.EventTypes, u.EventTypes)) == len(r.EventTypes):
				errs = append(errs, fmt.Errorf("%s: unless: rule %s shares no event type with %s", r.Source, id, r.ID))
			}
		}
		for _, t := range r.Tests {
			for _, id := range t.With {
				if byID[id] == nil {
					errs = append(errs, fmt.Errorf("%s: test %q: with: rule %q is not defined", r.Source, t.Name, id))
				}
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if _, err := dependencyOrder(rules); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// dependencyOrder returns the rules so that every rule comes after the rules of its unless list that are among
// them (ids of rules not given are ignored), keeping the given order otherwise. A cycle is an error naming it.
func dependencyOrder(rules []*Rule) ([]*Rule, error) {
	byID := map[string]*Rule{}
	for _, r := range rules {
		byID[r.ID] = r
	}
	const (
		visiting = 1
		done     = 2
	)
	mark := map[*Rule]int{}
	out := make([]*Rule, 0, len(rules))
	var path []string
	var visit func(r *Rule) error
	visit = func(r *Rule) error {
		switch mark[r] {
		case done:
			return nil
		case visiting:
			i := slices.Index(path, r.ID)
			return fmt.Errorf("%s: unless: dependency cycle %s", r.Source, strings.Join(append(path[i:], r.ID), " -> "))
		}
		mark[r] = visiting
		path = append(path, r.ID)
		for _, id := range r.Unless {
			if u := byID[id]; u != nil {
				if err := visit(u); err != nil {
					return err
				}
			}
		}
		path = path[:len(path)-1]
		mark[r] = done
		out = append(out, r)
		return nil
	}
	for _, r := range rules {
		if err := visit(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func yamlFiles(fsys fs.FS, dir string, errs *[]error) []string {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("read %s: %w", dir, err))
		return nil
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && (path.Ext(e.Name()) == ".yaml" || path.Ext(e.Name()) == ".yml") {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	return out
}

func decodeStrict(fsys fs.FS, p string, v any) error {
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

func parseModel(fsys fs.FS, p string) (*Model, error) {
	m := &Model{}
	if err := decodeStrict(fsys, p, m); err != nil {
		return nil, err
	}
	m.Source = p
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	checkCommon(m.ID, m.Name, m.EventTypes, bad)
	switch m.Kind {
	case Categorical, TimeOfWeek, Numerical:
	default:
		bad("kind %q must be categorical, numerical or time_of_week", m.Kind)
	}
	m.TrainIf = cmp.Or(m.TrainIf, TrainAlways)
	if m.TrainIf != TrainAlways && m.TrainIf != TrainOncePerSession {
		bad("train_if %q must be always or once_per_session", m.TrainIf)
	}
	var err error
	if m.scope, err = scopeFunc(m.Scope); err != nil {
		bad("scope: %v", err)
	}
	switch {
	case m.Kind == Numerical:
		if _, ok := numbers[m.Feature]; !ok {
			bad("numerical feature %q unknown (known: %s)", m.Feature, strings.Join(slices.Sorted(maps.Keys(numbers)), ", "))
		}
		if m.SessionTotal && m.Scope != ScopeUser {
			bad("session_total needs scope user")
		}
	case m.Kind == TimeOfWeek:
		if m.Feature != "time_of_week" {
			bad("a time_of_week model's feature must be time_of_week")
		}
	default:
		if m.feature, err = featureByName(m.Feature); err != nil {
			bad("%v", err)
		}
	}
	if m.SessionTotal && m.Kind != Numerical {
		bad("session_total is for numerical models")
	}
	if m.TrainWhen != "" {
		if m.trainWhen, err = compileCondition(m.TrainWhen); err != nil {
			bad("train_when: %v", err)
		}
	}
	m.Aging = DefaultAging
	if m.AgingText != "" {
		if m.Aging, err = parseDays(m.AgingText); err != nil {
			bad("aging: %v", err)
		}
	}
	if m.Convergence == (Convergence{}) {
		m.Convergence = DefaultConvergence
	} else if m.Convergence.MinObservations < 1 || m.Convergence.MinDays < 0 || m.Convergence.Confidence < 0 || m.Convergence.Confidence > 1 {
		bad("convergence needs min_observations >= 1, min_days >= 0 and confidence in [0, 1]")
	}
	if strings.TrimSpace(m.Decision) == "" {
		bad("decision must say what the Exabeam listing leaves open and what was chosen")
	}
	if len(m.Tests) == 0 {
		bad("a model needs tests")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %s", p, strings.Join(errs, "; "))
	}
	return m, nil
}

func parseRule(fsys fs.FS, p string, models map[string]*Model) (*Rule, error) {
	r := &Rule{}
	if err := decodeStrict(fsys, p, r); err != nil {
		return nil, err
	}
	r.Source = p
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	checkCommon(r.ID, r.Name, r.EventTypes, bad)
	var err error
	if r.When != "" {
		if r.when, err = compileCondition(r.When); err != nil {
			bad("when: %v", err)
		}
	}
	if r.Value != "" {
		if r.value, err = featureByName(r.Value); err != nil {
			bad("value: %v", err)
		}
	}
	checkValueList(r, bad)
	switch r.Kind {
	case KindFact:
	case KindSessionCount:
		needThreshold(r, bad)
	case KindSessionSum:
		needThreshold(r, bad)
		if r.sum = numbers[r.Sum]; r.sum == nil {
			bad("sum %q unknown (known: %s)", r.Sum, strings.Join(slices.Sorted(maps.Keys(numbers)), ", "))
		}
	case KindSessionDistinct:
		needThreshold(r, bad)
		if r.value == nil {
			bad("session_distinct needs value")
		}
	case KindFirst, KindAbnormal, KindSeen, KindTop:
		r.model = models[r.Model]
		if r.model == nil {
			bad("model %q is not defined", r.Model)
			break
		}
		checkModelRule(r, bad)
	default:
		bad("kind %q must be one of fact, first, abnormal, seen, top, session_count, session_sum, session_distinct", r.Kind)
	}
	if r.Model != "" && r.model == nil && !slices.Contains([]string{KindFirst, KindAbnormal, KindSeen, KindTop}, r.Kind) {
		bad("model is only for first, abnormal, seen and top rules")
	}
	r.Dedup = cmp.Or(r.Dedup, "value")
	if !slices.Contains([]string{"value", "session", "event"}, r.Dedup) {
		bad("dedup %q must be value, session or event", r.Dedup)
	}
	if r.Score < 0 || r.Score > 100 {
		bad("score %d must be from 0 to 100", r.Score)
	}
	for _, t := range r.Techniques {
		if !techniquePattern.MatchString(t) {
			bad("technique %q is not an ATT&CK id like T1078 or T1090.003", t)
		}
	}
	if strings.TrimSpace(r.Reason) == "" {
		bad("reason is required")
	}
	if len(r.Tests) == 0 {
		bad("a rule needs tests")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %s", p, strings.Join(errs, "; "))
	}
	return r, nil
}

func checkModelRule(r *Rule, bad func(string, ...any)) {
	m := r.model
	if missing := without(r.EventTypes, m.EventTypes); len(missing) > 0 && r.Kind != KindSeen && r.Kind != KindFirst {
		// seen and first rules may ask a model trained on other events (FEM-*: failures checked on later sends;
		// FA-UC-F: failures against successful countries).
		bad("event types %v are not trained by model %s", missing, m.ID)
	}
	switch r.Kind {
	case KindAbnormal:
		if r.Rare == 0 {
			r.Rare = DefaultRareShare
			if m.Kind == TimeOfWeek {
				r.Rare = DefaultRareHour
			}
		}
	case KindTop:
		if r.Top < 1 {
			bad("top must be at least 1")
		}
	case KindFirst, KindSeen:
		if m.Kind != Categorical {
			bad("%s rules need a categorical model", r.Kind)
		}
	}
}

// checkValueList checks a value_list: a fact rule with a value, and a known context list.
func checkValueList(r *Rule, bad func(string, ...any)) {
	if r.ValueList == "" {
		return
	}
	if r.Kind != KindFact || r.Value == "" {
		bad("value_list needs a fact rule with value")
	}
	if !slices.Contains(lists.Names(), r.ValueList) {
		bad("value_list %q is not a context list (known: %s)", r.ValueList, strings.Join(lists.Names(), ", "))
	}
	r.listKey = identity
	if r.Value == "attachment_names" {
		r.listKey = fileExtension
	}
}

func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func needThreshold(r *Rule, bad func(string, ...any)) {
	if r.Threshold <= 0 {
		bad("%s needs a positive threshold", r.Kind)
	}
}

func checkCommon(id, name string, types []string, bad func(string, ...any)) {
	if !idPattern.MatchString(id) {
		bad("id %q must be letters, digits, '.', '_' or '-'", id)
	}
	if strings.TrimSpace(name) == "" {
		bad("name is required")
	}
	if len(types) == 0 {
		bad("event_types is required")
	}
	for _, t := range types {
		if !slices.Contains(eventTypes, t) {
			bad("event type %q is not one of %s", t, strings.Join(eventTypes, ", "))
		}
	}
}

func scopeFunc(name string) (featureFunc, error) {
	switch name {
	case ScopeUser:
		return features["user"], nil
	case ScopePeer:
		return features["peer_group"], nil
	case ScopeOrg:
		return features["org"], nil
	case "":
		return nil, errors.New("scope is required (user, peer, org or a feature)")
	}
	return featureByName(name)
}

// parseDays reads a duration like "30d", "12h" or "90m".
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 1 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration like 30d or 12h", s)
	}
	return d, nil
}
