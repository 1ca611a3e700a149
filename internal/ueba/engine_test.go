package ueba

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// TestCoalesceMergesMessageRecords checks that a message's receipt (no size, no destination) and its delivery
// become one record carrying both, that the caller's events are left alone, and that other messages and other
// users' records of the same message id stay separate.
func TestCoalesceMergesMessageRecords(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	mail := func(id, user string, sec int) schema.Event {
		return schema.Event{ID: id, Time: at.Add(time.Duration(sec) * time.Second), Tenant: "acme", UserEmail: user,
			EventType: schema.EventDLPEmailAlertOut, MessageID: "<m1@corp>", Fields: map[string]any{"emailSize": nil}}
	}
	receipt, delivery, other := mail("r", "ann@corp.example", 0), mail("d", "ann@corp.example", 4), mail("o", "bob@corp.example", 2)
	delivery.Bytes, delivery.Fields = 6_000_000, map[string]any{"emailSize": 6_000_000, "destinationIp": "192.0.2.1"}
	delivery.AttachmentNames = []string{"a.pdf"}
	events := []schema.Event{delivery, other, receipt}
	e := New(nil, nil, Options{})
	order := []int{2, 1, 0}
	got := e.coalesce(events, order)
	if len(got) != 2 || got[0].ID != "r" || got[1].ID != "o" {
		t.Fatalf("coalesced to %d records %v", len(got), got)
	}
	r := got[0]
	if r.Bytes != 6_000_000 || r.Fields["destinationIp"] != "192.0.2.1" || r.Fields["emailSize"] != 6_000_000 || !slices.Equal(r.AttachmentNames, []string{"a.pdf"}) {
		t.Errorf("merged receipt = %+v", r)
	}
	if events[2].Bytes != 0 || events[2].Fields["destinationIp"] != nil {
		t.Errorf("the caller's receipt was modified: %+v", events[2])
	}
	if e.Stats().Repeats != 1 {
		t.Errorf("repeats = %d, want 1", e.Stats().Repeats)
	}
}

// builtinRules returns the built-in rules with the given ids.
func builtinRules(t *testing.T, ids ...string) Content {
	t.Helper()
	c, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	var rules []*Rule
	for _, id := range ids {
		i := slices.IndexFunc(c.Rules, func(r *Rule) bool { return r.ID == id })
		if i < 0 {
			t.Fatalf("no rule %s", id)
		}
		rules = append(rules, c.Rules[i])
	}
	return Content{Models: c.Models, Rules: rules}
}

// TestFamilyScoresOneObservationOnce: mail to a domain nobody in the organisation has mailed is scored by the
// organisation-wide first rule only; the same domain again in the session scores nothing more.
func TestFamilyScoresOneObservationOnce(t *testing.T) {
	c := builtinRules(t, "EM-UD-F", "EM-UD-A", "EM-GD-F", "EM-GD-A", "EM-OD-F", "EM-OD-A")
	ctx := TestContext{Peers: map[string]string{"ann@corp.example": "finance", "bob@corp.example": "finance"}}
	defaults := TestEvent{"event_type": "dlp-email-alert-out"}
	history := []HistoryEntry{
		{Days: 14, Times: 2, Event: TestEvent{"user_email": "ann@corp.example", "recipient_domains": []string{"partner.example", "bank.example"}}},
		{Days: 14, Times: 2, Event: TestEvent{"user_email": "bob@corp.example", "recipient_domains": []string{"partner.example", "crm.example"}}},
	}
	events, err := testEvents(defaults, history, []TestEvent{
		{"time": "2026-11-20T10:00:00Z", "user_email": "ann@corp.example", "recipient_domains": []string{"new.example"}},
		{"time": "2026-11-20T10:05:00Z", "user_email": "ann@corp.example", "recipient_domains": []string{"new.example"}},
		{"time": "2026-11-20T10:10:00Z", "user_email": "ann@corp.example", "recipient_domains": []string{"crm.example"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range New(c.Models, c.Rules, Options{Context: ctx}).Process(events).Findings {
		got = append(got, f.RuleID+" "+f.Value)
	}
	want := []string{"EM-OD-F new.example", "EM-UD-F crm.example"}
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}

// TestScopeInReason: {{scope}} names the scope key the model rule judged (here the recipient domain).
func TestScopeInReason(t *testing.T) {
	c := builtinRules(t, "EM-EdC-F")
	ctx := TestContext{Countries: map[string]string{"192.0.2.0/24": "GB", "203.0.113.0/24": "RU"}}
	events, err := testEvents(TestEvent{"event_type": "dlp-email-alert-out", "user_email": "ann@corp.example", "recipient_domains": []string{"partner.example"}},
		[]HistoryEntry{{Days: 14, Event: TestEvent{"fields": map[string]any{"destinationIp": "192.0.2.25"}}}},
		[]TestEvent{{"time": "2026-11-20T10:00:00Z", "fields": map[string]any{"destinationIp": "203.0.113.80"}}})
	if err != nil {
		t.Fatal(err)
	}
	fs := New(c.Models, c.Rules, Options{Context: ctx}).Process(events).Findings
	if len(fs) != 1 || fs[0].Reason != "first country RU for e-mail domain partner.example (message sent by user ann@corp.example)" {
		t.Errorf("findings %+v", fs)
	}
}

// TestLoadChecksDependenciesAndValueLists: unknown, cyclic and pointless unless lists and bad value_list fields are
// load errors naming the rule file.
func TestLoadChecksDependenciesAndValueLists(t *testing.T) {
	rule := func(id, types, extra string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte("id: " + id + "\nname: n\nevent_types: [" + types + "]\nkind: fact\nscore: 5\nreason: r\n" + extra +
			"tests: [{name: t, events: [], expect: []}]\n")}
	}
	fsys := fstest.MapFS{
		"models/.keep":       &fstest.MapFile{},
		"rules/A.yaml":       rule("A", "app-login", "unless: [B]\n"),
		"rules/B.yaml":       rule("B", "app-login", "unless: [C]\n"),
		"rules/C.yaml":       rule("C", "app-login", "unless: [A]\n"),
		"rules/D.yaml":       rule("D", "app-login", "unless: [Nope, D, E]\n"),
		"rules/E.yaml":       rule("E", "dlp-email-alert-out", ""),
		"rules/F.yaml":       rule("F", "dlp-email-alert-out", "value: external_domains\nvalue_list: no_such_list\n"),
		"rules/G.yaml":       rule("G", "dlp-email-alert-out", "value_list: public_mail_domains\n"),
		"rules/H.yaml":       rule("H", "dlp-email-alert-out", "value: external_domains\nvalue_list: public_mail_domains\n"),
		"rules/cycle-x.yaml": rule("X", "app-login", ""),
	}
	_, err := LoadFS(fsys)
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		`rules/D.yaml: unless: rule "Nope" is not defined`,
		"rules/D.yaml: unless: a rule cannot depend on itself",
		"rules/D.yaml: unless: rule E shares no event type with D",
		`rules/F.yaml: value_list "no_such_list" is not a context list`,
		"rules/G.yaml: value_list needs a fact rule with value",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// With the unknown ids fixed, the cycle is reported.
	fsys["rules/D.yaml"] = rule("D", "app-login", "")
	delete(fsys, "rules/F.yaml")
	delete(fsys, "rules/G.yaml")
	_, err = LoadFS(fsys)
	if err == nil || !strings.Contains(err.Error(), "dependency cycle A -> B -> C -> A") {
		t.Fatalf("error %v, want the cycle A -> B -> C -> A", err)
	}
	if strings.Contains(err.Error(), "H.yaml") {
		t.Errorf("a valid value_list was rejected: %v", err)
	}
}
