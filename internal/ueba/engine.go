package ueba

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/castwatch/castwatch/internal/schema"
)

// Defaults of Options.
const (
	// DefaultIdle ends a session after this long without activity.
	DefaultIdle = 8 * time.Hour
	// DefaultMaxSession ends a session this long after it began, however busy.
	DefaultMaxSession = 24 * time.Hour
	// DefaultNotableAt is the session score that makes a user notable (the commonly cited Exabeam default).
	DefaultNotableAt = 90
)

// Options configures an Engine.
type Options struct {
	// Context answers GeoIP, peer group and list questions; nil knows nothing.
	Context Context
	// Idle and MaxSession bound a session (0: defaults).
	Idle, MaxSession time.Duration
	// NotableAt is the session score that makes a user notable (0: DefaultNotableAt).
	NotableAt int
	// Scores override rules' risk points by rule id.
	Scores map[string]int
}

// Finding is one rule firing, scored into a session.
type Finding struct {
	RuleID     string    `json:"rule_id"`
	RuleName   string    `json:"rule_name"`
	Model      string    `json:"model,omitempty"`
	Time       time.Time `json:"time"`
	EventID    string    `json:"event_id"`
	Value      string    `json:"value,omitempty"`
	Points     int       `json:"points"`
	Reason     string    `json:"reason"`
	Techniques []string  `json:"techniques,omitempty"`
	Tactics    []string  `json:"tactics,omitempty"`
	SrcIP      string    `json:"src_ip,omitempty"`
}

// Session is a user's session: from the first activity until Idle without activity, at most MaxSession long.
type Session struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	User      string    `json:"user"`
	PeerGroup string    `json:"peer_group,omitempty"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Events    int       `json:"events"`
	Score     int       `json:"score"`
	Notable   bool      `json:"notable"`
	// NotableAt is when the score reached the threshold.
	NotableAt time.Time `json:"notable_at,omitzero"`
	// Open is false once the session has ended.
	Open     bool      `json:"open"`
	Findings []Finding `json:"findings"`
}

// Output is what one Process call produced.
type Output struct {
	// Findings are the new findings, in event order.
	Findings []Finding
	// Sessions are the sessions with new findings or that ended, as they stand now (store them by ID).
	Sessions []Session
	// Notable are the sessions that became notable in this call.
	Notable []Session
}

// Stats are cumulative counters.
type Stats struct {
	Events   int64 `json:"events"`
	Late     int64 `json:"late"`
	NoUser   int64 `json:"no_user"`
	Repeats  int64 `json:"repeats"`
	Findings int64 `json:"findings"`
	Notable  int64 `json:"notable"`
	Sessions int   `json:"open_sessions"`
	Scopes   int   `json:"scopes"`
	Values   int   `json:"interned_values"`
}

// Engine scores events into sessions with models and rules. It is not safe for concurrent use: one goroutine
// feeds it events in event-time order (Process sorts each batch; events older than the last processed are late).
type Engine struct {
	models  []*Model
	byID    map[string]*Model
	rules   []*Rule
	mByType map[string][]*Model
	rByType map[string][]*Rule
	ctx     Context
	idle    time.Duration
	maxLen  time.Duration
	notable int
	scores  map[string]int

	// deps holds each rule's unless rules among the engine's rules; fires the rules some rule depends on.
	deps  map[*Rule][]dependency
	fires map[*Rule]bool
	// fired holds the rules that fired on the event being processed.
	fired []*Rule
	// vm runs conditions (reused: a run allocates less).
	vm vm.VM

	st  state
	out Output
	// dirty holds the sessions changed since the last output, by session id.
	dirty map[string]*sess
	stats Stats
}

// state is everything the engine learns; Snapshot and Restore persist it.
type state struct {
	// Scopes holds each model's scopes by model id, then scope key.
	Scopes map[string]map[string]*scope
	// ModelStart is the first training day of each model.
	ModelStart map[string]day
	Values     []string
	Sessions   map[string]*sess
	Last       time.Time
	Today      day
	LastSweep  time.Time
	valueIDs   map[string]uint32
}

// sess is a session being built.
type sess struct {
	S Session
	// Dedup holds the dedup keys already scored.
	Dedup map[string]bool
	// Trained holds model|scope|value trained this session (once-per-session models).
	Trained map[string]bool
	// Messages holds event type + message id seen this session: a message's receipt and delivery count once.
	Messages map[string]bool
	// MessageBytes holds the bytes counted for a message this session, so a later record of it adds only the
	// bytes the first one lacked.
	MessageBytes map[string]int64
	// Fired holds rule + value of the rules others depend on, as they fired this session.
	Fired map[string]bool
	// Acc holds session rules' counts and sums; Distinct their distinct values; New each model's new values.
	Acc      map[string]float64
	Distinct map[string][]string
	New      map[string][]string
	// Totals holds session-total models' running sums.
	Totals map[string]float64
}

// New returns an engine for the given models and rules (see Load).
func New(models []*Model, rules []*Rule, opts Options) *Engine {
	e := &Engine{
		models: models, rules: rules, byID: map[string]*Model{}, mByType: map[string][]*Model{},
		rByType: map[string][]*Rule{}, ctx: opts.Context, idle: cmp.Or(opts.Idle, DefaultIdle),
		maxLen: cmp.Or(opts.MaxSession, DefaultMaxSession), notable: cmp.Or(opts.NotableAt, DefaultNotableAt),
		scores: opts.Scores, dirty: map[string]*sess{},
	}
	if e.ctx == nil {
		e.ctx = noContext{}
	}
	for _, m := range models {
		e.byID[m.ID] = m
		for _, t := range m.EventTypes {
			e.mByType[t] = append(e.mByType[t], m)
		}
	}
	e.resolveDependencies(rules)
	e.st = state{Scopes: map[string]map[string]*scope{}, ModelStart: map[string]day{}, Sessions: map[string]*sess{},
		valueIDs: map[string]uint32{}}
	for _, m := range models {
		e.st.Scopes[m.ID] = map[string]*scope{}
	}
	return e
}

// noContext knows no country, peer group or list entry.
type noContext struct{}

func (noContext) Country(string) string                 { return "" }
func (noContext) PeerGroup(string) string               { return "" }
func (noContext) InList(string, string) bool            { return false }
func (noContext) Keyword(string, string) (string, bool) { return "", false }

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Sessions = len(e.st.Sessions)
	for _, m := range e.st.Scopes {
		s.Scopes += len(m)
	}
	s.Values = len(e.st.Values)
	return s
}

// Process evaluates events (sorted here by time, then id; the records of one message coalesced, see coalesce) and
// returns what they produced. The events given are not modified.
func (e *Engine) Process(events []schema.Event) Output {
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(events[a].Time.Compare(events[b].Time), cmp.Compare(events[a].ID, events[b].ID))
	})
	for _, ev := range e.coalesce(events, order) {
		e.process(ev)
	}
	return e.flushOutput()
}

// coalesce merges the records of one message (tenant, user, event type, message id) in a batch into the earliest:
// a receipt carries no size and no destination, the delivery seconds later does. The later records are dropped
// (counted as repeats); the events are returned in the given order. Events given are not modified: a merged record
// is a copy.
func (e *Engine) coalesce(events []schema.Event, order []int) []*schema.Event {
	out := make([]*schema.Event, 0, len(order))
	first := map[string]int{}
	copied := map[int]bool{}
	for _, i := range order {
		ev := &events[i]
		if !isMail(ev.EventType) || ev.MessageID == "" {
			out = append(out, ev)
			continue
		}
		k := ev.Tenant + "\x00" + userOf(ev) + "\x00" + ev.EventType + "\x00" + ev.MessageID
		j, ok := first[k]
		if !ok {
			first[k] = len(out)
			out = append(out, ev)
			continue
		}
		e.stats.Repeats++
		if !copied[j] {
			cp := *out[j]
			cp.Fields = maps.Clone(cp.Fields)
			out[j], copied[j] = &cp, true
		}
		mergeRecord(out[j], ev)
	}
	return out
}

// mergeRecord fills what dst lacks from a later record of the same message: size, attachments, recipients,
// subject, and source columns that are missing or empty.
func mergeRecord(dst, src *schema.Event) {
	if dst.Bytes == 0 {
		dst.Bytes = src.Bytes
	}
	fill(&dst.AttachmentNames, src.AttachmentNames)
	fill(&dst.AttachmentExtensions, src.AttachmentExtensions)
	fill(&dst.AttachmentHashes, src.AttachmentHashes)
	fill(&dst.Recipients, src.Recipients)
	fill(&dst.RecipientDomains, src.RecipientDomains)
	dst.Subject = cmp.Or(dst.Subject, src.Subject)
	for k, v := range src.Fields {
		if old, ok := dst.Fields[k]; ok && old != nil && old != "" {
			continue
		}
		if dst.Fields == nil {
			dst.Fields = map[string]any{}
		}
		dst.Fields[k] = v
	}
}

func fill(dst *[]string, src []string) {
	if len(*dst) == 0 {
		*dst = src
	}
}

// Advance ends the sessions that have been idle, or open too long, at t (e.g. the end of a replayed range), so
// they are reported as ended and session-total models learn from them.
func (e *Engine) Advance(t time.Time) Output {
	e.sweep(t, true)
	return e.flushOutput()
}

func (e *Engine) flushOutput() Output {
	keys := make([]string, 0, len(e.dirty))
	for k := range e.dirty {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s := e.dirty[k]
		e.out.Sessions = append(e.out.Sessions, copySession(s.S))
	}
	clear(e.dirty)
	out := e.out
	e.out = Output{}
	return out
}

func copySession(s Session) Session {
	s.Findings = slices.Clone(s.Findings)
	return s
}

func (e *Engine) process(event *schema.Event) {
	if event.Time.Before(e.st.Last) {
		e.stats.Late++
		return
	}
	e.stats.Events++
	e.st.Last = event.Time
	if d := dayOf(event.Time); d > e.st.Today {
		if e.st.Today != 0 {
			e.age(d)
		}
		e.st.Today = d
	}
	if event.Time.Sub(e.st.LastSweep) >= time.Hour {
		e.sweep(event.Time, false)
		e.st.LastSweep = event.Time.Truncate(time.Hour)
	}
	user := userOf(event)
	if user == "" {
		e.stats.NoUser++
		return
	}
	x := &ev{Event: event, user: user, ctx: e.ctx, peer: e.ctx.PeerGroup(user)}
	x.country = strings.ToUpper(event.SrcCountry)
	if x.country == "" && event.SrcIP != "" {
		x.country = e.ctx.Country(event.SrcIP)
	}
	x.sess = e.session(event.Tenant, user, x.peer, event.Time)
	if isMail(event.EventType) && event.MessageID != "" {
		k := event.EventType + "\x00" + event.MessageID
		if x.sess.Messages[k] {
			e.stats.Repeats++
			e.addMissingBytes(x, k)
			return
		}
		x.sess.Messages[k] = true
		if event.Bytes > 0 {
			x.sess.MessageBytes[k] = event.Bytes
		}
	}
	x.sess.S.Events++
	x.sess.S.End = event.Time
	e.classify(x, nil, nil)
}

// classify evaluates the event's rules (in dependency order) against the models as they are, then trains the
// models; ruleIf and modelIf, when set, narrow both.
func (e *Engine) classify(x *ev, ruleIf func(*Rule) bool, modelIf func(*Model) bool) {
	e.fired = e.fired[:0]
	var en *env
	holds := func(p *vm.Program) bool {
		if p == nil {
			return true
		}
		if en == nil {
			en = e.envFor(x)
		}
		return e.run(p, en)
	}
	for _, r := range e.rByType[x.EventType] {
		if (ruleIf == nil || ruleIf(r)) && holds(r.when) {
			e.evalRule(r, x)
		}
	}
	for _, m := range e.mByType[x.EventType] {
		if (modelIf == nil || modelIf(m)) && holds(m.trainWhen) {
			e.train(m, x)
		}
	}
}

// addMissingBytes lets a later record of a message counted in an earlier batch add the bytes the first record
// lacked (a receipt has no size, its delivery has): only the rules and models of byte counts see it, with just the
// missing bytes, so nothing else counts the message twice.
func (e *Engine) addMissingBytes(x *ev, k string) {
	missing := x.Bytes - x.sess.MessageBytes[k]
	if missing <= 0 {
		return
	}
	x.sess.MessageBytes[k] = x.Bytes
	cp := *x.Event
	cp.Bytes = missing
	x.Event = &cp
	e.classify(x, func(r *Rule) bool {
		if r.Kind == KindSessionSum {
			return byteFeatures[r.Sum]
		}
		return r.model != nil && r.model.Kind == Numerical && byteFeatures[r.model.Feature]
	}, func(m *Model) bool { return m.Kind == Numerical && byteFeatures[m.Feature] })
}

// byteFeatures are the numeric features that count a message's bytes.
var byteFeatures = map[string]bool{"bytes": true, "external_bytes": true}

func (e *Engine) run(p *vm.Program, en *env) bool {
	out, err := e.vm.Run(p, en)
	b, ok := out.(bool)
	return err == nil && ok && b
}

func isMail(t string) bool { return strings.HasPrefix(t, "dlp-email-alert-") }

// userOf is the user an event belongs to: its user e-mail, else its user, lower-cased.
func userOf(ev *schema.Event) string {
	return strings.ToLower(strings.TrimSpace(cmp.Or(ev.UserEmail, ev.User)))
}

func dayOf(t time.Time) day { return day(t.Unix() / 86400) }

// session returns the user's open session at t, ending the previous one if it went idle or grew too long.
func (e *Engine) session(tenant, user, peer string, t time.Time) *sess {
	k := tenant + "\x00" + user
	s := e.st.Sessions[k]
	if s != nil && (t.Sub(s.S.End) >= e.idle || t.Sub(s.S.Start) >= e.maxLen) {
		e.endSession(k, s)
		s = nil
	}
	if s == nil {
		sum := sha256.Sum256([]byte(tenant + "\x00" + user + "\x00" + t.UTC().Format(time.RFC3339Nano)))
		s = &sess{
			S:     Session{ID: hex.EncodeToString(sum[:12]), Tenant: tenant, User: user, PeerGroup: peer, Start: t, End: t, Open: true},
			Dedup: map[string]bool{}, Trained: map[string]bool{}, Messages: map[string]bool{}, Acc: map[string]float64{},
			MessageBytes: map[string]int64{}, Fired: map[string]bool{},
			Distinct: map[string][]string{}, New: map[string][]string{}, Totals: map[string]float64{},
		}
		e.st.Sessions[k] = s
	}
	return s
}

// endSession closes a session: session-total models learn its totals; a scored session is reported once more.
func (e *Engine) endSession(k string, s *sess) {
	delete(e.st.Sessions, k)
	s.S.Open = false
	for _, id := range slices.Sorted(maps.Keys(s.Totals)) {
		m := e.byID[id]
		e.addObservation(m, s.S.User, s.S.End, func(sc *scope, d day) { sc.addNumber(s.Totals[id], d) })
	}
	if s.S.Score > 0 {
		e.dirty[s.S.ID] = s
	}
}

// sweep ends sessions idle at t (and, with all, those too long at t). Sessions end in key order.
func (e *Engine) sweep(t time.Time, all bool) {
	var ended []string
	for k, s := range e.st.Sessions {
		if t.Sub(s.S.End) >= e.idle || (all && t.Sub(s.S.Start) >= e.maxLen) {
			ended = append(ended, k)
		}
	}
	slices.Sort(ended)
	for _, k := range ended {
		e.endSession(k, e.st.Sessions[k])
	}
}

// age applies every model's aging window on a new day.
func (e *Engine) age(today day) {
	for _, m := range e.models {
		scopes := e.st.Scopes[m.ID]
		window := day(m.Aging / (24 * time.Hour))
		for k, sc := range scopes {
			if sc.age(today, window, m.Kind) {
				delete(scopes, k)
			}
		}
	}
}

// intern returns the id of a value, adding it when new.
func (e *Engine) intern(v string) uint32 {
	if id, ok := e.st.valueIDs[v]; ok {
		return id
	}
	id := uint32(len(e.st.Values))
	e.st.Values = append(e.st.Values, v)
	e.st.valueIDs[v] = id
	return id
}

// lookup returns the id of a known value.
func (e *Engine) lookup(v string) (uint32, bool) {
	id, ok := e.st.valueIDs[v]
	return id, ok
}

// history is the number of observations model holds for the event's (first) scope.
func (e *Engine) history(model string, x *ev) int {
	m := e.byID[model]
	if m == nil {
		return 0
	}
	for _, k := range m.scope(x) {
		if sc := e.st.Scopes[m.ID][k]; sc != nil {
			return int(sc.N)
		}
		return 0
	}
	return 0
}

// train adds the event's observations to a model.
func (e *Engine) train(m *Model, x *ev) {
	if m.SessionTotal {
		if v, ok := numbers[m.Feature](x); ok {
			x.sess.Totals[m.ID] += v
		}
		return
	}
	for _, sk := range m.scope(x) {
		switch m.Kind {
		case Numerical:
			if v, ok := numbers[m.Feature](x); ok {
				e.addObservation(m, sk, x.Time, func(sc *scope, d day) { sc.addNumber(v, d) })
			}
		case TimeOfWeek:
			if !e.trainOnce(m, x, sk, "tow") {
				continue
			}
			h := towHour(x.Time)
			e.addObservation(m, sk, x.Time, func(sc *scope, d day) { sc.addTow(h, d) })
		default:
			for _, v := range m.feature(x) {
				if !e.trainOnce(m, x, sk, v) {
					continue
				}
				id, limit := e.intern(v), m.maxBins()
				e.addObservation(m, sk, x.Time, func(sc *scope, d day) { sc.addCategorical(id, d, limit) })
			}
		}
	}
}

// trainOnce reports whether a once-per-session model may learn value v of scope sk now.
func (e *Engine) trainOnce(m *Model, x *ev, sk, v string) bool {
	if m.TrainIf != TrainOncePerSession {
		return true
	}
	k := m.ID + "\x00" + sk + "\x00" + v
	if x.sess.Trained[k] {
		return false
	}
	x.sess.Trained[k] = true
	return true
}

func (e *Engine) addObservation(m *Model, sk string, t time.Time, add func(*scope, day)) {
	scopes := e.st.Scopes[m.ID]
	sc := scopes[sk]
	if sc == nil {
		sc = &scope{}
		scopes[sk] = sc
	}
	d := dayOf(t)
	if _, ok := e.st.ModelStart[m.ID]; !ok {
		e.st.ModelStart[m.ID] = d
	}
	add(sc, d)
}

// score adds a finding to the event's session unless a rule it depends on fired (see Rule.Unless) or its dedup key
// already scored.
func (e *Engine) score(r *Rule, x *ev, value string) {
	if e.suppressed(r, x, value) {
		return
	}
	if e.fires[r] {
		e.fired = append(e.fired, r)
		x.sess.Fired[r.ID+"\x00"+value] = true
	}
	key := r.ID
	switch r.Dedup {
	case "event":
		key += "\x00" + x.ID + "\x00" + value
	case "session":
	default:
		key += "\x00" + value
	}
	s := x.sess
	if s.Dedup[key] {
		return
	}
	s.Dedup[key] = true
	points := r.Score
	if p, ok := e.scores[r.ID]; ok {
		points = p
	}
	f := Finding{
		RuleID: r.ID, RuleName: r.Name, Model: r.Model, Time: x.Time, EventID: x.ID, Value: value, Points: points,
		Reason: e.reason(r, x, value), Techniques: r.Techniques, Tactics: r.Tactics, SrcIP: x.SrcIP,
	}
	s.S.Findings = append(s.S.Findings, f)
	s.S.Score += points
	e.out.Findings = append(e.out.Findings, f)
	e.stats.Findings++
	e.dirty[s.S.ID] = s
	if !s.S.Notable && s.S.Score >= e.notable {
		s.S.Notable = true
		s.S.NotableAt = x.Time
		e.stats.Notable++
		e.out.Notable = append(e.out.Notable, copySession(s.S))
	}
}

// reason fills the rule's reason template.
func (e *Engine) reason(r *Rule, x *ev, value string) string {
	repl := strings.NewReplacer(
		"{{value}}", value, "{{user}}", x.user, "{{app}}", x.App, "{{country}}", x.country, "{{src_ip}}", x.SrcIP,
		"{{peer_group}}", x.peer, "{{model}}", r.Model, "{{threshold}}", formatNumber(r.Threshold),
		"{{count}}", formatNumber(x.sess.Acc[r.ID]), "{{scope}}", x.scope,
	)
	return repl.Replace(r.Reason)
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// dependency is one rule of another's unless list; perValue when both report the same feature.
type dependency struct {
	rule     *Rule
	perValue bool
}

// resolveDependencies orders each event type's rules so that every rule comes after those it depends on, and
// resolves unless lists to the engine's rules (a rule not loaded never fires, so it is ignored).
func (e *Engine) resolveDependencies(rules []*Rule) {
	ordered, err := dependencyOrder(rules)
	if err != nil {
		// Load rejects cycles; rules built by hand keep their order.
		ordered = rules
	}
	byID := map[string]*Rule{}
	for _, r := range rules {
		byID[r.ID] = r
	}
	e.deps, e.fires = map[*Rule][]dependency{}, map[*Rule]bool{}
	for _, r := range ordered {
		for _, t := range r.EventTypes {
			e.rByType[t] = append(e.rByType[t], r)
		}
		for _, id := range r.Unless {
			if u := byID[id]; u != nil {
				f := reportedFeature(r)
				e.deps[r] = append(e.deps[r], dependency{rule: u, perValue: f != "" && f == reportedFeature(u)})
				e.fires[u] = true
			}
		}
	}
}

// reportedFeature names the feature whose values a rule reports, or "" when its values are not one feature's (a
// session rule's count or list, a new_in_session rule's list, a seen rule's scope).
func reportedFeature(r *Rule) string {
	switch {
	case r.Kind == KindFact:
		return r.Value
	case r.model != nil && r.NewInSession == 0 && !r.AnyValue && r.model.Kind == Categorical:
		return r.model.Feature
	}
	return ""
}

// suppressed reports whether a rule r depends on fired on this event or, for a rule reporting the same feature,
// already fired for this value in the session.
func (e *Engine) suppressed(r *Rule, x *ev, value string) bool {
	for _, d := range e.deps[r] {
		if d.perValue {
			if x.sess.Fired[d.rule.ID+"\x00"+value] {
				return true
			}
		} else if slices.Contains(e.fired, d.rule) {
			return true
		}
	}
	return false
}
