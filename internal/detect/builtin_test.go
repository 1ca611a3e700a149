package detect

import (
	"slices"
	"testing"
)

func TestBuiltinRules(t *testing.T) {
	rules, err := LoadBuiltin()
	if err != nil {
		t.Fatalf("LoadBuiltin: %v", err)
	}
	if len(rules) == 0 {
		t.Fatal("no built-in rules")
	}
	for _, res := range RunTests(rules) {
		t.Run(res.RuleID+"/"+res.Name, func(t *testing.T) {
			if !res.Passed {
				for _, f := range res.Failures {
					t.Error(f)
				}
			}
		})
	}
}

func TestRunTestsReportsFailures(t *testing.T) {
	src := baseRule + `tests:
  - name: wrong count
    defaults: {tenant: acme, event_type: failed-app-login, src_ip: 192.0.2.1}
    events:
      - {id: a, time: "2026-11-20T10:00:00Z"}
      - {id: b, time: "2026-11-20T10:01:00Z"}
      - {id: c, time: "2026-11-20T10:02:00Z"}
      - {id: d, time: "2026-11-20T10:03:00Z"}
    expect:
      - {count: 3, group_key: "x", title: "nope", event_ids: [a], entities: [{type: ip, value: 192.0.2.9}]}
  - name: wrong number of alerts
    defaults: {tenant: acme, event_type: failed-app-login, src_ip: 192.0.2.1}
    events:
      - {id: a, time: "2026-11-20T10:00:00Z"}
    expect:
      - {count: 1}
  - name: late events fail the test
    defaults: {tenant: acme, event_type: failed-app-login, src_ip: 192.0.2.1}
    events:
      - {id: a, time: "2026-11-20T10:00:00Z"}
      - {id: b, time: "2026-11-23T10:00:00Z"}
    expect: []
`
	r, err := ParseRule("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res := RunTests([]*Rule{r})
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	want := [][]string{
		{
			"alert 0: 4 events, want 3",
			`alert 0: group key "", want "x"`,
			`alert 0: title "Base 192.0.2.1", want "nope"`,
			"alert 0: event ids [a b c d], want [a]",
			"alert 0: missing entity ip=192.0.2.9 (have [{ip 192.0.2.1}])",
		},
		{"got 0 alerts, want 1: "},
		{
			"twice: late events [a], invalid events []",
			"reversed one by one: late events [a], invalid events []",
		},
	}
	for i, tr := range res {
		if tr.Passed {
			t.Errorf("test %q passed, want failure", tr.Name)
		}
		if !slices.Equal(tr.Failures, want[i]) {
			t.Errorf("test %q failures\n got: %q\nwant: %q", tr.Name, tr.Failures, want[i])
		}
	}
}
