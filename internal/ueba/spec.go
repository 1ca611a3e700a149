// Package ueba is castwatch's behaviour analytics: Exabeam-style models (histograms of what each user, peer group,
// organisation or other entity normally does), the rules that score first-time, abnormal and factual behaviour
// into user sessions, and the notable users whose session risk passes a threshold. Models and rules are YAML data
// (models/*.yaml, rules/*.yaml) with their tests inside; README.md documents the scoring, convergence and session
// definitions.
package ueba

import (
	"time"

	"github.com/expr-lang/expr/vm"
)

// Model kinds.
const (
	// Categorical counts observations per value (with first and last seen).
	Categorical = "categorical"
	// Numerical fits the distribution of a number (bytes, attachments, recipients) per scope.
	Numerical = "numerical"
	// TimeOfWeek counts observations per hour of a cyclic week.
	TimeOfWeek = "time_of_week"
)

// Scopes a model may profile. Scopes other than user, peer and org name an event feature (see features.go).
const (
	ScopeUser = "user"
	ScopePeer = "peer"
	ScopeOrg  = "org"
)

// Training conditions.
const (
	// TrainAlways trains on every event of the model's event types.
	TrainAlways = "always"
	// TrainOncePerSession trains each value at most once per user session (Exabeam's count(field,…)=1).
	TrainOncePerSession = "once_per_session"
)

// Rule kinds.
const (
	// KindFact fires when its condition holds; it uses no model.
	KindFact = "fact"
	// KindFirst fires when a converged model has never seen the value.
	KindFirst = "first"
	// KindAbnormal fires when the value is rare for a converged model (or beyond its fitted range).
	KindAbnormal = "abnormal"
	// KindSeen fires when the model has seen the value (or, with any_value, anything) before: "previously failed".
	KindSeen = "seen"
	// KindTop fires when the value is among the most frequent of its scope ("top user failing to send").
	KindTop = "top"
	// KindSessionCount fires when the number of matching events in a session reaches the threshold.
	KindSessionCount = "session_count"
	// KindSessionSum fires when the sum of a field over matching events in a session passes the threshold.
	KindSessionSum = "session_sum"
	// KindSessionDistinct fires when a session holds at least threshold distinct values of a feature.
	KindSessionDistinct = "session_distinct"
)

// Convergence says when a model is trusted: enough observations, over enough days, and a confidence factor
// (the share of observations that were not the only sighting of their value, a Good–Turing estimate of the chance
// that the next value is one already seen) at or above Confidence.
type Convergence struct {
	MinObservations int     `yaml:"min_observations"`
	MinDays         int     `yaml:"min_days"`
	Confidence      float64 `yaml:"confidence"`
}

// DefaultConvergence matches Exabeam's documented defaults: CutOff 10 and confidence_factor >= 0.8; three days of
// observations keep a model from converging on one busy morning.
var DefaultConvergence = Convergence{MinObservations: 10, MinDays: 3, Confidence: 0.8}

// DefaultAging is how long a value unseen stays in a model (Exabeam's examples age over about a month).
const DefaultAging = 30 * 24 * time.Hour

// MaxBins caps the values one histogram of a user (or other entity) holds; the least recently seen value makes
// room for a new one. A peer group's histogram holds MaxBinsPeer and the organisation's MaxBinsOrg: they see the
// values of many users, and a cap below their real variety would evict and re-learn values all day, each time a
// "first" again.
const (
	MaxBins     = 1000
	MaxBinsPeer = 10_000
	MaxBinsOrg  = 100_000
)

// maxBins is the histogram cap of the model's scope.
func (m *Model) maxBins() int {
	switch m.Scope {
	case ScopeOrg:
		return MaxBinsOrg
	case ScopePeer:
		return MaxBinsPeer
	}
	return MaxBins
}

// Model is one behaviour model, loaded from models/<id>.yaml.
type Model struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	EventTypes  []string `yaml:"event_types"`
	// Scope is user, peer, org or an event feature (app, client_id, recipient, file_name, email_domain, …).
	Scope string `yaml:"scope"`
	// Feature names what is counted (see features.go).
	Feature string `yaml:"feature"`
	Kind    string `yaml:"kind"`
	// TrainIf is always or once_per_session.
	TrainIf string `yaml:"train_if"`
	// TrainWhen, when set, is a condition an event must meet to train the model (e.g. privileged users only).
	TrainWhen string `yaml:"train_when"`
	// SessionTotal makes a numerical model observe the sum of the feature over a user session, once, when the
	// session closes (e.g. bytes sent per session).
	SessionTotal bool          `yaml:"session_total"`
	Aging        time.Duration `yaml:"-"`
	AgingText    string        `yaml:"aging"`
	Convergence  Convergence   `yaml:"convergence"`
	// Decision documents what the Exabeam listing leaves open and what castwatch chose.
	Decision string      `yaml:"decision"`
	Tests    []ModelTest `yaml:"tests"`

	Source    string `yaml:"-"`
	trainWhen *vm.Program
	feature   featureFunc
	scope     featureFunc
}

// Rule is one scoring rule, loaded from rules/<id>.yaml.
type Rule struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	EventTypes  []string `yaml:"event_types"`
	Kind        string   `yaml:"kind"`
	// Model names the model of first, abnormal, seen and top rules.
	Model string `yaml:"model"`
	// When is a condition (expr language over the event and its context) the event must meet.
	When string `yaml:"when"`
	// Value names the feature a fact or session rule reports (and deduplicates on); model rules use the model's.
	Value string `yaml:"value"`
	// ValueList keeps only the values of Value that are on this context list (a fact rule then names the
	// competitor domain, not every domain of the message). Values of attachment_names match by their extension.
	ValueList string `yaml:"value_list"`
	// Unless lists rules that take precedence (Exabeam's DependencyExpression): this rule does not score an event
	// on which one of them fired. When both rules report the same feature, the precedence is per value and lasts
	// the session: a value one of them already scored in the session is not scored again by this rule.
	Unless []string `yaml:"unless"`
	// Sum names the numeric field a session_sum rule adds up.
	Sum string `yaml:"sum"`
	// Threshold is the count, sum or distinct values a session rule needs.
	Threshold float64 `yaml:"threshold"`
	// NewInSession makes a first rule fire only when this is the n-th new value of its model in the session.
	NewInSession int `yaml:"new_in_session"`
	// NoHistory makes a first rule fire only when the scope has no observations at all (a new user).
	NoHistory bool `yaml:"no_history"`
	// AnyValue makes a seen rule ask whether the scope has any observation, not this value.
	AnyValue bool `yaml:"any_value"`
	// Top is the rank a top rule's value must reach (1 = the most frequent); MinCount its minimum count.
	Top      int `yaml:"top"`
	MinCount int `yaml:"min_count"`
	// Rare is the abnormal threshold: a categorical value is abnormal when the values at most as frequent as it
	// account for at most this share of observations; a time-of-week hour when its smoothed share is below it.
	Rare float64 `yaml:"rare"`
	// Score is the risk points the rule adds to a session (once per dedup key).
	Score int `yaml:"score"`
	// Dedup is value (default: once per value per session), session (once per session) or event.
	Dedup      string   `yaml:"dedup"`
	Techniques []string `yaml:"techniques"`
	Tactics    []string `yaml:"tactics"`
	// Reason is the finding's text; {{value}}, {{user}}, {{app}}, {{country}}, {{src_ip}}, {{count}},
	// {{threshold}}, {{peer_group}}, {{model}} and {{scope}} (the scope key a model rule judged: the user, peer
	// group, tenant, or the e-mail domain, application … of feature-scoped models) are replaced.
	Reason string     `yaml:"reason"`
	Tests  []RuleTest `yaml:"tests"`

	Source string `yaml:"-"`
	when   *vm.Program
	value  featureFunc
	sum    numberFunc
	model  *Model
	// listKey maps a value to what ValueList is asked about (the extension of a file name, else the value).
	listKey func(string) string
}

// TestEvent is an event of a test: the normalized event fields in snake_case plus context flags.
type TestEvent map[string]any

// RuleTest is one inline test of a rule: a training history (events over past days that make the model
// converge), then events whose findings of this rule are checked.
type RuleTest struct {
	Name string `yaml:"name"`
	// Context sets lists, peer groups and GeoIP answers for the test (see testcontext.go).
	Context TestContext `yaml:"context"`
	// Defaults are merged into every event.
	Defaults TestEvent `yaml:"defaults"`
	// With lists other rules loaded beside the rule under test (e.g. the rules of its unless list); only the
	// tested rule's findings are checked.
	With []string `yaml:"with"`
	// History generates training events: each entry is repeated over days.
	History []HistoryEntry `yaml:"history"`
	Events  []TestEvent    `yaml:"events"`
	// Expect lists the values (or, for rules without a value, any marker) of this rule's findings, in order.
	Expect []string `yaml:"expect"`
}

// HistoryEntry repeats one event: every day of Days (counting back from the first test event's day), Times
// times per day, spread over working hours.
type HistoryEntry struct {
	Days  int       `yaml:"days"`
	Times int       `yaml:"times"`
	Event TestEvent `yaml:"event"`
}

// ModelTest checks a model's state after training events.
type ModelTest struct {
	Name     string         `yaml:"name"`
	Context  TestContext    `yaml:"context"`
	Defaults TestEvent      `yaml:"defaults"`
	History  []HistoryEntry `yaml:"history"`
	Events   []TestEvent    `yaml:"events"`
	// Scope is the scope key to inspect (e.g. a user address, a peer group, the tenant for org).
	Scope     string `yaml:"scope"`
	Converged *bool  `yaml:"converged"`
	// Counts are expected observation counts per value (categorical) or per hour of week "wd-hh" (time of week).
	Counts       map[string]int `yaml:"counts"`
	Observations *int           `yaml:"observations"`
	// Abnormal and Normal are values the model must judge abnormal / not abnormal (numerical and time of week).
	Abnormal []string `yaml:"abnormal"`
	Normal   []string `yaml:"normal"`
}
