package parse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// corpusAuditLog is the recorded audit corpus beside the repository.
func corpusAuditLog(t testing.TB) string {
	return filepath.Join(testutil.CorpusDir(t), "audit_events", "test-audit-events.log")
}

// want describes the parts of an AuditInfo a case checks; empty strings must be empty in the result.
type want struct {
	action, object, ip, app, time string
	layout                        string
	issue                         string // a substring one of Issues must contain; "" means no issues
}

func check(t *testing.T, got AuditInfo, w want) {
	t.Helper()
	if got.Action != w.action {
		t.Errorf("Action = %q, want %q", got.Action, w.action)
	}
	if got.Object() != w.object {
		t.Errorf("Object() = %q, want %q", got.Object(), w.object)
	}
	if got.SourceIP() != w.ip {
		t.Errorf("SourceIP() = %q, want %q", got.SourceIP(), w.ip)
	}
	if got.Application != w.app {
		t.Errorf("Application = %q, want %q", got.Application, w.app)
	}
	gotTime := ""
	if !got.Time.IsZero() {
		gotTime = got.Time.Format(time.RFC3339)
	}
	if gotTime != w.time {
		t.Errorf("Time = %q, want %q", gotTime, w.time)
	}
	if w.layout != "" && got.Layout != w.layout {
		t.Errorf("Layout = %q, want %q", got.Layout, w.layout)
	}
	if w.issue == "" && len(got.Issues) > 0 {
		t.Errorf("unexpected issues %q", got.Issues)
	}
	if w.issue != "" && !slices.ContainsFunc(got.Issues, func(s string) bool { return strings.Contains(s, w.issue) }) {
		t.Errorf("issues %q, want one containing %q", got.Issues, w.issue)
	}
}

// corpusEventInfos returns the eventInfo of every record of the Elastic audit test log, in file order.
func corpusEventInfos(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(corpusAuditLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			EventInfo string `json:"eventInfo"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("corpus line: %v", err)
		}
		if r.EventInfo != "" {
			out = append(out, r.EventInfo)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestParseAuditInfoCorpus checks every eventInfo of the real corpus; the table must cover all of them.
func TestParseAuditInfoCorpus(t *testing.T) {
	const (
		th    = "Threat intel multiple feeds download"
		ip    = "67.43.156.15"
		admin = "Administration Console"
		cr    = "mimecast-case-review"
		jd    = "johndoe@example.com"
	)
	cases := []want{
		{action: th, object: "malware_customer_csv_20211018094502564.zip", ip: ip, app: "Integrations", time: "2021-10-18T08:45:02Z"},
		{action: th, object: "malware_grid_csv_20211010235157027.zip", ip: ip, app: "Azure Sentinel", time: "2021-10-10T22:51:57Z"},
		{action: "Successful authentication", object: jd, ip: ip, app: admin, time: "2021-10-11T17:17:30Z"},
		{action: "Intermediate authentication", object: jd, ip: ip, app: admin, time: "2021-10-11T17:17:26Z"},
		{action: "Successful authentication", object: jd, ip: ip, app: admin, time: "2021-10-11T16:03:38Z"},
		{action: "johdoe@example.local logged into this account", ip: ip, app: admin, time: "2021-10-11T15:39:17Z", layout: LayoutSpaced},
		{action: "johdoe@example.local logged into this account", ip: ip, app: admin, time: "2021-10-19T11:46:40Z", layout: LayoutSpaced},
		{action: "Viewed Message", object: "Test on Tues 28th Sept", ip: ip, app: cr, time: "2021-10-11T15:36:01Z"},
		{action: "Executed Search", object: `{"keywords":"test","mailboxes":["johndoe@example.com"],"route":"ALL","start":"2021-04-11T16:34:45+0100","end":"2021-10-11T16:34:45+0100"}`, ip: ip, app: cr, time: "2021-10-11T15:35:53Z"},
		{action: "Creating the auditLog entry for failed authentication", object: "johndoe@gmail.com", ip: ip, app: "LFS"},
		{action: "No changes found", layout: LayoutText, issue: "no recognised fields"},
		{action: "Viewed Case", object: "Class Action", ip: ip, app: cr, time: "2021-10-12T09:19:53Z"},
		{action: "Failed authentication", object: jd, ip: ip, app: "mimecast-moa", time: "2021-10-12T08:47:55Z"},
		{action: `Successfully updated 3 'Sync and Recover' tasks associated with legacy connection ("365") to new migrated connector ("Sync and Recover - 365")`, object: "Sync and Recover - 365", ip: ip, app: admin, time: "2021-10-12T08:47:54Z"},
		{action: "Connector creation for Microsoft O365", object: "Sync and Recover - 365", ip: ip, app: admin, time: "2021-10-12T08:47:53Z"},
		{action: "Export Download", object: "export_at_watchlist_view_1634005638160.xlsx", ip: ip, app: "mimecast-matfe", time: "2021-10-12T02:27:18Z", layout: LayoutBracket},
		{action: `Custom Report Definition Created with name "Terri test" and description "all user - per email report"`, object: "Terri test", ip: ip, app: admin, time: "2021-10-11T19:53:41Z", layout: LayoutSpaced},
		{action: "Deleted New Folder", object: "New Folder", ip: ip, app: admin, time: "2021-10-11T18:23:10Z", layout: LayoutSpaced},
		{action: "Password reset", object: jd},
		{action: "Remediation Incident Created", object: "TR-C46A75-01420-M", ip: ip, app: admin, time: "2021-10-12T19:49:30Z"},
		{action: "Archive mailbox restore created", object: "Restored data from johdoe@example.com to johndoe@example.com", ip: ip, app: admin, time: "2021-10-12T19:20:01Z"},
		{action: "Archive mailbox restore created", object: "Restored data from johndoe@example.com to johndoejr@example.com", ip: ip, app: admin, time: "2021-10-12T18:19:33Z"},
		{action: "Mailbox export downloaded", object: "eNqrVipOTS4tSs1MUbJSyo3RDw81rTCpynMpdiuICMopyihxynZztcisDMoN9zWLSCrPzAjz9PALNzFwySrLMNQ2yUs38g9zS860cHKNMExR0lFKLi0uyc9NLUrOT0kFGulsYuZobgoUL0pNzi9LLarULUksztYFWWdpaKqjBBQqzszPU7IyrAUAsSEteA", ip: ip, app: admin, time: "2021-10-12T17:55:14Z"},
		{action: "Viewed Review Set Details", object: "Contracts", ip: ip, app: cr, time: "2021-10-12T17:07:00Z"},
		{action: "Restore Remediation Incident Created", object: "TR-C46A75-01419-R", ip: ip, app: admin, time: "2021-10-12T15:38:05Z"},
		{action: "Failed authentication", object: jd, ip: ip, app: "POP-POP2", time: "2022-01-11T22:54:04Z"},
		{action: "Failed authentication", object: jd, ip: ip, app: "POP-POP2", time: "2022-01-11T21:48:01Z"},
		{action: "Failed authentication", object: jd, ip: ip, app: "POP-POP2", time: "2022-01-11T21:48:01Z"},
		{action: "Succesfully enrolled user for user device enrollment", ip: ip},
		{action: "attempted to access the mimecast-matfe but does not have the required permissions to do so", object: jd, ip: ip, app: "API", time: "2022-03-29T13:31:03Z"},
		{action: "Failed authentication", object: jd, ip: ip, app: "SMTP-MTA2", time: "2022-03-29T18:33:05Z"},
		{action: "Failed authentication", object: "john.doe@contoso.com", ip: "67.43.156.3", app: "MfO", time: "2023-05-01T17:50:07Z"},
		{action: "Successful authentication", object: "john.smith@example.com", ip: "81.2.69.144", app: "MPP", time: "2024-07-01T12:56:25Z"},
	}
	infos := corpusEventInfos(t)
	if len(infos) != len(cases) {
		t.Fatalf("corpus has %d eventInfo values, table has %d: every corpus record needs a case", len(infos), len(cases))
	}
	for i, s := range infos {
		t.Run(fmt.Sprintf("record%02d", i+1), func(t *testing.T) {
			check(t, ParseAuditInfo(s), cases[i])
		})
	}
}

// TestParseAuditInfoDetails checks fields the corpus table does not: targets, actors, method, 2FA, reason.
func TestParseAuditInfoDetails(t *testing.T) {
	infos := corpusEventInfos(t)
	tests := []struct {
		name  string
		in    string
		check func(AuditInfo) bool
	}{
		{"target and display name", infos[2], func(a AuditInfo) bool {
			return a.Target == "johndoe@example.com" && a.TargetName == "John Doe" && a.Method == "Two Step Auth" && a.TwoFA == "TOTP"
		}},
		{"display name with a comma", infos[31], func(a AuditInfo) bool {
			return a.TargetName == "Doe, John" && a.Method == "SP-initiated SAML" && a.Reason == "Account disabled"
		}},
		{"actor with display name", infos[17], func(a AuditInfo) bool { return a.Actor == "johndoe@example.com" && a.ActorName == "John Doe" }},
		{"actor equal to its display name", infos[5], func(a AuditInfo) bool { return a.Actor == "johdoe@example.local" && a.ActorName == "" }},
		{"doubled separator IP: :", infos[30], func(a AuditInfo) bool { return a.IP == "67.43.156.15" && a.Reason == "Account locked" }},
		{"Remote IP is null", infos[18], func(a AuditInfo) bool { return a.IP == "" && a.RemoteIP == "" && a.Detail == "User Password Changed" }},
		{"remote IP with space colon", infos[9], func(a AuditInfo) bool { return a.IP == "" && a.RemoteIP == "67.43.156.15" }},
		{"IP and Remote IP", infos[29], func(a AuditInfo) bool { return a.IP == "67.43.156.15" && a.RemoteIP == "67.43.156.15" }},
		{"newline separated fields", infos[14], func(a AuditInfo) bool {
			v, ok := a.Get("App (provider)")
			s, ok2 := a.Get("success")
			return ok && v == "Microsoft O365" && ok2 && s == "true"
		}},
		{"JSON value keeps its commas", infos[8], func(a AuditInfo) bool {
			v, _ := a.Get("Search Criteria")
			return json.Valid([]byte(v))
		}},
		{"export list", infos[15], func(a AuditInfo) bool {
			v, _ := a.Get("Columns exported")
			return a.Actor == "johndoe@example.com" && v == "Name|Email|Department|Number of Videos|"
		}},
		{"value with ' - ' and a comma piece", "Inspected Review Set Messages - Source: Review Set - Supervision - hot words, Case - GDPR/CCPA, Message Status: Pending, Date: 2021-11-16, Time: 12:01:37+0000, IP: 8.8.8.8, Application: mimecast-case-review", func(a AuditInfo) bool {
			v, _ := a.Get("Source")
			st, _ := a.Get("Message Status")
			return a.Action == "Inspected Review Set Messages" && v == "Review Set - Supervision - hot words, Case - GDPR/CCPA" && st == "Pending"
		}},
		{"field in the leading phrase", "Logon Authentication Failed - Reason: Incorrect password, Application: Mimecast Personal Portal, IP: 198.51.100.7", func(a AuditInfo) bool {
			return a.Action == "Logon Authentication Failed" && a.Reason == "Incorrect password" && a.IP == "198.51.100.7"
		}},
		{"Action Performed key phrase", "Action Performed - Change Email Forwarding: jdoe@example.com, Application: Mimecast Administration Console, IP: 203.0.113.10", func(a AuditInfo) bool {
			return a.Action == "Change Email Forwarding" && a.Target == "jdoe@example.com" && a.Application == "Mimecast Administration Console"
		}},
		{"commas in the application name", "Successful authentication for a@b.example <Acme, Admin>, Date: 2024-01-15, Time: 10:00:00 GMT, IP: 192.0.2.1, Application: Acme, Inc. Mail Portal, Method: Cloud", func(a AuditInfo) bool {
			return a.Application == "Acme, Inc. Mail Portal" && a.Method == "Cloud" && a.TargetName == "Acme, Admin"
		}},
		{"comma in the last field", "Successful authentication for a@b.example, Date: 2024-01-15, Time: 10:00:00 CET, IP: 2001:db8::1, Application: Outlook, Web Access", func(a AuditInfo) bool {
			return a.Application == "Outlook, Web Access" && a.IP == "2001:db8::1" && a.Time.Equal(time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC))
		}},
		{"comma in a subject", "Viewed Message - Source: Search, Subject: Re: lunch, tomorrow?, Date: 2024-01-15, Time: 09:00:00 EST, IP: 192.0.2.9, Application: mimecast-case-review", func(a AuditInfo) bool {
			v, _ := a.Get("Subject")
			return v == "Re: lunch, tomorrow?" && a.Time.Equal(time.Date(2024, 1, 15, 14, 0, 0, 0, time.UTC))
		}},
		{"unbalanced < does not swallow the rest", "Failed authentication for a@b.example <Doe, John, Date: 2024-01-15, Time: 10:00:00 -05:00, IP: 192.0.2.1:443, Application: MPP, Reason: Account locked", func(a AuditInfo) bool {
			return a.IP == "192.0.2.1" && a.Application == "MPP" && a.Reason == "Account locked" && a.Target == "a@b.example" &&
				a.Time.Equal(time.Date(2024, 1, 15, 15, 0, 0, 0, time.UTC))
		}},
		{"missing fields", "Successful authentication for a@b.example", func(a AuditInfo) bool {
			return a.Action == "Successful authentication" && a.Target == "a@b.example" && a.IP == "" && a.Time.IsZero() && len(a.Issues) == 0
		}},
		{"invalid IP is dropped and reported", "Successful authentication for a@b.example, IP: 999.1.1.1", func(a AuditInfo) bool {
			return a.IP == "" && slices.Contains(a.Issues, `invalid IP "999.1.1.1"`)
		}},
		{"IPv4-mapped IPv6 is unmapped", "Login, IP: ::ffff:192.0.2.7", func(a AuditInfo) bool { return a.IP == "192.0.2.7" }},
		{"raw kept", "  odd text  ", func(a AuditInfo) bool { return a.Raw == "  odd text  " && a.Action == "odd text" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseAuditInfo(tt.in)
			if !tt.check(got) {
				b, _ := json.MarshalIndent(got, "", "  ")
				t.Errorf("unexpected result:\n%s", b)
			}
		})
	}
}

// TestParseAuditInfoMalformed checks that unknown shapes keep the raw text and say why.
func TestParseAuditInfoMalformed(t *testing.T) {
	tests := []struct {
		name, in, layout, issue string
	}{
		{"empty", "", LayoutEmpty, "empty eventInfo"},
		{"blank", "  \n ", LayoutEmpty, "empty eventInfo"},
		{"only commas", ",,,,", LayoutText, "no recognised fields"},
		{"only colons", "::::", LayoutText, "no recognised fields"},
		{"lone bracket", "[", LayoutText, "no recognised fields"},
		{"control bytes", "\x00\xff garbage \x1b[31m", LayoutText, "no recognised fields"},
		{"date without time", "Successful authentication for a@b.example, Date: 2024-07-15", LayoutFields, "date and time must both be present"},
		{"bad date", "X, Date: 2024-02-30, Time: 10:00:00 GMT", LayoutFields, `unreadable date "2024-02-30"`},
		{"bad clock", "X, Date: 2024-02-03, Time: ten past", LayoutFields, `unreadable time "ten past"`},
		{"clock out of range", "X, Date: 2024-02-03, Time: 25:61:00 GMT", LayoutFields, "time out of range"},
		{"unknown zone", "X, Date: 2024-07-15, Time: 10:00:00 XYZT, IP: 192.0.2.1", LayoutFields, `unknown zone "XYZT"`},
		{"bad offset", "X, Date: 2024-07-15, Time: 10:00:00 +99:99", LayoutFields, `bad offset "+99:99"`},
		{"no zone", "X, Date: 2024-07-15, Time: 10:00:00, IP: 192.0.2.1", LayoutFields, "no time zone; taken as UTC"},
		{"empty values", "Date: , Time: , IP: , Application: ", LayoutFields, "empty date and time"},
		{"empty time", "X, Date: 2024-01-01, Time: ", LayoutFields, `unreadable time ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseAuditInfo(tt.in)
			if got.Raw != tt.in {
				t.Errorf("Raw = %q, want the input", got.Raw)
			}
			if got.Layout != tt.layout {
				t.Errorf("Layout = %q, want %q", got.Layout, tt.layout)
			}
			if !slices.ContainsFunc(got.Issues, func(s string) bool { return strings.Contains(s, tt.issue) }) {
				t.Errorf("Issues = %q, want one containing %q", got.Issues, tt.issue)
			}
		})
	}
	// A zone-less time is still converted (as UTC); an unknown zone gives no time but keeps the local text.
	if got := ParseAuditInfo("X, Date: 2024-07-15, Time: 10:00:00"); !got.Time.Equal(time.Date(2024, 7, 15, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("zone-less time = %v", got.Time)
	}
	if got := ParseAuditInfo("X, Date: 2024-07-15, Time: 10:00:00 XYZT"); !got.Time.IsZero() || got.LocalTime != "2024-07-15 10:00:00 XYZT" {
		t.Errorf("unknown zone: Time = %v, LocalTime = %q", got.Time, got.LocalTime)
	}
}

// TestParseAuditInfoGolden compares every input line of testdata/audit_eventinfo.jsonl (JSON strings) with
// testdata/audit_eventinfo.golden.json. Regenerate with: go test ./internal/parse -update
func TestParseAuditInfoGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "audit_eventinfo.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var got []AuditInfo
	for i, line := range bytes.Split(bytes.TrimSpace(in), []byte("\n")) {
		var s string
		if err := json.Unmarshal(line, &s); err != nil {
			t.Fatalf("input line %d: %v", i+1, err)
		}
		got = append(got, ParseAuditInfo(s))
	}
	out, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	golden := filepath.Join("testdata", "audit_eventinfo.golden.json")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/parse -update)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("output differs from %s; inspect and regenerate with -update", golden)
		gotLines, wantLines := strings.Split(string(out), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gotLines), len(wantLines)) {
			if gotLines[i] != wantLines[i] {
				t.Errorf("first difference at line %d:\n got: %s\nwant: %s", i+1, gotLines[i], wantLines[i])
				break
			}
		}
	}
}
