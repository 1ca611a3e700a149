package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// baseRule is a valid rule; the loader cases below change one line of it.
const baseRule = `id: r-base
version: 1.0.0
title: Base {{src_ip}}
description: A valid rule.
severity: high
status: experimental
tactics: [CredentialAccess]
techniques: [T1110]
reads:
  event_types: [failed-app-login]
detection:
  sel:
    src_ip|exists: true
  condition: sel
threshold:
  op: gt
  value: 3
  window: 30m
entities:
  - {type: ip, field: src_ip}
`

func TestParseRuleErrors(t *testing.T) {
	tests := []struct {
		name    string
		old     string // line of baseRule to replace; empty appends
		new     string
		wantErr string
	}{
		{"unknown top-level field", "", "colour: red", `bad.yaml:21: colour: unknown field`},
		{"bad technique id", "techniques: [T1110]", "techniques: [T1110, T11]",
			`bad.yaml:8: techniques[1]: invalid technique id "T11" (want T1234 or T1234.001)`},
		{"bad sub-technique id", "techniques: [T1110]", "techniques: [T1110.1]",
			`bad.yaml:8: techniques[0]: invalid technique id "T1110.1" (want T1234 or T1234.001)`},
		{"unknown modifier", "    src_ip|exists: true", "    src_ip|sounds_like: x",
			`bad.yaml:13: detection.sel: src_ip|sounds_like: unknown modifier "sounds_like"`},
		{"unknown event field", "    src_ip|exists: true", "    source_ip: x",
			`bad.yaml:13: detection.sel: source_ip: unknown field "source_ip"`},
		{"condition names a missing selection", "  condition: sel", "  condition: sel and other",
			`bad.yaml:14: detection.condition: unknown selection "other"`},
		{"condition pattern matches nothing", "  condition: sel", "  condition: 1 of filter*",
			`bad.yaml:14: detection.condition: "filter*" matches no selection`},
		{"condition syntax", "  condition: sel", "  condition: sel and",
			`bad.yaml:14: detection.condition: unexpected end of condition`},
		{"condition unbalanced", "  condition: sel", "  condition: (sel",
			`bad.yaml:14: detection.condition: missing ")" for "(" at position 1`},
		{"missing condition", "  condition: sel", "",
			`bad.yaml:12: detection.condition: required`},
		{"conflicting modifiers", "    src_ip|exists: true", "    src_ip|contains|startswith: x",
			`bad.yaml:13: detection.sel: src_ip|contains|startswith: modifiers "contains" and "startswith" cannot be combined`},
		{"bad cidr", "    src_ip|exists: true", "    src_ip|cidr: 10.0.0.0/33",
			`bad.yaml:13: detection.sel: src_ip|cidr: cidr: invalid prefix "10.0.0.0/33"`},
		{"bad regexp", "    src_ip|exists: true", "    src_ip|re: '('",
			"bad.yaml:13: detection.sel: src_ip|re: re: error parsing regexp: missing closing ): `(`"},
		{"gt needs number", "    src_ip|exists: true", "    bytes|gt: many",
			`bad.yaml:13: detection.sel: bytes|gt: gt needs a number, got "many"`},
		{"sub-modifier without re", "    src_ip|exists: true", "    src_ip|i: x",
			`bad.yaml:13: detection.sel: src_ip|i: modifier "i" needs "re"`},
		{"bad severity", "severity: high", "severity: severe",
			`bad.yaml:5: severity: "severe" is not one of informational, low, medium, high, critical`},
		{"bad status", "status: experimental", "status: done",
			`bad.yaml:6: status: "done" is not one of stable, test, experimental, deprecated, unsupported`},
		{"bad tactic", "tactics: [CredentialAccess]", "tactics: [Credential Access]",
			`bad.yaml:7: tactics[0]: unknown tactic "Credential Access"`},
		{"unknown event type", "  event_types: [failed-app-login]", "  event_types: [failed-login]",
			`bad.yaml:10: reads.event_types[0]: unknown event type "failed-login"`},
		{"unknown table", "  event_types: [failed-app-login]", "  tables: [Nope_CL]",
			`bad.yaml:10: reads.tables[0]: unknown table "Nope_CL"`},
		{"threshold unknown field", "  op: gt", "  op: gt\n  per: src_ip",
			`bad.yaml:17: threshold.per: unknown field`},
		{"threshold bad op", "  op: gt", "  op: eq",
			`bad.yaml:16: threshold.op: "eq" is not one of gt, gte`},
		{"threshold bad window", "  window: 30m", "  window: 30x",
			`bad.yaml:18: threshold.window: invalid duration "30x" (use e.g. 30m, 1h, 1d)`},
		{"threshold window too long", "  window: 30m", "  window: 2d",
			`bad.yaml:18: threshold.window: 2d is longer than the maximum of 1d`},
		{"threshold negative value", "  value: 3", "  value: -1",
			`bad.yaml:17: threshold.value: must be a non-negative integer, got "-1"`},
		{"threshold missing window", "  window: 30m", "",
			`bad.yaml:16: threshold.window: required`},
		{"bad entity type", "  - {type: ip, field: src_ip}", "  - {type: host, field: src_ip}",
			`bad.yaml:20: entities[0].type: "host" is not one of ip, mailbox, application, url, filehash, message, user, domain`},
		{"bad entity field", "  - {type: ip, field: src_ip}", "  - {type: ip, field: [src_ip, sender_ip]}",
			`bad.yaml:20: entities[0].field: unknown field "sender_ip"`},
		{"bad title template", "title: Base {{src_ip}}", "title: Base {{source}}",
			`bad.yaml:3: title: template "source": unknown field "source"`},
		{"missing id", "id: r-base", "",
			`bad.yaml:1: id: required`},
		{"bad id", "id: r-base", "id: 'r base'",
			`bad.yaml:1: id: invalid id "r base"`},
		{"bad version", "version: 1.0.0", "version: one",
			`bad.yaml:2: version: invalid version "one" (use e.g. 1.0.0)`},
		{"stable without tests", "status: experimental", "status: stable",
			`bad.yaml:1: tests: a stable rule needs a test that expects an alert and one that expects none`},
		{"unknown field in test event", "", "tests:\n  - name: t\n    events:\n      - {time: \"2026-01-01T00:00:00Z\", src_addr: x}\n    expect: []",
			`bad.yaml:24: tests[0].events[0]: unknown field "src_addr"`},
		{"test event without time", "", "tests:\n  - name: t\n    events:\n      - {src_ip: x}\n    expect: []",
			`bad.yaml:24: tests[0].events[0].time: required`},
		{"unknown field in expect", "", "tests:\n  - name: t\n    events: []\n    expect:\n      - {count: 1, size: 2}",
			`bad.yaml:25: tests[0].expect[0].size: unknown field`},
		{"keyword selection", "    src_ip|exists: true", "    - foo",
			`bad.yaml:13: detection.sel: [0]: keyword selections are not supported; use a map of field to value`},
		{"dedup unknown field", "", "dedup: {period: 1h, every: 2h}",
			`bad.yaml:21: dedup.every: unknown field`},
		{"dedup key on a threshold rule", "", "dedup: {key: [user]}",
			`bad.yaml:21: dedup.key: a threshold rule dedups per group; put the fields in threshold.group_by`},
		{"dedup bad key", "threshold:\n  op: gt\n  value: 3\n  window: 30m", "dedup: {key: [nope]}",
			`bad.yaml:15: dedup.key[0]: unknown field "nope"`},
		{"dedup period too long", "", "dedup: {period: 25h}",
			`bad.yaml:21: dedup.period: 25h is longer than the maximum of 1d`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := baseRule
			if tt.old == "" {
				src += tt.new + "\n"
			} else {
				if !strings.Contains(src, tt.old+"\n") {
					t.Fatalf("base rule has no line %q", tt.old)
				}
				repl := tt.new
				if repl != "" {
					repl += "\n"
				}
				src = strings.Replace(src, tt.old+"\n", repl, 1)
			}
			_, err := ParseRule("bad.yaml", []byte(src))
			if err == nil {
				t.Fatalf("ParseRule succeeded, want error %q", tt.wantErr)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.wantErr)
			}
		})
	}
}

func TestParseRuleValid(t *testing.T) {
	r, err := ParseRule("base.yaml", []byte(baseRule))
	if err != nil {
		t.Fatalf("ParseRule: %v", err)
	}
	if r.ID != "r-base" || r.Severity != "high" || r.Threshold == nil || r.Threshold.Value != 3 ||
		r.Threshold.Window.String() != "30m0s" || r.Dedup.Period.String() != "1h0m0s" {
		t.Errorf("unexpected rule %+v threshold %+v dedup %+v", r, r.Threshold, r.Dedup)
	}
	if r.Source != "base.yaml" || r.Condition != "sel" || r.EventLabel != "matching events" {
		t.Errorf("source %q condition %q label %q", r.Source, r.Condition, r.EventLabel)
	}
}

func TestLoadDirErrors(t *testing.T) {
	t.Run("duplicate id", func(t *testing.T) {
		dir := t.TempDir()
		for _, n := range []string{"a.yaml", "b.yml"} {
			if err := os.WriteFile(filepath.Join(dir, n), []byte(baseRule), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err := LoadDir(dir)
		want := `b.yml: id "r-base" is already used by a.yaml`
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %s", err, want)
		}
	})
	t.Run("every bad file is reported", func(t *testing.T) {
		dir := t.TempDir()
		files := map[string]string{
			"a.yaml":     strings.Replace(baseRule, "severity: high", "severity: huge", 1),
			"b.yaml":     strings.Replace(baseRule, "id: r-base", "id: r-b\ncolour: red", 1),
			"notes.txt":  "not a rule",
			"two.yaml":   baseRule + "---\n" + baseRule,
			"empty.yaml": "",
		}
		for n, c := range files {
			if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err := LoadDir(dir)
		if err == nil {
			t.Fatal("LoadDir succeeded")
		}
		want := strings.Join([]string{
			`a.yaml:5: severity: "huge" is not one of informational, low, medium, high, critical`,
			`b.yaml:2: colour: unknown field`,
			`empty.yaml: invalid YAML: EOF`,
			`two.yaml: one rule per file: found a second YAML document`,
		}, "\n")
		if err.Error() != want {
			t.Errorf("error\n got: %s\nwant: %s", err, want)
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		if _, err := LoadDir(filepath.Join(t.TempDir(), "none")); err == nil {
			t.Error("LoadDir of a missing dir succeeded")
		}
	})
}

func TestMergeRulesOverridesByID(t *testing.T) {
	builtin, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	local, err := LoadDir("testdata/override")
	if err != nil {
		t.Fatal(err)
	}
	extra, err := LoadDir("testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	merged := MergeRules(builtin, append(local, extra...))
	if len(merged) != len(builtin)+len(extra) {
		t.Fatalf("merged %d rules, want %d", len(merged), len(builtin)+len(extra))
	}
	for _, r := range merged {
		if r.ID == "f00197ab-491f-41e7-9e22-a7003a4c1e54" && (r.Version != "2.0.0" || r.Severity != "critical") {
			t.Errorf("override not applied: version %s severity %s", r.Version, r.Severity)
		}
	}
	for i := 1; i < len(merged); i++ {
		if merged[i-1].ID >= merged[i].ID {
			t.Errorf("merged rules not ordered by id: %s before %s", merged[i-1].ID, merged[i].ID)
		}
	}
}
