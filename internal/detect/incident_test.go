package detect

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

func incAlert(id, rule, tenant string, at time.Duration, sev string, ents ...string) schema.Alert {
	a := schema.Alert{ID: id, RuleID: rule, Tenant: tenant, FirstEvent: t0.Add(at), LastEvent: t0.Add(at), Severity: sev,
		Title: "alert " + id, Tactics: []string{"InitialAccess"}, Techniques: []string{"T1566"}}
	for i := 0; i+1 < len(ents); i += 2 {
		a.Entities = append(a.Entities, schema.Entity{Type: ents[i], Value: ents[i+1]})
	}
	return a
}

// incidentShape summarizes incidents as id → alert ids, for comparisons.
func incidentShape(incs []Incident) map[string][]string {
	out := map[string][]string{}
	for _, inc := range incs {
		out[inc.ID] = inc.AlertIDs
	}
	return out
}

func TestGroupIncidents(t *testing.T) {
	const day = 24 * time.Hour
	mb := func(v string) []string { return []string{"mailbox", v} }
	ents := func(parts ...[]string) []string { return slices.Concat(parts...) }
	tests := []struct {
		name   string
		alerts []schema.Alert
		want   [][]string // alert ids per incident, in incident order
	}{
		{"same rule and entities within 7 days: one incident", []schema.Alert{
			incAlert("a1", "r", "acme", 0, "low", ents(mb("eve@x.example"), []string{"ip", "192.0.2.1"})...),
			incAlert("a2", "r", "acme", 6*day, "high", ents([]string{"ip", "192.0.2.1"}, mb("EVE@x.example"))...),
		}, [][]string{{"a1", "a2"}}},
		{"more than 7 days after the first alert: a new incident", []schema.Alert{
			incAlert("a1", "r", "acme", 0, "low", mb("eve@x.example")...),
			incAlert("a2", "r", "acme", 6*day, "low", mb("eve@x.example")...),
			incAlert("a3", "r", "acme", 7*day+time.Second, "low", mb("eve@x.example")...),
		}, [][]string{{"a1", "a2"}, {"a3"}}},
		{"all entities must match, not some", []schema.Alert{
			incAlert("a1", "r", "acme", 0, "low", mb("eve@x.example")...),
			incAlert("a2", "r", "acme", time.Hour, "low", ents(mb("eve@x.example"), mb("bob@x.example"))...),
		}, [][]string{{"a1"}, {"a2"}}},
		{"other rule or tenant: separate incidents", []schema.Alert{
			incAlert("a1", "r", "acme", 0, "low", mb("eve@x.example")...),
			incAlert("a2", "q", "acme", time.Hour, "low", mb("eve@x.example")...),
			incAlert("a3", "r", "globex", 2*time.Hour, "low", mb("eve@x.example")...),
		}, [][]string{{"a1"}, {"a2"}, {"a3"}}},
		{"alerts without entities are never grouped", []schema.Alert{
			incAlert("a1", "r", "acme", 0, "low"), incAlert("a2", "r", "acme", time.Minute, "low"),
		}, [][]string{{"a1"}, {"a2"}}},
		{"an alert returned again (grown) is not added twice", []schema.Alert{
			incAlert("a1", "r", "acme", 0, "low", mb("eve@x.example")...),
			incAlert("a1", "r", "acme", 0, "medium", mb("eve@x.example")...),
		}, [][]string{{"a1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Group(tc.alerts, nil)
			var shape [][]string
			for _, inc := range got {
				shape = append(shape, inc.AlertIDs)
				if inc.Status != IncidentNew {
					t.Errorf("status %q, want new", inc.Status)
				}
			}
			if !reflect.DeepEqual(shape, tc.want) {
				t.Errorf("incidents %v, want %v", shape, tc.want)
			}
		})
	}
	t.Run("severity is the highest, tactics merged", func(t *testing.T) {
		a2 := incAlert("a2", "r", "acme", time.Hour, "high", "mailbox", "eve@x.example")
		a2.Tactics = []string{"Exfiltration"}
		got := Group([]schema.Alert{incAlert("a1", "r", "acme", 0, "low", "mailbox", "eve@x.example"), a2}, nil)
		if len(got) != 1 || got[0].Severity != "high" || !slices.Equal(got[0].Tactics, []string{"InitialAccess", "Exfiltration"}) ||
			!got[0].LastAlert.Equal(t0.Add(time.Hour)) || got[0].Title != "alert a1" {
			t.Errorf("got %+v", got)
		}
	})
}

func TestGroupIncidentsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var alerts []schema.Alert
	for i := 0; i < 300; i++ {
		alerts = append(alerts, incAlert(string(rune('A'+i%26))+time.Duration(i).String(), []string{"r", "q"}[rng.IntN(2)],
			"acme", time.Duration(rng.IntN(20*24))*time.Hour, "medium", "mailbox", []string{"a@x", "b@x", "c@x"}[rng.IntN(3)]))
	}
	want := incidentShape(Group(alerts, nil))
	if len(want) < 6 || len(want) > 60 {
		t.Fatalf("%d incidents from 300 alerts; the test needs grouping to happen", len(want))
	}
	t.Run("shuffled", func(t *testing.T) {
		c := slices.Clone(alerts)
		rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
		if got := incidentShape(Group(c, nil)); !reflect.DeepEqual(got, want) {
			t.Error("shuffled alerts give other incidents")
		}
	})
	t.Run("in time order across calls", func(t *testing.T) {
		c := slices.Clone(alerts)
		slices.SortStableFunc(c, func(a, b schema.Alert) int { return a.FirstEvent.Compare(b.FirstEvent) })
		var incs []Incident
		for _, b := range [][]schema.Alert{c[:100], c[100:101], c[101:250], c[250:]} {
			incs = Group(b, incs)
		}
		if got := incidentShape(incs); !reflect.DeepEqual(got, want) {
			t.Error("batched alerts give other incidents")
		}
	})
	t.Run("arguments are not modified", func(t *testing.T) {
		first := Group(alerts[:10], nil)
		keep := slices.Clone(first[0].AlertIDs)
		_ = Group(alerts[10:], first)
		if !slices.Equal(first[0].AlertIDs, keep) {
			t.Error("Group changed an existing incident in place")
		}
	})
}

func TestIncidentLifecycle(t *testing.T) {
	at := t0.Add(48 * time.Hour)
	incs := Group([]schema.Alert{incAlert("a1", "r", "acme", 0, "low", "mailbox", "eve@x.example")}, nil)
	inc := &incs[0]
	if err := inc.Assign(" ", at); err == nil {
		t.Error("empty owner accepted")
	}
	if err := inc.Assign("analyst@corp.example", at); err != nil || inc.Status != IncidentActive || inc.Owner != "analyst@corp.example" {
		t.Fatalf("assign: %v, %+v", err, inc)
	}
	if err := inc.AddComment("analyst@corp.example", "sender spoofs the CFO", at); err != nil || len(inc.Comments) != 1 {
		t.Fatalf("comment: %v", err)
	}
	if err := inc.Close("", at); err == nil {
		t.Error("close without classification accepted")
	}
	if err := inc.Close("true positive", at); err != nil || inc.Status != IncidentClosed {
		t.Fatalf("close: %v", err)
	}
	for name, op := range map[string]func() error{
		"assign":   func() error { return inc.Assign("x", at) },
		"activate": func() error { return inc.Activate(at) },
		"close":    func() error { return inc.Close("again", at) },
	} {
		if err := op(); !errors.Is(err, ErrIncidentClosed) {
			t.Errorf("%s on a closed incident: %v, want ErrIncidentClosed", name, err)
		}
	}
	if err := inc.AddComment("lead", "confirmed", at); err != nil {
		t.Errorf("comment on a closed incident: %v", err)
	}
	// A closed incident is not reopened: the next matching alert starts a new one (reopenClosedIncident false).
	next := Group([]schema.Alert{incAlert("a2", "r", "acme", time.Hour, "low", "mailbox", "eve@x.example")}, incs)
	if len(next) != 2 || next[1].Status != IncidentNew || next[1].ID == next[0].ID || !slices.Equal(next[0].AlertIDs, []string{"a1"}) {
		t.Errorf("after close: %+v", incidentShape(next))
	}
	// While it is open, the same alert joins it.
	open := Group([]schema.Alert{incAlert("a1", "r", "acme", 0, "low", "mailbox", "eve@x.example")}, nil)
	joined := Group([]schema.Alert{incAlert("a2", "r", "acme", time.Hour, "low", "mailbox", "eve@x.example")}, open)
	if len(joined) != 1 || joined[0].ID != open[0].ID || !slices.Equal(joined[0].AlertIDs, []string{"a1", "a2"}) {
		t.Errorf("open incident: %+v", incidentShape(joined))
	}
}
