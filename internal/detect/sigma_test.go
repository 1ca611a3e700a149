package detect

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

func TestSigmaRulesLoadUnchanged(t *testing.T) {
	rules, err := LoadDir("testdata/sigma")
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	byID := map[string]*Rule{}
	for _, r := range rules {
		byID[r.ID] = r
	}
	tests := []struct {
		id         string
		severity   string
		version    string
		tactics    []string
		techniques []string
		reads      Reads
	}{
		{"5f0c2b8e-7a41-4d3e-9b6c-1e2f3a4b5c6d", "high", "2026.11.21", []string{"InitialAccess", "Execution"},
			[]string{"T1566.001", "T1204.002"}, Reads{Tables: []string{"Seg_Cg_CL"}}},
		{"8c1d7e3f-2b9a-4f60-8d5e-3a7b9c0d1e2f", "medium", "2026.11.20", []string{"CredentialAccess"},
			[]string{"T1110"}, Reads{EventTypes: []string{schema.EventAppLogin, schema.EventFailedAppLogin}, Tables: []string{"Audit_CL"}}},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			r := byID[tc.id]
			if r == nil {
				t.Fatalf("rule %s not loaded", tc.id)
			}
			if !r.Sigma || r.Severity != tc.severity || r.Version != tc.version {
				t.Errorf("sigma %v severity %q version %q, want true %q %q", r.Sigma, r.Severity, r.Version, tc.severity, tc.version)
			}
			if !slices.Equal(r.Tactics, tc.tactics) || !slices.Equal(r.Techniques, tc.techniques) {
				t.Errorf("tactics %v techniques %v, want %v %v", r.Tactics, r.Techniques, tc.tactics, tc.techniques)
			}
			if !slices.Equal(r.Reads.Tables, tc.reads.Tables) || !slices.Equal(r.Reads.EventTypes, tc.reads.EventTypes) {
				t.Errorf("reads %+v, want %+v", r.Reads, tc.reads)
			}
		})
	}
}

func TestSigmaRuleMatchesNormalizedEvents(t *testing.T) {
	rules, err := LoadDir("testdata/sigma")
	if err != nil {
		t.Fatal(err)
	}
	av := func(id, sender, virus string) schema.Event {
		return schema.Event{ID: id, Time: t0, Tenant: "acme", Table: "Seg_Cg_CL", EventType: schema.EventSecurityAlert,
			Activity: "email_antivirus", Sender: sender, Recipients: []string{"ann@corp.example"},
			Fields: map[string]any{"virusFound": virus, "reason": virus}}
	}
	login := func(id, typ, info string) schema.Event {
		return schema.Event{ID: id, Time: t0, Tenant: "acme", Table: "Audit_CL", EventType: typ,
			Activity: "Logon Authentication Failed", User: "ann@corp.example", Fields: map[string]any{"eventInfo": info}}
	}
	tests := []struct {
		name  string
		ev    schema.Event
		alert bool
	}{
		{"trojan from outside", av("a1", "x@evil.example", "Trojan.Generic.1"), true},
		{"trojan from the own domain is filtered", av("a2", "bob@corp.example", "Trojan.Generic.1"), false},
		{"a virus that is not a trojan", av("a3", "x@evil.example", "W97M.Downloader"), false},
		{"a spam row is not an av row", func() schema.Event { e := av("a4", "x@evil.example", "Trojan.X"); e.Activity = "email_spam"; return e }(), false},
		{"failed logon from an API application", login("l1", schema.EventFailedAppLogin, "Failed authentication, Application: API-Key 7"), true},
		{"failed logon from the console", login("l2", schema.EventFailedAppLogin, "Failed authentication, Application: Administration Console"), false},
		{"an app-activity event is outside the category", login("l3", schema.EventAppActivity, "Application: API"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng := New(rules, Options{Clock: fixedClock(t0.Add(time.Hour))})
			alerts, err := eng.Process(context.Background(), []schema.Event{tc.ev})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(alerts) == 1; got != tc.alert || len(alerts) > 1 {
				t.Fatalf("%d alerts, want alert=%v", len(alerts), tc.alert)
			}
		})
	}
}

func TestSigmaRuleErrors(t *testing.T) {
	base := `title: T
id: 0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6
logsource:
    product: mimecast
    service: dlp
detection:
    selection:
        action: hold
    condition: selection
level: low
`
	tests := []struct {
		name, from, to, want string
	}{
		{"other product", "product: mimecast", "product: windows", "logsource.product: must be mimecast"},
		{"unknown service", "service: dlp", "service: fax", `logsource.service: unknown service "fax"`},
		{"unknown category", "service: dlp", "category: process_creation", `logsource.category: unknown category "process_creation"`},
		{"bad technique tag", "level: low", "level: low\ntags: [attack.t15]", `tags[0]: invalid technique tag "attack.t15"`},
		{"unknown tactic tag", "level: low", "level: low\ntags: [attack.teleportation]", `unknown ATT&CK tag "attack.teleportation"`},
		{"column of another table", "action: hold", "virusFound: x", `unknown field "virusFound" (not a normalized field nor a column of Seg_Dlp_CL)`},
		{"missing id", "id: 0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6\n", "", "id: required (Sigma rule)"},
		{"unknown key", "level: low", "level: low\ncolour: red", "colour: unknown field"},
		{"bad level", "level: low", "level: urgent", `severity: "urgent" is not one of`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.from, tc.to, 1)
			_, err := ParseRule("s.yml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("valid base", func(t *testing.T) {
		r, err := ParseRule("s.yml", []byte(base))
		if err != nil {
			t.Fatal(err)
		}
		if r.Severity != "low" || r.Version != "1" || !slices.Equal(r.Reads.Tables, []string{"Seg_Dlp_CL"}) {
			t.Errorf("got %+v", r)
		}
	})
}
