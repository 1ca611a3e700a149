package detect

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestFoldKeyAgreesWithEqualFold(t *testing.T) {
	words := []string{"hold", "HOLD", "Hold", "kelvin", "\u212aelvin", "KELVIN", "sender", "\u017fender", "SENDER",
		"straße", "STRASSE", "Ǆemal", "ǆemal", "ǅemal", "héllo", "HÉLLO", "", "123", "a.b@x.example", "A.B@X.EXAMPLE"}
	for _, a := range words {
		for _, b := range words {
			if strings.EqualFold(a, b) != (foldKey(a) == foldKey(b)) {
				t.Errorf("EqualFold(%q, %q) = %v but foldKey gives %q and %q", a, b, strings.EqualFold(a, b), foldKey(a), foldKey(b))
			}
		}
	}
}

func TestConditionAnchors(t *testing.T) {
	sels := `
a: {action: hold}
b: {action: [hold, notification], policy: Confidential}
c: {action|contains: hold}
d: [{activity: email_spam}, {activity: email_iep, sender: x@y}]
e: [{activity: email_spam}, {sender: x@y}]
f: {action: 'ho*ld'}
g: {action|cased: Hold}
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(sels), &doc); err != nil {
		t.Fatal(err)
	}
	m := doc.Content[0]
	compiled := map[string]*selection{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		s, err := compileSelection(m.Content[i+1])
		if err != nil {
			t.Fatal(err)
		}
		compiled[m.Content[i].Value] = s
	}
	tests := []struct {
		cond  string
		field string // "" for no anchor
		vals  []string
	}{
		{"a", "action", []string{"hold"}},
		{"b", "policy", []string{"confidential"}},
		{"a and b", "action", []string{"hold"}},
		{"a or b", "action", []string{"hold", "notification"}},
		{"a and not b", "action", []string{"hold"}},
		{"not a", "", nil},
		{"a or c", "", nil},
		{"c", "", nil},
		{"d", "activity", []string{"email_iep", "email_spam"}},
		{"e", "", nil},
		{"f", "", nil},
		{"g", "action", []string{"hold"}},
		{"1 of them", "", nil},
		{"all of them", "action", []string{"hold"}}, // action and policy have one value each; action sorts first
		{"c and (a or b)", "action", []string{"hold", "notification"}},
	}
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			_, a, err := compileConditionAnchor(tc.cond, compiled)
			if err != nil {
				t.Fatal(err)
			}
			best := a.best()
			if tc.field == "" {
				if best != nil {
					t.Fatalf("anchor on %s, want none", best.f.name)
				}
				return
			}
			if best == nil || best.f.name != tc.field {
				t.Fatalf("anchor %v, want %s", best, tc.field)
			}
			var vals []string
			for v := range best.vals {
				vals = append(vals, v)
			}
			sort.Strings(vals)
			if !slices.Equal(vals, tc.vals) {
				t.Errorf("values %v, want %v", vals, tc.vals)
			}
		})
	}
}

// TestAnchorIndexChangesNoMatch compares the engine (rules indexed by event type and anchor value) with testing
// every rule's condition against every event it reads.
func TestAnchorIndexChangesNoMatch(t *testing.T) {
	rules := append(loadAll(t), generateRules(t, 60, "sender_domain: partner%d.example")...)
	rules = append(rules, generateRules(t, 20, "activity: [email_spam, EMAIL_IEP, x%d]")...)
	indexed := 0
	for _, r := range rules {
		if r.anchor != nil {
			indexed++
		}
	}
	if indexed < 80 {
		t.Fatalf("only %d of %d rules are indexed by an anchor", indexed, len(rules))
	}
	evs := mailDay(9, time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC))
	for i := range evs {
		if i%3 == 0 {
			evs[i].Subject = "Invoice " + evs[i].Subject // the generated rules also need "invoice"
		}
		if i%5 == 0 {
			evs[i].SenderDomain = strings.ToUpper("partner1.example")
		}
	}
	want := map[string]int{}
	for i := range evs {
		for _, r := range rules {
			reads := slices.Contains(r.Reads.EventTypes, evs[i].EventType) ||
				(len(r.Reads.EventTypes) == 0 && slices.Contains(r.Reads.Tables, evs[i].Table))
			if reads && (len(r.Reads.EventTypes) == 0 || len(r.Reads.Tables) == 0 || slices.Contains(r.Reads.Tables, evs[i].Table)) && r.cond(&evs[i]) {
				want[r.ID]++
			}
		}
	}
	eng := New(rules, Options{Clock: fixedClock(evs[len(evs)-1].Time.Add(time.Hour))})
	if _, err := eng.Process(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	total := 0
	for _, rs := range eng.allStates() {
		for _, g := range rs.groups {
			got[rs.rule.ID] += len(g.entries)
		}
	}
	for id, n := range want {
		total += n
		if got[id] != n {
			t.Errorf("rule %s: %d matched events, want %d", id, got[id], n)
		}
	}
	if int64(total) != eng.Stats().Matched || want["gen-0001"] == 0 {
		t.Errorf("matched %d, brute force %d (gen-0001: %d)", eng.Stats().Matched, total, want["gen-0001"])
	}
}
