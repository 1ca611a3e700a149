package detect

import (
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/castwatch/castwatch/internal/schema"
)

func mustSelection(t *testing.T, src string) *selection {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	s, err := compileSelection(n.Content[0])
	if err != nil {
		t.Fatalf("compileSelection(%s): %v", src, err)
	}
	return s
}

func TestSelectionMatching(t *testing.T) {
	ev := schema.Event{
		ID: "e1", EventType: "failed-app-login", SrcIP: "203.0.113.7", UserEmail: "Ann.Lee@Example.COM",
		App: "Administration Console", Subject: `Invoice *urgent* C:\temp`, Bytes: 2048,
		Recipients: []string{"x@rival.example", "Y@Partner.example"},
		Fields:     map[string]any{"score": 7.5, "tags": []any{"a", "b"}, "flag": true, "count": "12"},
	}
	v6 := schema.Event{ID: "e2", SrcIP: "2001:db8::1"}
	tests := []struct {
		name string
		sel  string
		ev   schema.Event
		want bool
	}{
		{"equality ignores case", `{user_email: ann.lee@example.com}`, ev, true},
		{"equality is whole-value", `{user_email: ann.lee}`, ev, false},
		{"cased equality", `{user_email|cased: ann.lee@example.com}`, ev, false},
		{"cased equality exact", `{user_email|cased: Ann.Lee@Example.COM}`, ev, true},
		{"star wildcard", `{user_email: "ann*@example.com"}`, ev, true},
		{"star wildcard miss", `{user_email: "bob*@example.com"}`, ev, false},
		{"question wildcard", `{app: "Administration Consol?"}`, ev, true},
		{"question wildcard needs one char", `{app: "Administration Console?"}`, ev, false},
		{"leading star is endswith", `{user_email: "*@EXAMPLE.com"}`, ev, true},
		{"trailing star is startswith", `{app: "admin*"}`, ev, true},
		{"escaped star is literal", `{subject: 'Invoice \*urgent\* *'}`, ev, true},
		{"escaped star does not wildcard", `{subject: 'Invoice \*urgent\*'}`, ev, false},
		{"lone backslash is literal", `{subject: '*C:\temp'}`, ev, true},
		{"contains ignores case", `{subject|contains: URGENT}`, ev, true},
		{"contains miss", `{subject|contains: overdue}`, ev, false},
		{"contains with inner wildcard", `{subject|contains: "inv?ice"}`, ev, true},
		{"contains cased", `{subject|contains|cased: URGENT}`, ev, false},
		{"startswith", `{app|startswith: administration}`, ev, true},
		{"startswith miss", `{app|startswith: console}`, ev, false},
		{"endswith", `{app|endswith: CONSOLE}`, ev, true},
		{"endswith miss", `{app|endswith: admin}`, ev, false},
		{"list is OR", `{src_ip: [192.0.2.1, 203.0.113.7]}`, ev, true},
		{"list is OR miss", `{src_ip: [192.0.2.1, 192.0.2.2]}`, ev, false},
		{"contains all", `{subject|contains|all: [invoice, urgent]}`, ev, true},
		{"contains all miss", `{subject|contains|all: [invoice, overdue]}`, ev, false},
		{"map is AND", `{src_ip: 203.0.113.7, app: nope}`, ev, false},
		{"list of maps is OR", `[{app: nope}, {src_ip: 203.0.113.7}]`, ev, true},
		{"re is case-sensitive", `{user_email|re: '^ann\.'}`, ev, false},
		{"re with i", `{user_email|re|i: '^ann\.'}`, ev, true},
		{"re unanchored", `{app|re: 'Console$'}`, ev, true},
		{"exists true", `{src_ip|exists: true}`, ev, true},
		{"exists true on empty", `{sender|exists: true}`, ev, false},
		{"exists false on empty", `{sender|exists: false}`, ev, true},
		{"exists false on present", `{src_ip|exists: false}`, ev, false},
		{"exists on fields map", `{fields.score|exists: true}`, ev, true},
		{"null matches absent", `{sender: null}`, ev, true},
		{"null does not match present", `{src_ip: null}`, ev, false},
		{"empty string matches absent", `{sender: ''}`, ev, true},
		{"cidr v4", `{src_ip|cidr: 203.0.113.0/24}`, ev, true},
		{"cidr v4 miss", `{src_ip|cidr: 10.0.0.0/8}`, ev, false},
		{"cidr list", `{src_ip|cidr: [10.0.0.0/8, 203.0.0.0/8]}`, ev, true},
		{"cidr v6", `{src_ip|cidr: "2001:db8::/32"}`, v6, true},
		{"cidr v4 against v6", `{src_ip|cidr: 203.0.113.0/24}`, v6, false},
		{"cidr on non-ip", `{app|cidr: 10.0.0.0/8}`, ev, false},
		{"gt", `{bytes|gt: 2047}`, ev, true},
		{"gt equal", `{bytes|gt: 2048}`, ev, false},
		{"gte equal", `{bytes|gte: 2048}`, ev, true},
		{"lt", `{bytes|lt: 4096}`, ev, true},
		{"lt miss", `{bytes|lt: 1024}`, ev, false},
		{"lte equal", `{bytes|lte: 2048}`, ev, true},
		{"gt on fields float", `{fields.score|gt: 7}`, ev, true},
		{"gt on numeric string", `{fields.count|gte: 12}`, ev, true},
		{"gt on non-numeric", `{app|gt: 1}`, ev, false},
		{"number as string equality", `{bytes: 2048}`, ev, true},
		{"list field any element", `{recipients|endswith: "@partner.example"}`, ev, true},
		{"list field none", `{recipients|endswith: "@other.example"}`, ev, false},
		{"list field all", `{recipients|contains|all: ["x@", "y@"]}`, ev, true},
		{"fields list", `{fields.tags: b}`, ev, true},
		{"fields bool", `{fields.flag: true}`, ev, true},
		{"fields missing", `{fields.nope: x}`, ev, false},
		{"unicode case folding", `{subject|contains: "ÄRGER"}`, schema.Event{Subject: "großer ärger"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSelection(t, tt.sel)
			if got := s.match(&tt.ev); got != tt.want {
				t.Errorf("%s on %+v = %v, want %v", tt.sel, tt.ev, got, tt.want)
			}
		})
	}
}

func TestConditionGrammar(t *testing.T) {
	// Selections a, b, c_x, c_y and _hidden; each named selection matches when the event's activity contains
	// its name.
	names := []string{"a", "b", "c_x", "c_y", "_hidden"}
	sels := map[string]*selection{}
	for _, n := range names {
		sels[n] = mustSelection(t, "{activity|contains: '<"+n+">'}")
	}
	ev := func(active ...string) *schema.Event {
		s := ""
		for _, a := range active {
			s += "<" + a + ">"
		}
		return &schema.Event{Activity: s}
	}
	tests := []struct {
		cond string
		ev   *schema.Event
		want bool
	}{
		{"a", ev("a"), true},
		{"a", ev("b"), false},
		{"a and b", ev("a"), false},
		{"a and b", ev("a", "b"), true},
		{"a or b", ev("b"), true},
		{"not a", ev("b"), true},
		{"not a", ev("a"), false},
		{"a or b and c_x", ev("a"), true}, // and binds tighter than or
		{"(a or b) and c_x", ev("a"), false},
		{"(a or b) and c_x", ev("b", "c_x"), true},
		{"not a and b", ev("b"), true}, // not binds tighter than and
		{"not (a and b)", ev("a", "b"), false},
		{"not not a", ev("a"), true},
		{"1 of c_*", ev("c_y"), true},
		{"1 of c_*", ev("a"), false},
		{"all of c_*", ev("c_x"), false},
		{"all of c_*", ev("c_x", "c_y"), true},
		{"any of c_?", ev("c_x"), true},
		{"1 of them", ev("b"), true},
		{"1 of them", ev("_hidden"), false}, // them skips names starting with _
		{"all of them", ev("a", "b", "c_x", "c_y"), true},
		{"all of them", ev("a", "b", "c_x"), false},
		{"a AND NOT 1 OF c_*", ev("a", "c_x"), false},
		{"a and not 1 of c_*", ev("a"), true},
		{"_hidden and a", ev("_hidden", "a"), true},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			c, err := compileCondition(tt.cond, sels)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if got := c(tt.ev); got != tt.want {
				t.Errorf("%q on %q = %v, want %v", tt.cond, tt.ev.Activity, got, tt.want)
			}
		})
	}
	errs := []struct{ cond, want string }{
		{"", "empty condition"},
		{"a and", "unexpected end of condition"},
		{"a b", `unexpected "b" at position 3`},
		{"a or or b", `unexpected "or" at position 6`},
		{"(a", `missing ")" for "(" at position 1`},
		{"a)", `unexpected ")" at position 2`},
		{"z", `unknown selection "z"`},
		{"1 of", `"1 of" needs a selection pattern or "them"`},
		{"1 of z*", `"z*" matches no selection`},
		{"not", "unexpected end of condition"},
	}
	for _, tt := range errs {
		t.Run("error/"+tt.cond, func(t *testing.T) {
			_, err := compileCondition(tt.cond, sels)
			if err == nil || err.Error() != tt.want {
				t.Errorf("compileCondition(%q) error = %v, want %q", tt.cond, err, tt.want)
			}
		})
	}
}

func TestParseGlob(t *testing.T) {
	tests := []struct {
		in   string
		want []globPart
	}{
		{"abc", []globPart{{lit: "abc"}}},
		{"a*c", []globPart{{lit: "a"}, {star: true}, {lit: "c"}}},
		{`a\*c`, []globPart{{lit: "a*c"}}},
		{`a\?`, []globPart{{lit: "a?"}}},
		{`a\\*`, []globPart{{lit: `a\`}, {star: true}}},
		{`a\b`, []globPart{{lit: `a\b`}}},
		{"?", []globPart{{one: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := parseGlob(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("parseGlob(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("parseGlob(%q)[%d] = %+v, want %+v", tt.in, i, got[i], tt.want[i])
				}
			}
		})
	}
}
