package ueba

import (
	"bytes"
	"cmp"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// TestContext is the context of a test, written in its YAML: GeoIP answers, peer groups and list entries.
type TestContext struct {
	// Countries maps an IP address or a CIDR prefix to a country code.
	Countries map[string]string `yaml:"countries"`
	// Peers maps a user to a peer group.
	Peers map[string]string `yaml:"peers"`
	// Lists holds list entries by list name (IPs and CIDRs, domains (subdomains match), users, countries,
	// keywords, extensions).
	Lists map[string][]string `yaml:"lists"`
}

// Country implements Context.
func (c TestContext) Country(ip string) string {
	if cc, ok := c.Countries[ip]; ok {
		return strings.ToUpper(cc)
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	for _, k := range slices.Sorted(maps.Keys(c.Countries)) {
		if p, err := netip.ParsePrefix(k); err == nil && p.Contains(a) {
			return strings.ToUpper(c.Countries[k])
		}
	}
	return ""
}

// PeerGroup implements Context.
func (c TestContext) PeerGroup(user string) string { return c.Peers[strings.ToLower(user)] }

// InList implements Context: exact, case-insensitive entries; a domain matches its subdomains; an address
// matches a CIDR entry; an extension matches with or without its dot.
func (c TestContext) InList(list, value string) bool {
	value = strings.ToLower(strings.TrimPrefix(value, "."))
	addr, addrErr := netip.ParseAddr(value)
	for _, e := range c.Lists[list] {
		e = strings.ToLower(strings.TrimPrefix(e, "."))
		if e == value || strings.HasSuffix(value, "."+e) {
			return true
		}
		if p, err := netip.ParsePrefix(e); err == nil && addrErr == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// Keyword implements Context: a keyword matches as a whole word (or phrase), case-insensitive.
func (c TestContext) Keyword(list, text string) (string, bool) {
	t := " " + strings.ToLower(strings.Map(wordChar, text)) + " "
	for _, k := range c.Lists[list] {
		if strings.Contains(t, " "+strings.ToLower(k)+" ") {
			return k, true
		}
	}
	return "", false
}

func wordChar(r rune) rune {
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 127 {
		return r
	}
	return ' '
}

// TestResult is the outcome of one inline test.
type TestResult struct {
	Source string
	ID     string
	Name   string
	Err    error
}

// RunTests runs every inline test of the content's rules and models. A rule test runs the rule with every model
// (rules may consult any model's history), twice: all events in one batch, and one event per batch with the
// engine's state saved and restored between batches; both must give the expected findings.
func RunTests(c Content) []TestResult {
	var out []TestResult
	for _, r := range c.Rules {
		for _, t := range r.Tests {
			out = append(out, TestResult{Source: r.Source, ID: r.ID, Name: t.Name, Err: runRuleTest(c, r, t)})
		}
	}
	for _, m := range c.Models {
		for _, t := range m.Tests {
			out = append(out, TestResult{Source: m.Source, ID: m.ID, Name: t.Name, Err: runModelTest(m, t)})
		}
	}
	return out
}

func runRuleTest(c Content, r *Rule, t RuleTest) error {
	events, err := testEvents(t.Defaults, t.History, t.Events)
	if err != nil {
		return err
	}
	rules := []*Rule{r}
	for _, id := range t.With {
		i := slices.IndexFunc(c.Rules, func(o *Rule) bool { return o.ID == id })
		if i < 0 {
			return fmt.Errorf("with: rule %q is not defined", id)
		}
		rules = append(rules, c.Rules[i])
	}
	var runs [2][]string
	for i := range runs {
		eng := New(c.Models, rules, Options{Context: t.Context})
		var fs []Finding
		if i == 0 {
			fs = eng.Process(events).Findings
		} else {
			for _, ev := range events {
				fs = append(fs, eng.Process([]schema.Event{ev}).Findings...)
				snap, err := eng.Snapshot()
				if err != nil {
					return err
				}
				eng = New(c.Models, rules, Options{Context: t.Context})
				if err := eng.Restore(snap); err != nil {
					return err
				}
			}
		}
		for _, f := range fs {
			if f.RuleID == r.ID {
				runs[i] = append(runs[i], f.Value)
			}
		}
	}
	want := t.Expect
	if want == nil {
		want = []string{}
	}
	for i, got := range runs {
		if got == nil {
			got = []string{}
		}
		if !slices.Equal(got, want) {
			how := "in one batch"
			if i == 1 {
				how = "one event per batch with state saved and restored"
			}
			return fmt.Errorf("findings %s: got %q, want %q", how, got, want)
		}
	}
	return nil
}

func runModelTest(m *Model, t ModelTest) error {
	events, err := testEvents(t.Defaults, t.History, t.Events)
	if err != nil {
		return err
	}
	eng := New([]*Model{m}, nil, Options{Context: t.Context})
	eng.Process(events)
	sc := eng.st.Scopes[m.ID][strings.ToLower(t.Scope)]
	if sc == nil {
		sc = &scope{}
	}
	var errs []string
	if t.Converged != nil && sc.converged(m.Kind, m.Convergence) != *t.Converged {
		errs = append(errs, fmt.Sprintf("converged = %v, want %v (n=%d days=%d confidence=%.2f)", !*t.Converged, *t.Converged, sc.N, sc.Days, sc.confidence(m.Kind)))
	}
	if t.Observations != nil && int(sc.N) != *t.Observations {
		errs = append(errs, fmt.Sprintf("observations = %d, want %d", sc.N, *t.Observations))
	}
	for _, v := range slices.Sorted(maps.Keys(t.Counts)) {
		if got := eng.countOf(m, sc, v); got != t.Counts[v] {
			errs = append(errs, fmt.Sprintf("count of %q = %d, want %d", v, got, t.Counts[v]))
		}
	}
	for _, v := range t.Abnormal {
		if !eng.abnormal(m, sc, v) {
			errs = append(errs, fmt.Sprintf("%q should be abnormal", v))
		}
	}
	for _, v := range t.Normal {
		if eng.abnormal(m, sc, v) {
			errs = append(errs, fmt.Sprintf("%q should not be abnormal", v))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// countOf is the count of a value (categorical) or of an hour of week "mon-09" (time of week).
func (e *Engine) countOf(m *Model, sc *scope, v string) int {
	if m.Kind == TimeOfWeek {
		h, ok := parseTowLabel(v)
		if !ok || sc.Tow == nil {
			return 0
		}
		return int(sc.Tow[h])
	}
	id, ok := e.lookup(v)
	if !ok {
		return 0
	}
	return int(sc.count(id))
}

// abnormal judges a value as the model's default abnormal rule would.
func (e *Engine) abnormal(m *Model, sc *scope, v string) bool {
	switch m.Kind {
	case Numerical:
		var x float64
		if _, err := fmt.Sscan(v, &x); err != nil {
			return false
		}
		return x > sc.numUpper()
	case TimeOfWeek:
		h, ok := parseTowLabel(v)
		return ok && sc.towShare(h) < DefaultRareHour
	}
	id, ok := e.lookup(v)
	return ok && sc.count(id) > 0 && sc.rareShare(id) <= DefaultRareShare
}

// testEvents builds a test's events: the history, spread over the days before the first test event, then the
// test events. Every event gets the defaults, an id and tenant "acme" unless it has its own.
func testEvents(defaults TestEvent, history []HistoryEntry, evs []TestEvent) ([]schema.Event, error) {
	var out []schema.Event
	var first time.Time
	for i, te := range evs {
		e, err := testEvent(defaults, te, fmt.Sprintf("e%d", i+1))
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i+1, err)
		}
		if first.IsZero() || e.Time.Before(first) {
			first = e.Time
		}
		out = append(out, e)
	}
	if first.IsZero() {
		first = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	}
	start := first.Truncate(24 * time.Hour)
	var hist []schema.Event
	for i, h := range history {
		times := max(h.Times, 1)
		for d := h.Days; d >= 1; d-- {
			for j := range times {
				at := start.AddDate(0, 0, -d).Add(9*time.Hour + time.Duration(j)*8*time.Hour/time.Duration(times))
				te := maps.Clone(h.Event)
				if te == nil {
					te = TestEvent{}
				}
				if _, ok := te["time"]; !ok {
					te["time"] = at.Format(time.RFC3339)
				}
				e, err := testEvent(defaults, te, fmt.Sprintf("h%d-%d-%d", i+1, d, j))
				if err != nil {
					return nil, fmt.Errorf("history %d: %w", i+1, err)
				}
				hist = append(hist, e)
			}
		}
	}
	all := append(hist, out...)
	// Both test runs (one batch, and one event per batch) must see the events in the order Process sorts them.
	slices.SortStableFunc(all, func(a, b schema.Event) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.ID, b.ID))
	})
	return all, nil
}

func testEvent(defaults, te TestEvent, id string) (schema.Event, error) {
	m := maps.Clone(defaults)
	if m == nil {
		m = TestEvent{}
	}
	maps.Copy(m, te)
	if _, ok := m["id"]; !ok {
		m["id"] = id
	}
	if _, ok := m["tenant"]; !ok {
		m["tenant"] = "acme"
	}
	if _, ok := m["time"]; !ok {
		return schema.Event{}, fmt.Errorf("no time")
	}
	data, err := json.Marshal(m)
	if err != nil {
		return schema.Event{}, err
	}
	var e schema.Event
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return schema.Event{}, fmt.Errorf("event fields: %w", err)
	}
	return e, nil
}

// Snapshot encodes everything the engine has learned and its open sessions.
func (e *Engine) Snapshot() ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&e.st); err != nil {
		return nil, fmt.Errorf("ueba: snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

// Restore replaces the engine's state with a snapshot. Models the snapshot does not know start empty; scopes of
// models no longer loaded are dropped.
func (e *Engine) Restore(data []byte) error {
	var st state
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return fmt.Errorf("ueba: restore: %w", err)
	}
	scopes := map[string]map[string]*scope{}
	for _, m := range e.models {
		scopes[m.ID] = st.Scopes[m.ID]
		if scopes[m.ID] == nil {
			scopes[m.ID] = map[string]*scope{}
		}
	}
	st.Scopes = scopes
	if st.ModelStart == nil {
		st.ModelStart = map[string]day{}
	}
	if st.Sessions == nil {
		st.Sessions = map[string]*sess{}
	}
	for _, s := range st.Sessions {
		restoreMaps(s)
	}
	st.valueIDs = make(map[string]uint32, len(st.Values))
	for i, v := range st.Values {
		st.valueIDs[v] = uint32(i)
	}
	e.st = st
	return nil
}

// restoreMaps gives a decoded session the maps gob leaves nil when they were empty.
func restoreMaps(s *sess) {
	if s.Dedup == nil {
		s.Dedup = map[string]bool{}
	}
	if s.Trained == nil {
		s.Trained = map[string]bool{}
	}
	if s.Messages == nil {
		s.Messages = map[string]bool{}
	}
	if s.MessageBytes == nil {
		s.MessageBytes = map[string]int64{}
	}
	if s.Fired == nil {
		s.Fired = map[string]bool{}
	}
	if s.Acc == nil {
		s.Acc = map[string]float64{}
	}
	if s.Distinct == nil {
		s.Distinct = map[string][]string{}
	}
	if s.New == nil {
		s.New = map[string][]string{}
	}
	if s.Totals == nil {
		s.Totals = map[string]float64{}
	}
}
