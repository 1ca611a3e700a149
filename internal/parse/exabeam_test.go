package parse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

const (
	actLine   = `exabeam_host=splunk-hf01 exabeam_index=mimecast date=2021-02-17T10:15:30+0000|mcType=auditLog|user=jdoe@example.com|auditType="Account Updated"|eventInfo="Action Performed - Change Email Forwarding: jdoe@example.com, Application: Mimecast Administration Console, IP: 203.0.113.10"`
	loginLine = `exabeam_host=splunk-hf01 date=2021-02-17T10:20:00+0000|mcType=auditLog|user=jdoe@example.com|auditType="Logon Authentication Failed"|action=failure|app=Mimecast Personal Portal|src=198.51.100.7|eventInfo="Logon Authentication Failed - Reason: Incorrect password, Application: Mimecast Personal Portal, IP: 198.51.100.7"`
	dlpLine   = `exabeam_host=splunk-hf01 datetime=2021-02-17T10:25:00+0000|aCode=fa8a6fbd3ab4|acc=C0A0|Dir=Outbound|Sender=jdoe@example.com|Rcpt=someone@gmail.com|Act=Acc|Subject=\Quarterly numbers\|Snt=5242880|SpamScore=0|IP=203.0.113.10|`
)

// TestExabeamFieldPatterns has one line per field pattern of Exabeam's three Splunk parsers (exabeam-content §1)
// and the fields it must yield; absent lists fields that must not be set.
func TestExabeamFieldPatterns(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		line    string
		parser  string
		want    map[string]string
		absent  []string
	}{
		// s-mimecast-app-activity
		{"activity host", `exabeam_host=({host}[\w.\-]+)`, actLine, ExabeamAppActivity, map[string]string{"host": "splunk-hf01"}, nil},
		{"activity index", `exabeam_index=({app}[^\s\|]+)`, strings.Replace(actLine, ", Application: Mimecast Administration Console", "", 1), ExabeamAppActivity,
			map[string]string{"exabeam_index": "mimecast", "app": "mimecast"}, nil},
		{"activity app from the text, not the index", `exabeam_index=({app}…)`, actLine, ExabeamAppActivity,
			map[string]string{"exabeam_index": "mimecast", "app": "Mimecast Administration Console"}, nil},
		{"activity time", `date=({time}\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[+-].+?)\|`, actLine, ExabeamAppActivity, map[string]string{"time": "2021-02-17T10:15:30+0000"}, nil},
		{"activity user in angle brackets", `\|user=<?({user}[^<>]+?)>?\|`, strings.Replace(actLine, "user=jdoe@example.com", "user=<JDoe@Example.com>", 1), ExabeamAppActivity,
			map[string]string{"user": "jdoe@example.com", "user_email": "jdoe@example.com", "email_domain": "example.com"}, nil},
		{"activity user that is not an address", `\|user=<?({user}…)>?\|`, strings.Replace(actLine, "user=jdoe@example.com", "user=svc-sync", 1), ExabeamAppActivity,
			map[string]string{"user": "svc-sync"}, []string{"user_email", "email_domain"}},
		{"activity additional_info", `\sApplication:\s*({additional_info}[^"]*)("|\s*$)`, actLine, ExabeamAppActivity,
			map[string]string{"additional_info": "Mimecast Administration Console, IP: 203.0.113.10"}, nil},
		{"activity keeps its last word", `Action Performed - ({activity}.+?)(\s*:\s*|\s\w+:)`, actLine, ExabeamAppActivity,
			map[string]string{"activity": "Change Email Forwarding", "object": "jdoe@example.com"}, nil},
		{"activity src_ip", `\sIP:\s*({src_ip}[a-fA-F\d\.:]+)`, actLine, ExabeamAppActivity, map[string]string{"src_ip": "203.0.113.10"}, nil},
		{"activity src_ip IPv6", `\sIP:\s*({src_ip}[a-fA-F\d\.:]+)`, strings.Replace(actLine, "IP: 203.0.113.10", "IP: 2001:DB8::1", 1), ExabeamAppActivity,
			map[string]string{"src_ip": "2001:db8::1"}, nil},
		{"activity IP that is no address", `\sIP:\s*({src_ip}…)`, strings.Replace(actLine, "IP: 203.0.113.10", "IP: null", 1), ExabeamAppActivity,
			nil, []string{"src_ip"}},

		// s-mimecast-app-login
		{"login host", `exabeam_host=({host}[\w.\-]+)`, loginLine, ExabeamAppLogin, map[string]string{"host": "splunk-hf01"}, nil},
		{"login time", `date=({time}…)\|`, loginLine, ExabeamAppLogin, map[string]string{"time": "2021-02-17T10:20:00+0000"}, nil},
		{"login user", `\|user=(|({user}.+?))\|`, strings.Replace(loginLine, "user=jdoe@example.com", "user=jdoe", 1), ExabeamAppLogin,
			map[string]string{"user": "jdoe"}, []string{"user_email"}},
		{"login empty user", `\|user=(|…)\|`, strings.Replace(loginLine, "user=jdoe@example.com", "user=", 1), ExabeamAppLogin,
			nil, []string{"user", "user_email"}},
		{"login user_email", `\|user=(|({user_email}[^@\|]+@[^@\|]+))\|`, loginLine, ExabeamAppLogin,
			map[string]string{"user": "jdoe@example.com", "user_email": "jdoe@example.com", "email_domain": "example.com"}, nil},
		{"login app from the text", `\sApplication:\s*({app}[^,]*)(,|\s*$)`, strings.Replace(loginLine, "|app=Mimecast Personal Portal", "", 1), ExabeamAppLogin,
			map[string]string{"app": "Mimecast Personal Portal"}, nil},
		{"login app from the app key", `\|app=(|({app}.+?))\|`, strings.Replace(loginLine, ", Application: Mimecast Personal Portal", "", 1), ExabeamAppLogin,
			map[string]string{"app": "Mimecast Personal Portal"}, nil},
		{"login src_ip followed by a space", `\sIP:\s*({src_ip}[a-fA-F\d.:]+)(,|\s*$)`, strings.Replace(strings.Replace(loginLine, "|src=198.51.100.7", "", 1), "IP: 198.51.100.7\"", "IP: 198.51.100.9 \"", 1), ExabeamAppLogin,
			map[string]string{"src_ip": "198.51.100.9"}, nil},
		{"login src_ip from the src key", `\|src=(|({src_ip}[a-fA-F\d.:]+))\|`, strings.Replace(loginLine, ", IP: 198.51.100.7", "", 1), ExabeamAppLogin,
			map[string]string{"src_ip": "198.51.100.7"}, nil},
		{"login outcome", `\|action=(|({outcome}.+?))\|`, loginLine, ExabeamAppLogin,
			map[string]string{"outcome": "failure", "failure_reason": "Incorrect password"}, nil},
		{"login success has no failure_reason", `\|action=…`, strings.NewReplacer("action=failure", "action=success", "Logon Authentication Failed", "User Logged On").Replace(loginLine), ExabeamAppLogin,
			map[string]string{"outcome": "success"}, []string{"failure_reason"}},

		// s-mimecast-dlp-email
		{"dlp host", `exabeam_host=({host}[\w.\-]+)`, dlpLine, ExabeamDLPEmail, map[string]string{"host": "splunk-hf01"}, nil},
		{"dlp time", `datetime=({time}…)\|`, dlpLine, ExabeamDLPEmail, map[string]string{"time": "2021-02-17T10:25:00+0000"}, nil},
		{"dlp time with a space after the hour", `datetime=…T\d\d:\s*\d\d…`, strings.Replace(dlpLine, "T10:25:00", "T10: 25:00", 1), ExabeamDLPEmail,
			map[string]string{"time": "2021-02-17T10: 25:00+0000"}, nil},
		{"dlp alert_id", `\|aCode=(|({alert_id}.+?))\|`, dlpLine, ExabeamDLPEmail, map[string]string{"alert_id": "fa8a6fbd3ab4"}, nil},
		{"dlp direction", `\|Dir=(|({direction}.+?))\|`, dlpLine, ExabeamDLPEmail, map[string]string{"direction": "Outbound"}, nil},
		{"dlp action from Act", `\|Act=(|({action}.+?))\|`, dlpLine, ExabeamDLPEmail, map[string]string{"action": "Acc"}, nil},
		{"dlp action from Delivered", `\|Delivered=(|({action}.+?))\|`, strings.Replace(dlpLine, "|Act=Acc", "|Delivered=true", 1), ExabeamDLPEmail,
			map[string]string{"action": "true"}, nil},
		{"dlp outcome_type wrapped", `\|RejType=\\(|({outcome_type}.+?))\\\|`, strings.Replace(dlpLine, "|Act=Acc", `|Act=Rej|RejType=\IP Found in RBL\`, 1), ExabeamDLPEmail,
			map[string]string{"outcome_type": "IP Found in RBL"}, nil},
		{"dlp outcome_type bare", `\|RejType=…`, strings.Replace(dlpLine, "|Act=Acc", `|Act=Rej|RejType=IP Found in RBL`, 1), ExabeamDLPEmail,
			map[string]string{"outcome_type": "IP Found in RBL"}, nil},
		{"dlp outcome from Err", `\|Err=\\(|({outcome}.+?))\\\|`, strings.Replace(dlpLine, "|Act=Acc", `|Delivered=false|Err=\550 5.1.1 user unknown\`, 1), ExabeamDLPEmail,
			map[string]string{"outcome": "550 5.1.1 user unknown", "action": "false"}, nil},
		{"dlp outcome from Error", `\|Error=\\(|({outcome}.+?))\\\|`, strings.Replace(dlpLine, "|Act=Acc", `|Act=Rej|Error=\Message too large\`, 1), ExabeamDLPEmail,
			map[string]string{"outcome": "Message too large"}, nil},
		{"dlp outcome from RejInfo", `\|RejInfo=\\(|({outcome}.+?))\\\|`, strings.Replace(dlpLine, "|Act=Acc", `|Act=Rej|RejInfo=Poor Reputation Sender.`, 1), ExabeamDLPEmail,
			map[string]string{"outcome": "Poor Reputation Sender."}, nil},
		{"dlp sender", `\|Sender=(|<>|({sender}\S+?@({external_domain_sender}\S+?)))\|`, dlpLine, ExabeamDLPEmail,
			map[string]string{"sender": "jdoe@example.com", "external_domain_sender": "example.com"}, nil},
		{"dlp null sender falls back to headerFrom", `\|headerFrom=(|<>|({sender}…))\|`, strings.Replace(dlpLine, "|Sender=jdoe@example.com", "|Sender=<>|headerFrom=News@Letters.example", 1), ExabeamDLPEmail,
			map[string]string{"sender": "news@letters.example", "external_domain_sender": "letters.example"}, nil},
		{"dlp null sender alone", `\|Sender=(|<>|…)\|`, strings.Replace(dlpLine, "|Sender=jdoe@example.com", "|Sender=<>", 1), ExabeamDLPEmail,
			nil, []string{"sender", "external_domain_sender"}},
		{"dlp recipient", `\|Rcpt=(|<>|({recipient}\S+?@({external_domain_recipient}\S+?)))\|`, dlpLine, ExabeamDLPEmail,
			map[string]string{"recipient": "someone@gmail.com", "external_domain_recipient": "gmail.com"}, nil},
		{"dlp recipients", `\|Rcpt=(|<>|({recipients}\S+?))\|`, strings.Replace(dlpLine, "Rcpt=someone@gmail.com", "Rcpt=a@one.example,b@two.example", 1), ExabeamDLPEmail,
			map[string]string{"recipients": "a@one.example,b@two.example", "recipient": "a@one.example", "external_domain_recipient": "one.example"}, nil},
		{"dlp subject wrapped", `\|Subject=\\({subject}.+?)\\\|`, dlpLine, ExabeamDLPEmail, map[string]string{"subject": "Quarterly numbers"}, nil},
		{"dlp subject bare", `\|Subject=\\?(|({subject}.+?))\s*\\?\|`, strings.Replace(dlpLine, `Subject=\Quarterly numbers\`, "Subject=Quarterly numbers", 1), ExabeamDLPEmail,
			map[string]string{"subject": "Quarterly numbers"}, nil},
		{"dlp bytes", `\|Snt=({bytes}\d+)\|`, dlpLine, ExabeamDLPEmail, map[string]string{"bytes": "5242880"}, nil},
		{"dlp bytes not a number", `\|Snt=({bytes}\d+)\|`, strings.Replace(dlpLine, "Snt=5242880", "Snt=lots", 1), ExabeamDLPEmail, nil, []string{"bytes"}},
		{"dlp spam_score", `\|SpamScore=({spam_score}\d+)`, dlpLine, ExabeamDLPEmail, map[string]string{"spam_score": "0"}, nil},
		{"dlp src_ip", `\|IP=({src_ip}\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})`, dlpLine, ExabeamDLPEmail, map[string]string{"src_ip": "203.0.113.10"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseExabeamLine(tt.line)
			if err != nil {
				t.Fatalf("ParseExabeamLine: %v", err)
			}
			if l.Parser != tt.parser {
				t.Errorf("Parser = %q, want %q", l.Parser, tt.parser)
			}
			for k, v := range tt.want {
				if got, ok := l.Fields[k]; !ok || got != v {
					t.Errorf("pattern %s: field %s = %q (set %v), want %q", tt.pattern, k, got, ok, v)
				}
			}
			for _, k := range tt.absent {
				if got, ok := l.Fields[k]; ok {
					t.Errorf("field %s = %q, want it absent", k, got)
				}
			}
		})
	}
}

func TestExabeamEvents(t *testing.T) {
	tests := []struct {
		name      string
		line      string
		eventType string
		outcome   string
		check     func(t *testing.T, ev schema.Event)
	}{
		{"activity", actLine, schema.EventAppActivity, "", func(t *testing.T, ev schema.Event) {
			want := schema.Event{User: "jdoe@example.com", UserEmail: "jdoe@example.com", EmailDomain: "example.com",
				SrcIP: "203.0.113.10", App: "Mimecast Administration Console", Activity: "Change Email Forwarding", Object: "jdoe@example.com"}
			if ev.User != want.User || ev.UserEmail != want.UserEmail || ev.EmailDomain != want.EmailDomain || ev.SrcIP != want.SrcIP ||
				ev.App != want.App || ev.Activity != want.Activity || ev.Object != want.Object {
				t.Errorf("event = %+v", ev)
			}
			if ev.Fields["auditType"] != "Account Updated" || ev.Fields["host"] != "splunk-hf01" {
				t.Errorf("fields = %v", ev.Fields)
			}
		}},
		{"failed login", loginLine, schema.EventFailedAppLogin, schema.OutcomeFailure, func(t *testing.T, ev schema.Event) {
			if ev.FailureReason != "Incorrect password" || ev.App != "Mimecast Personal Portal" || ev.SrcIP != "198.51.100.7" || ev.Activity != "Logon Authentication Failed" {
				t.Errorf("event = %+v", ev)
			}
		}},
		{"successful login", strings.NewReplacer("action=failure", "action=success", "Logon Authentication Failed - Reason: Incorrect password", "Successful authentication for jdoe@example.com", "Logon Authentication Failed", "User Logged On").Replace(loginLine),
			schema.EventAppLogin, schema.OutcomeSuccess, nil},
		{"login by audit type without an action key", strings.Replace(loginLine, "|action=failure", "", 1), schema.EventFailedAppLogin, schema.OutcomeFailure, nil},
		{"challenge", strings.NewReplacer("action=failure|", "", "Logon Authentication Failed", "Logon Requires Challenge").Replace(loginLine), schema.EventAppLogin, schema.OutcomeChallenge, nil},
		{"both conditions, activity text wins without a login signal", strings.Replace(actLine, `|eventInfo=`, `|action=updated|eventInfo=`, 1), schema.EventAppActivity, "", nil},
		{"outbound accepted", dlpLine, schema.EventDLPEmailAlertOut, schema.OutcomeSuccess, func(t *testing.T, ev schema.Event) {
			if ev.Sender != "jdoe@example.com" || ev.SenderDomain != "example.com" || len(ev.Recipients) != 1 || ev.Recipients[0] != "someone@gmail.com" ||
				ev.RecipientDomains[0] != "gmail.com" || ev.Subject != "Quarterly numbers" || ev.Bytes != 5242880 || ev.AlertID != "fa8a6fbd3ab4" ||
				ev.Direction != "outbound" || ev.User != "jdoe@example.com" || ev.SrcIP != "203.0.113.10" {
				t.Errorf("event = %+v", ev)
			}
		}},
		{"outbound failed delivery", strings.Replace(dlpLine, "|Act=Acc", `|Delivered=false|Err=\550 5.1.1 user unknown\`, 1), schema.EventDLPEmailAlertOutFail, schema.OutcomeFailure, func(t *testing.T, ev schema.Event) {
			if ev.FailureReason != "550 5.1.1 user unknown" {
				t.Errorf("FailureReason = %q", ev.FailureReason)
			}
		}},
		{"inbound", strings.Replace(dlpLine, "Dir=Outbound", "Dir=Inbound", 1), schema.EventDLPEmailAlertIn, schema.OutcomeSuccess, func(t *testing.T, ev schema.Event) {
			if ev.User != "someone@gmail.com" {
				t.Errorf("inbound user = %q, want the recipient", ev.User)
			}
		}},
		{"inbound rejected", strings.Replace(dlpLine, "Dir=Outbound|Sender=jdoe@example.com|Rcpt=someone@gmail.com|Act=Acc", "Dir=Inbound|Sender=x@bad.example|Rcpt=jdoe@example.com|Act=Rej|RejType=IP Found in RBL|RejCode=550", 1),
			schema.EventDLPEmailAlertInFail, schema.OutcomeFailure, func(t *testing.T, ev schema.Event) {
				if ev.FailureReason != "IP Found in RBL" {
					t.Errorf("FailureReason = %q", ev.FailureReason)
				}
			}},
		{"internal counts as inbound", strings.Replace(dlpLine, "Dir=Outbound", "Dir=Internal", 1), schema.EventDLPEmailAlertIn, schema.OutcomeSuccess, nil},
		{"sumo layout without closing quote", `date=2021-10-18T08:45:02+0000|mcType=auditLog|user=johndoe@example.com|auditType="Threat Intel Feed Download"|eventInfo="Threat intel multiple feeds download  - malware_customer_csv.zip, Date: 2021-10-18, Time: 08:45:02+0000, IP: 67.43.156.15, Application: Integrations` + "\n",
			schema.EventAppActivity, "", func(t *testing.T, ev schema.Event) {
				if ev.App != "Integrations" || ev.SrcIP != "67.43.156.15" || ev.Object != "malware_customer_csv.zip" {
					t.Errorf("event = %+v", ev)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseExabeamLine(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			ev := l.Event
			if ev.EventType != tt.eventType || ev.Outcome != tt.outcome {
				t.Errorf("type/outcome = %q/%q, want %q/%q", ev.EventType, ev.Outcome, tt.eventType, tt.outcome)
			}
			if ev.Table != RawTable || !strings.HasPrefix(ev.ID, "raw/") || ev.ID != RawEventID(tt.line) {
				t.Errorf("table/id = %q/%q", ev.Table, ev.ID)
			}
			if ev.Time.IsZero() || ev.Time.Location() != time.UTC {
				t.Errorf("time = %v", ev.Time)
			}
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

func TestExabeamConditions(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		parser string
		meets  bool
	}{
		{"activity sample", actLine, ExabeamAppActivity, true},
		{"login sample", loginLine, ExabeamAppLogin, true},
		{"dlp sample", dlpLine, ExabeamDLPEmail, true},
		{"activity without Application", strings.Replace(actLine, ", Application: Mimecast Administration Console", "", 1), ExabeamAppActivity, false},
		{"login without an action key is read but fails the conditions", strings.Replace(loginLine, "|action=failure", "", 1), ExabeamAppLogin, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseExabeamLine(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if l.Parser != tt.parser || l.Conditions != tt.meets || MatchesExabeam(tt.parser, tt.line) != tt.meets {
				t.Errorf("parser %q conditions %v, want %q %v", l.Parser, l.Conditions, tt.parser, tt.meets)
			}
			if !tt.meets && len(l.Issues) == 0 {
				t.Error("no issue reported for unmet conditions")
			}
		})
	}
}

func TestExabeamRejects(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		reason string
	}{
		{"plain text", "hello world", ReasonNotExabeam},
		{"empty", "", ReasonNotExabeam},
		{"cef line", "CEF:0|Mimecast|x|1|a|b|3|src=1.2.3.4", ReasonNotExabeam},
		{"audit line without a date", `exabeam_host=h mcType=auditLog|user=a@b.c|auditType="x"`, ReasonNoTime},
		{"audit line with a bad date", strings.Replace(actLine, "2021-02-17T10:15:30+0000", "yesterday", 1), ReasonBadTime},
		{"dlp line without datetime", `exabeam_host=h aCode=1|Dir=Inbound|Sender=a@b.c|Rcpt=d@e.f`, ReasonNoTime},
		{"dlp line with a bad datetime", strings.Replace(dlpLine, "2021-02-17T10:25:00+0000", "2021-13-45T99:00:00+0000", 1), ReasonBadTime},
		{"unknown parser name never matches", "", ReasonNotExabeam},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseExabeamLine(tt.line)
			var le *LineError
			if !errors.As(err, &le) || le.Reason != tt.reason {
				t.Errorf("err = %v, want reason %q", err, tt.reason)
			}
		})
	}
	if MatchesExabeam("s-mimecast-nothing", actLine) {
		t.Error("an unknown parser matched")
	}
}

// TestExabeamGolden reads testdata/exabeam_lines.log and compares with testdata/exabeam_lines.golden.json.
// Regenerate with: go test ./internal/parse -update
func TestExabeamGolden(t *testing.T) {
	type result struct {
		Line   ExabeamLine `json:"line"`
		Reject string      `json:"reject,omitempty"`
	}
	var got []result
	for _, line := range readLines(t, "exabeam_lines.log") {
		l, err := ParseExabeamLine(line)
		r := result{Line: l}
		if err != nil {
			r.Reject = err.Error()
		}
		got = append(got, r)
	}
	compareGolden(t, "exabeam_lines.golden.json", got)
}

func readLines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") || strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func compareGolden(t *testing.T, name string, v any) {
	t.Helper()
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	golden := filepath.Join("testdata", name)
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
	}
}

// FuzzParseExabeamLine checks that parsing never panics, keeps the raw text, is deterministic, gives UTC times
// and valid IPs, and that every accepted line yields one of the seven Exabeam event types.
func FuzzParseExabeamLine(f *testing.F) {
	for _, s := range []string{actLine, loginLine, dlpLine, `date=2021-01-01T00:00:00+0000|mcType=auditLog|user=<a>|auditType="|eventInfo="`} {
		f.Add(s)
	}
	if data, err := os.ReadFile(filepath.Join("testdata", "exabeam_lines.log")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f.Add(line)
		}
	}
	types := map[string]bool{schema.EventAppActivity: true, schema.EventAppLogin: true, schema.EventFailedAppLogin: true,
		schema.EventDLPEmailAlertIn: true, schema.EventDLPEmailAlertInFail: true, schema.EventDLPEmailAlertOut: true, schema.EventDLPEmailAlertOutFail: true}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseExabeamLine(s)
		if l.Raw != s {
			t.Fatal("Raw changed")
		}
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Reason == "" {
				t.Fatalf("error %v is not a LineError with a reason", err)
			}
			return
		}
		ev := l.Event
		if !types[ev.EventType] {
			t.Fatalf("event type %q", ev.EventType)
		}
		if ev.Time.IsZero() || ev.Time.Location() != time.UTC {
			t.Fatalf("time %v", ev.Time)
		}
		if ev.SrcIP != "" && canonicalIP(ev.SrcIP) != ev.SrcIP {
			t.Fatalf("src_ip %q not canonical", ev.SrcIP)
		}
		if ev.ID != RawEventID(s) {
			t.Fatal("id is not the line's")
		}
		again, _ := ParseExabeamLine(s)
		a, _ := json.Marshal(l)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatal("not deterministic")
		}
	})
}
